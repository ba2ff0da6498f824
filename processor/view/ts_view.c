#include "ts_view.h"

#include "ts_utf8.h"
#include "ts_window.h"

#include <jansson.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

const ts_skip ts_view_skips[] = {
    TS_SKIP_NULL_VALUE,   TS_SKIP_MALFORMED_JSON, TS_SKIP_UNRECOGNIZED, TS_SKIP_NULL_KEY,
    TS_SKIP_INVALID_UTF8, TS_SKIP_OVERSIZE,       TS_SKIP_WINDOW_FULL,  TS_SKIP_NONE};

typedef struct ts_view_tag {
    char *tag;
    size_t len;
    int64_t count;
} ts_view_tag;

typedef struct ts_view_window {
    int64_t start, end;
    ts_view_tag *tags;
    size_t ntags, cap;
    uint32_t *index;  /* open addressing: tag position + 1, 0 = empty */
    size_t index_cap; /* a power of two, at least twice ntags */
} ts_view_window;

struct ts_view {
    pthread_mutex_t lock;
    int max_windows;
    int top;
    int64_t window_size_ms;
    ts_view_window **windows; /* newest first */
    int nwindows;
    uint64_t version;
    uint64_t results;
    uint64_t skipped[TS_SKIP__COUNT];
    ts_buf json; /* rendering of json_version */
    uint64_t json_version;
    int json_valid;
};

static uint64_t ts_view_hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static void ts_view_window_free(ts_view_window *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->ntags; i++)
        free(w->tags[i].tag);
    free(w->tags);
    free(w->index);
    free(w);
}

/* The slot of tag in w->index: its entry, or the empty slot it would take. */
static size_t ts_view_slot(const ts_view_window *w, const char *tag, size_t len)
{
    size_t mask = w->index_cap - 1, i = (size_t)ts_view_hash(tag, len) & mask;

    for (;; i = (i + 1) & mask) {
        uint32_t e = w->index[i];
        if (!e)
            return i;
        if (w->tags[e - 1].len == len && !memcmp(w->tags[e - 1].tag, tag, len))
            return i;
    }
}

static ts_err ts_view_rehash(ts_view_window *w, size_t cap)
{
    uint32_t *index = calloc(cap, sizeof(*index));

    if (!index)
        return TS_ERR_NOMEM;
    free(w->index);
    w->index = index;
    w->index_cap = cap;
    for (size_t i = 0; i < w->ntags; i++)
        w->index[ts_view_slot(w, w->tags[i].tag, w->tags[i].len)] = (uint32_t)(i + 1);
    return TS_OK;
}

ts_view *ts_view_new(int windows, int top, int64_t window_size_ms)
{
    ts_view *v;

    if (windows < 1 || top < 1 || window_size_ms < 1)
        return NULL;
    v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    v->windows = calloc((size_t)windows + 1, sizeof(*v->windows));
    if (!v->windows) {
        free(v);
        return NULL;
    }
    pthread_mutex_init(&v->lock, NULL);
    v->max_windows = windows;
    v->top = top;
    v->window_size_ms = window_size_ms;
    ts_buf_init(&v->json, 0);
    return v;
}

void ts_view_destroy(ts_view *v)
{
    if (!v)
        return;
    for (int i = 0; i < v->nwindows; i++)
        ts_view_window_free(v->windows[i]);
    free(v->windows);
    ts_buf_free(&v->json);
    pthread_mutex_destroy(&v->lock);
    free(v);
}

/* The window [start, end), made (and the oldest dropped) if new. *w is NULL
 * when the window is older than every window kept and there is no room. */
static ts_err ts_view_window_get(ts_view *v, int64_t start, int64_t end, ts_view_window **w)
{
    ts_view_window *nw;
    int at = 0;

    *w = NULL;
    for (; at < v->nwindows; at++) {
        ts_view_window *x = v->windows[at];
        if (x->start == start && x->end == end) {
            *w = x;
            return TS_OK;
        }
        if (x->start < start || (x->start == start && x->end < end))
            break;
    }
    if (at == v->max_windows)
        return TS_OK;
    nw = calloc(1, sizeof(*nw));
    if (!nw)
        return TS_ERR_NOMEM;
    nw->start = start;
    nw->end = end;
    if (ts_view_rehash(nw, 16)) {
        free(nw);
        return TS_ERR_NOMEM;
    }
    memmove(v->windows + at + 1, v->windows + at, (size_t)(v->nwindows - at) * sizeof(*v->windows));
    v->windows[at] = nw;
    if (++v->nwindows > v->max_windows)
        ts_view_window_free(v->windows[--v->nwindows]);
    *w = nw;
    return TS_OK;
}

