#include "ts_http.h"
#include "ts_clock.h"

#include <microhttpd.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
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

/*
 * Probes and scrapers are few and quick, and every answer closes its
 * connection, so a connection that is still open is either being answered
 * (for milliseconds) or waiting for a client that is slow, idle or hostile.
 * The acceptor (our thread, not libmicrohttpd's) keeps at most
 * TS_HTTP_MAX_CONNECTIONS open, at most TS_HTTP_MAX_PER_CLIENT from one
 * address, and none longer than TS_HTTP_REQUEST_TIMEOUT_MS: when a new
 * connection would pass a limit, an older one is shut down to make room
 * (ts_http_admit says which). A client with few connections, such as the
 * health check, is thus served whatever the others do.
 */
#define TS_HTTP_MAX_CONNECTIONS    64
#define TS_HTTP_MAX_PER_CLIENT     8
#define TS_HTTP_REQUEST_TIMEOUT_MS 5000
/* Room for connections shut down but not yet closed by libmicrohttpd, and
 * for the event streams, which count apart (see ts_http_conn_is_stream). */
#define TS_HTTP_SLOTS (2 * TS_HTTP_MAX_CONNECTIONS + TS_HTTP_MAX_STREAMS)
/* libmicrohttpd's own inactivity timeout (seconds): a backstop. */
#define TS_HTTP_IDLE_TIMEOUT_S 5u
/* How often the acceptor looks for connections past their time. */
#define TS_HTTP_SWEEP_MS 250
/* How long ts_http_stop lets answers in flight finish. */
#define TS_HTTP_DRAIN_MS 2000
/* An event stream that sent nothing for this long sends a comment line,
 * well inside the idle timeout (and inside proxies' usual 60 s). */
#define TS_HTTP_KEEPALIVE_MS 15000
#define TS_HTTP_STREAM_TYPE  "text/event-stream; charset=utf-8"

typedef struct ts_http_stream ts_http_stream;

/* A connection handed to libmicrohttpd, as the acceptor sees it. */
struct ts_http_conn {
    MHD_socket fd; /* MHD_INVALID_SOCKET: a free slot */
    int shut;      /* shut down to make room or for its time; closing */
    int stream;    /* an event stream: outside the limits and the time above */
    uint64_t seq;  /* order of arrival (timestamps of one batch are equal) */
    int64_t since_ms;
    struct sockaddr_storage addr;
    socklen_t addr_len;
};

struct ts_http {
    struct MHD_Daemon *daemon;
    int listen_fd;
    int wake[2]; /* a byte on wake[1] stops the acceptor */
    pthread_t acceptor;
    /* conns is shared by the acceptor and libmicrohttpd's thread (which
     * frees a slot when it closes the connection, before closing the
     * socket, so a slot's fd is never a reused number). */
    pthread_mutex_t lock;
    struct ts_http_conn conns[TS_HTTP_SLOTS];
    atomic_ulong shed; /* connections shut down to make room or for time */
    uint64_t next_seq; /* under lock */
    ts_metrics *metrics;
    ts_http_check_cb *health;
    ts_http_check_cb *ready;
    void *opaque;
    const ts_http_route *routes;
    int port;
    /* Event streams: the list, the wake-up generation and the stop flag,
     * under `stream_lock`. Streams are only touched by the HTTP thread, except
     * that ts_http_stream_notify resumes the suspended ones. */
    pthread_mutex_t stream_lock;
    ts_http_stream *streams;
    atomic_int nstreams; /* written under lock, read without */
    uint64_t wake_gen;
    int stopping;
    /* While starting, libmicrohttpd's first message is kept for errstr;
     * afterwards its messages are dropped (the logs are JSON on stdout, and
     * the library's text is only useful to explain a failed start). */
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

/* ---- event streams ---- */

struct ts_http_stream {
    ts_http *h;
    const ts_http_route *route;
    struct MHD_Connection *conn;
    ts_http_stream *next, *prev;
    uint64_t cursor;
    ts_buf pending; /* rendered, not yet handed to the connection */
    size_t sent;    /* bytes of pending already handed over */
    int64_t last_ms;
    int suspended; /* suspended by the reader, not yet resumed */
};

/*
 * The content reader of an event stream (HTTP thread). Hands over what is
 * pending; when nothing is, asks the route for news, and when there is none
 * either, suspends the connection until ts_http_stream_notify resumes it (returning
 * 0 without suspending would make libmicrohttpd spin).
 */
static ssize_t ts_http_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    ts_http_stream *s = cls;
    ts_http *h = s->h;
    uint64_t gen;
    size_t n;
    int stopping;

