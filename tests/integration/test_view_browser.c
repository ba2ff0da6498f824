/*
 * tagstream-view in a real browser: headless Chromium loads the page from a
 * view reading a real broker, and the test reads the page's DOM (over the
 * DevTools protocol) to check that the ranked hashtags, counts, window
 * ranges and totals shown are exactly the results committed to the output
 * topic, in both output formats, non-Latin and hostile hashtags included;
 * that an aborted transaction's results never show; and it prints the
 * update latency from a commit to the page. A screenshot and the DOM are
 * kept in $TAGSTREAM_ARTIFACT_DIR.
 */
#include "browser.h"
#include "proc.h"
#include "testkit.h"
#include "ts_fs.h"

#include <criterion/criterion.h>
#include <jansson.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TXN_TIMEOUT 30000
#define W           20000
#define WAIT_MS     30000
#define LAT_ROUNDS  10 /* $TAGSTREAM_VIEW_LATENCY_ROUNDS: more, up to MAX_ROUNDS */
#define MAX_ROUNDS  1000

typedef struct result {
    const char *tag;
    long long count;
    long long ts; /* long format: the record timestamp */
} result;

static void txn_ok(rd_kafka_error_t *e, const char *what)
{
    cr_assert_null(e, "%s: %s", what, e ? rd_kafka_error_string(e) : "");
}

/* The view on a free port, reading topic; returns the port. */
static int start_view(tk_proc *view, const char *topic)
{
    const char *args[] = {"--bootstrap.servers",
                          tk_bootstrap(),
                          "--output.topic",
                          topic,
                          "--http.listen",
                          "127.0.0.1:0",
                          "--view.windows",
                          "4",
                          NULL};
    char line[512];
    int port = 0;
    FILE *fp;

    *view = tk_proc_start("tagstream-view", args);
    cr_assert(tk_proc_wait_log(view, "reading partitions", WAIT_MS), "the view did not start (%s)",
              view->log);
    fp = fopen(view->log, "r");
    cr_assert_not_null(fp);
    while (fgets(line, sizeof(line), fp)) {
        const char *at = strstr(line, "page on port ");
        if (at)
            port = atoi(at + 13);
    }
    fclose(fp);
    cr_assert_gt(port, 0, "no port in %s", view->log);
    return port;
}

static void send_json(rd_kafka_t *p, const char *topic, const result *r, long long start)
{
    json_t *j = json_pack("{s:s,s:I,s:I,s:I}", "hashtag", r->tag, "count", r->count, "window_start",
                          start, "window_end", start + W);
    char *v = json_dumps(j, JSON_COMPACT);

    tk_send(p, topic, RD_KAFKA_PARTITION_UA, r->tag, strlen(r->tag), v, strlen(v), start + W - 1);
    free(v);
    json_decref(j);
}

static void send_long(rd_kafka_t *p, const char *topic, const result *r)
{
    unsigned char be[8];

    for (int i = 0; i < 8; i++)
        be[i] = (unsigned char)((unsigned long long)r->count >> (56 - 8 * i));
    tk_send(p, topic, RD_KAFKA_PARTITION_UA, r->tag, strlen(r->tag), be, 8, r->ts);
}

static int rank_cmp(const void *a, const void *b)
{
    const result *x = a, *y = b;

    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->tag, y->tag); /* bytes, as unsigned char */
}

/* "#tag=count,..." ranked as the page must show them. */
static char *expected_ranking(const result *rs, size_t n)
{
    result *sorted = malloc(n * sizeof(*sorted));
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);

    memcpy(sorted, rs, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), rank_cmp);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s#%s=%lld", i ? "," : "", sorted[i].tag,
                                sorted[i].count);
    free(sorted);
    return out;
}

/* What the page shows, read from its DOM. */
static const char *const dom_expr =
    "({version: document.body.dataset.version,"
    " renderedMs: Number(document.body.dataset.renderedMs || 0),"
    " total: document.getElementById('total').textContent,"
    " text: document.body.textContent,"
    " injected: document.querySelectorAll('img, script:not([src]), [onerror]').length,"
    " windows: [...document.querySelectorAll('section.window')].map(w => ({"
    "   start: Number(w.dataset.start), end: Number(w.dataset.end),"
    "   heading: w.querySelector('h2').firstChild.textContent,"
    "   tags: [...w.querySelectorAll('li.tag')].map(li =>"
    "     li.querySelector('.name').textContent + '=' + li.querySelector('.count').textContent"
    "   ).join(',')}))})";

static json_t *dom(tk_browser *b)
{
    char *text = tk_browser_eval(b, dom_expr);
    json_t *j = json_loads(text, 0, NULL);

    cr_assert_not_null(j, "%s", text);
    free(text);
    return j;
}

