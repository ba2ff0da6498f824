#include "fakehttp.h"
#include "httpget.h"
#include "testfile.h"
#include "testkit.h"
#include "ts_murmur2.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sys/wait.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FH_MAX_ROUTES   16
#define FH_MAX_REQUESTS 256

typedef struct fh_route_t {
    char method[16];
    char path[256];
    const fh_response *responses;
    size_t n;
    size_t served; /* requests answered */
    size_t ended;  /* responses that sent all their parts */
} fh_route_t;

struct fakehttp {
    struct MHD_Daemon *d;
    int port;
    char url[64];
    pthread_mutex_t lock;
    fh_route_t routes[FH_MAX_ROUTES];
    size_t nroutes;
    fh_request reqs[FH_MAX_REQUESTS];
    size_t nreqs;
    atomic_int stopping;
};

/* One request being handled. */
typedef struct fh_conn {
    fakehttp *f;
    char *body;
    size_t body_len;
    /* the response being streamed */
    fh_route_t *route;
    const fh_response *resp;
    size_t part, off;
    int delayed; /* the current part's delay was waited */
    int ended;
} fh_conn;

int64_t fh_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t fh_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep ms, in slices; returns 1 if the server is stopping. */
static int fh_nap(fakehttp *f, int ms)
{
    int64_t end = fh_mono_ms() + ms;

    while (!atomic_load(&f->stopping)) {
        int64_t left = end - fh_mono_ms();
        struct timespec ts;
        if (left <= 0)
            return 0;
        if (left > 20)
            left = 20;
        ts.tv_sec = 0;
        ts.tv_nsec = (long)left * 1000000;
        nanosleep(&ts, NULL);
    }
    return 1;
}

static size_t fh_part_len(const fh_part *p)
{
    return p->len ? p->len : (p->data ? strlen(p->data) : 0);
}

static void fh_mark_ended(fh_conn *c)
{
    if (c->ended)
        return;
    c->ended = 1;
    pthread_mutex_lock(&c->f->lock);
    c->route->ended++;
    pthread_mutex_unlock(&c->f->lock);
}

static ssize_t fh_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    fh_conn *c = cls;
    const fh_response *r = c->resp;

    (void)pos;
    while (c->part < r->nparts) {
        const fh_part *p = &r->parts[c->part];
        size_t len = fh_part_len(p), n;
        if (!c->delayed) {
            c->delayed = 1;
            if (p->delay_ms > 0 && fh_nap(c->f, p->delay_ms))
                return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (c->off >= len) {
            c->part++;
            c->off = 0;
            c->delayed = 0;
            continue;
        }
        n = len - c->off < max ? len - c->off : max;
        memcpy(buf, p->data + c->off, n);
        c->off += n;
        return (ssize_t)n;
    }
    fh_mark_ended(c);
    switch (r->end) {
    case FH_END_ABORT:
        return MHD_CONTENT_READER_END_WITH_ERROR;
    case FH_END_KEEPALIVE: {
        const char *ka = r->keepalive ? r->keepalive : "\r\n";
        size_t n = strlen(ka);
        if (fh_nap(c->f, r->keepalive_ms > 0 ? r->keepalive_ms : 100))
            return MHD_CONTENT_READER_END_WITH_ERROR;
        memcpy(buf, ka, n < max ? n : max);
        return (ssize_t)(n < max ? n : max);
    }
    case FH_END_HANG:
        fh_nap(c->f, 24 * 3600 * 1000);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    default:
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
}

static void fh_reader_free(void *cls)
{
    (void)cls; /* the fh_conn is freed by the completion callback */
}

static void fh_add_headers(struct MHD_Response *resp, const char *headers)
{
    char name[256], value[1024];
    const char *s = headers;

    while (s && *s) {
        const char *nl = strchr(s, '\n'), *colon = strchr(s, ':');
        size_t l = nl ? (size_t)(nl - s) : strlen(s);
        if (colon && (size_t)(colon - s) < l && (size_t)(colon - s) < sizeof(name)) {
            const char *v = colon + 1;
            size_t vl;
            memcpy(name, s, (size_t)(colon - s));
            name[colon - s] = '\0';
            while (*v == ' ')
                v++;
            vl = l - (size_t)(v - s);
            if (vl >= sizeof(value))
                vl = sizeof(value) - 1;
            memcpy(value, v, vl);
            value[vl] = '\0';
            MHD_add_response_header(resp, name, value);
        }
        s = nl ? nl + 1 : NULL;
    }
}

static enum MHD_Result fh_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                              const char *value)
{
    fh_request *rq = cls;
    size_t l = strlen(rq->query);

