/*
 * tagstream-producer --source bluesky against local servers speaking
 * Jetstream's wire format (tests/support/jetstream_server.py, on the
 * websockets package: fragmented messages, a ping, a close, an oversized
 * frame, a binary message, malformed JSON, a stall, an HTTP error answer to
 * the upgrade, TLS) and the real broker: the topic must hold exactly the
 * fixture's hashtags, none twice although every reconnect replays events,
 * and each reconnect must ask for the rewound cursor.
 */
#include "fakehttp.h"
#include "httpget.h"
#include "testfile.h"
#include "testkit.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REWIND_MS 1000

typedef struct js_server {
    pid_t pid;
    int port;
    char script[256], log[256];
} js_server;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Start a Jetstream server playing `connections` (the JSON array of the
 * script) over the fixture events, with TLS when `tls` (a JSON object
 * naming the certificate and key) is not NULL; waits for its port. */
static void js_start_tls(js_server *s, const char *connections, const char *tls)
{
    static int seq;
    const char *src = getenv("TAGSTREAM_SOURCE_DIR");
    char server[512], *log = NULL;
    FILE *fp;

    cr_assert_not_null(src, "TAGSTREAM_SOURCE_DIR is not set");
    snprintf(server, sizeof(server), "%s/tests/support/jetstream_server.py", src);
    snprintf(s->script, sizeof(s->script), "/tmp/jetstream-%d-%d.json", (int)getpid(), seq);
    snprintf(s->log, sizeof(s->log), "/tmp/jetstream-%d-%d.log", (int)getpid(), seq++);
    fp = fopen(s->script, "w");
    cr_assert_not_null(fp);
    fprintf(fp, "{\"events\": \"%s/bluesky_stream.ndjson\", \"connections\": %s%s%s}\n",
            TS_FIXTURES, connections, tls ? ", \"tls\": " : "", tls ? tls : "");
    fclose(fp);
    s->pid = fork();
    cr_assert_neq(s->pid, -1);
    if (s->pid == 0) {
        int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execl(TS_PYTHON, TS_PYTHON, server, s->script, (char *)NULL);
        _exit(127);
    }
    s->port = 0;
    for (int i = 0; i < 300 && !s->port; i++) {
        char *at;
        sleep_ms(50);
        free(log);
        log = tf_read(s->log, NULL);
        at = log ? strstr(log, "\"listening\", \"port\": ") : NULL;
        if (at)
            s->port = atoi(at + strlen("\"listening\", \"port\": "));
    }
    cr_assert_gt(s->port, 0, "the Jetstream server did not start: %s", log ? log : "(no output)");
    free(log);
}

static void js_start(js_server *s, const char *connections)
{
    js_start_tls(s, connections, NULL);
}

static void js_stop(js_server *s)
{
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
    unlink(s->script);
    unlink(s->log);
}

/* Wait until the server's report holds `needle`. */
static int js_wait(const js_server *s, const char *needle, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        char *log = tf_read(s->log, NULL);
        int ok = log && strstr(log, needle);
        free(log);
        if (ok)
            return 1;
        sleep_ms(50);
    }
    return 0;
}

static char *js_url(const js_server *s)
{
    static char url[4][64];
    static int n;
    char *u = url[n++ % 4];

    snprintf(u, 64, "ws://127.0.0.1:%d", s->port);
    return u;
}

/* time_us of event i of the fixture. */
static long long fixture_time_us(int i)
{
    char *all = tf_fixture(TS_FIXTURES, "bluesky_stream.ndjson", NULL), *p = all;
    long long t;

    for (int k = 0; k < i; k++)
        p = strchr(p, '\n') + 1;
    p = strstr(p, "\"time_us\":");
    cr_assert_not_null(p);
    t = atoll(p + strlen("\"time_us\":"));
    free(all);
    return t;
}

static long long metric(int port, const char *series)
{
    char *body = NULL;
    long long v;

    cr_assert_eq(tk_http_get(port, "/metrics", &body), 200);
    v = tk_sample(body, series);
    free(body);
    return v;
}

