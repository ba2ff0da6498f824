/*
 * What the processor sets up before it joins the group: its state
 * directory's instance id and lock, and the topics (the input's partition
 * count, the internal topics made or checked).
 */
#include "ts_proc_setup_int.h"
#include "ts_proc_int.h"
#include "ts_fs.h"
#include "ts_kafka.h"
#include "ts_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* ---- state directory: instance id and lock ---- */

/* The instance id: configured, or read from (else written to) the state dir.
 * The file decides our transactional.id: it is opened without following a
 * link, checked as the configuration key is, and replaced atomically. */
ts_err ts_proc_instance_id(ts_processor *p, char *errstr, size_t errstr_size)
{
    char path[4200], id[256];
    unsigned char rnd[8];
    ssize_t n = 0, r;
    size_t len;
    ts_err err;
    int fd;

    if (p->cfg->instance_id) {
        p->instance_id = strdup(p->cfg->instance_id);
        return p->instance_id ? TS_OK : TS_ERR_NOMEM;
    }
    snprintf(path, sizeof(path), "%s/instance.id", p->app_dir);
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "cannot open %s: %s%s", path,
                         strerror(errno),
                         errno == ELOOP ? " (a symbolic link: refusing to follow it)" : "");
    if (fd >= 0) {
        while (
            (size_t)n < sizeof(id) - 1 &&
            ((r = read(fd, id + n, sizeof(id) - 1 - (size_t)n)) > 0 || (r < 0 && errno == EINTR)))
            n += r > 0 ? r : 0;
        close(fd);
        len = (size_t)n;
        if (len > 0 && id[len - 1] == '\n')
            len--;
        id[len] = '\0';
        /* empty: a write cut short by a crash of a version before the atomic
         * write; a new id is as good (no transaction of the old one to fence) */
        if (n > 0) {
            if (!ts_proc_instance_id_ok(id, len) || memchr(id, '\0', len))
                return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                                 "%s does not hold a valid instance id (" TS_PROC_INSTANCE_ID_RULE
                                 "): remove it to have a new one made, or set instance.id",
                                 path);
            p->instance_id = strdup(id);
            return p->instance_id ? TS_OK : TS_ERR_NOMEM;
        }
    }
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd)) {
        if (fd >= 0)
            close(fd);
        return ts_seterr(TS_ERR_IO, errstr, errstr_size, "cannot read /dev/urandom");
    }
    close(fd);
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(id + 2 * i, 3, "%02x", rnd[i]);
    id[2 * sizeof(rnd)] = '\n';
    err = ts_fs_write_atomic(path, id, 2 * sizeof(rnd) + 1, errstr, errstr_size);
    if (err)
        return err;
    id[2 * sizeof(rnd)] = '\0';
    p->instance_id = strdup(id);
    return p->instance_id ? TS_OK : TS_ERR_NOMEM;
}

