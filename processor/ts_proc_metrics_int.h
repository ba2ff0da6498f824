/*
 * The processor's /metrics series (internal to processor/). Thread: the
 * loop's, except ts_proc_lag_collect (the HTTP thread) and ts_proc_stats_cb
 * (librdkafka's).
 */
#ifndef TS_PROC_METRICS_INT_H
#define TS_PROC_METRICS_INT_H

#include "ts_buf.h"
#include "ts_task.h"

#include <librdkafka/rdkafka.h>

typedef struct ts_processor ts_processor;

/* Register the series (nothing without a registry). */
void ts_proc_metrics_init(ts_processor *p);
/* The /metrics collector of the per-partition consumer lag. */
void ts_proc_lag_collect(void *opaque, ts_buf *out);
/* librdkafka's statistics callback of both clients (opaque: the processor). */
int ts_proc_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque);
/* Refresh the gauges and the lag (at most once a second). */
void ts_proc_gauges(ts_processor *p);
/* Fold a task's counters into the registry: the change since *before. */
void ts_proc_task_stats(ts_processor *p, ts_task_stats *before, ts_task *t);

#endif
