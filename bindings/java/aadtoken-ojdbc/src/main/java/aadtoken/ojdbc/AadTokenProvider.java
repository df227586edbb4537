package aadtoken.ojdbc;

import aadtoken.AadTokenClient;
import aadtoken.Token;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Supplier;
import oracle.jdbc.AccessToken;
import oracle.jdbc.spi.AccessTokenProvider;
import oracle.jdbc.spi.OracleResourceProvider;

/**
 * ojdbc's access-token provider (SPI {@code oracle.jdbc.spi.AccessTokenProvider}, ojdbc 23+) named
 * {@value #NAME}: select it with the connection property
 * {@code oracle.jdbc.provider.accessToken=aadtoken} and configure it with
 * {@code oracle.jdbc.provider.accessToken.<parameter>} properties.
 *
 * <p>The parameters are aadtoken's setting names ({@code tenant_id}, {@code client_id},
 * {@code client_secret}, {@code scope}, {@code authority_host}, {@code ca_file}, ..., see the
 * README's settings table) <b>and</b> ojdbc-provider-azure's names, so switching from
 * {@code ojdbc-provider-azure-token} is changing the provider name:
 * {@code authenticationMethod} ({@code auto-detect}, {@code service-principal},
 * {@code managed-identity}, {@code password}, {@code device-code}, {@code interactive}),
 * {@code tenantId}, {@code clientId}, {@code clientSecret}, {@code clientCertificatePath},
 * {@code clientCertificatePassword}, {@code username}, {@code password} and {@code scope}; the
 * library translates them as it does in a settings string ({@code redirectUri} has no
 * equivalent and is refused, naming it). Give each setting under one name (the parameters are
 * applied in name order, and a later write of a setting wins).
 *
 * <p>One aadtoken client per distinct parameter set, shared by every connection and pool of the
 * JVM (at most {@value #MAX_CLIENTS}; the least recently used is dropped beyond that, its cached
 * tokens stay in the library's process-wide cache). Tokens are handed to ojdbc through
 * {@link AccessToken#createJsonWebToken(char[])} (ojdbc copies it; this copy is wiped), kept in
 * ojdbc's {@link AccessToken#createJsonWebTokenCache JWT cache} per parameter set, so a
 * connection gets the current token without parsing it again.
 * Failures are thrown as {@link aadtoken.AadTokenException} (unchecked), which ojdbc reports as
 * the cause of its connection error.
 *
 * <p>ojdbc asks on the thread that opens a connection, so the provider never waits for a person
 * ({@link AadTokenClient#getTokenSilent()}): with {@code device-code} or {@code interactive}, sign
 * in first on the host's own thread into the same {@code cache_file} ({@code aadtoken login}, or
 * {@link AadTokenClient#signIn()}); until then the connection fails with status
 * {@code ERR_INTERACTION_REQUIRED} (306) as the cause.
 */
public final class AadTokenProvider implements AccessTokenProvider {
    /** The provider name, the value of {@code oracle.jdbc.provider.accessToken}. */
    public static final String NAME = "aadtoken";
    /** How many distinct parameter sets keep a client. */
    public static final int MAX_CLIENTS = 16;

    /** aadtoken's settings whose values are secrets. */
    private static final Set<String> SECRET_SETTINGS = Set.of("client_secret", "certificate_password", "password");

    /** ojdbc-provider-azure's parameter names (those that are not also aadtoken's). */
    private static final List<String> AZURE_NAMES = List.of("authenticationMethod", "tenantId", "clientId",
            "clientSecret", "clientCertificatePath", "clientCertificatePassword", "redirectUri");
    private static final Set<String> AZURE_SECRETS = Set.of("clientSecret", "clientCertificatePassword");
    /** How the library spells an ojdbc-provider-azure parameter: its connection property. */
    private static final String OJDBC_PREFIX = "oracle.jdbc.provider.accessToken.";

