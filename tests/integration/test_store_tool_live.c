/*
 * tagstream-store against a real tagstream-processor on the real broker:
 * known input is counted, and while the processor runs, `dump`, `top` and
 * `tasks` show the counts this test computes itself (read through RocksDB
 * secondary instances, as the store is locked); `verify` passes against the
 * changelog. Then the processor is stopped with SIGTERM, one store is
 * damaged on purpose, and `verify` fails naming the damaged keys.
 */
#include "proc.h"
#include "testfile.h"
#include "testkit.h"
#include "ts_fs.h"
#include "ts_murmur2.h"
#include "ts_store.h"
#include "ts_store_tool.h"
#include "ts_tag.h"
#include "ts_time.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define NPART  2
#define WINDOW 20000

static char tmp[256];
static pid_t live_proc; /* killed by teardown if a failed check left it running */

static void setup(void)
{
    snprintf(tmp, sizeof(tmp), "/tmp/ts-storetool-live-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
}

static void teardown(void)
{
    if (live_proc > 0) {
        kill(live_proc, SIGKILL);
        waitpid(live_proc, NULL, 0);
        live_proc = 0;
    }
    cr_expect_eq(ts_fs_remove_tree(tmp, NULL, 0), TS_OK, "cannot remove %s", tmp);
}

TestSuite(store_tool_live, .init = setup, .fini = teardown);

/* ---- processes ---- */

static char *slurp(const char *path)
{
    char *buf = tf_read(path, NULL);

    cr_assert_not_null(buf, "cannot read %s", path);
    return buf;
}

/* Start $TAGSTREAM_BIN/<name> with argv, stdout and stderr into files. */
static pid_t spawn(const char *name, const char *const *args, const char *out, const char *err)
{
    const char *bin = getenv("TAGSTREAM_BIN");
    char path[1024];
    char *argv[48];
    int argc = 0, ofd, efd;
    posix_spawn_file_actions_t fa;
    pid_t pid;

    cr_assert_not_null(bin, "TAGSTREAM_BIN is not set");
    snprintf(path, sizeof(path), "%s/%s", bin, name);
    argv[argc++] = path;
    while (*args && argc < 47)
        argv[argc++] = (char *)*args++;
    argv[argc] = NULL;
    ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    efd = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert(ofd >= 0 && efd >= 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, ofd, 1);
    posix_spawn_file_actions_adddup2(&fa, efd, 2);
    cr_assert_eq(posix_spawn(&pid, path, &fa, NULL, argv, environ), 0, "cannot run %s", path);
    posix_spawn_file_actions_destroy(&fa);
    close(ofd);
    close(efd);
    return pid;
}

typedef struct tool_result {
    int rc;
    char *out;
    char *err;
} tool_result;

/* Run tagstream-store to completion. */
static tool_result tool(const char *const *args)
{
    char out[400], err[400];
    tool_result r;
    int status;
    pid_t pid;

    snprintf(out, sizeof(out), "%s/tool.out", tmp);
    snprintf(err, sizeof(err), "%s/tool.err", tmp);
    pid = spawn("tagstream-store", args, out, err);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "tagstream-store did not exit normally");
    r.rc = WEXITSTATUS(status);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
}

static void tool_free(tool_result *r)
{
    free(r->out);
    free(r->err);
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for pid to exit (up to timeout_ms); its exit status, or -1. */
static int wait_exit(pid_t pid, int timeout_ms)
{
    int64_t end = mono_ms() + timeout_ms;
    int status;

    while (mono_ms() < end) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        usleep(50000);
    }
    return -1;
}

/* ---- the input and what it must count to ---- */

typedef struct rec {
    const char *value;
    int window; /* 0, 1, 2: which 20 s window after base */
    int count;  /* how many times */
} rec;

/* "Kafka " normalizes to "kafka"; "x" is too short to count. The "tick"
 * records (found below, one per task) move every task's stream time past
 * the end of window 1, closing windows 0 and 1 everywhere. */
