#include "ts_config.h"
#include "ts_fs.h"
#include "ts_kafka.h"
#include "ts_log.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cfg {
    char *app;
    int64_t window;
    int flag;
    int format;
};

static const ts_conf_prop props[] = {
    {"application.id", TS_CONF_STRING, offsetof(struct cfg, app), "tagstream", 0, 0, NULL,
     "Application id.", 0},
    {"window.size.ms", TS_CONF_INT, offsetof(struct cfg, window), "20000", 1, 86400000, NULL,
     "Window size.", 0},
    {"some.flag", TS_CONF_BOOL, offsetof(struct cfg, flag), "false", 0, 0, NULL, "A flag.", 0},
    {"output.format", TS_CONF_ENUM, offsetof(struct cfg, format), "json", 0, 0, "json|long",
     "Output format.", 0},
    {NULL},
};

static char dir[] = "/tmp/ts-test-config-XXXXXX";
static struct cfg cfg;
static ts_conf conf;
static char err[512];

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
    memset(&cfg, 0, sizeof(cfg));
    cr_assert_eq(ts_conf_init(&conf, props, &cfg, err, sizeof(err)), TS_OK, "%s", err);
}

static void teardown(void)
{
    ts_conf_destroy(&conf);
    cr_expect_eq(ts_fs_remove_tree(dir, NULL, 0), TS_OK, "cannot remove %s", dir);
}

static const char *write_file(const char *name, const char *text)
{
    static char path[256];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
    return path;
}

TestSuite(config, .init = setup, .fini = teardown);

Test(config, defaults)
{
    cr_expect_str_eq(cfg.app, "tagstream");
    cr_expect_eq(cfg.window, 20000);
    cr_expect_eq(cfg.flag, 0);
    cr_expect_eq(cfg.format, 0);
}

