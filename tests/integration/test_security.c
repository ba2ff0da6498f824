/*
 * Security against the real broker (infra/local/kafka): the binaries over
 * mTLS and SASL_SSL/SCRAM as users holding exactly the ACLs of
 * infra/acls.txt, and each way a client can be refused. A refused binary
 * must log one error line of its own naming the cause and exit non-zero by
 * itself once startup.timeout.ms has passed: no retry loop, no crash, no
 * hang. The expected windowed results are counted here, from the input this
 * test writes, never by the processor's code.
 */
#include "httpget.h"
#include "proc.h"
#include "testkit.h"
#include "ts_fs.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WINDOW 20000
/* how long a refused binary keeps trying (startup.timeout.ms) */
#define REFUSE_MS "4000"
/* what the test allows it, far above REFUSE_MS: exiting at all is the point */
#define EXIT_WITHIN_MS 90000

/* ---- client settings from the cluster's property files ---- */

/* An argument list that owns its strings. */
typedef struct args {
    const char *v[64];
    char *own[64];
    int n, nown;
} args;

static void args_add(args *a, const char *s)
{
    cr_assert_lt(a->n, 63);
    a->own[a->nown++] = strdup(s);
    a->v[a->n++] = a->own[a->nown - 1];
    a->v[a->n] = NULL;
}

static void args_addf(args *a, const char *fmt, const char *x)
{
    char buf[1024];

    snprintf(buf, sizeof(buf), fmt, x);
    args_add(a, buf);
}

static void args_free(args *a)
{
    for (int i = 0; i < a->nown; i++)
        free(a->own[i]);
    memset(a, 0, sizeof(*a));
}

static void remove_dir(const char *dir)
{
    cr_expect_eq(ts_fs_remove_tree(dir, NULL, 0), TS_OK, "cannot remove %s", dir);
}

static const char *kafka_dir(void)
{
    const char *d = getenv("TAGSTREAM_KAFKA_DIR");

    cr_assert_not_null(d, "TAGSTREAM_KAFKA_DIR is not set");
    return d;
}

/*
 * The settings of <cluster>/<file> as arguments: bootstrap.servers as
 * `bs_flag`=VALUE (the binaries name it differently), every other line as
 * -X kafka.KEY=VALUE. `change` is NULL-terminated KEY, VALUE pairs that
 * replace a line's value (VALUE NULL: drop the line) or add one.
 */
static void client_args(args *a, const char *file, const char *bs_flag, const char *const *change)
{
    char path[1024], line[1024];
    int used[16] = {0};
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", kafka_dir(), file);
    fp = fopen(path, "r");
    cr_assert_not_null(fp, "no %s: does infra/local/kafka write it?", path);
    while (fgets(line, sizeof(line), fp)) {
        char *eq = strchr(line, '='), buf[1200];
        const char *val;
        int drop = 0;

        line[strcspn(line, "\n")] = '\0';
        if (!eq)
            continue;
        *eq = '\0';
        val = eq + 1;
        for (int i = 0; change && change[i]; i += 2)
            if (!strcmp(change[i], line)) {
                val = change[i + 1];
                drop = !val;
                used[i / 2] = 1;
            }
        if (drop)
            continue;
        if (!strcmp(line, "bootstrap.servers")) {
            snprintf(buf, sizeof(buf), "%s=%s", bs_flag, val);
            args_add(a, buf);
            continue;
        }
        snprintf(buf, sizeof(buf), "kafka.%s=%s", line, val);
        args_add(a, "-X");
        args_add(a, buf);
    }
    fclose(fp);
    /* changes of keys the file does not have are added */
    for (int i = 0; change && change[i] && i / 2 < 16; i += 2)
        if (!used[i / 2] && change[i + 1]) {
            char buf[1200];
            snprintf(buf, sizeof(buf), "kafka.%s=%s", change[i], change[i + 1]);
            args_add(a, "-X");
            args_add(a, buf);
        }
}

