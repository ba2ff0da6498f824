/*
 * The processor's loop: poll, process (normalize and repartition, count),
 * commit when due, step the restores, purge; and construction. The
 * exactly-once protocol is in ts_proc_txn.c, assignment and restore in
 * ts_proc_assign.c, the state directory's lock and the topics in
 * ts_proc_setup.c, the repartition queue in ts_proc_slot.c.
 */
#include "ts_processor.h"
#include "ts_proc_assign_int.h"
#include "ts_proc_idle_int.h"
#include "ts_proc_int.h"
#include "ts_proc_metrics_int.h"
#include "ts_proc_setup_int.h"
#include "ts_proc_standby_int.h"
#include "ts_proc_txn_int.h"
#include "ts_buf.h"
#include "ts_clock.h"
#include "ts_fs.h"
#include "ts_kafka.h"
#include "ts_keys.h"
#include "ts_kstats.h"
#include "ts_log.h"
#include "ts_murmur2.h"
#include "ts_restore.h"
#include "ts_tag.h"
#include "ts_task.h"
#include "ts_utf8.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TS_POLL_MS 100
/* Records processed between two looks at the commit deadline: a few
 * microseconds of work at most. */
#define TS_CLOCK_EVERY 16u

/* ---- sinks of the window tasks ---- */

static ts_err ts_proc_emit(void *opaque, ts_task *task, const char *tag, size_t tag_len,
                           int64_t count, int64_t wstart, int64_t wend, int64_t max_ts,
                           char *errstr, size_t errstr_size)
{
    ts_processor *p = opaque;
    unsigned char be[8];
    const void *val;
    size_t vlen;
    ts_log_ev *ev;

    if (p->cfg->output_format == TS_OUTPUT_LONG) {
        ts_be64_put(be, (uint64_t)count);
        val = be;
        vlen = sizeof(be);
    } else {
        ts_buf_reset(&p->value);
        ts_buf_puts(&p->value, "{\"hashtag\":");
        ts_buf_json_str(&p->value, tag, tag_len);
        ts_buf_printf(&p->value,
                      ",\"count\":%" PRId64 ",\"window_start\":%" PRId64 ",\"window_end\":%" PRId64
                      "}",
                      count, wstart, wend);
        if (ts_buf_status(&p->value))
            return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
        val = p->value.data;
        vlen = p->value.len;
    }
    ev = ts_log_begin(TS_LOG_INFO, "processor", "window result");
    ts_log_str(ev, "hashtag", tag, tag_len);
    ts_log_int(ev, "count", count);
    ts_log_int(ev, "window_start", wstart);
    ts_log_int(ev, "window_end", wend);
    ts_log_cstr(ev, "task", ts_task_id(task));
    ts_log_end(ev);
    return ts_proc_produce(p, p->cfg->output_topic, RD_KAFKA_PARTITION_UA, tag, tag_len, val, vlen,
                           max_ts, NULL, NULL, errstr, errstr_size);
}

static ts_err ts_proc_changelog(void *opaque, ts_task *task, const void *key, size_t klen,
                                const void *val, size_t vlen, char *errstr, size_t errstr_size)
{
    ts_processor *p = opaque;
    int32_t part = ts_task_partition(task);

    /* The opaque marks a changelog record for the delivery report, which
     * notes its offset: the store's metadata records where it stands. */
    return ts_proc_produce(p, p->changelog_topic, part, key, klen, val, vlen, ts_wall_ms(),
                           (void *)(intptr_t)(part + 1), NULL, errstr, errstr_size);
}

/* ---- bad records ---- */

