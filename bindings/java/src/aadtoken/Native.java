package aadtoken;

/**
 * The native methods (implemented in libaadtoken's {@code src/jni}). Loads the library once:
 * from the path in the system property {@code aadtoken.library}, else from the path in the
 * environment variable {@code AADTOKEN_LIB}, else {@code System.loadLibrary("aadtoken")}
 * (which searches {@code java.library.path} for {@code libaadtoken.so}).
 *
 * <p>Method names carry no underscores, so each maps to {@code Java_aadtoken_Native_<name>};
 * {@code scripts/check-symbols.sh} checks that the library exports exactly these.
 */
final class Native {
    private Native() {}

    static {
        String path = System.getProperty("aadtoken.library");
        if (path == null || path.isEmpty()) {
            path = System.getenv("AADTOKEN_LIB");
        }
        if (path != null && !path.isEmpty()) {
            System.load(path);
        } else {
            System.loadLibrary("aadtoken");
        }
    }

    /** Applies (op, a, b) triples in order ("set", key, value / "parse", settings, null /
     *  "env", null, null), makes a client and returns its handle. */
    static native long clientNew(String[] steps);

    /** A token for {@code scopes} (null = the configured scope); {@code refresh} always asks
     *  the identity provider. The handle must be live (the caller holds its read lock). */
    static native Token clientGetToken(long handle, String scopes, boolean refresh);

    /** Frees a client; 0 does nothing. Called once per handle, under the write lock. */
    static native void clientFree(long handle);

    /** The library version, e.g. "0.1.0". */
    static native String version();

    /** The static text of a status code: "NAME: meaning". */
    static native String statusText(int status);

    /** Stops the library's background work and joins its thread. */
    static native void shutdown();

    /** The claims (JWT payload) of a token as JSON text, without checking the signature. */
    static native String claimsJson(char[] token);
}
