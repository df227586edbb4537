/*
 * C tests of the aadtoken ABI, driven by tests/c_suites/abi.rs against the mock Entra ID server.
 *
 * Usage: abi_test PHASE
 * Settings come from the environment the harness sets:
 *   AADTOKEN_TEST_AUTHORITY  mock base URL (https://127.0.0.1:PORT)
 *   AADTOKEN_TEST_CA         the mock's CA file
 *   AADTOKEN_TEST_TENANT, AADTOKEN_TEST_CLIENT, AADTOKEN_TEST_SECRET, AADTOKEN_TEST_SCOPE,
 *   AADTOKEN_TEST_OTHER_SCOPE
 * Each phase prints one line per check and exits 0 only if every check passed. The harness
 * checks the mock's request counters between phases.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <pthread.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aadtoken.h"
#include "common.h"
#include "library_threads.h"

static int count_char(const char *s, char c) {
    int n = 0;
    for (; *s; s++) n += (*s == c);
    return n;
}

/* A token was obtained through the C ABI and looks like a JWT. */
static void phase_success(void) {
    aadtoken_client *client = registered_client();
    aadtoken_token *tok = NULL;
    aadtoken_error *err = NULL;
    aadtoken_status st = aadtoken_client_get_token(client, NULL, &tok, &err);
    CHECK(st == AADTOKEN_OK, "get_token: %s", aadtoken_error_message(err));
    CHECK(err == NULL, "err untouched on success");
    if (tok != NULL) {
        const char *value = aadtoken_token_value(tok);
        CHECK(value != NULL && strlen(value) == aadtoken_token_len(tok), "value is NUL-terminated, len matches");
        CHECK(count_char(value, '.') == 2 && strncmp(value, "eyJ", 3) == 0, "value is a JWT");
        CHECK(aadtoken_token_expires_on(tok) > 1700000000, "expires_on is Unix seconds: %lld",
              (long long)aadtoken_token_expires_on(tok));
        CHECK(aadtoken_token_refresh_on(tok) <= aadtoken_token_expires_on(tok), "refresh_on <= expires_on");
    }
    aadtoken_token_free(tok);
    aadtoken_error_free(err);
    aadtoken_client_free(client);
}

/* The second get is served from the cache; refresh always asks; tokens are snapshots. */
static void phase_cache(void) {
    aadtoken_client *client = registered_client();
    aadtoken_client *twin = registered_client();
    aadtoken_token *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;
    CHECK(aadtoken_client_get_token(client, NULL, &a, NULL) == AADTOKEN_OK, "first get");
    CHECK(aadtoken_client_get_token(client, NULL, &b, NULL) == AADTOKEN_OK, "second get");
    CHECK(aadtoken_client_get_token(twin, env("AADTOKEN_TEST_SCOPE"), &e, NULL) == AADTOKEN_OK, "twin get");
    if (a && b && e) {
        CHECK(strcmp(aadtoken_token_value(a), aadtoken_token_value(b)) == 0, "second get is the cached token");
        CHECK(strcmp(aadtoken_token_value(a), aadtoken_token_value(e)) == 0, "a second client shares the cache");
    }
    CHECK(aadtoken_client_refresh_token(client, NULL, &c, NULL) == AADTOKEN_OK, "refresh");
    CHECK(aadtoken_client_get_token(client, NULL, &d, NULL) == AADTOKEN_OK, "get after refresh");
    if (a && c && d) {
        CHECK(strcmp(aadtoken_token_value(a), aadtoken_token_value(c)) != 0, "refresh gives a new token");
        CHECK(strcmp(aadtoken_token_value(c), aadtoken_token_value(d)) == 0, "refresh replaced the cached token");
        CHECK(count_char(aadtoken_token_value(a), '.') == 2, "an old snapshot stays readable after refresh");
    }
    aadtoken_token_free(a);
    aadtoken_token_free(b);
    aadtoken_token_free(c);
    aadtoken_token_free(d);
    aadtoken_token_free(e);
    aadtoken_client_free(client);
    aadtoken_client_free(twin);
}

