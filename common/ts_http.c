#include "ts_http_int.h"
#include "ts_clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TS_HTTP_METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define TS_HTTP_JSON_TYPE    "application/json"
#define TS_HTTP_TEXT_TYPE    "text/plain; charset=utf-8"
/* libmicrohttpd's own inactivity timeout (seconds): a backstop. */
#define TS_HTTP_IDLE_TIMEOUT_S 5u
/* How long ts_http_stop lets answers in flight finish. */
#define TS_HTTP_DRAIN_MS 2000

static void ts_http_log(void *cls, const char *fmt, va_list ap)
{
    ts_http *h = cls;
    size_t n;

    if (!atomic_load(&h->capture) || h->message[0])
        return;
    vsnprintf(h->message, sizeof(h->message), fmt, ap);
    n = strlen(h->message);
    while (n && (h->message[n - 1] == '\n' || h->message[n - 1] == '\r'))
        h->message[--n] = '\0';
}

static void ts_http_free_static(void *p)
{
    (void)p;
}

static void ts_http_free_heap(void *p)
{
    free(p);
}

/*
 * Queue a response that takes `body` (malloc'd when `heap`, else static).
 * A heap body is freed here when the response cannot be made.
 */
static enum MHD_Result ts_http_reply(struct MHD_Connection *conn, unsigned int status,
                                     const char *type, char *body, size_t len, int heap)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    resp = MHD_create_response_from_buffer_with_free_callback(
        len, body, heap ? ts_http_free_heap : ts_http_free_static);
    if (!resp) {
        if (heap)
            free(body);
        return MHD_NO;
    }
    /* Every connection closes after its answer: no idle keep-alive
     * connection then holds up ts_http_stop, and probes reconnect anyway. */
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES ||
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES ||
        (status == MHD_HTTP_METHOD_NOT_ALLOWED &&
         MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET") != MHD_YES)) {
        MHD_destroy_response(resp);
        return MHD_NO;
    }
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result ts_http_reply_text(struct MHD_Connection *conn, unsigned int status,
                                          const char *text)
{
    return ts_http_reply(conn, status, TS_HTTP_TEXT_TYPE, (char *)text, strlen(text), 0);
}

