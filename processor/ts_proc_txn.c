/*
 * The exactly-once protocol (KIP-447): the transactional producer's life,
 * the transaction that every record of the loop is written in, its commit,
 * its abort, and recovery from a producer that failed fatally.
 *
 * The commit order (ts_proc_commit), every commit.interval.ms:
 *   1. each task flushes its write cache: one changelog record per changed
 *      key, into the open transaction (results and repartition records are
 *      in it already);
 *   2. send_offsets_to_transaction: the next input and repartition offsets,
 *      the latter with the task's stream time in their metadata, and the
 *      consumer's group metadata. It runs on a thread of its own while the
 *      loop does step 1 (the offsets are known before the flush, and the
 *      call is two round trips to the coordinators that the flush's
 *      produce calls need not wait for); both end before step 3;
 *   3. commit_transaction;
 *   4. only then each task hands its changed keys, with the changelog
 *      offset (from the delivery reports), input offset and stream time
 *      they reflect, to the store writer thread (ts_task_committed); the
 *      loop goes on while RocksDB is written.
 *
 * Invariants:
 *   - a store is never ahead of Kafka: nothing reaches RocksDB before the
 *     transaction holding its changelog records has committed, and a store
 *     that misses a commit is restored again from the changelog;
 *   - at most one transaction is open (txn_open); it begins with the first
 *     record of an interval (ts_proc_txn_begin) and ends in a commit, an
 *     abort, or the replacement of the producer;
 *   - an abort puts every task back to its committed state and seeks every
 *     partition back to its committed offset (to where the assignment began
 *     for partitions without a commit), so what follows is read again;
 *   - TS_ERR_FENCED means the producer is of no further use: the loop calls
 *     ts_proc_recover, which replaces it and rejoins the group.
 *
 * Thread: the loop's (the delivery reports come from rd_kafka_poll on it),
 * and for the length of one flush a thread sending the offsets
 * (ts_proc_offsets_job), which touches nothing but its job.
 */
#include "ts_proc_txn_int.h"
#include "ts_proc_int.h"
#include "ts_proc_metrics_int.h"
#include "ts_clock.h"
#include "ts_kafka.h"
#include "ts_log.h"
#include "ts_task.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS_TXN_TIMEOUT_MS 30000 /* bound on one transactional API call */
#define TS_TXN_RETRIES    5     /* retries of a call that timed out, then abort */

#define TS_RECOVER_MAX       5      /* producer replacements allowed ... */
#define TS_RECOVER_WINDOW_MS 600000 /* ... within this long */

/* ---- the transactional producer ---- */

/* Produce one record into the open transaction; on failure errstr says
 * which topic and why. */
/*
 * The producer's handle of one of the topics written for every record
 * (repartition, changelog, output), made once per producer: producing by
 * name looks the topic up under the client's lock every time. NULL for
 * other topics (the dead-letter topic), which go by name.
 */
static rd_kafka_topic_t *ts_proc_rkt(ts_processor *p, const char *topic)
{
    const char *const known[TS_PROC_RKT__COUNT] = {p->repartition_topic, p->changelog_topic,
                                                   p->cfg ? p->cfg->output_topic : NULL};

    for (int i = 0; i < TS_PROC_RKT__COUNT; i++)
        if (known[i] && topic == known[i]) {
            if (!p->rkt[i])
                p->rkt[i] = rd_kafka_topic_new(p->producer, topic, NULL);
            return p->rkt[i];
        }
    return NULL;
}

