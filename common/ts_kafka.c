#include "ts_kafka.h"
#include "ts_clock.h"
#include "ts_log.h"
#include "ts_msk_iam.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The first librdkafka release that does SCRAM with Kafka 4.x brokers. */
#define TS_KAFKA_SCRAM_MIN_VERSION 0x02060100

/* ---- security failures, process-wide ---- */

static pthread_mutex_t ts_kafka_problem_lock = PTHREAD_MUTEX_INITIALIZER;
static char ts_kafka_problem_msg[768];   /* "" when none */
static char ts_kafka_problem_code[64];   /* its error name, for the metric label */
static atomic_ullong ts_kafka_problem_n; /* failures recorded, ever */
/* sasl.mechanism(s) of the last conf (the caller's ts_conf outlives the
 * clients), for the hint of an authentication failure */
static _Atomic(const char *) ts_kafka_mechanisms;

int ts_kafka_err_is_denied(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR__SSL:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM:
    case RD_KAFKA_RESP_ERR_ILLEGAL_SASL_STATE:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_DELEGATION_TOKEN_AUTHORIZATION_FAILED:
        return 1;
    default:
        return 0;
    }
}

/* What to check, for an error that retrying cannot cure. */
static const char *ts_kafka_denied_hint(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
        if (ts_msk_iam_enabled())
            return "check the AWS credentials, msk.iam.region and msk.iam.host: "
                   "--msk-iam-check shows what is used";
        if (ts_kafka_scram_limit(rd_kafka_version(), atomic_load(&ts_kafka_mechanisms)))
            return "check kafka.sasl.username and kafka.sasl.password, but this librdkafka "
                   "is refused by Kafka 4.x brokers even with the right password: see the "
                   "warning at start";
        return "check kafka.sasl.username, kafka.sasl.password and kafka.sasl.mechanisms";
    case RD_KAFKA_RESP_ERR__SSL:
        return "check kafka.ssl.ca.location (the CA that signed the brokers' certificates), "
               "that the brokers' certificates name the host in bootstrap.servers, and the "
               "client certificate (kafka.ssl.certificate.location, kafka.ssl.key.location)";
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
        return "the principal lacks an ACL on a topic (docs/SECURITY.md lists each binary's)";
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
        return "the principal lacks Read on the consumer group (docs/SECURITY.md)";
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
        return "the principal lacks Write on the transactional id (docs/SECURITY.md)";
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
        return "the principal lacks a cluster ACL; an idempotent producer needs Write on a "
               "topic or IdempotentWrite on the cluster (docs/SECURITY.md)";
    default:
        return NULL;
    }
}

/* The last other error (a refused connection, a timeout), for a start-up
 * failure with nothing recorded above. */
static char ts_kafka_last_other[512];

void ts_kafka_note_error(rd_kafka_resp_err_t err, const char *reason)
{
    const char *hint;

    /* A broker that requires a client certificate and gets none fails the
     * handshake from its side: the client sees a TLS alert on a receive. */
    if (err == RD_KAFKA_RESP_ERR__TRANSPORT && reason && strstr(reason, "SSL routines"))
        err = RD_KAFKA_RESP_ERR__SSL;
    if (!ts_kafka_err_is_denied(err)) {
        if (err && err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && reason) {
            pthread_mutex_lock(&ts_kafka_problem_lock);
            snprintf(ts_kafka_last_other, sizeof(ts_kafka_last_other), "%s: %s",
                     rd_kafka_err2name(err), reason);
            pthread_mutex_unlock(&ts_kafka_problem_lock);
        }
        return;
    }
    hint = ts_kafka_denied_hint(err);
    atomic_fetch_add(&ts_kafka_problem_n, 1);
    pthread_mutex_lock(&ts_kafka_problem_lock);
    snprintf(ts_kafka_problem_msg, sizeof(ts_kafka_problem_msg), "%s: %s%s%s%s",
             rd_kafka_err2name(err), reason ? reason : rd_kafka_err2str(err), hint ? " (" : "",
             hint ? hint : "", hint ? ")" : "");
    snprintf(ts_kafka_problem_code, sizeof(ts_kafka_problem_code), "%s", rd_kafka_err2name(err));
    pthread_mutex_unlock(&ts_kafka_problem_lock);
}

void ts_kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    rd_kafka_resp_err_t code = (rd_kafka_resp_err_t)err;
    char fatal[512];
    ts_log_ev *ev;

    (void)opaque;
    if (code == RD_KAFKA_RESP_ERR__FATAL) {
        code = rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
        reason = fatal;
    }
    ts_kafka_note_error(code, reason);
    /* a warning: librdkafka retries; the binary's verdict is the error line */
    ev = ts_log_begin(TS_LOG_WARN, "kafka", "client error");
    ts_log_cstr(ev, "error", rd_kafka_err2name(code));
    ts_log_cstr(ev, "reason", reason);
    ts_log_cstr(ev, "client", rk ? rd_kafka_name(rk) : "");
    ts_log_end(ev);
}