/* infra/local/kafka grant ... (the ACLs of infra/acls.txt). */
static void grant(const char *what)
{
    const char *src = getenv("TAGSTREAM_SOURCE_DIR");
    char cmd[2048];

    cr_assert_not_null(src, "TAGSTREAM_SOURCE_DIR is not set");
    snprintf(cmd, sizeof(cmd), "'%s/infra/local/kafka' grant %s 2>/dev/null", src, what);
    cr_assert_eq(system(cmd), 0, "%s failed", cmd);
}

/* ---- the refusal contract ---- */

static int log_lines(const tk_proc *p, const char *component, const char *level)
{
    char key[128];

    snprintf(key, sizeof(key), "\"level\":\"%s\",\"component\":\"%s\"", level, component);
    return tk_proc_log_count(p, key);
}

/* What marks a binary's own error lines: a JSON line of its component, or
 * for tagstream-store (no JSON log) its "tagstream-store: " line. */
static void error_marker(const char *component, char *out, size_t size)
{
    if (!strcmp(component, "store"))
        snprintf(out, size, "tagstream-store: ");
    else
        snprintf(out, size, "\"level\":\"error\",\"component\":\"%s\"", component);
}

/*
 * The binary exits by itself, non-zero, not by a signal, and its own error
 * lines are exactly one, which names `cause`.
 */
static void expect_refused(tk_proc *p, const char *component, const char *cause)
{
    int st = tk_proc_wait(p, EXIT_WITHIN_MS), named = 0;
    char marker[128], line[8192];
    FILE *fp;

    cr_assert_neq(st, -1, "still running %d ms after start (log: %s)", EXIT_WITHIN_MS, p->log);
    cr_assert(WIFEXITED(st), "killed by signal %d (log: %s)", WTERMSIG(st), p->log);
    cr_expect_neq(WEXITSTATUS(st), 0, "exit status 0 (log: %s)", p->log);
    error_marker(component, marker, sizeof(marker));
    cr_expect_eq(tk_proc_log_count(p, marker), 1, "not one error line of %s (log: %s)", component,
                 p->log);
    fp = fopen(p->log, "r");
    while (fp && fgets(line, sizeof(line), fp))
        if (strstr(line, marker) && strstr(line, cause))
            named = 1;
    if (fp)
        fclose(fp);
    cr_expect(named, "the error line does not name %s (log: %s)", cause, p->log);
}

/* ---- input, expected results ---- */

#define NTAGS 6
static const char *const tags[NTAGS] = {"Kafka", "fargate", "MSK", "rocks", "tls", "scram"};

/* Posts in X's format, one hashtag each, over four windows from `base`,
 * then one post 3 windows later that closes them all. */
static void write_input(const char *path, int64_t base)
{
    FILE *fp = fopen(path, "w");

    cr_assert_not_null(fp);
    for (int w = 0; w < 4; w++)
        for (int t = 0; t < NTAGS; t++) {
            int n = (w * 5 + t * 3) % 9 + 1; /* 1..9 per window: some emitted, some not */
            for (int i = 0; i < n; i++) {
                char id[32];
                snprintf(id, sizeof(id), "%d%d%d", w, t, i);
                tk_write_post(fp, id, base + (int64_t)w * WINDOW + (t * 1000 + i * 97) % WINDOW,
                              tags[t]);
            }
        }
    tk_write_post(fp, "9", base + 7 * WINDOW, "end");
    fclose(fp);
}

/* "tag@window_start=count" for each count above min.count (4), sorted. */
static size_t expected(int64_t base, char **out)
{
    size_t n = 0;

    for (int w = 0; w < 4; w++)
        for (int t = 0; t < NTAGS; t++) {
            int c = (w * 5 + t * 3) % 9 + 1;
            char lower[32], buf[128];
            if (c <= 4)
                continue;
            for (size_t k = 0; k <= strlen(tags[t]); k++)
                lower[k] =
                    (char)(tags[t][k] >= 'A' && tags[t][k] <= 'Z' ? tags[t][k] + 32 : tags[t][k]);
            snprintf(buf, sizeof(buf), "%s@%lld=%d", lower, (long long)(base + w * WINDOW), c);
            out[n++] = strdup(buf);
        }
    tk_sort_strings(out, n);
    return n;
}

