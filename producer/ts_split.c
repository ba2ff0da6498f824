#include "ts_split.h"

#include <string.h>

void ts_linesplit_init(ts_linesplit *s, size_t max, int sse, ts_line_fn *cb, void *opaque)
{
    memset(s, 0, sizeof(*s));
    ts_buf_init(&s->part, 0);
    s->max = max;
    s->sse = sse;
    s->cb = cb;
    s->opaque = opaque;
}

void ts_linesplit_free(ts_linesplit *s)
{
    if (s)
        ts_buf_free(&s->part);
}

/* The cap on bytes held for one line: an NDJSON line may carry a \r that is
 * not part of it. */
static size_t ts_linesplit_cap(const ts_linesplit *s)
{
    return s->sse ? s->max : s->max + 1;
}

/* Report a complete line p[0..n) (terminator excluded). */
static int ts_linesplit_line(ts_linesplit *s, const char *p, size_t n)
{
    if (!s->sse && n > 0 && p[n - 1] == '\r')
        n--;
    if (n > s->max)
        return s->cb(s->opaque, TS_LINE_OVERSIZE, p, s->max);
    if (n == 0 && !s->sse)
        return 0; /* keep-alive */
    return s->cb(s->opaque, TS_LINE_DATA, p, n);
}

int ts_linesplit_feed(ts_linesplit *s, const char *p, size_t n)
{
    size_t i = 0, cap = ts_linesplit_cap(s);

    while (i < n) {
        size_t end, len;
        int stop;

        if (s->after_cr) {
            s->after_cr = 0;
            if (p[i] == '\n') {
                i++;
                continue;
            }
        }
        if (s->sse) {
            for (end = i; end < n && p[end] != '\n' && p[end] != '\r'; end++)
                ;
        } else {
            const char *nl = memchr(p + i, '\n', n - i);
            end = nl ? (size_t)(nl - p) : n;
        }
        len = end - i;
        if (end == n) {
            /* No terminator in this chunk: keep the start of the line. */
            if (s->skipping)
                return 0;
            if (s->part.len + len > cap) {
                size_t have = s->part.len;
                ts_buf_append(&s->part, p + i, cap - have);
                s->skipping = 1;
                stop = s->cb(s->opaque, TS_LINE_OVERSIZE, s->part.data, s->max);
                ts_buf_reset(&s->part);
                return stop;
            }
            ts_buf_append(&s->part, p + i, len);
            return 0;
        }
        if (s->sse && p[end] == '\r')
            s->after_cr = 1;
        if (s->skipping) {
            s->skipping = 0;
            i = end + 1;
            continue;
        }
        if (s->part.len) {
            if (s->part.len + len > cap) {
                ts_buf_append(&s->part, p + i, cap - s->part.len);
                stop = s->cb(s->opaque, TS_LINE_OVERSIZE, s->part.data, s->max);
            } else {
                ts_buf_append(&s->part, p + i, len);
                stop = ts_linesplit_line(s, s->part.data, s->part.len);
            }
            ts_buf_reset(&s->part);
        } else {
            stop = ts_linesplit_line(s, p + i, len);
        }
        i = end + 1;
        if (stop)
            return stop;
    }
    return 0;
}

size_t ts_linesplit_finish(ts_linesplit *s, int deliver)
{
    size_t pending = s->part.len;

    if (deliver && s->part.len)
        ts_linesplit_line(s, s->part.data, s->part.len);
    ts_buf_reset(&s->part);
    s->skipping = 0;
    s->after_cr = 0;
    return pending;
}

/* ---- Server-Sent Events ---- */

static void ts_sse_reset(ts_sse *e)
{
    ts_buf_reset(&e->type);
    ts_buf_reset(&e->data);
    e->has_data = 0;
    e->oversize = 0;
}

static int ts_sse_oversize(ts_sse *e)
{
    if (e->oversize)
        return 0;
    e->oversize = 1;
    e->has_data = 1;
    ts_buf_reset(&e->data);
    return e->cb(e->opaque, TS_SSE_OVERSIZE, e->type.len ? e->type.data : "message",
                 e->type.len ? e->type.len : 7, NULL, 0);
}

static int ts_sse_line(void *opaque, ts_line_kind kind, const char *p, size_t n)
{
    ts_sse *e = opaque;
    size_t fl, vs;
    int stop = 0;

    if (kind == TS_LINE_OVERSIZE)
        return ts_sse_oversize(e);
    if (n == 0) {
        if (e->has_data && !e->oversize)
            stop =
                e->cb(e->opaque, TS_SSE_EVENT, e->type.len ? e->type.data : "message",
                      e->type.len ? e->type.len : 7, e->data.data ? e->data.data : "", e->data.len);
        ts_sse_reset(e);
        return stop;
    }
    if (p[0] == ':')
        return 0; /* comment: Mastodon's heartbeat */
    for (fl = 0; fl < n && p[fl] != ':'; fl++)
        ;
    vs = fl < n ? fl + 1 : n;
    if (vs < n && p[vs] == ' ')
        vs++;
    if (fl == 5 && !memcmp(p, "event", 5)) {
        ts_buf_reset(&e->type);
        ts_buf_append(&e->type, p + vs, n - vs);
    } else if (fl == 4 && !memcmp(p, "data", 4)) {
        if (e->oversize)
            return 0;
        if (e->data.len + (e->has_data ? 1 : 0) + (n - vs) > e->max)
            return ts_sse_oversize(e);
        if (e->has_data)
            ts_buf_putc(&e->data, '\n');
        ts_buf_append(&e->data, p + vs, n - vs);
        e->has_data = 1;
    }
    /* id, retry and unknown fields: not used */
    return 0;
}

void ts_sse_init(ts_sse *e, size_t max, ts_sse_fn *cb, void *opaque)
{
    memset(e, 0, sizeof(*e));
    /* a line holds one data field: the cap plus its "data: " */
    ts_linesplit_init(&e->lines, max + 16, 1, ts_sse_line, e);
    ts_buf_init(&e->type, 256);
    ts_buf_init(&e->data, 0);
    e->max = max;
    e->cb = cb;
    e->opaque = opaque;
}

void ts_sse_free(ts_sse *e)
{
    if (!e)
        return;
    ts_linesplit_free(&e->lines);
    ts_buf_free(&e->type);
    ts_buf_free(&e->data);
}

int ts_sse_feed(ts_sse *e, const char *p, size_t n)
{
    return ts_linesplit_feed(&e->lines, p, n);
}

size_t ts_sse_finish(ts_sse *e)
{
    size_t pending = ts_linesplit_finish(&e->lines, 0);

    if (e->has_data && !e->oversize)
        pending += e->data.len + 1;
    ts_sse_reset(e);
    return pending;
}
