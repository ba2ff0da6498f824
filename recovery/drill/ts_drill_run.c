/*
 * The drill itself: set up, cycles of faults, wait for the end, compare,
 * report. See docs/DRILLS.md for what each fault proves.
 */
#include "ts_drill.h"
#include "ts_buf.h"
#include "ts_fs.h"
#include "ts_kafka.h"
#include "ts_log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TS_DRILL_STOP_TIMEOUT_MS 30000

/* ---- waiting ---- */

static int ts_drill_ready(const ts_drill *d, int i)
{
    const ts_drill_inst *in = &d->inst[i];

    return in->pid > 0 && !in->frozen && in->phase == TS_DRILL_PROCESSING;
}

/* Wait until instance i (or every active one, i < 0) is processing. */
static int ts_drill_wait_ready(ts_drill *d, int i, int64_t timeout_ms)
{
    int64_t deadline = ts_wall_ms() + timeout_ms;

    while (!*d->interrupted) {
        int ok = 1;
        ts_drill_tick(d);
        for (int k = 0; k < d->ninst; k++)
            if ((i < 0 ? d->inst[k].active : k == i) && !ts_drill_ready(d, k))
                ok = 0;
        if (ok)
            return 1;
        if (ts_wall_ms() > deadline) {
            ts_drill_say(d, "note: %s not ready within %lld ms; going on",
                         i < 0 ? "the instances were" : "the instance was", (long long)timeout_ms);
            return 0;
        }
        ts_drill_sleep(d, 20);
    }
    return 0;
}

static int ts_drill_active_count(const ts_drill *d)
{
    int n = 0;

    for (int i = 0; i < d->ninst; i++)
        n += d->inst[i].active;
    return n;
}

/* A random active instance. */
static int ts_drill_pick(ts_drill *d)
{
    int n = ts_drill_active_count(d), k;

    if (n == 0)
        return -1;
    k = (int)(ts_drill_rand(&d->rng) % (uint64_t)n);
    for (int i = 0; i < d->ninst; i++)
        if (d->inst[i].active && k-- == 0)
            return i;
    return -1;
}

/* The active instance started last. */
static int ts_drill_newest(const ts_drill *d)
{
    int best = -1;

    for (int i = 0; i < d->ninst; i++)
        if (d->inst[i].active &&
            (best < 0 || d->inst[i].last_start_ms > d->inst[best].last_start_ms))
            best = i;
    return best;
}

static int64_t ts_drill_delay(ts_drill *d)
{
    return ts_drill_rand_range(&d->rng, d->cfg->delay_min_ms, d->cfg->delay_max_ms);
}

static void ts_drill_add_stop(ts_drill *d, int i, int64_t ms, int status)
{
    ts_drill_stop_time *v = ts_grow(d->stops, d->nstops, &d->stops_cap, sizeof(*v), 32);

    if (!v)
        return;
    d->stops = v;
    d->stops[d->nstops++] = (ts_drill_stop_time){i, ms, status};
}

/* SIGTERM: the time to exit, and exit code 0, are part of the drill. */
static void ts_drill_sigterm(ts_drill *d, int i, const char *why)
{
    int64_t ms, deadline = ts_wall_ms() + 30000;
    int st;

    /* a process that has not yet set up its signal handling dies of the
     * signal, as any would: give it the time to start */
    while (d->inst[i].pid > 0 && d->inst[i].phase == TS_DRILL_STARTING && ts_wall_ms() < deadline) {
        ts_drill_tick(d);
        usleep(10000);
    }
    st = ts_drill_inst_stop(d, i, SIGTERM, TS_DRILL_STOP_TIMEOUT_MS, &ms);

    ts_drill_add_stop(d, i, ms, st);
    if (st == -1)
        return; /* already a failure */
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        ts_drill_fail(d, "instance %d (%s) exited with status %d after SIGTERM, not 0 (%s)", i, why,
                      WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
                      d->inst[i].last_error[0] ? d->inst[i].last_error : "no error logged");
    else
        ts_drill_say(d, "instance %d stopped %lld ms after SIGTERM, exit 0", i, (long long)ms);
}

/* SIGKILL, counted by the phase the instance was in. */
static int ts_drill_sigkill(ts_drill *d, int i)
{
    int64_t ms;
    int phase;

    ts_drill_tick(d);
    phase = d->inst[i].phase;
    ts_drill_inst_stop(d, i, SIGKILL, 10000, &ms);
    d->kills_by_phase[phase]++;
    return phase;
}

/* Keep instance i down for a random while, then start it again. */
static void ts_drill_restart(ts_drill *d, int i, const char *why, int64_t fault_ms, int phase)
{
    int64_t down = ts_drill_rand_range(&d->rng, 0, d->cfg->down_max_ms);

    d->inst[i].hold = 1;
    ts_drill_sleep(d, down);
    d->inst[i].hold = 0;
    if (ts_drill_inst_start(d, i, why, fault_ms) == TS_OK)
        ts_drill_current_run(d, i)->killed_phase = phase;
}

/* Wait until instance i logs that a restore began (polled closely). */
static void ts_drill_wait_restoring(ts_drill *d, int i, int64_t timeout_ms)
{
    int64_t deadline = ts_wall_ms() + timeout_ms;
    int was = d->inst[i].phase;

    while (!*d->interrupted && ts_wall_ms() < deadline && d->inst[i].pid > 0) {
        ts_drill_tick(d);
        if (d->inst[i].phase == TS_DRILL_RESTORING)
            return;
        /* it went through a whole restore between two looks */
        if (d->inst[i].phase == TS_DRILL_PROCESSING && was != TS_DRILL_PROCESSING)
            return;
        was = d->inst[i].phase;
        usleep(3000);
    }
}

