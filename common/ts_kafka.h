/*
 * ts_kafka: the librdkafka helpers every binary shares.
 *
 * librdkafka's own errors are turned into ts_err + message here, and its log
 * lines are routed into ts_log (component "rdkafka"), so callers never see
 * librdkafka error types outside the Kafka-facing modules.
 */
#ifndef TS_KAFKA_H
#define TS_KAFKA_H

#include "ts_config.h"
#include "ts_err.h"

#include <librdkafka/rdkafka.h>

/*
 * A new rd_kafka_conf_t with bootstrap.servers, the JSON log routing, the
 * defaults in `defaults`, then every "kafka.*" key of `conf` (so an operator
 * can override any default), then `forced`: what the caller's correctness
 * rests on, whatever the passthrough said (isolation.level=read_committed,
 * no auto-commit, ...), with a warning for each kafka.* key it replaces.
 * defaults and forced are NULL-terminated key, value
 * pairs and may be NULL. Returns NULL with a message naming the offending key.
 * Ownership: the caller owns the result (rd_kafka_new takes it over).
 */
rd_kafka_conf_t *ts_kafka_conf_new(const ts_conf *conf, const char *bootstrap,
                                   const char *const *defaults, const char *const *forced,
                                   char *errstr, size_t errstr_size);

/* Set one property, message names the key. */
ts_err ts_kafka_conf_set(rd_kafka_conf_t *kc, const char *key, const char *value, char *errstr,
                         size_t errstr_size);

/* Map a librdkafka error object (transactional API) to ts_err: fatal -> FENCED
 * (or KAFKA), txn_requires_abort -> ABORTABLE, retriable -> TIMEOUT. */
ts_err ts_kafka_error_to_err(const rd_kafka_error_t *error);

/* The log callback ts_kafka_conf_new installs. */
void ts_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

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
 * the cluster, from one metadata request. Returns TS_ERR_KAFKA on failure.
 */
ts_err ts_kafka_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, int *partitions,
                                 int *brokers, char *errstr, size_t errstr_size);

#endif
