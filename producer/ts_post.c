#include "ts_post.h"
#include "ts_buf.h"
#include "ts_hashtag.h"
#include "ts_time.h"
#include "ts_utf8.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ts_post_init(ts_post *post)
{
    memset(post, 0, sizeof(*post));
    ts_buf_init(&post->store, 0);
    post->created_ms = -1;
}

void ts_post_free(ts_post *post)
{
    if (!post)
        return;
    free(post->tags);
    ts_buf_free(&post->store);
    memset(post, 0, sizeof(*post));
}

void ts_post_reset(ts_post *post)
{
    post->created_ms = -1;
    post->ntags = 0;
    post->bad_tags = 0;
    post->from_entities = 0;
    ts_buf_reset(&post->store);
}

ts_err ts_post_add_tag(ts_post *post, const char *p, size_t n)
{
    ts_post_tag *t = ts_grow(post->tags, post->ntags, &post->cap, sizeof(*t), 8);

    if (!t)
        return TS_ERR_NOMEM;
    post->tags = t;
    post->tags[post->ntags].off = post->store.len;
    post->tags[post->ntags].len = n;
    if (ts_buf_append(&post->store, p, n))
        return TS_ERR_NOMEM;
    post->ntags++;
    return TS_OK;
}

/* ---- HTML ---- */

static void ts_put_cp(ts_buf *out, uint32_t cp)
{
    char u[4];

    if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        cp = 0xfffd;
    ts_buf_append(out, u, ts_utf8_encode(cp, u));
}

/* Decode the character reference at p ('&' ... ';'); returns its length,
 * 0 if it is not one we know. */
static size_t ts_html_entity(ts_buf *out, const char *p, size_t n)
{
    static const struct {
        const char *name;
        uint32_t cp;
    } named[] = {{"amp", '&'},   {"lt", '<'},      {"gt", '>'},       {"quot", '"'},
                 {"apos", '\''}, {"nbsp", 0x00a0}, {"hellip", 0x2026}};
    size_t semi;

    for (semi = 1; semi < n && semi < 12 && p[semi] != ';'; semi++)
        ;
    if (semi >= n || p[semi] != ';')
        return 0;
    if (p[1] == '#') {
        uint32_t cp = 0;
        int hex = semi > 2 && (p[2] == 'x' || p[2] == 'X');
        size_t k = hex ? 3 : 2;
        if (k >= semi)
            return 0;
        for (; k < semi; k++) {
            char c = p[k];
            int v = c >= '0' && c <= '9'          ? c - '0'
                    : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                  : -1;
            if (v < 0 || cp > 0x10ffff)
                return 0;
            cp = cp * (hex ? 16 : 10) + (uint32_t)v;
        }
        ts_put_cp(out, cp);
        return semi + 1;
    }
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
        if (strlen(named[i].name) == semi - 1 && !memcmp(p + 1, named[i].name, semi - 1)) {
            ts_put_cp(out, named[i].cp);
            return semi + 1;
        }
    }
    return 0;
}

void ts_post_html_text(ts_buf *out, const char *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        if (p[i] == '<') {
            const char *gt = memchr(p + i, '>', n - i);
            size_t tl = gt ? (size_t)(gt - p - i) + 1 : n - i;
            /* a line break between paragraphs keeps their words apart */
            if ((tl >= 3 && (p[i + 1] == 'b' || p[i + 1] == 'B') &&
                 (p[i + 2] == 'r' || p[i + 2] == 'R')) ||
                (tl >= 3 && p[i + 1] == '/' && (p[i + 2] == 'p' || p[i + 2] == 'P')))
                ts_buf_putc(out, '\n');
            i += tl;
        } else if (p[i] == '&') {
            size_t el = ts_html_entity(out, p + i, n - i);
            if (el == 0) {
                ts_buf_putc(out, '&');
                el = 1;
            }
            i += el;
        } else {
            const char *lt = memchr(p + i, '<', n - i), *amp = memchr(p + i, '&', n - i);
            size_t e = n;
            if (lt && (size_t)(lt - p) < e)
                e = (size_t)(lt - p);
            if (amp && (size_t)(amp - p) < e)
                e = (size_t)(amp - p);
            ts_buf_append(out, p + i, e - i);
            i = e;
        }
    }
}

/* ---- records ---- */

static void ts_detail(char *detail, size_t detail_size, const char *fmt, const char *a,
                      const char *b)
{
    if (detail && detail_size)
        snprintf(detail, detail_size, fmt, a, b);
}

static int ts_post_text_tag(void *opaque, const char *p, size_t n)
{
    return ts_post_add_tag(opaque, p, n) != TS_OK;
}

static ts_skip ts_post_from_text(ts_post *post, const char *p, size_t n, ts_hashtag_rules rules)
{
    ts_hashtag_extract(p, n, rules, ts_post_text_tag, post);
    return TS_SKIP_NONE;
}

/* An entity array: each element's `field` is a tag. */
static void ts_post_entities(ts_post *post, json_t *arr, const char *field)
{
    size_t i;
    json_t *el;

    post->from_entities = 1;
    json_array_foreach(arr, i, el)
    {
        json_t *t = json_object_get(el, field);
        const char *s = json_string_value(t);
        size_t len = json_string_length(t);
        /* jansson has checked the UTF-8; NUL inside or an empty tag is not a tag */
        if (!s || len == 0 || memchr(s, '\0', len)) {
            post->bad_tags++;
            continue;
        }
        ts_post_add_tag(post, s, len);
    }
}

