/*
 * ts_emf: the registry as CloudWatch Embedded Metric Format lines. Each line
 * is checked against the structure the EMF specification requires, and its
 * values against the Prometheus text rendered at the same moment.
 */
#include "ts_buf.h"
#include "ts_emf.h"
#include "ts_metrics.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#define NOW_MS 1764460800000LL

/* Convert the registry's text now, into a jansson array of the lines. */
static json_t *emf_lines(ts_emf *e, ts_metrics *m, int64_t now_ms)
{
    ts_buf text, out;
    json_t *lines = json_array();
    size_t off = 0;

    ts_buf_init(&text, 1 << 20);
    ts_buf_init(&out, 1 << 20);
    cr_assert_eq(ts_metrics_render(m, &text), TS_OK);
    cr_assert_eq(ts_emf_convert(e, text.data ? text.data : "", text.len, now_ms, &out), TS_OK);
    while (off < out.len) {
        const char *nl = memchr(out.data + off, '\n', out.len - off);
        json_error_t jerr;
        json_t *line;

        cr_assert_not_null(nl, "every line ends in a newline");
        line = json_loadb(out.data + off, (size_t)(nl - (out.data + off)), 0, &jerr);
        cr_assert_not_null(line, "line is not JSON: %s", jerr.text);
        json_array_append_new(lines, line);
        off = (size_t)(nl - out.data) + 1;
    }
    ts_buf_free(&text);
    ts_buf_free(&out);
    return lines;
}

/*
 * The structure the specification requires of a root node: _aws with an
 * integer Timestamp and a CloudWatchMetrics array of directives; each
 * directive a Namespace, Dimensions (an array of arrays of at most 30
 * strings, each naming a root member whose value is a string) and Metrics
 * (at most 100, each with a Name naming a root member whose value is a number).
 */
static void check_emf_structure(json_t *line, int64_t now_ms)
{
    json_t *aws = json_object_get(line, "_aws"), *dirs, *dir, *dims, *metrics;
    size_t i, j, k;

    cr_assert(json_is_object(aws));
    cr_expect(json_is_integer(json_object_get(aws, "Timestamp")));
    cr_expect_eq(json_integer_value(json_object_get(aws, "Timestamp")), now_ms);
    dirs = json_object_get(aws, "CloudWatchMetrics");
    cr_assert(json_is_array(dirs) && json_array_size(dirs) >= 1);
    json_array_foreach(dirs, i, dir)
    {
        cr_expect(json_is_string(json_object_get(dir, "Namespace")));
        cr_expect_gt(json_string_length(json_object_get(dir, "Namespace")), 0);
        dims = json_object_get(dir, "Dimensions");
        cr_assert(json_is_array(dims));
        json_t *set;
        json_array_foreach(dims, j, set)
        {
            json_t *name;

            cr_assert(json_is_array(set));
            cr_expect_leq(json_array_size(set), 30);
            json_array_foreach(set, k, name)
            {
                json_t *member = json_object_get(line, json_string_value(name));

                cr_expect(json_is_string(member), "dimension %s is not a string member",
                          json_string_value(name));
                cr_expect_gt(json_string_length(member), 0);
            }
        }
        metrics = json_object_get(dir, "Metrics");
        cr_assert(json_is_array(metrics));
        cr_expect_leq(json_array_size(metrics), 100);
        json_t *metric;
        json_array_foreach(metrics, j, metric)
        {
            const char *name = json_string_value(json_object_get(metric, "Name"));
            const char *unit = json_string_value(json_object_get(metric, "Unit"));

            cr_assert_not_null(name);
            cr_expect(json_is_number(json_object_get(line, name)), "metric %s has no number", name);
            cr_expect(unit && (!strcmp(unit, "Count") || !strcmp(unit, "None") ||
                               !strcmp(unit, "Seconds") || !strcmp(unit, "Bytes")));
        }
    }
}

/* The line whose dimension `dim` has `value` (or that has no such member). */
static json_t *find_line(json_t *lines, const char *metric, const char *dim, const char *value)
{
    size_t i;
    json_t *line;

    json_array_foreach(lines, i, line)
    {
        json_t *d = dim ? json_object_get(line, dim) : NULL;

        if (!json_object_get(line, metric))
            continue;
        if (dim ? (d && !strcmp(json_string_value(d), value)) : 1)
            return line;
    }
    return NULL;
}

static double value_of(json_t *lines, const char *metric, const char *dim, const char *value)
{
    json_t *line = find_line(lines, metric, dim, value);

    cr_assert_not_null(line, "no line with %s", metric);
    return json_number_value(json_object_get(line, metric));
}

