/*
 * The processor end to end against the real broker: the real
 * tagstream-processor binary, real RocksDB state directories, real signals.
 * Every expected output here is computed by the test itself (by hand for the
 * hand-written input, by counting for the generated one), never by the
 * processor's own code.
 */
#include "proc.h"
#include "testkit.h"
#include "ts_fs.h"
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

/* One output record, decoded. */
typedef struct result {
    char tag[128];
    int64_t count;
    int64_t window_start;
} result;

typedef struct results {
    result *v;
    size_t n;
} results;

static int result_cmp(const void *a, const void *b)
{
    const result *x = a, *y = b;

    if (x->window_start != y->window_start)
        return x->window_start < y->window_start ? -1 : 1;
    return strcmp(x->tag, y->tag);
}

/* Base time of a test: two hours ago, on a window boundary. */
static int64_t base_time(void)
{
    int64_t t = tk_now_ms() - 2 * 3600 * 1000;

    return t - t % WINDOW;
}

/* Decode the output topic (json or long format). Long values carry no window:
 * it is the window of the record's timestamp (the window's newest record). */
static results decode_output(const tk_records *r, int long_format)
{
    results out = {calloc(r->n + 1, sizeof(result)), r->n};

    for (size_t i = 0; i < r->n; i++) {
        result *o = &out.v[i];
        cr_assert_not_null(r->v[i].key, "result without a key");
        snprintf(o->tag, sizeof(o->tag), "%.*s", (int)r->v[i].key_len, r->v[i].key);
        if (long_format) {
            const unsigned char *v = (const unsigned char *)r->v[i].value;
            cr_assert_eq(r->v[i].value_len, 8, "a long value is 8 bytes");
            o->count = 0;
            for (int k = 0; k < 8; k++)
                o->count = (o->count << 8) | v[k];
            o->window_start = r->v[i].timestamp - r->v[i].timestamp % WINDOW;
        } else {
            json_error_t jerr;
            json_t *j = json_loadb(r->v[i].value, r->v[i].value_len, 0, &jerr);
            cr_assert_not_null(j, "result is not JSON: %s", jerr.text);
            cr_assert_str_eq(json_string_value(json_object_get(j, "hashtag")), o->tag,
                             "the key is the hashtag");
            o->count = json_integer_value(json_object_get(j, "count"));
            o->window_start = json_integer_value(json_object_get(j, "window_start"));
            cr_assert_eq(json_integer_value(json_object_get(j, "window_end")),
                         o->window_start + WINDOW);
            cr_assert_geq(r->v[i].timestamp, o->window_start, "timestamp inside the window");
            cr_assert_lt(r->v[i].timestamp, o->window_start + WINDOW);
            json_decref(j);
        }
    }
    qsort(out.v, out.n, sizeof(result), result_cmp);
    return out;
}

/* Exactly the expected results: nothing missing, nothing extra, nothing twice. */
static void expect_results(results *got, results *want)
{
    size_t i = 0, j = 0, missing = 0, extra = 0, wrong = 0, dup = 0;

    qsort(want->v, want->n, sizeof(result), result_cmp);
    for (size_t k = 1; k < got->n; k++)
        if (!result_cmp(&got->v[k - 1], &got->v[k])) {
            dup++;
            cr_log_error("duplicate: %s @%lld", got->v[k].tag, (long long)got->v[k].window_start);
        }
    while (i < got->n || j < want->n) {
        int c = i == got->n ? 1 : j == want->n ? -1 : result_cmp(&got->v[i], &want->v[j]);
        if (c < 0) {
            if (i == 0 || result_cmp(&got->v[i - 1], &got->v[i])) {
                extra++;
                cr_log_error("extra: %s @%lld = %lld", got->v[i].tag,
                             (long long)got->v[i].window_start, (long long)got->v[i].count);
            }
            i++;
        } else if (c > 0) {
            missing++;
            cr_log_error("missing: %s @%lld = %lld", want->v[j].tag,
                         (long long)want->v[j].window_start, (long long)want->v[j].count);
            j++;
        } else {
            if (got->v[i].count != want->v[j].count) {
                wrong++;
                cr_log_error("wrong count: %s @%lld = %lld, want %lld", want->v[j].tag,
                             (long long)want->v[j].window_start, (long long)got->v[i].count,
                             (long long)want->v[j].count);
            }
            i++;
            j++;
        }
    }
    cr_expect_eq(missing + extra + wrong + dup, 0,
                 "%zu results, %zu expected: %zu missing, %zu extra, %zu wrong, %zu duplicate",
                 got->n, want->n, missing, extra, wrong, dup);
}

