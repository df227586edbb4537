/*
 * odpi_token_pool: an ODPI-C session pool whose sessions log on to Oracle Database with
 * Microsoft Entra ID access tokens from aadtoken.
 *
 *   odpi_token_pool [CONNECT_STRING [ORACLE_CLIENT_LIB_DIR]]
 *
 * Settings: the Azure SDK environment variables (AZURE_TENANT_ID, AZURE_CLIENT_ID,
 * AZURE_CLIENT_SECRET...), then AADTOKEN_SETTINGS ("key=value;key=value"; `scope` = the database's
 * application ID URI + "/.default"). ORACLE_CLIENT_LIB_DIR: where libclntsh.so is, when the
 * system's library path does not find it (dpiContextCreateParams.oracleClientLibDir).
 *
 * The sequence ODPI-C needs (dpiPool.c), with Oracle Client 19.15+/21.7+ and a TCPS connect
 * string:
 *  1. a first token, from aadtoken's callback itself, in dpiCommonCreateParams.accessToken;
 *  2. dpiPoolCreateParams.externalAuth = 1 and homogeneous = 1;
 *  3. aadtoken_odpi_access_token_callback as accessTokenCallback, the aadtoken_client* as its
 *     context: ODPI-C registers it with OCI ONLY when step 1 gave a token — without a first
 *     token dpiPool_create succeeds, the callback is never called and logons fail (ORA-01017).
 * OCI then calls the callback (on the thread asking for a connection) when the pool's token has
 * expired; it never waits for a person (sign a person in before creating the pool).
 *
 * Build against ODPI-C (its include/dpi.h, and its sources or libodpic): see the Makefile's
 * odpi_token_pool target. The tests build it with ODPI-C from python-oracledb's sdist and run it
 * on a fake Oracle Client library (tests/c_suites/oracle.rs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aadtoken.h>

#include "env_client.h"
#include <dpi.h>

static int odpi_fail(dpiContext *ctx, const char *what) {
    dpiErrorInfo info;
    dpiContext_getError(ctx, &info);
    fprintf(stderr, "odpi_token_pool: %s failed: %.*s\n", what, (int)info.messageLength, info.message);
    return 1;
}

/* Why the calling thread's last token callback failed, if it did. */
static void token_failure(aadtoken_client *client) {
    aadtoken_error *err = NULL;
    if (aadtoken_odpi_last_error(client, &err) != AADTOKEN_OK) {
        fprintf(stderr, "odpi_token_pool: no token: %s (AADSTS%u)\n", aadtoken_error_message(err),
                aadtoken_error_aadsts(err));
        aadtoken_error_free(err);
    }
}

int main(int argc, char **argv) {
    const char *dsn = argc > 1 ? argv[1] : "tcps://db.example.com:1522/service";
    dpiContextCreateParams ctx_params;
    dpiCommonCreateParams common;
    dpiPoolCreateParams params;
    dpiAccessToken first;
    dpiErrorInfo info;
    dpiContext *ctx = NULL;
    dpiPool *pool = NULL;
    aadtoken_client *client;
    int i, status = 0;

    client = client_from_environment("odpi_token_pool");
    if (client == NULL) return 1;
    memset(&ctx_params, 0, sizeof ctx_params);
    if (argc > 2) ctx_params.oracleClientLibDir = argv[2];
    if (dpiContext_createWithParams(DPI_MAJOR_VERSION, DPI_MINOR_VERSION, &ctx_params, &ctx, &info) != DPI_SUCCESS) {
        fprintf(stderr, "odpi_token_pool: %.*s\n", (int)info.messageLength, info.message);
        aadtoken_client_free(client);
        return 1;
    }

    /* 1. The first token (ODPI-C copies it during dpiPool_create). */
    memset(&first, 0, sizeof first);
    if (aadtoken_odpi_access_token_callback(client, &first) != DPI_SUCCESS) {
        token_failure(client);
        status = 1;
        goto done;
    }

    /* 2. and 3. A homogeneous pool with external authentication: the token is the credential. */
    dpiContext_initCommonCreateParams(ctx, &common);
    dpiContext_initPoolCreateParams(ctx, &params);
    common.accessToken = &first;
    params.externalAuth = 1;
    params.homogeneous = 1;
    params.accessTokenCallback = aadtoken_odpi_access_token_callback; /* no cast: same type */
    params.accessTokenCallbackContext = client;
    if (dpiPool_create(ctx, NULL, 0, NULL, 0, dsn, (uint32_t)strlen(dsn), &common, &params, &pool) != DPI_SUCCESS) {
        status = odpi_fail(ctx, "dpiPool_create");
        goto done;
    }

    for (i = 0; i < 3; i++) {
        dpiConn *conn = NULL;
        if (dpiPool_acquireConnection(pool, NULL, 0, NULL, 0, NULL, &conn) != DPI_SUCCESS) {
            status = odpi_fail(ctx, "dpiPool_acquireConnection");
            token_failure(client); /* on this thread: why the callback failed, if it did */
            break;
        }
        printf("odpi_token_pool: session %d open\n", i + 1);
        /* ... dpiConn_prepareStmt / dpiStmt_execute ... */
        dpiConn_close(conn, DPI_MODE_CONN_CLOSE_DEFAULT, NULL, 0);
        dpiConn_release(conn);
    }
    dpiPool_close(pool, DPI_MODE_POOL_CLOSE_DEFAULT);
    dpiPool_release(pool);

done:
    dpiContext_destroy(ctx);
    aadtoken_client_free(client); /* after the pool: the callback may run until it is closed */
    return status;
}
