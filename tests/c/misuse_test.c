/*
 * The C ABI misused on purpose, driven by tests/c_suites/misuse.rs under AddressSanitizer +
 * UndefinedBehaviorSanitizer and under valgrind: every export with NULL for each pointer,
 * invalid UTF-8, empty and 1 MB strings, _free(NULL), calls in a wrong order, settings strings
 * with separators, spaces and unicode, 64 threads sharing a client while another forces
 * refreshes, async requests racing cancel, free and shutdown, and the log callback (levels,
 * the record, re-entrancy, NULL). Nothing here may crash, leak or touch freed memory.
 *
 * Usage: misuse_test PHASE   (phases: null strings order threads async log)
 * Environment: AADTOKEN_TEST_AUTHORITY, AADTOKEN_TEST_CA, AADTOKEN_TEST_TENANT,
 * AADTOKEN_TEST_CLIENT, AADTOKEN_TEST_SECRET, AADTOKEN_TEST_SCOPE, AADTOKEN_TEST_DIR (a private
 * directory), AADTOKEN_TEST_SLOW (set under valgrind: fewer iterations).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sys/stat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aadtoken.h"
#include "common.h"

/* The mock's registered client, with a generous timeout (valgrind and ASan are slow). */
static aadtoken_config *app_config(void) { return mock_config(env("AADTOKEN_TEST_SECRET"), 1, "timeout_ms=30000"); }
static aadtoken_client *app_client(void) { return client_of(app_config()); }

