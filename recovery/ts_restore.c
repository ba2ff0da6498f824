#include "ts_restore.h"
#include "ts_buf.h"
#include "ts_clock.h"
#include "ts_kafka.h"
#include "ts_keys.h"
#include "ts_log.h"

#include <stdlib.h>
#include <string.h>

typedef struct ts_restore_part {
    int32_t partition;
    ts_store *store;
    ts_store_batch *batch;
    /* The records of the next batch, held until it is written: sorted by
     * key first, they reach the memtable in its order, and only the last
     * record of a key in the batch is written. */
    rd_kafka_message_t **pending;
    size_t npending, pending_cap;
    ts_restore_progress p;
    int eof;
} ts_restore_part;

struct ts_restore {
    rd_kafka_t *consumer;
    char *topic;
    int batch_records;
    ts_restore_part *parts;
    size_t nparts, cap;
    int reassign; /* the assignment must follow a change of parts */
};

ts_err ts_restore_new(const ts_conf *conf, const char *bootstrap, const char *topic,
                      int batch_records, ts_restore **out, char *errstr, size_t errstr_size)
{
    /* defaults: large fetches, a restore is bulk reading, and a short fetch
     * wait, because a tail replay that has only a commit marker left to read
     * learns that it reached the end from an empty fetch; forced: whatever
     * the passthrough said, a restore must never see aborted data and must
     * never commit offsets of its own */
    static const char *const defaults[] = {"client.id",
                                           "tagstream-restore",
                                           "group.id",
                                           "tagstream-restore",
                                           "enable.auto.offset.store",
                                           "false",
                                           "queued.max.messages.kbytes",
                                           "32768",
                                           "max.partition.fetch.bytes",
                                           "16777216",
                                           "fetch.max.bytes",
                                           "67108864",
                                           "fetch.wait.max.ms",
                                           "20",
                                           NULL};
    static const char *const forced[] = {"isolation.level",
                                         "read_committed",
                                         "enable.auto.commit",
                                         "false",
                                         "enable.partition.eof",
                                         "true",
                                         NULL};
    rd_kafka_conf_t *kc;
    ts_restore *r;
    char msg[512];

    *out = NULL;
    kc = ts_kafka_conf_new(conf, bootstrap, defaults, forced, errstr, errstr_size);
    if (!kc)
        return TS_ERR_INVALID;
    r = calloc(1, sizeof(*r));
    if (!r || !(r->topic = strdup(topic))) {
        free(r);
        rd_kafka_conf_destroy(kc);
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    }
    r->batch_records = batch_records > 0 ? batch_records : 10000;
    r->consumer = ts_kafka_new(RD_KAFKA_CONSUMER, kc, msg, sizeof(msg));
    if (!r->consumer) {
        rd_kafka_conf_destroy(kc);
        free(r->topic);
        free(r);
        return ts_seterr(TS_ERR_KAFKA, errstr, errstr_size, "cannot create restore consumer: %s",
                         msg);
    }
    *out = r;
    return TS_OK;
}

static void ts_restore_part_free(ts_restore_part *p)
{
    for (size_t i = 0; i < p->npending; i++)
        rd_kafka_message_destroy(p->pending[i]);
    free(p->pending);
    ts_store_batch_destroy(p->batch);
}

void ts_restore_destroy(ts_restore *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nparts; i++)
        ts_restore_part_free(&r->parts[i]);
    if (r->consumer) {
        rd_kafka_assign(r->consumer, NULL);
        rd_kafka_destroy(r->consumer);
    }
    free(r->parts);
    free(r->topic);
    free(r);
}

ts_err ts_restore_watermarks(ts_restore *r, int32_t partition, int timeout_ms, int64_t *low,
                             int64_t *end, char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t err;

    err = rd_kafka_query_watermark_offsets(r->consumer, r->topic, partition, low, end, timeout_ms);
    if (err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
        err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
        err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        /* librdkafka 2.0.2 keeps asking a broker that lost the leadership
         * until its metadata is refreshed: refresh it, ask once more. */
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(r->consumer, r->topic, NULL);
        if (rkt && rd_kafka_metadata(r->consumer, 0, rkt, &md, timeout_ms) == 0)
            rd_kafka_metadata_destroy(md);
        if (rkt)
            rd_kafka_topic_destroy(rkt);
        err = rd_kafka_query_watermark_offsets(r->consumer, r->topic, partition, low, end,
                                               timeout_ms);
    }
    if (err)
        return ts_seterr(err == RD_KAFKA_RESP_ERR__TIMED_OUT ? TS_ERR_TIMEOUT : TS_ERR_KAFKA,
                         errstr, errstr_size, "cannot read offsets of %s [%d]: %s", r->topic,
                         (int)partition, rd_kafka_err2str(err));
    return TS_OK;
}

