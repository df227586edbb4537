package aadtoken;

import static aadtoken.Checks.check;
import static aadtoken.Checks.checkEq;
import static aadtoken.Checks.expect;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** Person sign-in from Java against the mock's sign-in routes: the callbacks run on a library
 *  thread and call back into the JVM. */
class SignInTest {
    private final Mock mock = Mock.get();

    static void checkUserToken(Token t) {
        String claims = t.claimsJson();
        check(claims.contains("\"upn\":\"" + Mock.USER + "\""), "a token of the user: " + claims);
        check(claims.contains("\"scp\":"), "delegated (scp): " + claims);
    }

    @Test
    void deviceCodeThroughTheJavaPromptThenSilent() {
        List<DeviceCodePrompt> prompts = new CopyOnWriteArrayList<>();
        try (AadTokenClient client = SignIn.deviceCodeClient(mock, prompts)) {
            // The first test to sign this account in is not known (the account is shared
            // process-wide), so start with an explicit sign-in, which always asks the person.
            checkUserToken(client.signIn());
            checkEq(prompts.size(), 1, "prompts");
            DeviceCodePrompt p = prompts.get(0);
            check(p.message().contains(p.userCode()) && p.message().contains(p.verificationUri()), p.message());
            check(p.verificationUri().startsWith("https://"), p.verificationUri());
            check(p.expiresOn().isAfter(Instant.now().plusSeconds(30)), "expiresOn " + p.expiresOn());
            // Cached, then another resource through the refresh token: no prompt.
            long before = mock.tokenRequests();
            checkUserToken(client.getToken());
            checkEq(mock.tokenRequests() - before, 0, "cached");
            checkUserToken(client.getToken(mock.newScope("java-signin")));
            checkEq(mock.tokenRequests() - before, 1, "one refresh-token request");
            checkEq(prompts.size(), 1, "silent for another scope");
            checkUserToken(client.signIn(Mock.OTHER_SCOPE));
            checkEq(prompts.size(), 2, "signIn(scopes) prompts");
            // Signed out: the account, its refresh token and the cached tokens are gone, so the
            // next getToken asks the person again; signing out twice is fine.
            client.signOut();
            checkUserToken(client.getToken());
            checkEq(prompts.size(), 3, "a prompt after signOut");
            client.signOut();
            client.signOut();
        }
    }

    /** What ojdbc's provider and token supplier use runs on ojdbc's thread while it opens a
     *  connection: it never shows a device code (although the prompt would approve at once and
     *  automatic_sign_in is on); after the host's signIn it is silent. */
    @Test
    void driverCallbacksNeverWaitForAPerson() throws Exception {
        List<DeviceCodePrompt> prompts = new CopyOnWriteArrayList<>();
        try (AadTokenClient client = AadTokenClient.builder()
                .set(SignIn.deviceCodeSettings(mock, SignIn.privateDir()))
                .deviceCodePrompt(SignIn.approving(mock, prompts))
                .build()) {
            java.util.function.Supplier<char[]> supplier = client.tokenSupplier();
            long codes = mock.deviceCodesIssued();
            Map<String, Runnable> calls = Map.of(
                    "tokenSupplier().get()", supplier::get,
                    "getTokenSilent()", client::getTokenSilent,
                    "refreshTokenSilent()", client::refreshTokenSilent);
            for (Map.Entry<String, Runnable> call : calls.entrySet()) {
                long started = System.nanoTime();
                AadTokenException e = expect(AadTokenException.class, call.getValue()::run);
                checkEq(e.status(), Status.ERR_INTERACTION_REQUIRED, call.getKey() + ": " + e.getMessage());
                check(e.getMessage().contains("aadtoken_client_sign_in"), e.getMessage());
                check(System.nanoTime() - started < 10_000_000_000L, call.getKey() + ": at once");
            }
            checkEq(prompts.size(), 0, "no device code shown");
            checkEq(mock.deviceCodesIssued(), codes, "none asked for");

            // The host signs in; then the driver's paths are silent.
            String signedIn = new String(client.signIn().chars());
            check(new String(supplier.get()).equals(signedIn), "the supplier: the cached token");
            String fresh = new String(client.refreshTokenSilent().chars());
            check(!fresh.equals(signedIn), "refreshTokenSilent asks for a new token");
            check(new String(client.getTokenSilent().chars()).equals(fresh), "and it replaced the cached one");
            checkUserToken(client.getTokenSilent(Mock.OTHER_SCOPE));
            checkEq(prompts.size(), 1, "only signIn showed a device code");
        }
    }

    @Test
    void interactiveThroughTheJavaOpener() {
        List<String> urls = new CopyOnWriteArrayList<>();
        try (AadTokenClient client = SignIn.browserClient(mock, urls)) {
            checkUserToken(client.signIn());
            checkEq(urls.size(), 1, "opened once");
            check(urls.get(0).startsWith(mock.authority + "/" + Mock.TENANT + "/oauth2/v2.0/authorize?"), urls.get(0));
            check(urls.get(0).contains("code_challenge="), "PKCE");
            checkUserToken(client.getToken(Mock.OTHER_SCOPE));
            checkEq(urls.size(), 1, "silent after sign-in");
        }
    }

    @Test
    void anOpenerThatFailsEndsTheSignIn() {
        for (boolean throwIt : new boolean[] {false, true}) {
            try (AadTokenClient client = AadTokenClient.builder()
                    .set(SignIn.settings(mock, "interactive"))
                    .openUrl(url -> {
                        if (throwIt) {
                            throw new IllegalStateException("no browser here");
                        }
                        return false;
                    })
                    .build()) {
                AadTokenException e = expect(AadTokenException.class, client::signIn);
                checkEq(e.status(), Status.ERR_CALLBACK, "status");
                check(e.getMessage().contains("openUrl"), e.getMessage());
            }
        }
    }

    @Test
    void aPromptThatThrowsIsIgnored() {
        List<DeviceCodePrompt> prompts = new CopyOnWriteArrayList<>();
        try (AadTokenClient client = AadTokenClient.builder()
                .set(SignIn.settings(mock, "device_code"))
                .deviceCodePrompt(p -> {
                    SignIn.approving(mock, prompts).accept(p);
                    throw new IllegalStateException("after approving");
                })
                .build()) {
            checkUserToken(client.signIn());
            checkEq(prompts.size(), 1, "prompts");
        }
    }

    @Test
    void withoutAPromptDeviceCodeFails510() {
        try (AadTokenClient client = AadTokenClient.fromSettings(SignIn.settings(mock, "device_code"))) {
            AadTokenException e = expect(AadTokenException.class, client::signIn);
            checkEq(e.status(), Status.ERR_CALLBACK_REQUIRED, "status");
        }
    }

    @Test
    void signInNeedsAPersonSignInMethod() {
        Map<String, String> settings = mock.settings();
        try (AadTokenClient client = AadTokenClient.fromSettings(settings)) {
            AadTokenException e = expect(AadTokenException.class, client::signIn);
            checkEq(e.status(), Status.ERR_INVALID_SETTING, "status");
            check(e.getMessage().contains("auth_method"), e.getMessage());
        }
    }
}
