/*
 * Reads the lines JavaNormalize prints and checks that ts_tag_normalize and
 * ts_utf16_length agree with Java. Prints each disagreement and a summary;
 * exits 1 if more values differ than `--max-differ N` allows (default 0:
 * the tests allow none).
 */
#include "ts_tag.h"
#include "ts_utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t unhex(const char *h, char *out)
{
    size_t n = 0;

    if (!strcmp(h, "-"))
        return 0;
    for (; h[0] && h[1]; h += 2) {
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (char)v;
    }
    return n;
}

int main(int argc, char **argv)
{
    size_t max_differ = 0;
    char line[4096], in_hex[1024], want_hex[1024], in[512], want[512], got[1100];
    size_t in_len, want_len, got_len, in16, want16, lines = 0, bad = 0;

    if (argc == 3 && !strcmp(argv[1], "--max-differ"))
        max_differ = (size_t)strtoul(argv[2], NULL, 10);
    while (fgets(line, sizeof(line), stdin)) {
        if (sscanf(line, "%1023s\t%1023s\t%zu\t%zu", in_hex, want_hex, &in16, &want16) != 4)
            continue;
        lines++;
        in_len = unhex(in_hex, in);
        want_len = unhex(want_hex, want);
        if (ts_tag_normalize(in, in_len, got, sizeof(got), &got_len) != TS_OK) {
            printf("FAIL %s: normalize failed\n", in_hex);
            bad++;
            continue;
        }
        if (got_len != want_len || memcmp(got, want, got_len) ||
            ts_utf16_length(in, in_len) != in16 || ts_utf16_length(got, got_len) != want16) {
            printf("FAIL input %s: java %s (%zu units), tagstream ", in_hex, want_hex, want16);
            for (size_t i = 0; i < got_len; i++)
                printf("%02x", (unsigned char)got[i]);
            printf(" (%zu units)\n", ts_utf16_length(got, got_len));
            bad++;
        }
    }
    printf("%zu values compared with Java, %zu differ (allowed: %zu)\n", lines, bad, max_differ);
    return lines == 0 || bad > max_differ ? 1 : 0;
}
