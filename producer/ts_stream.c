#include "ts_stream.h"
#include "ts_log.h"
#include "ts_split.h"
#include "ts_time.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TS_STREAM_ERRBODY_MAX (16 * 1024)
#define TS_STREAM_CALL_MAX    (4 * 1024 * 1024)
#define TS_STREAM_UA          "tagstream-producer/0.1"

struct ts_stream {
    const ts_source_env *env;
    ts_stream_opts opts;
    CURL *curl;
    char curl_err[CURL_ERROR_SIZE];
    const char *url;

    /* the current transfer */
    ts_linesplit lines;
    ts_sse sse;
    ts_buf *body;   /* ts_stream_call: the answer; NULL while streaming */
    ts_buf errbody; /* a non-200 answer's body, for its detail */
    long status;    /* of the last response seen (0: none) */
    int streaming;  /* feed the framer (a stream, not a call) */
    int got_data;   /* a 200 body delivered at least one byte */
    int stalled;
    int64_t last_byte_mono;
    int64_t reset_ms;  /* rate-limit reset announced by the server */
    long remaining;    /* x-rate-limit-remaining, -1 if none */
    ts_err record_err; /* a record callback's fatal error */
    char msg[1024];    /* the message of a fatal attempt */
};

/* ---- callbacks ---- */

static int ts_stream_deliver(ts_stream *s, const char *type, size_t tl, const char *p, size_t n)
{
    ts_err err = s->opts.record(s->opts.opaque, type, tl, p, n);

    if (err == TS_OK)
        return 0;
    if (err != TS_ERR_STOPPED) {
        s->record_err = err;
        if (!s->msg[0])
            snprintf(s->msg, sizeof(s->msg), "%s: cannot publish: %s", s->opts.component,
                     ts_err_name(err));
    }
    return 1;
}

static int ts_stream_line(void *opaque, ts_line_kind kind, const char *p, size_t n)
{
    ts_stream *s = opaque;

    if (kind == TS_LINE_OVERSIZE) {
        ts_source_skip(s->env, s->opts.component, TS_SKIP_OVERSIZE,
                       "line longer than max.line.bytes", p, n);
        return 0;
    }
    return ts_stream_deliver(s, NULL, 0, p, n);
}

static int ts_stream_event(void *opaque, ts_sse_kind kind, const char *type, size_t tl,
                           const char *data, size_t n)
{
    ts_stream *s = opaque;

    if (kind == TS_SSE_OVERSIZE) {
        ts_source_skip(s->env, s->opts.component, TS_SKIP_OVERSIZE,
                       "event data longer than max.line.bytes", type, tl);
        return 0;
    }
    return ts_stream_deliver(s, type, tl, data, n);
}