    (void)kind;
    snprintf(rq->query + l, sizeof(rq->query) - l, "%s%s=%s", l ? "&" : "", key,
             value ? value : "");
    return MHD_YES;
}

static void fh_record(fakehttp *f, struct MHD_Connection *conn, const char *url, const char *method,
                      fh_conn *c)
{
    fh_request *rq;
    const char *v;

    pthread_mutex_lock(&f->lock);
    if (f->nreqs < FH_MAX_REQUESTS) {
        rq = &f->reqs[f->nreqs++];
        memset(rq, 0, sizeof(*rq));
        snprintf(rq->method, sizeof(rq->method), "%s", method);
        snprintf(rq->path, sizeof(rq->path), "%s", url);
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, fh_arg, rq);
        if ((v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization")))
            snprintf(rq->authorization, sizeof(rq->authorization), "%s", v);
        if ((v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept")))
            snprintf(rq->accept, sizeof(rq->accept), "%s", v);
        if (c->body) {
            rq->body = c->body;
            c->body = NULL;
        }
        rq->mono_ms = fh_mono_ms();
        rq->wall_ms = fh_wall_ms();
    }
    pthread_mutex_unlock(&f->lock);
}

static enum MHD_Result fh_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    fakehttp *f = cls;
    fh_conn *c = *con_cls;
    fh_route_t *route = NULL;
    const fh_response *r;
    struct MHD_Response *resp;
    enum MHD_Result ret;

    (void)version;
    if (!c) {
        c = calloc(1, sizeof(*c));
        c->f = f;
        *con_cls = c;
        return MHD_YES;
    }
    if (*upload_data_size) {
        char *b = realloc(c->body, c->body_len + *upload_data_size + 1);
        memcpy(b + c->body_len, upload_data, *upload_data_size);
        c->body_len += *upload_data_size;
        b[c->body_len] = '\0';
        c->body = b;
        *upload_data_size = 0;
        return MHD_YES;
    }
    fh_record(f, conn, url, method, c);
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < f->nroutes; i++)
        if (!strcmp(f->routes[i].method, method) && !strcmp(f->routes[i].path, url))
            route = &f->routes[i];
    if (route) {
        size_t k = route->served < route->n ? route->served : route->n - 1;
        route->served++;
        r = &route->responses[k];
    }
    pthread_mutex_unlock(&f->lock);
    if (!route) {
        static const char nf[] = "{\"title\":\"Not Found\",\"status\":404}";
        resp = MHD_create_response_from_buffer(sizeof(nf) - 1, (void *)nf, MHD_RESPMEM_PERSISTENT);
        ret = MHD_queue_response(conn, 404, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    c->route = route;
    c->resp = r;
    if (!r->chunked && r->end == FH_END_CLOSE && r->nparts <= 1 &&
        (r->nparts == 0 || r->parts[0].delay_ms == 0)) {
        size_t len = r->nparts ? fh_part_len(&r->parts[0]) : 0;
        resp = MHD_create_response_from_buffer(len, (void *)(r->nparts ? r->parts[0].data : ""),
                                               MHD_RESPMEM_MUST_COPY);
        fh_mark_ended(c);
    } else {
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, fh_reader, c,
                                                 fh_reader_free);
    }
    fh_add_headers(resp, r->headers);
    ret = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void fh_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    fh_conn *c = *con_cls;

    (void)cls, (void)conn, (void)toe;
    if (!c)
        return;
    free(c->body);
    free(c);
    *con_cls = NULL;
}

fakehttp *fh_start(void)
{
    fakehttp *f = calloc(1, sizeof(*f));
    struct sockaddr_in sa;
    const union MHD_DaemonInfo *info;

    if (!f)
        return NULL;
    pthread_mutex_init(&f->lock, NULL);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    f->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
                            NULL, NULL, fh_handler, f, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_NOTIFY_COMPLETED, fh_completed, f, MHD_OPTION_END);
    if (!f->d) {
        free(f);
        return NULL;
    }
    info = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
    f->port = info ? info->port : 0;
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", f->port);
    return f;
}

void fh_route(fakehttp *f, const char *method, const char *path, const fh_response *responses,
              size_t n)
{
    fh_route_t *r;

    pthread_mutex_lock(&f->lock);
    if (f->nroutes < FH_MAX_ROUTES) {
        r = &f->routes[f->nroutes++];
        memset(r, 0, sizeof(*r));
        snprintf(r->method, sizeof(r->method), "%s", method);
        snprintf(r->path, sizeof(r->path), "%s", path);
        r->responses = responses;
        r->n = n;
    }
    pthread_mutex_unlock(&f->lock);
}

int fh_port(const fakehttp *f)
{
    return f->port;
}

const char *fh_url(const fakehttp *f)
{
    return f->url;
}

size_t fh_nrequests(fakehttp *f)
{
    size_t n;

    pthread_mutex_lock(&f->lock);
    n = f->nreqs;
    pthread_mutex_unlock(&f->lock);
    return n;
}

int fh_request_get(fakehttp *f, size_t i, fh_request *out)
{
    int ok = 0;

    pthread_mutex_lock(&f->lock);
    if (i < f->nreqs) {
        *out = f->reqs[i];
        ok = 1;
    }
    pthread_mutex_unlock(&f->lock);
    return ok;
}

static fh_route_t *fh_find(fakehttp *f, const char *method, const char *path)
{
    for (size_t i = 0; i < f->nroutes; i++)
        if (!strcmp(f->routes[i].method, method) && !strcmp(f->routes[i].path, path))
            return &f->routes[i];
    return NULL;
}

size_t fh_count(fakehttp *f, const char *method, const char *path)
{
    size_t n = 0;

    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < f->nreqs; i++)
        n += !strcmp(f->reqs[i].method, method) && !strcmp(f->reqs[i].path, path);
    pthread_mutex_unlock(&f->lock);
    return n;
}

