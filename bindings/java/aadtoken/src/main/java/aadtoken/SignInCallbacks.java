package aadtoken;

import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * The person sign-in callbacks of one client, as the native code calls them: on a library thread
 * (attached to the JVM for the call), once per sign-in. Nothing thrown here reaches the native
 * code: a prompt that throws is ignored (the sign-in goes on until the code expires), an opener
 * that throws counts as "could not open the page" (the sign-in fails with status 502).
 */
final class SignInCallbacks {
    private final Consumer<DeviceCodePrompt> prompt;
    private final Predicate<String> opener;

    SignInCallbacks(Consumer<DeviceCodePrompt> prompt, Predicate<String> opener) {
        this.prompt = prompt;
        this.opener = opener;
    }

    /** Called by the native code: show the device code. */
    void deviceCode(String message, String userCode, String verificationUri, long expiresOn) {
        try {
            prompt.accept(new DeviceCodePrompt(message, userCode, verificationUri, expiresOn));
        } catch (RuntimeException e) {
            // Documented: a failing prompt does not stop the sign-in (see Builder.deviceCodePrompt).
        }
    }

    /** Called by the native code: open the sign-in page; true when it was opened. */
    boolean openUrl(String url) {
        try {
            return opener.test(url);
        } catch (RuntimeException e) {
            return false;
        }
    }

    SignInCallbacks promptOrNull() {
        return prompt == null ? null : this;
    }

    SignInCallbacks openerOrNull() {
        return opener == null ? null : this;
    }
}