/* Set tag's count in w (last count wins). */
static ts_err ts_view_window_set(ts_view_window *w, const char *tag, size_t len, int64_t count,
                                 ts_skip *why)
{
    size_t slot = ts_view_slot(w, tag, len);
    ts_view_tag *t;
    char *copy;

    if (w->index[slot]) {
        w->tags[w->index[slot] - 1].count = count;
        return TS_OK;
    }
    if (w->ntags >= TS_VIEW_MAX_TAGS) {
        *why = TS_SKIP_WINDOW_FULL;
        return TS_ERR_INVALID;
    }
    if ((w->ntags + 1) * 2 > w->index_cap) {
        if (ts_view_rehash(w, w->index_cap * 2))
            return TS_ERR_NOMEM;
        slot = ts_view_slot(w, tag, len);
    }
    if (w->ntags == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        t = realloc(w->tags, cap * sizeof(*t));
        if (!t)
            return TS_ERR_NOMEM;
        w->tags = t;
        w->cap = cap;
    }
    copy = malloc(len ? len : 1);
    if (!copy)
        return TS_ERR_NOMEM;
    memcpy(copy, tag, len);
    w->tags[w->ntags] = (ts_view_tag){copy, len, count};
    w->index[slot] = (uint32_t)++w->ntags;
    return TS_OK;
}

static int ts_view_json_int(json_t *o, const char *name, int64_t *out)
{
    json_t *x = json_object_get(o, name);

    if (!json_is_integer(x))
        return 0;
    *out = json_integer_value(x);
    return 1;
}

/*
 * Decode one record into tag, count and window. For json, *owned holds the
 * parsed document the tag points into (the caller releases it).
 */
static ts_skip ts_view_decode(const ts_view *v, const void *key, size_t klen, const void *val,
                              size_t vlen, int64_t ts, const char **tag, size_t *len,
                              int64_t *count, int64_t *start, int64_t *end, json_t **owned)
{
    const unsigned char *b = val;

    *owned = NULL;
    if (!val)
        return TS_SKIP_NULL_VALUE;
    if (vlen && b[0] == '{') {
        json_t *doc = json_loadb(val, vlen, JSON_REJECT_DUPLICATES, NULL), *h;
        if (!json_is_object(doc)) {
            json_decref(doc);
            return TS_SKIP_MALFORMED_JSON;
        }
        if (!ts_view_json_int(doc, "count", count) ||
            !ts_view_json_int(doc, "window_start", start) ||
            !ts_view_json_int(doc, "window_end", end)) {
            json_decref(doc);
            return TS_SKIP_UNRECOGNIZED;
        }
        *owned = doc;
        h = json_object_get(doc, "hashtag");
        if (json_is_string(h)) {
            /* jansson has checked it is UTF-8 */
            *tag = json_string_value(h);
            *len = json_string_length(h);
        } else if (h) {
            return TS_SKIP_UNRECOGNIZED;
        } else if (key) {
            *tag = key;
            *len = klen;
        } else {
            return TS_SKIP_NULL_KEY;
        }
    } else if (vlen == 8) {
        uint64_t c = 0;
        for (int i = 0; i < 8; i++)
            c = c << 8 | b[i];
        if (!key)
            return TS_SKIP_NULL_KEY;
        *tag = key;
        *len = klen;
        *count = (int64_t)c;
        *start = ts_window_start(ts, v->window_size_ms);
        *end = ts_window_end(*start, v->window_size_ms);
    } else {
        return TS_SKIP_UNRECOGNIZED;
    }
    if (*count <= 0 || *end <= *start)
        return TS_SKIP_UNRECOGNIZED;
    if (*len > TS_VIEW_MAX_TAG_BYTES)
        return TS_SKIP_OVERSIZE;
    if (!ts_utf8_valid(*tag, *len) || memchr(*tag, '\0', *len))
        return TS_SKIP_INVALID_UTF8;
    return TS_SKIP_NONE;
}

