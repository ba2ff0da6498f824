/*
 * ts_http over real loopback TCP, with libcurl as the client.
 */
#include "ts_clock.h"
#include "ts_http.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct response {
    long status;
    ts_buf body;
    char type[128];
    char allow[64];
} response;

static size_t on_body(char *p, size_t size, size_t n, void *opaque)
{
    response *r = opaque;

    ts_buf_append(&r->body, p, size * n);
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *opaque)
{
    response *r = opaque;
    size_t len = size * n;

    if (len > 6 && !strncasecmp(p, "Allow:", 6)) {
        size_t v = 6;
        while (v < len && p[v] == ' ')
            v++;
        snprintf(r->allow, sizeof(r->allow), "%.*s", (int)(len - v), p + v);
        r->allow[strcspn(r->allow, "\r\n")] = '\0';
    }
    return len;
}

/* One request; returns the curl result (CURLE_OK when a response came). */
static CURLcode request(int port, const char *method, const char *path, response *r)
{
    char url[128];
    CURLcode rc;
    CURL *c = curl_easy_init();
    char *type = NULL;

    cr_assert_not_null(c);
    memset(r, 0, sizeof(*r));
    ts_buf_init(&r->body, 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    /* generous: the tests assert an answer, not a time (ASan on a busy machine) */
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (!strcmp(method, "POST"))
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
    else if (!strcmp(method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET"))
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
    if (type)
        snprintf(r->type, sizeof(r->type), "%s", type);
    curl_easy_cleanup(c);
    return rc;
}

static void get_ok(int port, const char *method, const char *path, response *r)
{
    CURLcode rc = request(port, method, path, r);

    cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
}

/* The body as JSON, with "status" checked. */
static json_t *parse_status(response *r, const char *status)
{
    json_error_t jerr;
    json_t *j = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, &jerr);

    cr_assert_not_null(j, "not JSON (%s): %s", jerr.text, r->body.data);
    cr_expect_str_eq(json_string_value(json_object_get(j, "status")), status, "%s", r->body.data);
    return j;
}

static void setup(void)
{
    cr_assert_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
}

static void teardown(void)
{
    curl_global_cleanup();
}

TestSuite(http, .init = setup, .fini = teardown);

struct state {
    atomic_int alive;
    atomic_int ready;
    atomic_int restoring;
};

static int check_health(void *opaque, ts_buf *detail)
{
    struct state *s = opaque;

    ts_buf_puts(detail, "\"loop\":");
    ts_buf_puts(detail, atomic_load(&s->alive) ? "\"running\"" : "\"stalled\"");
    return atomic_load(&s->alive);
}

static int check_ready(void *opaque, ts_buf *detail)
{
    struct state *s = opaque;
    int restoring = atomic_load(&s->restoring);

    ts_buf_printf(detail, "\"tasks_restoring\":%d,\"tasks\":[\"0_0\",\"0_1\"]", restoring);
    return atomic_load(&s->ready) && restoring == 0;
}

Test(http, health_and_ready_follow_the_callbacks)
{
    struct state s;
    char err[256] = "";
    ts_http *h;
    response r;
    json_t *j;
    int port;

    atomic_init(&s.alive, 1);
    atomic_init(&s.ready, 0);
    atomic_init(&s.restoring, 2);
    h = ts_http_start("127.0.0.1:0", NULL, check_health, check_ready, &s, err, sizeof(err));
    cr_assert_not_null(h, "%s", err);
    port = ts_http_port(h);

    get_ok(port, "GET", "/health", &r);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.type, "application/json");
    j = parse_status(&r, "ok");
    cr_expect_str_eq(json_string_value(json_object_get(j, "loop")), "running");
    json_decref(j);
    ts_buf_free(&r.body);

    get_ok(port, "GET", "/ready", &r);
    cr_expect_eq(r.status, 503);
    cr_expect_str_eq(r.type, "application/json");
    j = parse_status(&r, "unavailable");
    cr_expect_eq(json_integer_value(json_object_get(j, "tasks_restoring")), 2);
    cr_expect_eq(json_array_size(json_object_get(j, "tasks")), 2);
    json_decref(j);
    ts_buf_free(&r.body);

    /* Restored: ready. Loop stalls: unhealthy, still ready. */
    atomic_store(&s.restoring, 0);
    atomic_store(&s.ready, 1);
    atomic_store(&s.alive, 0);
    get_ok(port, "GET", "/ready", &r);
    cr_expect_eq(r.status, 200);
    j = parse_status(&r, "ok");
    cr_expect_eq(json_integer_value(json_object_get(j, "tasks_restoring")), 0);
    json_decref(j);
    ts_buf_free(&r.body);

    get_ok(port, "GET", "/health", &r);
    cr_expect_eq(r.status, 503);
    j = parse_status(&r, "unavailable");
    cr_expect_str_eq(json_string_value(json_object_get(j, "loop")), "stalled");
    json_decref(j);
    ts_buf_free(&r.body);

    ts_http_stop(h);
}

Test(http, without_callbacks_always_ok)
{
    char err[256] = "";
    ts_http *h = ts_http_start("127.0.0.1:0", NULL, NULL, NULL, NULL, err, sizeof(err));
    response r;

    cr_assert_not_null(h, "%s", err);
    get_ok(ts_http_port(h), "GET", "/health", &r);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body.data, "{\"status\":\"ok\"}");
    ts_buf_free(&r.body);
    get_ok(ts_http_port(h), "GET", "/ready", &r);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.body.data, "{\"status\":\"ok\"}");
    ts_buf_free(&r.body);
    /* No registry: an empty exposition. */
    get_ok(ts_http_port(h), "GET", "/metrics", &r);
    cr_expect_eq(r.status, 200);
    cr_expect_eq(r.body.len, 0);
    ts_buf_free(&r.body);
    ts_http_stop(h);
}

