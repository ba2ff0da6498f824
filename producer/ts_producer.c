#include "ts_producer.h"
#include "ts_config.h"
#include "ts_http.h"
#include "ts_kafka.h"
#include "ts_log.h"
#include "ts_emf.h"
#include "ts_metrics.h"
#include "ts_msk_iam.h"
#include "ts_pconf.h"
#include "ts_pstats.h"
#include "ts_sink.h"
#include "ts_source.h"

#include <curl/curl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define TS_ENV_PREFIX "TAGSTREAM_"

/* The skip reasons the producer counts, in the order of its metrics and
 * its final summary (ends with TS_SKIP_NONE). */
static const ts_skip ts_producer_skips[] = {
    TS_SKIP_TRUNCATED,    TS_SKIP_OVERSIZE,     TS_SKIP_INVALID_UTF8, TS_SKIP_MALFORMED_JSON,
    TS_SKIP_ERROR_OBJECT, TS_SKIP_UNRECOGNIZED, TS_SKIP_BAD_TAG,      TS_SKIP_NONE};

/* A plain counter family's collector: which counter of which stats. */
typedef struct ts_producer_col {
    const struct ts_producer_family *family;
    const ts_pstats *stats;
} ts_producer_col;

typedef struct ts_producer {
    ts_pconf conf;
    ts_conf raw;
    ts_pstats stats;
    ts_sink *sink;
    atomic_int *stop;
    atomic_int alive; /* the source loop runs (for /health) */
    ts_metrics *metrics;
    ts_emf *emf; /* NULL unless metrics.emf */
    ts_http *http;
    ts_producer_col cols[8];
    char sink_err[512]; /* a fatal error of the sink, for the final message */
} ts_producer;

static void ts_producer_usage(FILE *fp)
{
    fprintf(
        fp,
        "usage: tagstream-producer [--config FILE] [--KEY VALUE | --KEY=VALUE | -X KEY=VALUE]...\n"
        "\n"
        "Reads posts from a source (X, Mastodon, Bluesky, a file or the synthetic\n"
        "generator), extracts their hashtags and writes them to a Kafka topic, one\n"
        "record per hashtag. Settings come from the file, then TAGSTREAM_<KEY> environment\n"
        "variables (dots as underscores), then the flags. Tokens: BEARER_TOKEN (X),\n"
        "MASTODON_TOKEN (Mastodon). --msk-iam-check prints the AWS identity and token\n"
        "expiry msk.iam=true would use (never a secret) and exits.\n"
        "\n"
        "keys:\n");
    ts_conf_print_help(ts_pconf_props, fp);
}

static void ts_producer_unknown_env(const char *var)
{
    /* one environment often serves several binaries: not an error */
    ts_log_ev *ev = ts_log_begin(TS_LOG_DEBUG, "producer", "environment variable not used");
    ts_log_str(ev, "variable", var, strcspn(var, "="));
    ts_log_end(ev);
}

static ts_err ts_producer_emit(void *opaque, const ts_post *post)
{
    ts_producer *p = opaque;

    return ts_sink_post(p->sink, post, p->stop, p->sink_err, sizeof(p->sink_err));
}

static void ts_producer_summary(const ts_producer *p, const char *msg)
{
    const ts_pstats *s = &p->stats;
    ts_log_ev *ev = ts_log_begin(TS_LOG_INFO, "producer", "%s", msg);
    char key[64];

    ts_log_int(ev, "posts", (int64_t)ts_pstats_get(&s->posts));
    ts_log_int(ev, "records_sent", (int64_t)ts_pstats_get(&s->records_sent));
    ts_log_int(ev, "records_produced", (int64_t)ts_pstats_get(&s->records_produced));
    ts_log_int(ev, "delivery_failures", (int64_t)ts_pstats_get(&s->delivery_failures));
    ts_log_int(ev, "events_ignored", (int64_t)ts_pstats_get(&s->events_ignored));
    ts_log_int(ev, "duplicates", (int64_t)ts_pstats_get(&s->duplicates));
    for (const ts_skip *r = ts_producer_skips; *r; r++) {
        snprintf(key, sizeof(key), "skipped_%s", ts_skip_name(*r));
        ts_log_int(ev, key, (int64_t)ts_pstats_get(&s->skipped[*r]));
    }
    for (int i = 0; i < TS_RECONNECT__COUNT; i++) {
        snprintf(key, sizeof(key), "reconnects_%s", ts_reconnect_cause_name((ts_reconnect_cause)i));
        ts_log_int(ev, key, (int64_t)ts_pstats_get(&s->reconnects[i]));
    }
    ts_log_end(ev);
}

