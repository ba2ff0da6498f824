#include "ts_restore.h"
#include "ts_store_writer.h"
#include "ts_buf.h"
#include "ts_clock.h"
#include "ts_kafka.h"
#include "ts_keys.h"
#include "ts_log.h"
#include "ts_metrics.h"

#include <stdlib.h>
#include <string.h>

/* One record of the run being gathered. Its key and value are copied into
 * the run's arena (u32 key length, u32 value length or TS_RESTORE_TOMBSTONE,
 * key, value), so the message and librdkafka's fetch buffer behind it are
 * released at once. k0 and k1 are the key's bytes 1-16 (after the type
 * byte, which is the same for every window key), big-endian and
 * zero-padded: most comparisons of the sort end there. */
typedef struct ts_restore_rec {
    uint64_t k0, k1;
    size_t off; /* in the arena; grows with changelog order */
} ts_restore_rec;

#define TS_RESTORE_TOMBSTONE  UINT32_MAX
#define TS_RESTORE_POLL_BATCH 512
/* A run is written when it holds restore.batch.records records, or its
 * share of this many bytes of keys and values: the restorer's memory is
 * bounded (arenas plus indexes take about 1.5 times this, twice over: a
 * partition fills one run while the one before is written) whatever the
 * number of partitions restored at once. The larger the runs, the fewer
 * and less overlapping the SST files, and the less compaction follows. */
#define TS_RESTORE_BUDGET_BYTES ((size_t)24 << 20)
#define TS_RESTORE_RUN_MAX      ((size_t)8 << 20)
#define TS_RESTORE_RUN_MIN      ((size_t)1 << 20)
/* A run of at least this many records is bulk-loaded as one SST file;
 * a shorter one (the tail of a tail replay) goes through a write batch,
 * which costs less than a file for a few records. */
#define TS_RESTORE_BULK_MIN 4096

/* One run: records gathered in changelog order, then sorted and written.
 * A partition has two: one being filled while the other is written on the
 * store writer thread (ts_store_writer), so that reading the changelog and
 * sorting and writing runs go on side by side. Allocated apart from the
 * partition (whose array moves) because the writer holds on to it. */
typedef struct ts_restore_run {
    ts_store *store;
    ts_store_batch *batch;
    ts_buf arena;
    ts_restore_rec *recs;
    size_t nrecs, recs_cap;
    ts_store_write_job job;
} ts_restore_run;

typedef struct ts_restore_part {
    int32_t partition;
    ts_store *store;
    ts_restore_run *run;     /* being filled */
    ts_restore_run *written; /* handed to the writer, or idle */
    ts_restore_progress p;
    int eof;
} ts_restore_part;

struct ts_restore {
    rd_kafka_t *consumer;
    rd_kafka_queue_t *queue; /* the consumer's */
    char *topic;
    int batch_records;
    ts_restore_part *parts;
    size_t nparts, cap;
    int reassign;    /* the assignment must follow a change of parts */
    ts_counter *bad; /* bad records, may be NULL */
};

void ts_restore_set_bad_counter(ts_restore *r, ts_counter *bad)
{
    r->bad = bad;
}