static void lag_collector(void *opaque, ts_buf *out)
{
    (void)opaque;
    ts_buf_puts(out, "tagstream_consumer_lag{partition=\"0\"} 12\n");
}

Test(http, metrics_body_is_the_rendered_registry)
{
    static const double bounds[] = {0.1, 1};
    ts_metrics *m = ts_metrics_new();
    ts_buf expect = TS_BUF_INIT;
    char err[256] = "";
    ts_http *h;
    response r;

    ts_counter_add(ts_metrics_counter(m, "tagstream_records_read_total", "Records read.",
                                      "topic=\"twitter_input\""),
                   7);
    ts_gauge_set(ts_metrics_gauge(m, "tagstream_tasks_restoring", "Restoring.", NULL), 1);
    ts_histogram_observe(
        ts_metrics_histogram(m, "tagstream_commit_duration_seconds", "Commit.", NULL, bounds, 2),
        0.5);
    cr_assert_eq(
        ts_metrics_add_collector(m, "tagstream_consumer_lag", "Lag.", "gauge", lag_collector, NULL),
        TS_OK);
    h = ts_http_start("127.0.0.1:0", m, NULL, NULL, NULL, err, sizeof(err));
    cr_assert_not_null(h, "%s", err);

    get_ok(ts_http_port(h), "GET", "/metrics", &r);
    cr_assert_eq(ts_metrics_render(m, &expect), TS_OK);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(r.type, "text/plain; version=0.0.4; charset=utf-8");
    cr_expect_eq(r.body.len, expect.len);
    cr_expect_str_eq(r.body.data, expect.data);
    cr_expect(strstr(r.body.data, "tagstream_consumer_lag{partition=\"0\"} 12\n"));
    ts_buf_free(&r.body);

    /* Every scrape renders afresh. */
    ts_gauge_set(ts_metrics_gauge(m, "tagstream_tasks_restoring", "Restoring.", NULL), 0);
    get_ok(ts_http_port(h), "GET", "/metrics", &r);
    cr_expect(strstr(r.body.data, "\ntagstream_tasks_restoring 0\n"), "%s", r.body.data);
    ts_buf_free(&r.body);

    ts_http_stop(h);
    ts_buf_free(&expect);
    ts_metrics_destroy(m);
}

