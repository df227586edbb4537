package aadtoken;

/**
 * An aadtoken failure: the status code (the same numbers as the C ABI's {@code AADTOKEN_ERR_*},
 * e.g. 300 {@code AADTOKEN_ERR_INVALID_CLIENT}), a message a DBA can act on (never a secret),
 * and the identity provider's diagnostics: OAuth error code, AADSTS numbers, correlation id,
 * trace id, HTTP status and {@code Retry-After}.
 *
 * <p>Unchecked, so a client can be used inside a {@code Supplier} (e.g. the ojdbc adapter).
 */
public class AadTokenException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The status code. */
    private final int status;
    /** The OAuth error code, or "". */
    private final String oauthCode;
    /** The AADSTS numbers, the main one first. */
    private final int[] aadsts;
    /** The correlation id, or "". */
    private final String correlationId;
    /** The trace id, or "". */
    private final String traceId;
    /** The HTTP status, or 0. */
    private final int httpStatus;
    /** Seconds to wait before retrying, or 0. */
    private final int retryAfterSeconds;

    /** Made by the native code. */
    AadTokenException(int status, String message, String oauthCode, int[] aadsts, String correlationId,
            String traceId, int httpStatus, int retryAfterSeconds) {
        super(message);
        this.status = status;
        this.oauthCode = oauthCode;
        this.aadsts = aadsts;
        this.correlationId = correlationId;
        this.traceId = traceId;
        this.httpStatus = httpStatus;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    /**
     * The status code, as in {@code aadtoken.h} (100 invalid argument, 300 invalid client...);
     * compare it with the constants of {@link Status}.
     *
     * @return the status code
     */
    public int status() {
        return status;
    }

    /**
     * The status code's name, e.g. {@code "AADTOKEN_ERR_INVALID_CLIENT"}.
     *
     * @return the name
     */
    public String statusName() {
        String text = statusText(status);
        int colon = text.indexOf(':');
        return colon < 0 ? text : text.substring(0, colon);
    }

    /**
     * The static text of any status code: {@code "NAME: short meaning"}.
     *
     * @param status a status code
     * @return its name and meaning
     */
    public static String statusText(int status) {
        return Native.statusText(status);
    }

    /**
     * The OAuth {@code error} code from the identity provider (e.g. "invalid_client"), or "".
     *
     * @return the OAuth error code, or ""
     */
    public String oauthCode() {
        return oauthCode;
    }

    /**
     * The main AADSTS number (e.g. 7000215 for a wrong client secret), or 0 when there is none.
     *
     * @return the AADSTS number, or 0
     */
    public int aadsts() {
        return aadsts.length == 0 ? 0 : aadsts[0];
    }

    /**
     * Every AADSTS number the identity provider sent, the main one first.
     *
     * @return the AADSTS numbers (a copy; empty when there are none)
     */
    public int[] aadstsCodes() {
        return aadsts.clone();
    }

    /**
     * The correlation id of the failed request, or "". Quote it when asking Microsoft support.
     *
     * @return the correlation id, or ""
     */
    public String correlationId() {
        return correlationId;
    }

    /**
     * The identity provider's trace id, or "".
     *
     * @return the trace id, or ""
     */
    public String traceId() {
        return traceId;
    }

    /**
     * The HTTP status of the identity provider's answer, or 0 when there was none.
     *
     * @return the HTTP status, or 0
     */
    public int httpStatus() {
        return httpStatus;
    }

    /**
     * Seconds the identity provider asked to wait before retrying, or 0.
     *
     * @return the seconds, or 0
     */
    public int retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
