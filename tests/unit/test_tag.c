/*
 * Normalization as Java does it: toLowerCase(Locale.ROOT), trim(), length().
 * The expected values of this table were produced by the JDK itself; the
 * conformance test (tests/conformance) compares many more values with a
 * running JVM.
 */
#include "ts_tag.h"
#include "ts_utf8.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "ts_test.h"
#include <stdlib.h>
#include <string.h>

struct tag_case {
    const char *name;
    const char *in;
    size_t in_len;
    const char *out;
    size_t out_len;
    size_t in_utf16;  /* Java: in.length() */
    size_t out_utf16; /* Java: in.toLowerCase(Locale.ROOT).trim().length() */
};

#define S(lit) lit, sizeof(lit) - 1

static struct tag_case tag_cases[] = {
    {"ascii upper", S("Kafka"), S("kafka"), 5, 5},
    {"ascii spaces", S("  Kafka\x09"), S("kafka"), 8, 5},
    {"controls both ends",
     S("\x01"
       "\x1f"
       "Tag\x0a"
       "\x00"),
     S("tag"), 7, 3},
    {"del kept", S("tag\x7f"), S("tag\x7f"), 4, 4},
    {"turkish dotted I",
     S("\xc4"
       "\xb0"),
     S("i\xcc"
       "\x87"),
     1, 2},
    {"istanbul",
     S("\xc4"
       "\xb0"
       "STANBUL"),
     S("i\xcc"
       "\x87"
       "stanbul"),
     8, 9},
    {"dotless i kept",
     S("\xc4"
       "\xb1"),
     S("\xc4"
       "\xb1"),
     1, 1},
    {"sharp s",
     S("Stra\xc3"
       "\x9f"
       "e"),
     S("stra\xc3"
       "\x9f"
       "e"),
     6, 6},
    {"capital sharp s",
     S("\xe1"
       "\xba"
       "\x9e"),
     S("\xc3"
       "\x9f"),
     1, 1},
    {"greek final sigma",
     S("\xce"
       "\x9f"
       "\xce"
       "\x94"
       "\xce"
       "\x9f"
       "\xce"
       "\xa3"),
     S("\xce"
       "\xbf"
       "\xce"
       "\xb4"
       "\xce"
       "\xbf"
       "\xcf"
       "\x82"),
     4, 4},
    {"greek sigma first",
     S("\xce"
       "\xa3"
       "\xce"
       "\x91"),
     S("\xcf"
       "\x83"
       "\xce"
       "\xb1"),
     2, 2},
    {"sigma alone",
     S("\xce"
       "\xa3"),
     S("\xcf"
       "\x83"),
     1, 1},
    {"sigma before space",
     S("\xce"
       "\x91"
       "\xce"
       "\xa3"
       " \xce"
       "\x92"),
     S("\xce"
       "\xb1"
       "\xcf"
       "\x82"
       " \xce"
       "\xb2"),
     4, 4},
    {"sigma apostrophe",
     S("A\xce"
       "\xa3"
       "'B"),
     S("a\xcf"
       "\x83"
       "'b"),
     4, 4},
    {"sigma hyphen",
     S("A\xce"
       "\xa3"
       "-b"),
     S("a\xcf"
       "\x83"
       "-b"),
     4, 4},
    {"sigma colon",
     S("x:\xce"
       "\xa3"),
     S("x:\xcf"
       "\x83"),
     3, 3},
    {"sigma emoji",
     S("A\xce"
       "\xa3"
       "\xf0"
       "\x9f"
       "\x98"
       "\x80"),
     S("a\xcf"
       "\x82"
       "\xf0"
       "\x9f"
       "\x98"
       "\x80"),
     4, 4},
    {"sigma digit letter",
     S("A\xce"
       "\xa3"
       "_1b"),
     S("a\xcf"
       "\x82"
       "_1b"),
     5, 5},
    {"sigma mark",
     S("A\xce"
       "\xa3"
       "\xcc"
       "\x88"),
     S("a\xcf"
       "\x82"
       "\xcc"
       "\x88"),
     3, 3},
    {"cyrillic",
     S("\xd0"
       "\x9c"
       "\xd0"
       "\x9e"
       "\xd0"
       "\xa1"
       "\xd0"
       "\x9a"
       "\xd0"
       "\x92"
       "\xd0"
       "\x90"),
     S("\xd0"
       "\xbc"
       "\xd0"
       "\xbe"
       "\xd1"
       "\x81"
       "\xd0"
       "\xba"
       "\xd0"
       "\xb2"
       "\xd0"
       "\xb0"),
     6, 6},
    {"cjk",
     S("\xe6"
       "\x9d"
       "\xb1"
       "\xe4"
       "\xba"
       "\xac"),
     S("\xe6"
       "\x9d"
       "\xb1"
       "\xe4"
       "\xba"
       "\xac"),
     2, 2},
    {"emoji",
     S("\xf0"
       "\x9f"
       "\x8e"
       "\x89"
       "Party"),
     S("\xf0"
       "\x9f"
       "\x8e"
       "\x89"
       "party"),
     7, 7},
    {"supplementary upper",
     S("\xf0"
       "\x90"
       "\x90"
       "\x80"),
     S("\xf0"
       "\x90"
       "\x90"
       "\xa8"),
     2, 2},
    {"math bold kept",
     S("\xf0"
       "\x9d"
       "\x90"
       "\x80"),
     S("\xf0"
       "\x9d"
       "\x90"
       "\x80"),
     2, 2},
    {"titlecase",
     S("\xc7"
       "\x85"),
     S("\xc7"
       "\x86"),
     1, 1},
    {"roman numeral",
     S("\xe2"
       "\x85"
       "\xab"),
     S("\xe2"
       "\x85"
       "\xbb"),
     1, 1},
    {"circled",
     S("\xe2"
       "\x92"
       "\xb6"),
     S("\xe2"
       "\x93"
       "\x90"),
     1, 1},
    {"cherokee",
     S("\xe1"
       "\x8e"
       "\xa0"),
     S("\xea"
       "\xad"
       "\xb0"),
     1, 1},
    {"fullwidth",
     S("\xef"
       "\xbc"
       "\xa1"
       "\xef"
       "\xbc"
       "\xa2"),
     S("\xef"
       "\xbd"
       "\x81"
       "\xef"
       "\xbd"
       "\x82"),
     2, 2},
    {"only spaces", S(" "), S(""), 1, 0},
    {"only controls",
     S("\x09"
       "\x0a"
       "\x0d"),
     S(""), 3, 0},
    {"empty", S(""), S(""), 0, 0},
    {"one char", S("a"), S("a"), 1, 1},
    {"two chars", S("ab"), S("ab"), 2, 2},
    {"nbsp not trimmed",
     S("\xc2"
       "\xa0"
       "x\xc2"
       "\xa0"),
     S("\xc2"
       "\xa0"
       "x\xc2"
       "\xa0"),
     3, 3},
    {"armenian",
     S("\xd4"
       "\xb1"
       "\xd4"
       "\xb2"),
     S("\xd5"
       "\xa1"
       "\xd5"
       "\xa2"),
     2, 2},
    {"georgian mtavruli",
     S("\xe1"
       "\xb2"
       "\x90"),
     S("\xe1"
       "\x83"
       "\x90"),
     1, 1},
    {"hashtag typical", S("#MondayMotivation"), S("#mondaymotivation"), 17, 17},
    {"digits", S("2026"), S("2026"), 4, 4},
};