/* Wait until the page shows `total` results seen; returns its DOM. */
static json_t *wait_total(tk_browser *b, const char *total)
{
    int64_t deadline = tk_now_ms() + WAIT_MS;
    json_t *j;

    for (;;) {
        j = dom(b);
        if (!strcmp(json_string_value(json_object_get(j, "total")), total))
            return j;
        cr_assert_lt(tk_now_ms(), deadline, "the page still shows %s results, not %s",
                     json_string_value(json_object_get(j, "total")), total);
        json_decref(j);
        usleep(20000);
    }
}

static json_t *window_at(json_t *d, long long start)
{
    size_t i;
    json_t *w;

    json_array_foreach(json_object_get(d, "windows"), i,
                       w) if (json_integer_value(json_object_get(w, "start")) == start) return w;
    cr_assert_fail("no window starting at %lld on the page", start);
    return NULL;
}

static void expect_window(json_t *d, long long start, const result *rs, size_t n)
{
    json_t *w = window_at(d, start);
    char *want = expected_ranking(rs, n), from[32], heading[64];
    time_t t = (time_t)(start / 1000);
    struct tm tm;

    cr_expect_eq(json_integer_value(json_object_get(w, "end")), start + W);
    cr_expect_str_eq(json_string_value(json_object_get(w, "tags")), want, "window %lld", start);
    gmtime_r(&t, &tm);
    strftime(from, sizeof(from), "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(heading, sizeof(heading), "%s – ", from);
    cr_expect(!strncmp(json_string_value(json_object_get(w, "heading")), heading, strlen(heading)),
              "heading \"%s\", want it to start with \"%s\"",
              json_string_value(json_object_get(w, "heading")), heading);
    free(want);
}

static void artifact(const char *name, char *path, size_t size)
{
    const char *dir = getenv("TAGSTREAM_ARTIFACT_DIR");

    snprintf(path, size, "%s/%s", dir && *dir ? dir : ".", name);
}

static char *url_of(int port)
{
    static char url[64];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    return url;
}

static int ms_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

static int latency_rounds(void)
{
    const char *v = getenv("TAGSTREAM_VIEW_LATENCY_ROUNDS");
    int n = v ? atoi(v) : LAT_ROUNDS;

    return n < 1 ? LAT_ROUNDS : n > MAX_ROUNDS ? MAX_ROUNDS : n;
}

/* A figure, not a check: the machine's load decides it. */
static void print_latency(const char *from, const int64_t *ms, int n)
{
    int64_t *sorted = malloc((size_t)n * sizeof(*sorted));

    memcpy(sorted, ms, (size_t)n * sizeof(*sorted));
    qsort(sorted, (size_t)n, sizeof(sorted[0]), ms_cmp);
    printf("view: update latency, %s -> page rendered: min %lld, median %lld, p90 %lld, "
           "max %lld ms (%d commits)\n",
           from, (long long)sorted[0], (long long)sorted[n / 2], (long long)sorted[n * 9 / 10],
           (long long)sorted[n - 1], n);
    fflush(stdout);
    free(sorted);
}

static void stop_view(tk_proc *view)
{
    /* with the browser's event stream still open */
    cr_expect_eq(tk_proc_stop(view, SIGTERM, 10000), 0, "the view did not stop cleanly (%s)",
                 view->log);
}

Test(view_browser, shows_the_committed_results_ranked, .timeout = 240)
{
    /* json: one window; long: the next, placed by record timestamps */
    const result a[] = {
        {"東京", 12, 0},  {"кофе", 9, 0},
        {"rust", 7, 0},   {"ελλάδα", 7, 0},
        {"עברית", 8, 0},  {"😀emoji", 5, 0},
        {"हिन्दी", 10, 0}, {"</script><img src=x onerror=\"document.title='pwned'\">", 6, 0},
    };
    result b[] = {{"한국어", 15, 0}, {"café", 6, 1}, {"rust", 11, W - 1}, {"العربية", 13, 777}};
    char *topic = tk_unique("view-out"), *txid = tk_unique("view-txid"), path[512];
    long long base = (tk_now_ms() / W) * W - 4 * W;
    int rounds = latency_rounds();
    int64_t *lat = calloc(MAX_ROUNDS, sizeof(int64_t)),
            *lat_begin = calloc(MAX_ROUNDS, sizeof(int64_t));
    tk_proc view;
    tk_browser *br;
    rd_kafka_t *p;
    json_t *d;
    char *html;
    FILE *fp;
    int port;

    if (!tk_browser_available())
        cr_skip_test("no chromium here (infra/setup installs it)");
    tk_create_topic(topic, 3, 1, NULL);
    port = start_view(&view, topic);
    p = tk_producer(txid, NULL);
    txn_ok(rd_kafka_init_transactions(p, TXN_TIMEOUT), "init");
    txn_ok(rd_kafka_begin_transaction(p), "begin");
    for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++)
        send_json(p, topic, &a[i], base);
    for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
        b[i].ts += base + W;
        send_long(p, topic, &b[i]);
    }
    txn_ok(rd_kafka_commit_transaction(p, TXN_TIMEOUT), "commit");

    br = tk_browser_open(url_of(port));
    d = wait_total(br, "12");
    expect_window(d, base, a, sizeof(a) / sizeof(a[0]));
    expect_window(d, base + W, b, sizeof(b) / sizeof(b[0]));
    cr_expect_eq(json_array_size(json_object_get(d, "windows")), 2);
    cr_expect_eq(json_integer_value(
                     json_object_get(json_array_get(json_object_get(d, "windows"), 0), "start")),
                 base + W, "the newest window comes first");
    cr_expect_eq(json_integer_value(json_object_get(d, "injected")), 0, "markup from a hashtag");
    json_decref(d);
    html = tk_browser_eval(br, "document.title");
    cr_expect_str_eq(html, "\"tagstream — trending hashtags\"");
    free(html);

    artifact("view-browser.png", path, sizeof(path));
    tk_browser_screenshot(br, path);
    printf("view: screenshot %s\n", path);
    artifact("view-browser.html", path, sizeof(path));
    html = tk_browser_eval(br, "document.documentElement.outerHTML");
    fp = fopen(path, "w");
    if (fp) {
        json_t *s = json_loads(html, JSON_DECODE_ANY, NULL);
        fputs(json_string_value(s), fp);
        fclose(fp);
        json_decref(s);
    }
    free(html);

    /* Update latency: a commit, then the time the page rendered it. */
    for (int i = 0; i < rounds; i++) {
        char tag[32], total[16], expr[256];
        result r = {tag, 20 + i, 0};
        int64_t begun, done;

        snprintf(tag, sizeof(tag), "latency%d", i);
        txn_ok(rd_kafka_begin_transaction(p), "begin");
        send_json(p, topic, &r, base + 2 * W);
        tk_flush(p);
        begun = tk_now_ms();
        txn_ok(rd_kafka_commit_transaction(p, TXN_TIMEOUT), "commit");
        done = tk_now_ms();
        snprintf(total, sizeof(total), "%d", 13 + i);
        d = wait_total(br, total);
        snprintf(expr, sizeof(expr), "#%s=%d", tag, 20 + i);
        cr_expect_not_null(
            strstr(json_string_value(json_object_get(window_at(d, base + 2 * W), "tags")), expr));
        lat[i] = (int64_t)json_integer_value(json_object_get(d, "renderedMs")) - done;
        lat_begin[i] = (int64_t)json_integer_value(json_object_get(d, "renderedMs")) - begun;
        json_decref(d);
    }
    print_latency("commit called", lat_begin, rounds);
    print_latency("commit returned", lat, rounds);
    free(lat);
    free(lat_begin);

    stop_view(&view);
    tk_browser_close(br);
    rd_kafka_destroy(p);
    tk_delete_topic(topic);
    free(topic);
    free(txid);
}

