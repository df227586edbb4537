import aadtoken.AadTokenClient;
import aadtoken.AadTokenException;
import aadtoken.Token;

import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * Tests of the Java binding against the mock Entra ID server. Run by tests/c_suites/java.rs (cargo test),
 * which starts the mock and passes it in AADTOKEN_TEST_* variables (and the fixture app in the
 * AZURE_* variables, for the environment test). Prints one line per test and a closing
 * "java: N passed, N failed" line; exits 1 when a test failed.
 *
 * Request counts come from the mock's control API (GET /_mock/counters over HTTPS, trusting the
 * mock's CA), so each test checks exactly how many requests it caused.
 */
public final class AadTokenTest {
    private static final String AUTHORITY = env("AADTOKEN_TEST_AUTHORITY");
    private static final String CA = env("AADTOKEN_TEST_CA");
    private static final String TENANT = env("AADTOKEN_TEST_TENANT");
    private static final String CLIENT = env("AADTOKEN_TEST_CLIENT");
    private static final String SECRET = env("AADTOKEN_TEST_SECRET");
    private static final String SCOPE = env("AADTOKEN_TEST_SCOPE");
    private static final String OTHER_SCOPE = env("AADTOKEN_TEST_OTHER_SCOPE");
    private static final String VERSION = env("AADTOKEN_TEST_VERSION");

    private static HttpClient http;
    private static int passed;
    private static int failed;

    interface Body {
        void run() throws Exception;
    }

