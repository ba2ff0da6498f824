#include "ts_metrics.h"
#include "ts_buf.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Values are plain atomics updated with relaxed ordering: a scrape needs each
 * number to be whole, not a consistent snapshot across numbers. Doubles are
 * stored as their bit patterns in 64-bit atomics, so that a gauge add or a
 * histogram sum is a compare-and-swap loop without a lock.
 */
struct ts_counter {
    _Atomic uint64_t value;
};

struct ts_gauge {
    _Atomic uint64_t bits;
};

struct ts_histogram {
    double *bounds; /* ascending, finite; +Inf is implicit */
    size_t nbounds;
    _Atomic uint64_t *counts; /* per bucket, not cumulative; nbounds + 1 */
    _Atomic uint64_t sum_bits;
};

typedef enum ts_metrics_kind {
    TS_METRICS_COUNTER,
    TS_METRICS_GAUGE,
    TS_METRICS_HISTOGRAM,
    TS_METRICS_COLLECTOR
} ts_metrics_kind;

typedef struct ts_metrics_series {
    char *labels; /* "" when the series has none */
    union {
        ts_counter counter;
        ts_gauge gauge;
        ts_histogram histogram;
    } u;
} ts_metrics_series;

typedef struct ts_metrics_family {
    char *name;
    char *help;
    const char *type; /* the # TYPE word, static */
    ts_metrics_kind kind;
    ts_metrics_series **series; /* registration order */
    size_t nseries, cap;
    ts_metrics_collect_cb *collect;
    void *opaque;
} ts_metrics_family;

struct ts_metrics {
    pthread_mutex_t lock;
    ts_metrics_family **families; /* registration order */
    size_t nfamilies, cap;
};

static uint64_t ts_metrics_d2u(double v)
{
    uint64_t u;

    memcpy(&u, &v, sizeof(u));
    return u;
}

static double ts_metrics_u2d(uint64_t u)
{
    double v;

    memcpy(&v, &u, sizeof(v));
    return v;
}

static void ts_metrics_atomic_add_double(_Atomic uint64_t *bits, double delta)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);

    while (!atomic_compare_exchange_weak_explicit(bits, &old,
                                                  ts_metrics_d2u(ts_metrics_u2d(old) + delta),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

#ifndef NDEBUG
/* [a-zA-Z_:][a-zA-Z0-9_:]* as the exposition format requires. */
static int ts_metrics_valid_name(const char *name)
{
    if (!name || !*name || (*name >= '0' && *name <= '9'))
        return 0;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == ':'))
            return 0;
    }
    return 1;
}
#endif

static void ts_metrics_series_free(ts_metrics_series *s, ts_metrics_kind kind)
{
    if (!s)
        return;
    if (kind == TS_METRICS_HISTOGRAM) {
        free(s->u.histogram.bounds);
        free(s->u.histogram.counts);
    }
    free(s->labels);
    free(s);
}

static void ts_metrics_family_free(ts_metrics_family *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->nseries; i++)
        ts_metrics_series_free(f->series[i], f->kind);
    free(f->series);
    free(f->help);
    free(f->name);
    free(f);
}

ts_metrics *ts_metrics_new(void)
{
    ts_metrics *m = calloc(1, sizeof(*m));

    if (!m)
        return NULL;
    if (pthread_mutex_init(&m->lock, NULL)) {
        free(m);
        return NULL;
    }
    return m;
}

void ts_metrics_destroy(ts_metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nfamilies; i++)
        ts_metrics_family_free(m->families[i]);
    free(m->families);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static ts_metrics_family *ts_metrics_find(ts_metrics *m, const char *name)
{
    for (size_t i = 0; i < m->nfamilies; i++) {
        if (!strcmp(m->families[i]->name, name))
            return m->families[i];
    }
    return NULL;
}

static ts_metrics_family *ts_metrics_family_new(const char *name, const char *help,
                                                ts_metrics_kind kind, const char *type)
{
    ts_metrics_family *f = calloc(1, sizeof(*f));

    if (!f)
        return NULL;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    if (!f->name || !f->help) {
        ts_metrics_family_free(f);
        return NULL;
    }
    f->kind = kind;
    f->type = type;
    return f;
}

