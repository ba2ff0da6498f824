/*
 * tagstream-view: the latest windows of committed results, live, in a web
 * page on loopback (docs/VIEW.md). Exit codes: 0 stopped by SIGTERM/SIGINT,
 * 1 runtime failure, 2 bad configuration.
 */
#include "ts_clock.h"
#include "ts_config.h"
#include "ts_http.h"
#include "ts_log.h"
#include "ts_metrics.h"
#include "ts_view.h"
#include "ts_view_config.h"
#include "ts_view_run.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void on_unknown_env(const char *var)
{
    ts_logf(TS_LOG_WARN, "config", "ignoring unknown environment variable %.*s",
            (int)strcspn(var, "="), var);
}

/* Alive: the consumer loop turned within the last 30 s. */
static int health_cb(void *opaque, ts_buf *detail)
{
    int64_t age = ts_mono_ms() - ts_view_consumer_heartbeat_ms(opaque);

    ts_buf_printf(detail, "\"loop_age_ms\":%lld", (long long)age);
    return age < 30000;
}

/* Ready: the output topic exists and its partitions are being read. */
static int ready_cb(void *opaque, ts_buf *detail)
{
    int assigned = ts_view_consumer_assigned(opaque);

    ts_buf_printf(detail, "\"assigned\":%s", assigned ? "true" : "false");
    return assigned;
}

static void usage(void)
{
    printf("usage: tagstream-view [--config FILE] [-X key=value] [--key value] ...\n\n"
           "Reads the committed results of the output topic and serves the newest\n"
           "windows, hashtags ranked by count, as a live web page, as JSON\n"
           "(/api/windows) and as Server-Sent Events (/events).\n\n"
           "Configuration (file < environment TAGSTREAM_<KEY> < flags):\n");
    ts_conf_print_help(ts_view_config_props, stdout);
}

int main(int argc, char **argv)
{
    ts_http_route routes[TS_VIEW_ROUTES];
    ts_view_config cfg;
    ts_conf conf;
    ts_view *view = NULL;
    ts_view_consumer *consumer = NULL;
    ts_metrics *metrics = NULL;
    ts_http *http = NULL;
    char err[1024];
    struct sigaction sa;
    int help = 0, rc = 0;
    ts_err e;

    if (argc == 2 && !strcmp(argv[1], "--help-markdown")) {
        ts_conf_print_markdown(ts_view_config_props, stdout);
        return 0;
    }
    if (ts_conf_init(&conf, ts_view_config_props, &cfg, err, sizeof(err)) ||
        ts_conf_cli(&conf, argc, argv, "TAGSTREAM_", &help, on_unknown_env, err, sizeof(err))) {
        fprintf(stderr, "tagstream-view: %s\n", err);
        ts_conf_destroy(&conf);
        return 2;
    }
    if (help) {
        usage();
        ts_conf_destroy(&conf);
        return 0;
    }
    ts_log_set_level((ts_log_level)cfg.log_level);
    if (ts_conf_cli_secrets(&conf, "TAGSTREAM_", err, sizeof(err)))
        ts_logf(TS_LOG_WARN, "config", "%s", err);
    if (ts_view_config_validate(&cfg, err, sizeof(err))) {
        fprintf(stderr, "tagstream-view: %s\n", err);
        ts_conf_destroy(&conf);
        return 2;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    metrics = ts_metrics_new();
    view = ts_view_new((int)cfg.view_windows, (int)cfg.view_top, cfg.window_size_ms);
    if (!metrics || !view) {
        ts_logf(TS_LOG_ERROR, "view", "cannot start: out of memory");
        rc = 1;
        goto out;
    }
    consumer = ts_view_consumer_new(&cfg, &conf, view, metrics, err, sizeof(err));
    if (!consumer) {
        ts_logf(TS_LOG_ERROR, "view", "cannot start: %s", err);
        rc = 2;
        goto out;
    }
    ts_view_routes(view, routes);
    http = ts_http_start_routes(cfg.http_listen, metrics, health_cb, ready_cb, consumer, routes,
                                err, sizeof(err));
    if (!http) {
        ts_logf(TS_LOG_ERROR, "view", "cannot start the HTTP endpoint: %s", err);
        rc = 2;
        goto out;
    }
    ts_logf(TS_LOG_INFO, "view", "page on port %d", ts_http_port(http));
    e = ts_view_consumer_run(consumer, http, &stop, err, sizeof(err));
    if (e) {
        ts_logf(TS_LOG_ERROR, "view", "stopped on an error (%s): %s", ts_err_name(e), err);
        rc = 1;
    }
out:
    ts_http_stop(http);
    ts_view_consumer_destroy(consumer);
    ts_view_destroy(view);
    ts_metrics_destroy(metrics);
    ts_conf_destroy(&conf);
    return rc;
}
