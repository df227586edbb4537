package aadtoken;

import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;
import java.util.function.LongFunction;
import java.util.function.Predicate;
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
 * () -> AccessToken.createJsonWebToken(client.getTokenSilent().chars())));
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

    /**
     * A builder: settings are applied in the order given; a later value for a key wins.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A client from settings ({@code tenant_id}, {@code client_id}, {@code client_secret},
     * {@code scope}, ...). Keys are case-insensitive; an unknown key or a bad value throws
     * naming it.
     *
     * @param settings setting keys and values
     * @return the client
     */
    public static AadTokenClient fromSettings(Map<String, String> settings) {
        return builder().set(settings).build();
    }

    /**
     * A client from a settings string: {@code "tenant_id=...; client_id=...; scope=..."}.
     *
     * @param settings a settings string
     * @return the client
     */
    public static AadTokenClient fromSettings(String settings) {
        return builder().settings(settings).build();
    }

    /**
     * A client from the Azure SDK environment variables ({@code AZURE_TENANT_ID},
     * {@code AZURE_CLIENT_ID}, {@code AZURE_CLIENT_SECRET}, {@code AZURE_AUTHORITY_HOST}),
     * then the settings string in {@code AADTOKEN_SETTINGS} when it is set (for the scope and
     * anything else without a standard variable).
     *
     * @return the client
     */
    public static AadTokenClient fromEnvironment() {
        Builder b = builder().environment();
        String extra = System.getenv("AADTOKEN_SETTINGS");
        if (extra != null && !extra.isBlank()) {
            b.settings(extra);
        }
        return b.build();
    }

    /**
     * The native library's version, e.g. "0.1.0".
     *
     * @return the version
     */
    public static String libraryVersion() {
        return Native.version();
    }

    /**
     * Every setting key the library accepts ({@code tenant_id}, {@code client_id}, ...), in
     * the README's order: what {@link Builder#set(String, String)} takes.
     *
     * @return the keys, lower case
     */
    public static List<String> settingNames() {
        return List.of(Native.settingNames());
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

    /**
     * A token for the configured {@code scope}: the cached one while it has more than
     * {@code expiry_margin_s} left, else a new one (blocking for at most {@code timeout_ms}).
     *
     * @return the token
     */
    public Token getToken() {
        return call(null, Mode.GET);
    }

    /**
     * A token for {@code scopes} (space separated), cached as {@link #getToken()}.
     *
     * @param scopes the scopes of the token
     * @return the token
     */
    public Token getToken(String scopes) {
        return call(Objects.requireNonNull(scopes, "scopes"), Mode.GET);
    }

    /**
     * Always asks Entra ID for a new token for the configured scope and replaces the cached
     * one (for when a server rejected a token before its expiry).
     *
     * @return the new token
     */
    public Token refreshToken() {
        return call(null, Mode.REFRESH);
    }

    /**
     * As {@link #refreshToken()}, for {@code scopes}.
     *
     * @param scopes the scopes of the token
     * @return the new token
     */
    public Token refreshToken(String scopes) {
        return call(Objects.requireNonNull(scopes, "scopes"), Mode.REFRESH);
    }

    /**
     * As {@link #getToken()}, for a database driver's token callback (ojdbc's provider or token
     * supplier), which runs on the driver's thread while it opens a connection: it never waits
     * for a person. With {@code auth_method=device_code} or {@code interactive} it answers from
     * the signed-in account (the cached token, or a new one through its refresh token), or throws
     * {@link AadTokenException} with status {@link Status#ERR_INTERACTION_REQUIRED} at once — no
     * prompt, no browser, whatever {@code automatic_sign_in} says (sign in first with
     * {@link #signIn()}, or {@code aadtoken login} with {@code cache_file}). Other credentials:
     * exactly {@link #getToken()}.
     *
     * @return the token
     */
    public Token getTokenSilent() {
        return call(null, Mode.GET_SILENT);
    }

    /**
     * As {@link #getTokenSilent()}, for {@code scopes} (space separated).
     *
     * @param scopes the scopes of the token
     * @return the token
     */
    public Token getTokenSilent(String scopes) {
        return call(Objects.requireNonNull(scopes, "scopes"), Mode.GET_SILENT);
    }

    /**
     * As {@link #refreshToken()} (always asks Entra ID), never waiting for a person, as
     * {@link #getTokenSilent()}: a person's token is refreshed through the signed-in account's
     * refresh token, else {@link Status#ERR_INTERACTION_REQUIRED} at once.
     *
     * @return the new token
     */
    public Token refreshTokenSilent() {
        return call(null, Mode.REFRESH_SILENT);
    }

    /**
     * As {@link #refreshTokenSilent()}, for {@code scopes}.
     *
     * @param scopes the scopes of the token
     * @return the new token
     */
    public Token refreshTokenSilent(String scopes) {
        return call(Objects.requireNonNull(scopes, "scopes"), Mode.REFRESH_SILENT);
    }

    /**
     * A supplier of the token's characters (a new copy on each call, from
     * {@link #getTokenSilent()}: ojdbc calls it while it opens a connection, so it never waits for
     * a person), for APIs that take a {@code Supplier<char[]>}. For ojdbc:
     * {@code AccessToken.createJsonWebTokenCache(() -> AccessToken.createJsonWebToken(supplier.get()))}.
     * Throws {@link AadTokenException} (unchecked) on failure.
     *
     * @return a supplier of the token's characters
     */
    public Supplier<char[]> tokenSupplier() {
        return () -> {
            try (Token t = getTokenSilent()) {
                return t.copyChars();
            }
        };
    }

    /**
     * Signs a person in now ({@code auth_method=device_code}: through the
     * {@link Builder#deviceCodePrompt device-code prompt}; {@code interactive}: in a browser, opened
     * by {@link Builder#openUrl}) even when a cached refresh token would still work, and returns a
     * token for the configured {@code scope}, which replaces the cached one. The account and its
     * refresh token stay in the library (and in {@code cache_file} when set), so later
     * {@link #getToken()} calls, for any scope of the account, are silent. {@link #getToken()}
     * itself signs in when there is no account yet. Blocks for the whole sign-in (at most the
     * device code's lifetime or {@code interactive_timeout_s}).
     *
     * @return the new token
     * @throws AadTokenException e.g. status 102 (not a person sign-in {@code auth_method}), 510
     *     (no prompt set; no browser could be started), 306, 310, 502
     */
    public Token signIn() {
        return call(null, Mode.SIGN_IN);
    }

    /**
     * As {@link #signIn()}, for {@code scopes} (space separated).
     *
     * @param scopes the scopes of the token
     * @return the new token
     */
    public Token signIn(String scopes) {
        return call(Objects.requireNonNull(scopes, "scopes"), Mode.SIGN_IN);
    }

    /**
     * Signs the person out ({@code auth_method=device_code} or {@code interactive}): forgets the
     * account the settings select ({@code account}, {@code login_hint}, or the only one) and its
     * refresh token, in memory and in {@code cache_file}, and drops the access tokens this
     * process cached for the application, so the next {@link #getToken()} signs in again.
     * Succeeds when nobody is signed in. Tokens already handed out stay valid objects.
     *
     * @throws AadTokenException e.g. status 102 (not a person sign-in {@code auth_method})
     */
    public void signOut() {
        onHandle(h -> {
            Native.clientSignOut(h);
            return null;
        });
    }

    /**
     * True once {@link #close()} has run.
     *
     * @return whether the client is closed
     */
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

    private enum Mode {
        GET,
        REFRESH,
        GET_SILENT,
        REFRESH_SILENT,
        SIGN_IN
    }

    private Token call(String scopes, Mode mode) {
        boolean refresh = mode == Mode.REFRESH || mode == Mode.REFRESH_SILENT;
        boolean silent = mode == Mode.GET_SILENT || mode == Mode.REFRESH_SILENT;
        return onHandle(h -> mode == Mode.SIGN_IN
                ? Native.clientSignIn(h, scopes)
                : Native.clientGetToken(h, scopes, refresh, silent));
    }

    /** Runs {@code nativeCall} on the live native handle under the read lock, so that
     *  {@link #close()} waits for it; a closed client throws {@link IllegalStateException}. */
    private <T> T onHandle(LongFunction<T> nativeCall) {
        Lock r = state.lock.readLock();
        r.lock();
        try {
            long h = state.handle.get();
            if (h == 0) {
                throw new IllegalStateException("this AadTokenClient is closed");
            }
            return nativeCall.apply(h);
        } finally {
            r.unlock();
        }
    }

    /** Collects settings in order; {@link #build()} checks them and makes the client. No
     *  network request is made until the first token is asked for. */
    public static final class Builder {
        private final List<String> steps = new ArrayList<>();
        private Consumer<DeviceCodePrompt> prompt;
        private Predicate<String> opener;

        private Builder() {}

        /**
         * Reads the Azure SDK environment variables (unset or empty ones are skipped).
         *
         * @return this builder
         */
        public Builder environment() {
            steps.add("env");
            steps.add(null);
            steps.add(null);
            return this;
        }

        /**
         * Applies a settings string {@code "key=value;key=value"}; a value containing
         * {@code ;} is written in double quotes.
         *
         * @param settings a settings string
         * @return this builder
         */
        public Builder settings(String settings) {
            steps.add("parse");
            steps.add(Objects.requireNonNull(settings, "settings"));
            steps.add(null);
            return this;
        }

        /**
         * Sets one setting.
         *
         * @param key the setting's key, e.g. {@code tenant_id}
         * @param value its value
         * @return this builder
         */
        public Builder set(String key, String value) {
            steps.add("set");
            steps.add(Objects.requireNonNull(key, "key"));
            steps.add(Objects.requireNonNull(value, "value"));
            return this;
        }

        /**
         * Sets each entry of {@code settings}, in the map's iteration order.
         *
         * @param settings setting keys and values
         * @return this builder
         */
        public Builder set(Map<String, String> settings) {
            for (Map.Entry<String, String> e : settings.entrySet()) {
                set(e.getKey(), e.getValue());
            }
            return this;
        }

        /**
         * Sets the device-code prompt of {@code auth_method=device_code}: it shows the person
         * the {@link DeviceCodePrompt} (e.g. {@code p -> System.err.println(p.message())}).
         * Without one, a device-code sign-in fails with status 510: the library never prints.
         * Called once per sign-in on a library thread, before polling starts; it should return
         * promptly. An exception it throws is ignored (the sign-in goes on until the code
         * expires). {@code null} removes one set earlier.
         *
         * @param prompt shows the code to the person
         * @return this builder
         */
        public Builder deviceCodePrompt(Consumer<DeviceCodePrompt> prompt) {
            this.prompt = prompt;
            return this;
        }

        /**
         * Sets how {@code auth_method=interactive} opens the sign-in page, instead of the system
         * browser: the opener gets the page's URL and returns true once it opened it (false, or
         * an exception, ends the sign-in with status 502). Called on a library thread while
         * aadtoken's loopback listener already waits for the browser's redirect, so it may block
         * (e.g. until a browser it drives completes the redirect). {@code null} restores the
         * system browser.
         *
         * @param opener opens the URL for the person
         * @return this builder
         */
        public Builder openUrl(Predicate<String> opener) {
            this.opener = opener;
            return this;
        }

        /**
         * Checks the settings and makes the client; throws {@link AadTokenException} naming
         * an unknown, invalid or missing setting.
         *
         * @return the client
         */
        public AadTokenClient build() {
            SignInCallbacks callbacks = new SignInCallbacks(prompt, opener);
            long handle = Native.clientNew(steps.toArray(new String[0]), callbacks.promptOrNull(),
                    callbacks.openerOrNull());
            return new AadTokenClient(handle);
        }
    }
}
