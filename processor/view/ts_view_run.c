#include "ts_view_run.h"

#include "ts_clock.h"
#include "ts_kafka.h"
#include "ts_log.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The page, generated from page/ at build time (ts_view_assets.c). */
extern const unsigned char ts_view_asset_html[], ts_view_asset_css[], ts_view_asset_js[];
extern const size_t ts_view_asset_html_len, ts_view_asset_css_len, ts_view_asset_js_len;

#define TS_VIEW_POLL_MS       100
#define TS_VIEW_BATCH         1000  /* records between two notifications, at most */
#define TS_VIEW_TICK_MS       5000  /* keep-alive notification */
#define TS_VIEW_REFRESH_MS    30000 /* look for new partitions */
#define TS_VIEW_TOPIC_WAIT_MS 2000

struct ts_view_consumer {
    const ts_view_config *cfg;
    ts_view *view;
    rd_kafka_t *rk;
    int partitions;
    atomic_llong heartbeat;
    atomic_int assigned;
    ts_counter *results;
    ts_counter *skipped[TS_SKIP__COUNT];
    ts_gauge *streams;
    uint64_t errors; /* consumer errors, for sampling their log */
};

ts_view_consumer *ts_view_consumer_new(const ts_view_config *cfg, const ts_conf *conf,
                                       ts_view *view, ts_metrics *metrics, char *errstr,
                                       size_t errstr_size)
{
    /* It assigns its partitions itself and never joins a group: the
     * group.id is there because librdkafka's incremental assign asks for
     * one (nothing is committed under it). */
    static const char *const defaults[] = {
        "client.id",         "tagstream-view", "group.id", "tagstream-view",
        "auto.offset.reset", "earliest",       NULL};
    /* The view shows committed results only, and owns no offsets. It
     * assigns its partitions itself and never joins a group: the group.id
     * is there because librdkafka's incremental assign asks for one. */
    static const char *const forced[] = {"group.id",
                                         "tagstream-view",
                                         "isolation.level",
                                         "read_committed",
                                         "enable.auto.commit",
                                         "false",
                                         "enable.auto.offset.store",
                                         "false",
                                         "enable.partition.eof",
                                         "false",
                                         NULL};
    ts_view_consumer *c;
    rd_kafka_conf_t *kc;
    char msg[512], labels[128];

    c = calloc(1, sizeof(*c));
    if (!c) {
        ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
        return NULL;
    }
    c->cfg = cfg;
    c->view = view;
    atomic_init(&c->heartbeat, ts_mono_ms());
    atomic_init(&c->assigned, 0);
    kc = ts_kafka_conf_new(conf, cfg->bootstrap_servers, defaults, forced, errstr, errstr_size);
    if (!kc)
        goto fail;
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, msg, sizeof(msg));
    if (!c->rk) {
        rd_kafka_conf_destroy(kc);
        ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "cannot create the consumer: %s", msg);
        goto fail;
    }
    rd_kafka_poll_set_consumer(c->rk);
    c->results = ts_metrics_counter(metrics, "tagstream_view_results_total",
                                    "Committed results read from the output topic.", NULL);
    for (const ts_skip *reason = ts_view_skips; *reason; reason++) {
        const char *pairs[] = {"reason", ts_skip_name(*reason), NULL};
        c->skipped[*reason] =
            ts_metrics_counter(metrics, "tagstream_view_skipped_total",
                               "Records of the output topic that could not be read, by reason.",
                               ts_metrics_labels(labels, sizeof(labels), pairs));
    }
    c->streams = ts_metrics_gauge(metrics, "tagstream_view_event_streams",
                                  "Browsers and scripts following /events now.", NULL);
    return c;
fail:
    free(c);
    return NULL;
}

void ts_view_consumer_destroy(ts_view_consumer *c)
{
    if (!c)
        return;
    if (c->rk) {
        rd_kafka_consumer_close(c->rk);
        rd_kafka_destroy(c->rk);
    }
    free(c);
}

