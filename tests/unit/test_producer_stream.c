/*
 * ts_stream's ordinary requests against a local server on loopback speaking
 * HTTP (tests/support/fakehttp): what a failed answer leaves in the attempt.
 */
#include "fakehttp.h"
#include "ts_stream.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <string.h>

static const char *const huge_retry_after[] = {
    /* seconds: now + this many ms overflowed a signed 64-bit addition */
    "9223372036854000",
    /* more digits than any integer type holds */
    "99999999999999999999999999999999999999",
};

/*
 * A 429 whose Retry-After is absurdly far away: the reset lies in the far
 * future (the backoff then waits its longest), not in the past because an
 * addition overflowed, nor ignored.
 */
Test(producer_stream, huge_retry_after_saturates)
{
    static const char json[] = "{\"error\":\"Too many requests\"}";
    ts_pconf conf;
    ts_pstats stats;
    atomic_int stop;
    ts_source_env env;
    ts_stream_opts opts = {.component = "x", .token = "t"};
    char err[256], headers[128], url[256];
    ts_stream *s;
    ts_attempt a;
    ts_buf out = TS_BUF_INIT;

    cr_assert_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    memset(&conf, 0, sizeof(conf));
    conf.max_line_bytes = 1 << 20;
    conf.stall_timeout_ms = 10000;
    conf.connect_timeout_ms = 10000;
    memset(&stats, 0, sizeof(stats));
    atomic_init(&stop, 0);
    env = (ts_source_env){.conf = &conf, .clock = &ts_clock_real, .stop = &stop, .stats = &stats};
    for (size_t i = 0; i < sizeof(huge_retry_after) / sizeof(huge_retry_after[0]); i++) {
        fh_part body[] = {{json, 0, 0}};
        snprintf(headers, sizeof(headers), "Content-Type: application/json\nRetry-After: %s\n",
                 huge_retry_after[i]);
        fh_response r[] = {{429, headers, body, 1, FH_END_CLOSE}};
        fakehttp *f = fh_start();
        int64_t now = ts_clock_real.now_ms(NULL);

        cr_assert_not_null(f);
        fh_route(f, "GET", "/limited", r, 1);
        snprintf(url, sizeof(url), "%s/limited", fh_url(f));
        s = ts_stream_new(&env, &opts, err, sizeof(err));
        cr_assert_not_null(s, "%s", err);
        memset(&a, 0, sizeof(a));
        cr_expect_neq(ts_stream_call(s, "GET", url, NULL, &out, &a), 0);
        cr_expect_eq(a.http_status, 429);
        cr_expect_gt(a.reset_ms, now + 365LL * 86400 * 1000,
                     "Retry-After %s: reset at %lld ms, now is %lld ms", huge_retry_after[i],
                     (long long)a.reset_ms, (long long)now);
        ts_stream_destroy(s);
        ts_buf_free(&out);
        fh_stop(f);
    }
    curl_global_cleanup();
}