static long ts_stream_status(ts_stream *s)
{
    long code = 0;

    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

static size_t ts_stream_write(char *p, size_t size, size_t nmemb, void *opaque)
{
    ts_stream *s = opaque;
    size_t n = size * nmemb;
    int stop;

    s->last_byte_mono = s->env->clock->mono_ms(s->env->clock->opaque);
    if (!s->status)
        s->status = ts_stream_status(s);
    if (s->status < 200 || s->status > 299 || (s->streaming && s->status != 200)) {
        if (s->errbody.len < TS_STREAM_ERRBODY_MAX)
            ts_buf_append(&s->errbody, p,
                          n < TS_STREAM_ERRBODY_MAX - s->errbody.len
                              ? n
                              : TS_STREAM_ERRBODY_MAX - s->errbody.len);
        return n;
    }
    if (!s->streaming) {
        if (s->body->len + n > TS_STREAM_CALL_MAX)
            return 0;
        ts_buf_append(s->body, p, n);
        return n;
    }
    s->got_data = 1;
    stop = s->opts.sse ? ts_sse_feed(&s->sse, p, n) : ts_linesplit_feed(&s->lines, p, n);
    return stop ? 0 : n;
}

static int ts_stream_header_is(const char *p, size_t n, const char *name, size_t *vstart)
{
    size_t nl = strlen(name), i;

    if (n <= nl || strncasecmp(p, name, nl) || p[nl] != ':')
        return 0;
    for (i = nl + 1; i < n && (p[i] == ' ' || p[i] == '\t'); i++)
        ;
    *vstart = i;
    return 1;
}

/* Larger numbers of seconds (epoch seconds or a Retry-After delay) count
 * as this many, some 30,000 years: the wait is capped by the reconnect
 * settings anyway, and the sums with the clock stay far from overflow. */
#define TS_STREAM_RESET_MAX_S 1000000000000LL

/* A rate-limit reset: epoch seconds (X), seconds (Retry-After), an ISO time
 * (Mastodon); 0 if unreadable. */
static int64_t ts_stream_parse_reset(const char *v, size_t n)
{
    int64_t ms, secs = 0;
    size_t i;

    for (i = 0; i < n && v[i] >= '0' && v[i] <= '9'; i++)
        secs = secs >= TS_STREAM_RESET_MAX_S ? TS_STREAM_RESET_MAX_S : secs * 10 + (v[i] - '0');
    if (i == n && n > 0)
        return (secs < TS_STREAM_RESET_MAX_S ? secs : TS_STREAM_RESET_MAX_S) * 1000;
    if (ts_time_parse_iso(v, n, TS_TIME_FULL, &ms) == TS_OK)
        return ms;
    return 0;
}

static size_t ts_stream_header(char *p, size_t size, size_t nmemb, void *opaque)
{
    ts_stream *s = opaque;
    size_t n = size * nmemb, v, vl;

    s->last_byte_mono = s->env->clock->mono_ms(s->env->clock->opaque);
    vl = n;
    while (vl > 0 && (p[vl - 1] == '\r' || p[vl - 1] == '\n'))
        vl--;
    if (n >= 5 && !strncmp(p, "HTTP/", 5)) {
        /* a new response (after a 100 Continue, say): forget the last one */
        s->status = 0;
        s->reset_ms = 0;
        s->remaining = -1;
        ts_buf_reset(&s->errbody);
    } else if (ts_stream_header_is(p, vl, "x-rate-limit-reset", &v) ||
               ts_stream_header_is(p, vl, "x-ratelimit-reset", &v)) {
        s->reset_ms = ts_stream_parse_reset(p + v, vl - v);
    } else if (ts_stream_header_is(p, vl, "retry-after", &v)) {
        int64_t r = ts_stream_parse_reset(p + v, vl - v);
        if (r > 0 && !s->reset_ms)
            s->reset_ms = s->env->clock->now_ms(s->env->clock->opaque) + r;
    } else if (ts_stream_header_is(p, vl, "x-rate-limit-remaining", &v) ||
               ts_stream_header_is(p, vl, "x-ratelimit-remaining", &v)) {
        s->remaining = strtol(p + v, NULL, 10);
    } else if (vl == 0 && s->streaming) {
        /* the end of the headers */
        s->status = ts_stream_status(s);
        if (s->status == 200) {
            atomic_store(&s->env->stats->source_connected, 1);
            ts_log_ev *ev = ts_log_begin(TS_LOG_INFO, s->opts.component, "stream connected");
            ts_log_cstr(ev, "url", s->url);
            ts_log_end(ev);
        }
    }
    return n;
}

static int ts_stream_progress(void *opaque, curl_off_t dltotal, curl_off_t dlnow,
                              curl_off_t ultotal, curl_off_t ulnow)
{
    ts_stream *s = opaque;

    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    if (atomic_load(s->env->stop))
        return 1;
    if (s->env->clock->mono_ms(s->env->clock->opaque) - s->last_byte_mono >=
        s->env->conf->stall_timeout_ms) {
        s->stalled = 1;
        return 1;
    }
    return 0;
}

/* ---- requests ---- */

ts_stream *ts_stream_new(const ts_source_env *env, const ts_stream_opts *opts, char *errstr,
                         size_t errstr_size)
{
    ts_stream *s = calloc(1, sizeof(*s));

    if (!s) {
        ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
        return NULL;
    }
    s->env = env;
    s->opts = *opts;
    s->curl = curl_easy_init();
    if (!s->curl) {
        free(s);
        ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "%s: cannot create a curl handle",
                  opts->component);
        return NULL;
    }
    ts_linesplit_init(&s->lines, (size_t)env->conf->max_line_bytes, 0, ts_stream_line, s);
    ts_sse_init(&s->sse, (size_t)env->conf->max_line_bytes, ts_stream_event, s);
    ts_buf_init(&s->errbody, TS_STREAM_ERRBODY_MAX + 1);
    return s;
}

