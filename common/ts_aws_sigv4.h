/*
 * ts_aws_sigv4: AWS Signature Version 4 for presigned URLs (query-string
 * authentication), as botocore's SigV4QueryAuth builds them, with SHA-256 and
 * HMAC-SHA256 from OpenSSL's libcrypto.
 *
 * The URL is `https://HOST/PATH?` then the request's own parameters in the
 * order given, then X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date,
 * X-Amz-Expires, X-Amz-SignedHeaders (always "host"), X-Amz-Security-Token
 * when there is a session token, and last X-Amz-Signature. The canonical
 * request's payload line is the SHA-256 of the empty body, as botocore's
 * SigV4QueryAuth signs it for every service but S3, or UNSIGNED-PAYLOAD
 * when asked (S3's presigned URLs).
 *
 * Thread: every function is reentrant. Nothing here logs: the secret key
 * only enters the HMAC chain.
 */
#ifndef TS_AWS_SIGV4_H
#define TS_AWS_SIGV4_H

#include "ts_buf.h"
#include "ts_err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ts_aws_param {
    const char *key;
    const char *value;
} ts_aws_param;

typedef struct ts_aws_presign {
    const char *method;            /* "GET" */
    const char *host;              /* the Host header, without a default port */
    const char *path;              /* "/" */
    const char *service;           /* "kafka-cluster" */
    const char *region;            /* "us-east-1" */
    const char *access_key_id;     /* AKIA... / ASIA... */
    const char *secret_access_key; /* never written anywhere but the HMAC */
    const char *session_token;     /* NULL or "" for long-term keys */
    int64_t time_s;                /* signing time, seconds since the epoch (UTC) */
    int expires_s;                 /* X-Amz-Expires, 1..604800 */
    const ts_aws_param *params;    /* the request's own query parameters */
    size_t nparams;
    int unsigned_payload; /* 1: "UNSIGNED-PAYLOAD" (S3); 0: SHA-256 of "" */
} ts_aws_presign;

/*
 * Append the presigned URL of `r` to `url`. Returns TS_ERR_INVALID with a
 * message for a missing field, TS_ERR_NOMEM when the buffer cannot grow
 * (url is then left partly written).
 */
ts_err ts_aws_sigv4_presign(const ts_aws_presign *r, ts_buf *url, char *errstr, size_t errstr_size);

/* Append s[0..n) percent-encoded as SigV4 wants it: every byte but
 * A-Z a-z 0-9 - _ . ~ as %XX (upper-case hex). */
ts_err ts_aws_uri_encode(ts_buf *out, const char *s, size_t n);

/* Append s[0..n) in base64url without padding (RFC 4648 section 5). */
ts_err ts_aws_base64url(ts_buf *out, const void *s, size_t n);

/* Lower-case hex SHA-256 of p[0..n) into hex (65 bytes with the NUL). */
void ts_aws_sha256_hex(const void *p, size_t n, char hex[65]);

/* "20261130T083826Z" (16 characters and a NUL) for a time in seconds. */
void ts_aws_amz_date(int64_t time_s, char out[17]);

#endif
