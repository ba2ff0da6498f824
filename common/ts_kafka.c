#include "ts_kafka.h"
#include "ts_log.h"

#include <string.h>

void ts_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    ts_log_level lvl;
    ts_log_ev *ev;

    /* syslog levels: 0..3 error, 4 warning, 5..6 notice/info, 7 debug */
    if (level <= 3)
        lvl = TS_LOG_ERROR;
    else if (level == 4)
        lvl = TS_LOG_WARN;
    else if (level <= 6)
        lvl = TS_LOG_INFO;
    else
        lvl = TS_LOG_DEBUG;
    ev = ts_log_begin(lvl, "rdkafka", "%s", buf);
    ts_log_cstr(ev, "facility", fac);
    ts_log_cstr(ev, "client", rk ? rd_kafka_name(rk) : "");
    ts_log_end(ev);
}

ts_err ts_kafka_conf_set(rd_kafka_conf_t *kc, const char *key, const char *value, char *errstr,
                         size_t errstr_size)
{
    char msg[512];

    if (rd_kafka_conf_set(kc, key, value, msg, sizeof(msg)) != RD_KAFKA_CONF_OK)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "kafka.%s: %s", key, msg);
    return TS_OK;
}

/* A kafka.* setting that a forced one replaces is named in a warning, so
 * that an operator who set it learns that it has no effect. */
static void ts_kafka_warn_overridden(const ts_conf *conf, const char *key, const char *value)
{
    for (size_t i = 0; conf && i < conf->kafka_cnt; i++) {
        ts_log_ev *ev;

        if (strcmp(conf->kafka[i].key, key) || !strcmp(conf->kafka[i].value, value))
            continue;
        ev = ts_log_begin(TS_LOG_WARN, "config", "kafka.%s is ignored: tagstream sets it", key);
        ts_log_cstr(ev, "given", conf->kafka[i].value);
        ts_log_cstr(ev, "used", value);
        ts_log_end(ev);
    }
}

rd_kafka_conf_t *ts_kafka_conf_new(const ts_conf *conf, const char *bootstrap,
                                   const char *const *defaults, const char *const *forced,
                                   char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *kc = rd_kafka_conf_new();

    rd_kafka_conf_set_log_cb(kc, ts_kafka_log_cb);
    if (bootstrap && ts_kafka_conf_set(kc, "bootstrap.servers", bootstrap, errstr, errstr_size))
        goto fail;
    for (size_t i = 0; defaults && defaults[i]; i += 2)
        if (ts_kafka_conf_set(kc, defaults[i], defaults[i + 1], errstr, errstr_size))
            goto fail;
    for (size_t i = 0; conf && i < conf->kafka_cnt; i++)
        if (ts_kafka_conf_set(kc, conf->kafka[i].key, conf->kafka[i].value, errstr, errstr_size))
            goto fail;
    for (size_t i = 0; forced && forced[i]; i += 2) {
        ts_kafka_warn_overridden(conf, forced[i], forced[i + 1]);
        if (ts_kafka_conf_set(kc, forced[i], forced[i + 1], errstr, errstr_size))
            goto fail;
    }
    return kc;
fail:
    rd_kafka_conf_destroy(kc);
    return NULL;
}

ts_err ts_kafka_error_to_err(const rd_kafka_error_t *error)
{
    rd_kafka_resp_err_t code;

    if (!error)
        return TS_OK;
    code = rd_kafka_error_code(error);
    if (rd_kafka_error_is_fatal(error))
        return code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
                       code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH
                   ? TS_ERR_FENCED
                   : TS_ERR_KAFKA;
    if (rd_kafka_error_txn_requires_abort(error))
        return TS_ERR_ABORTABLE;
    if (rd_kafka_error_is_retriable(error))
        return TS_ERR_TIMEOUT;
    return TS_ERR_KAFKA;
}

ts_err ts_kafka_topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms, int *partitions,
                                 int *brokers, char *errstr, size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err;

    err = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (err)
        return ts_seterr(TS_ERR_KAFKA, errstr, errstr_size, "cannot fetch cluster metadata: %s",
                         rd_kafka_err2str(err));
    *partitions = -1;
    if (brokers)
        *brokers = md->broker_cnt;
    for (int i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, topic))
            continue;
        if (md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
            *partitions = md->topics[i].partition_cnt;
        break;
    }
    rd_kafka_metadata_destroy(md);
    return TS_OK;
}

ts_err ts_kafka_create_topic(rd_kafka_t *rk, const char *topic, int partitions, int rf,
                             const char *const *config, int timeout_ms, char *errstr,
                             size_t errstr_size)
{
    const rd_kafka_topic_result_t **res;
    rd_kafka_NewTopic_t *nt;
    rd_kafka_queue_t *q;
    rd_kafka_event_t *ev;
    size_t n = 0;
    char msg[512];
    ts_err err = TS_OK;

    nt = rd_kafka_NewTopic_new(topic, partitions, rf, msg, sizeof(msg));
    if (!nt)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "cannot create topic %s: %s", topic,
                         msg);
    for (size_t i = 0; config && config[i]; i += 2) {
        if (rd_kafka_NewTopic_set_config(nt, config[i], config[i + 1])) {
            rd_kafka_NewTopic_destroy(nt);
            return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                             "cannot create topic %s: bad setting %s", topic, config[i]);
        }
    }
    q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_NewTopic_destroy(nt);
    ev = rd_kafka_queue_poll(q, timeout_ms);
    if (!ev) {
        rd_kafka_queue_destroy(q);
        return ts_seterr(TS_ERR_TIMEOUT, errstr, errstr_size,
                         "cannot create topic %s: no answer in %d ms", topic, timeout_ms);
    }
    if (rd_kafka_event_error(ev)) {
        err = ts_seterr(TS_ERR_KAFKA, errstr, errstr_size, "cannot create topic %s: %s", topic,
                        rd_kafka_event_error_string(ev));
    } else {
        res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        for (size_t i = 0; i < n && !err; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
            if (e)
                err = ts_seterr(e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS ? TS_ERR_EXISTS
                                                                            : TS_ERR_KAFKA,
                                errstr, errstr_size, "cannot create topic %s: %s", topic,
                                rd_kafka_topic_result_error_string(res[i]));
        }
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    return err;
}