static const char *const *producer_args(const char *instances, const char *topic, const char *stall)
{
    static const char *const opts[] = {
        "--reconnect.network.step.ms=50", "--reconnect.http.initial.ms=100",
        "--max.line.bytes=65536",         "--connect.timeout.ms=2000",
        "--bluesky.rewind.ms=1000",       NULL};

    return fh_producer_args("bluesky", "--bluesky.instances", instances, topic, opts, stall, NULL);
}

static void check_topic(const char *topic)
{
    tf_record want[64];
    size_t nwant = tf_records_load(TS_FIXTURES, "bluesky_stream.expected", want, 64);
    tk_records got = tk_consume_all(topic, 0, 0, 3000);

    fh_check_records(&got, want, nwant, 3);
    tk_records_free(&got);
}

/*
 * One instance: the first connection sends events 0-7 in fragments, a ping,
 * malformed JSON, two oversized messages (one in fragments, one 64-bit
 * frame), a binary message, and closes with 1001. The reconnect (to the
 * same instance: a close is no failure) must ask for the last time_us minus
 * the rewind; the server replays from there (event 3), and the posts it
 * repeats must not be published again.
 */
Test(producer_bluesky, close_resume_bad_messages, .timeout = 120)
{
    char *topic = tk_unique("bsky-input"), want_path[256];
    long long cursor = fixture_time_us(7) - REWIND_MS * 1000LL;
    js_server a;
    fh_proc p;
    int port;

    tk_create_topic(topic, 3, 1, NULL);
    js_start(&a, "[{\"steps\": [{\"send\": [0, 8], \"fragments\": 3}, {\"ping\": true},"
                 " {\"text\": \"{not json\"}, {\"oversize\": 100000, \"fragments\": 4},"
                 " {\"oversize\": 70000}, {\"binary\": 100}, {\"close\": 1001}]},"
                 " {\"steps\": [{\"send\": [0, 15]}, {\"stall\": true}]}]");
    fh_proc_start(&p, producer_args(js_url(&a), topic, "--stall.timeout.ms=30000"), NULL);
    port = fh_proc_http_port(&p, 10000);
    cr_assert_gt(port, 0);
    cr_assert(js_wait(&a, "\"event\": \"pong\", \"conn\": 0", 30000), "the ping was answered");
    cr_assert(js_wait(&a, "\"event\": \"closed\", \"conn\": 0, \"code\": 1001", 30000));
    snprintf(
        want_path, sizeof(want_path),
        "\"conn\": 1, \"path\": \"/subscribe?wantedCollections=app.bsky.feed.post&cursor=%lld\"",
        cursor);
    cr_assert(js_wait(&a, want_path, 30000), "the reconnect asks for %lld", cursor);
    cr_assert_eq(fh_wait_metric(port, "tagstream_producer_records_produced_total", 15, 30000), 15);
    /* from the cursor (event 3) on: posts 4, 6 and 7 again */
    cr_expect_eq(fh_wait_metric(port, "tagstream_producer_duplicates_total", 3, 10000), 3);
    cr_expect_eq(metric(port, "tagstream_producer_posts_total"), 11);
    cr_expect_eq(metric(port, "tagstream_producer_events_ignored_total"), 6, "3 and 5 twice");
    cr_expect_eq(metric(port, "tagstream_producer_skipped_total{reason=\"oversize\"}"), 2);
    cr_expect_eq(metric(port, "tagstream_producer_skipped_total{reason=\"malformed_json\"}"), 1);
    cr_expect_eq(metric(port, "tagstream_producer_skipped_total{reason=\"unrecognized\"}"), 1);
    cr_expect_eq(metric(port, "tagstream_producer_skipped_total{reason=\"bad_tag\"}"), 1);
    cr_expect_eq(metric(port, "tagstream_producer_reconnects_total{cause=\"drop\"}"), 1);
    cr_expect_eq(metric(port, "tagstream_producer_source_connected"), 1);
    fh_proc_signal(&p, SIGTERM);
    cr_assert_eq(fh_proc_wait(&p, 15000), 0);
    js_stop(&a);
    check_topic(topic);
    fh_proc_cleanup(&p);
    tk_delete_topic(topic);
    free(topic);
}

