#include "ts_tag.h"
#include "ts_utf8.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/*
 * Character classes of Java's legacy word BreakIterator (the rule set behind
 * BreakIterator.getWordInstance(), which String.toLowerCase consults for the
 * final-sigma condition). Measured against the JDK; see tests/conformance.
 * A code point may be in several classes ('.' is mid-word, mid-number and
 * pre-number), hence a bit set.
 */
enum {
    WB_SUPP = 1 << 14,   /* above U+FFFF: a surrogate pair in Java's UTF-16 */
    WB_LET = 1 << 0,     /* letters (L*) and spacing marks (Mc), not CJK */
    WB_DGT = 1 << 1,     /* numbers (N*) */
    WB_MIDW = 1 << 2,    /* joins two letter runs: Pd, Pc, U+00AD, U+2027, " ' . */
    WB_MIDNUM = 1 << 3,  /* joins two digit runs: " ' , . U+066B */
    WB_PRENUM = 1 << 4,  /* may start a number: Sc, # . ^ U+00A2 */
    WB_POSTNUM = 1 << 5, /* may end a number: % & U+00A2 U+066A U+2030 U+2031 */
    WB_DANDA = 1 << 6,   /* U+0964, U+0965 may end a word */
    WB_KATA = 1 << 7,
    WB_HIRA = 1 << 8,
    WB_KANJI = 1 << 9,
    WB_WS = 1 << 10, /* Zs and tab */
    WB_CR = 1 << 11,
    WB_LS = 1 << 12,        /* \n \f U+2028 U+2029 */
    WB_IGNORE = 1 << 13,    /* Mn, Me, Cf: transparent, never start a segment */
    WB_GAP_AFTER = 1 << 15, /* (segmenter) transparent code points follow */
    WB_CASED = 1 << 16,     /* cased in Java's sense (ts_java_is_cased) */
    WB_FORMAT = 1 << 17,    /* Cf: transparent, and no gap after mid-word punctuation */
};

static unsigned ts_wb_class(uint32_t cp, utf8proc_category_t cat)
{
    unsigned c = 0;

    if (cp > 0xffff)
        c |= WB_SUPP;
    if ((cp >= 0x4e00 && cp <= 0x9fa5) || (cp >= 0xf900 && cp <= 0xfa2d) || cp == 0x3005)
        c |= WB_KANJI;
    if ((cp >= 0x3099 && cp <= 0x309c) || (cp >= 0x30a1 && cp <= 0x30fe))
        c |= WB_KATA;
    if ((cp >= 0x3041 && cp <= 0x309e) || cp == 0x30fc)
        c |= WB_HIRA;
    switch (cat) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MC:
        if (!(c & (WB_KANJI | WB_KATA | WB_HIRA)))
            c |= WB_LET;
        break;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        c |= WB_DGT;
        break;
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PC:
        c |= WB_MIDW;
        break;
    case UTF8PROC_CATEGORY_SC:
        c |= WB_PRENUM;
        break;
    case UTF8PROC_CATEGORY_ZS:
        c |= WB_WS;
        break;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_ME:
        c |= WB_IGNORE;
        break;
    case UTF8PROC_CATEGORY_CF:
        if (cp != 0x00ad)
            c |= WB_IGNORE | WB_FORMAT;
        break;
    default:
        break;
    }
    switch (cp) {
    case 0x00ad:
    case 0x2027:
        c |= WB_MIDW;
        break;
    case '"':
    case '\'':
    case '.':
        c |= WB_MIDW | WB_MIDNUM;
        if (cp == '.')
            c |= WB_PRENUM;
        break;
    case ',':
    case 0x066b:
        c |= WB_MIDNUM;
        break;
    case '#':
    case '^':
        c |= WB_PRENUM;
        break;
    case 0x00a2:
        c |= WB_PRENUM | WB_POSTNUM;
        break;
    case '%':
    case '&':
    case 0x066a:
    case 0x2030:
    case 0x2031:
        c |= WB_POSTNUM;
        break;
    case 0x0964:
    case 0x0965:
        c |= WB_DANDA;
        break;
    case '\t':
        c |= WB_WS;
        break;
    case '\r':
        c |= WB_CR;
        break;
    case '\n':
    case '\f':
    case 0x2028:
    case 0x2029:
        c |= WB_LS;
        break;
    default:
        break;
    }
    return c;
}

/* Java's ConditionalSpecialCasing.isCased: Lu, Ll, Lt and the Other_Lowercase /
 * Other_Uppercase ranges Java lists by hand. */
