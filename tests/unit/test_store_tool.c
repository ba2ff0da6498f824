/*
 * tagstream-store on stores built with ts_store in a temporary state
 * directory: exact output of tasks, dump and top, the filters, CSV quoting
 * and ISO-8601 times. Its errors, exit codes and usage are in
 * test_store_tool_errors.c, the helpers in store_tool_kit.c.
 */
#include "store_tool_kit.h"
#include "ts_fs.h"
#include "ts_keys.h"
#include "ts_store.h"
#include "ts_store_tool.h"
#include "ts_time.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "ts_test.h"
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- dump ---- */

#define DJ(task, w, tag, count, max_ts, st)                                                        \
    "{\"task\":\"" task "\",\"window_start\":" #w ",\"window_end\":" #w "+20000,"                  \
    "\"hashtag\":\"" tag "\",\"count\":" #count ",\"max_timestamp\":" #max_ts ",\"state\":\"" st   \
    "\"}\n"

Test(store_tool, dump_json_merges_tasks_by_window_then_tag)
{
    result r;

    make_standard();
    r = run("dump", NULL);
    expect_ok(&r, "{\"task\":\"1_1\",\"window_start\":1795712400000,\"window_end\":1795712420000,"
                  "\"hashtag\":\"aws\",\"count\":7,\"max_timestamp\":1795712418000,\"state\":"
                  "\"closed\"}\n"
                  "{\"task\":\"1_0\",\"window_start\":1795712400000,\"window_end\":1795712420000,"
                  "\"hashtag\":\"kafka\",\"count\":7,\"max_timestamp\":1795712419000,\"state\":"
                  "\"closed\"}\n"
                  "{\"task\":\"1_1\",\"window_start\":1795712400000,\"window_end\":1795712420000,"
                  "\"hashtag\":\"msk\",\"count\":9,\"max_timestamp\":1795712412000,\"state\":"
                  "\"closed\"}\n"
                  "{\"task\":\"1_0\",\"window_start\":1795712400000,\"window_end\":1795712420000,"
                  "\"hashtag\":\"rocksdb\",\"count\":3,\"max_timestamp\":1795712405000,\"state\":"
                  "\"closed\"}\n"
                  "{\"task\":\"1_1\",\"window_start\":1795712420000,\"window_end\":1795712440000,"
                  "\"hashtag\":\"fargate\",\"count\":5,\"max_timestamp\":1795712439999,\"state\":"
                  "\"open\"}\n"
                  "{\"task\":\"1_0\",\"window_start\":1795712420000,\"window_end\":1795712440000,"
                  "\"hashtag\":\"kafka\",\"count\":2,\"max_timestamp\":1795712421000,\"state\":"
                  "\"closed\"}\n"
                  "{\"task\":\"1_0\",\"window_start\":1795712440000,\"window_end\":1795712460000,"
                  "\"hashtag\":\"c\",\"count\":1,\"max_timestamp\":1795712441000,\"state\":"
                  "\"open\"}\n");
    result_free(&r);
}

Test(store_tool, dump_table_is_aligned_with_iso_times)
{
    result r;

    make_standard();
    r = run("dump", "--format", "table", "--task", "1_1", NULL);
    expect_ok(&r, "TASK  WINDOW_START              WINDOW_END                HASHTAG  COUNT  "
                  "MAX_TIMESTAMP             STATE\n"
                  "1_1   2026-11-26T17:00:00.000Z  2026-11-26T17:00:20.000Z  aws          7  "
                  "2026-11-26T17:00:18.000Z  closed\n"
                  "1_1   2026-11-26T17:00:00.000Z  2026-11-26T17:00:20.000Z  msk          9  "
                  "2026-11-26T17:00:12.000Z  closed\n"
                  "1_1   2026-11-26T17:00:20.000Z  2026-11-26T17:00:40.000Z  fargate      5  "
                  "2026-11-26T17:00:39.999Z  open\n");
    result_free(&r);
}

