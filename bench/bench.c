/*
 * aadtoken benchmark driver (C, through the public ABI). Used by bench/run.sh, which starts the
 * mock and passes settings in AADTOKEN_SETTINGS ("key=value;...").
 *
 *   bench cached THREADS ITERS   cached get_token + token_free per op; prints "ns_per_op N" per
 *                                thread and "aggregate_mops N"
 *   bench warm ITERS             a token over the network on a warm connection per op (the
 *                                settings make every cached token "too old": expiry_margin_s >
 *                                lifetime); prints "us_per_op" samples as "median_us N"
 *   bench cold                   first token in this (fresh) process: config + client + get;
 *                                prints "cold_ms N"
 *   bench conc THREADS           THREADS callers released together on a cold cache; prints
 *                                "ok N"
 *   bench footprint              prints threads and VmRSS before/after the first token and idle
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aadtoken.h"

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static aadtoken_client *make_client(void) {
    aadtoken_config *cfg = aadtoken_config_new();
    aadtoken_client *client = NULL;
    aadtoken_error *err = NULL;
    const char *settings = getenv("AADTOKEN_SETTINGS");
    if (settings == NULL || aadtoken_config_parse(cfg, settings, &err) != AADTOKEN_OK ||
        aadtoken_client_new(cfg, &client, &err) != AADTOKEN_OK) {
        fprintf(stderr, "bench: settings: %s\n", err ? aadtoken_error_message(err) : "AADTOKEN_SETTINGS not set");
        exit(2);
    }
    aadtoken_config_free(cfg);
    return client;
}

static void get_or_die(aadtoken_client *client) {
    aadtoken_token *tok = NULL;
    aadtoken_error *err = NULL;
    if (aadtoken_client_get_token(client, NULL, &tok, &err) != AADTOKEN_OK) {
        fprintf(stderr, "bench: get_token: %s\n", aadtoken_error_message(err));
        exit(3);
    }
    aadtoken_token_free(tok);
}

/* ---- cached ---- */
struct cached_arg {
    aadtoken_client *client;
    long iters;
    pthread_barrier_t *barrier;
    double ns_per_op;
};

static void *cached_worker(void *p) {
    struct cached_arg *a = p;
    long i;
    double t0;
    get_or_die(a->client); /* warm this thread's replica */
    pthread_barrier_wait(a->barrier);
    t0 = now_ns();
    for (i = 0; i < a->iters; i++) {
        aadtoken_token *tok = NULL;
        aadtoken_client_get_token(a->client, NULL, &tok, NULL);
        aadtoken_token_free(tok);
    }
    a->ns_per_op = (now_ns() - t0) / (double)a->iters;
    return NULL;
}

static void bench_cached(int threads, long iters) {
    aadtoken_client *client = make_client();
    pthread_t t[64];
    struct cached_arg a[64];
    pthread_barrier_t barrier;
    double sum_rate = 0;
    int i;
    get_or_die(client);
    pthread_barrier_init(&barrier, NULL, (unsigned)threads);
    for (i = 0; i < threads; i++) {
        a[i].client = client;
        a[i].iters = iters;
        a[i].barrier = &barrier;
        pthread_create(&t[i], NULL, cached_worker, &a[i]);
    }
    for (i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        printf("ns_per_op %.1f\n", a[i].ns_per_op);
        sum_rate += 1e3 / a[i].ns_per_op;
    }
    printf("aggregate_mops %.2f\n", sum_rate);
    aadtoken_client_free(client);
}

/* ---- warm ---- */
static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static void bench_warm(long iters) {
    aadtoken_client *client = make_client();
    double *s = calloc((size_t)iters, sizeof *s);
    long i;
    get_or_die(client); /* connection set up */
    for (i = 0; i < iters; i++) {
        double t0 = now_ns();
        get_or_die(client);
        s[i] = (now_ns() - t0) / 1e3;
    }
    qsort(s, (size_t)iters, sizeof *s, cmp_double);
    printf("median_us %.1f\n", s[iters / 2]);
    free(s);
    aadtoken_client_free(client);
}

/* ---- cold ---- */
static void bench_cold(void) {
    double t0 = now_ns();
    aadtoken_client *client = make_client();
    get_or_die(client);
    printf("cold_ms %.3f\n", (now_ns() - t0) / 1e6);
    aadtoken_client_free(client);
}

/* ---- concurrency ---- */
struct conc_arg {
    aadtoken_client *client;
    pthread_barrier_t *barrier;
    int ok;
};

static void *conc_worker(void *p) {
    struct conc_arg *a = p;
    aadtoken_token *tok = NULL;
    pthread_barrier_wait(a->barrier);
    a->ok = aadtoken_client_get_token(a->client, NULL, &tok, NULL) == AADTOKEN_OK;
    aadtoken_token_free(tok);
    return NULL;
}

static void bench_conc(int threads) {
    aadtoken_client *client = make_client();
    pthread_t t[256];
    struct conc_arg a[256];
    pthread_barrier_t barrier;
    int i, ok = 0;
    pthread_barrier_init(&barrier, NULL, (unsigned)threads);
    for (i = 0; i < threads; i++) {
        a[i].client = client;
        a[i].barrier = &barrier;
        pthread_create(&t[i], NULL, conc_worker, &a[i]);
    }
    for (i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        ok += a[i].ok;
    }
    printf("ok %d\n", ok);
    aadtoken_client_free(client);
}

/* ---- footprint ---- */
static long rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kb;
}

static int threads_now(void) {
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)) != NULL) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static void bench_footprint(void) {
    long before = rss_kb(), after;
    aadtoken_client *client = make_client();
    get_or_die(client);
    after = rss_kb();
    printf("rss_before_kb %ld\nrss_after_first_token_kb %ld\nrss_growth_kb %ld\n", before, after, after - before);
    {
        struct timespec idle = {11, 0}; /* longer than the resolver thread's keep-alive */
        nanosleep(&idle, NULL);
    }
    printf("threads_idle_total %d\nlibrary_threads_idle %d\n", threads_now(), threads_now() - 1);
    aadtoken_client_free(client);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "cached") == 0 && argc == 4) bench_cached(atoi(argv[2]), atol(argv[3]));
    else if (strcmp(mode, "warm") == 0 && argc == 3) bench_warm(atol(argv[2]));
    else if (strcmp(mode, "cold") == 0) bench_cold();
    else if (strcmp(mode, "conc") == 0 && argc == 3) bench_conc(atoi(argv[2]));
    else if (strcmp(mode, "footprint") == 0) bench_footprint();
    else {
        fprintf(stderr, "usage: bench cached THREADS ITERS | warm ITERS | cold | conc THREADS | footprint\n");
        return 2;
    }
    return 0;
}