static int ts_java_is_cased(uint32_t cp, utf8proc_category_t cat)
{
    if (cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT)
        return 1;
    return (cp >= 0x02b0 && cp <= 0x02b8) || (cp >= 0x02c0 && cp <= 0x02c1) ||
           (cp >= 0x02e0 && cp <= 0x02e4) || cp == 0x0345 || cp == 0x037a ||
           (cp >= 0x1d2c && cp <= 0x1d61) || (cp >= 0x2160 && cp <= 0x217f) ||
           (cp >= 0x24b6 && cp <= 0x24e9);
}

/* ts_wb_class and ts_java_is_cased of every BMP code point, computed once:
 * one load instead of two property look-ups per code point. */
static uint32_t ts_bmp_class[0x10000];
static pthread_once_t ts_bmp_class_once = PTHREAD_ONCE_INIT;

/* ts_wb_class and ts_java_is_cased from one property look-up. */
static unsigned ts_cp_class_of(uint32_t cp)
{
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)cp);

    return ts_wb_class(cp, cat) | (ts_java_is_cased(cp, cat) ? WB_CASED : 0);
}

static void ts_bmp_class_init(void)
{
    for (uint32_t cp = 0; cp < 0x10000; cp++)
        ts_bmp_class[cp] = ts_cp_class_of(cp);
}

static unsigned ts_cp_class(uint32_t cp)
{
    if (cp < 0x10000)
        return ts_bmp_class[cp];
    return ts_cp_class_of(cp);
}

/*
 * The segmenter works on the code points with the transparent (ignore) ones
 * left out: `cls` holds the classes of those code points, in order.
 */
struct ts_wb {
    const uint16_t *cls;
    const uint32_t *orig; /* index in the full text of each entry */
    size_t n;
    /* Entries at or after `lim` are out of reach of the rule being matched:
     * a segment never runs past a supplementary code point (see ts_wb_match),
     * and stopping the scans there keeps segmentation linear. */
    size_t lim;
};

/* 1 if the segment holding entry i must end right after it. */
static int ts_wb_supp_ends(const struct ts_wb *w, size_t i)
{
    return (w->cls[i] & WB_SUPP) && w->orig[i] > 0;
}

/* 1 if a segment ending with entry i leaves the transparent code points
 * after it to the next segment: after a supplementary code point and after
 * a danda, the JDK's segmenter stops without taking them in. */
static int ts_wb_ends_tight(const struct ts_wb *w, size_t i)
{
    return ts_wb_supp_ends(w, i) || (w->cls[i] & WB_DANDA);
}

static int ts_wb_is(const struct ts_wb *w, size_t i, unsigned bits)
{
    return i < w->lim && (w->cls[i] & bits);
}

/* ts_wb_is for the one entry of look-ahead a mid-word or mid-number rule
 * needs: it may look past `lim` (the match is cut at `lim` afterwards). */
static int ts_wb_peek(const struct ts_wb *w, size_t i, unsigned bits)
{
    return i < w->n && (w->cls[i] & bits);
}

/* $word = $let+ ($mid_word $let+)* $danda? ; returns the end (== p: none). */
static size_t ts_wb_word(const struct ts_wb *w, size_t p)
{
    size_t i = p;

    if (!ts_wb_is(w, i, WB_LET))
        return p;
    while (ts_wb_is(w, i, WB_LET))
        i++;
    while (ts_wb_is(w, i, WB_MIDW) && !ts_wb_is(w, i, WB_GAP_AFTER) &&
           ts_wb_peek(w, i + 1, WB_LET)) {
        i++;
        while (ts_wb_is(w, i, WB_LET))
            i++;
    }
    if (ts_wb_is(w, i, WB_DANDA))
        i++;
    return i;
}

/* $number = $dgt+ ($mid_num $dgt+)* */
static size_t ts_wb_number(const struct ts_wb *w, size_t p)
{
    size_t i = p;

    if (!ts_wb_is(w, i, WB_DGT))
        return p;
    while (ts_wb_is(w, i, WB_DGT))
        i++;
    while (ts_wb_is(w, i, WB_MIDNUM) && !ts_wb_is(w, i, WB_GAP_AFTER) &&
           ts_wb_peek(w, i + 1, WB_DGT)) {
        i++;
        while (ts_wb_is(w, i, WB_DGT))
            i++;
    }
    return i;
}

/* ($number $word)* {$number {$post_num}} from p. */
static size_t ts_wb_numbers_words(const struct ts_wb *w, size_t p)
{
    size_t n, m;

    for (;;) {
        n = ts_wb_number(w, p);
        if (n == p)
            return p;
        m = ts_wb_word(w, n);
        if (m == n) {
            /* a trailing number, optionally with a post-number sign */
            return ts_wb_is(w, n, WB_POSTNUM) ? n + 1 : n;
        }
        p = m;
    }
}