static void add_result(results *r, const char *tag, int64_t count, int64_t window_start)
{
    r->v = realloc(r->v, (r->n + 1) * sizeof(result));
    snprintf(r->v[r->n].tag, sizeof(r->v[r->n].tag), "%s", tag);
    r->v[r->n].count = count;
    r->v[r->n].window_start = window_start;
    r->n++;
}

/* A processor run: its own application id, state dir and output topic. */
typedef struct run {
    char app[128];
    char state[256];
    char input[128];
    char output[128];
    char extra[8][256];
    int nextra;
    tk_proc proc;
} run;

static void run_init(run *r, const char *name, int input_partitions)
{
    char *u = tk_unique(name);

    memset(r, 0, sizeof(*r));
    snprintf(r->app, sizeof(r->app), "%s", u);
    snprintf(r->input, sizeof(r->input), "%s-in", u);
    snprintf(r->output, sizeof(r->output), "%s-out", u);
    snprintf(r->state, sizeof(r->state), "/tmp/%s-state", u);
    free(u);
    tk_create_topic(r->input, input_partitions, 1, NULL);
    tk_create_topic(r->output, 3, 1, NULL);
}

static void run_opt(run *r, const char *kv)
{
    snprintf(r->extra[r->nextra++], sizeof(r->extra[0]), "%s", kv);
}

static void run_start(run *r)
{
    const char *extra[40];
    int n = 0;

    /* quick failover in tests: a lost member is noticed within seconds */
    extra[n++] = "-Xkafka.session.timeout.ms=10000";
    for (int i = 0; i < r->nextra; i++) {
        extra[n++] = "-X";
        extra[n++] = r->extra[i];
    }
    extra[n] = NULL;
    r->proc =
        tk_processor_start(&(tk_processor_opts){r->app, r->state, r->input, r->output, "", extra});
}

static void run_stop(run *r)
{
    int status = tk_proc_stop(&r->proc, SIGTERM, 30000);

    cr_assert(status != -1, "the processor did not stop within 30 s of SIGTERM (log %s)",
              r->proc.log);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the processor exited with status %d (log %s)", status, r->proc.log);
}

static void run_cleanup(run *r)
{
    if (r->proc.pid > 0)
        tk_proc_stop(&r->proc, SIGKILL, 5000);
    cr_expect_eq(ts_fs_remove_tree(r->state, NULL, 0), TS_OK, "cannot remove %s", r->state);
}

/* Read the output until `expect` results came, then a little longer to see
 * whether anything else (a duplicate) follows. */
static results read_output(run *r, size_t expect, int long_format)
{
    tk_records recs = tk_consume_all(r->output, 0, expect, 60000);
    results out;

    if (recs.n >= expect) {
        tk_records more;
        tk_records_free(&recs);
        usleep(1500 * 1000); /* several commit intervals */
        more = tk_consume_all(r->output, 0, 0, 3000);
        recs = more;
    }
    out = decode_output(&recs, long_format);
    tk_records_free(&recs);
    return out;
}

/* ---- the hand-written input ---- */

static rd_kafka_t *producer;

static void send_n(const char *topic, const char *value, int n, int64_t ts)
{
    for (int i = 0; i < n; i++)
        tk_send(producer, topic, 0, NULL, 0, value, strlen(value), ts);
}

/*
 * A few hundred records in one partition (so that their order, and so stream
 * time, is fixed), with the results worked out by hand below.
 */
