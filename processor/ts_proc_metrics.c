/*
 * The processor's /metrics series: counters and histograms registered once,
 * gauges and per-partition consumer lag refreshed by the loop, librdkafka's
 * statistics folded in.
 */
#include "ts_proc_metrics_int.h"
#include "ts_proc_int.h"
#include "ts_buf.h"
#include "ts_clock.h"
#include "ts_kstats.h"
#include "ts_metrics.h"
#include "ts_restore.h"
#include "ts_task.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The skip reasons the processor counts, in the order of its metrics (ends
 * with TS_SKIP_NONE). */
static const ts_skip ts_proc_skips[] = {TS_SKIP_NULL_VALUE, TS_SKIP_INVALID_UTF8,
                                        TS_SKIP_OVERSIZE,   TS_SKIP_NO_TIMESTAMP,
                                        TS_SKIP_NULL_KEY,   TS_SKIP_NONE};

/* ---- metrics ---- */

static void ts_proc_loop_collect(void *opaque, ts_buf *out)
{
    static const char *const phase[TS_PROC_LOOP__COUNT] = {"wait", "process", "commit", "restore"};
    ts_processor *p = opaque;

    for (int i = 0; i < TS_PROC_LOOP__COUNT; i++)
        ts_buf_printf(out, "tagstream_loop_seconds_total{phase=\"%s\"} %.6f\n", phase[i],
                      (double)atomic_load(&p->m.loop_us[i]) / 1e6);
}

