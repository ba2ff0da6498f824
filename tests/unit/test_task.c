/*
 * The windowed count task against a real RocksDB store in a temporary
 * directory, with a sink that records what the task emits and writes to the
 * changelog.
 */
#include "ts_fs.h"
#include "ts_keys.h"
#include "ts_task.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXREC 256

struct result {
    char tag[64];
    int64_t count, start, end, max_ts;
};

struct clrec {
    unsigned char key[128];
    size_t klen;
    int tombstone;
    int64_t count;
};

static struct {
    struct result results[MAXREC];
    int nresults;
    struct clrec changelog[MAXREC];
    int nchangelog;
} out;

static char dir[] = "/tmp/ts-test-task-XXXXXX";
static char store_dir[256];
static ts_task *task;

static ts_err emit(void *opaque, ts_task *t, const char *tag, size_t len, int64_t count,
                   int64_t start, int64_t end, int64_t max_ts, char *errstr, size_t errstr_size)
{
    struct result *r = &out.results[out.nresults++];

    (void)opaque;
    (void)t;
    (void)errstr;
    (void)errstr_size;
    cr_assert_lt(out.nresults, MAXREC);
    snprintf(r->tag, sizeof(r->tag), "%.*s", (int)len, tag);
    r->count = count;
    r->start = start;
    r->end = end;
    r->max_ts = max_ts;
    return TS_OK;
}

static ts_err changelog(void *opaque, ts_task *t, const void *key, size_t klen, const void *val,
                        size_t vlen, char *errstr, size_t errstr_size)
{
    struct clrec *c = &out.changelog[out.nchangelog++];
    int64_t ts;

    (void)opaque;
    (void)t;
    (void)errstr;
    (void)errstr_size;
    cr_assert_lt(out.nchangelog, MAXREC);
    cr_assert_leq(klen, sizeof(c->key));
    memcpy(c->key, key, klen);
    c->klen = klen;
    c->tombstone = val == NULL;
    if (val)
        cr_assert_eq(ts_value_decode(val, vlen, &c->count, &ts), TS_OK);
    return TS_OK;
}

static const ts_task_sink sink = {emit, changelog, NULL};

static void open_task(int64_t grace, int64_t retention)
{
    ts_task_config cfg = {20000, grace, retention, 4, "test-app"};
    char err[512];

    cr_assert_eq(ts_task_open(&cfg, store_dir, 0, NULL, &sink, &task, err, sizeof(err)), TS_OK,
                 "%s", err);
}

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
    snprintf(store_dir, sizeof(store_dir), "%s/1_0", dir);
    memset(&out, 0, sizeof(out));
    open_task(0, 3600000);
    cr_assert_eq(ts_task_load(task, INT64_MIN, -1, -1, NULL, 0), TS_OK);
}

static void teardown(void)
{
    ts_task_close(task);
    cr_expect_eq(ts_fs_remove_tree(dir, NULL, 0), TS_OK, "cannot remove %s", dir);
}

static int64_t offset;

static ts_task_result rec(const char *tag, int64_t ts)
{
    ts_task_result r;
    char err[512];

    cr_assert_eq(ts_task_process(task, tag, strlen(tag), ts, offset++, &r, err, sizeof(err)), TS_OK,
                 "%s", err);
    return r;
}

static void recs(const char *tag, int n, int64_t ts)
{
    for (int i = 0; i < n; i++)
        rec(tag, ts + i);
}

static void commit(void)
{
    char err[512];

    cr_assert_eq(ts_task_flush(task, err, sizeof(err)), TS_OK, "%s", err);
    cr_assert_eq(ts_task_committed(task, out.nchangelog, err, sizeof(err)), TS_OK, "%s", err);
}

static void expect_result(int i, const char *tag, int64_t count, int64_t start)
{
    cr_assert_gt(out.nresults, i, "result %d missing", i);
    cr_expect_str_eq(out.results[i].tag, tag, "result %d", i);
    cr_expect_eq(out.results[i].count, count, "result %d (%s) count", i, tag);
    cr_expect_eq(out.results[i].start, start, "result %d (%s) start", i, tag);
    cr_expect_eq(out.results[i].end, start + 20000, "result %d (%s) end", i, tag);
}

TestSuite(task, .init = setup, .fini = teardown);

