/*
 * Posts from X stream lines, Mastodon statuses and text: the entities path
 * and the text path, against the fixtures' expected records.
 */
#include "ts_post.h"
#include "testfile.h"
#include "ts_tag.h"
#include "ts_time.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_key(const char *key, const char *value)
{
    char out[1024];
    size_t n;

    cr_assert_eq(ts_tag_normalize(value, strlen(value), out, sizeof(out), &n), TS_OK);
    cr_expect(n == strlen(key) && !memcmp(out, key, n), "key of %s: %.*s, fixture says %s", value,
              (int)n, out, key);
}

/* Parse every line of a fixture; compare the tags with the expected records. */
static void check_fixture(const char *name, const char *expected, ts_post_format fmt,
                          int *skipped_errors)
{
    char path[1024], *line = NULL, detail[256];
    size_t cap = 0, nw, at = 0;
    ssize_t len;
    tf_record w[64];
    ts_post post;
    FILE *fp;

    nw = tf_records_load(TS_FIXTURES, expected, w, 64);
    snprintf(path, sizeof(path), "%s/%s", TS_FIXTURES, name);
    fp = fopen(path, "r");
    cr_assert_not_null(fp);
    ts_post_init(&post);
    while ((len = getline(&line, &cap, fp)) > 0) {
        ts_skip why;
        if (line[len - 1] == '\n')
            len--;
        why = ts_post_parse(&post, fmt, line, (size_t)len, detail, sizeof(detail));
        if (why == TS_SKIP_ERROR_OBJECT) {
            cr_expect(strstr(detail, "operational-disconnect") != NULL, "detail: %s", detail);
            ++*skipped_errors;
            continue;
        }
        cr_assert_eq(why, TS_SKIP_NONE, "%s: %s (%.60s)", ts_skip_name(why), detail, line);
        for (size_t i = 0; i < post.ntags; i++, at++) {
            cr_assert_lt(at, nw, "more tags than expected");
            cr_expect(post.tags[i].len == strlen(w[at].value) &&
                          !memcmp(ts_post_tag_ptr(&post, i), w[at].value, post.tags[i].len),
                      "record %zu: %.*s, expected %s", at, (int)post.tags[i].len,
                      ts_post_tag_ptr(&post, i), w[at].value);
            cr_expect_eq(post.created_ms, w[at].ts, "record %zu timestamp", at);
            check_key(w[at].key, w[at].value);
        }
    }
    cr_expect_eq(at, nw, "every expected record");
    free(line);
    fclose(fp);
    ts_post_free(&post);
}

Test(post, x_stream_fixture)
{
    int errors = 0;

    check_fixture("x_stream.ndjson", "x_stream.expected", TS_POST_X, &errors);
    cr_expect_eq(errors, 1, "the error object");
}

Test(post, x_stream_fixture_detected_per_line)
{
    int errors = 0;

    check_fixture("x_stream.ndjson", "x_stream.expected", TS_POST_AUTO, &errors);
    cr_expect_eq(errors, 1);
}

Test(post, mastodon_statuses_fixture)
{
    int errors = 0;

    check_fixture("mastodon_statuses.ndjson", "mastodon_stream.expected", TS_POST_MASTODON,
                  &errors);
    check_fixture("mastodon_statuses.ndjson", "mastodon_stream.expected", TS_POST_AUTO, &errors);
    cr_expect_eq(errors, 0);
}

static ts_skip parse(ts_post *post, ts_post_format fmt, const char *s)
{
    return ts_post_parse(post, fmt, s, strlen(s), NULL, 0);
}

static int has_tags(const ts_post *post, const char *a, const char *b)
{
    size_t n = (a != NULL) + (b != NULL);

    if (post->ntags != n)
        return 0;
    if (a && (post->tags[0].len != strlen(a) || memcmp(ts_post_tag_ptr(post, 0), a, strlen(a))))
        return 0;
    if (b && (post->tags[1].len != strlen(b) || memcmp(ts_post_tag_ptr(post, 1), b, strlen(b))))
        return 0;
    return 1;
}

