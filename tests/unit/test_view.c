/*
 * tagstream-view without a broker: the view of results (both output
 * formats, ranking, bounds, bad records) and its HTTP side (page, JSON,
 * Server-Sent Events, the stream limit) over real loopback TCP.
 */
#include "ts_http.h"
#include "ts_view.h"
#include "ts_view_run.h"

#include <criterion/criterion.h>
#include <jansson.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define W 20000 /* window size */

static void add_json(ts_view *v, const char *tag, long long count, long long start, long long end)
{
    char val[512];
    json_t *j = json_pack("{s:s,s:I,s:I,s:I}", "hashtag", tag, "count", count, "window_start",
                          start, "window_end", end);
    char *s = json_dumps(j, JSON_COMPACT);

    snprintf(val, sizeof(val), "%s", s);
    cr_assert_eq(ts_view_add(v, tag, strlen(tag), val, strlen(val), end - 1, NULL), TS_OK, "%s",
                 val);
    free(s);
    json_decref(j);
}

static void add_long(ts_view *v, const char *tag, long long count, long long ts)
{
    unsigned char be[8];

    for (int i = 0; i < 8; i++)
        be[i] = (unsigned char)((unsigned long long)count >> (56 - 8 * i));
    cr_assert_eq(ts_view_add(v, tag, strlen(tag), be, 8, ts, NULL), TS_OK);
}

static json_t *render(ts_view *v)
{
    ts_buf b = TS_BUF_INIT;
    json_error_t jerr;
    json_t *j;

    ts_view_render(v, &b);
    cr_assert_eq(ts_buf_status(&b), TS_OK);
    cr_assert_null(memchr(b.data, '\n', b.len), "a line break in %s", b.data);
    j = json_loadb(b.data, b.len, 0, &jerr);
    cr_assert_not_null(j, "%s: %s", jerr.text, b.data);
    ts_buf_free(&b);
    return j;
}

/* "tag=count,tag=count" of window i of a rendering. */
static char *ranked(json_t *doc, size_t i)
{
    static char out[1024];
    json_t *w = json_array_get(json_object_get(doc, "windows"), i), *t;
    size_t k, n = 0;

    out[0] = '\0';
    json_array_foreach(json_object_get(w, "hashtags"), k, t) n +=
        (size_t)snprintf(out + n, sizeof(out) - n, "%s%s=%lld", k ? "," : "",
                         json_string_value(json_object_get(t, "hashtag")),
                         json_integer_value(json_object_get(t, "count")));
    return out;
}

Test(view, both_formats_ranked_into_their_windows)
{
    ts_view *v = ts_view_new(3, 10, W);
    json_t *doc, *w0, *w1;

    cr_assert_not_null(v);
    add_json(v, "rust", 7, 40000, 60000);
    add_json(v, "東京", 12, 40000, 60000);
    add_json(v, "ελλάδα", 7, 40000, 60000);
    /* long: the window is the one of the record timestamp */
    add_long(v, "кофе", 9, 40123);
    add_long(v, "عربي", 5, 20000);
    add_long(v, "zz", 6, 39999);
    doc = render(v);
    cr_expect_eq(json_integer_value(json_object_get(doc, "results_total")), 6);
    cr_expect_eq(json_integer_value(json_object_get(doc, "skipped_total")), 0);
    cr_assert_eq(json_array_size(json_object_get(doc, "windows")), 2);
    w0 = json_array_get(json_object_get(doc, "windows"), 0);
    w1 = json_array_get(json_object_get(doc, "windows"), 1);
    cr_expect_eq(json_integer_value(json_object_get(w0, "window_start")), 40000);
    cr_expect_eq(json_integer_value(json_object_get(w0, "window_end")), 60000);
    cr_expect_eq(json_integer_value(json_object_get(w0, "hashtags_total")), 4);
    /* by count, then by bytes: "rust" < "ελλάδα" in UTF-8 */
    cr_expect_str_eq(ranked(doc, 0), "東京=12,кофе=9,rust=7,ελλάδα=7");
    cr_expect_eq(json_integer_value(json_object_get(w1, "window_start")), 20000);
    cr_expect_str_eq(ranked(doc, 1), "zz=6,عربي=5");
    json_decref(doc);
    ts_view_destroy(v);
}

Test(view, a_repeated_result_replaces_and_top_limits)
{
    ts_view *v = ts_view_new(2, 2, W);
    json_t *doc;

    add_json(v, "a", 5, 0, W);
    add_json(v, "b", 6, 0, W);
    add_json(v, "c", 7, 0, W);
    add_json(v, "a", 8, 0, W); /* the same result again, counted once */
    doc = render(v);
    cr_expect_str_eq(ranked(doc, 0), "a=8,c=7");
    cr_expect_eq(json_integer_value(json_object_get(
                     json_array_get(json_object_get(doc, "windows"), 0), "hashtags_total")),
                 3);
    json_decref(doc);
    ts_view_destroy(v);
}