int64_t ts_view_consumer_heartbeat_ms(ts_view_consumer *c)
{
    return atomic_load(&c->heartbeat);
}

int ts_view_consumer_assigned(ts_view_consumer *c)
{
    return atomic_load(&c->assigned);
}

static void ts_view_sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&t, NULL);
}

/* Assign the partitions [c->partitions, n) of the topic, from where
 * view.from says (new partitions of a running view: from their start). */
static ts_err ts_view_assign(ts_view_consumer *c, int n, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_error_t *error;
    int64_t from = RD_KAFKA_OFFSET_BEGINNING;

    if (!c->partitions && c->cfg->view_from == TS_VIEW_FROM_LATEST)
        from = RD_KAFKA_OFFSET_END;
    l = rd_kafka_topic_partition_list_new(n - c->partitions);
    for (int p = c->partitions; p < n; p++)
        rd_kafka_topic_partition_list_add(l, c->cfg->output_topic, p)->offset = from;
    error = rd_kafka_incremental_assign(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (error) {
        ts_seterr(TS_ERR_KAFKA, errstr, errstr_size, "cannot assign %s: %s", c->cfg->output_topic,
                  rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return TS_ERR_KAFKA;
    }
    ts_logf(TS_LOG_INFO, "view", "reading partitions %d-%d of %s from the %s", c->partitions, n - 1,
            c->cfg->output_topic,
            from == RD_KAFKA_OFFSET_END ? "end (view.from=latest)" : "beginning");
    c->partitions = n;
    atomic_store(&c->assigned, 1);
    return TS_OK;
}

/* Look the topic up; assign what is new. A missing topic is not an error
 * (the pipeline may not have made it yet). */
static ts_err ts_view_refresh(ts_view_consumer *c, int *warned, char *errstr, size_t errstr_size)
{
    char msg[512];
    int n = -1, brokers = 0;

    if (ts_kafka_topic_partitions(c->rk, c->cfg->output_topic, 5000, &n, &brokers, msg,
                                  sizeof(msg))) {
        ts_logf(TS_LOG_WARN, "view", "cannot look up %s: %s", c->cfg->output_topic, msg);
        return TS_OK;
    }
    if (n <= 0) {
        if (!*warned)
            ts_logf(TS_LOG_WARN, "view", "topic %s does not exist yet; waiting for it",
                    c->cfg->output_topic);
        *warned = 1;
        return TS_OK;
    }
    if (n > c->partitions)
        return ts_view_assign(c, n, errstr, errstr_size);
    return TS_OK;
}

static void ts_view_take(ts_view_consumer *c, const rd_kafka_message_t *m)
{
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    ts_skip why;
    ts_err e;

    e = ts_view_add(c->view, m->key, m->key_len, m->payload, m->len, ts, &why);
    if (e == TS_OK) {
        ts_counter_add(c->results, 1);
    } else if (e == TS_ERR_INVALID) {
        uint64_t n = ts_view_skipped(c->view, why);
        ts_counter_add(c->skipped[why], 1);
        if (ts_log_sampled(n - 1, 10, 1000)) {
            ts_log_ev *ev = ts_log_begin(TS_LOG_WARN, "view", "skipped a record");
            ts_log_cstr(ev, "reason", ts_skip_name(why));
            ts_log_int(ev, "partition", m->partition);
            ts_log_int(ev, "offset", m->offset);
            ts_log_int(ev, "skipped", (int64_t)n);
            ts_log_end(ev);
        }
    } else {
        ts_logf(TS_LOG_ERROR, "view", "out of memory: a result at %s [%d] offset %lld is not shown",
                c->cfg->output_topic, (int)m->partition, (long long)m->offset);
    }
}

ts_err ts_view_consumer_run(ts_view_consumer *c, ts_http *http, volatile sig_atomic_t *stop,
                            char *errstr, size_t errstr_size)
{
    int64_t next_refresh = 0, next_tick = 0, now;
    uint64_t shown = ts_view_version(c->view);
    int warned = 0;
    ts_err e;

    while (!*stop) {
        now = ts_mono_ms();
        atomic_store(&c->heartbeat, now);
        if (now >= next_refresh) {
            e = ts_view_refresh(c, &warned, errstr, errstr_size);
            if (e)
                return e;
            next_refresh = now + (c->partitions ? TS_VIEW_REFRESH_MS : TS_VIEW_TOPIC_WAIT_MS);
        }
        if (!c->partitions) {
            ts_view_sleep_ms(TS_VIEW_POLL_MS);
            continue;
        }
        for (int i = 0; i < TS_VIEW_BATCH && !*stop; i++) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, i ? 0 : TS_VIEW_POLL_MS);
            if (!m)
                break;
            if (m->err && ts_log_sampled(c->errors++, 10, 100))
                ts_logf(TS_LOG_WARN, "view", "consumer: %s", rd_kafka_message_errstr(m));
            else if (!m->err)
                ts_view_take(c, m);
            rd_kafka_message_destroy(m);
        }
        now = ts_mono_ms();
        if (ts_view_version(c->view) != shown || now >= next_tick) {
            shown = ts_view_version(c->view);
            ts_http_stream_notify(http);
            next_tick = now + TS_VIEW_TICK_MS;
        }
        ts_gauge_set(c->streams, ts_http_stream_count(http));
    }
    return TS_OK;
}

