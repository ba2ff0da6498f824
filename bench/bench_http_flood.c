/*
 * bench_http_flood: the latency of GET /health on the HTTP endpoint
 * (common/ts_http.c), alone and while other clients hold connections open:
 * IDLE connections that send nothing and SLOW ones that send half a request
 * and then a byte now and then, from ten loopback addresses; a flood thread
 * reopens every connection the server closes, so the flood never lets up.
 *
 *   bench_http_flood [IDLE] [SLOW] [REQUESTS]   (default 400 200 200)
 *
 * Prints the median, 99th percentile and largest latency (ms) and how many
 * requests got no answer. Run by bench/http_flood.sh.
 */
#include "ts_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct flood {
    int port;
    int idle, slow;
    int *fds;
    atomic_int stop;
    atomic_int ready;
};

static double bench_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int bench_connect(int port, const char *src)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    inet_pton(AF_INET, src, &a.sin_addr);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
        inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
        a.sin_port = htons((uint16_t)port);
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
            return fd;
    }
    close(fd);
    return -1;
}

static void bench_flood_open(struct flood *f, int i)
{
    static const char half[] = "GET /health HTTP/1.1\r\nHost: x\r\n";
    char src[32];

    snprintf(src, sizeof(src), "127.0.0.%d", 2 + i % 10);
    f->fds[i] = bench_connect(f->port, src);
    if (f->fds[i] >= 0 && i >= f->idle)
        send(f->fds[i], half, sizeof(half) - 1, MSG_NOSIGNAL);
}

/* Keeps IDLE + SLOW connections open: reopens those the server closed, and
 * sends the slow ones a byte every round. */
static void *bench_flood_loop(void *arg)
{
    struct flood *f = arg;
    int n = f->idle + f->slow;
    char buf[256];

    for (int i = 0; i < n; i++)
        bench_flood_open(f, i);
    atomic_store(&f->ready, 1);
    while (!atomic_load(&f->stop)) {
        for (int i = 0; i < n && !atomic_load(&f->stop); i++) {
            ssize_t r = f->fds[i] < 0 ? 0 : recv(f->fds[i], buf, sizeof(buf), MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN)) {
                if (f->fds[i] >= 0)
                    close(f->fds[i]);
                bench_flood_open(f, i);
            } else if (i >= f->idle) {
                send(f->fds[i], "a", 1, MSG_NOSIGNAL);
            }
        }
        usleep(20 * 1000);
    }
    for (int i = 0; i < n; i++)
        if (f->fds[i] >= 0)
            close(f->fds[i]);
    return NULL;
}

/* One GET /health from 127.0.0.1; its latency in ms, or -1 without a 200. */
static double bench_health(int port)
{
    static const char req[] = "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n";
    char buf[1024];
    size_t got = 0;
    double t0 = bench_now_ms();
    int fd = bench_connect(port, "127.0.0.1");
    struct pollfd p;

    if (fd < 0)
        return -1;
    if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1)
        goto fail;
    p = (struct pollfd){.fd = fd, .events = POLLIN};
    for (;;) {
        ssize_t r;
        if (poll(&p, 1, 10000) != 1)
            goto fail;
        r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
        if (got == sizeof(buf) - 1)
            break;
    }
    close(fd);
    buf[got] = '\0';
    return strncmp(buf, "HTTP/1.1 200", 12) ? -1 : bench_now_ms() - t0;
fail:
    close(fd);
    return -1;
}

static int bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void bench_run(const char *name, int port, int requests)
{
    double *ms = malloc(sizeof(*ms) * (size_t)requests);
    int ok = 0, failed = 0;

    for (int i = 0; i < requests; i++) {
        double v = bench_health(port);
        if (v < 0)
            failed++;
        else
            ms[ok++] = v;
        usleep(5 * 1000);
    }
    qsort(ms, (size_t)ok, sizeof(*ms), bench_cmp);
    if (ok)
        printf("%-24s %8d %10.2f %10.2f %10.2f %9d\n", name, requests, ms[ok / 2],
               ms[(size_t)(ok * 0.99)], ms[ok - 1], failed);
    else
        printf("%-24s %8d %10s %10s %10s %9d\n", name, requests, "-", "-", "-", failed);
    free(ms);
}

int main(int argc, char **argv)
{
    struct flood f;
    pthread_t tid;
    char err[256], name[64];
    ts_http *h;

    memset(&f, 0, sizeof(f));
    f.idle = argc > 1 ? atoi(argv[1]) : 400;
    f.slow = argc > 2 ? atoi(argv[2]) : 200;
    int requests = argc > 3 ? atoi(argv[3]) : 200;
    f.fds = calloc((size_t)(f.idle + f.slow), sizeof(int));
    h = ts_http_start("127.0.0.1:0", NULL, NULL, NULL, NULL, err, sizeof(err));
    if (!h || !f.fds) {
        fprintf(stderr, "bench_http_flood: %s\n", h ? "out of memory" : err);
        return 1;
    }
    f.port = ts_http_port(h);
    printf("%-24s %8s %10s %10s %10s %9s\n", "GET /health", "requests", "p50_ms", "p99_ms",
           "max_ms", "no_answer");
    bench_run("alone", f.port, requests);
    atomic_init(&f.stop, 0);
    atomic_init(&f.ready, 0);
    pthread_create(&tid, NULL, bench_flood_loop, &f);
    while (!atomic_load(&f.ready))
        usleep(1000);
    snprintf(name, sizeof(name), "flood %d idle %d slow", f.idle, f.slow);
    bench_run(name, f.port, requests);
    atomic_store(&f.stop, 1);
    pthread_join(tid, NULL);
    printf("connections shut down by the server: %lu\n", ts_http_shed_count(h));
    ts_http_stop(h);
    free(f.fds);
    return 0;
}
