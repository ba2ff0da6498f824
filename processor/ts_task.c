#include "ts_task.h"
#include "ts_buf.h"
#include "ts_cache.h"
#include "ts_keys.h"
#include "ts_store_writer.h"
#include "ts_window.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One row of a window being emitted. The tag is either in the cache
 * (ptr) or copied out of a store iterator into the task's tag buffer (off). */
typedef struct ts_emit_item {
    const char *ptr;
    size_t off;
    size_t len;
    int64_t count;
    int64_t max_ts;
} ts_emit_item;

/*
 * The store write of a commit runs on the process's writer thread
 * (ts_store_writer) while the loop goes on with the next transaction. The
 * write reads `batch`; the committed entries it holds stay readable in
 * `prev` until it is done, so a lookup finds them there, and whatever
 * iterates the store waits for it first (ts_task_wait_write). A failed
 * write is reported once, by the next call that needs the store
 * (write_err): the task must then be aborted or loaded again; its store
 * lacks a commit that the changelog has.
 */
struct ts_task {
    ts_task_config cfg;
    int32_t partition;
    char id[32];
    ts_store *store;
    ts_cache *cache;
    ts_cache *prev; /* the last commit's entries, while its store write runs */
    int prev_live;
    ts_store_batch *batch;
    ts_store_write_job job;
    ts_err write_err; /* a failed store write, not reported yet */
    char write_errstr[256];
    ts_task_sink sink;

    /* the open transaction */
    int64_t stream_time;
    int64_t emitted_st;    /* windows closing at or before this were emitted */
    int64_t next_close;    /* earliest end + grace of a window not yet closed */
    int64_t next_expire;   /* earliest end + retention of a retained window */
    int64_t expire_before; /* windows starting before this are deleted */
    int64_t next_offset;
    int dirty;
    /* No window the store holds (or is being handed) starts after this:
     * a key of a later window is not looked up. INT64_MAX until loaded. */
    int64_t store_max_window;

    /* what Kafka has committed (and RocksDB reflects) */
    int64_t committed_st;
    int64_t committed_offset;
    int64_t committed_expire_before;
    int64_t changelog_offset;

    ts_task_stats stats;
    ts_emit_item *items;
    size_t items_cap;
    ts_buf tags;
    ts_cache_entry **sorted; /* the commit's changed entries, in key order */
    size_t sorted_cap;
};

#define TS_NONE INT64_MAX

ts_err ts_task_open(const ts_task_config *cfg, const char *dir, int32_t partition,
                    const ts_store_options *store_opts, const ts_task_sink *sink, ts_task **out,
                    char *errstr, size_t errstr_size)
{
    ts_task *t;
    ts_err err;

    *out = NULL;
    t = calloc(1, sizeof(*t));
    if (!t)
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    t->cfg = *cfg;
    t->partition = partition;
    snprintf(t->id, sizeof(t->id), "1_%" PRId32, partition);
    t->sink = *sink;
    t->cache = ts_cache_new();
    t->prev = ts_cache_new();
    t->batch = ts_store_batch_new();
    ts_buf_init(&t->tags, 0);
    if (!t->cache || !t->prev || !t->batch) {
        ts_task_close(t);
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    }
    err = ts_store_open(dir, TS_STORE_READ_WRITE, NULL, store_opts, &t->store, errstr, errstr_size);
    if (err) {
        ts_task_close(t);
        return err;
    }
    t->stream_time = t->emitted_st = t->committed_st = INT64_MIN;
    t->next_close = t->next_expire = TS_NONE;
    t->expire_before = t->committed_expire_before = INT64_MIN;
    t->next_offset = t->committed_offset = -1;
    t->changelog_offset = -1;
    t->store_max_window = INT64_MAX;
    *out = t;
    return TS_OK;
}

/* ---- the store write of the last commit ---- */

/* Wait for the store write in flight, if any. Written: the entries it held
 * are in the store and leave prev. Failed: they stay (lookups still need
 * them) and write_err says so. Returns write_err. */
