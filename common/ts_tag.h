/*
 * ts_tag: hashtag normalization with Java's semantics, so that tagstream
 * groups tags exactly as the reference Kafka Streams application does:
 *
 *     value.toLowerCase(Locale.ROOT).trim()   then keep if length() > min
 *
 * - lower-casing is Java's String.toLowerCase(Locale.ROOT): the simple
 *   per-code-point mapping, plus the two special cases Java applies for the
 *   root locale: U+0130 becomes "i" + U+0307, and U+03A3 becomes final sigma
 *   U+03C2 when Java's Final_Cased condition holds (judged within Java's
 *   legacy word-break segments);
 * - trim() removes code points <= U+0020 from both ends;
 * - length() counts UTF-16 code units (ts_utf16_length).
 */
#ifndef TS_TAG_H
#define TS_TAG_H

#include "ts_err.h"

#include <stddef.h>

/* An output capacity that is always enough for ts_tag_normalize of n bytes. */
static inline size_t ts_tag_normalize_cap(size_t n)
{
    return n * 2 + 4;
}

/*
 * Lower-case (Java, Locale.ROOT) then trim in[0..n) into out[0..cap);
 * *outlen gets the result's length. The result is not NUL-terminated.
 *
 * Returns TS_ERR_INVALID if in is not valid UTF-8 (out is then undefined),
 * TS_ERR_NOMEM if cap is too small (use ts_tag_normalize_cap) or a scratch
 * allocation for a long value containing U+03A3 failed.
 */
ts_err ts_tag_normalize(const char *in, size_t n, char *out, size_t cap, size_t *outlen);

/* Java's String.trim() on UTF-8 text: the [start, end) of p without the
 * leading and trailing bytes <= 0x20. */
void ts_tag_trim(const char *p, size_t n, size_t *start, size_t *end);

#endif
