/*
 * The drill's own parts that decide pass or fail: the generated input and
 * its expected output, the comparison, the decoding of results, and the
 * command line. No broker: a drill is only as good as these.
 */
#include "ts_drill.h"
#include "ts_tag.h"
#include "ts_utf8.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W 20000

static ts_drill_gen_params params(uint64_t seed, int64_t records, int64_t tags)
{
    ts_drill_gen_params p;

    memset(&p, 0, sizeof(p));
    p.seed = seed;
    p.records = records;
    p.partitions = 3;
    p.tags = tags;
    p.hot_share = 60;
    p.junk_share = 5;
    p.base = 1700000000000LL - 1700000000000LL % W;
    p.span = 10 * W;
    p.window_ms = W;
    p.min_count = 4;
    return p;
}

/* Every value the drill sends normalizes, by the processor's own Java
 * normalization, to the tag the drill expects it to count, and junk is
 * dropped by the length filter. */
Test(drill_gen, values_normalize_to_their_tags)
{
    ts_drill_gen g;
    ts_drill_gen_params p = params(7, 20000, 300);
    char value[256], tag[128], norm[1024];
    int kinds[3] = {0}; /* junk, ascii, non-ascii */

    cr_assert_eq(ts_drill_gen_init(&g, &p, NULL, 0), TS_OK);
    for (int64_t i = 0; i < g.nrecs; i++) {
        size_t vlen = ts_drill_gen_value(&g, i, value, sizeof(value)), nlen;
        cr_assert_eq(ts_tag_normalize(value, vlen, norm, sizeof(norm), &nlen), TS_OK,
                     "value %lld is valid UTF-8", (long long)i);
        if (g.recs[i].tag < 0) {
            kinds[0]++;
            cr_assert_leq(ts_utf16_length(norm, nlen), 1, "junk \"%s\" must be filtered", value);
            continue;
        }
        kinds[g.recs[i].tag >= p.tags ? 2 : 1]++;
        size_t tlen = ts_drill_gen_tag(&g, g.recs[i].tag, tag, sizeof(tag));
        cr_assert(nlen == tlen && !memcmp(norm, tag, tlen),
                  "value \"%s\" normalizes to \"%.*s\", the drill expects \"%s\"", value, (int)nlen,
                  norm, tag);
        cr_assert_gt(ts_utf16_length(norm, nlen), 1);
    }
    cr_expect_gt(kinds[0], 0, "some junk");
    cr_expect_gt(kinds[1], 0, "some ASCII tags");
    cr_expect_gt(kinds[2], 0, "some non-ASCII tags");
    ts_drill_gen_free(&g);
}

Test(drill_gen, same_seed_same_input_other_seed_other_input)
{
    ts_drill_gen a, b, c;
    ts_drill_gen_params p = params(11, 5000, 500);
    char va[256], vb[256];
    int differ = 0;

    cr_assert_eq(ts_drill_gen_init(&a, &p, NULL, 0), TS_OK);
    cr_assert_eq(ts_drill_gen_init(&b, &p, NULL, 0), TS_OK);
    p.seed = 12;
    cr_assert_eq(ts_drill_gen_init(&c, &p, NULL, 0), TS_OK);
    for (int64_t i = 0; i < a.nrecs; i++) {
        size_t na = ts_drill_gen_value(&a, i, va, sizeof(va));
        size_t nb = ts_drill_gen_value(&b, i, vb, sizeof(vb));
        cr_assert(na == nb && !memcmp(va, vb, na));
        cr_assert_eq(a.recs[i].partition, b.recs[i].partition);
        cr_assert_eq(a.recs[i].ts, b.recs[i].ts);
        differ += a.recs[i].tag != c.recs[i].tag;
    }
    cr_expect_gt(differ, 1000, "another seed, another input");
    ts_drill_gen_free(&a);
    ts_drill_gen_free(&b);
    ts_drill_gen_free(&c);
}

