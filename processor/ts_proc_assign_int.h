/*
 * Assignment and revocation of the processor's partitions, and the restore
 * of their tasks (internal to processor/). Thread: the loop's.
 */
#ifndef TS_PROC_ASSIGN_INT_H
#define TS_PROC_ASSIGN_INT_H

#include "ts_err.h"

#include <librdkafka/rdkafka.h>

typedef struct ts_processor ts_processor;

/* The consumer's rebalance callback (opaque: the processor). It cannot
 * return an error: a failed commit or abort on revocation is left in
 * p->rebalance_err for the loop. */
void ts_proc_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t *parts, void *opaque);

/* Plan, run (for at most budget_ms) and finish the restores under way.
 * TS_ERR_STORE or TS_ERR_IO (a store that cannot be opened or loaded):
 * fatal, with errstr; a restore that merely failed starts over. */
ts_err ts_proc_restore_step(ts_processor *p, int budget_ms, char *errstr, size_t errstr_size);

#endif
