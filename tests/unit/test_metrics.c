#include "ts_metrics.h"

#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void lag_collector(void *opaque, ts_buf *out)
{
    const int *lag = opaque;

    ts_buf_printf(out, "tagstream_consumer_lag{partition=\"0\"} %d\n", lag[0]);
    ts_buf_printf(out, "tagstream_consumer_lag{partition=\"1\"} %d\n", lag[1]);
}

static char *render(ts_metrics *m)
{
    ts_buf b = TS_BUF_INIT;

    cr_assert_eq(ts_metrics_render(m, &b), TS_OK);
    return ts_buf_take(&b, NULL);
}

Test(metrics, renders_every_kind_exactly)
{
    static const double bounds[] = {0.25, 0.5, 1};
    static int lag[] = {12, 0};
    ts_metrics *m = ts_metrics_new();
    ts_counter *all, *input;
    ts_gauge *tasks;
    ts_histogram *commit;
    char *text;

    cr_assert_not_null(m);
    all = ts_metrics_counter(m, "tagstream_records_total", "Records read.", NULL);
    input = ts_metrics_counter(m, "tagstream_records_total", "ignored: the family has help",
                               "topic=\"twitter_input\"");
    tasks = ts_metrics_gauge(m, "tagstream_tasks", "Tasks assigned\\owned.\nSecond line.", NULL);
    commit = ts_metrics_histogram(m, "tagstream_commit_duration_seconds", "Commit time.",
                                  "kind=\"txn\"", bounds, 3);
    cr_assert(all && input && tasks && commit);
    cr_assert_eq(ts_metrics_add_collector(m, "tagstream_consumer_lag", "Lag per partition.",
                                          "gauge", lag_collector, lag),
                 TS_OK);

    ts_counter_add(all, 3);
    ts_counter_add(input, 5);
    ts_counter_add(input, 1);
    ts_gauge_set(tasks, 4);
    ts_gauge_add(tasks, -1.5);
    ts_histogram_observe(commit, 0.125);
    ts_histogram_observe(commit, 0.25); /* le is inclusive */
    ts_histogram_observe(commit, 0.75);
    ts_histogram_observe(commit, 2);

    text = render(m);
    cr_expect_str_eq(text, "# HELP tagstream_records_total Records read.\n"
                           "# TYPE tagstream_records_total counter\n"
                           "tagstream_records_total 3\n"
                           "tagstream_records_total{topic=\"twitter_input\"} 6\n"
                           "# HELP tagstream_tasks Tasks assigned\\\\owned.\\nSecond line.\n"
                           "# TYPE tagstream_tasks gauge\n"
                           "tagstream_tasks 2.5\n"
                           "# HELP tagstream_commit_duration_seconds Commit time.\n"
                           "# TYPE tagstream_commit_duration_seconds histogram\n"
                           "tagstream_commit_duration_seconds_bucket{kind=\"txn\",le=\"0.25\"} 2\n"
                           "tagstream_commit_duration_seconds_bucket{kind=\"txn\",le=\"0.5\"} 2\n"
                           "tagstream_commit_duration_seconds_bucket{kind=\"txn\",le=\"1\"} 3\n"
                           "tagstream_commit_duration_seconds_bucket{kind=\"txn\",le=\"+Inf\"} 4\n"
                           "tagstream_commit_duration_seconds_sum{kind=\"txn\"} 3.125\n"
                           "tagstream_commit_duration_seconds_count{kind=\"txn\"} 4\n"
                           "# HELP tagstream_consumer_lag Lag per partition.\n"
                           "# TYPE tagstream_consumer_lag gauge\n"
                           "tagstream_consumer_lag{partition=\"0\"} 12\n"
                           "tagstream_consumer_lag{partition=\"1\"} 0\n");
    cr_expect_eq(ts_counter_get(input), 6);
    cr_expect_eq(ts_gauge_get(tasks), 2.5);
    free(text);
    ts_metrics_destroy(m);
}

Test(metrics, histogram_without_labels_and_normalized_bounds)
{
    /* Unsorted, duplicated, and with an explicit +Inf and a NaN: the
     * buckets are 1, 10 and the implicit +Inf. */
    const double bounds[] = {10, 1, INFINITY, 10, NAN};
    ts_metrics *m = ts_metrics_new();
    ts_histogram *h = ts_metrics_histogram(m, "tagstream_batch_records", NULL, NULL, bounds, 5);
    char *text;

    cr_assert_not_null(h);
    ts_histogram_observe(h, 1);
    ts_histogram_observe(h, 11);
    ts_histogram_observe(h, NAN); /* counted in +Inf, makes the sum NaN */
    text = render(m);
    cr_expect_str_eq(text, "# TYPE tagstream_batch_records histogram\n"
                           "tagstream_batch_records_bucket{le=\"1\"} 1\n"
                           "tagstream_batch_records_bucket{le=\"10\"} 1\n"
                           "tagstream_batch_records_bucket{le=\"+Inf\"} 3\n"
                           "tagstream_batch_records_sum NaN\n"
                           "tagstream_batch_records_count 3\n");
    free(text);
    ts_metrics_destroy(m);
}

