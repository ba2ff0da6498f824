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

/* What the drill found in the output, for the summary. */
typedef struct ts_drill_outcome {
    ts_drill_results want, got;
    ts_drill_diff diff;
    size_t committed_recs;   /* output records read_committed */
    size_t uncommitted_recs; /* output records read_uncommitted */
    int finished;            /* all input was processed */
} ts_drill_outcome;

static void ts_drill_init(ts_drill *d, ts_drill_config *cfg, ts_conf *conf,
                          volatile sig_atomic_t *interrupted)
{
    memset(d, 0, sizeof(*d));
    d->cfg = cfg;
    d->conf = conf;
    d->interrupted = interrupted;
    d->t0 = ts_wall_ms();
    d->rng = (uint64_t)cfg->seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;
    for (int p = 0; p < TS_DRILL_MAX_PARTS; p++)
        d->task_owner[p] = -1;
    ts_buf_init(&d->notes, 0);
    ts_buf_init(&d->failures, 0);
}

/* Create the topics, compute the expected results, start the instances and
 * the feeder. A failure has been printed; the drill could not run. */
static ts_err ts_drill_start(ts_drill *d, ts_drill_results *want)
{
    ts_drill_config *cfg = d->cfg;
    char err[1024];

    d->admin = ts_drill_client(cfg, d->conf, RD_KAFKA_PRODUCER, NULL, err, sizeof(err));
    if (!d->admin)
        goto fail;
    if (ts_drill_setup(d, d->admin, err, sizeof(err)))
        goto fail;
    d->topics_created = 1;
    if (ts_drill_gen_expected(&d->gen, want, err, sizeof(err)))
        goto fail;
    ts_drill_say(d,
                 "drill %s: fault %s, %lld cycle(s), %lld instance(s), seed %lld; %lld records "
                 "over %lld partitions, %zu expected results; %d broker(s), replication %d",
                 d->app, cfg->fault, (long long)cfg->cycles, (long long)cfg->instances,
                 (long long)cfg->seed, (long long)cfg->records, (long long)cfg->partitions, want->n,
                 d->brokers, d->rf);
    ts_drill_say(d, "work directory %s", cfg->work_dir);

    for (int i = 0; i < cfg->instances; i++) {
        if (ts_drill_inst_setup(d, i))
            return TS_ERR_IO;
        d->inst[i].active = 1;
        if (ts_drill_inst_start(d, i, "initial", 0))
            return TS_ERR_IO;
    }
    d->feed.cfg = cfg;
    d->feed.conf = d->conf;
    d->feed.gen = &d->gen;
    d->feed.topics = &d->topics;
    d->feed.group = d->app;
    d->feed.phase_ms = d->phase_ms;
    d->feed.closer_ts = d->closer_ts;
    d->feed.repartitions = (int32_t)cfg->partitions;
    d->feed.stop = &d->feed_stop;
    d->chunk = 1;
    atomic_store(&d->feed.allowed, cfg->preload);
    if (ts_drill_feed_start(&d->feed, err, sizeof(err)))
        goto fail;
    return TS_OK;
fail:
    fprintf(stderr, "tagstream-drill: %s\n", err);
    return TS_ERR_INVALID;
}

/* Let the preload through and wait until it is processed (or time is up). */
static void ts_drill_preload(ts_drill *d)
{
    ts_drill_config *cfg = d->cfg;
    int64_t t_end;

    if (cfg->preload <= 0)
        return;
    ts_drill_say(d, "preloading %lld records", (long long)cfg->preload);
    t_end = ts_wall_ms() + cfg->timeout_ms;
    while (!*d->interrupted && atomic_load(&d->feed.consumed) < cfg->preload &&
           !atomic_load(&d->feed.failed) && ts_wall_ms() < t_end)
        ts_drill_sleep(d, 100);
    ts_drill_say(d, "preload processed: %lld records", (long long)atomic_load(&d->feed.consumed));
}

/* The fault cycles, each letting through its share of the input; then the
 * rest of the input. */
static void ts_drill_run_cycles(ts_drill *d)
{
    ts_drill_config *cfg = d->cfg;

    d->chunk = (cfg->records - cfg->preload) / (cfg->cycles + 1) + 1;
    for (int c = 0; c < cfg->cycles && !*d->interrupted && !atomic_load(&d->feed.failed); c++) {
        int64_t allowed =
            cfg->preload + (cfg->records - cfg->preload) * (int64_t)(c + 1) / (cfg->cycles + 1);
        if (allowed > atomic_load(&d->feed.allowed))
            atomic_store(&d->feed.allowed, allowed);
        ts_drill_cycle(d, c);
        d->cycles_done++;
    }
    atomic_store(&d->feed.allowed, cfg->records);
    for (int i = 0; i < d->ninst; i++)
        d->inst[i].hold = 0;
    if (*d->interrupted)
        d->feed_stop = 1;
}

