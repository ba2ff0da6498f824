/*
 * The drill's input and its expected output, computed here by counting,
 * never by the processor's code: the tags are ASCII names whose normalized
 * form is known by construction, plus a few non-ASCII tags whose Java
 * normalization is written out by hand below.
 */
#include "ts_drill.h"
#include "ts_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS_DRILL_HOT 40

/* Non-ASCII tags: the normalized form, then spellings that normalize to it
 * (Java's toLowerCase(Locale.ROOT), then trim()). */
typedef struct ts_drill_exotic {
    const char *norm;
    const char *spellings[4];
} ts_drill_exotic;

static const ts_drill_exotic ts_drill_exotics[] = {
    /* capital I with dot above lower-cases to i + combining dot above */
    {"i\xcc\x87stanbul",
     {"\xc4\xb0stanbul", "\xc4\xb0STANBUL", "i\xcc\x87stanbul", " \xc4\xb0stanbul\t"}},
    /* capital sigma: final at the end of the word, medial elsewhere */
    {"\xcf\x83\xce\xaf\xcf\x83\xcf\x85\xcf\x86\xce\xbf\xcf\x82",
     {"\xce\xa3\xce\x8a\xce\xa3\xce\xa5\xce\xa6\xce\x9f\xce\xa3",
      "\xce\xa3\xce\xaf\xcf\x83\xcf\x85\xcf\x86\xce\xbf\xcf\x82",
      "\xcf\x83\xce\xaf\xcf\x83\xcf\x85\xcf\x86\xce\xbf\xcf\x82",
      "\n\xce\xa3\xce\x8a\xce\xa3\xce\xa5\xce\xa6\xce\x9f\xce\xa3 "}},
    /* no special casing toward upper case: STRASSE stays strasse */
    {"strasse", {"STRASSE", "Strasse", "strasse", "\tSTRASSE "}},
    /* sharp s has no lower-case change */
    {"stra\xc3\x9f"
     "e",
     {"Stra\xc3\x9f"
      "e",
      "STRA\xc3\x9f"
      "E",
      "stra\xc3\x9f"
      "e",
      " STRA\xc3\x9f"
      "E "}},
};
#define TS_DRILL_NEXOTIC ((int)(sizeof(ts_drill_exotics) / sizeof(ts_drill_exotics[0])))

/* Values the length filter drops: one UTF-16 unit or none once normalized. */
static const char *const ts_drill_junk[] = {"x", " Q ", "\t\t", "7", "\xc3\x84", " "};
#define TS_DRILL_NJUNK ((int)(sizeof(ts_drill_junk) / sizeof(ts_drill_junk[0])))

uint64_t ts_drill_rand(uint64_t *state)
{
    /* splitmix64 */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int64_t ts_drill_rand_range(uint64_t *state, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    return lo + (int64_t)(ts_drill_rand(state) % (uint64_t)(hi - lo + 1));
}

ts_err ts_drill_gen_init(ts_drill_gen *g, const ts_drill_gen_params *p, char *errstr,
                         size_t errstr_size)
{
    uint64_t rng = p->seed * 0x2545f4914f6cdd1dULL + 1;
    int64_t hot;

    memset(g, 0, sizeof(*g));
    g->p = *p;
    g->ntags = p->tags + TS_DRILL_NEXOTIC;
    if (p->records <= 0 || p->partitions <= 0 || p->span <= 0 || p->window_ms <= 0 ||
        g->ntags > INT32_MAX)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "bad generator parameters");
    g->recs = calloc((size_t)p->records, sizeof(*g->recs));
    if (!g->recs)
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory for %lld records",
                         (long long)p->records);
    g->nrecs = p->records;
    hot = p->tags < TS_DRILL_HOT ? p->tags : TS_DRILL_HOT;
    for (int64_t i = 0; i < g->nrecs; i++) {
        ts_drill_rec *r = &g->recs[i];
        uint64_t roll = ts_drill_rand(&rng) % 100;
        /* event time ascending over the span: the feeder can hold back a
         * phase by holding back a range of records */
        r->ts = p->base + (int64_t)((__int128)i * p->span / p->records);
        r->partition = (int32_t)(ts_drill_rand(&rng) % (uint64_t)p->partitions);
        if ((int)roll < p->junk_share) {
            r->tag = -1;
        } else if ((int)(ts_drill_rand(&rng) % 100) < p->hot_share) {
            /* the hot set: the first tags and every non-ASCII one */
            int64_t k = (int64_t)(ts_drill_rand(&rng) % (uint64_t)(hot + TS_DRILL_NEXOTIC));
            r->tag = (int32_t)(k < hot ? k : p->tags + (k - hot));
        } else {
            r->tag = (int32_t)(ts_drill_rand(&rng) % (uint64_t)g->ntags);
        }
    }
    return TS_OK;
}

