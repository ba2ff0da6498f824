#include "ts_sink.h"
#include "ts_kafka.h"
#include "ts_log.h"
#include "ts_tag.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ts_sink {
    const ts_pconf *conf;
    ts_pstats *stats;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    pthread_t poller;
    int poller_started;
    atomic_int poller_stop;
    char *key; /* scratch for the normalized tag */
    size_t key_cap;
    /* the brokers refused a record (an ACL): set once by the delivery
     * thread, read by the source's thread */
    atomic_int denied;
    char denied_msg[512];
};

static void ts_sink_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    ts_sink *s = opaque;
    uint64_t before;
    ts_log_ev *ev;

    (void)rk;
    if (!m->err) {
        ts_pstats_add(&s->stats->records_produced, 1);
        if (!atomic_exchange(&s->stats->kafka_connected, 1))
            ts_kafka_problem_clear(); /* through again */
        return;
    }
    before = atomic_fetch_add(&s->stats->delivery_failures, 1);
    if (ts_kafka_err_is_denied(m->err) && !atomic_load(&s->denied)) {
        ts_kafka_note_error(m->err, rd_kafka_err2str(m->err));
        ts_kafka_problem(s->denied_msg, sizeof(s->denied_msg));
        atomic_store(&s->denied, 1);
    }
    if (!ts_log_sampled(before, 10, 1000))
        return;
    ev = ts_log_begin(TS_LOG_ERROR, "kafka", "record not delivered");
    ts_log_cstr(ev, "error", rd_kafka_err2str(m->err));
    ts_log_str(ev, "key", m->key, m->key_len);
    ts_log_cstr(ev, "topic", rd_kafka_topic_name(m->rkt));
    ts_log_int(ev, "failures", (int64_t)before + 1);
    ts_log_end(ev);
}

static void ts_sink_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    ts_sink *s = opaque;
    ts_log_ev *ev;

    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        atomic_store(&s->stats->kafka_connected, 0);
    ts_kafka_note_error((rd_kafka_resp_err_t)err, reason);
    /* a warning: librdkafka retries, and a fatal error ends the run with the
     * producer's own error line */
    ev = ts_log_begin(TS_LOG_WARN, "kafka", "producer error");
    ts_log_cstr(ev, "error", rd_kafka_err2name((rd_kafka_resp_err_t)err));
    ts_log_cstr(ev, "reason", reason);
    ts_log_end(ev);
    (void)rk;
}

static void *ts_sink_poll_thread(void *opaque)
{
    ts_sink *s = opaque;

    while (!atomic_load(&s->poller_stop))
        rd_kafka_poll(s->rk, 100);
    return NULL;
}

ts_sink *ts_sink_new(const ts_pconf *conf, const ts_conf *raw, ts_pstats *stats, char *errstr,
                     size_t errstr_size)
{
    const char *defaults[] = {"enable.idempotence",
                              "true",
                              "acks",
                              "all",
                              "compression.type",
                              ts_pconf_compression_name(conf->compression),
                              "partitioner",
                              "murmur2_random",
                              "client.id",
                              "tagstream-producer",
                              "linger.ms",
                              "10",
                              NULL};
    ts_sink *s = calloc(1, sizeof(*s));
    rd_kafka_conf_t *kc;
    char msg[512];
    int parts = -1, brokers = 0;

    if (!s) {
        ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
        return NULL;
    }
    s->conf = conf;
    s->stats = stats;
    kc = ts_kafka_conf_new(raw, conf->bootstrap, defaults, NULL, errstr, errstr_size);
    if (!kc)
        goto fail_conf;
    rd_kafka_conf_set_opaque(kc, s);
    rd_kafka_conf_set_dr_msg_cb(kc, ts_sink_dr);
    rd_kafka_conf_set_error_cb(kc, ts_sink_error);
    s->rk = ts_kafka_new(RD_KAFKA_PRODUCER, kc, msg, sizeof(msg));
    if (!s->rk) {
        rd_kafka_conf_destroy(kc);
        ts_seterr(TS_ERR_KAFKA, errstr, errstr_size, "cannot create the Kafka producer: %s", msg);
        goto fail_conf;
    }
    if (ts_kafka_wait_connected(s->rk, (int)conf->startup_timeout_ms, "startup.timeout.ms", msg,
                                sizeof(msg)) ||
        ts_kafka_topic_partitions(s->rk, conf->topic, (int)conf->startup_timeout_ms, &parts,
                                  &brokers, msg, sizeof(msg))) {
        ts_seterr(TS_ERR_KAFKA, errstr, errstr_size, "%s (bootstrap.servers=%s)", msg,
                  conf->bootstrap);
        goto fail_rk;
    }
    if (parts < 1) {
        ts_seterr(TS_ERR_NOT_FOUND, errstr, errstr_size,
                  "topic %s does not exist: create it first (the brokers do not create topics "
                  "for the producer)",
                  conf->topic);
        goto fail_rk;
    }
    s->rkt = rd_kafka_topic_new(s->rk, conf->topic, NULL);
    if (!s->rkt) {
        ts_seterr(TS_ERR_KAFKA, errstr, errstr_size, "cannot use topic %s: %s", conf->topic,
                  rd_kafka_err2str(rd_kafka_last_error()));
        goto fail_rk;
    }
    atomic_store(&stats->kafka_connected, 1);
    if (pthread_create(&s->poller, NULL, ts_sink_poll_thread, s)) {
        ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "cannot start the delivery thread");
        goto fail_rkt;
    }
    s->poller_started = 1;
    {
        ts_log_ev *ev = ts_log_begin(TS_LOG_INFO, "kafka", "producer ready");
        ts_log_cstr(ev, "topic", conf->topic);
        ts_log_int(ev, "partitions", parts);
        ts_log_int(ev, "brokers", brokers);
        ts_log_cstr(ev, "compression", ts_pconf_compression_name(conf->compression));
        ts_log_end(ev);
    }
    return s;
