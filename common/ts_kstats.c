#include "ts_kstats.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS_KSTATS_CLIENTS 8
#define TS_KSTATS_BROKERS 16

typedef struct ts_kstats_client {
    char name[32];
    double tx_bytes, rx_bytes, txmsgs, rxmsgs, msg_cnt;
    int nbrokers;
    struct {
        char name[128];
        double rtt_s;
    } brokers[TS_KSTATS_BROKERS];
} ts_kstats_client;

typedef enum {
    TS_KS_TX_BYTES,
    TS_KS_RX_BYTES,
    TS_KS_TXMSGS,
    TS_KS_RXMSGS,
    TS_KS_QUEUE,
    TS_KS_RTT,
} ts_ks_family;

typedef struct ts_ks_collector {
    ts_kstats *k;
    ts_ks_family family;
} ts_ks_collector;

struct ts_kstats {
    pthread_mutex_t lock;
    ts_kstats_client clients[TS_KSTATS_CLIENTS];
    int nclients;
    ts_ks_collector collectors[6]; /* the opaque of each family's collector */
};

static void ts_ks_label(ts_buf *out, const char *name, const char *value)
{
    char buf[256];
    const char *pairs[] = {name, value, NULL};

    ts_buf_puts(out, ts_metrics_labels(buf, sizeof(buf), pairs));
}

static void ts_ks_collect(void *opaque, ts_buf *out)
{
    static const char *const names[] = {
        "tagstream_kafka_tx_bytes_total",    "tagstream_kafka_rx_bytes_total",
        "tagstream_kafka_tx_messages_total", "tagstream_kafka_rx_messages_total",
        "tagstream_kafka_queue_messages",    "tagstream_kafka_broker_rtt_seconds"};
    ts_ks_collector *c = opaque;
    ts_kstats *k = c->k;

    pthread_mutex_lock(&k->lock);
    for (int i = 0; i < k->nclients; i++) {
        ts_kstats_client *cl = &k->clients[i];
        double v = 0;
        if (c->family == TS_KS_RTT) {
            for (int b = 0; b < cl->nbrokers; b++) {
                char buf[512];
                const char *pairs[] = {"client", cl->name, "broker", cl->brokers[b].name, NULL};
                ts_buf_printf(out, "%s{%s} %.6f\n", names[TS_KS_RTT],
                              ts_metrics_labels(buf, sizeof(buf), pairs), cl->brokers[b].rtt_s);
            }
            continue;
        }
        switch (c->family) {
        case TS_KS_TX_BYTES:
            v = cl->tx_bytes;
            break;
        case TS_KS_RX_BYTES:
            v = cl->rx_bytes;
            break;
        case TS_KS_TXMSGS:
            v = cl->txmsgs;
            break;
        case TS_KS_RXMSGS:
            v = cl->rxmsgs;
            break;
        default:
            v = cl->msg_cnt;
        }
        ts_buf_printf(out, "%s{", names[c->family]);
        ts_ks_label(out, "client", cl->name);
        ts_buf_printf(out, "} %.0f\n", v);
    }
    pthread_mutex_unlock(&k->lock);
}

ts_kstats *ts_kstats_new(ts_metrics *m)
{
    static const struct {
        const char *name, *help, *type;
    } fam[] = {
        {"tagstream_kafka_tx_bytes_total", "Bytes sent to brokers (librdkafka statistics).",
         "counter"},
        {"tagstream_kafka_rx_bytes_total", "Bytes received from brokers (librdkafka statistics).",
         "counter"},
        {"tagstream_kafka_tx_messages_total", "Messages sent to brokers (librdkafka statistics).",
         "counter"},
        {"tagstream_kafka_rx_messages_total",
         "Messages received from brokers (librdkafka statistics).", "counter"},
        {"tagstream_kafka_queue_messages",
         "Messages waiting in the client's queues (librdkafka statistics).", "gauge"},
        {"tagstream_kafka_broker_rtt_seconds",
         "Average request round-trip time to each broker over the last statistics interval "
         "(for a consumer this includes the fetch long-poll wait).",
         "gauge"},
    };
    ts_kstats *k;

    if (!m)
        return NULL;
    k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    pthread_mutex_init(&k->lock, NULL);
    for (int i = 0; i < 6; i++) {
        k->collectors[i].k = k;
        k->collectors[i].family = (ts_ks_family)i;
        ts_metrics_add_collector(m, fam[i].name, fam[i].help, fam[i].type, ts_ks_collect,
                                 &k->collectors[i]);
    }
    return k;
}

void ts_kstats_destroy(ts_kstats *k)
{
    if (!k)
        return;
    pthread_mutex_destroy(&k->lock);
    free(k);
}

static double ts_ks_num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    return json_is_number(v) ? json_number_value(v) : 0;
}

void ts_kstats_update(ts_kstats *k, const char *client, const char *json, size_t len)
{
    ts_kstats_client snap, *slot = NULL;
    json_error_t jerr;
    json_t *root, *brokers, *b;
    const char *bname;

    if (!k)
        return;
    root = json_loadb(json, len, 0, &jerr);
    if (!root)
        return;
    memset(&snap, 0, sizeof(snap));
    snprintf(snap.name, sizeof(snap.name), "%s", client);
    snap.tx_bytes = ts_ks_num(root, "tx_bytes");
    snap.rx_bytes = ts_ks_num(root, "rx_bytes");
    snap.txmsgs = ts_ks_num(root, "txmsgs");
    snap.rxmsgs = ts_ks_num(root, "rxmsgs");
    snap.msg_cnt = ts_ks_num(root, "msg_cnt");
    brokers = json_object_get(root, "brokers");
    json_object_foreach(brokers, bname, b)
    {
        json_t *rtt = json_object_get(b, "rtt");
        const char *source = json_string_value(json_object_get(b, "source"));
        /* real brokers only: not the bootstrap entries, nor the logical
         * coordinator handles that share a real broker's connection */
        if (snap.nbrokers == TS_KSTATS_BROKERS || ts_ks_num(b, "nodeid") < 0 || !source ||
            !strcmp(source, "logical") || !strcmp(source, "internal"))
            continue;
        snprintf(snap.brokers[snap.nbrokers].name, sizeof(snap.brokers[0].name), "%s", bname);
        snap.brokers[snap.nbrokers].rtt_s = ts_ks_num(rtt, "avg") / 1e6;
        snap.nbrokers++;
    }
    json_decref(root);
    pthread_mutex_lock(&k->lock);
    for (int i = 0; i < k->nclients; i++)
        if (!strcmp(k->clients[i].name, client))
            slot = &k->clients[i];
    if (!slot && k->nclients < TS_KSTATS_CLIENTS)
        slot = &k->clients[k->nclients++];
    if (slot)
        *slot = snap;
    pthread_mutex_unlock(&k->lock);
}
