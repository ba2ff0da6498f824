/*
 * What the tests of tagstream-store share (store_tool_kit.c): the state
 * directory of the current test (made and removed by the suite store_tool),
 * stores built with ts_store in it, and the tool run in-process.
 */
#ifndef STORE_TOOL_KIT_H
#define STORE_TOOL_KIT_H

#include "ts_store.h"

#include <stddef.h>
#include <stdint.h>

#define T0 1795712400000LL /* 2026-11-26T17:00:00Z */
#define W0 T0
#define W1 (T0 + 20000)
#define W2 (T0 + 40000)

/* The test's temporary directory and the state directory in it. */
extern char tmp[256];
extern char state[300];

/* ---- building stores ---- */

typedef struct ent {
    int64_t w;
    const char *tag;
    int64_t count, max_ts;
} ent;

/* state/app/task (making state/app); the store's directory. */
void task_path(char *buf, size_t size, const char *app, const char *task);
/* Open state/app/task read-write (fails the test on error). */
ts_store *open_rw(const char *app, const char *task);
void write_batch(ts_store *s, ts_store_batch *b);
/* Add metadata of app/task at format `version` and stream_time to b. */
void put_meta(ts_store_batch *b, const char *app, const char *task, int64_t version,
              int64_t stream_time);
/* A store of application `app`, task `task`, holding ents, with metadata. */
void make_store(const char *app, const char *task, int64_t stream_time, const ent *e, size_t n);
/* Two tasks: 1_0 at stream time W2 + 5 s (W0, W1 closed), 1_1 at W1 + 10 s
 * (W0 closed, W1 open). */
void make_standard(void);

/* ---- running the tool ---- */

typedef struct result {
    int rc;
    char *out;
    char *err;
} result;

/* ts_store_tool_main on argv; out and err are the captured streams. */
result run_argv(int argc, char **argv);
/* run("dump", "--tag", "x", NULL): --state-dir is added first. */
result run(const char *cmd, ...);
void result_free(result *r);
/* The error is one line "tagstream-store: ..." containing `text`. */
void expect_error(const result *r, int rc, const char *text);
/* Exit code 0, nothing on stderr, exactly `expected` on stdout. */
void expect_ok(const result *r, const char *expected);

#endif
