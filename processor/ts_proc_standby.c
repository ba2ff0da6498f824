/*
 * Standby replicas. Which tasks: with num.standby.replicas >= 1, every task
 * this instance does not own (librdkafka has no custom assignor with which
 * the group could share them out; see docs/DESIGN.md for the choice and
 * its cost). How: a second restorer (recovery/ts_restore.c, its own
 * group-less read_committed consumer) replays each standby's changelog
 * partition from the offset its store records up to the last stable
 * offset, once a second, in the same format and with the same checks as a
 * restore; at the end of each catch-up the store is flushed, then its
 * metadata records the changelog offset reached. The metadata's input
 * offset stays unknown (-1) and its stream time unset: the committed
 * offset's metadata gives both when the task is assigned.
 *
 * Promotion needs nothing of its own: when the task is assigned here the
 * standby lets go of the store (ts_proc_standby_release, from the
 * rebalance callback), and the ordinary restore finds a valid store whose
 * changelog offset is recent, so it replays only the tail.
 *
 * The store is never ahead of Kafka: it holds only committed changelog
 * records, flushed before the offset that claims them is written.
 */
#include "ts_proc_standby_int.h"
#include "ts_proc_int.h"
#include "ts_clock.h"
#include "ts_fs.h"
#include "ts_log.h"
#include "ts_restore.h"
#include "ts_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS_STANDBY_INTERVAL_MS 1000 /* catch-ups start at most this often */
#define TS_STANDBY_RETRY_MS    5000 /* after a failure */

typedef struct ts_standby_task {
    ts_store *store; /* open while standing by */
    int catching_up; /* in the restorer */
    int64_t offset;  /* changelog offset the store reflects */
    int64_t next_ms; /* monotonic: no new catch-up before */
} ts_standby_task;

struct ts_proc_standby {
    ts_restore *restore;
    ts_standby_task *tasks; /* [npart] */
    ts_store_batch *batch;
};

ts_err ts_proc_standby_new(ts_processor *p, char *errstr, size_t errstr_size)
{
    ts_proc_standby *sb;
    ts_err err;

    p->standby = NULL;
    if (p->cfg->num_standby_replicas <= 0)
        return TS_OK;
    sb = calloc(1, sizeof(*sb));
    if (!sb)
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    sb->tasks = calloc((size_t)p->npart, sizeof(*sb->tasks));
    sb->batch = ts_store_batch_new();
    if (!sb->tasks || !sb->batch) {
        err = ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
        goto fail;
    }
    err = ts_restore_new(p->conf, p->cfg->bootstrap_servers, p->changelog_topic,
                         (int)p->cfg->restore_batch_records, &sb->restore, errstr, errstr_size);
    if (err)
        goto fail;
    ts_restore_set_bad_counter(sb->restore, p->m.restore_bad);
    p->standby = sb;
    return TS_OK;
fail:
    ts_store_batch_destroy(sb->batch);
    free(sb->tasks);
    free(sb);
    return err;
}

void ts_proc_standby_release(ts_processor *p, int32_t part)
{
    ts_proc_standby *sb = p->standby;
    ts_standby_task *t;

    if (!sb || part < 0 || part >= p->npart || !sb->tasks[part].store)
        return;
    t = &sb->tasks[part];
    ts_restore_remove(sb->restore, part);
    ts_store_close(t->store);
    memset(t, 0, sizeof(*t));
    ts_gauge_add(p->m.tasks_standby, -1);
}

void ts_proc_standby_destroy(ts_processor *p)
{
    ts_proc_standby *sb = p->standby;

    if (!sb)
        return;
    for (int32_t i = 0; i < p->npart; i++)
        ts_proc_standby_release(p, i);
    ts_restore_destroy(sb->restore);
    ts_store_batch_destroy(sb->batch);
    free(sb->tasks);
    free(sb);
    p->standby = NULL;
}

static void ts_proc_standby_warn(int32_t part, const char *what, const char *why)
{
    ts_log_ev *ev = ts_log_begin(TS_LOG_WARN, "processor", "standby of task 1_%d: %s: %s",
                                 (int)part, what, why);
    ts_log_end(ev);
}

/* Open task part's store for standing by: as a restore would, keep it if
 * its metadata is ours and within the changelog [low, end], else wipe it
 * and start from low. */