    (void)pos;
    if (s->sent == s->pending.len) {
        ts_buf_reset(&s->pending);
        s->sent = 0;
        pthread_mutex_lock(&h->stream_lock);
        gen = h->wake_gen;
        stopping = h->stopping;
        pthread_mutex_unlock(&h->stream_lock);
        if (stopping)
            return MHD_CONTENT_READER_END_OF_STREAM;
        s->route->stream(s->route->opaque, &s->cursor, &s->pending);
        if (!s->pending.len && ts_mono_ms() - s->last_ms >= TS_HTTP_KEEPALIVE_MS)
            ts_buf_puts(&s->pending, ":\n\n");
        if (ts_buf_status(&s->pending) != TS_OK)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (!s->pending.len) {
            pthread_mutex_lock(&h->stream_lock);
            /* A notify since `gen` was read: look again instead. */
            if (h->wake_gen == gen && !h->stopping) {
                s->suspended = 1;
                MHD_suspend_connection(s->conn);
            }
            pthread_mutex_unlock(&h->stream_lock);
            return 0;
        }
    }
    n = s->pending.len - s->sent;
    if (n > max)
        n = max;
    memcpy(buf, s->pending.data + s->sent, n);
    s->sent += n;
    s->last_ms = ts_mono_ms();
    return (ssize_t)n;
}

/* The response is gone (the connection closed): forget the stream. */
static void ts_http_stream_free(void *cls)
{
    ts_http_stream *s = cls;
    ts_http *h = s->h;

    pthread_mutex_lock(&h->stream_lock);
    if (s->prev)
        s->prev->next = s->next;
    else
        h->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    atomic_fetch_sub(&h->nstreams, 1);
    pthread_mutex_unlock(&h->stream_lock);
    ts_buf_free(&s->pending);
    free(s);
}

/*
 * An event stream stays open for as long as its client follows it: take its
 * connection out of the acceptor's limits and request time. Streams are
 * bounded by TS_HTTP_MAX_STREAMS instead, and the page falls back to
 * polling when refused, so they cannot crowd out the health check.
 */
static void ts_http_conn_is_stream(ts_http *h, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

    if (!info)
        return;
    pthread_mutex_lock(&h->lock);
    for (int i = 0; i < TS_HTTP_SLOTS; i++)
        if (h->conns[i].fd == info->connect_fd)
            h->conns[i].stream = 1;
    pthread_mutex_unlock(&h->lock);
}

static enum MHD_Result ts_http_stream_open(struct MHD_Connection *conn, ts_http *h,
                                           const ts_http_route *route)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    ts_http_stream *s;

    s = calloc(1, sizeof(*s));
    if (!s)
        return MHD_NO;
    s->h = h;
    s->route = route;
    s->conn = conn;
    s->last_ms = ts_mono_ms();
    ts_buf_init(&s->pending, 0);
    pthread_mutex_lock(&h->stream_lock);
    if (atomic_load(&h->nstreams) >= TS_HTTP_MAX_STREAMS || h->stopping) {
        pthread_mutex_unlock(&h->stream_lock);
        free(s);
        return ts_http_reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "too many event streams\n");
    }
    s->next = h->streams;
    if (h->streams)
        h->streams->prev = s;
    h->streams = s;
    atomic_fetch_add(&h->nstreams, 1);
    pthread_mutex_unlock(&h->stream_lock);
    ts_http_conn_is_stream(h, conn);
    /* From here the free callback owns s, even when creating fails. */
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, ts_http_stream_read, s,
                                             ts_http_stream_free);
    if (!resp) {
        ts_http_stream_free(s);
        return MHD_NO;
    }
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, TS_HTTP_STREAM_TYPE) !=
            MHD_YES ||
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES ||
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff") != MHD_YES) {
        MHD_destroy_response(resp);
        return MHD_NO;
    }
    ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Resume the suspended streams (outside the lock: libmicrohttpd takes its
 * own lock in resume, and may hold it while a stream is freed). A
 * suspended connection cannot close, so the pointers stay valid. */
static void ts_http_wake(ts_http *h, int stop)
{
    struct MHD_Connection *conns[TS_HTTP_MAX_STREAMS];
    int n = 0;

    pthread_mutex_lock(&h->stream_lock);
    h->wake_gen++;
    if (stop)
        h->stopping = 1;
    for (ts_http_stream *s = h->streams; s; s = s->next) {
        if (s->suspended && n < TS_HTTP_MAX_STREAMS) {
            s->suspended = 0;
            conns[n++] = s->conn;
        }
    }
    pthread_mutex_unlock(&h->stream_lock);
    for (int i = 0; i < n; i++)
        MHD_resume_connection(conns[i]);
}