Test(view_browser, an_aborted_transaction_never_shows, .timeout = 240)
{
    const result aborted[] = {{"aborted_one", 50, 0}, {"aborted_two", 40, 0}, {"東京", 99, 0}};
    const result committed[] = {{"committed_marker", 7, 0}};
    char *topic = tk_unique("view-abort"), *txid = tk_unique("view-txid"), *api;
    long long base = (tk_now_ms() / W) * W - 2 * W;
    tk_proc view;
    tk_browser *br;
    rd_kafka_t *p;
    json_t *d;
    int port;

    if (!tk_browser_available())
        cr_skip_test("no chromium here (infra/setup installs it)");
    tk_create_topic(topic, 3, 1, NULL);
    port = start_view(&view, topic);
    br = tk_browser_open(url_of(port));
    json_decref(wait_total(br, "0"));

    p = tk_producer(txid, NULL);
    txn_ok(rd_kafka_init_transactions(p, TXN_TIMEOUT), "init");
    txn_ok(rd_kafka_begin_transaction(p), "begin");
    for (size_t i = 0; i < 3; i++)
        send_json(p, topic, &aborted[i], base);
    cr_assert_eq(rd_kafka_flush(p, TXN_TIMEOUT), 0, "the aborted results reach the log");
    txn_ok(rd_kafka_abort_transaction(p, TXN_TIMEOUT), "abort");
    txn_ok(rd_kafka_begin_transaction(p), "begin");
    send_json(p, topic, &committed[0], base);
    txn_ok(rd_kafka_commit_transaction(p, TXN_TIMEOUT), "commit");

    /* Once the later, committed result shows, the aborted ones were passed. */
    d = wait_total(br, "1");
    expect_window(d, base, committed, 1);
    cr_expect_null(strstr(json_string_value(json_object_get(d, "text")), "aborted"));
    cr_expect_null(strstr(json_string_value(json_object_get(d, "text")), "東京"));
    json_decref(d);
    api = tk_browser_eval(br, "fetch('/api/windows').then(r => r.text())");
    cr_expect_null(strstr(api, "aborted"), "%s", api);
    cr_expect_not_null(strstr(api, "committed_marker"), "%s", api);
    free(api);

    stop_view(&view);
    tk_browser_close(br);
    rd_kafka_destroy(p);
    tk_delete_topic(topic);
    free(topic);
    free(txid);
}

