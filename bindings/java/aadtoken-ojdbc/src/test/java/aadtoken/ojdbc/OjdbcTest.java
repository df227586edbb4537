package aadtoken.ojdbc;

import static aadtoken.Checks.check;
import static aadtoken.Checks.checkEq;
import static aadtoken.Checks.expect;

import aadtoken.AadTokenClient;
import aadtoken.AadTokenException;
import aadtoken.DeviceCodePrompt;
import aadtoken.Mock;
import aadtoken.SignIn;
import aadtoken.Status;
import aadtoken.Token;
import java.net.ServerSocket;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.OffsetDateTime;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.ServiceLoader;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import oracle.jdbc.AccessToken;
import oracle.jdbc.driver.oauth.OpaqueAccessToken;
import oracle.jdbc.pool.OracleDataSource;
import oracle.jdbc.spi.AccessTokenProvider;
import oracle.jdbc.spi.OracleResourceProvider.Parameter;
import oracle.ucp.jdbc.PoolDataSource;
import oracle.ucp.jdbc.PoolDataSourceFactory;
import org.junit.jupiter.api.Test;

/**
 * The provider and aadtoken's supplier with the real ojdbc11 and ucp11 (Maven Central). No Oracle
 * Database is involved: connections go to a closed local port, so each attempt ends with
 * ORA-12541 — what ojdbc did before that (ask the provider or the supplier, reach the mock) is
 * what these tests observe.
 */
class OjdbcTest {
    private final Mock mock = Mock.get();

    /** A local port nobody listens on. */
    static int closedPort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static String url() throws Exception {
        return "jdbc:oracle:thin:@tcp://127.0.0.1:" + closedPort() + "/FREEPDB1";
    }

    /** The connection properties selecting aadtoken with {@code settings}. */
    static Properties providerProperties(Map<String, String> settings) {
        Properties p = new Properties();
        p.setProperty("oracle.jdbc.provider.accessToken", AadTokenProvider.NAME);
        settings.forEach((k, v) -> p.setProperty("oracle.jdbc.provider.accessToken." + k, v));
        return p;
    }

    /** The settings with the mock's fixture app and a scope of its own (a cold cache). */
    Map<String, String> freshSettings(String name) {
        Map<String, String> s = mock.settings();
        s.put("scope", mock.newScope(name));
        return s;
    }

    static SQLException connectFails(Properties p) throws Exception {
        String url = url();
        return expect(SQLException.class, () -> DriverManager.getConnection(url, p).close());
    }

    @Test
    void ojdbcFindsTheProviderAndAsksItBeforeConnecting() throws Exception {
        Map<String, String> settings = freshSettings("ojdbc-spi");
        long before = mock.tokenRequests();
        SQLException e = connectFails(providerProperties(settings));
        // ojdbc 23.9 got a token from aadtoken (the mock saw the request), then could not connect.
        checkEq(mock.tokenRequests() - before, 1, "token requests before the connection attempt");
        check(e.getMessage().contains("ORA-12541"), "no listener: " + e.getMessage());
        // The next attempt with the same properties: the same client, the cached token.
        int clients = AadTokenProvider.clientCount();
        connectFails(providerProperties(settings));
        checkEq(mock.tokenRequests() - before, 1, "token requests after a second attempt");
        checkEq(AadTokenProvider.clientCount(), clients, "clients");
    }

    @Test
    void ojdbcReportsAadtokenErrorsUnknownNamesAndParameters() throws Exception {
        Map<String, String> settings = mock.settings();
        settings.put("client_secret", "not-the-secret");
        SQLException e = connectFails(providerProperties(settings));
        check(e.getMessage().contains("ORA-18726"), e.getMessage());
        check(e.getCause() instanceof AadTokenException, "the cause: " + e.getCause());
        checkEq(((AadTokenException) e.getCause()).status(), Status.ERR_INVALID_CLIENT, "status");
        check(!e.getCause().getMessage().contains("not-the-secret"), "no secret in the message");

        Properties p = providerProperties(mock.settings());
        p.setProperty("oracle.jdbc.provider.accessToken.no_such_setting", "x");
        e = connectFails(p);
        check(e.getMessage().contains("\"no_such_setting\" is not a parameter name recognized"), e.getMessage());
        check(e.getMessage().contains("tenantId") && e.getMessage().contains("tenant_id"), e.getMessage());

        p = providerProperties(mock.settings());
        p.setProperty("oracle.jdbc.provider.accessToken", "no-such-provider");
        e = connectFails(p);
        check(e.getMessage().contains("[aadtoken]"), "ojdbc lists the providers it found: " + e.getMessage());
    }

