/*
 * ts_store_writer: store writes done on the process's one writer thread,
 * so that a caller hands a batch over and goes on (the processor's commit:
 * ts_task_committed).
 *
 * A job is the caller's (embedded in what owns the batch). Between
 * ts_store_write_start and ts_store_write_wait the caller must not touch
 * the batch, nor close the store; jobs are written one at a time, in the
 * order they were started. The thread is started on the first job and
 * lives as long as the process.
 *
 * Thread: any; one job is started and waited for by one thread.
 */
#ifndef TS_STORE_WRITER_H
#define TS_STORE_WRITER_H

#include "ts_err.h"
#include "ts_store.h"

typedef struct ts_store_write_job {
    /* all private */
    ts_err (*fn)(void *arg, char *errstr, size_t errstr_size); /* the work */
    void *arg;
    ts_store *store; /* ts_store_write_start's */
    ts_store_batch *batch;
    int pending; /* started and not written yet */
    int started; /* started and not waited for yet */
    ts_err err;
    char errstr[256];
    struct ts_store_write_job *next;
} ts_store_write_job;

/* Write b into s on the writer thread. 0 when no thread can be had:
 * nothing was started and the caller writes the batch itself. */
int ts_store_write_start(ts_store_write_job *job, ts_store *s, ts_store_batch *b);

/* Run fn(arg) on the writer thread instead (a write of the caller's own,
 * such as a restore's sorted run); the same rules as for a batch. */
int ts_store_work_start(ts_store_write_job *job,
                        ts_err (*fn)(void *arg, char *errstr, size_t errstr_size), void *arg);

/* Wait until the job's batch is written; its outcome (errstr says why it
 * failed). TS_OK at once for a job not started or already waited for. */
ts_err ts_store_write_wait(ts_store_write_job *job, char *errstr, size_t errstr_size);

#endif