void ts_http_stream_notify(ts_http *h)
{
    if (h)
        ts_http_wake(h, 0);
}

int ts_http_stream_count(const ts_http *h)
{
    return h ? atomic_load(&h->nstreams) : 0;
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
        return extra->stream ? ts_http_stream_open(conn, h, extra) : ts_http_page(conn, extra, url);
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

/* 1 if a and b are the same client address (the port aside). */
static int ts_http_same_client(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET)
        return !memcmp(&((const struct sockaddr_in *)a)->sin_addr,
                       &((const struct sockaddr_in *)b)->sin_addr, sizeof(struct in_addr));
    if (a->ss_family == AF_INET6)
        return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                       &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr));
    return 1;
}

/* Shut a connection down: libmicrohttpd sees the end of its stream and
 * closes it (and frees the slot). Called with the lock held. */
static void ts_http_shed(ts_http *h, struct ts_http_conn *c)
{
    shutdown(c->fd, SHUT_RDWR);
    c->shut = 1;
    atomic_fetch_add(&h->shed, 1);
}

/*
 * Make room for a new connection from addr and take a slot for it; returns
 * the slot, or NULL when every slot holds a connection still closing. When
 * addr has TS_HTTP_MAX_PER_CLIENT connections, its oldest goes; else when
 * TS_HTTP_MAX_CONNECTIONS are open, the oldest of the client holding the
 * most goes: a client with one connection loses it only when every client
 * has one. Called with the lock held.
 */
static struct ts_http_conn *ts_http_admit(ts_http *h, MHD_socket fd,
                                          const struct sockaddr_storage *addr, socklen_t addr_len,
                                          int64_t now)
{
    struct ts_http_conn *c, *d, *victim = NULL, *oldest_same = NULL, *free_slot = NULL;
    int open = 0, same = 0, most = 0, count;

    for (int i = 0; i < TS_HTTP_SLOTS; i++) {
        c = &h->conns[i];
        if (c->fd == MHD_INVALID_SOCKET) {
            if (!free_slot)
                free_slot = c;
            continue;
        }
        if (c->shut || c->stream)
            continue;
        open++;
        if (ts_http_same_client(&c->addr, addr)) {
            same++;
            if (!oldest_same || c->seq < oldest_same->seq)
                oldest_same = c;
        }
    }
    if (!free_slot)
        return NULL;
    if (same >= TS_HTTP_MAX_PER_CLIENT) {
        ts_http_shed(h, oldest_same);
    } else if (open >= TS_HTTP_MAX_CONNECTIONS) {
        /* The oldest connection of the client with the most (the slots are
         * few: counting pairs is cheap). */
        for (int i = 0; i < TS_HTTP_SLOTS; i++) {
            c = &h->conns[i];
            if (c->fd == MHD_INVALID_SOCKET || c->shut || c->stream)
                continue;
            count = 0;
            for (int k = 0; k < TS_HTTP_SLOTS; k++) {
                d = &h->conns[k];
                if (d->fd != MHD_INVALID_SOCKET && !d->shut && !d->stream &&
                    ts_http_same_client(&c->addr, &d->addr))
                    count++;
            }
            if (count > most || (count == most && c->seq < victim->seq)) {
                most = count;
                victim = c;
            }
        }
        ts_http_shed(h, victim);
    }
    free_slot->fd = fd;
    free_slot->shut = 0;
    free_slot->stream = 0;
    free_slot->seq = h->next_seq++;
    free_slot->since_ms = now;
    free_slot->addr = *addr;
    free_slot->addr_len = addr_len;
    return free_slot;
}

static void ts_http_release(ts_http *h, MHD_socket fd)
{
    pthread_mutex_lock(&h->lock);
    for (int i = 0; i < TS_HTTP_SLOTS; i++) {
        if (h->conns[i].fd == fd) {
            h->conns[i].fd = MHD_INVALID_SOCKET;
            break;
        }
    }
    pthread_mutex_unlock(&h->lock);
}

/* libmicrohttpd's thread: a connection closes (its socket is closed after
 * this returns). */
static void ts_http_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                           enum MHD_ConnectionNotificationCode toe)
{
    const union MHD_ConnectionInfo *info;

    (void)socket_context;
    if (toe != MHD_CONNECTION_NOTIFY_CLOSED)
        return;
    info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info)
        ts_http_release(cls, info->connect_fd);
}

/* 1 if a slot is free for a new connection. */
static int ts_http_has_room(ts_http *h)
{
    int room = 0;

    pthread_mutex_lock(&h->lock);
    for (int i = 0; i < TS_HTTP_SLOTS && !room; i++)
        room = h->conns[i].fd == MHD_INVALID_SOCKET;
    pthread_mutex_unlock(&h->lock);
    return room;
}

