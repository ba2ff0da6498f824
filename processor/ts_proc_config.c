#include "ts_proc_config.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define F(field) offsetof(ts_proc_config, field)
#define MAXI     INT64_MAX

const ts_conf_prop ts_proc_config_props[] = {
    TS_CONF_KEY_BOOTSTRAP_SERVERS(ts_proc_config, bootstrap_servers, NULL, TS_CONF_F_REQUIRED),
    {"application.id", TS_CONF_STRING, F(application_id), "tagstream", 0, 0, NULL,
     "Consumer group, prefix of the internal topics and of transactional.id; the instances of "
     "one application share it.",
     0},
    {"instance.id", TS_CONF_STRING, F(instance_id), NULL, 0, 0, NULL,
     "This instance's id (transactional.id = application.id-instance.id). Unset: generated once "
     "and kept in the state directory, so a restarted instance fences its predecessor.",
     0},
    TS_PROC_KEY_STATIC_MEMBERSHIP(ts_proc_config, static_membership, 0),
    {"state.dir", TS_CONF_STRING, F(state_dir), NULL, 0, 0, NULL,
     "Directory of the RocksDB stores: `<state.dir>/<application.id>/<task>/`; created 0700, "
     "refused if another user owns it or others may write to it. Unset: "
     "`$XDG_STATE_HOME/tagstream`, else `/var/lib/tagstream` for root, else "
     "`~/.local/state/tagstream`.",
     0},
    TS_PROC_KEY_COMMIT_INTERVAL_MS(ts_proc_config, commit_interval_ms, 0),
    {"input.topic", TS_CONF_STRING, F(input_topic), "twitter_input", 0, 0, NULL,
     "Topic of hashtags to count (value: one hashtag, UTF-8; key ignored).", 0},
    {"output.topic", TS_CONF_STRING, F(output_topic), "twitter_output", 0, 0, NULL,
     "Topic of the windowed results (key: the hashtag).", 0},
    {"window.size.ms", TS_CONF_INT, F(window_size_ms), "20000", 1, 31536000000LL, NULL,
     "Tumbling window size, windows aligned to the epoch.", 0},
    {"window.grace.ms", TS_CONF_INT, F(window_grace_ms), "0", 0, 31536000000LL, NULL,
     "How long after a window's end records for it are still counted.", 0},
    {"window.retention.ms", TS_CONF_INT, F(window_retention_ms), NULL, 1, 31536000000LL, NULL,
     "How long after its end a window stays in the store (for tagstream-store); at least "
     "window.size.ms + window.grace.ms. Unset: 1 hour, or window.size.ms + window.grace.ms if "
     "that is longer.",
     0},
    {"window.close.idle.ms", TS_CONF_INT, F(window_close_idle_ms), "0", 0, 31536000000LL, NULL,
     "A task that has had no record for this long lets its stream time follow the wall clock, "
     "so that due windows close and emit on a quiet partition (0: off, stream time moves only "
     "with the records, as in Kafka Streams).",
     0},
    {"min.length", TS_CONF_INT, F(min_length), "1", 0, MAXI, NULL,
     "Count a hashtag only if its normalized length (UTF-16 units) is greater than this.", 0},
    TS_PROC_KEY_MIN_COUNT(ts_proc_config, min_count, 0),
    {"output.format", TS_CONF_ENUM, F(output_format), "json", 0, 0, "json|long",
     "Result value: `json` {\"hashtag\",\"count\",\"window_start\",\"window_end\"}, or `long`, "
     "an 8-byte big-endian count (Kafka's LongSerializer).",
     0},
    {"replication.factor", TS_CONF_INT, F(replication_factor), "3", 1, 32767, NULL,
     "Replication factor of the internal topics the processor creates (capped at the number "
     "of brokers).",
     0},
    {"max.value.bytes", TS_CONF_INT, F(max_value_bytes), "4096", 1, 1048576, NULL,
     "Input values longer than this are skipped as bad records.", 0},
    {"errors.deadletterqueue.topic", TS_CONF_STRING, F(dlq_topic), NULL, 0, 0, NULL,
     "Topic for bad input records, written in the same transaction (unset: count and log "
     "only).",
     0},
    TS_PROC_KEY_TRANSACTION_TIMEOUT_MS(ts_proc_config, transaction_timeout_ms, 0),
    {"repartition.purge.interval.ms", TS_CONF_INT, F(repartition_purge_interval_ms), "30000", 0,
     MAXI, NULL, "How often consumed records of the repartition topic are deleted (0: never).", 0},
    {"shutdown.timeout.ms", TS_CONF_INT, F(shutdown_timeout_ms), "15000", 100, 600000, NULL,
     "Bound on a graceful shutdown (final commit, leaving the group).", 0},
    {"startup.timeout.ms", TS_CONF_INT, F(startup_timeout_ms), "30000", 100, 86400000, NULL,
     "How long to retry at start while no broker answers or the brokers refuse the login or "
     "the TLS handshake; then exit 1 naming the cause.",
     0},
    TS_PROC_KEY_NUM_STANDBY_REPLICAS(ts_proc_config, num_standby_replicas, 0),
    {"restore.batch.records", TS_CONF_INT, F(restore_batch_records), "1000000", 1, 10000000, NULL,
     "Most changelog records a restore gathers into one sorted run (a run also ends at its "
     "share of 24 MiB of keys and values); a run of 4096 records or more is bulk-loaded into "
     "RocksDB as one SST file, a shorter one written as a batch.",
     0},
    {"rocksdb.block.cache.bytes", TS_CONF_INT, F(rocksdb_block_cache_bytes), "67108864", 0, MAXI,
     NULL, "Block cache shared by all the stores of the instance.", 0},
    {"rocksdb.write.buffer.bytes", TS_CONF_INT, F(rocksdb_write_buffer_bytes), "4194304", 65536,
     MAXI, NULL, "Memtable size of each store.", 0},
    TS_CONF_KEY_HTTP_LISTEN(ts_proc_config, http_listen, "127.0.0.1:8080"),
    TS_CONF_KEY_LOG_LEVEL(ts_proc_config, log_level, "info"),
    TS_CONF_KEY_MSK_IAM(ts_proc_config, iam),
    TS_CONF_KEY_METRICS_EMF(ts_proc_config, metrics_emf),
    TS_CONF_KEY_METRICS_EMF_INTERVAL_MS(ts_proc_config, metrics_emf_interval_ms),
    TS_CONF_KEY_METRICS_EMF_NAMESPACE(ts_proc_config, metrics_emf_namespace),
    {NULL},
};