Test(store_tool, dump_table_aligns_wide_characters_by_display_width)
{
    static const ent e[] = {
        {W0, "\xe6\x97\xa5\xe6\x9c\xac", 12, T0}, /* 日本: 2 code points, 4 columns */
        {W0, "ab", 3, T0},
    };
    result r;

    make_store("tagstream", "1_0", T0, e, 2);
    r = run("dump", "--format", "table", "--time-format", "ms", NULL);
    expect_ok(&r, "TASK  WINDOW_START   WINDOW_END     HASHTAG  COUNT  MAX_TIMESTAMP  STATE\n"
                  "1_0   1795712400000  1795712420000  ab           3  1795712400000  open\n"
                  "1_0   1795712400000  1795712420000  \xe6\x97\xa5\xe6\x9c\xac        12  "
                  "1795712400000  open\n");
    result_free(&r);
}

Test(store_tool, dump_csv_quotes_as_rfc4180)
{
    static const ent e[] = {
        {W0, "a,b", 6, T0 + 1},
        {W0, "plain", 5, T0 + 2},
        {W0, "say \"hi\"", 7, T0 + 3},
        {W0, "two\nlines", 8, T0 + 4},
    };
    result r;

    make_store("tagstream", "1_0", W1, e, 4);
    r = run("dump", "--format", "csv", NULL);
    expect_ok(&r, "task,window_start,window_end,hashtag,count,max_timestamp,state\r\n"
                  "1_0,1795712400000,1795712420000,\"a,b\",6,1795712400001,closed\r\n"
                  "1_0,1795712400000,1795712420000,plain,5,1795712400002,closed\r\n"
                  "1_0,1795712400000,1795712420000,\"say \"\"hi\"\"\",7,1795712400003,closed\r\n"
                  "1_0,1795712400000,1795712420000,\"two\nlines\",8,1795712400004,closed\r\n");
    result_free(&r);
}

Test(store_tool, dump_json_iso_times)
{
    static const ent e[] = {{W0, "x", 1, T0 + 250}};
    result r;

    make_store("tagstream", "1_0", T0, e, 1);
    r = run("dump", "--time-format", "iso", NULL);
    expect_ok(&r, "{\"task\":\"1_0\",\"window_start\":\"2026-11-26T17:00:00.000Z\",\"window_end\":"
                  "\"2026-11-26T17:00:20.000Z\",\"hashtag\":\"x\",\"count\":1,\"max_timestamp\":"
                  "\"2026-11-26T17:00:00.250Z\",\"state\":\"open\"}\n");
    result_free(&r);
}

/* One line per entry as "task window_start hashtag state" for filter tests. */
static char *brief(const char *json)
{
    size_t n = 0;
    char *out = NULL;
    FILE *fp = open_memstream(&out, &n);
    const char *p = json;

    while (*p) {
        char task[16], tag[64], st[16];
        long long w;
        const char *nl = strchr(p, '\n');
        cr_assert_not_null(nl);
        cr_assert_eq(sscanf(p,
                            "{\"task\":\"%15[^\"]\",\"window_start\":%lld,\"window_end\":%*[0-9],"
                            "\"hashtag\":\"%63[^\"]\",\"count\":%*[0-9],\"max_timestamp\":%*[0-9],"
                            "\"state\":\"%15[^\"]\"}",
                            task, &w, tag, st),
                     4, "cannot read %.*s", (int)(nl - p), p);
        fprintf(fp, "%s W%lld %s %s\n", task, (w - T0) / 20000, tag, st);
        p = nl + 1;
    }
    fclose(fp);
    return out;
}

struct filter_case {
    const char *args[6];
    const char *expect;
};

static struct filter_case filter_cases[] = {
    {{"--tag", "kafka"}, "1_0 W0 kafka closed\n1_0 W1 kafka closed\n"},
    /* normalized as the processor does: lower case, trimmed */
    {{"--tag", " KAFKA "}, "1_0 W0 kafka closed\n1_0 W1 kafka closed\n"},
    {{"--tag", "kafk"}, ""},
    {{"--from", "1795712420000"}, "1_1 W1 fargate open\n1_0 W1 kafka closed\n1_0 W2 c open\n"},
    {{"--from", "2026-11-26T17:00:20Z"},
     "1_1 W1 fargate open\n1_0 W1 kafka closed\n1_0 W2 c open\n"},
    {{"--from", "2026-11-26T17:00:00.001Z"},
     "1_1 W1 fargate open\n1_0 W1 kafka closed\n1_0 W2 c open\n"},
    /* --to is inclusive: the window starting at 17:00:20 is in */
    {{"--to", "2026-11-26T17:00:20Z", "--tag", "kafka"},
     "1_0 W0 kafka closed\n1_0 W1 kafka closed\n"},
    {{"--from", "2026-11-26T18:00:20+01:00", "--to", "2026-11-26T17:00:20Z"},
     "1_1 W1 fargate open\n1_0 W1 kafka closed\n"},
    {{"--to", "1795712399999"}, ""},
    {{"--open"}, "1_1 W1 fargate open\n1_0 W2 c open\n"},
    {{"--closed"},
     "1_1 W0 aws closed\n1_0 W0 kafka closed\n1_1 W0 msk closed\n1_0 W0 rocksdb closed\n"
     "1_0 W1 kafka closed\n"},
    {{"--closed", "--task", "1_1"}, "1_1 W0 aws closed\n1_1 W0 msk closed\n"},
    /* a wider grace keeps more windows open */
    {{"--open", "--grace-ms", "10000"}, "1_1 W1 fargate open\n1_0 W1 kafka open\n1_0 W2 c open\n"},
    {{"--open", "--window.size.ms", "60000", "--tag", "c"}, "1_0 W2 c open\n"},
};

