/*
 * ts_msk_iam: Amazon MSK IAM authentication over SASL/OAUTHBEARER.
 *
 * The token is the base64url (unpadded) encoding of a SigV4-presigned URL
 * for the action kafka-cluster:Connect, built as AWS's MSK IAM signer
 * libraries build it:
 *
 *   https://kafka.REGION.amazonaws.com/?Action=kafka-cluster%3AConnect
 *     &X-Amz-Algorithm=...&X-Amz-Credential=...&X-Amz-Date=...
 *     &X-Amz-Expires=900&X-Amz-SignedHeaders=host[&X-Amz-Security-Token=...]
 *     &X-Amz-Signature=...&User-Agent=tagstream%2F<version>
 *
 * One token serves every broker of the cluster (librdkafka asks for one per
 * client), so the signed host is the regional endpoint, as in AWS's Python
 * and Go signers, unless msk.iam.host names another.
 *
 * Configuration: a binary puts TS_CONF_KEY_MSK_IAM in its table;
 * ts_kafka_conf_new finds the keys by name, and with msk.iam=true installs
 * the token refresh callback (see ts_msk_iam_conf_apply). The credentials
 * (ts_aws_creds) and the state of the last refresh are shared by every
 * client of the process.
 *
 * Thread: the refresh callback runs on librdkafka's background thread; every
 * function here may be called from any thread. Secrets never reach a log
 * line, a metric or a message.
 */
#ifndef TS_MSK_IAM_H
#define TS_MSK_IAM_H

#include "ts_aws_creds.h"
#include "ts_buf.h"
#include "ts_config.h"
#include "ts_err.h"
#include "ts_metrics.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TS_MSK_IAM_EXPIRES_S 900 /* X-Amz-Expires of every AWS signer */

typedef struct ts_msk_iam_conf {
    int enabled;  /* msk.iam */
    char *region; /* msk.iam.region; NULL: AWS_REGION, then AWS_DEFAULT_REGION */
    char *host;   /* msk.iam.host; NULL: kafka.<region>.amazonaws.com */
    int imds;     /* msk.iam.imds */
} ts_msk_iam_conf;

/* The msk.iam keys as rows of a configuration table, for a ts_msk_iam_conf
 * named `field` inside the struct `type`: a TS_CONF_KEY_* macro as in
 * ts_config.h, kept here with the code that reads the keys. */
/* clang-format off */
#define TS_CONF_KEY_MSK_IAM(type, field)                                                   \
    {"msk.iam", TS_CONF_BOOL, offsetof(type, field.enabled), "false", 0, 0, NULL,          \
     "Authenticate to Amazon MSK with IAM (SASL/OAUTHBEARER with a SigV4-signed token, "   \
     "port 9098): sets kafka.security.protocol=SASL_SSL and "                              \
     "kafka.sasl.mechanisms=OAUTHBEARER unless given, and refreshes the token before it "  \
     "or the credentials expire. Check with --msk-iam-check.", 0},                         \
    {"msk.iam.region", TS_CONF_STRING, offsetof(type, field.region), NULL, 0, 0, NULL,     \
     "AWS region of the MSK cluster (unset: AWS_REGION, then AWS_DEFAULT_REGION).", 0},    \
    {"msk.iam.host", TS_CONF_STRING, offsetof(type, field.host), NULL, 0, 0, NULL,         \
     "Host the token is signed for (unset: kafka.<region>.amazonaws.com, as AWS's "        \
     "signers do).", 0},                                                                   \
    {"msk.iam.imds", TS_CONF_BOOL, offsetof(type, field.imds), "true", 0, 0, NULL,         \
     "Look for credentials in EC2 instance metadata (IMDSv2) after the environment and "   \
     "the ECS container endpoint.", 0}
/* clang-format on */

/* The settings as ts_kafka_conf_new reads them from a ts_conf by name. */
typedef struct ts_msk_iam_settings {
    int enabled;
    char region[64];
    char host[256];
    int imds;
} ts_msk_iam_settings;

/*
 * Read the msk.iam keys of `conf` (absent keys: disabled). Resolves the
 * region and the host. TS_ERR_INVALID with a message when IAM is on and no
 * region is known or a value is malformed.
 */
ts_err ts_msk_iam_settings_get(const ts_conf *conf, ts_msk_iam_settings *s, char *errstr,
                               size_t errstr_size);

/*
 * With s->enabled: record the settings for the process, install the token
 * refresh callback on `kc` and route it to a SASL queue that ts_kafka_new
 * hands to the background thread (so no poll call is needed for the first
 * token, e.g. during init_transactions). The caller has already set the
 * kafka.* properties; TS_ERR_INVALID if they name another SASL mechanism.
 */
ts_err ts_msk_iam_conf_apply(const ts_msk_iam_settings *s, rd_kafka_conf_t *kc, char *errstr,
                             size_t errstr_size);

/*
 * Build a token: the presigned URL for `host` in `region` at time now_s,
 * valid TS_MSK_IAM_EXPIRES_S seconds, with the User-Agent `user_agent`
 * (NULL: "tagstream/<version>"), base64url-encoded into `token`
 * (appended). *expires_ms (may be NULL) = (now_s + 900) * 1000.
 */
ts_err ts_msk_iam_token(const ts_aws_creds *creds, const char *region, const char *host,
                        int64_t now_s, const char *user_agent, ts_buf *token, int64_t *expires_ms,
                        char *errstr, size_t errstr_size);

/*
 * The refresh callback (librdkafka's signature): loads or reuses the
 * credentials, builds a token, sets it with rd_kafka_oauthbearer_set_token
 * and a lifetime that ends before the credentials do. On failure it retries
 * a few times with backoff, then calls rd_kafka_oauthbearer_set_token_failure
 * (librdkafka asks again ten seconds later), logs the reason and counts it.
 */
void ts_msk_iam_refresh_cb(rd_kafka_t *rk, const char *oauthbearer_config, void *opaque);

/* 1 once a client of the process was configured with msk.iam=true. */
int ts_msk_iam_enabled(void);

/* Register tagstream_msk_iam_* metrics in `m` when `conf` says msk.iam=true
 * (no-op otherwise); may be called before any client exists. */
ts_err ts_msk_iam_metrics(ts_metrics *m, const ts_conf *conf);

/*
 * For /health: returns 0 (unhealthy) only when IAM is on, the last refresh
 * failed and the last good token has expired; appends
 * "msk_iam":{...} (with a leading comma when detail is not empty).
 * Returns 1 and appends nothing when IAM is off.
 */
int ts_msk_iam_health(ts_buf *detail);

/*
 * The operator check: with the settings of `conf`, load the credentials
 * and build a token as the clients would, and print the region, the signed
 * host, the credential source, the role and masked access key id, the
 * credentials' and the token's expiry. Never prints a secret or the token.
 * Returns 0 when a token could be built, 1 (after printing why) when not.
 */
int ts_msk_iam_check(const ts_conf *conf, FILE *out);

/* Tests: the delays between attempts in the refresh callback (ms, default
 * 250 doubling up to 2000) and the number of attempts (default 3). */
void ts_msk_iam_set_retry(int attempts, int first_delay_ms);

/* Tests: forget the cached credentials and the refresh state. */
void ts_msk_iam_reset(void);

#endif