static ts_err ts_proc_skip(ts_processor *p, ts_skip reason, const rd_kafka_message_t *m,
                           char *errstr, size_t errstr_size)
{
    uint64_t n = p->skipped[reason]++;
    ts_err err = TS_OK;

    ts_counter_add(p->m.skipped[reason], 1);
    if (ts_log_sampled(n, 10, 1000)) {
        ts_log_ev *ev = ts_log_begin(TS_LOG_WARN, "processor", "skipping a bad record");
        ts_log_cstr(ev, "reason", ts_skip_name(reason));
        ts_log_cstr(ev, "topic", rd_kafka_topic_name(m->rkt));
        ts_log_int(ev, "partition", m->partition);
        ts_log_int(ev, "offset", m->offset);
        ts_log_int(ev, "occurrences", (int64_t)n + 1);
        if (m->payload)
            ts_log_str(ev, "value", m->payload, m->len > 64 ? 64 : m->len);
        ts_log_end(ev);
    }
    if (p->cfg->dlq_topic) {
        rd_kafka_headers_t *h = rd_kafka_headers_new(4);
        char num[32];
        const char *topic = rd_kafka_topic_name(m->rkt);
        rd_kafka_header_add(h, "tagstream.error.reason", -1, ts_skip_name(reason), -1);
        rd_kafka_header_add(h, "tagstream.source.topic", -1, topic, -1);
        snprintf(num, sizeof(num), "%d", (int)m->partition);
        rd_kafka_header_add(h, "tagstream.source.partition", -1, num, -1);
        snprintf(num, sizeof(num), "%" PRId64, m->offset);
        rd_kafka_header_add(h, "tagstream.source.offset", -1, num, -1);
        err = ts_proc_produce(p, p->cfg->dlq_topic, RD_KAFKA_PARTITION_UA, m->key, m->key_len,
                              m->payload, m->len, rd_kafka_message_timestamp(m, NULL), NULL, h,
                              errstr, errstr_size);
        rd_kafka_headers_destroy(h);
        if (!err)
            ts_counter_add(p->m.dlq, 1);
    }
    return err;
}

/* ---- processing ---- */

/* Sub-topology 0: normalize and repartition one input record. */
static ts_err ts_proc_input(ts_processor *p, const rd_kafka_message_t *m, char *errstr,
                            size_t errstr_size)
{
    ts_source *src = &p->sources[m->partition];
    int64_t ts = rd_kafka_message_timestamp(m, NULL);
    size_t len;
    ts_err err = TS_OK;

    if (src->committed < 0)
        src->committed = m->offset; /* where this assignment started */
    src->next = m->offset + 1;
    ts_counter_add(p->m.consumed_input, 1);
    if (!m->payload)
        return ts_proc_skip(p, TS_SKIP_NULL_VALUE, m, errstr, errstr_size);
    if (m->len > (size_t)p->cfg->max_value_bytes)
        return ts_proc_skip(p, TS_SKIP_OVERSIZE, m, errstr, errstr_size);
    if (ts < 0)
        return ts_proc_skip(p, TS_SKIP_NO_TIMESTAMP, m, errstr, errstr_size);
    err = ts_tag_normalize(m->payload, m->len, p->norm, p->norm_cap, &len);
    if (err == TS_ERR_INVALID)
        return ts_proc_skip(p, TS_SKIP_INVALID_UTF8, m, errstr, errstr_size);
    if (err)
        return ts_seterr(err, errstr, errstr_size, "cannot normalize a tag");
    if ((int64_t)ts_utf16_length(p->norm, len) <= p->cfg->min_length) {
        p->filtered++;
        ts_counter_add(p->m.filtered, 1);
        return TS_OK;
    }
    return ts_proc_produce(p, p->repartition_topic, ts_murmur2_partition(p->norm, len, p->npart),
                           p->norm, len, "", 0, ts, NULL, NULL, errstr, errstr_size);
}

/* Sub-topology 1: count one repartitioned record. */
static ts_err ts_proc_count(ts_processor *p, const rd_kafka_message_t *m, char *errstr,
                            size_t errstr_size)
{
    ts_slot *s = &p->slots[m->partition];
    int64_t ts = rd_kafka_message_timestamp(m, NULL);
    ts_task_result res;
    ts_err err;

    if (s->state != TS_SLOT_ACTIVE) {
        /* A record fetched before the partition was paused: it will be read
         * again from the committed offset once the task is restored. */
        return TS_OK;
    }
    ts_counter_add(p->m.consumed_repartition, 1);
    if (!m->key || ts < 0) {
        /* our own topic: only a foreign writer can put these here */
        ts_task_skip(s->task, m->offset);
        return ts_proc_skip(p, !m->key ? TS_SKIP_NULL_KEY : TS_SKIP_NO_TIMESTAMP, m, errstr,
                            errstr_size);
    }
    err = ts_task_process(s->task, m->key, m->key_len, ts, m->offset, &res, errstr, errstr_size);
    if (err)
        return err;
    if (res == TS_TASK_LATE)
        ts_counter_add(p->m.late, 1);
    return TS_OK;
}

