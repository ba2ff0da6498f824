/*
 * ts_http: the small HTTP endpoint of the processor and the producer
 * (libmicrohttpd, its own thread):
 *
 *   GET /health   200 while the process loop is alive, else 503
 *   GET /ready    200 when the process is ready to serve, else 503
 *                 (processor: every assigned task restored; producer:
 *                 connected to its source and to Kafka)
 *   GET /metrics  the registry in the Prometheus text format, 0.0.4
 *
 * /health and /ready answer a small JSON object {"status":"ok"|"unavailable",
 * ...detail}; the detail comes from the callbacks. A binary may add routes
 * of its own (ts_http_route): pages rendered by a callback, and event
 * streams (Server-Sent Events) that stay open. Other paths answer 404,
 * other methods 405. Every answer closes its connection.
 *
 * Hostile or broken clients cannot take the endpoint away from the others:
 * at most 64 connections are open at once, at most 8 from one address, and
 * none for longer than 5 s; a new connection that would pass a limit shuts
 * down an older one: the client's own oldest, or else the oldest of the
 * client holding the most. A client with one connection (the health check)
 * is answered unless 64 other addresses each hold a connection. Event
 * streams count apart: at most TS_HTTP_MAX_STREAMS, open as long as their
 * client follows them.
 *
 * Thread: the callbacks and the metric rendering run on the HTTP thread, so
 * they may only read state that is safe to read from another thread
 * (atomics, or data under the owner's lock).
 */
#ifndef TS_HTTP_H
#define TS_HTTP_H

#include "ts_buf.h"
#include "ts_err.h"
#include "ts_metrics.h"

#include <stdint.h>

typedef struct ts_http ts_http;

/* Returns 1 if healthy / ready, 0 if not; may append JSON members (without
 * braces, e.g. `"tasks_restoring":2`) to detail. */
typedef int(ts_http_check_cb)(void *opaque, ts_buf *detail);

/*
 * Listen on `listen` ("HOST:PORT", "HOST" may be empty for every address,
 * PORT 0 for any free port). health and ready may be NULL (always 200).
 * Returns NULL with a message when the address cannot be bound.
 */
ts_http *ts_http_start(const char *listen, ts_metrics *metrics, ts_http_check_cb *health,
                       ts_http_check_cb *ready, void *opaque, char *errstr, size_t errstr_size);

/*
 * An answer rendered by a page route: status (200 when left 0), content
 * type and Content-Security-Policy (static strings; csp may stay NULL),
 * and the body. ts_http owns the body buffer.
 */
typedef struct ts_http_answer {
    unsigned status;
    const char *type;
    const char *csp;
    ts_buf body;
} ts_http_answer;

/* Render the answer to GET `path` into `a`. Runs on the HTTP thread. */
typedef void(ts_http_page_cb)(void *opaque, const char *path, ts_http_answer *a);

/*
 * Append to `out` the event-stream text (complete "data: ...\n\n" events)
 * that is new since *cursor, and move *cursor on; append nothing when
 * nothing is new. *cursor starts at 0 for a new client, so the first call
 * sends the current state. Runs on the HTTP thread.
 */
typedef void(ts_http_stream_cb)(void *opaque, uint64_t *cursor, ts_buf *out);

/* One extra route: exactly one of page and stream is set. */
typedef struct ts_http_route {
    const char *path;
    ts_http_page_cb *page;
    ts_http_stream_cb *stream;
    void *opaque;
} ts_http_route;

/*
 * ts_http_start with extra routes (an array ended by path == NULL, used by
 * reference: it must outlive the server). An event stream holds its
 * connection open; at most TS_HTTP_MAX_STREAMS of them are served at once
 * (the next answer 503), so probes always find a free connection. A stream
 * with nothing to send waits without using the HTTP thread until
 * ts_http_stream_notify, and sends an SSE comment line every 15 s or so (when
 * notified) to keep its connection from idling out.
 */
#define TS_HTTP_MAX_STREAMS 16
ts_http *ts_http_start_routes(const char *listen, ts_metrics *metrics, ts_http_check_cb *health,
                              ts_http_check_cb *ready, void *opaque, const ts_http_route *routes,
                              char *errstr, size_t errstr_size);

/*
 * Wake every waiting event stream: each calls its stream callback again.
 * Call it when there is something new, and every few seconds anyway (for
 * the keep-alive comments). Thread: any; NULL ok.
 */
void ts_http_stream_notify(ts_http *h);

/* Event streams open now. Thread: any. */
int ts_http_stream_count(const ts_http *h);

/* The port actually bound. */
int ts_http_port(const ts_http *h);

/* How many connections were shut down so far to make room for others or
 * because they outlived the 5 s a request may take; 0 for NULL. Any thread. */
unsigned long ts_http_shed_count(ts_http *h);

/*
 * Stop serving and free; NULL ok. New connections are refused at once, event
 * streams end, the answers in flight get up to 2 s to finish, and no
 * callback runs after this returns.
 */
void ts_http_stop(ts_http *h);

#endif