size_t fh_ended(fakehttp *f, const char *method, const char *path)
{
    fh_route_t *r;
    size_t n;

    pthread_mutex_lock(&f->lock);
    r = fh_find(f, method, path);
    n = r ? r->ended : 0;
    pthread_mutex_unlock(&f->lock);
    return n;
}

int fh_wait_ended(fakehttp *f, const char *method, const char *path, size_t n, int timeout_ms)
{
    int64_t end = fh_mono_ms() + timeout_ms;

    while (fh_mono_ms() < end) {
        if (fh_ended(f, method, path) >= n)
            return 1;
        usleep(20000);
    }
    return fh_ended(f, method, path) >= n;
}

void fh_stop(fakehttp *f)
{
    if (!f)
        return;
    atomic_store(&f->stopping, 1);
    MHD_stop_daemon(f->d);
    for (size_t i = 0; i < f->nreqs; i++)
        free(f->reqs[i].body);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

int fh_silent_start(int *port)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64) ||
        getsockname(fd, (struct sockaddr *)&sa, &sl)) {
        close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

/* ---- the producer process ---- */

const char *const *fh_producer_args(const char *source, const char *base_key, const char *url,
                                    const char *topic, const char *const *opts, const char *extra1,
                                    const char *extra2)
{
    static char src[64], bs[512], base[256], top[256];
    static const char *argv[48];
    size_t n = 0;

    snprintf(src, sizeof(src), "--source=%s", source);
    snprintf(bs, sizeof(bs), "%s", tk_bootstrap());
    snprintf(base, sizeof(base), "%s", url);
    snprintf(top, sizeof(top), "%s", topic);
    argv[n++] = src;
    argv[n++] = base_key;
    argv[n++] = base;
    argv[n++] = "--bootstrap.servers";
    argv[n++] = bs;
    argv[n++] = "--topic";
    argv[n++] = top;
    argv[n++] = "--http.listen=127.0.0.1:0";
    argv[n++] = "--allow.insecure.http=true"; /* the fake servers speak plain HTTP */
    for (size_t i = 0; opts && opts[i]; i++) {
        cr_assert_lt(n, sizeof(argv) / sizeof(argv[0]) - 3, "too many producer options");
        argv[n++] = opts[i];
    }
    if (extra1)
        argv[n++] = extra1;
    if (extra2)
        argv[n++] = extra2;
    argv[n] = NULL;
    return argv;
}

void fh_proc_start(fh_proc *p, const char *const *argv, const char *const *env)
{
    fh_proc_start_stdin(p, argv, env, NULL);
}

void fh_proc_start_stdin(fh_proc *p, const char *const *argv, const char *const *env,
                         const char *stdin_path)
{
    const char *bin = getenv("TAGSTREAM_BIN");
    char exe[1024];
    const char *args[64];
    size_t n = 0;
    int pid, fd;

    cr_assert_not_null(bin, "TAGSTREAM_BIN is not set (run through ctest)");
    snprintf(exe, sizeof(exe), "%s/tagstream-producer", bin);
    memset(p, 0, sizeof(*p));
    p->status = -1;
    snprintf(p->log, sizeof(p->log), "/tmp/ts-producer-%d-XXXXXX", (int)getpid());
    fd = mkstemp(p->log);
    cr_assert_geq(fd, 0);
    close(fd);
    snprintf(p->err, sizeof(p->err), "%s.stderr", p->log);
    args[n++] = exe;
    for (size_t i = 0; argv[i]; i++) {
        cr_assert_lt(n, 62);
        args[n++] = argv[i];
    }
    args[n] = NULL;
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int out = open(p->log, O_WRONLY | O_TRUNC),
            err = open(p->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (out < 0 || err < 0)
            _exit(127);
        dup2(out, 1);
        dup2(err, 2);
        if (stdin_path) {
            int in = open(stdin_path, O_RDONLY);
            if (in < 0)
                _exit(127);
            dup2(in, 0);
        }
        for (size_t i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        execv(exe, (char *const *)args);
        _exit(127);
    }
    p->pid = pid;
}

void fh_proc_signal(fh_proc *p, int sig)
{
    if (p->pid > 0 && p->status < 0)
        kill(p->pid, sig);
}

int fh_proc_wait(fh_proc *p, int timeout_ms)
{
    int64_t end = fh_mono_ms() + timeout_ms;
    int st;

    if (p->status >= 0)
        return p->status;
    while (fh_mono_ms() < end) {
        int r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid) {
            p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            return p->status;
        }
        usleep(20000);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &st, 0);
    p->status = 255;
    return -1;
}

static char *fh_slurp(const char *path)
{
    char *buf = tf_read(path, NULL);

    return buf ? buf : strdup("");
}

char *fh_proc_log(const fh_proc *p)
{
    return fh_slurp(p->log);
}

char *fh_proc_stderr(const fh_proc *p)
{
    return fh_slurp(p->err);
}

long long fh_log_int(const fh_proc *p, const char *msg, const char *field)
{
    char *log = fh_proc_log(p), *line = log;
    long long v = -1;

    while (line && *line) {
        char *nl = strchr(line, '\n');
        json_t *o;
        if (nl)
            *nl = '\0';
        o = json_loads(line, 0, NULL);
        if (o && json_is_string(json_object_get(o, "msg")) &&
            !strcmp(json_string_value(json_object_get(o, "msg")), msg) &&
            json_is_integer(json_object_get(o, field)))
            v = json_integer_value(json_object_get(o, field));
        json_decref(o);
        line = nl ? nl + 1 : NULL;
    }
    free(log);
    return v;
}

int fh_log_wait(const fh_proc *p, const char *needle, int timeout_ms)
{
    int64_t end = fh_mono_ms() + timeout_ms;

    do {
        char *log = fh_proc_log(p);
        int found = strstr(log, needle) != NULL;
        free(log);
        if (found)
            return 1;
        usleep(50000);
    } while (fh_mono_ms() < end);
    return 0;
}

void fh_proc_cleanup(fh_proc *p)
{
    unlink(p->log);
    unlink(p->err);
}

void fh_check_records(const tk_records *r, const tf_record *want, size_t n, int partitions)
{
    cr_assert_eq(r->n, n, "%zu records in the topic, %zu expected", r->n, n);
    for (size_t i = 0; i < r->n; i++) {
        const tk_record *rec = &r->v[i];
        size_t seen = 0, w;
        cr_assert_not_null(rec->key, "record %zu has a key", i);
        cr_expect_eq(rec->partition, ts_murmur2_partition(rec->key, rec->key_len, partitions),
                     "%s: partition as Java's murmur2", rec->key);
        /* this record is the how-many-th of its key in the topic? */
        for (size_t j = 0; j < i; j++)
            seen += r->v[j].key_len == rec->key_len && !memcmp(r->v[j].key, rec->key, rec->key_len);
        /* ... and the same one of the expected records of that key */
        for (w = 0; w < n; w++) {
            if (strlen(want[w].key) != rec->key_len || memcmp(want[w].key, rec->key, rec->key_len))
                continue;
            if (seen-- == 0)
                break;
        }
        cr_assert_lt(w, n, "unexpected record %s=%s (or one too many of that key)", rec->key,
                     rec->value ? rec->value : "(null)");
        cr_expect_str_eq(rec->value, want[w].value, "key %s: values in order", rec->key);
        cr_expect_eq(rec->timestamp, want[w].ts, "key %s value %s: timestamp", rec->key,
                     rec->value);
    }
}

int fh_proc_http_port(const fh_proc *p, int timeout_ms)
{
    if (!fh_log_wait(p, "\"msg\":\"http listening\"", timeout_ms))
        return -1;
    return (int)fh_log_int(p, "http listening", "port");
}

long long fh_wait_metric(int port, const char *series, long long value, int timeout_ms)
{
    int64_t end = fh_mono_ms() + timeout_ms;
    long long v = -1;

    do {
        char *body;
        if (tk_http_get(port, "/metrics", &body) == 200)
            v = (long long)tk_sample(body, series);
        free(body);
        if (v >= value)
            break;
        usleep(50000);
    } while (fh_mono_ms() < end);
    return v;
}
