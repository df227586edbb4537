package aadtoken;

import static aadtoken.Mock.CLIENT;
import static aadtoken.Mock.OTHER_SCOPE;
import static aadtoken.Mock.SCOPE;
import static aadtoken.Mock.SECRET;
import static aadtoken.Mock.TENANT;
import static aadtoken.Checks.check;
import static aadtoken.Checks.checkEq;
import static aadtoken.Checks.expect;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * The binding against the mock Entra ID server (one per JVM, {@link Mock}); request counts from
 * the mock's control API, so each test checks exactly how many requests it caused. The library
 * comes from the classpath resource (target/classes), as from the jar.
 */
class AadTokenTest {
    private final Mock mock = Mock.get();

    @Test
    void libraryIsTheBundledCopy() {
        check(!Native.LOADED_FROM.equals("java.library.path"), "loaded from " + Native.LOADED_FROM);
        check(Native.LOADED_FROM.contains("aadtoken-"), "a private temporary directory: " + Native.LOADED_FROM);
        check(!java.nio.file.Files.exists(java.nio.file.Path.of(Native.LOADED_FROM)), "deleted once loaded");
    }
    @Test
    void version() {
        check(AadTokenClient.libraryVersion().equals(System.getProperty("aadtoken.expectedVersion")), "libraryVersion " + AadTokenClient.libraryVersion());
        check(AadTokenException.statusText(300).startsWith("AADTOKEN_ERR_INVALID_CLIENT:"), "statusText(300)");
        check(AadTokenException.statusText(0).startsWith("AADTOKEN_OK"), "statusText(0)");
        check(AadTokenException.statusText(123456).startsWith("AADTOKEN_ERR_UNKNOWN"), "statusText(unknown)");
    }

    @Test
    void tokenFromMap() throws Exception {
        long before = mock.tokenRequests();
        try (AadTokenClient client = AadTokenClient.fromSettings(mock.settings())) {
            Token t = client.getToken();
            String jwt = new String(t.chars());
            check(jwt.startsWith("eyJ") && jwt.split("\\.").length == 3, "a JWT");
            long left = Duration.between(Instant.now(), t.expiresOn()).getSeconds();
            check(left > 3000 && left <= 3600, "expires in about an hour: " + left);
            check(!t.refreshOn().isAfter(t.expiresOn()), "refreshOn <= expiresOn");
            check(!t.expiresWithin(Duration.ofMinutes(5)), "not expiring within 5 minutes");
        }
        checkEq(mock.tokenRequests() - before, 1, "token requests");
    }

    @Test
    void cacheAndRefresh() throws Exception {
        try (AadTokenClient client = AadTokenClient.fromSettings(mock.settings())) {
            String first = new String(client.getToken().chars());
            long before = mock.tokenRequests();
            check(new String(client.getToken().chars()).equals(first), "cached");
            String second = new String(client.getToken(SCOPE).chars());
            checkEq(mock.tokenRequests() - before, 0, "requests for cached gets");
            check(first.equals(second), "the same cached token");
            Token refreshed = client.refreshToken();
            checkEq(mock.tokenRequests() - before, 1, "requests after refreshToken");
            check(!new String(refreshed.chars()).equals(first), "refresh gives a new token");
            check(new String(client.getToken().chars()).equals(new String(refreshed.chars())),
                    "the refreshed token replaced the cached one");
            client.refreshToken(SCOPE);
            checkEq(mock.tokenRequests() - before, 2, "requests after refreshToken(scope)");
        }
    }