ts_err ts_restore_new(const ts_conf *conf, const char *bootstrap, const char *topic,
                      int batch_records, ts_restore **out, char *errstr, size_t errstr_size)
{
    /* defaults: large fetches, a restore is bulk reading, and a short fetch
     * wait, because a tail replay that has only a commit marker left to read
     * learns that it reached the end from an empty fetch. No bound on the
     * number of queued messages, only on their bytes: librdkafka counts
     * every partition's prefetch in the one queue they share, so with its
     * default of 100,000 messages one large fetch stopped the fetching of
     * all partitions until the broker connection woke up (up to a second
     * with librdkafka 2.0; after fetch.queue.backoff.ms with 2.1 and later,
     * here 10 ms). 1 M keys: 376,000-834,000 records/s with that bound (4
     * runs, one stalled for a second), 690,000-1,130,000 without it (6
     * runs), at the same peak RSS (docs/PERFORMANCE.md, "Restore").
     * forced: whatever the passthrough said, a restore must never see
     * aborted data and must never commit offsets of its own */
    const char *const defaults[] = {"client.id",
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
                                    "queued.min.messages",
                                    "10000000",
                                    ts_kafka_has_fetch_queue_backoff() ? "fetch.queue.backoff.ms"
                                                                       : NULL,
                                    "10",
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
    r->queue = rd_kafka_queue_get_consumer(r->consumer);
    if (!r->queue) {
        ts_restore_destroy(r);
        return ts_seterr(TS_ERR_KAFKA, errstr, errstr_size, "cannot get the restore queue");
    }
    *out = r;
    return TS_OK;
}

static void ts_restore_run_free(ts_restore_run *run)
{
    if (!run)
        return;
    ts_store_write_wait(&run->job, NULL, 0);
    ts_buf_free(&run->arena);
    free(run->recs);
    ts_store_batch_destroy(run->batch);
    free(run);
}

static ts_restore_run *ts_restore_run_new(ts_store *store)
{
    ts_restore_run *run = calloc(1, sizeof(*run));

    if (!run)
        return NULL;
    run->store = store;
    ts_buf_init(&run->arena, 0);
    run->batch = ts_store_batch_new();
    if (!run->batch) {
        free(run);
        return NULL;
    }
    return run;
}

static void ts_restore_part_free(ts_restore_part *p)
{
    ts_restore_run_free(p->written); /* waits for its write */
    ts_restore_run_free(p->run);
}

void ts_restore_destroy(ts_restore *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nparts; i++)
        ts_restore_part_free(&r->parts[i]);
    if (r->queue)
        rd_kafka_queue_destroy(r->queue);
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
    p->run = ts_restore_run_new(store);
    p->written = ts_restore_run_new(store);
    if (!p->run || !p->written) {
        ts_restore_part_free(p);
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    }
    p->p.start = p->p.position = from;
    p->p.end = end;
    p->p.started_ms = ts_mono_ms();
    p->p.started_cpu_ms = ts_cpu_ms();
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

static void ts_restore_rec_key(const ts_restore_run *p, const ts_restore_rec *r,
                               const unsigned char **key, uint32_t *klen, const unsigned char **val,
                               uint32_t *vlen)
{
    const unsigned char *h = (const unsigned char *)p->arena.data + r->off;

    memcpy(klen, h, 4);
    memcpy(vlen, h + 4, 4);
    *key = h + 8;
    *val = h + 8 + *klen;
}

/* RocksDB's bytewise order of the keys, then changelog order: < 0, 0, > 0. */
static inline int ts_restore_cmp(const char *arena, const ts_restore_rec *x,
                                 const ts_restore_rec *y)
{
    const unsigned char *hx, *hy;
    uint32_t nx, ny;
    int c;

    if (x->k0 != y->k0)
        return x->k0 < y->k0 ? -1 : 1;
    if (x->k1 != y->k1)
        return x->k1 < y->k1 ? -1 : 1;
    hx = (const unsigned char *)arena + x->off;
    hy = (const unsigned char *)arena + y->off;
    memcpy(&nx, hx, 4);
    memcpy(&ny, hy, 4);
    c = ts_bytes_cmp(hx + 8, nx, hy + 8, ny);
    if (c)
        return c;
    return (x->off > y->off) - (x->off < y->off);
}

static inline void ts_restore_swap(ts_restore_rec *a, ts_restore_rec *b)
{
    ts_restore_rec t = *a;

    *a = *b;
    *b = t;
}

static void ts_restore_sift(const char *arena, ts_restore_rec *a, size_t i, size_t n)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            return;
        if (c + 1 < n && ts_restore_cmp(arena, &a[c], &a[c + 1]) < 0)
            c++;
        if (ts_restore_cmp(arena, &a[i], &a[c]) >= 0)
            return;
        ts_restore_swap(&a[i], &a[c]);
        i = c;
    }
}

/*
 * Sort a run (introsort: quicksort with a median of three, insertion sort
 * for short ranges, heapsort past a depth bound). qsort's calls of a
 * comparison function through a pointer, and its copying of elements of
 * any size, took a quarter of a full restore's time on the main thread.
 * No two records compare equal (changelog order breaks ties).
 */
