#include "ts_synth.h"
#include "ts_log.h"
#include "ts_source.h"
#include "ts_utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* Words of several scripts, some in more than one spelling already. */
static const char *const ts_synth_base[] = {
    "kafka",      "AWS",       "Fargate",
    "MSK",        "streaming", "DataEngineering",
    "OpenSource", "Linux",     "CloudNative",
    "DevOps",     "rust",      "golang",
    "Java",       "python",    "MachineLearning",
    "AI",         "news",      "music",
    "football",   "WorldCup",  "photography",
    "travel",     "food",      "climate",
    "science",    "space",     "NASA",
    "art",        "books",     "gaming",
    "ΟΔΥΣΣΕΑΣ",   "Σίσυφος",   "Ελλάς",
    "ΚΑΛΗΣΠΕΡΑ",  "İstanbul",  "IŞIK",
    "Türkiye",    "ığdır",     "Straße",
    "Fußball",    "GROẞ",      "München",
    "Москва",     "Привет",    "Україна",
    "東京",       "北京",      "ラーメン",
    "ひらがな",   "한국",      "서울",
    "مرحبا",      "שלום",      "नमस्ते",
    "Ünïcödé",    "São_Paulo", "café",
    "naïve",      "Ærø",       "Łódź",
};
#define TS_SYNTH_NBASE (sizeof(ts_synth_base) / sizeof(ts_synth_base[0]))

struct ts_synth {
    uint64_t s[4]; /* xoshiro256** state */
    size_t n;      /* vocabulary size */
    double *cdf;   /* cumulative Zipf probabilities, cdf[n-1] == 1 */
    size_t *off;   /* word k at words.data + off[k], length off[k+1] - off[k] */
    ts_buf words;
    ts_buf scratch; /* a case variant being written */
    int per_post;
};

static uint64_t ts_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t ts_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t ts_synth_rand(ts_synth *g)
{
    uint64_t *s = g->s, r = ts_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = ts_rotl(s[3], 45);
    return r;
}

/* Uniform in [0, 1). */
static double ts_synth_unit(ts_synth *g)
{
    return (double)(ts_synth_rand(g) >> 11) * (1.0 / 9007199254740992.0);
}

ts_synth *ts_synth_new(uint64_t seed, size_t vocabulary, double s, int tags_per_post)
{
    ts_synth *g = calloc(1, sizeof(*g));
    double sum = 0;
    char num[24];

    if (!g)
        return NULL;
    for (int i = 0; i < 4; i++)
        g->s[i] = ts_splitmix64(&seed);
    g->n = vocabulary ? vocabulary : 1;
    g->per_post = tags_per_post > 0 ? tags_per_post : 1;
    ts_buf_init(&g->words, 0);
    ts_buf_init(&g->scratch, 0);
    g->cdf = malloc(g->n * sizeof(*g->cdf));
    g->off = malloc((g->n + 1) * sizeof(*g->off));
    if (!g->cdf || !g->off)
        goto fail;
    for (size_t k = 0; k < g->n; k++) {
        g->off[k] = g->words.len;
        ts_buf_puts(&g->words, ts_synth_base[k % TS_SYNTH_NBASE]);
        if (k >= TS_SYNTH_NBASE) {
            snprintf(num, sizeof(num), "%zu", k / TS_SYNTH_NBASE + 1);
            ts_buf_puts(&g->words, num);
        }
        sum += 1.0 / pow((double)(k + 1), s);
        g->cdf[k] = sum;
    }
    g->off[g->n] = g->words.len;
    if (ts_buf_status(&g->words))
        goto fail;
    for (size_t k = 0; k < g->n; k++)
        g->cdf[k] /= sum;
    g->cdf[g->n - 1] = 1.0;
    return g;
fail:
    ts_synth_destroy(g);
    return NULL;
}

void ts_synth_destroy(ts_synth *g)
{
    if (!g)
        return;
    free(g->cdf);
    free(g->off);
    ts_buf_free(&g->words);
    ts_buf_free(&g->scratch);
    free(g);
}

size_t ts_synth_size(const ts_synth *g)
{
    return g->n;
}

const char *ts_synth_word(const ts_synth *g, size_t k, size_t *len)
{
    *len = g->off[k + 1] - g->off[k];
    return g->words.data + g->off[k];
}