ts_err ts_proc_produce(ts_processor *p, const char *topic, int32_t partition, const void *key,
                       size_t klen, const void *val, size_t vlen, int64_t ts, void *opaque,
                       rd_kafka_headers_t *hdrs, char *errstr, size_t errstr_size)
{
    /* librdkafka takes the headers only when producev succeeds: one copy
     * serves every QUEUE_FULL retry and is ours to free if none succeeds */
    rd_kafka_headers_t *own = hdrs ? rd_kafka_headers_copy(hdrs) : NULL;
    rd_kafka_topic_t *rkt = ts_proc_rkt(p, topic);
    rd_kafka_resp_err_t err;

    for (int tries = 0;; tries++) {
        if (rkt && !own)
            err =
                rd_kafka_producev(p->producer, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                                  RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE((void *)val, vlen),
                                  RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_OPAQUE(opaque),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        else if (own)
            err = rd_kafka_producev(p->producer, RD_KAFKA_V_TOPIC(topic),
                                    RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_KEY(key, klen),
                                    RD_KAFKA_V_VALUE((void *)val, vlen), RD_KAFKA_V_TIMESTAMP(ts),
                                    RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_HEADERS(own),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        else
            err = rd_kafka_producev(p->producer, RD_KAFKA_V_TOPIC(topic),
                                    RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_KEY(key, klen),
                                    RD_KAFKA_V_VALUE((void *)val, vlen), RD_KAFKA_V_TIMESTAMP(ts),
                                    RD_KAFKA_V_OPAQUE(opaque),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries >= 1000)
            break;
        rd_kafka_poll(p->producer, 10); /* let deliveries drain the queue */
    }
    if (err && own)
        rd_kafka_headers_destroy(own);
    if (err)
        return ts_seterr(TS_ERR_KAFKA, errstr, errstr_size, "cannot produce to %s: %s", topic,
                         rd_kafka_err2str(err));
    return TS_OK;
}

void ts_proc_denied(ts_processor *p, rd_kafka_resp_err_t code, const char *what)
{
    ts_kafka_note_error(code, what);
    if (p->denied)
        return; /* the first refusal is the one to name */
    ts_kafka_problem(p->denied_msg, sizeof(p->denied_msg));
    p->denied = TS_ERR_DENIED;
}

ts_err ts_proc_denied_error(const ts_processor *p, char *errstr, size_t errstr_size)
{
    if (!p->denied)
        return TS_OK;
    return ts_seterr(TS_ERR_DENIED, errstr, errstr_size, "%s", p->denied_msg);
}

static void ts_proc_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    ts_processor *p = opaque;
    intptr_t tag = (intptr_t)m->_private;

    (void)rk;
    if (m->err) {
        /* The transaction is now abortable; the commit will say so. */
        ts_log_ev *ev =
            ts_log_begin(TS_LOG_WARN, "processor", "delivery failed: %s", rd_kafka_err2str(m->err));
        ts_log_cstr(ev, "topic", rd_kafka_topic_name(m->rkt));
        ts_log_int(ev, "partition", m->partition);
        ts_log_end(ev);
        if (ts_kafka_err_is_denied(m->err)) {
            char what[300];
            snprintf(what, sizeof(what), "topic %s", rd_kafka_topic_name(m->rkt));
            ts_proc_denied(p, m->err, what);
        }
        return;
    }
    if (tag > 0 && tag - 1 < p->npart) {
        ts_slot *s = &p->slots[tag - 1];
        if (m->offset > s->changelog_hi)
            s->changelog_hi = m->offset;
    }
}

static const char *const ts_proc_producer_defaults[] = {"enable.idempotence",
                                                        "true",
                                                        "acks",
                                                        "all",
                                                        "partitioner",
                                                        "murmur2_random",
                                                        "linger.ms",
                                                        "5",
                                                        "compression.type",
                                                        "lz4",
                                                        "statistics.interval.ms",
                                                        "15000",
                                                        NULL};

/*
 * The transactional producer (also the admin client), with its transactions
 * initialized: that fences any earlier incarnation of this instance and
 * aborts its open transaction.
 */
ts_err ts_proc_producer_new(ts_processor *p, char *errstr, size_t errstr_size)
{
    char num[32], msg[512];
    const char *forced[] = {
        "transactional.id", p->txn_id, "transaction.timeout.ms", num, "client.id", p->txn_id, NULL};
    rd_kafka_conf_t *pc;
    rd_kafka_error_t *e;
    ts_err err;

    snprintf(num, sizeof(num), "%" PRId64, p->cfg->transaction_timeout_ms);
    pc = ts_kafka_conf_new(p->conf, p->cfg->bootstrap_servers, ts_proc_producer_defaults, forced,
                           errstr, errstr_size);
    if (!pc)
        return TS_ERR_INVALID;
    rd_kafka_conf_set_dr_msg_cb(pc, ts_proc_dr_cb);
    rd_kafka_conf_set_stats_cb(pc, ts_proc_stats_cb);
    rd_kafka_conf_set_opaque(pc, p);
    p->producer = ts_kafka_new(RD_KAFKA_PRODUCER, pc, msg, sizeof(msg));
    if (!p->producer) {
        rd_kafka_conf_destroy(pc);
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "cannot create the producer: %s",
                         msg);
    }
    p->admin_q = rd_kafka_queue_new(p->producer);
    /* At start (no consumer yet), a refused login ends the run after
     * startup.timeout.ms with its cause; a producer replaced while running
     * keeps init_transactions' own longer bound. */
    if (!p->consumer) {
        err = ts_kafka_wait_connected(p->producer, (int)p->cfg->startup_timeout_ms,
                                      "startup.timeout.ms", errstr, errstr_size);
        if (err)
            return err;
    }
    e = rd_kafka_init_transactions(p->producer, 60000);
    if (e) {
        rd_kafka_resp_err_t code = rd_kafka_error_code(e);
        if (ts_kafka_err_is_denied(code)) {
            ts_kafka_note_error(code, rd_kafka_error_string(e));
            ts_kafka_problem(msg, sizeof(msg));
            err = ts_seterr(TS_ERR_DENIED, errstr, errstr_size,
                            "cannot initialize transactions (transactional.id %s): %s", p->txn_id,
                            msg);
        } else {
            err = ts_seterr(TS_ERR_KAFKA, errstr, errstr_size, "cannot initialize transactions: %s",
                            rd_kafka_error_string(e));
        }
        rd_kafka_error_destroy(e);
        return err;
    }
    return TS_OK;
}