Test(metrics, histogram_with_no_bounds_has_only_inf)
{
    ts_metrics *m = ts_metrics_new();
    ts_histogram *h = ts_metrics_histogram(m, "tagstream_x", "", NULL, NULL, 0);
    char *text;

    ts_histogram_observe(h, 0.5);
    text = render(m);
    cr_expect_str_eq(text, "# TYPE tagstream_x histogram\n"
                           "tagstream_x_bucket{le=\"+Inf\"} 1\n"
                           "tagstream_x_sum 0.5\n"
                           "tagstream_x_count 1\n");
    free(text);
    ts_metrics_destroy(m);
}

Test(metrics, numbers_parse_back)
{
    static const struct {
        double v;
        const char *text;
    } cases[] = {
        {0.1, "0.1"},
        {-2, "-2"},
        {1e-9, "1e-09"},
        {123456789012, "123456789012"},
        {1.0 / 3, "0.3333333333333333"},
        {0.1 + 0.2, "0.30000000000000004"},
        {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"},
        {NAN, "NaN"},
        {0, "0"},
    };
    ts_metrics *m = ts_metrics_new();
    ts_gauge *g = ts_metrics_gauge(m, "tagstream_g", NULL, NULL);
    ts_counter *c = ts_metrics_counter(m, "tagstream_c_total", NULL, NULL);
    char expect[128], *text;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ts_gauge_set(g, cases[i].v);
        text = render(m);
        snprintf(expect, sizeof(expect),
                 "# TYPE tagstream_g gauge\ntagstream_g %s\n"
                 "# TYPE tagstream_c_total counter\ntagstream_c_total 0\n",
                 cases[i].text);
        cr_expect_str_eq(text, expect, "case %zu", i);
        free(text);
    }
    ts_counter_add(c, UINT64_MAX);
    ts_gauge_set(g, 1);
    text = render(m);
    cr_expect(strstr(text, "\ntagstream_c_total 18446744073709551615\n"), "%s", text);
    free(text);
    ts_metrics_destroy(m);
}

Test(metrics, same_name_and_labels_is_the_same_metric)
{
    static const double b1[] = {1}, b2[] = {2, 3};
    ts_metrics *m = ts_metrics_new();
    ts_counter *a = ts_metrics_counter(m, "tagstream_a_total", "A.", "x=\"1\"");
    ts_histogram *h = ts_metrics_histogram(m, "tagstream_h", "H.", NULL, b1, 1);
    char *text;

    cr_expect_eq(ts_metrics_counter(m, "tagstream_a_total", "A.", "x=\"1\""), a);
    cr_expect_neq(ts_metrics_counter(m, "tagstream_a_total", "A.", "x=\"2\""), a);
    /* NULL and "" are both "no labels". */
    cr_expect_eq(ts_metrics_counter(m, "tagstream_a_total", "A.", NULL),
                 ts_metrics_counter(m, "tagstream_a_total", "A.", ""));
    /* The first registration's bounds stay. */
    cr_expect_eq(ts_metrics_histogram(m, "tagstream_h", "H.", NULL, b2, 2), h);
    /* Another type under a taken name is refused. */
    cr_expect_null(ts_metrics_gauge(m, "tagstream_a_total", "A.", "x=\"1\""));
    cr_expect_null(ts_metrics_histogram(m, "tagstream_a_total", "A.", NULL, b1, 1));
    cr_expect_null(ts_metrics_counter(m, "tagstream_h", "H.", NULL));
    text = render(m);
    cr_expect_str_eq(text, "# HELP tagstream_a_total A.\n"
                           "# TYPE tagstream_a_total counter\n"
                           "tagstream_a_total{x=\"1\"} 0\n"
                           "tagstream_a_total{x=\"2\"} 0\n"
                           "tagstream_a_total 0\n"
                           "# HELP tagstream_h H.\n"
                           "# TYPE tagstream_h histogram\n"
                           "tagstream_h_bucket{le=\"1\"} 0\n"
                           "tagstream_h_bucket{le=\"+Inf\"} 0\n"
                           "tagstream_h_sum 0\n"
                           "tagstream_h_count 0\n");
    free(text);
    ts_metrics_destroy(m);
}

