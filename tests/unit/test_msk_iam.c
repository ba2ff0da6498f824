/*
 * MSK IAM: the SigV4 signer, the credential chain against fake ECS and EC2
 * metadata endpoints on loopback (their real wire format), and token
 * refresh through librdkafka's OAUTHBEARER refresh callback with short
 * credential lifetimes and failing endpoints. (The byte-for-byte comparison
 * with AWS's own signer is tests/msk_iam/compare_signer.py.)
 */
#include "fakehttp.h"
#include "ts_aws_creds.h"
#include "ts_aws_sigv4.h"
#include "ts_clock.h"
#include "ts_kafka.h"
#include "ts_log.h"
#include "ts_msk_iam.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static const char *const aws_vars[] = {"AWS_ACCESS_KEY_ID",
                                       "AWS_SECRET_ACCESS_KEY",
                                       "AWS_SESSION_TOKEN",
                                       "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                       "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                       "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                                       "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                                       "AWS_EC2_METADATA_DISABLED",
                                       "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                                       "AWS_REGION",
                                       "AWS_DEFAULT_REGION",
                                       NULL};

static void clean_env(void)
{
    for (size_t i = 0; aws_vars[i]; i++)
        unsetenv(aws_vars[i]);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

TestSuite(msk_iam, .init = clean_env);

/* ---- the signer ---- */

/* The presigned-URL example of AWS's SigV4 documentation (S3, GET
 * /test.txt, 2013-05-24, 86400 s): a vector from outside this project. */
Test(msk_iam, sigv4_documentation_example)
{
    ts_aws_presign r = {.method = "GET",
                        .host = "examplebucket.s3.amazonaws.com",
                        .path = "/test.txt",
                        .service = "s3",
                        .region = "us-east-1",
                        .access_key_id = "AKIAIOSFODNN7EXAMPLE",
                        .secret_access_key = SECRET,
                        .time_s = 1369353600,
                        .expires_s = 86400,
                        .unsigned_payload = 1};
    ts_buf url = TS_BUF_INIT;
    char err[256];

    cr_assert_eq(ts_aws_sigv4_presign(&r, &url, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_str_eq(
        url.data,
        "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature="
        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    ts_buf_free(&url);
}

Test(msk_iam, base64url_and_uri_encoding)
{
    ts_buf b = TS_BUF_INIT;

    ts_aws_base64url(&b, "\xfb\xff", 2);
    ts_buf_putc(&b, ' ');
    ts_aws_base64url(&b, "abc", 3);
    ts_buf_putc(&b, ' ');
    ts_aws_base64url(&b, "a", 1);
    ts_buf_putc(&b, ' ');
    ts_aws_uri_encode(&b, "a-b_c.d~e f/g+h=i:\xc3\xa9", 20);
    ts_buf_putc(&b, '\0');
    cr_expect_str_eq(b.data, "-_8 YWJj YQ a-b_c.d~e%20f%2Fg%2Bh%3Di%3A%C3%A9");
    ts_buf_free(&b);
}

static char *decode_token(const ts_buf *tok)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *out = calloc(tok->len, 1);
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;

    for (size_t i = 0; i < tok->len; i++) {
        const char *p = strchr(tab, tok->data[i]);
        cr_assert(p && *p, "not base64url: %c", tok->data[i]);
        acc = (acc << 6) | (unsigned)(p - tab);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    return out;
}

Test(msk_iam, token_is_the_presigned_connect_url)
{
    ts_aws_creds c = {
        .access_key_id = "ASIAEXAMPLE", .secret_access_key = SECRET, .session_token = "tok/en+="};
    ts_buf tok = TS_BUF_INIT;
    int64_t exp = 0;
    char err[256], *url;

    cr_assert_eq(ts_msk_iam_token(&c, "eu-west-1", "kafka.eu-west-1.amazonaws.com", 1764489600,
                                  NULL, &tok, &exp, err, sizeof(err)),
                 TS_OK, "%s", err);
    cr_expect_eq(exp, (1764489600LL + 900) * 1000);
    cr_expect_null(memchr(tok.data, '=', tok.len), "padded");
    url = decode_token(&tok);
    cr_expect(
        !strncmp(url,
                 "https://kafka.eu-west-1.amazonaws.com/?Action=kafka-cluster%3AConnect"
                 "&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLE%2F20251130%2F"
                 "eu-west-1%2Fkafka-cluster%2Faws4_request&X-Amz-Date=20251130T080000Z"
                 "&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
                 "&X-Amz-Security-Token=tok%2Fen%2B%3D&X-Amz-Signature=",
                 282),
        "%s", url);
    cr_expect(strstr(url, "&User-Agent=tagstream%2F") != NULL, "%s", url);
    cr_expect(strstr(url, SECRET) == NULL);
    free(url);
    ts_buf_free(&tok);
}

Test(msk_iam, missing_keys_are_an_error)
{
    ts_aws_creds c = {.access_key_id = "AKIDEXAMPLE"};
    ts_buf tok = TS_BUF_INIT;
    char err[256] = "";

    cr_expect_eq(ts_msk_iam_token(&c, "us-east-1", "h", 1, NULL, &tok, NULL, err, sizeof(err)),
                 TS_ERR_INVALID);
    cr_expect(strstr(err, "secret key") != NULL, "%s", err);
    ts_buf_free(&tok);
}

/* ---- settings ---- */

typedef struct owner {
    ts_msk_iam_conf iam;
} owner;

static const ts_conf_prop props[] = {TS_CONF_KEY_MSK_IAM(owner, iam), {NULL}};

Test(msk_iam, settings_from_the_table_and_the_environment)
{
    ts_msk_iam_settings s;
    owner o;
    ts_conf conf;
    char err[256] = "";

    cr_assert_eq(ts_conf_init(&conf, props, &o, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_eq(ts_msk_iam_settings_get(&conf, &s, err, sizeof(err)), TS_OK);
    cr_expect_eq(s.enabled, 0);
    ts_conf_set(&conf, "msk.iam", "true", TS_CONF_SRC_FLAG, err, sizeof(err));
    cr_expect_eq(ts_msk_iam_settings_get(&conf, &s, err, sizeof(err)), TS_ERR_INVALID);
    cr_expect(strstr(err, "msk.iam.region") != NULL, "%s", err);
    setenv("AWS_REGION", "eu-central-1", 1);
    cr_expect_eq(ts_msk_iam_settings_get(&conf, &s, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_str_eq(s.region, "eu-central-1");
    cr_expect_str_eq(s.host, "kafka.eu-central-1.amazonaws.com");
    ts_conf_set(&conf, "msk.iam.region", "us-west-2", TS_CONF_SRC_FLAG, err, sizeof(err));
    ts_conf_set(&conf, "msk.iam.host", "b-1.demo.kafka.us-west-2.amazonaws.com", TS_CONF_SRC_FLAG,
                err, sizeof(err));
    cr_expect_eq(ts_msk_iam_settings_get(&conf, &s, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_str_eq(s.region, "us-west-2");
    cr_expect_str_eq(s.host, "b-1.demo.kafka.us-west-2.amazonaws.com");
    ts_conf_set(&conf, "msk.iam.region", "us west", TS_CONF_SRC_FLAG, err, sizeof(err));
    cr_expect_eq(ts_msk_iam_settings_get(&conf, &s, err, sizeof(err)), TS_ERR_INVALID);
    ts_conf_destroy(&conf);
}

Test(msk_iam, kafka_conf_sets_oauthbearer_and_refuses_another_mechanism)
{
    owner o;
    ts_conf conf;
    rd_kafka_conf_t *kc;
    char err[256] = "", v[64];
    size_t n = sizeof(v);

    cr_assert_eq(ts_conf_init(&conf, props, &o, err, sizeof(err)), TS_OK, "%s", err);
    ts_conf_set(&conf, "msk.iam", "true", TS_CONF_SRC_FLAG, err, sizeof(err));
    ts_conf_set(&conf, "msk.iam.region", "eu-west-1", TS_CONF_SRC_FLAG, err, sizeof(err));
    kc = ts_kafka_conf_new(&conf, "127.0.0.1:1", NULL, NULL, err, sizeof(err));
    cr_assert_not_null(kc, "%s", err);
    rd_kafka_conf_get(kc, "security.protocol", v, &n);
    cr_expect_str_eq(v, "sasl_ssl");
    n = sizeof(v);
    rd_kafka_conf_get(kc, "sasl.mechanisms", v, &n);
    cr_expect_str_eq(v, "OAUTHBEARER");
    rd_kafka_conf_destroy(kc);
    ts_conf_set(&conf, "kafka.sasl.mechanisms", "SCRAM-SHA-512", TS_CONF_SRC_FLAG, err,
                sizeof(err));
    cr_expect_null(ts_kafka_conf_new(&conf, "127.0.0.1:1", NULL, NULL, err, sizeof(err)));
    cr_expect(strstr(err, "OAUTHBEARER") != NULL, "%s", err);
    ts_conf_destroy(&conf);
}

/* ---- credentials ---- */

Test(msk_iam, environment_credentials_come_first)
{
    ts_aws_creds c;
    char err[256] = "";

    setenv("AWS_ACCESS_KEY_ID", "AKIAENVEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    setenv("AWS_SESSION_TOKEN", "sess", 1);
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/never", 1);
    cr_assert_eq(ts_aws_creds_load(NULL, &c, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_str_eq(c.source, "environment");
    cr_expect_str_eq(c.access_key_id, "AKIAENVEXAMPLE");
    cr_expect_str_eq(c.secret_access_key, SECRET);
    cr_expect_str_eq(c.session_token, "sess");
    cr_expect_eq(c.expires_ms, 0);
    ts_aws_creds_clear(&c);
    cr_expect_null(c.access_key_id);
}

Test(msk_iam, no_source_is_a_clear_error)
{
    ts_aws_creds c;
    char err[256] = "";

    cr_expect_eq(ts_aws_creds_load(NULL, &c, err, sizeof(err)), TS_ERR_NOT_FOUND);
    cr_expect(strstr(err, "no AWS credentials") != NULL, "%s", err);
}

/* The ECS agent's answer (also the shape of IMDS's, which adds Code). */
static char *ecs_json(int64_t expires_ms, const char *akid)
{
    static char buf[4][512];
    static int next;
    char when[32];
    time_t t = (time_t)(expires_ms / 1000);
    struct tm tm;
    char *out = buf[next++ % 4];

    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(out, 512,
             "{\"RoleArn\":\"arn:aws:iam::123456789012:role/tagstream-processor\","
             "\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"" SECRET "\","
             "\"Token\":\"IQoJb3JpZ2luX2VjEXAMPLE/+=\",\"Expiration\":\"%s\"}",
             akid, when);
    return out;
}

Test(msk_iam, ecs_relative_uri)
{
    fakehttp *f = fh_start();
    fh_part body = {ecs_json(1798761600000LL, "ASIAECSEXAMPLE"), 0, 0};
    fh_response ok[] = {{200, "Content-Type: application/json\n", &body, 1, FH_END_CLOSE}};
    ts_aws_creds_opts o = {.ecs_base = fh_url(f)};
    ts_aws_creds c;
    char err[256] = "";

    fh_route(f, "GET", "/v2/credentials/5f1e-example", ok, 1);
    setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/5f1e-example", 1);
    cr_assert_eq(ts_aws_creds_load(&o, &c, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_str_eq(c.source, "ecs");
    cr_expect_str_eq(c.access_key_id, "ASIAECSEXAMPLE");
    cr_expect_str_eq(c.secret_access_key, SECRET);
    cr_expect_str_eq(c.session_token, "IQoJb3JpZ2luX2VjEXAMPLE/+=");
    cr_expect_str_eq(c.role_arn, "arn:aws:iam::123456789012:role/tagstream-processor");
    cr_expect_eq(c.expires_ms, 1798761600000LL);
    ts_aws_creds_clear(&c);
    fh_stop(f);
}

static void full_uri_with(int from_file)
{
    fakehttp *f = fh_start();
    fh_part body = {ecs_json(1798761600000LL, "ASIAFULLEXAMPLE"), 0, 0};
    fh_response ok[] = {{200, "Content-Type: application/json\n", &body, 1, FH_END_CLOSE}};
    char url[128], path[] = "/tmp/ts_msk_iam_tokenXXXXXX", err[256] = "";
    fh_request rq;
    ts_aws_creds c;
    int fd;

    fh_route(f, "GET", "/get-credentials", ok, 1);
    snprintf(url, sizeof(url), "%s/get-credentials", fh_url(f));
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
    setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "from-the-variable", 1);
    if (from_file) {
        fd = mkstemp(path);
        cr_assert(fd >= 0);
        cr_assert_eq(write(fd, "from-the-file\n", 14), 14);
        close(fd);
        setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", path, 1);
    }
    cr_assert_eq(ts_aws_creds_load(NULL, &c, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_str_eq(c.access_key_id, "ASIAFULLEXAMPLE");
    cr_assert(fh_request_get(f, 0, &rq));
    cr_expect_str_eq(rq.authorization, from_file ? "from-the-file" : "from-the-variable");
    ts_aws_creds_clear(&c);
    if (from_file)
        unlink(path);
    fh_stop(f);
}

Test(msk_iam, ecs_full_uri_with_authorization_token)
{
    full_uri_with(0);
}

Test(msk_iam, ecs_full_uri_with_authorization_token_file)
{
    full_uri_with(1);
}

Test(msk_iam, ecs_full_uri_in_clear_only_to_the_loopback)
{
    ts_aws_creds c;
    char err[256] = "";

    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.0.2.1/creds", 1);
    cr_expect_eq(ts_aws_creds_load(NULL, &c, err, sizeof(err)), TS_ERR_INVALID);
    cr_expect(strstr(err, "plain http") != NULL, "%s", err);
}

/* A failing endpoint: an error status, an answer that is not credentials,
 * nobody listening, a server that never answers. Each is a prompt error that
 * says what failed, and never holds the secret. */
Test(msk_iam, failing_ecs_endpoint_is_a_clear_error)
{
    fakehttp *f = fh_start();
    fh_part denied = {"{\"code\":\"AccessDenied\",\"message\":\"not your task\"}", 0, 0};
    fh_part junk = {"<html>proxy error</html>", 0, 0};
    fh_part partial = {"{\"AccessKeyId\":\"ASIA\",\"Expiration\":\"soon\"}", 0, 0};
    fh_part badexp = {"{\"AccessKeyId\":\"ASIA\",\"SecretAccessKey\":\"" SECRET
                      "\",\"Expiration\":\"tomorrow\"}",
                      0, 0};
    fh_response r500[] = {{500, NULL, &denied, 1, FH_END_CLOSE}};
    fh_response rjunk[] = {{200, NULL, &junk, 1, FH_END_CLOSE}};
    fh_response rpartial[] = {{200, NULL, &partial, 1, FH_END_CLOSE}};
    fh_response rbadexp[] = {{200, NULL, &badexp, 1, FH_END_CLOSE}};
    fh_response rhang[] = {{200, NULL, NULL, 0, FH_END_HANG}};
    static const struct {
        const char *path;
        ts_err err;
        const char *says;
    } cases[] = {
        {"/500", TS_ERR_IO, "HTTP status 500"},
        {"/junk", TS_ERR_CORRUPT, "not a JSON object"},
        {"/partial", TS_ERR_CORRUPT, "no AccessKeyId and SecretAccessKey"},
        {"/badexp", TS_ERR_CORRUPT, "cannot read the Expiration"},
        {"/hang", TS_ERR_IO, "ECS credentials: GET"},
    };
    ts_aws_creds_opts o = {.ecs_base = fh_url(f), .timeout_ms = 700};
    char err[512];
    int port, fd;

    fh_route(f, "GET", "/500", r500, 1);
    fh_route(f, "GET", "/junk", rjunk, 1);
    fh_route(f, "GET", "/partial", rpartial, 1);
    fh_route(f, "GET", "/badexp", rbadexp, 1);
    fh_route(f, "GET", "/hang", rhang, 1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ts_aws_creds c;
        int64_t t0 = ts_mono_ms();

        setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", cases[i].path, 1);
        cr_expect_eq(ts_aws_creds_load(&o, &c, err, sizeof(err)), cases[i].err, "%s: %s",
                     cases[i].path, err);
        cr_expect(strstr(err, cases[i].says) != NULL, "%s: %s", cases[i].path, err);
        cr_expect(strstr(err, SECRET) == NULL, "%s", err);
        cr_expect_null(c.access_key_id);
        /* bounded by the timeout, not the server (generous: shared CPUs) */
        cr_expect_lt(ts_mono_ms() - t0, 30000);
    }
    fh_stop(f);

    /* a port where nobody listens, and one that never accepts */
    fd = fh_silent_start(&port);
    cr_assert(fd >= 0);
    {
        ts_aws_creds c;
        char base[64];

        snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
        o.ecs_base = base;
        setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/creds", 1);
        cr_expect_eq(ts_aws_creds_load(&o, &c, err, sizeof(err)), TS_ERR_IO);
        cr_expect(strstr(err, "ECS credentials: GET http://127.0.0.1:") != NULL, "%s", err);
        close(fd);
        o.ecs_base = "http://127.0.0.1:1";
        cr_expect_eq(ts_aws_creds_load(&o, &c, err, sizeof(err)), TS_ERR_IO);
        cr_expect(strstr(err, "ECS credentials") != NULL, "%s", err);
    }
}

Test(msk_iam, imds_v2_token_then_role_then_credentials)
{
    fakehttp *f = fh_start();
    char json[600];
    fh_part tok = {"AQAEAEXAMPLEsessiontoken==", 0, 0};
    fh_part role = {"tagstream-instance-role", 0, 0};
    fh_part creds = {json, 0, 0};
    fh_response rtok[] = {{200, NULL, &tok, 1, FH_END_CLOSE}};
    fh_response rrole[] = {{200, NULL, &role, 1, FH_END_CLOSE}};
    fh_response rcreds[] = {{200, NULL, &creds, 1, FH_END_CLOSE}};
    ts_aws_creds_opts o = {.imds = 1};
    ts_aws_creds c;
    char err[256] = "";

    snprintf(json, sizeof(json),
             "{\"Code\":\"Success\",\"LastUpdated\":\"2026-11-30T08:00:00Z\",\"Type\":\"AWS-HMAC\","
             "\"AccessKeyId\":\"ASIAIMDSEXAMPLE\",\"SecretAccessKey\":\"" SECRET "\","
             "\"Token\":\"imds-session\",\"Expiration\":\"2026-11-30T14:00:00Z\"}");
    fh_route(f, "PUT", "/latest/api/token", rtok, 1);
    fh_route(f, "GET", "/latest/meta-data/iam/security-credentials/", rrole, 1);
    fh_route(f, "GET", "/latest/meta-data/iam/security-credentials/tagstream-instance-role", rcreds,
             1);
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", fh_url(f), 1);
    cr_assert_eq(ts_aws_creds_load(&o, &c, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_str_eq(c.source, "imds");
    cr_expect_str_eq(c.access_key_id, "ASIAIMDSEXAMPLE");
    cr_expect_str_eq(c.session_token, "imds-session");
    cr_expect_eq(c.expires_ms, ts_aws_parse_time("2026-11-30T14:00:00Z"));
    cr_expect_eq(fh_count(f, "PUT", "/latest/api/token"), 1);
    ts_aws_creds_clear(&c);
    /* disabled: not asked */
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    cr_expect_eq(ts_aws_creds_load(&o, &c, err, sizeof(err)), TS_ERR_NOT_FOUND);
    cr_expect_eq(fh_count(f, "PUT", "/latest/api/token"), 1);
    fh_stop(f);
}

Test(msk_iam, time_parsing)
{
    cr_expect_eq(ts_aws_parse_time("1970-01-01T00:00:10Z"), 10000);
    cr_expect_eq(ts_aws_parse_time("2026-11-30T08:00:00.123Z"), 1796025600000LL);
    cr_expect_eq(ts_aws_parse_time("2026-11-30T08:00:00+00:00"), 1796025600000LL);
    cr_expect_eq(ts_aws_parse_time("2026-11-30T08:00:00+02:00"), -1);
    cr_expect_eq(ts_aws_parse_time("soon"), -1);
}

/* ---- refresh through librdkafka ---- */

static int wait_for(int (*cond)(void *), void *arg, int timeout_ms)
{
    int64_t end = ts_mono_ms() + timeout_ms;

    while (ts_mono_ms() < end) {
        if (cond(arg))
            return 1;
        usleep(20000);
    }
    return cond(arg);
}

typedef struct waiter {
    fakehttp *f;
    size_t n;
} waiter;

static int requests_reached(void *arg)
{
    waiter *w = arg;

    return fh_count(w->f, "GET", "/creds") >= w->n;
}

static int health_is(void *arg)
{
    ts_buf d = TS_BUF_INIT;
    int ok = ts_msk_iam_health(&d);

    ts_buf_free(&d);
    return ok == *(int *)arg;
}

static char *read_file(const char *path)
{
    FILE *fp = fopen(path, "r");
    ts_buf b = TS_BUF_INIT;
    char chunk[4096];
    size_t n;

    cr_assert_not_null(fp);
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        ts_buf_append(&b, chunk, n);
    fclose(fp);
    ts_buf_putc(&b, '\0');
    return ts_buf_take(&b, NULL);
}

/*
 * Credentials from a fake ECS endpoint with short lifetimes (4 s, then 9 s
 * from the start): each token's lifetime ends with its credentials, so
 * librdkafka asks for a new token at 80% of it, and the credentials are
 * loaded again. The third load fails twice (HTTP 500, 2 attempts): the
 * refresh is reported as failed, /health turns unhealthy once the last good
 * token has expired, and librdkafka's retry ten seconds later gets a good
 * answer again.
 */
Test(msk_iam, refresh_with_short_lifetimes_and_a_failing_endpoint, .timeout = 180)
{
    fakehttp *f = fh_start();
    int64_t t0 = fh_wall_ms();
    fh_part good1 = {ecs_json(t0 + 4000, "ASIAFIRSTEXAMPLE"), 0, 0};
    fh_part good2 = {ecs_json(t0 + 9000, "ASIASECONDEXAMPLE"), 0, 0};
    fh_part good3 = {ecs_json(t0 + 3600000, "ASIATHIRDEXAMPLE"), 0, 0};
    fh_part oops = {"{\"message\":\"agent restarting\"}", 0, 0};
    fh_response script[] = {
        {200, "Content-Type: application/json\n", &good1, 1, FH_END_CLOSE},
        {200, "Content-Type: application/json\n", &good2, 1, FH_END_CLOSE},
        {500, NULL, &oops, 1, FH_END_CLOSE},
        {500, NULL, &oops, 1, FH_END_CLOSE},
        {200, "Content-Type: application/json\n", &good3, 1, FH_END_CLOSE},
    };
    char logpath[] = "/tmp/ts_msk_iam_logXXXXXX", url[128], err[512] = "";
    int logfd = mkstemp(logpath), healthy = 1, unhealthy = 0;
    owner o;
    ts_conf conf;
    rd_kafka_conf_t *kc;
    rd_kafka_t *rk;
    ts_metrics *m;
    ts_buf out = TS_BUF_INIT;
    waiter w = {f, 0};
    fh_request rq;
    char *log;

    cr_assert(logfd >= 0);
    ts_log_set_fd(logfd);
    ts_log_set_level(TS_LOG_DEBUG);
    fh_route(f, "GET", "/creds", script, sizeof(script) / sizeof(script[0]));
    snprintf(url, sizeof(url), "%s/creds", fh_url(f));
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
    ts_msk_iam_set_retry(2, 50);

    cr_assert_eq(ts_conf_init(&conf, props, &o, err, sizeof(err)), TS_OK, "%s", err);
    ts_conf_set(&conf, "msk.iam", "true", TS_CONF_SRC_FLAG, err, sizeof(err));
    ts_conf_set(&conf, "msk.iam.region", "eu-west-1", TS_CONF_SRC_FLAG, err, sizeof(err));
    kc = ts_kafka_conf_new(&conf, "127.0.0.1:1", NULL, NULL, err, sizeof(err));
    cr_assert_not_null(kc, "%s", err);
    m = ts_metrics_new();
    cr_assert_eq(ts_msk_iam_metrics(m, &conf), TS_OK);
    /* no poll call anywhere: the background thread serves the refreshes */
    rk = ts_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err));
    cr_assert_not_null(rk, "%s", err);

    w.n = 2;
    cr_assert(wait_for(requests_reached, &w, 30000), "no refresh before the credentials expired");
    w.n = 4;
    cr_assert(wait_for(requests_reached, &w, 30000), "no refresh after the second credentials");
    cr_assert(wait_for(health_is, &unhealthy, 30000),
              "/health stayed healthy after the last token expired");
    w.n = 5;
    cr_assert(wait_for(requests_reached, &w, 30000), "librdkafka did not retry the refresh");
    cr_assert(wait_for(health_is, &healthy, 10000), "/health did not recover");

    for (size_t i = 0; fh_request_get(f, i, &rq); i++)
        printf("credentials request %zu at %.2f s\n", i + 1, (double)(rq.wall_ms - t0) / 1000.0);
    cr_assert_eq(ts_metrics_render(m, &out), TS_OK);
    ts_buf_putc(&out, '\0');
    cr_expect(strstr(out.data, "tagstream_msk_iam_token_refreshes_total{result=\"ok\"} 3\n"), "%s",
              out.data);
    cr_expect(strstr(out.data, "tagstream_msk_iam_token_refreshes_total{result=\"error\"} 1\n"),
              "%s", out.data);

    rd_kafka_destroy(rk);
    log = read_file(logpath);
    cr_expect(strstr(log, "cannot refresh the MSK IAM token, retrying in 10 s: ECS credentials: "
                          "GET http://127.0.0.1:") != NULL,
              "%s", log);
    cr_expect(strstr(log, "HTTP status 500") != NULL, "%s", log);
    cr_expect(strstr(log, "\"retry_in_ms\":50") != NULL, "%s", log);
    cr_expect(strstr(log, "\"access_key_id\":\"************EXAMPLE\"") == NULL ||
                  strstr(log, "ASIATHIRDEXAMPLE") == NULL,
              "%s", log);
    cr_expect(strstr(log, SECRET) == NULL, "a secret in the log");
    cr_expect(strstr(log, "IQoJb3JpZ2luX2VjEXAMPLE") == NULL, "a session token in the log");
    free(log);
    unlink(logpath);
    ts_buf_free(&out);
    ts_metrics_destroy(m);
    ts_conf_destroy(&conf);
    fh_stop(f);
}

static int refresh_failed(void *arg)
{
    ts_buf d = TS_BUF_INIT;
    int failed;

    (void)arg;
    ts_msk_iam_health(&d);
    ts_buf_putc(&d, '\0');
    failed = strstr(d.data, "\"refresh_failing\":true") != NULL;
    ts_buf_free(&d);
    return failed;
}

/* Credentials that have expired already: the refresh fails, and says so. */
Test(msk_iam, expired_credentials_fail_the_refresh)
{
    fakehttp *f = fh_start();
    fh_part body = {ecs_json(fh_wall_ms() - 60000, "ASIAEXPIREDEXAMPLE"), 0, 0};
    fh_response r[] = {{200, "Content-Type: application/json\n", &body, 1, FH_END_CLOSE}};
    char url[128], err[256] = "";
    owner o;
    ts_conf conf;
    rd_kafka_conf_t *kc;
    rd_kafka_t *rk;
    ts_buf d = TS_BUF_INIT;

    fh_route(f, "GET", "/creds", r, 1);
    snprintf(url, sizeof(url), "%s/creds", fh_url(f));
    setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
    ts_msk_iam_set_retry(1, 1);
    cr_assert_eq(ts_conf_init(&conf, props, &o, err, sizeof(err)), TS_OK, "%s", err);
    ts_conf_set(&conf, "msk.iam", "true", TS_CONF_SRC_FLAG, err, sizeof(err));
    ts_conf_set(&conf, "msk.iam.region", "eu-west-1", TS_CONF_SRC_FLAG, err, sizeof(err));
    kc = ts_kafka_conf_new(&conf, "127.0.0.1:1", NULL, NULL, err, sizeof(err));
    cr_assert_not_null(kc, "%s", err);
    rk = ts_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err));
    cr_assert_not_null(rk, "%s", err);
    cr_assert(wait_for(refresh_failed, NULL, 30000), "the refresh did not fail");
    cr_expect_eq(ts_msk_iam_health(&d), 0);
    ts_buf_putc(&d, '\0');
    cr_expect(strstr(d.data, "the ecs credentials have already expired") != NULL, "%s", d.data);
    rd_kafka_destroy(rk);
    ts_buf_free(&d);
    ts_conf_destroy(&conf);
    fh_stop(f);
}
