/*
 * Jetstream events to posts (ts_bsky_parse): the fixture stream against its
 * expected records, each kind of event that is not a post, the facets and
 * the text together, the skips; and the memory of published posts that a
 * resumed stream is checked against.
 */
#include "testfile.h"
#include "ts_bsky.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ts_post post;
static ts_bsky_event ev;
static char detail[256];

static void setup(void)
{
    ts_post_init(&post);
}

static void teardown(void)
{
    ts_post_free(&post);
}

TestSuite(bsky, .init = setup, .fini = teardown);

static ts_skip parse(const char *json)
{
    return ts_bsky_parse(&post, &ev, json, strlen(json), detail, sizeof(detail));
}

/* The post's tags joined with '|'. */
static const char *tags(void)
{
    static char out[1024];
    size_t l = 0;

    out[0] = '\0';
    for (size_t i = 0; i < post.ntags; i++)
        l += (size_t)snprintf(out + l, sizeof(out) - l, "%s%.*s", i ? "|" : "",
                              (int)post.tags[i].len, ts_post_tag_ptr(&post, i));
    return out;
}

#define POST(record)                                                                               \
    "{\"did\":\"did:plc:a\",\"time_us\":1796025600000000,\"kind\":\"commit\",\"commit\":{"         \
    "\"operation\":\"create\",\"collection\":\"app.bsky.feed.post\",\"rkey\":\"3k1\","             \
    "\"record\":" record "}}"

#define TAG(start, end, tag)                                                                       \
    "{\"index\":{\"byteStart\":" #start ",\"byteEnd\":" #end "},\"features\":[{\"$type\":"         \
    "\"app.bsky.richtext.facet#tag\",\"tag\":\"" tag "\"}]}"

Test(bsky, fixture_stream)
{
    char path[1024], *line = NULL;
    size_t cap = 0, nw, at = 0, posts = 0, other = 0, bad = 0;
    ssize_t len;
    tf_record w[64];
    int64_t last = 0;
    FILE *fp;

    nw = tf_records_load(TS_FIXTURES, "bluesky_stream.expected", w, 64);
    snprintf(path, sizeof(path), "%s/bluesky_stream.ndjson", TS_FIXTURES);
    fp = fopen(path, "r");
    cr_assert_not_null(fp);
    while ((len = getline(&line, &cap, fp)) > 0) {
        ts_skip why = ts_bsky_parse(&post, &ev, line, (size_t)len, detail, sizeof(detail));
        cr_assert_eq(why, TS_SKIP_NONE, "%s: %s (%.60s)", ts_skip_name(why), detail, line);
        cr_expect_gt(ev.time_us, last, "time_us grows");
        last = ev.time_us;
        if (!ev.is_post) {
            other++;
            continue;
        }
        posts++;
        bad += post.bad_tags;
        for (size_t i = 0; i < post.ntags; i++, at++) {
            cr_assert_lt(at, nw, "more tags than expected");
            cr_expect(post.tags[i].len == strlen(w[at].value) &&
                          !memcmp(ts_post_tag_ptr(&post, i), w[at].value, post.tags[i].len),
                      "record %zu: %.*s, expected %s", at, (int)post.tags[i].len,
                      ts_post_tag_ptr(&post, i), w[at].value);
            cr_expect_eq(post.created_ms, w[at].ts, "record %zu timestamp", at);
        }
    }
    cr_expect_eq(at, nw, "every expected record");
    cr_expect_eq(posts, 11);
    cr_expect_eq(other, 4, "identity, account, delete, update");
    cr_expect_eq(bad, 1, "the empty tag facet");
    free(line);
    fclose(fp);
}