static void produce_handwritten(const char *topic, int64_t B)
{
    producer = tk_producer(NULL, NULL);
    /* window 0 */
    send_n(topic, "Kafka", 1, B + 1);
    send_n(topic, "KAFKA", 1, B + 2);
    send_n(topic, "kafka", 1, B + 3);
    send_n(topic, " kafka ", 1, B + 4); /* trimmed */
    send_n(topic, "kAfKa\t", 1, B + 5);
    send_n(topic, "exactlyfour", 4, B + 10);     /* 4: not more than min.count */
    send_n(topic, "\xc4\xb0stanbul", 5, B + 20); /* "İstanbul" -> "i̇stanbul" */
    send_n(topic, "istanbul", 3, B + 21);
    send_n(topic, "\xce\xa3\xce\x8a\xce\xa3\xce\xa5\xce\xa6\xce\x9f\xce\xa3", 3,
           B + 30); /* ΣΊΣΥΦΟΣ */
    send_n(topic, "\xcf\x83\xce\xaf\xcf\x83\xcf\x85\xcf\x86\xce\xbf\xcf\x82", 2,
           B + 31); /* σίσυφος */
    send_n(topic,
           "stra\xc3\x9f"
           "e",
           2, B + 40);
    send_n(topic, "STRASSE", 3, B + 41);  /* "strasse", not "straße" */
    send_n(topic, "a", 10, B + 50);       /* one unit: filtered */
    send_n(topic, " b ", 10, B + 51);     /* trims to one unit: filtered */
    send_n(topic, "", 5, B + 52);         /* empty: filtered */
    send_n(topic, "\xc4\xb0", 5, B + 53); /* "İ": one unit, lower-cases to two: kept */
    send_n(topic, "edge", 4, B + 100);
    send_n(topic, "edge", 1, B + WINDOW - 1); /* last millisecond of window 0 */
    /* window 1; its first record closes window 0 */
    send_n(topic, "nextedge", 5, B + WINDOW);
    send_n(topic, "kafka", 6, B + WINDOW + 10);
    send_n(topic, "many", 100, B + WINDOW + 500);
    /* window 2; the first record closes window 1 */
    send_n(topic, "w2first", 1, B + 2 * WINDOW);
    send_n(topic, "kafka", 3, B + 2 * WINDOW - 1); /* late: window 1 has closed */
    for (int t = 0; t < 20; t++) {
        char tag[8];
        snprintf(tag, sizeof(tag), "t%02d", t);
        send_n(topic, tag, 5, B + 2 * WINDOW + 100 + t);
    }
    send_n(topic, "kafka", 5, B + 2 * WINDOW + 200);
    /* a record that only closes window 2 */
    send_n(topic, "closer", 1, B + 3 * WINDOW);
    /* windows 4 stays empty; window 5 closes window 3 (closer: 1) */
    send_n(topic, "far", 5, B + 5 * WINDOW);
    send_n(topic, "end", 1, B + 6 * WINDOW); /* closes window 5, stays open itself */
    tk_flush(producer);
    rd_kafka_destroy(producer);
}

static results handwritten_expected(int64_t B)
{
    results e = {NULL, 0};

    add_result(&e, "edge", 5, B);
    add_result(&e, "i\xcc\x87", 5, B);
    add_result(&e, "i\xcc\x87stanbul", 5, B);
    add_result(&e, "kafka", 5, B);
    add_result(&e, "\xcf\x83\xce\xaf\xcf\x83\xcf\x85\xcf\x86\xce\xbf\xcf\x82", 5, B);
    add_result(&e, "kafka", 6, B + WINDOW);
    add_result(&e, "many", 100, B + WINDOW);
    add_result(&e, "nextedge", 5, B + WINDOW);
    add_result(&e, "kafka", 5, B + 2 * WINDOW);
    for (int t = 0; t < 20; t++) {
        char tag[8];
        snprintf(tag, sizeof(tag), "t%02d", t);
        add_result(&e, tag, 5, B + 2 * WINDOW);
    }
    add_result(&e, "far", 5, B + 5 * WINDOW);
    return e;
}

static void handwritten(const char *format)
{
    int long_format = !strcmp(format, "long");
    int64_t B = base_time();
    char opt[64];
    run r;
    results want, got;

    run_init(&r, long_format ? "hand-long" : "hand-json", 1);
    snprintf(opt, sizeof(opt), "output.format=%s", format);
    run_opt(&r, opt);
    produce_handwritten(r.input, B);
    want = handwritten_expected(B);
    run_start(&r);
    got = read_output(&r, want.n, long_format);
    run_stop(&r);
    expect_results(&got, &want);
    cr_expect(tk_proc_log_has(&r.proc, "\"msg\":\"window result\""), "each result is also logged");
    run_cleanup(&r);
    free(want.v);
    free(got.v);
}

