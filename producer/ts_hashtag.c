#include "ts_hashtag.h"
#include "ts_utf8.h"

#include <stdint.h>
#include <string.h>
#include <utf8proc.h>

enum {
    CH_LETTER = 1 << 0,
    CH_MARK = 1 << 1,
    CH_DIGIT = 1 << 2,   /* Nd */
    CH_NUMBER = 1 << 3,  /* Nl, No */
    CH_CONNECT = 1 << 4, /* Pc, underscore included */
};

static unsigned ts_hashtag_class(uint32_t cp)
{
    if (cp < 0x80) {
        /* the common case, without a table lookup */
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z')
            return CH_LETTER;
        if (cp >= '0' && cp <= '9')
            return CH_DIGIT;
        return cp == '_' ? CH_CONNECT : 0;
    }
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
        return CH_LETTER;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
        return CH_MARK;
    case UTF8PROC_CATEGORY_ND:
        return CH_DIGIT;
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return CH_NUMBER;
    case UTF8PROC_CATEGORY_PC:
        return CH_CONNECT;
    default:
        return 0;
    }
}

/* Decode at p; an invalid byte decodes as U+FFFD of length 1. */
static size_t ts_hashtag_next(const char *p, size_t n, uint32_t *cp)
{
    size_t l = ts_utf8_decode(p, n, cp);

    if (l == 0) {
        *cp = 0xfffd;
        return 1;
    }
    return l;
}

/* twitter-text's hashtag_alphanumeric, beyond letters, marks, digits and _ */
static int ts_hashtag_x_extra(uint32_t cp)
{
    switch (cp) {
    case 0x200c:
    case 0x200d:
    case 0xa67e:
    case 0x05be:
    case 0x05f3:
    case 0x05f4:
    case 0xff5e:
    case 0x301c:
    case 0x309b:
    case 0x309c:
    case 0x30a0:
    case 0x30fb:
    case 0x3003:
    case 0x0f0b:
    case 0x0f0c:
    case 0x00b7:
        return 1;
    default:
        return 0;
    }
}

static int ts_hashtag_x_alnum(uint32_t cp)
{
    return cp == '_' || (ts_hashtag_class(cp) & (CH_LETTER | CH_MARK | CH_DIGIT)) ||
           ts_hashtag_x_extra(cp);
}

static int ts_hashtag_masto_sep(uint32_t cp)
{
    return cp == 0x00b7 || cp == 0x30fb || cp == 0x200c;
}

static int ts_hashtag_masto_word(uint32_t cp)
{
    return (ts_hashtag_class(cp) & (CH_LETTER | CH_MARK | CH_DIGIT | CH_CONNECT)) != 0;
}

/* May a tag start after a code point `prev` (0 at the start of the text)? */
static int ts_hashtag_boundary(uint32_t prev, ts_hashtag_rules rules)
{
    if (prev == 0)
        return 1;
    if (rules == TS_HASHTAG_MASTODON)
        return !(prev == '=' || prev == '/' || prev == ')' ||
                 (ts_hashtag_class(prev) & (CH_LETTER | CH_MARK | CH_DIGIT | CH_NUMBER)));
    if (prev == 0xfe0e || prev == 0xfe0f)
        return 1;
    return prev != '&' && !ts_hashtag_x_alnum(prev);
}

/*
 * At p (just after the sign), measure the tag: returns its length in bytes,
 * 0 if there is none; *last gets its last code point.
 */
static size_t ts_hashtag_measure(const char *p, size_t n, ts_hashtag_rules rules, uint32_t *last)
{
    size_t i = 0, end = 0;
    int alpha = 0;
    uint32_t cp;

    while (i < n) {
        size_t l = ts_hashtag_next(p + i, n - i, &cp);
        if (rules == TS_HASHTAG_X) {
            if (!ts_hashtag_x_alnum(cp))
                break;
            i += l;
            end = i;
            *last = cp;
        } else {
            if (ts_hashtag_masto_sep(cp)) {
                i += l; /* a separator may not end the tag: end stays */
                continue;
            }
            if (!ts_hashtag_masto_word(cp))
                break;
            i += l;
            end = i;
            *last = cp;
        }
        if (ts_hashtag_class(cp) & (CH_LETTER | CH_MARK))
            alpha = 1;
    }
    return alpha ? end : 0;
}

/* ---- Bluesky ---- */