ParameterizedTestParameters(store_tool, dump_filters)
{
    return ts_test_indices(sizeof(filter_cases) / sizeof(filter_cases[0]));
}

ParameterizedTest(size_t *i, store_tool, dump_filters)
{
    const struct filter_case *fc = &filter_cases[*i];
    char *argv[16];
    int argc = 0;
    result r;
    char *b;

    make_standard();
    argv[argc++] = "tagstream-store";
    argv[argc++] = "dump";
    argv[argc++] = "--state-dir";
    argv[argc++] = state;
    for (int k = 0; k < 6 && fc->args[k]; k++)
        argv[argc++] = (char *)fc->args[k];
    argv[argc] = NULL;
    r = run_argv(argc, argv);
    cr_assert_eq(r.rc, 0, "case %zu: exit %d: %s", *i, r.rc, r.err);
    b = brief(r.out);
    cr_expect_str_eq(b, fc->expect, "case %zu", *i);
    free(b);
    result_free(&r);
}

/* ---- top ---- */

Test(store_tool, top_ranks_by_count_then_tag_bytes)
{
    result r;

    make_standard();
    r = run("top", "2", "--format", "csv", NULL);
    expect_ok(&r, "task,window_start,window_end,rank,hashtag,count,max_timestamp,state\r\n"
                  "1_1,1795712400000,1795712420000,1,msk,9,1795712412000,closed\r\n"
                  "1_1,1795712400000,1795712420000,2,aws,7,1795712418000,closed\r\n"
                  "1_1,1795712420000,1795712440000,1,fargate,5,1795712439999,open\r\n"
                  "1_0,1795712420000,1795712440000,2,kafka,2,1795712421000,closed\r\n"
                  "1_0,1795712440000,1795712460000,1,c,1,1795712441000,open\r\n");
    result_free(&r);
    /* the tie aws/kafka (7) is broken by tag bytes: kafka third */
    r = run("top", "3", "--format", "csv", "--to", "1795712400000", NULL);
    expect_ok(&r, "task,window_start,window_end,rank,hashtag,count,max_timestamp,state\r\n"
                  "1_1,1795712400000,1795712420000,1,msk,9,1795712412000,closed\r\n"
                  "1_1,1795712400000,1795712420000,2,aws,7,1795712418000,closed\r\n"
                  "1_0,1795712400000,1795712420000,3,kafka,7,1795712419000,closed\r\n");
    result_free(&r);
}

Test(store_tool, top_json_with_filters)
{
    result r;

    make_standard();
    r = run("top", "1", "--closed", "--task", "1_0", NULL);
    expect_ok(&r, "{\"task\":\"1_0\",\"window_start\":1795712400000,\"window_end\":1795712420000,"
                  "\"rank\":1,\"hashtag\":\"kafka\",\"count\":7,\"max_timestamp\":1795712419000,"
                  "\"state\":\"closed\"}\n"
                  "{\"task\":\"1_0\",\"window_start\":1795712420000,\"window_end\":1795712440000,"
                  "\"rank\":1,\"hashtag\":\"kafka\",\"count\":2,\"max_timestamp\":1795712421000,"
                  "\"state\":\"closed\"}\n");
    result_free(&r);
}

/* ---- tasks ---- */

