#include "ts_keys.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "ts_test.h"
#include <stdlib.h>
#include <string.h>

struct key_case {
    int64_t start;
    const char *tag;
    size_t len;
};

#define K(start, lit)                                                                              \
    {                                                                                              \
        start, lit, sizeof(lit) - 1                                                                \
    }

/* Listed in the order the encoded keys must sort: by window start (signed),
 * then by tag bytes. */
static struct key_case sorted_keys[] = {
    K(INT64_MIN, "a"), K(-40000, ""), K(-40000, "zzz"), K(-20000, "a"),
    K(0, ""),          K(0, "a"),     K(0, "a\x00"),    K(0, "ab"),
    K(0, "b"),         K(0, "\x7f"),  K(0, "\xc3\x9f"), K(0, "\xf0\x9f\x8e\x89"),
    K(255, "a"),       K(256, "a"),   K(20000, ""),     K(1764176400000, "kafka"),
    K(INT64_MAX, "a"),
};
#define NKEYS (sizeof(sorted_keys) / sizeof(sorted_keys[0]))

static int cmp_bytes(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

ParameterizedTestParameters(keys, round_trip)
{
    return ts_test_indices(sizeof(sorted_keys) / sizeof(sorted_keys[0]));
}

ParameterizedTest(size_t *i, keys, round_trip)
{
    const struct key_case *c = &sorted_keys[*i];
    unsigned char buf[64];
    size_t n = ts_key_window_encode(buf, c->start, c->tag, c->len);
    int64_t start;
    const char *tag;
    size_t len;

    cr_assert_eq(n, ts_key_window_len(c->len));
    cr_assert_eq(ts_key_window_decode(buf, n, &start, &tag, &len), TS_OK);
    cr_expect_eq(start, c->start);
    cr_expect_eq(len, c->len);
    cr_expect(memcmp(tag, c->tag, len) == 0);
}

Test(keys, byte_order_is_window_then_tag)
{
    unsigned char a[64], b[64];

    for (size_t i = 0; i + 1 < NKEYS; i++) {
        size_t an =
            ts_key_window_encode(a, sorted_keys[i].start, sorted_keys[i].tag, sorted_keys[i].len);
        size_t bn = ts_key_window_encode(b, sorted_keys[i + 1].start, sorted_keys[i + 1].tag,
                                         sorted_keys[i + 1].len);
        cr_expect_lt(cmp_bytes(a, an, b, bn), 0, "key %zu must sort before key %zu", i, i + 1);
    }
}

Test(keys, window_prefix_bounds_the_window)
{
    unsigned char p[TS_KEY_WINDOW_PREFIX], k[64], next[TS_KEY_WINDOW_PREFIX];
    size_t n = ts_key_window_encode(k, 20000, "\xff\xff", 2);

    ts_key_window_prefix(p, 20000);
    ts_key_window_prefix(next, 20001);
    cr_expect(memcmp(k, p, sizeof(p)) == 0, "a key starts with its window's prefix");
    cr_expect_lt(cmp_bytes(k, n, next, sizeof(next)), 0, "and sorts before the next window");
}

Test(keys, decode_rejects_other_keys)
{
    int64_t s;
    const char *t;
    size_t l;
    unsigned char meta[] = {TS_KEY_META, 'x'};

    cr_expect_eq(ts_key_window_decode(meta, sizeof(meta), &s, &t, &l), TS_ERR_CORRUPT);
    cr_expect_eq(ts_key_window_decode("\x01\x00", 2, &s, &t, &l), TS_ERR_CORRUPT);
}

Test(keys, value_round_trip_and_versions)
{
    unsigned char v[TS_VALUE_LEN];
    int64_t count, ts;

    ts_value_encode(v, 5, 1764176400123);
    cr_assert_eq(ts_value_decode(v, sizeof(v), &count, &ts), TS_OK);
    cr_expect_eq(count, 5);
    cr_expect_eq(ts, 1764176400123);
    cr_expect_eq(ts_value_decode(v, sizeof(v) - 1, &count, &ts), TS_ERR_CORRUPT);
    v[0] = 2;
    cr_expect_eq(ts_value_decode(v, sizeof(v), &count, &ts), TS_ERR_VERSION);
    cr_expect_eq(ts_value_decode(v, 0, &count, &ts), TS_ERR_CORRUPT);
}
