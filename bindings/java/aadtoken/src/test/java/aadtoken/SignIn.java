package aadtoken;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * Person sign-in against the mock without a person: a device-code prompt that approves the code
 * through the mock's control route, and an opener that plays the browser (the mock's authorize
 * page approves at once and redirects to aadtoken's loopback listener, which this then calls).
 */
public final class SignIn {
    private SignIn() {}

    /** The mock's public client signing in with {@code method} ({@code device_code} or
     *  {@code interactive}); the mock's device codes poll every second. */
    public static Map<String, String> settings(Mock mock, String method) {
        mock.control("/_mock/devicecode", "{\"interval\":1,\"expires_in\":60}");
        Map<String, String> s = mock.settings();
        s.remove("client_secret");
        s.put("client_id", Mock.PUBLIC_CLIENT);
        s.put("auth_method", method);
        if (method.equals("interactive")) {
            s.put("interactive_timeout_s", "30");
        }
        return s;
    }

    /** A prompt that records what it is shown and approves the code as {@link Mock#USER}. */
    public static Consumer<DeviceCodePrompt> approving(Mock mock, List<DeviceCodePrompt> seen) {
        return p -> {
            seen.add(p);
            mock.control("/_mock/devicecode/approve",
                    "{\"user_code\":\"" + p.userCode() + "\",\"user\":\"" + Mock.USER + "\"}");
        };
    }

    /** An opener that records the URL and completes the browser's part of the sign-in. */
    public static Predicate<String> browser(Mock mock, List<String> seen) {
        HttpClient loopback = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build();
        return url -> {
            seen.add(url);
            HttpResponse<String> page = mock.send(HttpRequest.newBuilder(URI.create(url)).GET().build());
            Optional<String> location = page.headers().firstValue("location");
            if (page.statusCode() != 302 || location.isEmpty()) {
                return false;
            }
            try {
                HttpResponse<String> back = loopback.send(
                        HttpRequest.newBuilder(URI.create(location.get())).timeout(Duration.ofSeconds(10)).GET().build(),
                        HttpResponse.BodyHandlers.ofString());
                return back.statusCode() == 200;
            } catch (Exception e) {
                return false;
            }
        };
    }

    /** {@link #settings} for {@code device_code} keeping the account in {@code cache.json} of
     *  {@code dir} (a {@link #privateDir}: an account store and token cache of its own). */
    public static Map<String, String> deviceCodeSettings(Mock mock, Path dir) {
        Map<String, String> s = settings(mock, "device_code");
        s.put("cache_file", dir.resolve("cache.json").toString());
        return s;
    }

    /** A device-code client ({@link #settings}) whose prompt is {@link #approving}. */
    public static AadTokenClient deviceCodeClient(Mock mock, List<DeviceCodePrompt> prompts) {
        return AadTokenClient.builder()
                .set(settings(mock, "device_code"))
                .deviceCodePrompt(approving(mock, prompts))
                .build();
    }

    /** A browser sign-in client ({@link #settings}) whose opener is {@link #browser}. */
    public static AadTokenClient browserClient(Mock mock, List<String> urls) {
        return AadTokenClient.builder()
                .set(settings(mock, "interactive"))
                .openUrl(browser(mock, urls))
                .build();
    }

    /** A new private directory (0700) for a cache file {@code cache.json}; all removed at exit. */
    public static Path privateDir() throws Exception {
        Path dir = Files.createTempDirectory("aadtoken-java-cache-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        dir.toFile().deleteOnExit();
        dir.resolve("cache.json").toFile().deleteOnExit();
        dir.resolve("cache.json.lock").toFile().deleteOnExit(); // the library's lock file
        return dir;
    }
}
