/*
 * tagstream-producer against a local server speaking the X API v2 stream
 * protocol (chunked NDJSON, \r\n keep-alives, error objects, a disconnect
 * mid-line, a 429 with rate-limit headers, an empty stream, a 503, a stall)
 * and the real broker: the topic must hold exactly the fixture's hashtags.
 */
#include "fakehttp.h"
#include "httpget.h"
#include "testfile.h"
#include "testkit.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STREAM "/2/tweets/sample/stream"
#define FILTER "/2/tweets/search/stream"
#define RULES  "/2/tweets/search/stream/rules"

/* The fixture's lines, each with X's \r\n ending. */
static size_t split_lines(char *text, char **lines, size_t max)
{
    size_t n = 0;

    for (char *s = text; *s && n < max;) {
        char *nl = strchr(s, '\n');
        size_t l = nl ? (size_t)(nl - s) : strlen(s);
        lines[n] = malloc(l + 3);
        memcpy(lines[n], s, l);
        memcpy(lines[n] + l, "\r\n", 3);
        n++;
        s += l + (nl ? 1 : 0);
    }
    return n;
}

static const char *const *producer_args(const char *url, const char *topic, const char *extra1,
                                        const char *extra2)
{
    static const char *const opts[] = {
        "--stall.timeout.ms=1000",           "--reconnect.network.step.ms=50",
        "--reconnect.network.max.ms=200",    "--reconnect.http.initial.ms=100",
        "--reconnect.http.max.ms=400",       "--reconnect.ratelimit.initial.ms=200",
        "--reconnect.ratelimit.max.ms=5000", NULL};

    return fh_producer_args("x", "--x.base.url", url, topic, opts, extra1, extra2);
}

static const char *const token_env[] = {"BEARER_TOKEN=test-token", NULL};