/* ---- periodic work ---- */

/* DeleteRecords answers per partition: a missing Delete ACL shows there. */
static void ts_proc_purge_denied(ts_processor *p, rd_kafka_event_t *ev)
{
    const rd_kafka_DeleteRecords_result_t *res = rd_kafka_event_DeleteRecords_result(ev);
    const rd_kafka_topic_partition_list_t *l =
        res ? rd_kafka_DeleteRecords_result_offsets(res) : NULL;

    if (ts_kafka_err_is_denied(rd_kafka_event_error(ev))) {
        ts_proc_denied(p, rd_kafka_event_error(ev), p->repartition_topic);
        return;
    }
    for (int i = 0; l && i < l->cnt; i++)
        if (ts_kafka_err_is_denied(l->elems[i].err)) {
            ts_proc_denied(p, l->elems[i].err, p->repartition_topic);
            return;
        }
}

static void ts_proc_purge(ts_processor *p)
{
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_DeleteRecords_t *dr;
    rd_kafka_event_t *ev;

    /* results of an earlier purge */
    while ((ev = rd_kafka_queue_poll(p->admin_q, 0))) {
        ts_proc_purge_denied(p, ev);
        if (rd_kafka_event_error(ev))
            ts_logf(TS_LOG_WARN, "processor", "purging the repartition topic failed: %s",
                    rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
    }
    if (p->cfg->repartition_purge_interval_ms == 0 ||
        ts_mono_ms() - p->last_purge_ms < p->cfg->repartition_purge_interval_ms)
        return;
    p->last_purge_ms = ts_mono_ms();
    l = rd_kafka_topic_partition_list_new(p->npart);
    for (int32_t i = 0; i < p->npart; i++) {
        ts_slot *s = &p->slots[i];
        int64_t off;
        if (s->state != TS_SLOT_ACTIVE)
            continue;
        off = ts_task_committed_offset(s->task);
        if (off > 0 && off > s->purged) {
            rd_kafka_topic_partition_list_add(l, p->repartition_topic, i)->offset = off;
            s->purged = off;
        }
    }
    if (l->cnt > 0) {
        dr = rd_kafka_DeleteRecords_new(l);
        rd_kafka_DeleteRecords(p->producer, &dr, 1, NULL, p->admin_q);
        rd_kafka_DeleteRecords_destroy(dr);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* ---- the loop ---- */

static ts_err ts_proc_dispatch(ts_processor *p, rd_kafka_message_t *m, char *errstr,
                               size_t errstr_size)
{
    const char *topic;
    ts_err err;

    if (m->err) {
        if (ts_kafka_err_is_denied(m->err)) {
            char what[300];
            if (m->rkt)
                snprintf(what, sizeof(what), "topic %s", rd_kafka_topic_name(m->rkt));
            else
                snprintf(what, sizeof(what), "group %s", p->cfg->application_id);
            ts_proc_denied(p, m->err, what);
            return ts_proc_denied_error(p, errstr, errstr_size);
        }
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            ts_logf(TS_LOG_WARN, "processor", "consumer: %s", rd_kafka_message_errstr(m));
        return TS_OK;
    }
    if (m->partition < 0 || m->partition >= p->npart)
        return TS_OK;
    err = ts_proc_txn_begin(p, errstr, errstr_size);
    if (err)
        return err;
    topic = rd_kafka_topic_name(m->rkt);
    if (!strcmp(topic, p->cfg->input_topic))
        return ts_proc_input(p, m, errstr, errstr_size);
    if (!strcmp(topic, p->repartition_topic)) {
        ts_slot *s = &p->slots[m->partition];
        ts_task_stats before = s->task ? *ts_task_get_stats(s->task) : (ts_task_stats){0};
        err = ts_proc_count(p, m, errstr, errstr_size);
        if (s->task)
            ts_proc_task_stats(p, &before, s->task);
        return err;
    }
    return TS_OK;
}

/* The next record or event: the repartition queue's first, then the
 * consumer's (waiting up to timeout_ms). The repartition queue is polled
 * only while it has records or after it signalled new ones (each poll is a
 * lock and, in librdkafka 2.x, several clock reads: polled before every
 * input record, it showed in profiles). The signal is cleared before the
 * poll that finds the queue empty, and librdkafka signals every change
 * from empty to not empty, so none is missed. */
static rd_kafka_message_t *ts_proc_next(ts_processor *p, int timeout_ms)
{
    if (p->rq_draining || atomic_exchange(&p->rq_signal, 0)) {
        rd_kafka_message_t *m = rd_kafka_consume_queue(p->rq, 0);
        if (m) {
            p->rq_draining = 1;
            return m;
        }
        p->rq_draining = 0;
    }
    return rd_kafka_consumer_poll(p->consumer, timeout_ms);
}

/* The error the rebalance callback left, if any: into errstr, and cleared. */
static ts_err ts_proc_rebalance_error(ts_processor *p, char *errstr, size_t errstr_size)
{
    ts_err err = p->rebalance_err;

    if (err) {
        ts_seterr(err, errstr, errstr_size, "%s", p->rebalance_errstr);
        p->rebalance_err = TS_OK;
    }
    return err;
}

/*
 * One turn of the loop: process what the consumer has up to the commit
 * deadline, commit when due, step the restores. A failed produce aborts
 * the transaction and the loop goes on; a fenced producer is replaced.
 * Errors left: fatal, with errstr.
 */
static ts_err ts_proc_turn(ts_processor *p, char *errstr, size_t errstr_size)
{
    int64_t now = ts_mono_ms();
    int timeout = (int)(p->next_commit_ms - now);
    rd_kafka_message_t *m;
    int64_t t0, t1, t2, t3;
    char why[512];
    ts_err err = TS_OK;

    atomic_store(&p->heartbeat_ms, now);
    p->rq_draining = 1; /* look at the repartition queue at least once a turn */
    if (timeout > TS_POLL_MS)
        timeout = TS_POLL_MS;
    if (timeout < 0 || ts_restore_active(p->restore) > 0)
        timeout = 0;
    if (timeout > 0)
        ts_proc_nudge(p);
    t0 = ts_mono_us();
    m = ts_proc_next(p, timeout);
    t1 = ts_mono_us();
    atomic_fetch_add(&p->m.loop_us[m ? TS_PROC_LOOP_PROCESS : TS_PROC_LOOP_WAIT],
                     (uint64_t)(t1 - t0));
    /* Process what is there, up to the commit deadline (the clock read
     * every TS_CLOCK_EVERY records: read for each one, it showed in profiles). */
    for (unsigned n = 1; m; n++) {
        err = ts_proc_dispatch(p, m, errstr, errstr_size);
        rd_kafka_message_destroy(m);
        if (err || p->rebalance_err ||
            (n % TS_CLOCK_EVERY == 0 && ts_mono_ms() >= p->next_commit_ms))
            break;
        m = ts_proc_next(p, 0);
    }
    if (!err)
        err = ts_proc_rebalance_error(p, errstr, errstr_size);
    if (!err)
        err = ts_proc_denied_error(p, errstr, errstr_size); /* a delivery report or a purge */
    if (!err)
        err = ts_proc_idle_step(p, errstr, errstr_size);
    if ((err == TS_ERR_KAFKA || err == TS_ERR_ABORTABLE) && p->txn_open) {
        /* a produce failed (queue stuck, topic gone), or a task's store
         * missed a commit (the abort loads it again): abort, go on */
        snprintf(why, sizeof(why), "%s", errstr);
        err = ts_proc_abort(p, why, errstr, errstr_size);
    }
    t2 = ts_mono_us();
    atomic_fetch_add(&p->m.loop_us[TS_PROC_LOOP_PROCESS], (uint64_t)(t2 - t1));
    if (!err) {
        rd_kafka_poll(p->producer, 0);
        if (ts_mono_ms() >= p->next_commit_ms)
            err = ts_proc_commit(p, errstr, errstr_size);
    }
    t3 = ts_mono_us();
    atomic_fetch_add(&p->m.loop_us[TS_PROC_LOOP_COMMIT], (uint64_t)(t3 - t2));
    if (!err) {
        err = ts_proc_restore_step(p, 50, errstr, errstr_size);
        if (!err)
            ts_proc_standby_step(p, 20);
        atomic_fetch_add(&p->m.loop_us[TS_PROC_LOOP_RESTORE], (uint64_t)(ts_mono_us() - t3));
    }
    if (err == TS_ERR_FENCED && !*p->stop) {
        snprintf(why, sizeof(why), "%s", errstr);
        err = ts_proc_recover(p, why, errstr, errstr_size);
    }
    return err;
}

ts_err ts_processor_run(ts_processor *p, volatile sig_atomic_t *stop, char *errstr,
                        size_t errstr_size)
{
    ts_err err = TS_OK;
    int64_t stop_at;

    p->stop = stop;
    err = ts_proc_subscribe(p, errstr, errstr_size);
    if (err)
        return err;
    ts_proc_commit_schedule(p);
    p->last_purge_ms = ts_mono_ms();
    ts_logf(TS_LOG_INFO, "processor", "running");

    while (!*stop) {
        char msg[512] = ""; /* errstr is written only on failure */
        err = ts_proc_turn(p, msg, sizeof(msg));
        if (err)
            return ts_seterr(err, errstr, errstr_size, "%s", msg[0] ? msg : ts_err_name(err));
        ts_proc_purge(p);
        ts_proc_gauges(p);
    }

    /* Graceful stop: commit what is open, then leave the group (its revoke
     * callback finds nothing left to commit). */
    stop_at = ts_mono_ms() + p->cfg->shutdown_timeout_ms;
    ts_logf(TS_LOG_INFO, "processor", "stopping");
    err = ts_proc_commit(p, errstr, errstr_size);
    if (err)
        return err;
    ts_proc_queues_release(p);
    rd_kafka_consumer_close(p->consumer);
    for (int32_t i = 0; i < p->npart; i++)
        if (p->slots[i].task)
            ts_proc_close_slot(p, i);
    err = ts_proc_rebalance_error(p, errstr, errstr_size);
    if (err)
        return err;
    rd_kafka_flush(p->producer, (int)(stop_at - ts_mono_ms() > 0 ? stop_at - ts_mono_ms() : 0));
    ts_logf(TS_LOG_INFO, "processor", "stopped");
    return TS_OK;
}

/* ---- construction ---- */

static char *ts_strcat3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);

    if (!s)
        return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc + 1);
    return s;
}

