/*
 * The processor's internals: the state its source files share, and the
 * few operations on one partition's state that all of them use.
 *
 *   ts_processor.c     the loop: processing, bad records, the tasks'
 *                      sinks, internal topics, the purge, construction
 *   ts_proc_txn.c      the exactly-once protocol: producer, transaction,
 *                      commit, abort, recovery (ts_proc_txn_int.h)
 *   ts_proc_assign.c   assignment and revocation of partitions, and the
 *                      restore of their tasks' stores (ts_proc_assign_int.h)
 *   ts_proc_metrics.c  the /metrics series, gauges and consumer lag
 *                      (ts_proc_metrics_int.h)
 *   ts_proc_slot.c     pause, reload and close one partition's task (here)
 *   ts_proc_idle.c     stream time of quiet tasks after window.close.idle.ms
 *                      (ts_proc_idle_int.h)
 *   ts_proc_standby.c  standby replicas: warm stores of the tasks not ours
 *                      (ts_proc_standby_int.h)
 *
 * The files depend on each other in one direction only: ts_processor.c on
 * all, ts_proc_assign.c on ts_proc_txn.c and ts_proc_standby.c,
 * ts_proc_idle.c on ts_proc_txn.c, those on ts_proc_metrics.c and
 * ts_proc_slot.c, which depend on nothing else here.
 *
 * The processor's interface is ts_processor.h; nothing outside processor/
 * includes this.
 */
#ifndef TS_PROC_INT_H
#define TS_PROC_INT_H

#include "ts_buf.h"
#include "ts_config.h"
#include "ts_kstats.h"
#include "ts_metrics.h"
#include "ts_proc_config.h"
#include "ts_processor.h"
#include "ts_restore.h"
#include "ts_skip.h"
#include "ts_store.h"
#include "ts_task.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>


/* Sub-topology 0: the state of one input partition. */
/* The topics the producer writes for every record, by handle. */
enum {
    TS_PROC_RKT_REPARTITION,
    TS_PROC_RKT_CHANGELOG,
    TS_PROC_RKT_OUTPUT,
    TS_PROC_RKT__COUNT
};

typedef struct ts_source {
    int assigned;
    int64_t next;      /* next offset to process, -1: none processed */
    int64_t committed; /* next offset as committed, -1: unknown */
} ts_source;

typedef enum ts_slot_state {
    TS_SLOT_NONE,      /* not ours */
    TS_SLOT_OFFSETS,   /* assigned: fetch the committed offset (stable) */
    TS_SLOT_RESTORING, /* replaying the changelog into the store */
    TS_SLOT_ACTIVE,    /* processing */
    TS_SLOT_SUSPENDED, /* revoked; store kept open in case it comes back */
} ts_slot_state;

/* Sub-topology 1: one repartition partition and its task. */
typedef struct ts_slot {
    ts_slot_state state;
    ts_task *task;
    int64_t committed;    /* committed input offset from the broker, -1: none */
    int64_t committed_st; /* stream time from the committed offset's metadata */
    int have_st;
    int64_t changelog_hi;  /* highest changelog offset delivered in the open txn */
    int64_t purged;        /* repartition offset up to which records were deleted */
    int64_t restore_total; /* records to replay when the restore began */
    /* window.close.idle.ms (ts_proc_idle.c): the task's next offset when
     * it was last seen to move, when that was (monotonic), and its stream
     * time then; idle_offset TS_PROC_IDLE_UNSEEN until the task is active */
    int64_t idle_offset;
    int64_t idle_since_ms;
    int64_t idle_st;
} ts_slot;

#define TS_PROC_IDLE_UNSEEN (-2)

/* The phases of the processing loop's wall-clock time: waiting in a poll
 * with nothing to do, processing records, committing, restoring. */
typedef enum ts_proc_loop_phase {
    TS_PROC_LOOP_WAIT,
    TS_PROC_LOOP_PROCESS,
    TS_PROC_LOOP_COMMIT,
    TS_PROC_LOOP_RESTORE,
    TS_PROC_LOOP__COUNT
} ts_proc_loop_phase;

typedef struct ts_proc_metrics {
    ts_counter *consumed_input, *consumed_repartition;
    ts_counter *skipped[TS_SKIP__COUNT]; /* NULL for reasons the processor has not */
    ts_counter *filtered, *late, *windows_closed, *results, *windows_expired;
    ts_counter *txn_committed, *txn_aborted, *rebalances;
    ts_counter *restored_records, *restores_full, *restores_tail, *dlq, *producer_restarts;
    ts_counter *idle_advances, *standby_records;
    ts_counter *restore_bad;          /* bad changelog records met by restores */
    ts_counter *input_partitions_new; /* input partitions added while running */
    ts_histogram *commit_latency;
    ts_histogram *restore_seconds; /* wall-clock time of each task's restore */
    /* where the loop's wall-clock time goes, microseconds, by
     * ts_proc_loop_phase; shown in seconds (tagstream_loop_seconds_total) */
    _Atomic uint64_t loop_us[TS_PROC_LOOP__COUNT];
    ts_gauge *tasks_active, *tasks_restoring, *tasks_standby, *restore_remaining, *store_bytes;
    ts_gauge *cache_entries, *ready;
} ts_proc_metrics;

