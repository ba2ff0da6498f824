/*
 * Standby replicas (internal to processor/, implemented in
 * ts_proc_standby.c): with num.standby.replicas >= 1, warm copies of the
 * stores of the tasks this instance does not own, kept by tailing their
 * changelog partitions, so that a task assigned here replays only the
 * short tail since the last catch-up. docs/DESIGN.md, "Standby replicas".
 *
 * A standby never writes to Kafka (its restorer is a plain read_committed
 * consumer outside the group) and never counts for readiness. Its failures
 * are logged and retried; they never stop the processor.
 *
 * Thread: the loop's (including the rebalance callback).
 */
#ifndef TS_PROC_STANDBY_INT_H
#define TS_PROC_STANDBY_INT_H

#include "ts_err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ts_processor ts_processor;
typedef struct ts_proc_standby ts_proc_standby;

/* Create p->standby when num.standby.replicas >= 1 (else leave it NULL).
 * Nothing is opened until the first step. */
ts_err ts_proc_standby_new(ts_processor *p, char *errstr, size_t errstr_size);
/* Close the standby stores and the restorer; NULL p->standby ok. */
void ts_proc_standby_destroy(ts_processor *p);

/* Give task part's store up (it was assigned here): stop tailing, close
 * it, so the task can open it and replay only what the standby missed.
 * Nothing if there is no standby of it. */
void ts_proc_standby_release(ts_processor *p, int32_t part);

/*
 * Keep the standbys: open a store for each task that is not ours (checked
 * as a restore checks it, wiped if it cannot be used), start a catch-up to
 * the changelog's last stable offset once a second, run the catch-ups for
 * up to budget_ms and record the offset each one reached in its store.
 */
void ts_proc_standby_step(ts_processor *p, int budget_ms);

#endif
