/*
 * The synthetic source: deterministic, Zipf-distributed, non-ASCII and case
 * variants; the source loop on a fake clock (count, simulated event time,
 * rate).
 */
#include "ts_source.h"
#include "ts_synth.h"
#include "ts_tag.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static void norm(const char *p, size_t n, char *out, size_t cap, size_t *len)
{
    cr_assert_eq(ts_tag_normalize(p, n, out, cap, len), TS_OK);
}

Test(synth, the_same_seed_gives_the_same_posts)
{
    ts_synth *a = ts_synth_new(42, 1000, 1.1, 3), *b = ts_synth_new(42, 1000, 1.1, 3),
             *c = ts_synth_new(43, 1000, 1.1, 3);
    ts_post pa, pb, pc;
    int differ = 0;

    cr_assert(a && b && c);
    ts_post_init(&pa);
    ts_post_init(&pb);
    ts_post_init(&pc);
    for (int i = 0; i < 2000; i++) {
        ts_synth_next(a, &pa);
        ts_synth_next(b, &pb);
        ts_synth_next(c, &pc);
        cr_assert_eq(pa.ntags, pb.ntags);
        cr_assert_eq(pa.store.len, pb.store.len);
        cr_assert(!memcmp(pa.store.data, pb.store.data, pa.store.len), "post %d", i);
        differ |=
            pa.store.len != pc.store.len || memcmp(pa.store.data, pc.store.data, pa.store.len);
        cr_assert(pa.ntags >= 1 && pa.ntags <= 3);
    }
    cr_expect(differ, "another seed, other posts");
    ts_post_free(&pa);
    ts_post_free(&pb);
    ts_post_free(&pc);
    ts_synth_destroy(a);
    ts_synth_destroy(b);
    ts_synth_destroy(c);
}

Test(synth, vocabulary)
{
    static const char *const must[] = {
        "\xce\x9f\xce\x94\xce\xa5\xce\xa3\xce\xa3\xce\x95\xce\x91\xce\xa3", /* Greek, sigma */
        "\xc4\xb0stanbul",                                                  /* Turkish İ */
        "Stra\xc3\x9f"
        "e",                                                /* German ß */
        "\xd0\x9c\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0", /* Cyrillic */
        "\xe6\x9d\xb1\xe4\xba\xac",                         /* CJK */
    };
    ts_synth *g = ts_synth_new(1, 200, 1.0, 1);
    size_t len;

    cr_assert_not_null(g);
    cr_expect_eq(ts_synth_size(g), 200);
    for (size_t m = 0; m < sizeof(must) / sizeof(must[0]); m++) {
        int found = 0;
        for (size_t k = 0; k < ts_synth_size(g); k++) {
            const char *w = ts_synth_word(g, k, &len);
            found |= len == strlen(must[m]) && !memcmp(w, must[m], len);
        }
        cr_expect(found, "%s is in the vocabulary", must[m]);
    }
    for (size_t k = 0; k < ts_synth_size(g); k++) {
        const char *w = ts_synth_word(g, k, &len);
        for (size_t i = 0; i < len; i++)
            cr_assert((unsigned char)w[i] != 0xf0, "no emoji (or anything past U+FFFF)");
        for (size_t j = 0; j < k; j++) {
            size_t l2;
            const char *w2 = ts_synth_word(g, j, &l2);
            cr_assert(!(l2 == len && !memcmp(w, w2, len)), "words are distinct");
        }
    }
    ts_synth_destroy(g);
}

Test(synth, zipf_and_case_variants)
{
    enum {
        N = 50,
        DRAWS = 60000
    };
    ts_synth *g = ts_synth_new(7, N, 1.0, 1);
    static char keys[N][64];
    static size_t keylen[N];
    long count[N] = {0};
    int spellings_of_top = 0;
    char seen[8][64];
    ts_post p;

    cr_assert_not_null(g);
    ts_post_init(&p);
    for (size_t k = 0; k < N; k++) {
        size_t len;
        const char *w = ts_synth_word(g, k, &len);
        norm(w, len, keys[k], sizeof(keys[k]), &keylen[k]);
    }
    for (int i = 0; i < DRAWS; i++) {
        char key[128];
        size_t kl;
        ts_synth_next(g, &p);
        cr_assert_eq(p.ntags, 1);
        norm(ts_post_tag_ptr(&p, 0), p.tags[0].len, key, sizeof(key), &kl);
        for (size_t k = 0; k < N; k++) {
            if (kl != keylen[k] || memcmp(key, keys[k], kl))
                continue;
            count[k]++;
            if (k == 0 && spellings_of_top < 8) {
                int known = 0;
                for (int s = 0; s < spellings_of_top; s++)
                    known |= strlen(seen[s]) == p.tags[0].len &&
                             !memcmp(seen[s], ts_post_tag_ptr(&p, 0), p.tags[0].len);
                if (!known) {
                    memcpy(seen[spellings_of_top], ts_post_tag_ptr(&p, 0), p.tags[0].len);
                    seen[spellings_of_top][p.tags[0].len] = '\0';
                    spellings_of_top++;
                }
            }
            break;
        }
    }
    /* s = 1: rank 1 twice as often as rank 2, ten times as often as rank 10
     * (some case variants of a few non-ASCII words normalize elsewhere, which
     * only lowers those ranks' counts) */
    cr_expect(count[0] > count[1] && count[1] > count[9] && count[9] > count[49], "%ld %ld %ld %ld",
              count[0], count[1], count[9], count[49]);
    cr_expect(count[0] > 1.7 * count[1] && count[0] < 2.3 * count[1], "%ld vs %ld", count[0],
              count[1]);
    cr_expect(count[0] > 7 * count[9] && count[0] < 13 * count[9], "%ld vs %ld", count[0],
              count[9]);
    cr_expect_geq(spellings_of_top, 3, "several spellings share the top key");
    ts_post_free(&p);
    ts_synth_destroy(g);
}