static int ts_metrics_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Copy the bounds sorted, without duplicates, NaN or infinities. */
static int ts_metrics_histogram_init(ts_histogram *h, const double *bounds, size_t nbounds)
{
    size_t n = 0;

    h->bounds = malloc((nbounds ? nbounds : 1) * sizeof(*h->bounds));
    if (!h->bounds)
        return -1;
    for (size_t i = 0; i < nbounds; i++) {
        if (isfinite(bounds[i]))
            h->bounds[n++] = bounds[i];
    }
    qsort(h->bounds, n, sizeof(*h->bounds), ts_metrics_cmp_double);
    h->nbounds = 0;
    for (size_t i = 0; i < n; i++) {
        if (!h->nbounds || h->bounds[h->nbounds - 1] != h->bounds[i])
            h->bounds[h->nbounds++] = h->bounds[i];
    }
    h->counts = malloc((h->nbounds + 1) * sizeof(*h->counts));
    if (!h->counts)
        return -1;
    for (size_t i = 0; i <= h->nbounds; i++)
        atomic_init(&h->counts[i], 0);
    atomic_init(&h->sum_bits, ts_metrics_d2u(0.0));
    return 0;
}

static ts_metrics_series *ts_metrics_series_new(ts_metrics_kind kind, const char *labels,
                                                const double *bounds, size_t nbounds)
{
    ts_metrics_series *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->labels = strdup(labels);
    if (!s->labels)
        goto fail;
    switch (kind) {
    case TS_METRICS_COUNTER:
        atomic_init(&s->u.counter.value, 0);
        break;
    case TS_METRICS_GAUGE:
        atomic_init(&s->u.gauge.bits, ts_metrics_d2u(0.0));
        break;
    case TS_METRICS_HISTOGRAM:
        if (ts_metrics_histogram_init(&s->u.histogram, bounds, nbounds))
            goto fail;
        break;
    case TS_METRICS_COLLECTOR:
        break;
    }
    return s;
fail:
    ts_metrics_series_free(s, kind);
    return NULL;
}

/*
 * Find or create the series (name, labels) of the given kind. A new family is
 * only added once its first series exists, so a failure leaves the registry
 * as it was.
 */
