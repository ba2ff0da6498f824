#include "ts_emf.h"

#include "ts_clock.h"
#include "ts_log.h"
#include "ts_time.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* EMF allows at most 100 metrics per directive and 30 dimensions per set. */
#define TS_EMF_MAX_METRICS 100
#define TS_EMF_MAX_DIMS    30

typedef enum ts_emf_kind {
    TS_EMF_GAUGE,
    TS_EMF_COUNTER,
    TS_EMF_HISTOGRAM
} ts_emf_kind;

/* One sample of the exposition: the name and label text point into it. */
typedef struct ts_emf_sample {
    const char *name;
    size_t name_len;
    const char *labels; /* between the braces, still escaped; "" without */
    size_t labels_len;
    double value;
    int counter; /* sent as an increase */
    int done;    /* already written in an earlier line */
} ts_emf_sample;

/* The last value sent of a counter series: key is name + '{' + labels. */
typedef struct ts_emf_prev {
    char *key;
    double value;
} ts_emf_prev;

struct ts_emf {
    char *ns;
    char *application;
    ts_emf_prev *prev;
    size_t nprev, cap_prev;

    /* the periodic thread */
    ts_metrics *metrics;
    int interval_ms;
    int running, stop;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

ts_emf *ts_emf_new(const char *namespace_, const char *application)
{
    ts_emf *e = calloc(1, sizeof(*e));

    if (!e)
        return NULL;
    e->ns = strdup(namespace_ && *namespace_ ? namespace_ : "tagstream");
    e->application = strdup(application && *application ? application : "tagstream");
    if (!e->ns || !e->application) {
        ts_emf_destroy(e);
        return NULL;
    }
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->cond, NULL);
    return e;
}

void ts_emf_destroy(ts_emf *e)
{
    if (!e)
        return;
    ts_emf_stop(e);
    for (size_t i = 0; i < e->nprev; i++)
        free(e->prev[i].key);
    free(e->prev);
    free(e->ns);
    free(e->application);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->cond);
    free(e);
}

/*
 * The increase of a counter since the last call, remembering `value`. A
 * series seen for the first time counts from zero (the process started it).
 * The table is searched linearly: a registry has a few hundred series at most
 * and this runs once a minute.
 */
static ts_err ts_emf_increase(ts_emf *e, const ts_emf_sample *s, double *delta)
{
    size_t klen = s->name_len + 1 + s->labels_len;
    ts_emf_prev *p;

    for (size_t i = 0; i < e->nprev; i++) {
        p = &e->prev[i];
        if (strlen(p->key) == klen && memcmp(p->key, s->name, s->name_len) == 0 &&
            p->key[s->name_len] == '{' &&
            memcmp(p->key + s->name_len + 1, s->labels, s->labels_len) == 0) {
            *delta = s->value >= p->value ? s->value - p->value : s->value;
            p->value = s->value;
            return TS_OK;
        }
    }
    p = ts_grow(e->prev, e->nprev + 1, &e->cap_prev, sizeof(*e->prev), 32);
    if (!p)
        return TS_ERR_NOMEM;
    e->prev = p;
    p = &e->prev[e->nprev];
    p->key = malloc(klen + 1);
    if (!p->key)
        return TS_ERR_NOMEM;
    memcpy(p->key, s->name, s->name_len);
    p->key[s->name_len] = '{';
    memcpy(p->key + s->name_len + 1, s->labels, s->labels_len);
    p->key[klen] = '\0';
    p->value = s->value;
    e->nprev++;
    *delta = s->value;
    return TS_OK;
}

