/*
 * tagstream-processor: counts hashtags in tumbling windows, exactly once.
 * Exit codes: 0 stopped by SIGTERM/SIGINT, 1 runtime failure, 2 bad
 * configuration, 3 fenced by a newer instance.
 */
#include "ts_config.h"
#include "ts_clock.h"
#include "ts_emf.h"
#include "ts_http.h"
#include "ts_kafka.h"
#include "ts_log.h"
#include "ts_metrics.h"
#include "ts_msk_iam.h"
#include "ts_proc_config.h"
#include "ts_processor.h"

#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop;
/* NULL while the processor starts (the HTTP endpoint is up before it, so
 * that /health can say why a start takes long) */
static _Atomic(ts_processor *) main_proc;

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

/* Alive: the loop turned within the last 30 s (a commit or a restore slice
 * can take a few seconds; a wedged loop cannot). While starting: alive
 * unless the brokers refuse this client (it exits at startup.timeout.ms),
 * and the reason is in the detail either way. */
static int health_cb(void *opaque, ts_buf *detail)
{
    ts_processor *p = atomic_load(&main_proc);
    int ok;

    (void)opaque;
    if (p) {
        int64_t age = ts_mono_ms() - ts_processor_heartbeat_ms(p);
        ts_buf_printf(detail, "\"loop_age_ms\":%lld", (long long)age);
        ok = age < 30000;
    } else {
        ts_buf_puts(detail, "\"starting\":true");
        ok = 1;
    }
    if (ts_kafka_health_detail(detail) && !p)
        ok = 0;
    if (!ts_msk_iam_health(detail))
        ok = 0;
    return ok;
}

static int ready_cb(void *opaque, ts_buf *detail)
{
    ts_processor *p = atomic_load(&main_proc);

    (void)opaque;
    if (!p) {
        /* not yet in the group: the same answer as before the first assignment */
        ts_buf_puts(detail, "\"assigned\":false,\"tasks_restoring\":0,\"starting\":true");
        return 0;
    }
    ts_buf_printf(detail, "\"assigned\":%s,\"tasks_restoring\":%d",
                  ts_processor_assigned(p) ? "true" : "false", ts_processor_tasks_restoring(p));
    return ts_processor_ready(p);
}

static void usage(void)
{
    printf("usage: tagstream-processor [--config FILE] [-X key=value] [--key value] ...\n"
           "       tagstream-processor --msk-iam-check [the same configuration]\n\n"
           "Counts hashtags from the input topic in tumbling windows, exactly once, and\n"
           "writes each window's final counts to the output topic. --msk-iam-check prints\n"
           "the AWS identity and token expiry msk.iam=true would use (never a secret).\n\n"
           "Configuration (file < environment TAGSTREAM_<KEY> < flags):\n");
    ts_conf_print_help(ts_proc_config_props, stdout);
}

int main(int argc, char **argv)
{
    ts_proc_config cfg;
    ts_conf conf;
    ts_processor *p = NULL;
    ts_metrics *metrics = NULL;
    ts_http *http = NULL;
    ts_emf *emf = NULL;
    char err[1024];
    struct sigaction sa;
    int help = 0, rc = 0, iam_check = 0;
    ts_err e;

    /* One malloc arena for the process, set before any thread starts:
     * glibc gives a thread that allocates an arena of its own, and the
     * memory freed in each stays resident. On the 1 M-record benchmark
     * peak RSS went from 64-71 to 57-63 MiB with the rate and the CPU
     * unchanged (docs/PERFORMANCE.md). MALLOC_ARENA_MAX, if set, wins. */
#ifdef M_ARENA_MAX
    if (!getenv("MALLOC_ARENA_MAX"))
        mallopt(M_ARENA_MAX, 1);
#endif

    if (argc == 2 && !strcmp(argv[1], "--help-markdown")) {
        ts_conf_print_markdown(ts_proc_config_props, stdout);
        return 0;
    }
    /* --msk-iam-check: the configuration as the service reads it, then the check */
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--msk-iam-check")) {
            iam_check = 1;
            memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(*argv));
            argc--;
            break;
        }
    if (ts_conf_init(&conf, ts_proc_config_props, &cfg, err, sizeof(err)) ||
        ts_conf_cli(&conf, argc, argv, "TAGSTREAM_", &help, on_unknown_env, err, sizeof(err))) {
        fprintf(stderr, "tagstream-processor: %s\n", err);
        ts_conf_destroy(&conf);
        return 2;
    }
    if (help) {
        usage();
        ts_conf_destroy(&conf);
        return 0;
    }
    if (iam_check) {
        rc = ts_msk_iam_check(&conf, stdout);
        ts_conf_destroy(&conf);
        return rc;
    }
    ts_log_set_level((ts_log_level)cfg.log_level);
    if (ts_conf_cli_secrets(&conf, "TAGSTREAM_", err, sizeof(err)))
        ts_logf(TS_LOG_WARN, "config", "%s", err);
    if (ts_proc_config_validate(&cfg, err, sizeof(err))) {
        fprintf(stderr, "tagstream-processor: %s\n", err);
        ts_conf_destroy(&conf);
        return 2;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    metrics = ts_metrics_new();
    if (!metrics || ts_kafka_metrics_register(metrics)) {
        ts_logf(TS_LOG_ERROR, "processor", "cannot set up the metrics: out of memory");
        rc = 1;
        goto out;
    }
    if (ts_msk_iam_metrics(metrics, &conf)) {
        ts_logf(TS_LOG_ERROR, "processor", "cannot set up the metrics: out of memory");
        rc = 1;
        goto out;
    }
    if (cfg.http_listen && *cfg.http_listen) {
        http = ts_http_start(cfg.http_listen, metrics, health_cb, ready_cb, NULL, err, sizeof(err));
        if (!http) {
            ts_logf(TS_LOG_ERROR, "processor", "cannot start the HTTP endpoint: %s", err);
            rc = 2;
            goto out;
        }
        ts_logf(TS_LOG_INFO, "processor", "HTTP endpoint on port %d", ts_http_port(http));
    }
    if (cfg.metrics_emf) {
        emf = ts_emf_new(cfg.metrics_emf_namespace, cfg.application_id);
        if (!emf ||
            ts_emf_start(emf, metrics, (int)cfg.metrics_emf_interval_ms, err, sizeof(err))) {
            ts_logf(TS_LOG_ERROR, "processor", "cannot start the EMF metrics: %s",
                    emf ? err : "out of memory");
            rc = 1;
            goto out;
        }
    }
    e = ts_processor_new(&cfg, &conf, metrics, &p, err, sizeof(err));
    if (e) {
        ts_logf(TS_LOG_ERROR, "processor", "cannot start: %s", err);
        rc = e == TS_ERR_INVALID ? 2 : 1;
        goto out;
    }
    atomic_store(&main_proc, p);
    e = ts_processor_run(p, &stop, err, sizeof(err));
    if (e) {
        ts_logf(TS_LOG_ERROR, "processor", "stopped on an error (%s): %s", ts_err_name(e), err);
        rc = e == TS_ERR_FENCED ? 3 : 1;
    }
out:
    /* before the processor: the metrics' collectors read its state */
    ts_emf_destroy(emf);
    ts_http_stop(http);
    atomic_store(&main_proc, NULL);
    ts_processor_destroy(p);
    ts_metrics_destroy(metrics);
    ts_conf_destroy(&conf);
    return rc;
}