/* A call that must fail with AADTOKEN_ERR_INVALID_ARGUMENT (its error received as `&e_`). */
#define E100(call, needle) do { aadtoken_error *e_ = NULL; aadtoken_status s_ = call; \
    expect_error(#call, s_, e_, AADTOKEN_ERR_INVALID_ARGUMENT, needle); } while (0)

static void noop_token_cb(void *u, aadtoken_status s, aadtoken_token *t, aadtoken_error *e) {
    (void)u; (void)s;
    aadtoken_token_free(t);
    aadtoken_error_free(e);
}
static void noop_log(void *u, const aadtoken_log_record *r) { (void)u; (void)r; }

/* Every export with NULL for each pointer argument (with and without an error out-param). */
static void phase_null(void) {
    aadtoken_client *client = app_client();
    aadtoken_config *cfg = app_config();
    aadtoken_token *tok = NULL;
    aadtoken_claims *claims = NULL;
    aadtoken_request *req = NULL;
    aadtoken_token_file_keeper *keeper = NULL;
    const char *borrowed = NULL;
    uint32_t blen = 0;

    CHECK(aadtoken_version() != NULL && aadtoken_status_str(123456) != NULL, "static strings");

    /* config */
    E100(aadtoken_config_set(NULL, "tenant_id", "t", &e_), "'config'");
    E100(aadtoken_config_set(cfg, NULL, "t", &e_), "'key'");
    E100(aadtoken_config_set(cfg, "tenant_id", NULL, &e_), "'value'");
    CHECK(aadtoken_config_set(NULL, NULL, NULL, NULL) == AADTOKEN_ERR_INVALID_ARGUMENT, "all NULL, no err");
    E100(aadtoken_config_parse(NULL, "a=b", &e_), "'config'");
    E100(aadtoken_config_parse(cfg, NULL, &e_), "'settings'");
    E100(aadtoken_config_load_env(NULL, &e_), "'config'");
    E100(aadtoken_config_set_assertion_callback(NULL, NULL, NULL, &e_), "'config'");
    E100(aadtoken_config_set_device_code_callback(NULL, NULL, NULL, &e_), "'config'");
    E100(aadtoken_config_set_open_url_callback(NULL, NULL, NULL, &e_), "'config'");
    CHECK(aadtoken_config_set_assertion_callback(cfg, NULL, NULL, NULL) == AADTOKEN_OK, "unset assertion cb");
    CHECK(aadtoken_config_set_device_code_callback(cfg, NULL, NULL, NULL) == AADTOKEN_OK, "unset dc cb");
    CHECK(aadtoken_config_set_open_url_callback(cfg, NULL, NULL, NULL) == AADTOKEN_OK, "unset url cb");

    /* client */
    E100(aadtoken_client_new(NULL, &client, &e_), "'config'");
    E100(aadtoken_client_new(cfg, NULL, &e_), "'out'");
    E100(aadtoken_client_get_token(NULL, NULL, &tok, &e_), "'client'");
    E100(aadtoken_client_get_token(client, NULL, NULL, &e_), "'out'");
    E100(aadtoken_client_refresh_token(NULL, NULL, &tok, &e_), "'client'");
    E100(aadtoken_client_refresh_token(client, NULL, NULL, &e_), "'out'");
    E100(aadtoken_client_sign_in(NULL, NULL, &tok, &e_), NULL);
    E100(aadtoken_client_get_token_async(NULL, NULL, noop_token_cb, NULL, &req, &e_), "'client'");
    E100(aadtoken_client_get_token_async(client, NULL, NULL, NULL, &req, &e_), "'callback'");
    E100(aadtoken_client_write_token_file(NULL, NULL, "/nonexistent", &e_), "'client'");
    E100(aadtoken_token_file_keeper_start(NULL, NULL, "/nonexistent", &keeper, &e_), "'client'");
    E100(aadtoken_token_file_keeper_start(client, NULL, "/nonexistent", NULL, &e_), "'out'");
    E100(aadtoken_token_file_keeper_last_error(NULL, &e_), "'keeper'");
    E100(aadtoken_client_borrow_token(NULL, NULL, &borrowed, &blen, &e_), "'client'");
    E100(aadtoken_client_borrow_token(client, NULL, NULL, &blen, &e_), "'token'");
    E100(aadtoken_client_borrow_token(client, NULL, &borrowed, NULL, &e_), "'length'");
    E100(aadtoken_odpi_last_error(NULL, &e_), "'client'");
    CHECK(aadtoken_odpi_access_token_callback(NULL, NULL) == -1, "odpi callback, NULL context");
    CHECK(aadtoken_odpi_access_token_callback(client, NULL) == -1, "odpi callback, NULL struct");
    E100(aadtoken_token_claims(NULL, &claims, &e_), "'token'");
    CHECK(tok == NULL && claims == NULL && keeper == NULL && req == NULL && borrowed == NULL,
          "out-params untouched on failure");

    /* accessors of NULL objects */
    CHECK(aadtoken_token_value(NULL) == NULL && aadtoken_token_len(NULL) == 0 &&
              aadtoken_token_expires_on(NULL) == 0 && aadtoken_token_refresh_on(NULL) == 0,
          "token accessors");
    CHECK(aadtoken_error_status(NULL) == AADTOKEN_ERR_INVALID_ARGUMENT, "error status of NULL");
    CHECK(strcmp(aadtoken_error_message(NULL), "") == 0 && strcmp(aadtoken_error_oauth_code(NULL), "") == 0 &&
              strcmp(aadtoken_error_correlation_id(NULL), "") == 0 && strcmp(aadtoken_error_trace_id(NULL), "") == 0,
          "error strings of NULL");
    CHECK(aadtoken_error_aadsts(NULL) == 0 && aadtoken_error_aadsts_count(NULL) == 0 &&
              aadtoken_error_aadsts_at(NULL, 0) == 0 && aadtoken_error_aadsts_at(NULL, (size_t)-1) == 0 &&
              aadtoken_error_http_status(NULL) == 0 && aadtoken_error_retry_after(NULL) == 0,
          "error numbers of NULL");
    CHECK(strcmp(aadtoken_claims_json(NULL), "") == 0 && strcmp(aadtoken_claims_aud(NULL), "") == 0 &&
              strcmp(aadtoken_claims_iss(NULL), "") == 0 && strcmp(aadtoken_claims_tid(NULL), "") == 0 &&
              strcmp(aadtoken_claims_oid(NULL), "") == 0 && strcmp(aadtoken_claims_upn(NULL), "") == 0 &&
              strcmp(aadtoken_claims_appid(NULL), "") == 0 && strcmp(aadtoken_claims_roles(NULL), "") == 0 &&
              strcmp(aadtoken_claims_scp(NULL), "") == 0,
          "claims strings of NULL");
    CHECK(aadtoken_claims_exp(NULL) == 0 && aadtoken_claims_iat(NULL) == 0 && aadtoken_claims_nbf(NULL) == 0,
          "claims numbers of NULL");
    CHECK(strcmp(aadtoken_token_file_keeper_path(NULL), "") == 0 && aadtoken_token_file_keeper_expires_on(NULL) == 0,
          "keeper accessors of NULL");

    /* every _free and stop accepts NULL; cancel too */
    aadtoken_config_free(NULL);
    aadtoken_client_free(NULL);
    aadtoken_token_free(NULL);
    aadtoken_error_free(NULL);
    aadtoken_claims_free(NULL);
    aadtoken_request_free(NULL);
    aadtoken_request_cancel(NULL);
    aadtoken_token_file_keeper_stop(NULL);

    /* logging: NULL callback turns it off, a bad level is refused */
    CHECK(aadtoken_set_log_callback(AADTOKEN_LOG_TRACE, NULL, NULL, NULL) == AADTOKEN_OK, "NULL log callback");
    E100(aadtoken_set_log_callback(6, noop_log, NULL, &e_), "'min_level'");
    E100(aadtoken_set_log_callback(UINT32_MAX, noop_log, NULL, &e_), "'min_level'");

    aadtoken_config_free(cfg);
    aadtoken_client_free(client);
}

/* Invalid UTF-8, empty strings, a 1 MB string, and settings strings with separators, spaces and
 * unicode. */
static void phase_strings(void) {
    aadtoken_config *cfg = aadtoken_config_new();
    aadtoken_client *client = app_client();
    aadtoken_token *tok = NULL;
    aadtoken_error *err = NULL;
    const char bad_utf8[] = {'t', (char)0xC3, (char)0x28, 0};
    const char lone_cont[] = {(char)0x80, 0};
    const char overlong[] = {(char)0xC0, (char)0xAF, 0};
    const char surrogate[] = {(char)0xED, (char)0xA0, (char)0x80, 0};

    E100(aadtoken_config_set(cfg, bad_utf8, "x", &e_), "UTF-8");
    E100(aadtoken_config_set(cfg, "tenant_id", bad_utf8, &e_), "UTF-8");
    E100(aadtoken_config_set(cfg, "client_secret", lone_cont, &e_), "UTF-8");
    E100(aadtoken_config_set(cfg, "client_secret", overlong, &e_), "UTF-8");
    E100(aadtoken_config_set(cfg, "client_secret", surrogate, &e_), "UTF-8");
    E100(aadtoken_config_parse(cfg, bad_utf8, &e_), "UTF-8");
    E100(aadtoken_client_get_token(client, bad_utf8, &tok, &e_), "UTF-8");
    E100(aadtoken_client_write_token_file(client, NULL, overlong, &e_), "UTF-8");

    /* empty strings */
    {
        aadtoken_status st = aadtoken_config_set(cfg, "", "x", &err);
        expect_error("empty key", st, err, AADTOKEN_ERR_UNKNOWN_SETTING, NULL);
        err = NULL;
        st = aadtoken_config_set(cfg, "tenant_id", "", &err);
        expect_error("empty value", st, err, AADTOKEN_ERR_INVALID_SETTING, "'tenant_id'");
        err = NULL;
        CHECK(aadtoken_config_parse(cfg, "", NULL) == AADTOKEN_OK, "empty settings string");
        CHECK(aadtoken_config_parse(cfg, " ; ;; ", NULL) == AADTOKEN_OK, "only separators");
        E100(aadtoken_client_get_token(client, "", &tok, &e_), "'scopes'");
        E100(aadtoken_client_get_token(client, "   ", &tok, &e_), "'scopes'");
        E100(aadtoken_client_write_token_file(client, NULL, "", &e_), "'location'");
    }

    /* a 1 MB string as a value, a key, a settings string, scopes and a location */
    {
        size_t n = 1024 * 1024;
        char *big = malloc(n + 1);
        char *settings = malloc(n + 32);
        aadtoken_status st;
        memset(big, 'a', n);
        big[n] = 0;
        st = aadtoken_config_set(cfg, "client_secret", big, NULL);
        CHECK(st == AADTOKEN_OK, "a 1 MB secret is just a long secret: %u", st);
        st = aadtoken_config_set(cfg, "tenant_id", big, &err);
        expect_error("1 MB tenant", st, err, AADTOKEN_ERR_INVALID_SETTING, "'tenant_id'");
        err = NULL;
        st = aadtoken_config_set(cfg, big, "x", &err);
        expect_error("1 MB key", st, err, AADTOKEN_ERR_UNKNOWN_SETTING, NULL);
        err = NULL;
        snprintf(settings, 32, "client_secret=\"");
        memset(settings + 15, 'b', n);
        settings[15 + n] = 0;
        st = aadtoken_config_parse(cfg, settings, &err);
        expect_error("1 MB unterminated quote", st, err, AADTOKEN_ERR_INVALID_ARGUMENT, "unterminated");
        err = NULL;
        strcat(settings, "\"");
        CHECK(aadtoken_config_parse(cfg, settings, NULL) == AADTOKEN_OK, "1 MB quoted value");
        st = aadtoken_client_get_token(client, big, &tok, &err);
        CHECK(st != AADTOKEN_OK && tok == NULL && err != NULL, "1 MB scope: %u", st);
        aadtoken_error_free(err);
        err = NULL;
        st = aadtoken_client_write_token_file(client, NULL, big, &err);
        CHECK(st == AADTOKEN_ERR_FILE || st == AADTOKEN_ERR_INVALID_ARGUMENT, "1 MB location: %u (%s)", st,
              aadtoken_error_message(err));
        aadtoken_error_free(err);
        err = NULL;
        free(big);
        free(settings);
    }

    /* settings strings with embedded separators, whitespace and unicode */
    {
        aadtoken_config *c2 = app_config();
        aadtoken_client *c2client = NULL;
        aadtoken_status st;
        st = aadtoken_config_parse(c2, " client_secret = \"" "ignored;really=yes\" ; scope = \"  api://x/.default \" ;", &err);
        CHECK(st == AADTOKEN_OK, "quoted ; and =: %s", aadtoken_error_message(err));
        st = aadtoken_config_parse(c2, "\tTENANT_ID\t=\t11111111-1111-1111-1111-111111111111\t;\n", &err);
        CHECK(st == AADTOKEN_OK, "tabs and a newline around: %s", aadtoken_error_message(err));
        st = aadtoken_config_parse(c2, "client_secret=s\xC3\xA9\x63r\xE2\x82\xAC\xF0\x9F\x94\x91", &err);
        CHECK(st == AADTOKEN_OK, "unicode secret: %s", aadtoken_error_message(err));
        st = aadtoken_config_parse(c2, "t\xC3\xA9nant_id=x", &err);
        expect_error("unicode key", st, err, AADTOKEN_ERR_UNKNOWN_SETTING, NULL);
        err = NULL;
        st = aadtoken_config_parse(c2, "tenant_id=\xE2\x82\xAC", &err);
        expect_error("unicode tenant", st, err, AADTOKEN_ERR_INVALID_SETTING, "'tenant_id'");
        err = NULL;
        st = aadtoken_config_parse(c2, "scope=a;b", &err);
        expect_error("bare entry after ;", st, err, AADTOKEN_ERR_INVALID_ARGUMENT, "no '='");
        err = NULL;
        st = aadtoken_config_parse(c2, "==", &err);
        expect_error("==", st, err, AADTOKEN_ERR_INVALID_ARGUMENT, "empty key");
        err = NULL;
        st = aadtoken_config_parse(c2, "client_secret=\"a\\\"b\\\\\";timeout_ms= 5000 ", &err);
        CHECK(st == AADTOKEN_OK, "escapes: %s", aadtoken_error_message(err));
        st = aadtoken_config_set(c2, "scope", "api://x/.default\n", &err);
        CHECK(st == AADTOKEN_OK, "a trailing newline is space: %s", aadtoken_error_message(err));
        st = aadtoken_config_set(c2, "scope", "api://x/\x01.default", &err);
        expect_error("control character in a scope", st, err, AADTOKEN_ERR_INVALID_ARGUMENT, "'scopes'");
        err = NULL;
        /* Failed parses applied nothing: the client still builds (with the unicode secret). */
        st = aadtoken_client_new(c2, &c2client, &err);
        CHECK(st == AADTOKEN_OK, "client after odd settings: %s", aadtoken_error_message(err));
        aadtoken_client_free(c2client);
        aadtoken_config_free(c2);
    }

    aadtoken_config_free(cfg);
    aadtoken_client_free(client);
}

/* Calls in an unusual order. */
static void phase_order(void) {
    aadtoken_config *cfg = app_config();
    aadtoken_client *client = NULL;
    aadtoken_client *twin = NULL;
    aadtoken_token *tok = NULL, *tok2 = NULL;
    aadtoken_error *err = NULL;
    aadtoken_claims *claims = NULL;
    aadtoken_token_file_keeper *keeper = NULL;
    aadtoken_status st;
    const char *dir = env("AADTOKEN_TEST_DIR");

    CHECK(aadtoken_client_new(cfg, &client, NULL) == AADTOKEN_OK, "client");
    /* The config is freed before the client is ever used: the client copied it. */
    aadtoken_config_free(cfg);
    st = aadtoken_client_get_token(client, NULL, &tok, &err);
    CHECK(st == AADTOKEN_OK && tok != NULL, "get after the config was freed: %s", aadtoken_error_message(err));

    /* A client built twice from one config, then the config changed: the clients do not see it. */
    cfg = app_config();
    CHECK(aadtoken_client_new(cfg, &twin, NULL) == AADTOKEN_OK, "twin");
    CHECK(aadtoken_config_set(cfg, "client_secret", "changed-after", NULL) == AADTOKEN_OK, "change");
    st = aadtoken_client_refresh_token(twin, NULL, &tok2, &err);
    CHECK(st == AADTOKEN_OK, "the twin keeps its own secret: %s", aadtoken_error_message(err));
    aadtoken_config_free(cfg);

    /* A token outlives its client, claims outlive their token. */
    aadtoken_client_free(client);
    CHECK(aadtoken_token_len(tok) > 100 && strncmp(aadtoken_token_value(tok), "eyJ", 3) == 0, "token after client free");
    CHECK(aadtoken_token_claims(tok, &claims, NULL) == AADTOKEN_OK, "claims");
    aadtoken_token_free(tok);
    CHECK(strlen(aadtoken_claims_aud(claims)) > 0 && aadtoken_claims_exp(claims) > 0, "claims after token free");
    aadtoken_claims_free(claims);

    /* A keeper outlives its client; the client is freed first. */
    st = aadtoken_token_file_keeper_start(twin, NULL, dir, &keeper, &err);
    CHECK(st == AADTOKEN_OK, "keeper: %s", aadtoken_error_message(err));
    aadtoken_client_free(twin);
    CHECK(aadtoken_token_file_keeper_last_error(keeper, NULL) == AADTOKEN_OK, "keeper after client free");
    CHECK(strlen(aadtoken_token_file_keeper_path(keeper)) > 0, "keeper path");

    /* Shutdown while a keeper runs, then use the library again. */
    aadtoken_shutdown();
    aadtoken_shutdown();
    aadtoken_token_file_keeper_stop(keeper);
    client = app_client();
    st = aadtoken_client_refresh_token(client, NULL, &tok, &err);
    CHECK(st == AADTOKEN_OK, "after shutdown: %s", aadtoken_error_message(err));
    aadtoken_token_free(tok);
    aadtoken_token_free(tok2);
    aadtoken_client_free(client);
    aadtoken_shutdown();
}

/* 64 threads share one client while another thread forces refreshes (9: under the loop guard of
 * 10 a minute per identity and scopes). Every call succeeds with a token that is not expired. */
#define THREADS 64
static aadtoken_client *shared;
static volatile int stop_readers;

static void *reader(void *arg) {
    long calls = 0;
    (void)arg;
    while (!stop_readers || calls < 5) {
        aadtoken_token *t = NULL;
        aadtoken_error *e = NULL;
        aadtoken_status st = aadtoken_client_get_token(shared, NULL, &t, &e);
        CHECK(st == AADTOKEN_OK && t != NULL && aadtoken_token_expires_on(t) > time(NULL),
              "reader: %u %s", st, aadtoken_error_message(e));
        if (t != NULL) {
            const char *v = aadtoken_token_value(t);
            CHECK(v != NULL && strlen(v) == aadtoken_token_len(t), "value and length agree");
        }
        aadtoken_token_free(t);
        aadtoken_error_free(e);
        calls++;
        if (slow()) sleep_ms(5);
    }
    return (void *)calls;
}

static void *refresher(void *arg) {
    int i;
    (void)arg;
    for (i = 0; i < 9; i++) {
        aadtoken_token *t = NULL;
        aadtoken_error *e = NULL;
        aadtoken_status st = aadtoken_client_refresh_token(shared, NULL, &t, &e);
        CHECK(st == AADTOKEN_OK, "forced refresh %d: %u %s", i, st, aadtoken_error_message(e));
        aadtoken_token_free(t);
        aadtoken_error_free(e);
        sleep_ms(slow() ? 200 : 50);
    }
    return NULL;
}

static void phase_threads(void) {
    pthread_t readers[THREADS], r;
    long total = 0;
    int i;
    aadtoken_token *t = NULL;
    aadtoken_error *e = NULL;
    shared = app_client();
    /* A cached token first: a forced refresh that joined the readers' first request would not
     * count towards the loop guard. */
    CHECK(aadtoken_client_get_token(shared, NULL, &t, NULL) == AADTOKEN_OK, "first token");
    aadtoken_token_free(t);
    t = NULL;
    for (i = 0; i < THREADS; i++) pthread_create(&readers[i], NULL, reader, NULL);
    pthread_create(&r, NULL, refresher, NULL);
    pthread_join(r, NULL);
    stop_readers = 1;
    for (i = 0; i < THREADS; i++) {
        void *calls = NULL;
        pthread_join(readers[i], &calls);
        total += (long)calls;
    }
    /* The tenth forced refresh of the minute still passes; the eleventh is refused locally. */
    CHECK(aadtoken_client_refresh_token(shared, NULL, &t, NULL) == AADTOKEN_OK, "10th");
    aadtoken_token_free(t);
    t = NULL;
    {
        aadtoken_status st = aadtoken_client_refresh_token(shared, NULL, &t, &e);
        expect_error("11th forced refresh", st, e, AADTOKEN_ERR_TOO_MANY_REFRESHES, "AADSTS50196");
        CHECK(t == NULL, "no token from a refused refresh");
    }
    printf("threads: %d readers made %ld calls beside 9 forced refreshes\n", THREADS, total);
    aadtoken_client_free(shared);
}

/* Async requests racing cancel, free and shutdown: each callback runs exactly once. */
#define ASYNC_N 48
static int callbacks[ASYNC_N];
static pthread_mutex_t cb_lock = PTHREAD_MUTEX_INITIALIZER;

static void count_cb(void *userdata, aadtoken_status status, aadtoken_token *token, aadtoken_error *error) {
    int i = (int)(intptr_t)userdata;
    CHECK(status == AADTOKEN_OK || status == AADTOKEN_ERR_CANCELLED, "async %d status %u", i, status);
    CHECK((status == AADTOKEN_OK) == (token != NULL) && (status == AADTOKEN_OK) == (error == NULL),
          "async %d: token xor error", i);
    pthread_mutex_lock(&cb_lock);
    callbacks[i]++;
    pthread_mutex_unlock(&cb_lock);
    aadtoken_token_free(token);
    aadtoken_error_free(error);
}

static void phase_async(void) {
    int round, i, n = slow() ? 16 : ASYNC_N;
    for (round = 0; round < 3; round++) {
        aadtoken_client *client = app_client();
        aadtoken_request *reqs[ASYNC_N];
        memset(callbacks, 0, sizeof callbacks);
        for (i = 0; i < n; i++) {
            aadtoken_status st = aadtoken_client_get_token_async(client, i % 2 ? NULL : env("AADTOKEN_TEST_SCOPE"),
                                                                 count_cb, (void *)(intptr_t)i, &reqs[i], NULL);
            CHECK(st == AADTOKEN_OK, "async start %d", i);
            if (i % 3 == 0) aadtoken_request_cancel(reqs[i]);
            if (i % 4 == 0) { aadtoken_request_free(reqs[i]); reqs[i] = NULL; }
        }
        /* The client may go while requests are pending: they hold what they need. */
        aadtoken_client_free(client);
        if (round == 1) aadtoken_shutdown();
        for (i = 0; i < n; i++) {
            aadtoken_request_cancel(reqs[i]); /* after completion: harmless */
            aadtoken_request_cancel(reqs[i]);
        }
        if (round == 2) aadtoken_shutdown();
        for (i = 0; i < 400; i++) {
            int done = 0, j;
            pthread_mutex_lock(&cb_lock);
            for (j = 0; j < n; j++) done += callbacks[j] > 0;
            pthread_mutex_unlock(&cb_lock);
            if (done == n) break;
            sleep_ms(25);
        }
        for (i = 0; i < n; i++) {
            CHECK(callbacks[i] == 1, "round %d: callback %d ran %d times", round, i, callbacks[i]);
            aadtoken_request_free(reqs[i]);
        }
    }
    aadtoken_shutdown();
}

/* The log callback: records arrive with their level, strings and size; a callback that calls
 * back into the library does not recurse or deadlock; NULL turns it off. */
struct log_seen {
    pthread_mutex_t lock;
    int records, above_level, bad, with_correlation, reentered;
    aadtoken_client *client;
};

static void on_log(void *userdata, const aadtoken_log_record *r) {
    struct log_seen *s = userdata;
    aadtoken_token *t = NULL;
    pthread_mutex_lock(&s->lock);
    s->records++;
    if (r->struct_size < sizeof(aadtoken_log_record) || r->target == NULL || r->message == NULL ||
        strncmp(r->target, "aadtoken", 8) != 0 || strstr(r->message, "eyJ") != NULL ||
        strstr(r->message, env("AADTOKEN_TEST_SECRET")) != NULL) {
        s->bad++;
    }
    if (r->level < AADTOKEN_LOG_ERROR || r->level > AADTOKEN_LOG_DEBUG) s->above_level++;
    if (r->correlation_id != NULL && strlen(r->correlation_id) == 36) s->with_correlation++;
    pthread_mutex_unlock(&s->lock);
    /* Re-entrancy: a cached get from inside the callback (its own records are dropped). */
    if (s->client != NULL && aadtoken_client_get_token(s->client, NULL, &t, NULL) == AADTOKEN_OK) {
        pthread_mutex_lock(&s->lock);
        s->reentered++;
        pthread_mutex_unlock(&s->lock);
    }
    aadtoken_token_free(t);
}

static void phase_log(void) {
    struct log_seen seen;
    aadtoken_client *client = app_client();
    aadtoken_token *t = NULL;
    int before;
    memset(&seen, 0, sizeof seen);
    pthread_mutex_init(&seen.lock, NULL);
    CHECK(aadtoken_client_get_token(client, NULL, &t, NULL) == AADTOKEN_OK, "first token");
    aadtoken_token_free(t);
    seen.client = client;
    CHECK(aadtoken_set_log_callback(AADTOKEN_LOG_DEBUG, on_log, &seen, NULL) == AADTOKEN_OK, "set callback");
    CHECK(aadtoken_client_refresh_token(client, NULL, &t, NULL) == AADTOKEN_OK, "refresh");
    aadtoken_token_free(t);
    CHECK(aadtoken_client_get_token(client, NULL, &t, NULL) == AADTOKEN_OK, "cached");
    aadtoken_token_free(t);
    pthread_mutex_lock(&seen.lock);
    CHECK(seen.records >= 4, "records: %d", seen.records);
    CHECK(seen.bad == 0, "malformed or secret records: %d", seen.bad);
    CHECK(seen.above_level == 0, "records above the level: %d", seen.above_level);
    CHECK(seen.with_correlation >= 2, "request records carry the correlation id: %d", seen.with_correlation);
    CHECK(seen.reentered >= 1, "the callback called the library: %d", seen.reentered);
    before = seen.records;
    pthread_mutex_unlock(&seen.lock);
    /* Off: nothing more arrives. */
    CHECK(aadtoken_set_log_callback(AADTOKEN_LOG_OFF, on_log, &seen, NULL) == AADTOKEN_OK, "level off");
    CHECK(aadtoken_client_refresh_token(client, NULL, &t, NULL) == AADTOKEN_OK, "refresh, logging off");
    aadtoken_token_free(t);
    CHECK(seen.records == before, "no records when off");
    CHECK(aadtoken_set_log_callback(AADTOKEN_LOG_ERROR, on_log, &seen, NULL) == AADTOKEN_OK, "errors only");
    CHECK(aadtoken_client_get_token(client, NULL, &t, NULL) == AADTOKEN_OK, "cached, errors only");
    aadtoken_token_free(t);
    CHECK(seen.records == before, "no error records for a success");
    CHECK(aadtoken_set_log_callback(AADTOKEN_LOG_ERROR, NULL, NULL, NULL) == AADTOKEN_OK, "unset");
    aadtoken_client_free(client);
    aadtoken_shutdown();
    pthread_mutex_destroy(&seen.lock);
}

/* AADTOKEN_LOG + AADTOKEN_LOG_FILE (set by the harness): without a callback, records go to the
 * file, created 0600, and never to stdout/stderr. */
static void phase_logfile(void) {
    aadtoken_client *client = app_client();
    aadtoken_token *t = NULL;
    const char *path = env("AADTOKEN_LOG_FILE");
    struct stat st;
    char buf[65536];
    size_t n;
    FILE *f;
    CHECK(aadtoken_client_get_token(client, NULL, &t, NULL) == AADTOKEN_OK, "token");
    aadtoken_token_free(t);
    aadtoken_client_free(client);
    CHECK(stat(path, &st) == 0, "the log file exists");
    CHECK((st.st_mode & 0777) == 0600, "mode %o", (unsigned)(st.st_mode & 0777));
    f = fopen(path, "r");
    CHECK(f != NULL, "open the log");
    if (f != NULL) {
        n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
        CHECK(strstr(buf, "DEBUG aadtoken::core::http: POST ") != NULL && strstr(buf, "request sent [correlation_id=") != NULL,
              "a request line: %.300s", buf);
        CHECK(strstr(buf, "new token cached") != NULL, "a token line");
        CHECK(strstr(buf, "eyJ") == NULL && strstr(buf, env("AADTOKEN_TEST_SECRET")) == NULL, "no token, no secret");
        CHECK(strstr(buf, "TRACE") == NULL, "nothing above debug");
    }
}

int main(int argc, char **argv) {
    static const struct test_phase phases[] = {
        {"null", phase_null},       {"strings", phase_strings}, {"order", phase_order},     {"threads", phase_threads},
        {"async", phase_async},     {"log", phase_log},         {"logfile", phase_logfile},
    };
    return run_phase_of(argc, argv, phases, sizeof phases / sizeof phases[0], 1);
}
