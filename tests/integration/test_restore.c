/*
 * ts_restore against the real broker and a real RocksDB store: bad
 * changelog records. A key that is not a window key is skipped; a bad value
 * deletes its key in changelog order (the records before it do not outlive
 * it, a later good record sets the key again); each is logged and counted,
 * and the restore finishes at the partition's end.
 */
#include "testkit.h"
#include "ts_fs.h"
#include "ts_keys.h"
#include "ts_metrics.h"
#include "ts_restore.h"
#include "ts_store.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char tmp[] = "/tmp/ts-restore-XXXXXX";

static void setup(void)
{
    cr_assert_not_null(mkdtemp(tmp));
}

static void teardown(void)
{
    cr_expect_eq(ts_fs_remove_tree(tmp, NULL, 0), TS_OK);
}

TestSuite(restore, .init = setup, .fini = teardown);

#define W 1795712400000LL

static void send_entry(rd_kafka_t *pr, const char *topic, const char *tag, const void *val,
                       size_t vlen)
{
    unsigned char key[64];
    size_t klen = ts_key_window_encode(key, W, tag, strlen(tag));

    tk_send(pr, topic, 0, key, klen, val, vlen, W);
}

static void send_count(rd_kafka_t *pr, const char *topic, const char *tag, int64_t count)
{
    unsigned char v[TS_VALUE_LEN];

    ts_value_encode(v, count, W + 1);
    send_entry(pr, topic, tag, v, sizeof(v));
}

static void expect_entry(ts_store *s, const char *tag, int64_t want)
{
    char err[512];
    int64_t count = 0, max_ts;
    int found = 0;

    cr_assert_eq(ts_store_get(s, W, tag, strlen(tag), &count, &max_ts, &found, err, sizeof(err)),
                 TS_OK, "%s", err);
    if (want < 0)
        cr_expect_not(found, "\"%s\" should be absent, has count %lld", tag, (long long)count);
    else
        cr_expect(found && count == want, "\"%s\": found %d, count %lld, expected %lld", tag, found,
                  (long long)count, (long long)want);
}

Test(restore, bad_records_are_skipped_or_delete_their_key, .timeout = 120)
{
    char *topic = tk_unique("restore-bad");
    unsigned char v2[TS_VALUE_LEN], shortv[5] = {TS_VALUE_V1, 0, 0, 0, 1};
    char path[300], err[512];
    rd_kafka_t *pr;
    ts_metrics *metrics = ts_metrics_new();
    ts_counter *bad = ts_metrics_counter(metrics, "bad_total", "Bad.", NULL);
    ts_restore *r;
    ts_store *s;
    ts_restore_done done[4];
    size_t ndone = 0;
    int32_t failed = -1;
    int64_t low, end;

    tk_create_topic(topic, 1, 1, NULL);
    pr = tk_producer(NULL, NULL);
    ts_value_encode(v2, 9, W + 1);
    v2[0] = 0x02;                               /* a version this build does not know */
    send_count(pr, topic, "a", 5);              /* 0 */
    send_count(pr, topic, "b", 3);              /* 1 */
    send_entry(pr, topic, "a", shortv, 5);      /* 2: bad size: "a" deleted */
    send_entry(pr, topic, "c", v2, sizeof(v2)); /* 3: unknown version: "c" deleted */
    tk_send(pr, topic, 0, "zzz", 3, v2, 17, W); /* 4: not a window key: skipped */
    send_count(pr, topic, "c", 7);              /* 5: "c" set again */
    send_count(pr, topic, "d", 2);              /* 6 */
    send_count(pr, topic, "d", -4);             /* 7: negative: "d" deleted */
    send_count(pr, topic, "e", 1);              /* 8 */
    tk_flush(pr);
    rd_kafka_destroy(pr);

    snprintf(path, sizeof(path), "%s/1_0", tmp);
    cr_assert_eq(ts_store_open(path, TS_STORE_READ_WRITE, NULL, NULL, &s, err, sizeof(err)), TS_OK,
                 "%s", err);
    /* one batch for everything: the delete must still come after "a"=5 */
    cr_assert_eq(ts_restore_new(NULL, tk_bootstrap(), topic, 1000, &r, err, sizeof(err)), TS_OK,
                 "%s", err);
    ts_restore_set_bad_counter(r, bad);
    cr_assert_eq(ts_restore_watermarks(r, 0, 10000, &low, &end, err, sizeof(err)), TS_OK, "%s",
                 err);
    cr_assert_eq(end, 9);
    cr_assert_eq(ts_restore_add(r, 0, s, low, end, err, sizeof(err)), TS_OK, "%s", err);
    for (int i = 0; i < 300 && ndone == 0; i++)
        cr_assert_eq(ts_restore_step(r, 100, done, 4, &ndone, &failed, err, sizeof(err)), TS_OK,
                     "%s", err);
    cr_assert_eq(ndone, 1, "the restore did not finish");
    cr_expect_eq(done[0].next_offset, 9);
    cr_expect_eq(done[0].bad, 4);
    cr_expect_eq(done[0].records, 5);
    cr_expect_eq(ts_counter_get(bad), 4);
    expect_entry(s, "a", -1);
    expect_entry(s, "b", 3);
    expect_entry(s, "c", 7);
    expect_entry(s, "d", -1);
    expect_entry(s, "e", 1);

    ts_restore_destroy(r);
    ts_store_close(s);
    ts_metrics_destroy(metrics);
    tk_delete_topic(topic);
    free(topic);
}
