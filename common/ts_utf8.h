/*
 * ts_utf8: strict UTF-8 (RFC 3629) decoding and the UTF-16 view Java has of
 * a string. No allocation; every function takes pointer + length.
 */
#ifndef TS_UTF8_H
#define TS_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * Length in bytes of the valid UTF-8 sequence at p (1..4), or 0 if the bytes
 * at p are not a valid sequence (overlong, surrogate, > U+10FFFF, truncated).
 */
size_t ts_utf8_seqlen(const char *p, size_t n);

/* Decode one valid sequence at p; returns its length (0 if invalid). */
size_t ts_utf8_decode(const char *p, size_t n, uint32_t *cp);

/* Encode cp (must be a Unicode scalar value) into out[4]; returns 1..4. */
size_t ts_utf8_encode(uint32_t cp, char *out);

/* 1 if p[0..n) is entirely valid UTF-8, else 0. */
int ts_utf8_valid(const char *p, size_t n);

/*
 * Number of UTF-16 code units of valid UTF-8 text (Java's String.length()):
 * 2 for each code point above U+FFFF, 1 for the others.
 */
size_t ts_utf16_length(const char *p, size_t n);

#endif
