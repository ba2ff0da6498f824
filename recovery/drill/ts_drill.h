/*
 * tagstream-drill: crash and failover drills against real processors.
 *
 * The drill generates a deterministic input with an independently computed
 * expected output (ts_drill_gen), feeds it to the input topic while it
 * drives cycles of a fault against tagstream-processor processes it starts
 * itself (ts_drill_proc, ts_drill_run), then reads the output topic with
 * read_committed and compares (ts_drill_check). See docs/DRILLS.md.
 *
 * Thread: the drill runs on the main thread, except the feeder
 * (ts_drill_feed_*), which runs on its own thread with its own Kafka
 * clients and talks to the main thread only through the atomics of
 * ts_drill_feed.
 */
#ifndef TS_DRILL_H
#define TS_DRILL_H

#include "ts_buf.h"
#include "ts_clock.h"
#include "ts_config.h"
#include "ts_err.h"
#include "ts_msk_iam.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- configuration ---- */

typedef enum ts_drill_fault {
    TS_DRILL_NONE,
    TS_DRILL_KILL9,
    TS_DRILL_SIGTERM,
    TS_DRILL_ZOMBIE,
    TS_DRILL_BROKER,
    TS_DRILL_SCALE,
    TS_DRILL_STATELOSS,
    TS_DRILL_REPLACE,
    TS_DRILL__NFAULTS
} ts_drill_fault;

/* When kill9 strikes: any (a random mix of the others), processing (a random
 * delay after the instance is ready), emitting (as it logs a window result:
 * inside a transaction that holds results), starting (a random moment right
 * after a restart), restoring (as soon as a restore begins). */
typedef enum ts_drill_when {
    TS_DRILL_WHEN_ANY,
    TS_DRILL_WHEN_PROCESSING,
    TS_DRILL_WHEN_EMITTING,
    TS_DRILL_WHEN_STARTING,
    TS_DRILL_WHEN_RESTORING,
} ts_drill_when;

#define TS_DRILL_MAX_FAULTS    16
#define TS_DRILL_MAX_INSTANCES 32
#define TS_DRILL_MAX_PARTS     256
#define TS_DRILL_MAX_ARGS      64
#define TS_DRILL_MAX_PASSED    16 /* keys of the table given on to the processors */

typedef struct ts_drill_config {
    char *bootstrap_servers;
    char *fault; /* comma-separated ts_drill_fault names, taken in turn */
    int64_t cycles;
    int64_t instances;
    int64_t scale_max;
    int64_t seed;
    int64_t records;
    int64_t preload;
    int64_t partitions;
    int64_t output_partitions;
    int64_t tags;
    int64_t hot_share;  /* percent of records drawn from the hot tags */
    int64_t junk_share; /* percent of records the length filter drops */
    int64_t rate;       /* records per second fed */
    int64_t phases;     /* 0: cycles + 2, at least 4 */
    int64_t window_size_ms;
    int64_t window_retention_ms; /* 0: the least the processor accepts */
    int64_t min_count;
    int64_t delay_min_ms;
    int64_t delay_max_ms;
    int64_t down_min_ms;
    int64_t down_max_ms;
    int kill9_when; /* ts_drill_when */
    int64_t session_timeout_ms;
    int64_t transaction_timeout_ms;
    int64_t commit_interval_ms;
    int static_membership; /* and then kill9 checks that a restart rebalances nobody */
    int64_t num_standby_replicas;
    int64_t replication_factor; /* 0: min(3, brokers) */
    int64_t broker_down_ms;
    char *broker_stop_command;
    char *broker_kill_command;
    char *broker_start_command;
    char *cluster_script;
    int64_t wait_ms; /* bound on each wait for the processors */
    int64_t timeout_ms;
    char *processor;
    char *work_dir;
    char *topic_prefix;
    char *application_id;
    int stateloss_rekill;
    int keep_topics;
    int keep_work_dir;
    int log_level;
    ts_msk_iam_conf iam; /* msk.iam*: the drill's clients, and given on to the processors */
    /* not in the table: repeated --processor.arg values, in order */
    char *processor_args[TS_DRILL_MAX_ARGS];
    int nprocessor_args;
    /* parsed from `fault` */
    ts_drill_fault faults[TS_DRILL_MAX_FAULTS];
    int nfaults;
} ts_drill_config;

extern const ts_conf_prop ts_drill_config_props[];
const char *ts_drill_fault_name(ts_drill_fault f);

