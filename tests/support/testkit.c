#include "testkit.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void tk_cluster_line(const char *name, char *out, size_t size)
{
    const char *dir = getenv("TAGSTREAM_KAFKA_DIR");
    char path[1024];
    FILE *fp;

    cr_assert_not_null(dir, "set TAGSTREAM_KAFKA_DIR (or TAGSTREAM_TEST_BOOTSTRAP)");
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "r");
    cr_assert_not_null(fp, "no %s (a running test cluster with that listener?)", path);
    cr_assert_not_null(fgets(out, (int)size, fp));
    fclose(fp);
    out[strcspn(out, "\r\n")] = '\0';
}

const char *tk_bootstrap(void)
{
    static char bs[1024];
    const char *env = getenv("TAGSTREAM_TEST_BOOTSTRAP");

    if (bs[0])
        return bs;
    if (env && *env) {
        snprintf(bs, sizeof(bs), "%s", env);
        return bs;
    }
    tk_cluster_line("bootstrap", bs, sizeof(bs));
    return bs;
}

int64_t tk_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tk_write_post(FILE *fp, const char *id, int64_t ts_ms, const char *tag)
{
    time_t sec = (time_t)(ts_ms / 1000);
    struct tm tm;
    char when[64];

    gmtime_r(&sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(fp,
            "{\"data\":{\"id\":\"%s\",\"created_at\":\"%s.%03dZ\",\"text\":\"x\","
            "\"entities\":{\"hashtags\":[{\"tag\":\"%s\"}]}}}\n",
            id, when, (int)(ts_ms % 1000), tag);
}

static int tk_str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void tk_sort_strings(char **v, size_t n)
{
    qsort(v, n, sizeof(char *), tk_str_cmp);
}

size_t tk_result_lines(const tk_records *r, char **out)
{
    for (size_t i = 0; i < r->n; i++) {
        char buf[256];
        const char *v = r->v[i].value, *c, *w;
        cr_assert_not_null(v);
        c = strstr(v, "\"count\":");
        w = strstr(v, "\"window_start\":");
        cr_assert(c && w, "not a result: %s", v);
        snprintf(buf, sizeof(buf), "%.*s@%lld=%lld", (int)r->v[i].key_len, r->v[i].key,
                 strtoll(w + 15, NULL, 10), strtoll(c + 8, NULL, 10));
        out[i] = strdup(buf);
        cr_assert_not_null(out[i]);
    }
    return r->n;
}

char *tk_unique(const char *prefix)
{
    static int n;
    char *s;

    cr_assert_neq(asprintf(&s, "%s-%d-%lld-%d", prefix, (int)getpid(), (long long)tk_now_ms(), n++),
                  -1);
    return s;
}

static rd_kafka_conf_t *tk_conf(const char *const *extra)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char err[512];

    cr_assert_eq(rd_kafka_conf_set(c, "bootstrap.servers", tk_bootstrap(), err, sizeof(err)),
                 RD_KAFKA_CONF_OK, "%s", err);
    for (size_t i = 0; extra && extra[i]; i += 2)
        cr_assert_eq(rd_kafka_conf_set(c, extra[i], extra[i + 1], err, sizeof(err)),
                     RD_KAFKA_CONF_OK, "%s", err);
    return c;
}

static void tk_admin_wait(rd_kafka_t *rk, rd_kafka_queue_t *q, const char *what, int create)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    const rd_kafka_topic_result_t **res;
    size_t n = 0;

    cr_assert_not_null(ev, "%s timed out", what);
    cr_assert_eq(rd_kafka_event_error(ev), 0, "%s: %s", what, rd_kafka_event_error_string(ev));
    if (create)
        res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    else
        res = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(rd_kafka_topic_result_error(res[i]), 0, "%s %s: %s", what,
                     rd_kafka_topic_result_name(res[i]),
                     rd_kafka_topic_result_error_string(res[i]));
    rd_kafka_event_destroy(ev);
    (void)rk;
}

void tk_create_topic(const char *topic, int partitions, int replication, const char *const *config)
{
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, tk_conf(NULL), err, sizeof(err));
    rd_kafka_queue_t *q;
    rd_kafka_NewTopic_t *nt;

    cr_assert_not_null(rk, "%s", err);
    q = rd_kafka_queue_new(rk);
    nt = rd_kafka_NewTopic_new(topic, partitions, replication, err, sizeof(err));
    cr_assert_not_null(nt, "%s", err);
    for (size_t i = 0; config && config[i]; i += 2)
        cr_assert_eq(rd_kafka_NewTopic_set_config(nt, config[i], config[i + 1]), 0);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    tk_admin_wait(rk, q, "create topic", 1);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}