static void ts_restore_sort(const char *arena, ts_restore_rec *a, size_t n, int depth)
{
    while (n > 16) {
        size_t i, j, m = n / 2;
        ts_restore_rec pivot;
        if (depth-- == 0) {
            for (i = n / 2; i-- > 0;)
                ts_restore_sift(arena, a, i, n);
            for (i = n; i-- > 1;) {
                ts_restore_swap(&a[0], &a[i]);
                ts_restore_sift(arena, a, 0, i);
            }
            return;
        }
        if (ts_restore_cmp(arena, &a[m], &a[0]) < 0)
            ts_restore_swap(&a[m], &a[0]);
        if (ts_restore_cmp(arena, &a[n - 1], &a[m]) < 0) {
            ts_restore_swap(&a[n - 1], &a[m]);
            if (ts_restore_cmp(arena, &a[m], &a[0]) < 0)
                ts_restore_swap(&a[m], &a[0]);
        }
        pivot = a[m];
        i = 0;
        j = n - 1;
        for (;;) { /* Hoare: a[0] <= pivot <= a[n-1] stop both scans */
            while (ts_restore_cmp(arena, &a[i], &pivot) < 0)
                i++;
            while (ts_restore_cmp(arena, &pivot, &a[j]) < 0)
                j--;
            if (i >= j)
                break;
            ts_restore_swap(&a[i], &a[j]);
            i++;
            j--;
        }
        /* [0, j] <= pivot <= [j+1, n): recurse into the smaller part */
        if (j + 1 < n - j - 1) {
            ts_restore_sort(arena, a, j + 1, depth);
            a += j + 1;
            n -= j + 1;
        } else {
            ts_restore_sort(arena, a + j + 1, n - j - 1, depth);
            n = j + 1;
        }
    }
    for (size_t i = 1; i < n; i++) {
        ts_restore_rec t = a[i];
        size_t k = i;
        for (; k > 0 && ts_restore_cmp(arena, &t, &a[k - 1]) < 0; k--)
            a[k] = a[k - 1];
        a[k] = t;
    }
}

static int ts_restore_same_key(const ts_restore_run *p, const ts_restore_rec *x,
                               const ts_restore_rec *y)
{
    const unsigned char *kx, *ky, *v;
    uint32_t nx, ny, vn;

    if (x->k0 != y->k0 || x->k1 != y->k1)
        return 0;
    ts_restore_rec_key(p, x, &kx, &nx, &v, &vn);
    ts_restore_rec_key(p, y, &ky, &ny, &v, &vn);
    return nx == ny && !memcmp(kx, ky, nx);
}

/* Write the gathered run: sorted by key, only the last record of each key,
 * so the state after it is the state after applying the records one by one
 * in changelog order. A long run is bulk-loaded (one SST file ingested), a
 * short one written as a batch. Empties the run either way. */
static ts_err ts_restore_write(ts_restore_run *p, char *errstr, size_t errstr_size)
{
    ts_store_bulk *bulk = NULL;
    ts_err err = TS_OK;

    if (p->nrecs == 0)
        return TS_OK;
    {
        int depth = 0;
        for (size_t n = p->nrecs; n > 1; n >>= 1)
            depth += 2;
        ts_restore_sort(p->arena.data, p->recs, p->nrecs, depth);
    }
    if (p->nrecs >= TS_RESTORE_BULK_MIN &&
        (err = ts_store_bulk_begin(p->store, &bulk, errstr, errstr_size)))
        goto done;
    for (size_t i = 0; i < p->nrecs; i++) {
        const unsigned char *key, *val;
        uint32_t klen, vlen;
        if (i + 1 < p->nrecs && ts_restore_same_key(p, &p->recs[i], &p->recs[i + 1]))
            continue; /* a later record of the key wins */
        ts_restore_rec_key(p, &p->recs[i], &key, &klen, &val, &vlen);
        if (vlen == TS_RESTORE_TOMBSTONE)
            val = NULL, vlen = 0;
        if (bulk)
            ts_store_bulk_put(bulk, key, klen, val, vlen);
        else
            ts_store_batch_raw(p->batch, key, klen, val, vlen);
    }
    if (bulk) {
        err = ts_store_bulk_commit(bulk, errstr, errstr_size);
    } else {
        err = ts_store_write(p->store, p->batch, 1, errstr, errstr_size);
        ts_store_batch_clear(p->batch);
    }
done:
    p->nrecs = 0;
    ts_buf_reset(&p->arena);
    return err;
}

/* ts_restore_write on the writer thread. */
static ts_err ts_restore_write_job(void *arg, char *errstr, size_t errstr_size)
{
    return ts_restore_write(arg, errstr, errstr_size);
}

