#include "ts_backoff.h"
#include "ts_clock.h"

#include <errno.h>
#include <time.h>

static const char *const ts_reconnect_names[TS_RECONNECT__COUNT] = {"drop",  "stall", "network",
                                                                    "empty", "http",  "rate_limit"};

const char *ts_reconnect_cause_name(ts_reconnect_cause cause)
{
    return (unsigned)cause < TS_RECONNECT__COUNT ? ts_reconnect_names[cause] : "?";
}

void ts_backoff_init(ts_backoff *b, const ts_backoff_conf *conf)
{
    static const ts_backoff_conf def = TS_BACKOFF_CONF_DEFAULT;

    b->conf = conf ? *conf : def;
    b->network_n = b->http_n = b->ratelimit_n = 0;
    b->last_immediate_ms = INT64_MIN;
}

void ts_backoff_established(ts_backoff *b)
{
    b->network_n = b->http_n = b->ratelimit_n = 0;
}

/* initial * 2^(n-1), capped, without overflowing for any n. */
static int64_t ts_backoff_exp(int64_t initial, int64_t max, unsigned n)
{
    int64_t d = initial;

    for (unsigned i = 1; i < n && d < max; i++)
        d = d > max / 2 ? max : d * 2;
    return d < max ? d : max;
}

int64_t ts_backoff_next(ts_backoff *b, ts_reconnect_cause cause, int established, int64_t now_ms,
                        int64_t reset_ms)
{
    const ts_backoff_conf *c = &b->conf;
    int64_t d;

    if (established) {
        ts_backoff_established(b);
        /* X: reconnect at once after an established stream drops; but two
         * such drops close together mean the server is not really serving. */
        if (b->last_immediate_ms == INT64_MIN ||
            now_ms - b->last_immediate_ms >= c->network_max_ms) {
            b->last_immediate_ms = now_ms;
            return 0;
        }
        cause = TS_RECONNECT_NETWORK;
    }
    switch (cause) {
    case TS_RECONNECT_HTTP:
        return ts_backoff_exp(c->http_initial_ms, c->http_max_ms, ++b->http_n);
    case TS_RECONNECT_RATELIMIT:
        d = ts_backoff_exp(c->ratelimit_initial_ms, c->ratelimit_max_ms, ++b->ratelimit_n);
        if (reset_ms > 0 && reset_ms - now_ms > d)
            d = reset_ms - now_ms < c->ratelimit_max_ms ? reset_ms - now_ms : c->ratelimit_max_ms;
        return d;
    default:
        /* network, empty, and drops or stalls before any data */
        b->network_n++;
        d = c->network_step_ms * (int64_t)b->network_n;
        return d < c->network_max_ms ? d : c->network_max_ms;
    }
}

/* ---- the real clock ---- */

static int64_t ts_clock_now(void *opaque)
{
    (void)opaque;
    return ts_wall_ms();
}

static int64_t ts_clock_mono(void *opaque)
{
    (void)opaque;
    return ts_mono_ms();
}

/* Sleeps in slices of at most 50 ms so that a stop is seen promptly. */
static ts_err ts_clock_sleep(void *opaque, int64_t ms, const atomic_int *stop)
{
    int64_t end = ts_clock_mono(opaque) + ms, left;

    while ((left = end - ts_clock_mono(opaque)) > 0) {
        struct timespec ts;
        if (stop && atomic_load(stop))
            return TS_ERR_STOPPED;
        if (left > 50)
            left = 50;
        ts.tv_sec = 0;
        ts.tv_nsec = (long)left * 1000000;
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
            if (stop && atomic_load(stop))
                return TS_ERR_STOPPED;
        }
    }
    return stop && atomic_load(stop) ? TS_ERR_STOPPED : TS_OK;
}

const ts_clock ts_clock_real = {ts_clock_now, ts_clock_mono, ts_clock_sleep, NULL};

/* ---- the reconnect loop ---- */

ts_err ts_reconnect_run(ts_backoff *b, const ts_clock *clock, const atomic_int *stop,
                        ts_attempt_fn *attempt, ts_reconnect_fn *on_reconnect, void *opaque)
{
    while (!atomic_load(stop)) {
        ts_attempt a = {0};
        int64_t delay;

        attempt(opaque, &a);
        if (a.fatal)
            return a.err ? a.err : TS_ERR_INVALID;
        if (atomic_load(stop))
            break;
        delay = ts_backoff_next(b, a.cause, a.got_data, clock->now_ms(clock->opaque), a.reset_ms);
        if (on_reconnect)
            on_reconnect(opaque, &a, delay);
        if (delay > 0 && clock->sleep_ms(clock->opaque, delay, stop) == TS_ERR_STOPPED)
            break;
    }
    return TS_OK;
}
