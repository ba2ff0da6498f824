/*
 * The suite store_tool's state directory, stores built in it, and
 * tagstream-store run in-process (store_tool_kit.h).
 */
#include "store_tool_kit.h"
#include "ts_fs.h"
#include "ts_store_tool.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char tmp[256];
char state[300];

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

void task_path(char *buf, size_t size, const char *app, const char *task)
{
    char dir[512];

    snprintf(dir, sizeof(dir), "%s/%s", state, app);
    cr_assert(mkdir(dir, 0755) == 0 || errno == EEXIST);
    snprintf(buf, size, "%s/%s", dir, task);
}

ts_store *open_rw(const char *app, const char *task)
{
    char path[600], err[512];
    ts_store *s;

    task_path(path, sizeof(path), app, task);
    cr_assert_eq(ts_store_open(path, TS_STORE_READ_WRITE, NULL, NULL, &s, err, sizeof(err)), TS_OK,
                 "%s", err);
    return s;
}

void write_batch(ts_store *s, ts_store_batch *b)
{
    char err[512];

    cr_assert_eq(ts_store_write(s, b, 0, err, sizeof(err)), TS_OK, "%s", err);
}

void put_meta(ts_store_batch *b, const char *app, const char *task, int64_t version,
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
void make_store(const char *app, const char *task, int64_t stream_time, const ent *e, size_t n)
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
void make_standard(void)
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

result run_argv(int argc, char **argv)
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
result run(const char *cmd, ...)
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

void result_free(result *r)
{
    free(r->out);
    free(r->err);
}

/* The error is one line "tagstream-store: ..." containing `text`. */
void expect_error(const result *r, int rc, const char *text)
{
    cr_expect_eq(r->rc, rc, "exit code %d, expected %d (stderr: %s)", r->rc, rc, r->err);
    cr_expect_eq(strncmp(r->err, "tagstream-store: ", 17), 0, "stderr: %s", r->err);
    cr_expect(strchr(r->err, '\n') == r->err + strlen(r->err) - 1, "one line: %s", r->err);
    cr_expect_not_null(strstr(r->err, text), "stderr \"%s\" lacks \"%s\"", r->err, text);
}

void expect_ok(const result *r, const char *expected)
{
    cr_expect_eq(r->rc, 0, "exit code %d (stderr: %s)", r->rc, r->err);
    cr_expect_str_eq(r->err, "");
    cr_expect_str_eq(r->out, expected);
}
