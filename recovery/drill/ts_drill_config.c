#include "ts_drill.h"
#include "ts_proc_config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define F(field) offsetof(ts_drill_config, field)
#define MAXI     INT64_MAX

static const char *const ts_drill_fault_names[TS_DRILL__NFAULTS] = {
    "none", "kill9", "sigterm", "zombie", "broker", "scale", "stateloss", "replace"};

const char *ts_drill_fault_name(ts_drill_fault f)
{
    return f >= 0 && f < TS_DRILL__NFAULTS ? ts_drill_fault_names[f] : "?";
}

const ts_conf_prop ts_drill_config_props[] = {
    /* unset: the local cluster of $TAGSTREAM_KAFKA_DIR (ts_drill_defaults) */
    TS_CONF_KEY_BOOTSTRAP_SERVERS(ts_drill_config, bootstrap_servers, NULL, 0),
    {"fault", TS_CONF_STRING, F(fault), "kill9", 0, 0, NULL,
     "Fault of each cycle: none, kill9, sigterm, zombie, broker, scale, stateloss, replace, or "
     "a comma-separated list taken in turn.",
     0},
    {"cycles", TS_CONF_INT, F(cycles), "10", 0, 100000, NULL, "Number of fault cycles.", 0},
    {"instances", TS_CONF_INT, F(instances), "1", 1, TS_DRILL_MAX_INSTANCES, NULL,
     "Processor instances in the group (at the start, for scale).", 0},
    {"scale.max", TS_CONF_INT, F(scale_max), "0", 0, TS_DRILL_MAX_INSTANCES, NULL,
     "Most instances the scale fault runs at once (0: instances + 2).", 0},
    {"seed", TS_CONF_INT, F(seed), "1", 0, MAXI, NULL,
     "Seed of the input, the fault moments and the victims: the same seed, the same drill.", 0},
    {"records", TS_CONF_INT, F(records), "40000", 1, 100000000, NULL,
     "Input records to generate (besides the few that close the last windows).", 0},
    {"preload", TS_CONF_INT, F(preload), "0", 0, 100000000, NULL,
     "Records fed, and processed, before the first cycle (the store a cycle starts from).", 0},
    {"partitions", TS_CONF_INT, F(partitions), "3", 1, TS_DRILL_MAX_PARTS, NULL,
     "Partitions of the input topic (and so tasks).", 0},
    {"output.partitions", TS_CONF_INT, F(output_partitions), "3", 1, TS_DRILL_MAX_PARTS, NULL,
     "Partitions of the output topic.", 0},
    {"tags", TS_CONF_INT, F(tags), "1500", 1, 100000000, NULL, "Distinct ASCII tags.", 0},
    {"hot.share", TS_CONF_INT, F(hot_share), "60", 0, 100, NULL,
     "Percent of the records drawn from 40 hot tags (the rest from all tags).", 0},
    {"junk.share", TS_CONF_INT, F(junk_share), "2", 0, 100, NULL,
     "Percent of the records the length filter must drop.", 0},
    {"rate", TS_CONF_INT, F(rate), "4000", 1, 10000000, NULL, "Records per second fed.", 0},
    {"phases", TS_CONF_INT, F(phases), "0", 0, 1000, NULL,
     "Event-time phases of 2 windows each; phase k is fed once phase k-2 is processed (0: "
     "cycles + 2, at least 12).",
     0},
    {"window.size.ms", TS_CONF_INT, F(window_size_ms), "20000", 1000, 3600000, NULL,
     "Window size given to the processors.", 0},
    {"window.retention.ms", TS_CONF_INT, F(window_retention_ms), "0", 0, 31536000000LL, NULL,
     "Window retention given to the processors (0: the least they accept, so that windows "
     "expire during the drill).",
     0},
    /* the processor's keys, given on to every processor as they are */
    TS_PROC_KEY_MIN_COUNT(ts_drill_config, min_count, TS_CONF_F_PASS),
    TS_PROC_KEY_TRANSACTION_TIMEOUT_MS(ts_drill_config, transaction_timeout_ms, TS_CONF_F_PASS),
    TS_PROC_KEY_COMMIT_INTERVAL_MS(ts_drill_config, commit_interval_ms, TS_CONF_F_PASS),
    TS_PROC_KEY_STATIC_MEMBERSHIP(ts_drill_config, static_membership, TS_CONF_F_PASS),
    TS_PROC_KEY_NUM_STANDBY_REPLICAS(ts_drill_config, num_standby_replicas, TS_CONF_F_PASS),
    {"delay.min.ms", TS_CONF_INT, F(delay_min_ms), "300", 0, 3600000, NULL,
     "Least random delay before a fault strikes.", 0},
    {"delay.max.ms", TS_CONF_INT, F(delay_max_ms), "3000", 0, 3600000, NULL,
     "Most random delay before a fault strikes.", 0},
    {"down.min.ms", TS_CONF_INT, F(down_min_ms), "0", 0, 3600000, NULL,
     "Least random time a killed instance stays down (above the session timeout: its tasks "
     "move to the others first).",
     0},
    {"down.max.ms", TS_CONF_INT, F(down_max_ms), "1000", 0, 3600000, NULL,
     "Most random time a killed or stopped instance stays down.", 0},
    {"kill9.when", TS_CONF_ENUM, F(kill9_when), "any", 0, 0,
     "any|processing|emitting|starting|restoring",
     "When kill9 strikes: processing (a random delay after the instance is ready), emitting (as "
     "it emits a window result, inside the transaction), starting (right after a restart), "
     "restoring (as a restore begins), any (a random mix).",
     0},
    {"stateloss.rekill", TS_CONF_BOOL, F(stateloss_rekill), "true", 0, 0, NULL,
     "Whether the stateloss fault sometimes kills the instance again during its full restore.", 0},
    {"session.timeout.ms", TS_CONF_INT, F(session_timeout_ms), "6000", 1000, 3600000, NULL,
     "Group session timeout of the processors (kafka.session.timeout.ms).", 0},
    {"replication.factor", TS_CONF_INT, F(replication_factor), "0", 0, 32767, NULL,
     "Replication factor of the topics (0: 3, or the number of brokers if fewer).", 0},
    {"broker.down.ms", TS_CONF_INT, F(broker_down_ms), "10000", 0, 3600000, NULL,
     "How long the broker fault keeps a broker down.", 0},
    {"broker.stop.command", TS_CONF_STRING, F(broker_stop_command), NULL, 0, 0, NULL,
     "Shell command that stops broker {broker} (1-based) for the broker fault. Default with "
     "cluster.script: '<cluster.script> broker stop {broker}'.",
     0},
    {"broker.kill.command", TS_CONF_STRING, F(broker_kill_command), NULL, 0, 0, NULL,
     "Shell command that kills broker {broker} without warning; when set, every other broker "
     "cycle uses it instead of the stop command. Default with cluster.script: "
     "'<cluster.script> broker kill {broker}'.",
     0},
    {"broker.start.command", TS_CONF_STRING, F(broker_start_command), NULL, 0, 0, NULL,
     "Shell command that starts broker {broker} again.", 0},
    {"cluster.script", TS_CONF_STRING, F(cluster_script), NULL, 0, 0, NULL,
     "Path of infra/local/kafka, for the default broker commands.", 0},
    {"wait.ms", TS_CONF_INT, F(wait_ms), "90000", 1000, 3600000, NULL,
     "Bound on each wait for the processors within a cycle (a group to settle, a takeover).", 0},
    {"timeout.ms", TS_CONF_INT, F(timeout_ms), "600000", 1000, 86400000, NULL,
     "Bound on the wait, after the cycles, for all input to be processed.", 0},
    {"processor", TS_CONF_STRING, F(processor), NULL, 0, 0, NULL,
     "Path of tagstream-processor (default: $TAGSTREAM_BIN/tagstream-processor, else next to "
     "tagstream-drill).",
     0},
    {"work.dir", TS_CONF_STRING, F(work_dir), NULL, 0, 0, NULL,
     "Directory for the instances' state directories and logs (default: "
     "$TMPDIR/<application.id>).",
     0},
    {"topic.prefix", TS_CONF_STRING, F(topic_prefix), "drill", 0, 0, NULL,
     "Prefix of the application id, and so of every topic the drill creates.", 0},
    {"application.id", TS_CONF_STRING, F(application_id), NULL, 0, 0, NULL,
     "Application id of the processors (default: <topic.prefix>-<seed>-<time>); topics are "
     "<application.id>-input, -output and the processors' internal ones.",
     0},
    {"keep.topics", TS_CONF_BOOL, F(keep_topics), "false", 0, 0, NULL,
     "Keep the topics and the consumer group (default: deleted after a passing drill).", 0},
    {"keep.work.dir", TS_CONF_BOOL, F(keep_work_dir), "false", 0, 0, NULL,
     "Keep the state directories and logs (default: deleted after a passing drill).", 0},
    /* not the shared key: the drill logs only its Kafka clients, on stderr */
    {"log.level", TS_CONF_ENUM, F(log_level), "error", 0, 0, TS_CONF_LOG_LEVELS,
     "Least severe level of the drill's own Kafka client logs (on stderr).", 0},
    TS_CONF_KEY_MSK_IAM(ts_drill_config, iam),
    {NULL},
};