/* Wait until instance i logs a window result: it has an open transaction
 * with results in it. Returns 0 on timeout. */
static int ts_drill_wait_result(ts_drill *d, int i, int64_t timeout_ms)
{
    int64_t deadline = ts_wall_ms() + timeout_ms, n0;

    ts_drill_tick(d);
    n0 = d->inst[i].results_logged;
    while (!*d->interrupted && ts_wall_ms() < deadline && d->inst[i].pid > 0) {
        int64_t allowed = atomic_load(&d->feed.allowed);
        ts_drill_tick(d);
        if (d->inst[i].results_logged > n0)
            return 1;
        /* results come as event time moves on: let the input go on */
        if (atomic_load(&d->feed.produced) >= allowed && allowed < d->cfg->records)
            atomic_store(&d->feed.allowed, allowed + d->chunk < d->cfg->records ? allowed + d->chunk
                                                                                : d->cfg->records);
        usleep(2000);
    }
    return 0;
}

/* ---- the faults ---- */

static void ts_drill_cycle_kill9(ts_drill *d, int c)
{
    int when = d->cfg->kill9_when, victim, phase;
    int64_t t;

    if (when == TS_DRILL_WHEN_ANY) {
        static const int mix[] = {TS_DRILL_WHEN_PROCESSING, TS_DRILL_WHEN_PROCESSING,
                                  TS_DRILL_WHEN_EMITTING, TS_DRILL_WHEN_STARTING,
                                  TS_DRILL_WHEN_RESTORING};
        when = mix[ts_drill_rand(&d->rng) % 5];
    }
    if (when == TS_DRILL_WHEN_PROCESSING) {
        victim = ts_drill_pick(d);
        ts_drill_wait_ready(d, victim, d->cfg->wait_ms);
        t = ts_drill_delay(d);
        ts_drill_say(d, "cycle %d: kill -9 instance %d %lld ms into processing", c + 1, victim,
                     (long long)t);
        ts_drill_sleep(d, t);
    } else if (when == TS_DRILL_WHEN_EMITTING) {
        victim = ts_drill_pick(d);
        ts_drill_wait_ready(d, victim, d->cfg->wait_ms);
        ts_drill_say(d, "cycle %d: kill -9 instance %d as it emits a result", c + 1, victim);
        if (!ts_drill_wait_result(d, victim, d->cfg->wait_ms))
            ts_drill_say(d, "no result within %lld ms; killing it anyway",
                         (long long)d->cfg->wait_ms);
    } else if (when == TS_DRILL_WHEN_STARTING) {
        /* the instance started last, at a random moment of its start-up */
        victim = ts_drill_newest(d);
        t = ts_drill_rand_range(&d->rng, 0, 2500);
        ts_drill_say(d, "cycle %d: kill -9 instance %d %lld ms after its start", c + 1, victim,
                     (long long)t);
        ts_drill_sleep(d, d->inst[victim].last_start_ms + t - ts_wall_ms());
    } else {
        /* a restore follows every restart, and every rebalance the restart
         * causes in the other instances */
        victim = ts_drill_active_count(d) > 1 ? ts_drill_pick(d) : ts_drill_newest(d);
        ts_drill_say(d, "cycle %d: kill -9 instance %d as a restore begins", c + 1, victim);
        ts_drill_wait_restoring(d, victim, d->cfg->session_timeout_ms + 10000);
    }
    if (d->inst[victim].pid <= 0) {
        ts_drill_say(d, "instance %d is not running; starting it", victim);
        ts_drill_inst_start(d, victim, "kill9", 0);
        return;
    }
    t = ts_wall_ms();
    phase = ts_drill_sigkill(d, victim);
    ts_drill_say(d, "instance %d killed while %s", victim, ts_drill_phase_name(phase));
    ts_drill_restart(d, victim, "kill9", t, phase);
}

static void ts_drill_cycle_sigterm(ts_drill *d, int c)
{
    int victim = ts_drill_pick(d);
    int64_t t;

    ts_drill_wait_ready(d, victim, d->cfg->wait_ms);
    t = ts_drill_delay(d);
    ts_drill_say(d, "cycle %d: SIGTERM to instance %d %lld ms into processing", c + 1, victim,
                 (long long)t);
    ts_drill_sleep(d, t);
    t = ts_wall_ms();
    ts_drill_sigterm(d, victim, "sigterm");
    ts_drill_restart(d, victim, "sigterm", t, TS_DRILL_PROCESSING);
}

static ts_err ts_drill_inst_setup(ts_drill *d, int i)
{
    ts_drill_inst *in = &d->inst[i];
    char err[512];

    memset(in, 0, sizeof(*in));
    in->index = i;
    in->log_fd = -1;
    ts_buf_init(&in->partial, 1 << 20);
    snprintf(in->state_dir, sizeof(in->state_dir), "%s/instance-%d", d->cfg->work_dir, i);
    if (ts_drill_wipe_dir(in->state_dir, err, sizeof(err))) {
        ts_drill_fail(d, "%s", err);
        return TS_ERR_IO;
    }
    if (i >= d->ninst)
        d->ninst = i + 1;
    return TS_OK;
}

