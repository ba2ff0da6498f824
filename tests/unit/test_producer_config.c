/*
 * The producer's configuration table: defaults, validation, help.
 */
#include "ts_pconf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ts_pconf pc;
static ts_conf conf;
static char err[512];

static void setup(void)
{
    memset(&pc, 0, sizeof(pc));
    cr_assert_eq(ts_conf_init(&conf, ts_pconf_props, &pc, err, sizeof(err)), TS_OK, "%s", err);
    err[0] = '\0';
}

static void teardown(void)
{
    ts_pconf_clear(&pc);
    ts_conf_destroy(&conf);
}

TestSuite(producer_config, .init = setup, .fini = teardown);

static ts_err set(const char *k, const char *v)
{
    return ts_conf_set(&conf, k, v, TS_CONF_SRC_FLAG, err, sizeof(err));
}

Test(producer_config, defaults)
{
    char *envp[] = {NULL};

    cr_expect_eq(pc.source, TS_SOURCE_SYNTHETIC);
    cr_expect_str_eq(pc.topic, "twitter_input");
    cr_expect_str_eq(ts_pconf_compression_name(pc.compression), "lz4");
    cr_expect_str_eq(pc.http_listen, "127.0.0.1:8081");
    cr_expect_str_eq(pc.x_base_url, "https://api.x.com");
    cr_expect_eq(pc.stall_timeout_ms, 20000);
    cr_expect_eq(pc.net_step_ms, 250);
    cr_expect_eq(pc.net_max_ms, 16000);
    cr_expect_eq(pc.http_initial_ms, 5000);
    cr_expect_eq(pc.http_max_ms, 320000);
    cr_expect_eq(pc.rate_initial_ms, 60000);
    cr_expect_eq(pc.max_line_bytes, 1048576);
    cr_expect_str_eq(pc.file_path, "-");
    cr_assert_eq(ts_pconf_finish(&pc, envp, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_float_eq(pc.zipf_s, 1.1, 1e-9);
}

Test(producer_config, every_key_is_documented_in_help)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);

    ts_conf_print_help(ts_pconf_props, fp);
    fclose(fp);
    for (const ts_conf_prop *p = ts_pconf_props; p->name; p++) {
        cr_expect(p->doc && strlen(p->doc) > 10, "%s has a description", p->name);
        cr_expect(strstr(buf, p->name) != NULL, "%s is in --help", p->name);
    }
    cr_expect(strstr(buf, "kafka.<property>") != NULL);
    free(buf);
}

Test(producer_config, values_are_checked_and_named)
{
    cr_expect_eq(set("source", "twitter"), TS_ERR_INVALID);
    cr_expect(strstr(err, "source") && strstr(err, "x|mastodon|file|synthetic"), "%s", err);
    cr_expect_eq(set("source", "Mastodon"), TS_OK, "enum names ignore case");
    cr_expect_eq(pc.source, TS_SOURCE_MASTODON);
    cr_expect_eq(set("compression.type", "brotli"), TS_ERR_INVALID);
    cr_expect_eq(set("stall.timeout.ms", "10"), TS_ERR_INVALID);
    cr_expect(strstr(err, "stall.timeout.ms") != NULL, "%s", err);
    cr_expect_eq(set("max.line.bytes", "lots"), TS_ERR_INVALID);
    cr_expect_eq(set("no.such.key", "1"), TS_ERR_INVALID);
    cr_expect(strstr(err, "no.such.key") != NULL, "%s", err);
    cr_expect_eq(set("kafka.linger.ms", "5"), TS_OK, "kafka.* passes through");
    cr_assert_eq(conf.kafka_cnt, 1);
    cr_expect_str_eq(conf.kafka[0].key, "linger.ms");
}

Test(producer_config, what_keys_cannot_check_alone)
{
    char *envp[] = {NULL};

    cr_assert_eq(set("synthetic.zipf.s", "fast"), TS_OK);
    cr_expect_eq(ts_pconf_finish(&pc, envp, err, sizeof(err)), TS_ERR_INVALID);
    cr_expect(strstr(err, "synthetic.zipf.s") != NULL, "%s", err);
    cr_assert_eq(set("synthetic.zipf.s", "11"), TS_OK);
    cr_expect_eq(ts_pconf_finish(&pc, envp, err, sizeof(err)), TS_ERR_INVALID);
    cr_assert_eq(set("synthetic.zipf.s", "0.8"), TS_OK);
    cr_expect_eq(ts_pconf_finish(&pc, envp, err, sizeof(err)), TS_OK, "%s", err);

    cr_assert_eq(set("reconnect.http.max.ms", "100"), TS_OK);
    cr_expect_eq(ts_pconf_finish(&pc, envp, err, sizeof(err)), TS_ERR_INVALID);
    cr_expect(strstr(err, "reconnect") != NULL, "%s", err);
    cr_assert_eq(set("reconnect.http.max.ms", "320000"), TS_OK);

    cr_assert_eq(set("topic", ""), TS_OK);
    cr_expect_eq(ts_pconf_finish(&pc, envp, err, sizeof(err)), TS_ERR_INVALID);
    cr_expect(strstr(err, "topic") != NULL, "%s", err);
}