    private static final Map<String, Shared> CLIENTS = new LinkedHashMap<>(16, 0.75f, true) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Shared> eldest) {
            // Not closed here: a connection may be using it; its Cleaner frees it when unreachable.
            return size() > MAX_CLIENTS;
        }
    };

    private final List<Param> parameters;

    /** Made by ojdbc through {@link java.util.ServiceLoader}. */
    public AadTokenProvider() {
        List<Param> list = new ArrayList<>();
        for (String name : AadTokenClient.settingNames()) {
            if (name.endsWith("_for_tests")) {
                continue;
            }
            list.add(new Param(name, SECRET_SETTINGS.contains(name), "aadtoken setting " + name));
        }
        for (String name : AZURE_NAMES) {
            list.add(new Param(name, AZURE_SECRETS.contains(name), "as ojdbc-provider-azure's " + name));
        }
        this.parameters = Collections.unmodifiableList(list);
    }

    @Override
    public String getName() {
        return NAME;
    }

    @Override
    public Collection<? extends Parameter> getParameters() {
        return parameters;
    }

    @Override
    public AccessToken getAccessToken(Map<Parameter, CharSequence> parameterValues) {
        return sharedFor(settings(parameterValues)).tokens.get();
    }

    /** A parameter set's client, and ojdbc's JWT cache over it: ojdbc's {@code AccessToken} is
     *  made (the JWT parsed) once per token, not once per connection; the cache asks aadtoken
     *  again shortly before the token expires (aadtoken has renewed it by then). */
    static final class Shared {
        final AadTokenClient client;
        final Supplier<? extends AccessToken> tokens;

        Shared(AadTokenClient client) {
            this.client = client;
            this.tokens = AccessToken.createJsonWebTokenCache(() -> {
                try (Token token = client.getTokenSilent()) { // ojdbc's thread: never waits for a person
                    return AccessToken.createJsonWebToken(token.chars()); // ojdbc clones; close() wipes ours
                }
            });
        }
    }

    /**
     * The aadtoken settings of a parameter set, sorted by name. ojdbc-provider-azure's names are
     * passed as their connection properties ({@code oracle.jdbc.provider.accessToken.tenantId},
     * ...), which the library itself translates (its Oracle aliases: see the README's JDBC section),
     * so the provider and a settings string agree on every name.
     */
    static Map<String, String> settings(Map<Parameter, CharSequence> values) {
        Map<String, String> settings = new TreeMap<>();
        for (Map.Entry<Parameter, CharSequence> e : values.entrySet()) {
            if (e.getValue() != null) {
                String name = e.getKey().name();
                settings.put(AZURE_NAMES.contains(name) ? OJDBC_PREFIX + name : name, e.getValue().toString());
            }
        }
        return settings;
    }

    /** The shared client of a parameter set (keyed by a digest, so the map keeps no secret). */
    static Shared sharedFor(Map<String, String> settings) {
        String key = digest(settings);
        synchronized (CLIENTS) {
            Shared shared = CLIENTS.get(key);
            if (shared == null) {
                shared = new Shared(AadTokenClient.fromSettings(settings)); // checks them; no network yet
                CLIENTS.put(key, shared);
            }
            return shared;
        }
    }

    /** How many parameter sets have a client now (for tests). */
    static int clientCount() {
        synchronized (CLIENTS) {
            return CLIENTS.size();
        }
    }

    private static String digest(Map<String, String> settings) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (Map.Entry<String, String> e : settings.entrySet()) {
                sha.update(e.getKey().getBytes(StandardCharsets.UTF_8));
                sha.update((byte) 0);
                sha.update(e.getValue().getBytes(StandardCharsets.UTF_8));
                sha.update((byte) 0);
            }
            return Base64.getEncoder().encodeToString(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    /** A parameter as ojdbc sees it. */
    private static final class Param implements OracleResourceProvider.Parameter {
        private final String name;
        private final boolean sensitive;
        private final String description;

        Param(String name, boolean sensitive, String description) {
            this.name = name;
            this.sensitive = sensitive;
            this.description = description;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public boolean isSensitive() {
            return sensitive;
        }

        @Override
        public String description() {
            return description;
        }

        @Override
        public String toString() {
            return name;
        }
    }
}