    public static void main(String[] args) throws Exception {
        http = mockHttpClient();
        test("version", AadTokenTest::version);
        test("token from a settings map", AadTokenTest::tokenFromMap);
        test("cached get, refresh asks again", AadTokenTest::cacheAndRefresh);
        test("settings string and builder precedence", AadTokenTest::settingsString);
        test("settings from the environment", AadTokenTest::environment);
        test("wrong secret: 300, AADSTS7000215, correlation id", AadTokenTest::wrongSecret);
        test("setting errors name the setting", AadTokenTest::settingErrors);
        test("untrusted CA: 202", AadTokenTest::untrustedCa);
        test("16 threads share one request", AadTokenTest::threads);
        test("use after close and double close", AadTokenTest::useAfterClose);
        test("close while 16 threads use the client", AadTokenTest::closeUnderLoad);
        test("token wipe, toString redacts", AadTokenTest::wipe);
        test("supplier adapter for ojdbc", AadTokenTest::supplier);
        test("claims of a token", AadTokenTest::claims);
        test("shutdown, then use again", AadTokenTest::shutdown);
        System.out.println("java: " + passed + " passed, " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }

    // ---- tests

    static void version() {
        check(AadTokenClient.libraryVersion().equals(VERSION), "libraryVersion " + AadTokenClient.libraryVersion());
        check(AadTokenException.statusText(300).startsWith("AADTOKEN_ERR_INVALID_CLIENT:"), "statusText(300)");
        check(AadTokenException.statusText(0).startsWith("AADTOKEN_OK"), "statusText(0)");
        check(AadTokenException.statusText(123456).startsWith("AADTOKEN_ERR_UNKNOWN"), "statusText(unknown)");
    }

    static void tokenFromMap() throws Exception {
        long before = tokenRequests();
        try (AadTokenClient client = AadTokenClient.fromSettings(fixture())) {
            Token t = client.getToken();
            String jwt = new String(t.chars());
            check(jwt.startsWith("eyJ") && jwt.split("\\.").length == 3, "a JWT");
            long left = Duration.between(Instant.now(), t.expiresOn()).getSeconds();
            check(left > 3000 && left <= 3600, "expires in about an hour: " + left);
            check(!t.refreshOn().isAfter(t.expiresOn()), "refreshOn <= expiresOn");
            check(!t.expiresWithin(Duration.ofMinutes(5)), "not expiring within 5 minutes");
        }
        checkEq(tokenRequests() - before, 1, "token requests");
    }

    static void cacheAndRefresh() throws Exception {
        try (AadTokenClient client = AadTokenClient.fromSettings(fixture())) {
            long before = tokenRequests();
            String first = new String(client.getToken().chars()); // cached by the previous test
            String second = new String(client.getToken(SCOPE).chars());
            checkEq(tokenRequests() - before, 0, "requests for cached gets");
            check(first.equals(second), "the same cached token");
            Token refreshed = client.refreshToken();
            checkEq(tokenRequests() - before, 1, "requests after refreshToken");
            check(!new String(refreshed.chars()).equals(first), "refresh gives a new token");
            check(new String(client.getToken().chars()).equals(new String(refreshed.chars())),
                    "the refreshed token replaced the cached one");
            client.refreshToken(SCOPE);
            checkEq(tokenRequests() - before, 2, "requests after refreshToken(scope)");
        }
    }

    static void settingsString() throws Exception {
        String settings = "tenant_id=" + TENANT + "; client_id=" + CLIENT + "; client_secret=\"" + SECRET
                + "\"; authority_host=" + AUTHORITY + "; ca_file=" + CA + "; scope=" + SCOPE;
        try (AadTokenClient client = AadTokenClient.fromSettings(settings)) {
            check(client.getToken(OTHER_SCOPE).chars().length > 0, "token for another scope");
        }
        // A later setting wins: the wrong secret from the string is replaced by set().
        try (AadTokenClient client = AadTokenClient.builder()
                .settings(settings.replace(SECRET, "wrong-secret"))
                .set("client_secret", SECRET)
                .build()) {
            check(client.getToken().chars().length > 0, "set() after settings() wins");
        }
    }

    static void environment() throws Exception {
        // The harness sets AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET,
        // AZURE_AUTHORITY_HOST and AADTOKEN_SETTINGS (scope and ca_file).
        long before = tokenRequests();
        try (AadTokenClient client = AadTokenClient.fromEnvironment()) {
            check(client.refreshToken().chars().length > 0, "token with settings from the environment");
        }
        try (AadTokenClient client = AadTokenClient.builder()
                .environment()
                .settings("scope=" + SCOPE + "; ca_file=" + CA)
                .build()) {
            check(client.refreshToken().chars().length > 0, "builder().environment()");
        }
        checkEq(tokenRequests() - before, 2, "token requests");
    }

    static void wrongSecret() throws Exception {
        Map<String, String> settings = fixture();
        settings.put("client_secret", "not-the-secret-value");
        long before = tokenRequests();
        try (AadTokenClient client = AadTokenClient.fromSettings(settings)) {
            AadTokenException e = expect(AadTokenException.class, client::getToken);
            checkEq(e.status(), 300, "status");
            check(e.statusName().equals("AADTOKEN_ERR_INVALID_CLIENT"), "statusName " + e.statusName());
            checkEq(e.aadsts(), 7000215, "AADSTS");
            check(Arrays.equals(e.aadstsCodes(), new int[] {7000215}), "aadstsCodes");
            check(e.oauthCode().equals("invalid_client"), "oauthCode " + e.oauthCode());
            check(e.correlationId().matches("[0-9a-f-]{36}"), "correlation id " + e.correlationId());
            check(e.getMessage().contains(e.correlationId()), "the message quotes the correlation id");
            check(e.getMessage().contains("secret"), "the message explains: " + e.getMessage());
            check(!e.getMessage().contains("not-the-secret-value"), "no secret in the message");
            check(!e.traceId().isEmpty(), "trace id");
            checkEq(e.httpStatus(), 401, "HTTP status");
        }
        checkEq(tokenRequests() - before, 1, "token requests (a 4xx is not retried)");
    }

    static void settingErrors() {
        Map<String, String> unknown = fixture();
        unknown.put("no_such_setting", "x");
        AadTokenException e = expect(AadTokenException.class, () -> AadTokenClient.fromSettings(unknown));
        checkEq(e.status(), 101, "unknown setting status");
        check(e.getMessage().contains("no_such_setting"), "names the key: " + e.getMessage());

        Map<String, String> missing = fixture();
        missing.remove("client_secret");
        e = expect(AadTokenException.class, () -> AadTokenClient.fromSettings(missing));
        checkEq(e.status(), 103, "missing setting status");
        check(e.getMessage().contains("client_secret"), "names the setting: " + e.getMessage());

        e = expect(AadTokenException.class, () -> AadTokenClient.fromSettings("timeout_ms=soon"));
        checkEq(e.status(), 102, "invalid setting status");
        e = expect(AadTokenException.class, () -> AadTokenClient.fromSettings("tenant_id=\"unterminated"));
        checkEq(e.status(), 100, "malformed settings string status");
        expect(NullPointerException.class, () -> AadTokenClient.builder().set("scope", null));
    }

    static void untrustedCa() throws Exception {
        Map<String, String> settings = fixture();
        settings.remove("ca_file");
        long before = tokenRequests();
        try (AadTokenClient client = AadTokenClient.fromSettings(settings)) {
            AadTokenException e = expect(AadTokenException.class, client::refreshToken);
            checkEq(e.status(), 202, "status");
        }
        checkEq(tokenRequests() - before, 0, "no request got past the handshake");
    }

    static void threads() throws Exception {
        // A resource of its own, so the process-wide cache is cold for it.
        String resource = "api://java-threads-" + System.nanoTime();
        control("POST", "/_mock/resources", "{\"app_id_uri\":\"" + resource + "\"}");
        String scope = resource + "/.default";
        control("POST", "/_mock/config", "{\"latency_ms\":200}");
        long before = tokenRequests();
        List<String> seen = new ArrayList<>();
        try (AadTokenClient client = AadTokenClient.fromSettings(fixture())) {
            ExecutorService pool = Executors.newFixedThreadPool(16);
            CountDownLatch start = new CountDownLatch(1);
            List<Future<String>> results = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                results.add(pool.submit(() -> {
                    start.await();
                    String last = null;
                    for (int j = 0; j < 50; j++) {
                        last = new String(client.getToken(scope).chars());
                    }
                    return last;
                }));
            }
            start.countDown();
            for (Future<String> f : results) {
                seen.add(f.get());
            }
            pool.shutdown();
        } finally {
            control("POST", "/_mock/config", "{\"latency_ms\":0}");
        }
        checkEq(seen.stream().distinct().count(), 1, "distinct tokens seen by 16 threads");
        checkEq(tokenRequests() - before, 1, "token requests for 16 threads x 50 calls on a cold cache");
    }