/*
 * The whole path as least-privileged users over one listener: the producer
 * writes the input, the processor counts it, the output is exactly the
 * expected, and tagstream-store verify finds the stores equal to the
 * changelog. `kind` is "mtls" or "scram" (client-<kind>-<user>.properties).
 */
static void end_to_end(const char *kind)
{
    char *in = tk_unique("sec-in"), *out = tk_unique("sec-out"), *app = tk_unique("secapp");
    char file[256], state[256], grants[1024], prop[128], *want[64], *got[256];
    int64_t t = tk_now_ms() - 2 * 3600 * 1000, base = t - t % WINDOW;
    size_t nwant = expected(base, want), ngot;
    args a = {0};
    tk_records r;
    tk_proc p;
    int st;

    tk_create_topic(in, 1, 1, NULL);
    tk_create_topic(out, 1, 1, NULL);
    snprintf(grants, sizeof(grants),
             "producer User:producer processor User:processor verify User:verify topic=%s "
             "input.topic=%s output.topic=%s application.id=%s",
             in, in, out, app);
    grant(grants);
    snprintf(file, sizeof(file), "/tmp/sec-input-%d.ndjson", (int)getpid());
    write_input(file, base);

    /* producer */
    snprintf(prop, sizeof(prop), "client-%s-producer.properties", kind);
    client_args(&a, prop, "--bootstrap.servers", NULL);
    args_addf(&a, "--topic=%s", in);
    args_add(&a, "--source=file");
    args_addf(&a, "--file.path=%s", file);
    args_add(&a, "--http.listen=");
    p = tk_proc_start("tagstream-producer", a.v);
    st = tk_proc_wait(&p, 120000);
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "producer failed (log: %s)",
              p.log);
    args_free(&a);

    /* processor */
    snprintf(state, sizeof(state), "/tmp/sec-state-%d-%s", (int)getpid(), kind);
    snprintf(prop, sizeof(prop), "client-%s-processor.properties", kind);
    client_args(&a, prop, "--bootstrap.servers", NULL);
    args_addf(&a, "--application.id=%s", app);
    args_addf(&a, "--input.topic=%s", in);
    args_addf(&a, "--output.topic=%s", out);
    args_addf(&a, "--state.dir=%s", state);
    args_add(&a, "--http.listen=");
    args_add(&a, "--replication.factor=1");
    p = tk_proc_start("tagstream-processor", a.v);
    r = tk_consume_all(out, 0, nwant, 120000);
    st = tk_proc_stop(&p, SIGTERM, 30000);
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "processor stop (log: %s)", p.log);
    tk_records_free(&r);
    r = tk_consume_all(out, 0, 0, 2000); /* everything, extras included */
    ngot = tk_result_lines(&r, got);
    tk_sort_strings(got, ngot);
    cr_expect_eq(ngot, nwant, "%zu results, %zu expected (log: %s)", ngot, nwant, p.log);
    for (size_t i = 0; i < ngot && i < nwant; i++)
        cr_expect_str_eq(got[i], want[i]);
    args_free(&a);

    /* tagstream-store verify */
    snprintf(prop, sizeof(prop), "client-%s-verify.properties", kind);
    args_add(&a, "verify");
    args_addf(&a, "--state-dir=%s", state);
    args_addf(&a, "--application-id=%s", app);
    client_args(&a, prop, "--bootstrap-servers", NULL);
    p = tk_proc_start("tagstream-store", a.v);
    st = tk_proc_wait(&p, 120000);
    cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "verify failed (log: %s)", p.log);
    args_free(&a);

    remove_dir(state);
    for (size_t i = 0; i < nwant; i++)
        free(want[i]);
    for (size_t i = 0; i < ngot; i++)
        free(got[i]);
    tk_records_free(&r);
    unlink(file);
    free(in);
    free(out);
    free(app);
}