int ts_kafka_problem(char *buf, size_t size)
{
    int has;

    pthread_mutex_lock(&ts_kafka_problem_lock);
    has = ts_kafka_problem_msg[0] != '\0';
    if (size)
        snprintf(buf, size, "%s", ts_kafka_problem_msg);
    pthread_mutex_unlock(&ts_kafka_problem_lock);
    return has;
}

void ts_kafka_problem_clear(void)
{
    pthread_mutex_lock(&ts_kafka_problem_lock);
    ts_kafka_problem_msg[0] = '\0';
    ts_kafka_problem_code[0] = '\0';
    pthread_mutex_unlock(&ts_kafka_problem_lock);
}

static void ts_kafka_collect_failure(void *opaque, ts_buf *out)
{
    char labels[128], code[64];
    const char *pairs[] = {"error", code, NULL};

    (void)opaque;
    pthread_mutex_lock(&ts_kafka_problem_lock);
    snprintf(code, sizeof(code), "%s", ts_kafka_problem_code);
    pthread_mutex_unlock(&ts_kafka_problem_lock);
    if (code[0])
        ts_buf_printf(out, "tagstream_kafka_security_failure{%s} 1\n",
                      ts_metrics_labels(labels, sizeof(labels), pairs));
    else
        ts_buf_puts(out, "tagstream_kafka_security_failure 0\n");
}

static void ts_kafka_collect_failures(void *opaque, ts_buf *out)
{
    (void)opaque;
    ts_buf_printf(out, "tagstream_kafka_security_failures_total %llu\n",
                  (unsigned long long)atomic_load(&ts_kafka_problem_n));
}

ts_err ts_kafka_metrics_register(ts_metrics *m)
{
    ts_err err;

    if (!m)
        return TS_OK;
    err = ts_metrics_add_collector(
        m, "tagstream_kafka_security_failure",
        "1 while the brokers refuse this client (authentication, TLS or a missing ACL; "
        "label error names the code), else 0.",
        "gauge", ts_kafka_collect_failure, NULL);
    if (err && err != TS_ERR_EXISTS)
        return err;
    err = ts_metrics_add_collector(m, "tagstream_kafka_security_failures_total",
                                   "Refusals by the brokers (authentication, TLS, ACLs) seen.",
                                   "counter", ts_kafka_collect_failures, NULL);
    return err == TS_ERR_EXISTS ? TS_OK : err;
}

int ts_kafka_health_detail(ts_buf *detail)
{
    char msg[768];

    if (!ts_kafka_problem(msg, sizeof(msg)))
        return 0;
    if (detail->len)
        ts_buf_putc(detail, ',');
    ts_buf_puts(detail, "\"kafka_problem\":");
    ts_buf_json_str(detail, msg, strlen(msg));
    return 1;
}

ts_err ts_kafka_wait_connected(rd_kafka_t *rk, int timeout_ms, const char *what, char *errstr,
                               size_t errstr_size)
{
    int64_t deadline = ts_mono_ms() + timeout_ms;
    char msg[768];

    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        int64_t left = deadline - ts_mono_ms();
        rd_kafka_resp_err_t err;

        err = rd_kafka_metadata(rk, 0, NULL, &md, (int)(left < 500 ? (left > 0 ? left : 1) : 500));
        rd_kafka_poll(rk, 0); /* error_cb: what stands in the way */
        if (!err) {
            rd_kafka_metadata_destroy(md);
            ts_kafka_problem_clear();
            return TS_OK;
        }
        if (ts_mono_ms() >= deadline)
            break;
        if (err != RD_KAFKA_RESP_ERR__TIMED_OUT)
            usleep(100 * 1000);
    }
    if (ts_kafka_problem(msg, sizeof(msg)))
        return ts_seterr(TS_ERR_DENIED, errstr, errstr_size,
                         "the brokers refused the connection for %s=%d ms: %s", what, timeout_ms,
                         msg);
    pthread_mutex_lock(&ts_kafka_problem_lock);
    snprintf(msg, sizeof(msg), "%s", ts_kafka_last_other);
    pthread_mutex_unlock(&ts_kafka_problem_lock);
    return ts_seterr(TS_ERR_TIMEOUT, errstr, errstr_size,
                     "no broker answered within %s=%d ms (check bootstrap.servers and "
                     "kafka.security.protocol)%s%s",
                     what, timeout_ms, msg[0] ? ": last error " : "", msg);
}

const char *ts_kafka_scram_limit(int version, const char *mechanisms)
{
    if (version >= TS_KAFKA_SCRAM_MIN_VERSION || !mechanisms || !strstr(mechanisms, "SCRAM"))
        return NULL;
    return "librdkafka older than 2.6.1 cannot authenticate with SASL/SCRAM to Kafka 4.0 and "
           "newer";
}

