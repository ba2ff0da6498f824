/*
 * The drill's Kafka side: topics, the feeder thread, and reading the output.
 */
#include "ts_drill.h"
#include "ts_kafka.h"
#include "ts_log.h"
#include "ts_murmur2.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

rd_kafka_t *ts_drill_client(const ts_drill_config *cfg, const ts_conf *conf, rd_kafka_type_t type,
                            const char *const *extra, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *kc;
    rd_kafka_t *rk;
    char msg[512];

    /* the operator's kafka.* settings (security) apply to every client */
    kc = ts_kafka_conf_new(conf, cfg->bootstrap_servers, extra, NULL, errstr, errstr_size);
    if (!kc)
        return NULL;
    /* ts_kafka_new: with msk.iam, the token refreshes are served */
    rk = ts_kafka_new(type, kc, msg, sizeof(msg));
    if (!rk) {
        rd_kafka_conf_destroy(kc);
        ts_seterr(TS_ERR_KAFKA, errstr, errstr_size, "cannot create a Kafka client: %s", msg);
        return NULL;
    }
    return rk;
}

ts_err ts_drill_create_topic(rd_kafka_t *rk, const char *topic, int partitions, int rf,
                             char *errstr, size_t errstr_size)
{
    /* with replicas to spare, a write counts once two replicas have it */
    static const char *const isr2[] = {"min.insync.replicas", "2", NULL};

    return ts_kafka_create_topic(rk, topic, partitions, rf, rf >= 3 ? isr2 : NULL, 60000, errstr,
                                 errstr_size);
}

void ts_drill_delete(rd_kafka_t *rk, const char *const *topics, int n, const char *group)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteTopic_t *dt[8];
    rd_kafka_event_t *ev;

    if (n > 8)
        n = 8;
    for (int i = 0; i < n; i++)
        dt[i] = rd_kafka_DeleteTopic_new(topics[i]);
    rd_kafka_DeleteTopics(rk, dt, (size_t)n, NULL, q);
    rd_kafka_DeleteTopic_destroy_array(dt, (size_t)n);
    ev = rd_kafka_queue_poll(q, 30000);
    if (ev)
        rd_kafka_event_destroy(ev);
    if (group) {
        rd_kafka_DeleteGroup_t *dg = rd_kafka_DeleteGroup_new(group);
        rd_kafka_DeleteGroups(rk, &dg, 1, NULL, q);
        rd_kafka_DeleteGroup_destroy(dg);
        ev = rd_kafka_queue_poll(q, 30000);
        if (ev)
            rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
}

static int ts_drill_scan(volatile sig_atomic_t *stop, rd_kafka_t *c,
                         rd_kafka_topic_partition_list_t *from, int64_t limit, int64_t *ends);

/* ---- reading the output ---- */

ts_err ts_drill_decode_result(const void *key, size_t klen, const void *val, size_t vlen,
                              int64_t window_ms, ts_drill_results *out, char *errstr,
                              size_t errstr_size)
{
    json_error_t jerr;
    json_t *j, *tag, *count, *ws, *we;
    ts_err err = TS_ERR_CORRUPT;

    if (!key || !val)
        return ts_seterr(TS_ERR_CORRUPT, errstr, errstr_size, "a result without key or value");
    j = json_loadb(val, vlen, 0, &jerr);
    if (!j)
        return ts_seterr(TS_ERR_CORRUPT, errstr, errstr_size, "result value is not JSON: %s",
                         jerr.text);
    tag = json_object_get(j, "hashtag");
    count = json_object_get(j, "count");
    ws = json_object_get(j, "window_start");
    we = json_object_get(j, "window_end");
    if (!json_is_string(tag) || !json_is_integer(count) || !json_is_integer(ws) ||
        !json_is_integer(we)) {
        ts_seterr(err, errstr, errstr_size, "result %.*s lacks a field", (int)vlen,
                  (const char *)val);
    } else if (json_string_length(tag) != klen || memcmp(json_string_value(tag), key, klen)) {
        ts_seterr(err, errstr, errstr_size, "result key %.*s is not its hashtag %s", (int)klen,
                  (const char *)key, json_string_value(tag));
    } else if (json_integer_value(we) - json_integer_value(ws) != window_ms ||
               json_integer_value(ws) % window_ms != 0) {
        ts_seterr(err, errstr, errstr_size, "result %.*s: not a %lld ms window", (int)vlen,
                  (const char *)val, (long long)window_ms);
    } else {
        err = out ? ts_drill_results_add(out, key, klen, json_integer_value(count),
                                         json_integer_value(ws))
                  : TS_OK;
        if (err)
            ts_seterr(err, errstr, errstr_size, "out of memory");
    }
    json_decref(j);
    return err;
}