Test(producer_x, sampled_stream_with_every_kind_of_trouble, .timeout = 120)
{
    char *text = tf_fixture(TS_FIXTURES, "x_stream.ndjson", NULL), *lines[16];
    size_t nl = split_lines(text, lines, 16), nwant, cut0, cut1, cut6;
    char *topic = tk_unique("x-input"), ratehdr[256], *huge;
    tf_record want[64];
    tk_records got;
    fakehttp *f;
    fh_proc p;
    fh_request rq;
    static const char malformed[] = "{\"data\":{\"id\":\"x\",\"text\":\"#broken\"\r\n";
    static const char bad_utf8[] = "{\"data\":{\"id\":\"y\",\"text\":\"\xff\xfe #bad\"}}\r\n";
    static const char limited[] = "{\"title\":\"Too Many Requests\",\"detail\":\"Too Many "
                                  "Requests\",\"type\":\"about:blank\",\"status\":429}";
    static const char unavailable[] = "{\"title\":\"Service Unavailable\",\"detail\":\"Service "
                                      "Unavailable\",\"type\":\"about:blank\",\"status\":503}";
    const size_t huge_len = 3 * 1024 * 1024;
    long long reset_s = fh_wall_ms() / 1000 + 3;

    cr_assert_eq(nl, 10);
    nwant = tf_records_load(TS_FIXTURES, "x_stream.expected", want, 64);

    /* a line of 3 MiB: over max.line.bytes (1 MiB by default) */
    huge = malloc(huge_len + 64);
    memcpy(huge, "{\"data\":{\"id\":\"z\",\"text\":\"", 26);
    memset(huge + 26, 'a', huge_len);
    memcpy(huge + 26 + huge_len, " #huge\"}}\r\n", 12);

    cut0 = 37;                                                    /* inside the first line */
    cut1 = (size_t)(strstr(lines[1], "\xc3\xbc") - lines[1]) + 1; /* inside the ü */
    cut6 = strlen(lines[6]) / 2;                                  /* the line the disconnect cuts */

    fh_part a[] = {
        {"\r\n", 0, 0},           {lines[0], cut0, 0},
        {lines[0] + cut0, 0, 20}, {"\r\n", 0, 30},
        {lines[1], cut1, 0},      {lines[1] + cut1, 0, 10},
        {lines[2], 0, 0}, /* the error object */
        {"\r\n\r\n", 0, 0},       {malformed, 0, 0},
        {bad_utf8, 0, 0},         {huge, 26 + huge_len + 11, 0},
        {lines[3], 0, 0},         {lines[4], 0, 0},
        {"\r\n", 0, 0},           {lines[5], 0, 0},
        {lines[6], cut6, 0}, /* then the connection drops */
    };
    fh_part e[] = {{lines[6], 0, 0}, {lines[7], 0, 0}};
    fh_part last[] = {{lines[8], 0, 0}, {"\r\n", 0, 50}, {lines[9], 0, 0}};
    fh_part p429[] = {{limited, 0, 0}};
    fh_part p503[] = {{unavailable, 0, 0}};
    snprintf(ratehdr, sizeof(ratehdr),
             "Content-Type: application/json\nx-rate-limit-limit: 50\n"
             "x-rate-limit-remaining: 0\nx-rate-limit-reset: %lld\n",
             reset_s);
    const char *json = "Content-Type: application/json; charset=utf-8\n";
    fh_response script[] = {
        {200, json, a, sizeof(a) / sizeof(a[0]), FH_END_ABORT},
        {429, ratehdr, p429, 1, FH_END_CLOSE},
        {200, json, NULL, 0, FH_END_CLOSE, .chunked = 1}, /* an empty stream */
        {503, json, p503, 1, FH_END_CLOSE},
        {200, json, e, 2, FH_END_HANG}, /* data, then silence: a stall */
        {200, json, last, 3, FH_END_KEEPALIVE, "\r\n", 100},
    };

    tk_create_topic(topic, 3, 1, NULL);
    f = fh_start();
    cr_assert_not_null(f);
    fh_route(f, "GET", STREAM, script, sizeof(script) / sizeof(script[0]));

    fh_proc_start(&p, producer_args(fh_url(f), topic, NULL, NULL), token_env);
    cr_assert(fh_wait_ended(f, "GET", STREAM, 6, 60000), "the last stream was served");
    {
        /* every record acknowledged; the same counts, by reason and by cause,
         * on /metrics; ready again */
        int port = fh_proc_http_port(&p, 1000);
        char *body;
        cr_assert_gt(port, 0);
        cr_assert_eq(fh_wait_metric(port, "tagstream_producer_records_produced_total",
                                    (long long)nwant, 30000),
                     (long long)nwant);
        cr_expect_eq(tk_http_get(port, "/ready", &body), 200, "%s", body);
        free(body);
        cr_assert_eq(tk_http_get(port, "/metrics", &body), 200);
        cr_expect(
            strstr(body, "\ntagstream_producer_skipped_total{reason=\"oversize\"} 1\n") &&
                strstr(body, "\ntagstream_producer_skipped_total{reason=\"truncated\"} 1\n") &&
                strstr(body, "\ntagstream_producer_reconnects_total{cause=\"rate_limit\"} 1\n") &&
                strstr(body, "\ntagstream_producer_reconnects_total{cause=\"stall\"} 1\n") &&
                strstr(body, "\ntagstream_producer_source_connected 1\n"),
            "%s", body);
        free(body);
    }
    fh_proc_signal(&p, SIGTERM);
    cr_assert_eq(fh_proc_wait(&p, 15000), 0, "SIGTERM: flush and exit 0");

    got = tk_consume_all(topic, 0, 0, 3000);
    fh_check_records(&got, want, nwant, 3);

    /* each request: the token, the fields, one connection at a time */
    cr_assert_eq(fh_count(f, "GET", STREAM), 6, "no reconnect beyond the script");
    for (size_t i = 0; fh_request_get(f, i, &rq); i++) {
        cr_expect_str_eq(rq.authorization, "Bearer test-token");
        cr_expect(strstr(rq.query, "tweet.fields=created_at,entities") != NULL, "%s", rq.query);
    }
    /* the 429 said when the limit resets: no request before that */
    cr_assert(fh_request_get(f, 2, &rq));
    cr_expect_geq(rq.wall_ms, reset_s * 1000 - 20, "reconnected %lld ms before the reset",
                  reset_s * 1000 - rq.wall_ms);

    /* everything counted by reason, every reconnect by cause */
#define SUMMARY(field) fh_log_int(&p, "producer stopped", field)
    cr_expect_eq(SUMMARY("records_produced"), (long long)nwant);
    cr_expect_eq(SUMMARY("delivery_failures"), 0);
    cr_expect_eq(SUMMARY("skipped_error_object"), 1);
    cr_expect_eq(SUMMARY("skipped_malformed_json"), 1);
    cr_expect_eq(SUMMARY("skipped_invalid_utf8"), 1);
    cr_expect_eq(SUMMARY("skipped_oversize"), 1);
    cr_expect_eq(SUMMARY("skipped_truncated"), 1);
    cr_expect_eq(SUMMARY("reconnects_drop"), 1);
    cr_expect_eq(SUMMARY("reconnects_rate_limit"), 1);
    cr_expect_eq(SUMMARY("reconnects_empty"), 1);
    cr_expect_eq(SUMMARY("reconnects_http"), 1);
    cr_expect_eq(SUMMARY("reconnects_stall"), 1);
    {
        char *log = fh_proc_log(&p);
        cr_expect(strstr(log, "This stream has been disconnected upstream") != NULL,
                  "the error object's detail is logged");
        cr_expect(strstr(log, "Too Many Requests") != NULL, "the 429's detail is logged");
        cr_expect(strstr(log, "\"rate_limit_remaining\":0") != NULL);
        cr_expect(strstr(log, "Service Unavailable") != NULL);
        free(log);
    }

    fh_proc_cleanup(&p);
    tk_records_free(&got);
    fh_stop(f);
    for (size_t i = 0; i < nl; i++)
        free(lines[i]);
    free(huge);
    free(text);
    free(topic);
}