/* Shut down the connections open for longer than a request may take. */
static void ts_http_sweep(ts_http *h, int64_t now)
{
    pthread_mutex_lock(&h->lock);
    for (int i = 0; i < TS_HTTP_SLOTS; i++) {
        struct ts_http_conn *c = &h->conns[i];
        if (c->fd != MHD_INVALID_SOCKET && !c->shut && !c->stream &&
            now - c->since_ms >= TS_HTTP_REQUEST_TIMEOUT_MS)
            ts_http_shed(h, c);
    }
    pthread_mutex_unlock(&h->lock);
}

/* The acceptor thread: accepts, makes room, hands connections over. */
static void *ts_http_accept_loop(void *arg)
{
    ts_http *h = arg;
    struct pollfd pfd[2];
    struct sockaddr_storage addr;
    socklen_t addr_len;
    struct ts_http_conn *slot;
    MHD_socket fd;
    int64_t now;
    int full;

    for (;;) {
        /* While every slot holds a connection that is closing, new clients
         * wait in the listen queue rather than being turned away. */
        full = !ts_http_has_room(h);
        pfd[0] = (struct pollfd){.fd = h->listen_fd, .events = full ? 0 : POLLIN};
        pfd[1] = (struct pollfd){.fd = h->wake[0], .events = POLLIN};
        if (poll(pfd, 2, full ? 5 : TS_HTTP_SWEEP_MS) < 0 && errno != EINTR)
            break;
        if (pfd[1].revents)
            break;
        now = ts_mono_ms();
        ts_http_sweep(h, now);
        if (!(pfd[0].revents & POLLIN))
            continue;
        while (ts_http_has_room(h)) {
            addr_len = sizeof(addr);
            fd = accept4(h->listen_fd, (struct sockaddr *)&addr, &addr_len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                /* EAGAIN: all taken. EMFILE and the like: the sweep and
                 * the clients' closing free descriptors; try again soon. */
                break;
            }
            pthread_mutex_lock(&h->lock);
            slot = ts_http_admit(h, fd, &addr, addr_len, now);
            pthread_mutex_unlock(&h->lock);
            if (!slot) {
                close(fd);
                continue;
            }
            /* Without the lock: a failure notifies ts_http_notify. The
             * socket is closed in any case when this fails. */
            if (MHD_add_connection(h->daemon, fd, (struct sockaddr *)&addr, addr_len) != MHD_YES)
                ts_http_release(h, fd);
        }
    }
    return NULL;
}

/* A listening socket for host (empty: every address) and port. */
static ts_err ts_http_bind(ts_http *h, const char *listen_addr, const char *host, uint16_t port,
                           char *errstr, size_t errstr_size)
{
    struct addrinfo hints, *res = NULL;
    struct sockaddr_storage ss;
    socklen_t ss_len = 0;
    int fd = -1, one = 1, zero = 0, rc;

    memset(&ss, 0, sizeof(ss));
    if (!host[0]) {
        /* Every address: IPv6 and IPv4 on one socket, or IPv4 alone where
         * the kernel has no IPv6. */
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
            s6->sin6_family = AF_INET6;
            s6->sin6_addr = in6addr_any;
            s6->sin6_port = htons(port);
            ss_len = sizeof(*s6);
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        } else {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            s4->sin_family = AF_INET;
            s4->sin_addr.s_addr = htonl(INADDR_ANY);
            s4->sin_port = htons(port);
            ss_len = sizeof(*s4);
        }
    } else {
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE;
        rc = getaddrinfo(host, NULL, &hints, &res);
        if (rc)
            return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "cannot listen on %s: %s",
                             listen_addr, gai_strerror(rc));
        memcpy(&ss, res->ai_addr, res->ai_addrlen);
        ss_len = res->ai_addrlen;
        freeaddrinfo(res);
        if (ss.ss_family == AF_INET6)
            ((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
        else
            ((struct sockaddr_in *)&ss)->sin_port = htons(port);
        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && ss.ss_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (fd < 0)
        goto fail;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, ss_len) || listen(fd, SOMAXCONN) ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK))
        goto fail;
    ss_len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &ss_len))
        goto fail;
    h->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    h->listen_fd = fd;
    return TS_OK;
fail:
    rc = errno;
    if (fd >= 0)
        close(fd);
    return ts_seterr(TS_ERR_IO, errstr, errstr_size, "cannot listen on %s: %s", listen_addr,
                     strerror(rc));
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