/* The whole pipeline: a real processor writing output.format=long (the
 * window is not in the record), the view placing each result by its
 * timestamp, and the page showing what the processor committed. */
Test(view_browser, a_real_processor_in_long_format, .timeout = 240)
{
    static const struct {
        const char *tag;
        int n;
        int window;
    } in[] = {
        {"東京", 7, 0}, {"RUST", 3, 0},   {"rust", 3, 0}, {"Ελλάδα", 5, 0},
        {"few", 2, 0},  {"한국어", 8, 1}, {"кофе", 5, 1}, {"#café", 6, 1},
    };
    char *app = tk_unique("view-pipe"), input[256], output[256], state[300];
    long long base = (tk_now_ms() - 2 * 3600 * 1000) / W * W;
    result *want[2] = {calloc(16, sizeof(result)), calloc(16, sizeof(result))};
    size_t nwant[2] = {0, 0};
    tk_records out;
    tk_proc view, proc;
    tk_browser *br;
    rd_kafka_t *p;
    json_t *d;
    char total[16];
    int port, k = 0;

    if (!tk_browser_available())
        cr_skip_test("no chromium here (infra/setup installs it)");
    snprintf(input, sizeof(input), "%s-in", app);
    snprintf(output, sizeof(output), "%s-out", app);
    snprintf(state, sizeof(state), "/tmp/%s-state", app);
    /* one input partition: one task, whose stream time the last record moves */
    tk_create_topic(input, 1, 1, NULL);
    tk_create_topic(output, 2, 1, NULL);
    {
        const char *extra[] = {"--output.format", "long", NULL};
        tk_processor_opts o = {app, state, input, output, "", extra};

        proc = tk_processor_start(&o);
    }
    port = start_view(&view, output);

    p = tk_producer(NULL, NULL);
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
        for (int j = 0; j < in[i].n; j++)
            tk_send(p, input, 0, NULL, 0, in[i].tag, strlen(in[i].tag),
                    base + in[i].window * W + 1000 * (k++ % 19));
    /* closes both windows (its own stays open, so it is never emitted) */
    tk_send(p, input, 0, NULL, 0, "closer", 6, base + 2 * W + 5);
    tk_flush(p);

    out = tk_consume_all(output, 0, 6, 60000);
    cr_assert_eq(out.n, 6, "the processor committed %zu results, want 6 (log %s)", out.n, proc.log);
    for (size_t i = 0; i < out.n; i++) {
        const unsigned char *v = (const unsigned char *)out.v[i].value;
        int w = (int)((out.v[i].timestamp - base) / W);
        result *r;
        cr_assert_eq(out.v[i].value_len, 8);
        cr_assert(w == 0 || w == 1, "a result outside the two windows");
        r = &want[w][nwant[w]++];
        r->tag = out.v[i].key;
        for (int b = 0; b < 8; b++)
            r->count = r->count << 8 | v[b];
    }
    br = tk_browser_open(url_of(port));
    snprintf(total, sizeof(total), "%zu", out.n);
    d = wait_total(br, total);
    expect_window(d, base, want[0], nwant[0]);
    expect_window(d, base + W, want[1], nwant[1]);
    json_decref(d);

    stop_view(&view);
    tk_browser_close(br);
    cr_expect_eq(tk_proc_stop(&proc, SIGTERM, 20000), 0, "the processor did not stop cleanly");
    rd_kafka_destroy(p);
    tk_records_free(&out);
    cr_expect_eq(ts_fs_remove_tree(state, NULL, 0), TS_OK);
    free(want[0]);
    free(want[1]);
    free(app);
}