/* Partitions of a topic (-1: missing). */
int ts_drill_partitions(rd_kafka_t *rk, const char *topic)
{
    int parts = -1;
    char msg[256];

    if (ts_kafka_topic_partitions(rk, topic, 10000, &parts, NULL, msg, sizeof(msg)))
        return -1;
    return parts;
}

ts_err ts_drill_read_output(const ts_drill_config *cfg, const ts_conf *conf, const char *topic,
                            int uncommitted, ts_drill_results *out, size_t *records, size_t *bad,
                            char *errstr, size_t errstr_size)
{
    const char *extra[] = {"group.id",
                           "tagstream-drill-reader",
                           "enable.auto.commit",
                           "false",
                           "enable.partition.eof",
                           "true",
                           "isolation.level",
                           uncommitted ? "read_uncommitted" : "read_committed",
                           NULL};
    rd_kafka_t *c = ts_drill_client(cfg, conf, RD_KAFKA_CONSUMER, extra, errstr, errstr_size);
    rd_kafka_topic_partition_list_t *l;
    int parts, eofs = 0;
    char *eof;
    int64_t last = ts_wall_ms();
    ts_err err = TS_OK;

    *records = *bad = 0;
    if (!c)
        return TS_ERR_KAFKA;
    parts = ts_drill_partitions(c, topic);
    if (parts <= 0) {
        rd_kafka_destroy(c);
        return ts_seterr(TS_ERR_KAFKA, errstr, errstr_size, "output topic %s not found", topic);
    }
    if (!uncommitted) {
        /* A transaction left open by a process that never came back hides
         * everything after it from read_committed readers until the broker
         * aborts it (transaction.timeout.ms): wait until the last stable
         * offset of every partition is its high watermark. */
        const char *uextra[] = {"group.id", "tagstream-drill-reader", "enable.partition.eof",
                                "true",     "isolation.level",        "read_uncommitted",
                                NULL};
        rd_kafka_t *u = ts_drill_client(cfg, conf, RD_KAFKA_CONSUMER, uextra, errstr, errstr_size);
        int64_t deadline = ts_wall_ms() + cfg->transaction_timeout_ms + 30000;
        int64_t lso[TS_DRILL_MAX_PARTS], hwm[TS_DRILL_MAX_PARTS];
        int open = 1;
        while (u && open && ts_wall_ms() < deadline) {
            l = rd_kafka_topic_partition_list_new(parts);
            for (int p = 0; p < parts; p++)
                rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_END;
            open = ts_drill_scan(NULL, c, l, INT64_MIN, lso) != 0 ||
                   ts_drill_scan(NULL, u, l, INT64_MIN, hwm) != 0;
            for (int p = 0; p < parts && !open; p++)
                open = lso[p] != hwm[p];
            rd_kafka_topic_partition_list_destroy(l);
            if (open)
                usleep(500000);
        }
        if (u) {
            rd_kafka_consumer_close(u);
            rd_kafka_destroy(u);
        }
        if (open) {
            rd_kafka_destroy(c);
            return ts_seterr(TS_ERR_TIMEOUT, errstr, errstr_size,
                             "%s: a transaction stayed open past transaction.timeout.ms", topic);
        }
    }
    eof = calloc((size_t)parts, 1);
    l = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c, l);
    rd_kafka_topic_partition_list_destroy(l);
    while (eofs < parts) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
        if (!m) {
            if (ts_wall_ms() - last > 60000) {
                err = ts_seterr(TS_ERR_TIMEOUT, errstr, errstr_size,
                                "reading %s: no end of partition within 60 s", topic);
                break;
            }
            continue;
        }
        last = ts_wall_ms();
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < parts && !eof[m->partition]) {
                eof[m->partition] = 1;
                eofs++;
            }
        } else if (m->err) {
            /* transient (a broker restarting): keep reading */
        } else {
            char msg[256];
            (*records)++;
            if (ts_drill_decode_result(m->key, m->key_len, m->payload, m->len, cfg->window_size_ms,
                                       out, msg, sizeof(msg))) {
                if ((*bad)++ == 0)
                    snprintf(errstr, errstr_size, "%s", msg);
            }
        }
        rd_kafka_message_destroy(m);
    }
    free(eof);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return err;
}

/* ---- the feeder ---- */