void ts_drill_gen_free(ts_drill_gen *g)
{
    if (!g)
        return;
    free(g->recs);
    g->recs = NULL;
    g->nrecs = 0;
}

size_t ts_drill_gen_tag(const ts_drill_gen *g, int32_t tag, char *buf, size_t size)
{
    int n;

    if (tag >= g->p.tags)
        n = snprintf(buf, size, "%s", ts_drill_exotics[tag - g->p.tags].norm);
    else
        n = snprintf(buf, size, "tag%ld", (long)tag);
    return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

size_t ts_drill_gen_value(const ts_drill_gen *g, int64_t i, char *buf, size_t size)
{
    uint64_t rng = g->p.seed ^ ((uint64_t)i * 0xd1b54a32d192ed03ULL);
    const ts_drill_rec *r = &g->recs[i];
    size_t n = 0, len;
    uint64_t roll;

    if (size < 64)
        return 0;
    if (r->tag < 0) {
        const char *j = ts_drill_junk[ts_drill_rand(&rng) % TS_DRILL_NJUNK];
        snprintf(buf, size, "%s", j);
        return strlen(buf);
    }
    if (r->tag >= g->p.tags) {
        const ts_drill_exotic *e = &ts_drill_exotics[r->tag - g->p.tags];
        snprintf(buf, size, "%s", e->spellings[ts_drill_rand(&rng) % 4]);
        return strlen(buf);
    }
    /* ASCII: each letter's case at random, sometimes white space around */
    roll = ts_drill_rand(&rng);
    if (roll % 10 == 0)
        buf[n++] = " \t\n"[(roll >> 8) % 3];
    len = ts_drill_gen_tag(g, r->tag, buf + n, size - n - 2);
    for (size_t k = n; k < n + len; k++)
        if (buf[k] >= 'a' && buf[k] <= 'z' && (ts_drill_rand(&rng) & 1))
            buf[k] = (char)(buf[k] - 'a' + 'A');
    n += len;
    if ((roll >> 16) % 10 == 0)
        buf[n++] = " \t\r"[(roll >> 24) % 3];
    buf[n] = '\0';
    return n;
}

static int ts_drill_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

ts_err ts_drill_gen_expected(const ts_drill_gen *g, ts_drill_results *out, char *errstr,
                             size_t errstr_size)
{
    uint64_t *keys = malloc((size_t)(g->nrecs ? g->nrecs : 1) * sizeof(uint64_t));
    size_t n = 0;
    char tag[128];
    ts_err err = TS_OK;

    if (!keys)
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    /* (tag, window) pairs, sorted, counted by runs */
    for (int64_t i = 0; i < g->nrecs; i++) {
        const ts_drill_rec *r = &g->recs[i];
        if (r->tag < 0)
            continue;
        keys[n++] = (uint64_t)r->tag << 32 | (uint64_t)((r->ts - g->p.base) / g->p.window_ms);
    }
    qsort(keys, n, sizeof(uint64_t), ts_drill_u64_cmp);
    for (size_t i = 0; i < n && !err;) {
        size_t j = i;
        while (j < n && keys[j] == keys[i])
            j++;
        if ((int64_t)(j - i) > g->p.min_count) {
            int32_t t = (int32_t)(keys[i] >> 32);
            int64_t w = (int64_t)(keys[i] & 0xffffffffu);
            size_t len = ts_drill_gen_tag(g, t, tag, sizeof(tag));
            err = ts_drill_results_add(out, tag, len, (int64_t)(j - i),
                                       g->p.base + w * g->p.window_ms);
        }
        i = j;
    }
    free(keys);
    if (err)
        return ts_seterr(err, errstr, errstr_size, "out of memory");
    ts_drill_results_sort(out);
    return TS_OK;
}

ts_err ts_drill_results_add(ts_drill_results *r, const char *tag, size_t tag_len, int64_t count,
                            int64_t window_start)
{
    ts_drill_result *v = ts_grow(r->v, r->n, &r->cap, sizeof(*v), 256), *e;

    if (!v)
        return TS_ERR_NOMEM;
    r->v = v;
    e = &r->v[r->n];
    e->tag = malloc(tag_len + 1);
    if (!e->tag)
        return TS_ERR_NOMEM;
    memcpy(e->tag, tag, tag_len);
    e->tag[tag_len] = '\0';
    e->tag_len = tag_len;
    e->count = count;
    e->window_start = window_start;
    r->n++;
    return TS_OK;
}

static int ts_drill_result_cmp(const void *a, const void *b)
{
    const ts_drill_result *x = a, *y = b;

    if (x->window_start != y->window_start)
        return x->window_start < y->window_start ? -1 : 1;
    return ts_bytes_cmp(x->tag, x->tag_len, y->tag, y->tag_len);
}

void ts_drill_results_sort(ts_drill_results *r)
{
    if (r->n > 1)
        qsort(r->v, r->n, sizeof(*r->v), ts_drill_result_cmp);
}

void ts_drill_results_free(ts_drill_results *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].tag);
    free(r->v);
    r->v = NULL;
    r->n = r->cap = 0;
}