static ts_err ts_task_wait_write(ts_task *t, char *errstr, size_t errstr_size)
{
    ts_err err = ts_store_write_wait(&t->job, t->write_errstr, sizeof(t->write_errstr));

    if (err && !t->write_err)
        t->write_err = err;
    if (t->write_err)
        return ts_seterr(TS_ERR_ABORTABLE, errstr, errstr_size,
                         "task %s: the store write of a commit failed: %s", t->id, t->write_errstr);
    if (t->prev_live) {
        ts_cache_clear(t->prev);
        t->prev_live = 0;
    }
    return TS_OK;
}

/* The failed write is reported: forget it and what it held (the task is
 * loaded again from its store and changelog). */
static void ts_task_forget_write(ts_task *t)
{
    t->write_err = TS_OK;
    ts_cache_clear(t->prev);
    t->prev_live = 0;
}

ts_err ts_task_sync(ts_task *t, char *errstr, size_t errstr_size)
{
    return ts_task_wait_write(t, errstr, errstr_size);
}

void ts_task_close(ts_task *t)
{
    if (!t)
        return;
    ts_store_write_wait(&t->job, NULL, 0); /* the store outlives its write */
    ts_store_close(t->store);
    ts_cache_destroy(t->cache);
    ts_cache_destroy(t->prev);
    ts_store_batch_destroy(t->batch);
    ts_buf_free(&t->tags);
    free(t->items);
    free(t->sorted);
    free(t);
}

const char *ts_task_id(const ts_task *t)
{
    return t->id;
}

int32_t ts_task_partition(const ts_task *t)
{
    return t->partition;
}

ts_store *ts_task_store(ts_task *t)
{
    return t->store;
}

const ts_task_stats *ts_task_get_stats(const ts_task *t)
{
    return &t->stats;
}

int ts_task_dirty(const ts_task *t)
{
    return t->dirty;
}

size_t ts_task_cache_keys(const ts_task *t)
{
    return ts_cache_count(t->cache);
}

int64_t ts_task_stream_time(const ts_task *t)
{
    return t->stream_time;
}

int64_t ts_task_next_offset(const ts_task *t)
{
    return t->next_offset;
}

int64_t ts_task_committed_offset(const ts_task *t)
{
    return t->committed_offset;
}

/* ---- window bookkeeping ---- */

/* Smallest window start > `after` among the store's windows and the cache's
 * (TS_NONE if there is none). */
static ts_err ts_task_first_window_after(ts_task *t, int64_t after, int64_t *start, char *errstr,
                                         size_t errstr_size)
{
    ts_store_iter *it;
    ts_cache_entry *e;
    size_t pos = 0;
    int64_t from;
    ts_err err = TS_OK;

    *start = TS_NONE;
    if (after == INT64_MAX)
        return TS_OK;
    err = ts_task_wait_write(t, errstr, errstr_size);
    if (err)
        return err;
    it = ts_store_iter_new(t->store);
    if (!it)
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    /* windows starting before expire_before are deleted in the open
     * transaction: they do not count */
    from = after == INT64_MIN ? INT64_MIN : after + 1;
    if (from < t->expire_before)
        from = t->expire_before;
    ts_store_iter_seek(it, from);
    if (ts_store_iter_valid(it)) {
        const char *tag;
        size_t len;
        int64_t w, c, m;
        err = ts_store_iter_entry(it, &w, &tag, &len, &c, &m);
        if (err)
            ts_seterr(err, errstr, errstr_size, "task %s: undecodable entry in store", t->id);
        else
            *start = w;
    } else {
        err = ts_store_iter_status(it, errstr, errstr_size);
    }
    ts_store_iter_destroy(it);
    while ((e = ts_cache_next(t->cache, &pos)))
        if (e->window_start > after && e->window_start < *start &&
            e->window_start >= t->expire_before)
            *start = e->window_start;
    return err;
}

/* The window start below which a window is closed at stream time st. */
static int64_t ts_task_close_bound(const ts_task *t, int64_t st)
{
    /* closed: start + size + grace <= st  <=>  start <= st - size - grace */
    int64_t span = ts_time_add(t->cfg.window_size_ms, t->cfg.window_grace_ms);

    if (st == INT64_MIN || st < INT64_MIN + span)
        return INT64_MIN;
    return st - span;
}

