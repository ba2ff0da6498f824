/*
 * Operations on one partition and its task that the loop, the transaction
 * and the assignment all need; they depend on nothing else in processor/.
 */
#include "ts_proc_int.h"
#include "ts_clock.h"
#include "ts_restore.h"
#include "ts_task.h"

void ts_proc_pause(ts_processor *p, const char *topic, int32_t part, int resume)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);

    rd_kafka_topic_partition_list_add(l, topic, part);
    if (resume)
        rd_kafka_resume_partitions(p->consumer, l);
    else
        rd_kafka_pause_partitions(p->consumer, l);
    rd_kafka_topic_partition_list_destroy(l);
}

void ts_proc_reload_slot(ts_processor *p, int32_t part)
{
    p->slots[part].state = TS_SLOT_OFFSETS;
    ts_proc_pause(p, p->repartition_topic, part, 0);
}

void ts_proc_close_slot(ts_processor *p, int32_t part)
{
    ts_slot *s = &p->slots[part];

    ts_restore_remove(p->restore, part);
    ts_task_close(s->task);
    s->task = NULL;
    s->state = TS_SLOT_NONE;
}

/*
 * The repartition topic's records have a queue of their own (p->rq), apart
 * from the consumer's queue of input records and events. librdkafka counts
 * a partition's prefetch against queued.min.messages in the queue its
 * records land in: with one queue for all, a full queue of input records
 * made every partition wait, the repartition topic's included, and (before
 * librdkafka 2.1) nothing looked at them again for a second. With its own
 * queue the repartition topic, which holds little between two commits, is
 * always fetched, and each of its fetches (answered within
 * fetch.wait.max.ms) has the input partitions looked at again.
 */

/* Called by librdkafka when p->rq gets a record while empty: a loop
 * blocked on the consumer's queue returns. */
void ts_proc_rq_ready(rd_kafka_t *rk, void *opaque)
{
    ts_processor *p = opaque;

    (void)rk;
    atomic_store(&p->rq_signal, 1);
    rd_kafka_queue_yield(p->cq);
}

/* Send an assigned repartition partition's records to p->rq (after
 * rd_kafka_assign, which would send them to the consumer's queue). */
void ts_proc_rq_forward(ts_processor *p, int32_t partition)
{
    rd_kafka_queue_t *q =
        rd_kafka_queue_get_partition(p->consumer, p->repartition_topic, partition);

    if (q) {
        rd_kafka_queue_forward(q, p->rq);
        rd_kafka_queue_destroy(q);
    }
}

/* Before rd_kafka_consumer_close, which waits while the application holds
 * a queue of the consumer's. */
void ts_proc_queues_release(ts_processor *p)
{
    if (p->rq) {
        rd_kafka_queue_cb_event_enable(p->rq, NULL, NULL);
        rd_kafka_queue_destroy(p->rq);
        p->rq = NULL;
    }
    if (p->cq) {
        rd_kafka_queue_destroy(p->cq);
        p->cq = NULL;
    }
}

/*
 * librdkafka before 2.1 has no fetch.queue.backoff.ms: a partition found
 * over the prefetch bounds is looked at again only when its broker's
 * connection wakes up, which can take a second when every partition of
 * that broker was over them. When the loop is out of records, a request
 * to a partition's leader (a watermark query, its answer unused) wakes the
 * connection up: for an input partition that has more at the broker, else,
 * once after each commit (which made repartitioned records readable), for
 * every active task's repartition partition. At most every
 * TS_PROC_NUDGE_MS, rotating over the input partitions.
 */
#define TS_PROC_NUDGE_MS 5
/* The request is what wakes the connection, not its answer: waited for
 * only this long, so that a broker that does not answer holds the loop
 * back little. */
#define TS_PROC_NUDGE_WAIT_MS 100

void ts_proc_nudge(ts_processor *p)
{
    int64_t now, low, high;

    if (!p->nudge || rd_kafka_queue_length(p->cq) > 0 || rd_kafka_queue_length(p->rq) > 0)
        return;
    now = ts_mono_ms();
    if (now - p->nudged_ms < TS_PROC_NUDGE_MS)
        return;
    for (int32_t k = 0; k < p->npart; k++) {
        int32_t i = (p->nudge_next + k) % p->npart;
        const ts_source *src = &p->sources[i];

        if (!src->assigned || src->next < 0 ||
            rd_kafka_get_watermark_offsets(p->consumer, p->cfg->input_topic, i, &low, &high) ||
            high <= src->next)
            continue;
        p->nudged_ms = now;
        p->nudge_next = i + 1;
        rd_kafka_query_watermark_offsets(p->consumer, p->cfg->input_topic, i, &low, &high,
                                         TS_PROC_NUDGE_WAIT_MS);
        return;
    }
    if (!p->nudge_committed)
        return;
    p->nudge_committed = 0;
    p->nudged_ms = now;
    for (int32_t i = 0; i < p->npart; i++)
        if (p->slots[i].state == TS_SLOT_ACTIVE)
            rd_kafka_query_watermark_offsets(p->consumer, p->repartition_topic, i, &low, &high,
                                             TS_PROC_NUDGE_WAIT_MS);
}