Test(http, unknown_paths_and_other_methods)
{
    static const char *const paths[] = {"/", "/nope", "/metrics/", "/healthz", "/Health"};
    static const char *const methods[] = {"POST", "PUT", "DELETE", "HEAD"};
    char err[256] = "";
    ts_http *h = ts_http_start("127.0.0.1:0", NULL, NULL, NULL, NULL, err, sizeof(err));
    response r;

    cr_assert_not_null(h, "%s", err);
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        get_ok(ts_http_port(h), "GET", paths[i], &r);
        cr_expect_eq(r.status, 404, "%s", paths[i]);
        ts_buf_free(&r.body);
    }
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        get_ok(ts_http_port(h), methods[i], "/metrics", &r);
        cr_expect_eq(r.status, 405, "%s", methods[i]);
        cr_expect_str_eq(r.allow, "GET", "%s", methods[i]);
        ts_buf_free(&r.body);
    }
    /* The query string is not part of the path. */
    get_ok(ts_http_port(h), "GET", "/health?verbose=1", &r);
    cr_expect_eq(r.status, 200);
    ts_buf_free(&r.body);
    ts_http_stop(h);
}

Test(http, port_zero_binds_a_real_port)
{
    char err[256] = "", listen[64];
    ts_http *h = ts_http_start("127.0.0.1:0", NULL, NULL, NULL, NULL, err, sizeof(err));
    ts_http *again, *any;
    response r;
    int port;

    cr_assert_not_null(h, "%s", err);
    port = ts_http_port(h);
    cr_expect(port > 0 && port < 65536, "port %d", port);

    /* The port is really taken: binding it again fails with a message. */
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    again = ts_http_start(listen, NULL, NULL, NULL, NULL, err, sizeof(err));
    cr_expect_null(again);
    cr_expect(strstr(err, listen), "%s", err);
    ts_http_stop(again);

    /* An empty host listens on every address, loopback included. */
    any = ts_http_start(":0", NULL, NULL, NULL, NULL, err, sizeof(err));
    cr_assert_not_null(any, "%s", err);
    cr_expect_neq(ts_http_port(any), 0);
    get_ok(ts_http_port(any), "GET", "/health", &r);
    cr_expect_eq(r.status, 200);
    ts_buf_free(&r.body);
    ts_http_stop(any);

    /* A host name resolves. */
    any = ts_http_start("localhost:0", NULL, NULL, NULL, NULL, err, sizeof(err));
    cr_assert_not_null(any, "%s", err);
    cr_expect_neq(ts_http_port(any), 0);
    ts_http_stop(any);

    ts_http_stop(h);
    cr_expect_eq(ts_http_port(NULL), 0);
}

Test(http, bad_listen_addresses_fail)
{
    static const char *const bad[] = {"",
                                      "9090",
                                      "127.0.0.1",
                                      "127.0.0.1:",
                                      "127.0.0.1:x",
                                      "127.0.0.1:65536",
                                      "127.0.0.1:-1",
                                      "[::1",
                                      "[::1]9090",
                                      "no-such-host.invalid:0"};
    char err[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        cr_expect_null(ts_http_start(bad[i], NULL, NULL, NULL, NULL, err, sizeof(err)), "%s",
                       bad[i]);
        cr_expect_neq(err[0], '\0', "no message for %s", bad[i]);
    }
}

/* A probe that takes its time, to stop the server while it runs. */
struct slow {
    atomic_int entered;
    atomic_int finished;
};

static int check_slow(void *opaque, ts_buf *detail)
{
    struct slow *s = opaque;
    struct timespec pause = {0, 300 * 1000 * 1000};

    (void)detail;
    atomic_store(&s->entered, 1);
    nanosleep(&pause, NULL);
    atomic_store(&s->finished, 1);
    return 1;
}

struct client {
    int port;
    const char *path;
    int rounds;
    atomic_int *go;
    int complete; /* whole 200 answers */
    int broken;   /* answers that came, but not whole */
};

