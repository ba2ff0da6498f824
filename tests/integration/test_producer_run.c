/*
 * tagstream-producer as a program against the real broker: the synthetic
 * and file sources, stop and flush, configuration errors, a missing topic.
 */
#include "fakehttp.h"
#include "httpget.h"
#include "testkit.h"
#include "ts_synth.h"
#include "ts_tag.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char bs_arg[600];

static const char *bootstrap_arg(void)
{
    snprintf(bs_arg, sizeof(bs_arg), "--bootstrap.servers=%s", tk_bootstrap());
    return bs_arg;
}

static const char *topic_arg(const char *topic)
{
    static char a[300];

    snprintf(a, sizeof(a), "--topic=%s", topic);
    return a;
}

Test(producer_run, synthetic_records_are_the_generators_exactly, .timeout = 120)
{
    enum {
        COUNT = 3000
    };
    char *topic = tk_unique("synthetic");
    const char *argv[] = {bootstrap_arg(),
                          topic_arg(topic),
                          "--http.listen=",
                          "--synthetic.count=3000",
                          "--synthetic.rate=0",
                          "--synthetic.seed=11",
                          "--synthetic.vocabulary=300",
                          "--synthetic.zipf.s=1.1",
                          "--synthetic.tags.per.post=3",
                          "--synthetic.start.ms=1790000000000",
                          "--synthetic.step.ms=5",
                          NULL};
    tf_record *want = calloc(COUNT, sizeof(*want));
    ts_synth *g = ts_synth_new(11, 300, 1.1, 3);
    ts_post post;
    size_t n = 0;
    tk_records got;
    fh_proc p;

    /* the same generator in this process says what must arrive */
    ts_post_init(&post);
    for (long long i = 0; n < COUNT; i++) {
        ts_synth_next(g, &post);
        for (size_t t = 0; t < post.ntags && n < COUNT; t++, n++) {
            size_t kl, vl = post.tags[t].len;
            cr_assert_lt(vl, sizeof(want[n].value));
            memcpy(want[n].value, ts_post_tag_ptr(&post, t), vl);
            cr_assert_eq(ts_tag_normalize(want[n].value, vl, want[n].key, sizeof(want[n].key), &kl),
                         TS_OK);
            want[n].key[kl] = '\0';
            want[n].ts = 1790000000000LL + i * 5;
        }
    }
    tk_create_topic(topic, 3, 1, NULL);
    fh_proc_start(&p, argv, NULL);
    cr_assert_eq(fh_proc_wait(&p, 60000), 0, "the count reached, flushed, exit 0");
    got = tk_consume_all(topic, 0, COUNT, 10000);
    fh_check_records(&got, want, COUNT, 3);
    cr_expect_eq(fh_log_int(&p, "producer stopped", "records_produced"), COUNT);
    tk_records_free(&got);
    fh_proc_cleanup(&p);
    ts_post_free(&post);
    ts_synth_destroy(g);
    free(want);
    free(topic);
}

/* Concatenate fixtures into a temporary file. */
static void concat(char *out, size_t outsz, const char *const *names)
{
    char buf[65536];
    int fd;

    snprintf(out, outsz, "/tmp/ts-replay-%d-XXXXXX", (int)getpid());
    fd = mkstemp(out);
    cr_assert_geq(fd, 0);
    for (size_t i = 0; names[i]; i++) {
        char path[1024];
        size_t r;
        FILE *fp;
        snprintf(path, sizeof(path), "%s/%s", TS_FIXTURES, names[i]);
        fp = fopen(path, "rb");
        cr_assert_not_null(fp);
        while ((r = fread(buf, 1, sizeof(buf), fp)) > 0)
            cr_assert_eq(write(fd, buf, r), (ssize_t)r);
        fclose(fp);
    }
    close(fd);
}

static size_t expected(tf_record *want, size_t max, const char *const *names)
{
    size_t n = 0;

    for (size_t i = 0; names[i]; i++)
        n += tf_records_load(TS_FIXTURES, names[i], want + n, max - n);
    return n;
}

