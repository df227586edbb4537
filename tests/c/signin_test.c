/*
 * C tests of person sign-in through the aadtoken ABI, driven by tests/c_suites/signin.rs against the
 * mock Entra ID server. Nobody signs in: the device-code prompt callback approves (or denies)
 * the code through the mock's /_mock/ route, and the open-URL callback plays the browser — it
 * opens the authorize URL at the mock (which signs in at once and redirects), then follows the
 * redirect to aadtoken's loopback listener with a plain HTTP request from this program.
 *
 * Usage: signin_test PHASE
 * Settings come from the environment the harness sets:
 *   AADTOKEN_TEST_AUTHORITY, AADTOKEN_TEST_CA, AADTOKEN_TEST_TENANT, AADTOKEN_TEST_CLIENT (the
 *   public client), AADTOKEN_TEST_SCOPE, AADTOKEN_TEST_OTHER_SCOPE, AADTOKEN_TEST_USER,
 *   AADTOKEN_TEST_BROWSER (the aadtoken-mock-browser program), AADTOKEN_TEST_CACHE (cache_file),
 *   AADTOKEN_TEST_APP_CLIENT and AADTOKEN_TEST_SECRET (the registered confidential client)
 * Each phase prints one line per failed check and a summary, and exits 0 only if all passed.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "aadtoken.h"
#include "common.h"

/* Run the browser stand-in on `url` (optionally POSTing `json`); its output in `out`. */
static int browser(const char *url, const char *json, char *out, size_t out_len) {
    char cmd[8192];
    FILE *p;
    size_t n = 0;
    if (strchr(url, '\'') != NULL || (json != NULL && strchr(json, '\'') != NULL)) return -1;
    if (json != NULL) {
        snprintf(cmd, sizeof cmd, "'%s' --ca-file '%s' --post-json '%s' '%s'", env("AADTOKEN_TEST_BROWSER"),
                 env("AADTOKEN_TEST_CA"), json, url);
    } else {
        snprintf(cmd, sizeof cmd, "'%s' --ca-file '%s' '%s'", env("AADTOKEN_TEST_BROWSER"), env("AADTOKEN_TEST_CA"),
                 url);
    }
    p = popen(cmd, "r");
    if (p == NULL) return -1;
    while (n + 1 < out_len) {
        size_t got = fread(out + n, 1, out_len - 1 - n, p);
        if (got == 0) break;
        n += got;
    }
    out[n] = '\0';
    return pclose(p) == 0 ? 0 : -1;
}

/* POST a JSON body to a /_mock/ control route of the mock. */
static int control(const char *path, const char *json) {
    char url[1024], out[4096];
    snprintf(url, sizeof url, "%s%s", env("AADTOKEN_TEST_AUTHORITY"), path);
    return browser(url, json, out, sizeof out) == 0 && strncmp(out, "200\n", 4) == 0 ? 0 : -1;
}

/* GET http://localhost:PORT/... with a plain socket; the answer in `out`. */
static int loopback_get(const char *url, char *out, size_t out_len) {
    const char *rest;
    char *end;
    long port;
    int fd;
    struct sockaddr_in addr;
    char req[8192];
    size_t n = 0;
    if (strncmp(url, "http://localhost:", 17) != 0) return -1;
    rest = url + 17;
    port = strtol(rest, &end, 10);
    if (port <= 0 || port > 65535 || *end != '/') return -1;
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost:%ld\r\nConnection: close\r\n\r\n", end, port);
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        close(fd);
        return -1;
    }
    while (n + 1 < out_len) {
        ssize_t got = read(fd, out + n, out_len - 1 - n);
        if (got <= 0) break;
        n += (size_t)got;
    }
    out[n] = '\0';
    close(fd);
    return 0;
}

/* ---- the open-URL callback: the browser ---- */

enum tamper { TAMPER_NONE, TAMPER_STATE, TAMPER_CHALLENGE };

struct browser_state {
    enum tamper tamper;
    int calls;
    int opened_ok;
    char page[8192];
};