static int ts_drill_is_flag(const char *a, const char *name)
{
    size_t n = strlen(name);

    return !strncmp(a, name, n) && (a[n] == '\0' || a[n] == '=');
}

/* --some-key -> --some.key, for the keys of the table only. */
static char *ts_drill_dotted(const ts_conf *c, const char *a)
{
    char key[256];
    size_t kl;
    const char *eq;
    char *out;

    if (strncmp(a, "--", 2) || !strchr(a + 2, '-'))
        return NULL;
    eq = strchr(a + 2, '=');
    kl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
    if (kl >= sizeof(key))
        return NULL;
    memcpy(key, a + 2, kl);
    key[kl] = '\0';
    for (char *s = key; *s; s++)
        if (*s == '-')
            *s = '.';
    if (!ts_conf_find(c, key))
        return NULL;
    if (asprintf(&out, "--%s%s", key, eq ? eq : "") < 0)
        return NULL;
    return out;
}

static ts_err ts_drill_parse_faults(ts_drill_config *cfg, char *errstr, size_t errstr_size)
{
    const char *s = cfg->fault;

    cfg->nfaults = 0;
    while (*s) {
        size_t n = strcspn(s, ",");
        int found = 0;
        for (int f = 0; f < TS_DRILL__NFAULTS; f++)
            if (strlen(ts_drill_fault_names[f]) == n && !strncmp(s, ts_drill_fault_names[f], n)) {
                if (cfg->nfaults == TS_DRILL_MAX_FAULTS)
                    return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                                     "fault: at most %d faults in the list", TS_DRILL_MAX_FAULTS);
                cfg->faults[cfg->nfaults++] = (ts_drill_fault)f;
                found = 1;
            }
        if (!found)
            return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                             "fault: unknown fault \"%.*s\" (none, kill9, sigterm, zombie, "
                             "broker, scale, stateloss, replace)",
                             (int)n, s);
        s += n;
        if (*s == ',')
            s++;
    }
    if (cfg->nfaults == 0)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "fault: empty");
    return TS_OK;
}

