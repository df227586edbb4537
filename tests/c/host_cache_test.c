/*
 * The host cache (host_cache=on) through the C ABI, one process per run: tests/c_suites/host_cache.rs
 * starts many of these at once against the mock and counts the requests that reach it.
 *
 *   get           one get_token with the registered client (for AADTOKEN_TEST_GET_SCOPES when set,
 *                 else the configured scope); prints "token <value>"
 *   refresh       one refresh_token (a forced refresh); prints "token <value>"
 *   wrong-secret  one get_token with a wrong secret: AADSTS7000215, whatever the host cache holds
 *   fork          a thread asks (the mock answers slowly) while the main thread forks; the child
 *                 then gets the parent's token from the host cache and forces a refresh, which
 *                 needs the host cache's lock: a lock inherited from the parent would stall it
 *   prefork       a parent gets a token, then forks 4 children; each uses the inherited token and
 *                 then needs one for AADTOKEN_TEST_OTHER_SCOPE: the 4 children make one request
 *   shutdown      get_token, aadtoken_shutdown, then a forced refresh (a new runtime, the lock again)
 *
 * AADTOKEN_TEST_HOST_CACHE_DIR: host_cache_dir. AADTOKEN_TEST_TIMEOUT_MS: timeout_ms (default
 * 20000). AADTOKEN_TEST_GO: when set, wait until this file exists before asking (so that many
 * processes ask at the same moment).
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static aadtoken_client *host_client(const char *secret) {
    char extra[2048];
    const char *timeout = getenv("AADTOKEN_TEST_TIMEOUT_MS");
    snprintf(extra, sizeof extra, "host_cache=on;host_cache_dir=\"%s\";timeout_ms=%s",
             env("AADTOKEN_TEST_HOST_CACHE_DIR"), timeout != NULL ? timeout : "20000");
    return mock_client(secret, 1, extra);
}

static void wait_for_go(void) {
    const char *go = getenv("AADTOKEN_TEST_GO");
    if (go == NULL) return;
    while (access(go, F_OK) != 0) sleep_ms(2);
}

/* get_token (when `forced`, refresh_token) for `scopes` (NULL: the configured scope); on success
 * prints "<label> <value>". Returns the status. */
static aadtoken_status ask(aadtoken_client *client, int forced, const char *scopes, const char *label) {
    aadtoken_token *tok = NULL;
    aadtoken_error *err = NULL;
    aadtoken_status st = forced ? aadtoken_client_refresh_token(client, scopes, &tok, &err)
                                : aadtoken_client_get_token(client, scopes, &tok, &err);
    CHECK(st == AADTOKEN_OK && tok != NULL, "%s: %u %s", label, st, aadtoken_error_message(err));
    if (tok != NULL) printf("%s %s\n", label, aadtoken_token_value(tok));
    aadtoken_token_free(tok);
    aadtoken_error_free(err);
    return st;
}

static aadtoken_status get_and_print(aadtoken_client *client) { return ask(client, 0, NULL, "token"); }

static void phase_get(void) {
    aadtoken_client *client = host_client(env("AADTOKEN_TEST_SECRET"));
    wait_for_go();
    ask(client, 0, getenv("AADTOKEN_TEST_GET_SCOPES"), "token");
    aadtoken_client_free(client);
}

static void phase_refresh(void) {
    aadtoken_client *client = host_client(env("AADTOKEN_TEST_SECRET"));
    ask(client, 1, NULL, "token");
    aadtoken_client_free(client);
}

static void phase_wrong_secret(void) {
    aadtoken_client *client = host_client("wrong-secret-3f9a7c");
    aadtoken_token *tok = NULL;
    aadtoken_error *err = NULL;
    aadtoken_status st = aadtoken_client_get_token(client, NULL, &tok, &err);
    CHECK(st == AADTOKEN_ERR_INVALID_CLIENT, "status %u", st);
    CHECK(tok == NULL, "no token for a wrong secret");
    CHECK(err != NULL && aadtoken_error_aadsts(err) == 7000215, "AADSTS%u", aadtoken_error_aadsts(err));
    aadtoken_token_free(tok);
    aadtoken_error_free(err);
    aadtoken_client_free(client);
}