/* A loopback port nothing listens on. */
static int dead_port(void)
{
    struct sockaddr_in sa = {0};
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/*
 * Three instances: A sends events 0-4 and goes silent; after the stall the
 * producer fails over to B, which answers the upgrade with 503, then to C,
 * where nothing listens, then back to A, which replays from the rewound
 * cursor to the end. Every connection after the first asks for the same
 * cursor; the topic holds each hashtag once.
 */
Test(producer_bluesky, stall_and_failover, .timeout = 120)
{
    char *topic = tk_unique("bsky-input"), instances[256], want_path[256];
    long long cursor = fixture_time_us(4) - REWIND_MS * 1000LL;
    js_server a, b;
    fh_proc p;
    int port;

    tk_create_topic(topic, 3, 1, NULL);
    js_start(&a, "[{\"steps\": [{\"send\": [0, 5]}, {\"stall\": true}]},"
                 " {\"steps\": [{\"send\": [0, 15]}, {\"stall\": true}]}]");
    js_start(&b, "[{\"steps\": [{\"http\": 503}]}]");
    snprintf(instances, sizeof(instances), "%s, %s,ws://127.0.0.1:%d", js_url(&a), js_url(&b),
             dead_port());
    fh_proc_start(&p, producer_args(instances, topic, "--stall.timeout.ms=1500"), NULL);
    port = fh_proc_http_port(&p, 10000);
    cr_assert_gt(port, 0);
    snprintf(want_path, sizeof(want_path),
             "\"path\": \"/subscribe?wantedCollections=app.bsky.feed.post&cursor=%lld\"", cursor);
    cr_assert(js_wait(&b, want_path, 30000), "B is asked for %lld", cursor);
    cr_assert(js_wait(&b, "\"status\": 503", 1000));
    snprintf(
        want_path, sizeof(want_path),
        "\"conn\": 1, \"path\": \"/subscribe?wantedCollections=app.bsky.feed.post&cursor=%lld\"",
        cursor);
    cr_assert(js_wait(&a, want_path, 30000), "A again, asked for %lld", cursor);
    cr_assert_eq(fh_wait_metric(port, "tagstream_producer_records_produced_total", 15, 30000), 15);
    /* from the cursor (event 0) on: posts 1, 2 and 4 again */
    cr_expect_geq(fh_wait_metric(port, "tagstream_producer_duplicates_total", 3, 10000), 3);
    cr_expect_geq(metric(port, "tagstream_producer_reconnects_total{cause=\"stall\"}"), 1);
    cr_expect_geq(metric(port, "tagstream_producer_reconnects_total{cause=\"http\"}"), 1);
    cr_expect_geq(metric(port, "tagstream_producer_reconnects_total{cause=\"network\"}"), 1);
    fh_proc_signal(&p, SIGTERM);
    cr_assert_eq(fh_proc_wait(&p, 15000), 0);
    js_stop(&a);
    js_stop(&b);
    check_topic(topic);
    fh_proc_cleanup(&p);
    tk_delete_topic(topic);
    free(topic);
}

/* A server that accepts the TCP connection and never answers the upgrade:
 * the producer gives up after connect.timeout.ms, and a SIGTERM while it
 * waits ends it at once with exit 0. */
Test(producer_bluesky, silent_server_and_stop, .timeout = 60)
{
    struct sockaddr_in sa = {0};
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char *topic = tk_unique("bsky-input"), url[64];
    fh_proc p;
    int port;

    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(fd, 8), 0);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d", ntohs(sa.sin_port));
    tk_create_topic(topic, 1, 1, NULL);
    fh_proc_start(&p, producer_args(url, topic, "--stall.timeout.ms=1500"), NULL);
    port = fh_proc_http_port(&p, 10000);
    cr_assert_gt(port, 0);
    cr_assert_geq(
        fh_wait_metric(port, "tagstream_producer_reconnects_total{cause=\"network\"}", 2, 20000), 2,
        "each attempt ends after connect.timeout.ms");
    cr_expect(fh_log_wait(&p, "no connection within 2000 ms", 1000));
    cr_expect_eq(metric(port, "tagstream_producer_source_connected"), 0);
    fh_proc_signal(&p, SIGTERM);
    cr_assert_eq(fh_proc_wait(&p, 5000), 0);
    close(fd);
    fh_proc_cleanup(&p);
    tk_delete_topic(topic);
    free(topic);
}

