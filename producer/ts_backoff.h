/*
 * ts_backoff: the reconnect discipline of the streaming sources (X's rules,
 * which Mastodon's streaming API is held to as well), as a pure module.
 *
 *   drop    an established stream (one that delivered bytes) ended,
 *           stalled or failed: reconnect at once (but a second such drop
 *           within network_max_ms of the last immediate reconnect goes on
 *           the network schedule, so a server that accepts, sends a byte
 *           and closes is not hammered)
 *   network a TCP/TLS level failure, or a stream that ended or stalled
 *           before its first byte: linear, +step per attempt up to max
 *           (250 ms steps up to 16 s)
 *   http    an HTTP error answer: exponential from initial, doubling, up to
 *           max (5 s up to 320 s)
 *   rate    HTTP 429: exponential from initial, doubling, up to max (60 s,
 *           120 s, ...), and never before the reset time the server gave
 *
 * The schedule of each kind restarts when a stream delivers data
 * (ts_backoff_established). Nothing here sleeps or reads a clock: times come
 * in as arguments, so the schedule is tested without waiting.
 *
 * ts_clock is the injectable clock the reconnect loop (ts_reconnect_run)
 * waits with; ts_clock_real is the process's own.
 *
 * Thread: a ts_backoff belongs to one thread.
 */
#ifndef TS_BACKOFF_H
#define TS_BACKOFF_H

#include "ts_err.h"

#include <stdatomic.h>
#include <stdint.h>

typedef enum ts_reconnect_cause {
    TS_RECONNECT_DROP = 0,  /* established stream ended: reconnect at once */
    TS_RECONNECT_STALL,     /* established stream went silent: at once */
    TS_RECONNECT_NETWORK,   /* connect/TLS/read failure: linear */
    TS_RECONNECT_EMPTY,     /* a 200 stream that ended or stalled with no byte: linear */
    TS_RECONNECT_HTTP,      /* a non-200 answer: exponential */
    TS_RECONNECT_RATELIMIT, /* 429: exponential from a minute, reset time honoured */
    TS_RECONNECT__COUNT
} ts_reconnect_cause;

/* Short stable name ("drop", "stall", "network", "empty", "http", "rate_limit"). */
const char *ts_reconnect_cause_name(ts_reconnect_cause cause);

typedef struct ts_backoff_conf {
    int64_t network_step_ms;      /* 250 */
    int64_t network_max_ms;       /* 16000 */
    int64_t http_initial_ms;      /* 5000 */
    int64_t http_max_ms;          /* 320000 */
    int64_t ratelimit_initial_ms; /* 60000 */
    int64_t ratelimit_max_ms;     /* 960000 */
} ts_backoff_conf;

/* X's published values. */
#define TS_BACKOFF_CONF_DEFAULT                                                                    \
    {                                                                                              \
        250, 16000, 5000, 320000, 60000, 960000                                                    \
    }

typedef struct ts_backoff {
    ts_backoff_conf conf;
    unsigned network_n; /* consecutive attempts of each kind since data */
    unsigned http_n;
    unsigned ratelimit_n;
    int64_t last_immediate_ms; /* when the last immediate reconnect was granted */
} ts_backoff;

void ts_backoff_init(ts_backoff *b, const ts_backoff_conf *conf);

/* A stream delivered data: every schedule starts over. */
void ts_backoff_established(ts_backoff *b);

/*
 * The delay in ms before the next attempt after a stream ended for `cause`.
 * `established`: the stream delivered data before it ended (this restarts
 * every schedule, as ts_backoff_established). now_ms is the wall clock.
 * For TS_RECONNECT_RATELIMIT, reset_ms is the server's reset time (ms since
 * the epoch, 0 if none): the delay is at least reset_ms - now_ms, capped at
 * ratelimit_max_ms.
 */
int64_t ts_backoff_next(ts_backoff *b, ts_reconnect_cause cause, int established, int64_t now_ms,
                        int64_t reset_ms);

/* ---- clock ---- */

typedef struct ts_clock {
    /* Wall clock, ms since the epoch. */
    int64_t (*now_ms)(void *opaque);
    /* Monotonic ms, for intervals. */
    int64_t (*mono_ms)(void *opaque);
    /* Wait ms, returning early (TS_ERR_STOPPED) as soon as *stop is set. */
    ts_err (*sleep_ms)(void *opaque, int64_t ms, const atomic_int *stop);
    void *opaque;
} ts_clock;

extern const ts_clock ts_clock_real;

/* ---- the reconnect loop ---- */

/* What one connection attempt came to. */
typedef struct ts_attempt {
    int fatal;                /* do not retry (401/403, bad request setup) */
    ts_err err;               /* with fatal: the error to return */
    ts_reconnect_cause cause; /* otherwise: why the stream ended */
    int got_data;             /* it delivered at least one byte of a 200 body */
    int http_status;          /* 0 if no answer */
    int64_t reset_ms;         /* rate-limit reset time, ms since the epoch, 0 if none */
} ts_attempt;

/* One attempt: connect, stream until it ends, fill *out. */
typedef void(ts_attempt_fn)(void *opaque, ts_attempt *out);
/* Called with each reconnect decision (for logs and counters); may be NULL. */
typedef void(ts_reconnect_fn)(void *opaque, const ts_attempt *a, int64_t delay_ms);

/*
 * Run attempts until *stop is set (returns TS_OK) or an attempt is fatal
 * (returns its error). Between attempts waits ts_backoff_next() on `clock`.
 */
ts_err ts_reconnect_run(ts_backoff *b, const ts_clock *clock, const atomic_int *stop,
                        ts_attempt_fn *attempt, ts_reconnect_fn *on_reconnect, void *opaque);

#endif
