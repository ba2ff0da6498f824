/*
 * ts_kafka: the librdkafka helpers every binary shares.
 *
 * librdkafka's own errors are turned into ts_err + message here, and its log
 * lines are routed into ts_log (component "rdkafka"), so callers never see
 * librdkafka error types outside the Kafka-facing modules.
 */
#ifndef TS_KAFKA_H
#define TS_KAFKA_H

#include "ts_buf.h"
#include "ts_config.h"
#include "ts_err.h"
#include "ts_metrics.h"

#include <librdkafka/rdkafka.h>

/*
 * A new rd_kafka_conf_t with bootstrap.servers, the JSON log routing, the
 * defaults in `defaults`, then every "kafka.*" key of `conf` (so an operator
 * can override any default), then `forced`: what the caller's correctness
 * rests on, whatever the passthrough said (isolation.level=read_committed,
 * no auto-commit, ...), with a warning for each kafka.* key it replaces.
 * defaults and forced are NULL-terminated key, value
 * pairs and may be NULL. Returns NULL with a message naming the offending key.
 * With msk.iam=true in conf's table (see ts_msk_iam.h) it also sets
 * security.protocol=SASL_SSL and sasl.mechanisms=OAUTHBEARER before the
 * kafka.* keys and installs the MSK IAM token refresh callback; create the
 * client with ts_kafka_new.
 * Ownership: the caller owns the result (rd_kafka_new takes it over).
 */
rd_kafka_conf_t *ts_kafka_conf_new(const ts_conf *conf, const char *bootstrap,
                                   const char *const *defaults, const char *const *forced,
                                   char *errstr, size_t errstr_size);

/*
 * rd_kafka_new, then, when the configuration has a SASL queue (msk.iam),
 * its callbacks routed to librdkafka's background thread, so that the
 * first token is there before any poll call. Same contract as rd_kafka_new:
 * takes kc over on success, leaves it to the caller on failure.
 */
rd_kafka_t *ts_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *kc, char *errstr,
                         size_t errstr_size);

/*
 * 1 if this librdkafka has fetch.queue.backoff.ms (2.1 and later): how long
 * a partition whose prefetch queue is over queued.min.messages or
 * queued.max.messages.kbytes waits before the consumer looks at it again
 * (1 s by default). Before 2.1 it is looked at again only when its
 * broker's connection wakes up (see ts_proc_nudge).
 */
int ts_kafka_has_fetch_queue_backoff(void);

/* Set one property, message names the key. */
ts_err ts_kafka_conf_set(rd_kafka_conf_t *kc, const char *key, const char *value, char *errstr,
                         size_t errstr_size);

/* Map a librdkafka error object (transactional API) to ts_err: fatal -> FENCED
 * (or KAFKA), txn_requires_abort -> ABORTABLE, retriable -> TIMEOUT. */
ts_err ts_kafka_error_to_err(const rd_kafka_error_t *error);

/* The log callback ts_kafka_conf_new installs. */
void ts_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/*
 * ---- Security failures ----
 *
 * A client that cannot authenticate (SASL, a TLS handshake: unknown CA,
 * wrong host name, missing client certificate) is retried by librdkafka
 * forever, and one that lacks an ACL gets the same answer each time. Both
 * are recorded here, process-wide, so that the start-up check can name the
 * cause when it gives up, and /health and /metrics can say why while it
 * retries.
 */

/* 1 for errors that retrying cannot cure: authentication, TLS, the
 * *_AUTHORIZATION_FAILED codes. */
int ts_kafka_err_is_denied(rd_kafka_resp_err_t err);

/*
 * Record err (with librdkafka's reason text) if ts_kafka_err_is_denied says
 * so; other errors are ignored. Thread: any (librdkafka's callbacks).
 */
void ts_kafka_note_error(rd_kafka_resp_err_t err, const char *reason);

/* The error callback ts_kafka_conf_new installs: ts_kafka_note_error, and
 * a warning in the log. A caller that installs its own calls
 * ts_kafka_note_error from it. */
void ts_kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque);

/*
 * The security failure recorded last and not cleared since, as
 * "ERR_NAME: reason" (with what to check, where a hint helps), into buf.
 * Returns 1 when there is one, else 0 (buf empty). Thread: any.
 */
int ts_kafka_problem(char *buf, size_t size);

/* Clear the recorded failure: the client got through. */
void ts_kafka_problem_clear(void);

/*
 * Register on m: tagstream_kafka_security_failure (1 while a security
 * failure is recorded) and tagstream_kafka_security_failures_total.
 */
ts_err ts_kafka_metrics_register(ts_metrics *m);

/* Append `"kafka_problem":"..."` to a /health detail when there is one;
 * returns 1 if so. */
int ts_kafka_health_detail(ts_buf *detail);

/*
 * Wait up to timeout_ms for a broker to answer a metadata request on rk,
 * serving rk's callbacks meanwhile (call it before rd_kafka_poll_set_consumer
 * on a consumer). On failure the message names the recorded cause
 * (TS_ERR_DENIED), else says that no broker answered (TS_ERR_TIMEOUT);
 * `what` names the setting that bounds the wait (e.g. "startup.timeout.ms").
 */
ts_err ts_kafka_wait_connected(rd_kafka_t *rk, int timeout_ms, const char *what, char *errstr,
                               size_t errstr_size);

/*
 * The librdkafka versions before 2.6.1 cannot authenticate with SCRAM to
 * Kafka 4.0 and newer. When rd_kafka_version() is older and conf sets a
 * SCRAM mechanism, log a warning naming the brokers and what to do; returns
 * 1 if it warned. Called by ts_kafka_conf_new (once per process).
 */
int ts_kafka_check_scram(const ts_conf *conf, const char *bootstrap);

/* "SASL/SCRAM needs librdkafka >= 2.6.1 ..." when rd_kafka_version() is
 * older and mechanisms names SCRAM, else NULL. */
const char *ts_kafka_scram_limit(int version, const char *mechanisms);

/*
 * Create `topic` with the Admin API and wait up to timeout_ms for the answer.
 * config: NULL-terminated key, value pairs of topic settings, or NULL.
 * TS_ERR_EXISTS when the topic already exists; other failures name the topic.
 */
ts_err ts_kafka_create_topic(rd_kafka_t *rk, const char *topic, int partitions, int rf,
                             const char *const *config, int timeout_ms, char *errstr,
                             size_t errstr_size);

/*
 * Number of partitions of `topic` (-1 if it does not exist) and of brokers in
 * the cluster, from one metadata request. Returns TS_ERR_KAFKA on failure,
 * TS_ERR_DENIED when the principal may not describe the topic.
 */
ts_err ts_kafka_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, int *partitions,
                                 int *brokers, char *errstr, size_t errstr_size);

#endif