int ts_proc_instance_id_ok(const char *id, size_t len)
{
    if (len == 0 || len > 200)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)id[i] <= 0x20 || (unsigned char)id[i] >= 0x7f || id[i] == '/')
            return 0;
    return 1;
}

ts_err ts_proc_config_validate(const ts_proc_config *c, char *errstr, size_t errstr_size)
{
    if (!c->bootstrap_servers || !*c->bootstrap_servers)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "bootstrap.servers: required (e.g. --bootstrap.servers host:9092)");
    if (!c->application_id || !*c->application_id || strpbrk(c->application_id, "/ "))
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "application.id: must be non-empty, without '/' or spaces");
    if (c->instance_id && !ts_proc_instance_id_ok(c->instance_id, strlen(c->instance_id)))
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "instance.id: must be " TS_PROC_INSTANCE_ID_RULE);
    if (c->window_retention_ms && c->window_retention_ms < c->window_size_ms + c->window_grace_ms)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "window.retention.ms: %lld is less than window.size.ms + "
                         "window.grace.ms (%lld)",
                         (long long)c->window_retention_ms,
                         (long long)(c->window_size_ms + c->window_grace_ms));
    if (!*c->input_topic || !*c->output_topic)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "input.topic and output.topic must be set");
    if (!strcmp(c->input_topic, c->output_topic))
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "output.topic: must differ from input.topic");
    return TS_OK;
}

int64_t ts_proc_config_retention(const ts_proc_config *c)
{
    int64_t least = c->window_size_ms + c->window_grace_ms; /* both <= one year: no overflow */

    if (c->window_retention_ms)
        return c->window_retention_ms;
    return least > TS_PROC_RETENTION_DEFAULT_MS ? least : TS_PROC_RETENTION_DEFAULT_MS;
}
