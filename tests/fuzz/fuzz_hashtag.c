/*
 * Fuzz target: hashtag extraction from text (producer/ts_hashtag), by X's
 * and by Mastodon's rules. Every tag reported is a non-empty part of the
 * text, after the previous one, and valid UTF-8.
 */
#include "ts_hashtag.h"
#include "ts_utf8.h"

#include <stdint.h>
#include <stdlib.h>

struct seen {
    const char *text, *end, *last;
};

static int on_tag(void *opaque, const char *p, size_t n)
{
    struct seen *s = opaque;

    if (n == 0 || p < s->last || p + n > s->end || !ts_utf8_valid(p, n))
        abort();
    s->last = p + n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;

    for (int rules = TS_HASHTAG_X; rules <= TS_HASHTAG_MASTODON; rules++) {
        struct seen s = {text, text + size, text};
        ts_hashtag_extract(text, size, (ts_hashtag_rules)rules, on_tag, &s);
    }
    return 0;
}