Test(producer_run, file_replay_of_x_and_mastodon_lines_from_stdin, .timeout = 120)
{
    static const char *const files[] = {"x_stream.ndjson", "mastodon_statuses.ndjson", NULL};
    static const char *const exp[] = {"x_stream.expected", "mastodon_stream.expected", NULL};
    char *topic = tk_unique("replay"), path[256];
    const char *argv[] = {bootstrap_arg(), topic_arg(topic), "--http.listen=",
                          "--source=file", "--file.path=-",  NULL};
    tf_record want[128];
    size_t n = expected(want, 128, exp);
    tk_records got;
    fh_proc p;

    concat(path, sizeof(path), files);
    tk_create_topic(topic, 4, 1, NULL);
    fh_proc_start_stdin(&p, argv, NULL, path);
    cr_assert_eq(fh_proc_wait(&p, 60000), 0, "end of input: flushed, exit 0");
    got = tk_consume_all(topic, 0, 0, 3000);
    fh_check_records(&got, want, n, 4);
    cr_expect_eq(fh_log_int(&p, "producer stopped", "skipped_error_object"), 1);
    tk_records_free(&got);
    fh_proc_cleanup(&p);
    unlink(path);
    free(topic);
}

Test(producer_run, sigterm_at_full_speed_flushes_everything, .timeout = 120)
{
    char *topic = tk_unique("sigterm");
    const char *argv[] = {bootstrap_arg(),      topic_arg(topic),          "--http.listen=",
                          "--synthetic.rate=0", "--compression.type=zstd", NULL};
    long long produced, sent;
    tk_records got;
    fh_proc p;

    tk_create_topic(topic, 3, 1, NULL);
    fh_proc_start(&p, argv, NULL);
    cr_assert(fh_log_wait(&p, "generating", 30000));
    usleep(1500 * 1000);
    fh_proc_signal(&p, SIGTERM);
    cr_assert_eq(fh_proc_wait(&p, 30000), 0);
    produced = fh_log_int(&p, "producer stopped", "records_produced");
    sent = fh_log_int(&p, "producer stopped", "records_sent");
    cr_assert_gt(produced, 1000, "it ran at full speed for a while");
    cr_expect_eq(produced, sent, "every record handed over was acknowledged");
    cr_expect_eq(fh_log_int(&p, "producer stopped", "delivery_failures"), 0);
    got = tk_consume_all(topic, 0, (size_t)produced, 10000);
    cr_expect_eq((long long)got.n, produced, "the topic holds exactly what was acknowledged");
    tk_records_free(&got);
    fh_proc_cleanup(&p);
    free(topic);
}

Test(producer_run, a_missing_topic_is_an_error_at_start, .timeout = 60)
{
    char *topic = tk_unique("missing");
    const char *argv[] = {bootstrap_arg(), topic_arg(topic), "--http.listen=", NULL};
    fh_proc p;
    char *err;

    fh_proc_start(&p, argv, NULL);
    cr_assert_eq(fh_proc_wait(&p, 30000), 1);
    err = fh_proc_stderr(&p);
    cr_expect(strstr(err, topic) && strstr(err, "does not exist"), "stderr: %s", err);
    free(err);
    fh_proc_cleanup(&p);
    free(topic);
}

