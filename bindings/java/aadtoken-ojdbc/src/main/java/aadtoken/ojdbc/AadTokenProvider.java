package aadtoken.ojdbc;

import aadtoken.AadTokenClient;
import aadtoken.Token;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
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
 * {@code clientCertificatePassword}, {@code username}, {@code password}, {@code redirectUri}
 * (a {@code http://localhost:PORT} URI) and {@code scope}. Giving both names of one setting is
 * an error naming them.
 *
 * <p>One aadtoken client per distinct parameter set, shared by every connection and pool of the
 * JVM (at most {@value #MAX_CLIENTS}; the least recently used is dropped beyond that, its cached
 * tokens stay in the library's process-wide cache). Each call returns the cached token while it
 * is valid ({@code expiry_margin_s}), handed to ojdbc through
 * {@link AccessToken#createJsonWebToken(char[])} (ojdbc copies it; this copy is wiped).
 * Failures are thrown as {@link aadtoken.AadTokenException} (unchecked), which ojdbc reports as
 * the cause of its connection error.
 */
public final class AadTokenProvider implements AccessTokenProvider {
    /** The provider name, the value of {@code oracle.jdbc.provider.accessToken}. */
    public static final String NAME = "aadtoken";
    /** How many distinct parameter sets keep a client. */
    public static final int MAX_CLIENTS = 16;

    /** aadtoken's settings whose values are secrets. */
    private static final Set<String> SECRET_SETTINGS = Set.of("client_secret", "certificate_password", "password");

    /** ojdbc-provider-azure's parameter → aadtoken's setting (clientId depends on the method). */
    private static final Map<String, String> AZURE_NAMES = azureNames();

    private static final Map<String, AadTokenClient> CLIENTS = new LinkedHashMap<>(16, 0.75f, true) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<String, AadTokenClient> eldest) {
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
        for (String name : AZURE_NAMES.keySet()) {
            if (!name.equals("password") && !name.equals("username") && !name.equals("scope")) {
                boolean secret = name.equals("clientSecret") || name.equals("clientCertificatePassword");
                list.add(new Param(name, secret, "as ojdbc-provider-azure's " + name));
            }
        }
        list.add(new Param("authenticationMethod", false, "as ojdbc-provider-azure's authenticationMethod"));
        this.parameters = Collections.unmodifiableList(list);
    }

    private static Map<String, String> azureNames() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("tenantId", "tenant_id");
        m.put("clientId", "client_id");
        m.put("clientSecret", "client_secret");
        m.put("clientCertificatePath", "certificate_path");
        m.put("clientCertificatePassword", "certificate_password");
        m.put("username", "username");
        m.put("password", "password");
        m.put("redirectUri", "redirect_port");
        m.put("scope", "scope");
        return Collections.unmodifiableMap(m);
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
        Map<String, String> settings = settings(parameterValues);
        AadTokenClient client = clientFor(settings);
        try (Token token = client.getToken()) {
            return AccessToken.createJsonWebToken(token.chars()); // ojdbc clones; close() wipes ours
        }
    }

    /** The aadtoken settings of a parameter set (ojdbc-provider-azure's names translated). */
    static Map<String, String> settings(Map<Parameter, CharSequence> values) {
        Map<String, String> byName = new TreeMap<>();
        for (Map.Entry<Parameter, CharSequence> e : values.entrySet()) {
            if (e.getValue() != null) {
                byName.put(e.getKey().name(), e.getValue().toString());
            }
        }
        String method = byName.remove("authenticationMethod");
        Map<String, String> settings = new TreeMap<>();
        Map<String, String> givenAs = new TreeMap<>();
        for (Map.Entry<String, String> e : byName.entrySet()) {
            String name = e.getKey();
            String key = AZURE_NAMES.getOrDefault(name, name);
            String value = e.getValue();
            if (name.equals("clientId") && isManagedIdentity(method)) {
                key = "managed_identity_client_id";
            } else if (name.equals("redirectUri")) {
                value = loopbackPort(value);
            }
            String earlier = settings.put(key, value);
            String earlierName = givenAs.put(key, name);
            if (earlier != null && !earlier.equals(value)) {
                throw new IllegalArgumentException("aadtoken provider: the parameters " + earlierName + " and "
                        + name + " are the same setting (" + key + "), with different values; give one of them");
            }
        }
        if (method != null) {
            String authMethod = authMethod(method);
            if (authMethod != null && settings.putIfAbsent("auth_method", authMethod) != null
                    && !settings.get("auth_method").equals(authMethod)) {
                throw new IllegalArgumentException("aadtoken provider: authenticationMethod=" + method
                        + " and auth_method=" + settings.get("auth_method") + " disagree; give one of them");
            }
        }
        return settings;
    }

    private static boolean isManagedIdentity(String method) {
        return method != null && method.trim().toLowerCase(Locale.ROOT).equals("managed-identity");
    }

    /** ojdbc-provider-azure's authenticationMethod → auth_method (null: from the other settings). */
    private static String authMethod(String method) {
        switch (method.trim().toLowerCase(Locale.ROOT)) {
            case "auto-detect":
                return "auto";
            case "service-principal":
                return null; // client_secret or certificate_path decides, as in ojdbc-provider-azure
            case "managed-identity":
                return "managed_identity";
            case "password":
                return "password";
            case "device-code":
                return "device_code";
            case "interactive":
                return "interactive";
            default:
                throw new IllegalArgumentException("aadtoken provider: authenticationMethod '" + method
                        + "' is not one of auto-detect, service-principal, managed-identity, password,"
                        + " device-code, interactive");
        }
    }

    /** The port of a {@code http://localhost:PORT} redirect URI (aadtoken listens on loopback). */
    private static String loopbackPort(String redirectUri) {
        URI uri;
        try {
            uri = URI.create(redirectUri.trim());
        } catch (IllegalArgumentException e) {
            uri = null;
        }
        if (uri == null || !"http".equals(uri.getScheme()) || !"localhost".equals(uri.getHost())) {
            throw new IllegalArgumentException("aadtoken provider: redirectUri must be http://localhost[:PORT]"
                    + " (aadtoken receives the browser's redirect on a loopback port), not " + redirectUri);
        }
        return Integer.toString(Math.max(uri.getPort(), 0));
    }

    /** The shared client of a parameter set (keyed by a digest, so the map keeps no secret). */
    static AadTokenClient clientFor(Map<String, String> settings) {
        String key = digest(settings);
        synchronized (CLIENTS) {
            AadTokenClient client = CLIENTS.get(key);
            if (client == null) {
                client = AadTokenClient.fromSettings(settings); // checks them; no network yet
                CLIENTS.put(key, client);
            }
            return client;
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
