/*
 * Internal to common/'s HTTP endpoint (ts_http.h): the state its three
 * files share. ts_http.c implements the routes, start and stop;
 * ts_http_accept.c the acceptor (listening socket, connection limits);
 * ts_http_stream.c the event streams. Calls go ts_http.c -> the other two,
 * and ts_http_stream.c -> ts_http_accept.c, never back.
 */
#ifndef TS_HTTP_INT_H
#define TS_HTTP_INT_H

#include "ts_http.h"

#include <microhttpd.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

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

/* ---- ts_http_accept.c ---- */

/* Open the listening socket for host (empty: every address) and port into
 * h->listen_fd and h->port; listen_addr is named in errors. Nothing is left
 * open on failure. */
ts_err ts_http_bind(ts_http *h, const char *listen_addr, const char *host, uint16_t port,
                    char *errstr, size_t errstr_size);
/* The acceptor thread (arg: the ts_http): accepts on h->listen_fd, keeps the
 * limits, hands connections to h->daemon; ends on a byte on h->wake[1]. */
void *ts_http_accept_loop(void *arg);
/* libmicrohttpd's connection notification: a closed connection frees its slot. */
void ts_http_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                    enum MHD_ConnectionNotificationCode toe);
/* Take conn out of the acceptor's limits and request time (an event stream). */
void ts_http_conn_is_stream(ts_http *h, struct MHD_Connection *conn);

/* ---- ts_http_stream.c ---- */

/* Answer conn with the event stream of route (HTTP thread). When
 * TS_HTTP_MAX_STREAMS are open or h is stopping, nothing is queued and
 * *refused is 1: the caller answers. */
enum MHD_Result ts_http_stream_open(struct MHD_Connection *conn, ts_http *h,
                                    const ts_http_route *route, int *refused);
/* Resume the suspended event streams; stop != 0 ends them all (ts_http_stop). */
void ts_http_wake(ts_http *h, int stop);

#endif
