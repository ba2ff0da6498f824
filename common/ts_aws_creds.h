/*
 * ts_aws_creds: AWS credentials, looked for in the order the AWS SDKs use:
 *
 *   1. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 *      AWS_SESSION_TOKEN (optional);
 *   2. the ECS container credentials endpoint (a Fargate task role):
 *      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on http://169.254.170.2), or
 *      AWS_CONTAINER_CREDENTIALS_FULL_URI with the Authorization header from
 *      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or AWS_CONTAINER_AUTHORIZATION_TOKEN;
 *   3. EC2 instance metadata (IMDSv2: a session token by PUT, then the
 *      instance profile's role), unless AWS_EC2_METADATA_DISABLED=true;
 *      AWS_EC2_METADATA_SERVICE_ENDPOINT overrides its address.
 *
 * A source that is configured but fails is an error, as in the SDKs: the
 * chain does not fall through to the next one.
 *
 * Ownership: a ts_aws_creds owns its strings; ts_aws_creds_clear wipes the
 * secrets and frees them. Thread: ts_aws_creds_load is reentrant (libcurl
 * must have been initialized by curl_global_init, or is on first use).
 * Nothing here logs, and no message contains a secret.
 */
#ifndef TS_AWS_CREDS_H
#define TS_AWS_CREDS_H

#include "ts_err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ts_aws_creds {
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /* NULL for long-term keys */
    char *role_arn;      /* the role, when the source names it; else NULL */
    int64_t expires_ms;  /* wall clock ms; 0: the source gives no expiry */
    const char *source;  /* "environment", "ecs" or "imds" (static) */
} ts_aws_creds;

typedef struct ts_aws_creds_opts {
    int timeout_ms;        /* per HTTP request; <= 0: 5000 */
    int imds;              /* 1: try EC2 instance metadata last */
    const char *ecs_base;  /* base of RELATIVE_URI; NULL: http://169.254.170.2 */
    const char *imds_base; /* NULL: the environment's, else http://169.254.169.254 */
} ts_aws_creds_opts;

/*
 * Fill `out` from the first source configured (see above). On failure `out`
 * is left empty and the message says which source failed and why:
 * TS_ERR_NOT_FOUND when no source is configured, TS_ERR_IO for an endpoint
 * that cannot be reached or answers with an error status, TS_ERR_CORRUPT for
 * an answer without credentials.
 */
ts_err ts_aws_creds_load(const ts_aws_creds_opts *opts, ts_aws_creds *out, char *errstr,
                         size_t errstr_size);

/* Wipe and free the strings; the struct is left zeroed. NULL ok. */
void ts_aws_creds_clear(ts_aws_creds *c);

/* Copy src into dst (dst is cleared first). TS_ERR_NOMEM leaves dst empty. */
ts_err ts_aws_creds_copy(ts_aws_creds *dst, const ts_aws_creds *src);

/* The access key id as operators see it elsewhere: all but the last four
 * characters masked ("****************WXYZ"). */
void ts_aws_creds_masked_key(const ts_aws_creds *c, char *out, size_t out_size);

/* "2026-11-30T09:15:00Z" -> ms since the epoch; -1 if it does not parse. */
int64_t ts_aws_parse_time(const char *s);

#endif
