package aadtoken;

import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;

/**
 * Microsoft Entra ID access tokens for one identity, fetched, cached and refreshed by the
 * native aadtoken library (the same engine as its C ABI).
 *
 * <pre>{@code
 * try (AadTokenClient client = AadTokenClient.builder()
 *         .environment()                                  // AZURE_TENANT_ID, AZURE_CLIENT_ID, ...
 *         .settings("scope=api://my-db-app/.default")     // "key=value;key=value"
 *         .build()) {
 *     Token token = client.getToken();                    // cached while valid
 *     // ojdbc: a token supplier that ojdbc caches and calls again when its token expires
 *     OracleDataSource ds = new OracleDataSource();
 *     ds.setTokenSupplier(AccessToken.createJsonWebTokenCache(
 *         () -> AccessToken.createJsonWebToken(client.getToken().chars())));
 * }
 * }</pre>
 *
 * <p>Thread-safe: share one client per identity between all threads; clients with the same
 * identity and scopes share cached tokens and in-flight requests process-wide. Settings keys,
 * values and the settings-string grammar are those of the C ABI (see the README).
 *
 * <p>{@link #close()} frees the native client; it is idempotent, waits for calls in progress
 * on other threads, and afterwards every call throws {@link IllegalStateException}. A client
 * that becomes unreachable without being closed is freed by a {@link Cleaner}.
 *
 * <p>Failures throw {@link AadTokenException} (unchecked) with the C ABI's status code.
 */
