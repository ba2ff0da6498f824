/*
 * Fuzz target: the window key and value codecs (store/ts_keys), which are
 * also the changelog records' key and value. The first byte says which half
 * of the input is the key: a record that decodes encodes back to the same
 * bytes, and one that does not decode is refused with an error.
 */
#include "ts_keys.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *key, *val;
    size_t klen, vlen, tag_len;
    int64_t start, count, max_ts;
    const char *tag;
    unsigned char *re, v[TS_VALUE_LEN];
    ts_err err;

    if (size < 1)
        return 0;
    klen = data[0];
    if (klen > size - 1)
        klen = size - 1;
    key = data + 1;
    val = key + klen;
    vlen = size - 1 - klen;

    err = ts_key_window_decode(key, klen, &start, &tag, &tag_len);
    if (err == TS_OK) {
        if (tag < (const char *)key || tag + tag_len > (const char *)key + klen)
            abort();
        re = malloc(ts_key_window_len(tag_len));
        if (!re || ts_key_window_encode(re, start, tag, tag_len) != klen || memcmp(re, key, klen))
            abort();
        free(re);
    } else if (err != TS_ERR_CORRUPT) {
        abort();
    }
    err = ts_value_decode(val, vlen, &count, &max_ts);
    if (err == TS_OK) {
        ts_value_encode(v, count, max_ts);
        if (vlen != TS_VALUE_LEN || memcmp(v, val, vlen))
            abort();
    } else if (err != TS_ERR_CORRUPT && err != TS_ERR_VERSION) {
        abort();
    }
    return 0;
}
