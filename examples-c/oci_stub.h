/*
 * oci_stub.h: declarations of the few OCI types, constants and functions that
 * oci_token_pool.c uses, so that the example compiles where Oracle's headers are not installed
 * (this repository's CI). They mirror Oracle's oci.h / ociap.h / oratypes.h (the constant values
 * are those ODPI-C uses in dpiImpl.h). This is NOT Oracle's header and NOT an OCI library: a
 * program built with it links only against a library that defines these functions (the tests
 * link tests/c/oci_fake.c).
 *
 * With a real Oracle Instant Client SDK, build the example against Oracle's headers instead:
 *     cc -DAADTOKEN_REAL_OCI -I$ORACLE_HOME/sdk/include ... oci_token_pool.c -lclntsh -laadtoken
 */
#ifndef AADTOKEN_EXAMPLE_OCI_STUB_H
#define AADTOKEN_EXAMPLE_OCI_STUB_H

#include <stddef.h>

/* oratypes.h */
typedef int sword;
typedef int sb4;
typedef unsigned int ub4;
typedef unsigned short ub2;
typedef unsigned char OraText;
typedef int boolean;
#ifndef TRUE
#define TRUE 1
#define FALSE 0
#endif

/* Opaque handles. */
typedef struct OCIEnv OCIEnv;
typedef struct OCIError OCIError;
typedef struct OCISvcCtx OCISvcCtx;
typedef struct OCIAuthInfo OCIAuthInfo;
typedef struct OCISPool OCISPool;

/* Return codes and modes. */
#define OCI_SUCCESS 0
#define OCI_ERROR (-1)
#define OCI_DEFAULT 0x00000000
#define OCI_THREADED 0x00000001

/* Handle types. OCI_HTYPE_AUTHINFO is the session handle type. */
#define OCI_HTYPE_ENV 1
#define OCI_HTYPE_ERROR 2
#define OCI_HTYPE_SVCCTX 3
#define OCI_HTYPE_SESSION 9
#define OCI_HTYPE_AUTHINFO OCI_HTYPE_SESSION
#define OCI_HTYPE_SPOOL 27

/* Attributes. */
#define OCI_ATTR_SPOOL_AUTH 460       /* the pool's OCIAuthInfo (homogeneous pools) */
#define OCI_ATTR_TOKEN 636            /* the access token: text and its length */
#define OCI_ATTR_IAM_PRIVKEY 637      /* OCI IAM only; not used for Entra ID (OAuth) tokens */
#define OCI_ATTR_TOKEN_CBK 638        /* the token callback (a function pointer) */
#define OCI_ATTR_TOKEN_CBKCTX 639     /* its context */
#define OCI_ATTR_TOKEN_ISBEARER 657   /* set for OAuth bearer tokens */

/* Session pool modes. */
#define OCI_SPC_HOMOGENEOUS 0x0002
#define OCI_SPC_STMTCACHE 0x0004
#define OCI_SPD_FORCE 0x0001
#define OCI_SESSGET_SPOOL 0x0001
#define OCI_SESSGET_CREDEXT 0x0010 /* external credentials: NOT for token pools (ODPI-C turns it off) */

#define OCI_ERROR_MAXMSG_SIZE 1024

/* ociap.h */
sword OCIEnvCreate(OCIEnv **envp, ub4 mode, void *ctxp, void *(*malocfp)(void *ctxp, size_t size),
                   void *(*ralocfp)(void *ctxp, void *memptr, size_t newsize),
                   void (*mfreefp)(void *ctxp, void *memptr), size_t xtramem_sz, void **usrmempp);
sword OCIHandleAlloc(const void *parenth, void **hndlpp, const ub4 type, const size_t xtramem_sz,
                     void **usrmempp);
sword OCIHandleFree(void *hndlp, const ub4 type);
sword OCIAttrSet(void *trgthndlp, ub4 trghndltyp, void *attributep, ub4 size, ub4 attrtype, OCIError *errhp);
sword OCIErrorGet(void *hndlp, ub4 recordno, OraText *sqlstate, sb4 *errcodep, OraText *bufp, ub4 bufsiz,
                  ub4 type);
sword OCISessionPoolCreate(OCIEnv *envhp, OCIError *errhp, OCISPool *spoolhp, OraText **poolName,
                           ub4 *poolNameLen, const OraText *connStr, ub4 connStrLen, ub4 sessMin, ub4 sessMax,
                           ub4 sessIncr, OraText *userid, ub4 useridLen, OraText *password, ub4 passwordLen,
                           ub4 mode);
sword OCISessionPoolDestroy(OCISPool *spoolhp, OCIError *errhp, ub4 mode);
sword OCISessionGet(OCIEnv *envhp, OCIError *errhp, OCISvcCtx **svchp, OCIAuthInfo *authhp, OraText *poolName,
                    ub4 poolName_len, const OraText *tagInfo, ub4 tagInfo_len, OraText **retTagInfo,
                    ub4 *retTagInfo_len, boolean *found, ub4 mode);
sword OCISessionRelease(OCISvcCtx *svchp, OCIError *errhp, OraText *tag, ub4 tag_len, ub4 mode);

#endif /* AADTOKEN_EXAMPLE_OCI_STUB_H */
