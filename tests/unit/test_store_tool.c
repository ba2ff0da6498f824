/*
 * tagstream-store on stores built with ts_store in a temporary state
 * directory: exact output of tasks, dump and top, the filters, CSV quoting,
 * ISO-8601 times, and each error's exit code. One test runs the real binary
 * against a store this process holds open read-write, as a running
 * processor does, to check the secondary-instance path.
 */
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
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define T0 1795712400000LL /* 2026-11-26T17:00:00Z */
#define W0 T0
#define W1 (T0 + 20000)
#define W2 (T0 + 40000)

static char tmp[256];
static char state[300];

static void setup(void)
{
    snprintf(tmp, sizeof(tmp), "/tmp/ts-storetool-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    snprintf(state, sizeof(state), "%s/state", tmp);
    cr_assert_eq(mkdir(state, 0755), 0);
}

static void teardown(void)
{
    cr_expect_eq(ts_fs_remove_tree(tmp, NULL, 0), TS_OK, "cannot remove %s", tmp);
}

TestSuite(store_tool, .init = setup, .fini = teardown);

/* ---- building stores ---- */

typedef struct ent {
    int64_t w;
    const char *tag;
    int64_t count, max_ts;
} ent;

static void task_path(char *buf, size_t size, const char *app, const char *task)
{
    char dir[512];

    snprintf(dir, sizeof(dir), "%s/%s", state, app);
    cr_assert(mkdir(dir, 0755) == 0 || errno == EEXIST);
    snprintf(buf, size, "%s/%s", dir, task);
}

static ts_store *open_rw(const char *app, const char *task)
{
    char path[600], err[512];
    ts_store *s;

    task_path(path, sizeof(path), app, task);
    cr_assert_eq(ts_store_open(path, TS_STORE_READ_WRITE, NULL, NULL, &s, err, sizeof(err)), TS_OK,
                 "%s", err);
    return s;
}

static void write_batch(ts_store *s, ts_store_batch *b)
{
    char err[512];

    cr_assert_eq(ts_store_write(s, b, 0, err, sizeof(err)), TS_OK, "%s", err);
}

static void put_meta(ts_store_batch *b, const char *app, const char *task, int64_t version,
                     int64_t stream_time)
{
    ts_store_meta m;

    ts_store_meta_init(&m);
    m.format_version = version;
    snprintf(m.application_id, sizeof(m.application_id), "%s", app);
    snprintf(m.task_id, sizeof(m.task_id), "%s", task);
    m.changelog_offset = 100;
    m.input_offset = 50;
    m.stream_time = stream_time;
    ts_store_batch_meta(b, &m);
}

/* A store of application `app`, task `task`, holding ents, with metadata. */
static void make_store(const char *app, const char *task, int64_t stream_time, const ent *e,
                       size_t n)
{
    ts_store *s = open_rw(app, task);
    ts_store_batch *b = ts_store_batch_new();

    for (size_t i = 0; i < n; i++)
        ts_store_batch_put(b, e[i].w, e[i].tag, strlen(e[i].tag), e[i].count, e[i].max_ts);
    put_meta(b, app, task, TS_STORE_FORMAT_VERSION, stream_time);
    write_batch(s, b);
    ts_store_batch_destroy(b);
    ts_store_close(s);
}

/* Two tasks: 1_0 at stream time W2 + 5 s (W0, W1 closed), 1_1 at W1 + 10 s
 * (W0 closed, W1 open). */
static void make_standard(void)
{
    static const ent t0[] = {
        {W0, "kafka", 7, T0 + 19000},
        {W0, "rocksdb", 3, T0 + 5000},
        {W1, "kafka", 2, T0 + 21000},
        {W2, "c", 1, T0 + 41000},
    };
    static const ent t1[] = {
        {W0, "aws", 7, T0 + 18000},
        {W0, "msk", 9, T0 + 12000},
        {W1, "fargate", 5, T0 + 39999},
    };

    make_store("tagstream", "1_0", T0 + 45000, t0, 4);
    make_store("tagstream", "1_1", T0 + 30000, t1, 3);
}

/* ---- running the tool ---- */

typedef struct result {
    int rc;
    char *out;
    char *err;
} result;

static result run_argv(int argc, char **argv)
{
    result r;
    size_t on = 0, en = 0;
    FILE *out = open_memstream(&r.out, &on), *err = open_memstream(&r.err, &en);

    cr_assert(out && err);
    r.rc = ts_store_tool_main(argc, argv, out, err);
    fclose(out);
    fclose(err);
    return r;
}

/* run("dump", "--tag", "x", NULL): --state-dir is added first. */
static result run(const char *cmd, ...)
{
    char *argv[64];
    int argc = 0;
    va_list ap;
    const char *a;

    argv[argc++] = "tagstream-store";
    argv[argc++] = (char *)cmd;
    argv[argc++] = "--state-dir";
    argv[argc++] = state;
    va_start(ap, cmd);
    while ((a = va_arg(ap, const char *)) && argc < 63)
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    return run_argv(argc, argv);
}

static void result_free(result *r)
{
    free(r->out);
    free(r->err);
}

/* The error is one line "tagstream-store: ..." containing `text`. */
static void expect_error(const result *r, int rc, const char *text)
{
    cr_expect_eq(r->rc, rc, "exit code %d, expected %d (stderr: %s)", r->rc, rc, r->err);
    cr_expect_eq(strncmp(r->err, "tagstream-store: ", 17), 0, "stderr: %s", r->err);
    cr_expect(strchr(r->err, '\n') == r->err + strlen(r->err) - 1, "one line: %s", r->err);
    cr_expect_not_null(strstr(r->err, text), "stderr \"%s\" lacks \"%s\"", r->err, text);
}

static void expect_ok(const result *r, const char *expected)
{
    cr_expect_eq(r->rc, 0, "exit code %d (stderr: %s)", r->rc, r->err);
    cr_expect_str_eq(r->err, "");
    cr_expect_str_eq(r->out, expected);
}

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

/* ---- errors and exit codes ---- */

Test(store_tool, missing_state_dir)
{
    char *argv[] = {"tagstream-store", "tasks", "--state-dir", "/nonexistent/tagstream", NULL};
    result r = run_argv(4, argv);

    expect_error(&r, TS_STORE_TOOL_NOT_FOUND, "no state directory /nonexistent/tagstream");
    cr_expect_str_eq(r.out, "");
    result_free(&r);
}

Test(store_tool, missing_application_names_the_ones_there)
{
    result r;

    make_standard();
    r = run("dump", "--application-id", "counts", NULL);
    expect_error(&r, TS_STORE_TOOL_NOT_FOUND, "no application counts in");
    cr_expect_not_null(strstr(r.err, "it holds: tagstream"), "%s", r.err);
    result_free(&r);
}

Test(store_tool, missing_task)
{
    result r;

    make_standard();
    r = run("dump", "--task", "1_0", "--task", "1_7", NULL);
    expect_error(&r, TS_STORE_TOOL_NOT_FOUND, "no task 1_7 in");
    cr_expect_str_eq(r.out, "");
    result_free(&r);
}

Test(store_tool, task_directory_without_a_store)
{
    char path[600];
    result r;

    make_standard();
    task_path(path, sizeof(path), "tagstream", "1_3");
    cr_assert_eq(mkdir(path, 0755), 0);
    r = run("tasks", NULL);
    expect_error(&r, TS_STORE_TOOL_NOT_FOUND, "no store in");
    result_free(&r);
}

Test(store_tool, store_of_another_application)
{
    static const ent e[] = {{W0, "kafka", 5, T0}};
    char src[600], dst[600];
    result r;

    /* a store of application "other", copied into tagstream's directory */
    make_store("other", "1_0", T0, e, 1);
    task_path(src, sizeof(src), "other", "1_0");
    task_path(dst, sizeof(dst), "tagstream", "1_0");
    cr_assert_eq(rename(src, dst), 0);
    r = run("dump", NULL);
    expect_error(&r, TS_STORE_TOOL_OTHER_APP,
                 "belongs to application \"other\", not \"tagstream\"");
    result_free(&r);
}

Test(store_tool, store_of_another_task)
{
    static const ent e[] = {{W0, "kafka", 5, T0}};
    char src[600], dst[600];
    result r;

    make_store("tagstream", "1_0", T0, e, 1);
    task_path(src, sizeof(src), "tagstream", "1_0");
    task_path(dst, sizeof(dst), "tagstream", "1_4");
    cr_assert_eq(rename(src, dst), 0);
    r = run("tasks", NULL);
    expect_error(&r, TS_STORE_TOOL_OTHER_APP, "holds the state of task 1_0, not 1_4");
    result_free(&r);
}

Test(store_tool, unknown_format_version)
{
    ts_store *s;
    ts_store_batch *b = ts_store_batch_new();
    result r;

    make_standard();
    s = open_rw("tagstream", "1_1");
    put_meta(b, "tagstream", "1_1", TS_STORE_FORMAT_VERSION + 1, T0);
    write_batch(s, b);
    ts_store_batch_destroy(b);
    ts_store_close(s);
    r = run("dump", NULL);
    expect_error(&r, TS_STORE_TOOL_VERSION, "has format version 2");
    cr_expect_str_eq(r.out, "", "nothing is printed from a store it cannot read");
    result_free(&r);
}

/* Write one raw entry into task 1_0 of the standard stores. */
static void damage(const void *key, size_t klen, const void *val, size_t vlen)
{
    ts_store *s = open_rw("tagstream", "1_0");
    ts_store_batch *b = ts_store_batch_new();

    ts_store_batch_raw(b, key, klen, val, vlen);
    write_batch(s, b);
    ts_store_batch_destroy(b);
    ts_store_close(s);
}

Test(store_tool, corrupt_value_size)
{
    unsigned char key[64], val[TS_VALUE_LEN];
    size_t klen = ts_key_window_encode(key, W1, "bad", 3);
    result r;

    make_standard();
    ts_value_encode(val, 4, T0);
    damage(key, klen, val, 9);
    r = run("dump", NULL);
    expect_error(&r, TS_STORE_TOOL_CORRUPT, "hashtag \"bad\": value 0100000000000000");
    cr_expect_not_null(strstr(r.err, "has 9 bytes, not 17"), "%s", r.err);
    cr_expect_not_null(strstr(r.err, "2026-11-26T17:00:20.000Z"), "%s", r.err);
    result_free(&r);
    r = run("tasks", NULL);
    expect_error(&r, TS_STORE_TOOL_CORRUPT, "has 9 bytes, not 17");
    result_free(&r);
}

Test(store_tool, corrupt_value_version_byte)
{
    unsigned char key[64], val[TS_VALUE_LEN];
    size_t klen = ts_key_window_encode(key, W0, "kafka", 5);
    result r;

    make_standard();
    ts_value_encode(val, 7, T0 + 19000);
    val[0] = 0x02;
    damage(key, klen, val, sizeof(val));
    r = run("top", "3", NULL);
    expect_error(&r, TS_STORE_TOOL_CORRUPT, "has version byte 0x02, not 0x01");
    result_free(&r);
}

Test(store_tool, corrupt_key)
{
    const unsigned char key[] = {TS_KEY_WINDOW, 0x80, 0x01};
    unsigned char val[TS_VALUE_LEN];
    result r;

    make_standard();
    ts_value_encode(val, 1, 1);
    damage(key, sizeof(key), val, sizeof(val));
    r = run("dump", NULL);
    expect_error(&r, TS_STORE_TOOL_CORRUPT, "key 018001 is not a window key");
    result_free(&r);
}

Test(store_tool, corrupt_metadata)
{
    const char key[] = "\0stream.time";
    result r;

    make_standard();
    damage(key, sizeof(key) - 1, "abc", 3);
    r = run("tasks", NULL);
    expect_error(&r, TS_STORE_TOOL_CORRUPT, "metadata stream.time has 3 bytes, not 8");
    result_free(&r);
}

Test(store_tool, corrupt_rocksdb_files)
{
    char path[700];
    FILE *fp;
    result r;

    make_standard();
    task_path(path, sizeof(path), "tagstream", "1_1/CURRENT");
    fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs("garbage", fp); /* no newline: RocksDB reports corruption */
    fclose(fp);
    r = run("dump", NULL);
    expect_error(&r, TS_STORE_TOOL_CORRUPT, "Corruption");
    result_free(&r);
}

struct usage_case {
    const char *args[8];
    const char *message;
};

static struct usage_case usage_cases[] = {
    {{NULL}, "no command given"},
    {{"list"}, "list: unknown command"},
    {{"dump"}, "--state-dir is required"},
    {{"top", "--state-dir", "/tmp"}, "top needs N"},
    {{"top", "0", "--state-dir", "/tmp"}, "top: N must be an integer >= 1, not \"0\""},
    {{"top", "x", "--state-dir", "/tmp"}, "top: N must be an integer"},
    {{"dump", "--state-dir", "/tmp", "--from", "tomorrow"}, "--from: \"tomorrow\" is neither"},
    {{"dump", "--state-dir", "/tmp", "--from", "2026-11-27", "--to", "2026-11-26"},
     "--from is after --to"},
    {{"dump", "--state-dir", "/tmp", "--open", "--closed"}, "exclude each other"},
    {{"dump", "--state-dir", "/tmp", "--format", "xml"}, "unknown format"},
    {{"dump", "--state-dir", "/tmp", "--format", "text"}, "--format text applies to verify"},
    {{"dump", "--state-dir", "/tmp", "--task", "0"}, "is not a task id"},
    {{"dump", "--state-dir", "/tmp", "--bogus"}, "--bogus: unknown option"},
    {{"dump", "--state-dir", "/tmp", "-z"}, "-z: unknown option"},
    {{"dump", "--state-dir", "/tmp", "extra"}, "extra: unexpected argument"},
    {{"dump", "--state-dir"}, "--state-dir needs a value"},
    {{"dump", "--state-dir", "/tmp", "--open=yes"}, "--open takes no value"},
    {{"dump", "--state-dir", "/tmp", "--window-size-ms", "0"}, "--window-size-ms: expected"},
    {{"dump", "--state-dir", "/tmp", "--application-id", "a/b"}, "--application-id"},
    {{"tasks", "--state-dir", "/tmp", "--tag", "x"}, "apply to dump and top"},
    {{"verify", "--state-dir", "/tmp", "--bootstrap-servers", "h:1", "--time-format", "ms"},
     "apply to dump and top"},
    {{"top", "3", "--state-dir", "/tmp", "--timeout-ms", "60000"}, "apply to verify"},
    {{"dump", "--state-dir", "/tmp", "-X", "kafka.security.protocol=SSL"}, "apply to verify"},
    {{"verify", "--state-dir", "/tmp"}, "verify needs --bootstrap-servers"},
    {{"verify", "--state-dir", "/tmp", "--bootstrap-servers", "h:1", "--format", "csv"},
     "verify: --format is text or json"},
    {{"verify", "--state-dir", "/tmp", "--bootstrap-servers", "h:1", "-X", "novalue"},
     "-X needs kafka.key=value"},
};

ParameterizedTestParameters(store_tool, usage_errors)
{
    return ts_test_indices(sizeof(usage_cases) / sizeof(usage_cases[0]));
}

ParameterizedTest(size_t *i, store_tool, usage_errors)
{
    const struct usage_case *uc = &usage_cases[*i];
    char *argv[10];
    int argc = 0;
    result r;

    argv[argc++] = "tagstream-store";
    for (int k = 0; k < 8 && uc->args[k]; k++)
        argv[argc++] = (char *)uc->args[k];
    argv[argc] = NULL;
    r = run_argv(argc, argv);
    expect_error(&r, TS_STORE_TOOL_USAGE, uc->message);
    cr_expect_str_eq(r.out, "");
    result_free(&r);
}

Test(store_tool, help_goes_to_stdout)
{
    char *argv[] = {"tagstream-store", "--help", NULL};
    result r = run_argv(2, argv);

    cr_expect_eq(r.rc, 0);
    cr_expect_not_null(strstr(r.out, "usage: tagstream-store COMMAND"));
    cr_expect_not_null(strstr(r.out, "exit codes:"));
    cr_expect_str_eq(r.err, "");
    result_free(&r);
}

Test(store_tool, verify_without_a_broker_is_a_kafka_error, .timeout = 60)
{
    result r;

    make_standard();
    r = run("verify", "--bootstrap-servers", "127.0.0.1:1", "--timeout-ms", "1500", "-X",
            "kafka.reconnect.backoff.ms=100", NULL);
    expect_error(&r, TS_STORE_TOOL_KAFKA, "metadata");
    result_free(&r);
}

Test(store_tool, verify_rejects_a_bad_kafka_property)
{
    result r;

    make_standard();
    r = run("verify", "--bootstrap-servers", "127.0.0.1:1", "-X", "no.such.property=1", NULL);
    expect_error(&r, TS_STORE_TOOL_USAGE, "kafka.no.such.property");
    result_free(&r);
}

/* Kafka settings without a command line: the processor's variables and
 * its properties file (whose other keys are not the tool's business). */
Test(store_tool, verify_reads_kafka_settings_from_the_environment)
{
    result r;

    make_standard();
    cr_assert_eq(setenv("TAGSTREAM_BOOTSTRAP_SERVERS", "127.0.0.1:1", 1), 0);
    cr_assert_eq(setenv("TAGSTREAM_KAFKA_NO_SUCH_PROPERTY", "1", 1), 0);
    r = run("verify", NULL);
    expect_error(&r, TS_STORE_TOOL_USAGE, "kafka.no.such.property");
    result_free(&r);
}

Test(store_tool, verify_reads_kafka_settings_from_a_config_file)
{
    char path[400];
    FILE *fp;
    result r;

    make_standard();
    snprintf(path, sizeof(path), "%s/processor.properties", tmp);
    fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs("bootstrap.servers=127.0.0.1:1\nstate.dir=/elsewhere\nwindow.size.ms=20000\n"
          "kafka.no.such.property=1\n",
          fp);
    fclose(fp);
    r = run("verify", "--config", path, NULL);
    expect_error(&r, TS_STORE_TOOL_USAGE, "kafka.no.such.property");
    result_free(&r);
    r = run("tasks", "--config", path, NULL);
    expect_error(&r, TS_STORE_TOOL_USAGE, "apply to verify");
    result_free(&r);
}

/* A password given as -X still works, with a warning that says why not to. */
Test(store_tool, verify_warns_of_a_secret_on_the_command_line, .timeout = 60)
{
    result r;

    make_standard();
    r = run("verify", "--bootstrap-servers", "127.0.0.1:1", "--timeout-ms", "1500", "-X",
            "kafka.reconnect.backoff.ms=100", "-X", "sasl.password=hunter2", NULL);
    cr_expect_eq(r.rc, TS_STORE_TOOL_KAFKA, "stderr: %s", r.err);
    cr_expect_not_null(strstr(r.err, "warning: kafka.sasl.password given on the command line"),
                       "stderr: %s", r.err);
    cr_expect_not_null(strstr(r.err, "TAGSTREAM_KAFKA_SASL_PASSWORD"), "stderr: %s", r.err);
    cr_expect_null(strstr(r.err, "hunter2"), "stderr: %s", r.err);
    result_free(&r);
}

/* ---- the binary, on a store that another process holds open ---- */

/* Run $TAGSTREAM_BIN/tagstream-store with args; stdout into *out. */
static int run_binary(const char *const *args, char **out)
{
    const char *bin = getenv("TAGSTREAM_BIN");
    char path[1024], outp[400];
    char *argv[32];
    int argc = 0, status, fd;
    posix_spawn_file_actions_t fa;
    pid_t pid;
    FILE *fp;
    size_t n;

    cr_assert_not_null(bin, "TAGSTREAM_BIN is not set");
    snprintf(path, sizeof(path), "%s/tagstream-store", bin);
    snprintf(outp, sizeof(outp), "%s/binary.out", tmp);
    argv[argc++] = path;
    while (*args)
        argv[argc++] = (char *)*args++;
    argv[argc] = NULL;
    fd = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd, 1);
    cr_assert_eq(posix_spawn(&pid, path, &fa, NULL, argv, environ), 0, "cannot run %s", path);
    posix_spawn_file_actions_destroy(&fa);
    close(fd);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    fp = fopen(outp, "r");
    cr_assert_not_null(fp);
    *out = calloc(1, 1 << 16);
    n = fread(*out, 1, (1 << 16) - 1, fp);
    (*out)[n] = '\0';
    fclose(fp);
    return WEXITSTATUS(status);
}