Test(post, entities_win_over_the_text)
{
    ts_post p;

    ts_post_init(&p);
    cr_assert_eq(parse(&p, TS_POST_X,
                       "{\"data\":{\"id\":\"1\",\"text\":\"#a #b\",\"entities\":{\"hashtags\":"
                       "[{\"start\":0,\"end\":2,\"tag\":\"a\"}]}}}"),
                 TS_SKIP_NONE);
    cr_expect(has_tags(&p, "a", NULL));
    cr_expect_eq(p.from_entities, 1);
    cr_assert_eq(parse(&p, TS_POST_X, "{\"data\":{\"id\":\"1\",\"text\":\"#a #b\"}}"),
                 TS_SKIP_NONE);
    cr_expect(has_tags(&p, "a", "b"), "no entities: the text");
    cr_expect_eq(p.from_entities, 0);
    cr_expect_eq(p.created_ms, -1, "no created_at");
    cr_assert_eq(parse(&p, TS_POST_MASTODON,
                       "{\"id\":\"1\",\"content\":\"<p>#x</p>\",\"tags\":[{\"name\":\"y\"}]}"),
                 TS_SKIP_NONE);
    cr_expect(has_tags(&p, "y", NULL), "Mastodon: tags[] rather than the content");
    cr_assert_eq(parse(&p, TS_POST_MASTODON, "{\"id\":\"1\",\"content\":\"<p>#x</p>\"}"),
                 TS_SKIP_NONE);
    cr_expect(has_tags(&p, "x", NULL));
    ts_post_free(&p);
}

Test(post, bad_input_is_skipped_with_a_reason)
{
    ts_post p;
    char detail[256];

    ts_post_init(&p);
    cr_expect_eq(parse(&p, TS_POST_X, "{\"data\":{\"id\":"), TS_SKIP_MALFORMED_JSON);
    cr_expect_eq(ts_post_parse(&p, TS_POST_X, "{\"data\"}", 8, detail, sizeof(detail)),
                 TS_SKIP_MALFORMED_JSON);
    cr_expect_neq(detail[0], '\0', "jansson's message");
    cr_expect_eq(parse(&p, TS_POST_X, "{\"data\":{\"text\":\"\xff\xfe #bad\"}}"),
                 TS_SKIP_INVALID_UTF8);
    cr_expect_eq(parse(&p, TS_POST_AUTO, "caf\xc3 #bad"), TS_SKIP_INVALID_UTF8);
    cr_expect_eq(parse(&p, TS_POST_X, "[1,2]"), TS_SKIP_UNRECOGNIZED);
    cr_expect_eq(parse(&p, TS_POST_X, "{\"meta\":{}}"), TS_SKIP_UNRECOGNIZED);
    cr_expect_eq(parse(&p, TS_POST_MASTODON, "{\"id\":\"1\"}"), TS_SKIP_UNRECOGNIZED);
    cr_expect_eq(parse(&p, TS_POST_X,
                       "{\"errors\":[{\"title\":\"ConnectionException\","
                       "\"detail\":\"This stream is currently at the maximum "
                       "allowed connection limit.\"}]}"),
                 TS_SKIP_ERROR_OBJECT);
    cr_expect_eq(parse(&p, TS_POST_X, "{\"data\":{\"id\":\"1\",\"text\":\"x\\u0000y\"}}"),
                 TS_SKIP_MALFORMED_JSON, "NUL inside a string is refused");
    cr_assert_eq(parse(&p, TS_POST_X,
                       "{\"data\":{\"entities\":{\"hashtags\":[{\"tag\":\"\"},{\"tag\":7},"
                       "{\"nope\":1},{\"tag\":\"ok\"}]}}}"),
                 TS_SKIP_NONE);
    cr_expect(has_tags(&p, "ok", NULL));
    cr_expect_eq(p.bad_tags, 3);
    ts_post_free(&p);
}

Test(post, plain_text_and_detection)
{
    ts_post p;

    ts_post_init(&p);
    cr_assert_eq(parse(&p, TS_POST_AUTO, "Plain text with #Kafka and #AWS"), TS_SKIP_NONE);
    cr_expect(has_tags(&p, "Kafka", "AWS"));
    cr_assert_eq(parse(&p, TS_POST_TEXT, "{\"data\":{}} #json"), TS_SKIP_NONE);
    cr_expect(has_tags(&p, "json", NULL), "text format does not look at JSON");
    cr_assert_eq(parse(&p, TS_POST_AUTO, "   "), TS_SKIP_NONE);
    cr_expect_eq(p.ntags, 0);
    ts_post_free(&p);
}