/* Whether the host cache directory holds a lock file (made by whoever takes a token's lock). */
static int lock_file_exists(void) {
    DIR *d = opendir(env("AADTOKEN_TEST_HOST_CACHE_DIR"));
    struct dirent *e;
    int found = 0;
    if (d == NULL) return 0;
    while (!found && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        found = n > 5 && strcmp(e->d_name + n - 5, ".lock") == 0;
    }
    closedir(d);
    return found;
}

static aadtoken_status parent_status = 12345;

static void *parent_get(void *client) {
    parent_status = get_and_print(client);
    return NULL;
}

static void phase_fork(void) {
    aadtoken_client *client = host_client(env("AADTOKEN_TEST_SECRET"));
    pthread_t getter;
    pid_t pid;
    int status = -1;
    long waited;
    CHECK(pthread_create(&getter, NULL, parent_get, client) == 0, "thread");
    /* the thread has taken the lock and is asking (bounded: a thread that failed takes none) */
    for (waited = 0; !lock_file_exists(); waited += 5) {
        if (waited >= 30000) {
            CHECK(0, "no lock file after 30 s (the getter's status: %u)", parent_status);
            _exit(1);
        }
        sleep_ms(5);
    }
    sleep_ms(atol(env("AADTOKEN_TEST_FORK_AFTER_MS"))); /* the mock is still answering it */
    pid = fork();
    if (pid == 0) {
        int bad = 0;
        alarm(60); /* a hang is a failure, not a stuck test */
        sleep_ms(atol(env("AADTOKEN_TEST_CHILD_WAIT_MS"))); /* until the parent has its token */
        bad |= get_and_print(client) != AADTOKEN_OK;          /* from the host cache */
        bad |= ask(client, 1, NULL, "refreshed") != AADTOKEN_OK; /* needs the lock */
        fflush(stdout);
        _exit(bad || failed ? 3 : 0);
    }
    CHECK(pid > 0, "fork");
    pthread_join(getter, NULL);
    CHECK(parent_status == AADTOKEN_OK, "the parent got its token (%u)", parent_status);
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child got tokens (status %d)", status);
    aadtoken_client_free(client);
}

static void phase_prefork(void) {
    aadtoken_client *client = host_client(env("AADTOKEN_TEST_SECRET"));
    pid_t pids[4];
    int i, status;
    get_and_print(client);
    for (i = 0; i < 4; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            int bad = 0;
            alarm(60);
            bad |= get_and_print(client) != AADTOKEN_OK; /* inherited: no request */
            bad |= ask(client, 0, env("AADTOKEN_TEST_OTHER_SCOPE"), "other") != AADTOKEN_OK;
            fflush(stdout);
            _exit(bad || failed ? 3 : 0);
        }
        CHECK(pids[i] > 0, "fork");
    }
    for (i = 0; i < 4; i++) {
        status = -1;
        waitpid(pids[i], &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d (status %d)", i, status);
    }
    aadtoken_client_free(client);
}

static void phase_shutdown(void) {
    aadtoken_client *client = host_client(env("AADTOKEN_TEST_SECRET"));
    get_and_print(client);
    aadtoken_shutdown();
    ask(client, 1, NULL, "refreshed"); /* a new runtime, the lock again */
    aadtoken_client_free(client);
}

int main(int argc, char **argv) {
    static const struct test_phase phases[] = {
        {"get", phase_get},
        {"refresh", phase_refresh},
        {"wrong-secret", phase_wrong_secret},
        {"fork", phase_fork},
        {"prefork", phase_prefork},
        {"shutdown", phase_shutdown},
    };
    setvbuf(stdout, NULL, _IOLBF, 0);
    return run_phase_of(argc, argv, phases, sizeof phases / sizeof phases[0], 0);
}