/* A token for another scope of the same identity. */
static void phase_other_scope(void) {
    aadtoken_client *client = registered_client();
    aadtoken_token *tok = NULL;
    aadtoken_error *err = NULL;
    aadtoken_status st = aadtoken_client_get_token(client, env("AADTOKEN_TEST_OTHER_SCOPE"), &tok, &err);
    CHECK(st == AADTOKEN_OK && tok != NULL, "get other scope: %s", aadtoken_error_message(err));
    aadtoken_token_free(tok);
    aadtoken_error_free(err);
    aadtoken_client_free(client);
}

/* A wrong secret: status, OAuth code, AADSTS, correlation id, HTTP status; no secret shown. */
static void phase_wrong_secret(void) {
    const char *wrong = "wrong-secret-3f9a7c";
    aadtoken_client *client = mock_client(wrong, 1, NULL);
    aadtoken_token *tok = NULL;
    aadtoken_error *err = NULL;
    aadtoken_status st = aadtoken_client_get_token(client, NULL, &tok, &err);
    CHECK(st == AADTOKEN_ERR_INVALID_CLIENT, "status %u", st);
    CHECK(tok == NULL, "out not written on failure");
    CHECK(err != NULL, "error object");
    if (err != NULL) {
        CHECK(aadtoken_error_status(err) == st, "error status matches");
        CHECK(aadtoken_error_aadsts(err) == 7000215, "aadsts %u", aadtoken_error_aadsts(err));
        CHECK(aadtoken_error_aadsts_count(err) >= 1 && aadtoken_error_aadsts_at(err, 0) == 7000215, "aadsts list");
        CHECK(aadtoken_error_aadsts_at(err, 99) == 0, "aadsts out of range is 0");
        CHECK(strcmp(aadtoken_error_oauth_code(err), "invalid_client") == 0, "oauth code %s", aadtoken_error_oauth_code(err));
        CHECK(strlen(aadtoken_error_correlation_id(err)) == 36, "correlation id '%s'", aadtoken_error_correlation_id(err));
        CHECK(strlen(aadtoken_error_trace_id(err)) > 0, "trace id");
        CHECK(aadtoken_error_http_status(err) == 401, "http status %u", aadtoken_error_http_status(err));
        CHECK(strstr(aadtoken_error_message(err), "AADSTS7000215") != NULL, "message: %s", aadtoken_error_message(err));
        CHECK(strstr(aadtoken_error_message(err), wrong) == NULL, "the secret is not in the message");
        printf("wrong-secret message: %s\n", aadtoken_error_message(err));
    }
    aadtoken_error_free(err);
    aadtoken_client_free(client);
}

/* The server's certificate is from a CA the client does not trust. */
static void phase_untrusted(void) {
    aadtoken_client *client = mock_client(env("AADTOKEN_TEST_SECRET"), 0, NULL);
    aadtoken_token *tok = NULL;
    aadtoken_error *err = NULL;
    aadtoken_status st = aadtoken_client_get_token(client, NULL, &tok, &err);
    CHECK(st == AADTOKEN_ERR_TLS, "status %u (%s)", st, aadtoken_error_message(err));
    CHECK(tok == NULL, "no token");
    CHECK(strstr(aadtoken_error_message(err), "ca_file") != NULL, "hint names ca_file: %s", aadtoken_error_message(err));
    aadtoken_error_free(err);
    aadtoken_client_free(client);
}

/* No ca_file, and the mock's CA is the system's CA bundle (the harness sets SSL_CERT_FILE, where
 * OpenSSL, and so aadtoken, looks for the bundle): the bundle stage of the trust check accepts
 * the server, and the token comes back. */