    @Test
    void ojdbcProviderAzureNamesAreTheSameSettings() throws Exception {
        Map<String, String> ours = freshSettings("ojdbc-azure-names");
        Map<String, String> azure = new HashMap<>();
        azure.put("authenticationMethod", "service-principal");
        azure.put("tenantId", ours.get("tenant_id"));
        azure.put("clientId", ours.get("client_id"));
        azure.put("clientSecret", ours.get("client_secret"));
        azure.put("scope", ours.get("scope"));
        azure.put("authority_host", ours.get("authority_host")); // the mock, not Entra ID
        azure.put("ca_file", ours.get("ca_file"));
        long before = mock.tokenRequests();
        connectFails(providerProperties(azure));
        checkEq(mock.tokenRequests() - before, 1, "a token with ojdbc-provider-azure's names");
        connectFails(providerProperties(ours));
        checkEq(mock.tokenRequests() - before, 1, "the same identity with aadtoken's names: the cached token");

        // The library's errors name the parameter as the user wrote it.
        azure.put("authenticationMethod", "carrier-pigeon");
        SQLException e = connectFails(providerProperties(azure));
        check(e.getCause() instanceof AadTokenException, "cause " + e.getCause());
        check(e.getCause().getMessage().contains("authenticationMethod")
                && e.getCause().getMessage().contains("carrier-pigeon"), e.getCause().getMessage());
        azure.put("authenticationMethod", "interactive");
        azure.put("redirectUri", "http://localhost:8400");
        e = connectFails(providerProperties(azure));
        check(e.getCause().getMessage().contains("redirectUri"), e.getCause().getMessage());
    }

    @Test
    void theTokenIsOjdbcsJsonWebTokenWithTheJwtsExpiry() throws Exception {
        Map<String, String> settings = mock.settings();
        AccessToken token = new AadTokenProvider().getAccessToken(values(settings));
        try (AadTokenClient client = AadTokenClient.fromSettings(settings); Token ours = client.getToken()) {
            OffsetDateTime exp = ((OpaqueAccessToken) token).expiration();
            checkEq(exp.toEpochSecond(), ours.expiresOn().getEpochSecond(), "ojdbc read exp from the JWT");
            check(!token.toString().contains(new String(ours.chars())), "ojdbc's toString hides the token");
        }
        // ojdbc's cache accepts a bearer token without a private key (23.9).
        Supplier<? extends AccessToken> cache = AccessToken.createJsonWebTokenCache(
                () -> new AadTokenProvider().getAccessToken(values(settings)));
        checkEq(((OpaqueAccessToken) cache.get()).expiration().toEpochSecond(),
                ((OpaqueAccessToken) token).expiration().toEpochSecond(), "the cached token");
    }

    @Test
    void oneClientPerParameterSetAtMostSixteen() {
        AadTokenProvider provider = new AadTokenProvider();
        for (int i = 0; i < AadTokenProvider.MAX_CLIENTS + 4; i++) {
            Map<String, String> s = mock.settings();
            s.put("timeout_ms", Integer.toString(10_000 + i));
            AadTokenProvider.sharedFor(s);
        }
        checkEq(AadTokenProvider.clientCount(), AadTokenProvider.MAX_CLIENTS, "clients");
        // A bad setting fails when the client is made, naming it.
        Map<String, String> bad = mock.settings();
        bad.put("timeout_ms", "soon");
        AadTokenException e = expect(AadTokenException.class, () -> provider.getAccessToken(values(bad)));
        check(e.getMessage().contains("timeout_ms"), e.getMessage());
    }

    @Test
    void registeredForServiceLoader() {
        boolean found = false;
        for (AccessTokenProvider p : ServiceLoader.load(AccessTokenProvider.class)) {
            found |= p.getName().equals("aadtoken");
        }
        check(found, "META-INF/services names the provider");
        for (Parameter p : new AadTokenProvider().getParameters()) {
            boolean secret = p.name().equals("client_secret") || p.name().equals("certificate_password")
                    || p.name().equals("password") || p.name().equals("clientSecret")
                    || p.name().equals("clientCertificatePassword");
            checkEq(p.isSensitive() ? 1 : 0, secret ? 1 : 0, "sensitive: " + p.name());
        }
    }