/* JavaScript's \s: Unicode White_Space but U+0085, and U+FEFF. */
static int ts_hashtag_bsky_space(uint32_t cp)
{
    if (cp < 0x80)
        return cp == ' ' || (cp >= '\t' && cp <= '\r');
    if (cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
        cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000 || cp == 0xfeff)
        return 1;
    return 0;
}

/* Where a tag ends: white space and the invisible separators. */
static int ts_hashtag_bsky_stop(uint32_t cp)
{
    return ts_hashtag_bsky_space(cp) || cp == 0x00ad || cp == 0x2060 ||
           (cp >= 0x200a && cp <= 0x200d) || cp == 0x20e2;
}

static int ts_hashtag_bsky_punct(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= '!' && cp <= '/' && cp != '$' && cp != '+') ||
               (cp >= ':' && cp <= '@' && cp != '<' && cp != '=' && cp != '>') ||
               (cp >= '[' && cp <= '_' && cp != '^') || cp == '{' || cp == '}';
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return 1;
    default:
        return 0;
    }
}

#define TS_HASHTAG_BSKY_MAX_UTF16 64

static size_t ts_hashtag_bluesky(const char *p, size_t n, ts_hashtag_fn *cb, void *opaque)
{
    size_t i = 0, found = 0;
    uint32_t prev = 0, cp;

    while (i < n) {
        size_t l = ts_hashtag_next(p + i, n - i, &cp), t, end, units = 0;
        int sign = cp == '#' || cp == 0xff03, solid = 0;

        if (!sign || (prev != 0 && !ts_hashtag_bsky_space(prev))) {
            prev = cp;
            i += l;
            continue;
        }
        t = end = i + l;
        /* the run, and where it ends once trailing punctuation is removed */
        for (size_t j = t; j < n;) {
            uint32_t c;
            size_t cl = ts_hashtag_next(p + j, n - j, &c);
            if (ts_hashtag_bsky_stop(c) || (j == t && c == 0xfe0f))
                break;
            j += cl;
            if (!ts_hashtag_bsky_punct(c)) {
                end = j;
                if (!(c >= '0' && c <= '9'))
                    solid = 1;
            }
        }
        for (size_t j = t; j < end;) {
            uint32_t c;
            j += ts_hashtag_next(p + j, end - j, &c);
            units += c > 0xffff ? 2 : 1;
        }
        if (solid && units <= TS_HASHTAG_BSKY_MAX_UTF16) {
            found++;
            if (cb(opaque, p + t, end - t))
                return found;
        }
        /* the next tag needs white space before it: skip the run */
        prev = cp;
        i = t;
        while (i < n) {
            size_t cl = ts_hashtag_next(p + i, n - i, &cp);
            if (ts_hashtag_bsky_stop(cp))
                break;
            prev = cp;
            i += cl;
        }
    }
    return found;
}

size_t ts_hashtag_extract(const char *p, size_t n, ts_hashtag_rules rules, ts_hashtag_fn *cb,
                          void *opaque)
{
    size_t i = 0, found = 0;
    uint32_t prev = 0, cp, last = 0;

    if (rules == TS_HASHTAG_BLUESKY)
        return ts_hashtag_bluesky(p, n, cb, opaque);
    while (i < n) {
        size_t l = ts_hashtag_next(p + i, n - i, &cp), tl;
        int sign = cp == '#' || (cp == 0xff03 && rules == TS_HASHTAG_X);

        if (!sign || !ts_hashtag_boundary(prev, rules)) {
            prev = cp;
            i += l;
            continue;
        }
        if (rules == TS_HASHTAG_X && i + l < n) {
            uint32_t next;
            ts_hashtag_next(p + i + l, n - i - l, &next);
            if (next == 0xfe0f || next == 0x20e3) {
                prev = cp;
                i += l;
                continue;
            }
        }
        tl = ts_hashtag_measure(p + i + l, n - i - l, rules, &last);
        if (tl == 0) {
            prev = cp;
            i += l;
            continue;
        }
        {
            const char *tag = p + i + l, *after = tag + tl;
            size_t rest = n - (size_t)(after - p);
            int valid = 1;
            if (rules == TS_HASHTAG_X && rest > 0) {
                uint32_t next;
                ts_hashtag_next(after, rest, &next);
                if (next == '#' || next == 0xff03 || (rest >= 3 && !memcmp(after, "://", 3)))
                    valid = 0;
            }
            if (valid) {
                found++;
                if (cb(opaque, tag, tl))
                    return found;
            }
            /* go on after the tag */
            i = (size_t)(after - p);
            prev = last;
        }
    }
    return found;
}