static ts_err ts_drill_defaults(ts_drill_config *cfg, ts_conf *conf, char *errstr,
                                size_t errstr_size)
{
    char path[PATH_MAX + 64], buf[1024];
    const char *env;
    ssize_t n;

    if (!cfg->bootstrap_servers && (env = getenv("TAGSTREAM_KAFKA_DIR")) && *env) {
        FILE *fp;
        snprintf(path, sizeof(path), "%s/bootstrap", env);
        fp = fopen(path, "r");
        if (fp) {
            if (fgets(buf, sizeof(buf), fp)) {
                buf[strcspn(buf, "\r\n")] = '\0';
                if (ts_conf_set(conf, "bootstrap.servers", buf, TS_CONF_SRC_DEFAULT, errstr,
                                errstr_size))
                    return TS_ERR_INVALID;
            }
            fclose(fp);
        }
    }
    if (!cfg->bootstrap_servers || !*cfg->bootstrap_servers)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "bootstrap.servers: required (or a local cluster in "
                         "$TAGSTREAM_KAFKA_DIR)");
    if (!cfg->processor) {
        env = getenv("TAGSTREAM_BIN");
        if (env && *env) {
            snprintf(path, sizeof(path), "%s/tagstream-processor", env);
        } else {
            n = readlink("/proc/self/exe", path, PATH_MAX);
            if (n <= 0)
                return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                                 "processor: cannot find this binary's directory; set it");
            path[n] = '\0';
            if (strrchr(path, '/'))
                *strrchr(path, '/') = '\0';
            snprintf(path + strlen(path), sizeof(path) - strlen(path), "/tagstream-processor");
        }
        if (ts_conf_set(conf, "processor", path, TS_CONF_SRC_DEFAULT, errstr, errstr_size))
            return TS_ERR_INVALID;
    }
    if (access(cfg->processor, X_OK) != 0)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "processor: cannot run %s: %s",
                         cfg->processor, strerror(errno));
    if (cfg->cluster_script) {
        if (!cfg->broker_stop_command) {
            snprintf(buf, sizeof(buf), "'%s' broker stop {broker}", cfg->cluster_script);
            if (ts_conf_set(conf, "broker.stop.command", buf, TS_CONF_SRC_DEFAULT, errstr,
                            errstr_size))
                return TS_ERR_INVALID;
        }
        if (!cfg->broker_kill_command) {
            snprintf(buf, sizeof(buf), "'%s' broker kill {broker}", cfg->cluster_script);
            if (ts_conf_set(conf, "broker.kill.command", buf, TS_CONF_SRC_DEFAULT, errstr,
                            errstr_size))
                return TS_ERR_INVALID;
        }
        if (!cfg->broker_start_command) {
            snprintf(buf, sizeof(buf), "'%s' broker start {broker}", cfg->cluster_script);
            if (ts_conf_set(conf, "broker.start.command", buf, TS_CONF_SRC_DEFAULT, errstr,
                            errstr_size))
                return TS_ERR_INVALID;
        }
    }
    if (!cfg->application_id) {
        snprintf(buf, sizeof(buf), "%s-%lld-%lld-%d", cfg->topic_prefix, (long long)cfg->seed,
                 (long long)(ts_wall_ms() / 1000), (int)getpid());
        if (ts_conf_set(conf, "application.id", buf, TS_CONF_SRC_DEFAULT, errstr, errstr_size))
            return TS_ERR_INVALID;
    }
    if (!cfg->work_dir) {
        env = getenv("TMPDIR");
        snprintf(path, sizeof(path), "%s/%s", env && *env ? env : "/tmp", cfg->application_id);
        if (ts_conf_set(conf, "work.dir", path, TS_CONF_SRC_DEFAULT, errstr, errstr_size))
            return TS_ERR_INVALID;
    }
    if (cfg->scale_max == 0)
        cfg->scale_max = cfg->instances + 2 > TS_DRILL_MAX_INSTANCES ? TS_DRILL_MAX_INSTANCES
                                                                     : cfg->instances + 2;
    /* enough phases that most windows close, and emit, during the cycles
     * (a window closes two and a half phases after it ends) */
    if (cfg->phases == 0)
        cfg->phases = cfg->cycles + 2 < 12 ? 12 : cfg->cycles + 2;
    return TS_OK;
}

