#include "ts_bsky.h"
#include "ts_hashtag.h"
#include "ts_time.h"
#include "ts_utf8.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS_BSKY_TAG_FEATURE "app.bsky.richtext.facet#tag"
#define TS_BSKY_POST        "app.bsky.feed.post"
#define TS_BSKY_MAX_RANGES  64

/* FNV-1a, 64 bits. */
static uint64_t ts_bsky_fnv(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static int ts_bsky_str_is(json_t *v, const char *want)
{
    return json_is_string(v) && !strcmp(json_string_value(v), want);
}

/* Byte ranges of the text that facets mark as tags. */
typedef struct ts_bsky_ranges {
    size_t n;
    size_t start[TS_BSKY_MAX_RANGES], end[TS_BSKY_MAX_RANGES];
} ts_bsky_ranges;

typedef struct ts_bsky_text {
    ts_post *post;
    const char *text;
    const ts_bsky_ranges *r;
} ts_bsky_text;

/* A tag found in the text: kept unless a facet's range covers it. */
static int ts_bsky_text_tag(void *opaque, const char *p, size_t n)
{
    ts_bsky_text *t = opaque;
    size_t off = (size_t)(p - t->text);

    for (size_t i = 0; i < t->r->n; i++)
        if (off < t->r->end[i] && off + n > t->r->start[i])
            return 0;
    return ts_post_add_tag(t->post, p, n) != TS_OK;
}

static void ts_bsky_facets(ts_post *post, json_t *facets, ts_bsky_ranges *r)
{
    size_t i, j;
    json_t *f, *feat;

    json_array_foreach(facets, i, f)
    {
        json_t *features = json_object_get(f, "features"), *index = json_object_get(f, "index");
        int tagged = 0;

        json_array_foreach(features, j, feat)
        {
            json_t *tag;
            const char *s;
            size_t len;

            if (!ts_bsky_str_is(json_object_get(feat, "$type"), TS_BSKY_TAG_FEATURE))
                continue;
            tag = json_object_get(feat, "tag");
            s = json_string_value(tag);
            len = json_string_length(tag);
            tagged = 1;
            /* jansson has checked the UTF-8; NUL inside or an empty tag is not a tag */
            if (!s || len == 0 || memchr(s, '\0', len)) {
                post->bad_tags++;
                continue;
            }
            ts_post_add_tag(post, s, len);
        }
        if (tagged && r->n < TS_BSKY_MAX_RANGES) {
            json_t *bs = json_object_get(index, "byteStart"),
                   *be = json_object_get(index, "byteEnd");
            if (json_is_integer(bs) && json_is_integer(be) && json_integer_value(bs) >= 0 &&
                json_integer_value(be) > json_integer_value(bs)) {
                r->start[r->n] = (size_t)json_integer_value(bs);
                r->end[r->n] = (size_t)json_integer_value(be);
                r->n++;
            }
        }
    }
}

static ts_skip ts_bsky_post(ts_post *post, ts_bsky_event *ev, json_t *root, json_t *commit,
                            json_t *record)
{
    json_t *text = json_object_get(record, "text"), *created = json_object_get(record, "createdAt"),
           *did = json_object_get(root, "did"), *rkey = json_object_get(commit, "rkey");
    ts_bsky_ranges r;
    int64_t ms;

    r.n = 0;
    ev->is_post = 1;
    ev->id =
        ts_bsky_fnv(0xcbf29ce484222325ULL, json_string_value(did) ? json_string_value(did) : "",
                    json_string_length(did));
    ev->id = ts_bsky_fnv(ev->id, "/", 1);
    ev->id = ts_bsky_fnv(ev->id, json_string_value(rkey) ? json_string_value(rkey) : "",
                         json_string_length(rkey));
    if (json_is_string(created) &&
        ts_time_parse_iso(json_string_value(created), json_string_length(created), TS_TIME_FULL,
                          &ms) == TS_OK)
        post->created_ms = ms;
    else if (ev->time_us > 0)
        post->created_ms = ev->time_us / 1000;
    post->from_entities = 1;
    ts_bsky_facets(post, json_object_get(record, "facets"), &r);
    if (json_is_string(text)) {
        ts_bsky_text t = {post, json_string_value(text), &r};
        ts_hashtag_extract(t.text, json_string_length(text), TS_HASHTAG_BLUESKY, ts_bsky_text_tag,
                           &t);
    }
    return TS_SKIP_NONE;
}

#define TS_BSKY_DETAIL(...)                                                                        \
    do {                                                                                           \
        if (detail && detail_size)                                                                 \
            snprintf(detail, detail_size, __VA_ARGS__);                                            \
    } while (0)

ts_skip ts_bsky_parse(ts_post *post, ts_bsky_event *ev, const char *p, size_t n, char *detail,
                      size_t detail_size)
{
    json_error_t jerr;
    json_t *root, *kind, *t, *commit, *record;
    ts_skip skip = TS_SKIP_NONE;

    ts_post_reset(post);
    memset(ev, 0, sizeof(*ev));
    TS_BSKY_DETAIL("%s", "");
    if (!ts_utf8_valid(p, n)) {
        TS_BSKY_DETAIL("invalid UTF-8");
        return TS_SKIP_INVALID_UTF8;
    }
    root = json_loadb(p, n, 0, &jerr);
    if (!root) {
        TS_BSKY_DETAIL("%s at byte %d", jerr.text, jerr.position);
        return TS_SKIP_MALFORMED_JSON;
    }
    t = json_object_get(root, "time_us");
    kind = json_object_get(root, "kind");
    if (json_is_integer(t) && json_integer_value(t) > 0)
        ev->time_us = (int64_t)json_integer_value(t);
    if (!json_is_object(root) || !json_is_string(kind) || !ev->time_us) {
        TS_BSKY_DETAIL("not a Jetstream event (no kind or time_us)");
        skip = TS_SKIP_UNRECOGNIZED;
        goto out;
    }
    commit = json_object_get(root, "commit");
    record = json_object_get(commit, "record");
    if (ts_bsky_str_is(kind, "commit") &&
        ts_bsky_str_is(json_object_get(commit, "operation"), "create") &&
        ts_bsky_str_is(json_object_get(commit, "collection"), TS_BSKY_POST) &&
        json_is_object(record))
        skip = ts_bsky_post(post, ev, root, commit, record);
    if (ts_buf_status(&post->store)) {
        TS_BSKY_DETAIL("out of memory");
        skip = TS_SKIP_UNRECOGNIZED;
    }
out:
    json_decref(root);
    return skip;
}

ts_err ts_bsky_seen_init(ts_bsky_seen *s, size_t cap)
{
    memset(s, 0, sizeof(*s));
    if (cap == 0)
        cap = 1;
    s->ids = calloc(cap, sizeof(*s->ids));
    s->times = calloc(cap, sizeof(*s->times));
    if (!s->ids || !s->times) {
        ts_bsky_seen_free(s);
        return TS_ERR_NOMEM;
    }
    s->cap = cap;
    return TS_OK;
}

void ts_bsky_seen_free(ts_bsky_seen *s)
{
    if (!s)
        return;
    free(s->ids);
    free(s->times);
    memset(s, 0, sizeof(*s));
}

void ts_bsky_seen_add(ts_bsky_seen *s, uint64_t id, int64_t time_us)
{
    s->ids[s->head] = id;
    s->times[s->head] = time_us;
    s->head = (s->head + 1) % s->cap;
    if (s->len < s->cap)
        s->len++;
}

int ts_bsky_seen_has(const ts_bsky_seen *s, uint64_t id, int64_t since_us)
{
    size_t i = s->head;

    for (size_t k = 0; k < s->len; k++) {
        i = i == 0 ? s->cap - 1 : i - 1;
        if (s->times[i] < since_us)
            return 0;
        if (s->ids[i] == id)
            return 1;
    }
    return 0;
}