static void phase_system_bundle(void) {
    aadtoken_client *client = mock_client(env("AADTOKEN_TEST_SECRET"), 0, NULL);
    aadtoken_token *tok = NULL;
    aadtoken_error *err = NULL;
    aadtoken_status st = aadtoken_client_get_token(client, NULL, &tok, &err);
    CHECK(st == AADTOKEN_OK, "status %u (%s)", st, err ? aadtoken_error_message(err) : "");
    aadtoken_error_free(err);
    aadtoken_token_free(tok);
    aadtoken_client_free(client);
}

/* Configuration and argument errors: statuses and messages that name the culprit. */
static void phase_args(void) {
    aadtoken_config *cfg = aadtoken_config_new();
    aadtoken_client *client = NULL;
    aadtoken_token *tok = NULL;
    char bad_utf8[] = {'t', (char)0xC3, (char)0x28, 0};

    CHECK(aadtoken_config_set(cfg, "no_such_key", "1", NULL) == AADTOKEN_ERR_UNKNOWN_SETTING, "unknown key, err NULL");
    EXPECT_ERR(aadtoken_config_set(cfg, "no_such_key", "1", &err), AADTOKEN_ERR_UNKNOWN_SETTING, "no_such_key");
    EXPECT_ERR(aadtoken_config_set(NULL, "tenant_id", "x", &err), AADTOKEN_ERR_INVALID_ARGUMENT, "config");
    EXPECT_ERR(aadtoken_config_set(cfg, NULL, "x", &err), AADTOKEN_ERR_INVALID_ARGUMENT, "key");
    EXPECT_ERR(aadtoken_config_set(cfg, "tenant_id", NULL, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "value");
    EXPECT_ERR(aadtoken_config_set(cfg, bad_utf8, "x", &err), AADTOKEN_ERR_INVALID_ARGUMENT, "UTF-8");
    EXPECT_ERR(aadtoken_config_set(cfg, "tenant_id", bad_utf8, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "value");
    EXPECT_ERR(aadtoken_config_set(cfg, "tenant_id", "", &err), AADTOKEN_ERR_INVALID_SETTING, "tenant_id");
    EXPECT_ERR(aadtoken_config_set(cfg, "authority_host", "http://login.microsoftonline.com", &err),
               AADTOKEN_ERR_INVALID_SETTING, "authority_host");
    EXPECT_ERR(aadtoken_config_set(cfg, "timeout_ms", "-1", &err), AADTOKEN_ERR_INVALID_SETTING, "timeout_ms");
    EXPECT_ERR(aadtoken_config_parse(cfg, "tenant_id=t;bogus=1", &err), AADTOKEN_ERR_UNKNOWN_SETTING, "bogus");
    EXPECT_ERR(aadtoken_config_parse(cfg, "tenant_id", &err), AADTOKEN_ERR_INVALID_ARGUMENT, "settings");
    EXPECT_ERR(aadtoken_config_parse(cfg, NULL, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "settings");
    EXPECT_ERR(aadtoken_config_load_env(NULL, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "config");

    /* A client needs tenant, client id and a credential; the message names what is missing. */
    EXPECT_ERR(aadtoken_client_new(cfg, &client, &err), AADTOKEN_ERR_MISSING_SETTING, "tenant_id");
    CHECK(client == NULL, "out not written on failure");
    CHECK(aadtoken_config_parse(cfg, "tenant_id=t1; client_id = c1", NULL) == AADTOKEN_OK, "parse");
    EXPECT_ERR(aadtoken_client_new(cfg, &client, &err), AADTOKEN_ERR_MISSING_SETTING, "client_secret");
    CHECK(aadtoken_config_set(cfg, "client_secret", "s", NULL) == AADTOKEN_OK, "set secret");
    CHECK(aadtoken_config_set(cfg, "ca_file", "/nonexistent/ca.pem", NULL) == AADTOKEN_OK, "set ca_file");
    EXPECT_ERR(aadtoken_client_new(cfg, &client, &err), AADTOKEN_ERR_INVALID_SETTING, "ca_file");
    CHECK(aadtoken_config_parse(cfg, "ca_file=\"" "\";", NULL) == AADTOKEN_ERR_INVALID_SETTING, "empty quoted value");
    EXPECT_ERR(aadtoken_client_new(NULL, &client, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "config");

    /* A client whose config was freed keeps working (it copied the settings). */
    aadtoken_config_free(cfg);
    client = registered_client();
    EXPECT_ERR(aadtoken_client_new(NULL, NULL, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "config");
    EXPECT_ERR(aadtoken_client_get_token(NULL, NULL, &tok, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "client");
    EXPECT_ERR(aadtoken_client_get_token(client, NULL, NULL, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "out");
    EXPECT_ERR(aadtoken_client_get_token(client, bad_utf8, &tok, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "scopes");
    EXPECT_ERR(aadtoken_client_get_token(client, "   ", &tok, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "scopes");
    EXPECT_ERR(aadtoken_client_refresh_token(NULL, NULL, &tok, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "client");
    EXPECT_ERR(aadtoken_client_refresh_token(client, NULL, NULL, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "out");
    CHECK(tok == NULL, "out never written on failure");
    aadtoken_client_free(client);

    /* NULL is fine for every _free and every accessor. */
    aadtoken_config_free(NULL);
    aadtoken_client_free(NULL);
    aadtoken_token_free(NULL);
    aadtoken_error_free(NULL);
    CHECK(aadtoken_token_value(NULL) == NULL && aadtoken_token_len(NULL) == 0, "token accessors on NULL");
    CHECK(aadtoken_token_expires_on(NULL) == 0 && aadtoken_token_refresh_on(NULL) == 0, "token times on NULL");
    CHECK(aadtoken_error_status(NULL) == AADTOKEN_ERR_INVALID_ARGUMENT, "error status on NULL");
    CHECK(strcmp(aadtoken_error_message(NULL), "") == 0 && strcmp(aadtoken_error_oauth_code(NULL), "") == 0, "error strings on NULL");
    CHECK(strcmp(aadtoken_error_correlation_id(NULL), "") == 0 && strcmp(aadtoken_error_trace_id(NULL), "") == 0, "ids on NULL");
    CHECK(aadtoken_error_aadsts(NULL) == 0 && aadtoken_error_aadsts_count(NULL) == 0 && aadtoken_error_http_status(NULL) == 0 &&
          aadtoken_error_retry_after(NULL) == 0, "numbers on NULL");

    /* Static texts. */
    CHECK(strcmp(aadtoken_version(), AADTOKEN_VERSION_STRING) == 0, "version %s", aadtoken_version());
    {
        /* Every status of the header: abi_statuses.inc is generated from aadtoken.h by the
         * harness (tests/c_suites/abi.rs), one `{AADTOKEN_X, "AADTOKEN_X"},` a line. */
        static const struct {
            aadtoken_status status;
            const char *name;
        } all[] = {
#include "abi_statuses.inc"
        };
        size_t i;
        for (i = 0; i < sizeof all / sizeof all[0]; i++) {
            const char *s = aadtoken_status_str(all[i].status);
            size_t len = strlen(all[i].name), k;
            CHECK(s != NULL && strncmp(s, all[i].name, len) == 0 && strncmp(s + len, ": ", 2) == 0 && strlen(s) > len + 2,
                  "status_str(%u) = %s, named %s", all[i].status, s, all[i].name);
            CHECK(strncmp(s, "AADTOKEN_ERR_UNKNOWN:", 21) != 0, "status_str(%u) is known", all[i].status);
            for (k = 0; k < i; k++) {
                CHECK(all[k].status != all[i].status, "%s and %s are distinct", all[k].name, all[i].name);
                CHECK(s != aadtoken_status_str(all[k].status) && strcmp(s, aadtoken_status_str(all[k].status)) != 0,
                      "status_str of %s and %s differ", all[k].name, all[i].name);
            }
        }
        CHECK(strncmp(aadtoken_status_str(12345), "AADTOKEN_ERR_UNKNOWN:", 21) == 0, "unknown status text");
    }
}

/* Settings from the Azure SDK environment variables. */
static void phase_env(void) {
    aadtoken_config *cfg = aadtoken_config_new();
    aadtoken_client *client = NULL;
    aadtoken_token *tok = NULL;
    aadtoken_error *err = NULL;
    setenv("AZURE_TENANT_ID", env("AADTOKEN_TEST_TENANT"), 1);
    setenv("AZURE_CLIENT_ID", env("AADTOKEN_TEST_CLIENT"), 1);
    setenv("AZURE_CLIENT_SECRET", env("AADTOKEN_TEST_SECRET"), 1);
    setenv("AZURE_AUTHORITY_HOST", env("AADTOKEN_TEST_AUTHORITY"), 1);
    CHECK(aadtoken_config_load_env(cfg, &err) == AADTOKEN_OK, "load_env: %s", aadtoken_error_message(err));
    CHECK(aadtoken_config_set(cfg, "ca_file", env("AADTOKEN_TEST_CA"), NULL) == AADTOKEN_OK, "ca_file");
    CHECK(aadtoken_client_new(cfg, &client, &err) == AADTOKEN_OK, "client_new: %s", aadtoken_error_message(err));
    CHECK(aadtoken_client_get_token(client, env("AADTOKEN_TEST_SCOPE"), &tok, &err) == AADTOKEN_OK, "get: %s",
          aadtoken_error_message(err));
    aadtoken_token_free(tok);
    aadtoken_client_free(client);
    aadtoken_config_free(cfg);
    aadtoken_error_free(err);

    cfg = aadtoken_config_new();
    setenv("AZURE_AUTHORITY_HOST", "http://insecure.example", 1);
    EXPECT_ERR(aadtoken_config_load_env(cfg, &err), AADTOKEN_ERR_INVALID_SETTING, "AZURE_AUTHORITY_HOST");
    aadtoken_config_free(cfg);
}

/* Many threads share one client: every call succeeds, one request in all (checked by the harness). */
#define THREADS 8
#define CALLS 200
static aadtoken_client *shared;
static const char *first_value_seen[THREADS];

static void *worker(void *arg) {
    int id = (int)(intptr_t)arg, i, bad = 0;
    for (i = 0; i < CALLS; i++) {
        aadtoken_token *tok = NULL;
        if (aadtoken_client_get_token(shared, NULL, &tok, NULL) != AADTOKEN_OK || tok == NULL ||
            aadtoken_token_len(tok) == 0) {
            bad++;
        } else if (i == 0) {
            first_value_seen[id] = strdup(aadtoken_token_value(tok));
        }
        aadtoken_token_free(tok);
    }
    return (void *)(intptr_t)bad;
}

static void phase_threads(void) {
    pthread_t t[THREADS];
    int i;
    shared = registered_client();
    for (i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
    for (i = 0; i < THREADS; i++) {
        void *bad = NULL;
        pthread_join(t[i], &bad);
        CHECK(bad == NULL, "thread %d had %d failures", i, (int)(intptr_t)bad);
    }
    for (i = 1; i < THREADS; i++) {
        CHECK(first_value_seen[i] && first_value_seen[0] && strcmp(first_value_seen[i], first_value_seen[0]) == 0,
              "thread %d saw the same token", i);
    }
    for (i = 0; i < THREADS; i++) free((void *)first_value_seen[i]);
    aadtoken_client_free(shared);
}

/* ---- async: the callback runs once, on a library thread, and owns what it is given ---- */
static void phase_async(void) {
    aadtoken_client *client = registered_client();
    aadtoken_request *req = NULL;
    aadtoken_error *err = NULL;
    struct outcome o;
    outcome_init(&o);
    CHECK(aadtoken_client_get_token_async(client, NULL, on_token, &o, &req, &err) == AADTOKEN_OK, "start: %s",
          aadtoken_error_message(err));
    outcome_wait(&o);
    CHECK(o.calls == 1 && o.status == AADTOKEN_OK && o.token_len > 0, "callback with a token (status %u)", o.status);
    CHECK(!o.on_caller_thread, "callback on a library thread");
    aadtoken_request_cancel(req); /* finished: no effect */
    aadtoken_request_free(req);
    sleep_ms(200);
    CHECK(o.calls == 1, "exactly one callback");

    /* Fire and forget (no request handle), and argument errors that start nothing. */
    outcome_init(&o);
    CHECK(aadtoken_client_get_token_async(client, NULL, on_token, &o, NULL, NULL) == AADTOKEN_OK, "start");
    outcome_wait(&o);
    CHECK(o.status == AADTOKEN_OK, "cached token through the async path");
    EXPECT_ERR(aadtoken_client_get_token_async(client, NULL, NULL, &o, NULL, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "callback");
    EXPECT_ERR(aadtoken_client_get_token_async(NULL, NULL, on_token, &o, NULL, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "client");
    EXPECT_ERR(aadtoken_client_get_token_async(client, "", on_token, &o, NULL, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "scopes");
    aadtoken_request_cancel(NULL);
    aadtoken_request_free(NULL);
    aadtoken_client_free(client);
}

/* The harness sets a 3 s mock latency: cancel before the answer. */
static void phase_async_cancel(void) {
    aadtoken_client *client = registered_client();
    aadtoken_request *req = NULL;
    struct outcome o;
    outcome_init(&o);
    CHECK(aadtoken_client_get_token_async(client, NULL, on_token, &o, &req, NULL) == AADTOKEN_OK, "start");
    sleep_ms(100);
    aadtoken_request_cancel(req);
    outcome_wait(&o);
    CHECK(o.calls == 1 && o.status == AADTOKEN_ERR_CANCELLED, "cancelled (status %u)", o.status);
    aadtoken_request_free(req);

    /* A request still pending at shutdown is called back with CANCELLED. */
    outcome_init(&o);
    CHECK(aadtoken_client_get_token_async(client, env("AADTOKEN_TEST_OTHER_SCOPE"), on_token, &o, NULL, NULL) == AADTOKEN_OK,
          "start");
    sleep_ms(100);
    aadtoken_shutdown();
    outcome_wait(&o);
    CHECK(o.calls == 1 && o.status == AADTOKEN_ERR_CANCELLED, "cancelled by shutdown (status %u)", o.status);
    aadtoken_client_free(client);
}

/* ---- threads of the library, by name, from /proc (library_threads.h) ---- */

static int all_threads(void) {
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;
    if (d == NULL) return -1;
    while ((e = readdir(d)) != NULL) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void phase_shutdown(void) {
    aadtoken_client *client = registered_client();
    aadtoken_token *tok = NULL;
    CHECK(library_threads() == 0 && all_threads() == 1, "no library thread before the first request");
    CHECK(aadtoken_client_get_token(client, NULL, &tok, NULL) == AADTOKEN_OK, "get");
    aadtoken_token_free(tok);
    tok = NULL;
    CHECK(library_threads() == 1, "idle: one library thread (%d)", library_threads());
    aadtoken_shutdown();
    CHECK(all_threads() == 1, "after shutdown only the host's thread is left (%d)", all_threads());
    aadtoken_shutdown(); /* again: nothing to do */
    CHECK(aadtoken_client_get_token(client, NULL, &tok, NULL) == AADTOKEN_OK, "cached token after shutdown");
    aadtoken_token_free(tok);
    tok = NULL;
    CHECK(aadtoken_client_refresh_token(client, NULL, &tok, NULL) == AADTOKEN_OK, "network use after shutdown works");
    aadtoken_token_free(tok);
    aadtoken_shutdown();
    CHECK(all_threads() == 1, "and shuts down again (%d)", all_threads());
    aadtoken_client_free(client);
}

/* ---- fork: the child gets tokens (cached and new); the parent keeps working ---- */
static void phase_fork(void) {
    aadtoken_client *client = registered_client();
    aadtoken_token *tok = NULL;
    pid_t pid;
    int status = -1;
    CHECK(aadtoken_client_get_token(client, NULL, &tok, NULL) == AADTOKEN_OK, "parent get");
    aadtoken_token_free(tok);
    pid = fork();
    if (pid == 0) {
        int bad = 0;
        alarm(20); /* a hang is a failure, not a stuck test */
        tok = NULL;
        bad |= aadtoken_client_get_token(client, NULL, &tok, NULL) != AADTOKEN_OK; /* cached */
        aadtoken_token_free(tok);
        tok = NULL;
        bad |= aadtoken_client_refresh_token(client, NULL, &tok, NULL) != AADTOKEN_OK; /* network */
        aadtoken_token_free(tok);
        _exit(bad ? 3 : 0);
    }
    CHECK(pid > 0, "fork");
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child got tokens (status %d)", status);
    tok = NULL;
    CHECK(aadtoken_client_refresh_token(client, NULL, &tok, NULL) == AADTOKEN_OK, "parent still works after the fork");
    aadtoken_token_free(tok);
    aadtoken_client_free(client);
}

/* ---- fork while another thread waits for a token (the mock answers after 1.5 s): the child gets
 * its own token at once (it never waits for the parent's request, which is not its own); the
 * parent's waiting thread gets its token ---- */
struct inflight {
    aadtoken_client *client;
    aadtoken_status status;
};

static void *inflight_get(void *p) {
    struct inflight *a = p;
    aadtoken_token *tok = NULL;
    a->status = aadtoken_client_get_token(a->client, NULL, &tok, NULL);
    aadtoken_token_free(tok);
    return NULL;
}

static void phase_fork_inflight(void) {
    struct inflight a;
    pthread_t t;
    pid_t pid;
    int status = -1;
    a.client = registered_client();
    a.status = AADTOKEN_ERR_INTERNAL;
    pthread_create(&t, NULL, inflight_get, &a);
    sleep_ms(300); /* the request is on the wire, the mock holds its answer */
    pid = fork();
    if (pid == 0) {
        aadtoken_token *tok = NULL;
        int bad;
        alarm(20); /* a hang is a failure, not a stuck test */
        bad = aadtoken_client_get_token(a.client, NULL, &tok, NULL) != AADTOKEN_OK;
        bad |= tok == NULL || aadtoken_token_len(tok) == 0;
        aadtoken_token_free(tok);
        _exit(bad ? 3 : 0);
    }
    CHECK(pid > 0, "fork");
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child got its own token (status %d)", status);
    pthread_join(t, NULL);
    CHECK(a.status == AADTOKEN_OK, "the parent's waiting thread got its token (%d)", (int)a.status);
    aadtoken_client_free(a.client);
}

int main(int argc, char **argv) {
    static const struct test_phase phases[] = {
        {"success", phase_success},
        {"cache", phase_cache},
        {"other-scope", phase_other_scope},
        {"wrong-secret", phase_wrong_secret},
        {"untrusted", phase_untrusted},
        {"system-bundle", phase_system_bundle},
        {"args", phase_args},
        {"env", phase_env},
        {"threads", phase_threads},
        {"async", phase_async},
        {"async-cancel", phase_async_cancel},
        {"shutdown", phase_shutdown},
        {"fork", phase_fork},
        {"fork-inflight", phase_fork_inflight},
    };
    return run_phase_of(argc, argv, phases, sizeof phases / sizeof phases[0], 0);
}
