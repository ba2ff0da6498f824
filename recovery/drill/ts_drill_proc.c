/*
 * Processor instances: real tagstream-processor processes, their JSON log
 * lines read as they are written, real signals.
 */
#include "ts_drill.h"
#include "ts_buf.h"
#include "ts_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void ts_drill_vsay(ts_drill *d, const char *fmt, va_list ap)
{
    char line[1024];

    vsnprintf(line, sizeof(line), fmt, ap);
    printf("[%7.1fs] %s\n", (double)(ts_wall_ms() - d->t0) / 1000.0, line);
    fflush(stdout);
}

void ts_drill_say(ts_drill *d, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    ts_drill_vsay(d, fmt, ap);
    va_end(ap);
}

void ts_drill_fail(ts_drill *d, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    ts_drill_say(d, "FAILURE: %s", line);
    if (d->nfailures++ < 20)
        ts_buf_printf(&d->failures, "  - %s\n", line);
}

const char *ts_drill_phase_name(ts_drill_phase p)
{
    static const char *const names[] = {"down", "starting", "joining", "restoring", "processing"};

    return p >= TS_DRILL_DOWN && p <= TS_DRILL_PROCESSING ? names[p] : "?";
}

ts_drill_run_rec *ts_drill_current_run(ts_drill *d, int i)
{
    ts_drill_inst *in = &d->inst[i];

    return in->starts > 0 ? &d->runs[in->run] : NULL;
}

