/*
 * C tests of aadtoken's Oracle adapters, driven by tests/c_suites/oracle.rs against the mock Entra ID
 * server: the ODPI-C access-token callback called exactly as ODPI-C calls it (through the types
 * of ODPI-C's real dpi.h; tests/odpi/odpi_test.c runs it inside ODPI-C itself), the borrowed
 * token for OCI, the TOKEN_LOCATION token file and its keeper, and token claims.
 *
 * Usage: oracle_test PHASE
 * Settings come from the environment the harness sets: AADTOKEN_TEST_AUTHORITY, _CA, _TENANT,
 * _CLIENT, _SECRET, _SCOPE, _OTHER_SCOPE, and AADTOKEN_TEST_DIR (an empty private directory).
 * Each phase prints one line per failed check and a summary, and exits 0 only if all passed.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dpi.h> /* the real one: python-oracledb's sdist's ODPI-C (tests/c_suites/oracle.rs) */

#include "aadtoken.h"
#include "common.h"

static char *path_in(const char *name) {
    static char buf[8][4096];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", env("AADTOKEN_TEST_DIR"), name);
    return p;
}

/* The whole file, NUL-terminated, and its size; NULL if it cannot be read. */
static char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n = 0, cap = 4096, got;
    if (f == NULL) return NULL;
    buf = malloc(cap + 1);
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) buf = realloc(buf, (cap *= 2) + 1);
    }
    fclose(f);
    buf[n] = '\0';
    *size = n;
    return buf;
}

/* The token the client's cache holds for its `scope` setting (a copy). */
static char *current_token(aadtoken_client *client) {
    aadtoken_token *tok = NULL;
    char *copy = NULL;
    if (aadtoken_client_get_token(client, NULL, &tok, NULL) == AADTOKEN_OK) {
        copy = malloc(aadtoken_token_len(tok) + 1);
        memcpy(copy, aadtoken_token_value(tok), aadtoken_token_len(tok) + 1);
    }
    aadtoken_token_free(tok);
    return copy;
}

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* ---- ODPI-C: the callback through ODPI-C's own function-pointer type. ---- */

struct odpi_thread {
    aadtoken_client *client;
    dpiAccessTokenCallback cb;
    int ok;
};

static void *odpi_worker(void *arg) {
    struct odpi_thread *t = arg;
    int i;
    t->ok = 1;
    for (i = 0; i < 100; i++) {
        dpiAccessToken at;
        char *copy;
        memset(&at, 0, sizeof at);
        if (t->cb(t->client, &at) != DPI_SUCCESS || at.token == NULL) {
            t->ok = 0;
            break;
        }
        /* What ODPI-C does next: copy the bytes (OCIAttrSet). */
        copy = dup_n(at.token, at.tokenLength);
        if (strncmp(copy, "eyJ", 3) != 0 || strlen(copy) != at.tokenLength) t->ok = 0;
        free(copy);
    }
    return NULL;
}