struct ts_processor {
    const ts_proc_config *cfg;
    const ts_conf *conf;
    char *instance_id;
    char *state_dir; /* state.dir, or the default (ts_fs_default_state_dir) */
    char *txn_id;
    char *app_dir; /* <state.dir>/<application.id> */
    char *repartition_topic;
    char *changelog_topic;
    int lock_fd;
    int32_t npart;

    rd_kafka_t *producer;
    rd_kafka_topic_t *rkt[TS_PROC_RKT__COUNT]; /* the producer's: ts_proc_produce */
    rd_kafka_t *consumer;
    rd_kafka_queue_t *cq; /* the consumer's queue: input records and events */
    rd_kafka_queue_t *rq; /* the repartition topic's records (ts_proc_rq_forward) */
    /* rq went from empty to not empty since the loop last found it empty
     * (set by ts_proc_rq_ready); rq_draining: the loop is taking its
     * records. rq is polled only then, and once every turn. */
    atomic_int rq_signal;
    int rq_draining;
    int nudge;           /* librdkafka before 2.1: ts_proc_nudge */
    int nudge_committed; /* a commit since the last repartition nudge */
    int64_t nudged_ms;
    int32_t nudge_next;
    rd_kafka_queue_t *admin_q;
    ts_restore *restore;
    struct ts_proc_standby *standby; /* ts_proc_standby.c; NULL: no standbys */
    ts_store_options store_opts;
    ts_task_sink sink;

    ts_source *sources;
    ts_slot *slots;
    _Atomic int assigned_once; /* read by /ready on the HTTP thread */
    int txn_open;
    int64_t next_commit_ms; /* set by ts_proc_commit_schedule only */
    int64_t last_purge_ms;
    int64_t last_gauges_ms;
    int64_t recover_since_ms;    /* producer replacements: the window's start */
    int recoveries;              /* and how many in that window */
    int64_t last_progress_ms;    /* restore progress log */
    volatile sig_atomic_t *stop; /* the caller's stop flag (during run) */
    /* The rebalance callback cannot return an error: it leaves the first
     * one here, and the loop takes it after the poll that ran the callback. */
    ts_err rebalance_err;
    char rebalance_errstr[512];
    /* The brokers refused something no retry can cure (an ACL), seen where
     * no error can be returned (a delivery report, an Admin result): the
     * loop stops with TS_ERR_DENIED and this message (ts_proc_denied). */
    ts_err denied;
    char denied_msg[768];

    ts_buf value; /* scratch for result values */
    char *norm;   /* scratch for normalized tags */
    size_t norm_cap;
    uint64_t skipped[TS_SKIP__COUNT];
    uint64_t filtered;

    ts_metrics *metrics;
    ts_proc_metrics m;
    ts_kstats *kstats;
    /* consumer lag per assigned partition, refreshed by the loop every
     * second, read by the /metrics collector */
    pthread_mutex_t lag_lock;
    int64_t *lag; /* [2 * npart]: input partitions, then repartition; -1: not ours */
    _Atomic int64_t heartbeat_ms;
    _Atomic int ready;
    _Atomic int restoring;
};

/* ts_proc_slot.c: pause (resume non-zero: resume) one partition of topic. */
void ts_proc_pause(ts_processor *p, const char *topic, int32_t part, int resume);
/* Send task part back to be restored from the changelog (its store missed
 * a write or cannot be rolled back): pause its repartition partition until
 * the restore is done. */
void ts_proc_reload_slot(ts_processor *p, int32_t part);
/* Stop restoring task part and close it: the partition is no longer ours. */
void ts_proc_close_slot(ts_processor *p, int32_t part);
/* ts_proc_slot.c: the repartition queue, p->rq. rq_ready is its event
 * callback; rq_forward sends an assigned repartition partition's records
 * to it. */
void ts_proc_rq_ready(rd_kafka_t *rk, void *opaque);
void ts_proc_rq_forward(ts_processor *p, int32_t partition);
/* Let go of both queues: before rd_kafka_consumer_close. */
void ts_proc_queues_release(ts_processor *p);
/* ts_proc_slot.c: with librdkafka before 2.1 (p->nudge), when the loop
 * has no records left while an input partition has more at the broker,
 * have the consumer fetch again now rather than within a second. */
void ts_proc_nudge(ts_processor *p);

#endif