static void ts_drill_feed_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    ts_drill_feed *f = opaque;

    (void)rk;
    if (m->err) {
        if (!atomic_load(&f->failed))
            snprintf(f->errstr, sizeof(f->errstr), "an input record was not delivered: %s",
                     rd_kafka_err2str(m->err));
        atomic_store(&f->failed, 1);
        return;
    }
    atomic_fetch_add(&f->produced, 1);
}

/* First record of event-time phase k. */
static int64_t ts_drill_phase_start(const ts_drill_feed *f, int64_t k)
{
    int64_t lo = 0, hi = f->gen->nrecs, t = f->gen->p.base + k * f->phase_ms;

    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (f->gen->recs[mid].ts < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/*
 * Read partitions from the given offsets to their end: the last stable
 * offset for a read_committed consumer, the high watermark otherwise.
 * Returns 1 if a record with a key and a timestamp before `limit` is among
 * them, 0 if none, -1 if the end was not reached in time. ends (may be
 * NULL) receives each partition's end offset, as the fetches reported it.
 */
static int ts_drill_scan(volatile sig_atomic_t *stop, rd_kafka_t *c,
                         rd_kafka_topic_partition_list_t *from, int64_t limit, int64_t *ends)
{
    char eof[TS_DRILL_MAX_PARTS] = {0};
    int eofs = 0, found = 0, n = from->cnt;
    int64_t deadline = ts_wall_ms() + 15000;

    if (n == 0)
        return 0;
    rd_kafka_assign(c, from);
    while (found >= 0 && eofs < n) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (ts_wall_ms() > deadline || (stop && *stop)) {
            found = -1;
            if (m)
                rd_kafka_message_destroy(m);
            break;
        }
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < TS_DRILL_MAX_PARTS && !eof[m->partition]) {
                eof[m->partition] = 1;
                eofs++;
            }
        } else if (!m->err && m->key && rd_kafka_message_timestamp(m, NULL) < limit) {
            found = 1;
        }
        rd_kafka_message_destroy(m);
    }
    for (int i = 0; ends && found >= 0 && i < n; i++) {
        int64_t lo = -1, hi = -1;
        rd_kafka_get_watermark_offsets(c, from->elems[i].topic, from->elems[i].partition, &lo, &hi);
        if (hi < 0)
            found = -1;
        ends[i] = hi;
    }
    rd_kafka_assign(c, NULL);
    return found;
}

/*
 * Whether the processors have processed and committed the first n records
 * (plus the closers): the group's committed input offsets cover them, and
 * no record of the repartition topic older than `limit` waits after a
 * task's committed offset. Records behind an open transaction (after the
 * last stable offset) are not visible to the tasks yet: if any is older
 * than the limit, it is not done either. Returns 0 when not (yet) or when
 * it cannot tell.
 */
static int ts_drill_consumed(ts_drill_feed *f, rd_kafka_t *c, rd_kafka_t *u, int64_t n, int closers,
                             int64_t limit)
{
    const ts_drill_topics *t = f->topics;
    int32_t np = (int32_t)f->gen->p.partitions, nq = f->repartitions;
    int64_t need[TS_DRILL_MAX_PARTS] = {0}, lso[TS_DRILL_MAX_PARTS];
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np + nq);
    rd_kafka_topic_partition_list_t *a = NULL, *open = NULL;
    rd_kafka_resp_err_t kerr;
    const char *why = "";
    int ok = 0, r;

    for (int64_t i = 0; i < n; i++)
        need[f->gen->recs[i].partition]++;
    if (closers)
        need[0] += f->nclosers;
    for (int32_t p = 0; p < np; p++)
        rd_kafka_topic_partition_list_add(l, t->input, p);
    for (int32_t q = 0; q < nq; q++)
        rd_kafka_topic_partition_list_add(l, t->repartition, q);
    if ((kerr = rd_kafka_committed(c, l, 10000))) {
        why = rd_kafka_err2str(kerr);
        goto out;
    }
    for (int i = 0; i < l->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &l->elems[i];
        if (tp->err) {
            why = rd_kafka_err2str(tp->err);
            goto out;
        }
        if (i < np && tp->offset < need[tp->partition]) {
            why = "input not consumed";
            goto out;
        }
    }
    /* the committed records after each task's committed offset */
    a = rd_kafka_topic_partition_list_new(nq);
    for (int i = np; i < l->cnt; i++)
        rd_kafka_topic_partition_list_add(a, t->repartition, l->elems[i].partition)->offset =
            l->elems[i].offset >= 0 ? l->elems[i].offset : RD_KAFKA_OFFSET_BEGINNING;
    if ((r = ts_drill_scan(f->stop, c, a, limit, lso)) != 0) {
        why = r < 0 ? "no end of the committed records" : "repartitioned records wait";
        goto out;
    }
    /* and what an open transaction holds after the last stable offset */
    open = rd_kafka_topic_partition_list_new(nq);
    for (int i = 0; i < a->cnt; i++)
        rd_kafka_topic_partition_list_add(open, t->repartition, a->elems[i].partition)->offset =
            lso[i];
    if ((r = ts_drill_scan(f->stop, u, open, limit, NULL)) != 0) {
        why = r < 0 ? "no end of the open transactions" : "records wait behind an open transaction";
        goto out;
    }
    ok = 1;