/* Hand a rendered buffer to the connection, or answer 500 if rendering failed. */
static enum MHD_Result ts_http_reply_buf(struct MHD_Connection *conn, unsigned int status,
                                         const char *type, ts_buf *b)
{
    char *body;
    size_t len;

    if (ts_buf_status(b) != TS_OK) {
        ts_buf_free(b);
        return ts_http_reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    body = ts_buf_take(b, &len);
    return ts_http_reply(conn, status, type, body, len, 1);
}

static enum MHD_Result ts_http_check(struct MHD_Connection *conn, ts_http *h, ts_http_check_cb *cb)
{
    ts_buf detail = TS_BUF_INIT, body = TS_BUF_INIT;
    int ok = 1;

    if (cb)
        ok = cb(h->opaque, &detail);
    ts_buf_puts(&body, ok ? "{\"status\":\"ok\"" : "{\"status\":\"unavailable\"");
    if (detail.len) {
        ts_buf_putc(&body, ',');
        ts_buf_append(&body, detail.data, detail.len);
    }
    ts_buf_putc(&body, '}');
    if (ts_buf_status(&detail) != TS_OK)
        body.failed = 1;
    ts_buf_free(&detail);
    return ts_http_reply_buf(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                             TS_HTTP_JSON_TYPE, &body);
}

static enum MHD_Result ts_http_metrics(struct MHD_Connection *conn, ts_http *h)
{
    ts_buf body = TS_BUF_INIT;

    /* Allocate even when empty: the response needs a buffer to own. */
    ts_buf_append(&body, "", 0);
    ts_metrics_render(h->metrics, &body);
    return ts_http_reply_buf(conn, MHD_HTTP_OK, TS_HTTP_METRICS_TYPE, &body);
}

static enum MHD_Result ts_http_page(struct MHD_Connection *conn, const ts_http_route *route,
                                    const char *url)
{
    ts_http_answer a = {0};
    struct MHD_Response *resp;
    enum MHD_Result ret;
    char *body;
    size_t len;

    ts_buf_init(&a.body, 0);
    /* Allocate even when empty: the response needs a buffer to own. */
    ts_buf_append(&a.body, "", 0);
    route->page(route->opaque, url, &a);
    if (ts_buf_status(&a.body) != TS_OK) {
        ts_buf_free(&a.body);
        return ts_http_reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    body = ts_buf_take(&a.body, &len);
    resp = MHD_create_response_from_buffer_with_free_callback(len, body, ts_http_free_heap);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                a.type ? a.type : TS_HTTP_TEXT_TYPE) != MHD_YES ||
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES ||
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES ||
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff") != MHD_YES ||
        (a.csp && MHD_add_response_header(resp, "Content-Security-Policy", a.csp) != MHD_YES)) {
        MHD_destroy_response(resp);
        return MHD_NO;
    }
    ret = MHD_queue_response(conn, a.status ? a.status : MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

/*
 * Every request is answered on the first call, before any body is read:
 * the endpoints take no body, and libmicrohttpd discards one (or closes the
 * connection) after an early answer.
 */
static enum MHD_Result ts_http_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    ts_http *h = cls;
    const ts_http_route *extra = NULL;
    enum MHD_Result ret;
    int refused;
    enum {
        HEALTH,
        READY,
        METRICS,
        EXTRA
    } route;

    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    if (!strcmp(url, "/health"))
        route = HEALTH;
    else if (!strcmp(url, "/ready"))
        route = READY;
    else if (!strcmp(url, "/metrics"))
        route = METRICS;
    else {
        for (const ts_http_route *r = h->routes; r && r->path && !extra; r++)
            if (!strcmp(url, r->path))
                extra = r;
        if (!extra)
            return ts_http_reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
        route = EXTRA;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET))
        return ts_http_reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    switch (route) {
    case HEALTH:
        return ts_http_check(conn, h, h->health);
    case READY:
        return ts_http_check(conn, h, h->ready);
    case METRICS:
        return ts_http_metrics(conn, h);
    case EXTRA:
        if (!extra->stream)
            return ts_http_page(conn, extra, url);
        ret = ts_http_stream_open(conn, h, extra, &refused);
        return refused ? ts_http_reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                                            "too many event streams\n")
                       : ret;
    }
    return MHD_NO;
}

/* "HOST:PORT" or "[HOST]:PORT" into host (empty for every address) and port. */
static ts_err ts_http_parse_listen(const char *listen, char *host, size_t host_size, uint16_t *port,
                                   char *errstr, size_t errstr_size)
{
    const char *hs = listen, *he, *ps;
    unsigned long v;
    char *end;

    if (listen[0] == '[') {
        hs = listen + 1;
        he = strchr(hs, ']');
        if (!he || he[1] != ':')
            goto fail;
        ps = he + 2;
    } else {
        he = strrchr(listen, ':');
        if (!he)
            goto fail;
        ps = he + 1;
    }
    if ((size_t)(he - hs) >= host_size)
        goto fail;
    memcpy(host, hs, (size_t)(he - hs));
    host[he - hs] = '\0';
    if (*ps < '0' || *ps > '9')
        goto fail;
    errno = 0;
    v = strtoul(ps, &end, 10);
    if (errno || *end || v > 65535)
        goto fail;
    *port = (uint16_t)v;
    return TS_OK;
fail:
    return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                     "invalid listen address \"%s\" (expected HOST:PORT)", listen);
}

ts_http *ts_http_start(const char *listen, ts_metrics *metrics, ts_http_check_cb *health,
                       ts_http_check_cb *ready, void *opaque, char *errstr, size_t errstr_size)
{
    return ts_http_start_routes(listen, metrics, health, ready, opaque, NULL, errstr, errstr_size);
}

