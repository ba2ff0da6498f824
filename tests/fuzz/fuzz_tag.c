/*
 * Fuzz target: hashtag normalization (common/ts_tag). Valid UTF-8 in gives
 * valid UTF-8 out, no longer than the capacity promised, and normalizing
 * the result again changes nothing; anything else is refused as invalid.
 */
#include "ts_tag.h"
#include "ts_utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    size_t cap = ts_tag_normalize_cap(size), len, len2;
    char *out = malloc(cap), *again;
    ts_err err;

    if (!out)
        abort();
    err = ts_tag_normalize(in, size, out, cap, &len);
    if (err != (ts_utf8_valid(in, size) ? TS_OK : TS_ERR_INVALID))
        abort();
    if (err == TS_OK) {
        if (len > cap || !ts_utf8_valid(out, len))
            abort();
        again = malloc(ts_tag_normalize_cap(len));
        if (!again ||
            ts_tag_normalize(out, len, again, ts_tag_normalize_cap(len), &len2) != TS_OK ||
            len2 != len || memcmp(out, again, len))
            abort(); /* not idempotent */
        free(again);
    }
    free(out);
    return 0;
}
