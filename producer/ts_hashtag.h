/*
 * ts_hashtag: hashtags found in the text of a post, by the rules of the
 * platform it came from, for posts that carry no hashtag entities (plain
 * text files, records without `entities` or `tags`).
 *
 * X (twitter-text): `#` or U+FF03 `＃`, not preceded by a letter, mark,
 *   digit, underscore or `&`, not followed by U+FE0F or U+20E3 (the keycap
 *   emoji); the tag is the longest run of letters, marks, decimal digits,
 *   underscore and the few joiners twitter-text allows (ZWNJ, ZWJ, U+00B7,
 *   U+30FB, ...), and holds at least one letter or mark (so not all
 *   digits). A match followed by `#`, `＃` or `://` is not a hashtag.
 * Mastodon: `#` not preceded by a letter, digit, `=`, `/` or `)`; the tag is
 *   a run of word characters (letters, marks, digits, connector
 *   punctuation) and the separators U+00B7, U+30FB and ZWNJ, which may not
 *   end it; it holds at least one letter or mark.
 * Bluesky (the facet detection of Bluesky's own clients): `#` or `＃` at
 *   the start of the text or after white space, not followed by U+FE0F; the
 *   tag is the run of code points up to the next white space or invisible
 *   separator (U+00AD, U+2060, U+200A to U+200D, U+20E2), holding at least
 *   one code point that is neither an ASCII digit nor punctuation, with its
 *   trailing punctuation removed, and at most 64 UTF-16 code units long.
 *
 * Unicode categories come from utf8proc. Bytes that are not valid UTF-8
 * separate words and are never part of a tag.
 */
#ifndef TS_HASHTAG_H
#define TS_HASHTAG_H

#include <stddef.h>

typedef enum ts_hashtag_rules {
    TS_HASHTAG_X = 0,
    TS_HASHTAG_MASTODON,
    TS_HASHTAG_BLUESKY,
} ts_hashtag_rules;

/* A tag found: p[0..n) points into the text, without the `#`. Return
 * non-zero to stop the scan. */
typedef int(ts_hashtag_fn)(void *opaque, const char *p, size_t n);

/* Scan text p[0..n) in order; returns the number of tags reported. */
size_t ts_hashtag_extract(const char *p, size_t n, ts_hashtag_rules rules, ts_hashtag_fn *cb,
                          void *opaque);

#endif
