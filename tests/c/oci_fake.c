/*
 * A fake of the few OCI functions examples-c/oci_token_pool.c uses (declared in
 * examples-c/oci_stub.h), so that the example runs in the tests without an Oracle client.
 *
 * It behaves like OCI where the example depends on it: OCIAttrSet copies OCI_ATTR_TOKEN's
 * bytes at once (so a borrowed token only has to live through the call); a homogeneous pool
 * without user name or password takes its OCIAuthInfo from OCI_ATTR_SPOOL_AUTH; OCISessionGet
 * (OCI_SESSGET_SPOOL, without OCI_SESSGET_CREDEXT, as ODPI-C calls it for token pools) calls
 * the token callback (OCI_ATTR_TOKEN_CBK with OCI_ATTR_TOKEN_CBKCTX) when the pool has no token
 * or its token has "expired" — here: always when AADTOKEN_FAKE_OCI_EXPIRE is set — and then
 * "logs on" only with a bearer token that looks like a JWT. It prints one line per session.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci_stub.h"

typedef sword (*token_cbk)(void *ctx, void *authinfo, ub4 mode);

struct OCIEnv {
    int type;
};
struct OCIError {
    int type;
    char message[256];
};
struct OCISvcCtx {
    int type;
};
struct OCIAuthInfo {
    int type;
    char *token;
    ub4 token_len;
    int is_bearer;
    void *cbk;
    void *cbkctx;
};
struct OCISPool {
    int type;
    OCIAuthInfo *auth;
    int sessions;
    int callbacks;
};

/* The pool the example created (the fake keeps the last one). */
static OCISPool *last_pool;

static void set_error(OCIError *errhp, const char *msg) {
    if (errhp != NULL) snprintf(errhp->message, sizeof errhp->message, "%s", msg);
}

sword OCIEnvCreate(OCIEnv **envp, ub4 mode, void *ctxp, void *(*malocfp)(void *ctxp, size_t size),
                   void *(*ralocfp)(void *ctxp, void *memptr, size_t newsize),
                   void (*mfreefp)(void *ctxp, void *memptr), size_t xtramem_sz, void **usrmempp) {
    (void)mode, (void)ctxp, (void)malocfp, (void)ralocfp, (void)mfreefp, (void)xtramem_sz, (void)usrmempp;
    *envp = calloc(1, sizeof **envp);
    (*envp)->type = OCI_HTYPE_ENV;
    return OCI_SUCCESS;
}

sword OCIHandleAlloc(const void *parenth, void **hndlpp, const ub4 type, const size_t xtramem_sz, void **usrmempp) {
    (void)xtramem_sz, (void)usrmempp;
    if (parenth == NULL) return OCI_ERROR;
    switch (type) {
    case OCI_HTYPE_ERROR:
        *hndlpp = calloc(1, sizeof(OCIError));
        break;
    case OCI_HTYPE_AUTHINFO:
        *hndlpp = calloc(1, sizeof(OCIAuthInfo));
        break;
    case OCI_HTYPE_SPOOL:
        *hndlpp = calloc(1, sizeof(OCISPool));
        break;
    default:
        return OCI_ERROR;
    }
    *(int *)*hndlpp = (int)type;
    return OCI_SUCCESS;
}

sword OCIHandleFree(void *hndlp, const ub4 type) {
    if (hndlp == NULL || *(int *)hndlp != (int)type) return OCI_ERROR;
    if (type == OCI_HTYPE_AUTHINFO) {
        OCIAuthInfo *a = hndlp;
        if (a->token != NULL) memset(a->token, 0, a->token_len);
        free(a->token);
    }
    free(hndlp);
    return OCI_SUCCESS;
}

sword OCIAttrSet(void *trgthndlp, ub4 trghndltyp, void *attributep, ub4 size, ub4 attrtype, OCIError *errhp) {
    if (trgthndlp == NULL || *(int *)trgthndlp != (int)trghndltyp) {
        set_error(errhp, "OCI-21301: not a handle of that type");
        return OCI_ERROR;
    }
    if (trghndltyp == OCI_HTYPE_SPOOL && attrtype == OCI_ATTR_SPOOL_AUTH) {
        ((OCISPool *)trgthndlp)->auth = attributep;
        return OCI_SUCCESS;
    }
    if (trghndltyp == OCI_HTYPE_AUTHINFO) {
        OCIAuthInfo *a = trgthndlp;
        switch (attrtype) {
        case OCI_ATTR_TOKEN:
            if (a->token != NULL) memset(a->token, 0, a->token_len);
            free(a->token);
            a->token = malloc(size + 1);
            memcpy(a->token, attributep, size); /* OCI copies the token here */
            a->token[size] = '\0';
            a->token_len = size;
            return OCI_SUCCESS;
        case OCI_ATTR_TOKEN_ISBEARER:
            a->is_bearer = *(boolean *)attributep;
            return OCI_SUCCESS;
        case OCI_ATTR_TOKEN_CBK:
            a->cbk = attributep;
            return OCI_SUCCESS;
        case OCI_ATTR_TOKEN_CBKCTX:
            a->cbkctx = attributep;
            return OCI_SUCCESS;
        default:
            break;
        }
    }
    set_error(errhp, "ORA-24315: illegal attribute type");
    return OCI_ERROR;
}