/* Replace the value of "disk_bytes" (which RocksDB decides) by D, after
 * checking that it is positive. */
static void mask_disk_bytes(char *s)
{
    char *p;

    while ((p = strstr(s, "\"disk_bytes\":"))) {
        char *v = p + strlen("\"disk_bytes\":"), *end;
        long long n = strtoll(v, &end, 10);
        cr_expect_gt(n, 0, "disk_bytes %lld", n);
        p[1] = 'D'; /* do not match again */
        *v = 'D';
        memmove(v + 1, end, strlen(end) + 1);
    }
}

Test(store_tool, tasks_json)
{
    result r;
    ts_store *s;

    make_standard();
    s = open_rw("tagstream", "1_5"); /* created, nothing committed yet */
    ts_store_close(s);
    r = run("tasks", "--format", "json", NULL);
    mask_disk_bytes(r.out);
    expect_ok(&r, "{\"task\":\"1_0\",\"keys\":4,\"windows_open\":1,\"windows_closed\":2,"
                  "\"Disk_bytes\":D,\"changelog_offset\":100,\"input_offset\":50,"
                  "\"stream_time\":1795712445000,\"stream_time_iso\":\"2026-11-26T17:00:45.000Z\","
                  "\"format_version\":1,\"opened_as\":\"read-only\"}\n"
                  "{\"task\":\"1_1\",\"keys\":3,\"windows_open\":1,\"windows_closed\":1,"
                  "\"Disk_bytes\":D,\"changelog_offset\":100,\"input_offset\":50,"
                  "\"stream_time\":1795712430000,\"stream_time_iso\":\"2026-11-26T17:00:30.000Z\","
                  "\"format_version\":1,\"opened_as\":\"read-only\"}\n"
                  "{\"task\":\"1_5\",\"keys\":0,\"windows_open\":0,\"windows_closed\":0,"
                  "\"Disk_bytes\":D,\"changelog_offset\":null,\"input_offset\":null,"
                  "\"stream_time\":null,\"stream_time_iso\":null,\"format_version\":0,"
                  "\"opened_as\":\"read-only\"}\n");
    result_free(&r);
}

Test(store_tool, tasks_table_and_window_options)
{
    result r;
    char task[16], iso[64], mode[16];
    long long keys, open, closed, disk, cl, in, st, fv;
    const char *row;

    make_standard();
    /* with 60 s windows, 1_0's three 20 s windows are all one window */
    r = run("tasks", "--task", "1_0", "--window-size-ms", "60000", NULL);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    cr_expect_eq(strncmp(r.out,
                         "TASK  KEYS  WINDOWS_OPEN  WINDOWS_CLOSED  DISK_BYTES  CHANGELOG_OFFSET  "
                         "INPUT_OFFSET    STREAM_TIME  STREAM_TIME_ISO           FORMAT_VERSION  "
                         "OPENED_AS\n",
                         150),
                 0, "%s", r.out);
    row = strchr(r.out, '\n') + 1;
    cr_assert_eq(sscanf(row, "%15s %lld %lld %lld %lld %lld %lld %lld %63s %lld %15s", task, &keys,
                        &open, &closed, &disk, &cl, &in, &st, iso, &fv, mode),
                 11, "%s", r.out);
    cr_expect_str_eq(task, "1_0");
    cr_expect_eq(keys, 4);
    cr_expect_eq(open, 3, "window starts are counted as the store has them");
    cr_expect_eq(closed, 0);
    cr_expect_gt(disk, 0);
    cr_expect_eq(cl, 100);
    cr_expect_eq(in, 50);
    cr_expect_eq(st, T0 + 45000);
    cr_expect_str_eq(iso, "2026-11-26T17:00:45.000Z");
    cr_expect_eq(fv, 1);
    cr_expect_str_eq(mode, "read-only");
    cr_expect_null(strchr(strchr(row, '\n') + 1, '\n'), "one task: %s", r.out);
    result_free(&r);
}

/* ---- times and CSV ---- */

struct time_case {
    const char *text;
    int ok;
    int64_t ms;
};

