/*
 * A fake Oracle Client library (built as libclntsh.so by tests/c_suites/oracle.rs), for running
 * the REAL ODPI-C (python-oracledb's sdist, embed/dpi.c) without an Oracle client or database.
 *
 * It exports the OCI functions ODPI-C looks up with dlsym on the path the tests take —
 * dpiContext_createWithParams with oracleClientLibDir (dpiOci.c: OCIClientVersion,
 * OCIThreadProcessInit, OCIAttrGet, OCIAttrSet, OCIThreadKeyGet at load; then the global
 * environment, its error handle and thread key), dpiPool_create of a token pool
 * (dpiPool.c), dpiPool_acquireConnection / dpiConn_close / dpiConn_release and
 * dpiPool_close — with the signatures of ODPI-C's dpiOciFnType__* and the constants of its
 * dpiImpl.h. Anything else ODPI-C would look up is missing, so a path the tests did not plan for
 * fails loudly (DPI-1047-style "symbol not found") rather than passing.
 *
 * Where the tests depend on it, it behaves as OCI does with token authentication:
 *  - OCIAttrSet(OCI_ATTR_TOKEN, 636) copies the token bytes at once; OCI_ATTR_TOKEN_ISBEARER
 *    (657) marks it an OAuth bearer token; OCI_ATTR_TOKEN_CBK (638) / _CBKCTX (639) register the
 *    token callback on the pool's OCIAuthInfo (OCI_ATTR_SPOOL_AUTH, 460);
 *  - OCISessionGet on a pool whose token has expired (its JWT `exp` claim is past, or the test
 *    said so with fakeoci_expire_token) calls the registered callback as
 *    `cbk(cbkctx, authinfo, 0)` — ODPI-C's dpiPool__accessTokenCallback — which sets a new token
 *    on that OCIAuthInfo; without a callback, or when it fails, the logon is refused; a session
 *    logs on only with a bearer token that looks like a JWT and has not expired;
 *  - a pool without a token logs on with external credentials only (OCI_SESSGET_CREDEXT), which
 *    this fake, having no wallet or OS authentication, refuses (ORA-01017).
 * Errors carry ORA- codes and messages through OCIErrorGet, as OCI's do.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_clntsh.h"

#define EXPORT __attribute__((visibility("default")))

/* dpiImpl.h's DPI_OCI_* values. */
enum {
    OCI_SUCCESS = 0,
    OCI_ERROR = -1,
    OCI_INVALID_HANDLE = -2,
    OCI_NO_DATA = 100,
    HTYPE_ENV = 1,
    HTYPE_ERROR = 2,
    HTYPE_SVCCTX = 3,
    HTYPE_SERVER = 8,
    HTYPE_SESSION = 9, /* = OCI_HTYPE_AUTHINFO */
    HTYPE_SPOOL = 27,
    ATTR_SERVER = 6,
    ATTR_SESSION = 7,
    ATTR_CHARSET_ID = 31,
    ATTR_NCHARSET_ID = 262,
    ATTR_SPOOL_AUTH = 460,
    ATTR_TRANSACTION_IN_PROGRESS = 484,
    ATTR_TOKEN = 636,
    ATTR_IAM_PRIVKEY = 637,
    ATTR_TOKEN_CBK = 638,
    ATTR_TOKEN_CBKCTX = 639,
    ATTR_TOKEN_ISBEARER = 657,
    NLS_CHARSET_MAXBYTESZ = 91,
    SPC_HOMOGENEOUS = 0x0002,
    SESSGET_SPOOL = 0x0001,
    SESSGET_CREDEXT = 0x0010,
    CHARSET_AL32UTF8 = 873,
};

/* OCI's token callback, as ODPI-C's dpiPool__accessTokenCallback(pool, authInfo, mode). */
typedef int (*token_callback)(void *ctx, void *authinfo, uint32_t mode);