static int64_t ts_task_expire_bound(const ts_task *t, int64_t st)
{
    int64_t span = ts_time_add(t->cfg.window_size_ms, t->cfg.window_retention_ms);

    if (st == INT64_MIN || st < INT64_MIN + span)
        return INT64_MIN;
    return st - span;
}

/* Recompute next_close and next_expire from the store and the cache. */
static ts_err ts_task_rebuild(ts_task *t, char *errstr, size_t errstr_size)
{
    int64_t w;
    ts_err err;

    err = ts_task_first_window_after(t, ts_task_close_bound(t, t->emitted_st), &w, errstr,
                                     errstr_size);
    if (err)
        return err;
    t->next_close =
        w == TS_NONE ? TS_NONE
                     : ts_time_add(ts_window_end(w, t->cfg.window_size_ms), t->cfg.window_grace_ms);
    err = ts_task_first_window_after(t, INT64_MIN, &w, errstr, errstr_size);
    if (err)
        return err;
    t->next_expire = w == TS_NONE ? TS_NONE
                                  : ts_time_add(ts_window_end(w, t->cfg.window_size_ms),
                                                t->cfg.window_retention_ms);
    return TS_OK;
}

/* store_max_window from the store's last window key. */
static ts_err ts_task_find_store_max(ts_task *t, char *errstr, size_t errstr_size)
{
    ts_store_iter *it = ts_store_iter_new(t->store);
    ts_err err = TS_OK;

    if (!it)
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    t->store_max_window = INT64_MIN;
    ts_store_iter_seek_last(it);
    if (ts_store_iter_valid(it)) {
        const char *tag;
        size_t len;
        int64_t c, m;
        err = ts_store_iter_entry(it, &t->store_max_window, &tag, &len, &c, &m);
        if (err) {
            t->store_max_window = INT64_MAX;
            ts_seterr(err, errstr, errstr_size, "task %s: undecodable entry in store", t->id);
        }
    } else {
        err = ts_store_iter_status(it, errstr, errstr_size);
    }
    ts_store_iter_destroy(it);
    return err;
}

ts_err ts_task_load(ts_task *t, int64_t stream_time, int64_t input_offset, int64_t changelog_offset,
                    char *errstr, size_t errstr_size)
{
    ts_store_meta m;
    ts_err err;

    ts_task_wait_write(t, NULL, 0);
    ts_task_forget_write(t);
    ts_cache_clear(t->cache);
    t->stream_time = t->emitted_st = t->committed_st = stream_time;
    t->next_offset = t->committed_offset = input_offset;
    t->changelog_offset = changelog_offset;
    t->expire_before = t->committed_expire_before = INT64_MIN;
    t->dirty = 0;
    ts_store_meta_init(&m);
    m.format_version = TS_STORE_FORMAT_VERSION;
    snprintf(m.application_id, sizeof(m.application_id), "%s", t->cfg.application_id);
    snprintf(m.task_id, sizeof(m.task_id), "%s", t->id);
    m.changelog_offset = changelog_offset;
    m.input_offset = input_offset;
    m.stream_time = stream_time;
    ts_store_batch_clear(t->batch);
    ts_store_batch_meta(t->batch, &m);
    err = ts_store_write(t->store, t->batch, 0, errstr, errstr_size);
    ts_store_batch_clear(t->batch);
    if (!err)
        err = ts_task_find_store_max(t, errstr, errstr_size);
    if (err)
        return err;
    return ts_task_rebuild(t, errstr, errstr_size);
}

/* ---- emission ---- */

static int ts_emit_cmp(const void *a, const void *b)
{
    const ts_emit_item *x = a, *y = b;

    return ts_bytes_cmp(x->ptr, x->len, y->ptr, y->len);
}

static ts_emit_item *ts_task_item(ts_task *t, size_t n)
{
    ts_emit_item *v = ts_grow(t->items, n, &t->items_cap, sizeof(*v), 256);

    if (!v)
        return NULL;
    t->items = v;
    return &t->items[n];
}