static void empty_collector(void *opaque, ts_buf *out)
{
    (void)opaque;
    (void)out;
}

Test(metrics, collector_names_and_types)
{
    ts_metrics *m = ts_metrics_new();

    cr_assert_not_null(ts_metrics_counter(m, "tagstream_a_total", "A.", NULL));
    cr_expect_eq(
        ts_metrics_add_collector(m, "tagstream_a_total", "A.", "counter", empty_collector, NULL),
        TS_ERR_EXISTS);
    cr_expect_eq(
        ts_metrics_add_collector(m, "tagstream_b", "B.", "histogram", empty_collector, NULL),
        TS_ERR_INVALID);
    cr_expect_eq(ts_metrics_add_collector(m, "tagstream_b", "B.", "gauge", NULL, NULL),
                 TS_ERR_INVALID);
    cr_expect_eq(
        ts_metrics_add_collector(m, "tagstream_c_total", "C.", "counter", empty_collector, NULL),
        TS_OK);
    cr_expect_eq(
        ts_metrics_add_collector(m, "tagstream_c_total", "C.", "counter", empty_collector, NULL),
        TS_ERR_EXISTS);
    /* A collector's name is taken for registered metrics too. */
    cr_expect_null(ts_metrics_counter(m, "tagstream_c_total", "C.", NULL));
    cr_expect_eq(
        ts_metrics_add_collector(NULL, "tagstream_d", "D.", "gauge", empty_collector, NULL),
        TS_ERR_INVALID);
    ts_metrics_destroy(m);
}

Test(metrics, label_values_are_escaped)
{
    const char *pairs[] = {"reason", "a\"b\\c\nd", "topic", "twitter_input", NULL};
    char labels[128], *text;
    ts_metrics *m = ts_metrics_new();

    ts_metrics_labels(labels, sizeof(labels), pairs);
    cr_expect_str_eq(labels, "reason=\"a\\\"b\\\\c\\nd\",topic=\"twitter_input\"");
    ts_counter_add(ts_metrics_counter(m, "tagstream_dropped_total", "D.", labels), 2);
    text = render(m);
    cr_expect_str_eq(
        text, "# HELP tagstream_dropped_total D.\n"
              "# TYPE tagstream_dropped_total counter\n"
              "tagstream_dropped_total{reason=\"a\\\"b\\\\c\\nd\",topic=\"twitter_input\"} 2\n");
    free(text);
    ts_metrics_destroy(m);
}

Test(metrics, labels_that_do_not_fit_keep_whole_pairs)
{
    const char *pairs[] = {"a", "1", "bb", "x\"y", NULL};
    const char *none[] = {NULL};
    char small[15], tiny[4], exact[sizeof("a=\"1\",bb=\"x\\\"y\"")];

    /* a="1",bb="x\"y" needs 16 bytes with its NUL. */
    cr_expect_str_eq(ts_metrics_labels(small, sizeof(small), pairs), "a=\"1\"");
    cr_expect_str_eq(ts_metrics_labels(tiny, sizeof(tiny), pairs), "");
    cr_expect_str_eq(ts_metrics_labels(exact, sizeof(exact), pairs), "a=\"1\",bb=\"x\\\"y\"");
    cr_expect_str_eq(ts_metrics_labels(small, sizeof(small), none), "");
    cr_expect_str_eq(ts_metrics_labels(small, sizeof(small), NULL), "");
    cr_expect_null(ts_metrics_labels(NULL, 0, pairs));
}

Test(metrics, null_handles_do_nothing)
{
    ts_buf b = TS_BUF_INIT;
    const double bounds[] = {1};

    ts_counter_add(NULL, 1);
    ts_gauge_set(NULL, 1);
    ts_gauge_add(NULL, 1);
    ts_histogram_observe(NULL, 1);
    cr_expect_eq(ts_counter_get(NULL), 0);
    cr_expect_eq(ts_gauge_get(NULL), 0.0);
    /* Code without a registry gets NULL handles, and renders nothing. */
    cr_expect_null(ts_metrics_counter(NULL, "tagstream_a_total", "A.", NULL));
    cr_expect_null(ts_metrics_gauge(NULL, "tagstream_a", "A.", NULL));
    cr_expect_null(ts_metrics_histogram(NULL, "tagstream_h", "H.", NULL, bounds, 1));
    cr_expect_eq(ts_metrics_render(NULL, &b), TS_OK);
    cr_expect_eq(b.len, 0);
    ts_metrics_destroy(NULL);
    ts_buf_free(&b);
}

