package aadtoken.bench;

import aadtoken.AadTokenClient;
import aadtoken.Mock;
import aadtoken.Token;
import aadtoken.ojdbc.AadTokenProvider;
import com.microsoft.aad.msal4j.ClientCredentialFactory;
import com.microsoft.aad.msal4j.ClientCredentialParameters;
import com.microsoft.aad.msal4j.ConfidentialClientApplication;
import com.microsoft.aad.msal4j.IAuthenticationResult;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import oracle.jdbc.AccessToken;
import oracle.jdbc.spi.OracleResourceProvider.Parameter;

/**
 * aadtoken's Java binding (and its ojdbc provider) side by side with msal4j's
 * {@code ConfidentialClientApplication.acquireToken(ClientCredentialParameters)}, in one run,
 * against one mock Entra ID (HTTPS on 127.0.0.1, started by {@link Mock}): a cached hit, a warm
 * miss, the first token in a fresh JVM, and 64 threads on a cold cache. A plain harness (timed
 * loops, the median of several rounds after warm-up rounds) rather than JMH: the cold phase needs
 * fresh JVMs it starts itself, and on this 2-core machine shared with builds the median of rounds
 * is what keeps the figures steady. Prints a Markdown table.
 *
 * <p>{@code java aadtoken.bench.JavaBench} (system property {@code aadtoken.mock}: the mock
 * program; environment {@code QUICK=1}: fewer iterations). {@code ... JavaBench cold aadtoken|msal4j
 * AUTHORITY CA} is the fresh-JVM child.
 */
public final class JavaBench {
    private static final boolean QUICK = "1".equals(System.getenv("QUICK"));
    private static final int ROUNDS = QUICK ? 3 : 7;
    private static final long ROUND_NS = QUICK ? 300_000_000L : 1_500_000_000L;
    private static long sink;