/* Emit the final counts of window w: the store's entries overlaid with the
 * cache's, sorted by tag bytes. */
/* A sink refused a result or a changelog record: what the task was doing,
 * then the sink's reason (the produce error behind it). */
static ts_err ts_task_sink_error(const ts_task *t, ts_err err, const char *what, const char *why,
                                 char *errstr, size_t errstr_size)
{
    return ts_seterr(err, errstr, errstr_size, "task %s: %s: %s", t->id, what,
                     why[0] ? why : ts_err_name(err));
}

static ts_err ts_task_emit_window(ts_task *t, int64_t w, char *errstr, size_t errstr_size)
{
    ts_store_iter *it;
    ts_cache_entry *e;
    ts_emit_item *item;
    size_t n = 0, pos = 0;
    int64_t wend = ts_window_end(w, t->cfg.window_size_ms);
    ts_err err = TS_OK;
    char why[256] = "";

    err = ts_task_wait_write(t, errstr, errstr_size);
    if (err)
        return err;
    it = ts_store_iter_new(t->store);
    if (!it)
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    ts_buf_reset(&t->tags);
    for (ts_store_iter_seek(it, w); ts_store_iter_valid(it); ts_store_iter_next(it)) {
        const char *tag;
        size_t len;
        int64_t ws, count, max_ts;
        err = ts_store_iter_entry(it, &ws, &tag, &len, &count, &max_ts);
        if (err) {
            ts_seterr(err, errstr, errstr_size, "task %s: undecodable entry in store", t->id);
            goto out;
        }
        if (ws != w)
            break;
        if (ts_cache_find(t->cache, w, tag, len))
            continue; /* the cache has the newer value; taken below */
        if (!(item = ts_task_item(t, n)))
            goto nomem;
        item->ptr = NULL;
        item->off = t->tags.len;
        item->len = len;
        item->count = count;
        item->max_ts = max_ts;
        ts_buf_append(&t->tags, tag, len);
        n++;
    }
    err = ts_store_iter_status(it, errstr, errstr_size);
    if (err)
        goto out;
    if (ts_buf_status(&t->tags))
        goto nomem;
    while ((e = ts_cache_next(t->cache, &pos))) {
        if (e->window_start != w)
            continue;
        if (!(item = ts_task_item(t, n)))
            goto nomem;
        item->ptr = e->tag;
        item->len = e->tag_len;
        item->count = e->count;
        item->max_ts = e->max_ts;
        n++;
    }
    for (size_t i = 0; i < n; i++)
        if (!t->items[i].ptr)
            t->items[i].ptr = t->tags.data + t->items[i].off;
    qsort(t->items, n, sizeof(*t->items), ts_emit_cmp);
    t->stats.windows_closed++;
    for (size_t i = 0; i < n; i++) {
        if (t->items[i].count <= t->cfg.min_count)
            continue;
        err = t->sink.emit(t->sink.opaque, t, t->items[i].ptr, t->items[i].len, t->items[i].count,
                           w, wend, t->items[i].max_ts, why, sizeof(why));
        if (err) {
            ts_task_sink_error(t, err, "cannot emit a result", why, errstr, errstr_size);
            goto out;
        }
        t->stats.results++;
    }
out:
    ts_store_iter_destroy(it);
    return err;
nomem:
    err = ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    goto out;
}

/* Emit every window that closed between emitted_st and stream_time. */
static ts_err ts_task_close_windows(ts_task *t, char *errstr, size_t errstr_size)
{
    int64_t lo = ts_task_close_bound(t, t->emitted_st); /* already closed: start <= lo */
    int64_t hi = ts_task_close_bound(t, t->stream_time);
    int64_t w = lo;
    ts_err err;

    for (;;) {
        err = ts_task_first_window_after(t, w, &w, errstr, errstr_size);
        if (err)
            return err;
        if (w == TS_NONE || w > hi)
            break;
        err = ts_task_emit_window(t, w, errstr, errstr_size);
        if (err)
            return err;
    }
    t->emitted_st = t->stream_time;
    t->next_close =
        w == TS_NONE ? TS_NONE
                     : ts_time_add(ts_window_end(w, t->cfg.window_size_ms), t->cfg.window_grace_ms);
    return TS_OK;
}

