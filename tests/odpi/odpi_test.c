/*
 * aadtoken with the REAL ODPI-C: python-oracledb's sdist's embed/dpi.c and include/dpi.h,
 * compiled in, loading a fake Oracle Client library (tests/odpi/fake_clntsh.c, as
 * libclntsh.so, through dpiContextCreateParams.oracleClientLibDir) that records what OCI
 * receives and calls the pool's token callback as OCI does when the token has expired. Driven by
 * tests/c_suites/oracle.rs against the mock Entra ID server.
 *
 * Usage: odpi_test PHASE
 * Settings from the environment, as tests/c/common.h says, plus AADTOKEN_TEST_ORACLE_CLIENT (the
 * fake's directory) and AADTOKEN_TEST_PUBLIC_CLIENT (the mock's public client, for the
 * device-code phase). Each phase prints one line per failed check and a summary.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dpi.h>

#include "aadtoken.h"
#include "common.h"
#include "fake_clntsh.h"

/* The point of the header's `struct dpiAccessToken *`: aadtoken's callback IS a
 * dpiAccessTokenCallback, no cast (this file is compiled with -std=c11 -Werror). */
static const dpiAccessTokenCallback callback = aadtoken_odpi_access_token_callback;

/* aadtoken's struct for hosts without dpi.h is laid out as the real dpiAccessToken. */
#define SAME_LAYOUT(name, cond) _Static_assert(cond, "aadtoken_dpi_access_token differs from dpiAccessToken: " #name)
SAME_LAYOUT(size, sizeof(dpiAccessToken) == sizeof(aadtoken_dpi_access_token));
SAME_LAYOUT(token, offsetof(dpiAccessToken, token) == offsetof(aadtoken_dpi_access_token, token));
SAME_LAYOUT(tokenLength, offsetof(dpiAccessToken, tokenLength) == offsetof(aadtoken_dpi_access_token, tokenLength));
SAME_LAYOUT(privateKey, offsetof(dpiAccessToken, privateKey) == offsetof(aadtoken_dpi_access_token, privateKey));
SAME_LAYOUT(privateKeyLength,
            offsetof(dpiAccessToken, privateKeyLength) == offsetof(aadtoken_dpi_access_token, privateKeyLength));

static const char dsn[] = "tcps://db.example.com:1522/freepdb1";

/* An ODPI-C context on the fake Oracle Client library. */
static dpiContext *context(void) {
    dpiContextCreateParams params;
    dpiErrorInfo info;
    dpiContext *ctx = NULL;
    memset(&params, 0, sizeof params);
    params.oracleClientLibDir = env("AADTOKEN_TEST_ORACLE_CLIENT");
    if (dpiContext_createWithParams(DPI_MAJOR_VERSION, DPI_MINOR_VERSION, &params, &ctx, &info) != DPI_SUCCESS) {
        CHECK(0, "dpiContext_createWithParams: %.*s", (int)info.messageLength, info.message);
        exit(1);
    }
    return ctx;
}

/* ODPI-C's error message of the last failed call on this thread (borrowed). */
static const char *odpi_error(dpiContext *ctx, char *buf, size_t size) {
    dpiErrorInfo info;
    dpiContext_getError(ctx, &info);
    snprintf(buf, size, "%.*s", (int)info.messageLength, info.message);
    return buf;
}

/* The token aadtoken's cache holds for the client's scope (a copy). */
static char *cached_token(aadtoken_client *client) {
    aadtoken_token *tok = NULL;
    char *copy = NULL;
    if (aadtoken_client_get_token(client, NULL, &tok, NULL) == AADTOKEN_OK) copy = strdup(aadtoken_token_value(tok));
    aadtoken_token_free(tok);
    return copy;
}

static int same(const char *a, const char *b) { return a != NULL && b != NULL && strcmp(a, b) == 0; }