/* A new instance with an empty state directory (a new task). */
static int ts_drill_scale_out(ts_drill *d)
{
    int i = 0, starts;

    while (i < d->ninst && (d->inst[i].active || d->inst[i].pid > 0))
        i++;
    if (i >= TS_DRILL_MAX_INSTANCES)
        return -1;
    /* the slot's old state directory went with its task */
    starts = i < d->ninst ? d->inst[i].starts : 0;
    if (i < d->ninst)
        ts_buf_free(&d->inst[i].partial);
    if (ts_drill_inst_setup(d, i))
        return -1;
    d->inst[i].starts = starts;
    d->inst[i].active = 1;
    ts_drill_say(d, "instance %d added (empty disk)", i);
    ts_drill_inst_start(d, i, "scale-out", 0);
    return i;
}

static void ts_drill_cycle_zombie(ts_drill *d, int c)
{
    int victim, outcome = 0; /* 1 rejoined, 2 exited */
    int long_freeze = d->zombies++ % 2 == 1, emitting;
    int64_t t, t_freeze, t_wake, takeover = -1, aborts0, results0, back_ms = 0;
    ts_drill_inst *z;
    int status = 0;

    if (ts_drill_active_count(d) < 2) {
        /* a scale drill left one instance: someone must take over */
        ts_drill_say(d, "cycle %d: a zombie needs another instance", c + 1);
        ts_drill_scale_out(d);
    }
    ts_drill_wait_ready(d, -1, d->cfg->wait_ms);
    victim = ts_drill_pick(d);
    z = &d->inst[victim];
    t = ts_drill_delay(d);
    /* frozen in the middle of a transaction that holds results, if it
     * emits any within the delay */
    ts_drill_say(d, "cycle %d: SIGSTOP to instance %d as it emits a result", c + 1, victim);
    emitting = ts_drill_wait_result(d, victim, t + 15000);
    ts_drill_inst_signal(d, victim, SIGSTOP);
    t_freeze = ts_wall_ms();
    /* the others must have been given every task */
    while (!*d->interrupted && ts_wall_ms() - t_freeze < d->cfg->wait_ms) {
        int tasks = 0, ok = 1;
        ts_drill_tick(d);
        for (int i = 0; i < d->ninst; i++) {
            if (!d->inst[i].active || i == victim)
                continue;
            /* assigned is enough: the zombie then wakes while the new
             * owners may still be restoring its tasks */
            if (d->inst[i].pid <= 0 || d->inst[i].assigned_ms <= t_freeze)
                ok = 0;
            tasks += d->inst[i].assigned_tasks;
        }
        if (ok && tasks == d->cfg->partitions) {
            takeover = ts_wall_ms() - t_freeze;
            break;
        }
        ts_drill_sleep(d, 50);
    }
    if (takeover < 0)
        ts_drill_fail(d, "zombie: the other instances did not take every task over within %lld ms",
                      (long long)d->cfg->wait_ms);
    else
        ts_drill_say(d, "the others took every task over %.1f s after the freeze",
                     (double)takeover / 1000.0);
    if (long_freeze) {
        /* past its transaction timeout: the broker aborts the transaction
         * and bumps the producer epoch before the zombie wakes */
        int64_t until = t_freeze + d->cfg->transaction_timeout_ms + 3000;
        ts_drill_say(d, "keeping it frozen past transaction.timeout.ms (%.1f s more)",
                     (double)(until - ts_wall_ms()) / 1000.0);
        ts_drill_sleep(d, until - ts_wall_ms());
    }
    aborts0 = z->aborts;
    results0 = z->results_logged;
    z->last_abort[0] = '\0';
    z->expect_exit = 1;
    z->hold = 1;
    ts_drill_inst_signal(d, victim, SIGCONT);
    t_wake = ts_wall_ms();
    ts_drill_say(d, "SIGCONT to instance %d after %.1f s frozen", victim,
                 (double)(t_wake - t_freeze) / 1000.0);
    while (!*d->interrupted && ts_wall_ms() - t_wake < d->cfg->wait_ms) {
        ts_drill_tick(d);
        if (z->pid <= 0) {
            ts_drill_run_rec *run = ts_drill_current_run(d, victim);
            status = run->exit_status;
            outcome = 2;
            break;
        }
        if (z->phase == TS_DRILL_PROCESSING && z->assigned_ms > t_wake) {
            outcome = 1;
            break;
        }
        ts_drill_sleep(d, 50);
    }
    back_ms = ts_wall_ms() - t_wake;
    ts_buf_printf(&d->notes, "  zombie: instance %d frozen %s for %.1f s (takeover after %.1f s); ",
                  victim, emitting ? "as it emitted a result" : "while processing",
                  (double)(t_wake - t_freeze) / 1000.0,
                  takeover < 0 ? -1.0 : (double)takeover / 1000.0);
    ts_buf_printf(&d->notes,
                  "%s; on waking it aborted %lld transaction(s)%s%s%s, logged %lld "
                  "result(s) ",
                  long_freeze ? "past its transaction timeout" : "woken at the takeover",
                  (long long)(z->aborts - aborts0), z->last_abort[0] ? " (\"" : "", z->last_abort,
                  z->last_abort[0] ? "\")" : "", (long long)(z->results_logged - results0));
    if (outcome == 1) {
        ts_buf_printf(&d->notes, "and rejoined the group (processing again after %.1f s)\n",
                      (double)back_ms / 1000.0);
    } else if (outcome == 2) {
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        ts_buf_printf(&d->notes, "and exited with %d%s after %.1f s (%s)\n", code,
                      code == 3   ? " (fenced)"
                      : code == 0 ? " (clean stop)"
                                  : "",
                      (double)back_ms / 1000.0, z->last_error[0] ? z->last_error : "no error");
        if (code != 3 && code != 0)
            ts_drill_fail(d, "zombie: instance %d exited with %d, neither fenced (3) nor clean (0)",
                          victim, code);
    } else {
        ts_buf_printf(&d->notes, "and neither rejoined nor exited within %lld ms\n",
                      (long long)d->cfg->wait_ms);
        ts_drill_fail(d, "zombie: instance %d neither rejoined nor exited after waking", victim);
    }
    ts_drill_say(d, "zombie instance %d: %s", victim,
                 outcome == 1   ? "rejoined"
                 : outcome == 2 ? "exited"
                                : "neither rejoined nor exited");
    z->hold = 0;
    if (outcome == 2)
        ts_drill_inst_start(d, victim, "zombie", t_wake);
    z->expect_exit = 0;
}