    static void useAfterClose() {
        AadTokenClient client = AadTokenClient.fromSettings(fixture());
        Token t = client.getToken();
        check(!client.isClosed(), "open");
        client.close();
        check(client.isClosed(), "closed");
        client.close(); // idempotent
        client.close();
        expect(IllegalStateException.class, client::getToken);
        expect(IllegalStateException.class, () -> client.getToken(SCOPE));
        expect(IllegalStateException.class, client::refreshToken);
        expect(IllegalStateException.class, () -> client.tokenSupplier().get());
        check(t.chars().length > 0 && t.chars()[0] == 'e', "a token obtained before close stays valid");
        check(client.toString().contains("closed"), "toString");
    }

    static void closeUnderLoad() throws Exception {
        AadTokenClient client = AadTokenClient.fromSettings(fixture());
        client.getToken(); // warm
        ExecutorService pool = Executors.newFixedThreadPool(16);
        AtomicInteger ok = new AtomicInteger();
        AtomicInteger closedSeen = new AtomicInteger();
        List<Future<?>> results = new ArrayList<>();
        CountDownLatch running = new CountDownLatch(16);
        for (int i = 0; i < 16; i++) {
            results.add(pool.submit(() -> {
                running.countDown();
                while (true) {
                    try {
                        client.getToken();
                        ok.incrementAndGet();
                    } catch (IllegalStateException e) {
                        closedSeen.incrementAndGet();
                        return null;
                    }
                }
            }));
        }
        running.await();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (ok.get() < 100 && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        client.close();
        for (Future<?> f : results) {
            f.get(); // any other exception fails the test
        }
        pool.shutdown();
        checkEq(closedSeen.get(), 16, "every thread saw IllegalStateException after close");
        check(ok.get() > 0, "calls succeeded before close: " + ok.get());
    }

    static void wipe() {
        try (AadTokenClient client = AadTokenClient.fromSettings(fixture())) {
            Token t = client.getToken();
            check(!t.toString().contains(new String(t.chars())), "toString redacts the token");
            check(!t.toString().contains("eyJ"), "toString shows no token text");
            char[] copy = t.copyChars();
            try (Token scoped = t) {
                check(scoped.chars().length > 0, "token");
            }
            for (char c : t.chars()) {
                check(c == '\0', "close() wiped the token");
            }
            check(copy[0] == 'e', "a copy is not wiped");
            // The cached token is not affected by wiping a handed-out one.
            check(new String(client.getToken().chars()).equals(new String(copy)), "cache unaffected by wipe");
        }
    }

    static void supplier() {
        try (AadTokenClient client = AadTokenClient.fromSettings(fixture())) {
            Supplier<char[]> supplier = client.tokenSupplier();
            char[] a = supplier.get();
            char[] b = supplier.get();
            check(a != b && Arrays.equals(a, b), "fresh copies of the cached token");
            check(new String(a).startsWith("eyJ"), "a JWT");
        }
        Map<String, String> wrong = fixture();
        wrong.put("client_secret", "wrong");
        try (AadTokenClient client = AadTokenClient.fromSettings(wrong)) {
            Supplier<char[]> supplier = client.tokenSupplier();
            AadTokenException e = expect(AadTokenException.class, supplier::get);
            checkEq(e.status(), 300, "the supplier throws the unchecked AadTokenException");
        }
    }

    static void claims() {
        try (AadTokenClient client = AadTokenClient.fromSettings(fixture())) {
            Token t = client.getToken();
            String json = t.claimsJson();
            check(json.startsWith("{") && json.endsWith("}"), "a JSON object");
            check(json.contains("\"aud\":\"api://oracle-db\""), "aud: " + json);
            check(json.contains("\"appid\":\"" + CLIENT + "\""), "appid");
            check(json.contains("\"tid\":\"" + TENANT + "\""), "tid");
            check(json.contains("\"exp\":"), "exp");
            t.wipe();
            AadTokenException e = expect(AadTokenException.class, t::claimsJson);
            checkEq(e.status(), 100, "a wiped token is not a JWT");
            check(e.getMessage().contains("token"), "names the argument: " + e.getMessage());
        }
    }

    static void shutdown() throws Exception {
        try (AadTokenClient client = AadTokenClient.fromSettings(fixture())) {
            String first = new String(client.getToken().chars());
            AadTokenClient.shutdown();
            AadTokenClient.shutdown(); // again: nothing to do
            check(new String(client.getToken().chars()).equals(first), "the cache survives");
            long before = tokenRequests();
            check(!new String(client.refreshToken(OTHER_SCOPE).chars()).equals(first), "the network works again");
            checkEq(tokenRequests() - before, 1, "token requests after shutdown");
        }
    }

    // ---- helpers

    static Map<String, String> fixture() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("tenant_id", TENANT);
        m.put("client_id", CLIENT);
        m.put("client_secret", SECRET);
        m.put("authority_host", AUTHORITY);
        m.put("ca_file", CA);
        m.put("scope", SCOPE);
        return m;
    }

