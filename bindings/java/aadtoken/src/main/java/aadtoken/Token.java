package aadtoken;

import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;

/**
 * An access token: the bearer token (a JWT) as a {@code char[]} that can be wiped, its expiry,
 * and when aadtoken plans to renew it. An immutable snapshot: a later refresh never changes a
 * token already handed out (only {@link #wipe()} does, and only this object).
 *
 * <p>The token is a credential: do not log it. {@link #toString()} never shows it.
 * {@code close()} wipes it, so {@code try (Token t = client.getToken()) { ... }} leaves no copy
 * behind in this object.
 */
public final class Token implements AutoCloseable {
    private final char[] chars;
    private final Instant expiresOn;
    private final Instant refreshOn;

    /** Made by the native code. */
    Token(char[] chars, long expiresOn, long refreshOn) {
        this.chars = chars;
        this.expiresOn = Instant.ofEpochSecond(expiresOn);
        this.refreshOn = Instant.ofEpochSecond(refreshOn);
    }

    /**
     * The token itself — this object's array, not a copy: wiping it (or calling {@link #wipe()})
     * erases the token from this object. Pass it where a {@code char[]} token is accepted, e.g.
     * ojdbc's {@code AccessToken.createJsonWebToken(char[])}.
     *
     * @return the token's characters (not a copy)
     */
    public char[] chars() {
        return chars;
    }

    /**
     * A copy of the token, for a consumer that keeps the array.
     *
     * @return a copy of the token's characters
     */
    public char[] copyChars() {
        return chars.clone();
    }

    /**
     * When the token expires.
     *
     * @return the expiry
     */
    public Instant expiresOn() {
        return expiresOn;
    }

    /**
     * When aadtoken plans to renew it: Entra ID's {@code refresh_in} when sent, else the expiry.
     *
     * @return when the token is renewed
     */
    public Instant refreshOn() {
        return refreshOn;
    }

    /**
     * The token's claims (its JWT payload) as JSON text, decoded <b>without checking the
     * signature</b>: what the token says, for people and logs — e.g. whether {@code aud} is the
     * database's application ID URI. Throws {@link AadTokenException} (status 100) for a token
     * that is not a readable JWT (or has been wiped).
     *
     * @return the JWT payload as JSON text
     */
    public String claimsJson() {
        return Native.claimsJson(chars);
    }

    /**
     * True when the token expires within {@code margin} from now.
     *
     * @param margin how long from now
     * @return whether the token expires within it
     */
    public boolean expiresWithin(Duration margin) {
        return !Instant.now().plus(margin).isBefore(expiresOn);
    }

    /** Overwrites the token's characters with zeros. */
    public void wipe() {
        Arrays.fill(chars, '\0');
    }

    /** Same as {@link #wipe()}. */
    @Override
    public void close() {
        wipe();
    }

    @Override
    public String toString() {
        return "Token[" + chars.length + " chars, redacted; expiresOn=" + expiresOn + ", refreshOn=" + refreshOn + "]";
    }
}