Test(view, keeps_the_newest_windows)
{
    ts_view *v = ts_view_new(2, 5, W);
    json_t *doc, *ws;

    add_json(v, "x", 5, 20000, 40000);
    add_json(v, "x", 5, 60000, 80000);
    add_json(v, "x", 5, 40000, 60000); /* drops 20000 */
    add_json(v, "y", 9, 0, 20000);     /* older than every window kept: taken, not shown */
    doc = render(v);
    ws = json_object_get(doc, "windows");
    cr_assert_eq(json_array_size(ws), 2);
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(ws, 0), "window_start")), 60000);
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(ws, 1), "window_start")), 40000);
    cr_expect_eq(json_integer_value(json_object_get(doc, "results_total")), 4);
    json_decref(doc);
    ts_view_destroy(v);
}

/* One bad record: skipped for `reason`, nothing shown. */
static void expect_skip(ts_view *v, const char *key, const void *val, size_t vlen, ts_skip reason)
{
    ts_skip why = TS_SKIP_NONE;

    cr_expect_eq(ts_view_add(v, key, key ? strlen(key) : 0, val, vlen, 1000, &why), TS_ERR_INVALID,
                 "%s accepted", ts_skip_name(reason));
    cr_expect_eq(why, reason, "%s, want %s", ts_skip_name(why), ts_skip_name(reason));
}

#define JSON(s) s, sizeof(s) - 1

Test(view, bad_records_are_counted_and_skipped)
{
    ts_view *v = ts_view_new(2, 5, W);
    char big[TS_VIEW_MAX_TAG_BYTES + 2], tag[16];
    unsigned char be[8] = {0, 0, 0, 0, 0, 0, 0, 5};
    json_t *doc;

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    expect_skip(v, "a", NULL, 0, TS_SKIP_NULL_VALUE);
    expect_skip(v, "a", JSON("{\"hashtag\":\"a\",\"count\":"), TS_SKIP_MALFORMED_JSON);
    expect_skip(v, "a", JSON("{\"a\":1,\"a\":2}"), TS_SKIP_MALFORMED_JSON);
    expect_skip(v, "a", JSON("abc"), TS_SKIP_UNRECOGNIZED);
    expect_skip(v, "a", "", 0, TS_SKIP_UNRECOGNIZED);
    expect_skip(v, "a", JSON("{\"count\":5}"), TS_SKIP_UNRECOGNIZED);
    expect_skip(v, "a", JSON("{\"hashtag\":1,\"count\":5,\"window_start\":0,\"window_end\":1}"),
                TS_SKIP_UNRECOGNIZED);
    expect_skip(v, "a", JSON("{\"hashtag\":\"a\",\"count\":0,\"window_start\":0,\"window_end\":1}"),
                TS_SKIP_UNRECOGNIZED);
    expect_skip(v, "a", JSON("{\"hashtag\":\"a\",\"count\":5,\"window_start\":9,\"window_end\":9}"),
                TS_SKIP_UNRECOGNIZED);
    expect_skip(v, NULL, be, 8, TS_SKIP_NULL_KEY);
    expect_skip(v, NULL, JSON("{\"count\":5,\"window_start\":0,\"window_end\":1}"),
                TS_SKIP_NULL_KEY);
    expect_skip(v, "\xc3\x28", be, 8, TS_SKIP_INVALID_UTF8);
    expect_skip(v, "a",
                JSON("{\"hashtag\":\"a\\u0000b\",\"count\":5,\"window_start\":0,"
                     "\"window_end\":1}"),
                TS_SKIP_MALFORMED_JSON); /* jansson refuses \u0000 */
    expect_skip(v, big, be, 8, TS_SKIP_OVERSIZE);
    doc = render(v);
    cr_expect_eq(json_integer_value(json_object_get(doc, "results_total")), 0);
    cr_expect_eq(json_integer_value(json_object_get(doc, "skipped_total")), 14);
    cr_expect_eq(json_array_size(json_object_get(doc, "windows")), 0);
    cr_expect_eq(ts_view_skipped(v, TS_SKIP_UNRECOGNIZED), 6);
    cr_expect_eq(ts_view_skipped(v, TS_SKIP_MALFORMED_JSON), 3);
    json_decref(doc);

    /* a window holds at most TS_VIEW_MAX_TAGS hashtags; a known one still updates */
    for (int i = 0; i < TS_VIEW_MAX_TAGS; i++) {
        snprintf(tag, sizeof(tag), "t%d", i);
        cr_assert_eq(ts_view_add(v, tag, strlen(tag), be, 8, 1000, NULL), TS_OK);
    }
    expect_skip(v, "one-more", be, 8, TS_SKIP_WINDOW_FULL);
    cr_expect_eq(ts_view_add(v, "t7", 2, be, 8, 1000, NULL), TS_OK);
    for (const ts_skip *r = ts_view_skips; *r; r++)
        cr_expect_gt(ts_view_skipped(v, *r), 0, "%s never seen", ts_skip_name(*r));
    ts_view_destroy(v);
}

