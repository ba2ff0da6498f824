/*
 * tagstream-producer against a local server speaking the Mastodon streaming
 * API (Server-Sent Events: heartbeats, delete and edit events, multi-line
 * data, CRLF lines, a malformed event, a disconnect mid-event) and the real
 * broker: the topic must hold exactly the fixture's hashtags.
 */
#include "fakehttp.h"
#include "testfile.h"
#include "testkit.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PUBLIC  "/api/v1/streaming/public"
#define HASHTAG "/api/v1/streaming/hashtag"

static const char *const *producer_args(const char *url, const char *topic, const char *extra1,
                                        const char *extra2)
{
    static const char *const opts[] = {"--stall.timeout.ms=2000", "--reconnect.network.step.ms=50",
                                       "--reconnect.http.initial.ms=100", NULL};

    return fh_producer_args("mastodon", "--mastodon.base.url", url, topic, opts, extra1, extra2);
}

static const char *const token_env[] = {"MASTODON_TOKEN=masto-token", NULL};

Test(producer_mastodon, public_stream, .timeout = 120)
{
    char *sse = tf_fixture(TS_FIXTURES, "mastodon_stream.sse", NULL),
         *topic = tk_unique("masto-input");
    /* the first connection ends inside the event of status 110004 */
    char *cut_at = strstr(sse, "event: update\ndata: {\"id\":\"110004\"");
    size_t first = (size_t)(cut_at - sse), nwant;
    tf_record want[64];
    fh_request rq;
    tk_records got;
    fakehttp *f;
    fh_proc p;

    cr_assert_not_null(cut_at);
    nwant = tf_records_load(TS_FIXTURES, "mastodon_stream.expected", want, 64);
    /* split the first part into odd pieces: across "\r\n", inside "data:", inside UTF-8 */
    char *crlf = strstr(sse, "\r\n\r\n");
    char *sigma = strstr(sse, "\xce\xa3");
    cr_assert(crlf && sigma && sigma < crlf && crlf < cut_at);
    size_t s1 = (size_t)(sigma - sse) + 1, s2 = (size_t)(crlf - sse) + 1;
    fh_part a[] = {
        {sse, 7, 0},             /* ":)\nevent" */
        {sse + 7, s1 - 7, 10},   /* up to the middle of a capital sigma */
        {sse + s1, s2 - s1, 10}, /* up to between \r and \n */
        {sse + s2, first - s2, 10},
        {cut_at, 60, 0}, /* half an event, then the connection drops */
    };
    fh_part b[] = {{":)\n", 0, 0}, {cut_at, 0, 0}};
    const char *sse_hdr = "Content-Type: text/event-stream\nCache-Control: no-cache\n";
    fh_response script[] = {
        {200, sse_hdr, a, sizeof(a) / sizeof(a[0]), FH_END_ABORT},
        {200, sse_hdr, b, 2, FH_END_KEEPALIVE, ":thump\n", 100},
    };

    tk_create_topic(topic, 3, 1, NULL);
    f = fh_start();
    fh_route(f, "GET", PUBLIC, script, 2);
    fh_proc_start(&p, producer_args(fh_url(f), topic, NULL, NULL), token_env);
    cr_assert(fh_wait_ended(f, "GET", PUBLIC, 2, 30000));
    cr_assert_eq(fh_wait_metric(fh_proc_http_port(&p, 1000),
                                "tagstream_producer_records_produced_total", (long long)nwant,
                                30000),
                 (long long)nwant);
    fh_proc_signal(&p, SIGTERM);
    cr_assert_eq(fh_proc_wait(&p, 15000), 0);

    got = tk_consume_all(topic, 0, 0, 3000);
    fh_check_records(&got, want, nwant, 3);
    tk_records_free(&got);

    cr_expect_eq(fh_count(f, "GET", PUBLIC), 2, "reconnected once, at once");
    for (size_t i = 0; fh_request_get(f, i, &rq); i++) {
        cr_expect_str_eq(rq.authorization, "Bearer masto-token");
        cr_expect_str_eq(rq.accept, "text/event-stream");
    }
#define SUMMARY(field) fh_log_int(&p, "producer stopped", field)
    cr_expect_eq(SUMMARY("records_produced"), (long long)nwant);
    cr_expect_eq(SUMMARY("events_ignored"), 2, "delete and status.update");
    cr_expect_eq(SUMMARY("skipped_malformed_json"), 1);
    cr_expect_eq(SUMMARY("skipped_truncated"), 1);
    cr_expect_eq(SUMMARY("reconnects_drop"), 1);
    fh_proc_cleanup(&p);
    fh_stop(f);
    free(sse);
    free(topic);
}

Test(producer_mastodon, hashtag_stream_and_a_bad_token, .timeout = 60)
{
    static const char denied[] = "{\"error\":\"The access token is invalid\"}";
    fh_part part[] = {{denied, 0, 0}};
    fh_response script[] = {{401, "Content-Type: application/json\n", part, 1, FH_END_CLOSE}};
    char *topic = tk_unique("masto-401"), *err;
    fh_request rq;
    fakehttp *f;
    fh_proc p;

    tk_create_topic(topic, 1, 1, NULL);
    f = fh_start();
    fh_route(f, "GET", HASHTAG, script, 1);
    fh_proc_start(&p,
                  producer_args(fh_url(f), topic, "--mastodon.stream=hashtag",
                                "--mastodon.tag=caf\xc3\xa9 & kafka"),
                  token_env);
    cr_assert_eq(fh_proc_wait(&p, 20000), 1);
    cr_assert_eq(fh_nrequests(f), 1, "not retried");
    cr_assert(fh_request_get(f, 0, &rq));
    cr_expect_str_eq(rq.query, "tag=caf\xc3\xa9 & kafka", "the tag is URL-encoded on the way");
    err = fh_proc_stderr(&p);
    cr_expect(strstr(err, "401") && strstr(err, "The access token is invalid") &&
                  strstr(err, "MASTODON_TOKEN"),
              "stderr: %s", err);
    free(err);
    fh_proc_cleanup(&p);
    fh_stop(f);
    free(topic);
}
