/*
 * The reconnect schedule (X's rules) and the reconnect loop, driven by a
 * fake clock: nothing here sleeps.
 */
#include "ts_backoff.h"

#include <criterion/criterion.h>
#include <string.h>

static const ts_backoff_conf x_rules = TS_BACKOFF_CONF_DEFAULT;

Test(backoff, x_published_values)
{
    cr_expect_eq(x_rules.network_step_ms, 250);
    cr_expect_eq(x_rules.network_max_ms, 16000);
    cr_expect_eq(x_rules.http_initial_ms, 5000);
    cr_expect_eq(x_rules.http_max_ms, 320000);
    cr_expect_eq(x_rules.ratelimit_initial_ms, 60000);
}

Test(backoff, network_errors_back_off_linearly_up_to_16_s)
{
    ts_backoff b;

    ts_backoff_init(&b, NULL);
    for (int i = 1; i <= 64; i++) {
        int64_t want = i * 250 < 16000 ? i * 250 : 16000;
        cr_assert_eq(ts_backoff_next(&b, TS_RECONNECT_NETWORK, 0, 0, 0), want, "attempt %d", i);
    }
}

Test(backoff, http_errors_back_off_exponentially_from_5_s_to_320_s)
{
    static const int64_t want[] = {5000, 10000, 20000, 40000, 80000, 160000, 320000, 320000};
    ts_backoff b;

    ts_backoff_init(&b, NULL);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        cr_assert_eq(ts_backoff_next(&b, TS_RECONNECT_HTTP, 0, 0, 0), want[i], "attempt %zu",
                     i + 1);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(ts_backoff_next(&b, TS_RECONNECT_HTTP, 0, 0, 0), 320000,
                     "no overflow however long it fails");
}

Test(backoff, rate_limit_doubles_from_a_minute)
{
    static const int64_t want[] = {60000, 120000, 240000, 480000, 960000, 960000};
    ts_backoff b;

    ts_backoff_init(&b, NULL);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        cr_assert_eq(ts_backoff_next(&b, TS_RECONNECT_RATELIMIT, 0, 1000000, 0), want[i]);
}

Test(backoff, rate_limit_waits_for_the_reset_time)
{
    ts_backoff b;
    int64_t now = 1795687200000;

    ts_backoff_init(&b, NULL);
    /* reset 5 minutes ahead: longer than the first minute of backoff */
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_RATELIMIT, 0, now, now + 300000), 300000);
    /* reset already passed: the schedule alone (second attempt: 2 min) */
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_RATELIMIT, 0, now, now - 1000), 120000);
    /* a reset absurdly far away is capped */
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_RATELIMIT, 0, now, now + 86400000), 960000);
}

Test(backoff, kinds_have_separate_schedules)
{
    ts_backoff b;

    ts_backoff_init(&b, NULL);
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_NETWORK, 0, 0, 0), 250);
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_HTTP, 0, 0, 0), 5000);
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_NETWORK, 0, 0, 0), 500);
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_HTTP, 0, 0, 0), 10000);
    /* empty streams and stalls before any byte count as network errors */
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_EMPTY, 0, 0, 0), 750);
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_STALL, 0, 0, 0), 1000);
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_DROP, 0, 0, 0), 1250);
}

Test(backoff, an_established_stream_reconnects_at_once_and_resets_the_schedules)
{
    ts_backoff b;
    int64_t now = 1000000;

    ts_backoff_init(&b, NULL);
    ts_backoff_next(&b, TS_RECONNECT_NETWORK, 0, now, 0);
    ts_backoff_next(&b, TS_RECONNECT_HTTP, 0, now, 0);
    ts_backoff_next(&b, TS_RECONNECT_RATELIMIT, 0, now, 0);
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_DROP, 1, now, 0), 0, "drop: at once");
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_HTTP, 0, now, 0), 5000, "http starts over");
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_RATELIMIT, 0, now, 0), 60000);
    now += 60000;
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_STALL, 1, now, 0), 0, "a stall after data too");
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_NETWORK, 0, now, 0), 250);
}

Test(backoff, drops_in_quick_succession_go_on_the_network_schedule)
{
    ts_backoff b;
    int64_t now = 1000000;

    ts_backoff_init(&b, NULL);
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_DROP, 1, now, 0), 0);
    /* the next stream delivered a byte and closed 100 ms later */
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_DROP, 1, now + 100, 0), 250);
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_DROP, 1, now + 400, 0), 250);
    /* 16 s after the last immediate reconnect, at once again */
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_DROP, 1, now + 16000, 0), 0);
}

Test(backoff, configured_values)
{
    ts_backoff_conf c = {50, 200, 100, 400, 1000, 3000};
    ts_backoff b;

    ts_backoff_init(&b, &c);
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_NETWORK, 0, 0, 0), 50);
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_NETWORK, 0, 0, 0), 100);
    for (int i = 0; i < 5; i++)
        ts_backoff_next(&b, TS_RECONNECT_NETWORK, 0, 0, 0);
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_NETWORK, 0, 0, 0), 200);
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_HTTP, 0, 0, 0), 100);
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_HTTP, 0, 0, 0), 200);
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_HTTP, 0, 0, 0), 400);
    cr_expect_eq(ts_backoff_next(&b, TS_RECONNECT_HTTP, 0, 0, 0), 400);
}

Test(backoff, cause_names)
{
    cr_expect_str_eq(ts_reconnect_cause_name(TS_RECONNECT_DROP), "drop");
    cr_expect_str_eq(ts_reconnect_cause_name(TS_RECONNECT_RATELIMIT), "rate_limit");
    cr_expect_str_eq(ts_reconnect_cause_name(TS_RECONNECT__COUNT), "?");
}