/* The run being filled is full: wait for the write of the one before (runs
 * of a partition reach the store in changelog order), then hand this one
 * to the writer and fill the other. */
static ts_err ts_restore_run_full(ts_restore_part *p, char *errstr, size_t errstr_size)
{
    ts_restore_run *full = p->run;
    ts_err err = ts_store_write_wait(&p->written->job, errstr, errstr_size);

    if (err)
        return err;
    p->run = p->written;
    p->written = full;
    if (!ts_store_work_start(&full->job, ts_restore_write_job, full))
        return ts_restore_write(full, errstr, errstr_size); /* no thread: in turn */
    return TS_OK;
}

/* The partition is read to its end: its last run written, after the
 * others. */
static ts_err ts_restore_finish(ts_restore_part *p, char *errstr, size_t errstr_size)
{
    ts_err err = ts_store_write_wait(&p->written->job, errstr, errstr_size);

    return err ? err : ts_restore_write(p->run, errstr, errstr_size);
}

static uint64_t ts_restore_be_prefix(const unsigned char *k, size_t n)
{
    unsigned char b[8] = {0};

    memcpy(b, k, n < 8 ? n : 8);
    return ts_be64_get(b);
}

static size_t ts_restore_run_bytes(const ts_restore *r)
{
    size_t n = TS_RESTORE_BUDGET_BYTES / (r->nparts ? r->nparts : 1);

    return n > TS_RESTORE_RUN_MAX   ? TS_RESTORE_RUN_MAX
           : n < TS_RESTORE_RUN_MIN ? TS_RESTORE_RUN_MIN
                                    : n;
}

typedef enum ts_restore_verdict {
    TS_RESTORE_GOOD = 0,
    TS_RESTORE_SKIP,   /* not a window key: nothing to write */
    TS_RESTORE_DELETE, /* a window key with a bad value: delete the key */
} ts_restore_verdict;

/* The rule for bad changelog records (ts_restore.h): check one record, and
 * log and count it if it is bad. */
static ts_restore_verdict ts_restore_check(ts_restore *r, ts_restore_part *p,
                                           const rd_kafka_message_t *m)
{
    ts_restore_verdict v = TS_RESTORE_GOOD;
    const char *tag = NULL, *why = NULL;
    int64_t w = 0, count, max_ts;
    size_t tag_len = 0;
    ts_log_ev *ev;
    ts_err e;

    if (ts_key_window_decode(m->key, m->key_len, &w, &tag, &tag_len) != TS_OK ||
        m->key_len >= TS_RESTORE_TOMBSTONE) {
        v = TS_RESTORE_SKIP;
        why = "skipping a changelog record that is not a window key";
    } else if (m->payload) {
        e = ts_value_decode(m->payload, m->len, &count, &max_ts);
        if (e || count < 0) {
            v = TS_RESTORE_DELETE;
            why = e == TS_ERR_VERSION ? "a changelog value of an unknown version: the key is "
                                        "deleted until a later record sets it"
                  : e ? "a changelog value of the wrong size: the key is deleted until a later "
                        "record sets it"
                      : "a changelog value with a negative count: the key is deleted until a "
                        "later record sets it";
        }
    }
    if (v == TS_RESTORE_GOOD)
        return v;
    p->p.bad++;
    if (r->bad)
        ts_counter_add(r->bad, 1);
    ev = ts_log_begin(TS_LOG_ERROR, "restore", "%s", why);
    ts_log_cstr(ev, "topic", r->topic);
    ts_log_int(ev, "partition", m->partition);
    ts_log_int(ev, "offset", m->offset);
    ts_log_int(ev, "value_bytes", m->payload ? (int64_t)m->len : -1);
    if (v == TS_RESTORE_DELETE) {
        ts_log_int(ev, "window_start", w);
        ts_log_str(ev, "hashtag", tag, tag_len > 64 ? 64 : tag_len);
    }
    ts_log_end(ev);
    return v;
}

/* Gathers m into the run (the message itself is left to the caller). A bad
 * value enters the run as a tombstone of its key, in changelog order: the
 * records of the key before it do not outlive it, those after it win. */