static ts_restore_part *ts_restore_find(const ts_restore *r, int32_t partition)
{
    for (size_t i = 0; i < r->nparts; i++)
        if (r->parts[i].partition == partition)
            return &r->parts[i];
    return NULL;
}

ts_err ts_restore_add(ts_restore *r, int32_t partition, ts_store *store, int64_t from, int64_t end,
                      char *errstr, size_t errstr_size)
{
    ts_restore_part *p;

    if (ts_restore_find(r, partition))
        ts_restore_remove(r, partition);
    p = ts_grow(r->parts, r->nparts, &r->cap, sizeof(*p), 8);
    if (!p)
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    r->parts = p;
    p = &r->parts[r->nparts];
    memset(p, 0, sizeof(*p));
    p->partition = partition;
    p->store = store;
    p->batch = ts_store_batch_new();
    if (!p->batch)
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    p->p.start = p->p.position = from;
    p->p.end = end;
    p->p.started_ms = ts_mono_ms();
    p->eof = from >= end;
    r->nparts++;
    r->reassign = 1;
    return TS_OK;
}

void ts_restore_remove(ts_restore *r, int32_t partition)
{
    ts_restore_part *p = ts_restore_find(r, partition);

    if (!p)
        return;
    ts_restore_part_free(p);
    *p = r->parts[--r->nparts];
    r->reassign = 1;
}

size_t ts_restore_active(const ts_restore *r)
{
    return r->nparts;
}

int ts_restore_get_progress(const ts_restore *r, int32_t partition, ts_restore_progress *out)
{
    ts_restore_part *p = ts_restore_find(r, partition);

    if (!p)
        return 0;
    *out = p->p;
    return 1;
}

/* Assign the consumer to the partitions still being read, at their positions. */
static ts_err ts_restore_assign(ts_restore *r, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)r->nparts);
    rd_kafka_resp_err_t err;

    for (size_t i = 0; i < r->nparts; i++)
        if (!r->parts[i].eof)
            rd_kafka_topic_partition_list_add(l, r->topic, r->parts[i].partition)->offset =
                r->parts[i].p.position;
    err = rd_kafka_assign(r->consumer, l->cnt ? l : NULL);
    rd_kafka_topic_partition_list_destroy(l);
    if (err)
        return ts_seterr(TS_ERR_KAFKA, errstr, errstr_size, "cannot assign %s to restore: %s",
                         r->topic, rd_kafka_err2str(err));
    r->reassign = 0;
    return TS_OK;
}