/*
 * wss:// with a certificate made for the test: the producer verifies it
 * against the CA certificates OpenSSL is told of (SSL_CERT_FILE, read by
 * OpenSSL's default verify paths); a producer that does not know the
 * certificate refuses the connection and publishes nothing.
 */
Test(producer_bluesky, tls, .timeout = 120)
{
    char *topic = tk_unique("bsky-input"), dir[] = "/tmp/bsky-tls-XXXXXX", cmd[1024], tls[512],
         url[64], env_cert[600];
    const char *env[] = {env_cert, NULL};
    js_server a;
    fh_proc p, q;
    int port;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/key.pem -out %s/cert.pem "
             "-days 2 -subj /CN=127.0.0.1 -addext subjectAltName=DNS:127.0.0.1,IP:127.0.0.1 "
             ">/dev/null 2>&1",
             dir, dir);
    cr_assert_eq(system(cmd), 0, "openssl could not make a certificate");
    snprintf(tls, sizeof(tls), "{\"cert\": \"%s/cert.pem\", \"key\": \"%s/key.pem\"}", dir, dir);
    snprintf(env_cert, sizeof(env_cert), "SSL_CERT_FILE=%s/cert.pem", dir);
    tk_create_topic(topic, 3, 1, NULL);
    js_start_tls(&a, "[{\"steps\": [{\"send\": [0, 15]}, {\"stall\": true}]}]", tls);
    snprintf(url, sizeof(url), "wss://127.0.0.1:%d", a.port);

    /* not trusted: no connection, nothing published */
    fh_proc_start(&q, producer_args(url, topic, "--stall.timeout.ms=30000"), NULL);
    port = fh_proc_http_port(&q, 10000);
    cr_assert_gt(port, 0);
    cr_assert_geq(
        fh_wait_metric(port, "tagstream_producer_reconnects_total{cause=\"network\"}", 2, 20000),
        2);
    cr_expect(fh_log_wait(&q, "self-signed", 1000), "the TLS error is logged");
    cr_expect_eq(metric(port, "tagstream_producer_posts_total"), 0);
    fh_proc_signal(&q, SIGTERM);
    cr_assert_eq(fh_proc_wait(&q, 15000), 0);
    fh_proc_cleanup(&q);
    cr_expect(!js_wait(&a, "\"event\": \"connect\"", 100), "no WebSocket was opened");

    /* trusted */
    fh_proc_start(&p, producer_args(url, topic, "--stall.timeout.ms=30000"), env);
    port = fh_proc_http_port(&p, 10000);
    cr_assert_gt(port, 0);
    cr_assert_eq(fh_wait_metric(port, "tagstream_producer_records_produced_total", 15, 30000), 15);
    fh_proc_signal(&p, SIGTERM);
    cr_assert_eq(fh_proc_wait(&p, 15000), 0);
    fh_proc_cleanup(&p);
    js_stop(&a);
    check_topic(topic);
    snprintf(cmd, sizeof(cmd), "%s/cert.pem", dir);
    unlink(cmd);
    snprintf(cmd, sizeof(cmd), "%s/key.pem", dir);
    unlink(cmd);
    rmdir(dir);
    tk_delete_topic(topic);
    free(topic);
}