static int ts_drill_command(ts_drill *d, const char *tmpl, int broker)
{
    char cmd[2048], num[16];
    size_t n = 0;
    const char *s = tmpl;
    int st;

    snprintf(num, sizeof(num), "%d", broker);
    while (*s && n + 16 < sizeof(cmd)) {
        if (!strncmp(s, "{broker}", 8)) {
            n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, "%s", num);
            s += 8;
        } else {
            cmd[n++] = *s++;
        }
    }
    cmd[n] = '\0';
    st = system(cmd);
    if (st != 0)
        ts_drill_fail(d, "broker command failed (status %d): %s", st, cmd);
    return st;
}

static void ts_drill_cycle_broker(ts_drill *d, int c)
{
    int b = (int)ts_drill_rand_range(&d->rng, 1, d->brokers);
    int64_t t, t_down, aborts0 = 0, aborts = 0;
    int exits0 = d->unexpected_exits;
    /* every other broker cycle kills the broker rather than stopping it */
    int kill = d->cfg->broker_kill_command && d->broker_cycles++ % 2 == 1;

    ts_drill_wait_ready(d, -1, d->cfg->wait_ms);
    t = ts_drill_delay(d);
    ts_drill_say(d, "cycle %d: %s broker %d %lld ms into processing", c + 1,
                 kill ? "killing" : "stopping", b, (long long)t);
    ts_drill_sleep(d, t);
    for (int i = 0; i < d->ninst; i++)
        aborts0 += d->inst[i].aborts;
    t_down = ts_wall_ms();
    ts_drill_command(d, kill ? d->cfg->broker_kill_command : d->cfg->broker_stop_command, b);
    ts_drill_say(d, "broker %d %s (%.1f s); keeping it down %lld ms", b,
                 kill ? "killed" : "stopped", (double)(ts_wall_ms() - t_down) / 1000.0,
                 (long long)d->cfg->broker_down_ms);
    ts_drill_sleep(d, d->cfg->broker_down_ms);
    t = ts_wall_ms();
    ts_drill_command(d, d->cfg->broker_start_command, b);
    ts_drill_say(d, "broker %d started again (%.1f s)", b, (double)(ts_wall_ms() - t) / 1000.0);
    ts_drill_wait_ready(d, -1, d->cfg->wait_ms);
    for (int i = 0; i < d->ninst; i++)
        aborts += d->inst[i].aborts;
    ts_buf_printf(&d->notes,
                  "  broker: broker %d %s, down %.1f s; the processors aborted %lld "
                  "transaction(s), %d exited by themselves\n",
                  b, kill ? "killed (SIGKILL)" : "stopped (SIGTERM)", (double)(t - t_down) / 1000.0,
                  (long long)(aborts - aborts0), d->unexpected_exits - exits0);
}

static void ts_drill_cycle_scale(ts_drill *d, int c)
{
    int n = ts_drill_active_count(d), add;
    int64_t t = ts_drill_delay(d);
    char err[512];

    add = n <= 1 ? 1 : n >= d->cfg->scale_max ? 0 : (int)(ts_drill_rand(&d->rng) & 1);
    ts_drill_sleep(d, t);
    if (add) {
        ts_drill_say(d, "cycle %d: scale out to %d instances", c + 1, n + 1);
        ts_drill_scale_out(d);
    } else {
        int i = ts_drill_pick(d);
        ts_drill_say(d, "cycle %d: scale in to %d instances (SIGTERM to instance %d)", c + 1, n - 1,
                     i);
        d->inst[i].active = 0;
        ts_drill_sigterm(d, i, "scale-in");
        /* a task that goes away takes its disk with it */
        if (ts_drill_wipe_dir(d->inst[i].state_dir, err, sizeof(err)))
            ts_drill_fail(d, "%s", err);
    }
    ts_drill_wait_ready(d, -1, d->cfg->wait_ms);
}