Test(producer_config, x_needs_a_token)
{
    char *none[] = {"HOME=/", NULL};
    char *with[] = {"BEARER_TOKEN=AAAA%2Btoken", NULL};

    cr_assert_eq(set("source", "x"), TS_OK);
    cr_expect_eq(ts_pconf_finish(&pc, none, err, sizeof(err)), TS_ERR_INVALID);
    cr_expect(strstr(err, "BEARER_TOKEN") != NULL, "%s", err);
    cr_expect_eq(ts_pconf_finish(&pc, with, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_str_eq(pc.x_token, "AAAA%2Btoken");
    ts_pconf_clear(&pc);

    cr_assert_eq(set("x.base.url", "ftp://x"), TS_OK);
    cr_expect_eq(ts_pconf_finish(&pc, with, err, sizeof(err)), TS_ERR_INVALID);
    cr_expect(strstr(err, "x.base.url") != NULL, "%s", err);
    cr_assert_eq(set("x.base.url", "http://127.0.0.1:1"), TS_OK);
    cr_assert_eq(set("allow.insecure.http", "true"), TS_OK);

    cr_assert_eq(set("x.rules", "#kafka;#aws"), TS_OK);
    cr_expect_eq(ts_pconf_finish(&pc, with, err, sizeof(err)), TS_ERR_INVALID,
                 "rules are for the filtered stream");
    cr_assert_eq(set("x.stream", "filter"), TS_OK);
    cr_expect_eq(ts_pconf_finish(&pc, with, err, sizeof(err)), TS_OK, "%s", err);
}

Test(producer_config, token_files)
{
    char path[] = "/tmp/ts-test-token-XXXXXX";
    char *envp[] = {"BEARER_TOKEN=from-env", NULL};
    int fd = mkstemp(path);

    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "  file-token \n", 14), 14);
    close(fd);
    cr_assert_eq(set("source", "x"), TS_OK);
    cr_assert_eq(set("x.token.file", path), TS_OK);
    cr_expect_eq(ts_pconf_finish(&pc, envp, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_str_eq(pc.x_token, "file-token", "the file wins, trimmed");
    ts_pconf_clear(&pc);
    unlink(path);
    cr_expect_eq(ts_pconf_finish(&pc, envp, err, sizeof(err)), TS_ERR_IO);
    cr_expect(strstr(err, path) != NULL, "%s", err);
}

Test(producer_config, mastodon_and_file)
{
    char *envp[] = {"MASTODON_TOKEN=m", NULL};

    cr_assert_eq(set("source", "mastodon"), TS_OK);
    cr_assert_eq(set("mastodon.stream", "hashtag"), TS_OK);
    cr_expect_eq(ts_pconf_finish(&pc, envp, err, sizeof(err)), TS_ERR_INVALID);
    cr_expect(strstr(err, "mastodon.tag") != NULL, "%s", err);
    cr_assert_eq(set("mastodon.tag", "kafka"), TS_OK);
    cr_expect_eq(ts_pconf_finish(&pc, envp, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_str_eq(pc.masto_token, "m");
    ts_pconf_clear(&pc);

    cr_assert_eq(set("source", "file"), TS_OK);
    cr_assert_eq(set("file.loop", "true"), TS_OK);
    cr_expect_eq(ts_pconf_finish(&pc, envp, err, sizeof(err)), TS_ERR_INVALID,
                 "standard input cannot loop");
    cr_assert_eq(set("file.path", "posts.txt"), TS_OK);
    cr_expect_eq(ts_pconf_finish(&pc, envp, err, sizeof(err)), TS_OK, "%s", err);
}

Test(producer_config, bluesky)
{
    char *envp[] = {NULL};
    static const char *const bad[] = {
        "",
        "https://jetstream.example",
        "ws://",
        "ws://:80",
        "ws://h:0",
        "ws://h:65536",
        "ws://h:8x",
        "wss://a b",
        "ws://h, ,ws://i",
        "ws://h:123456",
        "ws://h:/x",
    };
    static const char *const good[] = {
        "ws://127.0.0.1:8765",
        "wss://jetstream.example/base/ , ws://h:1,wss://i",
    };

    cr_assert_eq(set("source", "bluesky"), TS_OK);
    cr_expect_eq(pc.source, TS_SOURCE_BLUESKY);
    cr_expect_str_eq(ts_pconf_source_name(pc.source), "bluesky");
    cr_expect(strstr(pc.bsky_instances, "wss://jetstream1.us-east.bsky.network,") ==
                  pc.bsky_instances,
              "%s", pc.bsky_instances);
    cr_expect_eq(pc.bsky_rewind_ms, 5000);
    cr_expect_eq(pc.bsky_cursor, 0);
    cr_expect_eq(ts_pconf_finish(&pc, envp, err, sizeof(err)), TS_OK, "%s", err);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(set("bluesky.instances", bad[i]), TS_OK);
        cr_expect_eq(ts_pconf_finish(&pc, envp, err, sizeof(err)), TS_ERR_INVALID, "\"%s\"",
                     bad[i]);
        cr_expect(strstr(err, "bluesky.instances") != NULL, "%s", err);
    }
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        cr_assert_eq(set("bluesky.instances", good[i]), TS_OK);
        cr_expect_eq(ts_pconf_finish(&pc, envp, err, sizeof(err)), TS_OK, "%s: %s", good[i], err);
    }
    cr_expect_eq(set("bluesky.rewind.ms", "600001"), TS_ERR_INVALID);
}

Test(producer_config, environment_and_backoff)
{
    char *envp[] = {"TAGSTREAM_TOPIC=from_env", "TAGSTREAM_STALL_TIMEOUT_MS=1500",
                    "TAGSTREAM_KAFKA_DIR=/somewhere", "TAGSTREAM_APPLICATION_ID=proc", NULL};
    ts_backoff_conf bc;

    cr_assert_eq(ts_conf_load_env(&conf, "TAGSTREAM_", envp, NULL, err, sizeof(err)), TS_OK, "%s",
                 err);
    cr_expect_str_eq(pc.topic, "from_env");
    cr_expect_eq(pc.stall_timeout_ms, 1500);
    cr_expect_eq(conf.kafka_cnt, 0, "the cluster script's variable is not a librdkafka key");
    ts_pconf_backoff(&pc, &bc);
    cr_expect_eq(bc.network_step_ms, 250);
    cr_expect_eq(bc.ratelimit_max_ms, 960000);
}

/* A token must not cross the network in clear text by accident: http://
 * base URLs only with allow.insecure.http, and the error says so. */
Test(producer_config, plain_http_urls_need_a_setting)
{
    char *envp[] = {"BEARER_TOKEN=t", "MASTODON_TOKEN=t", NULL};
    static const char *const sources[][2] = {{"x", "x.base.url"},
                                             {"mastodon", "mastodon.base.url"}};

    for (size_t i = 0; i < 2; i++) {
        cr_assert_eq(set("source", sources[i][0]), TS_OK);
        cr_assert_eq(set("allow.insecure.http", "false"), TS_OK);
        cr_assert_eq(set(sources[i][1], "http://stream.example.org"), TS_OK);
        cr_expect_eq(ts_pconf_finish(&pc, envp, err, sizeof(err)), TS_ERR_INVALID, "%s",
                     sources[i][0]);
        cr_expect(strstr(err, sources[i][1]) && strstr(err, "clear text") &&
                      strstr(err, "allow.insecure.http"),
                  "%s", err);
        /* HTTPS needs nothing; upper case is still plain HTTP. */
        cr_assert_eq(set(sources[i][1], "https://stream.example.org"), TS_OK);
        cr_expect_eq(ts_pconf_finish(&pc, envp, err, sizeof(err)), TS_OK, "%s", err);
        cr_assert_eq(set(sources[i][1], "HTTP://stream.example.org"), TS_OK);
        cr_expect_eq(ts_pconf_finish(&pc, envp, err, sizeof(err)), TS_ERR_INVALID, "%s",
                     sources[i][0]);
        cr_assert_eq(set(sources[i][1], "http://127.0.0.1:1"), TS_OK);
        cr_assert_eq(set("allow.insecure.http", "true"), TS_OK);
        cr_expect_eq(ts_pconf_finish(&pc, envp, err, sizeof(err)), TS_OK, "%s", err);
        ts_pconf_clear(&pc);
    }
}