static void phase_odpi(void) {
    /* As a host registers it: params.accessTokenCallback = aadtoken_odpi_access_token_callback; */
    dpiAccessTokenCallback cb = aadtoken_odpi_access_token_callback;
    aadtoken_client *client = registered_client();
    aadtoken_client *bad = mock_client("wrong-secret", 1, NULL);
    aadtoken_error *err = NULL;
    dpiAccessToken at, sentinel;
    char *first, *cached;
    const char *held;
    aadtoken_token *fresh = NULL;
    int rc, i;

    /* ODPI-C passes a zeroed struct and copies the token right after the callback returns. */
    memset(&at, 0, sizeof at);
    rc = cb(client, &at);
    CHECK(rc == DPI_SUCCESS, "callback returned %d", rc);
    CHECK(at.token != NULL && at.tokenLength > 100, "token %p, length %u", (const void *)at.token, at.tokenLength);
    CHECK(at.privateKey == NULL && at.privateKeyLength == 0, "OAuth tokens have no private key");
    CHECK(strlen(at.token) == at.tokenLength, "NUL-terminated at tokenLength");
    CHECK(strncmp(at.token, "eyJ", 3) == 0, "a JWT");
    first = dup_n(at.token, at.tokenLength);
    cached = current_token(client);
    CHECK(cached != NULL && strcmp(cached, first) == 0, "the callback gives the cached token");
    free(cached);
    CHECK(aadtoken_odpi_last_error(client, &err) == AADTOKEN_OK && err == NULL, "no error after success");

    /* Called again (the pool grows): the same cached token, no new request. */
    memset(&at, 0, sizeof at);
    CHECK(cb(client, &at) == DPI_SUCCESS && strcmp(at.token, first) == 0, "cached on the second call");

    /* The lent bytes stay valid while the cache moves on (until this thread calls again). */
    held = at.token;
    CHECK(aadtoken_client_refresh_token(client, NULL, &fresh, NULL) == AADTOKEN_OK, "refresh");
    CHECK(memcmp(held, first, strlen(first) + 1) == 0, "lent token still readable after a refresh");
    memset(&at, 0, sizeof at);
    CHECK(cb(client, &at) == DPI_SUCCESS, "callback after refresh");
    CHECK(strcmp(at.token, aadtoken_token_value(fresh)) == 0, "the callback now gives the new token");
    aadtoken_token_free(fresh);

    /* Many threads (a pool growing under load): each gets a readable token every time. */
    {
        struct odpi_thread t[6];
        pthread_t th[6];
        for (i = 0; i < 6; i++) {
            t[i].client = client;
            t[i].cb = cb;
            pthread_create(&th[i], NULL, odpi_worker, &t[i]);
        }
        for (i = 0; i < 6; i++) {
            pthread_join(th[i], NULL);
            CHECK(t[i].ok, "thread %d got readable tokens", i);
        }
    }

    /* Failure: DPI_FAILURE, the struct untouched, and the reason on request. */
    memset(&sentinel, 0x5a, sizeof sentinel);
    memcpy(&at, &sentinel, sizeof at);
    rc = cb(bad, &at);
    CHECK(rc == DPI_FAILURE, "wrong secret: callback returned %d", rc);
    CHECK(memcmp(&at, &sentinel, sizeof at) == 0, "struct untouched on failure");
    rc = aadtoken_odpi_last_error(bad, &err);
    CHECK(rc == AADTOKEN_ERR_INVALID_CLIENT, "last error status %d", rc);
    CHECK(err != NULL && aadtoken_error_aadsts(err) == 7000215, "AADSTS %u", aadtoken_error_aadsts(err));
    CHECK(err != NULL && strstr(aadtoken_error_message(err), "wrong-secret") == NULL, "no secret in the message");
    aadtoken_error_free(err);
    err = NULL;
    CHECK(aadtoken_odpi_last_error(client, &err) == AADTOKEN_OK, "the good client's thread state is its own");
    CHECK(cb(NULL, &at) == DPI_FAILURE, "NULL context");
    CHECK(cb(client, NULL) == DPI_FAILURE, "NULL struct");
    EXPECT_ERR(aadtoken_odpi_last_error(NULL, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "client");
    aadtoken_error_free(err);

    free(first);
    aadtoken_client_free(bad);
    aadtoken_client_free(client);
}

/* ---- OCI: a borrowed token and its length (ub4), as OCIAttrSet(OCI_ATTR_TOKEN) wants. ---- */
static void phase_borrow(void) {
    aadtoken_client *client = registered_client();
    aadtoken_error *err = NULL;
    const char *p = NULL, *q = NULL;
    uint32_t len = 0, len2 = 0;
    char *copy;
    aadtoken_status st;

    st = aadtoken_client_borrow_token(client, NULL, &p, &len, &err);
    CHECK(st == AADTOKEN_OK && p != NULL && len == strlen(p), "borrow: %u", st);
    copy = dup_n(p, len);
    st = aadtoken_client_borrow_token(client, env("AADTOKEN_TEST_OTHER_SCOPE"), &q, &len2, &err);
    CHECK(st == AADTOKEN_OK && q != NULL && strcmp(q, copy) != 0, "another scope, another token");
    st = aadtoken_client_borrow_token(client, NULL, &p, &len, &err);
    CHECK(st == AADTOKEN_OK && strcmp(p, copy) == 0, "cached");
    free(copy);

    p = (const char *)1;
    EXPECT_ERR(aadtoken_client_borrow_token(client, NULL, NULL, &len, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "token");
    EXPECT_ERR(aadtoken_client_borrow_token(client, NULL, &p, NULL, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "length");
    EXPECT_ERR(aadtoken_client_borrow_token(NULL, NULL, &p, &len, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "client");
    CHECK(p == (const char *)1, "out-parameters untouched on error");
    st = aadtoken_client_borrow_token(client, NULL, &p, &len, &err);
    CHECK(st == AADTOKEN_OK, "borrow %u", st);
    (void)err;
    aadtoken_client_free(client);
}

/* ---- The TOKEN_LOCATION file. ---- */
static void phase_token_file(void) {
    aadtoken_client *client = registered_client();
    aadtoken_error *err = NULL;
    aadtoken_status st;
    struct stat sb;
    char *token = current_token(client), *content;
    size_t size = 0;
    char settings[4200];
    aadtoken_client *located;

    /* A directory location: <dir>/token, the raw token, no newline, mode 0600. */
    st = aadtoken_client_write_token_file(client, NULL, env("AADTOKEN_TEST_DIR"), &err);
    CHECK(st == AADTOKEN_OK, "write: %s", aadtoken_error_message(err));
    content = read_file(path_in("token"), &size);
    CHECK(content != NULL && token != NULL && size == strlen(token) && memcmp(content, token, size) == 0,
          "byte-exact token (%zu bytes)", size);
    CHECK(size > 0 && content[size - 1] != '\n', "no trailing newline");
    CHECK(stat(path_in("token"), &sb) == 0 && (sb.st_mode & 07777) == 0600, "mode %o", (unsigned)(sb.st_mode & 07777));
    free(content);

    /* A file location. */
    st = aadtoken_client_write_token_file(client, NULL, path_in("db1.token"), &err);
    CHECK(st == AADTOKEN_OK, "write to a file path");
    content = read_file(path_in("db1.token"), &size);
    CHECK(content != NULL && size == strlen(token), "file location");
    free(content);

    /* A symbolic link is refused, and its target left alone. */
    {
        FILE *f = fopen(path_in("victim"), "w");
        fputs("keep me", f);
        fclose(f);
    }
    CHECK(symlink(path_in("victim"), path_in("link")) == 0, "symlink: %s", strerror(errno));
    st = aadtoken_client_write_token_file(client, NULL, path_in("link"), &err);
    CHECK(st == AADTOKEN_ERR_UNSAFE_PATH, "symlink refused: %u", st);
    CHECK(err != NULL && strstr(aadtoken_error_message(err), "symbolic link") != NULL, "%s", aadtoken_error_message(err));
    aadtoken_error_free(err);
    err = NULL;
    content = read_file(path_in("victim"), &size);
    CHECK(content != NULL && strcmp(content, "keep me") == 0, "link target untouched");
    free(content);

    /* A directory others can write is refused. */
    CHECK(mkdir(path_in("open"), 0700) == 0 && chmod(path_in("open"), 0777) == 0, "mkdir open");
    st = aadtoken_client_write_token_file(client, NULL, path_in("open"), &err);
    CHECK(st == AADTOKEN_ERR_UNSAFE_PATH, "o+w directory: %u", st);
    CHECK(err != NULL && strstr(aadtoken_error_message(err), "writable by other users") != NULL, "%s",
          aadtoken_error_message(err));
    aadtoken_error_free(err);
    err = NULL;

    /* A missing directory is a file error naming it. */
    st = aadtoken_client_write_token_file(client, NULL, path_in("missing/token"), &err);
    CHECK(st == AADTOKEN_ERR_FILE, "missing directory: %u", st);
    CHECK(err != NULL && strstr(aadtoken_error_message(err), "missing") != NULL, "%s", aadtoken_error_message(err));
    aadtoken_error_free(err);
    err = NULL;

    /* NULL location: the token_location setting (TOKEN_LOCATION), required then. */
    EXPECT_ERR(aadtoken_client_write_token_file(client, NULL, NULL, &err), AADTOKEN_ERR_MISSING_SETTING,
               "token_location");
    CHECK(mkdir(path_in("tns"), 0700) == 0, "mkdir tns");
    snprintf(settings, sizeof settings, "TOKEN_AUTH=OAUTH; TOKEN_LOCATION=%s", path_in("tns"));
    located = mock_client(env("AADTOKEN_TEST_SECRET"), 1, settings);
    st = aadtoken_client_write_token_file(located, NULL, NULL, &err);
    CHECK(st == AADTOKEN_OK, "write to TOKEN_LOCATION: %s", aadtoken_error_message(err));
    content = read_file(path_in("tns/token"), &size);
    CHECK(content != NULL && size == strlen(token), "TOKEN_LOCATION/token written");
    free(content);
    aadtoken_client_free(located);

    EXPECT_ERR(aadtoken_client_write_token_file(NULL, NULL, "x", &err), AADTOKEN_ERR_INVALID_ARGUMENT, "client");
    free(token);
    aadtoken_client_free(client);
}

/* ---- The keeper. ---- */
static void phase_keeper(void) {
    aadtoken_client *client = registered_client();
    aadtoken_client *bad = mock_client("wrong-secret", 1, NULL);
    aadtoken_token_file_keeper *k = NULL, *sentinel = (aadtoken_token_file_keeper *)&k;
    aadtoken_error *err = NULL;
    aadtoken_status st;
    char *content, *token;
    size_t size;

    st = aadtoken_token_file_keeper_start(client, NULL, env("AADTOKEN_TEST_DIR"), &k, &err);
    CHECK(st == AADTOKEN_OK && k != NULL, "keeper start: %s", aadtoken_error_message(err));
    CHECK(strcmp(aadtoken_token_file_keeper_path(k), path_in("token")) == 0, "path %s",
          aadtoken_token_file_keeper_path(k));
    CHECK(aadtoken_token_file_keeper_expires_on(k) > (int64_t)time(NULL) + 3000, "expires_on");
    CHECK(aadtoken_token_file_keeper_last_error(k, &err) == AADTOKEN_OK && err == NULL, "no error");
    token = current_token(client);
    content = read_file(path_in("token"), &size);
    CHECK(content != NULL && token != NULL && strcmp(content, token) == 0, "the file holds the token");
    free(content);
    free(token);
    /* The client may go first: the keeper holds its own reference. */
    aadtoken_client_free(client);
    aadtoken_token_file_keeper_stop(k);
    aadtoken_token_file_keeper_stop(NULL);

    /* The first token cannot be had: nothing starts, *out untouched. */
    k = sentinel;
    st = aadtoken_token_file_keeper_start(bad, NULL, path_in("bad"), &k, &err);
    CHECK(st == AADTOKEN_ERR_INVALID_CLIENT && k == sentinel, "wrong secret: %u", st);
    CHECK(err != NULL && aadtoken_error_aadsts(err) == 7000215, "AADSTS");
    aadtoken_error_free(err);
    err = NULL;
    CHECK(access(path_in("bad"), F_OK) != 0, "nothing written");
    EXPECT_ERR(aadtoken_token_file_keeper_start(bad, NULL, "x", NULL, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "out");
    EXPECT_ERR(aadtoken_token_file_keeper_start(NULL, NULL, "x", &k, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "client");
    EXPECT_ERR(aadtoken_token_file_keeper_start(bad, NULL, NULL, &k, &err), AADTOKEN_ERR_MISSING_SETTING,
               "token_location");
    EXPECT_ERR(aadtoken_token_file_keeper_last_error(NULL, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "keeper");
    CHECK(strcmp(aadtoken_token_file_keeper_path(NULL), "") == 0, "path(NULL)");
    CHECK(aadtoken_token_file_keeper_expires_on(NULL) == 0, "expires_on(NULL)");
    aadtoken_client_free(bad);
}

/* The keeper rewrites the file ahead of expiry (the harness makes the mock's tokens short-lived). */
static void phase_keeper_rewrite(void) {
    aadtoken_client *client = mock_client(env("AADTOKEN_TEST_SECRET"), 1, "expiry_margin_s=10");
    aadtoken_token_file_keeper *k = NULL;
    aadtoken_error *err = NULL;
    char *first, *now = NULL;
    size_t size;
    int64_t first_exp;
    int i, changed = 0;

    CHECK(aadtoken_token_file_keeper_start(client, NULL, env("AADTOKEN_TEST_DIR"), &k, &err) == AADTOKEN_OK,
          "start: %s", aadtoken_error_message(err));
    first = read_file(path_in("token"), &size);
    first_exp = aadtoken_token_file_keeper_expires_on(k);
    CHECK(first_exp - (int64_t)time(NULL) <= 20, "short-lived token (%lld s)", (long long)(first_exp - time(NULL)));
    for (i = 0; i < 300 && !changed; i++) {
        sleep_ms(100);
        free(now);
        now = read_file(path_in("token"), &size);
        changed = now != NULL && first != NULL && strcmp(now, first) != 0;
    }
    CHECK(changed, "the keeper rewrote the file");
    CHECK((int64_t)time(NULL) < first_exp, "before the first token expired");
    CHECK(aadtoken_token_file_keeper_expires_on(k) > first_exp, "a later expiry");
    CHECK(aadtoken_token_file_keeper_last_error(k, NULL) == AADTOKEN_OK, "no error");
    aadtoken_token_file_keeper_stop(k);
    free(first);
    free(now);
    aadtoken_client_free(client);
}

/* ---- Claims. ---- */
static void phase_claims(void) {
    aadtoken_client *client = registered_client();
    aadtoken_token *tok = NULL;
    aadtoken_claims *c = NULL, *sentinel = (aadtoken_claims *)&c;
    aadtoken_error *err = NULL;
    int64_t now = (int64_t)time(NULL);

    CHECK(aadtoken_client_get_token(client, NULL, &tok, NULL) == AADTOKEN_OK, "token");
    CHECK(aadtoken_token_claims(tok, &c, &err) == AADTOKEN_OK && c != NULL, "claims: %s", aadtoken_error_message(err));
    CHECK(strcmp(aadtoken_claims_aud(c), "api://oracle-db") == 0, "aud %s", aadtoken_claims_aud(c));
    CHECK(strcmp(aadtoken_claims_tid(c), env("AADTOKEN_TEST_TENANT")) == 0, "tid %s", aadtoken_claims_tid(c));
    CHECK(strcmp(aadtoken_claims_appid(c), env("AADTOKEN_TEST_CLIENT")) == 0, "appid %s", aadtoken_claims_appid(c));
    CHECK(strcmp(aadtoken_claims_roles(c), "DBA") == 0, "roles %s", aadtoken_claims_roles(c));
    CHECK(strlen(aadtoken_claims_oid(c)) == 36, "oid %s", aadtoken_claims_oid(c));
    CHECK(strstr(aadtoken_claims_iss(c), env("AADTOKEN_TEST_TENANT")) != NULL, "iss %s", aadtoken_claims_iss(c));
    CHECK(strcmp(aadtoken_claims_upn(c), "") == 0 && strcmp(aadtoken_claims_scp(c), "") == 0,
          "an application token has no user and no delegated scopes");
    CHECK(llabs(aadtoken_claims_exp(c) - aadtoken_token_expires_on(tok)) <= 30, "exp %lld vs %lld (the mock counts from its clock)",
          (long long)aadtoken_claims_exp(c), (long long)aadtoken_token_expires_on(tok));
    CHECK(aadtoken_claims_nbf(c) <= now && aadtoken_claims_iat(c) <= now && aadtoken_claims_iat(c) > 0, "nbf/iat");
    CHECK(strstr(aadtoken_claims_json(c), "\"aud\":\"api://oracle-db\"") != NULL, "json %s", aadtoken_claims_json(c));
    CHECK(strstr(aadtoken_claims_json(c), aadtoken_token_value(tok)) == NULL, "the JSON is not the token");
    aadtoken_claims_free(c);

    c = sentinel;
    EXPECT_ERR(aadtoken_token_claims(NULL, &c, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "token");
    EXPECT_ERR(aadtoken_token_claims(tok, NULL, &err), AADTOKEN_ERR_INVALID_ARGUMENT, "out");
    CHECK(c == sentinel, "out untouched on error");
    CHECK(strcmp(aadtoken_claims_aud(NULL), "") == 0 && strcmp(aadtoken_claims_json(NULL), "") == 0, "NULL claims");
    CHECK(aadtoken_claims_exp(NULL) == 0, "exp(NULL)");
    aadtoken_claims_free(NULL);
    (void)err;
    aadtoken_token_free(tok);
    aadtoken_client_free(client);
}

int main(int argc, char **argv) {
    static const struct test_phase phases[] = {
        {"odpi", phase_odpi},     {"borrow", phase_borrow},         {"token-file", phase_token_file},
        {"keeper", phase_keeper}, {"keeper-rewrite", phase_keeper_rewrite}, {"claims", phase_claims},
    };
    return run_phase_of(argc, argv, phases, sizeof phases / sizeof phases[0], 0);
}