static const rec input[] = {
    {"kafka", 0, 7}, {"rocksdb", 0, 5}, {"aws", 0, 3}, {"Kafka ", 0, 2},
    {"x", 0, 4},     {"kafka", 1, 2},   {"msk", 1, 6}, {"fargate", 1, 4},
};

typedef struct expect {
    char tag[64];
    int window;
    int64_t count;
    int64_t max_ts;
    int task;
} expect;

static expect expected[32];
static size_t nexpected;
static char ticks[NPART][16];

static int64_t ts_of(int64_t base, int window, int i)
{
    return base + window * WINDOW + 1000 + i * 7;
}

static void add_expected(const char *value, int window, int64_t ts)
{
    char norm[64];
    size_t len;

    cr_assert_eq(ts_tag_normalize(value, strlen(value), norm, sizeof(norm), &len), TS_OK);
    if (len <= 1)
        return;
    norm[len] = '\0';
    for (size_t i = 0; i < nexpected; i++) {
        if (expected[i].window == window && !strcmp(expected[i].tag, norm)) {
            expected[i].count++;
            if (ts > expected[i].max_ts)
                expected[i].max_ts = ts;
            return;
        }
    }
    cr_assert_lt(nexpected, sizeof(expected) / sizeof(expected[0]));
    snprintf(expected[nexpected].tag, sizeof(expected[nexpected].tag), "%s", norm);
    expected[nexpected].window = window;
    expected[nexpected].count = 1;
    expected[nexpected].max_ts = ts;
    expected[nexpected].task = ts_murmur2_partition(norm, len, NPART);
    nexpected++;
}

static int expect_cmp(const void *a, const void *b)
{
    const expect *x = a, *y = b;

    if (x->window != y->window)
        return x->window - y->window;
    return strcmp(x->tag, y->tag);
}

/* Produce the input, all into input partition 0 so that the processor
 * repartitions it in this order: every window 0 record reaches its task
 * before any window 1 record, and the ticks come last (nothing is late).
 * Fill expected[] (sorted as dump prints). */
static void produce_input(const char *topic, int64_t base)
{
    rd_kafka_t *p = tk_producer(NULL, NULL);
    int n = 0;

    nexpected = 0;
    for (size_t r = 0; r < sizeof(input) / sizeof(input[0]); r++) {
        for (int i = 0; i < input[r].count; i++, n++) {
            int64_t ts = ts_of(base, input[r].window, i);
            cr_assert_eq(
                rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                                  RD_KAFKA_V_VALUE((void *)input[r].value, strlen(input[r].value)),
                                  RD_KAFKA_V_TIMESTAMP(ts),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                0);
            add_expected(input[r].value, input[r].window, ts);
        }
    }
    /* one tick per task, so that every task's stream time reaches base + 45 s */
    for (int part = 0; part < NPART; part++) {
        int64_t ts = base + 2 * WINDOW + 5000;
        for (int k = 0; !ticks[part][0]; k++) {
            char t[16];
            snprintf(t, sizeof(t), "tick%d", k);
            if (ts_murmur2_partition(t, strlen(t), NPART) == part)
                snprintf(ticks[part], sizeof(ticks[part]), "%s", t);
        }
        cr_assert_eq(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                                       RD_KAFKA_V_VALUE(ticks[part], strlen(ticks[part])),
                                       RD_KAFKA_V_TIMESTAMP(ts),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     0);
        add_expected(ticks[part], 2, ts);
    }
    cr_assert_eq(rd_kafka_flush(p, 30000), 0);
    rd_kafka_destroy(p);
    qsort(expected, nexpected, sizeof(expected[0]), expect_cmp);
}

/* ---- expected tool output, built from expected[] ---- */

static char *expected_dump(int64_t base)
{
    size_t n = 0;
    char *s = NULL;
    FILE *fp = open_memstream(&s, &n);

    for (size_t i = 0; i < nexpected; i++) {
        const expect *e = &expected[i];
        int64_t w = base + e->window * WINDOW;
        fprintf(fp,
                "{\"task\":\"1_%d\",\"window_start\":%" PRId64 ",\"window_end\":%" PRId64
                ",\"hashtag\":\"%s\",\"count\":%" PRId64 ",\"max_timestamp\":%" PRId64
                ",\"state\":\"%s\"}\n",
                e->task, w, w + WINDOW, e->tag, e->count, e->max_ts,
                e->window < 2 ? "closed" : "open");
    }
    fclose(fp);
    return s;
}