void ts_stream_destroy(ts_stream *s)
{
    if (!s)
        return;
    ts_linesplit_free(&s->lines);
    ts_sse_free(&s->sse);
    ts_buf_free(&s->errbody);
    curl_easy_cleanup(s->curl);
    free(s);
}

/* Set up the handle for one request; *hdrs gets the header list to free. */
static ts_err ts_stream_setup(ts_stream *s, const char *method, const char *url, const char *body,
                              struct curl_slist **hdrs)
{
    struct curl_slist *h = NULL, *t;
    char auth[4200];

    curl_easy_reset(s->curl);
    if (s->opts.token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", s->opts.token);
        h = curl_slist_append(h, auth);
    }
    if (s->streaming && s->opts.sse && (t = curl_slist_append(h, "Accept: text/event-stream")))
        h = t;
    if (body && (t = curl_slist_append(h, "Content-Type: application/json")))
        h = t;
    *hdrs = h;
    s->curl_err[0] = '\0';
    curl_easy_setopt(s->curl, CURLOPT_URL, url);
    curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(s->curl, CURLOPT_USERAGENT, TS_STREAM_UA);
    curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, s->curl_err);
    curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)s->env->conf->connect_timeout_ms);
    curl_easy_setopt(s->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(s->curl, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, ts_stream_write);
    curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->curl, CURLOPT_HEADERFUNCTION, ts_stream_header);
    curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(s->curl, CURLOPT_XFERINFOFUNCTION, ts_stream_progress);
    curl_easy_setopt(s->curl, CURLOPT_XFERINFODATA, s);
    curl_easy_setopt(s->curl, CURLOPT_NOPROGRESS, 0L);
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(s->curl, CURLOPT_POST, 1L);
        curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body ? body : "");
    }
    if (s->opts.token && !h)
        return TS_ERR_NOMEM;
    return TS_OK;
}

/* The detail of an error answer: X's title/detail, errors[].message,
 * Mastodon's error, else the start of the text. */
static void ts_stream_error_detail(const ts_buf *b, char *out, size_t outsz)
{
    json_t *root = b->len ? json_loadb(b->data, b->len, 0, NULL) : NULL;
    const char *title = NULL, *detail = NULL;

    out[0] = '\0';
    if (root) {
        json_t *errs = json_object_get(root, "errors");
        title = json_string_value(json_object_get(root, "title"));
        detail = json_string_value(json_object_get(root, "detail"));
        if (!detail)
            detail = json_string_value(json_object_get(root, "error"));
        if (!detail && json_is_array(errs)) {
            json_t *e = json_array_get(errs, 0);
            detail = json_string_value(json_object_get(e, "message"));
            if (!detail)
                detail = json_string_value(json_object_get(e, "detail"));
            if (!title)
                title = json_string_value(json_object_get(e, "title"));
        }
        if (title || detail)
            snprintf(out, outsz, "%s%s%s", title ? title : "", title && detail ? ": " : "",
                     detail ? detail : "");
        json_decref(root);
    }
    if (!out[0] && b->len) {
        size_t n = b->len < outsz - 1 ? b->len : outsz - 1;
        memcpy(out, b->data, n);
        out[n] = '\0';
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)out[i] < 0x20)
                out[i] = ' ';
    }
}

