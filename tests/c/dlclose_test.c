/*
 * dlopen, use, aadtoken_shutdown, dlclose: what a host can rely on (README "Shutdown and
 * dlclose"). Loads the library with dlopen only (this program is not linked with it); driven by
 * tests/c_suites/dlclose.rs, which points it at the mock and checks the mock's counters.
 *
 *   dlclose_test stays     the main thread uses the library and calls aadtoken_shutdown: after
 *                          it no library thread runs; dlclose returns 0; the library stays
 *                          mapped (glibc keeps a library loaded while a living thread holds
 *                          thread-local destructors of it); dlopen again returns that same
 *                          library, whose cache still holds the token (no new request).
 *   dlclose_test unloads   every call, shutdown included, is made on a thread that has exited
 *                          before dlclose: dlclose returns 0 and unmaps the library; dlopen
 *                          again loads a fresh copy, which works (a new token request).
 *
 * Environment: AADTOKEN_TEST_LIB (the libaadtoken.so to load) and the mock's AADTOKEN_TEST_*.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aadtoken.h"
#include "library_threads.h"

static int passed, failed;
#define CHECK(cond, what)                                                       \
    do {                                                                        \
        if (cond) {                                                             \
            passed++;                                                           \
        } else {                                                                \
            failed++;                                                           \
            printf("FAIL %s:%d: %s: %s\n", __FILE__, __LINE__, #cond, what); \
        }                                                                       \
    } while (0)

static const char *env(const char *name) {
    const char *v = getenv(name);
    if (v == NULL) {
        fprintf(stderr, "%s is not set\n", name);
        exit(2);
    }
    return v;
}

/* The library's entry points this program uses, looked up with dlsym. */
struct lib {
    void *handle;
    aadtoken_config *(*config_new)(void);
    aadtoken_status (*config_parse)(aadtoken_config *, const char *, aadtoken_error **);
    void (*config_free)(aadtoken_config *);
    aadtoken_status (*client_new)(const aadtoken_config *, aadtoken_client **, aadtoken_error **);
    aadtoken_status (*get_token)(const aadtoken_client *, const char *, aadtoken_token **, aadtoken_error **);
    void (*token_free)(aadtoken_token *);
    void (*client_free)(aadtoken_client *);
    void (*shutdown)(void);
};

static void sym(void *handle, const char *name, void *fn_ptr, size_t size) {
    void *p = dlsym(handle, name);
    CHECK(p != NULL, name);
    memcpy(fn_ptr, &p, size); /* POSIX: a dlsym result converts to a function pointer */
}
#define SYM(l, f, name) sym((l)->handle, name, &(l)->f, sizeof((l)->f))

static struct lib open_lib(void) {
    struct lib l;
    memset(&l, 0, sizeof l);
    l.handle = dlopen(env("AADTOKEN_TEST_LIB"), RTLD_NOW | RTLD_LOCAL);
    CHECK(l.handle != NULL, "dlopen");
    if (l.handle == NULL) exit(1);
    SYM(&l, config_new, "aadtoken_config_new");
    SYM(&l, config_parse, "aadtoken_config_parse");
    SYM(&l, config_free, "aadtoken_config_free");
    SYM(&l, client_new, "aadtoken_client_new");
    SYM(&l, get_token, "aadtoken_client_get_token");
    SYM(&l, token_free, "aadtoken_token_free");
    SYM(&l, client_free, "aadtoken_client_free");
    SYM(&l, shutdown, "aadtoken_shutdown");
    return l;
}

/* One token through `l` (a new client each time), then aadtoken_shutdown. */
static void use_and_shut_down(const struct lib *l) {
    char settings[2048];
    aadtoken_config *cfg = l->config_new();
    aadtoken_client *client = NULL;
    aadtoken_token *tok = NULL;
    snprintf(settings, sizeof settings,
             "authority_host=%s;tenant_id=%s;client_id=%s;client_secret=%s;scope=%s;ca_file=%s",
             env("AADTOKEN_TEST_AUTHORITY"), env("AADTOKEN_TEST_TENANT"), env("AADTOKEN_TEST_CLIENT"),
             env("AADTOKEN_TEST_SECRET"), env("AADTOKEN_TEST_SCOPE"), env("AADTOKEN_TEST_CA"));
    CHECK(l->config_parse(cfg, settings, NULL) == AADTOKEN_OK, "settings");
    CHECK(l->client_new(cfg, &client, NULL) == AADTOKEN_OK, "client");
    l->config_free(cfg);
    CHECK(l->get_token(client, NULL, &tok, NULL) == AADTOKEN_OK && tok != NULL, "a token");
    l->token_free(tok);
    l->client_free(client);
    l->shutdown();
}

static void *on_a_thread(void *l) {
    use_and_shut_down(l);
    return NULL;
}

/* Whether a file named libaadtoken is mapped into this process. */
static int mapped(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[1024];
    int found = 0;
    while (f != NULL && fgets(line, sizeof line, f) != NULL) found |= strstr(line, "libaadtoken") != NULL;
    if (f != NULL) fclose(f);
    return found;
}

static void phase(int on_thread, int expect_mapped) {
    struct lib l = open_lib();
    if (on_thread) {
        pthread_t t;
        pthread_create(&t, NULL, on_a_thread, &l);
        pthread_join(t, NULL);
    } else {
        use_and_shut_down(&l);
    }
    CHECK(library_threads() == 0, "no library thread after aadtoken_shutdown");
    CHECK(dlclose(l.handle) == 0, "dlclose returns 0");
    CHECK(mapped() == expect_mapped, expect_mapped ? "still mapped" : "unmapped");
    /* dlopen again: the library works (the same one with its cache, or a fresh copy). */
    l = open_lib();
    use_and_shut_down(&l);
    CHECK(library_threads() == 0, "no library thread after the second shutdown");
    CHECK(dlclose(l.handle) == 0, "second dlclose returns 0");
}

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "";
    if (strcmp(name, "stays") == 0) phase(0, 1);
    else if (strcmp(name, "unloads") == 0) phase(1, 0);
    else {
        fprintf(stderr, "usage: dlclose_test stays|unloads\n");
        return 2;
    }
    printf("%s: %d passed, %d failed\n", name, passed, failed);
    return failed != 0;
}
