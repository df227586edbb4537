/*
 * C tests of every non-interactive credential kind through the aadtoken ABI, driven by
 * tests/c_suites/credentials.rs against the mock Entra ID server and the managed-identity mock.
 *
 * Usage: credentials_test PHASE
 *   token     settings from AADTOKEN_TEST_SETTINGS (plus the environment when
 *             AADTOKEN_TEST_LOAD_ENV=1): one token, the second get cached, refresh asks again
 *   refused   the same, but the token request must fail with AADTOKEN_TEST_STATUS (and
 *             AADSTS AADTOKEN_TEST_AADSTS when set); the message must not contain
 *             AADTOKEN_TEST_HIDDEN (a secret)
 *   callback  a client-assertion callback supplying AADTOKEN_TEST_ASSERTION (including the
 *             "buffer too small" protocol); a failing callback; a callback unset with NULL
 * Each phase prints one line per failed check and a summary, and exits 0 only if every check
 * passed.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aadtoken.h"
#include "common.h"

/* A client from AADTOKEN_TEST_SETTINGS (and the environment when asked). */
static aadtoken_client *make_client(aadtoken_config **keep_cfg) {
    aadtoken_config *cfg = aadtoken_config_new();
    aadtoken_client *client = NULL;
    aadtoken_error *err = NULL;
    const char *load_env = getenv("AADTOKEN_TEST_LOAD_ENV");
    if (load_env != NULL && strcmp(load_env, "1") == 0) {
        CHECK(aadtoken_config_load_env(cfg, &err) == AADTOKEN_OK, "load_env");
        report(err);
        aadtoken_error_free(err);
        err = NULL;
    }
    CHECK(aadtoken_config_parse(cfg, env("AADTOKEN_TEST_SETTINGS"), &err) == AADTOKEN_OK, "parse settings");
    report(err);
    aadtoken_error_free(err);
    err = NULL;
    CHECK(aadtoken_client_new(cfg, &client, &err) == AADTOKEN_OK, "client_new");
    report(err);
    aadtoken_error_free(err);
    if (keep_cfg != NULL) {
        *keep_cfg = cfg;
    } else {
        aadtoken_config_free(cfg);
    }
    return client;
}

static int is_jwt(const aadtoken_token *tok) {
    const char *v = aadtoken_token_value(tok);
    const char *dot1 = strchr(v, '.');
    return strlen(v) == aadtoken_token_len(tok) && strlen(v) > 100 && dot1 != NULL && strchr(dot1 + 1, '.') != NULL;
}

static void phase_token(void) {
    aadtoken_client *client = make_client(NULL);
    aadtoken_token *a = NULL, *b = NULL, *c = NULL;
    aadtoken_error *err = NULL;
    if (client == NULL) {
        return;
    }
    CHECK(aadtoken_client_get_token(client, NULL, &a, &err) == AADTOKEN_OK, "get_token");
    report(err);
    aadtoken_error_free(err);
    err = NULL;
    if (a != NULL) {
        CHECK(is_jwt(a), "a JWT: %s", aadtoken_token_value(a));
        CHECK(aadtoken_token_expires_on(a) > 0 && aadtoken_token_refresh_on(a) <= aadtoken_token_expires_on(a),
              "expiry %lld, refresh %lld", (long long)aadtoken_token_expires_on(a),
              (long long)aadtoken_token_refresh_on(a));
        CHECK(aadtoken_client_get_token(client, NULL, &b, NULL) == AADTOKEN_OK, "second get_token");
        CHECK(b != NULL && strcmp(aadtoken_token_value(a), aadtoken_token_value(b)) == 0, "cached");
        CHECK(aadtoken_client_refresh_token(client, NULL, &c, &err) == AADTOKEN_OK, "refresh_token");
        report(err);
        aadtoken_error_free(err);
        CHECK(c != NULL && is_jwt(c), "refreshed token");
        printf("  token of %zu bytes, expires %lld\n", aadtoken_token_len(a), (long long)aadtoken_token_expires_on(a));
    }
    aadtoken_token_free(a);
    aadtoken_token_free(b);
    aadtoken_token_free(c);
    aadtoken_client_free(client);
}