Test(bsky, facets_and_text_count_a_tag_once)
{
    /* "#kafka #kafka #aws": facets mark the first #kafka and #aws */
    cr_assert_eq(parse(POST("{\"text\":\"#kafka #kafka #aws\",\"createdAt\":"
                            "\"2026-11-30T08:00:00.250Z\",\"facets\":[" TAG(0, 6, "kafka") "," TAG(
                                14, 18, "aws") "]}")),
                 TS_SKIP_NONE);
    cr_expect(ev.is_post);
    cr_expect_str_eq(tags(), "kafka|aws|kafka", "facets first, then the unmarked text tag");
    cr_expect_eq(post.created_ms, 1796025600250LL);
    cr_expect_eq(ev.time_us, 1796025600000000LL);
}

Test(bsky, a_facet_tag_need_not_be_in_the_text)
{
    cr_assert_eq(parse(POST("{\"text\":\"see\",\"createdAt\":\"2026-11-30T08:00:00Z\","
                            "\"facets\":[" TAG(0, 3, "hidden") "]}")),
                 TS_SKIP_NONE);
    cr_expect_str_eq(tags(), "hidden");
}

Test(bsky, a_facet_with_a_bad_range_still_counts_and_text_tags_too)
{
    cr_assert_eq(parse(POST("{\"text\":\"#one\",\"createdAt\":\"2026-11-30T08:00:00Z\","
                            "\"facets\":[" TAG(9, 2, "one") "]}")),
                 TS_SKIP_NONE);
    cr_expect_str_eq(tags(), "one|one", "a range that covers nothing hides no text tag");
}

Test(bsky, without_createdAt_the_event_time)
{
    cr_assert_eq(parse(POST("{\"text\":\"#a\"}")), TS_SKIP_NONE);
    cr_expect_eq(post.created_ms, 1796025600000LL);
    cr_assert_eq(parse(POST("{\"text\":\"#a\",\"createdAt\":17}")), TS_SKIP_NONE);
    cr_expect_eq(post.created_ms, 1796025600000LL);
}

Test(bsky, the_identity_is_did_and_rkey)
{
    uint64_t a, b;

    cr_assert_eq(parse(POST("{\"text\":\"#a\"}")), TS_SKIP_NONE);
    a = ev.id;
    cr_assert_eq(parse(POST("{\"text\":\"another text, the same post\"}")), TS_SKIP_NONE);
    cr_expect_eq(ev.id, a);
    cr_assert_eq(parse("{\"did\":\"did:plc:b\",\"time_us\":5,\"kind\":\"commit\",\"commit\":{"
                       "\"operation\":\"create\",\"collection\":\"app.bsky.feed.post\","
                       "\"rkey\":\"3k1\",\"record\":{\"text\":\"#a\"}}}"),
                 TS_SKIP_NONE);
    b = ev.id;
    cr_expect_neq(b, a);
}

Test(bsky, events_that_are_not_posts)
{
    static const char *const other[] = {
        "{\"did\":\"d\",\"time_us\":7,\"kind\":\"identity\",\"identity\":{}}",
        "{\"did\":\"d\",\"time_us\":7,\"kind\":\"account\",\"account\":{\"active\":false}}",
        "{\"did\":\"d\",\"time_us\":7,\"kind\":\"commit\",\"commit\":{\"operation\":\"delete\","
        "\"collection\":\"app.bsky.feed.post\",\"rkey\":\"r\"}}",
        "{\"did\":\"d\",\"time_us\":7,\"kind\":\"commit\",\"commit\":{\"operation\":\"update\","
        "\"collection\":\"app.bsky.feed.post\",\"rkey\":\"r\",\"record\":{\"text\":\"#x\"}}}",
        "{\"did\":\"d\",\"time_us\":7,\"kind\":\"commit\",\"commit\":{\"operation\":\"create\","
        "\"collection\":\"app.bsky.feed.like\",\"rkey\":\"r\",\"record\":{\"text\":\"#x\"}}}",
        "{\"did\":\"d\",\"time_us\":7,\"kind\":\"commit\",\"commit\":{\"operation\":\"create\","
        "\"collection\":\"app.bsky.feed.post\",\"rkey\":\"r\",\"record\":\"#x\"}}",
        "{\"did\":\"d\",\"time_us\":7,\"kind\":\"future\"}",
    };

    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        cr_expect_eq(parse(other[i]), TS_SKIP_NONE, "%s", other[i]);
        cr_expect(!ev.is_post, "%s", other[i]);
        cr_expect_eq(ev.time_us, 7, "the cursor moves on: %s", other[i]);
        cr_expect_eq(post.ntags, 0);
    }
}

