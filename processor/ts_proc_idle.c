/*
 * Stream time of quiet tasks (window.close.idle.ms). Stream time is event
 * time: it moves only when a record brings a later timestamp, so the last
 * windows of a burst stay open until the partition hears from the stream
 * again. With the key set, a task that has consumed nothing for that long
 * takes as its stream time the one it had when it last moved plus the wall
 * time since (the monotonic clock: no step when the system clock is set),
 * whenever that reaches the next window to close or expire.
 *
 * Exactly-once: the advance is a change of the task's state like a
 * record's. It happens inside the open transaction; the results it emits,
 * the changelog records and the new stream time (in the offset metadata,
 * then in the store) commit together or not at all (ts_proc_txn.c). After
 * a crash before the commit, the task starts again from the stream time
 * that committed and closes the same windows again, once; after the
 * commit, the windows are closed for good and a record for them is late.
 */
#include "ts_proc_idle_int.h"
#include "ts_proc_int.h"
#include "ts_proc_metrics_int.h"
#include "ts_proc_txn_int.h"
#include "ts_clock.h"
#include "ts_log.h"
#include "ts_task.h"
#include "ts_window.h"

#include <inttypes.h>

/* Advance task part to stream time st (past its next due window). */
static ts_err ts_proc_idle_advance(ts_processor *p, int32_t part, int64_t st, int64_t quiet_ms,
                                   char *errstr, size_t errstr_size)
{
    ts_slot *s = &p->slots[part];
    ts_task_stats before = *ts_task_get_stats(s->task);
    int64_t from = ts_task_stream_time(s->task);
    ts_log_ev *ev;
    ts_err err;

    err = ts_proc_txn_begin(p, errstr, errstr_size);
    if (err)
        return err;
    err = ts_task_advance(s->task, st, errstr, errstr_size);
    ts_proc_task_stats(p, &before, s->task);
    if (err)
        return err;
    ts_counter_add(p->m.idle_advances, 1);
    ev = ts_log_begin(TS_LOG_DEBUG, "processor", "task %s: stream time follows the wall clock",
                      ts_task_id(s->task));
    ts_log_int(ev, "quiet_ms", quiet_ms);
    ts_log_int(ev, "from_stream_time", from);
    ts_log_int(ev, "stream_time", st);
    ts_log_int(ev, "windows_closed",
               (int64_t)(ts_task_get_stats(s->task)->windows_closed - before.windows_closed));
    ts_log_end(ev);
    return TS_OK;
}

ts_err ts_proc_idle_step(ts_processor *p, char *errstr, size_t errstr_size)
{
    int64_t idle = p->cfg->window_close_idle_ms, now;

    if (idle <= 0)
        return TS_OK;
    now = ts_mono_ms();
    for (int32_t i = 0; i < p->npart; i++) {
        ts_slot *s = &p->slots[i];
        int64_t off, quiet, st;
        ts_err err;
        if (s->state != TS_SLOT_ACTIVE || !s->task) {
            s->idle_offset = TS_PROC_IDLE_UNSEEN;
            continue;
        }
        off = ts_task_next_offset(s->task);
        if (off != s->idle_offset) {
            /* a record (or an abort, or a new assignment): quiet from now */
            s->idle_offset = off;
            s->idle_since_ms = now;
            s->idle_st = ts_task_stream_time(s->task);
            continue;
        }
        quiet = now - s->idle_since_ms;
        if (off < 0 || s->idle_st == INT64_MIN || quiet < idle)
            continue;
        st = ts_time_add(s->idle_st, quiet);
        if (st < ts_task_next_due(s->task) || st <= ts_task_stream_time(s->task))
            continue;
        err = ts_proc_idle_advance(p, i, st, quiet, errstr, errstr_size);
        if (err)
            return err;
    }
    return TS_OK;
}
