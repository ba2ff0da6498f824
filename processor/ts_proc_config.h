/*
 * The processor's configuration: keys named as Kafka Streams names them,
 * one table (ts_proc_config_props) from which parsing, --help and
 * docs/CONFIGURATION.md come.
 *
 * The keys another binary takes over (the drill gives them to the
 * processors it runs) are declared here once, as TS_PROC_KEY_* macros that
 * both tables use: (owner struct, field, flags).
 */
#ifndef TS_PROC_CONFIG_H
#define TS_PROC_CONFIG_H

#include "ts_config.h"
#include "ts_msk_iam.h"

#include <stdint.h>

typedef enum ts_output_format {
    TS_OUTPUT_JSON = 0,
    TS_OUTPUT_LONG = 1,
} ts_output_format;

typedef struct ts_proc_config {
    char *bootstrap_servers;
    char *application_id;
    char *instance_id;
    int static_membership;
    char *state_dir;
    int64_t commit_interval_ms;
    char *input_topic;
    char *output_topic;
    int64_t window_size_ms;
    int64_t window_grace_ms;
    int64_t window_retention_ms;  /* 0: unset, see ts_proc_config_retention */
    int64_t window_close_idle_ms; /* 0: off */
    int64_t num_standby_replicas; /* >= 1: a standby of every task not owned */
    int64_t min_length;
    int64_t min_count;
    int output_format; /* ts_output_format */
    int64_t replication_factor;
    int64_t max_value_bytes;
    char *dlq_topic;
    int64_t transaction_timeout_ms;
    int64_t repartition_purge_interval_ms;
    int64_t shutdown_timeout_ms;
    int64_t startup_timeout_ms;
    int64_t restore_batch_records;
    int64_t rocksdb_block_cache_bytes;
    int64_t rocksdb_write_buffer_bytes;
    char *http_listen;
    int log_level; /* ts_log_level */
    ts_msk_iam_conf iam;
    int metrics_emf;
    int64_t metrics_emf_interval_ms;
    char *metrics_emf_namespace;
} ts_proc_config;

#define TS_PROC_KEY_COMMIT_INTERVAL_MS(owner, field, flags)                                        \
    {                                                                                              \
        "commit.interval.ms", TS_CONF_INT, offsetof(owner, field), "100", 1, 600000, NULL,         \
            "How often the open transaction commits (results, changelog, offsets).", flags         \
    }
#define TS_PROC_KEY_MIN_COUNT(owner, field, flags)                                                 \
    {                                                                                              \
        "min.count", TS_CONF_INT, offsetof(owner, field), "4", 0, INT64_MAX, NULL,                 \
            "Emit a window's count only if it is greater than this.", flags                        \
    }
#define TS_PROC_KEY_NUM_STANDBY_REPLICAS(owner, field, flags)                                      \
    {                                                                                              \
        "num.standby.replicas", TS_CONF_INT, offsetof(owner, field), "0", 0, 32767, NULL,          \
            "Standby replicas: with 1 or more, every instance keeps a warm copy of the store of "  \
            "every task it does not own, tailing its changelog, so that a task that moves to it "  \
            "replays only a short tail (0: none, a moved task restores from the changelog).",      \
            flags                                                                                  \
    }
#define TS_PROC_KEY_STATIC_MEMBERSHIP(owner, field, flags)                                         \
    {                                                                                              \
        "static.membership", TS_CONF_BOOL, offsetof(owner, field), "false", 0, 0, NULL,            \
            "Join the group as a static member (group.instance.id = "                              \
            "application.id-instance.id): a restart with the same instance id within "             \
            "session.timeout.ms gets its partitions back without a rebalance, but a stop does "    \
            "not leave the group. Only for identities that survive a restart (a state "            \
            "directory on a volume, or instance.id set per instance).",                            \
            flags                                                                                  \
    }
#define TS_PROC_KEY_TRANSACTION_TIMEOUT_MS(owner, field, flags)                                    \
    {                                                                                              \
        "transaction.timeout.ms", TS_CONF_INT, offsetof(owner, field), "10000", 1000, 900000,      \
            NULL,                                                                                  \
            "Transaction timeout: how long an instance that disappeared can block read_committed " \
            "readers.",                                                                            \
            flags                                                                                  \
    }

extern const ts_conf_prop ts_proc_config_props[];

/* The retention when window.retention.ms is not set: at least this long. */
#define TS_PROC_RETENTION_DEFAULT_MS 3600000

/* The window retention in effect: window.retention.ms when set, else the
 * longer of 1 hour and window.size.ms + window.grace.ms (as Kafka Streams
 * sizes its window stores), so that a long grace needs no retention key. */
int64_t ts_proc_config_retention(const ts_proc_config *cfg);

/* 1 if id[0..len) may be an instance id, whether configured or read from
 * <state.dir>/<application.id>/instance.id: 1 to 200 printable ASCII
 * characters, no '/' (transactional.id and file names are made of it). */
int ts_proc_instance_id_ok(const char *id, size_t len);
#define TS_PROC_INSTANCE_ID_RULE "1 to 200 printable ASCII characters, without '/' or spaces"

/* Checks that span keys (an explicit retention >= size + grace, ...) and
 * required keys; TS_ERR_INVALID with a message naming the key. */
ts_err ts_proc_config_validate(const ts_proc_config *cfg, char *errstr, size_t errstr_size);

#endif