/* Event time ascends over the span, so the feeder can hold phases back. */
Test(drill_gen, event_time_ascends_within_the_span)
{
    ts_drill_gen g;
    ts_drill_gen_params p = params(3, 10000, 100);

    cr_assert_eq(ts_drill_gen_init(&g, &p, NULL, 0), TS_OK);
    cr_expect_eq(g.recs[0].ts, p.base);
    for (int64_t i = 1; i < g.nrecs; i++)
        cr_assert_geq(g.recs[i].ts, g.recs[i - 1].ts);
    cr_expect_lt(g.recs[g.nrecs - 1].ts, p.base + p.span);
    ts_drill_gen_free(&g);
}

/* The expected output, against a plain recount by normalized tag. */
Test(drill_gen, expected_output_is_the_recount)
{
    ts_drill_gen g;
    ts_drill_gen_params p = params(5, 30000, 200);
    ts_drill_results want = {NULL, 0, 0};
    int windows = (int)(p.span / W), ntags;
    int64_t *counts;
    char value[256], norm[1024], tag[128];
    size_t checked = 0;

    cr_assert_eq(ts_drill_gen_init(&g, &p, NULL, 0), TS_OK);
    ntags = (int)g.ntags;
    counts = calloc((size_t)ntags * (size_t)windows, sizeof(int64_t));
    /* count by the normalized value itself, not by the generator's tag */
    for (int64_t i = 0; i < g.nrecs; i++) {
        size_t vlen = ts_drill_gen_value(&g, i, value, sizeof(value)), nlen;
        int t;
        ts_tag_normalize(value, vlen, norm, sizeof(norm), &nlen);
        if (ts_utf16_length(norm, nlen) <= 1)
            continue;
        for (t = 0; t < ntags; t++) {
            size_t tl = ts_drill_gen_tag(&g, t, tag, sizeof(tag));
            if (tl == nlen && !memcmp(tag, norm, nlen))
                break;
        }
        cr_assert_lt(t, ntags, "an unknown tag \"%.*s\"", (int)nlen, norm);
        counts[t * windows + (int)((g.recs[i].ts - p.base) / W)]++;
    }
    cr_assert_eq(ts_drill_gen_expected(&g, &want, NULL, 0), TS_OK);
    for (int t = 0; t < ntags; t++)
        for (int w = 0; w < windows; w++) {
            int64_t c = counts[t * windows + w];
            size_t tl = ts_drill_gen_tag(&g, t, tag, sizeof(tag));
            int found = 0;
            for (size_t k = 0; k < want.n; k++)
                if (want.v[k].window_start == p.base + (int64_t)w * W && want.v[k].tag_len == tl &&
                    !memcmp(want.v[k].tag, tag, tl)) {
                    cr_assert_eq(want.v[k].count, c, "%s @%d", tag, w);
                    found = 1;
                    checked++;
                }
            cr_assert_eq(found, c > p.min_count, "%s @%d counted %lld", tag, w, (long long)c);
        }
    cr_expect_eq(checked, want.n);
    cr_expect_gt(want.n, 100, "enough results to mean something");
    free(counts);
    ts_drill_results_free(&want);
    ts_drill_gen_free(&g);
}

/* ---- comparison ---- */

static void add(ts_drill_results *r, const char *tag, int64_t count, int64_t ws)
{
    cr_assert_eq(ts_drill_results_add(r, tag, strlen(tag), count, ws), TS_OK);
}

Test(drill_compare, exact_output_has_no_difference)
{
    ts_drill_results want = {NULL, 0, 0}, got = {NULL, 0, 0};
    ts_drill_diff d;

    add(&want, "kafka", 5, 0);
    add(&want, "kafka", 7, W);
    add(&want, "aws", 9, 0);
    add(&got, "aws", 9, 0);
    add(&got, "kafka", 7, W);
    add(&got, "kafka", 5, 0);
    ts_drill_compare(&want, &got, &d);
    cr_expect_eq(d.expected, 3);
    cr_expect_eq(d.got, 3);
    cr_expect_eq(d.missing + d.duplicate + d.wrong + d.unexpected, 0);
    ts_drill_results_free(&want);
    ts_drill_results_free(&got);
}