void tk_add_partitions(const char *topic, int total)
{
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, tk_conf(NULL), err, sizeof(err));
    rd_kafka_queue_t *q;
    rd_kafka_NewPartitions_t *np;

    cr_assert_not_null(rk, "%s", err);
    q = rd_kafka_queue_new(rk);
    np = rd_kafka_NewPartitions_new(topic, (size_t)total, err, sizeof(err));
    cr_assert_not_null(np, "%s", err);
    rd_kafka_CreatePartitions(rk, &np, 1, NULL, q);
    {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
        const rd_kafka_topic_result_t **res;
        size_t n;
        cr_assert_not_null(ev, "create partitions: no answer within 30 s");
        cr_assert_eq(rd_kafka_event_error(ev), 0, "create partitions: %s",
                     rd_kafka_event_error_string(ev));
        res =
            rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev), &n);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(rd_kafka_topic_result_error(res[i]), 0, "create partitions %s: %s",
                         rd_kafka_topic_result_name(res[i]),
                         rd_kafka_topic_result_error_string(res[i]));
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_NewPartitions_destroy(np);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}

void tk_delete_topic(const char *topic)
{
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, tk_conf(NULL), err, sizeof(err));
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(topic);

    rd_kafka_DeleteTopics(rk, &dt, 1, NULL, q);
    tk_admin_wait(rk, q, "delete topic", 0);
    rd_kafka_DeleteTopic_destroy(dt);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}

