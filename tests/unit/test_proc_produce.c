/*
 * ts_proc_produce when the producer's queue stays full: it retries
 * (QUEUE_FULL) and finally fails, and the headers of a dead-letter record
 * are copied once, not once per retry (each copy librdkafka did not take
 * used to leak). A producer aimed at a closed loopback port, with a queue of
 * one message, keeps the queue full; the heap in use before and after the
 * call shows the leak. No broker.
 */
#include "ts_proc_int.h"
#include "ts_proc_txn_int.h"

#include <criterion/criterion.h>

#include <malloc.h>
#include <stdio.h>
#include <string.h>

Test(proc_produce, queue_full_retries_do_not_leak_headers, .timeout = 60)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_headers_t *h = rd_kafka_headers_new(4);
    ts_processor p;
    size_t before, after;
    ts_err e;

    cr_assert_eq(rd_kafka_conf_set(conf, "bootstrap.servers", "127.0.0.1:1", err, sizeof(err)),
                 RD_KAFKA_CONF_OK);
    cr_assert_eq(rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1", err, sizeof(err)),
                 RD_KAFKA_CONF_OK);
    cr_assert_eq(rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err)), RD_KAFKA_CONF_OK);
    memset(&p, 0, sizeof(p));
    p.producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    cr_assert_not_null(p.producer, "%s", err);
    /* the one message the queue holds, never delivered */
    cr_assert_eq(ts_proc_produce(&p, "t", 0, "k", 1, "v", 1, 1, NULL, NULL, err, sizeof(err)),
                 TS_OK, "%s", err);
    rd_kafka_header_add(h, "tagstream.error.reason", -1, "invalid_utf8", -1);
    rd_kafka_header_add(h, "tagstream.source.topic", -1, "twitter_input", -1);
    rd_kafka_header_add(h, "tagstream.source.partition", -1, "0", -1);
    rd_kafka_header_add(h, "tagstream.source.offset", -1, "12345", -1);

    before = mallinfo2().uordblks;
    e = ts_proc_produce(&p, "dlq", RD_KAFKA_PARTITION_UA, "k", 1, "bad\xff", 4, 1, NULL, h, err,
                        sizeof(err));
    after = mallinfo2().uordblks;
    cr_expect_eq(e, TS_ERR_KAFKA);
    cr_expect(strstr(err, "dlq") && strstr(err, "full"), "%s", err);
    /* about 1000 retries: a copy each would be well over 100 KiB */
    cr_expect_lt(after > before ? after - before : 0, 64 * 1024,
                 "the heap grew by %zu bytes during the retries", after - before);

    rd_kafka_headers_destroy(h);
    rd_kafka_purge(p.producer, RD_KAFKA_PURGE_F_QUEUE);
    rd_kafka_destroy(p.producer);
}