static ts_err ts_drill_validate(ts_drill_config *cfg, char *errstr, size_t errstr_size)
{
    int needs_two = 0, broker = 0;

    for (int i = 0; i < cfg->nfaults; i++) {
        needs_two |= cfg->faults[i] == TS_DRILL_ZOMBIE;
        broker |= cfg->faults[i] == TS_DRILL_BROKER;
    }
    if (needs_two && cfg->instances < 2)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "fault zombie: needs --instances 2 or more (others take over)");
    if (broker && (!cfg->broker_stop_command || !cfg->broker_start_command))
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "fault broker: set --cluster.script, or --broker.stop.command and "
                         "--broker.start.command");
    if (cfg->scale_max < cfg->instances)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "scale.max: %lld is less than instances (%lld)", (long long)cfg->scale_max,
                         (long long)cfg->instances);
    if (cfg->delay_max_ms < cfg->delay_min_ms)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "delay.max.ms must be at least delay.min.ms");
    if (cfg->down_max_ms < cfg->down_min_ms)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "down.max.ms must be at least down.min.ms");
    if (cfg->preload > cfg->records)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "preload: %lld is more than records (%lld)", (long long)cfg->preload,
                         (long long)cfg->records);
    if (!*cfg->topic_prefix || strpbrk(cfg->topic_prefix, "/ ") ||
        strpbrk(cfg->application_id, "/ "))
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "topic.prefix and application.id: non-empty, without '/' or spaces");
    if (strlen(cfg->application_id) > 200)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "application.id: too long");
    return TS_OK;
}

