/*
 * ts_split: incremental framing of HTTP stream bodies, fed with whatever
 * chunks the network delivers (a line or an event may be cut anywhere, even
 * inside a UTF-8 sequence or between \r and \n).
 *
 * ts_linesplit: newline-delimited records (the X stream, NDJSON files).
 *   A line ends at \n; one \r before it is dropped; empty lines (X's \r\n
 *   keep-alives) are not reported. In SSE mode a lone \r also ends a line
 *   and empty lines are reported (they end events).
 *   A line longer than `max` bytes is reported once as TS_LINE_OVERSIZE
 *   (with the bytes seen so far as its length) and its rest is skipped.
 *
 * ts_sse: Server-Sent Events (the Mastodon streaming API) on top of it:
 *   `event:` sets the type, `data:` lines are joined with \n, comment lines
 *   (`:thump`) are skipped, a blank line dispatches an event that has data.
 *   An event whose data exceeds `max` is reported once as TS_SSE_OVERSIZE.
 *
 * Ownership: the pointers a callback receives are valid during the call
 * only. Thread: one splitter belongs to one thread.
 */
#ifndef TS_SPLIT_H
#define TS_SPLIT_H

#include "ts_buf.h"

#include <stddef.h>

typedef enum ts_line_kind {
    TS_LINE_DATA = 0, /* a complete line, without its terminator */
    TS_LINE_OVERSIZE, /* a line over max bytes: p/n are its first max bytes */
} ts_line_kind;

/* Return non-zero to stop feeding (the rest of the chunk is kept). */
typedef int(ts_line_fn)(void *opaque, ts_line_kind kind, const char *p, size_t n);

typedef struct ts_linesplit {
    ts_buf part;    /* the start of a line cut by a chunk boundary */
    size_t max;     /* line length cap in bytes */
    int sse;        /* lone \r ends a line, empty lines are reported */
    int skipping;   /* inside an oversize line: drop up to its end */
    int after_cr;   /* (sse) the last byte was \r: a following \n is not a line */
    size_t pending; /* bytes of the current line seen so far (for oversize) */
    ts_line_fn *cb;
    void *opaque;
} ts_linesplit;

void ts_linesplit_init(ts_linesplit *s, size_t max, int sse, ts_line_fn *cb, void *opaque);
void ts_linesplit_free(ts_linesplit *s);

/* Feed a chunk; returns non-zero if a callback asked to stop. */
int ts_linesplit_feed(ts_linesplit *s, const char *p, size_t n);

/*
 * The stream ended. With deliver != 0 (a file without a final newline) a
 * partial line is reported as a line; otherwise it is dropped. Returns the
 * number of bytes of the partial line (0 if the stream ended cleanly
 * between lines) and resets the splitter for a new stream.
 */
size_t ts_linesplit_finish(ts_linesplit *s, int deliver);

typedef enum ts_sse_kind {
    TS_SSE_EVENT = 0, /* a complete event */
    TS_SSE_OVERSIZE,  /* an event whose data went over max: dropped */
} ts_sse_kind;

/* type is "message" when the event had no `event:` field. Return non-zero
 * to stop feeding. */
typedef int(ts_sse_fn)(void *opaque, ts_sse_kind kind, const char *type, size_t type_len,
                       const char *data, size_t data_len);

typedef struct ts_sse {
    ts_linesplit lines;
    ts_buf type;
    ts_buf data;
    size_t max;
    int has_data;
    int oversize;
    ts_sse_fn *cb;
    void *opaque;
} ts_sse;

void ts_sse_init(ts_sse *e, size_t max, ts_sse_fn *cb, void *opaque);
void ts_sse_free(ts_sse *e);
int ts_sse_feed(ts_sse *e, const char *p, size_t n);
/* The stream ended: drops an unfinished event. Returns the number of bytes
 * of it (partial line plus undispatched data; 0 if none) and resets. */
size_t ts_sse_finish(ts_sse *e);

#endif