/* ---- /health, /ready, /metrics (these run on the HTTP thread) ---- */

static int ts_producer_health(void *opaque, ts_buf *detail)
{
    ts_producer *p = opaque;
    int alive = atomic_load(&p->alive);

    ts_buf_printf(detail, "\"source\":\"%s\"", ts_pconf_source_name(p->conf.source));
    if (ts_kafka_health_detail(detail) && !atomic_load(&p->stats.kafka_connected))
        return 0; /* refused by the brokers: it exits at startup.timeout.ms */
    return ts_msk_iam_health(detail) && alive;
}

static int ts_producer_ready(void *opaque, ts_buf *detail)
{
    ts_producer *p = opaque;
    int src = atomic_load(&p->stats.source_connected);
    int kafka = atomic_load(&p->stats.kafka_connected);

    ts_buf_printf(detail, "\"source_connected\":%s,\"kafka_connected\":%s", src ? "true" : "false",
                  kafka ? "true" : "false");
    return atomic_load(&p->alive) && src && kafka;
}

/* One collector per family: the values are the ts_pstats atomics. */
typedef struct ts_producer_family {
    const char *name;
    const char *help;
    const char *type;
    size_t offset; /* of the counter or gauge in ts_pstats; (size_t)-1 for labelled ones */
} ts_producer_family;

#define TS_PSTAT(f) offsetof(ts_pstats, f)

static const ts_producer_family ts_producer_families[] = {
    {"tagstream_producer_posts_total", "Posts read from the source.", "counter", TS_PSTAT(posts)},
    {"tagstream_producer_records_sent_total", "Hashtag records handed to the Kafka client.",
     "counter", TS_PSTAT(records_sent)},
    {"tagstream_producer_records_produced_total", "Hashtag records acknowledged by the brokers.",
     "counter", TS_PSTAT(records_produced)},
    {"tagstream_producer_delivery_failures_total", "Hashtag records the Kafka client gave up on.",
     "counter", TS_PSTAT(delivery_failures)},
    {"tagstream_producer_events_ignored_total",
     "Streaming events that carry no new post (delete, edit, notification).", "counter",
     TS_PSTAT(events_ignored)},
    {"tagstream_producer_duplicates_total",
     "Posts a resumed stream delivered again and that were not published twice.", "counter",
     TS_PSTAT(duplicates)},
};

#define TS_PRODUCER_NFAMILIES (sizeof(ts_producer_families) / sizeof(ts_producer_families[0]))
_Static_assert(TS_PRODUCER_NFAMILIES <= 8, "ts_producer.cols is too small");

static void ts_producer_collect_one(void *opaque, ts_buf *out)
{
    const ts_producer_col *col = opaque;
    const atomic_uint_fast64_t *c =
        (const atomic_uint_fast64_t *)((const char *)col->stats + col->family->offset);

    ts_buf_printf(out, "%s %llu\n", col->family->name, (unsigned long long)ts_pstats_get(c));
}

static void ts_producer_collect_skipped(void *opaque, ts_buf *out)
{
    const ts_pstats *s = opaque;

    for (const ts_skip *r = ts_producer_skips; *r; r++)
        ts_buf_printf(out, "tagstream_producer_skipped_total{reason=\"%s\"} %llu\n",
                      ts_skip_name(*r), (unsigned long long)ts_pstats_get(&s->skipped[*r]));
}

static void ts_producer_collect_reconnects(void *opaque, ts_buf *out)
{
    const ts_pstats *s = opaque;

    for (int i = 0; i < TS_RECONNECT__COUNT; i++)
        ts_buf_printf(out, "tagstream_producer_reconnects_total{cause=\"%s\"} %llu\n",
                      ts_reconnect_cause_name((ts_reconnect_cause)i),
                      (unsigned long long)ts_pstats_get(&s->reconnects[i]));
}

static void ts_producer_collect_connected(void *opaque, ts_buf *out)
{
    const ts_pstats *s = opaque;

    ts_buf_printf(out, "tagstream_producer_source_connected %d\n",
                  atomic_load(&s->source_connected) ? 1 : 0);
}