void ts_proc_metrics_init(ts_processor *p)
{
    ts_metrics *r = p->metrics;
    ts_proc_metrics *m = &p->m;
    char labels[128];
    static const double latency[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                     0.1,   0.25,   0.5,   1,    2.5,   5};
    static const double restore[] = {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};

    if (!r)
        return;
    m->consumed_input = ts_metrics_counter(r, "tagstream_records_consumed_total",
                                           "Records consumed, by topic role.", "topic=\"input\"");
    m->consumed_repartition =
        ts_metrics_counter(r, "tagstream_records_consumed_total",
                           "Records consumed, by topic role.", "topic=\"repartition\"");
    for (const ts_skip *reason = ts_proc_skips; *reason; reason++) {
        const char *pairs[] = {"reason", ts_skip_name(*reason), NULL};
        m->skipped[*reason] = ts_metrics_counter(r, "tagstream_records_skipped_total",
                                                 "Bad records skipped, by reason.",
                                                 ts_metrics_labels(labels, sizeof(labels), pairs));
    }
    m->filtered = ts_metrics_counter(r, "tagstream_records_filtered_total",
                                     "Records dropped by the length filter (min.length).", NULL);
    m->late = ts_metrics_counter(r, "tagstream_late_records_dropped_total",
                                 "Records dropped because their window had closed.", NULL);
    m->windows_closed = ts_metrics_counter(r, "tagstream_windows_closed_total",
                                           "Windows whose final counts were decided.", NULL);
    m->results = ts_metrics_counter(r, "tagstream_results_emitted_total",
                                    "Final window results written to the output topic.", NULL);
    m->windows_expired =
        ts_metrics_counter(r, "tagstream_windows_expired_total",
                           "Windows deleted from the store after window.retention.ms.", NULL);
    m->idle_advances = ts_metrics_counter(
        r, "tagstream_idle_advances_total",
        "Stream time advances of quiet tasks by the wall clock (window.close.idle.ms) that "
        "closed or expired windows.",
        NULL);
    m->standby_records = ts_metrics_counter(
        r, "tagstream_standby_records_total",
        "Changelog records applied to standby stores (num.standby.replicas).", NULL);
    m->txn_committed = ts_metrics_counter(r, "tagstream_transactions_committed_total",
                                          "Transactions committed.", NULL);
    m->txn_aborted = ts_metrics_counter(r, "tagstream_transactions_aborted_total",
                                        "Transactions aborted.", NULL);
    m->rebalances = ts_metrics_counter(r, "tagstream_rebalances_total",
                                       "Partition assignments and revocations.", NULL);
    m->restored_records = ts_metrics_counter(r, "tagstream_restore_records_total",
                                             "Changelog records replayed into stores.", NULL);
    m->restore_bad = ts_metrics_counter(
        r, "tagstream_restore_bad_records_total",
        "Changelog records a restore found bad: skipped (not a window key) or turned into a "
        "delete of their key (a bad value).",
        NULL);
    m->input_partitions_new = ts_metrics_counter(
        r, "tagstream_input_partitions_added_total",
        "Partitions added to the input topic while running (the processor then stops: "
        "docs/OPERATIONS.md).",
        NULL);
    m->restores_full = ts_metrics_counter(r, "tagstream_restores_total",
                                          "Store restores started, by kind.", "kind=\"full\"");
    m->restores_tail = ts_metrics_counter(r, "tagstream_restores_total",
                                          "Store restores started, by kind.", "kind=\"tail\"");
    m->dlq = ts_metrics_counter(r, "tagstream_deadletter_records_total",
                                "Bad records written to the dead-letter topic.", NULL);
    m->producer_restarts = ts_metrics_counter(
        r, "tagstream_producer_restarts_total",
        "Transactional producers replaced after a fatal error (fenced, or a transaction the "
        "coordinator aborted), each followed by a rejoin of the group.",
        NULL);
    m->commit_latency = ts_metrics_histogram(
        r, "tagstream_commit_latency_seconds",
        "Time to flush the changelog, send offsets and commit one transaction.", NULL, latency,
        sizeof(latency) / sizeof(latency[0]));
    m->restore_seconds = ts_metrics_histogram(
        r, "tagstream_restore_seconds",
        "Wall-clock time of each finished task restore, from the first changelog read to the "
        "task being ready.",
        NULL, restore, sizeof(restore) / sizeof(restore[0]));
    /* Seconds as Prometheus wants them, kept in integer microseconds so
     * that the loop adds without floating point: rendered by a collector. */
    ts_metrics_add_collector(r, "tagstream_loop_seconds_total",
                             "Wall-clock time of the processing loop by phase: wait (a poll that "
                             "found nothing to do), process (records), commit (transactions), "
                             "restore (restores and standby replicas).",
                             "counter", ts_proc_loop_collect, p);
    m->tasks_active = ts_metrics_gauge(r, "tagstream_tasks", "Tasks of this instance, by state.",
                                       "state=\"active\"");
    m->tasks_restoring = ts_metrics_gauge(r, "tagstream_tasks", "Tasks of this instance, by state.",
                                          "state=\"restoring\"");
    m->tasks_standby = ts_metrics_gauge(r, "tagstream_tasks", "Tasks of this instance, by state.",
                                        "state=\"standby\"");
    m->restore_remaining =
        ts_metrics_gauge(r, "tagstream_restore_remaining_records",
                         "Changelog records still to replay (approximate).", NULL);
    m->store_bytes = ts_metrics_gauge(r, "tagstream_store_bytes",
                                      "Size of the live RocksDB files of all stores.", NULL);
    m->cache_entries = ts_metrics_gauge(r, "tagstream_cache_entries",
                                        "Keys changed in the open transaction.", NULL);
    m->ready =
        ts_metrics_gauge(r, "tagstream_ready", "1 when every assigned task is restored.", NULL);
}

void ts_proc_lag_collect(void *opaque, ts_buf *out)
{
    ts_processor *p = opaque;
    char labels[512], part[16];

    pthread_mutex_lock(&p->lag_lock);
    for (int32_t i = 0; p->lag && i < 2 * p->npart; i++) {
        const char *pairs[] = {"topic", i < p->npart ? p->cfg->input_topic : p->repartition_topic,
                               "partition", part, NULL};
        if (p->lag[i] < 0)
            continue;
        snprintf(part, sizeof(part), "%d", (int)(i % p->npart));
        ts_buf_printf(out, "tagstream_consumer_lag_records{%s} %" PRId64 "\n",
                      ts_metrics_labels(labels, sizeof(labels), pairs), p->lag[i]);
    }
    pthread_mutex_unlock(&p->lag_lock);
}

