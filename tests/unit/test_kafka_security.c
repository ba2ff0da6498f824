/* ts_kafka's handling of refusals: which errors count, what is recorded,
 * how /health and /metrics show it, and when SCRAM needs a warning. */
#include "ts_kafka.h"
#include "ts_metrics.h"

#include <criterion/criterion.h>
#include <string.h>

Test(kafka_security, scram_limit_by_version_and_mechanism)
{
    cr_expect_not_null(ts_kafka_scram_limit(0x020002ff, "SCRAM-SHA-512"), "2.0.2 with SCRAM");
    cr_expect_not_null(ts_kafka_scram_limit(0x020600ff, "SCRAM-SHA-256"), "2.6.0 with SCRAM");
    cr_expect_null(ts_kafka_scram_limit(0x020601ff, "SCRAM-SHA-512"), "2.6.1 is fixed");
    cr_expect_null(ts_kafka_scram_limit(0x020800ff, "SCRAM-SHA-512"), "2.8.0 is fixed");
    cr_expect_null(ts_kafka_scram_limit(0x020002ff, "PLAIN"), "not SCRAM");
    cr_expect_null(ts_kafka_scram_limit(0x020002ff, NULL), "no SASL");
}

Test(kafka_security, only_refusals_are_recorded)
{
    char msg[512];

    ts_kafka_problem_clear();
    ts_kafka_note_error(RD_KAFKA_RESP_ERR__TRANSPORT, "connection refused");
    ts_kafka_note_error(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, "1/1 brokers are down");
    cr_expect_eq(ts_kafka_problem(msg, sizeof(msg)), 0, "a refused TCP connection is no refusal");
    cr_expect_str_empty(msg);

    ts_kafka_note_error(RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED, "group tagstream");
    cr_assert_eq(ts_kafka_problem(msg, sizeof(msg)), 1);
    cr_expect(strstr(msg, "GROUP_AUTHORIZATION_FAILED: group tagstream") == msg, "%s", msg);
    cr_expect(strstr(msg, "Read on the consumer group") != NULL, "with what to check: %s", msg);
    ts_kafka_problem_clear();
    cr_expect_eq(ts_kafka_problem(msg, sizeof(msg)), 0);
}

/* A broker that wants a client certificate fails the handshake from its
 * side; the client sees a TLS alert as a transport error. */
Test(kafka_security, tls_alert_on_receive_is_a_tls_refusal)
{
    char msg[512];

    ts_kafka_problem_clear();
    ts_kafka_note_error(RD_KAFKA_RESP_ERR__TRANSPORT,
                        "Receive failed: error:0A000412:SSL routines::sslv3 alert bad certificate");
    cr_assert_eq(ts_kafka_problem(msg, sizeof(msg)), 1);
    cr_expect(strncmp(msg, "_SSL: ", 6) == 0, "%s", msg);
    ts_kafka_problem_clear();
}

Test(kafka_security, health_and_metrics_say_why)
{
    ts_metrics *m = ts_metrics_new();
    ts_buf b = TS_BUF_INIT;

    cr_assert_eq(ts_kafka_metrics_register(m), TS_OK);
    ts_kafka_problem_clear();
    cr_expect_eq(ts_kafka_health_detail(&b), 0);
    ts_metrics_render(m, &b);
    cr_expect(strstr(b.data, "\ntagstream_kafka_security_failure 0\n") != NULL, "%s", b.data);

    ts_kafka_note_error(RD_KAFKA_RESP_ERR__AUTHENTICATION, "SASL \"authentication\" failed");
    ts_buf_reset(&b);
    ts_buf_puts(&b, "\"starting\":true");
    cr_expect_eq(ts_kafka_health_detail(&b), 1);
    cr_expect(strstr(b.data, ",\"kafka_problem\":\"_AUTHENTICATION: SASL \\\"authentication\\\"") !=
                  NULL,
              "escaped JSON member: %s", b.data);
    ts_buf_reset(&b);
    ts_metrics_render(m, &b);
    cr_expect(strstr(b.data, "tagstream_kafka_security_failure{error=\"_AUTHENTICATION\"} 1") !=
                  NULL,
              "%s", b.data);
    ts_kafka_problem_clear();
    ts_buf_free(&b);
    ts_metrics_destroy(m);
}
