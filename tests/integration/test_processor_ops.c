/*
 * What operators see of a running processor: /health, /ready and /metrics
 * over real HTTP, while records flow and while a large store restores.
 */
#include "httpget.h"
#include "proc.h"
#include "testkit.h"
#include "ts_fs.h"
#include "ts_keys.h"
#include "ts_murmur2.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define WINDOW 20000

static tk_proc start_processor(const char *app, const char *in, const char *out, const char *state)
{
    return tk_processor_start(&(tk_processor_opts){app, state, in, out, "127.0.0.1:0", NULL});
}

/*
 * The CloudWatch EMF lines of a processor's log: the sum of a series'
 * values over every line (a counter's increases add up to the counter) and
 * the number of lines that carried it. `dim`/`value` select the line's
 * dimension (NULL: a line without labels). Each line's directive is checked
 * for the members EMF requires.
 */
static double emf_sum(const tk_proc *p, const char *metric, const char *dim, const char *value,
                      int *lines)
{
    FILE *fp = fopen(p->log, "r");
    char line[65536];
    double sum = 0;

    *lines = 0;
    cr_assert_not_null(fp);
    while (fgets(line, sizeof(line), fp)) {
        json_t *j, *aws, *dir, *m, *d;

        if (!strstr(line, "\"_aws\""))
            continue;
        j = json_loads(line, 0, NULL);
        cr_assert_not_null(j, "an EMF line is not JSON: %s", line);
        aws = json_object_get(j, "_aws");
        dir = json_array_get(json_object_get(aws, "CloudWatchMetrics"), 0);
        cr_expect(json_is_integer(json_object_get(aws, "Timestamp")));
        cr_expect_str_eq(json_string_value(json_object_get(dir, "Namespace")), "tagstream");
        cr_expect_str_eq(json_string_value(json_array_get(
                             json_array_get(json_object_get(dir, "Dimensions"), 0), 0)),
                         "application");
        m = json_object_get(j, metric);
        d = dim ? json_object_get(j, dim) : NULL;
        if (m &&
            (dim ? d && !strcmp(json_string_value(d), value)
                 : json_array_size(json_array_get(json_object_get(dir, "Dimensions"), 0)) == 1)) {
            sum += json_number_value(m);
            (*lines)++;
        }
        json_decref(j);
    }
    fclose(fp);
    return sum;
}

static void stop_ok(tk_proc *p)
{
    int st = tk_proc_stop(p, SIGTERM, 30000);

    cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "clean stop (log %s)", p->log);
}