static ts_err ts_proc_standby_open(ts_processor *p, int32_t part, int64_t low, int64_t end,
                                   char *errstr, size_t errstr_size)
{
    ts_standby_task *t = &p->standby->tasks[part];
    char dir[4200], id[32];
    ts_store_meta m;
    const char *why = NULL;
    ts_err err;

    snprintf(dir, sizeof(dir), "%s/1_%d", p->app_dir, (int)part);
    snprintf(id, sizeof(id), "1_%d", (int)part);
    err = ts_store_open(dir, TS_STORE_READ_WRITE, NULL, &p->store_opts, &t->store, errstr,
                        errstr_size);
    if (err)
        return err;
    err = ts_store_read_meta(t->store, &m, errstr, errstr_size);
    if (err)
        why = "its metadata does not decode";
    else if (m.format_version == 0)
        why = ts_store_estimate_keys(t->store) > 0 ? "it has no metadata" : NULL;
    else if (m.format_version != TS_STORE_FORMAT_VERSION)
        why = "it has another format version";
    else if (strcmp(m.application_id, p->cfg->application_id) || strcmp(m.task_id, id))
        why = "it belongs to another application or task";
    else if (m.changelog_offset < low || m.changelog_offset > end)
        why = "its changelog offset is outside the changelog";
    if (why) {
        ts_proc_standby_warn(part, "discarding the local store", why);
        ts_store_close(t->store);
        t->store = NULL;
        err = ts_store_wipe(dir, errstr, errstr_size);
        if (err)
            return err;
        err = ts_store_open(dir, TS_STORE_READ_WRITE, NULL, &p->store_opts, &t->store, errstr,
                            errstr_size);
        if (err)
            return err;
        m.format_version = 0;
    }
    t->offset = m.format_version == 0 ? low : m.changelog_offset;
    ts_gauge_add(p->m.tasks_standby, 1);
    return TS_OK;
}

/* Start a catch-up of task part if the changelog moved on. */
static void ts_proc_standby_check(ts_processor *p, int32_t part, int64_t now)
{
    ts_standby_task *t = &p->standby->tasks[part];
    int64_t low, end;
    char msg[512];
    ts_err err;

    t->next_ms = now + TS_STANDBY_INTERVAL_MS;
    err = ts_restore_watermarks(p->standby->restore, part, 5000, &low, &end, msg, sizeof(msg));
    if (!err && !t->store)
        err = ts_proc_standby_open(p, part, low, end, msg, sizeof(msg));
    else if (!err && t->offset < low) {
        /* the log start went past it: what it missed may be gone, and the
         * open finds its offset outside the changelog and wipes it */
        ts_proc_standby_release(p, part);
        err = ts_proc_standby_open(p, part, low, end, msg, sizeof(msg));
    }
    if (!err && t->offset < end) {
        err = ts_restore_add(p->standby->restore, part, t->store, t->offset, end, msg, sizeof(msg));
        t->catching_up = !err;
    }
    if (err) {
        ts_proc_standby_warn(part, "cannot catch up", msg);
        ts_proc_standby_release(p, part);
        t->next_ms = now + TS_STANDBY_RETRY_MS;
    }
}

/* A catch-up ended: record the offset it reached in the store. */
static void ts_proc_standby_done(ts_processor *p, const ts_restore_done *d)
{
    ts_standby_task *t = &p->standby->tasks[d->partition];
    ts_store_meta m;
    char msg[512];

    t->catching_up = 0;
    if (!t->store)
        return;
    ts_store_meta_init(&m);
    m.format_version = TS_STORE_FORMAT_VERSION;
    snprintf(m.application_id, sizeof(m.application_id), "%s", p->cfg->application_id);
    snprintf(m.task_id, sizeof(m.task_id), "1_%d", (int)d->partition);
    m.changelog_offset = d->next_offset;
    m.input_offset = -1;
    m.stream_time = INT64_MIN;
    ts_store_batch_clear(p->standby->batch);
    ts_store_batch_meta(p->standby->batch, &m);
    if (ts_store_write(t->store, p->standby->batch, 0, msg, sizeof(msg))) {
        ts_proc_standby_warn(d->partition, "cannot record its offset", msg);
        ts_proc_standby_release(p, d->partition);
        return;
    }
    t->offset = d->next_offset;
    ts_counter_add(p->m.standby_records, d->records);
}

void ts_proc_standby_step(ts_processor *p, int budget_ms)
{
    ts_proc_standby *sb = p->standby;
    ts_restore_done done[16];
    size_t n = 0;
    int32_t failed = -1;
    int64_t now = ts_mono_ms();
    char msg[512];

    /* Until the first assignment, every task may turn out to be ours. */
    if (!sb || !p->assigned_once)
        return;
    for (int32_t i = 0; i < p->npart; i++) {
        ts_standby_task *t = &sb->tasks[i];
        if (p->slots[i].state != TS_SLOT_NONE || p->slots[i].task) {
            ts_proc_standby_release(p, i); /* ours (the callback released it already) */
            continue;
        }
        if (!t->catching_up && now >= t->next_ms)
            ts_proc_standby_check(p, i, now);
    }
    if (ts_restore_active(sb->restore) == 0)
        return;
    if (ts_restore_step(sb->restore, budget_ms, done, 16, &n, &failed, msg, sizeof(msg))) {
        ts_proc_standby_warn(failed, "catching up failed", msg);
        if (failed >= 0 && failed < p->npart) {
            ts_proc_standby_release(p, failed);
            sb->tasks[failed].next_ms = now + TS_STANDBY_RETRY_MS;
        }
    }
    for (size_t i = 0; i < n; i++)
        ts_proc_standby_done(p, &done[i]);
}