    static String env(String name) {
        String v = System.getenv(name);
        if (v == null || v.isEmpty()) {
            System.err.println("AadTokenTest: " + name + " is not set (run it through `cargo test --test c_suites java`)");
            System.exit(2);
        }
        return v;
    }

    static void test(String name, Body body) {
        try {
            body.run();
            passed++;
            System.out.println("ok   " + name);
        } catch (Throwable t) {
            failed++;
            System.out.println("FAIL " + name + ": " + t);
            t.printStackTrace(System.out);
        }
    }

    static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError(what);
        }
    }

    static void checkEq(long actual, long expected, String what) {
        if (actual != expected) {
            throw new AssertionError(what + ": expected " + expected + ", got " + actual);
        }
    }

    static <T extends Throwable> T expect(Class<T> type, Body body) {
        try {
            body.run();
        } catch (Throwable t) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
            throw new AssertionError("expected " + type.getSimpleName() + ", got " + t, t);
        }
        throw new AssertionError("expected " + type.getSimpleName() + ", nothing was thrown");
    }

    static HttpClient mockHttpClient() throws Exception {
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
        ks.load(null, null);
        int i = 0;
        for (Certificate c : cf.generateCertificates(new ByteArrayInputStream(Files.readAllBytes(Path.of(CA))))) {
            ks.setCertificateEntry("mock-ca-" + i++, c);
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(null, tmf.getTrustManagers(), null);
        return HttpClient.newBuilder().sslContext(ssl).version(HttpClient.Version.HTTP_1_1).build();
    }

    static String control(String method, String path, String json) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(AUTHORITY + path)).timeout(Duration.ofSeconds(10));
        if (json == null) {
            b.GET();
        } else {
            b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(json));
        }
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() / 100 != 2) {
            throw new AssertionError(method + " " + path + " -> " + r.statusCode() + ": " + r.body());
        }
        return r.body();
    }

    static long tokenRequests() throws Exception {
        String body = control("GET", "/_mock/counters", null);
        Matcher m = Pattern.compile("\"token_requests\"\\s*:\\s*(\\d+)").matcher(body);
        check(m.find(), "token_requests in " + body);
        return Long.parseLong(m.group(1));
    }
}
