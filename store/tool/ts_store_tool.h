/*
 * ts_store_tool: the operator tool `tagstream-store`, as a library.
 *
 * It reads the task stores of a processor's state directory
 * (<state.dir>/<application.id>/1_<p>/) without disturbing the processor:
 * a store whose RocksDB LOCK another process holds (a running processor) is
 * opened as a RocksDB secondary instance with its own scratch directory,
 * any other store read-only. Commands: `tasks`, `dump`, `top N`, `verify`
 * (see docs/STORE_TOOL.md).
 *
 * ts_store_tool_main is the whole program: store/tool/main.c only calls it
 * with stdout and stderr, and the unit tests call it with memory streams.
 * Results go to `out`; a failure is one line "tagstream-store: ..." on
 * `err`, and the return value is one of the exit codes below.
 *
 * Thread: one call at a time per process (RocksDB's shared block cache and
 * librdkafka are fine; the scratch directory is per call).
 */
#ifndef TS_STORE_TOOL_H
#define TS_STORE_TOOL_H

#include "ts_buf.h"
#include "ts_err.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes; stable, documented in docs/STORE_TOOL.md. */
typedef enum ts_store_tool_exit {
    TS_STORE_TOOL_OK = 0,
    TS_STORE_TOOL_DIFFERENT = 1, /* verify: store and changelog differ */
    TS_STORE_TOOL_USAGE = 2,     /* bad command line */
    TS_STORE_TOOL_NOT_FOUND = 3, /* no state directory, application or task */
    TS_STORE_TOOL_OTHER_APP = 4, /* the store belongs to another application or task */
    TS_STORE_TOOL_CORRUPT = 5,   /* RocksDB corruption, or an entry that does not decode */
    TS_STORE_TOOL_VERSION = 6,   /* a store format version this tool does not understand */
    TS_STORE_TOOL_KAFKA = 7,     /* verify: the changelog cannot be read */
    TS_STORE_TOOL_FAILED = 8,    /* anything else: I/O, RocksDB, memory, output */
} ts_store_tool_exit;

/* Run one command line (argv[0] is the program name). Returns the exit code. */
int ts_store_tool_main(int argc, char **argv, FILE *out, FILE *err);

/*
 * A point in time for --from/--to: epoch milliseconds ("1764176400000",
 * "-20000") or ISO-8601 as ts_time_parse_iso reads it with
 * TS_TIME_PARTIAL (common/ts_time.h): "2026-11-26", "2026-11-26T17:00",
 * "2026-11-26T17:00:00Z", "2026-11-26T17:00:00.250Z",
 * "2026-11-26T18:00:00+01:00" (a date and time without a zone is UTC).
 * Fractions finer than a millisecond are truncated.
 * TS_ERR_INVALID if s is neither.
 */
ts_err ts_store_tool_parse_time(const char *s, int64_t *ms);

/* Append p[0..n) as one CSV field (RFC 4180): quoted when it holds a comma,
 * a double quote, CR or LF, with double quotes doubled. */
void ts_store_tool_csv_field(ts_buf *b, const char *p, size_t n);

#endif