/* Every 30 seconds of waiting: how far the feeder and the instances are. */
static void ts_drill_say_waiting(ts_drill *d)
{
    char states[512];
    size_t n = 0;

    states[0] = '\0';
    for (int i = 0; i < d->ninst && n < sizeof(states) - 40; i++)
        if (d->inst[i].active)
            n += (size_t)snprintf(states + n, sizeof(states) - n, " %d:%s", i,
                                  ts_drill_phase_name(d->inst[i].phase));
    ts_drill_say(d, "still waiting: %lld records produced, %lld known processed%s; instances%s",
                 (long long)atomic_load(&d->feed.produced),
                 (long long)atomic_load(&d->feed.consumed),
                 atomic_load(&d->feed.closers_sent) ? ", closers sent" : "", states);
}

/* Wait until all input is processed. Returns whether it was; why not is
 * recorded as a failure. */
static int ts_drill_drain(ts_drill *d)
{
    ts_drill_config *cfg = d->cfg;
    int64_t t_end, next_note;

    ts_drill_say(d, "cycles done; waiting for all input to be processed");
    t_end = ts_wall_ms() + cfg->timeout_ms;
    next_note = ts_wall_ms() + 30000;
    while (!*d->interrupted && !atomic_load(&d->feed.done) && !atomic_load(&d->feed.failed) &&
           ts_wall_ms() < t_end) {
        ts_drill_sleep(d, 100);
        if (ts_wall_ms() > next_note) {
            next_note += 30000;
            ts_drill_say_waiting(d);
        }
    }
    if (atomic_load(&d->feed.failed)) {
        ts_drill_fail(d, "feeding the input failed: %s", d->feed.errstr);
    } else if (*d->interrupted) {
        ts_drill_fail(d, "interrupted");
    } else if (!atomic_load(&d->feed.done)) {
        ts_drill_fail(d,
                      "not all input was processed within %lld ms (%lld of %lld records "
                      "produced, %lld known processed, closers %s)",
                      (long long)cfg->timeout_ms, (long long)atomic_load(&d->feed.produced),
                      (long long)cfg->records, (long long)atomic_load(&d->feed.consumed),
                      atomic_load(&d->feed.closers_sent) ? "sent" : "not sent");
    } else {
        ts_drill_say(d, "all input processed");
        return 1;
    }
    return 0;
}

/* The end of the service: every instance stops gracefully, the feeder too. */
static void ts_drill_end_service(ts_drill *d)
{
    for (int i = 0; i < d->ninst; i++) {
        d->inst[i].hold = 1;
        if (d->inst[i].pid > 0)
            ts_drill_sigterm(d, i, "end");
    }
    d->feed_stop = 1;
    ts_drill_feed_join(&d->feed);
}

/* Read the output (once finished) and compare it with the expected results;
 * check the runs and the exits. */
static void ts_drill_verify(ts_drill *d, ts_drill_outcome *o)
{
    size_t bad = 0, bad2 = 0;
    char err[1024];

    if (o->finished) {
        if (ts_drill_read_output(d->cfg, d->conf, d->topics.output, 0, &o->got, &o->committed_recs,
                                 &bad, err, sizeof(err)))
            ts_drill_fail(d, "reading the output: %s", err);
        if (bad)
            ts_drill_fail(d, "%zu malformed output record(s), e.g. %s", bad, err);
        if (ts_drill_read_output(d->cfg, d->conf, d->topics.output, 1, NULL, &o->uncommitted_recs,
                                 &bad2, err, sizeof(err)))
            ts_drill_fail(d, "reading the output (read_uncommitted): %s", err);
        ts_drill_compare(&o->want, &o->got, &o->diff);
    }
    ts_drill_check_runs(d);
    if (d->unexpected_exits)
        ts_drill_fail(d, "%d processor exit(s) the drill did not cause, e.g. %s",
                      d->unexpected_exits, d->unexpected_ex[0]);
}