ts_err ts_view_add(ts_view *v, const void *key, size_t klen, const void *val, size_t vlen,
                   int64_t ts, ts_skip *why)
{
    ts_skip skip, dummy;
    ts_view_window *w;
    const char *tag = NULL;
    size_t len = 0;
    int64_t count = 0, start = 0, end = 0;
    json_t *doc;
    ts_err e;

    if (!why)
        why = &dummy;
    skip = ts_view_decode(v, key, klen, val, vlen, ts, &tag, &len, &count, &start, &end, &doc);
    pthread_mutex_lock(&v->lock);
    if (skip != TS_SKIP_NONE) {
        e = TS_ERR_INVALID;
        goto out;
    }
    e = ts_view_window_get(v, start, end, &w);
    if (!e && w)
        e = ts_view_window_set(w, tag, len, count, &skip);
    if (e == TS_OK)
        v->results++;
out:
    if (e == TS_ERR_INVALID) {
        v->skipped[skip]++;
        *why = skip;
    }
    if (e != TS_ERR_NOMEM)
        v->version++;
    pthread_mutex_unlock(&v->lock);
    json_decref(doc);
    return e;
}

uint64_t ts_view_version(ts_view *v)
{
    uint64_t n;

    pthread_mutex_lock(&v->lock);
    n = v->version;
    pthread_mutex_unlock(&v->lock);
    return n;
}

uint64_t ts_view_results(ts_view *v)
{
    uint64_t n;

    pthread_mutex_lock(&v->lock);
    n = v->results;
    pthread_mutex_unlock(&v->lock);
    return n;
}

uint64_t ts_view_skipped(ts_view *v, ts_skip why)
{
    uint64_t n = 0;

    pthread_mutex_lock(&v->lock);
    if ((unsigned)why < TS_SKIP__COUNT)
        n = v->skipped[why];
    pthread_mutex_unlock(&v->lock);
    return n;
}

/* Rank: count descending, then the tag's bytes ascending. */
static int ts_view_rank_cmp(const void *a, const void *b)
{
    const ts_view_tag *x = *(const ts_view_tag *const *)a, *y = *(const ts_view_tag *const *)b;

    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return ts_bytes_cmp(x->tag, x->len, y->tag, y->len);
}

static void ts_view_render_locked(ts_view *v, ts_buf *out)
{
    uint64_t skipped = 0;
    ts_view_tag **rank = NULL;

    for (int i = 0; i < TS_SKIP__COUNT; i++)
        skipped += v->skipped[i];
    ts_buf_printf(out,
                  "{\"version\":%llu,\"results_total\":%llu,\"skipped_total\":%llu,"
                  "\"window_size_ms\":%lld,\"top\":%d,\"windows\":[",
                  (unsigned long long)v->version, (unsigned long long)v->results,
                  (unsigned long long)skipped, (long long)v->window_size_ms, v->top);
    for (int i = 0; i < v->nwindows; i++) {
        ts_view_window *w = v->windows[i];
        size_t n = w->ntags;

        ts_buf_printf(out,
                      "%s{\"window_start\":%lld,\"window_end\":%lld,\"hashtags_total\":%zu,"
                      "\"hashtags\":[",
                      i ? "," : "", (long long)w->start, (long long)w->end, n);
        free(rank);
        rank = malloc((n ? n : 1) * sizeof(*rank));
        if (!rank) {
            out->failed = 1;
            return;
        }
        for (size_t j = 0; j < n; j++)
            rank[j] = &w->tags[j];
        qsort(rank, n, sizeof(*rank), ts_view_rank_cmp);
        for (size_t j = 0; j < n && j < (size_t)v->top; j++) {
            ts_buf_puts(out, j ? ",{\"hashtag\":" : "{\"hashtag\":");
            ts_buf_json_str(out, rank[j]->tag, rank[j]->len);
            ts_buf_printf(out, ",\"count\":%lld}", (long long)rank[j]->count);
        }
        ts_buf_puts(out, "]}");
    }
    free(rank);
    ts_buf_puts(out, "]}");
}

uint64_t ts_view_render(ts_view *v, ts_buf *out)
{
    uint64_t version;

    pthread_mutex_lock(&v->lock);
    if (!v->json_valid || v->json_version != v->version) {
        ts_buf_reset(&v->json);
        v->json.failed = 0;
        ts_view_render_locked(v, &v->json);
        v->json_version = v->version;
        v->json_valid = ts_buf_status(&v->json) == TS_OK;
    }
    version = v->version;
    if (v->json_valid)
        ts_buf_append(out, v->json.data, v->json.len);
    else
        out->failed = 1;
    pthread_mutex_unlock(&v->lock);
    return version;
}