static ts_metrics_series *ts_metrics_register(ts_metrics *m, ts_metrics_kind kind, const char *type,
                                              const char *name, const char *help,
                                              const char *labels, const double *bounds,
                                              size_t nbounds)
{
    ts_metrics_family *f, *created = NULL, **families;
    ts_metrics_series *s = NULL, **series;

    if (!m || !name)
        return NULL;
    assert(ts_metrics_valid_name(name));
    if (!labels)
        labels = "";
    pthread_mutex_lock(&m->lock);
    f = ts_metrics_find(m, name);
    if (f && f->kind != kind)
        goto fail_unlock;
    if (f) {
        for (size_t i = 0; i < f->nseries; i++) {
            if (!strcmp(f->series[i]->labels, labels)) {
                s = f->series[i];
                goto done;
            }
        }
    } else {
        created = f = ts_metrics_family_new(name, help, kind, type);
        if (!f)
            goto fail_unlock;
        families = ts_grow(m->families, m->nfamilies, &m->cap, sizeof(*families), 8);
        if (!families)
            goto fail_family;
        m->families = families;
    }
    series = ts_grow(f->series, f->nseries, &f->cap, sizeof(*series), 8);
    if (!series)
        goto fail_family;
    f->series = series;
    s = ts_metrics_series_new(kind, labels, bounds, nbounds);
    if (!s)
        goto fail_family;
    f->series[f->nseries++] = s;
    if (created)
        m->families[m->nfamilies++] = created;
done:
    pthread_mutex_unlock(&m->lock);
    return s;

fail_family:
    ts_metrics_family_free(created);
fail_unlock:
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

ts_counter *ts_metrics_counter(ts_metrics *m, const char *name, const char *help,
                               const char *labels)
{
    ts_metrics_series *s =
        ts_metrics_register(m, TS_METRICS_COUNTER, "counter", name, help, labels, NULL, 0);

    return s ? &s->u.counter : NULL;
}

ts_gauge *ts_metrics_gauge(ts_metrics *m, const char *name, const char *help, const char *labels)
{
    ts_metrics_series *s =
        ts_metrics_register(m, TS_METRICS_GAUGE, "gauge", name, help, labels, NULL, 0);

    return s ? &s->u.gauge : NULL;
}

ts_histogram *ts_metrics_histogram(ts_metrics *m, const char *name, const char *help,
                                   const char *labels, const double *bounds, size_t nbounds)
{
    ts_metrics_series *s = ts_metrics_register(m, TS_METRICS_HISTOGRAM, "histogram", name, help,
                                               labels, bounds, nbounds);

    return s ? &s->u.histogram : NULL;
}

void ts_counter_add(ts_counter *c, uint64_t n)
{
    if (c)
        atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

uint64_t ts_counter_get(const ts_counter *c)
{
    /* C11 atomic loads take a non-const pointer in some implementations. */
    return c ? atomic_load_explicit((_Atomic uint64_t *)&c->value, memory_order_relaxed) : 0;
}

void ts_gauge_set(ts_gauge *g, double v)
{
    if (g)
        atomic_store_explicit(&g->bits, ts_metrics_d2u(v), memory_order_relaxed);
}

void ts_gauge_add(ts_gauge *g, double delta)
{
    if (g)
        ts_metrics_atomic_add_double(&g->bits, delta);
}

double ts_gauge_get(const ts_gauge *g)
{
    if (!g)
        return 0.0;
    return ts_metrics_u2d(atomic_load_explicit((_Atomic uint64_t *)&g->bits, memory_order_relaxed));
}

void ts_histogram_observe(ts_histogram *h, double v)
{
    size_t lo = 0, hi;

    if (!h)
        return;
    /* The first bucket whose bound is >= v; NaN falls into +Inf. */
    hi = h->nbounds;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v <= h->bounds[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    atomic_fetch_add_explicit(&h->counts[lo], 1, memory_order_relaxed);
    ts_metrics_atomic_add_double(&h->sum_bits, v);
}

ts_err ts_metrics_add_collector(ts_metrics *m, const char *name, const char *help, const char *type,
                                ts_metrics_collect_cb *cb, void *opaque)
{
    ts_metrics_family *f, **families;
    const char *word;
    ts_err err = TS_OK;

    if (!m || !name || !type || !cb)
        return TS_ERR_INVALID;
    assert(ts_metrics_valid_name(name));
    if (!strcmp(type, "counter"))
        word = "counter";
    else if (!strcmp(type, "gauge"))
        word = "gauge";
    else
        return TS_ERR_INVALID;
    pthread_mutex_lock(&m->lock);
    if (ts_metrics_find(m, name)) {
        err = TS_ERR_EXISTS;
        goto fail_unlock;
    }
    f = ts_metrics_family_new(name, help, TS_METRICS_COLLECTOR, word);
    families = f ? ts_grow(m->families, m->nfamilies, &m->cap, sizeof(*families), 8) : NULL;
    if (!families) {
        ts_metrics_family_free(f);
        err = TS_ERR_NOMEM;
        goto fail_unlock;
    }
    m->families = families;
    f->collect = cb;
    f->opaque = opaque;
    m->families[m->nfamilies++] = f;
fail_unlock:
    pthread_mutex_unlock(&m->lock);
    return err;
}

/*
 * Numbers as Go's ParseFloat reads them: the shortest of %.15g..%.17g that
 * reads back as the same double (0.1 stays "0.1"), and +Inf, -Inf, NaN.
 */
const char *ts_metrics_fmt_double(char *s, size_t size, double v)
{
    if (isnan(v))
        return "NaN";
    if (isinf(v))
        return v > 0 ? "+Inf" : "-Inf";
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(s, size, "%.*g", prec, v);
        if (strtod(s, NULL) == v)
            break;
    }
    return s;
}

static void ts_metrics_put_double(ts_buf *out, double v)
{
    char s[40];

    ts_buf_puts(out, ts_metrics_fmt_double(s, sizeof(s), v));
}

/* # HELP text escapes only backslash and newline. */
static void ts_metrics_put_help(ts_buf *out, const char *help)
{
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            ts_buf_puts(out, "\\\\");
        else if (*p == '\n')
            ts_buf_puts(out, "\\n");
        else
            ts_buf_putc(out, *p);
    }
}

/* name{labels} or name{labels,extra} or name, then a space. */
static void ts_metrics_put_series(ts_buf *out, const char *name, const char *suffix,
                                  const char *labels, const char *extra)
{
    ts_buf_puts(out, name);
    ts_buf_puts(out, suffix);
    if (*labels || extra) {
        ts_buf_putc(out, '{');
        ts_buf_puts(out, labels);
        if (*labels && extra)
            ts_buf_putc(out, ',');
        if (extra)
            ts_buf_puts(out, extra);
        ts_buf_putc(out, '}');
    }
    ts_buf_putc(out, ' ');
}

static void ts_metrics_render_histogram(ts_buf *out, const char *name, const char *labels,
                                        ts_histogram *h)
{
    uint64_t cumulative = 0;
    char le[64], num[40];

    /*
     * The count is the sum of the buckets as read here, so that the +Inf
     * bucket and _count always agree even while observations go on.
     */
    for (size_t i = 0; i <= h->nbounds; i++) {
        cumulative += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        snprintf(le, sizeof(le), "le=\"%s\"",
                 i < h->nbounds ? ts_metrics_fmt_double(num, sizeof(num), h->bounds[i]) : "+Inf");
        ts_metrics_put_series(out, name, "_bucket", labels, le);
        ts_buf_printf(out, "%llu\n", (unsigned long long)cumulative);
    }
    ts_metrics_put_series(out, name, "_sum", labels, NULL);
    ts_metrics_put_double(out,
                          ts_metrics_u2d(atomic_load_explicit(&h->sum_bits, memory_order_relaxed)));
    ts_buf_putc(out, '\n');
    ts_metrics_put_series(out, name, "_count", labels, NULL);
    ts_buf_printf(out, "%llu\n", (unsigned long long)cumulative);
}

ts_err ts_metrics_render(ts_metrics *m, ts_buf *out)
{
    if (!m)
        return ts_buf_status(out);
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->nfamilies; i++) {
        ts_metrics_family *f = m->families[i];

        if (*f->help) {
            ts_buf_printf(out, "# HELP %s ", f->name);
            ts_metrics_put_help(out, f->help);
            ts_buf_putc(out, '\n');
        }
        ts_buf_printf(out, "# TYPE %s %s\n", f->name, f->type);
        if (f->kind == TS_METRICS_COLLECTOR) {
            f->collect(f->opaque, out);
            continue;
        }
        for (size_t j = 0; j < f->nseries; j++) {
            ts_metrics_series *s = f->series[j];

            switch (f->kind) {
            case TS_METRICS_COUNTER:
                ts_metrics_put_series(out, f->name, "", s->labels, NULL);
                ts_buf_printf(out, "%llu\n", (unsigned long long)ts_counter_get(&s->u.counter));
                break;
            case TS_METRICS_GAUGE:
                ts_metrics_put_series(out, f->name, "", s->labels, NULL);
                ts_metrics_put_double(out, ts_gauge_get(&s->u.gauge));
                ts_buf_putc(out, '\n');
                break;
            case TS_METRICS_HISTOGRAM:
                ts_metrics_render_histogram(out, f->name, s->labels, &s->u.histogram);
                break;
            case TS_METRICS_COLLECTOR:
                break;
            }
        }
    }
    pthread_mutex_unlock(&m->lock);
    return ts_buf_status(out);
}