static size_t ts_wb_run(const struct ts_wb *w, size_t p, unsigned bits)
{
    while (ts_wb_is(w, p, bits))
        p++;
    return p;
}

/*
 * Length of the longest rule match at p (always >= 1, rule "." matches one),
 * cut at w->lim. The work is proportional to the length returned.
 */
static size_t ts_wb_match(const struct ts_wb *w, size_t p)
{
    size_t best = p + 1, e;

    e = ts_wb_numbers_words(w, ts_wb_word(w, p));
    if (e > best)
        best = e;
    /* Marks after a pre-number sign keep it from joining the number, as
     * after mid-word punctuation (measured). */
    if (ts_wb_is(w, p, WB_PRENUM) && !ts_wb_is(w, p, WB_GAP_AFTER)) {
        e = ts_wb_numbers_words(w, p + 1);
        if (e > best)
            best = e;
    }
    e = ts_wb_run(w, p, WB_WS);
    if (ts_wb_is(w, e, WB_CR))
        e++;
    if (ts_wb_is(w, e, WB_LS))
        e++;
    if (e > best)
        best = e;
    e = ts_wb_run(w, p, WB_KATA);
    if (e > best)
        best = e;
    e = ts_wb_run(w, p, WB_HIRA);
    if (e > best)
        best = e;
    e = ts_wb_run(w, p, WB_KANJI);
    if (e > best)
        best = e;
    return (best < w->lim ? best : w->lim) - p;
}

/*
 * Java's Final_Cased condition (ConditionalSpecialCasing.isFinalCased) for
 * every U+03A3 of cps[0..n), in one pass: a capital sigma lower-cases to a
 * final sigma when, within the word-break segment containing it, a cased
 * code point comes before it and none after it. Sets fin[i] to 1 for those,
 * 0 for every other i. Returns TS_ERR_NOMEM if scratch allocation failed.
 */
static ts_err ts_final_sigmas(const uint32_t *cps, size_t n, unsigned char *fin)
{
    uint16_t *cls;
    uint32_t *orig; /* index in cps of each non-ignored code point */
    size_t k = 0, i, p, s, e, q, j, first, last;
    struct ts_wb w;
    int tight;

    /* The segmenter's classes fit in 16 bits, code point indexes in 32. */
    if (n > UINT32_MAX)
        return TS_ERR_NOMEM;
    cls = malloc((n ? n : 1) * sizeof(*cls));
    orig = malloc((n ? n : 1) * sizeof(*orig));
    if (!cls || !orig) {
        free(cls);
        free(orig);
        return TS_ERR_NOMEM;
    }
    pthread_once(&ts_bmp_class_once, ts_bmp_class_init);
    /* fin[i] first says whether code point i is cased. */
    for (i = 0; i < n; i++) {
        unsigned c = ts_cp_class(cps[i]);
        fin[i] = (c & WB_CASED) != 0;
        if ((c & WB_IGNORE) && k > 0) {
            if (!(c & WB_FORMAT) &&
                ((cls[k - 1] & WB_DANDA) || ((cls[k - 1] & WB_SUPP) && orig[k - 1] > 0) ||
                 ((cls[k - 1] & WB_POSTNUM) && k > 1 && (cls[k - 2] & WB_DGT)))) {
                /* After a code point that ends its segment right away (a
                 * danda, a supplementary code point, a number's post-number
                 * sign), a mark starts the next segment in that code
                 * point's class (measured; a supplementary code point's
                 * class without its surrogate pair). A format character
                 * stays transparent. */
                cls[k] = (uint16_t)(cls[k - 1] & ~(unsigned)(WB_SUPP | WB_GAP_AFTER));
                orig[k] = (uint32_t)i;
                k++;
                continue;
            }
            /* Otherwise it belongs to the segment before it. Marks (not
             * format characters) after mid-word or mid-number punctuation
             * keep it from joining two runs. */
            if (!(c & WB_FORMAT))
                cls[k - 1] |= WB_GAP_AFTER;
            continue;
        }
        /* At the very start of the text there is no segment before: a
         * transparent code point stands on its own. */
        c &= ~(unsigned)(WB_CASED | WB_FORMAT);
        cls[k] = (uint16_t)(c & ~(unsigned)WB_IGNORE);
        orig[k] = (uint32_t)i;
        k++;
    }
    w.cls = cls;
    w.orig = orig;
    w.n = k;
    /* Segment from the start. Transparent code points belong to the segment
     * before them, except where ts_wb_ends_tight says otherwise. j is the
     * first entry at or after p that ends a segment by itself. */
    for (p = 0, s = 0, j = 0; p < k; p = q, s = e) {
        while (j < k && (j < p || !ts_wb_supp_ends(&w, j)))
            j++;
        w.lim = j < k ? j + 1 : k;
        q = p + ts_wb_match(&w, p);
        /* A number's post-number sign also ends its segment tight. */
        tight = ts_wb_ends_tight(&w, q - 1) ||
                (q - 1 > p && (cls[q - 1] & WB_POSTNUM) && (cls[q - 2] & WB_DGT));
        e = tight ? orig[q - 1] + 1 : (q < k ? orig[q] : n);
        /* In [s, e): a sigma is final if the first cased code point comes
         * before it and it is the last one (a capital sigma is cased). */
        first = last = e;
        for (i = s; i < e; i++) {
            if (fin[i]) {
                if (first == e)
                    first = i;
                last = i;
            }
        }
        memset(fin + s, 0, e - s);
        if (first < last && cps[last] == 0x03a3)
            fin[last] = 1;
    }
    /* Transparent code points after the last segment hold no sigma. */
    memset(fin + s, 0, n - s);
    free(cls);
    free(orig);
    return TS_OK;
}