    @Test
    void settingsString() throws Exception {
        String settings = "tenant_id=" + TENANT + "; client_id=" + CLIENT + "; client_secret=\"" + SECRET
                + "\"; authority_host=" + mock.authority + "; ca_file="+ mock.caFile + "; scope=" + SCOPE;
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

    @Test
    void environment() throws Exception {
        // The pom sets AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for the test JVM
        // (the mock's port is not known then: the authority comes from settings, given after).
        // fromEnvironment() (with AADTOKEN_SETTINGS) is run by JarAloneIT in a JVM of its own.
        check(CLIENT.equals(System.getenv("AZURE_CLIENT_ID")), "the pom sets AZURE_CLIENT_ID");
        long before = mock.tokenRequests();
        try (AadTokenClient client = AadTokenClient.builder()
                .environment()
                .settings("authority_host=" + mock.authority + "; scope=" + SCOPE + "; ca_file=" + mock.caFile)
                .build()) {
            check(client.refreshToken().chars().length > 0, "builder().environment()");
        }
        // environment() after settings: its values win over the earlier ones.
        Map<String, String> settings = mock.settings();
        settings.put("client_secret", "not-the-secret-value");
        try (AadTokenClient client = AadTokenClient.builder().set(settings).environment().build()) {
            check(client.refreshToken().chars().length > 0, "AZURE_CLIENT_SECRET replaced the wrong secret");
        }
        checkEq(mock.tokenRequests() - before, 2, "token requests");
    }

    @Test
    void wrongSecret() throws Exception {
        Map<String, String> settings = mock.settings();
        settings.put("client_secret", "not-the-secret-value");
        long before = mock.tokenRequests();
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
        checkEq(mock.tokenRequests() - before, 1, "token requests (a 4xx is not retried)");
    }

    @Test
    void settingErrors() {
        Map<String, String> unknown = mock.settings();
        unknown.put("no_such_setting", "x");
        AadTokenException e = expect(AadTokenException.class, () -> AadTokenClient.fromSettings(unknown));
        checkEq(e.status(), 101, "unknown setting status");
        check(e.getMessage().contains("no_such_setting"), "names the key: " + e.getMessage());

        Map<String, String> missing = mock.settings();
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

    @Test
    void untrustedCa() throws Exception {
        Map<String, String> settings = mock.settings();
        settings.remove("ca_file");
        long before = mock.tokenRequests();
        try (AadTokenClient client = AadTokenClient.fromSettings(settings)) {
            AadTokenException e = expect(AadTokenException.class, client::refreshToken);
            checkEq(e.status(), 202, "status");
        }
        checkEq(mock.tokenRequests() - before, 0, "no request got past the handshake");
    }

    @Test
    void threads() throws Exception {
        // A resource of its own, so the process-wide cache is cold for it.
        String resource = "api://java-threads-" + System.nanoTime();
        mock.control("/_mock/resources", "{\"app_id_uri\":\"" + resource + "\"}");
        String scope = resource + "/.default";
        mock.control("/_mock/config", "{\"latency_ms\":200}");
        long before = mock.tokenRequests();
        List<String> seen = new ArrayList<>();
        try (AadTokenClient client = AadTokenClient.fromSettings(mock.settings())) {
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
            mock.control("/_mock/config", "{\"latency_ms\":0}");
        }
        checkEq(seen.stream().distinct().count(), 1, "distinct tokens seen by 16 threads");
        checkEq(mock.tokenRequests() - before, 1, "token requests for 16 threads x 50 calls on a cold cache");
    }

    @Test
    void useAfterClose() {
        AadTokenClient client = AadTokenClient.fromSettings(mock.settings());
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

    @Test
    void closeUnderLoad() throws Exception {
        AadTokenClient client = AadTokenClient.fromSettings(mock.settings());
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

    @Test
    void wipe() {
        try (AadTokenClient client = AadTokenClient.fromSettings(mock.settings())) {
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

    @Test
    void supplier() {
        try (AadTokenClient client = AadTokenClient.fromSettings(mock.settings())) {
            Supplier<char[]> supplier = client.tokenSupplier();
            char[] a = supplier.get();
            char[] b = supplier.get();
            check(a != b && Arrays.equals(a, b), "fresh copies of the cached token");
            check(new String(a).startsWith("eyJ"), "a JWT");
        }
        Map<String, String> wrong = mock.settings();
        wrong.put("client_secret", "wrong");
        try (AadTokenClient client = AadTokenClient.fromSettings(wrong)) {
            Supplier<char[]> supplier = client.tokenSupplier();
            AadTokenException e = expect(AadTokenException.class, supplier::get);
            checkEq(e.status(), 300, "the supplier throws the unchecked AadTokenException");
        }
    }

    @Test
    void claims() {
        try (AadTokenClient client = AadTokenClient.fromSettings(mock.settings())) {
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

    @Test
    void shutdown() throws Exception {
        try (AadTokenClient client = AadTokenClient.fromSettings(mock.settings())) {
            String first = new String(client.getToken().chars());
            AadTokenClient.shutdown();
            AadTokenClient.shutdown(); // again: nothing to do
            check(new String(client.getToken().chars()).equals(first), "the cache survives");
            long before = mock.tokenRequests();
            check(!new String(client.refreshToken(OTHER_SCOPE).chars()).equals(first), "the network works again");
            checkEq(mock.tokenRequests() - before, 1, "token requests after shutdown");
        }
    }
}
