/*
 * The library's threads, by name, from /proc: shared by the C test programs that check what
 * aadtoken_shutdown leaves (abi_test.c, and dlclose_test.c, which is not linked with the
 * library and so not with common.c). Header-only: each program gets its own static copy.
 */
#ifndef AADTOKEN_TEST_LIBRARY_THREADS_H
#define AADTOKEN_TEST_LIBRARY_THREADS_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>

/* Threads of this process named aadtoken-* (the library's); -1 when /proc cannot be read. */
static int library_threads(void) {
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;
    if (d == NULL) return -1;
    while ((e = readdir(d)) != NULL) {
        char path[300], name[64] = "";
        FILE *f;
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        if ((f = fopen(path, "r")) != NULL) {
            if (fgets(name, sizeof name, f) != NULL && strncmp(name, "aadtoken", 8) == 0) n++;
            fclose(f);
        }
    }
    closedir(d);
    return n;
}

#endif
