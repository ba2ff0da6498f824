/*
 * Assignment and revocation of partitions (eager, from the rebalance
 * callback), and the restore of each assigned task: read the committed
 * offsets, decide between the local store, a tail replay and a full one,
 * run the restores in slices of the loop, and resume the partition when its
 * task is restored. docs/DESIGN.md, "Restore".
 */
#include "ts_proc_assign_int.h"
#include "ts_proc_int.h"
#include "ts_proc_standby_int.h"
#include "ts_proc_txn_int.h"
#include "ts_clock.h"
#include "ts_log.h"
#include "ts_restore.h"
#include "ts_task.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static ts_err ts_proc_task_dir(ts_processor *p, int32_t part, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s/1_%d", p->app_dir, (int)part);

    return n < 0 || (size_t)n >= size ? TS_ERR_INVALID : TS_OK;
}

static void ts_proc_update_ready(ts_processor *p)
{
    int restoring = 0;

    for (int32_t i = 0; i < p->npart; i++)
        restoring += p->slots[i].state == TS_SLOT_OFFSETS || p->slots[i].state == TS_SLOT_RESTORING;
    atomic_store(&p->restoring, restoring);
    atomic_store(&p->ready, p->assigned_once && restoring == 0);
    ts_gauge_set(p->m.ready, p->assigned_once && restoring == 0);
}

/*
 * A partition added to the input topic while running (librdkafka sees it at
 * its next metadata refresh, topic.metadata.refresh.interval.ms, and the
 * eager protocol rebalances). The tasks, the repartition and the changelog
 * topics follow the input's partition count as it was at startup, which
 * the startup checks; records of the new partition would be fetched and
 * never counted. Rather than drop them, stop with an error that says what
 * to do: the revocation before this assignment committed everything, so
 * nothing is lost, and the new partition's records wait in Kafka.
 */
static void ts_proc_new_input_partition(ts_processor *p, int32_t partition)
{
    ts_log_ev *ev = ts_log_begin(TS_LOG_ERROR, "processor",
                                 "a partition was added to the input topic while running");

    ts_log_cstr(ev, "topic", p->cfg->input_topic);
    ts_log_int(ev, "partition", partition);
    ts_log_int(ev, "partitions_at_start", p->npart);
    ts_log_end(ev);
    ts_counter_add(p->m.input_partitions_new, 1);
    if (p->rebalance_err)
        return;
    p->rebalance_err = TS_ERR_INVALID;
    snprintf(p->rebalance_errstr, sizeof(p->rebalance_errstr),
             "input topic %s gained partition %d (%d partitions at startup): its records would "
             "not be counted, because the tasks and the internal topics follow the input's "
             "partition count; stopping (reset the application to run with the new count, "
             "docs/OPERATIONS.md)",
             p->cfg->input_topic, (int)partition, (int)p->npart);
}

static void ts_proc_on_assign(ts_processor *p, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *pause = rd_kafka_topic_partition_list_new(parts->cnt);
    char *keep = calloc((size_t)p->npart, 1);
    rd_kafka_resp_err_t kerr;
    ts_log_ev *ev;

    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        if (tp->partition >= p->npart && !strcmp(tp->topic, p->cfg->input_topic))
            ts_proc_new_input_partition(p, tp->partition);
        if (tp->partition < 0 || tp->partition >= p->npart)
            continue;
        if (!strcmp(tp->topic, p->cfg->input_topic)) {
            p->sources[tp->partition].assigned = 1;
            p->sources[tp->partition].next = -1;
            p->sources[tp->partition].committed = -1;
        } else if (!strcmp(tp->topic, p->repartition_topic)) {
            ts_slot *s = &p->slots[tp->partition];
            /* a standby of it becomes the task's store: the restore
             * replays only what the standby had not caught up with */
            ts_proc_standby_release(p, tp->partition);
            if (keep)
                keep[tp->partition] = 1;
            s->state = TS_SLOT_OFFSETS; /* a suspended task keeps its open store */
            rd_kafka_topic_partition_list_add(pause, tp->topic, tp->partition);
        }
    }
    /* Stores of tasks that went elsewhere are closed, files left in place:
     * if the task comes back they are checked against the changelog. */
    for (int32_t i = 0; i < p->npart; i++)
        if (p->slots[i].state == TS_SLOT_SUSPENDED && (!keep || !keep[i]))
            ts_proc_close_slot(p, i);
    free(keep);
    kerr = rd_kafka_assign(p->consumer, parts);
    if (kerr)
        ts_logf(TS_LOG_ERROR, "processor", "cannot take the assignment: %s",
                rd_kafka_err2str(kerr));
    for (int i = 0; i < pause->cnt; i++)
        ts_proc_rq_forward(p, pause->elems[i].partition);
    rd_kafka_pause_partitions(p->consumer, pause);
    ev = ts_log_begin(TS_LOG_INFO, "processor", "partitions assigned");
    ts_log_int(ev, "partitions", parts->cnt);
    ts_log_int(ev, "tasks_to_restore", pause->cnt);
    ts_log_end(ev);
    rd_kafka_topic_partition_list_destroy(pause);
    p->assigned_once = 1;
    ts_proc_update_ready(p);
}