static void phase_refused(void) {
    aadtoken_client *client = make_client(NULL);
    aadtoken_token *tok = NULL;
    aadtoken_error *err = NULL;
    unsigned want = (unsigned)strtoul(env("AADTOKEN_TEST_STATUS"), NULL, 10);
    const char *aadsts = getenv("AADTOKEN_TEST_AADSTS");
    const char *hidden = getenv("AADTOKEN_TEST_HIDDEN");
    aadtoken_status rc;
    if (client == NULL) {
        return;
    }
    rc = aadtoken_client_get_token(client, NULL, &tok, &err);
    CHECK(rc == want, "status %u (%s), want %u", rc, aadtoken_status_str(rc), want);
    CHECK(tok == NULL, "no token on failure");
    CHECK(err != NULL, "an error object");
    if (err != NULL) {
        printf("  %s\n", aadtoken_error_message(err));
        CHECK(aadtoken_error_status(err) == want, "error status");
        if (aadsts != NULL) {
            CHECK(aadtoken_error_aadsts(err) == (uint32_t)strtoul(aadsts, NULL, 10), "AADSTS%u",
                  aadtoken_error_aadsts(err));
            CHECK(strlen(aadtoken_error_correlation_id(err)) == 36, "correlation id '%s'",
                  aadtoken_error_correlation_id(err));
        }
        if (hidden != NULL) {
            CHECK(strstr(aadtoken_error_message(err), hidden) == NULL, "the secret is not in the message");
        }
    }
    aadtoken_error_free(err);
    aadtoken_client_free(client);
}

struct assertion_source {
    const char *jwt;
    int calls;
    int fail;
    int too_small_first; /* pretend the first buffer is too small */
};

static int32_t supply_assertion(void *userdata, char *buf, size_t buf_len, size_t *written) {
    struct assertion_source *src = (struct assertion_source *)userdata;
    size_t len = strlen(src->jwt);
    src->calls++;
    if (src->fail) {
        return 7;
    }
    if (len > buf_len) {
        *written = len;
        return 0;
    }
    if (src->too_small_first && src->calls == 1) {
        *written = buf_len + 1; /* pretend it needs a larger buffer than offered */
        return 0;
    }
    memcpy(buf, src->jwt, len);
    *written = len;
    return 0;
}

static void phase_callback(void) {
    aadtoken_config *cfg = NULL;
    aadtoken_client *client = NULL;
    aadtoken_token *tok = NULL;
    aadtoken_error *err = NULL;
    struct assertion_source src;
    aadtoken_status rc;
    src.jwt = env("AADTOKEN_TEST_ASSERTION");
    src.calls = 0;
    src.fail = 0;
    src.too_small_first = 1;

    cfg = aadtoken_config_new();
    CHECK(aadtoken_config_set_assertion_callback(NULL, supply_assertion, &src, NULL) == AADTOKEN_ERR_INVALID_ARGUMENT,
          "NULL config");
    CHECK(aadtoken_config_parse(cfg, env("AADTOKEN_TEST_SETTINGS"), NULL) == AADTOKEN_OK, "parse");
    CHECK(aadtoken_config_set_assertion_callback(cfg, supply_assertion, &src, &err) == AADTOKEN_OK, "set callback");
    CHECK(aadtoken_client_new(cfg, &client, &err) == AADTOKEN_OK, "client_new");
    report(err);
    aadtoken_error_free(err);
    err = NULL;
    if (client != NULL) {
        rc = aadtoken_client_get_token(client, NULL, &tok, &err);
        CHECK(rc == AADTOKEN_OK, "get_token with the callback's assertion (%u)", rc);
        report(err);
        aadtoken_error_free(err);
        err = NULL;
        CHECK(src.calls == 2, "asked twice (the first buffer was 'too small'): %d", src.calls);
        CHECK(tok != NULL && is_jwt(tok), "a token");
        aadtoken_token_free(tok);
        tok = NULL;
        /* Cached: no new assertion needed. */
        CHECK(aadtoken_client_get_token(client, NULL, &tok, NULL) == AADTOKEN_OK && src.calls == 2, "cached");
        aadtoken_token_free(tok);
        tok = NULL;
        /* A failing callback fails the request with AADTOKEN_ERR_CALLBACK. */
        src.fail = 1;
        rc = aadtoken_client_refresh_token(client, NULL, &tok, &err);
        CHECK(rc == AADTOKEN_ERR_CALLBACK, "failing callback: %u", rc);
        CHECK(err != NULL && strstr(aadtoken_error_message(err), "returned 7") != NULL, "message says what it returned");
        report(err);
        aadtoken_error_free(err);
        err = NULL;
        aadtoken_client_free(client);
        client = NULL;
    }
    /* NULL unsets the callback: with no assertion_file either, the client cannot be built. */
    CHECK(aadtoken_config_set_assertion_callback(cfg, NULL, NULL, NULL) == AADTOKEN_OK, "unset");
    rc = aadtoken_client_new(cfg, &client, &err);
    CHECK(rc == AADTOKEN_ERR_MISSING_SETTING, "no assertion source: %u", rc);
    CHECK(err != NULL && strstr(aadtoken_error_message(err), "assertion_file") != NULL, "names assertion_file");
    aadtoken_error_free(err);
    aadtoken_client_free(client);
    aadtoken_config_free(cfg);
}

int main(int argc, char **argv) {
    static const struct test_phase phases[] = {
        {"token", phase_token},
        {"refused", phase_refused},
        {"callback", phase_callback},
    };
    return run_phase_of(argc, argv, phases, sizeof phases / sizeof phases[0], 1);
}