Test(processor, handwritten_input_json, .timeout = 240)
{
    handwritten("json");
}

Test(processor, handwritten_input_long, .timeout = 240)
{
    handwritten("long");
}

/* ---- generated input ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
    uint64_t x = rng_state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

#define GEN_TAGS   1200
#define GEN_SPAN   (60 * WINDOW) /* event time covered by the data */
#define GEN_GRACE  (GEN_SPAN + WINDOW)
#define GEN_CLOSER (GEN_SPAN + GEN_GRACE + WINDOW)

/* Counts by (tag index, window index): the expected output, by counting. */
typedef struct gen {
    int64_t base;
    int32_t *counts; /* [tag * windows + window] */
    int windows;
    size_t records;
} gen;

/* A tag's spelling on the wire: case varies from record to record, and the
 * normalized form is always the lower-case ASCII name. */
static void gen_spelling(int tag, char *buf, size_t size)
{
    int n = snprintf(buf, size, "tag%04d", tag);

    for (int i = 0; i < n; i++)
        if (buf[i] >= 'a' && buf[i] <= 'z' && (rng() & 1))
            buf[i] = (char)(buf[i] - 32);
}

/* Produce `n` records spread over the span into `parts` partitions in event
 * time order per partition, counting them into g. */
static void gen_produce(gen *g, const char *topic, int parts, size_t n, int64_t t_from,
                        int64_t t_to)
{
    rd_kafka_t *p = tk_producer(NULL, NULL);
    char tag[32];

    for (size_t i = 0; i < n; i++) {
        int64_t ts = t_from + (int64_t)((double)(t_to - t_from) * (double)i / (double)n);
        /* skewed: a few hot tags, a long tail */
        int t = (int)((rng() % 1000 < 600) ? rng() % 40 : rng() % GEN_TAGS);
        int w = (int)((ts - g->base) / WINDOW);
        gen_spelling(t, tag, sizeof(tag));
        tk_send(p, topic, (int32_t)(i % (size_t)parts), NULL, 0, tag, strlen(tag), ts);
        g->counts[t * g->windows + w]++;
        g->records++;
    }
    tk_flush(p);
    rd_kafka_destroy(p);
}

/* Records far past the data that close every window of every task. */
static void gen_close(const char *topic, int parts, int64_t ts)
{
    rd_kafka_t *p = tk_producer(NULL, NULL);
    int covered[16] = {0}, ncovered = 0;
    char tag[32];

    for (int i = 0; ncovered < parts && i < 1000; i++) {
        int32_t rp;
        snprintf(tag, sizeof(tag), "closer%d", i);
        rp = ts_murmur2_partition(tag, strlen(tag), parts);
        if (covered[rp])
            continue;
        covered[rp] = 1;
        ncovered++;
        tk_send(p, topic, 0, NULL, 0, tag, strlen(tag), ts);
    }
    cr_assert_eq(ncovered, parts);
    tk_flush(p);
    rd_kafka_destroy(p);
}

/* The closing records must come after every data record has reached its
 * task: records of different input partitions reach a task in any order,
 * and a closer that overtook data would make that data late. So wait until
 * the processor has committed all the input and all the repartitioned
 * records. */
static void gen_close_after_consumed(run *r, int parts, int64_t ts)
{
    char repartition[200];

    snprintf(repartition, sizeof(repartition), "%s-repartition", r->app);
    cr_assert(tk_wait_consumed(r->app, r->input, parts, 0, 240000), "input not consumed in time");
    cr_assert(tk_wait_consumed(r->app, repartition, parts, 1, 240000),
              "repartitioned records not consumed in time");
    gen_close(r->input, parts, ts);
}

static results gen_expected(const gen *g)
{
    results e = {NULL, 0};
    char tag[32];

    for (int t = 0; t < GEN_TAGS; t++)
        for (int w = 0; w < g->windows; w++)
            if (g->counts[t * g->windows + w] > 4) {
                snprintf(tag, sizeof(tag), "tag%04d", t);
                add_result(&e, tag, g->counts[t * g->windows + w], g->base + (int64_t)w * WINDOW);
            }
    return e;
}

