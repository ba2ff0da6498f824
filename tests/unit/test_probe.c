/*
 * ts_probe against ts_http over real loopback TCP, and against sockets that
 * refuse, never answer, or answer something that is not HTTP.
 */
#include "ts_http.h"
#include "ts_probe.h"

#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static atomic_int alive;

static int check_health(void *opaque, ts_buf *detail)
{
    (void)opaque;
    (void)detail;
    return atomic_load(&alive);
}

Test(probe, status_of_health_follows_the_endpoint)
{
    char err[256] = "";
    ts_http *h;
    int status = -1;

    atomic_store(&alive, 1);
    h = ts_http_start("127.0.0.1:0", NULL, check_health, NULL, NULL, err, sizeof(err));
    cr_assert_not_null(h, "%s", err);

    cr_expect_eq(
        ts_probe_get("127.0.0.1", ts_http_port(h), "/health", 2000, &status, err, sizeof(err)),
        TS_OK, "%s", err);
    cr_expect_eq(status, 200);
    atomic_store(&alive, 0);
    cr_expect_eq(
        ts_probe_get("127.0.0.1", ts_http_port(h), "/health", 2000, &status, err, sizeof(err)),
        TS_OK, "%s", err);
    cr_expect_eq(status, 503);
    cr_expect_eq(
        ts_probe_get("127.0.0.1", ts_http_port(h), "/nope", 2000, &status, err, sizeof(err)), TS_OK,
        "%s", err);
    cr_expect_eq(status, 404);
    ts_http_stop(h);
}

/* A listening socket on loopback; *port set. */
static int listener(int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    cr_assert(fd >= 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(fd, 4), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

Test(probe, refused_connection_is_an_io_error)
{
    char err[256] = "";
    int port, status = -1, fd = listener(&port);

    /* Closed again: nothing listens on the port now. */
    close(fd);
    cr_expect_eq(ts_probe_get("127.0.0.1", port, "/health", 2000, &status, err, sizeof(err)),
                 TS_ERR_IO);
    cr_expect(strstr(err, "refused"), "%s", err);
    cr_expect_eq(status, 0);
}

Test(probe, silent_server_times_out)
{
    char err[256] = "";
    int port, status = -1, fd = listener(&port);

    /* The kernel accepts the connection; nobody ever answers. */
    cr_expect_eq(ts_probe_get("127.0.0.1", port, "/health", 300, &status, err, sizeof(err)),
                 TS_ERR_TIMEOUT);
    cr_expect(strstr(err, "timed out"), "%s", err);
    close(fd);
}

static void *answer_garbage(void *arg)
{
    int fd = accept(*(int *)arg, NULL, NULL);
    char buf[512];

    if (fd >= 0) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);

        (void)n;
        n = send(fd, "SSH-2.0-OpenSSH\r\n", 17, MSG_NOSIGNAL);
        (void)n;
        close(fd);
    }
    return NULL;
}

Test(probe, answer_that_is_not_http_is_an_error)
{
    char err[256] = "";
    int port, status = -1, fd = listener(&port);
    pthread_t t;

    cr_assert_eq(pthread_create(&t, NULL, answer_garbage, &fd), 0);
    cr_expect_eq(ts_probe_get("127.0.0.1", port, "/health", 2000, &status, err, sizeof(err)),
                 TS_ERR_IO);
    cr_expect(strstr(err, "not an HTTP answer"), "%s", err);
    pthread_join(t, NULL);
    close(fd);
}

Test(probe, bad_arguments)
{
    char err[256] = "";
    int status;

    cr_expect_eq(ts_probe_get("localhost", 8080, "/health", 100, &status, err, sizeof(err)),
                 TS_ERR_INVALID);
    cr_expect_eq(ts_probe_get("127.0.0.1", 0, "/health", 100, &status, err, sizeof(err)),
                 TS_ERR_INVALID);
    cr_expect_eq(ts_probe_get("127.0.0.1", 8080, "health", 100, &status, err, sizeof(err)),
                 TS_ERR_INVALID);
    cr_expect_eq(ts_probe_get("127.0.0.1", 8080, "/a b", 100, &status, err, sizeof(err)),
                 TS_ERR_INVALID);
}

Test(probe, listen_port)
{
    static const struct {
        const char *listen;
        int port;
    } ok[] = {{"0.0.0.0:8080", 8080}, {":9090", 9090}, {"[::]:81", 81}, {"localhost:65535", 65535}};
    static const char *const bad[] = {"",      "8080", "0.0.0.0:", "0.0.0.0:0", "0.0.0.0:65536",
                                      "h:80x", "[::1]"};
    char err[256];
    int port;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        port = 0;
        cr_expect_eq(ts_probe_listen_port(ok[i].listen, &port, err, sizeof(err)), TS_OK, "%s: %s",
                     ok[i].listen, err);
        cr_expect_eq(port, ok[i].port, "%s", ok[i].listen);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(ts_probe_listen_port(bad[i], &port, err, sizeof(err)), TS_ERR_INVALID, "%s",
                     bad[i]);
}
