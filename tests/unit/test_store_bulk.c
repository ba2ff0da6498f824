/*
 * ts_store bulk loading (SST files ingested): the loaded keys read back, a
 * later load wins over earlier writes and loads of the same keys, deletes
 * remove, a key out of order fails the load and leaves the store as it was,
 * and no file is left behind in the store's directory.
 */
#include "ts_fs.h"
#include "ts_keys.h"
#include "ts_store.h"

#include <criterion/criterion.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

static char tmp[256];
static char path[300];
static ts_store *s;

static void setup(void)
{
    char err[512];

    snprintf(tmp, sizeof(tmp), "/tmp/ts-storebulk-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    snprintf(path, sizeof(path), "%s/1_0", tmp);
    cr_assert_eq(ts_store_open(path, TS_STORE_READ_WRITE, NULL, NULL, &s, err, sizeof(err)), TS_OK,
                 "%s", err);
}

static void teardown(void)
{
    ts_store_close(s);
    cr_expect_eq(ts_fs_remove_tree(tmp, NULL, 0), TS_OK, "cannot remove %s", tmp);
}

TestSuite(store_bulk, .init = setup, .fini = teardown);

static void put(ts_store_bulk *b, int64_t w, const char *tag, int64_t count)
{
    unsigned char key[64], val[TS_VALUE_LEN];
    size_t klen = ts_key_window_encode(key, w, tag, strlen(tag));

    ts_value_encode(val, count, w + 1);
    ts_store_bulk_put(b, key, klen, val, sizeof(val));
}

static void del(ts_store_bulk *b, int64_t w, const char *tag)
{
    unsigned char key[64];
    size_t klen = ts_key_window_encode(key, w, tag, strlen(tag));

    ts_store_bulk_put(b, key, klen, NULL, 0);
}

static int64_t count_of(int64_t w, const char *tag)
{
    int64_t count = -1, max_ts;
    int found;
    char err[512];

    cr_assert_eq(ts_store_get(s, w, tag, strlen(tag), &count, &max_ts, &found, err, sizeof(err)),
                 TS_OK, "%s", err);
    return found ? count : -1;
}

static int stray_files(void)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;

    cr_assert_not_null(d);
    while ((e = readdir(d)))
        n += strstr(e->d_name, "bulk") != NULL;
    closedir(d);
    return n;
}

static void commit_ok(ts_store_bulk *b)
{
    char err[512];

    cr_assert_eq(ts_store_bulk_commit(b, err, sizeof(err)), TS_OK, "%s", err);
}

static ts_store_bulk *begin(void)
{
    ts_store_bulk *b;
    char err[512];

    cr_assert_eq(ts_store_bulk_begin(s, &b, err, sizeof(err)), TS_OK, "%s", err);
    return b;
}

Test(store_bulk, loaded_keys_read_back_and_later_loads_win)
{
    ts_store_batch *wb = ts_store_batch_new();
    ts_store_bulk *b;
    char err[512];

    /* a write through the memtable first: the load must still win over it */
    ts_store_batch_put(wb, 1000, "b", 1, 7, 1001);
    ts_store_batch_put(wb, 1000, "z", 1, 9, 1001);
    cr_assert_eq(ts_store_write(s, wb, 1, err, sizeof(err)), TS_OK, "%s", err);
    ts_store_batch_destroy(wb);

    b = begin();
    put(b, 1000, "a", 1);
    put(b, 1000, "b", 2);
    put(b, 1000, "c", 3);
    put(b, 2000, "a", 4);
    commit_ok(b);
    cr_expect_eq(count_of(1000, "a"), 1);
    cr_expect_eq(count_of(1000, "b"), 2);
    cr_expect_eq(count_of(1000, "z"), 9);
    cr_expect_eq(count_of(2000, "a"), 4);

    /* overlapping the first load: newer values and a delete */
    b = begin();
    put(b, 1000, "b", 20);
    del(b, 1000, "c");
    del(b, 1000, "z");
    put(b, 3000, "d", 5);
    commit_ok(b);
    cr_expect_eq(count_of(1000, "a"), 1);
    cr_expect_eq(count_of(1000, "b"), 20);
    cr_expect_eq(count_of(1000, "c"), -1);
    cr_expect_eq(count_of(1000, "z"), -1);
    cr_expect_eq(count_of(3000, "d"), 5);
    cr_expect_eq(stray_files(), 0);

    /* and it all survives a reopen */
    ts_store_close(s);
    cr_assert_eq(ts_store_open(path, TS_STORE_READ_WRITE, NULL, NULL, &s, err, sizeof(err)), TS_OK,
                 "%s", err);
    cr_expect_eq(count_of(1000, "b"), 20);
    cr_expect_eq(count_of(3000, "d"), 5);
}

Test(store_bulk, a_key_out_of_order_fails_and_changes_nothing)
{
    ts_store_bulk *b = begin();
    char err[512];

    put(b, 1000, "b", 1);
    put(b, 1000, "a", 2);
    cr_expect_eq(ts_store_bulk_commit(b, err, sizeof(err)), TS_ERR_STORE);
    cr_expect(strstr(err, "cannot bulk load store") != NULL, "%s", err);
    cr_expect_eq(count_of(1000, "b"), -1);
    cr_expect_eq(stray_files(), 0);
}

Test(store_bulk, empty_loads_and_aborts_leave_nothing)
{
    ts_store_bulk *b = begin();

    commit_ok(b);
    b = begin();
    put(b, 1000, "a", 1);
    ts_store_bulk_abort(b);
    ts_store_bulk_abort(NULL);
    cr_expect_eq(count_of(1000, "a"), -1);
    cr_expect_eq(stray_files(), 0);
}