static void gen_init(gen *g)
{
    g->base = base_time() - GEN_CLOSER;
    g->windows = GEN_SPAN / WINDOW;
    g->counts = calloc((size_t)GEN_TAGS * (size_t)g->windows, sizeof(int32_t));
    g->records = 0;
    rng_state = 0x9e3779b97f4a7c15ULL;
}

static void gen_grace(run *r)
{
    char opt[64];

    /* Records of three input partitions reach a task interleaved in any
     * order; a grace longer than the data's span makes the result
     * independent of that order (nothing can be late). */
    snprintf(opt, sizeof(opt), "window.grace.ms=%d", GEN_GRACE);
    run_opt(r, opt);
    snprintf(opt, sizeof(opt), "window.retention.ms=%d", 2 * GEN_CLOSER);
    run_opt(r, opt);
}

Test(processor, generated_input_three_partitions, .timeout = 600)
{
    gen g;
    run r;
    results want, got;

    gen_init(&g);
    run_init(&r, "generated", 3);
    gen_grace(&r);
    gen_produce(&g, r.input, 3, 120000, g.base, g.base + GEN_SPAN);
    want = gen_expected(&g);
    cr_log_info("%zu records, %d tags, %zu expected results", g.records, GEN_TAGS, want.n);
    cr_assert_gt(want.n, 1000);
    run_start(&r);
    gen_close_after_consumed(&r, 3, g.base + GEN_CLOSER);
    got = read_output(&r, want.n, 0);
    run_stop(&r);
    expect_results(&got, &want);
    run_cleanup(&r);
    free(g.counts);
    free(want.v);
    free(got.v);
}

/*
 * Stop and restart in the middle of windows, then lose the state directory:
 * the output continues exactly, whatever happened to the local state.
 */
/* Wait until this start of the processor has restored its n tasks (each
 * start logs to a new file). */
static void wait_tasks_restored(run *r, int n)
{
    for (int t = 0; t < n; t++) {
        char line[64];
        snprintf(line, sizeof(line), "\"msg\":\"task 1_%d restored\"", t);
        cr_assert(tk_proc_wait_log(&r->proc, line, 120000), "task 1_%d not restored (log %s)", t,
                  r->proc.log);
    }
}

Test(processor, restart_and_state_loss_keep_the_output_exact, .timeout = 600)
{
    gen g;
    run r;
    results want, got;
    int64_t third = GEN_SPAN / 3 + 777; /* not on a window boundary */

    gen_init(&g);
    run_init(&r, "restart", 3);
    gen_grace(&r);

    gen_produce(&g, r.input, 3, 20000, g.base, g.base + third);
    run_start(&r);
    wait_tasks_restored(&r, 3);
    sleep(3);     /* some processing, some commits */
    run_stop(&r); /* clean stop: the next start replays (almost) nothing */

    gen_produce(&g, r.input, 3, 20000, g.base + third, g.base + 2 * third);
    run_start(&r);
    wait_tasks_restored(&r, 3);
    sleep(3);
    run_stop(&r);
    cr_expect(tk_proc_log_has(&r.proc, "\"kind\":\"tail\""),
              "after a clean stop the store is reused (tail replay)");

    /* a new Fargate task: an empty disk */
    cr_assert_eq(ts_fs_remove_tree(r.state, NULL, 0), TS_OK, "cannot remove %s", r.state);
    gen_produce(&g, r.input, 3, 20000, g.base + 2 * third, g.base + GEN_SPAN);
    want = gen_expected(&g);
    run_start(&r);
    gen_close_after_consumed(&r, 3, g.base + GEN_CLOSER);
    got = read_output(&r, want.n, 0);
    run_stop(&r);
    cr_expect(tk_proc_log_has(&r.proc, "\"kind\":\"full\""),
              "an empty state directory is restored from the changelog");
    expect_results(&got, &want);
    run_cleanup(&r);
    free(g.counts);
    free(want.v);
    free(got.v);
}

/*
 * Transactions that fail after their results reached the output log: the
 * changelog is made to refuse every write for a while, so each commit
 * fails and is aborted. A read_committed reader must see none of the
 * aborted results, and the processor must end with the exact output.
 *
 * The changelog refuses batches over 90 bytes: every batch of changelog
 * records is bigger, while the transaction markers the coordinator writes
 * (about 78 bytes) still fit, so that aborts can complete.
 */
