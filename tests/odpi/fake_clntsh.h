/*
 * The test hooks of the fake Oracle Client library (fake_clntsh.c, built as libclntsh.so):
 * what OCI received, and a way to make OCI find its token expired. Not OCI's API: the fake's
 * own, for tests/odpi/odpi_test.c.
 */
#ifndef AADTOKEN_FAKE_CLNTSH_H
#define AADTOKEN_FAKE_CLNTSH_H

#include <stdint.h>

/* What the fake OCI saw of the last session pool created. */
struct fakeoci_pool_info {
    int pools_created;           /* OCISessionPoolCreate calls that succeeded */
    int homogeneous;             /* OCI_SPC_HOMOGENEOUS was given */
    int has_token;               /* OCI_ATTR_TOKEN (636) set on the pool's OCIAuthInfo */
    int is_bearer;               /* OCI_ATTR_TOKEN_ISBEARER (657) set to true */
    int callback_registered;     /* OCI_ATTR_TOKEN_CBK (638) set */
    int callback_context_set;    /* OCI_ATTR_TOKEN_CBKCTX (639) set */
    int callback_calls;          /* times OCI called the token callback */
    int callback_failures;       /* ... and it returned an error */
    int sessions;                /* sessions logged on */
    uint32_t last_get_mode;      /* the mode of the last OCISessionGet */
};

/* A snapshot of the last pool's state. */
void fakeoci_pool_info(struct fakeoci_pool_info *out);

/* A copy (malloc'ed, NUL-terminated; the caller frees it) of the token now on the last pool's
 * OCIAuthInfo, NULL if none. */
char *fakeoci_pool_token(void);

/* A copy (as above) of the token the last session logged on with, NULL if none. */
char *fakeoci_last_logon_token(void);

/* From now on, the pool's current token counts as expired (as if its `exp` had passed): the
 * next OCISessionGet calls the token callback, as OCI does. A new token set on the OCIAuthInfo
 * is judged by its own `exp` claim again. */
void fakeoci_expire_token(void);

#endif
