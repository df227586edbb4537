package aadtoken;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Run by {@link JarAloneIT} in a new JVM whose classpath is the packaged jar (and the test
 * classes, which hold no library): no {@code java.library.path}, no {@code AADTOKEN_LIB}. Uses
 * {@link AadTokenClient#fromEnvironment()} (AZURE_* and AADTOKEN_SETTINGS from the parent), an
 * error thrown across JNI, a silent token from the parent's {@code cache_file}
 * (AADTOKEN_TEST_CACHE), and both sign-in callbacks (upcalls from library threads), printing one
 * line for each; under {@code -Xcheck:jni}.
 */
public final class JarAloneMain {
    private JarAloneMain() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 1 && args[0].equals("where")) { // which library, and that it works
            System.out.println("loaded-from: " + Native.LOADED_FROM + " version " + AadTokenClient.libraryVersion());
            return;
        }
        Mock mock = Mock.connect(System.getenv("AZURE_AUTHORITY_HOST"), Path.of(System.getenv("AADTOKEN_TEST_CA")));
        System.out.println("loaded-from: " + Native.LOADED_FROM);
        try (AadTokenClient client = AadTokenClient.fromEnvironment()) {
            String claims = client.getToken().claimsJson();
            System.out.println("environment: appid " + claims.contains("\"appid\":\"" + Mock.CLIENT + "\""));
        }
        Map<String, String> wrong = mock.settings();
        wrong.put("client_secret", "not-the-secret");
        try (AadTokenClient client = AadTokenClient.fromSettings(wrong)) {
            client.getToken();
            System.out.println("error: none");
        } catch (AadTokenException e) {
            System.out.println("error: " + e.status());
        }
        Map<String, String> cached = SignIn.settings(mock, "device_code");
        cached.put("cache_file", System.getenv("AADTOKEN_TEST_CACHE"));
        try (AadTokenClient client = AadTokenClient.fromSettings(cached)) { // no prompt
            String claims = client.getToken(Mock.OTHER_SCOPE).claimsJson();
            System.out.println("cache_file: upn " + claims.contains("\"upn\":\"" + Mock.USER + "\""));
        }
        List<DeviceCodePrompt> prompts = new ArrayList<>();
        try (AadTokenClient client = SignIn.deviceCodeClient(mock, prompts)) {
            String claims = client.signIn().claimsJson();
            System.out.println("device_code: prompts " + prompts.size() + " upn " + claims.contains(Mock.USER));
        }
        List<String> urls = new ArrayList<>();
        try (AadTokenClient client = SignIn.browserClient(mock, urls)) {
            String claims = client.signIn().claimsJson();
            System.out.println("interactive: opened " + urls.size() + " upn " + claims.contains(Mock.USER));
        }
    }
}
