/*
 * ts_log: structured logs, one JSON object per line on stdout, the format
 * CloudWatch Logs ingests as it is:
 *
 *   {"time":"2026-11-26T17:00:00.123Z","level":"info","component":"processor",
 *    "msg":"window emitted","hashtag":"kafka","count":7}
 *
 * An event is built with ts_log_begin(), fields are added, ts_log_end()
 * writes it with one write(2). When the level is disabled, ts_log_begin
 * returns NULL and every other call accepts NULL and does nothing, so
 * disabled logging costs one comparison.
 *
 * Thread: any thread may log; each thread builds its event in its own
 * thread-local buffer and lines are never interleaved.
 */
#ifndef TS_LOG_H
#define TS_LOG_H

#include "ts_err.h"

#include <stddef.h>
#include <stdint.h>

typedef enum ts_log_level {
    TS_LOG_DEBUG = 0,
    TS_LOG_INFO,
    TS_LOG_WARN,
    TS_LOG_ERROR,
    TS_LOG_OFF,
} ts_log_level;

typedef struct ts_log_ev ts_log_ev;

void ts_log_set_level(ts_log_level level);
ts_log_level ts_log_get_level(void);
/* "debug", "info", "warn", "error", "off" -> level. */
ts_err ts_log_level_parse(const char *s, ts_log_level *level);
const char *ts_log_level_name(ts_log_level level);
/* Redirect output (tests). Default: 1 (stdout). */
void ts_log_set_fd(int fd);

static inline int ts_log_enabled(ts_log_level level);

ts_log_ev *ts_log_begin(ts_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ts_log_str(ts_log_ev *ev, const char *key, const char *val, size_t len);
void ts_log_cstr(ts_log_ev *ev, const char *key, const char *val);
void ts_log_int(ts_log_ev *ev, const char *key, int64_t val);
void ts_log_dbl(ts_log_ev *ev, const char *key, double val);
void ts_log_end(ts_log_ev *ev);

/*
 * Write a complete line (`len` bytes, ending in a newline) as it is, under
 * the same lock as the events, so it is never interleaved with them. For
 * lines built elsewhere in the log's format (ts_emf).
 */
void ts_log_write_line(const char *line, size_t len);

/* One-call form for a message without fields. */
void ts_logf(ts_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Sampling for noisy paths (bad records): returns 1 for the first `burst`
 * calls and then once every `every` calls, so a flood of bad input leaves a
 * readable trace. `counter` is the caller's count of occurrences so far.
 */
static inline int ts_log_sampled(uint64_t counter, uint64_t burst, uint64_t every)
{
    return counter < burst || (every > 0 && (counter - burst) % every == 0);
}

extern int ts_log__level;
static inline int ts_log_enabled(ts_log_level level)
{
    return (int)level >= ts_log__level;
}

#endif
