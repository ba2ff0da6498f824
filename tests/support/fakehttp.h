/*
 * fakehttp: local HTTP servers on 127.0.0.1 for the producer's tests,
 * standing in for the X API and the Mastodon streaming API (libmicrohttpd,
 * a thread per connection).
 *
 * A route (method + path) answers its n-th request with the n-th scripted
 * response (the last one repeats). A response is a status, headers and a
 * body sent as parts: each part is written as its own chunk of a chunked
 * body after an optional delay, so a test decides where the network cuts
 * lines and events. After the parts the response ends cleanly, drops the
 * connection mid-body (no final chunk), sends keep-alives until the server
 * stops, or hangs silently until the server stops.
 *
 * fh_silent_start opens a port that accepts connections (in the kernel's
 * backlog) and never answers.
 *
 * Ownership: scripted data is the caller's and must outlive the server.
 * Thread: configure routes before the first request; the query functions
 * may be called while the server runs.
 */
#ifndef FAKEHTTP_H
#define FAKEHTTP_H

#include <stddef.h>
#include <stdint.h>

#include "testfile.h"

typedef struct fakehttp fakehttp;

typedef struct fh_part {
    const char *data;
    size_t len;   /* 0: strlen(data) */
    int delay_ms; /* wait before sending it */
} fh_part;

enum fh_end {
    FH_END_CLOSE = 0, /* finish the body (final chunk) */
    FH_END_ABORT,     /* close the connection mid-body */
    FH_END_KEEPALIVE, /* send `keepalive` every keepalive_ms until the server stops */
    FH_END_HANG,      /* send nothing more until the server stops */
};

typedef struct fh_response {
    int status;
    const char *headers; /* "Name: value\n" lines, or NULL */
    const fh_part *parts;
    size_t nparts;
    int end;
    const char *keepalive; /* default "\r\n" */
    int keepalive_ms;      /* default 100 */
    int chunked;           /* 1: chunked even for a simple body (streams are chunked anyway) */
} fh_response;

typedef struct fh_request {
    char method[16];
    char path[256];
    char query[512]; /* the arguments as k=v&k=v (decoded) */
    char authorization[512];
    char accept[128];
    char *body; /* NUL-terminated, NULL if none; freed by fh_stop */
    int64_t mono_ms;
    int64_t wall_ms; /* when it arrived, ms since the epoch */
} fh_request;

fakehttp *fh_start(void);
void fh_route(fakehttp *f, const char *method, const char *path, const fh_response *responses,
              size_t n);
int fh_port(const fakehttp *f);
/* "http://127.0.0.1:PORT" (owned by f) */
const char *fh_url(const fakehttp *f);

/* Requests received so far (all routes, in arrival order). */
size_t fh_nrequests(fakehttp *f);
/* Copy request i; returns 0 if there is no such request. */
int fh_request_get(fakehttp *f, size_t i, fh_request *out);
/* Requests received on one route. */
size_t fh_count(fakehttp *f, const char *method, const char *path);
/* Responses of a route that have sent all their parts (reached their end). */
size_t fh_ended(fakehttp *f, const char *method, const char *path);
/* Wait until fh_ended(...) >= n or timeout; returns 1 if reached. */
int fh_wait_ended(fakehttp *f, const char *method, const char *path, size_t n, int timeout_ms);

/* Stop serving (waking every hanging response) and free. NULL ok. */
void fh_stop(fakehttp *f);

/* A listening socket on 127.0.0.1 that never accepts; returns the fd, and
 * the port in *port. Close the fd to stop it. */
int fh_silent_start(int *port);

int64_t fh_mono_ms(void);
int64_t fh_wall_ms(void);

/* ---- running tagstream-producer against the fakes (integration tests) ---- */

typedef struct fh_proc {
    int pid;
    char log[256]; /* its stdout: the JSON log */
    char err[280]; /* its stderr */
    int status;    /* exit status once waited for, -1 before */
} fh_proc;

/*
 * Start $TAGSTREAM_BIN/tagstream-producer with argv (NULL-terminated, without
 * the program name) and extra environment entries "K=V" (NULL-terminated,
 * may be NULL). Fails the test if it cannot be started.
 */
void fh_proc_start(fh_proc *p, const char *const *argv, const char *const *env);

/*
 * The arguments of a producer reading a fake server: --source=SOURCE,
 * BASE_KEY URL (the source's base URL option), the test cluster, --topic
 * TOPIC, an HTTP endpoint on a free loopback port, then OPTS (the test's
 * timing options, NULL-terminated) and EXTRA1, EXTRA2 when not NULL. The
 * array and its strings stay valid until the next call.
 */
const char *const *fh_producer_args(const char *source, const char *base_key, const char *url,
                                    const char *topic, const char *const *opts, const char *extra1,
                                    const char *extra2);
/* The same, with standard input read from the file stdin_path. */
void fh_proc_start_stdin(fh_proc *p, const char *const *argv, const char *const *env,
                         const char *stdin_path);
/* Send a signal. */
void fh_proc_signal(fh_proc *p, int sig);
/* Wait up to timeout_ms for the exit; returns the exit code, or -1 after
 * killing a process that did not exit in time. */
int fh_proc_wait(fh_proc *p, int timeout_ms);
/* The whole log (malloc'd, NUL-terminated). */
char *fh_proc_log(const fh_proc *p);
char *fh_proc_stderr(const fh_proc *p);
/* Value of an integer field of the last log line whose msg is `msg`
 * (-1 if there is none). */
long long fh_log_int(const fh_proc *p, const char *msg, const char *field);
/* Wait until the log holds a line containing `needle`; returns 1 if so. */
int fh_log_wait(const fh_proc *p, const char *needle, int timeout_ms);
/* The port of the producer's HTTP endpoint, from its log (waits up to
 * timeout_ms for the line); -1 if it never said. */
int fh_proc_http_port(const fh_proc *p, int timeout_ms);
/* Poll the producer's /metrics until series >= value (tk_http_get, tk_sample in
 * httpget.h read it once); returns the last value. */
long long fh_wait_metric(int port, const char *series, long long value, int timeout_ms);

/* Remove the log files. */
void fh_proc_cleanup(fh_proc *p);


/*
 * Check records read from a topic of `partitions` partitions against the
 * expected ones: the same number (so none twice), and for each key the same
 * values with the same timestamps in the same order, each record in the
 * partition Java's murmur2 gives its key.
 */
struct tk_records;
void fh_check_records(const struct tk_records *r, const tf_record *want, size_t n, int partitions);

#endif
