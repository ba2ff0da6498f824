/*
 * MSK IAM end to end against the real local broker: its IAM listener
 * (SASL_SSL, OAUTHBEARER) checks every token's SigV4 signature, host,
 * region and expiry (tests/msk_iam/MskIamCallbackHandler.java) and ends
 * sessions after 10 s, so clients sign in again with refreshed tokens.
 *
 * The producer and the processor, the real binaries, get their credentials
 * from a fake ECS container credentials endpoint on loopback, as a Fargate
 * task does; the processor's first credentials expire after 16 s, so its
 * tokens are refreshed (with new keys) while it runs.
 */
#include "fakehttp.h"
#include "httpget.h"
#include "proc.h"
#include "testkit.h"
#include "ts_fs.h"
#include "ts_msk_iam.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WINDOW 20000
#define NTAGS  6
#define REGION "eu-west-1"

static const char *const tags[NTAGS] = {"Kafka", "msk", "IamAuth", "fargate", "SigV4", "tagstream"};

/* Keys of tests/msk_iam/credentials.txt */
#define PRODUCER_KEY   "ASIATSTPRODUCER00001"
#define PRODUCER_SEC   "pr0ducerS3cretKeyForTheLocalIamListener01"
#define PROCESSOR_KEY1 "ASIATSTPROCESSOR0001"
#define PROCESSOR_SEC1 "pr0cessorS3cretKeyForTheLocalIamListen01"
#define PROCESSOR_KEY2 "ASIATSTPROCESSOR0002"
#define PROCESSOR_SEC2 "pr0cessorS3cretKeyForTheLocalIamListen02"
#define ADMIN_KEY      "AKIATSTLONGTERM00001"
#define ADMIN_SEC      "l0ngTermS3cretKeyForTheLocalIamListener01"

/* A file of the cluster: its path for the CA certificate, else its line
 * (bootstrap-IAM is there only when the cluster has an IAM listener). */
static void cluster_file(const char *name, char *out, size_t size)
{
    const char *dir = getenv("TAGSTREAM_KAFKA_DIR");

    cr_assert_not_null(dir, "TAGSTREAM_KAFKA_DIR is not set");
    if (!strcmp(name, "tls/ca.crt")) {
        snprintf(out, size, "%s/%s", dir, name);
        return;
    }
    tk_cluster_line(name, out, size);
}

/* Sign-ins the broker accepted (its log) whose line contains `what`. */
static int broker_sign_ins(const char *what)
{
    const char *dir = getenv("TAGSTREAM_KAFKA_DIR");
    char path[512], line[1024];
    int n = 0;
    FILE *fp;

    cr_assert_not_null(dir);
    snprintf(path, sizeof(path), "%s/nodes/1/node.log", dir);
    fp = fopen(path, "r");
    cr_assert_not_null(fp, "no %s", path);
    while (fgets(line, sizeof(line), fp))
        if (strstr(line, "MSK IAM token accepted for ") && strstr(line, what))
            n++;
    fclose(fp);
    return n;
}

/* The ECS agent's answer for one key, expiring at expires_ms, into out
 * (1024 bytes; the fake server reads it when it answers). */