static void ts_proc_on_revoke(ts_processor *p, int lost)
{
    char msg[512];
    ts_err err;

    if (lost) {
        /* Others may own our partitions already: nothing of the open
         * transaction may be committed. */
        if (p->txn_open)
            err = ts_proc_abort(p, "the partition assignment was lost", msg, sizeof(msg));
        else
            err = TS_OK;
    } else {
        err = ts_proc_commit(p, msg, sizeof(msg));
    }
    if (err && !p->rebalance_err) {
        p->rebalance_err = err;
        snprintf(p->rebalance_errstr, sizeof(p->rebalance_errstr), "%s", msg);
    }
    for (int32_t i = 0; i < p->npart; i++) {
        ts_slot *s = &p->slots[i];
        p->sources[i].assigned = 0;
        if (s->state == TS_SLOT_NONE)
            continue;
        ts_restore_remove(p->restore, i);
        s->state = s->task ? TS_SLOT_SUSPENDED : TS_SLOT_NONE;
    }
    rd_kafka_assign(p->consumer, NULL);
    ts_logf(TS_LOG_INFO, "processor", "partitions revoked%s", lost ? " (assignment lost)" : "");
    ts_proc_update_ready(p);
}

void ts_proc_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    ts_processor *p = opaque;

    (void)rk;
    ts_counter_add(p->m.rebalances, 1);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        ts_proc_on_assign(p, parts);
    else
        ts_proc_on_revoke(p, rd_kafka_assignment_lost(p->consumer));
}

/*
 * Decide how a task's store is brought up to date: checked against what Kafka
 * committed and what the changelog holds, it is either reused (replay the
 * tail after the offset it records) or wiped (replay everything).
 */
