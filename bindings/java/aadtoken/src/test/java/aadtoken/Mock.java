package aadtoken;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * The mock Entra ID server ({@code aadtoken-mock}, see mock/README.md) for the Java tests and
 * benchmarks: one per JVM, started on first use from the path in the system property
 * {@code aadtoken.mock} (the poms set it to the workspace's target/debug/aadtoken-mock), on a
 * free port (or the one in the system property {@code aadtoken.mockPort}: the Java benchmark
 * uses 443, where msal4j's cache works — msal4j files a token under the authority's host without
 * its port and looks it up with the port), with its CA written to a private temporary directory;
 * stopped at exit. Request
 * counts come from its control API ({@code GET /_mock/counters}).
 */
public final class Mock {
    public static final String TENANT = "11111111-1111-1111-1111-111111111111";
    public static final String CLIENT = "22222222-2222-2222-2222-222222222222";
    public static final String SECRET = "mock-secret-Value~0123456789"; // a mock fixture value
    public static final String PUBLIC_CLIENT = "88888888-8888-8888-8888-888888888888";
    public static final String USER = "dba@contoso.onmicrosoft.com";
    public static final String SCOPE = "api://oracle-db/.default";
    public static final String OTHER_SCOPE = "https://oracle.example.com/db/.default";

    private static Mock instance;

    /** {@code https://127.0.0.1:PORT} */
    public final String authority;
    /** The mock's CA certificate (PEM). */
    public final Path caFile;
    private final Process process;
    private final HttpClient http;

    private Mock(String authority, Path caFile, Process process) throws Exception {
        this.authority = authority;
        this.caFile = caFile;
        this.process = process;
        this.http = HttpClient.newBuilder()
                .sslContext(sslContext())
                .version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
    }

    /** The mock of this JVM, started on first use. */
    public static synchronized Mock get() {
        if (instance == null) {
            try {
                instance = start();
            } catch (Exception e) {
                throw new IllegalStateException("cannot start the mock Entra ID server: " + e, e);
            }
        }
        return instance;
    }

    private static Mock start() throws Exception {
        String binary = System.getProperty("aadtoken.mock");
        if (binary == null || !Files.isExecutable(Path.of(binary))) {
            throw new IllegalStateException("the system property aadtoken.mock (" + binary
                    + ") must name the aadtoken-mock program: run `cargo build` first");
        }
        Path dir = Files.createTempDirectory("aadtoken-mock-");
        Path portFile = dir.resolve("port");
        Path ca = dir.resolve("ca.pem");
        Path log = dir.resolve("mock.log");
        String wanted = System.getProperty("aadtoken.mockPort", "0");
        Process p = new ProcessBuilder(binary, "--port", wanted, "--port-file", portFile.toString(),
                "--ca-out", ca.toString())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        Runtime.getRuntime().addShutdownHook(new Thread(p::destroy));
        for (Path f : new Path[] {dir, portFile, ca, log}) {
            f.toFile().deleteOnExit(); // the last registered is deleted first
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!Files.exists(portFile)) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                p.destroy();
                throw new IllegalStateException("the mock did not start: " + Files.readString(log));
            }
            Thread.sleep(20);
        }
        int port = Integer.parseInt(Files.readString(portFile).trim());
        return new Mock(port == 443 ? "https://127.0.0.1" : "https://127.0.0.1:" + port, ca, p);
    }

    /** A mock started by someone else (e.g. the JVM that started this one). */
    public static Mock connect(String authority, Path caFile) throws Exception {
        return new Mock(authority, caFile, null);
    }

    /** The fixture application's settings (client credentials), trusting the mock's CA. */
    public Map<String, String> settings() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("tenant_id", TENANT);
        m.put("client_id", CLIENT);
        m.put("client_secret", SECRET);
        m.put("authority_host", authority);
        m.put("ca_file", caFile.toString());
        m.put("scope", SCOPE);
        return m;
    }

    /** An SSL context that trusts the mock's CA (only). */
    public SSLContext sslContext() throws Exception {
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
        ks.load(null, null);
        int i = 0;
        for (Certificate c : cf.generateCertificates(new ByteArrayInputStream(Files.readAllBytes(caFile)))) {
            ks.setCertificateEntry("mock-ca-" + i++, c);
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(null, tmf.getTrustManagers(), null);
        return ssl;
    }

    /** A control request ({@code json} null = GET); returns the body; fails on a non-2xx answer. */
    public String control(String path, String json) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(authority + path)).timeout(Duration.ofSeconds(10));
        if (json == null) {
            b.GET();
        } else {
            b.header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json));
        }
        HttpResponse<String> r = send(b.build());
        if (r.statusCode() / 100 != 2) {
            throw new AssertionError(path + " -> " + r.statusCode() + ": " + r.body());
        }
        return r.body();
    }

    /** One request as a person's browser would make it (trusting the mock's CA, no redirects). */
    public HttpResponse<String> send(HttpRequest request) {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Token requests the mock has answered so far. */
    public long tokenRequests() {
        String body = control("/_mock/counters", null);
        Matcher m = Pattern.compile("\"token_requests\"\\s*:\\s*(\\d+)").matcher(body);
        if (!m.find()) {
            throw new AssertionError("no token_requests in " + body);
        }
        return Long.parseLong(m.group(1));
    }

    /** Device codes the mock has been asked for so far. */
    public long deviceCodesIssued() {
        String body = control("/_mock/counters", null);
        Matcher m = Pattern.compile("\"devicecode\"\\s*:\\s*(\\d+)").matcher(body);
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    /** A new resource of the fixture tenant (so the process-wide cache is cold for it); its scope. */
    public String newScope(String name) {
        String resource = "api://" + name + "-" + System.nanoTime();
        control("/_mock/resources", "{\"app_id_uri\":\"" + resource + "\"}");
        return resource + "/.default";
    }

    /** Whether the mock process is still running. */
    public boolean isAlive() {
        return process == null || process.isAlive();
    }
}