/* 1 when the linked librdkafka can do SCRAM with Kafka 4.x (2.6.1 and newer). */
static int scram_works(void)
{
    return rd_kafka_version() >= 0x02060100;
}

Test(security, mtls_end_to_end_least_privilege, .timeout = 400)
{
    end_to_end("mtls");
}

/* With librdkafka 2.6.1 or newer, the same as over mTLS. Older ones are
 * refused by Kafka 4.x with the right password: then the binary must warn at
 * start and report the refusal clearly. */
Test(security, scram_end_to_end_or_warning, .timeout = 400)
{
    char *in;
    args a = {0};
    tk_proc p;

    if (scram_works()) {
        end_to_end("scram");
        return;
    }
    in = tk_unique("sec-scram");
    tk_create_topic(in, 1, 1, NULL);
    client_args(&a, "client-scram-producer.properties", "--bootstrap.servers", NULL);
    args_addf(&a, "--topic=%s", in);
    args_add(&a, "--http.listen=");
    args_add(&a, "--synthetic.count=10");
    args_add(&a, "--startup.timeout.ms=" REFUSE_MS);
    p = tk_proc_start("tagstream-producer", a.v);
    expect_refused(&p, "producer", "SASL authentication error");
    cr_expect(tk_proc_log_has(&p, "cannot authenticate with SCRAM-SHA-512 to Kafka 4.0 or newer"),
              "no warning about librdkafka %s and SCRAM (log: %s)", rd_kafka_version_str(), p.log);
    cr_expect_eq(log_lines(&p, "kafka", "warn") >= 1, 1);
    args_free(&a);
    free(in);
}

/* ---- refused logins and handshakes, each in its own test ---- */

static void refused_producer(const char *file, const char *const *change, const char *cause)
{
    char *in = tk_unique("sec-refused");
    args a = {0};
    tk_proc p;

    tk_create_topic(in, 1, 1, NULL);
    client_args(&a, file, "--bootstrap.servers", change);
    args_addf(&a, "--topic=%s", in);
    args_add(&a, "--http.listen=");
    args_add(&a, "--synthetic.count=10");
    args_add(&a, "--startup.timeout.ms=" REFUSE_MS);
    p = tk_proc_start("tagstream-producer", a.v);
    expect_refused(&p, "producer", cause);
    args_free(&a);
    free(in);
}

Test(security, wrong_password, .timeout = 200)
{
    const char *change[] = {"sasl.password", "not-the-password", NULL};

    refused_producer("client-scram-producer.properties", change, "SASL authentication error");
}

Test(security, unknown_user, .timeout = 200)
{
    const char *change[] = {"sasl.username", "nobody", NULL};

    refused_producer("client-scram-producer.properties", change, "SASL authentication error");
}

Test(security, untrusted_ca, .timeout = 200)
{
    char ca[1024];
    const char *change[] = {"ssl.ca.location", ca, NULL};

    snprintf(ca, sizeof(ca), "%s/tls/untrusted-ca.crt", kafka_dir());
    refused_producer("client-mtls-producer.properties", change, "certificate verify failed");
}

/* The WRONGNAME listener's certificate (same CA) names another host: taken
 * without the host name check, refused with it. */
Test(security, wrong_host_name, .timeout = 200)
{
    char bs[256], grants[300], *in = tk_unique("sec-name");
    const char *unchecked[] = {"bootstrap.servers", bs, "ssl.endpoint.identification.algorithm",
                               "none", NULL};
    const char *checked[] = {"bootstrap.servers", bs, "ssl.endpoint.identification.algorithm",
                             "https", NULL};
    args a = {0};
    tk_proc p;
    int st;

    tk_cluster_line("bootstrap-WRONGNAME", bs, sizeof(bs));
    tk_create_topic(in, 1, 1, NULL);
    snprintf(grants, sizeof(grants), "producer User:producer topic=%s", in);
    grant(grants);
    client_args(&a, "client-mtls-producer.properties", "--bootstrap.servers", unchecked);
    args_addf(&a, "--topic=%s", in);
    args_add(&a, "--http.listen=");
    args_add(&a, "--synthetic.count=10");
    args_add(&a, "--startup.timeout.ms=" REFUSE_MS);
    p = tk_proc_start("tagstream-producer", a.v);
    st = tk_proc_wait(&p, EXIT_WITHIN_MS);
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "the listener does not work without the name check (log: %s)", p.log);
    args_free(&a);

    client_args(&a, "client-mtls-producer.properties", "--bootstrap.servers", checked);
    args_addf(&a, "--topic=%s", in);
    args_add(&a, "--http.listen=");
    args_add(&a, "--synthetic.count=10");
    args_add(&a, "--startup.timeout.ms=" REFUSE_MS);
    p = tk_proc_start("tagstream-producer", a.v);
    expect_refused(&p, "producer", "certificate verify failed");
    args_free(&a);
    free(in);
}