/* ---- the loop, with a fake clock and scripted attempts ---- */

typedef struct fake {
    int64_t now;       /* fake wall clock */
    int64_t slept[32]; /* the waits asked for */
    int nslept;
    const ts_attempt *script;
    int nscript, at;
    atomic_int stop;
    int64_t reported[32]; /* delays given to on_reconnect */
    int nreported;
    int stop_in_sleep; /* a stop arrives during the first wait */
} fake;

static int64_t fake_now(void *opaque)
{
    return ((fake *)opaque)->now;
}

static ts_err fake_sleep(void *opaque, int64_t ms, const atomic_int *stop)
{
    fake *f = opaque;

    f->slept[f->nslept++] = ms;
    f->now += ms;
    if (f->stop_in_sleep)
        atomic_store(&f->stop, 1);
    return atomic_load(stop) ? TS_ERR_STOPPED : TS_OK;
}

static void fake_attempt(void *opaque, ts_attempt *out)
{
    fake *f = opaque;

    *out = f->script[f->at++];
    f->now += 10; /* each attempt takes a little time */
    if (f->at == f->nscript)
        atomic_store(&f->stop, 1);
}

static void fake_reconnect(void *opaque, const ts_attempt *a, int64_t delay)
{
    fake *f = opaque;

    (void)a;
    f->reported[f->nreported++] = delay;
}

Test(reconnect_loop, follows_the_schedule_on_the_injected_clock)
{
    fake f = {.now = 1795687200000};
    ts_clock clock = {fake_now, fake_now, fake_sleep, &f};
    ts_attempt script[] = {
        {.cause = TS_RECONNECT_NETWORK},                  /* refused: 250 */
        {.cause = TS_RECONNECT_NETWORK},                  /* refused: 500 */
        {.cause = TS_RECONNECT_HTTP, .http_status = 503}, /* 5 s */
        {.cause = TS_RECONNECT_RATELIMIT,
         .http_status = 429,
         .reset_ms = 1795687200000 + 90000},                             /* until the reset */
        {.cause = TS_RECONNECT_DROP, .http_status = 200, .got_data = 1}, /* at once */
        {.cause = TS_RECONNECT_STALL, .http_status = 200},               /* silent: 250 */
        {.cause = TS_RECONNECT_HTTP, .http_status = 500},                /* starts over: 5 s */
        {.cause = TS_RECONNECT_DROP, .http_status = 200, .got_data = 1},
    };
    ts_backoff b;

    f.script = script;
    f.nscript = sizeof(script) / sizeof(script[0]);
    ts_backoff_init(&b, NULL);
    cr_assert_eq(ts_reconnect_run(&b, &clock, &f.stop, fake_attempt, fake_reconnect, &f), TS_OK);
    cr_assert_eq(f.at, 8, "every scripted attempt was made");
    cr_assert_eq(f.nreported, 7, "the last attempt ends with the stop, not with a reconnect");
    cr_expect_eq(f.reported[0], 250);
    cr_expect_eq(f.reported[1], 500);
    cr_expect_eq(f.reported[2], 5000);
    /* the 429 came 40 ms + 5750 ms of waits after the start: wait out the rest of 90 s */
    cr_expect_eq(f.reported[3], 90000 - 40 - 5750);
    cr_expect_eq(f.reported[4], 0);
    cr_expect_eq(f.reported[5], 250);
    cr_expect_eq(f.reported[6], 5000);
    /* a zero delay does not sleep */
    cr_expect_eq(f.nslept, 6);
}

Test(reconnect_loop, a_fatal_attempt_is_not_retried)
{
    fake f = {.now = 0};
    ts_clock clock = {fake_now, fake_now, fake_sleep, &f};
    ts_attempt script[] = {
        {.cause = TS_RECONNECT_NETWORK},
        {.fatal = 1, .err = TS_ERR_INVALID, .http_status = 401},
        {.cause = TS_RECONNECT_NETWORK},
    };
    ts_backoff b;

    f.script = script;
    f.nscript = 3;
    ts_backoff_init(&b, NULL);
    cr_expect_eq(ts_reconnect_run(&b, &clock, &f.stop, fake_attempt, NULL, &f), TS_ERR_INVALID);
    cr_expect_eq(f.at, 2);
    cr_expect_eq(f.nslept, 1);
}

Test(reconnect_loop, a_stop_during_a_wait_ends_the_loop)
{
    fake f = {.now = 0, .stop_in_sleep = 1};
    ts_clock clock = {fake_now, fake_now, fake_sleep, &f};
    ts_attempt script[] = {
        {.cause = TS_RECONNECT_HTTP}, {.cause = TS_RECONNECT_HTTP}, {.cause = TS_RECONNECT_HTTP}};
    ts_backoff b;

    f.script = script;
    f.nscript = 3;
    ts_backoff_init(&b, NULL);
    cr_expect_eq(ts_reconnect_run(&b, &clock, &f.stop, fake_attempt, NULL, &f), TS_OK);
    cr_expect_eq(f.at, 1, "no attempt after the stop");
    cr_expect_eq(f.nslept, 1);
}

Test(clock, real_sleep_returns_early_on_stop)
{
    atomic_int stop = 1;
    int64_t t0 = ts_clock_real.mono_ms(NULL);

    cr_expect_eq(ts_clock_real.sleep_ms(NULL, 60000, &stop), TS_ERR_STOPPED);
    cr_expect_lt(ts_clock_real.mono_ms(NULL) - t0, 1000);
}