Test(task, emits_counts_above_min_count_when_the_window_closes)
{
    recs("b", 5, 1000);
    recs("a", 5, 2000);
    recs("c", 4, 3000); /* exactly min.count: not emitted */
    rec("d", 19999);    /* last millisecond of the window */
    cr_expect_eq(out.nresults, 0, "nothing before the window closes");
    cr_expect_eq(rec("x", 20000), TS_TASK_COUNTED, "a boundary starts the next window");
    cr_assert_eq(out.nresults, 2);
    expect_result(0, "a", 5, 0); /* in tag byte order */
    expect_result(1, "b", 5, 0);
    cr_expect_eq(out.results[0].max_ts, 2004, "result timestamp: the window's newest record");
}

Test(task, late_records_are_dropped_and_counted)
{
    recs("a", 5, 1000);
    rec("x", 20000);
    cr_expect_eq(rec("a", 19999), TS_TASK_LATE);
    cr_expect_eq(ts_task_get_stats(task)->late, 1);
    cr_expect_eq(out.nresults, 1);
    expect_result(0, "a", 5, 0);
}

Test(task, grace_keeps_a_window_open)
{
    ts_task_close(task);
    open_task(5000, 3600000);
    cr_assert_eq(ts_task_load(task, INT64_MIN, -1, -1, NULL, 0), TS_OK);
    recs("a", 4, 1000);
    rec("x", 24999);
    cr_expect_eq(rec("a", 19000), TS_TASK_COUNTED, "within grace");
    cr_expect_eq(out.nresults, 0);
    rec("x", 25000);
    cr_assert_eq(out.nresults, 1);
    expect_result(0, "a", 5, 0);
    cr_expect_eq(rec("a", 19001), TS_TASK_LATE);
}

Test(task, several_windows_close_at_once_in_order)
{
    recs("b", 5, 100);
    recs("a", 6, 20100);
    recs("a", 5, 40100);
    rec("z", 100000);
    cr_assert_eq(out.nresults, 3);
    expect_result(0, "b", 5, 0);
    expect_result(1, "a", 6, 20000);
    expect_result(2, "a", 5, 40000);
}

Test(task, counts_survive_commit_and_reopen)
{
    recs("a", 3, 1000);
    commit();
    cr_expect_eq(out.nchangelog, 1, "one changelog record per changed key");
    cr_expect_eq(out.changelog[0].count, 3);
    ts_task_close(task);
    open_task(0, 3600000);
    cr_assert_eq(ts_task_load(task, 1002, offset, out.nchangelog, NULL, 0), TS_OK);
    recs("a", 2, 1500);
    rec("x", 20000);
    cr_assert_eq(out.nresults, 1);
    expect_result(0, "a", 5, 0);
}

Test(task, changelog_gets_one_record_per_key_per_commit)
{
    recs("a", 50, 1000);
    recs("b", 7, 1000);
    commit();
    cr_expect_eq(out.nchangelog, 2);
    recs("a", 1, 2000);
    commit();
    cr_assert_eq(out.nchangelog, 3);
    cr_expect_eq(out.changelog[2].count, 51, "absolute counts, not deltas");
    /* Nothing read RocksDB: a and b were new to an empty store, and the
     * second interval found a among the first commit's keys, kept in
     * memory while their store write runs. */
    cr_expect_eq(ts_task_get_stats(task)->store_reads, 0, "store reads");
    recs("b", 1, 2000);
    commit();
    cr_expect_eq(ts_task_get_stats(task)->store_reads, 1, "b was in the store only");
    cr_expect_eq(out.changelog[3].count, 8);
    rec("c", 20000); /* a window the store has none of yet */
    cr_expect_eq(ts_task_get_stats(task)->store_reads, 1, "no read for a newer window");
}

Test(task, abort_returns_to_the_committed_state)
{
    recs("a", 3, 1000);
    commit();
    recs("a", 3, 2000);
    rec("x", 20000); /* closes window 0 with a = 6 */
    cr_assert_eq(out.nresults, 1);
    cr_assert_eq(ts_task_abort(task, NULL, 0), TS_OK);
    cr_expect_eq(ts_task_stream_time(task), 1002);
    cr_expect_eq(ts_task_next_offset(task), 3);
    /* the same input again gives the same result again */
    offset = 3;
    recs("a", 3, 2000);
    rec("x", 20000);
    cr_assert_eq(out.nresults, 2);
    expect_result(1, "a", 6, 0);
    commit();
}