Test(drill_compare, each_kind_of_difference_is_counted)
{
    ts_drill_results want = {NULL, 0, 0}, got = {NULL, 0, 0};
    ts_drill_diff d;

    add(&want, "kept", 5, 0);
    add(&want, "lost", 6, 0);
    add(&want, "twice", 7, 0);
    add(&want, "miscounted", 8, W);
    add(&want, "z", 9, 2 * W);
    add(&got, "kept", 5, 0);
    add(&got, "twice", 7, 0);
    add(&got, "twice", 7, 0);
    add(&got, "twice", 7, 0);
    add(&got, "miscounted", 9, W);
    add(&got, "extra", 5, W);
    add(&got, "z", 9, W); /* right count, wrong window: unexpected + missing */
    ts_drill_compare(&want, &got, &d);
    cr_expect_eq(d.missing, 2, "lost, z@2");
    cr_expect_eq(d.duplicate, 2, "twice came three times");
    cr_expect_eq(d.wrong, 1);
    cr_expect_eq(d.unexpected, 2, "extra, z@1");
    cr_expect(strstr(d.wrong_ex[0], "miscounted") && strstr(d.wrong_ex[0], "expected 8"), "%s",
              d.wrong_ex[0]);
    cr_expect(strstr(d.duplicate_ex[0], "twice"));
    ts_drill_results_free(&want);
    ts_drill_results_free(&got);
}

Test(drill_compare, a_duplicate_with_another_count_is_also_wrong)
{
    ts_drill_results want = {NULL, 0, 0}, got = {NULL, 0, 0};
    ts_drill_diff d;

    add(&want, "t", 5, 0);
    add(&got, "t", 5, 0);
    add(&got, "t", 6, 0);
    ts_drill_compare(&want, &got, &d);
    cr_expect_eq(d.duplicate, 1);
    cr_expect_eq(d.wrong, 1);
    cr_expect_eq(d.missing + d.unexpected, 0);
    ts_drill_results_free(&want);
    ts_drill_results_free(&got);
}

/* ---- decoding results ---- */

Test(drill_decode, results_are_checked_against_their_key_and_window)
{
    ts_drill_results r = {NULL, 0, 0};
    const char *good = "{\"hashtag\":\"kafka\",\"count\":7,\"window_start\":40000,"
                       "\"window_end\":60000}";
    const char *other = "{\"hashtag\":\"aws\",\"count\":7,\"window_start\":40000,"
                        "\"window_end\":60000}";
    const char *badwin = "{\"hashtag\":\"kafka\",\"count\":7,\"window_start\":40001,"
                         "\"window_end\":60001}";
    char err[256];

    cr_assert_eq(ts_drill_decode_result("kafka", 5, good, strlen(good), W, &r, err, sizeof(err)),
                 TS_OK);
    cr_assert_eq(r.n, 1);
    cr_expect_eq(r.v[0].count, 7);
    cr_expect_eq(r.v[0].window_start, 40000);
    cr_expect_eq(ts_drill_decode_result("kafka", 5, other, strlen(other), W, &r, err, sizeof(err)),
                 TS_ERR_CORRUPT);
    cr_expect_eq(
        ts_drill_decode_result("kafka", 5, badwin, strlen(badwin), W, &r, err, sizeof(err)),
        TS_ERR_CORRUPT);
    cr_expect_eq(ts_drill_decode_result("kafka", 5, "{", 1, W, &r, err, sizeof(err)),
                 TS_ERR_CORRUPT);
    cr_expect_eq(ts_drill_decode_result(NULL, 0, good, strlen(good), W, &r, err, sizeof(err)),
                 TS_ERR_CORRUPT);
    cr_expect_eq(r.n, 1, "nothing added by a bad record");
    ts_drill_results_free(&r);
}

