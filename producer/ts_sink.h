/*
 * ts_sink: the Kafka side of the producer. An idempotent producer
 * (enable.idempotence, acks=all), compression.type from the configuration,
 * Java's murmur2 partitioner (murmur2_random), every kafka.* key passed
 * through. Each hashtag of a post becomes one record: key = the tag
 * normalized as the processor groups it (ts_tag_normalize: Java lower case,
 * then trim), value = the tag as written, timestamp = the post's created_at
 * (else the time of sending).
 *
 * Delivery reports are served by a thread of the sink; failures are counted
 * (records produced / delivery failures in ts_pstats) and logged, sampled.
 *
 * Ownership: the sink keeps pointers to conf, raw and stats, which must
 * outlive it. Thread: ts_sink_post from one thread; ts_sink_ready from any.
 */
#ifndef TS_SINK_H
#define TS_SINK_H

#include "ts_config.h"
#include "ts_pconf.h"
#include "ts_post.h"
#include "ts_pstats.h"

#include <stdatomic.h>

typedef struct ts_sink ts_sink;

/*
 * Create the producer and check, within startup.timeout.ms, that the
 * brokers answer and that the topic exists (a missing topic is an error:
 * the brokers do not create topics on the producer's behalf). A refused
 * login or TLS handshake, retried until then, is named in the message.
 */
ts_sink *ts_sink_new(const ts_pconf *conf, const ts_conf *raw, ts_pstats *stats, char *errstr,
                     size_t errstr_size);

/*
 * Produce each tag of post. Waits while librdkafka's queue is full, unless
 * *stop is set (then TS_ERR_STOPPED). TS_ERR_KAFKA with a message when the
 * producer hit a fatal error (it cannot go on: idempotence was broken),
 * TS_ERR_DENIED when the brokers refused a record (ts_sink_denied).
 */
ts_err ts_sink_post(ts_sink *s, const ts_post *post, const atomic_int *stop, char *errstr,
                    size_t errstr_size);

/* Wait up to timeout_ms for every record to be acknowledged; *left gets the
 * number still in flight (0 on success, else TS_ERR_TIMEOUT). On a timeout
 * those records are purged and counted as delivery failures. */
ts_err ts_sink_flush(ts_sink *s, int64_t timeout_ms, int *left);

/* 1 when the brokers refused a record for good (TOPIC_AUTHORIZATION_FAILED,
 * CLUSTER_AUTHORIZATION_FAILED): the message says which. ts_sink_post then
 * returns TS_ERR_DENIED. Any thread. */
int ts_sink_denied(const ts_sink *s, char *errstr, size_t errstr_size);

/* The brokers answered lately (for /ready). Any thread. */
int ts_sink_ready(const ts_sink *s);

/* Stop the delivery thread and free; records still queued are dropped (call
 * ts_sink_flush first). NULL ok. */
void ts_sink_destroy(ts_sink *s);

#endif