ts_err ts_proc_lock(ts_processor *p, char *errstr, size_t errstr_size)
{
    char path[4200];

    snprintf(path, sizeof(path), "%s/.lock", p->app_dir);
    p->lock_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (p->lock_fd < 0)
        return ts_seterr(errno == ELOOP ? TS_ERR_INVALID : TS_ERR_IO, errstr, errstr_size,
                         "cannot open %s: %s%s", path, strerror(errno),
                         errno == ELOOP ? " (a symbolic link: refusing to follow it)" : "");
    if (flock(p->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return ts_seterr(TS_ERR_EXISTS, errstr, errstr_size,
                         "state directory %s is in use by another tagstream-processor", p->app_dir);
    return TS_OK;
}

/* ---- topics ---- */

static ts_err ts_proc_create_topic(ts_processor *p, const char *topic, int partitions, int rf,
                                   const char *const *config, char *errstr, size_t errstr_size)
{
    ts_err err = ts_kafka_create_topic(p->producer, topic, partitions, rf, config, 60000, errstr,
                                       errstr_size);

    if (err == TS_ERR_EXISTS) /* another instance was quicker */
        return TS_OK;
    if (!err) {
        ts_log_ev *ev = ts_log_begin(TS_LOG_INFO, "processor", "created topic %s", topic);
        ts_log_int(ev, "partitions", partitions);
        ts_log_int(ev, "replication_factor", rf);
        ts_log_end(ev);
    }
    return err;
}

/* An internal topic must have as many partitions as the input: create it
 * when missing, refuse to run when it differs. */
static ts_err ts_proc_internal_topic(ts_processor *p, const char *topic, int brokers,
                                     const char *const *config, char *errstr, size_t errstr_size)
{
    int parts, rf;
    ts_err err;

    err = ts_kafka_topic_partitions(p->producer, topic, 30000, &parts, NULL, errstr, errstr_size);
    if (err)
        return err;
    if (parts == p->npart)
        return TS_OK;
    if (parts > 0)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "topic %s has %d partitions but %s has %d: internal topics must "
                         "match the input (reset the application to change partition counts)",
                         topic, parts, p->cfg->input_topic, (int)p->npart);
    rf = (int)(p->cfg->replication_factor < brokers ? p->cfg->replication_factor : brokers);
    err = ts_proc_create_topic(p, topic, p->npart, rf, config, errstr, errstr_size);
    if (err)
        return err;
    /* Subscribing before the new topic shows in the cluster metadata would
     * leave it out of the first assignment, and its partitions unprocessed
     * until a later metadata refresh. */
    for (int i = 0; i < 300; i++) {
        err =
            ts_kafka_topic_partitions(p->producer, topic, 10000, &parts, NULL, errstr, errstr_size);
        if (err || parts == p->npart)
            return err;
        usleep(100 * 1000);
    }
    return ts_seterr(TS_ERR_TIMEOUT, errstr, errstr_size,
                     "topic %s was created but does not show in the metadata", topic);
}

ts_err ts_proc_topics(ts_processor *p, char *errstr, size_t errstr_size)
{
    char isr[8] = "1";
    /* min.insync.replicas: filled in below, once the cluster size is known */
    const char *repartition_cfg[] = {"cleanup.policy",
                                     "delete",
                                     "retention.ms",
                                     "-1",
                                     "segment.bytes",
                                     "52428800",
                                     "message.timestamp.type",
                                     "CreateTime",
                                     "min.insync.replicas",
                                     isr,
                                     NULL};
    const char *changelog_cfg[] = {
        "cleanup.policy", "compact", "segment.bytes", "67108864", "min.insync.replicas", isr, NULL};
    int parts, brokers, n;
    ts_err err;

    err = ts_kafka_topic_partitions(p->producer, p->cfg->input_topic, 30000, &parts, &brokers,
                                    errstr, errstr_size);
    if (err)
        return err;
    if (parts <= 0)
        return ts_seterr(TS_ERR_NOT_FOUND, errstr, errstr_size,
                         "input topic %s does not exist (create it first)", p->cfg->input_topic);
    p->npart = parts;
    err = ts_kafka_topic_partitions(p->producer, p->cfg->output_topic, 30000, &n, NULL, errstr,
                                    errstr_size);
    if (err)
        return err;
    if (n <= 0)
        return ts_seterr(TS_ERR_NOT_FOUND, errstr, errstr_size,
                         "output topic %s does not exist (create it first)", p->cfg->output_topic);
    /* With replicas to spare, acknowledge a write only once two have it. */
    snprintf(isr, sizeof(isr), "%d", p->cfg->replication_factor >= 3 && brokers >= 3 ? 2 : 1);
    err = ts_proc_internal_topic(p, p->repartition_topic, brokers, repartition_cfg, errstr,
                                 errstr_size);
    if (err)
        return err;
    err =
        ts_proc_internal_topic(p, p->changelog_topic, brokers, changelog_cfg, errstr, errstr_size);
    if (err)
        return err;
    if (p->cfg->dlq_topic) {
        err = ts_kafka_topic_partitions(p->producer, p->cfg->dlq_topic, 30000, &n, NULL, errstr,
                                        errstr_size);
        if (!err && n <= 0)
            err = ts_proc_create_topic(
                p, p->cfg->dlq_topic, 1,
                (int)(p->cfg->replication_factor < brokers ? p->cfg->replication_factor : brokers),
                NULL, errstr, errstr_size);
    }
    return err;
}