Test(producer_x, unauthorized_is_fatal_and_not_retried, .timeout = 60)
{
    static const char body[] = "{\"title\":\"Unauthorized\",\"type\":\"about:blank\","
                               "\"status\":401,\"detail\":\"Unauthorized\"}";
    fh_part part[] = {{body, 0, 0}};
    fh_response script[] = {{401, "Content-Type: application/json\n", part, 1, FH_END_CLOSE}};
    char *topic = tk_unique("x-401"), *err;
    fakehttp *f;
    fh_proc p;

    tk_create_topic(topic, 1, 1, NULL);
    f = fh_start();
    fh_route(f, "GET", STREAM, script, 1);
    fh_proc_start(&p, producer_args(fh_url(f), topic, NULL, NULL), token_env);
    cr_assert_eq(fh_proc_wait(&p, 20000), 1, "a clear, non-zero exit");
    cr_expect_eq(fh_count(f, "GET", STREAM), 1, "not retried");
    err = fh_proc_stderr(&p);
    cr_expect(strstr(err, "401") && strstr(err, "BEARER_TOKEN") && strstr(err, "Unauthorized"),
              "stderr: %s", err);
    free(err);
    fh_proc_cleanup(&p);
    fh_stop(f);
    free(topic);
}

Test(producer_x, filtered_stream_rules_are_made_the_given_ones, .timeout = 60)
{
    static const char have[] = "{\"data\":[{\"id\":\"1\",\"value\":\"old rule\"},{\"id\":\"2\","
                               "\"value\":\"#kafka\"}],\"meta\":{\"sent\":\"2026-11-26T10:00:00."
                               "000Z\",\"result_count\":2}}";
    static const char deleted[] = "{\"meta\":{\"sent\":\"2026-11-26T10:00:00.000Z\",\"summary\":{"
                                  "\"deleted\":1,\"not_deleted\":0}}}";
    static const char added[] = "{\"data\":[{\"value\":\"#aws\",\"id\":\"3\"}],\"meta\":{"
                                "\"sent\":\"2026-11-26T10:00:00.000Z\",\"summary\":{\"created\":1,"
                                "\"not_created\":0,\"valid\":1,\"invalid\":0}}}";
    static const char line[] =
        "{\"data\":{\"created_at\":\"2026-11-26T10:00:00.000Z\",\"entities\":"
        "{\"hashtags\":[{\"start\":0,\"end\":4,\"tag\":\"AWS\"}]},\"id\":"
        "\"1\",\"text\":\"#AWS\"},\"matching_rules\":[{\"id\":\"3\",\"tag\":"
        "\"\"}]}\r\n";
    fh_part p_have[] = {{have, 0, 0}}, p_del[] = {{deleted, 0, 0}}, p_add[] = {{added, 0, 0}};
    fh_part p_line[] = {{line, 0, 0}};
    const char *json = "Content-Type: application/json\n";
    fh_response r_get[] = {{200, json, p_have, 1, FH_END_CLOSE}};
    fh_response r_post[] = {{200, json, p_del, 1, FH_END_CLOSE}, {201, json, p_add, 1}};
    fh_response r_stream[] = {{200, json, p_line, 1, FH_END_KEEPALIVE, "\r\n", 100}};
    char *topic = tk_unique("x-filter");
    tf_record want[] = {{"aws", "AWS", 1795687200000LL}};
    fh_request rq;
    tk_records got;
    fakehttp *f;
    fh_proc p;

    tk_create_topic(topic, 2, 1, NULL);
    f = fh_start();
    fh_route(f, "GET", RULES, r_get, 1);
    fh_route(f, "POST", RULES, r_post, 2);
    fh_route(f, "GET", FILTER, r_stream, 1);
    fh_proc_start(&p,
                  producer_args(fh_url(f), topic, "--x.stream=filter", "--x.rules=#kafka; #aws"),
                  token_env);
    cr_assert(fh_wait_ended(f, "GET", FILTER, 1, 30000));
    cr_assert_eq(fh_wait_metric(fh_proc_http_port(&p, 1000),
                                "tagstream_producer_records_produced_total", 1, 30000),
                 1);
    fh_proc_signal(&p, SIGINT);
    cr_assert_eq(fh_proc_wait(&p, 15000), 0, "SIGINT: flush and exit 0");

    cr_assert_eq(fh_nrequests(f), 4);
    cr_assert(fh_request_get(f, 0, &rq));
    cr_expect(!strcmp(rq.method, "GET") && !strcmp(rq.path, RULES));
    cr_assert(fh_request_get(f, 1, &rq));
    cr_expect_str_eq(rq.path, RULES);
    cr_expect_str_eq(rq.body, "{\"delete\":{\"ids\":[\"1\"]}}", "the rule not asked for goes");
    cr_expect_str_eq(rq.authorization, "Bearer test-token");
    cr_assert(fh_request_get(f, 2, &rq));
    cr_expect_str_eq(rq.body, "{\"add\":[{\"value\":\"#aws\"}]}", "#kafka is kept, #aws added");
    cr_assert(fh_request_get(f, 3, &rq));
    cr_expect(!strcmp(rq.method, "GET") && !strcmp(rq.path, FILTER));

    got = tk_consume_all(topic, 0, 0, 3000);
    fh_check_records(&got, want, 1, 2);
    tk_records_free(&got);
    fh_proc_cleanup(&p);
    fh_stop(f);
    free(topic);
}

Test(producer_x, a_server_that_never_answers_is_left_and_retried, .timeout = 60)
{
    int port, fd = fh_silent_start(&port);
    char url[64], *topic = tk_unique("x-silent");
    const char *argv_extra = "--stall.timeout.ms=300";
    fh_proc p;

    cr_assert_geq(fd, 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    tk_create_topic(topic, 1, 1, NULL);
    fh_proc_start(&p, producer_args(url, topic, argv_extra, NULL), token_env);
    /* two stalls at least: 300 ms each, then 50 and 100 ms of backoff */
    cr_assert(fh_log_wait(&p, "\"cause\":\"stall\",\"delay_ms\":100", 20000),
              "a second stall, on the network schedule");
    fh_proc_signal(&p, SIGTERM);
    cr_assert_eq(fh_proc_wait(&p, 10000), 0, "stops promptly even while connecting");
    cr_expect_geq(fh_log_int(&p, "producer stopped", "reconnects_stall"), 2);
    cr_expect_eq(fh_log_int(&p, "producer stopped", "records_produced"), 0);
    fh_proc_cleanup(&p);
    close(fd);
    free(topic);
}
