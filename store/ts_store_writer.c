#include "ts_store_writer.h"

#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t ts_writer_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ts_writer_work = PTHREAD_COND_INITIALIZER; /* a job was queued */
static pthread_cond_t ts_writer_done = PTHREAD_COND_INITIALIZER; /* a job was written */
static ts_store_write_job *ts_writer_head, *ts_writer_tail;
static int ts_writer_running;

static void *ts_writer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&ts_writer_mu);
    for (;;) {
        ts_store_write_job *job;
        char why[sizeof(job->errstr)] = "";
        ts_err err;

        while (!ts_writer_head)
            pthread_cond_wait(&ts_writer_work, &ts_writer_mu);
        job = ts_writer_head;
        ts_writer_head = job->next;
        if (!ts_writer_head)
            ts_writer_tail = NULL;
        pthread_mutex_unlock(&ts_writer_mu);
        err = job->fn(job->arg, why, sizeof(why));
        pthread_mutex_lock(&ts_writer_mu);
        job->err = err;
        snprintf(job->errstr, sizeof(job->errstr), "%s", why);
        job->pending = 0;
        pthread_cond_broadcast(&ts_writer_done);
    }
    return NULL;
}

static int ts_writer_queue(ts_store_write_job *job)
{
    pthread_mutex_lock(&ts_writer_mu);
    if (!ts_writer_running) {
        pthread_t th;
        if (pthread_create(&th, NULL, ts_writer_main, NULL)) {
            pthread_mutex_unlock(&ts_writer_mu);
            return 0;
        }
        pthread_detach(th);
        ts_writer_running = 1;
    }
    job->pending = job->started = 1;
    job->err = TS_OK;
    job->errstr[0] = '\0';
    job->next = NULL;
    if (ts_writer_tail)
        ts_writer_tail->next = job;
    else
        ts_writer_head = job;
    ts_writer_tail = job;
    pthread_cond_signal(&ts_writer_work);
    pthread_mutex_unlock(&ts_writer_mu);
    return 1;
}

int ts_store_work_start(ts_store_write_job *job,
                        ts_err (*fn)(void *arg, char *errstr, size_t errstr_size), void *arg)
{
    job->fn = fn;
    job->arg = arg;
    return ts_writer_queue(job);
}

/* A batch write is work like any other: the job carries its store and
 * batch. */
static ts_err ts_writer_write_batch(void *arg, char *errstr, size_t errstr_size)
{
    ts_store_write_job *job = arg;

    return ts_store_write(job->store, job->batch, 0, errstr, errstr_size);
}

int ts_store_write_start(ts_store_write_job *job, ts_store *s, ts_store_batch *b)
{
    job->store = s;
    job->batch = b;
    return ts_store_work_start(job, ts_writer_write_batch, job);
}

ts_err ts_store_write_wait(ts_store_write_job *job, char *errstr, size_t errstr_size)
{
    ts_err err;

    if (!job->started)
        return TS_OK;
    pthread_mutex_lock(&ts_writer_mu);
    while (job->pending)
        pthread_cond_wait(&ts_writer_done, &ts_writer_mu);
    pthread_mutex_unlock(&ts_writer_mu);
    job->started = 0;
    err = job->err;
    if (err)
        ts_seterr(err, errstr, errstr_size, "%s", job->errstr);
    return err;
}