/* Fill *a for a transfer that failed (no 2xx answer). */
static void ts_stream_classify(ts_stream *s, const char *method, const char *url, CURLcode rc,
                               ts_attempt *a)
{
    char detail[512];
    ts_log_ev *ev;

    a->http_status = (int)s->status;
    a->reset_ms = s->reset_ms;
    if (s->status == 0) {
        a->cause = s->stalled ? TS_RECONNECT_STALL : TS_RECONNECT_NETWORK;
        return;
    }
    ts_stream_error_detail(&s->errbody, detail, sizeof(detail));
    if (s->status == 401 || s->status == 403) {
        a->fatal = 1;
        a->err = TS_ERR_INVALID;
        snprintf(s->msg, sizeof(s->msg), "%s: %s %.300s answered HTTP %ld%s%.300s: check %s",
                 s->opts.component, method, url, s->status, detail[0] ? ": " : "", detail,
                 s->opts.token_hint ? s->opts.token_hint : "the access token");
        return;
    }
    a->cause = s->status == 429 ? TS_RECONNECT_RATELIMIT : TS_RECONNECT_HTTP;
    ev = ts_log_begin(TS_LOG_WARN, s->opts.component, "HTTP error answer");
    ts_log_cstr(ev, "method", method);
    ts_log_cstr(ev, "url", url);
    ts_log_int(ev, "status", s->status);
    ts_log_cstr(ev, "detail", detail);
    if (s->remaining >= 0)
        ts_log_int(ev, "rate_limit_remaining", s->remaining);
    if (s->reset_ms)
        ts_log_int(ev, "rate_limit_reset_ms", s->reset_ms);
    if (rc != CURLE_OK)
        ts_log_cstr(ev, "error", s->curl_err[0] ? s->curl_err : curl_easy_strerror(rc));
    ts_log_end(ev);
}

static void ts_stream_begin(ts_stream *s)
{
    s->status = 0;
    s->got_data = 0;
    s->stalled = 0;
    s->reset_ms = 0;
    s->remaining = -1;
    s->record_err = TS_OK;
    s->last_byte_mono = s->env->clock->mono_ms(s->env->clock->opaque);
    ts_buf_reset(&s->errbody);
}

int ts_stream_call(ts_stream *s, const char *method, const char *url, const char *body, ts_buf *out,
                   ts_attempt *a)
{
    struct curl_slist *hdrs = NULL;
    CURLcode rc;

    memset(a, 0, sizeof(*a));
    s->streaming = 0;
    s->body = out;
    ts_stream_begin(s);
    if (ts_stream_setup(s, method, url, body, &hdrs)) {
        curl_slist_free_all(hdrs);
        ts_stream_fail(s, a, TS_ERR_NOMEM, "%s: out of memory", s->opts.component);
        return 1;
    }
    rc = curl_easy_perform(s->curl);
    curl_slist_free_all(hdrs);
    s->body = NULL;
    if (rc == CURLE_OK && s->status >= 200 && s->status <= 299 && !ts_buf_status(out))
        return 0;
    if (rc != CURLE_OK && s->status >= 200 && s->status <= 299) {
        /* the answer was cut: a network failure */
        a->cause = s->stalled ? TS_RECONNECT_STALL : TS_RECONNECT_NETWORK;
        a->http_status = (int)s->status;
    } else {
        ts_stream_classify(s, method, url, rc, a);
    }
    if (!a->fatal && rc != CURLE_OK && !atomic_load(s->env->stop)) {
        ts_log_ev *ev = ts_log_begin(TS_LOG_WARN, s->opts.component, "request failed");
        ts_log_cstr(ev, "method", method);
        ts_log_cstr(ev, "url", url);
        ts_log_cstr(ev, "error", s->curl_err[0] ? s->curl_err : curl_easy_strerror(rc));
        ts_log_end(ev);
    }
    return 1;
}

void ts_stream_fail(ts_stream *s, ts_attempt *a, ts_err err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
    va_end(ap);
    a->fatal = 1;
    a->err = err;
}

/* ---- the stream ---- */