static void ts_drill_cycle_stateloss(ts_drill *d, int c)
{
    int victim = ts_drill_pick(d), phase;
    int64_t t;
    char err[512];
    int kill = (int)(ts_drill_rand(&d->rng) & 1);

    ts_drill_wait_ready(d, victim, d->cfg->wait_ms);
    t = ts_drill_delay(d);
    ts_drill_say(d,
                 "cycle %d: %s instance %d %lld ms into processing, then delete its state "
                 "directory",
                 c + 1, kill ? "kill -9" : "SIGTERM", victim, (long long)t);
    ts_drill_sleep(d, t);
    t = ts_wall_ms();
    if (kill) {
        phase = ts_drill_sigkill(d, victim);
    } else {
        phase = TS_DRILL_PROCESSING;
        ts_drill_sigterm(d, victim, "stateloss");
    }
    if (ts_drill_wipe_dir(d->inst[victim].state_dir, err, sizeof(err)))
        ts_drill_fail(d, "%s", err);
    ts_drill_restart(d, victim, "stateloss", t, phase);
    if ((ts_drill_rand(&d->rng) & 1) && d->cfg->stateloss_rekill) {
        /* and sometimes kill it again in the middle of that full restore */
        ts_drill_wait_restoring(d, victim, d->cfg->wait_ms);
        if (d->inst[victim].pid > 0) {
            t = ts_wall_ms();
            phase = ts_drill_sigkill(d, victim);
            ts_drill_say(d, "instance %d killed again while %s (its full restore)", victim,
                         ts_drill_phase_name(phase));
            ts_drill_restart(d, victim, "kill9-in-restore", t, phase);
        }
    }
}

static void ts_drill_cycle(ts_drill *d, int c)
{
    ts_drill_fault f = d->cfg->faults[c % d->cfg->nfaults];

    switch (f) {
    case TS_DRILL_KILL9:
        ts_drill_cycle_kill9(d, c);
        break;
    case TS_DRILL_SIGTERM:
        ts_drill_cycle_sigterm(d, c);
        break;
    case TS_DRILL_ZOMBIE:
        ts_drill_cycle_zombie(d, c);
        break;
    case TS_DRILL_BROKER:
        ts_drill_cycle_broker(d, c);
        break;
    case TS_DRILL_SCALE:
        ts_drill_cycle_scale(d, c);
        break;
    case TS_DRILL_STATELOSS:
        ts_drill_cycle_stateloss(d, c);
        break;
    default:
        ts_drill_say(d, "cycle %d: no fault", c + 1);
        ts_drill_sleep(d, ts_drill_delay(d));
        break;
    }
}

/* ---- the report ---- */

static int ts_drill_i64_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

static void ts_drill_print_diff(const char *what, size_t n, char ex[][160])
{
    printf("  %-22s %zu\n", what, n);
    for (size_t i = 0; i < n && i < TS_DRILL_EXAMPLES; i++)
        printf("      e.g. %s\n", ex[i]);
}

static void ts_drill_report_runs(ts_drill *d)
{
    int64_t *ready = calloc(d->nruns + 1, sizeof(int64_t));
    size_t nready = 0, restarts = 0;
    int64_t replayed = 0, replayed_max = 0;
    int full = 0, tail = 0;

    printf("  restarts (joined, ready: ms from the new process's start to its first assignment "
           "and to every task restored;\n"
           "            restores: full/tail; replayed: changelog records before ready):\n");
    printf("      %-4s %-4s %-17s %-11s %8s %8s %8s %9s %11s %10s\n", "#", "inst", "cause",
           "killed in", "down ms", "joined", "ready", "restores", "replayed", "records/s");
    for (size_t k = 0; k < d->nruns; k++) {
        ts_drill_run_rec *r = &d->runs[k];
        char restores[32], rate[32], readyb[32], downb[32], joinb[32];
        if (!strcmp(r->why, "initial"))
            continue;
        restarts++;
        snprintf(restores, sizeof(restores), "%dF/%dT", r->restores_full, r->restores_tail);
        if (r->ready_ms && r->restore_last_ms > r->restore_first_ms && r->replayed > 0)
            snprintf(rate, sizeof(rate), "%.0f",
                     (double)r->replayed * 1000.0 /
                         (double)(r->restore_last_ms - r->restore_first_ms));
        else
            snprintf(rate, sizeof(rate), "-");
        if (r->ready_ms) {
            snprintf(readyb, sizeof(readyb), "%lld", (long long)(r->ready_ms - r->start_ms));
            ready[nready++] = r->ready_ms - r->start_ms;
        } else {
            snprintf(readyb, sizeof(readyb), "never");
        }
        if (r->assigned_ms)
            snprintf(joinb, sizeof(joinb), "%lld", (long long)(r->assigned_ms - r->start_ms));
        else
            snprintf(joinb, sizeof(joinb), "never");
        if (r->fault_ms)
            snprintf(downb, sizeof(downb), "%lld", (long long)(r->start_ms - r->fault_ms));
        else
            snprintf(downb, sizeof(downb), "-");
        printf("      %-4zu %-4d %-17s %-11s %8s %8s %8s %9s %11lld %10s\n", restarts, r->instance,
               r->why, r->killed_phase >= 0 ? ts_drill_phase_name(r->killed_phase) : "-", downb,
               joinb, readyb, restores, (long long)r->replayed, rate);
        replayed += r->replayed;
        if (r->replayed > replayed_max)
            replayed_max = r->replayed;
        full += r->restores_full;
        tail += r->restores_tail;
    }
    if (nready) {
        qsort(ready, nready, sizeof(int64_t), ts_drill_i64_cmp);
        printf("  restarts total         %zu; ready after median %.1f s, max %.1f s; restores "
               "%d full, %d tail; replayed %lld records (at most %lld in one restart)\n",
               restarts, (double)ready[nready / 2] / 1000.0, (double)ready[nready - 1] / 1000.0,
               full, tail, (long long)replayed, (long long)replayed_max);
    } else {
        printf("  restarts total         %zu\n", restarts);
    }
    free(ready);
}

