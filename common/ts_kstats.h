/*
 * ts_kstats: librdkafka's own statistics as Prometheus metrics.
 *
 * librdkafka already counts bytes and messages sent and received, the
 * messages waiting in a producer's queue and the round-trip time to each
 * broker; it reports them as a JSON document every statistics.interval.ms.
 * The owner of a client installs a stats callback that passes the document to
 * ts_kstats_update; the latest figures are rendered on /metrics as
 *   tagstream_kafka_tx_bytes_total{client="..."}, ..._rx_bytes_total,
 *   tagstream_kafka_tx_messages_total, tagstream_kafka_rx_messages_total,
 *   tagstream_kafka_queue_messages, tagstream_kafka_broker_rtt_seconds{client,broker}.
 *
 * Thread: ts_kstats_update from the thread that serves the client's
 * callbacks; rendering from the HTTP thread (a mutex between them).
 */
#ifndef TS_KSTATS_H
#define TS_KSTATS_H

#include "ts_err.h"
#include "ts_metrics.h"

#include <stddef.h>

typedef struct ts_kstats ts_kstats;

/* Registers the families on m (which must outlive it). NULL if m is NULL or
 * out of memory: every function accepts NULL. */
ts_kstats *ts_kstats_new(ts_metrics *m);
void ts_kstats_destroy(ts_kstats *k);

/* Take a statistics document of the client labelled `client` ("producer",
 * "consumer", ...; at most 8 clients). Bad JSON is ignored. */
void ts_kstats_update(ts_kstats *k, const char *client, const char *json, size_t len);

#endif