/* RocksDB's bytewise order of the keys, then changelog order. */
static int ts_restore_cmp(const void *a, const void *b)
{
    const rd_kafka_message_t *x = *(rd_kafka_message_t *const *)a;
    const rd_kafka_message_t *y = *(rd_kafka_message_t *const *)b;
    int c = ts_bytes_cmp(x->key, x->key_len, y->key, y->key_len);

    if (c)
        return c;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

/* Write the pending records as one batch: the state after it is the state
 * after applying them one by one in changelog order. */
static ts_err ts_restore_write(ts_restore_part *p, char *errstr, size_t errstr_size)
{
    ts_err err;

    if (p->npending == 0)
        return TS_OK;
    qsort(p->pending, p->npending, sizeof(*p->pending), ts_restore_cmp);
    for (size_t i = 0; i < p->npending; i++) {
        const rd_kafka_message_t *m = p->pending[i];
        if (i + 1 < p->npending &&
            !ts_bytes_cmp(m->key, m->key_len, p->pending[i + 1]->key, p->pending[i + 1]->key_len))
            continue; /* a later record of the key wins */
        ts_store_batch_raw(p->batch, m->key, m->key_len, m->payload, m->payload ? m->len : 0);
    }
    err = ts_store_write(p->store, p->batch, 1, errstr, errstr_size);
    ts_store_batch_clear(p->batch);
    for (size_t i = 0; i < p->npending; i++)
        rd_kafka_message_destroy(p->pending[i]);
    p->npending = 0;
    return err;
}

/* Takes m: held for the next batch, or destroyed. */
static ts_err ts_restore_apply(ts_restore *r, ts_restore_part *p, rd_kafka_message_t *m,
                               char *errstr, size_t errstr_size)
{
    rd_kafka_message_t **grown;
    int64_t w;
    const char *tag;
    size_t tag_len;

    p->p.position = m->offset + 1;
    if (ts_key_window_decode(m->key, m->key_len, &w, &tag, &tag_len) != TS_OK) {
        ts_log_ev *ev = ts_log_begin(TS_LOG_ERROR, "restore",
                                     "skipping a changelog record that is not a window key");
        ts_log_cstr(ev, "topic", r->topic);
        ts_log_int(ev, "partition", m->partition);
        ts_log_int(ev, "offset", m->offset);
        ts_log_end(ev);
        rd_kafka_message_destroy(m);
        return TS_OK;
    }
    grown = ts_grow(p->pending, p->npending, &p->pending_cap, sizeof(*p->pending), 1024);
    if (!grown) {
        rd_kafka_message_destroy(m);
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    }
    p->pending = grown;
    p->pending[p->npending++] = m;
    p->p.records++;
    if (p->npending >= (size_t)r->batch_records)
        return ts_restore_write(p, errstr, errstr_size);
    return TS_OK;
}

ts_err ts_restore_step(ts_restore *r, int budget_ms, ts_restore_done *done, size_t done_cap,
                       size_t *ndone, int32_t *failed, char *errstr, size_t errstr_size)
{
    int64_t deadline = ts_mono_ms() + budget_ms, left = budget_ms;
    ts_err err = TS_OK;

    *ndone = 0;
    if (r->nparts == 0)
        return TS_OK;
    if (r->reassign && (err = ts_restore_assign(r, errstr, errstr_size)))
        return err;
    for (unsigned turn = 0, idle = 1;; turn++) {
        int any_reading = 0;
        rd_kafka_message_t *m;
        ts_restore_part *p;

        /* the clock, read every 256 records (or after a wait): reading it
         * for each record cost 3% of a full restore */
        if (idle || turn % 256 == 0)
            left = deadline - ts_mono_ms();
        for (size_t i = 0; i < r->nparts; i++)
            any_reading |= !r->parts[i].eof;
        if (!any_reading || left <= 0)
            break;
        m = rd_kafka_consumer_poll(r->consumer, (int)(left < 50 ? left : 50));
        idle = !m;
        if (!m)
            continue;
        p = ts_restore_find(r, m->partition);
        if (!p || p->eof) {
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            p->eof = 1;
        } else if (m->err) {
            ts_log_ev *ev = ts_log_begin(TS_LOG_WARN, "restore", "changelog read error: %s",
                                         rd_kafka_message_errstr(m));
            ts_log_int(ev, "partition", m->partition);
            ts_log_end(ev);
        } else if (m->offset >= p->p.position) {
            err = ts_restore_apply(r, p, m, errstr, errstr_size);
            m = NULL; /* the restore holds it, or destroyed it */
            if (err)
                *failed = p->partition;
            else if (p->p.position >= p->p.end)
                p->eof = 1;
        }
        if (m)
            rd_kafka_message_destroy(m);
        if (err)
            break;
    }
    /* Report and drop the partitions that are done. */
    for (size_t i = 0; !err && i < r->nparts && *ndone < done_cap;) {
        ts_restore_part *p = &r->parts[i];
        if (!p->eof) {
            i++;
            continue;
        }
        err = ts_restore_write(p, errstr, errstr_size);
        if (!err)
            err = ts_store_flush(p->store, errstr, errstr_size);
        if (err) {
            *failed = p->partition;
            break;
        }
        done[*ndone].partition = p->partition;
        done[*ndone].next_offset = p->p.position > p->p.end ? p->p.position : p->p.end;
        done[*ndone].records = p->p.records;
        done[*ndone].elapsed_ms = ts_mono_ms() - p->p.started_ms;
        (*ndone)++;
        ts_restore_remove(r, p->partition); /* moves the last part into slot i */
    }
    if (err && *failed >= 0)
        ts_restore_remove(r, *failed);
    return err;
}