/*
 * Parse the command line (ts_conf_cli, environment prefix TAGSTREAM_DRILL_),
 * after taking out the repeatable --processor.arg flags and accepting
 * --some-key for --some.key. Fills in the defaults that depend on the
 * environment (bootstrap servers from $TAGSTREAM_KAFKA_DIR/bootstrap, the
 * processor next to this binary) and validates. *help is set for --help.
 */
ts_err ts_drill_config_load(ts_drill_config *cfg, ts_conf *conf, int argc, char **argv, int *help,
                            char *errstr, size_t errstr_size);
void ts_drill_config_free(ts_drill_config *cfg); /* the processor args; NULL ok */

/* ---- the generated input and the expected output ---- */

typedef struct ts_drill_rec {
    int64_t ts;
    int32_t tag; /* index into the tag table, -1: junk the length filter drops */
    int32_t partition;
} ts_drill_rec;

typedef struct ts_drill_result {
    char *tag; /* normalized tag, owned */
    size_t tag_len;
    int64_t count;
    int64_t window_start;
} ts_drill_result;

typedef struct ts_drill_results {
    ts_drill_result *v;
    size_t n, cap;
} ts_drill_results;

typedef struct ts_drill_gen_params {
    uint64_t seed;
    int64_t records;
    int32_t partitions;
    int64_t tags;
    int hot_share;
    int junk_share;
    int64_t base;      /* first event time, on a window boundary */
    int64_t span;      /* event time covered by the records */
    int64_t window_ms; /* window size */
    int64_t min_count;
} ts_drill_gen_params;

typedef struct ts_drill_gen {
    ts_drill_gen_params p;
    ts_drill_rec *recs; /* records, event time ascending */
    int64_t nrecs;
    int64_t ntags; /* p.tags plus the fixed non-ASCII tags */
} ts_drill_gen;

/* Build the records (deterministic in p). */
ts_err ts_drill_gen_init(ts_drill_gen *g, const ts_drill_gen_params *p, char *errstr,
                         size_t errstr_size);
void ts_drill_gen_free(ts_drill_gen *g); /* NULL ok */

/* The normalized form of tag `tag` (as the processor must produce it). */
size_t ts_drill_gen_tag(const ts_drill_gen *g, int32_t tag, char *buf, size_t size);

/* The value of record i as sent: a spelling of its tag (case, white space,
 * non-ASCII variants) or junk; deterministic in (seed, i). */
size_t ts_drill_gen_value(const ts_drill_gen *g, int64_t i, char *buf, size_t size);

/* Every (tag, window) counted more than min_count times, sorted as
 * ts_drill_results_sort does. */
ts_err ts_drill_gen_expected(const ts_drill_gen *g, ts_drill_results *out, char *errstr,
                             size_t errstr_size);

/* Results: append (copies the tag), sort by window then tag bytes, free. */
ts_err ts_drill_results_add(ts_drill_results *r, const char *tag, size_t tag_len, int64_t count,
                            int64_t window_start);
void ts_drill_results_sort(ts_drill_results *r);
void ts_drill_results_free(ts_drill_results *r);

/* ---- comparison ---- */

#define TS_DRILL_EXAMPLES 5

typedef struct ts_drill_diff {
    size_t expected, got;
    size_t missing, duplicate, wrong, unexpected;
    /* a few examples of each, as text */
    char missing_ex[TS_DRILL_EXAMPLES][160];
    char duplicate_ex[TS_DRILL_EXAMPLES][160];
    char wrong_ex[TS_DRILL_EXAMPLES][160];
    char unexpected_ex[TS_DRILL_EXAMPLES][160];
} ts_drill_diff;

/* Compare; both lists are sorted first. */
void ts_drill_compare(ts_drill_results *want, ts_drill_results *got, ts_drill_diff *d);

/* Decode one output record (json format). Returns TS_ERR_CORRUPT with a
 * message when it is not a well-formed result for its key. */
ts_err ts_drill_decode_result(const void *key, size_t klen, const void *val, size_t vlen,
                              int64_t window_ms, ts_drill_results *out, char *errstr,
                              size_t errstr_size);

/* ---- Kafka: topics, the feeder, the output ---- */

typedef struct ts_drill_topics {
    char input[300];
    char output[300];
    char repartition[300];
    char changelog[300];
} ts_drill_topics;

/* The feeder: produces the records at `rate`, never beyond `allowed`, and
 * holds back event-time phase k until phase k-2 has been consumed (so that
 * no record can be late, however the partitions interleave); after the last
 * record and once everything is consumed, the records that close the last
 * windows. */
