/*
 * Fuzz target: the HTTP request path (common/ts_http, libmicrohttpd). Each
 * input is sent as a request to a real endpoint on loopback, on its own
 * connection; the answer must be an HTTP response or nothing. A request the
 * server is still waiting to complete gets 20 ms, then the connection is
 * dropped (the server's own timeouts are seconds: waiting them out would
 * make the fuzzer a thousand times slower).
 */
#include "ts_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static ts_http *http;
static ts_metrics *metrics;

static int check(void *opaque, ts_buf *detail)
{
    (void)opaque;
    ts_buf_puts(detail, "\"fuzz\":1");
    return 1;
}

static void stop(void)
{
    ts_http_stop(http);
    ts_metrics_destroy(metrics);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sockaddr_in a;
    struct pollfd p;
    char answer[8192], err[256];
    size_t got = 0;
    int fd;

    if (!http) {
        metrics = ts_metrics_new();
        ts_counter_add(ts_metrics_counter(metrics, "fuzz_total", "Inputs.", NULL), 1);
        http = ts_http_start("127.0.0.1:0", metrics, check, check, NULL, err, sizeof(err));
        if (!http)
            abort();
        atexit(stop);
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)ts_http_port(http));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
        abort();
    /* The server may answer and close before taking everything. */
    if (size)
        send(fd, data, size, MSG_NOSIGNAL);
    shutdown(fd, SHUT_WR);
    p = (struct pollfd){.fd = fd, .events = POLLIN};
    while (got < sizeof(answer) && poll(&p, 1, 20) == 1) {
        ssize_t n = recv(fd, answer + got, sizeof(answer) - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got && (got < 9 || memcmp(answer, "HTTP/1.", 7)))
        abort(); /* something that is not an HTTP response */
    return 0;
}