static int ts_emf_is_name_char(char c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

/* Length of a metric name at p (0 if none). */
static size_t ts_emf_name_len(const char *p, const char *end)
{
    size_t n = 0;

    while (p + n < end && ts_emf_is_name_char(p[n], n == 0))
        n++;
    return n;
}

/*
 * Walk the label list lab[0..n): for each pair call back with the name and
 * the unescaped value. Returns -1 when the text is not a label list.
 */
typedef int(ts_emf_label_cb)(void *opaque, const char *name, size_t name_len, const char *value,
                             size_t value_len);

static int ts_emf_labels_each(const char *lab, size_t n, ts_emf_label_cb *cb, void *opaque)
{
    const char *p = lab, *end = lab + n;
    char value[1024];

    while (p < end) {
        size_t nl = ts_emf_name_len(p, end), vl = 0;
        const char *name = p;

        if (nl == 0)
            return -1;
        p += nl;
        if (p + 1 >= end || p[0] != '=' || p[1] != '"')
            return -1;
        p += 2;
        while (p < end && *p != '"') {
            char c = *p++;

            if (c == '\\') {
                if (p >= end)
                    return -1;
                c = *p++;
                if (c == 'n')
                    c = '\n';
            }
            if (vl < sizeof(value) - 1)
                value[vl++] = c;
        }
        if (p >= end)
            return -1;
        p++; /* closing quote */
        if (cb && cb(opaque, name, nl, value, vl) < 0)
            return -1;
        if (p < end) {
            if (*p != ',')
                return -1;
            p++;
        }
    }
    return 0;
}

/* Parse one sample line; returns 0 on success. */
static int ts_emf_parse_sample(const char *line, size_t n, ts_emf_sample *s)
{
    const char *p = line, *end = line + n;
    char num[64];
    char *numend;
    size_t nl = ts_emf_name_len(p, end), vl;

    if (nl == 0)
        return -1;
    memset(s, 0, sizeof(*s));
    s->name = p;
    s->name_len = nl;
    s->labels = "";
    p += nl;
    if (p < end && *p == '{') {
        const char *q = ++p;
        int quoted = 0;

        /* the closing brace outside any quoted value */
        while (q < end && (quoted || *q != '}')) {
            if (*q == '\\' && quoted)
                q++;
            else if (*q == '"')
                quoted = !quoted;
            q++;
        }
        if (q >= end)
            return -1;
        s->labels = p;
        s->labels_len = (size_t)(q - p);
        if (ts_emf_labels_each(s->labels, s->labels_len, NULL, NULL) < 0)
            return -1;
        p = q + 1;
    }
    if (p >= end || *p != ' ')
        return -1;
    p++;
    vl = 0;
    while (p + vl < end && p[vl] != ' ')
        vl++;
    if (vl == 0 || vl >= sizeof(num))
        return -1;
    memcpy(num, p, vl);
    num[vl] = '\0';
    errno = 0;
    s->value = strtod(num, &numend);
    if (numend != num + vl || errno == ERANGE)
        return -1;
    return 0;
}

static int ts_emf_name_eq(const ts_emf_sample *s, const char *name, size_t len)
{
    return s->name_len == len && memcmp(s->name, name, len) == 0;
}

static int ts_emf_has_suffix(const ts_emf_sample *s, size_t base, const char *suffix)
{
    size_t n = strlen(suffix);

    return s->name_len == base + n && memcmp(s->name + base, suffix, n) == 0;
}

typedef struct ts_emf_dim_ctx {
    ts_buf *out;
    int list; /* 1: write the names for the Dimensions array, 0: the members */
} ts_emf_dim_ctx;

static int ts_emf_put_dim(void *opaque, const char *name, size_t name_len, const char *value,
                          size_t value_len)
{
    ts_emf_dim_ctx *c = opaque;

    /* "application" is ours; a label of that name would clash with it */
    if (name_len == 11 && memcmp(name, "application", 11) == 0)
        return 0;
    ts_buf_putc(c->out, ',');
    ts_buf_json_str(c->out, name, name_len);
    if (!c->list) {
        ts_buf_putc(c->out, ':');
        /* CloudWatch refuses an empty dimension value */
        if (value_len)
            ts_buf_json_str(c->out, value, value_len);
        else
            ts_buf_puts(c->out, "\"none\"");
    }
    return 0;
}

static int ts_emf_count_dim(void *opaque, const char *name, size_t name_len, const char *value,
                            size_t value_len)
{
    (void)name;
    (void)name_len;
    (void)value;
    (void)value_len;
    (*(int *)opaque)++;
    return 0;
}

static const char *ts_emf_unit(const ts_emf_sample *s)
{
    static const char sec[] = "_seconds";
    size_t n = sizeof(sec) - 1;

    if (s->counter)
        return "Count";
    if (s->name_len >= n && memcmp(s->name + s->name_len - n, sec, n) == 0)
        return "Seconds";
    if (s->name_len >= 6 && memcmp(s->name + s->name_len - 6, "_bytes", 6) == 0)
        return "Bytes";
    return "None";
}

/* Write one EMF line for up to TS_EMF_MAX_METRICS samples of group[0..n). */
static void ts_emf_put_line(ts_emf *e, ts_emf_sample **group, size_t n, const double *values,
                            int64_t now_ms, ts_buf *out)
{
    ts_emf_dim_ctx dims = {out, 1};
    char when[TS_TIME_ISO_SIZE], num[40];
    const ts_emf_sample *first = group[0];

    ts_time_format_iso(now_ms, when, sizeof(when));
    ts_buf_printf(out, "{\"time\":\"%s\",\"level\":\"info\",\"component\":\"emf\",", when);
    ts_buf_printf(out, "\"_aws\":{\"Timestamp\":%lld,\"CloudWatchMetrics\":[{\"Namespace\":",
                  (long long)now_ms);
    ts_buf_json_str(out, e->ns, strlen(e->ns));
    ts_buf_puts(out, ",\"Dimensions\":[[\"application\"");
    ts_emf_labels_each(first->labels, first->labels_len, ts_emf_put_dim, &dims);
    ts_buf_puts(out, "]],\"Metrics\":[");
    for (size_t i = 0; i < n; i++) {
        ts_buf_puts(out, i ? ",{\"Name\":" : "{\"Name\":");
        ts_buf_json_str(out, group[i]->name, group[i]->name_len);
        ts_buf_printf(out, ",\"Unit\":\"%s\"}", ts_emf_unit(group[i]));
    }
    ts_buf_puts(out, "]}]},\"application\":");
    ts_buf_json_str(out, e->application, strlen(e->application));
    dims.list = 0;
    ts_emf_labels_each(first->labels, first->labels_len, ts_emf_put_dim, &dims);
    for (size_t i = 0; i < n; i++) {
        ts_buf_putc(out, ',');
        ts_buf_json_str(out, group[i]->name, group[i]->name_len);
        ts_buf_putc(out, ':');
        /* finite: non-finite samples were left out */
        ts_buf_puts(out, ts_metrics_fmt_double(num, sizeof(num), values[i]));
    }
    ts_buf_puts(out, "}\n");
}

ts_err ts_emf_convert(ts_emf *e, const char *text, size_t len, int64_t now_ms, ts_buf *out)
{
    ts_emf_sample *samples = NULL, **group = NULL;
    double *values = NULL;
    size_t nsamples = 0, cap = 0;
    const char *p = text, *end = text + len;
    /* the family of the last # TYPE line: its name and type */
    const char *fam = "";
    size_t fam_len = 0;
    ts_emf_kind kind = TS_EMF_GAUGE;
    ts_err err = TS_OK;

    if (!e || !out)
        return TS_ERR_INVALID;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line = p, *lend = nl ? nl : end;
        size_t n = (size_t)(lend - line);
        ts_emf_sample s;

        p = nl ? nl + 1 : end;
        if (n > 7 && memcmp(line, "# TYPE ", 7) == 0) {
            const char *q = line + 7;
            size_t fl = ts_emf_name_len(q, lend);
            const char *type = q + fl + 1;
            size_t tl = type < lend ? (size_t)(lend - type) : 0;

            fam = q;
            fam_len = fl;
            kind = TS_EMF_GAUGE;
            if (tl == 7 && memcmp(type, "counter", 7) == 0)
                kind = TS_EMF_COUNTER;
            else if (tl == 9 && memcmp(type, "histogram", 9) == 0)
                kind = TS_EMF_HISTOGRAM;
            continue;
        }
        if (n == 0 || line[0] == '#' || ts_emf_parse_sample(line, n, &s) < 0)
            continue;
        if (kind == TS_EMF_HISTOGRAM) {
            if (ts_emf_has_suffix(&s, fam_len, "_sum") || ts_emf_has_suffix(&s, fam_len, "_count"))
                s.counter = 1;
            else
                continue; /* buckets */
        } else {
            s.counter = kind == TS_EMF_COUNTER && ts_emf_name_eq(&s, fam, fam_len);
        }
        if (!isfinite(s.value))
            continue;
        {
            ts_emf_sample *grown = ts_grow(samples, nsamples + 1, &cap, sizeof(*samples), 64);

            if (!grown) {
                err = TS_ERR_NOMEM;
                goto done;
            }
            samples = grown;
        }
        samples[nsamples++] = s;
    }
    group = malloc((nsamples ? nsamples : 1) * sizeof(*group));
    values = malloc((nsamples ? nsamples : 1) * sizeof(*values));
    if (!group || !values) {
        err = TS_ERR_NOMEM;
        goto done;
    }
    /* Group by label set, in the order the label sets first appear. */
    for (size_t i = 0; i < nsamples; i++) {
        size_t n = 0;
        int ndims = 0;

        if (samples[i].done)
            continue;
        ts_emf_labels_each(samples[i].labels, samples[i].labels_len, ts_emf_count_dim, &ndims);
        for (size_t j = i; j < nsamples; j++) {
            ts_emf_sample *s = &samples[j];

            if (s->done || s->labels_len != samples[i].labels_len ||
                memcmp(s->labels, samples[i].labels, s->labels_len) != 0)
                continue;
            s->done = 1;
            if (ndims + 1 > TS_EMF_MAX_DIMS)
                continue; /* CloudWatch would refuse the line */
            if (s->counter) {
                err = ts_emf_increase(e, s, &values[n]);
                if (err)
                    goto done;
            } else {
                values[n] = s->value;
            }
            group[n++] = s;
            if (n == TS_EMF_MAX_METRICS) {
                ts_emf_put_line(e, group, n, values, now_ms, out);
                n = 0;
            }
        }
        if (n)
            ts_emf_put_line(e, group, n, values, now_ms, out);
    }
    err = ts_buf_status(out);
done:
    free(samples);
    free(group);
    free(values);
    return err;
}