static ts_err ts_proc_plan_restore(ts_processor *p, int32_t part, char *errstr, size_t errstr_size)
{
    ts_slot *s = &p->slots[part];
    ts_store_meta meta;
    int64_t low, end, from;
    const char *why = NULL;
    char dir[4200];
    ts_log_ev *ev;
    ts_err err;

    if (ts_proc_task_dir(p, part, dir, sizeof(dir)))
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "state.dir: path too long");
    if (!s->task) {
        err = ts_task_open(&(ts_task_config){p->cfg->window_size_ms, p->cfg->window_grace_ms,
                                             ts_proc_config_retention(p->cfg), p->cfg->min_count,
                                             p->cfg->application_id},
                           dir, part, &p->store_opts, &p->sink, &s->task, errstr, errstr_size);
        if (err)
            return err;
    }
    err = ts_restore_watermarks(p->restore, part, 5000, &low, &end, errstr, errstr_size);
    if (err)
        return err;
    /* the store as of every commit it was handed (one that failed is
     * replayed from the changelog like any other missing tail) */
    ts_task_sync(s->task, NULL, 0);
    err = ts_store_read_meta(ts_task_store(s->task), &meta, errstr, errstr_size);
    if (err)
        why = "its metadata does not decode";
    else if (meta.format_version == 0)
        why = ts_store_estimate_keys(ts_task_store(s->task)) > 0 ? "it has no metadata" : NULL;
    else if (meta.format_version != TS_STORE_FORMAT_VERSION)
        why = "it has another format version";
    else if (strcmp(meta.application_id, p->cfg->application_id) ||
             strcmp(meta.task_id, ts_task_id(s->task)))
        why = "it belongs to another application or task";
    else if (meta.changelog_offset < low || meta.changelog_offset > end)
        why = "its changelog offset is outside the changelog";
    else if (s->committed >= 0 && meta.input_offset > s->committed)
        why = "it is ahead of the committed input offset";
    if (why) {
        ts_log_ev *w =
            ts_log_begin(TS_LOG_WARN, "processor", "discarding the local store: %s", why);
        ts_log_cstr(w, "task", ts_task_id(s->task));
        ts_log_end(w);
        ts_task_close(s->task);
        s->task = NULL;
        err = ts_store_wipe(dir, errstr, errstr_size);
        if (err)
            return err;
        return ts_proc_plan_restore(p, part, errstr, errstr_size);
    }
    from = meta.format_version == 0 ? low : meta.changelog_offset;
    if (meta.format_version == 0)
        ts_counter_add(p->m.restores_full, 1);
    else
        ts_counter_add(p->m.restores_tail, 1);
    s->restore_total = end - from;
    ev = ts_log_begin(TS_LOG_INFO, "processor", "restoring task %s", ts_task_id(s->task));
    ts_log_cstr(ev, "kind", meta.format_version == 0 ? "full" : "tail");
    ts_log_int(ev, "from_offset", from);
    ts_log_int(ev, "to_offset", end);
    ts_log_int(ev, "committed_input_offset", s->committed);
    ts_log_end(ev);
    err = ts_restore_add(p->restore, part, ts_task_store(s->task), from, end, errstr, errstr_size);
    if (err)
        return err;
    s->state = TS_SLOT_RESTORING;
    return TS_OK;
}

/* Fetch committed offsets (stable: the broker holds the answer while a
 * transaction that wrote offsets for them is pending) for tasks that need them. */
