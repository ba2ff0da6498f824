#include "ts_buf.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

Test(buf, append_and_printf)
{
    ts_buf b = TS_BUF_INIT;

    ts_buf_puts(&b, "count=");
    ts_buf_printf(&b, "%d", 42);
    ts_buf_append(&b, "\0x", 2);
    cr_assert_eq(ts_buf_status(&b), TS_OK);
    cr_expect_eq(b.len, 10);
    cr_expect(memcmp(b.data, "count=42\0x", 10) == 0);
    cr_expect_eq(b.data[b.len], '\0', "always NUL-terminated");
    ts_buf_free(&b);
}

Test(buf, max_size_fails_and_stays_failed)
{
    ts_buf b;

    ts_buf_init(&b, 4);
    cr_expect_eq(ts_buf_puts(&b, "abcd"), TS_OK);
    cr_expect_eq(ts_buf_putc(&b, 'e'), TS_ERR_NOMEM);
    cr_expect_eq(ts_buf_putc(&b, 'f'), TS_ERR_NOMEM);
    cr_expect_eq(ts_buf_status(&b), TS_ERR_NOMEM);
    ts_buf_reset(&b);
    cr_expect_eq(ts_buf_status(&b), TS_OK);
    ts_buf_free(&b);
}

Test(buf, json_string_escapes_and_repairs)
{
    ts_buf b = TS_BUF_INIT;
    const char in[] = "a\"b\\c\n\x01\xc3\xa4\xff\xe2\x82";

    ts_buf_json_str(&b, in, sizeof(in) - 1);
    cr_expect_str_eq(b.data,
                     "\"a\\\"b\\\\c\\n\\u0001\xc3\xa4\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    ts_buf_free(&b);
}

Test(grow, first_capacity_then_doubling)
{
    int *v = NULL, *w;
    size_t cap = 0;

    v = ts_grow(v, 0, &cap, sizeof(*v), 4);
    cr_assert_not_null(v);
    cr_expect_eq(cap, 4);
    for (size_t n = 0; n < 9; n++) {
        w = ts_grow(v, n, &cap, sizeof(*v), 4);
        cr_assert_not_null(w);
        v = w;
        v[n] = (int)n;
    }
    cr_expect_eq(cap, 16, "4, 8, 16");
    for (int i = 0; i < 9; i++)
        cr_expect_eq(v[i], i, "the elements survive each move");
    cr_expect_eq(ts_grow(v, 3, &cap, sizeof(*v), 4), v, "room left: the same array");
    free(v);
}

Test(grow, refuses_what_cannot_be_counted)
{
    char one = 0, *p = &one;
    size_t cap = SIZE_MAX / 2 + 1;

    cr_expect_null(ts_grow(p, cap, &cap, 1, 8), "doubling would wrap");
    cr_expect_eq(cap, SIZE_MAX / 2 + 1, "the capacity is left as it was");
    cap = 0;
    cr_expect_null(ts_grow(NULL, 0, &cap, SIZE_MAX / 4, 8), "count times size overflows");
    cr_expect_eq(cap, 0);
}

Test(buf, hex_with_a_bound)
{
    ts_buf b = TS_BUF_INIT;
    const unsigned char bytes[] = {0x00, 0x7f, 0xa5, 0xff};

    cr_assert_eq(ts_buf_hex(&b, bytes, sizeof(bytes), 64), TS_OK);
    cr_expect_str_eq(b.data, "007fa5ff");
    ts_buf_reset(&b);
    ts_buf_hex(&b, bytes, sizeof(bytes), 2);
    cr_expect_str_eq(b.data, "007f...", "cut after max bytes, and said so");
    ts_buf_reset(&b);
    ts_buf_hex(&b, bytes, 2, 2);
    cr_expect_str_eq(b.data, "007f", "exactly max bytes: nothing left out");
    ts_buf_free(&b);
}

/* RocksDB's default order: unsigned bytes, a prefix first. */
Test(buf, bytes_cmp_orders_as_rocksdb)
{
    cr_expect_eq(ts_bytes_cmp("abc", 3, "abc", 3), 0);
    cr_expect_lt(ts_bytes_cmp("ab", 2, "abc", 3), 0, "a prefix sorts first");
    cr_expect_gt(ts_bytes_cmp("abc", 3, "ab", 2), 0);
    cr_expect_lt(ts_bytes_cmp("abd", 3, "abe", 2 + 1), 0);
    cr_expect_gt(ts_bytes_cmp("\xc3\xa9", 2, "z", 1), 0, "bytes compare unsigned");
    cr_expect_lt(ts_bytes_cmp(NULL, 0, "a", 1), 0, "empty first, NULL allowed when empty");
    cr_expect_eq(ts_bytes_cmp(NULL, 0, NULL, 0), 0);
}
