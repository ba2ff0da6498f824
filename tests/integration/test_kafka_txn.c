/*
 * The transactional guarantees tagstream's exactly-once design rests on,
 * checked against the real broker with Debian's librdkafka (the built-in mock
 * cluster gets every one of these wrong).
 */
#include "testkit.h"
#include "ts_kafka.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TXN_TIMEOUT 30000

static void txn_ok(rd_kafka_error_t *e, const char *what)
{
    cr_assert_null(e, "%s: %s", what, e ? rd_kafka_error_string(e) : "");
}

static void produce_in_txn(rd_kafka_t *p, const char *topic, const char *prefix, int n)
{
    char v[64];

    for (int i = 0; i < n; i++) {
        snprintf(v, sizeof(v), "%s-%d", prefix, i);
        cr_assert_eq(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(i % 3),
                                       RD_KAFKA_V_VALUE(v, strlen(v)),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     0);
    }
}

Test(kafka_txn, aborted_records_are_invisible_to_read_committed, .timeout = 120)
{
    char *topic = tk_unique("txn-abort"), *txid = tk_unique("txid");
    rd_kafka_t *p;
    tk_records committed, all;
    int seen[10] = {0};

    tk_create_topic(topic, 3, 1, NULL);
    p = tk_producer(txid, NULL);
    txn_ok(rd_kafka_init_transactions(p, TXN_TIMEOUT), "init");
    txn_ok(rd_kafka_begin_transaction(p), "begin");
    produce_in_txn(p, topic, "aborted", 10);
    cr_assert_eq(rd_kafka_flush(p, TXN_TIMEOUT), 0, "the aborted records reach the log");
    txn_ok(rd_kafka_abort_transaction(p, TXN_TIMEOUT), "abort");
    txn_ok(rd_kafka_begin_transaction(p), "begin");
    produce_in_txn(p, topic, "committed", 10);
    txn_ok(rd_kafka_commit_transaction(p, TXN_TIMEOUT), "commit");

    committed = tk_consume_all(topic, 0, 0, 3000);
    all = tk_consume_all(topic, 1, 20, 10000);
    cr_expect_eq(all.n, 20, "read_uncommitted sees the aborted records too (they were written)");
    cr_assert_eq(committed.n, 10, "read_committed sees only the committed transaction");
    for (size_t i = 0; i < committed.n; i++) {
        int k;
        cr_assert_eq(sscanf(committed.v[i].value, "committed-%d", &k), 1, "unexpected %s",
                     committed.v[i].value);
        cr_assert(k >= 0 && k < 10);
        seen[k]++;
    }
    for (int k = 0; k < 10; k++)
        cr_expect_eq(seen[k], 1, "committed-%d seen %d times", k, seen[k]);
    tk_records_free(&committed);
    tk_records_free(&all);
    rd_kafka_destroy(p);
    free(topic);
    free(txid);
}

static void send_offsets(rd_kafka_t *p, rd_kafka_t *c, const char *topic, int64_t off,
                         const char *meta)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_add(l, topic, 0);
    rd_kafka_consumer_group_metadata_t *md = rd_kafka_consumer_group_metadata(c);

    tp->offset = off;
    tp->metadata = strdup(meta);
    tp->metadata_size = strlen(meta);
    txn_ok(rd_kafka_send_offsets_to_transaction(p, l, md, TXN_TIMEOUT), "send offsets");
    rd_kafka_consumer_group_metadata_destroy(md);
    rd_kafka_topic_partition_list_destroy(l);
}

Test(kafka_txn, offsets_commit_with_their_transaction_only, .timeout = 120)
{
    char *topic = tk_unique("txn-offsets"), *txid = tk_unique("txid"), *group = tk_unique("grp");
    rd_kafka_t *p, *c;
    rd_kafka_topic_partition_list_t *l;

    tk_create_topic(topic, 1, 1, NULL);
    c = tk_group_consumer(group, topic);
    p = tk_producer(txid, NULL);
    txn_ok(rd_kafka_init_transactions(p, TXN_TIMEOUT), "init");

    txn_ok(rd_kafka_begin_transaction(p), "begin");
    send_offsets(p, c, topic, 5, "aborted");
    txn_ok(rd_kafka_abort_transaction(p, TXN_TIMEOUT), "abort");
    cr_expect_eq(tk_committed(group, topic, 0), RD_KAFKA_OFFSET_INVALID,
                 "offsets sent in an aborted transaction are not committed");

    txn_ok(rd_kafka_begin_transaction(p), "begin");
    send_offsets(p, c, topic, 7, "st=123");
    txn_ok(rd_kafka_commit_transaction(p, TXN_TIMEOUT), "commit");
    cr_expect_eq(tk_committed(group, topic, 0), 7);

    /* the metadata travels with the offset (tagstream keeps stream time there) */
    l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, 0);
    cr_assert_eq(rd_kafka_committed(c, l, 30000), 0);
    cr_expect_eq(l->elems[0].metadata_size, 6);
    cr_expect(l->elems[0].metadata && !memcmp(l->elems[0].metadata, "st=123", 6));
    rd_kafka_topic_partition_list_destroy(l);

    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    rd_kafka_destroy(p);
    free(topic);
    free(txid);
    free(group);
}

