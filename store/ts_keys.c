#include "ts_keys.h"

#include <string.h>

#define TS_SIGN_FLIP 0x8000000000000000ULL

void ts_be64_put(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

uint64_t ts_be64_get(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

void ts_key_window_prefix(unsigned char out[TS_KEY_WINDOW_PREFIX], int64_t window_start)
{
    out[0] = TS_KEY_WINDOW;
    ts_be64_put(out + 1, (uint64_t)window_start ^ TS_SIGN_FLIP);
}

size_t ts_key_window_encode(unsigned char *out, int64_t window_start, const char *tag,
                            size_t tag_len)
{
    ts_key_window_prefix(out, window_start);
    if (tag_len)
        memcpy(out + TS_KEY_WINDOW_PREFIX, tag, tag_len);
    return TS_KEY_WINDOW_PREFIX + tag_len;
}

ts_err ts_key_window_decode(const void *key, size_t len, int64_t *window_start, const char **tag,
                            size_t *tag_len)
{
    const unsigned char *k = key;

    if (len < TS_KEY_WINDOW_PREFIX || k[0] != TS_KEY_WINDOW)
        return TS_ERR_CORRUPT;
    *window_start = (int64_t)(ts_be64_get(k + 1) ^ TS_SIGN_FLIP);
    *tag = (const char *)k + TS_KEY_WINDOW_PREFIX;
    *tag_len = len - TS_KEY_WINDOW_PREFIX;
    return TS_OK;
}

void ts_value_encode(unsigned char out[TS_VALUE_LEN], int64_t count, int64_t max_ts)
{
    out[0] = TS_VALUE_V1;
    ts_be64_put(out + 1, (uint64_t)count);
    ts_be64_put(out + 9, (uint64_t)max_ts);
}

ts_err ts_value_decode(const void *val, size_t len, int64_t *count, int64_t *max_ts)
{
    const unsigned char *v = val;

    if (len < 1)
        return TS_ERR_CORRUPT;
    if (v[0] != TS_VALUE_V1)
        return TS_ERR_VERSION;
    if (len != TS_VALUE_LEN)
        return TS_ERR_CORRUPT;
    *count = (int64_t)ts_be64_get(v + 1);
    *max_ts = (int64_t)ts_be64_get(v + 9);
    return TS_OK;
}