static void ts_producer_collect_kafka(void *opaque, ts_buf *out)
{
    const ts_pstats *s = opaque;

    ts_buf_printf(out, "tagstream_producer_kafka_connected %d\n",
                  atomic_load(&s->kafka_connected) ? 1 : 0);
}

static ts_err ts_producer_metrics(ts_producer *p)
{
    ts_err err = TS_OK;

    p->metrics = ts_metrics_new();
    if (!p->metrics)
        return TS_ERR_NOMEM;
    err = ts_kafka_metrics_register(p->metrics);
    for (size_t i = 0; i < TS_PRODUCER_NFAMILIES && !err; i++) {
        const ts_producer_family *f = &ts_producer_families[i];
        p->cols[i].family = f;
        p->cols[i].stats = &p->stats;
        err = ts_metrics_add_collector(p->metrics, f->name, f->help, f->type,
                                       ts_producer_collect_one, &p->cols[i]);
    }
    if (!err)
        err = ts_metrics_add_collector(p->metrics, "tagstream_producer_skipped_total",
                                       "Input skipped, by reason.", "counter",
                                       ts_producer_collect_skipped, &p->stats);
    if (!err)
        err = ts_metrics_add_collector(
            p->metrics, "tagstream_producer_reconnects_total",
            "Stream reconnections, by the cause of the end of the last stream.", "counter",
            ts_producer_collect_reconnects, &p->stats);
    if (!err)
        err = ts_metrics_add_collector(p->metrics, "tagstream_producer_source_connected",
                                       "1 while the source is connected (a stream is open, or a "
                                       "file or the generator runs).",
                                       "gauge", ts_producer_collect_connected, &p->stats);
    if (!err)
        err = ts_metrics_add_collector(p->metrics, "tagstream_producer_kafka_connected",
                                       "1 while the brokers answer the producer.", "gauge",
                                       ts_producer_collect_kafka, &p->stats);
    if (!err)
        err = ts_msk_iam_metrics(p->metrics, &p->raw);
    return err;
}

/* A configuration or usage error: one line on stderr and in the log. */
static int ts_producer_usage_error(const char *msg)
{
    fprintf(stderr, "tagstream-producer: %s\n", msg);
    ts_logf(TS_LOG_ERROR, "producer", "%s", msg);
    return 2;
}

