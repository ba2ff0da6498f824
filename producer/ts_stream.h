/*
 * ts_stream: a long-lived HTTP GET stream (libcurl) with the reconnect
 * discipline of ts_backoff, shared by the X and Mastodon sources.
 *
 * The body is framed as NDJSON lines or as Server-Sent Events (ts_split)
 * and each complete record goes to the record callback. A stream that
 * delivers no byte for stall.timeout.ms (keep-alives count) is dropped and
 * reconnected; a stop request ends the transfer within about a second
 * (curl's progress callback). Non-200 answers are logged with the detail of
 * their body; 401 and 403 are fatal (a token problem no retry will fix);
 * 429 waits for the rate-limit reset (x-rate-limit-reset, X-RateLimit-Reset
 * or Retry-After).
 *
 * Counted in env->stats: reconnects by cause, truncated and oversize
 * records, source_connected while a 200 stream is open.
 *
 * Ownership: the stream keeps pointers to env and opts, which must outlive
 * it. Thread: one thread runs a stream; callbacks run on it.
 */
#ifndef TS_STREAM_H
#define TS_STREAM_H

#include "ts_buf.h"
#include "ts_source.h"

/* A complete record: type is NULL for an NDJSON line, the event type for
 * SSE. TS_ERR_STOPPED stops quietly, another error ends the stream as a
 * fatal error. */
typedef ts_err(ts_stream_record_fn)(void *opaque, const char *type, size_t type_len,
                                    const char *data, size_t n);

typedef struct ts_stream ts_stream;

/* Before each connection attempt (X: sync the filter rules). Return 0 to
 * go on with the stream, non-zero when *a has been filled with a failure. */
typedef int(ts_stream_prepare_fn)(void *opaque, ts_stream *s, ts_attempt *a);

typedef struct ts_stream_opts {
    const char *component;  /* "x", "mastodon": the log component and message prefix */
    const char *token;      /* bearer token or NULL */
    const char *token_hint; /* where the token comes from, for a 401/403 message */
    int sse;
    ts_stream_record_fn *record;
    ts_stream_prepare_fn *prepare; /* may be NULL */
    void *opaque;
} ts_stream_opts;

ts_stream *ts_stream_new(const ts_source_env *env, const ts_stream_opts *opts, char *errstr,
                         size_t errstr_size);
void ts_stream_destroy(ts_stream *s);

/* Stream `url` until a stop (TS_OK) or a fatal error (with its message). */
ts_err ts_stream_run(ts_stream *s, const char *url, char *errstr, size_t errstr_size);

/*
 * One ordinary request (method "GET" or "POST" with a JSON body, may be
 * NULL) on the stream's connection settings. On a 2xx answer returns 0 with
 * the body in *out. Otherwise returns non-zero and fills *a as a failed
 * attempt (cause, status, fatal for 401/403), having logged the detail.
 */
int ts_stream_call(ts_stream *s, const char *method, const char *url, const char *body, ts_buf *out,
                   ts_attempt *a);

/* Make an attempt fatal with a message (the prepare step's own errors). */
void ts_stream_fail(ts_stream *s, ts_attempt *a, ts_err err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