Test(post, times)
{
    static const struct {
        const char *s;
        long long ms;
    } ok[] = {
        {"2026-11-26T10:00:00.000Z", 1795687200000LL},
        {"2026-11-26T10:00:00Z", 1795687200000LL},
        {"2026-11-26T10:00:00.5Z", 1795687200500LL},
        {"2026-11-26T10:00:00.123456Z", 1795687200123LL},
        {"2026-11-26T12:00:00+02:00", 1795687200000LL},
        {"2026-11-26T05:30:00-0430", 1795687200000LL},
        {"1970-01-01T00:00:00Z", 0},
        {"2000-02-29T00:00:00Z", 951782400000LL},
        {"1969-12-31T23:59:59Z", -1000},
    };
    static const char *const bad[] = {"",
                                      "2026-11-26",
                                      "2026-13-01T00:00:00Z",
                                      "2026-11-26T10:00:00.Z",
                                      "2026-11-26T10:00:00Zjunk",
                                      "Thu Nov 26 10:00:00 +0000 2026"};
    int64_t ms;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cr_expect_eq(ts_time_parse_iso(ok[i].s, strlen(ok[i].s), TS_TIME_FULL, &ms), TS_OK, "%s",
                     ok[i].s);
        cr_expect_eq(ms, ok[i].ms, "%s", ok[i].s);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(ts_time_parse_iso(bad[i], strlen(bad[i]), TS_TIME_FULL, &ms), TS_ERR_INVALID,
                     "%s", bad[i]);
}

/* created_at is read by common/ts_time (TS_TIME_FULL): a leap second is the
 * last millisecond of its day; a time that is not one leaves the post
 * without a time (it is sent with the time of sending), not skipped. */
Test(post, created_at_leap_second_and_invalid)
{
    static const struct {
        ts_post_format fmt;
        const char *json;
        long long ms;
    } c[] = {
        {TS_POST_X,
         "{\"data\":{\"id\":\"1\",\"text\":\"#a\",\"created_at\":"
         "\"2016-12-31T23:59:60.000Z\"}}",
         1483228799999LL},
        {TS_POST_MASTODON,
         "{\"id\":\"1\",\"content\":\"<p>#a</p>\",\"created_at\":"
         "\"2016-12-31T23:59:60.250Z\"}",
         1483228799999LL},
        {TS_POST_X,
         "{\"data\":{\"id\":\"1\",\"text\":\"#a\",\"created_at\":"
         "\"2026-11-26T17:00:60.000Z\"}}",
         -1},
        {TS_POST_X,
         "{\"data\":{\"id\":\"1\",\"text\":\"#a\",\"created_at\":"
         "\"2026-11-31T17:00:00.000Z\"}}",
         -1},
        {TS_POST_MASTODON,
         "{\"id\":\"1\",\"content\":\"<p>#a</p>\",\"created_at\":"
         "\"2026-11-26\"}",
         -1},
    };
    ts_post p;

    ts_post_init(&p);
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        cr_assert_eq(parse(&p, c[i].fmt, c[i].json), TS_SKIP_NONE, "%s", c[i].json);
        cr_expect(has_tags(&p, "a", NULL), "%s", c[i].json);
        cr_expect_eq(p.created_ms, c[i].ms, "%s: %lld", c[i].json, (long long)p.created_ms);
    }
    ts_post_free(&p);
}

Test(post, html_text)
{
    static const char html[] =
        "<p>Hello <a href=\"x\" class=\"mention hashtag\">#<span>Kafka</span>"
        "</a></p><p>A&amp;B &lt;3 &#35;x &#x1F600; &bogus; &</p>a<br/>b";
    ts_buf out = TS_BUF_INIT;

    ts_post_html_text(&out, html, strlen(html));
    cr_expect_str_eq(out.data, "Hello #Kafka\nA&B <3 #x \xf0\x9f\x98\x80 &bogus; &\na\nb");
    ts_buf_free(&out);
}