int ts_producer_main(int argc, char **argv, atomic_int *stop)
{
    static ts_producer p; /* large; one per process */
    char err[1024] = "";
    int help = 0, rc = 0, left = 0, iam_check = 0;
    ts_source_env env;
    ts_err e;

    memset(&p, 0, sizeof(p));
    p.stop = stop;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help-markdown")) {
            ts_conf_print_markdown(ts_pconf_props, stdout);
            return 0;
        }
        /* the configuration as the service reads it, then the check */
        if (!strcmp(argv[i], "--msk-iam-check")) {
            iam_check = 1;
            memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(*argv));
            argc--;
            i--;
        }
    }
    if (ts_conf_init(&p.raw, ts_pconf_props, &p.conf, err, sizeof(err)))
        return ts_producer_usage_error(err);
    if (ts_conf_cli(&p.raw, argc, argv, TS_ENV_PREFIX, &help, ts_producer_unknown_env, err,
                    sizeof(err))) {
        rc = ts_producer_usage_error(err);
        goto out_conf;
    }
    if (help) {
        ts_producer_usage(stdout);
        goto out_conf;
    }
    if (iam_check) {
        rc = ts_msk_iam_check(&p.raw, stdout);
        goto out_conf;
    }
    ts_log_set_level((ts_log_level)p.conf.log_level);
    if (ts_conf_cli_secrets(&p.raw, TS_ENV_PREFIX, err, sizeof(err)))
        ts_logf(TS_LOG_WARN, "config", "%s", err);
    if (ts_pconf_finish(&p.conf, NULL, err, sizeof(err))) {
        rc = ts_producer_usage_error(err);
        goto out_pconf;
    }
    {
        /* kafka.* keys are librdkafka's to judge: ask it now, before connecting */
        rd_kafka_conf_t *kc =
            ts_kafka_conf_new(&p.raw, p.conf.bootstrap, NULL, NULL, err, sizeof(err));
        if (!kc) {
            rc = ts_producer_usage_error(err);
            goto out_pconf;
        }
        rd_kafka_conf_destroy(kc);
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
        ts_logf(TS_LOG_ERROR, "producer", "cannot initialize libcurl");
        rc = 1;
        goto out_pconf;
    }
    if (ts_producer_metrics(&p)) {
        ts_logf(TS_LOG_ERROR, "producer", "cannot set up the metrics: out of memory");
        rc = 1;
        goto out_curl;
    }
    atomic_store(&p.alive, 1);
    if (p.conf.http_listen && *p.conf.http_listen) {
        p.http = ts_http_start(p.conf.http_listen, p.metrics, ts_producer_health, ts_producer_ready,
                               &p, err, sizeof(err));
        if (!p.http) {
            ts_logf(TS_LOG_ERROR, "producer", "http.listen: %s", err);
            fprintf(stderr, "tagstream-producer: http.listen: %s\n", err);
            rc = 1;
            goto out_metrics;
        }
        ts_log_ev *ev = ts_log_begin(TS_LOG_INFO, "producer", "http listening");
        ts_log_cstr(ev, "listen", p.conf.http_listen);
        ts_log_int(ev, "port", ts_http_port(p.http));
        ts_log_end(ev);
    }
    {
        ts_log_ev *ev = ts_log_begin(TS_LOG_INFO, "producer", "starting");
        ts_log_cstr(ev, "source", ts_pconf_source_name(p.conf.source));
        ts_log_cstr(ev, "topic", p.conf.topic);
        ts_log_cstr(ev, "bootstrap_servers", p.conf.bootstrap);
        ts_log_end(ev);
    }
    p.sink = ts_sink_new(&p.conf, &p.raw, &p.stats, err, sizeof(err));
    if (!p.sink) {
        ts_logf(TS_LOG_ERROR, "producer", "%s", err);
        fprintf(stderr, "tagstream-producer: %s\n", err);
        rc = 1;
        goto out_http;
    }

    if (p.conf.metrics_emf) {
        p.emf = ts_emf_new(p.conf.metrics_emf_namespace, "tagstream-producer");
        if (!p.emf ||
            ts_emf_start(p.emf, p.metrics, (int)p.conf.metrics_emf_interval_ms, err, sizeof(err))) {
            ts_logf(TS_LOG_ERROR, "producer", "cannot start the EMF metrics: %s",
                    p.emf ? err : "out of memory");
            rc = 1;
            goto out_sink;
        }
    }
    env.conf = &p.conf;
    env.clock = &ts_clock_real;
    env.stop = stop;
    env.stats = &p.stats;
    env.emit = ts_producer_emit;
    env.opaque = &p;
    err[0] = '\0';
    e = ts_source_run(&env, err, sizeof(err));
    atomic_store(&p.alive, 0);
    if (e && e != TS_ERR_STOPPED) {
        const char *why = p.sink_err[0] ? p.sink_err : err;
        ts_logf(TS_LOG_ERROR, "producer", "%s", why);
        fprintf(stderr, "tagstream-producer: %s\n", why);
        rc = 1;
    }
    ts_logf(TS_LOG_INFO, "producer", "%s, flushing",
            atomic_load(stop) ? "stop requested" : "source ended");
    if (ts_sink_flush(p.sink, p.conf.shutdown_timeout_ms, &left)) {
        ts_log_ev *ev = ts_log_begin(TS_LOG_ERROR, "producer",
                                     "records not acknowledged within shutdown.timeout.ms");
        ts_log_int(ev, "records", left);
        ts_log_int(ev, "shutdown_timeout_ms", p.conf.shutdown_timeout_ms);
        ts_log_end(ev);
        rc = 1;
    }
    if (rc == 0 && ts_sink_denied(p.sink, err, sizeof(err))) {
        /* refused after the source had ended: still a failed run */
        ts_logf(TS_LOG_ERROR, "producer", "%s", err);
        fprintf(stderr, "tagstream-producer: %s\n", err);
        rc = 1;
    }
    ts_producer_summary(&p, "producer stopped");
out_sink:
    /* a last EMF emission, before the sink its collectors read goes */
    ts_emf_destroy(p.emf);
    ts_sink_destroy(p.sink);
out_http:
    ts_http_stop(p.http);
out_metrics:
    ts_metrics_destroy(p.metrics);
out_curl:
    curl_global_cleanup();
out_pconf:
    ts_pconf_clear(&p.conf);
out_conf:
    ts_conf_destroy(&p.raw);
    return rc;
}
