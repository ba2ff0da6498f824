#include "ts_http.h"

#include <microhttpd.h>

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TS_HTTP_METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define TS_HTTP_JSON_TYPE    "application/json"
#define TS_HTTP_TEXT_TYPE    "text/plain; charset=utf-8"

/* Probes and scrapers are few; a client that sends nothing goes after 30 s. */
#define TS_HTTP_MAX_CONNECTIONS 32u
#define TS_HTTP_IDLE_TIMEOUT_S  30u
/* How long ts_http_stop lets answers in flight finish. */
#define TS_HTTP_DRAIN_MS 2000

struct ts_http {
    struct MHD_Daemon *daemon;
    ts_metrics *metrics;
    ts_http_check_cb *health;
    ts_http_check_cb *ready;
    void *opaque;
    int port;
    /* While starting, libmicrohttpd's first message is kept for errstr;
     * afterwards its messages are dropped (the logs are JSON on stdout, and
     * the library's text is only useful to explain a failed bind). */
    atomic_int capture;
    char message[256];
};

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
    enum {
        HEALTH,
        READY,
        METRICS
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
    else
        return ts_http_reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    if (strcmp(method, MHD_HTTP_METHOD_GET))
        return ts_http_reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    switch (route) {
    case HEALTH:
        return ts_http_check(conn, h, h->health);
    case READY:
        return ts_http_check(conn, h, h->ready);
    case METRICS:
        return ts_http_metrics(conn, h);
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

static struct MHD_Daemon *ts_http_daemon(ts_http *h, unsigned int flags, uint16_t port,
                                         const struct sockaddr *sa)
{
    /* Without an address the option list ends one item early. */
    return MHD_start_daemon(flags, port, NULL, NULL, ts_http_handle, h, MHD_OPTION_EXTERNAL_LOGGER,
                            ts_http_log, h, MHD_OPTION_CONNECTION_LIMIT, TS_HTTP_MAX_CONNECTIONS,
                            MHD_OPTION_CONNECTION_TIMEOUT, TS_HTTP_IDLE_TIMEOUT_S,
                            sa ? MHD_OPTION_SOCK_ADDR : MHD_OPTION_END, sa, MHD_OPTION_END);
}

ts_http *ts_http_start(const char *listen, ts_metrics *metrics, ts_http_check_cb *health,
                       ts_http_check_cb *ready, void *opaque, char *errstr, size_t errstr_size)
{
    const unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    const union MHD_DaemonInfo *info;
    struct addrinfo hints, *res = NULL;
    char host[256];
    uint16_t port = 0;
    ts_http *h;
    int rc;

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
    atomic_init(&h->capture, 1);

    if (!host[0]) {
        /* Every address: IPv6 and IPv4 on one socket, or IPv4 alone where
         * the kernel has no IPv6. */
        h->daemon = ts_http_daemon(h, flags | MHD_USE_DUAL_STACK, port, NULL);
        if (!h->daemon) {
            h->message[0] = '\0';
            h->daemon = ts_http_daemon(h, flags, port, NULL);
        }
    } else {
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE;
        rc = getaddrinfo(host, NULL, &hints, &res);
        if (rc) {
            ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "cannot listen on %s: %s", listen,
                      gai_strerror(rc));
            goto fail_free;
        }
        if (res->ai_family == AF_INET6)
            ((struct sockaddr_in6 *)res->ai_addr)->sin6_port = htons(port);
        else
            ((struct sockaddr_in *)res->ai_addr)->sin_port = htons(port);
        h->daemon = ts_http_daemon(h, flags | (res->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0), port,
                                   res->ai_addr);
        freeaddrinfo(res);
    }
    if (!h->daemon) {
        ts_seterr(TS_ERR_IO, errstr, errstr_size, "cannot listen on %s: %s", listen,
                  h->message[0] ? h->message : "cannot start the HTTP server");
        goto fail_free;
    }
    atomic_store(&h->capture, 0);
    info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : port;
    return h;

fail_free:
    free(h);
    return NULL;
}

int ts_http_port(const ts_http *h)
{
    return h ? h->port : 0;
}

void ts_http_stop(ts_http *h)
{
    const union MHD_DaemonInfo *info;
    struct timespec pause = {0, 10 * 1000 * 1000};
    MHD_socket fd;

    if (!h)
        return;
    /* Stop accepting (new clients are refused at once), let the answers
     * being made or sent finish, then stop. Stopping joins the server
     * thread, so no callback runs after this returns. */
    fd = MHD_quiesce_daemon(h->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    for (int waited = 0; waited < TS_HTTP_DRAIN_MS; waited += 10) {
        info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!info || !info->num_connections)
            break;
        nanosleep(&pause, NULL);
    }
    MHD_stop_daemon(h->daemon);
    free(h);
}