/* Print the summary; returns the exit code (0 pass, 1 fail). */
static int ts_drill_summary(ts_drill *d, ts_drill_outcome *o)
{
    ts_drill_config *cfg = d->cfg;
    ts_drill_diff *diff = &o->diff;
    int rc;

    printf("\n== tagstream-drill summary ==\n");
    printf("  application            %s\n", d->app);
    printf("  fault                  %s, %d of %lld cycle(s), %lld instance(s), seed %lld\n",
           cfg->fault, d->cycles_done, (long long)cfg->cycles, (long long)cfg->instances,
           (long long)cfg->seed);
    printf("  input records          %lld (+%d closing), %lld partitions, %lld tags\n",
           (long long)cfg->records, d->feed.nclosers, (long long)cfg->partitions,
           (long long)cfg->tags);
    printf("  expected results       %zu\n", o->want.n);
    printf("  output records         %zu read_committed; %zu more in aborted transactions\n",
           o->committed_recs,
           o->uncommitted_recs > o->committed_recs ? o->uncommitted_recs - o->committed_recs : 0);
    ts_drill_print_diff("missing", diff->missing, diff->missing_ex);
    ts_drill_print_diff("duplicate", diff->duplicate, diff->duplicate_ex);
    ts_drill_print_diff("wrong count", diff->wrong, diff->wrong_ex);
    ts_drill_print_diff("unexpected", diff->unexpected, diff->unexpected_ex);
    printf("  kills by phase         starting %d, joining %d, restoring %d, processing %d\n",
           d->kills_by_phase[TS_DRILL_STARTING], d->kills_by_phase[TS_DRILL_JOINING],
           d->kills_by_phase[TS_DRILL_RESTORING], d->kills_by_phase[TS_DRILL_PROCESSING]);
    ts_drill_report_runs(d);
    ts_drill_report_stops(d);
    if (d->longest_gap_ms > 0)
        printf("  longest processing gap %lld ms (task 1_%d: from its revocation or its owner's "
               "death to its restore elsewhere)\n",
               (long long)d->longest_gap_ms, d->longest_gap_task);
    if (d->notes.len)
        printf("%s", d->notes.data);
    printf("  unexpected exits       %d\n", d->unexpected_exits);
    printf("  feeder waits           %.1f s waiting for the processors to catch up\n",
           (double)atomic_load(&d->feed.gate_waits_ms) / 1000.0);
    printf("  elapsed                %.1f s\n", (double)(ts_wall_ms() - d->t0) / 1000.0);
    if (d->nfailures)
        printf("  failures               %d\n%s", d->nfailures, d->failures.data);
    rc = o->finished && !d->nfailures && !diff->missing && !diff->duplicate && !diff->wrong &&
                 !diff->unexpected
             ? 0
             : 1;
    printf("result: %s\n", rc == 0 ? "PASS" : "FAIL");
    fflush(stdout);
    return rc;
}

/* Kill what is left, and remove the topics and the work directory of a
 * drill that passed (keep them for inspection otherwise). */
static void ts_drill_teardown(ts_drill *d, int rc)
{
    ts_drill_config *cfg = d->cfg;
    char err[1024];

    for (int i = 0; i < d->ninst; i++) {
        int64_t ms;
        if (d->inst[i].pid > 0)
            ts_drill_inst_stop(d, i, SIGKILL, 5000, &ms);
    }
    if (d->feed.started) {
        d->feed_stop = 1;
        ts_drill_feed_join(&d->feed);
    }
    if (d->admin && d->topics_created) {
        if (rc == 0 && !cfg->keep_topics)
            ts_drill_cleanup_topics(d, d->admin);
        else if (rc != 0)
            printf("topics kept for inspection: %s-*\n", d->app);
    }
    if (rc == 0 && !cfg->keep_work_dir)
        ts_drill_wipe_dir(cfg->work_dir, err, sizeof(err));
    else if (rc != 0 && d->topics_created)
        printf("logs and state kept in %s\n", cfg->work_dir);
    for (int i = 0; i < d->ninst; i++) {
        ts_buf_free(&d->inst[i].partial);
        if (d->inst[i].log_fd >= 0)
            close(d->inst[i].log_fd);
    }
    if (d->admin)
        rd_kafka_destroy(d->admin);
    ts_drill_gen_free(&d->gen);
    free(d->runs);
    free(d->stops);
    ts_buf_free(&d->notes);
    ts_buf_free(&d->failures);
}

int ts_drill_main(ts_drill_config *cfg, ts_conf *conf, volatile sig_atomic_t *interrupted)
{
    ts_drill d;
    ts_drill_outcome o;
    int rc = 3; /* could not run, until the feeder runs */

    ts_drill_init(&d, cfg, conf, interrupted);
    memset(&o, 0, sizeof(o));
    if (ts_drill_start(&d, &o.want) == TS_OK) {
        rc = 1;
        ts_drill_preload(&d);
        ts_drill_wait_ready(&d, -1, cfg->wait_ms);
        ts_drill_run_cycles(&d);
        o.finished = ts_drill_drain(&d);
        ts_drill_end_service(&d);
        ts_drill_verify(&d, &o);
        rc = ts_drill_summary(&d, &o);
    }
    ts_drill_teardown(&d, rc);
    ts_drill_results_free(&o.want);
    ts_drill_results_free(&o.got);
    return rc;
}
