/*
 * ts_metrics: counters, gauges and histograms rendered in the Prometheus text
 * exposition format (version 0.0.4) for the /metrics endpoint.
 *
 * A metric is registered once (name, help, optional label set) and updated
 * from any thread without locks: counters and gauges are atomics, histogram
 * buckets too. Registering the same name with different label sets makes one
 * family with several series; the same name and labels returns the existing
 * metric. Names must already carry the "tagstream_" prefix.
 *
 * Values that are only known at scrape time (consumer lag per partition,
 * librdkafka statistics) come from collectors: callbacks run under the
 * registry's lock while rendering, which append complete exposition lines.
 *
 * Ownership: the registry owns every metric; handles stay valid until
 * ts_metrics_destroy. Every update function accepts NULL and does nothing, so
 * code can run without a registry (tools, tests).
 * Thread: register and render from any thread (a mutex serializes them);
 * update from any thread.
 */
#ifndef TS_METRICS_H
#define TS_METRICS_H

#include "ts_buf.h"
#include "ts_err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ts_metrics ts_metrics;
typedef struct ts_counter ts_counter;
typedef struct ts_gauge ts_gauge;
typedef struct ts_histogram ts_histogram;

ts_metrics *ts_metrics_new(void);
void ts_metrics_destroy(ts_metrics *m);

/*
 * `labels` is NULL or a rendered label list without braces, e.g.
 * `reason="null_value",topic="twitter_input"` (build it with
 * ts_metrics_labels). Returns NULL only when m is NULL, when out of memory or
 * when the name is already registered with another type (or by a collector).
 */
ts_counter *ts_metrics_counter(ts_metrics *m, const char *name, const char *help,
                               const char *labels);
ts_gauge *ts_metrics_gauge(ts_metrics *m, const char *name, const char *help, const char *labels);
/*
 * bounds: ascending upper bounds of the buckets (+Inf is implicit; they are
 * copied sorted, without duplicates and non-finite values). Registering the
 * same name and labels again returns the first histogram, bounds included.
 */
ts_histogram *ts_metrics_histogram(ts_metrics *m, const char *name, const char *help,
                                   const char *labels, const double *bounds, size_t nbounds);

void ts_counter_add(ts_counter *c, uint64_t n);
uint64_t ts_counter_get(const ts_counter *c);
void ts_gauge_set(ts_gauge *g, double v);
void ts_gauge_add(ts_gauge *g, double delta);
double ts_gauge_get(const ts_gauge *g);
void ts_histogram_observe(ts_histogram *h, double v);

/*
 * A collector appends lines for `name` (a family of type "gauge" or
 * "counter") at render time, e.g. `tagstream_consumer_lag{partition="0"} 12\n`.
 * The registry writes the # HELP and # TYPE lines. The callback must not call
 * back into the registry. Returns TS_ERR_INVALID for another type or a NULL
 * m or cb, TS_ERR_EXISTS when the name is taken, TS_ERR_NOMEM.
 */
typedef void(ts_metrics_collect_cb)(void *opaque, ts_buf *out);
ts_err ts_metrics_add_collector(ts_metrics *m, const char *name, const char *help, const char *type,
                                ts_metrics_collect_cb *cb, void *opaque);

/* Render every family in the exposition format into out (appended), in
 * registration order. Returns TS_ERR_NOMEM when out has failed. */
ts_err ts_metrics_render(ts_metrics *m, ts_buf *out);

/*
 * A number as Prometheus readers (Go's ParseFloat) read it back: the
 * shortest of %.15g..%.17g that reads back as the same double, and +Inf,
 * -Inf, NaN. Returns s (or a constant for the non-finite ones); s needs 40
 * bytes.
 */
const char *ts_metrics_fmt_double(char *s, size_t size, double v);

/*
 * Render label pairs into dst (dst_size bytes, always terminated), escaping
 * values as the format requires (\\ \" \n): pairs is a NULL-terminated list
 * of name, value. A pair that does not fit is left out whole, with every
 * pair after it, so dst always holds a valid list. Returns dst.
 */
char *ts_metrics_labels(char *dst, size_t dst_size, const char *const *pairs);

#endif