Test(metrics, render_reports_a_full_buffer)
{
    ts_metrics *m = ts_metrics_new();
    ts_buf b;

    ts_buf_init(&b, 16);
    ts_metrics_counter(m, "tagstream_records_total", "Records read.", NULL);
    cr_expect_eq(ts_metrics_render(m, &b), TS_ERR_NOMEM);
    ts_buf_free(&b);
    ts_metrics_destroy(m);
}

#define THREADS 4
#define ROUNDS  100000

struct hammer {
    ts_metrics *m;
    pthread_barrier_t *start;
    int id;
};

static void *hammer_thread(void *arg)
{
    static const double bounds[] = {1, 2};
    struct hammer *t = arg;
    /* Every thread registers too: registration races with updates and renders. */
    ts_counter *c = ts_metrics_counter(t->m, "tagstream_ops_total", "Ops.", NULL);
    ts_gauge *g = ts_metrics_gauge(t->m, "tagstream_level", "Level.", NULL);
    ts_histogram *h = ts_metrics_histogram(t->m, "tagstream_size", "Size.", NULL, bounds, 2);
    char labels[32];
    ts_counter *own;

    snprintf(labels, sizeof(labels), "thread=\"%d\"", t->id);
    own = ts_metrics_counter(t->m, "tagstream_thread_ops_total", "Ops by thread.", labels);
    pthread_barrier_wait(t->start);
    for (int i = 0; i < ROUNDS; i++) {
        ts_counter_add(c, 1);
        ts_counter_add(own, 2);
        ts_gauge_add(g, 1.0);
        ts_gauge_add(g, 0.5);
        ts_histogram_observe(h, (double)(i % 3)); /* 0, 1, 2: into le=1, le=1, le=2 */
    }
    return NULL;
}

/* Renders while the others update: +Inf and _count must always agree. */
static void *render_thread(void *arg)
{
    struct hammer *t = arg;
    int consistent = 1;

    pthread_barrier_wait(t->start);
    for (int i = 0; i < 200; i++) {
        ts_buf b = TS_BUF_INIT;
        unsigned long long inf = 0, count = 0;
        const char *p;

        if (ts_metrics_render(t->m, &b) != TS_OK || !b.data)
            consistent = 0;
        p = b.data ? strstr(b.data, "tagstream_size_bucket{le=\"+Inf\"} ") : NULL;
        if (p)
            inf = strtoull(p + strlen("tagstream_size_bucket{le=\"+Inf\"} "), NULL, 10);
        p = b.data ? strstr(b.data, "tagstream_size_count ") : NULL;
        if (p)
            count = strtoull(p + strlen("tagstream_size_count "), NULL, 10);
        if (inf != count)
            consistent = 0;
        ts_buf_free(&b);
    }
    return consistent ? (void *)1 : NULL;
}

