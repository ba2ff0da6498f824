/*
 * ts_bsky: Bluesky Jetstream events reduced to posts, and the memory of
 * recent posts that keeps a resumed stream from publishing a post twice.
 *
 * An event is one JSON object per WebSocket message:
 *
 *   {"did":"did:plc:...","time_us":1732900000123456,"kind":"commit",
 *    "commit":{"operation":"create","collection":"app.bsky.feed.post",
 *              "rkey":"3l...","record":{"$type":"app.bsky.feed.post",
 *              "text":"...","createdAt":"2026-11-30T08:00:00.000Z",
 *              "langs":["en"],"facets":[{"index":{"byteStart":0,
 *              "byteEnd":5},"features":[{"$type":
 *              "app.bsky.richtext.facet#tag","tag":"kafka"}]}]}}}
 *
 * A post is a `commit` event whose operation is `create` and whose record
 * is an app.bsky.feed.post. Its hashtags are the tag features of its facets
 * (each facet's index is the byte range of the `#tag` in the text), then
 * the tags found in the text by Bluesky's rules (ts_hashtag) that no facet
 * covers: a tag written and marked counts once, a tag a client left unmarked
 * still counts. Its time is `createdAt`, else the event's time_us. Every
 * other event (identity, account, an update or delete, another collection)
 * is not a post and is ignored.
 *
 * Thread: a ts_bsky_seen belongs to one thread.
 */
#ifndef TS_BSKY_H
#define TS_BSKY_H

#include "ts_post.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ts_bsky_event {
    int64_t time_us; /* the event's time_us (the cursor), 0 if it has none */
    int is_post;     /* a created post: parsed into the ts_post */
    uint64_t id;     /* with is_post: a hash of the post's did and rkey */
} ts_bsky_event;

/*
 * Parse one event p[0..n) into ev and, for a post, into post. Returns
 * TS_SKIP_NONE for a post or an event that is not one (ev->is_post says
 * which), else the reason the message is skipped (invalid UTF-8, malformed
 * JSON, an object without `kind` or `time_us`), with a short detail. An
 * event that is skipped still gets its time_us when it has one.
 */
ts_skip ts_bsky_parse(ts_post *post, ts_bsky_event *ev, const char *p, size_t n, char *detail,
                      size_t detail_size);

/*
 * The identities of the posts published last, in a ring of fixed capacity,
 * with the time_us they came with. After a reconnect with a rewound cursor
 * the events up to the replay end are checked against it.
 */
typedef struct ts_bsky_seen {
    uint64_t *ids;
    int64_t *times;
    size_t cap, head, len; /* head: where the next one goes */
} ts_bsky_seen;

/* TS_ERR_NOMEM, or TS_OK with an empty ring of `cap` (>= 1) entries. */
ts_err ts_bsky_seen_init(ts_bsky_seen *s, size_t cap);
void ts_bsky_seen_free(ts_bsky_seen *s);

/* Remember a published post (the oldest is forgotten when full). */
void ts_bsky_seen_add(ts_bsky_seen *s, uint64_t id, int64_t time_us);

/* Was post `id` published with a time_us >= since_us? Looks from the newest
 * back until an entry older than since_us. */
int ts_bsky_seen_has(const ts_bsky_seen *s, uint64_t id, int64_t since_us);

#endif