Test(view, hostile_tags_stay_text)
{
    const char *tag = "</script><img src=x onerror=alert(1)>\"\\\n\x01";
    ts_view *v = ts_view_new(1, 5, W);
    json_t *doc, *t;

    add_json(v, tag, 9, 0, W);
    doc = render(v);
    t = json_array_get(
        json_object_get(json_array_get(json_object_get(doc, "windows"), 0), "hashtags"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(t, "hashtag")), tag);
    json_decref(doc);
    ts_view_destroy(v);
}

/* ---- HTTP over loopback ---- */

static int connect_to(int port)
{
    struct sockaddr_in sa = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    cr_assert_geq(fd, 0);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Read into b until `until` appears `times` times after the headers, the
 * peer closes, or timeout_ms passes. Returns 1 if found. */
static int read_until(int fd, ts_buf *b, const char *until, int times, int timeout_ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    char chunk[4096];

    for (int waited = 0; waited < timeout_ms; waited += 50) {
        const char *body = strstr(b->data ? b->data : "", "\r\n\r\n"), *at;
        int n = 0;
        if (body && until) {
            for (at = body + 4; (at = strstr(at, until)); at += strlen(until))
                n++;
            if (n >= times)
                return 1;
        }
        if (poll(&p, 1, 50) == 1) {
            ssize_t r = read(fd, chunk, sizeof(chunk));
            if (r <= 0)
                return until == NULL;
            ts_buf_append(b, chunk, (size_t)r);
        }
    }
    return 0;
}

/* GET path over HTTP/1.0 (no chunking); the response whole. */
static void get(int port, const char *path, ts_buf *b)
{
    char req[256];
    int fd = connect_to(port);

    ts_buf_init(b, 0);
    snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    cr_assert(read_until(fd, b, NULL, 0, 5000), "no complete answer to %s", path);
    close(fd);
}

static int open_stream(int port)
{
    const char *req = "GET /events HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    int fd = connect_to(port);

    cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    return fd;
}

Test(view_http, page_json_and_events)
{
    ts_http_route routes[TS_VIEW_ROUTES];
    ts_view *v = ts_view_new(3, 10, W);
    char err[256] = "";
    ts_buf b, s = TS_BUF_INIT;
    ts_http *h;
    int port, fd;
    json_t *j;
    const char *body;

    ts_view_routes(v, routes);
    h = ts_http_start_routes("127.0.0.1:0", NULL, NULL, NULL, NULL, routes, err, sizeof(err));
    cr_assert_not_null(h, "%s", err);
    port = ts_http_port(h);

    get(port, "/", &b);
    cr_expect(strstr(b.data, "HTTP/1.0 200") == b.data || strstr(b.data, "HTTP/1.1 200") == b.data,
              "%.40s", b.data);
    cr_expect_not_null(strstr(b.data, "Content-Type: text/html; charset=utf-8"));
    cr_expect_not_null(
        strstr(b.data, "Content-Security-Policy: default-src 'none'; script-src 'self'"));
    cr_expect_not_null(strstr(b.data, "X-Content-Type-Options: nosniff"));
    cr_expect_not_null(strstr(b.data, "<script src=\"/view.js\""));
    ts_buf_free(&b);
    get(port, "/view.js", &b);
    cr_expect_not_null(strstr(b.data, "text/javascript"));
    cr_expect_not_null(strstr(b.data, "EventSource"));
    ts_buf_free(&b);
    get(port, "/nothing", &b);
    cr_expect_not_null(strstr(b.data, " 404 "));
    ts_buf_free(&b);

    /* a stream sends the state at once, then each change */
    fd = open_stream(port);
    cr_assert(read_until(fd, &s, "\n\n", 1, 5000), "no first event: %s", s.data);
    cr_expect_not_null(strstr(s.data, "text/event-stream"));
    cr_expect_not_null(strstr(s.data, "data: {\"version\":0,"));
    add_json(v, "東京", 12, 40000, 60000);
    ts_http_stream_notify(h);
    cr_assert(read_until(fd, &s, "\n\n", 2, 5000), "no second event: %s", s.data);
    cr_expect_not_null(strstr(s.data, "data: {\"version\":1,\"results_total\":1,"));
    cr_expect_not_null(strstr(s.data, "\"hashtag\":\"東京\",\"count\":12"));
    cr_expect_eq(ts_http_stream_count(h), 1);

    get(port, "/api/windows", &b);
    cr_expect_not_null(strstr(b.data, "application/json; charset=utf-8"));
    body = strstr(b.data, "\r\n\r\n") + 4;
    j = json_loads(body, 0, NULL);
    cr_assert_not_null(j, "%s", body);
    cr_expect_str_eq(ranked(j, 0), "東京=12");
    json_decref(j);
    ts_buf_free(&b);

    /* stopping ends the stream */
    ts_http_stop(h);
    cr_expect(read_until(fd, &s, NULL, 0, 3000), "the stream stayed open");
    close(fd);
    ts_buf_free(&s);
    ts_view_destroy(v);
}

Test(view_http, streams_are_limited_and_health_still_answers)
{
    ts_http_route routes[TS_VIEW_ROUTES];
    ts_view *v = ts_view_new(3, 10, W);
    int fds[TS_HTTP_MAX_STREAMS], fd, port;
    char err[256] = "";
    ts_buf b, s = TS_BUF_INIT;
    ts_http *h;

    ts_view_routes(v, routes);
    h = ts_http_start_routes("127.0.0.1:0", NULL, NULL, NULL, NULL, routes, err, sizeof(err));
    cr_assert_not_null(h, "%s", err);
    port = ts_http_port(h);
    for (int i = 0; i < TS_HTTP_MAX_STREAMS; i++) {
        ts_buf one = TS_BUF_INIT;
        fds[i] = open_stream(port);
        cr_assert(read_until(fds[i], &one, "\n\n", 1, 5000), "stream %d: %s", i, one.data);
        ts_buf_free(&one);
    }
    cr_expect_eq(ts_http_stream_count(h), TS_HTTP_MAX_STREAMS);
    fd = open_stream(port);
    cr_assert(read_until(fd, &s, NULL, 0, 5000));
    cr_expect_not_null(strstr(s.data, " 503 "), "%s", s.data);
    close(fd);
    ts_buf_free(&s);
    get(port, "/health", &b);
    cr_expect_not_null(strstr(b.data, " 200 "), "%s", b.data);
    ts_buf_free(&b);
    /* a closed stream frees its place */
    close(fds[0]);
    for (int i = 0; i < 100 && ts_http_stream_count(h) == TS_HTTP_MAX_STREAMS; i++) {
        struct timespec t = {0, 20 * 1000 * 1000};
        /* a write after the peer's reset finds it gone */
        add_json(v, "x", 5 + i, 0, W);
        ts_http_stream_notify(h);
        nanosleep(&t, NULL);
    }
    cr_expect_eq(ts_http_stream_count(h), TS_HTTP_MAX_STREAMS - 1);
    ts_http_stop(h);
    for (int i = 1; i < TS_HTTP_MAX_STREAMS; i++)
        close(fds[i]);
    ts_view_destroy(v);
}

/* A stream outlives the time a request may take and the server's idle
 * timeout (it waits suspended), and still gets the next change. */
Test(view_http, a_quiet_stream_stays_open)
{
    ts_http_route routes[TS_VIEW_ROUTES];
    ts_view *v = ts_view_new(3, 10, W);
    struct timespec quiet = {7, 0};
    char err[256] = "";
    ts_buf s = TS_BUF_INIT;
    ts_http *h;
    int fd;

    ts_view_routes(v, routes);
    h = ts_http_start_routes("127.0.0.1:0", NULL, NULL, NULL, NULL, routes, err, sizeof(err));
    cr_assert_not_null(h, "%s", err);
    fd = open_stream(ts_http_port(h));
    cr_assert(read_until(fd, &s, "\n\n", 1, 5000), "no first event: %s", s.data);
    nanosleep(&quiet, NULL);
    add_json(v, "late", 5, 0, W);
    ts_http_stream_notify(h);
    cr_expect(read_until(fd, &s, "\n\n", 2, 5000), "the stream was closed: %s", s.data);
    cr_expect_not_null(strstr(s.data, "\"hashtag\":\"late\""));
    close(fd);
    ts_http_stop(h);
    ts_buf_free(&s);
    ts_view_destroy(v);
}
