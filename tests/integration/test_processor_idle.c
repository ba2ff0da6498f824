/*
 * Windows that close on a quiet stream (window.close.idle.ms) against the
 * real broker, with the real processor binary and real signals: a burst
 * followed by silence gets its results without any later record; a kill -9
 * right after such a close neither repeats nor loses them; a record for a
 * window closed this way is late (dropped and counted), also after the
 * restart. The expected output is written out by hand below.
 */
#include "httpget.h"
#include "proc.h"
#include "testkit.h"
#include "ts_fs.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define WINDOW 20000
#define IDLE   "2000"

/* A counter of the processor's /metrics (-1: not there). */
static double metric(tk_proc *p, const char *series)
{
    int port = tk_logged_http_port(p, 60000);
    char *body;
    double v;

    cr_assert_eq(tk_http_get(port, "/metrics", &body), 200, "GET /metrics on port %d", port);
    v = tk_sample(body, series);
    free(body);
    return v;
}

/* The output as "tag@window_start=count" lines, sorted, in buf. */
static size_t output_lines(const char *topic, size_t expect, char *buf, size_t size)
{
    tk_records r = tk_consume_all(topic, 0, expect, expect ? 60000 : 3000);
    char(*v)[128] = calloc(r.n + 1, sizeof(*v));
    size_t n = r.n, off = 0;

    for (size_t i = 0; i < r.n; i++) {
        json_error_t jerr;
        json_t *j = json_loadb(r.v[i].value, r.v[i].value_len, 0, &jerr);
        cr_assert_not_null(j, "result is not JSON: %s", jerr.text);
        snprintf(v[i], sizeof(v[i]), "%s@%lld=%lld",
                 json_string_value(json_object_get(j, "hashtag")),
                 (long long)json_integer_value(json_object_get(j, "window_start")),
                 (long long)json_integer_value(json_object_get(j, "count")));
        json_decref(j);
    }
    qsort(v, n, sizeof(*v), (int (*)(const void *, const void *))strcmp);
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(buf + off, size > off ? size - off : 0, "%s\n", v[i]);
    free(v);
    tk_records_free(&r);
    return n;
}

static void send_n(rd_kafka_t *prod, const char *topic, const char *tag, int n, int64_t ts)
{
    for (int i = 0; i < n; i++)
        tk_send(prod, topic, 0, NULL, 0, tag, strlen(tag), ts + i);
}

static tk_proc start(const char *app, const char *state, const char *in, const char *out)
{
    static const char *const extra[] = {"-X", "window.close.idle.ms=" IDLE, "-X",
                                        "kafka.session.timeout.ms=10000", NULL};
    tk_proc p = tk_processor_start(&(tk_processor_opts){app, state, in, out, "127.0.0.1:0", extra});

    cr_assert(tk_proc_wait_log(&p, "\"msg\":\"task 1_0 restored\"", 120000),
              "task 1_0 not restored (log %s)", p.log);
    return p;
}

Test(processor_idle, quiet_stream_closes_its_windows_once_across_a_kill, .timeout = 400)
{
    char *app = tk_unique("idle"), in[256], out[256], state[300], want[512], got[4096];
    int64_t now = tk_now_ms(), B = now - now % WINDOW - 20 * WINDOW, t0;
    rd_kafka_t *prod = tk_producer(NULL, NULL);
    tk_proc p;
    int st;

    snprintf(in, sizeof(in), "%s-in", app);
    snprintf(out, sizeof(out), "%s-out", app);
    snprintf(state, sizeof(state), "/tmp/%s-state", app);
    tk_create_topic(in, 1, 1, NULL);
    tk_create_topic(out, 1, 1, NULL);
    p = start(app, state, in, out);

    /* A burst in window B, its last record 500 ms before the window's end,
     * then silence: no record ever moves stream time past the end. */
    send_n(prod, in, "alpha", 5, B + 1000);
    send_n(prod, in, "beta", 6, B + 5000);
    send_n(prod, in, "gamma", 3, B + 19497); /* min.count 4: no result */
    tk_flush(prod);
    t0 = tk_now_ms();
    snprintf(want, sizeof(want), "alpha@%lld=5\nbeta@%lld=6\n", (long long)B, (long long)B);
    cr_assert_eq(output_lines(out, 2, got, sizeof(got)), 2,
                 "the quiet window's results came (log %s)", p.log);
    /* Figure, not a check: window.close.idle.ms plus up to one commit. */
    cr_log_info("results %lld ms after the burst (idle %s ms)", (long long)(tk_now_ms() - t0),
                IDLE);
    cr_expect_str_eq(got, want);

    /* kill -9 at once: the close is committed, it must not come again */
    st = tk_proc_stop(&p, SIGKILL, 10000);
    cr_assert(st != -1 && WIFSIGNALED(st), "killed");
    p = start(app, state, in, out);

    /* a record for the window closed by the wall clock: late, after the
     * restart too (the advanced stream time was committed); then a burst
     * in a later window, closed the same way */
    send_n(prod, in, "alpha", 1, B + 2000);
    send_n(prod, in, "delta", 5, B + 2 * WINDOW + 19000);
    tk_flush(prod);
    snprintf(want + strlen(want), sizeof(want) - strlen(want), "delta@%lld=5\n",
             (long long)(B + 2 * WINDOW));
    cr_assert_eq(output_lines(out, 3, got, sizeof(got)), 3, "the second burst's result (log %s)",
                 p.log);
    sleep(3); /* more than the idle time and several commits: nothing else follows */
    output_lines(out, 0, got, sizeof(got));
    cr_expect_str_eq(got, want, "exactly the expected output: nothing twice, nothing lost");
    cr_expect_eq(metric(&p, "tagstream_late_records_dropped_total"), 1,
                 "the record for the closed window was dropped and counted");
    cr_expect_geq(metric(&p, "tagstream_idle_advances_total"), 1);

    st = tk_proc_stop(&p, SIGTERM, 30000);
    cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "clean stop (log %s)", p.log);
    rd_kafka_destroy(prod);
    cr_expect_eq(ts_fs_remove_tree(state, NULL, 0), TS_OK, "cannot remove %s", state);
    free(app);
}
