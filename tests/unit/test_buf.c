#include "ts_buf.h"

#include <criterion/criterion.h>
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
