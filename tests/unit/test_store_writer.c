/*
 * ts_store_writer: batches handed to the writer thread end up in their
 * stores, in the order they were started, whatever order they are waited
 * for in; a job not started (or waited for already) waits for nothing.
 */
#include "ts_fs.h"
#include "ts_store.h"
#include "ts_store_writer.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSTORES 3

static char tmp[256];
static ts_store *stores[NSTORES];

static void setup(void)
{
    char err[512], path[300];

    snprintf(tmp, sizeof(tmp), "/tmp/ts-storewriter-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    for (int i = 0; i < NSTORES; i++) {
        snprintf(path, sizeof(path), "%s/1_%d", tmp, i);
        cr_assert_eq(
            ts_store_open(path, TS_STORE_READ_WRITE, NULL, NULL, &stores[i], err, sizeof(err)),
            TS_OK, "%s", err);
    }
}

static void teardown(void)
{
    for (int i = 0; i < NSTORES; i++)
        ts_store_close(stores[i]);
    cr_expect_eq(ts_fs_remove_tree(tmp, NULL, 0), TS_OK, "cannot remove %s", tmp);
}

TestSuite(store_writer, .init = setup, .fini = teardown);

static int64_t count_of(ts_store *s, const char *tag)
{
    int64_t count = -1, max_ts;
    int found = 0;

    cr_assert_eq(ts_store_get(s, 0, tag, strlen(tag), &count, &max_ts, &found, NULL, 0), TS_OK);
    return found ? count : -1;
}

Test(store_writer, batches_land_in_order_whatever_order_they_are_waited_for)
{
    ts_store_write_job jobs[NSTORES][2] = {0};
    ts_store_batch *b[NSTORES][2];
    char err[512];

    for (int i = 0; i < NSTORES; i++)
        for (int j = 0; j < 2; j++) {
            b[i][j] = ts_store_batch_new();
            cr_assert_not_null(b[i][j]);
            for (int k = 0; k < 2000; k++) {
                char tag[32];
                snprintf(tag, sizeof(tag), "t%d", k);
                /* the second batch of a store overwrites the first */
                ts_store_batch_put(b[i][j], 0, tag, strlen(tag), 10 * i + j + 1, 5);
            }
        }
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < NSTORES; i++)
            cr_assert(ts_store_write_start(&jobs[i][j], stores[i], b[i][j]));
    for (int i = NSTORES - 1; i >= 0; i--)
        for (int j = 1; j >= 0; j--)
            cr_assert_eq(ts_store_write_wait(&jobs[i][j], err, sizeof(err)), TS_OK, "%s", err);
    for (int i = 0; i < NSTORES; i++) {
        cr_expect_eq(count_of(stores[i], "t0"), 10 * i + 2, "store %d", i);
        cr_expect_eq(count_of(stores[i], "t1999"), 10 * i + 2, "store %d", i);
        for (int j = 0; j < 2; j++)
            ts_store_batch_destroy(b[i][j]);
    }
    /* waited for already, and never started: nothing to wait for */
    cr_expect_eq(ts_store_write_wait(&jobs[0][0], NULL, 0), TS_OK);
    ts_store_write_job idle = {0};
    cr_expect_eq(ts_store_write_wait(&idle, NULL, 0), TS_OK);
}