Test(metrics, concurrent_updates_are_exact)
{
    ts_metrics *m = ts_metrics_new();
    pthread_barrier_t start;
    pthread_t tid[THREADS + 1];
    struct hammer t[THREADS + 1];
    void *consistent;
    char *text, line[128];

    pthread_barrier_init(&start, NULL, THREADS + 1);
    for (int i = 0; i <= THREADS; i++) {
        t[i] = (struct hammer){m, &start, i};
        cr_assert_eq(
            pthread_create(&tid[i], NULL, i < THREADS ? hammer_thread : render_thread, &t[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(tid[i], NULL);
    pthread_join(tid[THREADS], &consistent);
    pthread_barrier_destroy(&start);
    cr_expect_not_null(consistent, "+Inf bucket and _count differed in a render");

    text = render(m);
    cr_expect(strstr(text, "\ntagstream_ops_total 400000\n"), "%s", text);
    cr_expect(strstr(text, "\ntagstream_level 600000\n"), "%s", text);
    /* Per round of three: 0 and 1 in le=1, 2 in le=2. 100000 = 33334 + 33333 + 33333. */
    cr_expect(strstr(text, "\ntagstream_size_bucket{le=\"1\"} 266668\n"), "%s", text);
    cr_expect(strstr(text, "\ntagstream_size_bucket{le=\"2\"} 400000\n"), "%s", text);
    cr_expect(strstr(text, "\ntagstream_size_bucket{le=\"+Inf\"} 400000\n"), "%s", text);
    cr_expect(strstr(text, "\ntagstream_size_sum 399996\n"), "%s", text);
    cr_expect(strstr(text, "\ntagstream_size_count 400000\n"), "%s", text);
    for (int i = 0; i < THREADS; i++) {
        snprintf(line, sizeof(line), "\ntagstream_thread_ops_total{thread=\"%d\"} 200000\n", i);
        cr_expect(strstr(text, line), "%s", line);
    }
    free(text);
    ts_metrics_destroy(m);
}

/*
 * The Prometheus text parser and linter (promtool, from Debian's prometheus
 * package, installed by infra/setup) must accept a registry with every kind
 * of metric and no naming problems. A missing promtool fails the test.
 */
static char tmpdir[] = "/tmp/ts-metrics-XXXXXX";

static void promtool_setup(void)
{
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void promtool_teardown(void)
{
    char path[sizeof(tmpdir) + 32];

    snprintf(path, sizeof(path), "%s/metrics.txt", tmpdir);
    unlink(path);
    rmdir(tmpdir);
}

static void promtool_collector(void *opaque, ts_buf *out)
{
    (void)opaque;
    ts_buf_puts(out, "tagstream_librdkafka_tx_bytes_total{broker=\"1\"} 1024\n");
}

Test(metrics, promtool_accepts_the_output, .init = promtool_setup, .fini = promtool_teardown)
{
    static const double bounds[] = {0.005, 0.05, 0.5, 5};
    static int lag[] = {3, 7};
    const char *pairs[] = {"reason", "quote\" back\\slash\nnewline", "topic", "twitter_input",
                           NULL};
    ts_metrics *m = ts_metrics_new();
    char labels[256], path[sizeof(tmpdir) + 32], cmd[sizeof(path) + 64], output[4096];
    ts_histogram *h;
    size_t n = 0;
    FILE *f, *p;
    char *text;
    int status;

    /* The image's build stage runs the unit tests without Prometheus (its
     * package is large and only this check needs it); the host build, where
     * infra/setup installs promtool, always checks. */
    if (getenv("TAGSTREAM_TEST_NO_PROMTOOL")) {
        ts_metrics_destroy(m);
        cr_skip_test("TAGSTREAM_TEST_NO_PROMTOOL is set: promtool is checked on the host build");
    }

    ts_counter_add(ts_metrics_counter(m, "tagstream_records_read_total", "Records read.", NULL),
                   42);
    ts_metrics_labels(labels, sizeof(labels), pairs);
    ts_counter_add(ts_metrics_counter(m, "tagstream_records_dropped_total",
                                      "Records dropped, by reason.\nSecond \\ line.", labels),
                   1);
    ts_gauge_set(ts_metrics_gauge(m, "tagstream_tasks_restoring", "Tasks restoring.", NULL), 2);
    ts_gauge_set(ts_metrics_gauge(m, "tagstream_stream_time_seconds", "Stream time.", NULL),
                 1764115200.25);
    ts_gauge_set(ts_metrics_gauge(m, "tagstream_window_ratio", "A ratio.", "kind=\"nan\""), NAN);
    ts_gauge_set(ts_metrics_gauge(m, "tagstream_window_ratio", "A ratio.", "kind=\"inf\""),
                 INFINITY);
    h = ts_metrics_histogram(m, "tagstream_commit_duration_seconds", "Commit time.", NULL, bounds,
                             4);
    ts_histogram_observe(h, 0.01);
    ts_histogram_observe(h, 7);
    ts_histogram_observe(ts_metrics_histogram(m, "tagstream_commit_duration_seconds",
                                              "Commit time.", "outcome=\"abort\"", bounds, 4),
                         0.1);
    cr_assert_eq(ts_metrics_add_collector(m, "tagstream_consumer_lag", "Lag per partition.",
                                          "gauge", lag_collector, lag),
                 TS_OK);
    cr_assert_eq(ts_metrics_add_collector(m, "tagstream_librdkafka_tx_bytes_total",
                                          "Bytes sent to brokers.", "counter", promtool_collector,
                                          NULL),
                 TS_OK);
    text = render(m);
    ts_metrics_destroy(m);

    snprintf(path, sizeof(path), "%s/metrics.txt", tmpdir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
    free(text);

    snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s' 2>&1", path);
    p = popen(cmd, "r");
    cr_assert_not_null(p);
    n = fread(output, 1, sizeof(output) - 1, p);
    output[n] = '\0';
    status = pclose(p);
    cr_assert(WIFEXITED(status), "promtool did not exit");
    cr_expect_neq(WEXITSTATUS(status), 127, "promtool is not installed (infra/setup): %s", output);
    cr_expect_eq(WEXITSTATUS(status), 0, "promtool exit %d: %s", WEXITSTATUS(status), output);
    cr_expect_str_eq(output, "", "promtool reported problems");
}
