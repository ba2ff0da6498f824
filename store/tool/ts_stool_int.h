/*
 * ts_stool_int: what the parts of tagstream-store share; internal to
 * store/tool/ (the interface to the rest of the tree is ts_store_tool.h).
 *
 * The parts, one a file; each uses only files below it in this list (no
 * include or call goes upward, so there is no circle):
 *
 *   ts_store_tool.c   ts_store_tool_main: defaults, then parse, open, the
 *                     command, and the first failure's message and exit code
 *   ts_stool_cmd.c    the commands: tasks, dump and top, verify
 *   ts_stool_open.c   finding the task stores and opening them read-only or
 *                     as secondaries; reading and decoding their entries
 *   ts_stool_cli.c    the command line into a ts_stool (ts_stool_parse)
 *   ts_stool_out.c    rendering rows as JSON lines, CSV or a table (knows
 *                     nothing of ts_stool; its own header ts_stool_out.h)
 *   ts_store_verify.c a store compared with its changelog (knows nothing of
 *                     ts_stool; its own header ts_store_verify.h)
 *   ts_stool.c        ts_stool_fail and ts_stool_join
 *
 * Of the headers in store/tool/, this one includes only the public
 * ts_store_tool.h (for the exit codes).
 *
 * Errors: every function that can fail records the first failure in the
 * ts_stool (message and exit code, ts_stool_fail) and returns that exit
 * code; 0 is success. Thread: one ts_stool per thread.
 */
#ifndef TS_STOOL_INT_H
#define TS_STOOL_INT_H

#include "ts_config.h"
#include "ts_msk_iam.h"
#include "ts_store.h"
#include "ts_store_tool.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The command. */
enum {
    TS_CMD_TASKS,
    TS_CMD_DUMP,
    TS_CMD_TOP,
    TS_CMD_VERIFY
};
/* --format; DEFAULT until the command line is read. */
enum {
    TS_FMT_DEFAULT,
    TS_FMT_JSON,
    TS_FMT_TABLE,
    TS_FMT_CSV,
    TS_FMT_TEXT
};
/* --time-format; DEFAULT until the command line is read. */
enum {
    TS_TFMT_DEFAULT,
    TS_TFMT_MS,
    TS_TFMT_ISO
};

/* One task store to read; found and opened by ts_stool_open. */
typedef struct ts_stool_task {
    char id[32]; /* "1_<partition>", the directory's name */
    long sub;
    int32_t part;
    char *path;
    ts_store *store;
    ts_store_meta meta;
    int secondary;
} ts_stool_task;

/* One run: the options (ts_stool_cli.c), the opened stores
 * (ts_stool_open.c), and the first failure. */
typedef struct ts_stool {
    FILE *out;
    int rc;         /* exit code of the first failure; 0 while there is none */
    char msg[2048]; /* its message */

    /* options */
    unsigned seen; /* 1 << TS_OPT_* (ts_stool_cli.c) of each option given */
    int cmd;
    int help;
    const char *state_dir;
    const char *app_id;
    const char **want; /* --task values */
    size_t nwant;
    int64_t window_ms;
    int64_t grace_ms;
    int format;
    int time_fmt;
    char *tag; /* normalized */
    size_t tag_len;
    int64_t from, to;
    int only_open, only_closed;
    int64_t top_n;
    const char *bootstrap; /* --bootstrap-servers, else conf_bootstrap */
    char *conf_bootstrap;  /* bootstrap.servers of --config or $TAGSTREAM_BOOTSTRAP_SERVERS */
    int64_t timeout_ms;
    const char *scratch_base;
    ts_conf conf; /* kafka.* passthrough, msk.iam* and bootstrap.servers: file < environment <
                     flags */
    ts_msk_iam_conf iam;

    /* state */
    char *app_dir;
    char *scratch; /* created on the first secondary open */
    ts_stool_task *tasks;
    size_t ntasks;
} ts_stool;

/* ---- ts_stool.c ---- */

/* Record the first failure (its message and exit code); returns the exit
 * code of the first failure (rc, or an earlier one). */
int ts_stool_fail(ts_stool *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "a/b", malloc'd; NULL when out of memory. */
char *ts_stool_join(const char *a, const char *b);

/* ---- ts_stool_cli.c ---- */

extern const char ts_stool_usage[];

/* argv into c's options (argv[0] is the program name); checks that they
 * fit the command, and sets the defaults that depend on it. */
int ts_stool_parse(ts_stool *c, int argc, char **argv);

/* "1_3" -> sub-topology 1, partition 3; -1 if the name is not a task id. */
int ts_stool_task_name(const char *s, long *sub, int32_t *part);

/* ---- ts_stool_open.c ---- */

/* Find the tasks (all, or --task), open each store and read its metadata,
 * checking application, task and format version. */
int ts_stool_open(ts_stool *c);

/* Close the stores and free what c holds; c may be half-made. */
void ts_stool_close(ts_stool *c);

/* A ts_store error with its message: the exit code by its kind
 * (not found, corrupt, other). */
int ts_stool_store_err(ts_stool *c, ts_err err, const char *msg);

/* Decode the iterator's current entry; a failure is a corrupt store. */
int ts_stool_entry(ts_stool *c, ts_stool_task *t, ts_store_iter *it, int64_t *w, const char **tag,
                   size_t *len, int64_t *count, int64_t *max_ts);

/* The iterator's status once it is no longer valid. */
int ts_stool_iter_status(ts_stool *c, ts_stool_task *t, ts_store_iter *it);

/* Whether window w of task t is closed (its stream time against
 * --window-size-ms and --grace-ms). */
int ts_stool_closed(const ts_stool *c, const ts_stool_task *t, int64_t w);

/* ---- ts_stool_cmd.c: the commands, on opened stores, output to c->out ---- */

int ts_stool_cmd_tasks(ts_stool *c);
int ts_stool_cmd_entries(ts_stool *c); /* dump and top */
int ts_stool_cmd_verify(ts_stool *c);

#endif