public final class AadTokenClient implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();

    /** The native handle and the lock that keeps it alive while calls use it. It must not
     *  refer to the client, or the Cleaner would never run. */
    private static final class State implements Runnable {
        final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
        final AtomicLong handle;

        State(long handle) {
            this.handle = new AtomicLong(handle);
        }

        /** Close: swap the handle to 0 first (under the write lock, so no call is using it),
         *  then free it. Runs at most once (Cleanable.clean), but is safe to run again. */
        @Override
        public void run() {
            Lock w = lock.writeLock();
            w.lock();
            try {
                long h = handle.getAndSet(0);
                if (h != 0) {
                    Native.clientFree(h);
                }
            } finally {
                w.unlock();
            }
        }
    }

    private final State state;
    private final Cleaner.Cleanable cleanable;

    private AadTokenClient(long handle) {
        this.state = new State(handle);
        this.cleanable = CLEANER.register(this, state);
    }

    /** A builder: settings are applied in the order given; a later value for a key wins. */
    public static Builder builder() {
        return new Builder();
    }

    /** A client from settings ({@code tenant_id}, {@code client_id}, {@code client_secret},
     *  {@code scope}, ...). Keys are case-insensitive; an unknown key or a bad value throws
     *  naming it. */
    public static AadTokenClient fromSettings(Map<String, String> settings) {
        return builder().set(settings).build();
    }

    /** A client from a settings string: {@code "tenant_id=...; client_id=...; scope=..."}. */
    public static AadTokenClient fromSettings(String settings) {
        return builder().settings(settings).build();
    }

    /** A client from the Azure SDK environment variables ({@code AZURE_TENANT_ID},
     *  {@code AZURE_CLIENT_ID}, {@code AZURE_CLIENT_SECRET}, {@code AZURE_AUTHORITY_HOST}),
     *  then the settings string in {@code AADTOKEN_SETTINGS} when it is set (for the scope and
     *  anything else without a standard variable). */
    public static AadTokenClient fromEnvironment() {
        Builder b = builder().environment();
        String extra = System.getenv("AADTOKEN_SETTINGS");
        if (extra != null && !extra.isBlank()) {
            b.settings(extra);
        }
        return b.build();
    }

    /** The native library's version, e.g. "0.1.0". */
    public static String libraryVersion() {
        return Native.version();
    }

    /**
     * Stops the native library's background work (proactive refreshes) and joins its thread,
     * e.g. from a shutdown hook or before a container unloads the application. Call it when no
     * other thread is getting a token. Clients, tokens and the cache stay valid: a later call
     * that needs the network starts the background work again.
     */
    public static void shutdown() {
        Native.shutdown();
    }

    /** A token for the configured {@code scope}: the cached one while it has more than
     *  {@code expiry_margin_s} left, else a new one (blocking for at most {@code timeout_ms}). */
    public Token getToken() {
        return call(null, false);
    }

    /** A token for {@code scopes} (space separated), cached as {@link #getToken()}. */
    public Token getToken(String scopes) {
        return call(Objects.requireNonNull(scopes, "scopes"), false);
    }

    /** Always asks Entra ID for a new token for the configured scope and replaces the cached
     *  one (for when a server rejected a token before its expiry). */
    public Token refreshToken() {
        return call(null, true);
    }

    /** As {@link #refreshToken()}, for {@code scopes}. */
    public Token refreshToken(String scopes) {
        return call(Objects.requireNonNull(scopes, "scopes"), true);
    }

    /**
     * A supplier of the token's characters (a new copy on each call, from {@link #getToken()}),
     * for APIs that take a {@code Supplier<char[]>}. For ojdbc:
     * {@code AccessToken.createJsonWebTokenCache(() -> AccessToken.createJsonWebToken(supplier.get()))}.
     * Throws {@link AadTokenException} (unchecked) on failure.
     */
    public Supplier<char[]> tokenSupplier() {
        return () -> {
            try (Token t = getToken()) {
                return t.copyChars();
            }
        };
    }

    /** True once {@link #close()} has run. */
    public boolean isClosed() {
        return state.handle.get() == 0;
    }

    /** Frees the native client. Idempotent; waits for calls in progress on other threads.
     *  Tokens already obtained stay valid; cached tokens stay in the process-wide cache. */
    @Override
    public void close() {
        cleanable.clean();
    }

    @Override
    public String toString() {
        return isClosed() ? "AadTokenClient[closed]" : "AadTokenClient[open]";
    }

    private Token call(String scopes, boolean refresh) {
        Lock r = state.lock.readLock();
        r.lock();
        try {
            long h = state.handle.get();
            if (h == 0) {
                throw new IllegalStateException("this AadTokenClient is closed");
            }
            return Native.clientGetToken(h, scopes, refresh);
        } finally {
            r.unlock();
        }
    }

    /** Collects settings in order; {@link #build()} checks them and makes the client. No
     *  network request is made until the first token is asked for. */
    public static final class Builder {
        private final List<String> steps = new ArrayList<>();

        private Builder() {}

        /** Reads the Azure SDK environment variables (unset or empty ones are skipped). */
        public Builder environment() {
            steps.add("env");
            steps.add(null);
            steps.add(null);
            return this;
        }

        /** Applies a settings string {@code "key=value;key=value"}; a value containing
         *  {@code ;} is written in double quotes. */
        public Builder settings(String settings) {
            steps.add("parse");
            steps.add(Objects.requireNonNull(settings, "settings"));
            steps.add(null);
            return this;
        }

        /** Sets one setting. */
        public Builder set(String key, String value) {
            steps.add("set");
            steps.add(Objects.requireNonNull(key, "key"));
            steps.add(Objects.requireNonNull(value, "value"));
            return this;
        }

        /** Sets each entry of {@code settings}, in the map's iteration order. */
        public Builder set(Map<String, String> settings) {
            for (Map.Entry<String, String> e : settings.entrySet()) {
                set(e.getKey(), e.getValue());
            }
            return this;
        }

        /** Checks the settings and makes the client; throws {@link AadTokenException} naming
         *  an unknown, invalid or missing setting. */
        public AadTokenClient build() {
            long handle = Native.clientNew(steps.toArray(new String[0]));
            return new AadTokenClient(handle);
        }
    }
}