    private JavaBench() {}

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("cold")) {
            cold(args[1], args[2], Path.of(args[3]));
            return;
        }
        Mock mock = Mock.get();
        Map<String, String> settings = mock.settings();
        String scope = Mock.SCOPE;
        List<String[]> rows = new ArrayList<>();
        List<String> notes = new ArrayList<>();

        try (AadTokenClient client = AadTokenClient.fromSettings(settings)) {
            ConfidentialClientApplication msal = msal(mock);
            ClientCredentialParameters cached = ClientCredentialParameters.builder(Set.of(scope)).build();
            ClientCredentialParameters fresh = ClientCredentialParameters.builder(Set.of(scope)).skipCache(true).build();
            AadTokenProvider provider = new AadTokenProvider();
            Map<Parameter, CharSequence> params = params(provider, settings);
            client.getToken();
            msal.acquireToken(cached).get();

            // (a) cached hit (each loop's token requests are counted: a cached hit sends none)
            long r0 = mock.tokenRequests();
            double ours = nsPerOp(() -> {
                try (Token t = client.getToken()) {
                    sink += t.chars().length;
                }
            });
            long r1 = mock.tokenRequests();
            double spi = nsPerOp(() -> {
                AccessToken t = provider.getAccessToken(params);
                sink += System.identityHashCode(t); // not t.hashCode(): ojdbc hashes the whole token
            });
            long r2 = mock.tokenRequests();
            double theirs = nsPerOp(() -> {
                try {
                    sink += msal.acquireToken(cached).get().accessToken().length();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            long r3 = mock.tokenRequests();
            notes.add("token requests during the cached loops: aadtoken " + (r1 - r0) + ", ojdbc provider "
                    + (r2 - r1) + ", msal4j " + (r3 - r2));
            rows.add(row("(a) cached hit, 1 thread", fmtNs(ours) + " (`getToken()` + `close()`)",
                    fmtNs(theirs), ratio(theirs / ours), "≥ 20× faster: " + met(theirs / ours >= 20)));
            rows.add(row("(a′) cached hit through the ojdbc provider", fmtNs(spi)
                    + " (`getAccessToken` → ojdbc `AccessToken`)", fmtNs(theirs), ratio(theirs / spi), "—"));

            // (b) warm miss: one token request over a warm connection. expiry_margin_s beyond the
            // token's lifetime makes every getToken() a miss (refreshToken() is limited to 10 a
            // minute); msal4j: skipCache.
            Map<String, String> missing = mock.settings();
            missing.put("expiry_margin_s", "3600");
            AadTokenClient missClient = AadTokenClient.fromSettings(missing);
            double oursMiss = nsPerOp(() -> {
                try (Token t = missClient.getToken()) {
                    sink += t.chars().length;
                }
            });
            missClient.close();
            double theirsMiss = nsPerOp(() -> {
                try {
                    sink += msal.acquireToken(fresh).get().accessToken().length();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            rows.add(row("(b) warm miss: one token request", fmtNs(oursMiss), fmtNs(theirsMiss),
                    ratio(theirsMiss / oursMiss), "—"));
        }

        // (c) cold: the first token in a fresh JVM
        int runs = QUICK ? 3 : 7;
        double[][] oursCold = coldRuns("aadtoken", mock, runs);
        double[][] theirsCold = coldRuns("msal4j", mock, runs);
        rows.add(row("(c) cold: first token in a fresh JVM, from `main()`", fmtMs(median(oursCold[0])),
                fmtMs(median(theirsCold[0])), ratio(median(theirsCold[0]) / median(oursCold[0])), "—"));
        rows.add(row("(c′) the same, whole `java` process (start to exit)", fmtMs(median(oursCold[1])),
                fmtMs(median(theirsCold[1])), ratio(median(theirsCold[1]) / median(oursCold[1])), "—"));

        // (d) 64 threads, cold cache, 100 ms mock latency
        long oursReqs = burst(mock, "aadtoken");
        long theirsReqs = burst(mock, "msal4j");
        rows.add(row("(d) 64 threads on a cold cache (mock latency 100 ms): token requests",
                "**" + oursReqs + "**", Long.toString(theirsReqs), "—", "exactly 1: " + met(oursReqs == 1)));

        System.out.println("| phase | aadtoken (Java) | msal4j 1.23.1 | msal4j / aadtoken | goal |");
        System.out.println("|---|---|---|---|---|");
        for (String[] r : rows) {
            System.out.println("| " + String.join(" | ", r) + " |");
        }
        System.out.println();
        notes.forEach(System.out::println);
        System.out.println("java " + System.getProperty("java.version") + ", " + Runtime.getRuntime().availableProcessors()
                + " cores, rounds " + ROUNDS + (QUICK ? " (QUICK)" : "") + ", sink " + (sink & 1));
    }

    static ConfidentialClientApplication msal(Mock mock) throws Exception {
        return ConfidentialClientApplication
                .builder(Mock.CLIENT, ClientCredentialFactory.createFromSecret(Mock.SECRET))
                .authority(mock.authority + "/" + Mock.TENANT + "/")
                .validateAuthority(false)
                .instanceDiscovery(false)
                .sslSocketFactory(mock.sslContext().getSocketFactory())
                .build();
    }

    static Map<Parameter, CharSequence> params(AadTokenProvider provider, Map<String, String> settings) {
        Map<Parameter, CharSequence> values = new HashMap<>();
        for (Parameter p : provider.getParameters()) {
            if (settings.containsKey(p.name())) {
                values.put(p, settings.get(p.name()));
            }
        }
        return values;
    }

    /** Median ns per op over ROUNDS rounds of about ROUND_NS each (the op count calibrated on
     *  the first of 2 warm-up rounds). */
    static double nsPerOp(Runnable op) {
        long n = 1;
        long t = System.nanoTime();
        while (System.nanoTime() - t < ROUND_NS / 10) { // calibrate
            op.run();
            n++;
        }
        n = Math.max(1, n * 10);
        double[] per = new double[ROUNDS];
        for (int r = -2; r < ROUNDS; r++) {
            long t0 = System.nanoTime();
            for (long i = 0; i < n; i++) {
                op.run();
            }
            long dt = System.nanoTime() - t0;
            if (r >= 0) {
                per[r] = (double) dt / n;
            }
        }
        return median(per);
    }

    /** The fresh-JVM child: time from main() to the first token; prints "first-token-ns N". */
    static void cold(String which, String authority, Path ca) throws Exception {
        long t0 = System.nanoTime();
        Mock mock = Mock.connect(authority, ca);
        int length;
        if (which.equals("aadtoken")) {
            try (AadTokenClient client = AadTokenClient.fromSettings(mock.settings()); Token t = client.getToken()) {
                length = t.chars().length;
            }
        } else {
            IAuthenticationResult r = msal(mock)
                    .acquireToken(ClientCredentialParameters.builder(Set.of(Mock.SCOPE)).build()).get();
            length = r.accessToken().length();
        }
        long dt = System.nanoTime() - t0;
        System.out.println("first-token-ns " + dt + " length " + length);
        System.exit(0); // msal4j's executor threads would keep the JVM alive
    }

    /** [from main() ms[], whole process ms[]] over {@code runs} fresh JVMs. */
    static double[][] coldRuns(String which, Mock mock, int runs) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        double[] inMain = new double[runs];
        double[] whole = new double[runs];
        for (int i = 0; i < runs; i++) {
            long t0 = System.nanoTime();
            Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                    JavaBench.class.getName(), "cold", which, mock.authority, mock.caFile.toString())
                    .redirectErrorStream(true)
                    .start();
            String out;
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                out = r.lines().reduce("", (a, b) -> a + b + "\n");
            }
            int rc = p.waitFor();
            whole[i] = (System.nanoTime() - t0) / 1e6;
            String line = out.lines().filter(l -> l.startsWith("first-token-ns ")).findFirst().orElse(null);
            if (rc != 0 || line == null) {
                throw new IllegalStateException(which + " cold run failed (" + rc + "):\n" + out);
            }
            inMain[i] = Long.parseLong(line.split(" ")[1]) / 1e6;
        }
        return new double[][] {inMain, whole};
    }

    /** Token requests that reach the mock when 64 threads ask at once on a cold cache. */
    static long burst(Mock mock, String which) throws Exception {
        String scope = mock.newScope("java-bench-burst");
        mock.control("/_mock/config", "{\"latency_ms\":100}");
        ExecutorService pool = Executors.newFixedThreadPool(64);
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<Integer>> results = new ArrayList<>();
            long before;
            if (which.equals("aadtoken")) {
                try (AadTokenClient client = AadTokenClient.fromSettings(mock.settings())) {
                    before = mock.tokenRequests();
                    for (int i = 0; i < 64; i++) {
                        results.add(pool.submit(() -> {
                            start.await();
                            try (Token t = client.getToken(scope)) {
                                return t.chars().length;
                            }
                        }));
                    }
                    start.countDown();
                    for (Future<Integer> f : results) {
                        f.get();
                    }
                }
            } else {
                ConfidentialClientApplication app = msal(mock);
                ClientCredentialParameters params = ClientCredentialParameters.builder(Set.of(scope)).build();
                before = mock.tokenRequests();
                for (int i = 0; i < 64; i++) {
                    results.add(pool.submit(() -> {
                        start.await();
                        return app.acquireToken(params).get().accessToken().length();
                    }));
                }
                start.countDown();
                for (Future<Integer> f : results) {
                    f.get();
                }
            }
            return mock.tokenRequests() - before;
        } finally {
            pool.shutdown();
            mock.control("/_mock/config", "{\"latency_ms\":0}");
        }
    }

    static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    static String[] row(String... cells) {
        return cells;
    }

    static String fmtNs(double ns) {
        if (ns < 1_000) {
            return String.format("%.0f ns", ns);
        }
        if (ns < 1_000_000) {
            return String.format("%.1f µs", ns / 1e3);
        }
        return String.format("%.2f ms", ns / 1e6);
    }

    static String fmtMs(double ms) {
        return String.format("%.1f ms", ms);
    }

    static String ratio(double r) {
        return String.format("%.1f×", r);
    }

    static String met(boolean ok) {
        return ok ? "**met**" : "**not met**";
    }
}
