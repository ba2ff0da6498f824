/*
 * ts_processor: the exactly-once consume-transform-produce loop.
 *
 * One group consumer (read_committed, no auto-commit, eager "range"
 * assignment) subscribed to the input topic and the repartition topic, and
 * one transactional producer. Two sub-topologies, as Kafka Streams would
 * build them:
 *   0_<p>: input partition p -> filter, Java-normalize -> repartition topic,
 *          partitioned by murmur2(tag);
 *   1_<p>: repartition partition p -> ts_task (window counts in RocksDB,
 *          changelog partition p) -> output topic.
 * Every commit.interval.ms the open transaction takes the changelog records
 * of the interval, then the consumed offsets (send_offsets_to_transaction
 * with the group metadata, KIP-447), and commits; only then are the stores
 * written. See docs/DESIGN.md.
 *
 * Thread: everything runs on the thread that calls ts_processor_run, except
 * the health/readiness getters, which any thread may call.
 */
#ifndef TS_PROCESSOR_H
#define TS_PROCESSOR_H

#include "ts_config.h"
#include "ts_err.h"
#include "ts_metrics.h"
#include "ts_proc_config.h"

#include <signal.h>
#include <stdint.h>

typedef struct ts_processor ts_processor;

/*
 * Check topics (creating the internal ones), open the clients and initialize
 * transactions. cfg and conf must outlive the processor; metrics may be
 * NULL. Errors leave nothing behind: TS_ERR_INVALID (configuration),
 * TS_ERR_NOT_FOUND (input or output topic missing), TS_ERR_KAFKA, TS_ERR_IO
 * (state directory), TS_ERR_EXISTS (another processor holds the state
 * directory).
 */
ts_err ts_processor_new(const ts_proc_config *cfg, const ts_conf *conf, ts_metrics *metrics,
                        ts_processor **out, char *errstr, size_t errstr_size);

/*
 * Run until *stop becomes non-zero (then shut down gracefully: commit, flush
 * the stores, leave the group) or until a fatal error: TS_ERR_FENCED (a newer
 * instance took over this transactional.id), TS_ERR_KAFKA, TS_ERR_STORE.
 */
ts_err ts_processor_run(ts_processor *p, volatile sig_atomic_t *stop, char *errstr,
                        size_t errstr_size);

/* Free everything; NULL ok. */
void ts_processor_destroy(ts_processor *p);

/* For /health and /ready (any thread). */
int64_t ts_processor_heartbeat_ms(const ts_processor *p); /* last loop turn, monotonic ms */
int ts_processor_ready(const ts_processor *p);
int ts_processor_tasks_restoring(const ts_processor *p);
/* The group has given this instance an assignment (possibly empty) since it
 * started: until then it is not ready, and restores nothing either. */
int ts_processor_assigned(const ts_processor *p);

#endif
