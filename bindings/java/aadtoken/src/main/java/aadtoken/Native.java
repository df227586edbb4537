package aadtoken;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Locale;

/**
 * The native methods (implemented in libaadtoken's {@code src/jni}). Loads the library once, from
 * the first of:
 * <ol>
 * <li>the path in the system property {@code aadtoken.library};
 * <li>the path in the environment variable {@code AADTOKEN_LIB};
 * <li>{@code System.loadLibrary("aadtoken")}, when {@code java.library.path} holds
 *     {@code libaadtoken.so};
 * <li>the copy inside this jar, {@code aadtoken/native/<os>-<arch>/libaadtoken.so}: written to a
 *     new private directory (mode 0700, a unique random name under {@code java.io.tmpdir}),
 *     loaded from there, and deleted at once (the loaded library stays mapped; where the
 *     platform cannot delete a loaded library, at exit).
 * </ol>
 *
 * <p>Method names carry no underscores, so each maps to {@code Java_aadtoken_Native_<name>};
 * {@code scripts/check-symbols.sh} checks that the library exports exactly these.
 */
final class Native {
    private Native() {}

    /** Where the library was loaded from: a path, or {@code "java.library.path"}. */
    static final String LOADED_FROM = load();

    private static String load() {
        String path = System.getProperty("aadtoken.library");
        if (path == null || path.isEmpty()) {
            path = System.getenv("AADTOKEN_LIB");
        }
        if (path != null && !path.isEmpty()) {
            System.load(path);
            return path;
        }
        String resource = "native/" + platform() + "/" + System.mapLibraryName("aadtoken");
        if (onLibraryPath() || Native.class.getResource(resource) == null) {
            System.loadLibrary("aadtoken"); // throws UnsatisfiedLinkError naming java.library.path
            return "java.library.path";
        }
        return loadBundled(resource);
    }

    /** Whether a directory of {@code java.library.path} holds the library. */
    private static boolean onLibraryPath() {
        String dirs = System.getProperty("java.library.path", "");
        String name = System.mapLibraryName("aadtoken");
        for (String dir : dirs.split(java.util.regex.Pattern.quote(java.io.File.pathSeparator))) {
            if (!dir.isEmpty() && Files.isRegularFile(Path.of(dir, name))) {
                return true;
            }
        }
        return false;
    }

    /** {@code <os>-<arch>} as the jar names its library directories, e.g. {@code linux-x86_64}. */
    static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        if (os.startsWith("linux")) {
            os = "linux";
        } else if (os.startsWith("mac") || os.startsWith("darwin")) {
            os = "macos";
        } else if (os.startsWith("windows")) {
            os = "windows";
        }
        if (arch.equals("amd64") || arch.equals("x86_64")) {
            arch = "x86_64";
        } else if (arch.equals("arm64") || arch.equals("aarch64")) {
            arch = "aarch64";
        }
        return os + "-" + arch;
    }

    private static String loadBundled(String resource) {
        try {
            boolean posix = FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
            Path dir = posix
                    ? Files.createTempDirectory("aadtoken-",
                            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")))
                    : Files.createTempDirectory("aadtoken-");
            Path lib = dir.resolve(System.mapLibraryName("aadtoken"));
            try (InputStream in = Native.class.getResourceAsStream(resource)) {
                if (in == null) {
                    throw new IOException("the jar has no " + resource);
                }
                Files.copy(in, lib, StandardCopyOption.REPLACE_EXISTING);
            }
            System.load(lib.toString());
            // Once loaded, the file is no longer needed on POSIX systems; elsewhere at exit.
            try {
                Files.delete(lib);
                Files.delete(dir);
            } catch (IOException e) {
                dir.toFile().deleteOnExit(); // runs after the file's (last registered, first run)
                lib.toFile().deleteOnExit();
            }
            return lib.toString();
        } catch (IOException e) {
            throw new UncheckedIOException("aadtoken: cannot extract its native library " + resource
                    + " to java.io.tmpdir (set aadtoken.library or AADTOKEN_LIB to a libaadtoken.so instead)", e);
        }
    }

    /** Applies (op, a, b) triples in order ("set", key, value / "parse", settings, null /
     *  "env", null, null), makes a client and returns its handle. {@code prompt} (its
     *  {@code deviceCode} method) and {@code opener} (its {@code openUrl} method) are the
     *  sign-in callbacks, or null; the native side keeps global references to them. */
    static native long clientNew(String[] steps, SignInCallbacks prompt, SignInCallbacks opener);

    /** A token for {@code scopes} (null = the configured scope); {@code refresh} always asks
     *  the identity provider; {@code silent} never waits for a person (as the C ABI's
     *  {@code _silent} exports). The handle must be live (the caller holds its read lock). */
    static native Token clientGetToken(long handle, String scopes, boolean refresh, boolean silent);

    /** Signs a person in now (as {@code aadtoken_client_sign_in}) and returns a token for
     *  {@code scopes} (null = the configured scope). Same handle rules as clientGetToken. */
    static native Token clientSignIn(long handle, String scopes);

    /** Signs the person out (as {@code aadtoken_client_sign_out}). Same handle rules as
     *  clientGetToken. */
    static native void clientSignOut(long handle);

    /** Frees a client; 0 does nothing. Called once per handle, under the write lock. */
    static native void clientFree(long handle);

    /** The library version, e.g. "0.1.0". */
    static native String version();

    /** Every setting key the library accepts, e.g. "tenant_id". */
    static native String[] settingNames();

    /** The static text of a status code: "NAME: meaning". */
    static native String statusText(int status);

    /** Stops the library's background work and joins its thread. */
    static native void shutdown();

    /** The claims (JWT payload) of a token as JSON text, without checking the signature. */
    static native String claimsJson(char[] token);
}