Test(processor_ops, metrics_move_with_the_records_and_parse, .timeout = 300)
{
    char *app = tk_unique("ops-metrics"), in[256], out[256], state[300], cmd[600], lag[400];
    int64_t B = tk_now_ms() - 3600 * 1000;
    rd_kafka_t *prod;
    tk_proc p;
    char *b;
    int port;
    double before, after;
    FILE *fp;

    B -= B % WINDOW;
    snprintf(in, sizeof(in), "%s-in", app);
    snprintf(out, sizeof(out), "%s-out", app);
    snprintf(state, sizeof(state), "/tmp/%s-state", app);
    tk_create_topic(in, 2, 1, NULL);
    tk_create_topic(out, 2, 1, NULL);
    /* with the CloudWatch EMF lines on, checked against /metrics below */
    p = tk_processor_start(&(tk_processor_opts){
        app, state, in, out, "127.0.0.1:0",
        (const char *const[]){"--metrics.emf", "true", "--metrics.emf.interval.ms", "1000", NULL}});
    port = tk_logged_http_port(&p, 60000);
    cr_expect_eq(tk_http_get(port, "/health", &b), 200, "alive");
    free(b);
    cr_assert(tk_proc_wait_log(&p, "restored", 60000));
    for (int i = 0; i < 50 && tk_http_get(port, "/ready", &b) != 200; i++) {
        free(b);
        usleep(200000);
    }
    cr_expect(strstr(b, "\"status\":\"ok\""), "ready: %s", b);
    free(b);

    cr_assert_eq(tk_http_get(port, "/metrics", &b), 200);
    before = tk_sample(b, "tagstream_records_consumed_total{topic=\"input\"}");
    cr_expect_eq(before, 0, "nothing consumed yet");
    free(b);

    prod = tk_producer(NULL, NULL);
    for (int i = 0; i < 1000; i++) {
        char tag[16];
        snprintf(tag, sizeof(tag), "tag%d", i % 10);
        tk_send(prod, in, i % 2, NULL, 0, tag, strlen(tag), B + i);
    }
    tk_send(prod, in, 0, NULL, 0, "x", 1, B + 10); /* filtered: one unit */
    tk_send(prod, in, 0, NULL, 0, "bad\xff", 4, B + 10);
    tk_flush(prod);
    /* Records of the two input partitions reach a task in any order, and a
     * closer that overtook data would make that data late: close the window
     * only after every data record has been repartitioned and counted. */
    snprintf(cmd, sizeof(cmd), "%s-repartition", app);
    cr_assert(tk_wait_consumed(app, in, 2, 0, 120000), "input not consumed in time");
    cr_assert(tk_wait_consumed(app, cmd, 2, 1, 120000), "repartition not consumed in time");
    /* one closing record for each of the two tasks */
    for (int i = 0, covered = 0; covered != 3; i++) {
        char tag[16];
        int n = snprintf(tag, sizeof(tag), "closer%d", i);
        int bit = 1 << ts_murmur2_partition(tag, (size_t)n, 2);
        if (covered & bit)
            continue;
        covered |= bit;
        tk_send(prod, in, 0, NULL, 0, tag, (size_t)n, B + 2 * WINDOW);
    }
    tk_flush(prod);
    rd_kafka_destroy(prod);

    /* the counters move as records flow; the gauges follow within a second */
    snprintf(lag, sizeof(lag), "tagstream_consumer_lag_records{topic=\"%s\",partition=\"0\"}", in);
    for (int i = 0; i < 300; i++) {
        cr_assert_eq(tk_http_get(port, "/metrics", &b), 200);
        after = tk_sample(b, "tagstream_results_emitted_total");
        if (after >= 10 && tk_sample(b, "tagstream_tasks{state=\"active\"}") == 2 &&
            tk_sample(b, lag) == 0)
            break;
        if (i == 299)
            break; /* keep the last exposition: the expectations below say what is off */
        free(b);
        usleep(200000);
    }
    cr_expect_eq(tk_sample(b, "tagstream_records_consumed_total{topic=\"input\"}"), 1004);
    cr_expect_eq(tk_sample(b, "tagstream_records_filtered_total"), 1);
    cr_expect_eq(tk_sample(b, "tagstream_records_skipped_total{reason=\"invalid_utf8\"}"), 1);
    cr_expect_eq(tk_sample(b, "tagstream_results_emitted_total"), 10, "ten tags, one window");
    cr_expect_eq(tk_sample(b, "tagstream_late_records_dropped_total"), 0);
    cr_expect_gt(tk_sample(b, "tagstream_transactions_committed_total"), 0);
    cr_expect_gt(tk_sample(b, "tagstream_commit_latency_seconds_count"), 0);
    /* two new tasks: two full restores (of empty changelogs), each timed */
    cr_expect_eq(tk_sample(b, "tagstream_restores_total{kind=\"full\"}"), 2);
    cr_expect_eq(tk_sample(b, "tagstream_restore_seconds_count"), 2);
    cr_expect_eq(tk_sample(b, "tagstream_ready"), 1);
    cr_expect_eq(tk_sample(b, "tagstream_tasks{state=\"active\"}"), 2);
    cr_expect_eq(tk_sample(b, lag), 0, "all input consumed: no lag");

    /* Parsed by Prometheus' own checker, not by a pattern of ours. */
    snprintf(cmd, sizeof(cmd), "/tmp/%s.metrics", app);
    fp = fopen(cmd, "w");
    cr_assert_not_null(fp);
    fputs(b, fp);
    fclose(fp);
    free(b);
    {
        char check[1400];
        int rc;
        snprintf(check, sizeof(check), "promtool check metrics < '%s' > '%s.out' 2>&1", cmd, cmd);
        rc = system(check);
        cr_expect_eq(rc, 0, "promtool check metrics failed, see %s.out", cmd);
        snprintf(check, sizeof(check), "test ! -s '%s.out'", cmd);
        cr_expect_eq(system(check), 0, "promtool reported problems, see %s.out", cmd);
    }
    /* These counters no longer move (every record is processed): the EMF
     * increases written until the stop add up to what /metrics showed. */
    stop_ok(&p);
    {
        static const struct {
            const char *metric, *dim, *value;
            double want;
        } c[] = {
            {"tagstream_records_consumed_total", "topic", "input", 1004},
            {"tagstream_records_filtered_total", NULL, NULL, 1},
            {"tagstream_records_skipped_total", "reason", "invalid_utf8", 1},
            {"tagstream_results_emitted_total", NULL, NULL, 10},
        };
        int lines;

        for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
            double got = emf_sum(&p, c[i].metric, c[i].dim, c[i].value, &lines);

            cr_expect_eq(got, c[i].want, "EMF increases of %s add up to %g, /metrics said %g",
                         c[i].metric, got, c[i].want);
            cr_expect_gt(lines, 1, "%s was written more than once", c[i].metric);
        }
    }
    cr_expect_eq(ts_fs_remove_tree(state, NULL, 0), TS_OK, "cannot remove %s", state);
    snprintf(cmd, sizeof(cmd), "/tmp/%s.metrics", app);
    unlink(cmd);
    snprintf(cmd, sizeof(cmd), "/tmp/%s.metrics.out", app);
    unlink(cmd);
    free(app);
}