static void ts_drill_report_stops(ts_drill *d)
{
    int64_t *ms;
    size_t n = 0;

    if (d->nstops == 0)
        return;
    ms = calloc(d->nstops, sizeof(int64_t));
    for (size_t i = 0; i < d->nstops; i++)
        ms[n++] = d->stops[i].ms;
    qsort(ms, n, sizeof(int64_t), ts_drill_i64_cmp);
    printf("  sigterm to exit        %zu stops: min %lld ms, median %lld ms, max %lld ms\n", n,
           (long long)ms[0], (long long)ms[n / 2], (long long)ms[n - 1]);
    free(ms);
}

static void ts_drill_check_runs(ts_drill *d)
{
    for (size_t k = 0; k < d->nruns; k++)
        if (d->runs[k].tail_after_loss)
            ts_drill_fail(d,
                          "instance %d restored %d task(s) by tail replay right after its state "
                          "directory was deleted (expected a full restore)",
                          d->runs[k].instance, d->runs[k].tail_after_loss);
}

/* ---- the drill ---- */

static ts_err ts_drill_setup(ts_drill *d, rd_kafka_t *admin, char *errstr, size_t errstr_size)
{
    ts_drill_config *cfg = d->cfg;
    ts_drill_gen_params gp;
    int parts = 0;
    int64_t span, now;
    ts_err err;

    err = ts_kafka_topic_partitions(admin, "__consumer_offsets", 30000, &parts, &d->brokers, errstr,
                                    errstr_size);
    if (err)
        return err;
    d->rf = (int)(cfg->replication_factor ? cfg->replication_factor
                                          : (d->brokers < 3 ? d->brokers : 3));
    snprintf(d->app, sizeof(d->app), "%s", cfg->application_id);
    snprintf(d->topics.input, sizeof(d->topics.input), "%s-input", d->app);
    snprintf(d->topics.output, sizeof(d->topics.output), "%s-output", d->app);
    snprintf(d->topics.repartition, sizeof(d->topics.repartition), "%s-repartition", d->app);
    snprintf(d->topics.changelog, sizeof(d->topics.changelog), "%s-counts-changelog", d->app);

    /* Phase k is fed once phase k-2 is processed, so a record reaches its
     * task at most two phases behind the newest one: a grace longer than
     * that makes every window's count independent of how the partitions
     * interleave, while windows still close during the drill. */
    d->phase_ms = 2 * cfg->window_size_ms;
    d->grace_ms = 2 * d->phase_ms + cfg->window_size_ms;
    d->retention_ms =
        cfg->window_retention_ms ? cfg->window_retention_ms : cfg->window_size_ms + d->grace_ms;
    if (d->retention_ms < cfg->window_size_ms + d->grace_ms)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "window.retention.ms: at least %lld (window size + the drill's grace)",
                         (long long)(cfg->window_size_ms + d->grace_ms));
    span = cfg->phases * d->phase_ms;
    /* event time in the last few hours: the broker keeps it (7 days) and
     * accepts it (not in the future) */
    now = ts_wall_ms();
    if (span + d->grace_ms > 5LL * 24 * 3600 * 1000)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "phases: %lld phases span more event time than the broker keeps",
                         (long long)cfg->phases);
    memset(&gp, 0, sizeof(gp));
    gp.base = now - 2LL * 3600 * 1000 - span - d->grace_ms;
    gp.base -= gp.base % cfg->window_size_ms;
    d->closer_ts = gp.base + span + d->grace_ms + 2 * cfg->window_size_ms;
    gp.seed = (uint64_t)cfg->seed;
    gp.records = cfg->records;
    gp.partitions = (int32_t)cfg->partitions;
    gp.tags = cfg->tags;
    gp.hot_share = (int)cfg->hot_share;
    gp.junk_share = (int)cfg->junk_share;
    gp.span = span;
    gp.window_ms = cfg->window_size_ms;
    gp.min_count = cfg->min_count;
    err = ts_drill_gen_init(&d->gen, &gp, errstr, errstr_size);
    if (err)
        return err;
    err = ts_fs_mkdirs(cfg->work_dir, errstr, errstr_size);
    if (err)
        return err;
    err = ts_drill_create_topic(admin, d->topics.input, (int)cfg->partitions, d->rf, errstr,
                                errstr_size);
    if (!err)
        err = ts_drill_create_topic(admin, d->topics.output, (int)cfg->output_partitions, d->rf,
                                    errstr, errstr_size);
    if (err)
        return err;
    /* the brokers learn of new topics a little after the creation returns:
     * a processor started too early finds no output topic */
    for (int seen = 0, tries = 0; seen < 5; tries++) {
        if (tries > 300)
            return ts_seterr(TS_ERR_TIMEOUT, errstr, errstr_size,
                             "the new topics did not appear in the metadata");
        if (ts_drill_partitions(admin, d->topics.input) > 0 &&
            ts_drill_partitions(admin, d->topics.output) > 0)
            seen++;
        else
            seen = 0;
        usleep(100000);
    }
    return TS_OK;
}

static void ts_drill_cleanup_topics(ts_drill *d, rd_kafka_t *admin)
{
    const char *topics[] = {d->topics.input, d->topics.output, d->topics.repartition,
                            d->topics.changelog};

    ts_drill_delete(admin, topics, 4, d->app);
}

