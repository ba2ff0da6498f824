/*
 * tagstream-drill: crash and failover drills for tagstream-processor.
 * Exit codes: 0 the output was exactly the expected one, 1 it was not (or a
 * processor misbehaved), 2 bad configuration, 3 the drill could not run.
 */
#include "ts_drill.h"
#include "ts_log.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void usage(void)
{
    printf("usage: tagstream-drill [--config FILE] [-X kafka.key=value] [--key value] ...\n\n"
           "Runs tagstream-processor instances against a Kafka cluster, feeds them a generated\n"
           "input while it kills, stops, freezes, removes or adds instances (or stops a\n"
           "broker), then checks the output topic against the expected output.\n\n"
           "  --processor.arg ARG   pass ARG to every processor (repeatable)\n"
           "  -X kafka.KEY=VALUE    Kafka client setting for the drill and the processors\n"
           "  --msk-iam-check       print the AWS identity and token expiry msk.iam=true\n"
           "                        would use (never a secret), and exit\n\n"
           "Without bootstrap.servers, the drill uses the local cluster of\n"
           "$TAGSTREAM_KAFKA_DIR (infra/local/kafka). min.count, transaction.timeout.ms and\n"
           "commit.interval.ms are given to every processor as they are.\n\n"
           "Options (file < environment TAGSTREAM_DRILL_<KEY> < flags; --some-key is "
           "--some.key):\n");
    ts_conf_print_help(ts_drill_config_props, stdout);
}

int main(int argc, char **argv)
{
    ts_drill_config cfg;
    ts_conf conf;
    struct sigaction sa;
    char err[1024];
    int help = 0, rc, iam_check = 0;

    if (argc == 2 && !strcmp(argv[1], "--help-markdown")) {
        ts_conf_print_markdown(ts_drill_config_props, stdout);
        return 0;
    }
    /* --msk-iam-check: the configuration as the drill reads it, then the check */
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--msk-iam-check")) {
            iam_check = 1;
            memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(*argv));
            argc--;
            break;
        }
    memset(&cfg, 0, sizeof(cfg));
    if (ts_conf_init(&conf, ts_drill_config_props, &cfg, err, sizeof(err))) {
        fprintf(stderr, "tagstream-drill: %s\n", err);
        return 2;
    }
    if (ts_drill_config_load(&cfg, &conf, argc, argv, &help, err, sizeof(err))) {
        fprintf(stderr, "tagstream-drill: %s\n", err);
        ts_drill_config_free(&cfg);
        ts_conf_destroy(&conf);
        return 2;
    }
    if (help) {
        usage();
        ts_drill_config_free(&cfg);
        ts_conf_destroy(&conf);
        return 0;
    }
    if (iam_check) {
        rc = ts_msk_iam_check(&conf, stdout);
        ts_drill_config_free(&cfg);
        ts_conf_destroy(&conf);
        return rc;
    }
    /* the drill's own Kafka clients log to stderr; stdout is the report */
    ts_log_set_fd(2);
    ts_log_set_level((ts_log_level)(cfg.log_level + TS_LOG_DEBUG));
    if (ts_conf_cli_secrets(&conf, "TAGSTREAM_DRILL_", err, sizeof(err)))
        ts_logf(TS_LOG_WARN, "drill", "%s", err);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = ts_drill_main(&cfg, &conf, &interrupted);
    ts_drill_config_free(&cfg);
    ts_conf_destroy(&conf);
    return rc;
}