ts_err ts_emf_emit(ts_emf *e, ts_metrics *m)
{
    ts_buf text, out;
    ts_err err;
    size_t off = 0;

    if (!e || !m)
        return TS_ERR_INVALID;
    ts_buf_init(&text, 16 << 20);
    ts_buf_init(&out, 32 << 20);
    err = ts_metrics_render(m, &text);
    if (!err)
        err = ts_emf_convert(e, text.data ? text.data : "", text.len, ts_wall_ms(), &out);
    while (!err && off < out.len) {
        const char *nl = memchr(out.data + off, '\n', out.len - off);
        size_t n = (size_t)(nl - (out.data + off)) + 1;

        ts_log_write_line(out.data + off, n);
        off += n;
    }
    ts_buf_free(&text);
    ts_buf_free(&out);
    return err;
}

static void *ts_emf_thread(void *arg)
{
    ts_emf *e = arg;
    struct timespec deadline;

    pthread_mutex_lock(&e->lock);
    while (!e->stop) {
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += e->interval_ms / 1000;
        deadline.tv_nsec += (long)(e->interval_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        while (!e->stop && pthread_cond_timedwait(&e->cond, &e->lock, &deadline) != ETIMEDOUT)
            ;
        pthread_mutex_unlock(&e->lock);
        if (ts_emf_emit(e, e->metrics))
            ts_logf(TS_LOG_WARN, "emf", "cannot write the metrics: out of memory");
        pthread_mutex_lock(&e->lock);
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

ts_err ts_emf_start(ts_emf *e, ts_metrics *m, int interval_ms, char *errstr, size_t errstr_size)
{
    int rc;

    if (!e || !m || interval_ms < 1000)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "cannot start the metrics log: interval %d ms is under 1000", interval_ms);
    if (e->running)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "metrics log already started");
    e->metrics = m;
    e->interval_ms = interval_ms;
    e->stop = 0;
    rc = pthread_create(&e->thread, NULL, ts_emf_thread, e);
    if (rc != 0)
        return ts_seterr(TS_ERR_IO, errstr, errstr_size, "cannot start the metrics log thread: %s",
                         strerror(rc));
    e->running = 1;
    return TS_OK;
}

void ts_emf_stop(ts_emf *e)
{
    if (!e || !e->running)
        return;
    pthread_mutex_lock(&e->lock);
    e->stop = 1;
    pthread_cond_signal(&e->cond);
    pthread_mutex_unlock(&e->lock);
    pthread_join(e->thread, NULL);
    e->running = 0;
}