out:
    ts_logf(TS_LOG_DEBUG, "drill", "first %lld records processed (records before %lld): %s%s",
            (long long)n, (long long)limit, ok ? "yes" : "no: ", why);
    rd_kafka_topic_partition_list_destroy(l);
    if (a)
        rd_kafka_topic_partition_list_destroy(a);
    if (open)
        rd_kafka_topic_partition_list_destroy(open);
    return ok;
}

/* Tags whose murmur2 partitions cover every task, each once. */
static int ts_drill_closer_tag(const ts_drill_feed *f, int k, char *buf, size_t size)
{
    char seen[TS_DRILL_MAX_PARTS] = {0};
    int found = 0;

    for (int i = 0; i < 100000; i++) {
        int n = snprintf(buf, size, "closer%d", i);
        int32_t p = ts_murmur2_partition(buf, (size_t)n, f->repartitions);
        if (seen[p])
            continue;
        seen[p] = 1;
        if (found++ == k)
            return n;
    }
    return -1;
}

static ts_err ts_drill_produce(ts_drill_feed *f, rd_kafka_t *p, int32_t partition,
                               const char *value, size_t len, int64_t ts)
{
    rd_kafka_resp_err_t err;

    for (;;) {
        err = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(f->topics->input),
                                RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_TIMESTAMP(ts),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || *f->stop)
            break;
        rd_kafka_poll(p, 20);
    }
    if (err) {
        snprintf(f->errstr, sizeof(f->errstr), "cannot produce: %s", rd_kafka_err2str(err));
        return TS_ERR_KAFKA;
    }
    return TS_OK;
}

static void ts_drill_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Wait until the first n records (and the closers) are consumed. */
static int ts_drill_feed_wait(ts_drill_feed *f, rd_kafka_t *p, rd_kafka_t *c, rd_kafka_t *u,
                              int64_t n, int closers, int64_t limit)
{
    int64_t t0 = ts_wall_ms();

    while (!*f->stop && !atomic_load(&f->failed)) {
        rd_kafka_poll(p, 0);
        if (ts_drill_consumed(f, c, u, n, closers, limit)) {
            if (atomic_load(&f->consumed) < n)
                atomic_store(&f->consumed, n);
            atomic_fetch_add(&f->gate_waits_ms, ts_wall_ms() - t0);
            return 1;
        }
        ts_drill_sleep_ms(250);
    }
    return 0;
}