fail_rkt:
    rd_kafka_topic_destroy(s->rkt);
fail_rk:
    rd_kafka_destroy(s->rk);
fail_conf:
    free(s);
    return NULL;
}

ts_err ts_sink_post(ts_sink *s, const ts_post *post, const atomic_int *stop, char *errstr,
                    size_t errstr_size)
{
    if (ts_sink_denied(s, errstr, errstr_size))
        return TS_ERR_DENIED;
    for (size_t i = 0; i < post->ntags; i++) {
        const char *tag = ts_post_tag_ptr(post, i);
        size_t n = post->tags[i].len, kl, need = ts_tag_normalize_cap(n);
        rd_kafka_resp_err_t err;

        if (need > s->key_cap) {
            char *k = realloc(s->key, need);
            if (!k)
                return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
            s->key = k;
            s->key_cap = need;
        }
        if (ts_tag_normalize(tag, n, s->key, s->key_cap, &kl) != TS_OK || kl == 0) {
            uint64_t before = ts_pstats_skip(s->stats, TS_SKIP_BAD_TAG);
            if (ts_log_sampled(before, 10, 1000)) {
                ts_log_ev *ev = ts_log_begin(TS_LOG_WARN, "kafka", "record skipped");
                ts_log_cstr(ev, "reason", ts_skip_name(TS_SKIP_BAD_TAG));
                ts_log_cstr(ev, "detail", "the tag normalizes to nothing");
                ts_log_str(ev, "sample", tag, n);
                ts_log_end(ev);
            }
            continue;
        }
        for (;;) {
            err = rd_kafka_producev(
                s->rk, RD_KAFKA_V_RKT(s->rkt), RD_KAFKA_V_KEY(s->key, kl),
                RD_KAFKA_V_VALUE((void *)tag, n), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_TIMESTAMP(post->created_ms >= 0 ? post->created_ms : 0), RD_KAFKA_V_END);
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                break;
            if (stop && atomic_load(stop))
                return TS_ERR_STOPPED;
            /* the delivery thread frees room; wait a little for it */
            {
                struct timespec ts = {0, 2 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
        }
        if (err == RD_KAFKA_RESP_ERR__FATAL) {
            char why[512];
            rd_kafka_fatal_error(s->rk, why, sizeof(why));
            return ts_seterr(TS_ERR_KAFKA, errstr, errstr_size, "the Kafka producer failed: %s",
                             why);
        }
        if (err) {
            /* e.g. a record over message.max.bytes: counted as not delivered */
            uint64_t before = atomic_fetch_add(&s->stats->delivery_failures, 1);
            if (ts_log_sampled(before, 10, 1000)) {
                ts_log_ev *ev = ts_log_begin(TS_LOG_ERROR, "kafka", "record not produced");
                ts_log_cstr(ev, "error", rd_kafka_err2str(err));
                ts_log_str(ev, "key", s->key, kl);
                ts_log_end(ev);
            }
            continue;
        }
        ts_pstats_add(&s->stats->records_sent, 1);
    }
    return TS_OK;
}

ts_err ts_sink_flush(ts_sink *s, int64_t timeout_ms, int *left)
{
    rd_kafka_resp_err_t err = rd_kafka_flush(s->rk, (int)timeout_ms);

    *left = rd_kafka_outq_len(s->rk);
    if (!err && *left == 0)
        return TS_OK;
    /* give up on the rest, so that their delivery reports (counted as
     * failures) come before the final counts are logged */
    rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    for (int i = 0; i < 50 && rd_kafka_outq_len(s->rk) > 0; i++)
        rd_kafka_poll(s->rk, 10);
    return TS_ERR_TIMEOUT;
}

int ts_sink_denied(const ts_sink *s, char *errstr, size_t errstr_size)
{
    if (!s || !atomic_load(&s->denied))
        return 0;
    ts_seterr(TS_ERR_DENIED, errstr, errstr_size, "the brokers refused the records: %s",
              s->denied_msg);
    return 1;
}

int ts_sink_ready(const ts_sink *s)
{
    return s && atomic_load(&s->stats->kafka_connected);
}

void ts_sink_destroy(ts_sink *s)
{
    if (!s)
        return;
    if (s->poller_started) {
        atomic_store(&s->poller_stop, 1);
        pthread_join(s->poller, NULL);
    }
    if (rd_kafka_outq_len(s->rk) > 0) {
        /* not flushed in time: drop the rest rather than wait in destroy */
        rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(s->rk, 0);
    }
    rd_kafka_topic_destroy(s->rkt);
    rd_kafka_destroy(s->rk);
    free(s->key);
    free(s);
}
