/*
 * ts_skip: why a record was skipped as bad input, one vocabulary for every
 * binary. The names are the `reason` label of the skip metrics and the
 * `reason` field of the log lines.
 *
 * A binary counts only the reasons that can happen in it, listed in its
 * own code (processor/ts_proc_metrics.c, producer/ts_producer.c,
 * processor/view/ts_view.c); a new
 * reason goes at the end of the enum, with its name in ts_skip.c, and into
 * the list of the binary that counts it.
 *
 * Thread: any.
 */
#ifndef TS_SKIP_H
#define TS_SKIP_H

typedef enum ts_skip {
    TS_SKIP_NONE = 0,       /* not skipped (also ends a list of reasons) */
    TS_SKIP_TRUNCATED,      /* a line or event cut by a disconnect */
    TS_SKIP_OVERSIZE,       /* longer than the binary accepts */
    TS_SKIP_INVALID_UTF8,   /* not valid UTF-8 */
    TS_SKIP_MALFORMED_JSON, /* does not parse as JSON */
    TS_SKIP_ERROR_OBJECT,   /* an {"errors":[...]} object instead of a post */
    TS_SKIP_UNRECOGNIZED,   /* JSON, but not a post of a known shape */
    TS_SKIP_BAD_TAG,        /* one hashtag entity that is not a usable tag */
    TS_SKIP_NULL_VALUE,     /* a Kafka record without a value */
    TS_SKIP_NO_TIMESTAMP,   /* a Kafka record without a timestamp */
    TS_SKIP_NULL_KEY,       /* a record without the key it needs (repartition, result) */
    TS_SKIP_WINDOW_FULL,    /* a window that already holds as many hashtags as allowed */
    TS_SKIP__COUNT
} ts_skip;

/* The reason's name ("invalid_utf8"); "?" for a value out of range. */
const char *ts_skip_name(ts_skip skip);

#endif
