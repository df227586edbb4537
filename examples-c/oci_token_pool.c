/*
 * oci_token_pool: an OCI session pool whose sessions log on to Oracle Database with Microsoft
 * Entra ID access tokens from aadtoken (token authentication, OAuth bearer tokens).
 *
 *   oci_token_pool [CONNECT_STRING]
 *
 * Settings as in get_token.c: the Azure SDK environment variables, then AADTOKEN_SETTINGS
 * ("key=value;key=value"; `scope` = the database's application ID URI + "/.default").
 *
 * How it works, as ODPI-C does it (dpiPool.c) — OCI client 19.15+/21.7+, a TCPS connect string:
 *  - the pool is homogeneous (OCI_SPC_HOMOGENEOUS) with no user name or password;
 *  - its OCIAuthInfo handle (OCI_ATTR_SPOOL_AUTH) carries the first token (OCI_ATTR_TOKEN,
 *    OCI_ATTR_TOKEN_ISBEARER) and a token callback (OCI_ATTR_TOKEN_CBK / OCI_ATTR_TOKEN_CBKCTX);
 *    the first token is required: the callback is for the next ones;
 *  - sessions come from OCISessionGet(OCI_SESSGET_SPOOL) alone: not OCI_SESSGET_CREDEXT, which
 *    ODPI-C turns off for token pools (the token is the credential);
 *  - when the pool must open a session and its token has expired, OCI calls the callback,
 *    which sets a fresh token on the OCIAuthInfo OCI passes in. OCI copies the token during
 *    OCIAttrSet, so the callback can use aadtoken_client_borrow_token (nothing to free): the
 *    borrowed bytes stay valid until this thread borrows again from the client. The callback
 *    runs on OCI's thread and never waits for a person: with auth_method=device_code or
 *    interactive, sign in first (aadtoken_client_sign_in), or it fails with
 *    AADTOKEN_ERR_INTERACTION_REQUIRED.
 *
 * The attribute numbers in oci_stub.h are ODPI-C's (dpiImpl.h); tests/c_suites/oracle.rs checks
 * them against the real dpiImpl.h.
 *
 * Built in this repository against oci_stub.h (Oracle's headers are not needed to compile it,
 * and the tests link it with a fake OCI); with a real Instant Client SDK define
 * AADTOKEN_REAL_OCI and link -lclntsh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef AADTOKEN_REAL_OCI
#include <oci.h>
#else
#include "oci_stub.h"
#endif
#include <aadtoken.h>

#include "env_client.h"

/* What OCI passes to the token callback: the context set with OCI_ATTR_TOKEN_CBKCTX, the
 * OCIAuthInfo to set the token on, and a mode. */
typedef sword (*token_callback_fn)(void *ctx, void *authinfo, ub4 mode);

struct token_ctx {
    OCIEnv *envhp;
    aadtoken_client *client;
};

/* Set a bearer token from aadtoken on an OCIAuthInfo handle. */
static sword set_token(OCIEnv *envhp, void *authinfo, aadtoken_client *client) {
    const char *token = NULL;
    uint32_t len = 0;
    aadtoken_error *err = NULL;
    OCIError *errhp = NULL;
    boolean bearer = TRUE;
    sword rc;

    if (aadtoken_client_borrow_token(client, NULL, &token, &len, &err) != AADTOKEN_OK) {
        fprintf(stderr, "oci_token_pool: no token: %s\n", aadtoken_error_message(err));
        aadtoken_error_free(err);
        return OCI_ERROR;
    }
    /* One error handle per call: the callback may run on any of the pool's threads. */
    if (OCIHandleAlloc(envhp, (void **)&errhp, OCI_HTYPE_ERROR, 0, NULL) != OCI_SUCCESS) return OCI_ERROR;
    rc = OCIAttrSet(authinfo, OCI_HTYPE_AUTHINFO, (void *)token, len, OCI_ATTR_TOKEN, errhp);
    if (rc == OCI_SUCCESS) rc = OCIAttrSet(authinfo, OCI_HTYPE_AUTHINFO, &bearer, 0, OCI_ATTR_TOKEN_ISBEARER, errhp);
    OCIHandleFree(errhp, OCI_HTYPE_ERROR);
    return rc;
}

/* The pool's token callback. */
static sword token_callback(void *ctx, void *authinfo, ub4 mode) {
    struct token_ctx *tc = ctx;
    (void)mode;
    return set_token(tc->envhp, authinfo, tc->client);
}