Test(config, properties_file_syntax)
{
    const char *p = write_file("a.properties", "# comment\n"
                                               "! another comment\n"
                                               "   \n"
                                               "application.id = my\\\n"
                                               "    app\n"
                                               "window.size.ms:60000\n"
                                               "some.flag true\n"
                                               "output.format=LONG\r\n"
                                               "kafka.security.protocol=SASL_SSL\n"
                                               "kafka.sasl.password=p\\u00e4ss\\=word\n");

    cr_assert_eq(ts_conf_load_file(&conf, p, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_str_eq(cfg.app, "myapp");
    cr_expect_eq(cfg.window, 60000);
    cr_expect_eq(cfg.flag, 1);
    cr_expect_eq(cfg.format, 1);
    cr_assert_eq(conf.kafka_cnt, 2);
    cr_expect_str_eq(conf.kafka[0].key, "security.protocol");
    cr_expect_str_eq(conf.kafka[1].value, "p\xc3\xa4ss=word");
}

Test(config, file_errors_name_file_and_line)
{
    const char *p = write_file("b.properties", "application.id=x\n\nwindow.size.ms=abc\n");

    cr_expect_eq(ts_conf_load_file(&conf, p, err, sizeof(err)), TS_ERR_INVALID);
    cr_expect(strstr(err, "b.properties:3: window.size.ms") != NULL, "got: %s", err);
    p = write_file("c.properties", "no.such.key=1\n");
    cr_expect_eq(ts_conf_load_file(&conf, p, err, sizeof(err)), TS_ERR_INVALID);
    cr_expect(strstr(err, "c.properties:1: no.such.key: unknown") != NULL, "got: %s", err);
    cr_expect_eq(ts_conf_load_file(&conf, "/nonexistent/x", err, sizeof(err)), TS_ERR_IO);
}

Test(config, bad_values_name_the_key)
{
    cr_expect_eq(ts_conf_set(&conf, "window.size.ms", "0", TS_CONF_SRC_FLAG, err, sizeof(err)),
                 TS_ERR_INVALID);
    cr_expect(strstr(err, "window.size.ms: 0 is out of range") != NULL, "got: %s", err);
    cr_expect_eq(ts_conf_set(&conf, "window.size.ms", "12x", TS_CONF_SRC_FLAG, err, sizeof(err)),
                 TS_ERR_INVALID);
    cr_expect_eq(ts_conf_set(&conf, "output.format", "xml", TS_CONF_SRC_FLAG, err, sizeof(err)),
                 TS_ERR_INVALID);
    cr_expect(strstr(err, "json|long") != NULL, "got: %s", err);
    cr_expect_eq(ts_conf_set(&conf, "some.flag", "maybe", TS_CONF_SRC_FLAG, err, sizeof(err)),
                 TS_ERR_INVALID);
    cr_expect_eq(ts_conf_set(&conf, "kafka.", "x", TS_CONF_SRC_FLAG, err, sizeof(err)),
                 TS_ERR_INVALID);
    cr_expect_eq(cfg.window, 20000, "a refused value changes nothing");
}

static int unknown_seen;
static void on_unknown(const char *var)
{
    (void)var;
    unknown_seen++;
}

Test(config, precedence_file_env_flags)
{
    const char *p = write_file("d.properties", "application.id=from-file\nwindow.size.ms=1000\n"
                                               "output.format=long\n");
    char *envp[] = {"TAGSTREAM_APPLICATION_ID=from-env",
                    "TAGSTREAM_WINDOW_SIZE_MS=2000",
                    "TAGSTREAM_KAFKA_SASL_USERNAME=u",
                    "TAGSTREAM_NOT_A_KEY=1",
                    "OTHER=1",
                    NULL};
    int help;

    cr_assert_eq(ts_conf_load_file(&conf, p, err, sizeof(err)), TS_OK, "%s", err);
    cr_assert_eq(ts_conf_load_env(&conf, "TAGSTREAM_", envp, on_unknown, err, sizeof(err)), TS_OK,
                 "%s", err);
    cr_expect_str_eq(cfg.app, "from-env");
    cr_expect_eq(cfg.window, 2000);
    cr_expect_eq(cfg.format, 1, "the file's value stays where nothing overrides it");
    cr_expect_eq(unknown_seen, 1);
    cr_expect_str_eq(conf.kafka[0].key, "sasl.username");

    char *argv[] = {"prog",      "-X",          "window.size.ms=3000", "--application.id",
                    "from-flag", "--some.flag", "-Xkafka.acks=all",    NULL};
    cr_assert_eq(ts_conf_cli(&conf, 7, argv, NULL, &help, NULL, err, sizeof(err)), TS_OK, "%s",
                 err);
    cr_expect_eq(cfg.window, 3000);
    cr_expect_str_eq(cfg.app, "from-flag");
    cr_expect_eq(cfg.flag, 1);
    cr_expect_eq(help, 0);
    cr_expect_eq(ts_conf_source_of(&conf, "window.size.ms"), TS_CONF_SRC_FLAG);
    cr_expect_eq(ts_conf_source_of(&conf, "output.format"), TS_CONF_SRC_FILE);
}

Test(config, cli_errors)
{
    int help;
    char *a1[] = {"prog", "--nope", "1", NULL};
    char *a2[] = {"prog", "-X", "novalue", NULL};
    char *a3[] = {"prog", "stray", NULL};
    char *a4[] = {"prog", "--help", NULL};

    cr_expect_eq(ts_conf_cli(&conf, 3, a1, NULL, &help, NULL, err, sizeof(err)), TS_ERR_INVALID);
    cr_expect(strstr(err, "--nope") != NULL, "got: %s", err);
    cr_expect_eq(ts_conf_cli(&conf, 3, a2, NULL, &help, NULL, err, sizeof(err)), TS_ERR_INVALID);
    cr_expect_eq(ts_conf_cli(&conf, 2, a3, NULL, &help, NULL, err, sizeof(err)), TS_ERR_INVALID);
    cr_expect_eq(ts_conf_cli(&conf, 2, a4, NULL, &help, NULL, err, sizeof(err)), TS_OK);
    cr_expect_eq(help, 1);
}

Test(config, secrets_are_recognized)
{
    cr_expect(ts_conf_key_is_secret("sasl.password"));
    cr_expect(ts_conf_key_is_secret("bearer.token"));
    cr_expect_not(ts_conf_key_is_secret("sasl.username"));
}

/* A secret on the command line is accepted, and named (never its value)
 * with the safe ways to give it; from the environment or a file it is not. */
Test(config, secrets_on_the_command_line_are_named)
{
    char *argv[] = {"prog",
                    "-X",
                    "kafka.sasl.password=hunter2",
                    "-X",
                    "kafka.sasl.username=u",
                    "--kafka.ssl.key.password=k2",
                    NULL};
    char *env[] = {"TS_KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET=s3", NULL};
    char msg[1024];
    int help;

    cr_assert_eq(ts_conf_load_env(&conf, "TS_", env, NULL, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_eq(ts_conf_cli_secrets(&conf, "TS_", msg, sizeof(msg)), 0);
    cr_expect_str_eq(msg, "");
    cr_assert_eq(ts_conf_cli(&conf, 6, argv, NULL, &help, NULL, err, sizeof(err)), TS_OK, "%s",
                 err);
    cr_expect_eq(ts_conf_cli_secrets(&conf, "TS_", msg, sizeof(msg)), 2);
    cr_expect(strstr(msg, "kafka.sasl.password") && strstr(msg, "kafka.ssl.key.password"), "%s",
              msg);
    cr_expect(strstr(msg, "TS_KAFKA_SASL_PASSWORD") && strstr(msg, "ps"), "%s", msg);
    cr_expect_null(strstr(msg, "hunter2"), "%s", msg);
    cr_expect_null(strstr(msg, "username"), "%s", msg);
    cr_expect_null(strstr(msg, "client.secret"), "from the environment: %s", msg);
}

/* A table key that names a secret's file is the safe way, not a secret. */
Test(config, a_secret_file_on_the_command_line_is_fine)
{
    static const ts_conf_prop fprops[] = {
        {"x.token.file", TS_CONF_STRING, 0, NULL, 0, 0, NULL, "Token file.", 0},
        {"x.token", TS_CONF_STRING, sizeof(char *), NULL, 0, 0, NULL, "Token.", 0},
        {NULL},
    };
    char *fields[2] = {NULL, NULL}, msg[512];
    char *argv[] = {"prog", "--x.token.file", "/run/secrets/x", "--x.token", "t0k3n", NULL};
    ts_conf fc;
    int help;

    cr_assert_eq(ts_conf_init(&fc, fprops, fields, err, sizeof(err)), TS_OK, "%s", err);
    cr_assert_eq(ts_conf_cli(&fc, 5, argv, NULL, &help, NULL, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_eq(ts_conf_cli_secrets(&fc, NULL, msg, sizeof(msg)), 1, "%s", msg);
    cr_expect(strstr(msg, "x.token given") && strstr(msg, "TAGSTREAM_X_TOKEN"), "%s", msg);
    cr_expect_null(strstr(msg, "x.token.file"), "%s", msg);
    ts_conf_destroy(&fc);
}

/* Client settings: kafka.* beats a default; a forced setting beats kafka.*,
 * and the operator is told so in the log. */
Test(config, kafka_passthrough_between_defaults_and_forced)
{
    static const char *const defaults[] = {"fetch.wait.max.ms", "500", "linger.ms", "7", NULL};
    static const char *const forced[] = {"isolation.level", "read_committed", NULL};
    char logpath[300], val[64], *log;
    size_t n = sizeof(val);
    rd_kafka_conf_t *kc;
    FILE *fp;
    int fd;

    cr_assert_eq(
        ts_conf_set(&conf, "kafka.fetch.wait.max.ms", "5", TS_CONF_SRC_FLAG, err, sizeof(err)),
        TS_OK, "%s", err);
    cr_assert_eq(ts_conf_set(&conf, "kafka.isolation.level", "read_uncommitted", TS_CONF_SRC_FLAG,
                             err, sizeof(err)),
                 TS_OK, "%s", err);
    snprintf(logpath, sizeof(logpath), "%s/log", dir);
    fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    ts_log_set_fd(fd);
    kc = ts_kafka_conf_new(&conf, "127.0.0.1:9", defaults, forced, err, sizeof(err));
    ts_log_set_fd(1);
    close(fd);
    cr_assert_not_null(kc, "%s", err);

    cr_expect_eq(rd_kafka_conf_get(kc, "fetch.wait.max.ms", val, &n), RD_KAFKA_CONF_OK);
    cr_expect_str_eq(val, "5", "kafka.* overrides a default");
    n = sizeof(val);
    cr_expect_eq(rd_kafka_conf_get(kc, "linger.ms", val, &n), RD_KAFKA_CONF_OK);
    cr_expect_str_eq(val, "7", "a default stays when kafka.* does not name it");
    n = sizeof(val);
    cr_expect_eq(rd_kafka_conf_get(kc, "isolation.level", val, &n), RD_KAFKA_CONF_OK);
    cr_expect_str_eq(val, "read_committed", "a forced setting overrides kafka.*");
    rd_kafka_conf_destroy(kc);

    fp = fopen(logpath, "r");
    cr_assert_not_null(fp);
    log = calloc(1, 4096);
    cr_assert_gt(fread(log, 1, 4095, fp), 0, "the log is empty");
    fclose(fp);
    cr_expect(strstr(log, "kafka.isolation.level is ignored") != NULL, "warned: %s", log);
    cr_expect(strstr(log, "\"given\":\"read_uncommitted\"") != NULL, "%s", log);
    cr_expect(strstr(log, "fetch.wait.max.ms") == NULL, "no warning for an honoured key: %s", log);
    free(log);

    /* a bad value names its kafka.* key */
    cr_assert_eq(ts_conf_set(&conf, "kafka.linger.ms", "soon", TS_CONF_SRC_FLAG, err, sizeof(err)),
                 TS_OK, "%s", err);
    cr_expect_null(ts_kafka_conf_new(&conf, NULL, NULL, NULL, err, sizeof(err)));
    cr_expect(strstr(err, "kafka.linger.ms") != NULL, "%s", err);
}

/* What the drill gives on to its processors: each value formatted back to
 * text parses to the same value again. */
Test(config, format_round_trips)
{
    char buf[64];

    cr_assert_eq(ts_conf_set(&conf, "window.size.ms", "12345", TS_CONF_SRC_FLAG, err, sizeof(err)),
                 TS_OK, "%s", err);
    cr_assert_eq(ts_conf_set(&conf, "some.flag", "yes", TS_CONF_SRC_FLAG, err, sizeof(err)), TS_OK);
    cr_assert_eq(ts_conf_set(&conf, "output.format", "LONG", TS_CONF_SRC_FLAG, err, sizeof(err)),
                 TS_OK);
    ts_conf_format(&props[0], &cfg, buf, sizeof(buf));
    cr_expect_str_eq(buf, "tagstream");
    ts_conf_format(&props[1], &cfg, buf, sizeof(buf));
    cr_expect_str_eq(buf, "12345");
    ts_conf_format(&props[2], &cfg, buf, sizeof(buf));
    cr_expect_str_eq(buf, "true");
    ts_conf_format(&props[3], &cfg, buf, sizeof(buf));
    cr_expect_str_eq(buf, "long");
    cr_assert_eq(ts_conf_set(&conf, "output.format", buf, TS_CONF_SRC_FLAG, err, sizeof(err)),
                 TS_OK);
    cr_expect_eq(cfg.format, 1);
}

/* A key shared by every binary, declared once: a table entry like any
 * other, with its owner's field and default. */
struct shared {
    char *bootstrap;
    int level;
    char *http;
};

Test(config, shared_keys)
{
    const ts_conf_prop sprops[] = {
        TS_CONF_KEY_BOOTSTRAP_SERVERS(struct shared, bootstrap, NULL, TS_CONF_F_REQUIRED),
        TS_CONF_KEY_LOG_LEVEL(struct shared, level, "warn"),
        TS_CONF_KEY_HTTP_LISTEN(struct shared, http, "127.0.0.1:9"),
        {NULL},
    };
    struct shared s;
    ts_conf c;
    char help[4096];
    FILE *fp;

    cr_assert_eq(ts_conf_init(&c, sprops, &s, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_null(s.bootstrap);
    cr_expect_eq(s.level, TS_LOG_WARN);
    cr_expect_str_eq(s.http, "127.0.0.1:9");
    cr_assert_eq(ts_conf_set(&c, "bootstrap.servers", "b:9092", TS_CONF_SRC_FLAG, err, sizeof(err)),
                 TS_OK);
    cr_expect_str_eq(s.bootstrap, "b:9092");
    fp = fmemopen(help, sizeof(help), "w");
    cr_assert_not_null(fp);
    ts_conf_print_help(sprops, fp);
    fclose(fp);
    cr_expect_not_null(strstr(help, "host:port[,host:port...]. Required. (default: none)"), "%s",
                       help);
    ts_conf_destroy(&c);
}
