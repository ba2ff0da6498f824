/*
 * ts_time: the proleptic Gregorian calendar and ISO-8601 timestamps, as
 * milliseconds since 1970-01-01T00:00:00Z on a POSIX time scale (every day
 * has 86,400 seconds). The producer reads the posts' `created_at` with it,
 * tagstream-store its --from/--to and the times it prints.
 *
 * Grammar read by ts_time_parse_iso:
 *
 *   YYYY-MM-DD ('T' | 't' | ' ') hh:mm:ss [('.' | ',') 1-9 digits] [zone]
 *   zone: 'Z' | 'z' | +hh | -hh | +hhmm | -hhmm | +hh:mm | -hh:mm
 *
 * No zone is UTC. Digits after the millisecond are truncated. With
 * TS_TIME_PARTIAL the text may also stop after the date ("2026-11-26",
 * midnight) or after the minutes ("2026-11-26T17:00", "...T17:00Z"): a
 * person typing a time writes those; a post's `created_at` is always a full
 * timestamp, so the producer parses with TS_TIME_FULL.
 *
 * Ranges: month 1-12, day 1 to the length of that month (February 29 only
 * in leap years: every 4th year but not every 100th, except every 400th),
 * hour 0-23, minute 0-59, second 0-59, zone 00:00 to 23:59. "24:00:00" is
 * not accepted.
 *
 * Leap seconds: second 60 is accepted only where a leap second can be, as
 * RFC 3339 (section 5.7) allows it: the last second of the last day of a
 * month in UTC (23:59:60Z, or the same instant written with an offset, such
 * as 2016-12-31T18:59:60-05:00). POSIX time cannot name that second, so it
 * reads as 23:59:59.999 UTC of that day, whatever its fraction: a post
 * stamped in a leap second is counted on its own day, in the window that
 * holds the day's last millisecond (not the next one, which it never
 * belonged to), and after every post of 23:59:59 (event order is kept).
 * java.time's Instant.parse, too, reads 23:59:60Z within 23:59:59. X and
 * Mastodon servers keep POSIX (smeared) clocks and are not known to write
 * :60; the rule is for a source that does. Any other second 60
 * ("17:00:60Z", or :60 on a day that is not the last of its month) is not a
 * time: TS_ERR_INVALID.
 *
 * All functions are pure and thread-safe.
 */
#ifndef TS_TIME_H
#define TS_TIME_H

#include "ts_err.h"

#include <stddef.h>
#include <stdint.h>

/* What ts_time_parse_iso accepts; see above. */
typedef enum ts_time_form {
    TS_TIME_FULL = 0,    /* date, time to the second, optional fraction and zone */
    TS_TIME_PARTIAL = 1, /* also a date alone, or a time without seconds */
} ts_time_form;

/* Room for every ts_time_format_iso result, NUL included. */
#define TS_TIME_ISO_SIZE 32

/*
 * Parse p[0..n) (not NUL-terminated; the whole of it must be the time) into
 * *ms. TS_ERR_INVALID if it is not a time of the given form; *ms is then
 * left alone.
 */
ts_err ts_time_parse_iso(const char *p, size_t n, ts_time_form form, int64_t *ms);

/*
 * Format ms as "2026-11-26T17:00:00.000Z" (UTC, milliseconds always). Years
 * outside 0000-9999 get a sign, as ISO-8601's expanded form
 * ("+10000-01-01T00:00:00.000Z"); every int64 value can be formatted.
 * Returns the length, like snprintf (the text is cut to size - 1).
 */
size_t ts_time_format_iso(int64_t ms, char *buf, size_t size);

#endif