typedef struct ts_drill_feed {
    /* set before start */
    const ts_drill_config *cfg;
    const ts_conf *conf;
    const ts_drill_gen *gen;
    const ts_drill_topics *topics;
    const char *group;
    int64_t phase_ms;
    int64_t closer_ts;
    int32_t repartitions; /* partitions of the internal topics */
    volatile sig_atomic_t *stop;
    /* shared with the main thread */
    _Atomic int64_t allowed;  /* records it may produce so far */
    _Atomic int64_t produced; /* records acknowledged */
    _Atomic int64_t consumed; /* records known processed and committed */
    _Atomic int closers_sent;
    _Atomic int done;   /* closers consumed too: every result is out */
    _Atomic int failed; /* see errstr */
    _Atomic int64_t gate_waits_ms;
    char errstr[512];
    int32_t nclosers;
    pthread_t thread;
    int started;
} ts_drill_feed;

ts_err ts_drill_feed_start(ts_drill_feed *f, char *errstr, size_t errstr_size);
void ts_drill_feed_join(ts_drill_feed *f);

/* A plain client for admin requests and reads (the caller destroys it). */
rd_kafka_t *ts_drill_client(const ts_drill_config *cfg, const ts_conf *conf, rd_kafka_type_t type,
                            const char *const *extra, char *errstr, size_t errstr_size);
/* Partitions of a topic as the metadata says (-1: missing or no answer). */
int ts_drill_partitions(rd_kafka_t *rk, const char *topic);
ts_err ts_drill_create_topic(rd_kafka_t *rk, const char *topic, int partitions, int rf,
                             char *errstr, size_t errstr_size);
/* Delete topics (missing ones are fine) and the consumer group. */
void ts_drill_delete(rd_kafka_t *rk, const char *const *topics, int n, const char *group);

/* Read a whole topic to its end. read_committed unless uncommitted. Results
 * are decoded into out (NULL: only count) and undecodable records counted in
 * *bad with an example in errstr. */
ts_err ts_drill_read_output(const ts_drill_config *cfg, const ts_conf *conf, const char *topic,
                            int uncommitted, ts_drill_results *out, size_t *records, size_t *bad,
                            char *errstr, size_t errstr_size);

/* ---- processor instances ---- */

typedef enum ts_drill_phase {
    TS_DRILL_DOWN,       /* no process */
    TS_DRILL_STARTING,   /* started, not yet "running" */
    TS_DRILL_JOINING,    /* running, no assignment (yet or any more) */
    TS_DRILL_RESTORING,  /* assigned, tasks being restored */
    TS_DRILL_PROCESSING, /* every assigned task restored */
} ts_drill_phase;

const char *ts_drill_phase_name(ts_drill_phase p);

/* One start of one instance, for the report. */
typedef struct ts_drill_run_rec {
    int instance;
    int number;          /* the instance's n-th start */
    const char *why;     /* "initial", "kill9", ... (static) */
    int64_t fault_ms;    /* when the previous process was killed or stopped (0: none) */
    int64_t start_ms;    /* fork */
    int64_t assigned_ms; /* first assignment (0: none) */
    int64_t ready_ms;    /* first time every assigned task was restored (0: never) */
    int64_t restore_first_ms, restore_last_ms; /* first "restoring", last "restored" */
    int restores_full, restores_tail;
    int64_t replayed; /* changelog records replayed before ready */
    int64_t replayed_total;
    int64_t restore_elapsed_ms; /* sum of the tasks' own elapsed_ms before ready */
    int state_lost;             /* its state directory had been deleted */
    int tail_after_loss;        /* a first restore that was not full, after state loss */
    int results_logged;
    int aborts;
    int exit_status;  /* waitpid status, -1 while running */
    int killed_by;    /* signal the drill sent last (0: none) */
    int killed_phase; /* ts_drill_phase the previous process was killed in (-1: none) */
    unsigned char restored_once[TS_DRILL_MAX_PARTS]; /* tasks restored at least once */
} ts_drill_run_rec;

typedef struct ts_drill_inst {
    int index;
    char state_dir[1024];
    char log_path[1100];
    pid_t pid;
    int frozen;
    int starts;
    ts_drill_phase phase;
    int assigned_tasks; /* tasks in the latest assignment */
    int restored_tasks; /* of those, restored */
    int64_t assigned_ms;
    int64_t ready_ms; /* latest time it became ready */
    int64_t ready_count;
    int64_t results_logged;
    int64_t aborts;
    int fenced_logged;
    int64_t revocations; /* "partitions revoked" lines, all its runs */
    char last_error[300];
    char last_abort[300];
    int log_fd;
    off_t log_off;
    ts_buf partial;
    size_t run;      /* index into ts_drill.runs of the current start */
    int active;      /* part of the group (scale drills remove instances) */
    int hold;        /* the drill keeps it down for now: do not restart it */
    int expect_exit; /* it may exit by itself (a woken zombie) */
    int64_t last_start_ms;
} ts_drill_inst;