ParameterizedTestParameters(tag, normalize_like_java)
{
    return ts_test_indices(sizeof(tag_cases) / sizeof(tag_cases[0]));
}

ParameterizedTest(size_t *i, tag, normalize_like_java)
{
    const struct tag_case *c = &tag_cases[*i];
    char out[256];
    size_t len = 0;

    cr_assert_eq(ts_tag_normalize(c->in, c->in_len, out, sizeof(out), &len), TS_OK, "%s", c->name);
    cr_expect_eq(len, c->out_len, "%s: length %zu, want %zu", c->name, len, c->out_len);
    cr_expect(len == c->out_len && memcmp(out, c->out, len) == 0, "%s: bytes differ", c->name);
    cr_expect_eq(ts_utf16_length(c->in, c->in_len), c->in_utf16, "%s: input UTF-16 length",
                 c->name);
    cr_expect_eq(ts_utf16_length(out, len), c->out_utf16, "%s: output UTF-16 length", c->name);
}

Test(tag, rejects_invalid_utf8)
{
    static const struct {
        const char *s;
        size_t n;
    } bad[] = {
        {S("\xff")},             /* never valid */
        {S("abc\xc3")},          /* truncated 2-byte sequence */
        {S("\xc0\xaf")},         /* overlong '/' */
        {S("\xe0\x80\xaf")},     /* overlong, 3 bytes */
        {S("\xed\xa0\x80")},     /* UTF-16 surrogate D800 */
        {S("\xf4\x90\x80\x80")}, /* past U+10FFFF */
        {S("\x80")},             /* lone continuation byte */
        {S("\xce\xa3\xff")},     /* invalid after a sigma (the slow path) */
    };
    char out[64];
    size_t len;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_eq(ts_tag_normalize(bad[i].s, bad[i].n, out, sizeof(out), &len), TS_ERR_INVALID,
                     "case %zu", i);
        cr_expect_not(ts_utf8_valid(bad[i].s, bad[i].n), "case %zu", i);
    }
}