/* ---- the routes ---- */

/* The page's own files only: no inline script or style, no other origin. */
#define TS_VIEW_CSP                                                                                \
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "                \
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static void ts_view_page(void *opaque, const char *path, ts_http_answer *a)
{
    (void)opaque;
    a->csp = TS_VIEW_CSP;
    if (!strcmp(path, "/view.css")) {
        a->type = "text/css; charset=utf-8";
        ts_buf_append(&a->body, ts_view_asset_css, ts_view_asset_css_len);
    } else if (!strcmp(path, "/view.js")) {
        a->type = "text/javascript; charset=utf-8";
        ts_buf_append(&a->body, ts_view_asset_js, ts_view_asset_js_len);
    } else {
        a->type = "text/html; charset=utf-8";
        ts_buf_append(&a->body, ts_view_asset_html, ts_view_asset_html_len);
    }
}

static void ts_view_api(void *opaque, const char *path, ts_http_answer *a)
{
    (void)path;
    a->type = "application/json; charset=utf-8";
    a->csp = "default-src 'none'; frame-ancestors 'none'";
    ts_view_render(opaque, &a->body);
    ts_buf_putc(&a->body, '\n');
}

/* One event per version: the whole document (it is small: windows x top). */
static void ts_view_events(void *opaque, uint64_t *cursor, ts_buf *out)
{
    ts_view *v = opaque;
    uint64_t version;

    /* cursor = last version sent + 1, so 0 means nothing sent yet */
    if (*cursor && *cursor - 1 == ts_view_version(v))
        return;
    if (!*cursor)
        ts_buf_puts(out, "retry: 2000\n");
    ts_buf_puts(out, "data: ");
    version = ts_view_render(v, out);
    ts_buf_puts(out, "\n\n");
    if (ts_buf_status(out) == TS_OK)
        *cursor = version + 1;
}

void ts_view_routes(ts_view *view, ts_http_route routes[TS_VIEW_ROUTES])
{
    static const ts_http_route table[TS_VIEW_ROUTES] = {
        {"/", ts_view_page, NULL, NULL},
        {"/index.html", ts_view_page, NULL, NULL},
        {"/view.css", ts_view_page, NULL, NULL},
        {"/view.js", ts_view_page, NULL, NULL},
        {"/api/windows", ts_view_api, NULL, NULL},
        {"/events", NULL, ts_view_events, NULL},
        {NULL, NULL, NULL, NULL},
    };

    for (int i = 0; i < TS_VIEW_ROUTES; i++) {
        routes[i] = table[i];
        routes[i].opaque = table[i].path ? view : NULL;
    }
}
