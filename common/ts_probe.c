#include "ts_probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ts_clock.h"

/* Milliseconds left until deadline (monotonic), at least 0. */
static int left_ms(int64_t deadline)
{
    int64_t left = deadline - ts_mono_ms();

    return left > 0 ? (int)left : 0;
}

/* Wait until fd is ready for events, or the deadline. */
static ts_err wait_fd(int fd, short events, int64_t deadline, const char *what, char *errstr,
                      size_t errstr_size)
{
    struct pollfd p = {.fd = fd, .events = events};
    int n;

    do {
        n = poll(&p, 1, left_ms(deadline));
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return ts_seterr(TS_ERR_IO, errstr, errstr_size, "%s: poll: %s", what, strerror(errno));
    if (n == 0)
        return ts_seterr(TS_ERR_TIMEOUT, errstr, errstr_size, "%s: timed out", what);
    return TS_OK;
}

ts_err ts_probe_get(const char *host, int port, const char *path, int timeout_ms, int *status,
                    char *errstr, size_t errstr_size)
{
    struct sockaddr_storage sa;
    socklen_t salen;
    int64_t deadline = ts_mono_ms() + timeout_ms;
    char req[512], resp[256], what[300];
    size_t got = 0, sent = 0, reqlen;
    int fd = -1, n, major, minor, code;
    ts_err err;

    *status = 0;
    memset(&sa, 0, sizeof(sa));
    if (port < 1 || port > 65535)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "bad port %d", port);
    if (!path || path[0] != '/' || strpbrk(path, " \r\n"))
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "bad path '%s'", path ? path : "");
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&sa)->sin_addr) == 1) {
        ((struct sockaddr_in *)&sa)->sin_family = AF_INET;
        ((struct sockaddr_in *)&sa)->sin_port = htons((uint16_t)port);
        salen = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&sa)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)&sa)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)&sa)->sin6_port = htons((uint16_t)port);
        salen = sizeof(struct sockaddr_in6);
    } else {
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "bad address '%s'", host);
    }
    snprintf(what, sizeof(what), "GET http://%s:%d%s", host, port, path);
    n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s:%d\r\nConnection: close\r\n\r\n",
                 path, host, port);
    if (n < 0 || (size_t)n >= sizeof(req))
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "%s: path too long", what);
    reqlen = (size_t)n;

    fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return ts_seterr(TS_ERR_IO, errstr, errstr_size, "%s: socket: %s", what, strerror(errno));
    if (connect(fd, (struct sockaddr *)&sa, salen) < 0) {
        int soerr = 0;
        socklen_t len = sizeof(soerr);

        if (errno != EINPROGRESS) {
            err = ts_seterr(TS_ERR_IO, errstr, errstr_size, "%s: %s", what, strerror(errno));
            goto fail;
        }
        if ((err = wait_fd(fd, POLLOUT, deadline, what, errstr, errstr_size)))
            goto fail;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr) {
            err = ts_seterr(TS_ERR_IO, errstr, errstr_size, "%s: %s", what,
                            strerror(soerr ? soerr : errno));
            goto fail;
        }
    }
    while (sent < reqlen) {
        ssize_t w = send(fd, req + sent, reqlen - sent, MSG_NOSIGNAL);

        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if ((err = wait_fd(fd, POLLOUT, deadline, what, errstr, errstr_size)))
                goto fail;
            continue;
        }
        if (w < 0) {
            err = ts_seterr(TS_ERR_IO, errstr, errstr_size, "%s: send: %s", what, strerror(errno));
            goto fail;
        }
        sent += (size_t)w;
    }
    /* The status line is all that is needed; read until it is complete. */
    while (got < sizeof(resp) - 1 && !memchr(resp, '\n', got)) {
        ssize_t r;

        if ((err = wait_fd(fd, POLLIN, deadline, what, errstr, errstr_size)))
            goto fail;
        r = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (r < 0) {
            err = ts_seterr(TS_ERR_IO, errstr, errstr_size, "%s: recv: %s", what, strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    resp[got] = '\0';
    if (sscanf(resp, "HTTP/%d.%d %3d", &major, &minor, &code) != 3 || code < 100 || code > 599) {
        err = ts_seterr(TS_ERR_IO, errstr, errstr_size, "%s: not an HTTP answer: '%.40s'", what,
                        resp);
        goto fail;
    }
    *status = code;
    err = TS_OK;
fail:
    close(fd);
    return err;
}

ts_err ts_probe_listen_port(const char *listen, int *port, char *errstr, size_t errstr_size)
{
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    char *end;
    long p;

    if (!colon || (strchr(listen, '[') && colon < strchr(listen, ']')))
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "no port in listen address '%s'",
                         listen ? listen : "");
    errno = 0;
    p = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || p < 1 || p > 65535)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "bad port in listen address '%s'",
                         listen);
    *port = (int)p;
    return TS_OK;
}
