/*
 * ts_view: the latest windows of results, as tagstream-view shows them.
 *
 * Fed with the committed records of the output topic, in either output
 * format of the processor:
 *   json  {"hashtag","count","window_start","window_end"}; key = the tag
 *   long  an 8-byte big-endian count; key = the tag. The window is not in
 *         the record: it is the window of window_size_ms that holds the
 *         record's timestamp, which the processor sets to the newest event
 *         time counted in the window (so the view's window.size.ms must be
 *         the processor's).
 * The format is told apart per record (a JSON value starts with '{', a
 * count never does), so one view reads a topic written in both.
 *
 * It keeps the `windows` newest windows (by start) with every hashtag of
 * each (last count wins, so a result seen twice is not counted twice), and
 * renders them as one JSON document, hashtags ranked by count (then by
 * bytes), the `top` first of each window. A record that cannot be read is
 * skipped and counted by reason, never kept.
 *
 * Thread: ts_view_add from one thread (the consumer), ts_view_render and
 * the getters from any thread (a mutex inside).
 */
#ifndef TS_VIEW_H
#define TS_VIEW_H

#include "ts_buf.h"
#include "ts_err.h"
#include "ts_skip.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ts_view ts_view;

/*
 * Why a record is skipped (ts_skip.h), the reasons the view counts, ended by
 * TS_SKIP_NONE:
 *   null_value      a record without a value
 *   malformed_json  a value that begins like JSON and does not parse
 *   unrecognized    neither format, a field missing or of the wrong type,
 *                   a count <= 0, a window that ends before it starts
 *   null_key        a long result without a key (a json one without
 *                   "hashtag" too)
 *   invalid_utf8    the hashtag is not valid UTF-8 (or holds a NUL)
 *   oversize        a hashtag longer than TS_VIEW_MAX_TAG_BYTES
 *   window_full     its window already holds TS_VIEW_MAX_TAGS hashtags
 */
extern const ts_skip ts_view_skips[];

#define TS_VIEW_MAX_TAG_BYTES 1024
#define TS_VIEW_MAX_TAGS      20000

/* NULL when out of memory. windows >= 1, top >= 1, window_size_ms >= 1. */
ts_view *ts_view_new(int windows, int top, int64_t window_size_ms);
/* NULL ok. */
void ts_view_destroy(ts_view *v);

/*
 * Add one committed record (key may be NULL, ts in ms since the epoch).
 * TS_OK when it was taken (shown, or older than every window kept);
 * TS_ERR_INVALID when skipped, with *why set (may be NULL);
 * TS_ERR_NOMEM when out of memory (the view is unchanged).
 */
ts_err ts_view_add(ts_view *v, const void *key, size_t klen, const void *val, size_t vlen,
                   int64_t ts, ts_skip *why);

/* Bumped by every change; 0 before the first. */
uint64_t ts_view_version(ts_view *v);
uint64_t ts_view_results(ts_view *v);
uint64_t ts_view_skipped(ts_view *v, ts_skip why);

/*
 * Append the JSON document of the current state to out and return its
 * version:
 *   {"version":N,"results_total":N,"skipped_total":N,"window_size_ms":N,
 *    "top":N,"windows":[{"window_start":N,"window_end":N,"hashtags_total":N,
 *    "hashtags":[{"hashtag":"...","count":N},...]},...]}
 * windows newest first. The text holds no raw line break (it can go in one
 * SSE data line). Rendered once per version and kept.
 */
uint64_t ts_view_render(ts_view *v, ts_buf *out);

#endif