sword OCIErrorGet(void *hndlp, ub4 recordno, OraText *sqlstate, sb4 *errcodep, OraText *bufp, ub4 bufsiz,
                  ub4 type) {
    OCIError *e = hndlp;
    (void)recordno, (void)sqlstate;
    if (e == NULL || type != OCI_HTYPE_ERROR || bufsiz == 0) return OCI_ERROR;
    snprintf((char *)bufp, bufsiz, "%s", e->message);
    if (errcodep != NULL) *errcodep = 1017;
    return OCI_SUCCESS;
}

sword OCISessionPoolCreate(OCIEnv *envhp, OCIError *errhp, OCISPool *spoolhp, OraText **poolName,
                           ub4 *poolNameLen, const OraText *connStr, ub4 connStrLen, ub4 sessMin, ub4 sessMax,
                           ub4 sessIncr, OraText *userid, ub4 useridLen, OraText *password, ub4 passwordLen,
                           ub4 mode) {
    static OraText name[] = "fake-pool";
    (void)envhp, (void)connStr, (void)connStrLen, (void)sessMin, (void)sessMax, (void)sessIncr;
    if (userid != NULL || useridLen != 0 || password != NULL || passwordLen != 0 ||
        !(mode & OCI_SPC_HOMOGENEOUS) || spoolhp->auth == NULL) {
        set_error(errhp, "ORA-24415: token authentication needs a homogeneous pool without credentials");
        return OCI_ERROR;
    }
    last_pool = spoolhp;
    *poolName = name;
    *poolNameLen = (ub4)strlen((const char *)name);
    return OCI_SUCCESS;
}

static int looks_like_a_jwt(const char *t, ub4 len) {
    ub4 i, dots = 0;
    if (len < 20 || strncmp(t, "eyJ", 3) != 0) return 0;
    for (i = 0; i < len; i++) {
        if (t[i] == '.') dots++;
        else if (!((t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') ||
                   t[i] == '-' || t[i] == '_'))
            return 0;
    }
    return dots == 2 && strlen(t) == len;
}

sword OCISessionGet(OCIEnv *envhp, OCIError *errhp, OCISvcCtx **svchp, OCIAuthInfo *authhp, OraText *poolName,
                    ub4 poolName_len, const OraText *tagInfo, ub4 tagInfo_len, OraText **retTagInfo,
                    ub4 *retTagInfo_len, boolean *found, ub4 mode) {
    OCISPool *pool = last_pool;
    OCIAuthInfo *auth;
    (void)envhp, (void)authhp, (void)poolName, (void)poolName_len, (void)tagInfo, (void)tagInfo_len, (void)retTagInfo;
    (void)retTagInfo_len, (void)found;
    if (pool == NULL || !(mode & OCI_SESSGET_SPOOL)) {
        set_error(errhp, "ORA-24418: cannot open further sessions (use OCI_SESSGET_SPOOL)");
        return OCI_ERROR;
    }
    /* ODPI-C (dpiPool.c) turns externalAuth off for a token pool, so that its OCISessionGet
     * passes OCI_SESSGET_SPOOL alone; this fake holds the example to the same. */
    if (mode & OCI_SESSGET_CREDEXT) {
        set_error(errhp, "ORA-01017: external credentials asked for a token pool (pass OCI_SESSGET_SPOOL only)");
        return OCI_ERROR;
    }
    auth = pool->auth;
    if ((auth->token == NULL || getenv("AADTOKEN_FAKE_OCI_EXPIRE") != NULL) && auth->cbk != NULL) {
        union {
            void *ptr;
            token_cbk fn;
        } cbk;
        cbk.ptr = auth->cbk;
        pool->callbacks++;
        if (cbk.fn(auth->cbkctx, auth, 0) != OCI_SUCCESS) {
            set_error(errhp, "ORA-01017: the token callback failed");
            return OCI_ERROR;
        }
    }
    if (auth->token == NULL || !auth->is_bearer || !looks_like_a_jwt(auth->token, auth->token_len)) {
        set_error(errhp, "ORA-01017: invalid credential or not authorized; logon denied");
        return OCI_ERROR;
    }
    pool->sessions++;
    printf("fake OCI: session %d logged on with a bearer token of %u bytes (token callback calls: %d)\n",
           pool->sessions, auth->token_len, pool->callbacks);
    *svchp = calloc(1, sizeof **svchp);
    (*svchp)->type = OCI_HTYPE_SVCCTX;
    return OCI_SUCCESS;
}

sword OCISessionRelease(OCISvcCtx *svchp, OCIError *errhp, OraText *tag, ub4 tag_len, ub4 mode) {
    (void)errhp, (void)tag, (void)tag_len, (void)mode;
    free(svchp);
    return OCI_SUCCESS;
}

sword OCISessionPoolDestroy(OCISPool *spoolhp, OCIError *errhp, ub4 mode) {
    (void)errhp, (void)mode;
    if (spoolhp == last_pool) last_pool = NULL;
    return OCI_SUCCESS;
}
