/*
 * The acceptor of the HTTP endpoint: our thread owns the listening socket,
 * keeps the connection limits (ts_http_int.h) and hands connections over to
 * libmicrohttpd.
 */
#include "ts_http_int.h"
#include "ts_clock.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

/* How often the acceptor looks for connections past their time. */
#define TS_HTTP_SWEEP_MS 250

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
 * closes it (and frees the slot). Counted first, so that a client that sees
 * its connection end also sees it counted. Called with the lock held. */
static void ts_http_shed(ts_http *h, struct ts_http_conn *c)
{
    atomic_fetch_add(&h->shed, 1);
    c->shut = 1;
    shutdown(c->fd, SHUT_RDWR);
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

/*
 * An event stream stays open for as long as its client follows it: take its
 * connection out of the acceptor's limits and request time. Streams are
 * bounded by TS_HTTP_MAX_STREAMS instead, and the page falls back to
 * polling when refused, so they cannot crowd out the health check.
 */
void ts_http_conn_is_stream(ts_http *h, struct MHD_Connection *conn)
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

/* libmicrohttpd's thread: a connection closes (its socket is closed after
 * this returns). */
void ts_http_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
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
void *ts_http_accept_loop(void *arg)
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
ts_err ts_http_bind(ts_http *h, const char *listen_addr, const char *host, uint16_t port,
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