static char *ecs_json(char *out, const char *key, const char *secret, const char *token,
                      int64_t expires_ms)
{
    char when[32];
    time_t t = (time_t)(expires_ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(out, 1024,
             "{\"RoleArn\":\"arn:aws:iam::123456789012:role/test\",\"AccessKeyId\":\"%s\","
             "\"SecretAccessKey\":\"%s\",\"Token\":\"%s\",\"Expiration\":\"%s\"}",
             key, secret, token, when);
    return out;
}

/* Posts (the producer's file format), some windows of NTAGS tags, then a
 * record that closes them. */
static void write_input(const char *path, int64_t base, int first_window, int nwindows)
{
    FILE *fp = fopen(path, "w");

    cr_assert_not_null(fp);
    for (int w = first_window; w < first_window + nwindows + 1; w++)
        for (int t = 0; t < NTAGS; t++) {
            int last = w == first_window + nwindows;
            int n = last ? (t == 0) : (w * 5 + t * 3) % 9 + 1;
            for (int i = 0; i < n; i++) {
                char id[32];
                snprintf(id, sizeof(id), "%d%d%d", w, t, i);
                tk_write_post(fp, id,
                              base + (int64_t)(last ? w + 3 : w) * WINDOW +
                                  (t * 1000 + i * 97) % WINDOW,
                              last ? "closer" : tags[t]);
            }
        }
    fclose(fp);
}

static size_t expected(int64_t base, int first_window, int nwindows, char **out, size_t n)
{
    for (int w = first_window; w < first_window + nwindows; w++)
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
    return n;
}

static void run_producer(const char *bs, const char *ca, const char *topic, const char *file,
                         const char *creds_url)
{
    char cafile[600];
    const char *args[] = {"--bootstrap.servers",
                          bs,
                          "--msk.iam",
                          "true",
                          "-X",
                          cafile,
                          "--topic",
                          topic,
                          "--source",
                          "file",
                          "--file.path",
                          file,
                          "--http.listen",
                          "",
                          "--startup.timeout.ms",
                          "5000",
                          NULL};
    tk_proc p;
    int st;

    snprintf(cafile, sizeof(cafile), "kafka.ssl.ca.location=%s", ca);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", creds_url, 1);
    p = tk_proc_start("tagstream-producer", args);
    st = tk_proc_wait(&p, 120000);
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "the producer did not finish (status %d, log %s)", st, p.log);
}