static int top_cmp(const void *a, const void *b)
{
    const expect *x = a, *y = b;

    if (x->window != y->window)
        return x->window - y->window;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->tag, y->tag);
}

static char *expected_top(int64_t base, int n_top)
{
    expect v[32];
    size_t n = 0;
    char *s = NULL;
    FILE *fp = open_memstream(&s, &n);
    int rank = 0, win = -1;

    memcpy(v, expected, nexpected * sizeof(v[0]));
    qsort(v, nexpected, sizeof(v[0]), top_cmp);
    for (size_t i = 0; i < nexpected; i++) {
        int64_t w = base + v[i].window * WINDOW;
        rank = v[i].window == win ? rank + 1 : 1;
        win = v[i].window;
        if (rank > n_top)
            continue;
        fprintf(fp, "1_%d,%" PRId64 ",%" PRId64 ",%d,%s,%" PRId64 ",%" PRId64 ",%s\r\n", v[i].task,
                w, w + WINDOW, rank, v[i].tag, v[i].count, v[i].max_ts,
                v[i].window < 2 ? "closed" : "open");
    }
    fclose(fp);
    return s;
}

static const expect *find_expected(const char *tag, int window)
{
    for (size_t i = 0; i < nexpected; i++)
        if (expected[i].window == window && !strcmp(expected[i].tag, tag))
            return &expected[i];
    cr_assert_fail("no expected entry %s in window %d", tag, window);
    return NULL;
}

/* ---- the test ---- */

static const char csv_head[] =
    "task,window_start,window_end,rank,hashtag,count,max_timestamp,state\r\n";