ts_err ts_processor_new(const ts_proc_config *cfg, const ts_conf *conf, ts_metrics *metrics,
                        ts_processor **out, char *errstr, size_t errstr_size)
{
    /* session and heartbeat: docs/OPERATIONS.md, "Failover", says why */
    /*
     * Prefetch, sized on purpose (docs/PERFORMANCE.md): librdkafka keeps one
     * fetch in flight per broker and holds every fetched message as an
     * operation of a few hundred bytes, while a compressed input record
     * takes about 12 bytes on the wire. With its defaults (1 MiB per
     * partition per fetch, 100,000 messages queued per partition) the
     * consumer held 130 MB of a 200 MB peak on the 1 M-record benchmark.
     * 128 KiB per partition and 10,000 queued messages keep the loop fed as
     * well as 1 MiB did (the queue is refilled as soon as it runs low:
     * fetch.queue.backoff.ms and ts_proc_nudge), with a 64 MiB peak.
     * fetch.wait.max.ms: a fetch that only holds partitions with nothing
     * new (the repartition topic between two commits, read_committed)
     * parks at the broker this long, and with it every other partition of
     * that broker: 500 ms by default. 20 ms: on the 1 M-record benchmark
     * 50 ms gave 228,000-314,000 records/s and 20 ms 277,000-364,000 (10
     * ms no more), at the price of 50 fetch requests a second per broker
     * while the input is idle.
     * fetch.queue.backoff.ms (librdkafka 2.1 and later): how long a
     * partition whose queue is over those bounds waits before the consumer
     * looks at it again, 1 s by default: with the queue drained in a small
     * part of that second, the loop would sit idle for the rest (before
     * 2.1: ts_proc_nudge).
     */
    const char *const consumer_defaults[] = {
        "partition.assignment.strategy",
        "range",
        "auto.offset.reset",
        "earliest",
        "session.timeout.ms",
        "15000",
        "heartbeat.interval.ms",
        "3000",
        "statistics.interval.ms",
        "15000",
        "fetch.wait.max.ms",
        "20",
        "max.partition.fetch.bytes",
        "131072",
        "fetch.max.bytes",
        "2097152",
        "queued.min.messages",
        "10000",
        "queued.max.messages.kbytes",
        "16384",
        ts_kafka_has_fetch_queue_backoff() ? "fetch.queue.backoff.ms" : NULL,
        "10",
        NULL};
    rd_kafka_conf_t *cc = NULL;
    ts_processor *p;
    char msg[512] = "out of memory";
    ts_err err;

    *out = NULL;
    err = ts_proc_config_validate(cfg, errstr, errstr_size);
    if (err)
        return err;
    p = calloc(1, sizeof(*p));
    if (!p)
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    pthread_mutex_init(&p->lag_lock, NULL);
    p->cfg = cfg;
    p->conf = conf;
    p->lock_fd = -1;
    p->metrics = metrics;
    ts_buf_init(&p->value, 0);
    p->norm_cap = ts_tag_normalize_cap((size_t)cfg->max_value_bytes);
    p->norm = malloc(p->norm_cap);
    p->state_dir = cfg->state_dir && *cfg->state_dir ? strdup(cfg->state_dir)
                                                     : ts_fs_default_state_dir(msg, sizeof(msg));
    if (!p->state_dir) {
        err = ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "%s", msg);
        goto fail;
    }
    p->app_dir = ts_strcat3(p->state_dir, "/", cfg->application_id);
    p->repartition_topic = ts_strcat3(cfg->application_id, "-repartition", "");
    p->changelog_topic = ts_strcat3(cfg->application_id, "-counts-changelog", "");
    if (!p->norm || !p->app_dir || !p->repartition_topic || !p->changelog_topic) {
        err = ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
        goto fail;
    }
    p->sink.emit = ts_proc_emit;
    p->sink.changelog = ts_proc_changelog;
    p->sink.opaque = p;
    p->store_opts.block_cache_bytes = (size_t)cfg->rocksdb_block_cache_bytes;
    p->store_opts.write_buffer_bytes = (size_t)cfg->rocksdb_write_buffer_bytes;
    ts_proc_metrics_init(p);
    p->kstats = ts_kstats_new(metrics);
    if (metrics)
        ts_metrics_add_collector(metrics, "tagstream_consumer_lag_records",
                                 "Records not yet consumed, per input and repartition partition "
                                 "of this instance (high watermark minus position).",
                                 "gauge", ts_proc_lag_collect, p);

    /* both levels private: the operator's directory (a link to it is followed),
     * and ours below it (a link there is refused) */
    if ((err = ts_fs_private_dir(p->state_dir, 0, errstr, errstr_size)) ||
        (err = ts_fs_private_dir(p->app_dir, 1, errstr, errstr_size)) ||
        (err = ts_proc_lock(p, errstr, errstr_size)) ||
        (err = ts_proc_instance_id(p, errstr, errstr_size)))
        goto fail;
    p->txn_id = ts_strcat3(cfg->application_id, "-", p->instance_id);
    if (!p->txn_id) {
        err = ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
        goto fail;
    }

    err = ts_proc_producer_new(p, errstr, errstr_size);
    if (err)
        goto fail;

    /* The consumer: read_committed, offsets only through transactions. */
    {
        /* read_committed, and offsets only through transactions; with
         * static.membership a group.instance.id (else the list ends there) */
        const char *forced[] = {"group.id",
                                cfg->application_id,
                                "client.id",
                                p->txn_id,
                                "isolation.level",
                                "read_committed",
                                "enable.auto.commit",
                                "false",
                                "enable.auto.offset.store",
                                "false",
                                cfg->static_membership ? "group.instance.id" : NULL,
                                p->txn_id,
                                NULL};
        cc = ts_kafka_conf_new(conf, cfg->bootstrap_servers, consumer_defaults, forced, errstr,
                               errstr_size);
    }
    if (!cc) {
        err = TS_ERR_INVALID;
        goto fail;
    }
    rd_kafka_conf_set_rebalance_cb(cc, ts_proc_rebalance_cb);
    rd_kafka_conf_set_stats_cb(cc, ts_proc_stats_cb);
    rd_kafka_conf_set_opaque(cc, p);
    p->consumer = ts_kafka_new(RD_KAFKA_CONSUMER, cc, msg, sizeof(msg));
    if (!p->consumer) {
        err = ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "cannot create the consumer: %s", msg);
        goto fail;
    }
    cc = NULL;
    rd_kafka_poll_set_consumer(p->consumer);
    p->cq = rd_kafka_queue_get_consumer(p->consumer);
    p->rq = rd_kafka_queue_new(p->consumer);
    if (!p->cq || !p->rq) {
        err = ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
        goto fail;
    }
    rd_kafka_queue_cb_event_enable(p->rq, ts_proc_rq_ready, p);
    p->nudge = !ts_kafka_has_fetch_queue_backoff();

    err = ts_proc_topics(p, errstr, errstr_size);
    if (err)
        goto fail;
    p->sources = calloc((size_t)p->npart, sizeof(*p->sources));
    p->slots = calloc((size_t)p->npart, sizeof(*p->slots));
    if (!p->sources || !p->slots) {
        err = ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
        goto fail;
    }
    for (int32_t i = 0; i < p->npart; i++) {
        p->slots[i].committed = -1;
        p->slots[i].changelog_hi = -1;
        p->slots[i].idle_offset = TS_PROC_IDLE_UNSEEN;
    }
    err = ts_restore_new(conf, cfg->bootstrap_servers, p->changelog_topic,
                         (int)cfg->restore_batch_records, &p->restore, errstr, errstr_size);
    if (err)
        goto fail;
    ts_restore_set_bad_counter(p->restore, p->m.restore_bad);
    err = ts_proc_standby_new(p, errstr, errstr_size);
    if (err)
        goto fail;

    {
        ts_log_ev *ev = ts_log_begin(TS_LOG_INFO, "processor", "started");
        ts_log_cstr(ev, "application_id", cfg->application_id);
        ts_log_cstr(ev, "transactional_id", p->txn_id);
        if (cfg->static_membership)
            ts_log_cstr(ev, "group_instance_id", p->txn_id);
        if (cfg->num_standby_replicas > 0)
            ts_log_int(ev, "num_standby_replicas", cfg->num_standby_replicas);
        ts_log_cstr(ev, "input_topic", cfg->input_topic);
        ts_log_int(ev, "partitions", p->npart);
        ts_log_cstr(ev, "state_dir", p->app_dir);
        ts_log_end(ev);
    }
    *out = p;
    return TS_OK;