Test(msk_iam_broker, producer_and_processor_through_iam_across_token_refreshes, .timeout = 420)
{
    fakehttp *f = fh_start();
    int64_t now = tk_now_ms(), t = now - 2 * 3600 * 1000, base = t - t % WINDOW;
    char *u = tk_unique("iam"), in[128], out[128], app[128], state[256], bs[256], ca[512];
    char file1[128], file2[128], url_p[128], url_q[128], cafile[600];
    char *want[256], *got[256];
    static char jp[1024], jq1[1024], jq2[1024];
    fh_part pp = {ecs_json(jp, PRODUCER_KEY, PRODUCER_SEC, "tokPRODUCER1", now + 3600000), 0, 0};
    fh_part q1 = {jq1, 0, 0};
    fh_part q2 = {ecs_json(jq2, PROCESSOR_KEY2, PROCESSOR_SEC2, "tokPROCESSOR2", now + 3600000), 0,
                  0};
    fh_response rp[] = {{200, "Content-Type: application/json\n", &pp, 1, FH_END_CLOSE}};
    fh_response rq[] = {{200, "Content-Type: application/json\n", &q1, 1, FH_END_CLOSE},
                        {200, "Content-Type: application/json\n", &q2, 1, FH_END_CLOSE}};
    size_t nwant = 0, ngot;
    tk_records recs;
    tk_proc proc;
    int st, sessions1, sessions2;

    snprintf(in, sizeof(in), "%s-in", u);
    snprintf(out, sizeof(out), "%s-out", u);
    snprintf(app, sizeof(app), "%s", u);
    snprintf(state, sizeof(state), "/tmp/%s-state", u);
    snprintf(file1, sizeof(file1), "/tmp/%s-1.ndjson", u);
    snprintf(file2, sizeof(file2), "/tmp/%s-2.ndjson", u);
    free(u);
    cluster_file("bootstrap-IAM", bs, sizeof(bs));
    cluster_file("tls/ca.crt", ca, sizeof(ca));
    tk_create_topic(in, 1, 1, NULL);
    tk_create_topic(out, 1, 1, NULL);

    fh_route(f, "GET", "/producer", rp, 1);
    fh_route(f, "GET", "/processor", rq, 2);
    snprintf(url_p, sizeof(url_p), "%s/producer", fh_url(f));
    snprintf(url_q, sizeof(url_q), "%s/processor", fh_url(f));
    setenv("AWS_REGION", REGION, 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");

    /* the first windows, then the processor */
    write_input(file1, base, 0, 4);
    nwant = expected(base, 0, 4, want, nwant);
    run_producer(bs, ca, in, file1, url_p);
    {
        const char *args[] = {"--bootstrap.servers",
                              bs,
                              "--msk.iam",
                              "true",
                              "-X",
                              cafile,
                              "--application.id",
                              app,
                              "--state.dir",
                              state,
                              "--input.topic",
                              in,
                              "--output.topic",
                              out,
                              "--replication.factor",
                              "1",
                              "--http.listen",
                              "127.0.0.1:0",
                              "-Xkafka.session.timeout.ms=10000",
                              NULL};
        snprintf(cafile, sizeof(cafile), "kafka.ssl.ca.location=%s", ca);
        setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url_q, 1);
        /* its first keys expire 16 s after its start: a refresh loads the second ones */
        ecs_json(jq1, PROCESSOR_KEY1, PROCESSOR_SEC1, "tokPROCESSOR1", tk_now_ms() + 16000);
        proc = tk_proc_start("tagstream-processor", args);
    }
    cr_assert(fh_wait_ended(f, "GET", "/processor", 2, 90000),
              "the processor never refreshed its credentials (log %s)", proc.log);
    /* the broker's sessions end every 10 s: the next ones carry the new keys */
    for (int i = 0; i < 300 && !broker_sign_ins("(key " PROCESSOR_KEY2); i++)
        usleep(100 * 1000);
    cr_assert_gt(broker_sign_ins("(key " PROCESSOR_KEY2), 0,
                 "the processor never signed in with its refreshed keys (log %s)", proc.log);
    /* /metrics counts the refreshes, /health shows their state */
    {
        int port = tk_logged_http_port(&proc, 30000);
        char *body = NULL;

        cr_assert_eq(tk_http_get(port, "/metrics", &body), 200);
        cr_expect_geq(tk_sample(body, "tagstream_msk_iam_token_refreshes_total{result=\"ok\"}"), 2,
                      "%s", body);
        cr_expect_eq(tk_sample(body, "tagstream_msk_iam_token_refreshes_total{result=\"error\"}"),
                     0, "%s", body);
        free(body);
        body = NULL;
        cr_assert_eq(tk_http_get(port, "/health", &body), 200);
        cr_expect(strstr(body, "\"msk_iam\":{\"token_expires_ms\":") &&
                      strstr(body, "\"refresh_failing\":false"),
                  "%s", body);
        free(body);
    }
    /* then more windows, counted over the sessions of the refreshed tokens */
    write_input(file2, base, 10, 4);
    nwant = expected(base, 10, 4, want, nwant);
    run_producer(bs, ca, in, file2, url_p);

    recs = tk_consume_all(out, 0, nwant, 90000);
    if (recs.n >= nwant) {
        tk_records_free(&recs);
        usleep(1500 * 1000);
        recs = tk_consume_all(out, 0, 0, 3000);
    }
    cr_assert(recs.n < 256);
    ngot = tk_result_lines(&recs, got);
    tk_records_free(&recs);
    st = tk_proc_stop(&proc, SIGTERM, 30000);
    cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "the processor exited with status %d (log %s)", st, proc.log);
    tk_sort_strings(want, nwant);
    tk_sort_strings(got, ngot);
    cr_expect_eq(ngot, nwant, "%zu results, %zu expected (log %s)", ngot, nwant, proc.log);
    for (size_t i = 0; i < nwant && i < ngot; i++)
        cr_expect_str_eq(got[i], want[i]);
    /* tokens of the second keys were made, and the broker took them */
    cr_expect(tk_proc_log_has(&proc, "\"access_key_id\":\"****************0002\""),
              "no token of the refreshed keys (log %s)", proc.log);
    sessions1 = broker_sign_ins("(key " PROCESSOR_KEY1);
    sessions2 = broker_sign_ins("(key " PROCESSOR_KEY2);
    cr_expect_gt(sessions1, 0, "the broker never saw a token of the first keys");
    cr_expect_gt(sessions2, 0, "the broker never saw a token of the refreshed keys");
    printf("msk iam end to end: %zu results as expected; processor: credentials loaded %zu "
           "times, %d tokens made; broker sign-ins with the first keys %d, with the refreshed "
           "keys %d\n",
           nwant, fh_count(f, "GET", "/processor"),
           tk_proc_log_count(&proc, "\"msg\":\"token refreshed\""), sessions1, sessions2);
    cr_expect(!tk_proc_log_has(&proc, PROCESSOR_SEC1) && !tk_proc_log_has(&proc, PROCESSOR_SEC2),
              "a secret in the log");
    cr_expect(!tk_proc_log_has(&proc, "tokPROCESSOR"), "a session token in the log");

    for (size_t i = 0; i < nwant; i++)
        free(want[i]);
    for (size_t i = 0; i < ngot; i++)
        free(got[i]);
    unlink(file1);
    unlink(file2);
    ts_fs_remove_tree(state, NULL, 0);
    fh_stop(f);
}