struct handle {
    uint32_t type;
    /* OCI frees an environment's handles with it: its live children, linked. */
    struct handle *env, *prev, *next;
    /* error handle */
    int32_t code;
    char message[512];
    /* OCIAuthInfo (a session handle) */
    char *token;
    uint32_t token_len;
    int is_bearer, expired;
    token_callback cbk;
    void *cbkctx;
    /* session pool */
    struct handle *auth;
    int homogeneous;
    /* service context of a pooled session, its session and server */
    struct handle *session, *server;
    void *context_value;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct handle *last_pool;
static struct fakeoci_pool_info info;
static char *last_logon_token;

static struct handle *new_handle(uint32_t type) {
    struct handle *h = calloc(1, sizeof *h);
    if (h != NULL) h->type = type;
    return h;
}

static void set_token(struct handle *auth, const void *bytes, uint32_t len) {
    if (auth->token != NULL) memset(auth->token, 0, auth->token_len);
    free(auth->token);
    auth->token = malloc((size_t)len + 1);
    memcpy(auth->token, bytes, len); /* OCI copies the token here */
    auth->token[len] = '\0';
    auth->token_len = len;
    auth->expired = 0;
}

static int fail(void *errhp, int32_t code, const char *message) {
    struct handle *e = errhp;
    if (e != NULL && e->type == HTYPE_ERROR) {
        e->code = code;
        snprintf(e->message, sizeof e->message, "ORA-%05d: %s", code, message);
    }
    return OCI_ERROR;
}

static int is_handle(const void *h, uint32_t type) {
    return h != NULL && ((const struct handle *)h)->type == type;
}

/* ---- JWTs: shape and `exp` (OCI reads the token's expiry from it). ---- */

static int b64url_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

/* The `exp` claim of a JWT (header.payload.signature, base64url), or -1. */
static long long jwt_exp(const char *t, uint32_t len) {
    const char *p = memchr(t, '.', len), *end, *exp;
    char json[8192];
    size_t n = 0;
    unsigned bits = 0, acc = 0;
    if (p == NULL) return -1;
    end = memchr(p + 1, '.', len - (uint32_t)(p + 1 - t));
    if (end == NULL) return -1;
    for (p = p + 1; p < end && n + 1 < sizeof json; p++) {
        int v = b64url_value(*p);
        if (v < 0) return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            json[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    json[n] = '\0';
    exp = strstr(json, "\"exp\":");
    return exp != NULL ? strtoll(exp + 6, NULL, 10) : -1;
}

static int looks_like_a_jwt(const char *t, uint32_t len) {
    uint32_t i, dots = 0;
    if (len < 20 || strncmp(t, "eyJ", 3) != 0) return 0;
    for (i = 0; i < len; i++) {
        if (t[i] == '.') dots++;
        else if (b64url_value(t[i]) < 0) return 0;
    }
    return dots == 2;
}

static int token_expired(const struct handle *auth) {
    return auth->expired || jwt_exp(auth->token, auth->token_len) <= (long long)time(NULL);
}

/* ---- Library and environment ---- */

EXPORT void OCIClientVersion(int *major, int *minor, int *update, int *patch, int *port_update) {
    /* Oracle Client 19.25: token authentication with OAuth bearer tokens needs 19.15+. */
    *major = 19, *minor = 25, *update = 0, *patch = 0, *port_update = 0;
}

EXPORT void OCIThreadProcessInit(void) {}

EXPORT int OCIEnvNlsCreate(void **envp, uint32_t mode, void *ctxp, void *malocfp, void *ralocfp, void *mfreefp,
                           size_t xtramem_sz, void **usrmempp, uint16_t charset, uint16_t ncharset) {
    (void)mode, (void)ctxp, (void)malocfp, (void)ralocfp, (void)mfreefp, (void)xtramem_sz, (void)usrmempp;
    if ((charset != 0 && charset != CHARSET_AL32UTF8) || (ncharset != 0 && ncharset != CHARSET_AL32UTF8))
        return OCI_ERROR; /* this fake speaks AL32UTF8 only */
    *envp = new_handle(HTYPE_ENV);
    return *envp != NULL ? OCI_SUCCESS : OCI_ERROR;
}

EXPORT int OCINlsNumericInfoGet(void *envhp, void *errhp, int32_t *val, uint16_t item) {
    if (!is_handle(envhp, HTYPE_ENV) || item != NLS_CHARSET_MAXBYTESZ) return fail(errhp, 24315, "illegal attribute type");
    *val = 4;
    return OCI_SUCCESS;
}

EXPORT int OCIThreadKeyInit(void *hndl, void *err, void **key, void *destFn) {
    pthread_key_t *k = malloc(sizeof *k);
    union {
        void *ptr;
        void (*fn)(void *);
    } dest;
    (void)hndl, (void)err;
    dest.ptr = destFn;
    if (k == NULL || pthread_key_create(k, dest.fn) != 0) return OCI_ERROR;
    *key = k;
    return OCI_SUCCESS;
}

EXPORT int OCIThreadKeyGet(void *hndl, void *err, void *key, void **pValue) {
    (void)hndl, (void)err;
    *pValue = pthread_getspecific(*(pthread_key_t *)key);
    return OCI_SUCCESS;
}

EXPORT int OCIThreadKeySet(void *hndl, void *err, void *key, void *value) {
    (void)hndl, (void)err;
    return pthread_setspecific(*(pthread_key_t *)key, value) == 0 ? OCI_SUCCESS : OCI_ERROR;
}

EXPORT int OCIThreadKeyDestroy(void *hndl, void *err, void **key) {
    (void)hndl, (void)err;
    pthread_key_delete(*(pthread_key_t *)*key);
    free(*key);
    *key = NULL;
    return OCI_SUCCESS;
}

/* ---- Handles and attributes ---- */

EXPORT int OCIHandleAlloc(const void *parenth, void **hndlpp, const uint32_t type, const size_t xtramem_sz,
                          void **usrmempp) {
    (void)xtramem_sz, (void)usrmempp;
    if (!is_handle(parenth, HTYPE_ENV)) return OCI_INVALID_HANDLE;
    switch (type) {
    case HTYPE_ERROR:
    case HTYPE_SESSION:
    case HTYPE_SPOOL: {
        struct handle *env = (struct handle *)parenth, *h = new_handle(type);
        if (h == NULL) return OCI_ERROR;
        pthread_mutex_lock(&lock);
        h->env = env;
        h->next = env->next;
        if (env->next != NULL) env->next->prev = h;
        env->next = h;
        pthread_mutex_unlock(&lock);
        *hndlpp = h;
        return OCI_SUCCESS;
    }
    default:
        return OCI_ERROR;
    }
}

static void free_handle(struct handle *h) {
    if (h->token != NULL) memset(h->token, 0, h->token_len);
    free(h->token);
    free(h);
}

/* Free a handle allocated under an environment (the lock held). */
static void free_child(struct handle *h) {
    if (h->prev != NULL) h->prev->next = h->next;
    else if (h->env != NULL) h->env->next = h->next;
    if (h->next != NULL) h->next->prev = h->prev;
    if (h == last_pool) last_pool = NULL;
    free_handle(h);
}

EXPORT int OCIHandleFree(void *hndlp, const uint32_t type) {
    struct handle *h = hndlp;
    if (!is_handle(h, type)) return OCI_INVALID_HANDLE;
    pthread_mutex_lock(&lock);
    if (type == HTYPE_ENV) {
        while (h->next != NULL) free_child(h->next); /* as OCI: the environment's handles too */
        free_handle(h);
    } else {
        free_child(h);
    }
    pthread_mutex_unlock(&lock);
    return OCI_SUCCESS;
}

EXPORT int OCIAttrSet(void *trgthndlp, uint32_t trghndltyp, void *attributep, uint32_t size, uint32_t attrtype,
                      void *errhp) {
    struct handle *h = trgthndlp;
    union {
        void *ptr;
        token_callback fn;
    } cbk;
    if (!is_handle(h, trghndltyp)) return OCI_INVALID_HANDLE;
    pthread_mutex_lock(&lock);
    if (trghndltyp == HTYPE_SESSION) {
        switch (attrtype) {
        case ATTR_TOKEN:
            set_token(h, attributep, size);
            break;
        case ATTR_TOKEN_ISBEARER:
            h->is_bearer = *(int *)attributep != 0;
            break;
        case ATTR_TOKEN_CBK:
            cbk.ptr = attributep;
            h->cbk = cbk.fn;
            break;
        case ATTR_TOKEN_CBKCTX:
            h->cbkctx = attributep;
            break;
        case ATTR_IAM_PRIVKEY: /* OCI IAM tokens, never Entra ID's: the tests must not see it */
            pthread_mutex_unlock(&lock);
            return fail(errhp, 24315, "illegal attribute type (this fake has no OCI IAM)");
        default: /* driver name, edition...: accepted, no effect here */
            break;
        }
    } else if (trghndltyp == HTYPE_SPOOL && attrtype == ATTR_SPOOL_AUTH) {
        if (!is_handle(attributep, HTYPE_SESSION)) {
            pthread_mutex_unlock(&lock);
            return OCI_INVALID_HANDLE;
        }
        h->auth = attributep;
    }
    /* Other pool, service context and environment attributes (get mode, timeouts, statement
     * cache size...) are accepted and have no effect here. */
    pthread_mutex_unlock(&lock);
    return OCI_SUCCESS;
}

EXPORT int OCIAttrGet(const void *trgthndlp, uint32_t trghndltyp, void *attributep, uint32_t *sizep,
                      uint32_t attrtype, void *errhp) {
    const struct handle *h = trgthndlp;
    if (!is_handle(h, trghndltyp)) return OCI_INVALID_HANDLE;
    if (sizep != NULL) *sizep = 0;
    if ((trghndltyp == HTYPE_ENV || trghndltyp == HTYPE_SERVER) &&
        (attrtype == ATTR_CHARSET_ID || attrtype == ATTR_NCHARSET_ID)) {
        *(uint16_t *)attributep = CHARSET_AL32UTF8;
    } else if (trghndltyp == HTYPE_SVCCTX && attrtype == ATTR_SESSION) {
        *(void **)attributep = h->session;
    } else if (trghndltyp == HTYPE_SVCCTX && attrtype == ATTR_SERVER) {
        *(void **)attributep = h->server;
    } else if (trghndltyp == HTYPE_SESSION && attrtype == ATTR_TRANSACTION_IN_PROGRESS) {
        *(int *)attributep = 0;
    } else {
        return fail(errhp, 24315, "illegal attribute type");
    }
    return OCI_SUCCESS;
}

EXPORT int OCIErrorGet(void *hndlp, uint32_t recordno, char *sqlstate, int32_t *errcodep, char *bufp, uint32_t bufsiz,
                       uint32_t type) {
    struct handle *e = hndlp;
    (void)sqlstate;
    if (type != HTYPE_ERROR || !is_handle(e, HTYPE_ERROR)) return OCI_INVALID_HANDLE;
    if (recordno != 1 || e->code == 0) return OCI_NO_DATA;
    if (errcodep != NULL) *errcodep = e->code;
    if (bufp != NULL && bufsiz > 0) snprintf(bufp, bufsiz, "%s", e->message);
    return OCI_SUCCESS;
}

/* ---- Session pools ---- */

EXPORT int OCISessionPoolCreate(void *envhp, void *errhp, void *spoolhp, char **poolName, uint32_t *poolNameLen,
                                const char *connStr, uint32_t connStrLen, uint32_t sessMin, uint32_t sessMax,
                                uint32_t sessIncr, const char *userid, uint32_t useridLen, const char *password,
                                uint32_t passwordLen, uint32_t mode) {
    static char name[] = "fake-oci-pool";
    struct handle *pool = spoolhp;
    (void)connStr, (void)connStrLen, (void)sessMin, (void)sessMax, (void)sessIncr, (void)userid, (void)password;
    if (!is_handle(envhp, HTYPE_ENV) || !is_handle(pool, HTYPE_SPOOL)) return OCI_INVALID_HANDLE;
    pthread_mutex_lock(&lock);
    if (pool->auth != NULL && pool->auth->token != NULL && (useridLen > 0 || passwordLen > 0 || !(mode & SPC_HOMOGENEOUS))) {
        pthread_mutex_unlock(&lock);
        return fail(errhp, 24415, "token authentication needs a homogeneous pool without user name or password");
    }
    pool->homogeneous = (mode & SPC_HOMOGENEOUS) != 0;
    last_pool = pool;
    memset(&info, 0, sizeof info);
    info.pools_created = 1;
    pthread_mutex_unlock(&lock);
    *poolName = name;
    *poolNameLen = (uint32_t)strlen(name);
    return OCI_SUCCESS;
}

EXPORT int OCISessionPoolDestroy(void *spoolhp, void *errhp, uint32_t mode) {
    (void)errhp, (void)mode;
    return is_handle(spoolhp, HTYPE_SPOOL) ? OCI_SUCCESS : OCI_INVALID_HANDLE;
}

/* A session from the (only) pool: the token callback first when the pool's token has expired. */
EXPORT int OCISessionGet(void *envhp, void *errhp, void **svchp, void *authhp, const char *poolName,
                         uint32_t poolName_len, const char *tagInfo, uint32_t tagInfo_len, const char **retTagInfo,
                         uint32_t *retTagInfo_len, int *found, uint32_t mode) {
    struct handle *pool, *auth, *svc;
    token_callback cbk = NULL;
    void *cbkctx = NULL;
    int rc;
    (void)authhp, (void)poolName, (void)poolName_len, (void)tagInfo, (void)tagInfo_len;
    if (!is_handle(envhp, HTYPE_ENV)) return OCI_INVALID_HANDLE;
    if (retTagInfo != NULL) *retTagInfo = NULL;
    if (retTagInfo_len != NULL) *retTagInfo_len = 0;
    if (found != NULL) *found = 0;
    pthread_mutex_lock(&lock);
    pool = last_pool;
    info.last_get_mode = mode;
    if (pool == NULL || !(mode & SESSGET_SPOOL) || pool->auth == NULL) {
        pthread_mutex_unlock(&lock);
        return fail(errhp, 24418, "cannot open further sessions (no session pool)");
    }
    auth = pool->auth;
    if (auth->token == NULL) {
        pthread_mutex_unlock(&lock);
        /* External credentials (wallet, OS user): none in this fake. */
        return fail(errhp, 1017, "invalid credential or not authorized; logon denied");
    }
    if (token_expired(auth)) {
        cbk = auth->cbk;
        cbkctx = auth->cbkctx;
        if (cbk == NULL) {
            pthread_mutex_unlock(&lock);
            return fail(errhp, 25708, "token is expired");
        }
        info.callback_calls++;
    }
    pthread_mutex_unlock(&lock);
    if (cbk != NULL) {
        /* As OCI: the pool's callback sets a new token on the pool's OCIAuthInfo. */
        rc = cbk(cbkctx, auth, 0);
        pthread_mutex_lock(&lock);
        if (rc != OCI_SUCCESS) info.callback_failures++;
        pthread_mutex_unlock(&lock);
        if (rc != OCI_SUCCESS) return fail(errhp, 1017, "invalid credential or not authorized; logon denied (the token callback failed)");
    }
    pthread_mutex_lock(&lock);
    if (!auth->is_bearer || !looks_like_a_jwt(auth->token, auth->token_len) || token_expired(auth)) {
        pthread_mutex_unlock(&lock);
        return fail(errhp, 1017, "invalid credential or not authorized; logon denied");
    }
    free(last_logon_token);
    last_logon_token = strdup(auth->token);
    info.sessions++;
    pthread_mutex_unlock(&lock);
    svc = new_handle(HTYPE_SVCCTX);
    svc->session = new_handle(HTYPE_SESSION);
    svc->server = new_handle(HTYPE_SERVER);
    *svchp = svc;
    return OCI_SUCCESS;
}

EXPORT int OCISessionRelease(void *svchp, void *errhp, const char *tag, uint32_t tag_len, uint32_t mode) {
    struct handle *svc = svchp;
    (void)errhp, (void)tag, (void)tag_len, (void)mode;
    if (!is_handle(svc, HTYPE_SVCCTX)) return OCI_INVALID_HANDLE;
    free(svc->session->context_value);
    free_handle(svc->session);
    free_handle(svc->server);
    free_handle(svc);
    return OCI_SUCCESS;
}

/* ODPI-C keeps one value per pooled session (the last time it was used). */
EXPORT int OCIContextGetValue(void *hdl, void *err, const char *key, uint8_t keylen, void **ctx_value) {
    struct handle *s = hdl;
    (void)err, (void)key, (void)keylen;
    if (!is_handle(s, HTYPE_SESSION)) return OCI_INVALID_HANDLE;
    *ctx_value = s->context_value;
    return OCI_SUCCESS;
}

EXPORT int OCIContextSetValue(void *hdl, void *err, uint16_t duration, const char *key, uint8_t keylen,
                              void *ctx_value) {
    struct handle *s = hdl;
    (void)err, (void)duration, (void)key, (void)keylen;
    if (!is_handle(s, HTYPE_SESSION)) return OCI_INVALID_HANDLE;
    if (s->context_value != ctx_value) free(s->context_value);
    s->context_value = ctx_value;
    return OCI_SUCCESS;
}

EXPORT int OCIMemoryAlloc(void *hdl, void *err, void **mem, uint16_t dur, uint32_t size, uint32_t flags) {
    (void)hdl, (void)err, (void)dur, (void)flags;
    *mem = calloc(1, size);
    return *mem != NULL ? OCI_SUCCESS : OCI_ERROR;
}

EXPORT int OCIMemoryFree(void *hdl, void *err, void *mem) {
    (void)hdl, (void)err, (void)mem;
    /* Memory handed to OCIContextSetValue belongs to the session (freed with it). */
    return OCI_SUCCESS;
}

/* ---- Test hooks (fake_clntsh.h) ---- */

EXPORT void fakeoci_pool_info(struct fakeoci_pool_info *out) {
    pthread_mutex_lock(&lock);
    *out = info;
    if (last_pool != NULL && last_pool->auth != NULL) {
        const struct handle *a = last_pool->auth;
        out->homogeneous = last_pool->homogeneous;
        out->has_token = a->token != NULL;
        out->is_bearer = a->is_bearer;
        out->callback_registered = a->cbk != NULL;
        out->callback_context_set = a->cbkctx != NULL;
    }
    pthread_mutex_unlock(&lock);
}

EXPORT char *fakeoci_pool_token(void) {
    char *copy = NULL;
    pthread_mutex_lock(&lock);
    if (last_pool != NULL && last_pool->auth != NULL && last_pool->auth->token != NULL)
        copy = strdup(last_pool->auth->token);
    pthread_mutex_unlock(&lock);
    return copy;
}

EXPORT char *fakeoci_last_logon_token(void) {
    char *copy;
    pthread_mutex_lock(&lock);
    copy = last_logon_token != NULL ? strdup(last_logon_token) : NULL;
    pthread_mutex_unlock(&lock);
    return copy;
}

EXPORT void fakeoci_expire_token(void) {
    pthread_mutex_lock(&lock);
    if (last_pool != NULL && last_pool->auth != NULL) last_pool->auth->expired = 1;
    pthread_mutex_unlock(&lock);
}
