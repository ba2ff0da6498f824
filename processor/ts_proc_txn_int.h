/*
 * The processor's exactly-once protocol (internal to processor/): the
 * transactional producer, the open transaction, its commit and abort, and
 * the replacement of a producer that failed fatally. The commit order and
 * the invariants are stated at the top of ts_proc_txn.c.
 *
 * Errors: TS_ERR_FENCED always means "the producer is of no further use";
 * the loop answers it with ts_proc_recover. Every function that fails
 * writes why into errstr.
 *
 * Thread: the loop's (including the rebalance callback, which runs inside
 * its polls).
 */
#ifndef TS_PROC_TXN_INT_H
#define TS_PROC_TXN_INT_H

#include "ts_err.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ts_processor ts_processor;

/* Create the transactional producer (also the admin client) and initialize
 * its transactions: that fences any earlier incarnation of this instance
 * and aborts what it left open. On failure the caller destroys it. */
ts_err ts_proc_producer_new(ts_processor *p, char *errstr, size_t errstr_size);
/* Drop whatever is still queued and destroy the producer; none ok. */
void ts_proc_producer_destroy(ts_processor *p);

/* Produce one record into the open transaction (hdrs copied, may be NULL;
 * a non-NULL opaque marks a changelog record for the delivery report).
 * TS_ERR_KAFKA, with the topic in errstr. */
ts_err ts_proc_produce(ts_processor *p, const char *topic, int32_t partition, const void *key,
                       size_t klen, const void *val, size_t vlen, int64_t ts, void *opaque,
                       rd_kafka_headers_t *hdrs, char *errstr, size_t errstr_size);

/* Record that the brokers refused `what` with code (an ACL is missing):
 * the loop stops at its next turn with TS_ERR_DENIED naming it. */
void ts_proc_denied(ts_processor *p, rd_kafka_resp_err_t code, const char *what);

/* TS_ERR_DENIED with the recorded refusal in errstr, else TS_OK. */
ts_err ts_proc_denied_error(const ts_processor *p, char *errstr, size_t errstr_size);

/* Subscribe the consumer to the input and the repartition topic. */
ts_err ts_proc_subscribe(ts_processor *p, char *errstr, size_t errstr_size);

/* The one place that schedules the next commit: commit.interval.ms from
 * now (the interval runs from the end of a commit). */
void ts_proc_commit_schedule(ts_processor *p);

/* Open a transaction unless one is open. TS_ERR_FENCED: the producer is in
 * a fatal state. */
ts_err ts_proc_txn_begin(ts_processor *p, char *errstr, size_t errstr_size);

/*
 * Commit the open transaction (nothing to do without one): flush the tasks,
 * send the offsets, commit, then write the stores; schedules the next
 * commit. Returns TS_OK also when the transaction had to be aborted (the
 * loop goes on from the committed offsets); TS_ERR_FENCED when it could not
 * even be aborted.
 */
ts_err ts_proc_commit(ts_processor *p, char *errstr, size_t errstr_size);

/* Abort the open transaction (why is logged) and go back to the committed
 * state: tasks and consumer positions. TS_ERR_FENCED when the producer
 * cannot abort. */
ts_err ts_proc_abort(ts_processor *p, const char *why, char *errstr, size_t errstr_size);

/*
 * After TS_ERR_FENCED (cause: its message): drop the tasks' uncommitted
 * state, leave the group, replace the producer and subscribe again.
 * TS_ERR_FENCED when the producer failed too often recently (more than 5
 * times in 10 minutes), or the error of creating the new producer.
 */
ts_err ts_proc_recover(ts_processor *p, const char *cause, char *errstr, size_t errstr_size);

#endif