/* ---- the command line ---- */

typedef struct cli {
    ts_drill_config cfg;
    ts_conf conf;
    char err[512];
    int help;
} cli;

static ts_err load(cli *c, const char *const *args)
{
    char *argv[64];
    int argc = 0;

    memset(c, 0, sizeof(*c));
    argv[argc++] = "tagstream-drill";
    for (int i = 0; args[i]; i++)
        argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    cr_assert_eq(ts_conf_init(&c->conf, ts_drill_config_props, &c->cfg, NULL, 0), TS_OK);
    return ts_drill_config_load(&c->cfg, &c->conf, argc, argv, &c->help, c->err, sizeof(c->err));
}

static void unload(cli *c)
{
    ts_drill_config_free(&c->cfg);
    ts_conf_destroy(&c->conf);
}

Test(drill_cli, options_with_dashes_processor_args_and_kafka_passthrough)
{
    const char *args[] = {"--bootstrap-servers",
                          "127.0.0.1:1",
                          "--processor",
                          "/bin/true",
                          "--fault",
                          "kill9,sigterm,stateloss",
                          "--processor-arg",
                          "--commit.interval.ms=200",
                          "--processor.arg=-Xkafka.socket.timeout.ms=5000",
                          "-X",
                          "kafka.security.protocol=PLAINTEXT",
                          "--keep-topics",
                          "--cycles",
                          "3",
                          NULL};
    cli c;

    cr_assert_eq(load(&c, args), TS_OK, "%s", c.err);
    cr_expect_str_eq(c.cfg.bootstrap_servers, "127.0.0.1:1");
    cr_expect_eq(c.cfg.nfaults, 3);
    cr_expect_eq(c.cfg.faults[0], TS_DRILL_KILL9);
    cr_expect_eq(c.cfg.faults[2], TS_DRILL_STATELOSS);
    cr_assert_eq(c.cfg.nprocessor_args, 2);
    cr_expect_str_eq(c.cfg.processor_args[0], "--commit.interval.ms=200");
    cr_expect_str_eq(c.cfg.processor_args[1], "-Xkafka.socket.timeout.ms=5000");
    cr_assert_eq(c.conf.kafka_cnt, 1);
    cr_expect_str_eq(c.conf.kafka[0].key, "security.protocol");
    cr_expect(c.cfg.keep_topics);
    cr_expect_eq(c.cfg.cycles, 3);
    cr_expect_eq(c.cfg.phases, 12, "at least 12");
    cr_expect(!strncmp(c.cfg.application_id, "drill-", 6), "%s", c.cfg.application_id);
    unload(&c);
}

Test(drill_cli, impossible_drills_are_refused)
{
    const char *zombie[] = {
        "--bootstrap.servers", "x:1", "--processor", "/bin/true", "--fault", "zombie", NULL};
    const char *broker[] = {
        "--bootstrap.servers", "x:1", "--processor", "/bin/true", "--fault", "broker", NULL};
    const char *unknown[] = {"--bootstrap.servers", "x:1", "--processor", "/bin/true", "--fault",
                             "kill9,meteor",        NULL};
    const char *noproc[] = {"--bootstrap.servers", "x:1", "--processor", "/nonexistent/proc", NULL};
    cli c;

    cr_expect_eq(load(&c, zombie), TS_ERR_INVALID);
    cr_expect(strstr(c.err, "instances"), "%s", c.err);
    unload(&c);
    cr_expect_eq(load(&c, broker), TS_ERR_INVALID);
    cr_expect(strstr(c.err, "cluster.script"), "%s", c.err);
    unload(&c);
    cr_expect_eq(load(&c, unknown), TS_ERR_INVALID);
    cr_expect(strstr(c.err, "meteor"), "%s", c.err);
    unload(&c);
    cr_expect_eq(load(&c, noproc), TS_ERR_INVALID);
    cr_expect(strstr(c.err, "/nonexistent/proc"), "%s", c.err);
    unload(&c);
}
