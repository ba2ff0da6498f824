/*
 * ts_source: the five sources of posts. Each runs on the calling thread
 * until its input ends (file, synthetic with a count), a stop is requested,
 * or a fatal error, and hands every post to env->emit.
 *
 *   x          X API v2 sampled or filtered stream (NDJSON over chunked HTTP)
 *   mastodon   Mastodon streaming API (Server-Sent Events)
 *   file       NDJSON or text replay
 *   synthetic  seeded Zipf-distributed hashtags
 *   bluesky    Bluesky's Jetstream (JSON events over a WebSocket)
 *
 * Returns TS_OK when the input ended or a stop was requested; otherwise an
 * error with its message (401/403 from an API, a file that cannot be read,
 * an emit that failed for good).
 */
#ifndef TS_SOURCE_H
#define TS_SOURCE_H

#include "ts_backoff.h"
#include "ts_pconf.h"
#include "ts_post.h"
#include "ts_pstats.h"

#include <stdatomic.h>

/* Publish one post. TS_ERR_STOPPED stops the source quietly, another error
 * stops it with that error. */
typedef ts_err(ts_emit_fn)(void *opaque, const ts_post *post);

typedef struct ts_source_env {
    const ts_pconf *conf;
    const ts_clock *clock;
    const atomic_int *stop;
    ts_pstats *stats;
    ts_emit_fn *emit;
    void *opaque;
} ts_source_env;

ts_err ts_source_x_run(const ts_source_env *env, char *errstr, size_t errstr_size);
ts_err ts_source_mastodon_run(const ts_source_env *env, char *errstr, size_t errstr_size);
ts_err ts_source_file_run(const ts_source_env *env, char *errstr, size_t errstr_size);
ts_err ts_source_synthetic_run(const ts_source_env *env, char *errstr, size_t errstr_size);
ts_err ts_source_bluesky_run(const ts_source_env *env, char *errstr, size_t errstr_size);

/* Dispatch on env->conf->source. */
ts_err ts_source_run(const ts_source_env *env, char *errstr, size_t errstr_size);

/*
 * Count and log (sampled) one skipped record of a source; `component` names
 * the source, detail/sample may be NULL.
 */
void ts_source_skip(const ts_source_env *env, const char *component, ts_skip why,
                    const char *detail, const char *sample, size_t sample_len);

/*
 * Parse one record (a stream line, an SSE data field, a file line) and emit
 * it, counting what is skipped. Returns the emit's error (TS_OK when the
 * record was skipped).
 */
ts_err ts_source_record(const ts_source_env *env, const char *component, ts_post *post,
                        ts_post_format fmt, const char *p, size_t n);

#endif