Test(producer_run, configuration_errors_come_before_any_connection, .timeout = 60)
{
    /* nothing listens on port 1: a connection attempt would fail differently */
    static const char *const cases[][4] = {
        {"--no.such.key=1", NULL, "no.such.key"},
        {"--synthetic.zipf.s=steep", NULL, "synthetic.zipf.s"},
        {"--source=x", NULL, "BEARER_TOKEN"},
        {"--source=threads", NULL, "x|mastodon|file|synthetic|bluesky"},
        {"--source=bluesky", "--bluesky.instances=https://jetstream.example", "bluesky.instances"},
        {"--stall.timeout.ms=5", NULL, "stall.timeout.ms"},
        {"-X", "kafka.no.such.property=1", "no.such.property"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *argv[] = {"--bootstrap.servers=127.0.0.1:1", "--http.listen=", cases[i][0],
                              cases[i][1], NULL};
        fh_proc p;
        char *err;
        int rc;
        fh_proc_start(&p, argv, NULL);
        rc = fh_proc_wait(&p, 20000);
        err = fh_proc_stderr(&p);
        cr_expect(strstr(err, cases[i][2]) != NULL, "%s: stderr: %s", cases[i][0], err);
        cr_expect_eq(rc, 2, "%s: a usage error", cases[i][0]);
        free(err);
        fh_proc_cleanup(&p);
    }
}

Test(producer_run, help_lists_the_keys, .timeout = 30)
{
    const char *argv[] = {"--help", NULL};
    fh_proc p;
    char *out;

    fh_proc_start(&p, argv, NULL);
    cr_assert_eq(fh_proc_wait(&p, 10000), 0);
    out = fh_proc_log(&p);
    cr_expect(strstr(out, "synthetic.zipf.s") && strstr(out, "x.base.url") &&
                  strstr(out, "shutdown.timeout.ms") && strstr(out, "kafka.<property>"),
              "%s", out);
    free(out);
    fh_proc_cleanup(&p);
}

Test(producer_run, health_ready_and_metrics, .timeout = 60)
{
    char *topic = tk_unique("http"), *body, path[64];
    const char *argv[] = {bootstrap_arg(), topic_arg(topic), "--http.listen=127.0.0.1:0",
                          "--synthetic.rate=500", NULL};
    long long produced;
    int port;
    fh_proc p;
    FILE *fp;

    tk_create_topic(topic, 1, 1, NULL);
    fh_proc_start(&p, argv, NULL);
    port = fh_proc_http_port(&p, 30000);
    cr_assert_gt(port, 0);
    cr_assert(fh_log_wait(&p, "generating", 30000));
    cr_assert_gt(fh_wait_metric(port, "tagstream_producer_records_produced_total", 1, 30000), 0);

    cr_expect_eq(tk_http_get(port, "/health", &body), 200);
    cr_expect(strstr(body, "\"status\":\"ok\"") != NULL, "%s", body);
    free(body);
    cr_expect_eq(tk_http_get(port, "/ready", &body), 200);
    cr_expect(strstr(body, "\"source_connected\":true") && strstr(body, "\"kafka_connected\":true"),
              "%s", body);
    free(body);
    cr_assert_eq(tk_http_get(port, "/metrics", &body), 200);
    produced = tk_sample(body, "tagstream_producer_records_produced_total");
    cr_expect_gt(produced, 0, "%s", body);
    cr_expect_eq(tk_sample(body, "tagstream_producer_source_connected"), 1);
    cr_expect_eq(tk_sample(body, "tagstream_producer_kafka_connected"), 1);
    cr_expect_eq(tk_sample(body, "tagstream_producer_skipped_total{reason=\"oversize\"}"), 0);
    cr_expect_eq(tk_sample(body, "tagstream_producer_reconnects_total{cause=\"stall\"}"), 0);
    cr_expect_eq(tk_sample(body, "tagstream_producer_delivery_failures_total"), 0);
    /* the exposition format, as Prometheus' own checker reads it */
    if (system("command -v promtool >/dev/null 2>&1") == 0) {
        snprintf(path, sizeof(path), "/tmp/ts-metrics-%d.txt", (int)getpid());
        fp = fopen(path, "w");
        fputs(body, fp);
        fclose(fp);
        char cmd[160];
        snprintf(cmd, sizeof(cmd), "promtool check metrics < %s >/dev/null 2>&1", path);
        cr_expect_eq(system(cmd), 0, "promtool check metrics");
        unlink(path);
    }
    free(body);
    fh_proc_signal(&p, SIGTERM);
    cr_assert_eq(fh_proc_wait(&p, 20000), 0);
    cr_expect_geq(fh_log_int(&p, "producer stopped", "records_produced"), produced);
    fh_proc_cleanup(&p);
    free(topic);
}

Test(producer_run, not_ready_while_the_source_is_unreachable, .timeout = 60)
{
    int sport, sfd = fh_silent_start(&sport), port;
    char *topic = tk_unique("unready"), url[80], *body;
    const char *argv[] = {bootstrap_arg(),
                          topic_arg(topic),
                          "--http.listen=127.0.0.1:0",
                          "--source=x",
                          "--stall.timeout.ms=500",
                          "--allow.insecure.http=true",
                          url,
                          NULL};
    const char *const env[] = {"BEARER_TOKEN=t", NULL};
    fh_proc p;

    cr_assert_geq(sfd, 0);
    snprintf(url, sizeof(url), "--x.base.url=http://127.0.0.1:%d", sport);
    tk_create_topic(topic, 1, 1, NULL);
    fh_proc_start(&p, argv, env);
    port = fh_proc_http_port(&p, 30000);
    cr_assert_gt(port, 0);
    cr_assert(fh_log_wait(&p, "producer ready", 30000));
    cr_expect_eq(tk_http_get(port, "/health", &body), 200, "alive");
    free(body);
    cr_expect_eq(tk_http_get(port, "/ready", &body), 503, "but not ready");
    cr_expect(strstr(body, "\"source_connected\":false") != NULL, "%s", body);
    free(body);
    fh_proc_signal(&p, SIGTERM);
    cr_assert_eq(fh_proc_wait(&p, 20000), 0);
    fh_proc_cleanup(&p);
    close(sfd);
    free(topic);
}

Test(producer_run, records_kafka_refuses_are_counted_not_fatal, .timeout = 60)
{
    char *topic = tk_unique("refused"), path[128], tag[1600];
    const char *argv[] = {bootstrap_arg(),
                          topic_arg(topic),
                          "--http.listen=",
                          "--source=file",
                          path,
                          "-X",
                          "kafka.message.max.bytes=1000",
                          NULL};
    tf_record want[] = {{"small", "small", 0}, {"after", "after", 0}};
    tk_records got;
    fh_proc p;
    FILE *fp;
    char file[64];

    /* a hashtag longer than the largest record librdkafka will send */
    memset(tag, 'x', sizeof(tag) - 1);
    tag[sizeof(tag) - 1] = '\0';
    snprintf(file, sizeof(file), "/tmp/ts-refused-%d.txt", (int)getpid());
    snprintf(path, sizeof(path), "--file.path=%s", file);
    fp = fopen(file, "w");
    cr_assert_not_null(fp);
    fprintf(fp, "#small\n#%s\n#after\n", tag);
    fclose(fp);
    tk_create_topic(topic, 1, 1, NULL);
    fh_proc_start(&p, argv, NULL);
    cr_assert_eq(fh_proc_wait(&p, 30000), 0, "the others still go, and the run ends well");
    cr_expect_eq(fh_log_int(&p, "producer stopped", "delivery_failures"), 1);
    cr_expect_eq(fh_log_int(&p, "producer stopped", "records_produced"), 2);
    cr_expect(fh_log_wait(&p, "\"msg\":\"record not produced\"", 0), "logged");
    got = tk_consume_all(topic, 0, 0, 3000);
    cr_assert_eq(got.n, 2);
    want[0].ts = got.v[0].timestamp; /* plain text has no created_at: the time of sending */
    want[1].ts = got.v[1].timestamp;
    cr_expect_geq(got.v[0].timestamp, tk_now_ms() - 60000);
    fh_check_records(&got, want, 2, 1);
    tk_records_free(&got);
    fh_proc_cleanup(&p);
    unlink(file);
    free(topic);
}