static void *client_thread(void *arg)
{
    struct client *c = arg;

    while (!atomic_load(c->go))
        ;
    for (int i = 0; i < c->rounds; i++) {
        response r;

        /* Once the server stops, requests fail: that is expected. A
         * response that does arrive must be whole. */
        if (request(c->port, "GET", c->path, &r) == CURLE_OK && r.status == 200 && r.body.len > 0 &&
            r.body.data[r.body.len - 1] == (c->path[1] == 'm' ? '\n' : '}'))
            c->complete++;
        ts_buf_free(&r.body);
    }
    return NULL;
}

Test(http, stop_waits_for_requests_in_flight)
{
    struct slow s;
    ts_metrics *m = ts_metrics_new();
    char err[256] = "";
    atomic_int go;
    struct client c[3];
    pthread_t tid[3];
    response r;
    ts_http *h;
    int port;

    atomic_init(&s.entered, 0);
    atomic_init(&s.finished, 0);
    atomic_init(&go, 0);
    for (int i = 0; i < 50; i++) {
        char name[64];
        snprintf(name, sizeof(name), "tagstream_series_%d_total", i);
        ts_counter_add(ts_metrics_counter(m, name, "Filler.", NULL), (uint64_t)i);
    }
    h = ts_http_start("127.0.0.1:0", m, NULL, check_slow, &s, err, sizeof(err));
    cr_assert_not_null(h, "%s", err);

    c[0] = (struct client){ts_http_port(h), "/ready", 1, &go, 0};
    c[1] = (struct client){ts_http_port(h), "/metrics", 200, &go, 0};
    c[2] = (struct client){ts_http_port(h), "/metrics", 200, &go, 0};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pthread_create(&tid[i], NULL, client_thread, &c[i]), 0);
    atomic_store(&go, 1);
    while (!atomic_load(&s.entered))
        ;

    port = ts_http_port(h);
    ts_http_stop(h);
    /* The probe was running when stop began; stop returned only after it. */
    cr_expect_eq(atomic_load(&s.finished), 1, "stop returned while a request was in flight");

    for (int i = 0; i < 3; i++)
        pthread_join(tid[i], NULL);
    /* The request in flight got its whole answer. */
    cr_expect_eq(c[0].complete, 1, "the /ready request in flight was not answered");
    /* Every /metrics answer that came was whole; after the stop nothing
     * answers. */
    cr_expect_eq(c[0].broken + c[1].broken + c[2].broken, 0);
    cr_expect_neq(request(port, "GET", "/health", &r), CURLE_OK);
    ts_buf_free(&r.body);
    ts_metrics_destroy(m);
}

/* A loopback client connected to port from the source address src
 * (any of 127.0.0.0/8: one "client" each), or -1. */
static int flood_connect(int port, const char *src)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    inet_pton(AF_INET, src, &a.sin_addr);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        a.sin_port = htons((uint16_t)port);
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
            return fd;
    }
    close(fd);
    return -1;
}

/* 1 if the server closed fd (end of stream or reset) within wait_ms. */
static int closed_by_server(int fd, int wait_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char buf[512];

    while (poll(&p, 1, wait_ms) == 1) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n <= 0)
            return n == 0 || errno != EAGAIN;
    }
    return 0;
}

/*
 * Hundreds of connections that send nothing, and hundreds that send half a
 * request, from eleven addresses: /health still answers, every time. (With
 * one pool of 32 connections and a 30 s idle timeout, 32 such connections
 * kept the health check out.)
 */
