/*
 * Windows that close on a quiet stream (internal to processor/, implemented
 * in ts_proc_idle.c): with window.close.idle.ms set, a task that has
 * consumed no record for that long lets its stream time follow the wall
 * clock, so that its due windows close and their results are emitted.
 * docs/DESIGN.md, "Closing windows on a quiet stream".
 *
 * Thread: the loop's.
 */
#ifndef TS_PROC_IDLE_INT_H
#define TS_PROC_IDLE_INT_H

#include "ts_err.h"

#include <stddef.h>

typedef struct ts_processor ts_processor;

/*
 * Look at every active task: note the ones that moved, and advance those
 * that have been quiet for window.close.idle.ms to their last stream time
 * plus the time since, when that closes or expires a window. The advance is
 * made in the open transaction (begun if none is), so it commits with the
 * task's offset and stream time or not at all. Nothing when the key is 0.
 * Errors: TS_ERR_FENCED from beginning the transaction, a task's error
 * (the transaction must then be aborted); errstr says which.
 */
ts_err ts_proc_idle_step(ts_processor *p, char *errstr, size_t errstr_size);

#endif