    /** The AadTokenException behind a failed connection: ojdbc's cause, or further down. */
    static AadTokenException aadtokenCause(SQLException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof AadTokenException) {
                return (AadTokenException) t;
            }
        }
        throw new AssertionError("no AadTokenException behind " + e, e);
    }

    /**
     * ojdbc asks the provider and the token supplier on the thread that opens the connection:
     * with person sign-in and nobody signed in, the connection fails at once with aadtoken's
     * {@code ERR_INTERACTION_REQUIRED} as the cause and no device code asked for (the supplier's
     * client has a prompt that would approve at once); once the host signed in into the same
     * {@code cache_file}, ojdbc gets its token and goes on to connect (ORA-12541).
     */
    @Test
    void personSignInNeverPromptsOnOjdbcsThread() throws Exception {
        Map<String, String> settings = SignIn.deviceCodeSettings(mock, SignIn.privateDir());
        settings.put("scope", mock.newScope("ojdbc-person"));
        List<DeviceCodePrompt> prompts = new CopyOnWriteArrayList<>();
        long codes = mock.deviceCodesIssued();
        try (AadTokenClient host = AadTokenClient.builder()
                .set(settings)
                .deviceCodePrompt(SignIn.approving(mock, prompts))
                .build()) {
            Supplier<char[]> chars = host.tokenSupplier();
            OracleDataSource ds = new OracleDataSource();
            ds.setURL(url());
            ds.setTokenSupplier(() -> AccessToken.createJsonWebToken(chars.get()));

            SQLException e = connectFails(providerProperties(settings));
            checkEq(aadtokenCause(e).status(), Status.ERR_INTERACTION_REQUIRED, "provider: " + e);
            e = expect(SQLException.class, () -> ds.getConnection().close());
            checkEq(aadtokenCause(e).status(), Status.ERR_INTERACTION_REQUIRED, "supplier: " + e);
            checkEq(prompts.size(), 0, "no device code shown on ojdbc's thread");
            checkEq(mock.deviceCodesIssued(), codes, "none asked for");

            host.signIn();
            e = connectFails(providerProperties(settings));
            check(e.getMessage().contains("ORA-12541"), "provider, signed in: " + e.getMessage());
            e = expect(SQLException.class, () -> ds.getConnection().close());
            check(e.getMessage().contains("ORA-12541"), "supplier, signed in: " + e.getMessage());
            checkEq(prompts.size(), 1, "only the host's signIn");
        }
    }

    @Test
    void oracleDataSourceTokenSupplier() throws Exception {
        Map<String, String> settings = freshSettings("ojdbc-datasource");
        AtomicInteger calls = new AtomicInteger();
        try (AadTokenClient client = AadTokenClient.fromSettings(settings)) {
            OracleDataSource ds = new OracleDataSource();
            ds.setURL(url());
            ds.setTokenSupplier(AccessToken.createJsonWebTokenCache(() -> {
                calls.incrementAndGet();
                try (Token t = client.getToken()) {
                    return AccessToken.createJsonWebToken(t.chars());
                }
            }));
            long before = mock.tokenRequests();
            SQLException e = expect(SQLException.class, () -> ds.getConnection().close());
            check(e.getMessage().contains("ORA-12541"), e.getMessage());
            checkEq(calls.get(), 1, "ojdbc asked the supplier before connecting");
            checkEq(mock.tokenRequests() - before, 1, "token requests");
            expect(SQLException.class, () -> ds.getConnection().close());
            checkEq(calls.get(), 1, "ojdbc's cache kept the token");
        }
    }

    @Test
    void ucpPoolDataSourceTokenSupplier() throws Exception {
        Map<String, String> settings = freshSettings("ucp");
        AtomicInteger calls = new AtomicInteger();
        try (AadTokenClient client = AadTokenClient.fromSettings(settings)) {
            Supplier<char[]> chars = client.tokenSupplier();
            PoolDataSource pds = PoolDataSourceFactory.getPoolDataSource();
            pds.setConnectionFactoryClassName("oracle.jdbc.pool.OracleDataSource");
            pds.setURL(url());
            pds.setInitialPoolSize(0);
            pds.setConnectionWaitDuration(java.time.Duration.ofSeconds(2));
            pds.setTokenSupplier(() -> {
                calls.incrementAndGet();
                char[] c = chars.get();
                try {
                    return AccessToken.createJsonWebToken(c);
                } finally {
                    java.util.Arrays.fill(c, '\0');
                }
            });
            long before = mock.tokenRequests();
            SQLException e = expect(SQLException.class, () -> pds.getConnection().close());
            check(calls.get() >= 1, "UCP asked the supplier: " + calls.get() + "; " + e);
            checkEq(mock.tokenRequests() - before, 1, "token requests (aadtoken's cache serves the rest)");
        }
    }

    /** ojdbc's parameter map for {@code settings}, with the provider's own Parameter objects. */
    static Map<Parameter, CharSequence> values(Map<String, String> settings) {
        Map<String, Parameter> byName = new HashMap<>();
        for (Parameter p : new AadTokenProvider().getParameters()) {
            byName.put(p.name(), p);
        }
        Map<Parameter, CharSequence> values = new HashMap<>();
        settings.forEach((k, v) -> {
            Parameter p = byName.get(k);
            if (p == null) {
                throw new AssertionError("no parameter " + k);
            }
            values.put(p, v);
        });
        return values;
    }
}
