/*
 * Fuzz target: the X and Mastodon post parsers (producer/ts_post), in every
 * format; the first byte picks it. A post's tags must lie in its store.
 */
#include "ts_post.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ts_post_format formats[] = {TS_POST_AUTO, TS_POST_X, TS_POST_MASTODON,
                                             TS_POST_TEXT};
    char detail[256];
    ts_post post;
    ts_skip skip;

    if (size < 1)
        return 0;
    ts_post_init(&post);
    skip = ts_post_parse(&post, formats[data[0] % 4], (const char *)data + 1, size - 1, detail,
                         sizeof(detail));
    if (skip >= TS_SKIP__COUNT || !ts_skip_name(skip))
        abort();
    for (size_t i = 0; skip == TS_SKIP_NONE && i < post.ntags; i++)
        if (post.tags[i].off + post.tags[i].len > post.store.len)
            abort();
    ts_post_free(&post);
    return 0;
}
