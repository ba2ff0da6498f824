/*
 * NDJSON line and Server-Sent Events framing, fed with every kind of chunk
 * boundary the network can produce.
 */
#include "ts_split.h"

#include "testfile.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXREC 256

typedef struct rec {
    int kind;
    char *type;
    char *data;
    size_t len;
} rec;

typedef struct sink {
    rec v[MAXREC];
    int n;
} sink;

static void sink_clear(sink *s)
{
    for (int i = 0; i < s->n; i++) {
        free(s->v[i].type);
        free(s->v[i].data);
    }
    memset(s, 0, sizeof(*s));
}

static char *dup_n(const char *p, size_t n)
{
    char *d = malloc(n + 1);
    if (n)
        memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

static int on_line(void *opaque, ts_line_kind kind, const char *p, size_t n)
{
    sink *s = opaque;

    cr_assert_lt(s->n, MAXREC);
    s->v[s->n].kind = kind;
    s->v[s->n].data = dup_n(p, n);
    s->v[s->n].len = n;
    s->n++;
    return 0;
}

static int on_event(void *opaque, ts_sse_kind kind, const char *type, size_t tl, const char *data,
                    size_t n)
{
    sink *s = opaque;

    cr_assert_lt(s->n, MAXREC);
    s->v[s->n].kind = kind;
    s->v[s->n].type = dup_n(type, tl);
    s->v[s->n].data = data ? dup_n(data, n) : NULL;
    s->v[s->n].len = n;
    s->n++;
    return 0;
}

/* Feed text in chunks: sizes from a fixed cycle, or all at `cut`. */
static void feed_lines(ts_linesplit *ls, const char *p, size_t n, const size_t *sizes,
                       size_t nsizes)
{
    size_t i = 0, k = 0;

    while (i < n) {
        size_t c = sizes[k++ % nsizes];
        if (c > n - i)
            c = n - i;
        ts_linesplit_feed(ls, p + i, c);
        i += c;
    }
}

static void expect_same(const sink *a, const sink *b, const char *how)
{
    cr_assert_eq(a->n, b->n, "%s: %d records, expected %d", how, a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        cr_assert_eq(a->v[i].kind, b->v[i].kind, "%s: record %d", how, i);
        cr_assert_eq(a->v[i].len, b->v[i].len, "%s: record %d", how, i);
        if (a->v[i].data || b->v[i].data)
            cr_assert(!memcmp(a->v[i].data, b->v[i].data, a->v[i].len), "%s: record %d differs",
                      how, i);
        if (a->v[i].type || b->v[i].type)
            cr_assert_str_eq(a->v[i].type, b->v[i].type, "%s: record %d", how, i);
    }
}

Test(linesplit, keepalives_are_not_lines)
{
    static const char text[] = "\r\n{\"a\":1}\r\n\r\n\r\n{\"b\":2}\n\r\n";
    sink s = {0};
    ts_linesplit ls;

    ts_linesplit_init(&ls, 1024, 0, on_line, &s);
    ts_linesplit_feed(&ls, text, strlen(text));
    cr_assert_eq(s.n, 2);
    cr_expect_str_eq(s.v[0].data, "{\"a\":1}");
    cr_expect_str_eq(s.v[1].data, "{\"b\":2}");
    cr_expect_eq(ts_linesplit_finish(&ls, 0), 0, "ended between lines");
    ts_linesplit_free(&ls);
    sink_clear(&s);
}

Test(linesplit, every_two_way_split_of_a_stream_gives_the_same_lines)
{
    static const char text[] = "\r\n{\"t\":\"Gr\xc3\xbc\xc3\x9f\xc3\x9f\"}\r\n\r\nplain #tag\n\r\n";
    size_t n = strlen(text);
    sink want = {0}, got = {0};
    ts_linesplit ls;

    ts_linesplit_init(&ls, 1024, 0, on_line, &want);
    ts_linesplit_feed(&ls, text, n);
    ts_linesplit_free(&ls);
    cr_assert_eq(want.n, 2);
    for (size_t cut = 0; cut <= n; cut++) {
        char how[32];
        ts_linesplit_init(&ls, 1024, 0, on_line, &got);
        ts_linesplit_feed(&ls, text, cut);
        ts_linesplit_feed(&ls, text + cut, n - cut);
        snprintf(how, sizeof(how), "cut at %zu", cut);
        expect_same(&got, &want, how);
        ts_linesplit_free(&ls);
        sink_clear(&got);
    }
    sink_clear(&want);
}

Test(linesplit, fixture_in_chunks_of_every_size)
{
    size_t n, nl = 0;
    char *text = tf_fixture(TS_FIXTURES, "x_stream.ndjson", &n);
    sink want = {0}, got = {0};
    ts_linesplit ls;

    for (size_t i = 0; i < n; i++)
        nl += text[i] == '\n';
    ts_linesplit_init(&ls, 1 << 20, 0, on_line, &want);
    ts_linesplit_feed(&ls, text, n);
    ts_linesplit_free(&ls);
    cr_assert_eq((size_t)want.n, nl, "one record per line");
    for (size_t size = 1; size <= 97; size += 3) {
        size_t sizes[] = {size, size * 7 + 1, 1, size + 2};
        char how[32];
        ts_linesplit_init(&ls, 1 << 20, 0, on_line, &got);
        feed_lines(&ls, text, n, sizes, 4);
        cr_expect_eq(ts_linesplit_finish(&ls, 0), 0);
        snprintf(how, sizeof(how), "chunks of %zu", size);
        expect_same(&got, &want, how);
        ts_linesplit_free(&ls);
        sink_clear(&got);
    }
    sink_clear(&want);
    free(text);
}

Test(linesplit, an_oversize_line_is_reported_once_and_skipped)
{
    static const char text[] = "short\n0123456789abcdef-too-long\r\nok\r\n12345678\r\n";
    size_t n = strlen(text);

    for (size_t chunk = 1; chunk <= n; chunk++) {
        sink s = {0};
        ts_linesplit ls;
        ts_linesplit_init(&ls, 8, 0, on_line, &s);
        feed_lines(&ls, text, n, &chunk, 1);
        cr_assert_eq(s.n, 4, "chunk %zu", chunk);
        cr_expect_eq(s.v[0].kind, TS_LINE_DATA);
        cr_expect_str_eq(s.v[0].data, "short");
        cr_expect_eq(s.v[1].kind, TS_LINE_OVERSIZE, "chunk %zu", chunk);
        cr_expect_eq(s.v[1].len, 8);
        cr_expect(!memcmp(s.v[1].data, "01234567", 8), "the start of the long line");
        cr_expect_eq(s.v[2].kind, TS_LINE_DATA);
        cr_expect_str_eq(s.v[2].data, "ok");
        cr_expect_eq(s.v[3].kind, TS_LINE_DATA, "exactly max bytes (and a \\r) is fine");
        cr_expect_str_eq(s.v[3].data, "12345678");
        ts_linesplit_free(&ls);
        sink_clear(&s);
    }
}

Test(linesplit, an_unfinished_line_at_the_end)
{
    sink s = {0};
    ts_linesplit ls;

    ts_linesplit_init(&ls, 64, 0, on_line, &s);
    ts_linesplit_feed(&ls, "one\n{\"cut\":", 11);
    cr_expect_eq(ts_linesplit_finish(&ls, 0), 7, "the cut line is dropped and measured");
    cr_expect_eq(s.n, 1);
    ts_linesplit_feed(&ls, "two\nlast", 8);
    cr_expect_eq(ts_linesplit_finish(&ls, 1), 4, "a file's last line without newline");
    cr_assert_eq(s.n, 3);
    cr_expect_str_eq(s.v[1].data, "two");
    cr_expect_str_eq(s.v[2].data, "last");
    ts_linesplit_free(&ls);
    sink_clear(&s);
}

/* ---- SSE ---- */

static void feed_sse(ts_sse *e, const char *p, size_t n, size_t chunk)
{
    for (size_t i = 0; i < n; i += chunk)
        ts_sse_feed(e, p + i, chunk < n - i ? chunk : n - i);
}

Test(sse, the_mastodon_fixture)
{
    size_t n;
    char *text = tf_fixture(TS_FIXTURES, "mastodon_stream.sse", &n);
    sink s = {0};
    ts_sse e;
    static const char *const types[] = {"update", "delete", "update", "status.update",
                                        "update", "update", "update", "update"};

    ts_sse_init(&e, 1 << 20, on_event, &s);
    ts_sse_feed(&e, text, n);
    cr_expect_eq(ts_sse_finish(&e), 0);
    cr_assert_eq(s.n, 8, "heartbeats are not events");
    for (int i = 0; i < 8; i++)
        cr_expect_str_eq(s.v[i].type, types[i], "event %d", i);
    cr_expect_str_eq(s.v[1].data, "109999");
    /* multi-line data: the fields joined with \n */
    cr_expect_eq(strchr(s.v[2].data, '\n') != NULL, 1);
    cr_expect_eq(strchr(strchr(s.v[2].data, '\n') + 1, '\n') != NULL, 1, "three data lines");
    cr_expect_eq(s.v[2].data[s.v[2].len - 1], '}', "no trailing newline");
    cr_expect_eq(s.v[4].data[0], '{', "CRLF lines work too");
    cr_expect_eq(s.v[4].data[s.v[4].len - 1], '}');
    ts_sse_free(&e);
    sink_clear(&s);
    free(text);
}

Test(sse, fixture_in_chunks_of_every_size)
{
    size_t n;
    char *text = tf_fixture(TS_FIXTURES, "mastodon_stream.sse", &n);
    sink want = {0}, got = {0};
    ts_sse e;

    ts_sse_init(&e, 1 << 20, on_event, &want);
    ts_sse_feed(&e, text, n);
    ts_sse_free(&e);
    for (size_t chunk = 1; chunk <= 200; chunk++) {
        char how[32];
        ts_sse_init(&e, 1 << 20, on_event, &got);
        feed_sse(&e, text, n, chunk);
        cr_expect_eq(ts_sse_finish(&e), 0);
        snprintf(how, sizeof(how), "chunks of %zu", chunk);
        expect_same(&got, &want, how);
        ts_sse_free(&e);
        sink_clear(&got);
    }
    sink_clear(&want);
    free(text);
}

Test(sse, cr_lf_split_across_chunks_is_one_line_end)
{
    sink s = {0};
    ts_sse e;

    ts_sse_init(&e, 1024, on_event, &s);
    ts_sse_feed(&e, "data: a\r", 8);
    ts_sse_feed(&e, "\ndata: b\r", 9);
    ts_sse_feed(&e, "\n\r", 2);
    ts_sse_feed(&e, "\n", 1);
    cr_assert_eq(s.n, 1);
    cr_expect_str_eq(s.v[0].type, "message", "no event field: message");
    cr_expect_str_eq(s.v[0].data, "a\nb");
    ts_sse_free(&e);
    sink_clear(&s);
}

Test(sse, lone_cr_ends_lines_and_field_syntax)
{
    static const char text[] =
        ": comment\revent:update\rdata:x\rdata\rdata:  y\rid: 7\rretry: 10\r\r"
        "event: ignored-without-data\n\n";
    sink s = {0};
    ts_sse e;

    ts_sse_init(&e, 1024, on_event, &s);
    ts_sse_feed(&e, text, strlen(text));
    cr_assert_eq(s.n, 1, "an event without data is not dispatched");
    cr_expect_str_eq(s.v[0].type, "update");
    /* "data" alone is an empty line of data; only one space is dropped */
    cr_expect_str_eq(s.v[0].data, "x\n\n y");
    ts_sse_free(&e);
    sink_clear(&s);
}

Test(sse, an_oversize_event_is_reported_once)
{
    static const char text[] = "event: update\ndata: 0123456789\ndata: 0123456789\ndata: more\n\n"
                               "event: update\ndata: small\n\n";
    size_t n = strlen(text);

    for (size_t chunk = 1; chunk <= n; chunk++) {
        sink s = {0};
        ts_sse e;
        ts_sse_init(&e, 16, on_event, &s);
        feed_sse(&e, text, n, chunk);
        cr_assert_eq(s.n, 2, "chunk %zu", chunk);
        cr_expect_eq(s.v[0].kind, TS_SSE_OVERSIZE);
        cr_expect_str_eq(s.v[0].type, "update");
        cr_expect_eq(s.v[1].kind, TS_SSE_EVENT);
        cr_expect_str_eq(s.v[1].data, "small");
        ts_sse_free(&e);
        sink_clear(&s);
    }
}

Test(sse, an_event_cut_by_the_end_of_the_stream)
{
    sink s = {0};
    ts_sse e;
    static const char text[] = "event: update\ndata: {\"id\":1}\n\nevent: update\ndata: {\"id\"";

    ts_sse_init(&e, 1024, on_event, &s);
    ts_sse_feed(&e, text, strlen(text));
    cr_expect_eq(s.n, 1);
    cr_expect_gt(ts_sse_finish(&e), 0, "the unfinished event is measured");
    /* the next stream starts clean */
    ts_sse_feed(&e, "data: next\n\n", 12);
    cr_assert_eq(s.n, 2);
    cr_expect_str_eq(s.v[1].type, "message", "the cut event's type is forgotten");
    cr_expect_str_eq(s.v[1].data, "next");
    ts_sse_free(&e);
    sink_clear(&s);
}
