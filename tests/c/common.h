/*
 * What the C test programs of tests/c/ share (compiled with each of them by the Rust harness,
 * tests/common/mod.rs `compile_c_test`): the CHECK counter, the environment readers, the
 * mock's client, expected errors, and the phase table behind each program's main().
 */
#ifndef AADTOKEN_TEST_COMMON_H
#define AADTOKEN_TEST_COMMON_H

#include <pthread.h>
#include <stddef.h>

#include "aadtoken.h"

#if defined(__GNUC__)
#define TEST_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define TEST_PRINTF(fmt, args)
#endif

/* Checks passed and failed so far (in every thread). */
extern int passed, failed;

/* Count one check; on failure print `FAIL file:line: cond: ` and the message. Thread-safe. */
void check_at(int ok, const char *file, int line, const char *cond, const char *fmt, ...) TEST_PRINTF(5, 6);

#define CHECK(cond, ...) check_at((cond) ? 1 : 0, __FILE__, __LINE__, #cond, __VA_ARGS__)

/* The variable `name`; exits 2 when it is not set. */
const char *env(const char *name);

/* Whether AADTOKEN_TEST_SLOW is set (under valgrind: fewer iterations). */
int slow(void);

void sleep_ms(long ms);

/* Print an error's status, AADSTS code and message (nothing for NULL). */
void report(const aadtoken_error *err);

/* A config for the mock's registered client (AADTOKEN_TEST_AUTHORITY, _TENANT, _CLIENT,
 * _SCOPE; timeout_ms=20000), with `secret` as client secret unless NULL, the mock's CA
 * (AADTOKEN_TEST_CA) trusted when `trust_mock_ca`, and `extra` settings unless NULL. */
aadtoken_config *mock_config(const char *secret, int trust_mock_ca, const char *extra);

/* A client of `cfg`, which is freed (the client keeps its own copy). */
aadtoken_client *client_of(aadtoken_config *cfg);

/* client_of(mock_config(...)). */
aadtoken_client *mock_client(const char *secret, int trust_mock_ca, const char *extra);

/* The mock's registered client with its secret (AADTOKEN_TEST_SECRET), trusting the mock. */
aadtoken_client *registered_client(void);

/* A failed call `what`: status `want`, an error object with that status, and (unless NULL)
 * `needle` in its message. Frees `err`. */
void expect_error(const char *what, aadtoken_status st, aadtoken_error *err, aadtoken_status want,
                  const char *needle);

/* Run `call` (which receives a local `err` as `&err`) and expect_error() its outcome. */
#define EXPECT_ERR(call, want, needle)                       \
    do {                                                     \
        aadtoken_error *err = NULL;                          \
        aadtoken_status st_ = (call);                        \
        expect_error(#call, st_, err, (want), (needle));     \
    } while (0)

/* What an async request's callback (on_token) saw: it runs once, on a library thread, and owns
 * what it is given. */
struct outcome {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls;
    aadtoken_status status;
    size_t token_len;
    int on_caller_thread;
    pthread_t caller;
};

void outcome_init(struct outcome *o);
void outcome_destroy(struct outcome *o);
/* Wait for the callback, without bound. */
void outcome_wait(struct outcome *o);
/* How many times the callback ran so far. */
int outcome_calls(struct outcome *o);
/* An aadtoken_token_fn recording into the `struct outcome` it is given as userdata. */
void on_token(void *userdata, aadtoken_status status, aadtoken_token *token, aadtoken_error *error);

struct test_phase {
    const char *name;
    void (*run)(void);
};

/* main() of a test program: run the phase argv[1] names (from `n` phases), then, when
 * `shutdown`, aadtoken_shutdown(); print `PHASE: N passed, M failed`; exit 0 only if some check
 * ran and none failed (2 for an unknown phase). */
int run_phase_of(int argc, char **argv, const struct test_phase *phases, size_t n, int shutdown);

#endif
