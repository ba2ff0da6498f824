/*
 * ts_post: one post of a source (an X stream line, a Mastodon status, a
 * line of text) reduced to what the producer publishes: its hashtags as
 * written and its creation time.
 *
 * Hashtags come from the platform's entities when the record has them
 * (X: data.entities.hashtags[].tag; Mastodon: tags[].name), otherwise from
 * the text by the platform's rules (ts_hashtag). A record that is not a post
 * is skipped with a reason (ts_skip), which the caller counts and logs.
 *
 * Ownership: a ts_post owns copies of its tags; it is reused from record to
 * record (ts_post_parse resets it). Thread: one post belongs to one thread.
 */
#ifndef TS_POST_H
#define TS_POST_H

#include "ts_buf.h"
#include "ts_err.h"
#include "ts_skip.h"

#include <stddef.h>
#include <stdint.h>

typedef enum ts_post_format {
    TS_POST_AUTO = 0, /* per line: JSON (X or Mastodon, by shape) or plain text */
    TS_POST_X,        /* an X API v2 stream line: {"data":{...}} */
    TS_POST_MASTODON, /* a Mastodon Status object */
    TS_POST_TEXT,     /* plain text, X's hashtag rules */
} ts_post_format;

typedef struct ts_post_tag {
    size_t off; /* into the post's store */
    size_t len;
} ts_post_tag;

typedef struct ts_post {
    int64_t created_ms; /* ms since the epoch, -1 when the record has none */
    ts_post_tag *tags;
    size_t ntags, cap;
    ts_buf store;      /* the tags' bytes */
    size_t bad_tags;   /* entities skipped as TS_SKIP_BAD_TAG in this record */
    int from_entities; /* the tags came from entities, not from the text */
} ts_post;

void ts_post_init(ts_post *post);
void ts_post_free(ts_post *post);
void ts_post_reset(ts_post *post);

/* Append a tag (copied). TS_ERR_NOMEM on allocation failure. */
ts_err ts_post_add_tag(ts_post *post, const char *p, size_t n);

static inline const char *ts_post_tag_ptr(const ts_post *post, size_t i)
{
    return post->store.data + post->tags[i].off;
}

/*
 * Parse one record p[0..n) into post. Returns TS_SKIP_NONE for a post (which
 * may have no tags), else the reason it is skipped, with a short detail in
 * detail[0..detail_size) (for an error object: its title and detail).
 */
ts_skip ts_post_parse(ts_post *post, ts_post_format fmt, const char *p, size_t n, char *detail,
                      size_t detail_size);

/* The text of an HTML fragment (Mastodon's `content`): tags removed, <br>
 * and </p> as line breaks, character references decoded. Appends to out. */
void ts_post_html_text(ts_buf *out, const char *p, size_t n);

#endif
