/*
 * Operations on one partition's task that the loop, the transaction and the
 * assignment all need; they depend on nothing else in processor/.
 */
#include "ts_proc_int.h"
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