/* Decode in[0..n) into a fresh array; TS_ERR_INVALID if it is not valid
 * UTF-8, TS_ERR_NOMEM. */
static ts_err ts_decode_all(const char *in, size_t n, uint32_t **cpsp, size_t *countp)
{
    uint32_t *cps = malloc((n ? n : 1) * sizeof(*cps));
    size_t i = 0, k = 0, l;

    if (!cps)
        return TS_ERR_NOMEM;
    while (i < n) {
        l = ts_utf8_decode(in + i, n - i, &cps[k]);
        if (l == 0) {
            free(cps);
            return TS_ERR_INVALID;
        }
        i += l;
        k++;
    }
    *cpsp = cps;
    *countp = k;
    return TS_OK;
}

/* Java's lower case of cp into out (up to 4 + 1 bytes); `final` says
 * whether a U+03A3 here is a final sigma. Returns the bytes written. */
static size_t ts_tag_lower(uint32_t cp, int final, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)((cp >= 'A' && cp <= 'Z') ? cp + 32 : cp);
        return 1;
    }
    if (cp == 0x0130) {
        /* LATIN CAPITAL LETTER I WITH DOT ABOVE: "i" + COMBINING DOT ABOVE */
        out[0] = 'i';
        return 1 + ts_utf8_encode(0x0307, out + 1);
    }
    if (cp == 0x03a3)
        return ts_utf8_encode(final ? 0x03c2 : 0x03c3, out);
    return ts_utf8_encode((uint32_t)utf8proc_tolower((utf8proc_int32_t)cp), out);
}

void ts_tag_trim(const char *p, size_t n, size_t *start, size_t *end)
{
    size_t s = 0, e = n;

    while (s < e && (unsigned char)p[s] <= 0x20)
        s++;
    while (e > s && (unsigned char)p[e - 1] <= 0x20)
        e--;
    *start = s;
    *end = e;
}

ts_err ts_tag_normalize(const char *in, size_t n, char *out, size_t cap, size_t *outlen)
{
    uint32_t *cps = NULL, cp;
    unsigned char *fin = NULL;
    size_t i = 0, cpi = 0, o = 0, l, ncps = 0, s, e;
    ts_err err;

    if (cap < ts_tag_normalize_cap(n))
        return TS_ERR_NOMEM;
    while (i < n) {
        l = ts_utf8_decode(in + i, n - i, &cp);
        if (l == 0)
            return TS_ERR_INVALID;
        if (cp == 0x03a3)
            break;
        o += ts_tag_lower(cp, 0, out + o);
        i += l;
        cpi++;
    }
    if (i < n) {
        /* A capital sigma: its context decides, so decide for every sigma
         * of the value at once, from one segmentation of the whole value,
         * and lower-case the rest from the decoded code points. */
        err = ts_decode_all(in, n, &cps, &ncps);
        if (err)
            return err;
        fin = malloc(ncps);
        if (!fin) {
            err = TS_ERR_NOMEM;
            goto out;
        }
        err = ts_final_sigmas(cps, ncps, fin);
        if (err)
            goto out;
        for (; cpi < ncps; cpi++)
            o += ts_tag_lower(cps[cpi], fin[cpi], out + o);
    }
    ts_tag_trim(out, o, &s, &e);
    if (s > 0)
        memmove(out, out + s, e - s);
    *outlen = e - s;
    err = TS_OK;
out:
    free(fin);
    free(cps);
    return err;
}