static int oci_fail(const char *what, OCIError *errhp) {
    OraText msg[OCI_ERROR_MAXMSG_SIZE];
    sb4 code = 0;
    msg[0] = '\0';
    OCIErrorGet(errhp, 1, NULL, &code, msg, sizeof msg, OCI_HTYPE_ERROR);
    fprintf(stderr, "oci_token_pool: %s failed: %s\n", what, (const char *)msg);
    return 1;
}

int main(int argc, char **argv) {
    const char *connect = argc > 1 ? argv[1] : "tcps://db.example.com:1522/service";
    struct token_ctx tc = {NULL, NULL};
    OCIError *errhp = NULL;
    OCISPool *poolhp = NULL;
    OCIAuthInfo *authinfo = NULL;
    OraText *pool_name = NULL;
    ub4 pool_name_len = 0;
    int i, status = 0;
    /* OCI takes the callback as an attribute value (a void *); POSIX guarantees a function
     * pointer survives the round trip, and the union keeps -Wpedantic quiet about it. */
    union {
        token_callback_fn fn;
        void *ptr;
    } cbk;

    tc.client = client_from_environment("oci_token_pool");
    if (tc.client == NULL) return 1;
    if (OCIEnvCreate(&tc.envhp, OCI_THREADED, NULL, NULL, NULL, NULL, 0, NULL) != OCI_SUCCESS) {
        fprintf(stderr, "oci_token_pool: OCIEnvCreate failed\n");
        return 1;
    }
    OCIHandleAlloc(tc.envhp, (void **)&errhp, OCI_HTYPE_ERROR, 0, NULL);
    OCIHandleAlloc(tc.envhp, (void **)&poolhp, OCI_HTYPE_SPOOL, 0, NULL);
    OCIHandleAlloc(tc.envhp, (void **)&authinfo, OCI_HTYPE_AUTHINFO, 0, NULL);

    /* The first token, and the callback for the next ones. */
    if (set_token(tc.envhp, authinfo, tc.client) != OCI_SUCCESS) {
        status = 1;
        goto done;
    }
    cbk.fn = token_callback;
    if (OCIAttrSet(authinfo, OCI_HTYPE_AUTHINFO, &tc, 0, OCI_ATTR_TOKEN_CBKCTX, errhp) != OCI_SUCCESS ||
        OCIAttrSet(authinfo, OCI_HTYPE_AUTHINFO, cbk.ptr, 0, OCI_ATTR_TOKEN_CBK, errhp) != OCI_SUCCESS ||
        OCIAttrSet(poolhp, OCI_HTYPE_SPOOL, authinfo, 0, OCI_ATTR_SPOOL_AUTH, errhp) != OCI_SUCCESS) {
        status = oci_fail("setting the pool's authentication", errhp);
        goto done;
    }

    /* Homogeneous, no user name, no password: the token on the OCIAuthInfo is the credential. */
    if (OCISessionPoolCreate(tc.envhp, errhp, poolhp, &pool_name, &pool_name_len, (const OraText *)connect,
                             (ub4)strlen(connect), 1, 4, 1, NULL, 0, NULL, 0,
                             OCI_SPC_HOMOGENEOUS | OCI_SPC_STMTCACHE) != OCI_SUCCESS) {
        status = oci_fail("OCISessionPoolCreate", errhp);
        goto done;
    }
    for (i = 0; i < 3; i++) {
        OCISvcCtx *svchp = NULL;
        if (OCISessionGet(tc.envhp, errhp, &svchp, NULL, pool_name, pool_name_len, NULL, 0, NULL, NULL, NULL,
                          OCI_SESSGET_SPOOL) != OCI_SUCCESS) {
            status = oci_fail("OCISessionGet", errhp);
            break;
        }
        printf("oci_token_pool: session %d open\n", i + 1);
        /* ... OCIStmtPrepare2 / OCIStmtExecute with svchp ... */
        OCISessionRelease(svchp, errhp, NULL, 0, OCI_DEFAULT);
    }
    OCISessionPoolDestroy(poolhp, errhp, OCI_DEFAULT);

done:
    OCIHandleFree(authinfo, OCI_HTYPE_AUTHINFO);
    OCIHandleFree(poolhp, OCI_HTYPE_SPOOL);
    OCIHandleFree(errhp, OCI_HTYPE_ERROR);
    OCIHandleFree(tc.envhp, OCI_HTYPE_ENV);
    aadtoken_client_free(tc.client);
    return status;
}