/* ---- the source loop on a fake clock ---- */

typedef struct fake {
    int64_t mono, wall;
    int64_t slept;
    size_t posts, records;
    int64_t first_ts, last_ts;
    atomic_int stop;
    size_t stop_after; /* posts; 0 = never */
} fake;

static int64_t f_wall(void *o)
{
    return ((fake *)o)->wall;
}

static int64_t f_mono(void *o)
{
    return ((fake *)o)->mono;
}

static ts_err f_sleep(void *o, int64_t ms, const atomic_int *stop)
{
    fake *f = o;

    f->slept += ms;
    f->mono += ms;
    f->wall += ms;
    return atomic_load(stop) ? TS_ERR_STOPPED : TS_OK;
}

static ts_err f_emit(void *o, const ts_post *post)
{
    fake *f = o;

    if (f->posts == 0)
        f->first_ts = post->created_ms;
    f->last_ts = post->created_ms;
    f->posts++;
    f->records += post->ntags;
    if (f->stop_after && f->posts >= f->stop_after)
        atomic_store(&f->stop, 1);
    return TS_OK;
}

static void run(ts_pconf *c, fake *f, ts_pstats *stats)
{
    ts_clock clk = {f_wall, f_mono, f_sleep, f};
    ts_source_env env = {c, &clk, &f->stop, stats, f_emit, f};
    char err[256] = "";

    c->zipf_s = 1.1;
    cr_assert_eq(ts_source_synthetic_run(&env, err, sizeof(err)), TS_OK, "%s", err);
}

static ts_pconf base_conf(void)
{
    ts_pconf c;

    memset(&c, 0, sizeof(c));
    c.syn_seed = 3;
    c.syn_vocabulary = 100;
    c.syn_tags_per_post = 3;
    c.syn_step_ms = 10;
    return c;
}

Test(synthetic_source, stops_at_the_count_exactly)
{
    ts_pconf c = base_conf();
    fake f = {.mono = 0, .wall = 1795687200000};
    ts_pstats stats;

    memset(&stats, 0, sizeof(stats));
    c.syn_count = 1001;
    run(&c, &f, &stats);
    cr_expect_eq(f.records, 1001);
    cr_expect_eq(ts_pstats_get(&stats.posts), f.posts);
    cr_expect_eq(f.slept, 0, "rate 0: no waiting");
    cr_expect_eq(f.first_ts, 1795687200000, "event time from the clock");
}

Test(synthetic_source, simulated_event_time)
{
    ts_pconf c = base_conf();
    fake f = {.mono = 0, .wall = 1};
    ts_pstats stats;

    memset(&stats, 0, sizeof(stats));
    c.syn_count = 500;
    c.syn_start_ms = 1700000000000;
    c.syn_step_ms = 25;
    run(&c, &f, &stats);
    cr_expect_eq(f.first_ts, 1700000000000);
    cr_expect_eq(f.last_ts, 1700000000000 + (int64_t)(f.posts - 1) * 25);
}

Test(synthetic_source, paced_by_rate)
{
    ts_pconf c = base_conf();
    fake f = {.mono = 0, .wall = 0};
    ts_pstats stats;

    memset(&stats, 0, sizeof(stats));
    c.syn_count = 2000;
    c.syn_rate = 400;
    run(&c, &f, &stats);
    /* 2000 records at 400/s: the last post is due at about 5 s */
    cr_expect(f.slept >= 4950 && f.slept <= 5000, "slept %lld ms", (long long)f.slept);
}

Test(synthetic_source, a_stop_ends_it)
{
    ts_pconf c = base_conf();
    fake f = {.mono = 0, .wall = 0, .stop_after = 10};
    ts_pstats stats;

    memset(&stats, 0, sizeof(stats));
    run(&c, &f, &stats);
    cr_expect_eq(f.posts, 10, "count 0 runs until stopped");
    cr_expect_eq(atomic_load(&stats.source_connected), 0);
}