Test(task, expired_windows_are_tombstoned)
{
    ts_task_close(task);
    open_task(0, 20000);
    cr_assert_eq(ts_task_load(task, INT64_MIN, -1, -1, NULL, 0), TS_OK);
    recs("a", 5, 1000);
    recs("b", 1, 1000);
    commit();
    int before = out.nchangelog;
    rec("x", 39999); /* window 0 closed, not yet expired (end + retention = 40000) */
    cr_expect_eq(ts_task_get_stats(task)->windows_expired, 0);
    rec("x", 40000);
    cr_expect_eq(ts_task_get_stats(task)->windows_expired, 1);
    commit();
    int tombstones = 0;
    for (int i = before; i < out.nchangelog; i++)
        tombstones += out.changelog[i].tombstone;
    cr_expect_eq(tombstones, 2, "one tombstone per key of the expired window");
    /* and the store no longer has them */
    int64_t c, m;
    int found = 1;
    cr_assert_eq(ts_task_sync(task, NULL, 0), TS_OK);
    cr_assert_eq(ts_store_get(ts_task_store(task), 0, "a", 1, &c, &m, &found, NULL, 0), TS_OK);
    cr_expect_not(found);
}

Test(task, stream_time_metadata_round_trip)
{
    char buf[64];
    int64_t st = 0;
    size_t n = ts_task_meta_format(buf, sizeof(buf), 1764176400123);

    cr_expect(ts_task_meta_parse(buf, n, &st));
    cr_expect_eq(st, 1764176400123);
    n = ts_task_meta_format(buf, sizeof(buf), -5);
    cr_expect(ts_task_meta_parse(buf, n, &st));
    cr_expect_eq(st, -5);
    cr_expect_not(ts_task_meta_parse("other", 5, &st));
    cr_expect_not(ts_task_meta_parse("tagstream:1:st=12x", 18, &st));
    cr_expect_not(ts_task_meta_parse(NULL, 0, &st));
}

Test(task, advance_closes_due_windows_like_a_record_would)
{
    char err[512];

    recs("a", 5, 1000);
    cr_assert_eq(ts_task_next_due(task), 20000, "window 0 closes at stream time 20000");
    cr_assert_eq(ts_task_advance(task, 19999, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_eq(out.nresults, 0, "not yet due");
    cr_assert_eq(ts_task_advance(task, 25000, err, sizeof(err)), TS_OK, "%s", err);
    cr_assert_eq(out.nresults, 1);
    expect_result(0, "a", 5, 0);
    cr_expect_eq(ts_task_stream_time(task), 25000);
    cr_expect_eq(ts_task_next_due(task), 3620000, "then only window 0's expiry is pending");
    cr_expect(ts_task_dirty(task), "the new stream time is to be committed");
    cr_expect_eq(rec("a", 19000), TS_TASK_LATE, "a record for the closed window is late");
    cr_expect_eq(ts_task_advance(task, 24000, err, sizeof(err)), TS_OK, "never backwards");
    cr_expect_eq(ts_task_stream_time(task), 25000);
}

Test(task, advance_is_undone_by_an_abort_and_done_once_after_a_commit)
{
    char err[512];

    recs("a", 5, 1000);
    commit();
    cr_assert_eq(ts_task_advance(task, 20000, err, sizeof(err)), TS_OK, "%s", err);
    cr_assert_eq(out.nresults, 1);
    cr_assert_eq(ts_task_abort(task, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_eq(ts_task_stream_time(task), 1004, "back to the committed stream time");
    cr_expect_eq(ts_task_next_due(task), 20000, "window 0 is open again");
    cr_expect_eq(rec("a", 1500), TS_TASK_COUNTED);
    cr_assert_eq(ts_task_advance(task, 20000, err, sizeof(err)), TS_OK, "%s", err);
    cr_assert_eq(out.nresults, 2);
    expect_result(1, "a", 6, 0);
    commit();
    cr_assert_eq(ts_task_advance(task, 30000, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_eq(out.nresults, 2, "a closed window is emitted once");
}

Test(task, advance_without_a_record_does_nothing)
{
    char err[512];

    cr_assert_eq(ts_task_advance(task, 100000, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_eq(ts_task_stream_time(task), INT64_MIN);
    cr_expect_not(ts_task_dirty(task));
}