/* The README's recipe: the first token from the callback itself, then the token pool. */
static dpiPool *token_pool(dpiContext *ctx, aadtoken_client *first_from, aadtoken_client *callback_client) {
    dpiCommonCreateParams common;
    dpiPoolCreateParams params;
    dpiAccessToken first;
    dpiPool *pool = NULL;
    char msg[1024];

    memset(&first, 0, sizeof first);
    if (aadtoken_odpi_access_token_callback(first_from, &first) != DPI_SUCCESS) {
        aadtoken_error *err = NULL;
        aadtoken_odpi_last_error(first_from, &err);
        CHECK(0, "no first token: %s", aadtoken_error_message(err));
        aadtoken_error_free(err);
        return NULL;
    }
    dpiContext_initCommonCreateParams(ctx, &common);
    dpiContext_initPoolCreateParams(ctx, &params);
    common.accessToken = &first; /* ODPI-C copies it */
    params.externalAuth = 1;
    params.homogeneous = 1;
    params.accessTokenCallback = aadtoken_odpi_access_token_callback;
    params.accessTokenCallbackContext = callback_client;
    if (dpiPool_create(ctx, NULL, 0, NULL, 0, dsn, (uint32_t)strlen(dsn), &common, &params, &pool) != DPI_SUCCESS) {
        CHECK(0, "dpiPool_create: %s", odpi_error(ctx, msg, sizeof msg));
        return NULL;
    }
    return pool;
}

/* Acquire a connection and give it back; DPI_SUCCESS or DPI_FAILURE (message in `msg`). */
static int use_connection(dpiContext *ctx, dpiPool *pool, char *msg, size_t size) {
    dpiConn *conn = NULL;
    msg[0] = '\0';
    if (dpiPool_acquireConnection(pool, NULL, 0, NULL, 0, NULL, &conn) != DPI_SUCCESS) {
        odpi_error(ctx, msg, size);
        return DPI_FAILURE;
    }
    CHECK(dpiConn_close(conn, DPI_MODE_CONN_CLOSE_DEFAULT, NULL, 0) == DPI_SUCCESS, "dpiConn_close: %s",
          odpi_error(ctx, msg, size));
    CHECK(dpiConn_release(conn) == DPI_SUCCESS, "dpiConn_release");
    return DPI_SUCCESS;
}

static void close_pool(dpiContext *ctx, dpiPool *pool) {
    char msg[1024];
    if (pool == NULL) return;
    CHECK(dpiPool_close(pool, DPI_MODE_POOL_CLOSE_DEFAULT) == DPI_SUCCESS, "dpiPool_close: %s",
          odpi_error(ctx, msg, sizeof msg));
    dpiPool_release(pool);
}

/* The end of a phase: the pool closed, the client freed, the context destroyed. */
static void finish(dpiContext *ctx, dpiPool *pool, aadtoken_client *client) {
    close_pool(ctx, pool);
    aadtoken_client_free(client);
    dpiContext_destroy(ctx);
}

/* A pool whose tokens aadtoken considers due at once (the harness makes the mock's tokens live
 * shorter than expiry_margin_s): every callback asks Entra ID. */
static dpiPool *renewing_pool(dpiContext **ctx, aadtoken_client **client) {
    *ctx = context();
    *client = mock_client(env("AADTOKEN_TEST_SECRET"), 1, "expiry_margin_s=3000");
    return token_pool(*ctx, *client, *client);
}

/* ---- The recipe end to end: what OCI receives is aadtoken's cached token. ---- */
static void phase_recipe(void) {
    dpiContext *ctx = context();
    aadtoken_client *client = registered_client();
    struct fakeoci_pool_info pi;
    dpiPool *pool = token_pool(ctx, client, client);
    char msg[1024], *cached, *oci, *logon;
    int i;

    if (pool == NULL) return;
    fakeoci_pool_info(&pi);
    CHECK(pi.pools_created == 1 && pi.homogeneous, "a homogeneous OCI pool");
    CHECK(pi.has_token && pi.is_bearer, "OCI got the first token as a bearer token");
    CHECK(pi.callback_registered && pi.callback_context_set, "ODPI-C registered its token callback with OCI");
    cached = cached_token(client);
    oci = fakeoci_pool_token();
    CHECK(same(oci, cached), "OCI's token is aadtoken's cached token");
    free(oci);

    for (i = 0; i < 3; i++) CHECK(use_connection(ctx, pool, msg, sizeof msg) == DPI_SUCCESS, "session %d: %s", i, msg);
    fakeoci_pool_info(&pi);
    CHECK(pi.sessions == 3 && pi.callback_calls == 0, "3 sessions with the first token, no callback (%d, %d)",
          pi.sessions, pi.callback_calls);
    /* ODPI-C turns externalAuth off for token pools: OCISessionGet(OCI_SESSGET_SPOOL) only. */
    CHECK(pi.last_get_mode == 0x0001, "OCISessionGet mode 0x%x", pi.last_get_mode);

    /* OCI finds the token expired: ODPI-C's callback calls aadtoken's, which lends the cached
     * token (still fresh for aadtoken), and the session logs on with it. */
    fakeoci_expire_token();
    CHECK(use_connection(ctx, pool, msg, sizeof msg) == DPI_SUCCESS, "session after expiry: %s", msg);
    fakeoci_pool_info(&pi);
    CHECK(pi.callback_calls == 1 && pi.callback_failures == 0, "the callback ran once (%d)", pi.callback_calls);
    logon = fakeoci_last_logon_token();
    CHECK(same(logon, cached), "the session logged on with aadtoken's cached token");
    free(logon);
    CHECK(aadtoken_odpi_last_error(client, NULL) == AADTOKEN_OK, "no error recorded");
    free(cached);
    finish(ctx, pool, client);
}