static struct time_case time_cases[] = {
    {"1795712400000", 1, T0},
    {"0", 1, 0},
    {"-20000", 1, -20000},
    {"2026-11-26T17:00:00Z", 1, T0},
    {"2026-11-26T17:00:00z", 1, T0},
    {"2026-11-26t17:00:00Z", 1, T0},
    {"2026-11-26 17:00:00Z", 1, T0},
    {"2026-11-26T17:00:00", 1, T0},
    {"2026-11-26T17:00Z", 1, T0},
    {"2026-11-26", 1, T0 - 17 * 3600000LL},
    {"2026-11-26T17:00:00.5Z", 1, T0 + 500},
    {"2026-11-26T17:00:00.25Z", 1, T0 + 250},
    {"2026-11-26T17:00:00.123456789Z", 1, T0 + 123},
    {"2026-11-26T17:00:00,999Z", 1, T0 + 999},
    {"2026-11-26T18:00:00+01:00", 1, T0},
    {"2026-11-26T18:30:00+0130", 1, T0},
    {"2026-11-26T12:00:00-05", 1, T0},
    {"1970-01-01T00:00:00Z", 1, 0},
    {"1969-12-31T23:59:59.999Z", 1, -1},
    {"2024-02-29T00:00:00Z", 1, 1709164800000LL},
    {"2000-02-29T00:00:00Z", 1, 951782400000LL},
    {"2026-11-26T17:00:00.Z", 0, 0},
    {"2026-11-26T17:00:00.1234567890Z", 0, 0},
    {"2025-02-29T00:00:00Z", 0, 0},
    {"1900-02-29", 0, 0},
    {"2026-13-01", 0, 0},
    {"2026-11-31", 0, 0},
    {"2026-11-26T24:00:00Z", 0, 0},
    {"2026-11-26T17:60:00Z", 0, 0},
    {"2026-11-26T17:00:60Z", 0, 0},
    {"2026-11-26T17Z", 0, 0},
    {"2026-11-26T17:00:00+1", 0, 0},
    {"2026-11-26T17:00:00Zjunk", 0, 0},
    {"2026-1-26", 0, 0},
    {"26-11-2026", 0, 0},
    {"yesterday", 0, 0},
    {"", 0, 0},
    {"-", 0, 0},
    {"12a", 0, 0},
    {"99999999999999999999", 0, 0},
};

ParameterizedTestParameters(time, parse)
{
    return ts_test_indices(sizeof(time_cases) / sizeof(time_cases[0]));
}

ParameterizedTest(size_t *i, time, parse)
{
    const struct time_case *c = &time_cases[*i];
    int64_t ms = 42;
    ts_err err = ts_store_tool_parse_time(c->text, &ms);

    if (c->ok) {
        cr_assert_eq(err, TS_OK, "\"%s\" should parse", c->text);
        cr_expect_eq(ms, c->ms, "\"%s\": %lld, expected %lld", c->text, (long long)ms,
                     (long long)c->ms);
    } else {
        cr_expect_eq(err, TS_ERR_INVALID, "\"%s\" should not parse (got %lld)", c->text,
                     (long long)ms);
    }
}

Test(time, format_and_parse_round_trip)
{
    char buf[64];

    for (int64_t ms = -400LL * 366 * 86400000; ms < 400LL * 366 * 86400000;
         ms += 86400000LL * 37 + 3600000LL * 5 + 61001) {
        int64_t back;
        ts_time_format_iso(ms, buf, sizeof(buf));
        if (buf[0] == '+' || buf[0] == '-')
            continue; /* expanded years are printed, not parsed */
        cr_assert_eq(ts_store_tool_parse_time(buf, &back), TS_OK, "%s", buf);
        cr_assert_eq(back, ms, "%s", buf);
    }
}

Test(csv, field_quoting)
{
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } c[] = {
        {"plain", 5, "plain"},       {"", 0, ""},
        {"a,b", 3, "\"a,b\""},       {"say \"hi\"", 8, "\"say \"\"hi\"\"\""},
        {"\"", 1, "\"\"\"\""},       {"cr\rlf\n", 6, "\"cr\rlf\n\""},
        {" spaced ", 8, " spaced "}, {"caf\xc3\xa9", 5, "caf\xc3\xa9"},
    };

    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        ts_buf b;
        ts_buf_init(&b, 0);
        ts_store_tool_csv_field(&b, c[i].in, c[i].len);
        cr_expect_eq(b.len, strlen(c[i].out), "case %zu", i);
        cr_expect(memcmp(b.data, c[i].out, b.len) == 0, "case %zu: %s", i, b.data);
        ts_buf_free(&b);
    }
}
