/*
 * testkit: helpers for tests that run against the real local broker
 * (infra/local/kafka). Every helper fails the current Criterion test on error,
 * so tests read as the steps they take.
 *
 * The cluster is found through TAGSTREAM_TEST_BOOTSTRAP, else the bootstrap
 * file of the cluster in TAGSTREAM_KAFKA_DIR (set by CTest).
 */
#ifndef TESTKIT_H
#define TESTKIT_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

typedef struct tk_record {
    char *key; /* NUL-terminated copies (NULL for a null key/value) */
    size_t key_len;
    char *value;
    size_t value_len;
    int32_t partition;
    int64_t offset;
    int64_t timestamp;
    rd_kafka_headers_t *headers; /* a copy, NULL when the record has none */
} tk_record;

typedef struct tk_records {
    tk_record *v;
    size_t n;
} tk_records;

/* Bootstrap servers of the test cluster (static storage). */
const char *tk_bootstrap(void);

/* The first line of file `name` of the test cluster's directory
 * (TAGSTREAM_KAFKA_DIR), without its line end: a listener's bootstrap
 * servers, for example. Fails the test when there is no such file. */
void tk_cluster_line(const char *name, char *out, size_t size);

/* A topic name unique to this process and call: "<prefix>-<pid>-<n>". */
char *tk_unique(const char *prefix);

/* Create a topic; config is NULL-terminated name, value pairs or NULL. */
void tk_create_topic(const char *topic, int partitions, int replication, const char *const *config);
void tk_delete_topic(const char *topic);
/* Grow topic to `total` partitions (CreatePartitions). */
void tk_add_partitions(const char *topic, int total);

/* A producer; txid NULL for a plain idempotent one. The caller destroys it. */
rd_kafka_t *tk_producer(const char *txid, const char *const *extra_conf);

/* Produce one record and wait for it (non-transactional producer). */
void tk_produce(rd_kafka_t *p, const char *topic, int32_t partition, const char *key,
                const char *value, int64_t timestamp);

/* Queue one record (value NULL: a null value; timestamp -1: none) without
 * waiting; tk_flush waits for everything queued. */
void tk_send(rd_kafka_t *p, const char *topic, int32_t partition, const void *key, size_t klen,
             const void *value, size_t vlen, int64_t timestamp);
void tk_flush(rd_kafka_t *p);

/* Set a topic config (incrementally, through Kafka's own kafka-configs). */
void tk_topic_config(const char *topic, const char *key_value);

/*
 * Read a topic from the beginning until `expect` records were read (if > 0)
 * or nothing new came for idle_ms. read_committed unless uncommitted != 0.
 */
tk_records tk_consume_all(const char *topic, int uncommitted, size_t expect, int idle_ms);
void tk_records_free(tk_records *r);

/* The value of header `name` of a record as a NUL-terminated copy in buf
 * ("" when absent); returns buf. */
const char *tk_header(const tk_record *rec, const char *name, char *buf, size_t size);

/* A consumer in `group` (read_committed, no auto-commit) subscribed to topic,
 * polled until it has an assignment. */
rd_kafka_t *tk_group_consumer(const char *group, const char *topic);

/* Committed offset of topic/partition for the group (-1001 when none). */
int64_t tk_committed(const char *group, const char *topic, int32_t partition);

/* Wait until `group` has committed the end of every partition of topic;
 * returns 0 on timeout. For a topic written only in transactions, the last
 * offset of a partition is a commit marker, which a consumer never
 * "consumes": say so with transactional != 0. */
int tk_wait_consumed(const char *group, const char *topic, int partitions, int transactional,
                     int timeout_ms);

/* Milliseconds since the epoch. */
int64_t tk_now_ms(void);

/* Each record of r (a processor's result, JSON with "window_start" and
 * "count") as "tag@window_start=count", malloc'd into out[0 .. r->n), in the
 * order read. Fails the test on a value that is not a result. Returns r->n. */
size_t tk_result_lines(const tk_records *r, char **out);
/* One post in the producer's file format (an X API v2 post) with its
 * created_at at ts_ms (UTC, milliseconds) and one hashtag, as a line of fp. */
void tk_write_post(FILE *fp, const char *id, int64_t ts_ms, const char *tag);
/* Sort n strings in strcmp order. */
void tk_sort_strings(char **v, size_t n);

#endif
