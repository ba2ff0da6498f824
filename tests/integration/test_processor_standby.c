/*
 * Standby replicas against the real broker, with two real processors: the
 * instance that joins second keeps standbys of the tasks it does not own,
 * and when the first one stops (SIGTERM, so its tasks move at once) it
 * takes them over from those standbys, replaying a tail instead of the
 * whole changelog. Without standbys its first restore of those tasks would
 * be a full one: its state directory never held them.
 */
#include "proc.h"
#include "testkit.h"
#include "ts_fs.h"
#include "ts_store.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define WINDOW 20000

static tk_proc start(const char *app, const char *state, const char *in, const char *out)
{
    static const char *const extra[] = {"-X", "num.standby.replicas=1", "-X",
                                        "kafka.session.timeout.ms=10000", NULL};

    return tk_processor_start(&(tk_processor_opts){app, state, in, out, "", extra});
}

/* Tags over both partitions of the input, 5 records each, at event time ts. */
static void feed(rd_kafka_t *prod, const char *topic, int from, int n, int64_t ts)
{
    char tag[32];

    for (int i = from; i < from + n; i++) {
        snprintf(tag, sizeof(tag), "tag%04d", i);
        for (int k = 0; k < 5; k++)
            tk_send(prod, topic, i % 2, NULL, 0, tag, strlen(tag), ts + i);
    }
    tk_flush(prod);
}

/* The changelog offset recorded in the store of task part under state
 * (read as a secondary instance while the processor has it open), or -1. */
static int64_t store_offset(const char *state, const char *app, int part)
{
    char dir[600], scratch[600], err[512];
    ts_store *s = NULL;
    ts_store_meta m;
    int64_t off = -1;

    snprintf(dir, sizeof(dir), "%s/%s/1_%d", state, app, part);
    snprintf(scratch, sizeof(scratch), "%s.secondary-%d", state, part);
    if (ts_store_open(dir, TS_STORE_SECONDARY, scratch, NULL, &s, err, sizeof(err)) == TS_OK &&
        ts_store_read_meta(s, &m, err, sizeof(err)) == TS_OK && m.format_version > 0)
        off = m.changelog_offset;
    ts_store_close(s);
    ts_fs_remove_tree(scratch, NULL, 0);
    return off;
}

Test(processor_standby, a_moved_task_starts_from_the_standby, .timeout = 300)
{
    char *app = tk_unique("standby"), in[256], out[256], sa[300], sb[300];
    int64_t now = tk_now_ms(), B = now - now % WINDOW - 20 * WINDOW;
    rd_kafka_t *prod = tk_producer(NULL, NULL);
    tk_proc a, b;
    int full_before, st, caught_up = 0;

    snprintf(in, sizeof(in), "%s-in", app);
    snprintf(out, sizeof(out), "%s-out", app);
    snprintf(sa, sizeof(sa), "/tmp/%s-a", app);
    snprintf(sb, sizeof(sb), "/tmp/%s-b", app);
    tk_create_topic(in, 2, 1, NULL);
    tk_create_topic(out, 1, 1, NULL);

    a = start(app, sa, in, out);
    cr_assert(tk_proc_wait_log(&a, "\"msg\":\"task 1_1 restored\"", 120000), "log %s", a.log);
    feed(prod, in, 0, 200, B);
    b = start(app, sb, in, out);
    cr_assert(tk_proc_wait_log(&b, "restored\"", 120000), "b took a task (log %s)", b.log);
    cr_assert(tk_proc_wait_log(&a, "\"msg\":\"partitions revoked", 60000), "log %s", a.log);
    /* more changelog for both tasks while b stands by for a's */
    feed(prod, in, 200, 200, B + WINDOW);
    for (int i = 0; i < 600 && !caught_up; i++) {
        caught_up = store_offset(sb, app, 0) > 0 && store_offset(sb, app, 1) > 0;
        if (!caught_up)
            usleep(100 * 1000);
    }
    cr_assert(caught_up, "b holds a store of both tasks, its own and a standby (log %s)", b.log);

    full_before = tk_proc_log_count(&b, "\"kind\":\"full\"");
    st = tk_proc_stop(&a, SIGTERM, 30000);
    cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "a stops cleanly (log %s)", a.log);
    cr_assert(tk_proc_wait_log(&b, "\"msg\":\"partitions assigned\",\"partitions\":4", 60000),
              "b took every partition (log %s)", b.log);
    /* its own task once before, both tasks again now */
    for (int i = 0; i < 600 && tk_proc_log_count(&b, "restored\",\"records\"") < 3; i++)
        usleep(100 * 1000);
    cr_expect_eq(tk_proc_log_count(&b, "\"kind\":\"full\""), full_before,
                 "no full restore after the move: the standby was promoted (log %s)", b.log);
    cr_expect_geq(tk_proc_log_count(&b, "\"kind\":\"tail\""), 2, "tail replays (log %s)", b.log);

    st = tk_proc_stop(&b, SIGTERM, 30000);
    cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "b stops cleanly (log %s)", b.log);
    rd_kafka_destroy(prod);
    ts_fs_remove_tree(sa, NULL, 0);
    ts_fs_remove_tree(sb, NULL, 0);
    free(app);
}