/* "2026-11-26T17:00:00.123Z" -> ms since the epoch (0 if it does not parse). */
static int64_t ts_drill_log_time(const char *s)
{
    struct tm tm;
    int ms = 0;

    memset(&tm, 0, sizeof(tm));
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

static int ts_drill_starts_with(const char *s, const char *prefix)
{
    return s && !strncmp(s, prefix, strlen(prefix));
}

void ts_drill_tasks_stopped(ts_drill *d, int i, int64_t t)
{
    for (int p = 0; p < TS_DRILL_MAX_PARTS; p++)
        if (d->task_owner[p] == i) {
            d->task_owner[p] = -1;
            d->task_down_since[p] = t;
        }
}

/* One log line of instance i. */
static void ts_drill_log_line(ts_drill *d, int i, const char *line, size_t len)
{
    ts_drill_inst *in = &d->inst[i];
    ts_drill_run_rec *run = ts_drill_current_run(d, i);
    json_error_t jerr;
    json_t *j = json_loadb(line, len, 0, &jerr);
    const char *msg, *level, *comp;
    int64_t t;

    if (!j || !run)
        goto out;
    msg = json_string_value(json_object_get(j, "msg"));
    level = json_string_value(json_object_get(j, "level"));
    t = ts_drill_log_time(json_string_value(json_object_get(j, "time")));
    if (!msg)
        goto out;
    if (!t)
        t = ts_wall_ms();
    if (!strcmp(msg, "window result")) {
        in->results_logged++;
        run->results_logged++;
    } else if (!strcmp(msg, "running")) {
        if (in->phase == TS_DRILL_STARTING)
            in->phase = TS_DRILL_JOINING;
    } else if (!strcmp(msg, "partitions assigned")) {
        in->assigned_tasks = (int)json_integer_value(json_object_get(j, "tasks_to_restore"));
        in->restored_tasks = 0;
        in->assigned_ms = t;
        if (!run->assigned_ms)
            run->assigned_ms = t;
        in->phase = in->assigned_tasks > 0 ? TS_DRILL_RESTORING : TS_DRILL_PROCESSING;
        if (in->assigned_tasks == 0) {
            in->ready_ms = t;
            in->ready_count++;
            if (!run->ready_ms)
                run->ready_ms = t;
        }
    } else if (ts_drill_starts_with(msg, "partitions revoked")) {
        in->phase = TS_DRILL_JOINING;
        in->revocations++;
        ts_drill_tasks_stopped(d, i, t);
        in->assigned_tasks = in->restored_tasks = 0;
    } else if (ts_drill_starts_with(msg, "restoring task ") &&
               json_object_get(j, "kind")) { /* the start of a restore, not its progress */
        const char *kind = json_string_value(json_object_get(j, "kind"));
        int full = kind && !strcmp(kind, "full"), sub = -1, task = -1;
        if (!run->restore_first_ms)
            run->restore_first_ms = t;
        if (!run->ready_ms) {
            run->restores_full += full;
            run->restores_tail += !full;
        }
        /* after its state directory was deleted, the first restore of each
         * task must replay the whole changelog */
        if (sscanf(msg, "restoring task %d_%d", &sub, &task) == 2 && task >= 0 &&
            task < TS_DRILL_MAX_PARTS && !run->restored_once[task]) {
            run->restored_once[task] = 1;
            /* with standbys, a task that moves in later may start from the
             * standby this run built: only its first assignment must be full */
            if (run->state_lost && !full && (!d->cfg->num_standby_replicas || !run->ready_ms))
                run->tail_after_loss++;
        }
    } else if (ts_drill_starts_with(msg, "task ") && strstr(msg, " restored")) {
        int64_t recs = json_integer_value(json_object_get(j, "records"));
        int sub = -1, task = -1;
        if (sscanf(msg, "task %d_%d", &sub, &task) == 2 && task >= 0 && task < TS_DRILL_MAX_PARTS) {
            if (d->task_down_since[task] && t - d->task_down_since[task] > d->longest_gap_ms) {
                d->longest_gap_ms = t - d->task_down_since[task];
                d->longest_gap_task = task;
            }
            d->task_down_since[task] = 0;
            d->task_owner[task] = i;
        }
        run->replayed_total += recs;
        if (!run->ready_ms) {
            run->replayed += recs;
            run->restore_elapsed_ms += json_integer_value(json_object_get(j, "elapsed_ms"));
            run->restore_last_ms = t;
        }
        in->restored_tasks++;
        if (in->phase == TS_DRILL_RESTORING && in->restored_tasks >= in->assigned_tasks) {
            in->phase = TS_DRILL_PROCESSING;
            in->ready_ms = t;
            in->ready_count++;
            if (!run->ready_ms)
                run->ready_ms = t;
        }
    } else if (ts_drill_starts_with(msg, "aborting the transaction")) {
        in->aborts++;
        run->aborts++;
        snprintf(in->last_abort, sizeof(in->last_abort), "%s", msg);
    }
    comp = json_string_value(json_object_get(j, "component"));
    if (level && !strcmp(level, "error") && (!comp || strcmp(comp, "rdkafka"))) {
        snprintf(in->last_error, sizeof(in->last_error), "%s", msg);
        if (strstr(msg, "fenced"))
            in->fenced_logged = 1;
    }
out:
    json_decref(j);
}

static void ts_drill_read_log(ts_drill *d, int i)
{
    ts_drill_inst *in = &d->inst[i];
    char buf[65536];
    ssize_t n;

    if (in->log_fd < 0)
        return;
    while ((n = pread(in->log_fd, buf, sizeof(buf), in->log_off)) > 0) {
        size_t start = 0;
        in->log_off += n;
        for (size_t k = 0; k < (size_t)n; k++) {
            if (buf[k] != '\n')
                continue;
            if (in->partial.len) {
                ts_buf_append(&in->partial, buf + start, k - start);
                ts_drill_log_line(d, i, in->partial.data, in->partial.len);
                ts_buf_reset(&in->partial);
            } else {
                ts_drill_log_line(d, i, buf + start, k - start);
            }
            start = k + 1;
        }
        if (start < (size_t)n)
            ts_buf_append(&in->partial, buf + start, (size_t)n - start);
    }
}

static void ts_drill_exited(ts_drill *d, int i, int status)
{
    ts_drill_inst *in = &d->inst[i];
    ts_drill_run_rec *run = ts_drill_current_run(d, i);

    ts_drill_read_log(d, i);
    in->pid = 0;
    in->frozen = 0;
    in->phase = TS_DRILL_DOWN;
    if (run)
        run->exit_status = status;
    if (in->log_fd >= 0)
        close(in->log_fd);
    in->log_fd = -1;
    ts_buf_reset(&in->partial);
}

void ts_drill_tick(ts_drill *d)
{
    for (int i = 0; i < d->ninst; i++) {
        ts_drill_inst *in = &d->inst[i];
        int status;
        /* an instance that exited by itself is replaced, as an orchestrator
         * would, at most once a second */
        if (in->pid <= 0 && in->active && !in->hold && !*d->interrupted &&
            ts_wall_ms() - in->last_start_ms > 1000)
            ts_drill_inst_start(d, i, "replaced", 0);
        if (in->pid <= 0)
            continue;
        ts_drill_read_log(d, i);
        if (waitpid(in->pid, &status, WNOHANG) == in->pid) {
            ts_drill_run_rec *run = ts_drill_current_run(d, i);
            ts_drill_exited(d, i, status);
            if (run && !run->killed_by && !in->expect_exit) {
                /* it stopped by itself: a crash, or a fenced zombie (the
                 * zombie drill decides which is fine) */
                char what[300];
                if (WIFEXITED(status))
                    snprintf(what, sizeof(what), "instance %d exited with %d by itself (%.200s)", i,
                             WEXITSTATUS(status), in->last_error[0] ? in->last_error : "no error");
                else
                    snprintf(what, sizeof(what), "instance %d died of signal %d", i,
                             WTERMSIG(status));
                ts_drill_say(d, "%s", what);
                if (d->unexpected_exits < TS_DRILL_EXAMPLES)
                    snprintf(d->unexpected_ex[d->unexpected_exits], sizeof(d->unexpected_ex[0]),
                             "%s", what);
                d->unexpected_exits++;
            }
        }
    }
}

void ts_drill_sleep(ts_drill *d, int64_t ms)
{
    int64_t end = ts_wall_ms() + ms;

    for (;;) {
        int64_t left = end - ts_wall_ms();
        struct timespec ts;
        ts_drill_tick(d);
        if (left <= 0 || *d->interrupted)
            return;
        if (left > 50)
            left = 50;
        ts.tv_sec = 0;
        ts.tv_nsec = (long)left * 1000000L;
        nanosleep(&ts, NULL);
    }
}

static ts_err ts_drill_add_run(ts_drill *d, int i, const char *why, int64_t fault_ms)
{
    ts_drill_run_rec *v = ts_grow(d->runs, d->nruns, &d->runs_cap, sizeof(*v), 64), *r;

    if (!v)
        return TS_ERR_NOMEM;
    d->runs = v;
    r = &d->runs[d->nruns];
    memset(r, 0, sizeof(*r));
    r->instance = i;
    r->number = d->inst[i].starts;
    r->why = why;
    r->fault_ms = fault_ms;
    r->exit_status = -1;
    r->killed_phase = -1;
    d->inst[i].run = d->nruns++;
    return TS_OK;
}

ts_err ts_drill_inst_start(ts_drill *d, int i, const char *why, int64_t fault_ms)
{
    ts_drill_config *cfg = d->cfg;
    ts_drill_inst *in = &d->inst[i];
    char *argv[TS_DRILL_MAX_ARGS * 3 + 2 * TS_DRILL_MAX_PASSED + 48];
    char num[8][64], passed[TS_DRILL_MAX_PASSED][300];
    char **kv = NULL;
    int n = 0, npassed = 0, state_lost;
    struct stat st;
    pid_t parent = getpid(), pid;
    sigset_t block, saved;
    int fd;

    if (in->pid > 0)
        return TS_OK;
    in->last_start_ms = ts_wall_ms();
    state_lost = in->starts > 0 && stat(in->state_dir, &st) != 0;
    in->starts++;
    if (ts_drill_add_run(d, i, why, fault_ms))
        return TS_ERR_NOMEM;
    d->runs[in->run].state_lost = state_lost;
    snprintf(in->log_path, sizeof(in->log_path), "%s/instance-%d.run-%d.log", cfg->work_dir, i,
             in->starts);
    fd = open(in->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        ts_drill_fail(d, "cannot create %s: %s", in->log_path, strerror(errno));
        return TS_ERR_IO;
    }
    in->log_fd = open(in->log_path, O_RDONLY | O_CLOEXEC);
    in->log_off = 0;
    ts_buf_reset(&in->partial);

    snprintf(num[2], sizeof(num[2]), "%lld", (long long)d->grace_ms);
    snprintf(num[3], sizeof(num[3]), "%lld", (long long)d->retention_ms);
    snprintf(num[4], sizeof(num[4]), "%lld", (long long)cfg->window_size_ms);
    snprintf(num[6], sizeof(num[6]), "%d", d->rf);
    snprintf(num[7], sizeof(num[7]), "kafka.session.timeout.ms=%lld",
             (long long)cfg->session_timeout_ms);
    argv[n++] = cfg->processor;
    argv[n++] = "--bootstrap.servers";
    argv[n++] = cfg->bootstrap_servers;
    argv[n++] = "--application.id";
    argv[n++] = d->app;
    argv[n++] = "--state.dir";
    argv[n++] = in->state_dir;
    argv[n++] = "--input.topic";
    argv[n++] = d->topics.input;
    argv[n++] = "--output.topic";
    argv[n++] = d->topics.output;
    /* the processor's keys the drill takes over, as they are: -X key=value */
    for (const ts_conf_prop *p = ts_drill_config_props; p->name; p++) {
        size_t l;
        if (!(p->flags & TS_CONF_F_PASS) || npassed == TS_DRILL_MAX_PASSED)
            continue;
        l = (size_t)snprintf(passed[npassed], sizeof(passed[0]), "%s=", p->name);
        ts_conf_format(p, cfg, passed[npassed] + l, sizeof(passed[0]) - l);
        argv[n++] = "-X";
        argv[n++] = passed[npassed++];
    }
    argv[n++] = "--window.grace.ms";
    argv[n++] = num[2];
    argv[n++] = "--window.retention.ms";
    argv[n++] = num[3];
    argv[n++] = "--window.size.ms";
    argv[n++] = num[4];
    argv[n++] = "--output.format";
    argv[n++] = "json";
    argv[n++] = "--replication.factor";
    argv[n++] = num[6];
    argv[n++] = "--http.listen";
    argv[n++] = "";
    argv[n++] = "-X";
    argv[n++] = num[7];
    /* the operator's Kafka settings (security) go to the processors too */
    kv = calloc(d->conf->kafka_cnt + 1, sizeof(char *));
    for (size_t k = 0; kv && k < d->conf->kafka_cnt && k < TS_DRILL_MAX_ARGS; k++) {
        const char *key = d->conf->kafka[k].key;
        char full[300];
        snprintf(full, sizeof(full), "kafka.%s", key);
        if (ts_conf_key_is_secret(full) &&
            strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789.") == strlen(key)) {
            /* a secret goes through the environment, not the command line
             * that anyone on the machine can read: TAGSTREAM_KAFKA_<KEY> */
            if (asprintf(&kv[k], "TAGSTREAM_KAFKA_%s=%s", key, d->conf->kafka[k].value) < 0) {
                kv[k] = NULL;
                continue;
            }
            for (char *c = kv[k] + 16; *c != '='; c++)
                *c = *c == '.' ? '_' : (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
            continue;
        }
        if (asprintf(&kv[k], "kafka.%s=%s", key, d->conf->kafka[k].value) < 0)
            kv[k] = NULL;
        if (kv[k]) {
            argv[n++] = "-X";
            argv[n++] = kv[k];
        }
    }
    /* MSK IAM as the drill's own clients use it; the credentials are the
     * environment's (keys, ECS endpoint), which the processors inherit */
    if (cfg->iam.enabled) {
        argv[n++] = "--msk.iam";
        argv[n++] = "true";
        argv[n++] = "--msk.iam.imds";
        argv[n++] = cfg->iam.imds ? "true" : "false";
        if (cfg->iam.region) {
            argv[n++] = "--msk.iam.region";
            argv[n++] = cfg->iam.region;
        }
        if (cfg->iam.host) {
            argv[n++] = "--msk.iam.host";
            argv[n++] = cfg->iam.host;
        }
    }
    for (int k = 0; k < cfg->nprocessor_args; k++)
        argv[n++] = cfg->processor_args[k];
    argv[n] = NULL;

    /* A signal for the new process that came before its exec would run the
     * drill's handler in the child and be lost: hold them until the child
     * has the default action back. */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &saved);
    pid = fork();
    if (pid < 0) {
        sigprocmask(SIG_SETMASK, &saved, NULL);
        close(fd);
        ts_drill_fail(d, "cannot fork: %s", strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        /* a processor never outlives the drill, whatever ends the drill */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        /* its own process group: a Ctrl-C at the terminal is for the drill,
         * which stops the processors itself */
        setpgid(0, 0);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        sigprocmask(SIG_SETMASK, &saved, NULL);
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
        for (size_t k = 0; kv && k < d->conf->kafka_cnt && k < TS_DRILL_MAX_ARGS; k++)
            if (kv[k] && !strncmp(kv[k], "TAGSTREAM_KAFKA_", 16))
                putenv(kv[k]);
        execv(cfg->processor, argv);
        _exit(127);
    }
    sigprocmask(SIG_SETMASK, &saved, NULL);
    close(fd);
    for (size_t k = 0; kv && k < d->conf->kafka_cnt; k++)
        free(kv[k]);
    free(kv);
    in->pid = pid;
    in->frozen = 0;
    in->phase = TS_DRILL_STARTING;
    in->assigned_tasks = in->restored_tasks = 0;
    in->last_error[0] = '\0';
    in->fenced_logged = 0;
    in->expect_exit = 0;
    in->last_start_ms = d->runs[in->run].start_ms = ts_wall_ms();
    return TS_OK;
fail:
    for (size_t k = 0; kv && k < d->conf->kafka_cnt; k++)
        free(kv[k]);
    free(kv);
    return TS_ERR_IO;
}

void ts_drill_inst_signal(ts_drill *d, int i, int sig)
{
    ts_drill_inst *in = &d->inst[i];
    ts_drill_run_rec *run = ts_drill_current_run(d, i);

    if (in->pid <= 0)
        return;
    if (sig == SIGKILL || sig == SIGTERM) {
        if (run)
            run->killed_by = sig;
    }
    kill(in->pid, sig);
    if (sig == SIGSTOP)
        in->frozen = 1;
    if (sig == SIGCONT)
        in->frozen = 0;
}

int ts_drill_inst_stop(ts_drill *d, int i, int sig, int timeout_ms, int64_t *ms)
{
    ts_drill_inst *in = &d->inst[i];
    int64_t t0 = ts_wall_ms(), deadline = t0 + timeout_ms;
    int status = -1;
    pid_t pid = in->pid;

    *ms = 0;
    if (pid <= 0)
        return -1;
    ts_drill_read_log(d, i);
    ts_drill_inst_signal(d, i, sig);
    if (in->frozen && sig != SIGKILL)
        kill(pid, SIGCONT);
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (ts_wall_ms() > deadline) {
            ts_drill_fail(d, "instance %d did not exit within %d ms of signal %d; killing it", i,
                          timeout_ms, sig);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            *ms = ts_wall_ms() - t0;
            ts_drill_exited(d, i, status);
            return -1;
        }
        ts_drill_read_log(d, i);
        usleep(2000);
    }
    *ms = ts_wall_ms() - t0;
    ts_drill_exited(d, i, status);
    return status;
}

ts_err ts_drill_wipe_dir(const char *path, char *errstr, size_t errstr_size)
{
    return ts_fs_remove_tree(path, errstr, errstr_size);
}
