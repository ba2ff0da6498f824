/*
 * tagstream-store's errors: each one's exit code and one-line message, the
 * usage, where verify takes its Kafka settings from, and the real binary run
 * against a store this process holds open read-write, as a running processor
 * does, to check the secondary-instance path. Part of the test binary
 * test_store_tool (store_tool_kit.c).
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
