#include "ts_cache.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

Test(cache, add_find_clear)
{
    ts_cache *c = ts_cache_new();
    char tag[32];

    cr_assert_not_null(c);
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(tag, sizeof(tag), "tag%d", i);
        ts_cache_entry *e = ts_cache_add(c, (i % 3) * 20000, tag, (size_t)n);
        cr_assert_not_null(e);
        e->count = i;
    }
    cr_expect_eq(ts_cache_count(c), 10000);
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(tag, sizeof(tag), "tag%d", i);
        ts_cache_entry *e = ts_cache_find(c, (i % 3) * 20000, tag, (size_t)n);
        cr_assert_not_null(e, "tag%d", i);
        cr_expect_eq(e->count, i);
        cr_expect_null(ts_cache_find(c, (i % 3) * 20000 + 1, tag, (size_t)n),
                       "the window is part of the key");
    }
    size_t pos = 0, seen = 0;
    while (ts_cache_next(c, &pos))
        seen++;
    cr_expect_eq(seen, 10000);
    ts_cache_clear(c);
    cr_expect_eq(ts_cache_count(c), 0);
    cr_expect_null(ts_cache_find(c, 0, "tag0", 4));
    cr_expect_not_null(ts_cache_add(c, 0, "tag0", 4), "usable after clear");
    ts_cache_destroy(c);
}

Test(cache, binary_tags)
{
    ts_cache *c = ts_cache_new();

    cr_assert_not_null(ts_cache_add(c, 0, "a\0b", 3));
    cr_expect_null(ts_cache_find(c, 0, "a", 1));
    cr_expect_not_null(ts_cache_find(c, 0, "a\0b", 3));
    cr_expect_not_null(ts_cache_add(c, 0, "", 0), "an empty tag is a tag");
    cr_expect_not_null(ts_cache_find(c, 0, "", 0));
    ts_cache_destroy(c);
}