int ts_drill_main(ts_drill_config *cfg, ts_conf *conf, volatile sig_atomic_t *interrupted)
{
    ts_drill d;
    rd_kafka_t *admin = NULL;
    ts_drill_results want = {NULL, 0, 0}, got = {NULL, 0, 0};
    ts_drill_diff diff;
    size_t committed_recs = 0, uncommitted_recs = 0, bad = 0, bad2 = 0;
    char err[1024];
    int rc = 3, finished = 0, topics_created = 0;
    int64_t t_end;

    memset(&d, 0, sizeof(d));
    memset(&diff, 0, sizeof(diff));
    d.cfg = cfg;
    d.conf = conf;
    d.interrupted = interrupted;
    d.t0 = ts_wall_ms();
    d.rng = (uint64_t)cfg->seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;
    ts_buf_init(&d.notes, 0);
    ts_buf_init(&d.failures, 0);

    admin = ts_drill_client(cfg, conf, RD_KAFKA_PRODUCER, NULL, err, sizeof(err));
    if (!admin) {
        fprintf(stderr, "tagstream-drill: %s\n", err);
        goto out;
    }
    if (ts_drill_setup(&d, admin, err, sizeof(err))) {
        fprintf(stderr, "tagstream-drill: %s\n", err);
        goto out;
    }
    topics_created = 1;
    if (ts_drill_gen_expected(&d.gen, &want, err, sizeof(err))) {
        fprintf(stderr, "tagstream-drill: %s\n", err);
        goto out;
    }
    ts_drill_say(&d,
                 "drill %s: fault %s, %lld cycle(s), %lld instance(s), seed %lld; %lld records "
                 "over %lld partitions, %zu expected results; %d broker(s), replication %d",
                 d.app, cfg->fault, (long long)cfg->cycles, (long long)cfg->instances,
                 (long long)cfg->seed, (long long)cfg->records, (long long)cfg->partitions, want.n,
                 d.brokers, d.rf);
    ts_drill_say(&d, "work directory %s", cfg->work_dir);

    for (int i = 0; i < cfg->instances; i++) {
        if (ts_drill_inst_setup(&d, i))
            goto out;
        d.inst[i].active = 1;
        if (ts_drill_inst_start(&d, i, "initial", 0))
            goto out;
    }
    d.feed.cfg = cfg;
    d.feed.conf = conf;
    d.feed.gen = &d.gen;
    d.feed.topics = &d.topics;
    d.feed.group = d.app;
    d.feed.phase_ms = d.phase_ms;
    d.feed.closer_ts = d.closer_ts;
    d.feed.repartitions = (int32_t)cfg->partitions;
    d.feed.stop = &d.feed_stop;
    d.chunk = 1;
    atomic_store(&d.feed.allowed, cfg->preload);
    if (ts_drill_feed_start(&d.feed, err, sizeof(err))) {
        fprintf(stderr, "tagstream-drill: %s\n", err);
        goto out;
    }
    rc = 1;
    if (cfg->preload > 0) {
        ts_drill_say(&d, "preloading %lld records", (long long)cfg->preload);
        t_end = ts_wall_ms() + cfg->timeout_ms;
        while (!*interrupted && atomic_load(&d.feed.consumed) < cfg->preload &&
               !atomic_load(&d.feed.failed) && ts_wall_ms() < t_end)
            ts_drill_sleep(&d, 100);
        ts_drill_say(&d, "preload processed: %lld records",
                     (long long)atomic_load(&d.feed.consumed));
    }
    ts_drill_wait_ready(&d, -1, cfg->wait_ms);

    d.chunk = (cfg->records - cfg->preload) / (cfg->cycles + 1) + 1;
    for (int c = 0; c < cfg->cycles && !*interrupted && !atomic_load(&d.feed.failed); c++) {
        int64_t allowed =
            cfg->preload + (cfg->records - cfg->preload) * (int64_t)(c + 1) / (cfg->cycles + 1);
        if (allowed > atomic_load(&d.feed.allowed))
            atomic_store(&d.feed.allowed, allowed);
        ts_drill_cycle(&d, c);
        d.cycles_done++;
    }
    atomic_store(&d.feed.allowed, cfg->records);
    for (int i = 0; i < d.ninst; i++)
        d.inst[i].hold = 0;
    if (*interrupted)
        d.feed_stop = 1;

    ts_drill_say(&d, "cycles done; waiting for all input to be processed");
    t_end = ts_wall_ms() + cfg->timeout_ms;
    {
        int64_t next_note = ts_wall_ms() + 30000;
        while (!*interrupted && !atomic_load(&d.feed.done) && !atomic_load(&d.feed.failed) &&
               ts_wall_ms() < t_end) {
            ts_drill_sleep(&d, 100);
            if (ts_wall_ms() > next_note) {
                char states[512];
                size_t n = 0;
                next_note += 30000;
                states[0] = '\0';
                for (int i = 0; i < d.ninst && n < sizeof(states) - 40; i++)
                    if (d.inst[i].active)
                        n += (size_t)snprintf(states + n, sizeof(states) - n, " %d:%s", i,
                                              ts_drill_phase_name(d.inst[i].phase));
                ts_drill_say(&d,
                             "still waiting: %lld records produced, %lld known processed%s; "
                             "instances%s",
                             (long long)atomic_load(&d.feed.produced),
                             (long long)atomic_load(&d.feed.consumed),
                             atomic_load(&d.feed.closers_sent) ? ", closers sent" : "", states);
            }
        }
    }
    if (atomic_load(&d.feed.failed)) {
        ts_drill_fail(&d, "feeding the input failed: %s", d.feed.errstr);
    } else if (*interrupted) {
        ts_drill_fail(&d, "interrupted");
    } else if (!atomic_load(&d.feed.done)) {
        ts_drill_fail(&d,
                      "not all input was processed within %lld ms (%lld of %lld records "
                      "produced, %lld known processed, closers %s)",
                      (long long)cfg->timeout_ms, (long long)atomic_load(&d.feed.produced),
                      (long long)cfg->records, (long long)atomic_load(&d.feed.consumed),
                      atomic_load(&d.feed.closers_sent) ? "sent" : "not sent");
    } else {
        finished = 1;
        ts_drill_say(&d, "all input processed");
    }
    /* the end of the service: every instance stops gracefully */
    for (int i = 0; i < d.ninst; i++) {
        d.inst[i].hold = 1;
        if (d.inst[i].pid > 0)
            ts_drill_sigterm(&d, i, "end");
    }
    d.feed_stop = 1;
    ts_drill_feed_join(&d.feed);

    if (finished) {
        if (ts_drill_read_output(cfg, conf, d.topics.output, 0, &got, &committed_recs, &bad, err,
                                 sizeof(err)))
            ts_drill_fail(&d, "reading the output: %s", err);
        if (bad)
            ts_drill_fail(&d, "%zu malformed output record(s), e.g. %s", bad, err);
        if (ts_drill_read_output(cfg, conf, d.topics.output, 1, NULL, &uncommitted_recs, &bad2, err,
                                 sizeof(err)))
            ts_drill_fail(&d, "reading the output (read_uncommitted): %s", err);
        ts_drill_compare(&want, &got, &diff);
    }
    ts_drill_check_runs(&d);
    if (d.unexpected_exits)
        ts_drill_fail(&d, "%d processor exit(s) the drill did not cause, e.g. %s",
                      d.unexpected_exits, d.unexpected_ex[0]);

    printf("\n== tagstream-drill summary ==\n");
    printf("  application            %s\n", d.app);
    printf("  fault                  %s, %d of %lld cycle(s), %lld instance(s), seed %lld\n",
           cfg->fault, d.cycles_done, (long long)cfg->cycles, (long long)cfg->instances,
           (long long)cfg->seed);
    printf("  input records          %lld (+%d closing), %lld partitions, %lld tags\n",
           (long long)cfg->records, d.feed.nclosers, (long long)cfg->partitions,
           (long long)cfg->tags);
    printf("  expected results       %zu\n", want.n);
    printf("  output records         %zu read_committed; %zu more in aborted transactions\n",
           committed_recs,
           uncommitted_recs > committed_recs ? uncommitted_recs - committed_recs : 0);
    ts_drill_print_diff("missing", diff.missing, diff.missing_ex);
    ts_drill_print_diff("duplicate", diff.duplicate, diff.duplicate_ex);
    ts_drill_print_diff("wrong count", diff.wrong, diff.wrong_ex);
    ts_drill_print_diff("unexpected", diff.unexpected, diff.unexpected_ex);
    printf("  kills by phase         starting %d, joining %d, restoring %d, processing %d\n",
           d.kills_by_phase[TS_DRILL_STARTING], d.kills_by_phase[TS_DRILL_JOINING],
           d.kills_by_phase[TS_DRILL_RESTORING], d.kills_by_phase[TS_DRILL_PROCESSING]);
    ts_drill_report_runs(&d);
    ts_drill_report_stops(&d);
    if (d.notes.len)
        printf("%s", d.notes.data);
    printf("  unexpected exits       %d\n", d.unexpected_exits);
    printf("  feeder waits           %.1f s waiting for the processors to catch up\n",
           (double)atomic_load(&d.feed.gate_waits_ms) / 1000.0);
    printf("  elapsed                %.1f s\n", (double)(ts_wall_ms() - d.t0) / 1000.0);
    if (d.nfailures)
        printf("  failures               %d\n%s", d.nfailures, d.failures.data);
    rc = finished && !d.nfailures && !diff.missing && !diff.duplicate && !diff.wrong &&
                 !diff.unexpected
             ? 0
             : 1;
    printf("result: %s\n", rc == 0 ? "PASS" : "FAIL");
    fflush(stdout);

out:
    for (int i = 0; i < d.ninst; i++) {
        int64_t ms;
        if (d.inst[i].pid > 0)
            ts_drill_inst_stop(&d, i, SIGKILL, 5000, &ms);
    }
    if (d.feed.started) {
        d.feed_stop = 1;
        ts_drill_feed_join(&d.feed);
    }
    if (admin && topics_created) {
        if (rc == 0 && !cfg->keep_topics)
            ts_drill_cleanup_topics(&d, admin);
        else if (rc != 0)
            printf("topics kept for inspection: %s-*\n", d.app);
    }
    if (rc == 0 && !cfg->keep_work_dir)
        ts_drill_wipe_dir(cfg->work_dir, err, sizeof(err));
    else if (rc != 0 && topics_created)
        printf("logs and state kept in %s\n", cfg->work_dir);
    for (int i = 0; i < d.ninst; i++) {
        ts_buf_free(&d.inst[i].partial);
        if (d.inst[i].log_fd >= 0)
            close(d.inst[i].log_fd);
    }
    if (admin)
        rd_kafka_destroy(admin);
    ts_drill_results_free(&want);
    ts_drill_results_free(&got);
    ts_drill_gen_free(&d.gen);
    free(d.runs);
    free(d.stops);
    ts_buf_free(&d.notes);
    ts_buf_free(&d.failures);
    return rc;
}