/* ---- refusals: tokens a client builds wrong ---- */

typedef struct refusal {
    const char *secret;
    const char *host;
    int64_t age_s; /* how long ago it was signed */
    char error[1024];
} refusal;

static void refusal_refresh(rd_kafka_t *rk, const char *config, void *opaque)
{
    refusal *r = opaque;
    ts_aws_creds c = {.access_key_id = ADMIN_KEY, .secret_access_key = (char *)r->secret};
    ts_buf tok = TS_BUF_INIT;
    char err[256];
    int64_t now = tk_now_ms() / 1000 - r->age_s;

    (void)config;
    cr_assert_eq(ts_msk_iam_token(&c, REGION, r->host, now, NULL, &tok, NULL, err, sizeof(err)),
                 TS_OK, "%s", err);
    /* librdkafka refuses a lifetime in the past: the broker is to judge */
    rd_kafka_oauthbearer_set_token(rk, tok.data, tk_now_ms() + 60000, "test", NULL, 0, err,
                                   sizeof(err));
    ts_buf_free(&tok);
}

static void refusal_error(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
    refusal *r = opaque;

    (void)rk;
    if (code == RD_KAFKA_RESP_ERR__AUTHENTICATION && !r->error[0])
        snprintf(r->error, sizeof(r->error), "%s", reason);
}

/* Returns 1 if metadata could be read with the token, else 0 with the
 * client's authentication error in r->error. */
static int try_token(refusal *r)
{
    char bs[256], ca[512], err[512];
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_t *rk;
    int ok = 0;

    cluster_file("bootstrap-IAM", bs, sizeof(bs));
    cluster_file("tls/ca.crt", ca, sizeof(ca));
    cr_assert_eq(rd_kafka_conf_set(c, "bootstrap.servers", bs, err, sizeof(err)), 0, "%s", err);
    rd_kafka_conf_set(c, "security.protocol", "SASL_SSL", err, sizeof(err));
    rd_kafka_conf_set(c, "sasl.mechanisms", "OAUTHBEARER", err, sizeof(err));
    rd_kafka_conf_set(c, "ssl.ca.location", ca, err, sizeof(err));
    rd_kafka_conf_set_opaque(c, r);
    rd_kafka_conf_set_oauthbearer_token_refresh_cb(c, refusal_refresh);
    rd_kafka_conf_set_error_cb(c, refusal_error);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    cr_assert_not_null(rk, "%s", err);
    /* polls serve the refresh callback and the errors; a refusal ends it */
    for (int i = 0; i < 60 && !ok && !r->error[0]; i++) {
        rd_kafka_poll(rk, 100);
        ok = rd_kafka_metadata(rk, 0, NULL, &md, 200) == RD_KAFKA_RESP_ERR_NO_ERROR;
        if (md)
            rd_kafka_metadata_destroy(md);
        md = NULL;
    }
    rd_kafka_destroy(rk);
    return ok;
}