/* Delete the windows whose retention ran out: a tombstone in the changelog
 * for each key the store holds (keys only in the cache were never written),
 * and, at commit, a range delete in RocksDB. */
static ts_err ts_task_expire_windows(ts_task *t, char *errstr, size_t errstr_size)
{
    int64_t hi = ts_task_expire_bound(t, t->stream_time);
    ts_store_iter *it;
    ts_err err = TS_OK;
    int64_t last = INT64_MIN;
    int any = 0;
    char why[256] = "";

    if (hi == INT64_MIN)
        return TS_OK;
    err = ts_task_wait_write(t, errstr, errstr_size);
    if (err)
        return err;
    it = ts_store_iter_new(t->store);
    if (!it)
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    for (ts_store_iter_seek(it, t->expire_before); ts_store_iter_valid(it);
         ts_store_iter_next(it)) {
        const char *key, *val;
        size_t klen, vlen;
        int64_t w;
        ts_store_iter_raw(it, &key, &klen, &val, &vlen);
        if (klen < TS_KEY_WINDOW_PREFIX)
            continue;
        w = (int64_t)(ts_be64_get((const unsigned char *)key + 1) ^ 0x8000000000000000ULL);
        if (w > hi)
            break;
        if (!any || w != last)
            t->stats.windows_expired++;
        any = 1;
        last = w;
        err = t->sink.changelog(t->sink.opaque, t, key, klen, NULL, 0, why, sizeof(why));
        if (err) {
            ts_task_sink_error(t, err, "cannot write a tombstone", why, errstr, errstr_size);
            break;
        }
        t->stats.changelog_records++;
    }
    if (!err)
        err = ts_store_iter_status(it, errstr, errstr_size);
    ts_store_iter_destroy(it);
    if (err)
        return err;
    t->expire_before = hi == INT64_MAX ? INT64_MAX : hi + 1;
    err = ts_task_first_window_after(t, t->expire_before - 1, &last, errstr, errstr_size);
    if (err)
        return err;
    t->next_expire = last == TS_NONE ? TS_NONE
                                     : ts_time_add(ts_window_end(last, t->cfg.window_size_ms),
                                                   t->cfg.window_retention_ms);
    return TS_OK;
}

/* Close the windows and expire the ones whose time has come at the task's
 * stream time (after it moved). */
static ts_err ts_task_close_due(ts_task *t, char *errstr, size_t errstr_size)
{
    ts_err err;

    if (t->stream_time >= t->next_close) {
        err = ts_task_close_windows(t, errstr, errstr_size);
        if (err)
            return err;
    }
    if (t->stream_time >= t->next_expire)
        return ts_task_expire_windows(t, errstr, errstr_size);
    return TS_OK;
}

