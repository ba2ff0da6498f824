/*
 * The drill's faults: one cycle of each (kill -9, SIGTERM, a frozen
 * instance, a broker down, scale out and in, a lost state directory), and
 * the waits they are built from. See docs/DRILLS.md for what each proves.
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
int ts_drill_wait_ready(ts_drill *d, int i, int64_t timeout_ms)
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
void ts_drill_sigterm(ts_drill *d, int i, const char *why)
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
    ts_drill_tasks_stopped(d, i, ts_wall_ms());
    ts_drill_inst_stop(d, i, SIGKILL, 10000, &ms);
    d->kills_by_phase[phase]++;
    return phase;
}

/* Keep instance i down for a random while, then start it again. */
static void ts_drill_restart(ts_drill *d, int i, const char *why, int64_t fault_ms, int phase)
{
    int64_t down = ts_drill_rand_range(&d->rng, d->cfg->down_min_ms, d->cfg->down_max_ms);

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

/* Revocations the instances other than i have logged so far. */
static int64_t ts_drill_others_revoked(const ts_drill *d, int i)
{
    int64_t n = 0;

    for (int k = 0; k < d->ninst; k++)
        if (k != i)
            n += d->inst[k].revocations;
    return n;
}

/* With static membership, an instance that comes back with its identity
 * within the session timeout takes its partitions back without a
 * rebalance: once it processes again, none of the others may have been
 * revoked since it was killed (`revoked`: their count then). */
static void ts_drill_check_static(ts_drill *d, int victim, int64_t revoked)
{
    int64_t now;

    if (!ts_drill_wait_ready(d, victim, d->cfg->wait_ms))
        return;
    now = ts_drill_others_revoked(d, victim);
    if (now != revoked)
        ts_drill_fail(d,
                      "static membership: instance %d came back with its identity, yet the "
                      "others were revoked %lld time(s) (a rebalance)",
                      victim, (long long)(now - revoked));
    else
        ts_drill_say(d, "instance %d is back with its partitions; no other instance was revoked",
                     victim);
}

/* ---- the faults ---- */

static void ts_drill_cycle_kill9(ts_drill *d, int c)
{
    int when = d->cfg->kill9_when, victim, phase;
    int64_t t, revoked;

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
    ts_drill_tick(d);
    revoked = ts_drill_others_revoked(d, victim);
    t = ts_wall_ms();
    phase = ts_drill_sigkill(d, victim);
    ts_drill_say(d, "instance %d killed while %s", victim, ts_drill_phase_name(phase));
    ts_drill_restart(d, victim, "kill9", t, phase);
    if (d->cfg->static_membership)
        ts_drill_check_static(d, victim, revoked);
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

ts_err ts_drill_inst_setup(ts_drill *d, int i)
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

/* A rolling deploy, as ECS makes one: the instances in turn get SIGTERM
 * and are replaced by a new one on an empty state directory (so a new
 * instance id); the next one only once every instance processes again. */
static void ts_drill_cycle_replace(ts_drill *d, int c)
{
    int n = ts_drill_active_count(d), victim = -1, k;
    int64_t t;
    char err[512];

    ts_drill_wait_ready(d, -1, d->cfg->wait_ms);
    k = n > 0 ? c % n : 0;
    for (int i = 0; i < d->ninst && victim < 0; i++)
        if (d->inst[i].active && k-- == 0)
            victim = i;
    if (victim < 0)
        return;
    ts_drill_say(d, "cycle %d: replacing instance %d (SIGTERM, a new one on an empty disk)", c + 1,
                 victim);
    t = ts_wall_ms();
    ts_drill_sigterm(d, victim, "replace");
    if (ts_drill_wipe_dir(d->inst[victim].state_dir, err, sizeof(err)))
        ts_drill_fail(d, "%s", err);
    ts_drill_restart(d, victim, "replace", t, TS_DRILL_PROCESSING);
    ts_drill_wait_ready(d, -1, d->cfg->wait_ms);
}

void ts_drill_cycle(ts_drill *d, int c)
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
    case TS_DRILL_REPLACE:
        ts_drill_cycle_replace(d, c);
        break;
    default:
        ts_drill_say(d, "cycle %d: no fault", c + 1);
        ts_drill_sleep(d, ts_drill_delay(d));
        break;
    }
}
