/*
 * ts_emf: the metrics registry as CloudWatch Embedded Metric Format (EMF) log
 * lines, so that on Fargate the awslogs driver turns them into CloudWatch
 * metrics without a scraper or a sidecar.
 *
 * Each emission renders the registry once in the Prometheus text format (the
 * body /metrics serves) and converts that text, so both carry the same names
 * and meanings:
 *
 *   - one EMF line per distinct label set; its dimensions are "application"
 *     plus the series' own labels (task, partition, reason, ...), all of
 *     bounded cardinality by construction of the registry;
 *   - a gauge is sent as its value;
 *   - a counter is sent as its increase since the previous emission (unit
 *     Count), so CloudWatch's Sum over a period is the number of events in
 *     it; the increases sent add up to the counter /metrics shows. A counter
 *     that went down (a client restarted) is sent whole;
 *   - a histogram is sent as its _sum and _count increases (the buckets are
 *     left out: CloudWatch's average is _sum / _count);
 *   - non-finite values are left out (JSON has no NaN).
 *
 * Every line also carries "time", "level" and "component":"emf" like the
 * other log lines, and at most 100 metrics (the EMF limit; a larger label set
 * is split over several lines).
 *
 * Ownership: ts_emf_new copies its strings; ts_emf_destroy accepts NULL.
 * Thread: one ts_emf is used by one thread at a time; ts_emf_start runs the
 * periodic emission on a thread of its own.
 */
#ifndef TS_EMF_H
#define TS_EMF_H

#include "ts_buf.h"
#include "ts_err.h"
#include "ts_metrics.h"

#include <stdint.h>

typedef struct ts_emf ts_emf;

/* application: the "application" dimension's value (the application.id or,
 * for the producer, its client id); namespace: the CloudWatch namespace. */
ts_emf *ts_emf_new(const char *namespace_, const char *application);
void ts_emf_destroy(ts_emf *e);

/*
 * Convert one Prometheus text exposition (`text`, `len` bytes) taken at
 * `now_ms` (Unix epoch milliseconds) into EMF lines appended to `out`, and
 * remember the counters for the next call's increases. Lines of the text
 * that are not samples or # TYPE comments are ignored; a sample line that
 * cannot be read is skipped. Returns TS_ERR_NOMEM when out has failed.
 */
ts_err ts_emf_convert(ts_emf *e, const char *text, size_t len, int64_t now_ms, ts_buf *out);

/*
 * Render `m` and write its EMF lines to the log output (ts_log's file
 * descriptor, one write per line) now. Returns the first error.
 */
ts_err ts_emf_emit(ts_emf *e, ts_metrics *m);

/*
 * Emit every interval_ms on a thread of its own until ts_emf_stop, which
 * emits a last time (so the increases of a stopping instance are not lost)
 * and joins the thread. The ts_emf and the registry must outlive the thread.
 * Returns TS_ERR_INVALID for a NULL argument or interval_ms < 1000,
 * TS_ERR_NOMEM or TS_ERR_IO (thread creation) with a message.
 */
ts_err ts_emf_start(ts_emf *e, ts_metrics *m, int interval_ms, char *errstr, size_t errstr_size);
void ts_emf_stop(ts_emf *e);

#endif
