/*
 * bench_normalize: the cost of ts_tag_normalize per input byte, for inputs
 * whose shape matters to it. Prints one line per (input, size):
 *
 *   input  size_bytes  ns_per_byte  ratio_to_ascii
 *
 * Times are the CPU time of the calling thread, best of five rounds.
 * Inputs: ASCII letters; mixed scripts (Latin, Greek, Cyrillic, CJK, emoji,
 * combining marks); all capital sigma (each decides between final and
 * non-final sigma); and capital sigma between supplementary letters (the
 * segmentation's worst case). Run by bench/normalize.sh.
 */
#include "ts_tag.h"
#include "ts_utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Fill out[0..n) with whole UTF-8 sequences of the pattern, repeated; pads
 * the tail with 'a' where a sequence does not fit. */
static void bench_fill(char *out, size_t n, const uint32_t *pattern, size_t plen)
{
    size_t o = 0, k = 0;
    char seq[4];

    while (o < n) {
        size_t l = ts_utf8_encode(pattern[k++ % plen], seq);
        if (o + l > n) {
            memset(out + o, 'a', n - o);
            break;
        }
        memcpy(out + o, seq, l);
        o += l;
    }
}

/* CPU time of this thread: on a machine shared with other work, wall time
 * mostly measures the neighbours. */
static double bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Best of several rounds, each normalizing at least ~8 MiB (or once, when
 * a single call takes longer than a second). */
static double bench_ns_per_byte(const char *in, size_t n, char *out, size_t cap)
{
    double best = -1;
    size_t outlen;

    for (int round = 0; round < 5; round++) {
        size_t reps = 0;
        double t0 = bench_now_ns(), t1;
        do {
            if (ts_tag_normalize(in, n, out, cap, &outlen) != TS_OK) {
                fprintf(stderr, "bench_normalize: normalize failed\n");
                exit(1);
            }
            reps++;
            t1 = bench_now_ns();
        } while (reps * n < ((size_t)8 << 20) && t1 - t0 < 1e9);
        double v = (t1 - t0) / (double)(reps * n);
        if (best < 0 || v < best)
            best = v;
        if (t1 - t0 > 5e9)
            break;
    }
    return best;
}

int main(int argc, char **argv)
{
    static const uint32_t ascii[] = {'h', 'e', 'L', 'L', 'o', 'W', 'o', 'r', 'l', 'd', '_', '2'};
    static const uint32_t mixed[] = {'K',    'a',    'f',     'k',    'a',    0x0391,
                                     0x03b8, 0x03ae, 0x03bd,  0x03b1, 0x041c, 0x043e,
                                     0x0441, 0x043a, 0x0432,  0x0430, 0x6771, 0x4eac,
                                     0x00c9, 0x0301, 0x1f389, 0x0130, '_',    '7'};
    static const uint32_t sigma[] = {0x03a3};
    static const uint32_t sigma_supp[] = {0x03a3, 0x10400};
    static const struct {
        const char *name;
        const uint32_t *pattern;
        size_t len;
    } inputs[] = {
        {"ascii", ascii, sizeof(ascii) / sizeof(ascii[0])},
        {"mixed", mixed, sizeof(mixed) / sizeof(mixed[0])},
        {"sigma", sigma, 1},
        {"sigma+supp", sigma_supp, 2},
    };
    static const size_t sizes[] = {4096, 65536, 1048576};
    size_t max_size = 1048576;
    double ascii_ns[3];
    char *in, *out;

    /* An optional argument caps the sizes (the quadratic code of old needs
     * minutes for 1 MiB of sigma). */
    if (argc > 1)
        max_size = (size_t)strtoul(argv[1], NULL, 10);
    in = malloc(sizes[2]);
    out = malloc(ts_tag_normalize_cap(sizes[2]));
    if (!in || !out)
        return 1;
    printf("%-11s %10s %12s %10s\n", "input", "bytes", "ns/byte", "vs_ascii");
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        for (size_t s = 0; s < 3; s++) {
            if (sizes[s] > max_size)
                continue;
            bench_fill(in, sizes[s], inputs[i].pattern, inputs[i].len);
            double v = bench_ns_per_byte(in, sizes[s], out, ts_tag_normalize_cap(sizes[s]));
            if (i == 0)
                ascii_ns[s] = v;
            printf("%-11s %10zu %12.2f %9.1fx\n", inputs[i].name, sizes[s], v, v / ascii_ns[s]);
            fflush(stdout);
        }
    }
    free(in);
    free(out);
    return 0;
}