int ts_kafka_check_scram(const ts_conf *conf, const char *bootstrap)
{
    static atomic_int warned;
    const char *mech = NULL;
    const char *brokers = bootstrap;
    ts_log_ev *ev;

    for (size_t i = 0; conf && i < conf->kafka_cnt; i++) {
        if (!strcmp(conf->kafka[i].key, "sasl.mechanisms") ||
            !strcmp(conf->kafka[i].key, "sasl.mechanism"))
            mech = conf->kafka[i].value;
        else if (!strcmp(conf->kafka[i].key, "bootstrap.servers"))
            brokers = conf->kafka[i].value;
    }
    atomic_store(&ts_kafka_mechanisms, mech);
    if (!ts_kafka_scram_limit(rd_kafka_version(), mech) || atomic_exchange(&warned, 1))
        return 0;
    ev = ts_log_begin(TS_LOG_WARN, "kafka",
                      "librdkafka %s cannot authenticate with %s to Kafka 4.0 or newer (fixed in "
                      "librdkafka 2.6.1): brokers %s refuse it there even with the right "
                      "password; run a build linked with librdkafka 2.6.1 or newer (the Debian 13 "
                      "image), or use TLS client certificates",
                      rd_kafka_version_str(), mech, brokers ? brokers : "(none given)");
    ts_log_cstr(ev, "librdkafka", rd_kafka_version_str());
    ts_log_cstr(ev, "sasl_mechanism", mech);
    ts_log_cstr(ev, "affected_brokers", brokers ? brokers : "");
    ts_log_cstr(ev, "affected_versions", "Apache Kafka >= 4.0, Amazon MSK 4.0.x.kraft");
    ts_log_end(ev);
    return 1;
}

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

int ts_kafka_has_fetch_queue_backoff(void)
{
    return rd_kafka_version() >= 0x020100ff;
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
    rd_kafka_conf_t *kc;
    ts_msk_iam_settings iam;

    if (ts_msk_iam_settings_get(conf, &iam, errstr, errstr_size))
        return NULL;
    kc = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(kc, ts_kafka_log_cb);
    rd_kafka_conf_set_error_cb(kc, ts_kafka_error_cb);
    ts_kafka_check_scram(conf, bootstrap);
    if (bootstrap && ts_kafka_conf_set(kc, "bootstrap.servers", bootstrap, errstr, errstr_size))
        goto fail;
    /* MSK IAM's transport, unless the kafka.* keys below say otherwise */
    if (iam.enabled &&
        (ts_kafka_conf_set(kc, "security.protocol", "SASL_SSL", errstr, errstr_size) ||
         ts_kafka_conf_set(kc, "sasl.mechanisms", "OAUTHBEARER", errstr, errstr_size)))
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
    if (ts_msk_iam_conf_apply(&iam, kc, errstr, errstr_size))
        goto fail;
    return kc;
fail:
    rd_kafka_conf_destroy(kc);
    return NULL;
}

rd_kafka_t *ts_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *kc, char *errstr,
                         size_t errstr_size)
{
    rd_kafka_t *rk = rd_kafka_new(type, kc, errstr, errstr_size);
    rd_kafka_error_t *error;

    if (!rk)
        return NULL;
    /* With a SASL queue (msk.iam), token refreshes are served by
     * librdkafka's background thread; otherwise there is none to route. */
    error = rd_kafka_sasl_background_callbacks_enable(rk);
    if (error && rd_kafka_error_code(error) != RD_KAFKA_RESP_ERR__NOT_CONFIGURED) {
        snprintf(errstr, errstr_size, "cannot serve the SASL callbacks: %s",
                 rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        rd_kafka_destroy(rk);
        return NULL;
    }
    rd_kafka_error_destroy(error);
    return rk;
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

/* The list of all topics leaves out those the principal may not describe:
 * ask for the one topic, whose own error says whether it is missing or
 * hidden (TOPIC_AUTHORIZATION_FAILED). */
static ts_err ts_kafka_topic_denied(rd_kafka_t *rk, const char *topic, int timeout_ms, char *errstr,
                                    size_t errstr_size)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

    if (!rkt)
        return TS_OK;
    if (!rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms)) {
        if (md->topic_cnt == 1)
            err = md->topics[0].err;
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    if (err != RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
        return TS_OK;
    ts_kafka_note_error(err, "not authorized to describe the topic");
    return ts_seterr(TS_ERR_DENIED, errstr, errstr_size,
                     "topic %s: TOPIC_AUTHORIZATION_FAILED: the principal may not describe it (it "
                     "needs the topic ACLs in docs/SECURITY.md)",
                     topic);
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
    if (*partitions < 0)
        return ts_kafka_topic_denied(rk, topic, timeout_ms, errstr, errstr_size);
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
            if (ts_kafka_err_is_denied(e)) {
                ts_kafka_note_error(e, rd_kafka_topic_result_error_string(res[i]));
                err = ts_seterr(TS_ERR_DENIED, errstr, errstr_size,
                                "cannot create topic %s: %s: %s (the principal needs Create on "
                                "it, docs/SECURITY.md)",
                                topic, rd_kafka_err2name(e),
                                rd_kafka_topic_result_error_string(res[i]));
            } else if (e) {
                err = ts_seterr(e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS ? TS_ERR_EXISTS
                                                                            : TS_ERR_KAFKA,
                                errstr, errstr_size, "cannot create topic %s: %s", topic,
                                rd_kafka_topic_result_error_string(res[i]));
            }
        }
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    return err;
}