Test(tag, refuses_small_output_buffer)
{
    char out[4];
    size_t len;

    cr_expect_eq(ts_tag_normalize("ABCDEF", 6, out, sizeof(out), &len), TS_ERR_NOMEM);
}

Test(tag, long_value_with_sigma)
{
    /* The final-sigma path allocates scratch space: exercise it on a value far
     * longer than any stack buffer, sigma last. */
    size_t n = 3 * 10000 + 2, len;
    char *in = malloc(n), *out = malloc(ts_tag_normalize_cap(n));

    cr_assert(in && out);
    for (size_t i = 0; i < 10000; i++)
        memcpy(in + 3 * i, "AB ", 3);
    memcpy(in + n - 2, "\xce\xa3", 2); /* "... AB Σ": after a space, so not final */
    cr_assert_eq(ts_tag_normalize(in, n, out, ts_tag_normalize_cap(n), &len), TS_OK);
    cr_expect_eq(len, n);
    cr_expect(memcmp(out + len - 2, "\xcf\x83", 2) == 0, "sigma after a space is not final");
    memcpy(in + n - 3, "B", 1); /* "...ABBΣ": a cased letter in the same word */
    cr_assert_eq(ts_tag_normalize(in, n, out, ts_tag_normalize_cap(n), &len), TS_OK);
    cr_expect(memcmp(out + len - 2, "\xcf\x82", 2) == 0, "sigma ending a word is final");
    free(in);
    free(out);
}

Test(tag, trim_is_java_trim)
{
    size_t s, e;

    ts_tag_trim(" \t a b \x01", 8, &s, &e);
    cr_expect_eq(s, 3);
    cr_expect_eq(e, 6);
    ts_tag_trim("   ", 3, &s, &e);
    cr_expect_eq(e - s, 0);
}

/*
 * A value full of capital sigmas: every one of them needs its context.
 * Normalization decides them all from one segmentation, so a 1 MiB value
 * takes milliseconds (judging each sigma on its own took time quadratic in
 * their number: tens of minutes for this test, far past its timeout).
 */
Test(tag, megabyte_of_sigmas)
{
    size_t n = (size_t)1 << 20, len;
    char *in = malloc(n), *out = malloc(ts_tag_normalize_cap(n));

    cr_assert(in && out);
    for (size_t i = 0; i < n; i += 2)
        memcpy(in + i, "\xce\xa3", 2);
    cr_assert_eq(ts_tag_normalize(in, n, out, ts_tag_normalize_cap(n), &len), TS_OK);
    cr_assert_eq(len, n);
    /* One word: only the last sigma ends it. */
    for (size_t i = 0; i + 2 < n; i += 2)
        cr_assert(memcmp(out + i, "\xcf\x83", 2) == 0, "sigma at byte %zu is not final", i);
    cr_expect(memcmp(out + n - 2, "\xcf\x82", 2) == 0, "the last sigma is final");
    free(in);
    free(out);
}

Test(tag, many_words_with_sigmas)
{
    /* "ΑΣ ΣΑ ΑΣΑ " many times: final at the end of a word only. */
    static const char word_in[] = "\xce\x91\xce\xa3 \xce\xa3\xce\x91 \xce\x91\xce\xa3\xce\x91 ";
    static const char word_out[] = "\xce\xb1\xcf\x82 \xcf\x83\xce\xb1 \xce\xb1\xcf\x83\xce\xb1 ";
    size_t w = sizeof(word_in) - 1, reps = 50000, n = w * reps, len;
    char *in = malloc(n), *out = malloc(ts_tag_normalize_cap(n));

    cr_assert(in && out);
    cr_assert_eq(sizeof(word_out) - 1, w);
    for (size_t i = 0; i < reps; i++)
        memcpy(in + i * w, word_in, w);
    cr_assert_eq(ts_tag_normalize(in, n, out, ts_tag_normalize_cap(n), &len), TS_OK);
    cr_assert_eq(len, n - 1, "the trailing space is trimmed");
    for (size_t i = 0; i + 1 < reps; i++)
        cr_assert(memcmp(out + i * w, word_out, w) == 0, "words %zu differ", i);
    free(in);
    free(out);
}
