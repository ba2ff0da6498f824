/*
 * Event streams of the HTTP endpoint (routes with a `stream` callback):
 * responses that stay open, fed by the route and woken by
 * ts_http_stream_notify.
 */
#include "ts_http_int.h"
#include "ts_clock.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* An event stream that sent nothing for this long sends a comment line,
 * well inside the idle timeout (and inside proxies' usual 60 s). */
#define TS_HTTP_KEEPALIVE_MS 15000
#define TS_HTTP_STREAM_TYPE  "text/event-stream; charset=utf-8"

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

enum MHD_Result ts_http_stream_open(struct MHD_Connection *conn, ts_http *h,
                                    const ts_http_route *route, int *refused)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    ts_http_stream *s;

    *refused = 0;
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
        *refused = 1;
        return MHD_NO;
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
void ts_http_wake(ts_http *h, int stop)
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