static ts_err ts_restore_apply(ts_restore *r, ts_restore_part *p, const rd_kafka_message_t *m,
                               char *errstr, size_t errstr_size)
{
    ts_restore_run *run = p->run;
    ts_restore_rec *grown, *rec;
    ts_restore_verdict v;
    uint32_t hdr[2];
    int del;

    p->p.position = m->offset + 1;
    v = ts_restore_check(r, p, m);
    if (v == TS_RESTORE_SKIP)
        return TS_OK;
    del = v == TS_RESTORE_DELETE || !m->payload;
    grown = ts_grow(run->recs, run->nrecs, &run->recs_cap, sizeof(*run->recs), 1024);
    if (!grown)
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    run->recs = grown;
    rec = &run->recs[run->nrecs];
    rec->off = run->arena.len;
    rec->k0 = ts_restore_be_prefix((const unsigned char *)m->key + 1, m->key_len - 1);
    rec->k1 = m->key_len > 9
                  ? ts_restore_be_prefix((const unsigned char *)m->key + 9, m->key_len - 9)
                  : 0;
    hdr[0] = (uint32_t)m->key_len;
    hdr[1] = del ? TS_RESTORE_TOMBSTONE : (uint32_t)m->len;
    ts_buf_append(&run->arena, hdr, sizeof(hdr));
    ts_buf_append(&run->arena, m->key, m->key_len);
    if (!del && ts_buf_append(&run->arena, m->payload, m->len))
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    if (ts_buf_status(&run->arena))
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    run->nrecs++;
    if (v == TS_RESTORE_GOOD)
        p->p.records++; /* a bad record is counted in p->p.bad */
    if (run->nrecs >= (size_t)r->batch_records || run->arena.len >= ts_restore_run_bytes(r))
        return ts_restore_run_full(p, errstr, errstr_size);
    return TS_OK;
}

ts_err ts_restore_step(ts_restore *r, int budget_ms, ts_restore_done *done, size_t done_cap,
                       size_t *ndone, int32_t *failed, char *errstr, size_t errstr_size)
{
    int64_t deadline = ts_mono_ms() + budget_ms;
    ts_err err = TS_OK;

    *ndone = 0;
    if (r->nparts == 0)
        return TS_OK;
    if (r->reassign && (err = ts_restore_assign(r, errstr, errstr_size)))
        return err;
    for (;;) {
        rd_kafka_message_t *msgs[TS_RESTORE_POLL_BATCH];
        ssize_t n;
        int any_reading = 0;
        int64_t left = deadline - ts_mono_ms();

        for (size_t i = 0; i < r->nparts; i++)
            any_reading |= !r->parts[i].eof;
        if (!any_reading || left <= 0)
            break;
        /* a batch at a time: polling one message at a time read the clock
         * and took the queue's lock for each record */
        n = rd_kafka_consume_batch_queue(r->queue, (int)(left < 50 ? left : 50), msgs,
                                         TS_RESTORE_POLL_BATCH);
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = msgs[i];
            ts_restore_part *p = err ? NULL : ts_restore_find(r, m->partition);
            if (!p || p->eof) {
                /* not (or no longer) restored */
            } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                p->eof = 1;
            } else if (m->err) {
                ts_log_ev *ev = ts_log_begin(TS_LOG_WARN, "restore", "changelog read error: %s",
                                             rd_kafka_message_errstr(m));
                ts_log_int(ev, "partition", m->partition);
                ts_log_end(ev);
            } else if (m->offset >= p->p.position) {
                err = ts_restore_apply(r, p, m, errstr, errstr_size);
                if (err)
                    *failed = p->partition;
                else if (p->p.position >= p->p.end)
                    p->eof = 1;
            }
            rd_kafka_message_destroy(m);
        }
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
        err = ts_restore_finish(p, errstr, errstr_size);
        if (!err)
            err = ts_store_flush(p->store, errstr, errstr_size);
        if (err) {
            *failed = p->partition;
            break;
        }
        done[*ndone].partition = p->partition;
        done[*ndone].next_offset = p->p.position > p->p.end ? p->p.position : p->p.end;
        done[*ndone].records = p->p.records;
        done[*ndone].bad = p->p.bad;
        done[*ndone].elapsed_ms = ts_mono_ms() - p->p.started_ms;
        done[*ndone].process_cpu_ms = ts_cpu_ms() - p->p.started_cpu_ms;
        (*ndone)++;
        ts_restore_remove(r, p->partition); /* moves the last part into slot i */
    }
    if (err && *failed >= 0)
        ts_restore_remove(r, *failed);
    return err;
}