/* ---- comparison ---- */

static void ts_drill_example(char ex[][160], size_t nth, const ts_drill_result *r, int64_t want)
{
    if (nth >= TS_DRILL_EXAMPLES)
        return;
    if (want >= 0)
        snprintf(ex[nth], 160, "%.*s @%lld: count %lld, expected %lld",
                 (int)(r->tag_len > 80 ? 80 : r->tag_len), r->tag, (long long)r->window_start,
                 (long long)r->count, (long long)want);
    else
        snprintf(ex[nth], 160, "%.*s @%lld: count %lld", (int)(r->tag_len > 80 ? 80 : r->tag_len),
                 r->tag, (long long)r->window_start, (long long)r->count);
}

void ts_drill_compare(ts_drill_results *want, ts_drill_results *got, ts_drill_diff *d)
{
    size_t i = 0, j = 0;

    memset(d, 0, sizeof(*d));
    ts_drill_results_sort(want);
    ts_drill_results_sort(got);
    d->expected = want->n;
    d->got = got->n;
    while (i < got->n || j < want->n) {
        int c = i == got->n ? 1 : j == want->n ? -1 : ts_drill_result_cmp(&got->v[i], &want->v[j]);
        if (c > 0) {
            ts_drill_example(d->missing_ex, d->missing++, &want->v[j], -1);
            j++;
            continue;
        }
        /* every copy of this key in got */
        size_t k = i + 1;
        while (k < got->n && !ts_drill_result_cmp(&got->v[k], &got->v[i]))
            k++;
        for (size_t x = i + 1; x < k; x++)
            ts_drill_example(d->duplicate_ex, d->duplicate++, &got->v[x], -1);
        if (c < 0) {
            ts_drill_example(d->unexpected_ex, d->unexpected++, &got->v[i], -1);
        } else {
            for (size_t x = i; x < k; x++)
                if (got->v[x].count != want->v[j].count) {
                    ts_drill_example(d->wrong_ex, d->wrong++, &got->v[x], want->v[j].count);
                    break;
                }
            j++;
        }
        i = k;
    }
}