Test(msk_iam_broker, tokens_signed_wrong_expired_or_for_another_host_are_refused, .timeout = 120)
{
    refusal good = {ADMIN_SEC, "kafka." REGION ".amazonaws.com", 0, ""};
    refusal wrong = {"not-the-secret-key-of-this-access-key-id", "kafka." REGION ".amazonaws.com",
                     0, ""};
    refusal expired = {ADMIN_SEC, "kafka." REGION ".amazonaws.com", 901, ""};
    refusal other = {ADMIN_SEC, "kafka.eu-central-1.amazonaws.com", 0, ""};

    cr_assert(try_token(&good), "a good token was refused: %s", good.error);
    cr_expect(!try_token(&wrong), "a token signed with the wrong secret was accepted");
    cr_expect(strstr(wrong.error, "signature does not match") != NULL, "%s", wrong.error);
    cr_expect(!try_token(&expired), "an expired token was accepted");
    cr_expect(strstr(expired.error, "token expired at") != NULL, "%s", expired.error);
    cr_expect(!try_token(&other), "a token for another host was accepted");
    cr_expect(strstr(other.error, "signed for host kafka.eu-central-1.amazonaws.com") != NULL, "%s",
              other.error);
    printf("refused: wrong secret: %s\nrefused: expired: %s\nrefused: other host: %s\n",
           wrong.error, expired.error, other.error);
}

/* The processor with keys whose secret is wrong: it stops, with one line
 * that names the broker's reason and where to look, and no secret. */
Test(msk_iam_broker, the_processor_stops_with_the_brokers_reason_on_a_wrong_secret, .timeout = 120)
{
    char *u = tk_unique("iam-refused"), bs[256], ca[512], cafile[600], state[256], in[128],
         out[128];
    const char *args[] = {"--bootstrap.servers",
                          bs,
                          "--msk.iam",
                          "true",
                          "-X",
                          cafile,
                          "--application.id",
                          u,
                          "--state.dir",
                          state,
                          "--input.topic",
                          in,
                          "--output.topic",
                          out,
                          "--replication.factor",
                          "1",
                          "--http.listen",
                          "",
                          "--startup.timeout.ms",
                          "5000",
                          NULL};
    tk_proc p;
    int st;

    cluster_file("bootstrap-IAM", bs, sizeof(bs));
    cluster_file("tls/ca.crt", ca, sizeof(ca));
    snprintf(cafile, sizeof(cafile), "kafka.ssl.ca.location=%s", ca);
    snprintf(state, sizeof(state), "/tmp/%s-state", u);
    snprintf(in, sizeof(in), "%s-in", u);
    snprintf(out, sizeof(out), "%s-out", u);
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("AWS_REGION", REGION, 1);
    setenv("AWS_ACCESS_KEY_ID", ADMIN_KEY, 1);
    setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-key-of-this-access-key-id", 1);
    p = tk_proc_start("tagstream-processor", args);
    st = tk_proc_wait(&p, 90000);
    cr_assert(st != -1, "the processor kept retrying (log %s)", p.log);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) != 0, "status %d (log %s)", st, p.log);
    cr_expect(tk_proc_log_has(&p, "signature does not match"), "no reason (log %s)", p.log);
    cr_expect(tk_proc_log_has(&p, "--msk-iam-check"), "no hint (log %s)", p.log);
    cr_expect(!tk_proc_log_has(&p, "not-the-secret-key"), "the secret in the log");
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    ts_fs_remove_tree(state, NULL, 0);
    free(u);
}