/* ---- A token aadtoken considers expired too (lifetime < expiry_margin_s): a new one. ---- */
static void phase_expired(void) {
    dpiContext *ctx;
    aadtoken_client *client;
    struct fakeoci_pool_info pi;
    dpiPool *pool = renewing_pool(&ctx, &client);
    char msg[1024], *first, *logon, *cached;

    if (pool == NULL) return;
    first = fakeoci_pool_token();
    CHECK(use_connection(ctx, pool, msg, sizeof msg) == DPI_SUCCESS, "first session: %s", msg);
    fakeoci_expire_token();
    CHECK(use_connection(ctx, pool, msg, sizeof msg) == DPI_SUCCESS, "session after expiry: %s", msg);
    fakeoci_pool_info(&pi);
    CHECK(pi.callback_calls == 1 && pi.sessions == 2, "one callback (%d), two sessions (%d)", pi.callback_calls,
          pi.sessions);
    logon = fakeoci_last_logon_token();
    CHECK(logon != NULL && first != NULL && strcmp(logon, first) != 0, "a new token after expiry");
    /* aadtoken's cache moved on to the token OCI received (asked without a new request: the
     * token is within the margin, so get_token would fetch again; compare OCI's copy instead). */
    cached = fakeoci_pool_token();
    CHECK(same(cached, logon), "the pool's OCIAuthInfo holds the new token");
    free(cached);
    free(logon);
    free(first);
    finish(ctx, pool, client);
}

/* ---- The identity provider goes down: ODPI-C sees the failure, aadtoken says why. ---- */
static void phase_idp_down(void) {
    dpiContext *ctx;
    aadtoken_client *client;
    struct fakeoci_pool_info pi;
    dpiPool *pool = renewing_pool(&ctx, &client);
    aadtoken_error *err = NULL;
    aadtoken_status st;
    char msg[1024], line[16];

    if (pool == NULL) return;
    CHECK(use_connection(ctx, pool, msg, sizeof msg) == DPI_SUCCESS, "first session: %s", msg);
    /* The harness stops the mock identity provider, then answers. */
    printf("stop the identity provider\n");
    fflush(stdout);
    CHECK(fgets(line, sizeof line, stdin) != NULL, "the harness answered");

    fakeoci_expire_token();
    CHECK(use_connection(ctx, pool, msg, sizeof msg) == DPI_FAILURE, "no session without a token");
    CHECK(strstr(msg, "ORA-01017") != NULL, "ODPI-C reports the failed logon: %s", msg);
    fakeoci_pool_info(&pi);
    CHECK(pi.callback_calls == 1 && pi.callback_failures == 1, "the callback ran and failed (%d, %d)",
          pi.callback_calls, pi.callback_failures);
    /* On this thread (the one that asked for the connection), aadtoken says why. */
    st = aadtoken_odpi_last_error(client, &err);
    CHECK(st == AADTOKEN_ERR_NETWORK, "last error status %u", st);
    CHECK(err != NULL && strstr(aadtoken_error_message(err), "127.0.0.1") != NULL, "the message names the host: %s",
          aadtoken_error_message(err));
    aadtoken_error_free(err);
    finish(ctx, pool, client);
}