int ts_proc_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    ts_processor *p = opaque;

    ts_kstats_update(p->kstats, rd_kafka_type(rk) == RD_KAFKA_PRODUCER ? "producer" : "consumer",
                     json, len);
    return 0; /* librdkafka frees json */
}

/* Lag of each partition we consume: the high watermark librdkafka last saw
 * minus our position (for the transactional repartition topic this counts
 * the transaction markers too: an upper bound). */
static void ts_proc_update_lag(ts_processor *p)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(2 * p->npart);
    int64_t *lag = malloc(2 * (size_t)p->npart * sizeof(*lag));

    if (!lag) {
        rd_kafka_topic_partition_list_destroy(l);
        return;
    }
    for (int32_t i = 0; i < 2 * p->npart; i++)
        lag[i] = -1;
    for (int32_t i = 0; i < p->npart; i++) {
        if (p->sources[i].assigned)
            rd_kafka_topic_partition_list_add(l, p->cfg->input_topic, i);
        if (p->slots[i].state == TS_SLOT_ACTIVE)
            rd_kafka_topic_partition_list_add(l, p->repartition_topic, i);
    }
    if (l->cnt > 0 && rd_kafka_position(p->consumer, l) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < l->cnt; i++) {
            rd_kafka_topic_partition_t *tp = &l->elems[i];
            int64_t lo, hi;
            int idx = tp->partition + (strcmp(tp->topic, p->cfg->input_topic) ? p->npart : 0);
            if (tp->offset < 0 ||
                rd_kafka_get_watermark_offsets(p->consumer, tp->topic, tp->partition, &lo, &hi) ||
                hi < 0)
                continue;
            lag[idx] = hi > tp->offset ? hi - tp->offset : 0;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    pthread_mutex_lock(&p->lag_lock);
    free(p->lag);
    p->lag = lag;
    pthread_mutex_unlock(&p->lag_lock);
}

void ts_proc_gauges(ts_processor *p)
{
    double active = 0, restoring = 0, remaining = 0, bytes = 0, cached = 0;

    if (!p->metrics || ts_mono_ms() - p->last_gauges_ms < 1000)
        return;
    p->last_gauges_ms = ts_mono_ms();
    for (int32_t i = 0; i < p->npart; i++) {
        ts_slot *s = &p->slots[i];
        ts_restore_progress prog;
        if (s->state == TS_SLOT_ACTIVE)
            active++;
        if (s->state == TS_SLOT_OFFSETS || s->state == TS_SLOT_RESTORING)
            restoring++;
        if (s->state == TS_SLOT_RESTORING && ts_restore_get_progress(p->restore, i, &prog))
            remaining += (double)(prog.end > prog.position ? prog.end - prog.position : 0);
        if (s->task)
            bytes += (double)ts_store_disk_bytes(ts_task_store(s->task));
        if (s->state == TS_SLOT_ACTIVE)
            cached += (double)ts_task_cache_keys(s->task);
    }
    ts_proc_update_lag(p);
    ts_gauge_set(p->m.tasks_active, active);
    ts_gauge_set(p->m.tasks_restoring, restoring);
    ts_gauge_set(p->m.restore_remaining, remaining);
    ts_gauge_set(p->m.store_bytes, bytes);
    ts_gauge_set(p->m.cache_entries, cached);
}

/* Fold the task counters into the registry (tasks count, the registry sums). */
void ts_proc_task_stats(ts_processor *p, ts_task_stats *before, ts_task *t)
{
    const ts_task_stats *now = ts_task_get_stats(t);

    /* called for every record: most records close no window */
    if (now->windows_closed == before->windows_closed &&
        now->windows_expired == before->windows_expired)
        return;
    ts_counter_add(p->m.windows_closed, now->windows_closed - before->windows_closed);
    ts_counter_add(p->m.results, now->results - before->results);
    ts_counter_add(p->m.windows_expired, now->windows_expired - before->windows_expired);
}