/* Append n bytes at *len if they fit with the terminating NUL. */
static int ts_metrics_labels_put(char *dst, size_t dst_size, size_t *len, const char *p, size_t n)
{
    if (n >= dst_size - *len)
        return -1;
    memcpy(dst + *len, p, n);
    *len += n;
    return 0;
}

char *ts_metrics_labels(char *dst, size_t dst_size, const char *const *pairs)
{
    size_t len = 0, kept = 0;

    if (!dst || !dst_size)
        return dst;
    for (size_t i = 0; pairs && pairs[i] && pairs[i + 1]; i += 2) {
        const char *v = pairs[i + 1];
        int bad = 0;

        if (kept)
            bad |= ts_metrics_labels_put(dst, dst_size, &len, ",", 1);
        bad |= ts_metrics_labels_put(dst, dst_size, &len, pairs[i], strlen(pairs[i]));
        bad |= ts_metrics_labels_put(dst, dst_size, &len, "=\"", 2);
        for (; *v && !bad; v++) {
            if (*v == '\\')
                bad |= ts_metrics_labels_put(dst, dst_size, &len, "\\\\", 2);
            else if (*v == '"')
                bad |= ts_metrics_labels_put(dst, dst_size, &len, "\\\"", 2);
            else if (*v == '\n')
                bad |= ts_metrics_labels_put(dst, dst_size, &len, "\\n", 2);
            else
                bad |= ts_metrics_labels_put(dst, dst_size, &len, v, 1);
        }
        bad |= ts_metrics_labels_put(dst, dst_size, &len, "\"", 1);
        if (bad)
            break;
        kept = len;
    }
    dst[kept] = '\0';
    return dst;
}
