/*
 * ts_keys: the byte layout of the window store, shared by RocksDB and the
 * changelog topic (a changelog record's key and value are exactly the store's).
 *
 * Window key:   0x01 | BE64(window_start XOR 2^63) | tag bytes
 *   The sign flip makes the unsigned byte order of the key match the signed
 *   order of window_start, so keys sort by window start, then by tag bytes
 *   (memcmp order, the order Kafka Streams' suppression buffer emits in), and
 *   all the tags of one window are one contiguous key range.
 * Metadata key: 0x00 | name            (task metadata, never in the changelog)
 *
 * Window value (version 1): 0x01 | BE64(count) | BE64(max record timestamp)
 *
 * All functions are pure; none allocates.
 */
#ifndef TS_KEYS_H
#define TS_KEYS_H

#include "ts_err.h"

#include <stddef.h>
#include <stdint.h>

#define TS_KEY_META   0x00
#define TS_KEY_WINDOW 0x01

#define TS_KEY_WINDOW_PREFIX 9 /* type byte + window start */
#define TS_VALUE_V1          0x01
#define TS_VALUE_LEN         17

void ts_be64_put(unsigned char *p, uint64_t v);
uint64_t ts_be64_get(const unsigned char *p);

/* Size of the window key for a tag of tag_len bytes. */
static inline size_t ts_key_window_len(size_t tag_len)
{
    return TS_KEY_WINDOW_PREFIX + tag_len;
}

/* Encode into out (at least ts_key_window_len(tag_len) bytes); returns length. */
size_t ts_key_window_encode(unsigned char *out, int64_t window_start, const char *tag,
                            size_t tag_len);

/* Encode just the 9-byte prefix shared by all keys of one window. */
void ts_key_window_prefix(unsigned char out[TS_KEY_WINDOW_PREFIX], int64_t window_start);

/* Decode; *tag points into key. TS_ERR_CORRUPT if it is not a window key. */
ts_err ts_key_window_decode(const void *key, size_t len, int64_t *window_start, const char **tag,
                            size_t *tag_len);

void ts_value_encode(unsigned char out[TS_VALUE_LEN], int64_t count, int64_t max_ts);
/* TS_ERR_VERSION for an unknown version byte, TS_ERR_CORRUPT for a bad size. */
ts_err ts_value_decode(const void *val, size_t len, int64_t *count, int64_t *max_ts);

#endif