ts_err ts_task_process(ts_task *t, const char *tag, size_t tag_len, int64_t ts, int64_t offset,
                       ts_task_result *result, char *errstr, size_t errstr_size)
{
    int64_t w = ts_window_start(ts, t->cfg.window_size_ms);
    int64_t wend = ts_window_end(w, t->cfg.window_size_ms);
    int64_t close_at;
    ts_cache_entry *e;
    ts_err err;

    ts_task_skip(t, offset);
    /* Stream time moves before the lateness check, as in Kafka Streams'
     * window aggregation: a record is late against the time it brings too. */
    if (ts > t->stream_time)
        t->stream_time = ts;
    if (ts_window_closed(wend, t->cfg.window_grace_ms, t->stream_time)) {
        t->stats.late++;
        *result = TS_TASK_LATE;
        goto advance;
    }
    if (t->write_err)
        return ts_task_wait_write(t, errstr, errstr_size);
    e = ts_cache_find(t->cache, w, tag, tag_len);
    if (!e) {
        int64_t count = 0, max_ts = INT64_MIN;
        int found = 0;
        const ts_cache_entry *pe = t->prev_live ? ts_cache_find(t->prev, w, tag, tag_len) : NULL;
        if (pe) { /* committed, its store write still running */
            count = pe->count;
            max_ts = pe->max_ts;
            found = 1;
        } else if (w <= t->store_max_window) {
            err = ts_store_get(t->store, w, tag, tag_len, &count, &max_ts, &found, errstr,
                               errstr_size);
            if (err)
                return err;
            t->stats.store_reads++;
        }
        e = ts_cache_add(t->cache, w, tag, tag_len);
        if (!e)
            return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
        if (found) {
            e->count = count;
            e->max_ts = max_ts;
            e->in_store = 1;
        }
    }
    e->count++;
    if (ts > e->max_ts)
        e->max_ts = ts;
    e->dirty = 1;
    t->stats.records++;
    *result = TS_TASK_COUNTED;
    close_at = ts_time_add(wend, t->cfg.window_grace_ms);
    if (close_at < t->next_close)
        t->next_close = close_at;
    close_at = ts_time_add(wend, t->cfg.window_retention_ms);
    if (close_at < t->next_expire)
        t->next_expire = close_at;
advance:
    return ts_task_close_due(t, errstr, errstr_size);
}

ts_err ts_task_advance(ts_task *t, int64_t stream_time, char *errstr, size_t errstr_size)
{
    if (stream_time <= t->stream_time || t->next_offset < 0)
        return TS_OK;
    t->stream_time = stream_time;
    t->dirty = 1; /* the new stream time is committed with the offset */
    return ts_task_close_due(t, errstr, errstr_size);
}

int64_t ts_task_next_due(const ts_task *t)
{
    return t->next_close < t->next_expire ? t->next_close : t->next_expire;
}

void ts_task_skip(ts_task *t, int64_t offset)
{
    /* Nothing committed yet: an abort goes back to where this task began. */
    if (t->committed_offset < 0)
        t->committed_offset = offset;
    t->next_offset = offset + 1;
    t->dirty = 1;
}

ts_err ts_task_flush(ts_task *t, char *errstr, size_t errstr_size)
{
    unsigned char stack[512], *key, val[TS_VALUE_LEN];
    char why[256] = "";
    ts_cache_entry *e;
    size_t pos = 0;
    ts_err err;

    if (t->write_err)
        return ts_task_wait_write(t, errstr, errstr_size);
    while ((e = ts_cache_next(t->cache, &pos))) {
        size_t klen = ts_key_window_len(e->tag_len);
        if (!e->dirty || e->window_start < t->expire_before)
            continue;
        key = klen <= sizeof(stack) ? stack : malloc(klen);
        if (!key)
            return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
        ts_key_window_encode(key, e->window_start, e->tag, e->tag_len);
        ts_value_encode(val, e->count, e->max_ts);
        err = t->sink.changelog(t->sink.opaque, t, key, klen, val, sizeof(val), why, sizeof(why));
        if (key != stack)
            free(key);
        if (err)
            return ts_task_sink_error(t, err, "cannot write the changelog", why, errstr,
                                      errstr_size);
        t->stats.changelog_records++;
    }
    return TS_OK;
}

/* The order of the entries' RocksDB keys (window start, then tag bytes). */
static int ts_task_entry_cmp(const void *a, const void *b)
{
    const ts_cache_entry *x = *(ts_cache_entry *const *)a, *y = *(ts_cache_entry *const *)b;

    if (x->window_start != y->window_start)
        return x->window_start < y->window_start ? -1 : 1;
    return ts_bytes_cmp(x->tag, x->tag_len, y->tag, y->tag_len);
}

