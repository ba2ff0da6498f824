/*
 * ts_synth: a deterministic generator of posts for demos and benchmarks.
 *
 * The vocabulary holds `vocabulary` distinct hashtags: a base list of words
 * in several scripts (Latin, Greek with sigma, Turkish dotted and dotless I,
 * German sharp s, Cyrillic, Arabic, CJK, Hangul; no emoji), extended with
 * numbered forms ("kafka2"). Ranks are drawn from a Zipf distribution with
 * exponent s (P(rank k) ~ 1/k^s), and each draw is written in one of a
 * tag's case variants (as listed, upper, lower, capitalized), so several
 * spellings share one normalized key. The same seed gives the same posts.
 *
 * Ownership: the generator owns its vocabulary; ts_synth_next writes tags
 * into the caller's post. Thread: one generator belongs to one thread.
 */
#ifndef TS_SYNTH_H
#define TS_SYNTH_H

#include "ts_post.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ts_synth ts_synth;

/* NULL when out of memory. vocabulary >= 1, 0 <= s, tags_per_post >= 1. */
ts_synth *ts_synth_new(uint64_t seed, size_t vocabulary, double s, int tags_per_post);
void ts_synth_destroy(ts_synth *g);

/* The next post's tags (1..tags_per_post of them); created_ms is left -1. */
void ts_synth_next(ts_synth *g, ts_post *post);

/* The word of rank k (0-based) as listed, and the vocabulary size. */
const char *ts_synth_word(const ts_synth *g, size_t k, size_t *len);
size_t ts_synth_size(const ts_synth *g);

/* The next raw 64-bit draw (tests). */
uint64_t ts_synth_rand(ts_synth *g);

#endif