Test(processor, aborted_transactions_leave_nothing_visible, .timeout = 600)
{
    int64_t B = base_time();
    char changelog[200];
    run r;
    results want, got;
    tk_records all;

    run_init(&r, "abort", 1);
    /* long transactions: each one gets through all the input, results
     * included, before its commit fails */
    run_opt(&r, "commit.interval.ms=1500");
    snprintf(changelog, sizeof(changelog), "%s-counts-changelog", r.app);
    run_start(&r);
    cr_assert(tk_proc_wait_log(&r.proc, "\"msg\":\"task 1_0 restored\"", 60000));
    tk_topic_config(changelog, "max.message.bytes=90");
    produce_handwritten(r.input, B);
    cr_assert(tk_proc_wait_log(&r.proc, "aborting the transaction", 60000),
              "the commits fail while the changelog refuses writes");
    sleep(3);
    cr_expect_gt(tk_proc_log_count(&r.proc, "aborting the transaction"), 1);
    all = tk_consume_all(r.output, 1, 1, 30000); /* read_uncommitted, stop at the first */
    cr_expect_gt(all.n, 0, "aborted results did reach the output log");
    tk_records_free(&all);
    tk_topic_config(changelog, "max.message.bytes=1048588");
    want = handwritten_expected(B);
    got = read_output(&r, want.n, 0);
    run_stop(&r);
    expect_results(&got, &want);
    run_cleanup(&r);
    free(want.v);
    free(got.v);
}

/* Bad records of every kind are skipped, counted and dead-lettered; the good
 * records around them are counted as if the bad ones were not there. */
Test(processor, bad_records_are_skipped_and_counted, .timeout = 300)
{
    int64_t B = base_time();
    char dlq[200], big[200];
    run r;
    results want = {NULL, 0}, got;
    tk_records dead;
    int reasons[4] = {0};

    run_init(&r, "bad", 1);
    snprintf(dlq, sizeof(dlq), "%s-dlq", r.app);
    run_opt(&r, "max.value.bytes=100");
    {
        char opt[240];
        snprintf(opt, sizeof(opt), "errors.deadletterqueue.topic=%s", dlq);
        run_opt(&r, opt);
    }
    memset(big, 'x', sizeof(big));
    producer = tk_producer(NULL, NULL);
    for (int i = 0; i < 6; i++) {
        tk_send(producer, r.input, 0, NULL, 0, "good", 4, B + 10 + i);
        tk_send(producer, r.input, 0, "k", 1, NULL, 0, B + 10 + i);           /* null value */
        tk_send(producer, r.input, 0, NULL, 0, "bad\xff", 4, B + 10 + i);     /* invalid UTF-8 */
        tk_send(producer, r.input, 0, NULL, 0, big, sizeof(big), B + 10 + i); /* oversize */
        tk_send(producer, r.input, 0, NULL, 0, "nots", 4, -1);                /* no timestamp */
    }
    send_n(r.input, "end", 1, B + WINDOW);
    tk_flush(producer);
    rd_kafka_destroy(producer);
    add_result(&want, "good", 6, B);

    run_start(&r);
    got = read_output(&r, want.n, 0);
    run_stop(&r);
    expect_results(&got, &want);

    dead = tk_consume_all(dlq, 0, 24, 30000);
    cr_expect_eq(dead.n, 24, "every bad record is dead-lettered once");
    /* each says why and where from: input offsets run good, null, bad UTF-8,
     * oversize, no timestamp, six times over */
    for (size_t i = 0; i < dead.n; i++) {
        static const char *const why[] = {"", "null_value", "invalid_utf8", "oversize",
                                          "no_timestamp"};
        char reason[64], topic[200], part[32], off[32];
        char *end;
        long long o;
        tk_header(&dead.v[i], "tagstream.error.reason", reason, sizeof(reason));
        tk_header(&dead.v[i], "tagstream.source.topic", topic, sizeof(topic));
        tk_header(&dead.v[i], "tagstream.source.partition", part, sizeof(part));
        tk_header(&dead.v[i], "tagstream.source.offset", off, sizeof(off));
        o = strtoll(off, &end, 10);
        cr_expect(*off && !*end && o >= 0 && o < 30, "source offset \"%s\"", off);
        cr_expect_str_eq(topic, r.input);
        cr_expect_str_eq(part, "0");
        if (*off && !*end && o >= 0 && o < 30) {
            cr_expect_str_eq(reason, why[o % 5], "offset %lld", o);
            if (o % 5 >= 1 && o % 5 <= 4)
                reasons[o % 5 - 1]++;
        }
    }
    for (int k = 0; k < 4; k++)
        cr_expect_eq(reasons[k], 6, "reason %d: %d records", k, reasons[k]);
    tk_records_free(&dead);
    cr_expect(tk_proc_log_has(&r.proc, "\"reason\":\"null_value\""));
    cr_expect(tk_proc_log_has(&r.proc, "\"reason\":\"invalid_utf8\""));
    cr_expect(tk_proc_log_has(&r.proc, "\"reason\":\"oversize\""));
    cr_expect(tk_proc_log_has(&r.proc, "\"reason\":\"no_timestamp\""));
    run_cleanup(&r);
    free(want.v);
    free(got.v);
}

