/* See common.h. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int passed, failed;
static pthread_mutex_t check_lock = PTHREAD_MUTEX_INITIALIZER;

void check_at(int ok, const char *file, int line, const char *cond, const char *fmt, ...) {
    va_list ap;
    pthread_mutex_lock(&check_lock);
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("FAIL %s:%d: %s: ", file, line, cond);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
    }
    pthread_mutex_unlock(&check_lock);
}

const char *env(const char *name) {
    const char *v = getenv(name);
    if (v == NULL) {
        fprintf(stderr, "test: %s is not set\n", name);
        exit(2);
    }
    return v;
}

int slow(void) { return getenv("AADTOKEN_TEST_SLOW") != NULL; }

void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

void report(const aadtoken_error *err) {
    if (err != NULL) {
        printf("  error %u AADSTS%u: %s\n", aadtoken_error_status(err), aadtoken_error_aadsts(err),
               aadtoken_error_message(err));
    }
}

aadtoken_config *mock_config(const char *secret, int trust_mock_ca, const char *extra) {
    aadtoken_config *cfg = aadtoken_config_new();
    aadtoken_error *err = NULL;
    aadtoken_status st = aadtoken_config_set(cfg, "authority_host", env("AADTOKEN_TEST_AUTHORITY"), &err);
    if (trust_mock_ca) st |= aadtoken_config_set(cfg, "ca_file", env("AADTOKEN_TEST_CA"), &err);
    st |= aadtoken_config_set(cfg, "tenant_id", env("AADTOKEN_TEST_TENANT"), &err);
    st |= aadtoken_config_set(cfg, "client_id", env("AADTOKEN_TEST_CLIENT"), &err);
    if (secret != NULL) st |= aadtoken_config_set(cfg, "client_secret", secret, &err);
    st |= aadtoken_config_set(cfg, "scope", env("AADTOKEN_TEST_SCOPE"), &err);
    st |= aadtoken_config_set(cfg, "timeout_ms", "20000", &err);
    if (extra != NULL) st |= aadtoken_config_parse(cfg, extra, &err);
    CHECK(st == AADTOKEN_OK && err == NULL, "config: %s", aadtoken_error_message(err));
    aadtoken_error_free(err);
    return cfg;
}

aadtoken_client *client_of(aadtoken_config *cfg) {
    aadtoken_client *client = NULL;
    aadtoken_error *err = NULL;
    aadtoken_status st = aadtoken_client_new(cfg, &client, &err);
    CHECK(st == AADTOKEN_OK && client != NULL, "client_new: %u %s", st, aadtoken_error_message(err));
    aadtoken_error_free(err);
    aadtoken_config_free(cfg);
    return client;
}

aadtoken_client *mock_client(const char *secret, int trust_mock_ca, const char *extra) {
    return client_of(mock_config(secret, trust_mock_ca, extra));
}

aadtoken_client *registered_client(void) { return mock_client(env("AADTOKEN_TEST_SECRET"), 1, NULL); }

void expect_error(const char *what, aadtoken_status st, aadtoken_error *err, aadtoken_status want,
                  const char *needle) {
    CHECK(st == want, "%s: status %u, wanted %u (%s)", what, st, want, aadtoken_error_message(err));
    CHECK(err != NULL, "%s: an error object", what);
    if (err != NULL) {
        CHECK(aadtoken_error_status(err) == want, "%s: error status %u", what, aadtoken_error_status(err));
        CHECK(needle == NULL || strstr(aadtoken_error_message(err), needle) != NULL, "%s: message '%s' names '%s'",
              what, aadtoken_error_message(err), needle != NULL ? needle : "");
    }
    aadtoken_error_free(err);
}

void on_token(void *userdata, aadtoken_status status, aadtoken_token *token, aadtoken_error *error) {
    struct outcome *o = userdata;
    pthread_mutex_lock(&o->lock);
    o->calls++;
    o->status = status;
    o->token_len = aadtoken_token_len(token);
    o->on_caller_thread = pthread_equal(pthread_self(), o->caller);
    pthread_cond_signal(&o->cond);
    pthread_mutex_unlock(&o->lock);
    aadtoken_token_free(token);
    aadtoken_error_free(error);
}

void outcome_init(struct outcome *o) {
    memset(o, 0, sizeof *o);
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->cond, NULL);
    o->status = 12345;
    o->caller = pthread_self();
}

void outcome_destroy(struct outcome *o) {
    pthread_cond_destroy(&o->cond);
    pthread_mutex_destroy(&o->lock);
}

void outcome_wait(struct outcome *o) {
    pthread_mutex_lock(&o->lock);
    while (o->calls == 0) pthread_cond_wait(&o->cond, &o->lock);
    pthread_mutex_unlock(&o->lock);
}

int outcome_calls(struct outcome *o) {
    int calls;
    pthread_mutex_lock(&o->lock);
    calls = o->calls;
    pthread_mutex_unlock(&o->lock);
    return calls;
}

int run_phase_of(int argc, char **argv, const struct test_phase *phases, size_t n, int shutdown) {
    const char *phase = argc > 1 ? argv[1] : "";
    size_t i;
    for (i = 0; i < n; i++) {
        if (strcmp(phases[i].name, phase) == 0) {
            phases[i].run();
            if (shutdown) aadtoken_shutdown();
            printf("%s: %d passed, %d failed\n", phase, passed, failed);
            return failed == 0 && passed > 0 ? 0 : 1;
        }
    }
    fprintf(stderr, "%s: unknown phase '%s'; phases:", argc > 0 ? argv[0] : "test", phase);
    for (i = 0; i < n; i++) fprintf(stderr, " %s", phases[i].name);
    fprintf(stderr, "\n");
    return 2;
}