static size_t ts_synth_rank(ts_synth *g)
{
    double u = ts_synth_unit(g);
    size_t lo = 0, hi = g->n - 1;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g->cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Write word p[0..n) into scratch: 0 upper, 1 lower, 2 first letter upper
 * and the rest lower (simple per-code-point mappings). */
static void ts_synth_case(ts_synth *g, const char *p, size_t n, int how)
{
    size_t i = 0;
    int first = 1;

    ts_buf_reset(&g->scratch);
    while (i < n) {
        uint32_t cp;
        char u[4];
        size_t l = ts_utf8_decode(p + i, n - i, &cp);
        if (l == 0)
            break;
        if (how == 0 || (how == 2 && first))
            cp = (uint32_t)utf8proc_toupper((utf8proc_int32_t)cp);
        else
            cp = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
        first = 0;
        ts_buf_append(&g->scratch, u, ts_utf8_encode(cp, u));
        i += l;
    }
}

void ts_synth_next(ts_synth *g, ts_post *post)
{
    int n = 1 + (int)(ts_synth_rand(g) % (uint64_t)g->per_post);

    ts_post_reset(post);
    for (int i = 0; i < n; i++) {
        size_t k = ts_synth_rank(g), len;
        const char *w = ts_synth_word(g, k, &len);
        unsigned variant = (unsigned)(ts_synth_rand(g) % 8);
        /* mostly as listed; otherwise upper, lower or capitalized */
        if (variant < 5) {
            ts_post_add_tag(post, w, len);
        } else {
            ts_synth_case(g, w, len, (int)variant - 5);
            ts_post_add_tag(post, g->scratch.data ? g->scratch.data : "", g->scratch.len);
        }
    }
}

/* ---- the source ---- */

ts_err ts_source_synthetic_run(const ts_source_env *env, char *errstr, size_t errstr_size)
{
    const ts_pconf *c = env->conf;
    const ts_clock *clk = env->clock;
    ts_synth *g;
    ts_post post;
    uint64_t records = 0, posts = 0;
    int64_t t0;
    ts_err err = TS_OK;

    g = ts_synth_new((uint64_t)c->syn_seed, (size_t)c->syn_vocabulary, c->zipf_s,
                     (int)c->syn_tags_per_post);
    if (!g)
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "synthetic: out of memory");
    ts_post_init(&post);
    atomic_store(&env->stats->source_connected, 1);
    {
        ts_log_ev *ev = ts_log_begin(TS_LOG_INFO, "synthetic", "generating");
        ts_log_int(ev, "seed", c->syn_seed);
        ts_log_int(ev, "rate", c->syn_rate);
        ts_log_int(ev, "count", c->syn_count);
        ts_log_int(ev, "vocabulary", c->syn_vocabulary);
        ts_log_end(ev);
    }
    t0 = clk->mono_ms(clk->opaque);
    while (!atomic_load(env->stop) && (c->syn_count == 0 || records < (uint64_t)c->syn_count)) {
        ts_synth_next(g, &post);
        if (c->syn_count && post.ntags > (uint64_t)c->syn_count - records)
            post.ntags = (size_t)((uint64_t)c->syn_count - records);
        post.created_ms = c->syn_start_ms ? c->syn_start_ms + (int64_t)posts * c->syn_step_ms
                                          : clk->now_ms(clk->opaque);
        if (c->syn_rate > 0) {
            int64_t due = t0 + (int64_t)((double)records * 1000.0 / (double)c->syn_rate);
            int64_t now = clk->mono_ms(clk->opaque);
            if (due > now && clk->sleep_ms(clk->opaque, due - now, env->stop) == TS_ERR_STOPPED)
                break;
        }
        posts++;
        records += post.ntags;
        ts_pstats_add(&env->stats->posts, 1);
        err = env->emit(env->opaque, &post);
        if (err == TS_ERR_STOPPED) {
            err = TS_OK;
            break;
        }
        if (err) {
            ts_seterr(err, errstr, errstr_size, "synthetic: cannot publish: %s", ts_err_name(err));
            break;
        }
    }
    {
        ts_log_ev *ev = ts_log_begin(TS_LOG_INFO, "synthetic", "generator stopped");
        ts_log_int(ev, "posts", (int64_t)posts);
        ts_log_int(ev, "records", (int64_t)records);
        ts_log_end(ev);
    }
    atomic_store(&env->stats->source_connected, 0);
    ts_post_free(&post);
    ts_synth_destroy(g);
    return err;
}