ts_err ts_task_committed(ts_task *t, int64_t changelog_next, char *errstr, size_t errstr_size)
{
    ts_cache_entry *e;
    ts_cache *spare;
    ts_store_meta m;
    size_t pos = 0, n = 0;
    ts_err err;

    err = ts_task_wait_write(t, errstr, errstr_size);
    if (err) {
        /* The store missed an earlier commit: writing this one on top
         * would make it claim what it lacks. The caller loads the task
         * again from the changelog. */
        ts_task_forget_write(t);
        ts_cache_clear(t->cache);
        goto done;
    }
    ts_store_batch_clear(t->batch);
    if (t->expire_before > t->committed_expire_before)
        ts_store_batch_delete_windows_before(t->batch, t->expire_before);
    /* In key order, the batch's inserts follow one another through
     * RocksDB's skiplist memtable instead of each searching it anew. */
    while ((e = ts_cache_next(t->cache, &pos))) {
        ts_cache_entry **grown;
        if (!e->dirty || e->window_start < t->expire_before)
            continue;
        if (e->window_start > t->store_max_window)
            t->store_max_window = e->window_start;
        grown = ts_grow(t->sorted, n, &t->sorted_cap, sizeof(*t->sorted), 256);
        if (!grown) { /* unsorted then: slower, as correct */
            ts_store_batch_put(t->batch, e->window_start, e->tag, e->tag_len, e->count, e->max_ts);
            continue;
        }
        t->sorted = grown;
        t->sorted[n++] = e;
    }
    if (n > 1)
        qsort(t->sorted, n, sizeof(*t->sorted), ts_task_entry_cmp);
    for (size_t i = 0; i < n; i++) {
        e = t->sorted[i];
        ts_store_batch_put(t->batch, e->window_start, e->tag, e->tag_len, e->count, e->max_ts);
    }
    if (changelog_next >= 0)
        t->changelog_offset = changelog_next;
    ts_store_meta_init(&m);
    m.format_version = TS_STORE_FORMAT_VERSION;
    snprintf(m.application_id, sizeof(m.application_id), "%s", t->cfg.application_id);
    snprintf(m.task_id, sizeof(m.task_id), "%s", t->id);
    m.changelog_offset = t->changelog_offset;
    m.input_offset = t->next_offset;
    m.stream_time = t->stream_time;
    ts_store_batch_meta(t->batch, &m);
    /* The committed entries move to prev, readable until the write is
     * done; the open transaction starts with an empty cache. */
    spare = t->prev;
    t->prev = t->cache;
    t->cache = spare;
    t->prev_live = 1;
    if (!ts_store_write_start(&t->job, t->store, t->batch)) {
        err = ts_store_write(t->store, t->batch, 0, errstr, errstr_size);
        ts_cache_clear(t->prev);
        t->prev_live = 0;
    }
done:
    /* Kafka has committed: even if RocksDB failed, the committed position is
     * the new one (the changelog tail replays what RocksDB missed). */
    t->committed_st = t->stream_time;
    t->committed_offset = t->next_offset;
    t->committed_expire_before = t->expire_before;
    t->dirty = 0;
    return err;
}

ts_err ts_task_abort(ts_task *t, char *errstr, size_t errstr_size)
{
    ts_err err = ts_task_wait_write(t, errstr, errstr_size);

    ts_cache_clear(t->cache);
    t->stream_time = t->emitted_st = t->committed_st;
    t->next_offset = t->committed_offset;
    t->expire_before = t->committed_expire_before;
    t->dirty = 0;
    if (err) { /* the caller loads the task again */
        ts_task_forget_write(t);
        return err;
    }
    return ts_task_rebuild(t, errstr, errstr_size);
}

size_t ts_task_meta_format(char *buf, size_t size, int64_t stream_time)
{
    int n = snprintf(buf, size, "tagstream:1:st=%" PRId64, stream_time);

    return n < 0 ? 0 : (size_t)n;
}

int ts_task_meta_parse(const void *meta, size_t len, int64_t *stream_time)
{
    static const char prefix[] = "tagstream:1:st=";
    char buf[64], *end;
    long long v;

    if (!meta || len <= sizeof(prefix) - 1 || len >= sizeof(buf) ||
        memcmp(meta, prefix, sizeof(prefix) - 1))
        return 0;
    memcpy(buf, meta, len);
    buf[len] = '\0';
    v = strtoll(buf + sizeof(prefix) - 1, &end, 10);
    if (*end)
        return 0;
    *stream_time = v;
    return 1;
}