Test(bsky, skipped_messages)
{
    static const struct {
        const char *msg;
        ts_skip why;
    } bad[] = {
        {"{\"kind\":\"commit\",", TS_SKIP_MALFORMED_JSON},
        {"", TS_SKIP_MALFORMED_JSON},
        {"[1,2]", TS_SKIP_UNRECOGNIZED},
        {"{\"time_us\":5}", TS_SKIP_UNRECOGNIZED},
        {"{\"kind\":\"commit\"}", TS_SKIP_UNRECOGNIZED},
        {"{\"kind\":\"commit\",\"time_us\":\"5\"}", TS_SKIP_UNRECOGNIZED},
        {"{\"kind\":\"commit\",\"time_us\":-5}", TS_SKIP_UNRECOGNIZED},
        {"{\"kind\":\"c\xff\",\"time_us\":5}", TS_SKIP_INVALID_UTF8},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ts_skip why = parse(bad[i].msg);
        cr_expect_eq(why, bad[i].why, "%s: %s, want %s", bad[i].msg, ts_skip_name(why),
                     ts_skip_name(bad[i].why));
        cr_expect(detail[0], "a detail for %s", bad[i].msg);
        cr_expect(!ev.is_post);
    }
    cr_expect_eq(parse("{\"time_us\":9}"), TS_SKIP_UNRECOGNIZED);
    cr_expect_eq(ev.time_us, 9, "a skipped event with a time still moves the cursor");
}

Test(bsky, bad_tag_features)
{
    cr_assert_eq(parse(POST("{\"text\":\"x\",\"facets\":[{\"features\":[{\"$type\":"
                            "\"app.bsky.richtext.facet#tag\",\"tag\":\"\"},{\"$type\":"
                            "\"app.bsky.richtext.facet#tag\",\"tag\":7},{\"$type\":"
                            "\"app.bsky.richtext.facet#tag\",\"tag\":\"ok\"}]},\"junk\",7]}")),
                 TS_SKIP_NONE);
    cr_expect_str_eq(tags(), "ok");
    cr_expect_eq(post.bad_tags, 2);
}

Test(bsky, seen_ring)
{
    ts_bsky_seen s;

    cr_assert_eq(ts_bsky_seen_init(&s, 4), TS_OK);
    cr_expect(!ts_bsky_seen_has(&s, 1, 0), "empty");
    ts_bsky_seen_add(&s, 1, 100);
    ts_bsky_seen_add(&s, 2, 200);
    ts_bsky_seen_add(&s, 3, 300);
    cr_expect(ts_bsky_seen_has(&s, 1, 100));
    cr_expect(!ts_bsky_seen_has(&s, 1, 101), "older than the window");
    cr_expect(ts_bsky_seen_has(&s, 3, 250));
    cr_expect(!ts_bsky_seen_has(&s, 4, 0));
    ts_bsky_seen_add(&s, 4, 400);
    ts_bsky_seen_add(&s, 5, 500); /* forgets 1 */
    cr_expect(!ts_bsky_seen_has(&s, 1, 0), "forgotten when full");
    cr_expect(ts_bsky_seen_has(&s, 2, 0));
    cr_expect(ts_bsky_seen_has(&s, 5, 0));
    ts_bsky_seen_free(&s);
    ts_bsky_seen_free(&s); /* twice is harmless */
    ts_bsky_seen_free(NULL);
}