fail:
    if (cc)
        rd_kafka_conf_destroy(cc);
    ts_processor_destroy(p);
    return err;
}

void ts_processor_destroy(ts_processor *p)
{
    if (!p)
        return;
    /*
     * Close the consumer first: its close can still deliver a revoke (after
     * an earlier close gave up on a coordinator that a broker fault had
     * moved), and the rebalance callback then uses the slots, the restorer
     * and the standbys, which must still be alive.
     */
    ts_proc_queues_release(p);
    if (p->consumer)
        rd_kafka_consumer_close(p->consumer);
    if (p->slots)
        for (int32_t i = 0; i < p->npart; i++)
            ts_task_close(p->slots[i].task);
    ts_proc_standby_destroy(p);
    ts_restore_destroy(p->restore);
    if (p->consumer)
        rd_kafka_destroy(p->consumer);
    ts_proc_producer_destroy(p);
    if (p->lock_fd >= 0)
        close(p->lock_fd);
    free(p->sources);
    free(p->slots);
    free(p->instance_id);
    free(p->txn_id);
    free(p->app_dir);
    free(p->state_dir);
    free(p->repartition_topic);
    free(p->changelog_topic);
    free(p->norm);
    ts_buf_free(&p->value);
    free(p->lag);
    pthread_mutex_destroy(&p->lag_lock);
    ts_kstats_destroy(p->kstats);
    free(p);
}

int64_t ts_processor_heartbeat_ms(const ts_processor *p)
{
    return atomic_load(&p->heartbeat_ms);
}

int ts_processor_ready(const ts_processor *p)
{
    return atomic_load(&p->ready);
}

int ts_processor_tasks_restoring(const ts_processor *p)
{
    return atomic_load(&p->restoring);
}

int ts_processor_assigned(const ts_processor *p)
{
    return atomic_load(&p->assigned_once);
}