Test(security, missing_client_certificate, .timeout = 200)
{
    const char *change[] = {"ssl.certificate.location", NULL, "ssl.key.location", NULL, NULL};

    refused_producer("client-mtls-producer.properties", change, "_SSL");
}

/* While it retries, /health says why (503) and so does /metrics. */
Test(security, untrusted_ca_processor_health_and_metrics_say_why, .timeout = 200)
{
    char ca[1024], state[256], *body = NULL;
    const char *change[] = {"ssl.ca.location", ca, NULL};
    args a = {0};
    int port, seen = 0;
    tk_proc p;

    snprintf(ca, sizeof(ca), "%s/tls/untrusted-ca.crt", kafka_dir());
    snprintf(state, sizeof(state), "/tmp/sec-state-%d-ca", (int)getpid());
    client_args(&a, "client-mtls-processor.properties", "--bootstrap.servers", change);
    args_add(&a, "--application.id=sec-health");
    args_addf(&a, "--state.dir=%s", state);
    args_add(&a, "--http.listen=127.0.0.1:0");
    args_add(&a, "--startup.timeout.ms=20000");
    p = tk_proc_start("tagstream-processor", a.v);
    port = tk_logged_http_port(&p, 60000);
    for (int i = 0; i < 150 && !seen; i++) {
        free(body);
        if (tk_http_get(port, "/health", &body) == 503 && strstr(body, "kafka_problem") &&
            strstr(body, "certificate verify failed"))
            seen = 1;
        else
            usleep(100 * 1000);
    }
    cr_expect(seen, "/health does not say why: %s", body);
    free(body);
    cr_expect_eq(tk_http_get(port, "/metrics", &body), 200);
    cr_expect(strstr(body, "tagstream_kafka_security_failure{error=\"_SSL\"} 1") != NULL,
              "/metrics does not say why");
    free(body);
    cr_expect_eq(tk_http_get(port, "/ready", &body), 503);
    expect_refused(&p, "processor", "certificate verify failed");
    remove_dir(state);
    args_free(&a);
    free(body);
}

/* ---- a missing ACL, one at a time ---- */

/*
 * Run the processor as User:processor holding every ACL of its role but
 * `without` ('RESOURCE NAME OPERATION' as in infra/acls.txt), with a few
 * input records; it must stop by itself naming `cause`.
 */
static void processor_without(const char *without, const char *cause)
{
    char *in = tk_unique("sec-acl-in"), *out = tk_unique("sec-acl-out"), *app = tk_unique("acl");
    char grants[1024], state[256];
    int64_t now = tk_now_ms();
    args a = {0};
    rd_kafka_t *prod;
    tk_proc p;

    tk_create_topic(in, 1, 1, NULL);
    tk_create_topic(out, 1, 1, NULL);
    prod = tk_producer(NULL, NULL);
    for (int i = 0; i < 10; i++)
        tk_produce(prod, in, 0, NULL, i < 9 ? "acl" : "late", now - 60000 + i * 5000);
    rd_kafka_destroy(prod);
    snprintf(grants, sizeof(grants),
             "processor User:processor input.topic=%s output.topic=%s application.id=%s "
             "--without '%s'",
             in, out, app, without);
    grant(grants);
    snprintf(state, sizeof(state), "/tmp/sec-state-%d-%s", (int)getpid(), app);
    client_args(&a, "client-mtls-processor.properties", "--bootstrap.servers", NULL);
    args_addf(&a, "--application.id=%s", app);
    args_addf(&a, "--input.topic=%s", in);
    args_addf(&a, "--output.topic=%s", out);
    args_addf(&a, "--state.dir=%s", state);
    args_add(&a, "--http.listen=");
    args_add(&a, "--replication.factor=1");
    args_add(&a, "--repartition.purge.interval.ms=500");
    args_add(&a, "--startup.timeout.ms=" REFUSE_MS);
    p = tk_proc_start("tagstream-processor", a.v);
    expect_refused(&p, "processor", cause);
    remove_dir(state);
    args_free(&a);
    free(in);
    free(out);
    free(app);
}

