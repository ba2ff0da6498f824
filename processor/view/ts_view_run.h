/*
 * ts_view_run: the two sides of tagstream-view around a ts_view.
 *
 * The consumer reads every partition of the output topic with
 * isolation.level=read_committed and no consumer group (it commits
 * nothing, and every view sees every instance's results), from the start
 * or the end (view.from), picks up partitions added later, and feeds each
 * record to the view. Results of a transaction that aborts are never
 * delivered to it, so they never show.
 *
 * The routes serve the page (/, /view.css, /view.js, embedded in the
 * binary), the view as JSON (/api/windows) and as Server-Sent Events
 * (/events: the whole JSON document again at every change).
 *
 * Thread: the consumer runs on the caller's thread; the heartbeat and
 * assignment getters may be called from the HTTP thread.
 */
#ifndef TS_VIEW_RUN_H
#define TS_VIEW_RUN_H

#include "ts_config.h"
#include "ts_http.h"
#include "ts_metrics.h"
#include "ts_view.h"
#include "ts_view_config.h"

#include <signal.h>

typedef struct ts_view_consumer ts_view_consumer;

/* A consumer for cfg (kafka.* keys of conf go to librdkafka). NULL with a
 * message for a bad Kafka setting. view and metrics are borrowed. */
ts_view_consumer *ts_view_consumer_new(const ts_view_config *cfg, const ts_conf *conf,
                                       ts_view *view, ts_metrics *metrics, char *errstr,
                                       size_t errstr_size);
/* NULL ok. */
void ts_view_consumer_destroy(ts_view_consumer *c);

/*
 * Consume until *stop; waits for the topic if it does not exist yet.
 * Calls ts_http_stream_notify(http) (http may be NULL) after each change and every
 * few seconds. Returns TS_OK when stopped.
 */
ts_err ts_view_consumer_run(ts_view_consumer *c, ts_http *http, volatile sig_atomic_t *stop,
                            char *errstr, size_t errstr_size);

/* Monotonic ms of the last loop turn; 1 once partitions are assigned. */
int64_t ts_view_consumer_heartbeat_ms(ts_view_consumer *c);
int ts_view_consumer_assigned(ts_view_consumer *c);

/* Fill `routes` with the page, /api/windows and /events of `view` for
 * ts_http_start_routes (the array ends with path == NULL; it must outlive
 * the server). */
#define TS_VIEW_ROUTES 7
void ts_view_routes(ts_view *view, ts_http_route routes[TS_VIEW_ROUTES]);

#endif