/*
 * /ready stays false while a large store restores and becomes true after.
 * The changelog is filled directly (its records are the store's bytes), so
 * that the restore is large without processing that much input first.
 */
Test(processor_ops, not_ready_while_restoring, .timeout = 400)
{
    char *app = tk_unique("ops-ready"), in[256], out[256], changelog[256], state[300];
    const char *compact[] = {"cleanup.policy", "compact", NULL};
    const int keys = 1500000;
    int64_t W = tk_now_ms() - 3600 * 1000;
    unsigned char key[64], val[TS_VALUE_LEN];
    rd_kafka_t *prod;
    int saw_not_ready = 0, ready = 0, port;
    tk_proc p;
    char *b;

    W -= W % WINDOW;
    snprintf(in, sizeof(in), "%s-in", app);
    snprintf(out, sizeof(out), "%s-out", app);
    snprintf(changelog, sizeof(changelog), "%s-counts-changelog", app);
    snprintf(state, sizeof(state), "/tmp/%s-state", app);
    tk_create_topic(in, 1, 1, NULL);
    tk_create_topic(out, 1, 1, NULL);
    tk_create_topic(changelog, 1, 1, compact);
    prod = tk_producer(
        NULL, (const char *const[]){"linger.ms", "50", "batch.num.messages", "10000", NULL});
    for (int i = 0; i < keys; i++) {
        char tag[32];
        int n = snprintf(tag, sizeof(tag), "tag%07d", i);
        size_t klen = ts_key_window_encode(key, W, tag, (size_t)n);
        ts_value_encode(val, 1 + i % 7, W + 1);
        tk_send(prod, changelog, 0, key, klen, val, sizeof(val), 0);
    }
    tk_flush(prod);
    rd_kafka_destroy(prod);

    p = start_processor(app, in, out, state);
    port = tk_logged_http_port(&p, 60000);
    for (int i = 0; i < 3000 && !ready; i++) {
        long st = tk_http_get(port, "/ready", &b);
        if (st == 503 && strstr(b, "\"assigned\":false")) {
            /* before the group's first assignment: nothing to restore yet */
            cr_expect(strstr(b, "\"tasks_restoring\":0"), "%s", b);
        } else if (st == 503) {
            saw_not_ready = 1;
            cr_expect(strstr(b, "\"assigned\":true,\"tasks_restoring\":1"),
                      "the detail says why: %s", b);
        } else if (st == 200) {
            ready = 1;
        }
        free(b);
        if (!ready)
            usleep(50000);
    }
    cr_expect(saw_not_ready, "/ready answered 503 during the restore");
    cr_expect(ready, "/ready answered 200 after it");
    cr_expect(tk_proc_log_has(&p, "\"records\":1500000"), "all changelog records replayed");
    stop_ok(&p);
    cr_expect_eq(ts_fs_remove_tree(state, NULL, 0), TS_OK, "cannot remove %s", state);
    free(app);
}
