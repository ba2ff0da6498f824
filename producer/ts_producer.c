#include "ts_producer.h"
#include "ts_config.h"
#include "ts_kafka.h"
#include "ts_log.h"
#include "ts_pconf.h"
#include "ts_pstats.h"
#include "ts_sink.h"
#include "ts_source.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#define TS_ENV_PREFIX "TAGSTREAM_"

typedef struct ts_producer {
    ts_pconf conf;
    ts_conf raw;
    ts_pstats stats;
    ts_sink *sink;
    atomic_int *stop;
    char sink_err[512]; /* a fatal error of the sink, for the final message */
} ts_producer;

static void ts_producer_usage(FILE *fp)
{
    fprintf(
        fp,
        "usage: tagstream-producer [--config FILE] [--KEY VALUE | --KEY=VALUE | -X KEY=VALUE]...\n"
        "\n"
        "Reads posts from a source (X, Mastodon, a file or the synthetic generator),\n"
        "extracts their hashtags and writes them to a Kafka topic, one record per\n"
        "hashtag. Settings come from the file, then TAGSTREAM_<KEY> environment\n"
        "variables (dots as underscores), then the flags. Tokens: BEARER_TOKEN (X),\n"
        "MASTODON_TOKEN (Mastodon).\n"
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
    for (int i = 1; i < TS_SKIP__COUNT; i++) {
        snprintf(key, sizeof(key), "skipped_%s", ts_skip_name((ts_skip)i));
        ts_log_int(ev, key, (int64_t)ts_pstats_get(&s->skipped[i]));
    }
    for (int i = 0; i < TS_RECONNECT__COUNT; i++) {
        snprintf(key, sizeof(key), "reconnects_%s", ts_reconnect_cause_name((ts_reconnect_cause)i));
        ts_log_int(ev, key, (int64_t)ts_pstats_get(&s->reconnects[i]));
    }
    ts_log_end(ev);
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
    int help = 0, rc = 0, left = 0;
    ts_source_env env;
    ts_err e;

    memset(&p, 0, sizeof(p));
    p.stop = stop;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help-markdown")) {
            ts_conf_print_markdown(ts_pconf_props, stdout);
            return 0;
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
    ts_log_set_level((ts_log_level)p.conf.log_level);
    if (ts_pconf_finish(&p.conf, NULL, err, sizeof(err))) {
        rc = ts_producer_usage_error(err);
        goto out_pconf;
    }
    {
        /* kafka.* keys are librdkafka's to judge: ask it now, before connecting */
        rd_kafka_conf_t *kc = ts_kafka_conf_new(&p.raw, p.conf.bootstrap, NULL, err, sizeof(err));
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
        goto out_curl;
    }

    env.conf = &p.conf;
    env.clock = &ts_clock_real;
    env.stop = stop;
    env.stats = &p.stats;
    env.emit = ts_producer_emit;
    env.opaque = &p;
    err[0] = '\0';
    e = ts_source_run(&env, err, sizeof(err));
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
    ts_producer_summary(&p, "producer stopped");
    ts_sink_destroy(p.sink);
out_curl:
    curl_global_cleanup();
out_pconf:
    ts_pconf_clear(&p.conf);
out_conf:
    ts_conf_destroy(&p.raw);
    return rc;
}