static void *ts_drill_feed_main(void *arg)
{
    ts_drill_feed *f = arg;
    const ts_drill_gen *g = f->gen;
    const char *pextra[] = {
        "enable.idempotence",           "true",   "acks", "all", "linger.ms", "5",
        "queue.buffering.max.messages", "200000", NULL};
    const char *uextra[] = {"group.id",        "tagstream-drill-peek", "enable.auto.commit",
                            "false",           "enable.partition.eof", "true",
                            "isolation.level", "read_uncommitted",     NULL};
    const char *cextra[] = {"group.id",
                            f->group,
                            "enable.auto.commit",
                            "false",
                            "enable.partition.eof",
                            "true",
                            "isolation.level",
                            "read_committed",
                            "auto.offset.reset",
                            "earliest",
                            NULL};
    rd_kafka_conf_t *kc;
    rd_kafka_t *p = NULL, *c = NULL, *u = NULL;
    char msg[400], value[256];
    int64_t i = 0, gate = 1, last_check = 0, t_last;
    double tokens = 0;

    kc = ts_kafka_conf_new(f->conf, f->cfg->bootstrap_servers, pextra, NULL, msg, sizeof(msg));
    if (kc) {
        rd_kafka_conf_set_dr_msg_cb(kc, ts_drill_feed_dr);
        rd_kafka_conf_set_opaque(kc, f);
        p = ts_kafka_new(RD_KAFKA_PRODUCER, kc, msg, sizeof(msg));
        if (!p)
            rd_kafka_conf_destroy(kc);
    }
    if (p)
        c = ts_drill_client(f->cfg, f->conf, RD_KAFKA_CONSUMER, cextra, msg, sizeof(msg));
    if (c)
        u = ts_drill_client(f->cfg, f->conf, RD_KAFKA_CONSUMER, uextra, msg, sizeof(msg));
    if (!p || !c || !u) {
        snprintf(f->errstr, sizeof(f->errstr), "feeder: %s", msg);
        atomic_store(&f->failed, 1);
        goto out;
    }
    t_last = ts_wall_ms();
    while (i < g->nrecs && !*f->stop && !atomic_load(&f->failed)) {
        int64_t allowed = atomic_load(&f->allowed), now = ts_wall_ms(), k, end;
        rd_kafka_poll(p, 0);
        if (i >= allowed) {
            /* idle at the allowance: tell the main thread what is processed */
            if (atomic_load(&f->consumed) < i && now - last_check > 250 && i > 0) {
                last_check = now;
                if (atomic_load(&f->produced) >= i &&
                    ts_drill_consumed(f, c, u, i, 0, g->recs[i - 1].ts + 1))
                    atomic_store(&f->consumed, i);
            }
            ts_drill_sleep_ms(20);
            t_last = ts_wall_ms();
            continue;
        }
        k = (g->recs[i].ts - g->p.base) / f->phase_ms;
        if (k >= 2 && k > gate) {
            /* phase k once phase k-2 is processed: no record can be late */
            int64_t upto = ts_drill_phase_start(f, k - 1);
            if (atomic_load(&f->consumed) < upto &&
                !ts_drill_feed_wait(f, p, c, u, upto, 0, g->p.base + (k - 1) * f->phase_ms))
                continue;
            gate = k;
            t_last = ts_wall_ms();
        }
        tokens += (double)(now - t_last) * (double)f->cfg->rate / 1000.0;
        t_last = now;
        if (tokens > (double)f->cfg->rate / 10.0 + 1)
            tokens = (double)f->cfg->rate / 10.0 + 1;
        end = ts_drill_phase_start(f, k + 1);
        if (end > allowed)
            end = allowed;
        while (i < end && tokens >= 1) {
            size_t n = ts_drill_gen_value(g, i, value, sizeof(value));
            if (ts_drill_produce(f, p, g->recs[i].partition, value, n, g->recs[i].ts)) {
                atomic_store(&f->failed, 1);
                break;
            }
            tokens -= 1;
            i++;
        }
        ts_drill_sleep_ms(10);
    }
    while (!*f->stop && !atomic_load(&f->failed) && rd_kafka_outq_len(p) > 0)
        rd_kafka_poll(p, 100);
    if (*f->stop || atomic_load(&f->failed))
        goto out;
    /* everything processed, then the records that close the last windows */
    if (!ts_drill_feed_wait(f, p, c, u, g->nrecs, 0, INT64_MAX))
        goto out;
    for (int k = 0; k < f->nclosers; k++) {
        int n = ts_drill_closer_tag(f, k, value, sizeof(value));
        if (n < 0 || ts_drill_produce(f, p, 0, value, (size_t)n, f->closer_ts)) {
            atomic_store(&f->failed, 1);
            goto out;
        }
    }
    while (!*f->stop && !atomic_load(&f->failed) && rd_kafka_outq_len(p) > 0)
        rd_kafka_poll(p, 100);
    atomic_store(&f->closers_sent, 1);
    if (ts_drill_feed_wait(f, p, c, u, g->nrecs, 1, INT64_MAX))
        atomic_store(&f->done, 1);
out:
    if (u) {
        rd_kafka_consumer_close(u);
        rd_kafka_destroy(u);
    }
    if (c) {
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
    }
    if (p) {
        rd_kafka_flush(p, 10000);
        rd_kafka_destroy(p);
    }
    return NULL;
}

ts_err ts_drill_feed_start(ts_drill_feed *f, char *errstr, size_t errstr_size)
{
    char tag[64];

    f->nclosers = 0;
    while (f->nclosers < f->repartitions &&
           ts_drill_closer_tag(f, f->nclosers, tag, sizeof(tag)) > 0)
        f->nclosers++;
    if (f->nclosers < f->repartitions)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "cannot find closing tags for every partition");
    if (pthread_create(&f->thread, NULL, ts_drill_feed_main, f) != 0)
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "cannot start the feeder thread");
    f->started = 1;
    return TS_OK;
}

void ts_drill_feed_join(ts_drill_feed *f)
{
    if (f->started)
        pthread_join(f->thread, NULL);
    f->started = 0;
}