static ts_err ts_proc_fetch_offsets(ts_processor *p, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(p->npart);
    rd_kafka_resp_err_t err;
    char msg[512];

    for (int32_t i = 0; i < p->npart; i++)
        if (p->slots[i].state == TS_SLOT_OFFSETS)
            rd_kafka_topic_partition_list_add(l, p->repartition_topic, i);
    if (l->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(l);
        return TS_OK;
    }
    err = rd_kafka_committed(p->consumer, l, 2000);
    if (err) {
        /* e.g. a transaction of a previous owner still pending: try again */
        ts_logf(TS_LOG_INFO, "processor", "committed offsets not available yet: %s",
                rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(l);
        return TS_OK;
    }
    for (int i = 0; i < l->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &l->elems[i];
        ts_slot *s = &p->slots[tp->partition];
        ts_err e;
        if (tp->err || s->state != TS_SLOT_OFFSETS)
            continue;
        s->committed = tp->offset >= 0 ? tp->offset : -1;
        s->have_st = ts_task_meta_parse(tp->metadata, tp->metadata_size, &s->committed_st);
        e = ts_proc_plan_restore(p, tp->partition, msg, sizeof(msg));
        if (e) {
            ts_logf(TS_LOG_WARN, "processor", "cannot restore task 1_%d yet: %s",
                    (int)tp->partition, msg);
            if (e == TS_ERR_STORE || e == TS_ERR_IO) {
                rd_kafka_topic_partition_list_destroy(l);
                return ts_seterr(e, errstr, errstr_size, "%s", msg);
            }
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    return TS_OK;
}

/* A restore finished: load the task's position and start processing. */
static ts_err ts_proc_restored(ts_processor *p, const ts_restore_done *d, char *errstr,
                               size_t errstr_size)
{
    ts_slot *s = &p->slots[d->partition];
    ts_store_meta meta;
    int64_t st;
    ts_log_ev *ev;
    ts_err err;

    if (s->state != TS_SLOT_RESTORING)
        return TS_OK;
    err = ts_store_read_meta(ts_task_store(s->task), &meta, errstr, errstr_size);
    if (err)
        return err;
    /* The committed offset's metadata is the truth (it commits with the
     * changelog); the store's copy only serves where there is none. */
    st = s->have_st ? s->committed_st : meta.stream_time;
    err = ts_task_load(s->task, st, s->committed, d->next_offset, errstr, errstr_size);
    if (err)
        return err;
    ts_counter_add(p->m.restored_records, d->records);
    ts_histogram_observe(p->m.restore_seconds, (double)d->elapsed_ms / 1000.0);
    if (s->committed >= 0) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_error_t *e;
        rd_kafka_topic_partition_list_add(l, p->repartition_topic, d->partition)->offset =
            s->committed;
        e = rd_kafka_seek_partitions(p->consumer, l, 10000);
        if (e) {
            ts_logf(TS_LOG_WARN, "processor", "seek on restore: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
        rd_kafka_topic_partition_list_destroy(l);
    }
    s->state = TS_SLOT_ACTIVE;
    ts_proc_pause(p, p->repartition_topic, d->partition, 1);
    ev = ts_log_begin(TS_LOG_INFO, "processor", "task %s restored", ts_task_id(s->task));
    ts_log_int(ev, "records", (int64_t)d->records);
    ts_log_int(ev, "bad_records", (int64_t)d->bad);
    ts_log_int(ev, "elapsed_ms", d->elapsed_ms);
    ts_log_int(ev, "process_cpu_ms", d->process_cpu_ms);
    {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) == 0)
            ts_log_int(ev, "process_peak_rss_mib", (int64_t)ru.ru_maxrss / 1024);
    }
    ts_log_dbl(ev, "records_per_second",
               d->elapsed_ms > 0 ? (double)d->records * 1000.0 / (double)d->elapsed_ms : 0);
    ts_log_int(ev, "stream_time", st);
    ts_log_int(ev, "input_offset", s->committed);
    ts_log_end(ev);
    ts_proc_update_ready(p);
    return TS_OK;
}

/* Every five seconds, how far each restore has come. */
static void ts_proc_restore_progress(ts_processor *p)
{
    int64_t now = ts_mono_ms();

    if (now - p->last_progress_ms < 5000)
        return;
    p->last_progress_ms = now;
    for (int32_t i = 0; i < p->npart; i++) {
        ts_restore_progress pr;
        int64_t elapsed;
        ts_log_ev *ev;
        if (p->slots[i].state != TS_SLOT_RESTORING || !ts_restore_get_progress(p->restore, i, &pr))
            continue;
        elapsed = now - pr.started_ms;
        ev = ts_log_begin(TS_LOG_INFO, "processor", "restoring task 1_%d", (int)i);
        ts_log_cstr(ev, "phase", "progress");
        ts_log_int(ev, "records", (int64_t)pr.records);
        ts_log_int(ev, "offset", pr.position);
        ts_log_int(ev, "to_offset", pr.end);
        ts_log_int(ev, "remaining_offsets", pr.end > pr.position ? pr.end - pr.position : 0);
        ts_log_dbl(ev, "records_per_second",
                   elapsed > 0 ? (double)pr.records * 1000.0 / (double)elapsed : 0);
        ts_log_end(ev);
    }
}

ts_err ts_proc_restore_step(ts_processor *p, int budget_ms, char *errstr, size_t errstr_size)
{
    ts_restore_done done[16];
    size_t n = 0;
    int32_t failed = -1;
    char msg[512];
    ts_err err;

    err = ts_proc_fetch_offsets(p, errstr, errstr_size);
    if (err)
        return err;
    if (ts_restore_active(p->restore) == 0)
        return TS_OK;
    err = ts_restore_step(p->restore, budget_ms, done, 16, &n, &failed, msg, sizeof(msg));
    ts_proc_restore_progress(p);
    if (err) {
        ts_logf(TS_LOG_ERROR, "processor", "restore of task 1_%d failed: %s", (int)failed, msg);
        if (failed >= 0 && failed < p->npart && p->slots[failed].state == TS_SLOT_RESTORING)
            p->slots[failed].state = TS_SLOT_OFFSETS; /* start over */
        if (err == TS_ERR_STORE)
            return ts_seterr(err, errstr, errstr_size, "%s", msg);
    }
    for (size_t i = 0; i < n; i++) {
        err = ts_proc_restored(p, &done[i], errstr, errstr_size);
        if (err)
            return err;
    }
    return TS_OK;
}