static void ts_stream_attempt(void *opaque, ts_attempt *a)
{
    ts_stream *s = opaque;
    struct curl_slist *hdrs = NULL;
    size_t pending;
    CURLcode rc;

    if (s->opts.prepare && s->opts.prepare(s->opts.opaque, s, a))
        return;
    memset(a, 0, sizeof(*a));
    s->streaming = 1;
    ts_stream_begin(s);
    if (ts_stream_setup(s, "GET", s->url, NULL, &hdrs)) {
        curl_slist_free_all(hdrs);
        ts_stream_fail(s, a, TS_ERR_NOMEM, "%s: out of memory", s->opts.component);
        return;
    }
    rc = curl_easy_perform(s->curl);
    curl_slist_free_all(hdrs);
    atomic_store(&s->env->stats->source_connected, 0);
    if (!s->status)
        s->status = ts_stream_status(s);
    pending = s->opts.sse ? ts_sse_finish(&s->sse) : ts_linesplit_finish(&s->lines, 0);
    if (s->record_err) {
        a->fatal = 1;
        a->err = s->record_err;
        return;
    }
    if (pending && !atomic_load(s->env->stop)) {
        char d[96];
        snprintf(d, sizeof(d), "%zu bytes of an unfinished %s cut by the end of the stream",
                 pending, s->opts.sse ? "event" : "line");
        ts_source_skip(s->env, s->opts.component, TS_SKIP_TRUNCATED, d, NULL, 0);
    }
    if (s->status == 200) {
        a->http_status = 200;
        a->got_data = s->got_data;
        if (s->stalled)
            a->cause = TS_RECONNECT_STALL;
        else if (rc == CURLE_OK)
            a->cause = s->got_data ? TS_RECONNECT_DROP : TS_RECONNECT_EMPTY;
        else
            a->cause = s->got_data ? TS_RECONNECT_DROP : TS_RECONNECT_NETWORK;
    } else {
        ts_stream_classify(s, "GET", s->url, rc, a);
    }
    if (!a->fatal && rc != CURLE_OK && rc != CURLE_ABORTED_BY_CALLBACK)
        snprintf(s->msg, sizeof(s->msg), "%s",
                 s->curl_err[0] ? s->curl_err : curl_easy_strerror(rc));
    else if (!a->fatal)
        s->msg[0] = '\0';
}

static void ts_stream_reconnect(void *opaque, const ts_attempt *a, int64_t delay_ms)
{
    ts_stream *s = opaque;
    ts_log_ev *ev;
    ts_log_level lvl = a->cause == TS_RECONNECT_DROP ? TS_LOG_INFO : TS_LOG_WARN;

    ts_pstats_add(&s->env->stats->reconnects[a->cause], 1);
    ev = ts_log_begin(lvl, s->opts.component, "stream ended, reconnecting");
    ts_log_cstr(ev, "cause", ts_reconnect_cause_name(a->cause));
    ts_log_int(ev, "delay_ms", delay_ms);
    if (a->http_status)
        ts_log_int(ev, "status", a->http_status);
    if (s->msg[0])
        ts_log_cstr(ev, "error", s->msg);
    if (a->reset_ms)
        ts_log_int(ev, "rate_limit_reset_ms", a->reset_ms);
    ts_log_end(ev);
    s->msg[0] = '\0';
}

ts_err ts_stream_run(ts_stream *s, const char *url, char *errstr, size_t errstr_size)
{
    ts_backoff b;
    ts_backoff_conf bc;
    ts_err err;

    s->url = url;
    s->msg[0] = '\0';
    ts_pconf_backoff(s->env->conf, &bc);
    ts_backoff_init(&b, &bc);
    err = ts_reconnect_run(&b, s->env->clock, s->env->stop, ts_stream_attempt, ts_stream_reconnect,
                           s);
    atomic_store(&s->env->stats->source_connected, 0);
    if (err)
        return ts_seterr(err, errstr, errstr_size, "%s", s->msg[0] ? s->msg : "stream failed");
    return TS_OK;
}