Test(store_tool, binary_reads_a_store_held_open_as_a_secondary)
{
    static const ent e[] = {{W0, "live", 11, T0 + 7}};
    char scratch[400], *out;
    ts_store *s;
    ts_store_batch *b = ts_store_batch_new();
    DIR *d;
    struct dirent *de;
    int entries = 0;
    const char *tasks[] = {"tasks", "--state-dir", state,   "--format",
                           "json",  "--scratch",   scratch, NULL};
    const char *dump[] = {"dump", "--state-dir", state, "--scratch", scratch, NULL};
    const char *missing[] = {"dump", "--state-dir", "/nonexistent", NULL};

    snprintf(scratch, sizeof(scratch), "%s/scratch", tmp);
    make_store("tagstream", "1_0", T0, e, 1);
    /* as a running processor: open read-write, with a write only in the WAL */
    s = open_rw("tagstream", "1_0");
    ts_store_batch_put(b, W1, "wal", 3, 2, T0 + 20001);
    put_meta(b, "tagstream", "1_0", TS_STORE_FORMAT_VERSION, T0 + 20001);
    write_batch(s, b);

    cr_expect_eq(run_binary(tasks, &out), 0);
    cr_expect_not_null(strstr(out, "\"keys\":2,\"windows_open\":1,\"windows_closed\":1"), "%s",
                       out);
    cr_expect_not_null(strstr(out, "\"opened_as\":\"secondary\""), "%s", out);
    free(out);
    cr_expect_eq(run_binary(dump, &out), 0);
    cr_expect_str_eq(
        out, "{\"task\":\"1_0\",\"window_start\":1795712400000,\"window_end\":1795712420000,"
             "\"hashtag\":\"live\",\"count\":11,\"max_timestamp\":1795712400007,"
             "\"state\":\"closed\"}\n"
             "{\"task\":\"1_0\",\"window_start\":1795712420000,\"window_end\":1795712440000,"
             "\"hashtag\":\"wal\",\"count\":2,\"max_timestamp\":1795712420001,"
             "\"state\":\"open\"}\n");
    free(out);

    /* the live store is untouched and still writable */
    ts_store_batch_clear(b);
    ts_store_batch_put(b, W1, "after", 5, 1, T0 + 20002);
    write_batch(s, b);
    ts_store_batch_destroy(b);
    ts_store_close(s);

    /* the secondary's scratch files are gone */
    d = opendir(scratch);
    cr_assert_not_null(d);
    while ((de = readdir(d)))
        entries += de->d_name[0] != '.';
    closedir(d);
    cr_expect_eq(entries, 0, "scratch directory left behind");

    cr_expect_eq(run_binary(missing, &out), TS_STORE_TOOL_NOT_FOUND);
    free(out);
}