/* A partition added to the input while running is noticed at the next
 * metadata refresh (the eager protocol rebalances); the processor logs it,
 * counts it and stops with a message that says why, instead of fetching its
 * records and never counting them. What it had counted is committed. */
Test(processor, a_new_input_partition_stops_the_processor_with_a_clear_error, .timeout = 300)
{
    int64_t B = base_time();
    run r;
    results want = {NULL, 0}, got;
    int status;

    run_init(&r, "grow", 1);
    run_opt(&r, "kafka.topic.metadata.refresh.interval.ms=1000");
    producer = tk_producer(NULL, NULL);
    send_n(r.input, "before", 6, B + 10);
    send_n(r.input, "end", 1, B + WINDOW);
    tk_flush(producer);
    rd_kafka_destroy(producer);
    add_result(&want, "before", 6, B);
    run_start(&r);
    got = read_output(&r, want.n, 0);
    expect_results(&got, &want);
    tk_add_partitions(r.input, 2);
    status = tk_proc_wait(&r.proc, 120000);
    cr_assert(status != -1,
              "the processor kept running with an input partition it cannot count "
              "(log %s)",
              r.proc.log);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d (log %s)", status,
              r.proc.log);
    cr_expect(tk_proc_log_has(&r.proc, "a partition was added to the input topic while running"));
    cr_expect(tk_proc_log_has(&r.proc, "gained partition 1 (1 partitions at startup)"), "log %s",
              r.proc.log);
    r.proc.pid = 0;
    run_cleanup(&r);
    free(want.v);
    free(got.v);
}

/* Configuration errors are clear and come before anything connects. */
Test(processor, bad_configuration_is_refused_up_front, .timeout = 60)
{
    const char *bad_key[] = {"--bootstrap.servers", "127.0.0.1:1", "--no.such.key", "1", NULL};
    const char *bad_val[] = {"--bootstrap.servers", "127.0.0.1:1", "--window.size.ms", "abc", NULL};
    const char *no_topic[] = {"--bootstrap.servers", tk_bootstrap(),           "--input.topic",
                              "does-not-exist",      "--http.listen",          "",
                              "--state.dir",         "/tmp/tagstream-noinput", NULL};
    tk_proc p;
    int st;

    p = tk_proc_start("tagstream-processor", bad_key);
    st = tk_proc_wait(&p, 10000);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2, "unknown key: exit 2");
    cr_expect(tk_proc_log_has(&p, "no.such.key"), "the message names the key");
    p = tk_proc_start("tagstream-processor", bad_val);
    st = tk_proc_wait(&p, 10000);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2, "bad value: exit 2");
    cr_expect(tk_proc_log_has(&p, "window.size.ms"), "the message names the key");
    p = tk_proc_start("tagstream-processor", no_topic);
    st = tk_proc_wait(&p, 60000);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) != 0, "a missing input topic is an error");
    cr_expect(tk_proc_log_has(&p, "does-not-exist does not exist"), "and says so");
    cr_expect_eq(ts_fs_remove_tree("/tmp/tagstream-noinput", NULL, 0), TS_OK);
}