Test(http, health_answers_under_a_connection_flood)
{
    enum {
        IDLE = 300,
        SLOW = 200
    };
    static int fds[IDLE + SLOW];
    static const char half[] = "GET /health HTTP/1.1\r\nHost: x\r\n";
    char err[256] = "", src[32];
    struct state s;
    ts_http *h;
    response r;
    int port;

    atomic_init(&s.alive, 1);
    atomic_init(&s.ready, 1);
    atomic_init(&s.restoring, 0);
    h = ts_http_start("127.0.0.1:0", NULL, check_health, check_ready, &s, err, sizeof(err));
    cr_assert_not_null(h, "%s", err);
    port = ts_http_port(h);
    /* Idle ones from the health check's own address, slow ones from ten
     * others. */
    for (int i = 0; i < IDLE + SLOW; i++) {
        snprintf(src, sizeof(src), "127.0.0.%d", i < IDLE ? 1 : 2 + i % 10);
        fds[i] = flood_connect(port, src);
        cr_assert_geq(fds[i], 0, "connection %d: %s", i, strerror(errno));
        if (i >= IDLE)
            cr_assert_eq(send(fds[i], half, sizeof(half) - 1, MSG_NOSIGNAL),
                         (ssize_t)sizeof(half) - 1);
    }
    for (int round = 0; round < 5; round++) {
        get_ok(port, "GET", "/health", &r);
        cr_expect_eq(r.status, 200, "round %d", round);
        ts_buf_free(&r.body);
        /* More of the flood between the checks. */
        for (int i = 0; i < 50; i++) {
            close(fds[i]);
            fds[i] = flood_connect(port, "127.0.0.1");
            cr_assert_geq(fds[i], 0);
        }
    }
    /* At most 64 stay open: the others were shut down to make room. */
    cr_expect_geq(ts_http_shed_count(h), (unsigned long)(IDLE + SLOW - 64));
    for (int i = 0; i < IDLE + SLOW; i++)
        close(fds[i]);
    ts_http_stop(h);
}

/* One address gets 8 connections: its ninth shuts down its oldest, and
 * other clients keep theirs. */
Test(http, one_client_gets_eight_connections)
{
    enum {
        N = 20
    };
    int fds[N], other;
    int64_t start;
    char err[256] = "";
    ts_http *h = ts_http_start("127.0.0.1:0", NULL, NULL, NULL, NULL, err, sizeof(err));

    cr_assert_not_null(h, "%s", err);
    other = flood_connect(ts_http_port(h), "127.0.0.2");
    cr_assert_geq(other, 0);
    start = ts_mono_ms();
    for (int i = 0; i < N; i++) {
        fds[i] = flood_connect(ts_http_port(h), "127.0.0.3");
        cr_assert_geq(fds[i], 0);
    }
    /* The 12 oldest are shut down at once (long before the 5 s a request
     * may take, which would close them anyway). */
    for (int i = 0; i < N - 8; i++)
        cr_expect(closed_by_server(fds[i], 4000), "connection %d is still open", i);
    /* Past the 5 s a request may take, `other` is closed for its age, and
     * rightly: only a check within that time says something (a slow,
     * sanitized build on a busy machine can take longer). */
    if (ts_mono_ms() - start < 4000)
        cr_expect_not(closed_by_server(other, 0), "another client's connection was shut down");
    else
        cr_log_warn("the connections took %lld ms: other client's check skipped",
                    (long long)(ts_mono_ms() - start));
    for (int i = 0; i < N; i++)
        close(fds[i]);
    close(other);
    ts_http_stop(h);
}

/* A client that sends a byte now and then never completes its request:
 * the server closes it after the 5 s a request may take. */
Test(http, incomplete_request_is_cut_off)
{
    char err[256] = "";
    ts_http *h = ts_http_start("127.0.0.1:0", NULL, NULL, NULL, NULL, err, sizeof(err));
    static const char trickle[] = "GET /health HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    int fd, closed = 0;

    cr_assert_not_null(h, "%s", err);
    fd = flood_connect(ts_http_port(h), "127.0.0.1");
    cr_assert_geq(fd, 0);
    /* One byte every 250 ms, for at most 30 s. */
    for (int i = 0; i < 120 && !closed; i++) {
        if (send(fd, trickle + i % (sizeof(trickle) - 1), 1, MSG_NOSIGNAL) != 1)
            closed = 1;
        else
            closed = closed_by_server(fd, 250);
    }
    cr_expect(closed, "a request that never completes kept its connection for 30 s");
    cr_expect_geq(ts_http_shed_count(h), 1ul);
    close(fd);
    ts_http_stop(h);
}
