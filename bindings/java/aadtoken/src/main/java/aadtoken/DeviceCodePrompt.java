package aadtoken;

import java.time.Instant;

/**
 * What a person needs to complete a device-code sign-in ({@code auth_method=device_code}): go to
 * {@link #verificationUri()} on any device and enter {@link #userCode()} before
 * {@link #expiresOn()}. {@link #message()} is Entra ID's own sentence saying so. Handed to the
 * prompt given to {@link AadTokenClient.Builder#deviceCodePrompt}.
 */
public final class DeviceCodePrompt {
    private final String message;
    private final String userCode;
    private final String verificationUri;
    private final Instant expiresOn;

    DeviceCodePrompt(String message, String userCode, String verificationUri, long expiresOn) {
        this.message = message;
        this.userCode = userCode;
        this.verificationUri = verificationUri;
        this.expiresOn = Instant.ofEpochSecond(expiresOn);
    }

    /**
     * Entra ID's text for the person: where to go and which code to enter.
     *
     * @return the message
     */
    public String message() {
        return message;
    }

    /**
     * The code the person enters.
     *
     * @return the user code
     */
    public String userCode() {
        return userCode;
    }

    /**
     * Where the person enters it, e.g. {@code https://microsoft.com/devicelogin}.
     *
     * @return the verification URI
     */
    public String verificationUri() {
        return verificationUri;
    }

    /**
     * When the code expires; the sign-in fails after that.
     *
     * @return the expiry
     */
    public Instant expiresOn() {
        return expiresOn;
    }

    @Override
    public String toString() {
        return "DeviceCodePrompt[" + message + "]";
    }
}