/* ---- the drill ---- */

typedef struct ts_drill_stop_time {
    int instance;
    int64_t ms;
    int status;
} ts_drill_stop_time;

typedef struct ts_drill {
    ts_drill_config *cfg;
    ts_conf *conf;
    volatile sig_atomic_t *interrupted;
    uint64_t rng;
    int64_t t0;
    rd_kafka_t *admin; /* the drill's own client: topics */
    int topics_created;
    ts_drill_topics topics;
    char app[256];
    int brokers;
    int rf;
    int64_t phase_ms, grace_ms, retention_ms, closer_ts;
    int64_t chunk; /* records let through per cycle */
    ts_drill_gen gen;
    ts_drill_feed feed;
    volatile sig_atomic_t feed_stop;
    ts_drill_inst inst[TS_DRILL_MAX_INSTANCES];
    int ninst; /* slots used */
    ts_drill_run_rec *runs;
    size_t nruns, runs_cap;
    ts_drill_stop_time *stops;
    size_t nstops, stops_cap;
    /* who processes each task (-1: nobody), and since when nobody does
     * (0: somebody does, or nobody ever did) */
    int task_owner[TS_DRILL_MAX_PARTS];
    int64_t task_down_since[TS_DRILL_MAX_PARTS];
    int64_t longest_gap_ms; /* revocation or death -> restored elsewhere */
    int longest_gap_task;
    /* counters for the report */
    int cycles_done;
    int zombies;       /* zombie cycles so far: every other one stays frozen longer */
    int broker_cycles; /* broker cycles so far: every other one kills the broker */
    int kills_by_phase[5];
    int unexpected_exits;
    char unexpected_ex[TS_DRILL_EXAMPLES][300];
    ts_buf notes;    /* per-fault observations for the summary */
    ts_buf failures; /* anything that fails the drill besides the output */
    int nfailures;
} ts_drill;

/* Printed progress: "[  12.3s] text". */
void ts_drill_say(ts_drill *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Record something that fails the drill (and say it). */
void ts_drill_fail(ts_drill *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint64_t ts_drill_rand(uint64_t *state);
int64_t ts_drill_rand_range(uint64_t *state, int64_t lo, int64_t hi); /* [lo, hi] */

/* Instances. */
ts_err ts_drill_inst_start(ts_drill *d, int i, const char *why, int64_t fault_ms);
void ts_drill_inst_signal(ts_drill *d, int i, int sig);
/* Send sig and wait up to timeout_ms for the exit (then SIGKILL). Returns
 * the waitpid status and the time to exit in *ms. */
int ts_drill_inst_stop(ts_drill *d, int i, int sig, int timeout_ms, int64_t *ms);
/* Reap exited children and read new log lines of every instance. */
void ts_drill_tick(ts_drill *d);
/* Tick for ms milliseconds (or until interrupted). */
void ts_drill_sleep(ts_drill *d, int64_t ms);
ts_err ts_drill_wipe_dir(const char *path, char *errstr, size_t errstr_size);
ts_drill_run_rec *ts_drill_current_run(ts_drill *d, int i);

/* The processing of instance i's tasks stopped at t (it was revoked or
 * died): their gaps begin. */
void ts_drill_tasks_stopped(ts_drill *d, int i, int64_t t);

/* ts_drill_fault.c: the faults. */
/* Make slot i ready for a new instance: an empty state directory (a
 * failure is recorded and returned). */
ts_err ts_drill_inst_setup(ts_drill *d, int i);
/* Wait until instance i (or every active one, i < 0) is processing;
 * returns whether it is. */
int ts_drill_wait_ready(ts_drill *d, int i, int64_t timeout_ms);
/* SIGTERM instance i and record how long it took to exit (and how). */
void ts_drill_sigterm(ts_drill *d, int i, const char *why);
/* Cycle c: the fault the configuration gives it. */
void ts_drill_cycle(ts_drill *d, int c);

/* The whole drill: returns the process exit code (0 pass, 1 differences or
 * failures, 2 configuration, 3 could not run). */
int ts_drill_main(ts_drill_config *cfg, ts_conf *conf, volatile sig_atomic_t *interrupted);

#endif
