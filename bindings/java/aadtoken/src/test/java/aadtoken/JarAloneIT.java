package aadtoken;

import static aadtoken.Checks.check;
import static aadtoken.Checks.checkEq;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * After {@code package}: the jar alone gets a token in a new JVM (no {@code java.library.path},
 * no {@code AADTOKEN_LIB}, no {@code aadtoken.library}), under {@code -Xcheck:jni}, and a second
 * process reuses this one's {@code cache_file}.
 */
class JarAloneIT {
    private final Mock mock = Mock.get();

    @Test
    void theJarAloneGetsATokenAndSignsIn() throws Exception {
        // This JVM (the packaged jar on its classpath) signs a person in and keeps the account in
        // cache_file; the child then gets a token for another scope from the file, silently.
        Path cache = SignIn.privateDir().resolve("cache.json");
        Map<String, String> settings = SignIn.settings(mock, "device_code");
        settings.put("cache_file", cache.toString());
        List<DeviceCodePrompt> prompts = new ArrayList<>();
        try (AadTokenClient client = AadTokenClient.builder()
                .set(settings)
                .deviceCodePrompt(SignIn.approving(mock, prompts))
                .build()) {
            SignInTest.checkUserToken(client.signIn());
        }
        checkEq(prompts.size(), 1, "signed in once");
        check(Files.size(cache) > 0, "cache_file written");

        ProcessBuilder pb = child(false);
        Map<String, String> env = pb.environment();
        env.put("AZURE_TENANT_ID", Mock.TENANT);
        env.put("AZURE_CLIENT_ID", Mock.CLIENT);
        env.put("AZURE_CLIENT_SECRET", Mock.SECRET);
        env.put("AZURE_AUTHORITY_HOST", mock.authority);
        env.put("AADTOKEN_SETTINGS", "scope=" + Mock.SCOPE + "; ca_file=" + mock.caFile);
        env.put("AADTOKEN_TEST_CA", mock.caFile.toString());
        env.put("AADTOKEN_TEST_CACHE", cache.toString());
        String[] result = run(pb);
        String stdout = result[0];
        String stderr = result[1];
        String all = stdout + "\n--- stderr\n" + stderr;
        check(stdout.contains("loaded-from: " + System.getProperty("java.io.tmpdir")), "extracted: " + all);
        check(stdout.contains("/aadtoken-"), "to a private directory: " + all);
        check(stdout.contains("environment: appid true"), all);
        check(stdout.contains("error: " + Status.ERR_INVALID_CLIENT), all);
        check(stdout.contains("cache_file: upn true"), all);
        check(stdout.contains("device_code: prompts 1 upn true"), all);
        check(stdout.contains("interactive: opened 1 upn true"), all);
        // -Xcheck:jni reports JNI misuse as warnings; the library itself never prints.
        check(!stdout.contains("WARNING") && stderr.isBlank(), "no JNI warnings, nothing on stderr: " + all);
    }

    /** The overrides win over the jar's copy: aadtoken.library, then AADTOKEN_LIB, then a
     *  libaadtoken.so in java.library.path. */
    @Test
    void theOverridesWinOverTheBundledLibrary() throws Exception {
        Path dir = Path.of(System.getProperty("aadtoken.nativeDir"));
        String lib = dir.resolve("libaadtoken.so").toString();

        ProcessBuilder pb = child(true, "-Daadtoken.library=" + lib);
        pb.environment().put("AADTOKEN_LIB", "/nonexistent/libaadtoken.so");
        check(run(pb)[0].startsWith("loaded-from: " + lib + " version "), "aadtoken.library first");

        pb = child(true);
        pb.environment().put("AADTOKEN_LIB", lib);
        check(run(pb)[0].startsWith("loaded-from: " + lib + " version "), "then AADTOKEN_LIB");

        pb = child(true, "-Djava.library.path=" + dir);
        check(run(pb)[0].startsWith("loaded-from: java.library.path version "), "then java.library.path");
    }

    /** {@code java -Xcheck:jni [jvmArgs] -cp <the packaged jar>:<test classes> JarAloneMain
     *  [where]}, without the library variables of this environment. */
    private static ProcessBuilder child(boolean where, String... jvmArgs) {
        String jar = System.getProperty("aadtoken.jar");
        check(Files.isRegularFile(Path.of(jar)), "the packaged jar " + jar);
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xcheck:jni");
        cmd.addAll(List.of(jvmArgs));
        cmd.addAll(List.of("-cp", jar + File.pathSeparator + System.getProperty("aadtoken.testClasses"),
                "aadtoken.JarAloneMain"));
        if (where) {
            cmd.add("where");
        }
        ProcessBuilder pb = new ProcessBuilder(cmd);
        for (String name : new String[] {"AADTOKEN_LIB", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "LD_LIBRARY_PATH"}) {
            pb.environment().remove(name);
        }
        return pb;
    }

    /** Runs a child to its end; {stdout, stderr}; fails on a non-zero exit. */
    private static String[] run(ProcessBuilder pb) throws Exception {
        Path out = Files.createTempFile("aadtoken-jar-alone-", ".out");
        Path err = Files.createTempFile("aadtoken-jar-alone-", ".err");
        try {
            Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            check(p.waitFor(120, TimeUnit.SECONDS), "the child JVM finished");
            String[] result = {Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8)};
            checkEq(p.exitValue(), 0, "exit status: " + result[0] + "\n--- stderr\n" + result[1]);
            return result;
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }
}
