/* librdkafka statistics into metrics. */
#include "ts_kstats.h"

#include <criterion/criterion.h>
#include <string.h>

/* The parts of a librdkafka statistics document that matter here. */
static const char doc[] =
    "{\"name\":\"p#producer-1\",\"type\":\"producer\",\"msg_cnt\":7,\"tx_bytes\":1000,"
    "\"rx_bytes\":2000,\"txmsgs\":30,\"rxmsgs\":0,\"brokers\":{"
    "\"127.0.0.1:9092/1\":{\"nodeid\":1,\"source\":\"learned\",\"rtt\":{\"avg\":1500}},"
    "\"GroupCoordinator\":{\"nodeid\":1,\"source\":\"logical\",\"rtt\":{\"avg\":9}},"
    "\"127.0.0.1:9092/bootstrap\":{\"nodeid\":-1,\"source\":\"configured\",\"rtt\":{\"avg\":0}}"
    "}}";

Test(kstats, renders_the_latest_document)
{
    ts_metrics *m = ts_metrics_new();
    ts_kstats *k = ts_kstats_new(m);
    ts_buf out = TS_BUF_INIT;

    cr_assert_not_null(k);
    ts_kstats_update(k, "producer", doc, strlen(doc));
    ts_kstats_update(k, "producer", "not json", 8); /* ignored */
    cr_assert_eq(ts_metrics_render(m, &out), TS_OK);
    cr_expect(strstr(out.data, "tagstream_kafka_tx_bytes_total{client=\"producer\"} 1000\n"));
    cr_expect(strstr(out.data, "tagstream_kafka_rx_bytes_total{client=\"producer\"} 2000\n"));
    cr_expect(strstr(out.data, "tagstream_kafka_tx_messages_total{client=\"producer\"} 30\n"));
    cr_expect(strstr(out.data, "tagstream_kafka_queue_messages{client=\"producer\"} 7\n"));
    cr_expect(strstr(out.data, "tagstream_kafka_broker_rtt_seconds{client=\"producer\","
                               "broker=\"127.0.0.1:9092/1\"} 0.001500\n"),
              "%s", out.data);
    cr_expect_null(strstr(out.data, "GroupCoordinator"), "logical brokers are left out");
    cr_expect_null(strstr(out.data, "bootstrap"), "bootstrap entries are left out");
    ts_buf_free(&out);
    ts_kstats_destroy(k);
    ts_metrics_destroy(m);
}

Test(kstats, null_is_accepted)
{
    cr_expect_null(ts_kstats_new(NULL));
    ts_kstats_update(NULL, "x", doc, strlen(doc));
    ts_kstats_destroy(NULL);
}