Test(emf, lines_follow_the_specification_and_carry_the_registry)
{
    ts_metrics *m = ts_metrics_new();
    ts_emf *e = ts_emf_new("tagstream", "app-1");
    static const double bounds[] = {0.01, 0.1, 1};
    ts_counter *in = ts_metrics_counter(m, "tagstream_records_consumed_total", "In.", NULL);
    ts_counter *bad0 = ts_metrics_counter(m, "tagstream_records_skipped_total", "Skipped.",
                                          "reason=\"null_value\"");
    ts_counter *bad1 = ts_metrics_counter(m, "tagstream_records_skipped_total", "Skipped.",
                                          "reason=\"invalid_utf8\"");
    ts_gauge *ready = ts_metrics_gauge(m, "tagstream_ready", "Ready.", NULL);
    ts_gauge *nan = ts_metrics_gauge(m, "tagstream_not_a_number", "NaN.", NULL);
    ts_histogram *lat =
        ts_metrics_histogram(m, "tagstream_commit_latency_seconds", "Commit.", NULL, bounds, 3);
    json_t *lines, *line;
    size_t i;

    ts_counter_add(in, 1000);
    ts_counter_add(bad0, 3);
    ts_counter_add(bad1, 0);
    ts_gauge_set(ready, 1);
    ts_gauge_set(nan, 0.0 / 0.0);
    ts_histogram_observe(lat, 0.05);
    ts_histogram_observe(lat, 0.5);
    lines = emf_lines(e, m, NOW_MS);
    /* two label sets with values: none, and each reason */
    cr_expect_eq(json_array_size(lines), 3);
    json_array_foreach(lines, i, line)
    {
        check_emf_structure(line, NOW_MS);
        cr_expect_str_eq(json_string_value(json_object_get(line, "application")), "app-1");
        cr_expect_str_eq(json_string_value(json_object_get(line, "component")), "emf");
        cr_expect_null(json_object_get(line, "tagstream_not_a_number"));
        cr_expect_null(json_object_get(line, "tagstream_commit_latency_seconds_bucket"));
    }
    cr_expect_eq(value_of(lines, "tagstream_records_consumed_total", NULL, NULL), 1000);
    cr_expect_eq(value_of(lines, "tagstream_ready", NULL, NULL), 1);
    cr_expect_eq(value_of(lines, "tagstream_records_skipped_total", "reason", "null_value"), 3);
    cr_expect_eq(value_of(lines, "tagstream_records_skipped_total", "reason", "invalid_utf8"), 0);
    cr_expect_eq(value_of(lines, "tagstream_commit_latency_seconds_count", NULL, NULL), 2);
    cr_expect_float_eq(value_of(lines, "tagstream_commit_latency_seconds_sum", NULL, NULL), 0.55,
                       1e-9);
    line = find_line(lines, "tagstream_records_skipped_total", "reason", "null_value");
    cr_expect_str_eq(
        json_string_value(json_array_get(
            json_array_get(
                json_object_get(
                    json_array_get(
                        json_object_get(json_object_get(line, "_aws"), "CloudWatchMetrics"), 0),
                    "Dimensions"),
                0),
            1)),
        "reason");
    json_decref(lines);
    ts_emf_destroy(e);
    ts_metrics_destroy(m);
}

Test(emf, counters_are_sent_as_increases_that_add_up_to_the_counter)
{
    ts_metrics *m = ts_metrics_new();
    ts_emf *e = ts_emf_new("ns", "app");
    ts_counter *c = ts_metrics_counter(m, "tagstream_results_emitted_total", "Results.", NULL);
    ts_gauge *g = ts_metrics_gauge(m, "tagstream_cache_entries", "Cache.", NULL);
    double sum = 0;
    json_t *lines;

    for (int round = 0; round < 5; round++) {
        ts_counter_add(c, (uint64_t)(round * 7 + 1));
        ts_gauge_set(g, round * 10);
        lines = emf_lines(e, m, NOW_MS + round * 60000);
        sum += value_of(lines, "tagstream_results_emitted_total", NULL, NULL);
        cr_expect_eq(value_of(lines, "tagstream_results_emitted_total", NULL, NULL), round * 7 + 1,
                     "round %d sends the increase", round);
        cr_expect_eq(value_of(lines, "tagstream_cache_entries", NULL, NULL), round * 10,
                     "a gauge is sent as it is");
        json_decref(lines);
    }
    cr_expect_eq(sum, (double)ts_counter_get(c), "the increases add up to the counter");
    ts_emf_destroy(e);
    ts_metrics_destroy(m);
}

/* A collector's counter that goes down (a librdkafka client was re-created). */
static double collected = 100;

static void collect(void *opaque, ts_buf *out)
{
    (void)opaque;
    ts_buf_printf(out, "tagstream_kafka_tx_messages_total{client=\"p#1\"} %.0f\n", collected);
}