rd_kafka_t *tk_producer(const char *txid, const char *const *extra_conf)
{
    char err[512];
    rd_kafka_conf_t *c = tk_conf(extra_conf);
    rd_kafka_t *rk;

    if (txid)
        cr_assert_eq(rd_kafka_conf_set(c, "transactional.id", txid, err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    else
        cr_assert_eq(rd_kafka_conf_set(c, "enable.idempotence", "true", err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    cr_assert_not_null(rk, "%s", err);
    return rk;
}

void tk_produce(rd_kafka_t *p, const char *topic, int32_t partition, const char *key,
                const char *value, int64_t timestamp)
{
    rd_kafka_resp_err_t err = rd_kafka_producev(
        p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
        RD_KAFKA_V_VALUE((void *)value, value ? strlen(value) : 0), RD_KAFKA_V_TIMESTAMP(timestamp),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    cr_assert_eq(err, 0, "produce: %s", rd_kafka_err2str(err));
    cr_assert_eq(rd_kafka_flush(p, 30000), 0, "flush timed out");
}

static char *tk_dup(const void *p, size_t n)
{
    char *s;

    if (!p)
        return NULL;
    s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

tk_records tk_consume_all(const char *topic, int uncommitted, size_t expect, int idle_ms)
{
    const char *conf[] = {
        "group.id", "tk-reader",       "enable.auto.commit",
        "false",    "isolation.level", uncommitted ? "read_uncommitted" : "read_committed",
        NULL};
    char err[512];
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, tk_conf(conf), err, sizeof(err));
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(8);
    tk_records r = {NULL, 0};
    size_t cap = 0;
    int64_t last = tk_now_ms();

    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(rd_kafka_metadata(c, 1, NULL, &md, 10000), 0);
    for (int i = 0; i < md->topic_cnt; i++)
        if (!strcmp(md->topics[i].topic, topic))
            for (int p = 0; p < md->topics[i].partition_cnt; p++)
                rd_kafka_topic_partition_list_add(parts, topic, p)->offset =
                    RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_metadata_destroy(md);
    cr_assert_gt(parts->cnt, 0, "topic %s not found", topic);
    cr_assert_eq(rd_kafka_assign(c, parts), 0);
    while (tk_now_ms() - last < idle_ms && (expect == 0 || r.n < expect)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (!m)
            continue;
        if (m->err) {
            cr_assert(m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF, "consume: %s",
                      rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        if (r.n == cap) {
            cap = cap ? cap * 2 : 256;
            r.v = realloc(r.v, cap * sizeof(*r.v));
        }
        r.v[r.n].key = tk_dup(m->key, m->key_len);
        r.v[r.n].key_len = m->key_len;
        r.v[r.n].value = tk_dup(m->payload, m->len);
        r.v[r.n].value_len = m->len;
        r.v[r.n].partition = m->partition;
        r.v[r.n].offset = m->offset;
        r.v[r.n].timestamp = rd_kafka_message_timestamp(m, NULL);
        {
            rd_kafka_headers_t *h = NULL;
            r.v[r.n].headers = rd_kafka_message_headers(m, &h) ? NULL : rd_kafka_headers_copy(h);
        }
        r.n++;
        last = tk_now_ms();
        rd_kafka_message_destroy(m);
    }
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return r;
}

void tk_records_free(tk_records *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].key);
        free(r->v[i].value);
        if (r->v[i].headers)
            rd_kafka_headers_destroy(r->v[i].headers);
    }
    free(r->v);
    r->v = NULL;
    r->n = 0;
}

const char *tk_header(const tk_record *rec, const char *name, char *buf, size_t size)
{
    const void *v = NULL;
    size_t n = 0;

    buf[0] = '\0';
    if (rec->headers && !rd_kafka_header_get_last(rec->headers, name, &v, &n) && v)
        snprintf(buf, size, "%.*s", (int)n, (const char *)v);
    return buf;
}

rd_kafka_t *tk_group_consumer(const char *group, const char *topic)
{
    const char *conf[] = {"group.id",
                          group,
                          "enable.auto.commit",
                          "false",
                          "isolation.level",
                          "read_committed",
                          "auto.offset.reset",
                          "earliest",
                          NULL};
    char err[512];
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, tk_conf(conf), err, sizeof(err));
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1), *asg = NULL;
    int64_t deadline = tk_now_ms() + 30000;

    cr_assert_not_null(c, "%s", err);
    rd_kafka_poll_set_consumer(c);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    cr_assert_eq(rd_kafka_subscribe(c, sub), 0);
    rd_kafka_topic_partition_list_destroy(sub);
    while (tk_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (m)
            rd_kafka_message_destroy(m);
        cr_assert_eq(rd_kafka_assignment(c, &asg), 0);
        int got = asg->cnt > 0;
        rd_kafka_topic_partition_list_destroy(asg);
        if (got)
            return c;
    }
    cr_assert_fail("no assignment within 30 s");
    return NULL;
}

int64_t tk_committed(const char *group, const char *topic, int32_t partition)
{
    const char *conf[] = {"group.id",       group, "enable.auto.commit", "false", "isolation.level",
                          "read_committed", NULL};
    char err[512];
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, tk_conf(conf), err, sizeof(err));
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    int64_t off;

    rd_kafka_topic_partition_list_add(l, topic, partition);
    cr_assert_eq(rd_kafka_committed(c, l, 30000), 0);
    off = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(c);
    return off;
}

void tk_send(rd_kafka_t *p, const char *topic, int32_t partition, const void *key, size_t klen,
             const void *value, size_t vlen, int64_t timestamp)
{
    rd_kafka_resp_err_t err;

    for (;;) {
        err = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE((void *)value, vlen),
                                RD_KAFKA_V_TIMESTAMP(timestamp),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        rd_kafka_poll(p, 10);
    }
    cr_assert_eq(err, 0, "produce: %s", rd_kafka_err2str(err));
}

void tk_flush(rd_kafka_t *p)
{
    cr_assert_eq(rd_kafka_flush(p, 60000), 0, "flush timed out");
}

void tk_topic_config(const char *topic, const char *key_value)
{
    const char *top = getenv("TAGSTREAM_SOURCE_DIR");
    char cmd[2048];

    cr_assert_not_null(top, "TAGSTREAM_SOURCE_DIR is not set");
    snprintf(cmd, sizeof(cmd),
             "'%s/infra/local/kafka' tool kafka-configs --bootstrap-server '%s' --alter "
             "--entity-type topics --entity-name '%s' --add-config '%s' >/dev/null 2>&1",
             top, tk_bootstrap(), topic, key_value);
    cr_assert_eq(system(cmd), 0, "kafka-configs %s %s failed", topic, key_value);
}

int tk_wait_consumed(const char *group, const char *topic, int partitions, int transactional,
                     int timeout_ms)
{
    const char *conf[] = {"group.id",       group, "enable.auto.commit", "false", "isolation.level",
                          "read_committed", NULL};
    char err[512];
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, tk_conf(conf), err, sizeof(err));
    int64_t deadline = tk_now_ms() + timeout_ms;
    int done = 0;

    cr_assert_not_null(c, "%s", err);
    while (!done && tk_now_ms() < deadline) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(partitions);
        done = 1;
        for (int p = 0; p < partitions; p++)
            rd_kafka_topic_partition_list_add(l, topic, p);
        if (rd_kafka_committed(c, l, 10000) != 0)
            done = 0;
        for (int p = 0; done && p < partitions; p++) {
            int64_t lo, hi;
            if (rd_kafka_query_watermark_offsets(c, topic, p, &lo, &hi, 10000) != 0 ||
                l->elems[p].offset < hi - (transactional ? 1 : 0))
                done = 0;
        }
        rd_kafka_topic_partition_list_destroy(l);
        if (!done)
            usleep(200000);
    }
    rd_kafka_destroy(c);
    return done;
}