ts_http *ts_http_start_routes(const char *listen, ts_metrics *metrics, ts_http_check_cb *health,
                              ts_http_check_cb *ready, void *opaque, const ts_http_route *routes,
                              char *errstr, size_t errstr_size)
{
    /* The acceptor owns the listening socket and hands connections over;
     * suspend/resume lets an event stream wait without a thread. */
    const unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
                               MHD_USE_ITC | MHD_USE_NO_LISTEN_SOCKET | MHD_ALLOW_SUSPEND_RESUME;
    char host[256];
    uint16_t port = 0;
    ts_http *h;

    if (!listen)
        listen = "";
    if (ts_http_parse_listen(listen, host, sizeof(host), &port, errstr, errstr_size))
        return NULL;
    h = calloc(1, sizeof(*h));
    if (!h) {
        ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
        return NULL;
    }
    h->metrics = metrics;
    h->health = health;
    h->ready = ready;
    h->opaque = opaque;
    h->routes = routes;
    h->listen_fd = -1;
    pthread_mutex_init(&h->stream_lock, NULL);
    atomic_init(&h->nstreams, 0);
    atomic_init(&h->capture, 1);
    atomic_init(&h->shed, 0);
    for (int i = 0; i < TS_HTTP_SLOTS; i++)
        h->conns[i].fd = MHD_INVALID_SOCKET;
    if (pthread_mutex_init(&h->lock, NULL)) {
        ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "cannot make a mutex");
        goto fail_free;
    }
    if (pipe2(h->wake, O_CLOEXEC)) {
        ts_seterr(TS_ERR_IO, errstr, errstr_size, "cannot make a pipe: %s", strerror(errno));
        goto fail_mutex;
    }
    if (ts_http_bind(h, listen, host, port, errstr, errstr_size))
        goto fail_pipe;
    h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, ts_http_handle, h,
                                 MHD_OPTION_EXTERNAL_LOGGER, ts_http_log, h,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned int)TS_HTTP_SLOTS + 16u,
                                 MHD_OPTION_CONNECTION_TIMEOUT, TS_HTTP_IDLE_TIMEOUT_S,
                                 MHD_OPTION_NOTIFY_CONNECTION, ts_http_notify, h, MHD_OPTION_END);
    if (!h->daemon) {
        ts_seterr(TS_ERR_IO, errstr, errstr_size, "cannot listen on %s: %s", listen,
                  h->message[0] ? h->message : "cannot start the HTTP server");
        goto fail_listen;
    }
    atomic_store(&h->capture, 0);
    if (pthread_create(&h->acceptor, NULL, ts_http_accept_loop, h)) {
        ts_seterr(TS_ERR_IO, errstr, errstr_size, "cannot listen on %s: cannot start a thread",
                  listen);
        goto fail_daemon;
    }
    return h;

fail_daemon:
    MHD_stop_daemon(h->daemon);
fail_listen:
    close(h->listen_fd);
fail_pipe:
    close(h->wake[0]);
    close(h->wake[1]);
fail_mutex:
    pthread_mutex_destroy(&h->lock);
fail_free:
    pthread_mutex_destroy(&h->stream_lock);
    free(h);
    return NULL;
}

int ts_http_port(const ts_http *h)
{
    return h ? h->port : 0;
}

unsigned long ts_http_shed_count(ts_http *h)
{
    return h ? atomic_load(&h->shed) : 0;
}

void ts_http_stop(ts_http *h)
{
    const union MHD_DaemonInfo *info;
    struct timespec pause = {0, 10 * 1000 * 1000};
    ssize_t w;

    if (!h)
        return;
    /* Stop accepting (new clients are refused at once), let the answers
     * being made or sent finish, then stop. Stopping joins the server
     * thread, so no callback runs after this returns. */
    do
        w = write(h->wake[1], "x", 1);
    while (w < 0 && errno == EINTR);
    pthread_join(h->acceptor, NULL);
    close(h->listen_fd);
    ts_http_wake(h, 1); /* event streams end */
    for (int waited = 0; waited < TS_HTTP_DRAIN_MS; waited += 10) {
        info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!info || !info->num_connections)
            break;
        nanosleep(&pause, NULL);
    }
    MHD_stop_daemon(h->daemon);
    close(h->wake[0]);
    close(h->wake[1]);
    pthread_mutex_destroy(&h->lock);
    pthread_mutex_destroy(&h->stream_lock);
    free(h);
}