static void ts_post_created(ts_post *post, json_t *obj)
{
    json_t *c = json_object_get(obj, "created_at");
    int64_t ms;

    /* a post whose created_at is not a time is sent with the time of sending */
    if (json_is_string(c) &&
        ts_time_parse_iso(json_string_value(c), json_string_length(c), TS_TIME_FULL, &ms) == TS_OK)
        post->created_ms = ms;
}

/* X: {"data":{"id","text","created_at","entities":{"hashtags":[{"tag"}]}}} */
static ts_skip ts_post_x(ts_post *post, json_t *root, char *detail, size_t detail_size)
{
    json_t *data = json_object_get(root, "data"), *errors, *ent, *text;

    if (!json_is_object(data)) {
        errors = json_object_get(root, "errors");
        if (json_is_array(errors) && json_array_size(errors) > 0) {
            json_t *e = json_array_get(errors, 0);
            const char *title = json_string_value(json_object_get(e, "title"));
            const char *d = json_string_value(json_object_get(e, "detail"));
            if (!d)
                d = json_string_value(json_object_get(e, "message"));
            ts_detail(detail, detail_size, "%s: %s", title ? title : "error", d ? d : "");
            return TS_SKIP_ERROR_OBJECT;
        }
        ts_detail(detail, detail_size, "%s%s", "no data object", "");
        return TS_SKIP_UNRECOGNIZED;
    }
    ts_post_created(post, data);
    ent = json_object_get(data, "entities");
    if (json_is_object(ent)) {
        json_t *tags = json_object_get(ent, "hashtags");
        post->from_entities = 1;
        if (json_is_array(tags))
            ts_post_entities(post, tags, "tag");
        return TS_SKIP_NONE;
    }
    text = json_object_get(data, "text");
    if (json_is_string(text))
        return ts_post_from_text(post, json_string_value(text), json_string_length(text),
                                 TS_HASHTAG_X);
    return TS_SKIP_NONE;
}

/* Mastodon Status: {"id","created_at","content":"<p>...</p>","tags":[{"name"}]} */
static ts_skip ts_post_mastodon(ts_post *post, json_t *st, char *detail, size_t detail_size)
{
    json_t *tags = json_object_get(st, "tags"), *content = json_object_get(st, "content");
    ts_buf text = TS_BUF_INIT;

    if (!json_is_array(tags) && !json_is_string(content)) {
        ts_detail(detail, detail_size, "%s%s", "not a status (no tags, no content)", "");
        return TS_SKIP_UNRECOGNIZED;
    }
    ts_post_created(post, st);
    if (json_is_array(tags)) {
        ts_post_entities(post, tags, "name");
        return TS_SKIP_NONE;
    }
    ts_post_html_text(&text, json_string_value(content), json_string_length(content));
    if (text.len)
        ts_post_from_text(post, text.data, text.len, TS_HASHTAG_MASTODON);
    ts_buf_free(&text);
    return TS_SKIP_NONE;
}

ts_skip ts_post_parse(ts_post *post, ts_post_format fmt, const char *p, size_t n, char *detail,
                      size_t detail_size)
{
    json_error_t jerr;
    json_t *root;
    ts_skip skip;
    size_t s = 0;

    ts_post_reset(post);
    if (detail && detail_size)
        detail[0] = '\0';
    if (!ts_utf8_valid(p, n)) {
        ts_detail(detail, detail_size, "%s%s", "invalid UTF-8", "");
        return TS_SKIP_INVALID_UTF8;
    }
    while (s < n && (p[s] == ' ' || p[s] == '\t' || p[s] == '\r' || p[s] == '\n'))
        s++;
    if (fmt == TS_POST_TEXT || (fmt == TS_POST_AUTO && (s == n || p[s] != '{')))
        return ts_post_from_text(post, p, n, TS_HASHTAG_X);
    root = json_loadb(p, n, 0, &jerr);
    if (!root) {
        char pos[32];
        snprintf(pos, sizeof(pos), "%d", jerr.position);
        ts_detail(detail, detail_size, "%s at byte %s", jerr.text, pos);
        return TS_SKIP_MALFORMED_JSON;
    }
    if (!json_is_object(root)) {
        skip = TS_SKIP_UNRECOGNIZED;
        ts_detail(detail, detail_size, "%s%s", "not a JSON object", "");
    } else if (fmt == TS_POST_X) {
        skip = ts_post_x(post, root, detail, detail_size);
    } else if (fmt == TS_POST_MASTODON) {
        skip = ts_post_mastodon(post, root, detail, detail_size);
    } else if (json_object_get(root, "data") || json_object_get(root, "errors")) {
        skip = ts_post_x(post, root, detail, detail_size);
    } else {
        skip = ts_post_mastodon(post, root, detail, detail_size);
    }
    json_decref(root);
    if (ts_buf_status(&post->store))
        return ts_detail(detail, detail_size, "%s%s", "out of memory", ""), TS_SKIP_UNRECOGNIZED;
    return skip;
}