Test(store_tool_live, inspect_and_verify_a_running_processor, .timeout = 240)
{
    char *app = tk_unique("stool"), *in = tk_unique("stool-in"), *out = tk_unique("stool-out");
    char state[300], plog[400], perr[400], scratch[300], task_dir[700];
    int64_t base = ((tk_now_ms() - 3600000) / WINDOW) * WINDOW;
    const char *bs = tk_bootstrap();
    /* The processor subscribes right after creating its internal topics; if
     * the broker's metadata does not show the repartition topic yet, the
     * first assignment lacks it until the next metadata refresh (5 min by
     * default): refresh every second so that such a start costs a second. */
    const char *refresh[] = {"--kafka.topic.metadata.refresh.interval.ms", "1000", NULL};
    const char *proc_args[TK_PROCESSOR_ARGS_MAX];
    const char *dump_args[] = {"dump", "--state-dir", state,   "--application-id",
                               app,    "--scratch",   scratch, NULL};
    const char *top_args[] = {
        "top", "2", "--format", "csv", "--state-dir", state, "--application-id", app, NULL};
    const char *tasks_args[] = {"tasks", "--format",         "json", "--state-dir",
                                state,   "--application-id", app,    NULL};
    const char *verify_args[] = {
        "verify",       "--state-dir", state, "--application-id", app, "--bootstrap-servers", bs,
        "--timeout-ms", "30000",       NULL};
    const char *verify_json[] = {"verify", "--format",
                                 "json",   "--state-dir",
                                 state,    "--application-id",
                                 app,      "--bootstrap-servers",
                                 bs,       NULL};
    char *want, *want_top;
    tk_records results;
    tool_result r;
    pid_t proc;
    int64_t deadline;
    const expect *kafka0, *msk1;

    snprintf(state, sizeof(state), "%s/state", tmp);
    snprintf(scratch, sizeof(scratch), "%s/scratch", tmp);
    snprintf(plog, sizeof(plog), "%s/processor.log", tmp);
    snprintf(perr, sizeof(perr), "%s/processor.err", tmp);
    tk_create_topic(in, NPART, 1, NULL);
    tk_create_topic(out, 1, 1, NULL);
    produce_input(in, base);
    want = expected_dump(base);
    want_top = expected_top(base, 2);

    tk_processor_args(&(tk_processor_opts){app, state, in, out, "", refresh}, proc_args);
    proc = live_proc = spawn("tagstream-processor", proc_args, plog, perr);

    /* the final counts of windows 0 and 1 above min.count 4 */
    results = tk_consume_all(out, 0, 3, 90000);
    if (results.n != 3) {
        char *log = slurp(plog), *err = slurp(perr);
        size_t n = strlen(log);
        cr_assert_fail("processor results: %zu; its log ends:\n%s\nstderr: %s", results.n,
                       log + (n > 3000 ? n - 3000 : 0), err);
    }
    tk_records_free(&results);
    cr_assert_eq(waitpid(proc, NULL, WNOHANG), 0, "the processor is still running");

    /* RocksDB is written just after the commit that made the results
     * visible: poll for a moment */
    deadline = mono_ms() + 20000;
    for (;;) {
        r = tool(dump_args);
        if ((r.rc == 0 && !strcmp(r.out, want)) || mono_ms() > deadline)
            break;
        tool_free(&r);
        usleep(200000);
    }
    cr_expect_eq(r.rc, 0, "dump: %s", r.err);
    cr_expect_str_eq(r.out, want);
    tool_free(&r);

    r = tool(top_args);
    cr_expect_eq(r.rc, 0, "top: %s", r.err);
    cr_expect_eq(strncmp(r.out, csv_head, strlen(csv_head)), 0, "%s", r.out);
    cr_expect_str_eq(strstr(r.out, "\r\n") + 2, want_top);
    tool_free(&r);

    r = tool(tasks_args);
    cr_expect_eq(r.rc, 0, "tasks: %s", r.err);
    for (int part = 0; part < NPART; part++) {
        char head[64], *line, st[64];
        long long keys = 0, wo = -1, wc = -1, disk = 0, cl = 0, io = 0, stream = 0;
        int64_t want_keys = 0, want_closed = 0, have_w[3] = {0, 0, 0};
        for (size_t i = 0; i < nexpected; i++) {
            if (expected[i].task != part)
                continue;
            want_keys++;
            have_w[expected[i].window] = 1;
        }
        want_closed = have_w[0] + have_w[1];
        snprintf(head, sizeof(head), "{\"task\":\"1_%d\",", part);
        line = strstr(r.out, head);
        cr_assert_not_null(line, "no task 1_%d in %s", part, r.out);
        cr_assert_eq(
            sscanf(line,
                   "{\"task\":\"1_%*d\",\"keys\":%lld,\"windows_open\":%lld,"
                   "\"windows_closed\":%lld,\"disk_bytes\":%lld,\"changelog_offset\":%lld,"
                   "\"input_offset\":%lld,\"stream_time\":%lld,\"stream_time_iso\":\"%63[^\"]",
                   &keys, &wo, &wc, &disk, &cl, &io, &stream, st),
            8, "%s", line);
        cr_expect_eq(keys, want_keys, "task 1_%d keys", part);
        cr_expect_eq(wo, 1, "task 1_%d: window 2 open", part);
        cr_expect_eq(wc, want_closed, "task 1_%d closed windows", part);
        cr_expect_gt(cl, 0);
        cr_expect_gt(io, 0);
        cr_expect_eq(stream, base + 2 * WINDOW + 5000);
        cr_expect_not_null(strstr(line, "\"opened_as\":\"secondary\""),
                           "a running processor's store is read as a secondary: %s", line);
    }
    tool_free(&r);

    /* verify, still running */
    r = tool(verify_args);
    cr_expect_eq(r.rc, 0, "verify: %s%s", r.out, r.err);
    cr_expect_not_null(strstr(r.out, "the stores match the changelog"), "%s", r.out);
    tool_free(&r);

    /* the processor never noticed: still running; then a graceful stop */
    cr_assert_eq(waitpid(proc, NULL, WNOHANG), 0, "the processor is still running");
    cr_assert_eq(kill(proc, SIGTERM), 0);
    cr_assert_eq(wait_exit(proc, 30000), 0, "processor exit (log %s)", plog);
    live_proc = 0;

    r = tool(verify_json);
    cr_expect_eq(r.rc, 0, "verify after stop: %s%s", r.out, r.err);
    cr_expect_not_null(strstr(r.out, "\"type\":\"summary\""), "%s", r.out);
    cr_expect_not_null(strstr(r.out, "\"ok\":true"), "%s", r.out);
    cr_expect_null(strstr(r.out, "\"type\":\"difference\""), "%s", r.out);
    tool_free(&r);

    /* damage the stores on purpose: one count rewritten, one key deleted */
    kafka0 = find_expected("kafka", 0);
    msk1 = find_expected("msk", 1);
    {
        ts_store *s;
        ts_store_batch *b = ts_store_batch_new();
        char err[512];
        snprintf(task_dir, sizeof(task_dir), "%s/%s/1_%d", state, app, kafka0->task);
        cr_assert_eq(ts_store_open(task_dir, TS_STORE_READ_WRITE, NULL, NULL, &s, err, sizeof(err)),
                     TS_OK, "%s", err);
        ts_store_batch_put(b, base, "kafka", 5, kafka0->count + 90, kafka0->max_ts);
        cr_assert_eq(ts_store_write(s, b, 0, err, sizeof(err)), TS_OK, "%s", err);
        ts_store_close(s);
        ts_store_batch_clear(b);
        snprintf(task_dir, sizeof(task_dir), "%s/%s/1_%d", state, app, msk1->task);
        cr_assert_eq(ts_store_open(task_dir, TS_STORE_READ_WRITE, NULL, NULL, &s, err, sizeof(err)),
                     TS_OK, "%s", err);
        ts_store_batch_delete(b, base + WINDOW, "msk", 3);
        cr_assert_eq(ts_store_write(s, b, 0, err, sizeof(err)), TS_OK, "%s", err);
        ts_store_close(s);
        ts_store_batch_destroy(b);
    }

    r = tool(verify_args);
    cr_expect_eq(r.rc, TS_STORE_TOOL_DIFFERENT, "verify of a damaged store: %d\n%s%s", r.rc, r.out,
                 r.err);
    {
        char line[512], w0[40], w1[40];
        ts_time_format_iso(base, w0, sizeof(w0));
        ts_time_format_iso(base + WINDOW, w1, sizeof(w1));
        snprintf(line, sizeof(line),
                 "1_%d: different value: window %s (%" PRId64
                 ") hashtag \"kafka\"; store: count %" PRId64 ", ",
                 kafka0->task, w0, base, kafka0->count + 90);
        cr_expect_not_null(strstr(r.out, line), "no \"%s\" in\n%s", line, r.out);
        snprintf(line, sizeof(line), "; changelog: count %" PRId64 ", ", kafka0->count);
        cr_expect_not_null(strstr(r.out, line), "no \"%s\" in\n%s", line, r.out);
        snprintf(line, sizeof(line),
                 "1_%d: missing in store: window %s (%" PRId64
                 ") hashtag \"msk\"; changelog: count %" PRId64 ", ",
                 msk1->task, w1, base + WINDOW, msk1->count);
        cr_expect_not_null(strstr(r.out, line), "no \"%s\" in\n%s", line, r.out);
        cr_expect_not_null(strstr(r.out, "DIFFERENT"), "%s", r.out);
        cr_expect_not_null(strstr(r.err, "tagstream-store: verify: 2 differences"), "%s", r.err);
    }
    tool_free(&r);

    r = tool(verify_json);
    cr_expect_eq(r.rc, TS_STORE_TOOL_DIFFERENT);
    cr_expect_not_null(strstr(r.out, "\"difference\":\"different_value\""), "%s", r.out);
    cr_expect_not_null(strstr(r.out, "\"difference\":\"missing_in_store\""), "%s", r.out);
    cr_expect_not_null(strstr(r.out, "\"hashtag\":\"msk\",\"store\":null,\"changelog\":{"), "%s",
                       r.out);
    tool_free(&r);

    free(want);
    free(want_top);
    free(app);
    free(in);
    free(out);
}