Test(kafka_txn, a_new_producer_fences_the_old_one, .timeout = 120)
{
    char *topic = tk_unique("txn-fence"), *txid = tk_unique("txid");
    rd_kafka_t *zombie, *fresh;
    rd_kafka_error_t *e;
    tk_records r;

    tk_create_topic(topic, 3, 1, NULL);
    zombie = tk_producer(txid, NULL);
    txn_ok(rd_kafka_init_transactions(zombie, TXN_TIMEOUT), "init");
    txn_ok(rd_kafka_begin_transaction(zombie), "begin");
    produce_in_txn(zombie, topic, "zombie", 3);
    rd_kafka_flush(zombie, TXN_TIMEOUT);

    /* Same transactional.id: this aborts the zombie's open transaction. */
    fresh = tk_producer(txid, NULL);
    txn_ok(rd_kafka_init_transactions(fresh, TXN_TIMEOUT), "init fresh");

    e = rd_kafka_commit_transaction(zombie, TXN_TIMEOUT);
    cr_assert_not_null(e, "the zombie must not be able to commit");
    cr_expect(rd_kafka_error_is_fatal(e), "fencing is fatal for the zombie: %s",
              rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);

    txn_ok(rd_kafka_begin_transaction(fresh), "begin fresh");
    produce_in_txn(fresh, topic, "fresh", 3);
    txn_ok(rd_kafka_commit_transaction(fresh, TXN_TIMEOUT), "commit fresh");

    r = tk_consume_all(topic, 0, 0, 3000);
    cr_expect_eq(r.n, 3, "only the new producer's records are visible");
    for (size_t i = 0; i < r.n; i++)
        cr_expect(!strncmp(r.v[i].value, "fresh-", 6), "unexpected %s", r.v[i].value);
    tk_records_free(&r);
    rd_kafka_destroy(zombie);
    rd_kafka_destroy(fresh);
    free(topic);
    free(txid);
}

/* The Admin helper both the processor and the drill create topics with. */
Test(kafka_txn, create_topic_reports_exists_and_refusals, .timeout = 120)
{
    static const char *const compact[] = {"cleanup.policy", "compact", NULL};
    static const char *const bogus[] = {"no.such.topic.setting", "1", NULL};
    char *topic = tk_unique("create"), *other = tk_unique("create-bad"), err[512] = "";
    rd_kafka_t *p = tk_producer(NULL, NULL);
    int parts = 0, brokers = 0;

    cr_assert_eq(ts_kafka_create_topic(p, topic, 2, 1, compact, 30000, err, sizeof(err)), TS_OK,
                 "%s", err);
    cr_assert_eq(ts_kafka_topic_partitions(p, topic, 10000, &parts, &brokers, err, sizeof(err)),
                 TS_OK, "%s", err);
    cr_expect_eq(parts, 2);
    cr_expect_eq(ts_kafka_create_topic(p, topic, 2, 1, NULL, 30000, err, sizeof(err)),
                 TS_ERR_EXISTS, "%s", err);
    cr_expect(strstr(err, topic) != NULL, "the message names the topic: %s", err);
    cr_expect_eq(ts_kafka_create_topic(p, other, 1, 1, bogus, 30000, err, sizeof(err)),
                 TS_ERR_KAFKA, "the broker refuses an unknown setting: %s", err);
    cr_expect(strstr(err, other) != NULL, "%s", err);
    cr_expect_eq(ts_kafka_create_topic(p, other, 1, brokers + 1, NULL, 30000, err, sizeof(err)),
                 TS_ERR_KAFKA, "more replicas than brokers: %s", err);
    rd_kafka_destroy(p);
    tk_delete_topic(topic);
    free(topic);
    free(other);
}