Test(emf, a_counter_that_went_down_is_sent_whole)
{
    ts_metrics *m = ts_metrics_new();
    ts_emf *e = ts_emf_new("ns", "app");
    json_t *lines;

    cr_assert_eq(ts_metrics_add_collector(m, "tagstream_kafka_tx_messages_total", "Tx.", "counter",
                                          collect, NULL),
                 TS_OK);
    collected = 100;
    json_decref(emf_lines(e, m, NOW_MS));
    collected = 40;
    lines = emf_lines(e, m, NOW_MS + 1000);
    cr_expect_eq(value_of(lines, "tagstream_kafka_tx_messages_total", "client", "p#1"), 40);
    json_decref(lines);
    collected = 45;
    lines = emf_lines(e, m, NOW_MS + 2000);
    cr_expect_eq(value_of(lines, "tagstream_kafka_tx_messages_total", "client", "p#1"), 5);
    json_decref(lines);
    ts_emf_destroy(e);
    ts_metrics_destroy(m);
}

Test(emf, label_values_are_unescaped_and_empty_ones_named)
{
    ts_metrics *m = ts_metrics_new();
    ts_emf *e = ts_emf_new("ns", "app");
    char labels[256];
    const char *pairs[] = {"topic", "tw\"it\\ter_ἑλλάς", "task", "", NULL};
    json_t *lines, *line;

    ts_metrics_labels(labels, sizeof(labels), pairs);
    ts_gauge_set(ts_metrics_gauge(m, "tagstream_lag", "Lag.", labels), 12);
    lines = emf_lines(e, m, NOW_MS);
    cr_assert_eq(json_array_size(lines), 1);
    line = json_array_get(lines, 0);
    check_emf_structure(line, NOW_MS);
    cr_expect_str_eq(json_string_value(json_object_get(line, "topic")), "tw\"it\\ter_ἑλλάς");
    cr_expect_str_eq(json_string_value(json_object_get(line, "task")), "none");
    json_decref(lines);
    ts_emf_destroy(e);
    ts_metrics_destroy(m);
}

Test(emf, a_label_set_with_more_than_100_metrics_is_split)
{
    ts_metrics *m = ts_metrics_new();
    ts_emf *e = ts_emf_new("ns", "app");
    json_t *lines, *line;
    size_t i, total = 0;
    char name[64];

    for (int k = 0; k < 250; k++) {
        snprintf(name, sizeof(name), "tagstream_g%03d", k);
        ts_gauge_set(ts_metrics_gauge(m, name, "G.", NULL), k);
    }
    lines = emf_lines(e, m, NOW_MS);
    cr_expect_eq(json_array_size(lines), 3);
    json_array_foreach(lines, i, line)
    {
        check_emf_structure(line, NOW_MS);
        total += json_array_size(json_object_get(
            json_array_get(json_object_get(json_object_get(line, "_aws"), "CloudWatchMetrics"), 0),
            "Metrics"));
    }
    cr_expect_eq(total, 250);
    cr_expect_eq(value_of(lines, "tagstream_g249", NULL, NULL), 249);
    json_decref(lines);
    ts_emf_destroy(e);
    ts_metrics_destroy(m);
}

Test(emf, unreadable_lines_are_skipped)
{
    ts_emf *e = ts_emf_new("ns", "app");
    const char text[] = "# TYPE tagstream_x gauge\n"
                        "tagstream_x{a=\"1\" 5\n"   /* no closing brace */
                        "tagstream_x{a=1} 5\n"      /* unquoted value */
                        "tagstream_x 12abc\n"       /* not a number */
                        "{a=\"1\"} 5\n"             /* no name */
                        "tagstream_x{a=\"}\"} 7\n"; /* a brace inside a value */
    ts_buf out;

    ts_buf_init(&out, 1 << 16);
    cr_assert_eq(ts_emf_convert(e, text, strlen(text), NOW_MS, &out), TS_OK);
    cr_assert_not_null(out.data);
    cr_expect_not_null(strstr(out.data, "\"a\":\"}\""));
    cr_expect_not_null(strstr(out.data, "\"tagstream_x\":7"));
    cr_expect_eq(memchr(out.data, '\n', out.len), out.data + out.len - 1, "one line only");
    ts_buf_free(&out);
    ts_emf_destroy(e);
}

Test(emf, start_refuses_a_short_interval_and_stop_emits_a_last_time)
{
    ts_metrics *m = ts_metrics_new();
    ts_emf *e = ts_emf_new("ns", "app");
    char err[256];

    cr_expect_eq(ts_emf_start(e, m, 10, err, sizeof(err)), TS_ERR_INVALID);
    cr_expect_eq(ts_emf_start(e, m, 1000, err, sizeof(err)), TS_OK);
    ts_emf_stop(e);
    ts_emf_stop(e);
    ts_emf_destroy(NULL);
    ts_emf_destroy(e);
    ts_metrics_destroy(m);
}