void ts_proc_producer_destroy(ts_processor *p)
{
    for (int i = 0; i < TS_PROC_RKT__COUNT; i++) {
        if (p->rkt[i])
            rd_kafka_topic_destroy(p->rkt[i]);
        p->rkt[i] = NULL;
    }
    if (p->admin_q)
        rd_kafka_queue_destroy(p->admin_q);
    p->admin_q = NULL;
    if (p->producer) {
        /* whatever is still queued belongs to a transaction that is gone */
        rd_kafka_purge(p->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_destroy(p->producer);
    }
    p->producer = NULL;
}

/* ---- the consumer's subscription ---- */

ts_err ts_proc_subscribe(ts_processor *p, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(2);
    rd_kafka_resp_err_t kerr;

    rd_kafka_topic_partition_list_add(sub, p->cfg->input_topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_topic_partition_list_add(sub, p->repartition_topic, RD_KAFKA_PARTITION_UA);
    kerr = rd_kafka_subscribe(p->consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (kerr)
        return ts_seterr(TS_ERR_KAFKA, errstr, errstr_size, "cannot subscribe: %s",
                         rd_kafka_err2str(kerr));
    return TS_OK;
}


/* ---- transactions ---- */

void ts_proc_commit_schedule(ts_processor *p)
{
    p->next_commit_ms = ts_mono_ms() + p->cfg->commit_interval_ms;
}

ts_err ts_proc_txn_begin(ts_processor *p, char *errstr, size_t errstr_size)
{
    rd_kafka_error_t *e;

    if (p->txn_open)
        return TS_OK;
    e = rd_kafka_begin_transaction(p->producer);
    if (e) {
        /* Only a producer in a fatal state refuses to begin: replace it. */
        ts_seterr(TS_ERR_FENCED, errstr, errstr_size, "cannot begin a transaction: %s",
                  rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return TS_ERR_FENCED;
    }
    p->txn_open = 1;
    for (int32_t i = 0; i < p->npart; i++)
        p->slots[i].changelog_hi = -1;
    return TS_OK;
}

/* Seek every partition we process back to its committed offset. */
static void ts_proc_rewind(ts_processor *p)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(2 * p->npart);
    rd_kafka_error_t *e;

    for (int32_t i = 0; i < p->npart; i++) {
        ts_source *src = &p->sources[i];
        ts_slot *s = &p->slots[i];
        if (src->assigned && src->next >= 0 && src->committed >= 0) {
            rd_kafka_topic_partition_list_add(l, p->cfg->input_topic, i)->offset = src->committed;
            src->next = -1;
        }
        if (s->state == TS_SLOT_ACTIVE && ts_task_committed_offset(s->task) >= 0)
            rd_kafka_topic_partition_list_add(l, p->repartition_topic, i)->offset =
                ts_task_committed_offset(s->task);
    }
    if (l->cnt > 0) {
        e = rd_kafka_seek_partitions(p->consumer, l, 10000);
        if (e) {
            ts_logf(TS_LOG_ERROR, "processor", "cannot rewind to the committed offsets: %s",
                    rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
        for (int i = 0; i < l->cnt; i++)
            if (l->elems[i].err)
                ts_logf(TS_LOG_ERROR, "processor", "cannot rewind %s [%d]: %s", l->elems[i].topic,
                        (int)l->elems[i].partition, rd_kafka_err2str(l->elems[i].err));
    }
    rd_kafka_topic_partition_list_destroy(l);
}

ts_err ts_proc_abort(ts_processor *p, const char *why, char *errstr, size_t errstr_size)
{
    rd_kafka_error_t *e = NULL;
    char msg[512];

    if (!p->txn_open)
        return TS_OK;
    ts_logf(TS_LOG_WARN, "processor", "aborting the transaction: %s", why);
    for (int tries = 0; tries < TS_TXN_RETRIES; tries++) {
        e = rd_kafka_abort_transaction(p->producer, TS_TXN_TIMEOUT_MS);
        if (!e || !rd_kafka_error_is_retriable(e) || (p->stop && *p->stop))
            break;
        rd_kafka_error_destroy(e);
        e = NULL;
    }
    p->txn_open = 0;
    for (int32_t i = 0; i < p->npart; i++) {
        ts_slot *s = &p->slots[i];
        if (s->state == TS_SLOT_ACTIVE && ts_task_abort(s->task, msg, sizeof(msg)) != TS_OK) {
            ts_logf(TS_LOG_ERROR, "processor", "task %s: %s", ts_task_id(s->task), msg);
            ts_proc_reload_slot(p, i);
        }
    }
    ts_counter_add(p->m.txn_aborted, 1);
    if (e) {
        /* A producer that cannot abort (fenced, or its transaction already
         * aborted by the coordinator after transaction.timeout.ms) is of no
         * further use: the loop replaces it. */
        ts_seterr(TS_ERR_FENCED, errstr, errstr_size, "cannot abort the transaction: %s",
                  rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return TS_ERR_FENCED;
    }
    ts_proc_rewind(p);
    return TS_OK;
}

/* A transactional call failed: a fatal error means the producer must be
 * replaced (TS_ERR_FENCED, handled by the loop), anything else aborts. */
static ts_err ts_proc_txn_failed(ts_processor *p, rd_kafka_error_t *e, const char *what,
                                 char *errstr, size_t errstr_size)
{
    char why[512];
    int fatal = rd_kafka_error_is_fatal(e);
    rd_kafka_resp_err_t code = rd_kafka_error_code(e);

    snprintf(why, sizeof(why), "%s failed: %s", what, rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    if (ts_kafka_err_is_denied(code)) {
        /* an ACL is missing: aborting and retrying would loop for ever */
        if (!fatal)
            ts_proc_abort(p, why, errstr, errstr_size);
        p->txn_open = 0;
        ts_proc_denied(p, code, why);
        return ts_proc_denied_error(p, errstr, errstr_size);
    }
    if (fatal) {
        ts_seterr(TS_ERR_FENCED, errstr, errstr_size, "%s", why);
        p->txn_open = 0;
        return TS_ERR_FENCED;
    }
    return ts_proc_abort(p, why, errstr, errstr_size);
}

static void ts_proc_add_offsets(ts_processor *p, rd_kafka_topic_partition_list_t *l)
{
    char meta[64];

    for (int32_t i = 0; i < p->npart; i++) {
        ts_source *src = &p->sources[i];
        ts_slot *s = &p->slots[i];
        if (src->assigned && src->next >= 0 && src->next != src->committed)
            rd_kafka_topic_partition_list_add(l, p->cfg->input_topic, i)->offset = src->next;
        if (s->state == TS_SLOT_ACTIVE && ts_task_dirty(s->task)) {
            rd_kafka_topic_partition_t *tp =
                rd_kafka_topic_partition_list_add(l, p->repartition_topic, i);
            size_t n = ts_task_meta_format(meta, sizeof(meta), ts_task_stream_time(s->task));
            tp->offset = ts_task_next_offset(s->task);
            tp->metadata = malloc(n);
            if (tp->metadata) {
                memcpy(tp->metadata, meta, n);
                tp->metadata_size = n;
            }
        }
    }
}

/* send_offsets_to_transaction, with its retries, on a thread of its own
 * (ts_proc_commit): the job holds all it reads and writes. */
typedef struct ts_proc_offsets_job {
    rd_kafka_t *producer;
    rd_kafka_topic_partition_list_t *offsets;
    rd_kafka_consumer_group_metadata_t *gm;
    rd_kafka_error_t *e; /* the outcome: NULL on success */
} ts_proc_offsets_job;

static void *ts_proc_send_offsets(void *arg)
{
    ts_proc_offsets_job *job = arg;

    for (int tries = 0; tries < TS_TXN_RETRIES; tries++) {
        job->e = rd_kafka_send_offsets_to_transaction(job->producer, job->offsets, job->gm,
                                                      TS_TXN_TIMEOUT_MS);
        if (!job->e || !rd_kafka_error_is_retriable(job->e))
            break;
        rd_kafka_error_destroy(job->e);
        job->e = NULL;
    }
    return NULL;
}

/* Steps 1 and 2 of the commit, side by side: *flush_err (with why in msg)
 * if a task could not flush, the offsets' outcome in the return value. */
static rd_kafka_error_t *ts_proc_flush_and_send_offsets(ts_processor *p, ts_err *flush_err,
                                                        char *msg, size_t msg_size)
{
    ts_proc_offsets_job job = {.producer = p->producer};
    pthread_t th;
    int threaded = 0;

    *flush_err = TS_OK;
    job.offsets = rd_kafka_topic_partition_list_new(2 * p->npart);
    ts_proc_add_offsets(p, job.offsets);
    if (job.offsets->cnt > 0) {
        job.gm = rd_kafka_consumer_group_metadata(p->consumer);
        threaded = pthread_create(&th, NULL, ts_proc_send_offsets, &job) == 0;
    }
    for (int32_t i = 0; i < p->npart && !*flush_err; i++) {
        ts_slot *s = &p->slots[i];
        if (s->state == TS_SLOT_ACTIVE && ts_task_dirty(s->task))
            *flush_err = ts_task_flush(s->task, msg, msg_size);
    }
    if (threaded)
        pthread_join(th, NULL);
    else if (job.offsets->cnt > 0 && !*flush_err) /* no thread to be had: in turn */
        ts_proc_send_offsets(&job);
    if (job.gm)
        rd_kafka_consumer_group_metadata_destroy(job.gm);
    rd_kafka_topic_partition_list_destroy(job.offsets);
    return job.e;
}

ts_err ts_proc_commit(ts_processor *p, char *errstr, size_t errstr_size)
{
    rd_kafka_error_t *e = NULL;
    int64_t t0 = ts_mono_ms();
    char msg[512];
    ts_err err;

    ts_proc_commit_schedule(p);
    if (!p->txn_open)
        return TS_OK;
    e = ts_proc_flush_and_send_offsets(p, &err, msg, sizeof(msg));
    if (err) {
        if (e)
            rd_kafka_error_destroy(e);
        return ts_proc_abort(p, msg, errstr, errstr_size);
    }
    if (e)
        return ts_proc_txn_failed(p, e, "sending offsets to the transaction", errstr, errstr_size);
    for (int tries = 0; tries < TS_TXN_RETRIES; tries++) {
        e = rd_kafka_commit_transaction(p->producer, TS_TXN_TIMEOUT_MS);
        if (!e || !rd_kafka_error_is_retriable(e) || rd_kafka_error_txn_requires_abort(e))
            break;
        rd_kafka_error_destroy(e);
        e = NULL;
    }
    if (e)
        return ts_proc_txn_failed(p, e, "committing the transaction", errstr, errstr_size);
    p->txn_open = 0;
    p->nudge_committed = 1;
    rd_kafka_poll(p->producer, 0); /* delivery reports: the changelog offsets */
    ts_counter_add(p->m.txn_committed, 1);
    for (int32_t i = 0; i < p->npart; i++) {
        ts_source *src = &p->sources[i];
        ts_slot *s = &p->slots[i];
        if (src->assigned && src->next >= 0)
            src->committed = src->next;
        if (s->state != TS_SLOT_ACTIVE || !ts_task_dirty(s->task))
            continue;
        err = ts_task_committed(s->task, s->changelog_hi >= 0 ? s->changelog_hi + 1 : -1, msg,
                                sizeof(msg));
        if (err) {
            /* Kafka has it all; the store missed it: restore the tail. */
            ts_logf(TS_LOG_ERROR, "processor", "task %s: %s; restoring it from the changelog",
                    ts_task_id(s->task), msg);
            ts_proc_reload_slot(p, i);
        }
    }
    ts_histogram_observe(p->m.commit_latency, (double)(ts_mono_ms() - t0) / 1000.0);
    /* The interval runs from the end of a commit: a commit slower than the
     * interval must not leave the next one due at once, which would commit
     * after every single record. */
    ts_proc_commit_schedule(p);
    return TS_OK;
}

/*
 * The producer failed fatally: fenced (its epoch was bumped, for example
 * when the coordinator aborted a transaction that outlived
 * transaction.timeout.ms while this instance was frozen or cut off from a
 * broker), or a transaction it can no longer end. Nothing of the open
 * transaction can commit. Start over from what Kafka has committed: forget
 * the uncommitted state of the tasks (their stores are never ahead of
 * Kafka), leave the group, replace the producer (whose initialization
 * aborts whatever this transactional.id left open), and join again, so
 * that every task is checked against the changelog and every partition
 * resumes from its committed offset.
 */
ts_err ts_proc_recover(ts_processor *p, const char *cause, char *errstr, size_t errstr_size)
{
    int64_t now = ts_mono_ms();
    char msg[512];
    ts_log_ev *ev;
    ts_err err;

    if (now - p->recover_since_ms > TS_RECOVER_WINDOW_MS) {
        p->recover_since_ms = now;
        p->recoveries = 0;
    }
    if (++p->recoveries > TS_RECOVER_MAX)
        return ts_seterr(TS_ERR_FENCED, errstr, errstr_size,
                         "%s (the producer failed %d times within %d minutes: giving up)", cause,
                         TS_RECOVER_MAX, TS_RECOVER_WINDOW_MS / 60000);
    ev = ts_log_begin(TS_LOG_WARN, "processor",
                      "replacing the producer and rejoining the group: %s", cause);
    ts_log_int(ev, "replacements_recently", p->recoveries);
    ts_log_end(ev);
    ts_counter_add(p->m.producer_restarts, 1);
    p->txn_open = 0;
    p->rebalance_err = TS_OK; /* whatever it was, this replaces the producer */
    for (int32_t i = 0; i < p->npart; i++)
        if (p->slots[i].state == TS_SLOT_ACTIVE &&
            ts_task_abort(p->slots[i].task, msg, sizeof(msg)))
            ts_logf(TS_LOG_WARN, "processor", "task %s: %s", ts_task_id(p->slots[i].task), msg);
    /* Leave: the revoke callback finds no transaction to commit and
     * suspends the tasks. Messages still queued are dropped: they are read
     * again from the committed offsets. */
    rd_kafka_unsubscribe(p->consumer);
    for (int i = 0; i < 100; i++) {
        rd_kafka_topic_partition_list_t *asg = NULL;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(p->consumer, 100);
        int empty;
        if (m)
            rd_kafka_message_destroy(m);
        if (rd_kafka_assignment(p->consumer, &asg))
            break;
        empty = asg->cnt == 0;
        rd_kafka_topic_partition_list_destroy(asg);
        if (empty)
            break;
    }
    ts_proc_producer_destroy(p);
    err = ts_proc_producer_new(p, errstr, errstr_size);
    if (err)
        return err;
    ts_proc_commit_schedule(p);
    return ts_proc_subscribe(p, errstr, errstr_size);
}