Test(security, processor_without_group_read, .timeout = 200)
{
    processor_without("group ${application.id} Read", "GROUP_AUTHORIZATION_FAILED");
}

Test(security, processor_without_transactional_id_write, .timeout = 200)
{
    processor_without("transactional-id ${application.id}- Write",
                      "TRANSACTIONAL_ID_AUTHORIZATION_FAILED");
}

Test(security, processor_without_output_write, .timeout = 200)
{
    processor_without("topic ${output.topic} Write", "TOPIC_AUTHORIZATION_FAILED");
}

Test(security, processor_without_changelog_create, .timeout = 200)
{
    processor_without("topic ${application.id}-counts-changelog Create",
                      "TOPIC_AUTHORIZATION_FAILED");
}

Test(security, processor_without_repartition_delete, .timeout = 200)
{
    processor_without("topic ${application.id}-repartition Delete", "TOPIC_AUTHORIZATION_FAILED");
}

Test(security, producer_without_write, .timeout = 200)
{
    /* User:producer holds no ACL on this new topic */
    refused_producer("client-mtls-producer.properties", NULL, "AUTHORIZATION_FAILED");
}

/* verify as a user without Read on the changelog of a real store */
Test(security, verify_without_read, .timeout = 300)
{
    char *in = tk_unique("sec-v-in"), *out = tk_unique("sec-v-out"), *app = tk_unique("secv");
    char state[256], bs[300];
    const char *pargs[] = {bs,
                           "--application.id",
                           app,
                           "--input.topic",
                           in,
                           "--output.topic",
                           out,
                           "--state.dir",
                           state,
                           "--http.listen=",
                           "--replication.factor=1",
                           NULL};
    args a = {0};
    rd_kafka_t *prod;
    tk_proc p;

    /* a store, made over PLAINTEXT (a super user there) */
    tk_create_topic(in, 1, 1, NULL);
    tk_create_topic(out, 1, 1, NULL);
    prod = tk_producer(NULL, NULL);
    tk_produce(prod, in, 0, NULL, "verify", tk_now_ms());
    rd_kafka_destroy(prod);
    snprintf(bs, sizeof(bs), "--bootstrap.servers=%s", tk_bootstrap());
    snprintf(state, sizeof(state), "/tmp/sec-state-%d-verify", (int)getpid());
    p = tk_proc_start("tagstream-processor", pargs);
    cr_assert(tk_proc_wait_log(&p, "restored", 120000), "no task (log: %s)", p.log);
    cr_assert_eq(tk_proc_stop(&p, SIGTERM, 30000), 0, "processor stop (log: %s)", p.log);

    /* User:verify holds no ACL on this application's changelog */
    args_add(&a, "verify");
    args_addf(&a, "--state-dir=%s", state);
    args_addf(&a, "--application-id=%s", app);
    args_add(&a, "--timeout-ms=" REFUSE_MS);
    client_args(&a, "client-mtls-verify.properties", "--bootstrap-servers", NULL);
    p = tk_proc_start("tagstream-store", a.v);
    expect_refused(&p, "store", "TOPIC_AUTHORIZATION_FAILED");
    remove_dir(state);
    args_free(&a);
    free(in);
    free(out);
    free(app);
}