/* ---- No first token: dpiPool_create succeeds, the callback is never registered. ---- */
static void phase_misconfigured(void) {
    dpiContext *ctx = context();
    aadtoken_client *client = registered_client();
    dpiCommonCreateParams common;
    dpiPoolCreateParams params;
    struct fakeoci_pool_info pi;
    dpiPool *pool = NULL;
    char msg[1024];

    dpiContext_initCommonCreateParams(ctx, &common);
    dpiContext_initPoolCreateParams(ctx, &params);
    params.externalAuth = 1;
    params.homogeneous = 1;
    params.accessTokenCallback = aadtoken_odpi_access_token_callback;
    params.accessTokenCallbackContext = client;
    /* common.accessToken left NULL: the mistake the README warns about. */
    CHECK(dpiPool_create(ctx, NULL, 0, NULL, 0, dsn, (uint32_t)strlen(dsn), &common, &params, &pool) == DPI_SUCCESS,
          "dpiPool_create succeeds: %s", odpi_error(ctx, msg, sizeof msg));
    fakeoci_pool_info(&pi);
    CHECK(pi.pools_created == 1 && !pi.has_token, "no token on the pool");
    CHECK(!pi.callback_registered && !pi.callback_context_set, "ODPI-C did not register the token callback");
    CHECK(use_connection(ctx, pool, msg, sizeof msg) == DPI_FAILURE, "no session");
    CHECK(strstr(msg, "ORA-01017") != NULL, "logon denied: %s", msg);
    fakeoci_pool_info(&pi);
    CHECK(pi.callback_calls == 0, "the callback was never called");
    CHECK(pi.last_get_mode == (0x0001 | 0x0010), "external credentials asked (mode 0x%x)", pi.last_get_mode);
    CHECK(aadtoken_odpi_last_error(client, NULL) == AADTOKEN_OK, "aadtoken was never asked");
    finish(ctx, pool, client);
}

/* ---- A device-code client behind the driver's callback never waits for a person. ---- */
static int prompts;
static void device_prompt(void *userdata, const char *message, const char *user_code, const char *uri,
                          int64_t expires_on) {
    (void)userdata, (void)message, (void)user_code, (void)uri, (void)expires_on;
    prompts++;
}

static void phase_person(void) {
    dpiContext *ctx = context();
    aadtoken_client *app = registered_client(); /* the pool's first token */
    aadtoken_config *cfg = mock_config(NULL, 1, "auth_method=device_code");
    aadtoken_client *person;
    struct fakeoci_pool_info pi;
    dpiAccessToken at, sentinel;
    aadtoken_error *err = NULL;
    aadtoken_status st;
    dpiPool *pool;
    char msg[1024];

    CHECK(aadtoken_config_set(cfg, "client_id", env("AADTOKEN_TEST_PUBLIC_CLIENT"), NULL) == AADTOKEN_OK, "client_id");
    CHECK(aadtoken_config_set_device_code_callback(cfg, device_prompt, NULL, NULL) == AADTOKEN_OK, "prompt");
    person = client_of(cfg); /* automatic_sign_in=true, the default */

    /* Called directly (the recipe's first token): fails at once, nothing touched. */
    memset(&sentinel, 0x5a, sizeof sentinel);
    memcpy(&at, &sentinel, sizeof at);
    CHECK(callback(person, &at) == DPI_FAILURE, "no token without a signed-in person");
    CHECK(memcmp(&at, &sentinel, sizeof at) == 0, "struct untouched");
    st = aadtoken_odpi_last_error(person, &err);
    CHECK(st == AADTOKEN_ERR_INTERACTION_REQUIRED, "status %u", st);
    CHECK(err != NULL && strstr(aadtoken_error_message(err), "never waits for a person") != NULL &&
              strstr(aadtoken_error_message(err), "aadtoken_client_sign_in") != NULL,
          "the message says why and what to do: %s", aadtoken_error_message(err));
    aadtoken_error_free(err);
    err = NULL;

    /* Called by ODPI-C on the driver's path, inside OCISessionGet. */
    pool = token_pool(ctx, app, person);
    if (pool != NULL) {
        fakeoci_expire_token();
        CHECK(use_connection(ctx, pool, msg, sizeof msg) == DPI_FAILURE, "no session");
        fakeoci_pool_info(&pi);
        CHECK(pi.callback_calls == 1 && pi.callback_failures == 1, "the callback failed (%d, %d)", pi.callback_calls,
              pi.callback_failures);
        CHECK(aadtoken_odpi_last_error(person, NULL) == AADTOKEN_ERR_INTERACTION_REQUIRED, "interaction required");
        close_pool(ctx, pool);
    }
    CHECK(prompts == 0, "no device code was shown (%d)", prompts);
    aadtoken_client_free(person);
    aadtoken_client_free(app);
    dpiContext_destroy(ctx);
}

int main(int argc, char **argv) {
    static const struct test_phase phases[] = {
        {"recipe", phase_recipe},           {"expired", phase_expired}, {"idp-down", phase_idp_down},
        {"misconfigured", phase_misconfigured}, {"person", phase_person},
    };
    return run_phase_of(argc, argv, phases, sizeof phases / sizeof phases[0], 0);
}