static int open_url(void *userdata, const char *url) {
    struct browser_state *b = userdata;
    char target[8192], answer[8192], location[8192];
    const char *loc;
    size_t len;
    b->calls++;
    snprintf(target, sizeof target, "%s", url);
    if (b->tamper == TAMPER_CHALLENGE) {
        /* Another (valid-looking) challenge: the code gets bound to it, not to aadtoken's. */
        char *c = strstr(target, "code_challenge=");
        if (c != NULL && strlen(c) >= 15 + 43) memcpy(c + 15, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", 43);
    }
    if (browser(target, NULL, answer, sizeof answer) != 0) return 1;
    loc = strstr(answer, "location: ");
    if (strncmp(answer, "302\n", 4) != 0 || loc == NULL) return 2;
    loc += 10;
    len = strcspn(loc, "\n");
    if (len >= sizeof location) return 3;
    memcpy(location, loc, len);
    location[len] = '\0';
    if (b->tamper == TAMPER_STATE) {
        char *s = strstr(location, "state=");
        if (s != NULL) s[6] = (char)(s[6] == 'A' ? 'B' : 'A');
    }
    if (loopback_get(location, b->page, sizeof b->page) != 0) return 4;
    b->opened_ok = 1;
    return 0;
}

/* ---- the device-code prompt ---- */

enum answer { APPROVE, DENY, IGNORE };

struct prompt_state {
    enum answer answer;
    int calls;
    int approved;
    char user_code[64];
    char message[1024];
    char uri[512];
    int64_t expires_on;
};

static void device_prompt(void *userdata, const char *message, const char *user_code, const char *uri,
                          int64_t expires_on) {
    struct prompt_state *p = userdata;
    char json[512];
    p->calls++;
    snprintf(p->user_code, sizeof p->user_code, "%s", user_code);
    snprintf(p->message, sizeof p->message, "%s", message);
    snprintf(p->uri, sizeof p->uri, "%s", uri);
    p->expires_on = expires_on;
    if (p->answer == APPROVE) {
        snprintf(json, sizeof json, "{\"user_code\":\"%s\",\"user\":\"%s\"}", user_code, env("AADTOKEN_TEST_USER"));
        p->approved = control("/_mock/devicecode/approve", json) == 0;
    } else if (p->answer == DENY) {
        snprintf(json, sizeof json, "{\"user_code\":\"%s\"}", user_code);
        p->approved = control("/_mock/devicecode/deny", json) == 0;
    }
}

/* ---- clients ---- */

/* The mock's public client (no secret), signing in with `method`. */
static aadtoken_config *config(const char *method, const char *extra) {
    aadtoken_config *cfg = mock_config(NULL, 1, NULL);
    aadtoken_error *err = NULL;
    aadtoken_status st = aadtoken_config_set(cfg, "auth_method", method, &err);
    if (extra != NULL) st |= aadtoken_config_parse(cfg, extra, &err);
    CHECK(st == AADTOKEN_OK && err == NULL, "config: %s", aadtoken_error_message(err));
    aadtoken_error_free(err);
    return cfg;
}

/* A device-code client whose prompt callback (its state `p`, cleared) answers `answer`. */
static aadtoken_client *device_client(struct prompt_state *p, enum answer answer, const char *extra) {
    aadtoken_config *cfg = config("device_code", extra);
    memset(p, 0, sizeof *p);
    p->answer = answer;
    CHECK(aadtoken_config_set_device_code_callback(cfg, device_prompt, p, NULL) == AADTOKEN_OK, "set prompt");
    return client_of(cfg);
}

/* A browser client whose open-URL callback (its state `b`, cleared) tampers as `tamper` says. */
static aadtoken_client *browser_client(struct browser_state *b, enum tamper tamper) {
    aadtoken_config *cfg = config("interactive", "interactive_timeout_s=30");
    memset(b, 0, sizeof *b);
    b->tamper = tamper;
    CHECK(aadtoken_config_set_open_url_callback(cfg, open_url, b, NULL) == AADTOKEN_OK, "set opener");
    return client_of(cfg);
}

/* The exports that hand out a token for `scopes`: get, refresh, sign-in and the silent twins. */
typedef aadtoken_status (*token_fn)(const aadtoken_client *client, const char *scopes, aadtoken_token **out,
                                    aadtoken_error **err);

/* A token from `fn` (named `what`) for `scopes`; the caller frees it. */
static aadtoken_token *token_of(const char *what, token_fn fn, aadtoken_client *client, const char *scopes) {
    aadtoken_token *tok = NULL;
    aadtoken_error *err = NULL;
    aadtoken_status st = fn(client, scopes, &tok, &err);
    CHECK(st == AADTOKEN_OK && tok != NULL, "%s: %u %s", what, st, aadtoken_error_message(err));
    aadtoken_error_free(err);
    return tok;
}

/* A token from `fn` (named `what`) for `scopes` whose upn is the test user; the caller frees it. */
static aadtoken_token *user_token_of(const char *what, token_fn fn, aadtoken_client *client, const char *scopes) {
    aadtoken_token *tok = token_of(what, fn, client, scopes);
    aadtoken_claims *claims = NULL;
    if (tok != NULL && aadtoken_token_claims(tok, &claims, NULL) == AADTOKEN_OK) {
        CHECK(strcmp(aadtoken_claims_upn(claims), env("AADTOKEN_TEST_USER")) == 0, "upn %s", aadtoken_claims_upn(claims));
        CHECK(strlen(aadtoken_claims_scp(claims)) > 0, "a delegated token has scp");
        CHECK(strlen(aadtoken_claims_oid(claims)) > 0 && strlen(aadtoken_claims_tid(claims)) > 0, "oid and tid");
        aadtoken_claims_free(claims);
    }
    return tok;
}

/* A token for `scopes` whose upn is the test user. */
static void expect_user_token(aadtoken_client *client, const char *scopes, int sign_in) {
    aadtoken_token_free(sign_in ? user_token_of("sign_in", aadtoken_client_sign_in, client, scopes)
                                : user_token_of("get_token", aadtoken_client_get_token, client, scopes));
}

/* Whether two tokens (either may be NULL after a failed check) have the same value. */
static int same_token(const aadtoken_token *a, const aadtoken_token *b) {
    return a != NULL && b != NULL && strcmp(aadtoken_token_value(a), aadtoken_token_value(b)) == 0;
}

/* get_token fails with `want`; returns the AADSTS code. */
static unsigned expect_error_of(aadtoken_client *client, int sign_in, aadtoken_status want, const char *needle) {
    aadtoken_token *tok = NULL;
    aadtoken_error *err = NULL;
    unsigned aadsts;
    aadtoken_status st = sign_in ? aadtoken_client_sign_in(client, NULL, &tok, &err)
                                 : aadtoken_client_get_token(client, NULL, &tok, &err);
    CHECK(tok == NULL, "no token");
    aadsts = aadtoken_error_aadsts(err);
    expect_error(sign_in ? "sign_in" : "get_token", st, err, want, needle);
    return aadsts;
}

/* ---- phases ---- */

/* Device code through the prompt callback and the mock's approve route; then silent. */
static void phase_device(void) {
    struct prompt_state p;
    aadtoken_client *client;
    client = device_client(&p, APPROVE, NULL);
    expect_user_token(client, NULL, 0);
    CHECK(p.calls == 1 && p.approved, "one prompt, approved (%d)", p.calls);
    CHECK(strstr(p.message, p.user_code) != NULL && strstr(p.message, p.uri) != NULL, "message: %s", p.message);
    CHECK(p.expires_on > (int64_t)time(NULL) + 30, "expires_on %lld", (long long)p.expires_on);
    /* The cached token, then another resource through the refresh token: no prompt. */
    expect_user_token(client, NULL, 0);
    expect_user_token(client, env("AADTOKEN_TEST_OTHER_SCOPE"), 0);
    CHECK(p.calls == 1, "silent: still one prompt (%d)", p.calls);
    /* An explicit sign-in always asks the person. */
    expect_user_token(client, NULL, 1);
    CHECK(p.calls == 2, "sign_in prompts (%d)", p.calls);
    aadtoken_client_free(client);
}

/* The browser flow through the open-URL callback and the loopback redirect; then silent. */
static void phase_interactive(void) {
    struct browser_state b;
    aadtoken_client *client;
    client = browser_client(&b, TAMPER_NONE);
    expect_user_token(client, NULL, 0);
    CHECK(b.calls == 1 && b.opened_ok, "opened once (%d)", b.calls);
    CHECK(strncmp(b.page, "HTTP/1.1 200", 12) == 0 && strstr(b.page, "You can close this window") != NULL,
          "the browser got the friendly page: %.200s", b.page);
    CHECK(strstr(b.page, "text/html") != NULL, "as HTML");
    expect_user_token(client, env("AADTOKEN_TEST_OTHER_SCOPE"), 0);
    CHECK(b.calls == 1, "silent refresh, no second browser (%d)", b.calls);
    aadtoken_client_free(client);
}

static void phase_state_mismatch(void) {
    struct browser_state b;
    aadtoken_client *client;
    client = browser_client(&b, TAMPER_STATE);
    expect_error_of(client, 0, AADTOKEN_ERR_STATE_MISMATCH, "state");
    CHECK(strncmp(b.page, "HTTP/1.1 400", 12) == 0, "the browser was told: %.100s", b.page);
    aadtoken_client_free(client);
}

static void phase_denied(void) {
    struct browser_state b;
    aadtoken_client *client;
    client = browser_client(&b, TAMPER_NONE);
    CHECK(expect_error_of(client, 1, AADTOKEN_ERR_USER_CANCELLED, "access_denied") == 65004, "AADSTS65004");
    CHECK(strstr(b.page, "did not complete") != NULL, "the browser was told: %.300s", b.page);
    aadtoken_client_free(client);
}

static void phase_pkce_mismatch(void) {
    struct browser_state b;
    aadtoken_client *client;
    client = browser_client(&b, TAMPER_CHALLENGE);
    CHECK(expect_error_of(client, 0, AADTOKEN_ERR_INVALID_GRANT, "Code_Verifier") == 501481, "AADSTS501481");
    aadtoken_client_free(client);
}

/* The open-URL callback reports a failure: the sign-in ends with AADTOKEN_ERR_CALLBACK. */
static int cannot_open(void *userdata, const char *url) {
    (void)userdata;
    (void)url;
    return 7;
}

static void phase_open_fails(void) {
    aadtoken_config *cfg = config("interactive", NULL);
    aadtoken_client *client;
    CHECK(aadtoken_config_set_open_url_callback(cfg, cannot_open, NULL, NULL) == AADTOKEN_OK, "set opener");
    client = client_of(cfg);
    expect_error_of(client, 0, AADTOKEN_ERR_CALLBACK, "returned 7");
    aadtoken_client_free(client);
}

/* No open-URL callback: the system browser (the harness puts a fake `xdg-open` first in PATH,
 * which plays the browser), or none at all (an empty PATH). */
static void phase_system_browser(void) {
    aadtoken_client *client = client_of(config("interactive", "interactive_timeout_s=30"));
    expect_user_token(client, NULL, 0);
    aadtoken_client_free(client);
}

static void phase_no_browser(void) {
    aadtoken_client *client = client_of(config("interactive", NULL));
    expect_error_of(client, 0, AADTOKEN_ERR_CALLBACK_REQUIRED, "aadtoken_config_set_open_url_callback");
    aadtoken_client_free(client);
}

/* A device-code sign-in whose prompt answers `answer` fails with `want`. */
static void device_refused(enum answer answer, aadtoken_status want, const char *needle) {
    struct prompt_state p;
    aadtoken_client *client = device_client(&p, answer, NULL);
    expect_error_of(client, 0, want, needle);
    aadtoken_client_free(client);
}

static void phase_declined(void) { device_refused(DENY, AADTOKEN_ERR_USER_CANCELLED, "declined"); }

static void phase_expired(void) { device_refused(IGNORE, AADTOKEN_ERR_SIGN_IN_EXPIRED, "expired"); }

static void phase_slow_down(void) {
    struct prompt_state p;
    aadtoken_client *client;
    client = device_client(&p, APPROVE, NULL);
    expect_user_token(client, NULL, 0);
    aadtoken_client_free(client);
}

static void phase_no_callback(void) {
    aadtoken_client *client = client_of(config("device_code", NULL));
    expect_error_of(client, 0, AADTOKEN_ERR_CALLBACK_REQUIRED, "aadtoken_config_set_device_code_callback");
    expect_error_of(client, 1, AADTOKEN_ERR_CALLBACK_REQUIRED, "callback");
    aadtoken_client_free(client);
    /* sign_in is for person sign-in only. */
    {
        aadtoken_config *cfg = aadtoken_config_new();
        aadtoken_client *app = NULL;
        aadtoken_token *tok = NULL;
        aadtoken_config_parse(cfg, "tenant_id=t; client_id=c; client_secret=s; scope=api://x/.default", NULL);
        aadtoken_client_new(cfg, &app, NULL);
        aadtoken_config_free(cfg);
        CHECK(aadtoken_client_sign_in(app, NULL, &tok, NULL) == AADTOKEN_ERR_INVALID_SETTING, "not a person");
        CHECK(aadtoken_client_sign_in(NULL, NULL, &tok, NULL) == AADTOKEN_ERR_INVALID_ARGUMENT, "NULL client");
        CHECK(aadtoken_client_sign_out(app, NULL) == AADTOKEN_ERR_INVALID_SETTING, "sign_out: not a person");
        CHECK(aadtoken_client_sign_out(NULL, NULL) == AADTOKEN_ERR_INVALID_ARGUMENT, "sign_out: NULL client");
        CHECK(aadtoken_config_set_device_code_callback(NULL, NULL, NULL, NULL) == AADTOKEN_ERR_INVALID_ARGUMENT,
              "NULL config");
        CHECK(aadtoken_config_set_open_url_callback(NULL, NULL, NULL, NULL) == AADTOKEN_ERR_INVALID_ARGUMENT,
              "NULL config");
        aadtoken_client_free(app);
    }
}

/* A revoked refresh token: interaction required (automatic sign-in off), with AADSTS70043. */
static void phase_revoked(void) {
    struct prompt_state p;
    aadtoken_client *client;
    aadtoken_token *tok = NULL;
    aadtoken_error *err = NULL;
    char json[256];
    client = device_client(&p, APPROVE, "automatic_sign_in=false");
    expect_error_of(client, 0, AADTOKEN_ERR_INTERACTION_REQUIRED, "automatic_sign_in");
    expect_user_token(client, NULL, 1);
    snprintf(json, sizeof json, "{\"user\":\"%s\"}", env("AADTOKEN_TEST_USER"));
    CHECK(control("/_mock/refresh_tokens/revoke", json) == 0, "revoked");
    CHECK(aadtoken_client_get_token(client, env("AADTOKEN_TEST_OTHER_SCOPE"), &tok, &err) ==
              AADTOKEN_ERR_INTERACTION_REQUIRED,
          "refused refresh token: %s", aadtoken_error_message(err));
    CHECK(aadtoken_error_aadsts(err) == 70043, "AADSTS%u", aadtoken_error_aadsts(err));
    CHECK(strcmp(aadtoken_error_oauth_code(err), "invalid_grant") == 0, "invalid_grant");
    CHECK(p.calls == 1, "no sign-in started by itself (%d)", p.calls);
    aadtoken_error_free(err);
    aadtoken_client_free(client);
}

/* `cache_file="AADTOKEN_TEST_CACHE"`. */
static const char *cache_setting(void) {
    static char setting[1024];
    snprintf(setting, sizeof setting, "cache_file=\"%s\"", env("AADTOKEN_TEST_CACHE"));
    return setting;
}

/* Sign in and keep the account in cache_file. */
static void phase_cache_write(void) {
    struct prompt_state p;
    aadtoken_client *client = device_client(&p, APPROVE, cache_setting());
    expect_user_token(client, NULL, 1);
    CHECK(p.calls == 1, "signed in once");
    aadtoken_client_free(client);
}

/* Another process: a token for another scope from cache_file, without any callback. */
static void phase_cache_read(void) {
    aadtoken_client *client = client_of(config("device_code", cache_setting()));
    expect_user_token(client, env("AADTOKEN_TEST_OTHER_SCOPE"), 0);
    expect_user_token(client, NULL, 0);
    aadtoken_client_free(client);
}

/* Another process signs the person out: the account leaves cache_file; nobody is signed in. */
static void phase_cache_sign_out(void) {
    aadtoken_client *client = client_of(config("device_code", cache_setting()));
    aadtoken_error *err = NULL;
    CHECK(aadtoken_client_sign_out(client, &err) == AADTOKEN_OK, "sign_out: %s", aadtoken_error_message(err));
    aadtoken_error_free(err);
    CHECK(aadtoken_client_sign_out(client, NULL) == AADTOKEN_OK, "signing out again is fine");
    aadtoken_client_free(client);
    {
        char both[1200];
        snprintf(both, sizeof both, "%s; automatic_sign_in=false", cache_setting());
        client = client_of(config("device_code", both));
    }
    expect_error_of(client, 0, AADTOKEN_ERR_INTERACTION_REQUIRED, "no signed-in account");
    aadtoken_client_free(client);
}

/* A cache file aadtoken must refuse: client_new fails with `want`. */
static void refused_cache(aadtoken_status want, const char *needle) {
    aadtoken_config *cfg = config("device_code", cache_setting());
    aadtoken_client *client = NULL;
    aadtoken_error *err = NULL;
    CHECK(aadtoken_client_new(cfg, &client, &err) == want, "client_new: %s", aadtoken_error_message(err));
    CHECK(client == NULL, "no client");
    CHECK(err != NULL && strstr(aadtoken_error_message(err), needle) != NULL, "%s", aadtoken_error_message(err));
    CHECK(err != NULL && strstr(aadtoken_error_message(err), "untouched") != NULL, "says it left the file as is");
    aadtoken_error_free(err);
    aadtoken_config_free(cfg);
}

static void phase_cache_garbled(void) {
    refused_cache(AADTOKEN_ERR_FILE, "not an aadtoken user-token cache");
}

static void phase_cache_perms(void) {
    refused_cache(AADTOKEN_ERR_UNSAFE_PATH, "chmod 600");
}

/* A device-code sign-in through the async API, cancelled while it polls. */
static void phase_async_cancel(void) {
    struct prompt_state p;
    struct outcome o;
    aadtoken_client *client;
    aadtoken_request *req = NULL;
    int waited = 0;
    outcome_init(&o);
    client = device_client(&p, IGNORE, NULL);
    CHECK(aadtoken_client_get_token_async(client, NULL, on_token, &o, &req, NULL) == AADTOKEN_OK, "started");
    while (p.calls == 0 && waited < 200) {
        sleep_ms(50);
        waited++;
    }
    CHECK(p.calls == 1, "the prompt was shown before the cancel");
    aadtoken_request_cancel(req);
    for (waited = 0; waited < 200 && outcome_calls(&o) == 0; waited++) sleep_ms(50);
    CHECK(o.calls == 1 && o.status == AADTOKEN_ERR_CANCELLED, "cancelled (calls %d, status %u)", o.calls, o.status);
    aadtoken_request_free(req);
    aadtoken_client_free(client);
    aadtoken_shutdown();
    outcome_destroy(&o);
}

/* Milliseconds on the monotonic clock. */
static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* For a client-secret config the silent exports are get_token and refresh_token. */
static void app_silent_is_get_and_refresh(void) {
    char extra[256];
    aadtoken_client *app;
    aadtoken_token *got, *silent, *refreshed, *again;
    snprintf(extra, sizeof extra, "client_id=%s", env("AADTOKEN_TEST_APP_CLIENT"));
    app = mock_client(env("AADTOKEN_TEST_SECRET"), 1, extra);
    got = token_of("app get_token", aadtoken_client_get_token, app, NULL);
    silent = token_of("app get_token_silent", aadtoken_client_get_token_silent, app, NULL);
    CHECK(same_token(got, silent), "get_token_silent: the cached token, as get_token");
    refreshed = token_of("app refresh_token_silent", aadtoken_client_refresh_token_silent, app, NULL);
    CHECK(refreshed != NULL && !same_token(got, refreshed), "refresh_token_silent asks for a new token");
    again = token_of("app get_token", aadtoken_client_get_token, app, NULL);
    CHECK(same_token(refreshed, again), "refresh_token_silent replaced the cached token");
    aadtoken_token_free(got);
    aadtoken_token_free(silent);
    aadtoken_token_free(refreshed);
    aadtoken_token_free(again);
    aadtoken_client_free(app);
}

/* A driver's token callback (the _silent exports) never waits for a person: with nobody signed
 * in both fail at once with AADTOKEN_ERR_INTERACTION_REQUIRED and no prompt is shown, although
 * automatic_sign_in is on (the prompt would approve at once); after aadtoken_client_sign_in they
 * answer without a prompt — the cached token, a refresh through the refresh token. */
static void phase_silent(void) {
    static const struct {
        const char *what;
        token_fn fn;
    } silent[] = {
        {"get_token_silent", aadtoken_client_get_token_silent},
        {"refresh_token_silent", aadtoken_client_refresh_token_silent},
    };
    struct prompt_state p;
    aadtoken_client *client = device_client(&p, APPROVE, NULL);
    aadtoken_token *signed_in, *cached, *refreshed, *other;
    size_t i;
    for (i = 0; i < sizeof silent / sizeof silent[0]; i++) {
        aadtoken_token *tok = NULL;
        aadtoken_error *err = NULL;
        long long ms = now_ms();
        aadtoken_status st = silent[i].fn(client, NULL, &tok, &err);
        ms = now_ms() - ms;
        CHECK(tok == NULL, "%s: no token", silent[i].what);
        expect_error(silent[i].what, st, err, AADTOKEN_ERR_INTERACTION_REQUIRED, "aadtoken_client_sign_in");
        /* The device code lives 60 s: well under that means nobody was waited for. */
        CHECK(ms < 10000, "%s: at once (%lld ms)", silent[i].what, ms);
    }
    CHECK(p.calls == 0, "no device code shown (%d)", p.calls);

    signed_in = user_token_of("sign_in", aadtoken_client_sign_in, client, NULL);
    CHECK(p.calls == 1, "signed in (%d)", p.calls);
    cached = user_token_of("get_token_silent", aadtoken_client_get_token_silent, client, NULL);
    CHECK(same_token(cached, signed_in), "get_token_silent: the cached token");
    refreshed = user_token_of("refresh_token_silent", aadtoken_client_refresh_token_silent, client, NULL);
    CHECK(refreshed != NULL && !same_token(refreshed, signed_in), "refresh_token_silent: a new token");
    other = user_token_of("get_token_silent", aadtoken_client_get_token_silent, client,
                          env("AADTOKEN_TEST_OTHER_SCOPE"));
    CHECK(p.calls == 1, "silent: still one prompt (%d)", p.calls);
    aadtoken_token_free(signed_in);
    aadtoken_token_free(cached);
    aadtoken_token_free(refreshed);
    aadtoken_token_free(other);
    aadtoken_client_free(client);

    app_silent_is_get_and_refresh();
}

int main(int argc, char **argv) {
    static const struct test_phase phases[] = {
        {"device", phase_device},
        {"interactive", phase_interactive},
        {"state-mismatch", phase_state_mismatch},
        {"denied", phase_denied},
        {"pkce-mismatch", phase_pkce_mismatch},
        {"open-fails", phase_open_fails},
        {"system-browser", phase_system_browser},
        {"no-browser", phase_no_browser},
        {"declined", phase_declined},
        {"expired", phase_expired},
        {"slow-down", phase_slow_down},
        {"no-callback", phase_no_callback},
        {"revoked", phase_revoked},
        {"cache-write", phase_cache_write},
        {"cache-read", phase_cache_read},
        {"cache-sign-out", phase_cache_sign_out},
        {"cache-garbled", phase_cache_garbled},
        {"cache-perms", phase_cache_perms},
        {"async-cancel", phase_async_cancel},
        {"silent", phase_silent},
    };
    return run_phase_of(argc, argv, phases, sizeof phases / sizeof phases[0], 1);
}