ts_err ts_drill_config_load(ts_drill_config *cfg, ts_conf *conf, int argc, char **argv, int *help,
                            char *errstr, size_t errstr_size)
{
    char **args = calloc((size_t)argc + 1, sizeof(char *));
    char **owned = calloc((size_t)argc + 1, sizeof(char *));
    int n = 0, nowned = 0;
    ts_err err;

    if (!args || !owned) {
        free(args);
        free(owned);
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    }
    args[n++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (ts_drill_is_flag(a, "--processor.arg") || ts_drill_is_flag(a, "--processor-arg")) {
            val = strchr(a, '=') ? strchr(a, '=') + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!val) {
                err = ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "%s needs a value", a);
                goto out;
            }
            if (cfg->nprocessor_args == TS_DRILL_MAX_ARGS) {
                err = ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "processor.arg: at most %d",
                                TS_DRILL_MAX_ARGS);
                goto out;
            }
            cfg->processor_args[cfg->nprocessor_args] = strdup(val);
            if (!cfg->processor_args[cfg->nprocessor_args++]) {
                err = ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
                goto out;
            }
            continue;
        }
        if (!strcmp(a, "-X") || !strcmp(a, "--config") || !strcmp(a, "-c")) {
            args[n++] = argv[i];
            if (i + 1 < argc)
                args[n++] = argv[++i];
            continue;
        }
        owned[nowned] = ts_drill_dotted(conf, a);
        args[n++] = owned[nowned] ? owned[nowned] : argv[i];
        if (owned[nowned])
            nowned++;
    }
    err = ts_conf_cli(conf, n, args, "TAGSTREAM_DRILL_", help, NULL, errstr, errstr_size);
    if (err || *help)
        goto out;
    if ((err = ts_drill_parse_faults(cfg, errstr, errstr_size)) ||
        (err = ts_drill_defaults(cfg, conf, errstr, errstr_size)) ||
        (err = ts_drill_validate(cfg, errstr, errstr_size)))
        goto out;
out:
    for (int i = 0; i < nowned; i++)
        free(owned[i]);
    free(owned);
    free(args);
    return err;
}

void ts_drill_config_free(ts_drill_config *cfg)
{
    if (!cfg)
        return;
    for (int i = 0; i < cfg->nprocessor_args; i++)
        free(cfg->processor_args[i]);
    cfg->nprocessor_args = 0;
}
