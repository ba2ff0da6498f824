#include "ts_msk_iam.h"
#include "ts_aws_sigv4.h"
#include "ts_clock.h"
#include "ts_log.h"

#include <openssl/crypto.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef TS_VERSION
#define TS_VERSION "0.0.0"
#endif
#define TS_MSK_IAM_USER_AGENT "tagstream/" TS_VERSION

/*
 * The process's IAM state: settings, cached credentials and what the last
 * refresh did. Every client of the process shares it (the callback's opaque
 * is the application's, so it cannot carry this).
 */
static struct {
    pthread_mutex_t lock;
    int enabled;
    ts_msk_iam_settings s;
    ts_aws_creds creds; /* cached; reloaded when they near their expiry */
    int64_t creds_loaded_ms;
    uint64_t refresh_ok, refresh_failed;
    int last_failed;
    int64_t token_expires_ms; /* of the last token handed to librdkafka */
    int attempts, first_delay_ms;
    char last_error[512];
} ts_iam = {PTHREAD_MUTEX_INITIALIZER, 0, {0}, {0}, 0, 0, 0, 0, 0, 3, 250, ""};

static int ts_iam_region_ok(const char *r)
{
    if (!*r || strlen(r) >= 64)
        return 0;
    for (; *r; r++)
        if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') || *r == '-'))
            return 0;
    return 1;
}

static int ts_iam_host_ok(const char *h)
{
    if (!*h || strlen(h) >= 256)
        return 0;
    for (; *h; h++)
        if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') ||
              *h == '-' || *h == '.' || *h == ':'))
            return 0;
    return 1;
}

/* The value of table key `name` in conf's struct, by the table's type. */
static const void *ts_iam_field(const ts_conf *conf, const char *name, ts_conf_type type)
{
    const ts_conf_prop *p = conf ? ts_conf_find(conf, name) : NULL;

    if (!p || p->type != type)
        return NULL;
    return (const char *)conf->base + p->offset;
}

ts_err ts_msk_iam_settings_get(const ts_conf *conf, ts_msk_iam_settings *s, char *errstr,
                               size_t errstr_size)
{
    const int *on = ts_iam_field(conf, "msk.iam", TS_CONF_BOOL);
    const int *imds = ts_iam_field(conf, "msk.iam.imds", TS_CONF_BOOL);
    char *const *region = ts_iam_field(conf, "msk.iam.region", TS_CONF_STRING);
    char *const *host = ts_iam_field(conf, "msk.iam.host", TS_CONF_STRING);
    const char *r;

    memset(s, 0, sizeof(*s));
    s->enabled = on && *on;
    s->imds = imds ? *imds : 1;
    if (!s->enabled)
        return TS_OK;
    r = region && *region && **region ? *region : getenv("AWS_REGION");
    if (!r || !*r)
        r = getenv("AWS_DEFAULT_REGION");
    if (!r || !*r)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "msk.iam.region: required with msk.iam=true (or set AWS_REGION)");
    if (!ts_iam_region_ok(r))
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "msk.iam.region: \"%.64s\" is not a region name like eu-west-1", r);
    snprintf(s->region, sizeof(s->region), "%s", r);
    if (host && *host && **host) {
        if (!ts_iam_host_ok(*host))
            return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                             "msk.iam.host: \"%.64s\" is not a host name", *host);
        snprintf(s->host, sizeof(s->host), "%s", *host);
    } else {
        snprintf(s->host, sizeof(s->host), "kafka.%s.amazonaws.com", s->region);
    }
    return TS_OK;
}

ts_err ts_msk_iam_conf_apply(const ts_msk_iam_settings *s, rd_kafka_conf_t *kc, char *errstr,
                             size_t errstr_size)
{
    char mech[64] = "";
    size_t n = sizeof(mech);

    if (!s->enabled)
        return TS_OK;
    if (rd_kafka_conf_get(kc, "sasl.mechanisms", mech, &n) != RD_KAFKA_CONF_OK ||
        strcmp(mech, "OAUTHBEARER"))
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "msk.iam=true needs kafka.sasl.mechanisms=OAUTHBEARER, not %s", mech);
    pthread_mutex_lock(&ts_iam.lock);
    if (!ts_iam.enabled || strcmp(ts_iam.s.region, s->region) || strcmp(ts_iam.s.host, s->host) ||
        ts_iam.s.imds != s->imds) {
        ts_iam.s = *s;
        ts_aws_creds_clear(&ts_iam.creds);
    }
    ts_iam.enabled = 1;
    pthread_mutex_unlock(&ts_iam.lock);
    rd_kafka_conf_set_oauthbearer_token_refresh_cb(kc, ts_msk_iam_refresh_cb);
    rd_kafka_conf_enable_sasl_queue(kc, 1);
    return TS_OK;
}

ts_err ts_msk_iam_token(const ts_aws_creds *creds, const char *region, const char *host,
                        int64_t now_s, const char *user_agent, ts_buf *token, int64_t *expires_ms,
                        char *errstr, size_t errstr_size)
{
    static const ts_aws_param action[] = {{"Action", "kafka-cluster:Connect"}};
    ts_aws_presign r = {
        .method = "GET",
        .host = host,
        .path = "/",
        .service = "kafka-cluster",
        .region = region,
        .access_key_id = creds->access_key_id,
        .secret_access_key = creds->secret_access_key,
        .session_token = creds->session_token,
        .time_s = now_s,
        .expires_s = TS_MSK_IAM_EXPIRES_S,
        .params = action,
        .nparams = 1,
    };
    ts_buf url = TS_BUF_INIT;
    ts_err err;

    if ((err = ts_aws_sigv4_presign(&r, &url, errstr, errstr_size)))
        goto out;
    ts_buf_puts(&url, "&User-Agent=");
    ts_aws_uri_encode(&url, user_agent ? user_agent : TS_MSK_IAM_USER_AGENT,
                      strlen(user_agent ? user_agent : TS_MSK_IAM_USER_AGENT));
    if ((err = ts_buf_status(&url)) || (err = ts_aws_base64url(token, url.data, url.len))) {
        ts_seterr(err, errstr, errstr_size, "cannot build the MSK IAM token: out of memory");
        goto out;
    }
    if (expires_ms)
        *expires_ms = (now_s + TS_MSK_IAM_EXPIRES_S) * 1000;
out:
    ts_buf_free(&url);
    return err;
}

/* Reuse cached credentials unless they expire within a quarter of their
 * lifetime (at most 15 minutes, as the SDKs' advisory refresh), so that a
 * rotated task role is picked up well before the old keys stop working. */
static int ts_iam_creds_fresh(int64_t now_ms)
{
    int64_t life, margin;

    if (!ts_iam.creds.access_key_id)
        return 0;
    if (!ts_iam.creds.expires_ms)
        return 1;
    life = ts_iam.creds.expires_ms - ts_iam.creds_loaded_ms;
    margin = life / 4;
    if (margin > 15 * 60 * 1000)
        margin = 15 * 60 * 1000;
    return now_ms < ts_iam.creds.expires_ms - margin;
}

/*
 * One attempt: credentials (cached or loaded) and a token. The lock is not
 * held during HTTP; concurrent refreshes of two clients may both load.
 */
static ts_err ts_iam_attempt(ts_buf *token, int64_t *lifetime_ms, ts_aws_creds *used, char *errstr,
                             size_t errstr_size)
{
    ts_msk_iam_settings s;
    ts_aws_creds c = {0};
    ts_aws_creds_opts o = {0};
    int64_t now = ts_wall_ms(), tok_exp;
    ts_err err;

    pthread_mutex_lock(&ts_iam.lock);
    s = ts_iam.s;
    err = ts_iam_creds_fresh(now) ? ts_aws_creds_copy(&c, &ts_iam.creds) : TS_ERR_NOT_FOUND;
    pthread_mutex_unlock(&ts_iam.lock);
    if (err) {
        o.imds = s.imds;
        if ((err = ts_aws_creds_load(&o, &c, errstr, errstr_size)))
            return err;
        pthread_mutex_lock(&ts_iam.lock);
        if (ts_aws_creds_copy(&ts_iam.creds, &c) == TS_OK)
            ts_iam.creds_loaded_ms = now;
        pthread_mutex_unlock(&ts_iam.lock);
        if (c.expires_ms && c.expires_ms <= now) {
            err = ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                            "the %s credentials have already expired", c.source);
            ts_aws_creds_clear(&c);
            return err;
        }
    }
    err = ts_msk_iam_token(&c, s.region, s.host, now / 1000, NULL, token, &tok_exp, errstr,
                           errstr_size);
    if (!err) {
        /* the token must not outlive the keys that signed it */
        *lifetime_ms = c.expires_ms && c.expires_ms < tok_exp ? c.expires_ms : tok_exp;
        err = ts_aws_creds_copy(used, &c);
    }
    ts_aws_creds_clear(&c);
    return err;
}

static void ts_iam_log_ok(const rd_kafka_t *rk, const ts_aws_creds *c, int64_t lifetime_ms,
                          int attempt)
{
    char masked[64];
    ts_log_ev *ev;

    ts_aws_creds_masked_key(c, masked, sizeof(masked));
    ev = ts_log_begin(TS_LOG_INFO, "msk_iam", "token refreshed");
    ts_log_cstr(ev, "client", rk ? rd_kafka_name(rk) : "");
    ts_log_cstr(ev, "credentials", c->source);
    ts_log_cstr(ev, "access_key_id", masked);
    if (c->role_arn)
        ts_log_cstr(ev, "role", c->role_arn);
    ts_log_int(ev, "expires_ms", lifetime_ms);
    ts_log_int(ev, "attempt", attempt);
    ts_log_end(ev);
}

void ts_msk_iam_refresh_cb(rd_kafka_t *rk, const char *oauthbearer_config, void *opaque)
{
    ts_buf token = TS_BUF_INIT;
    ts_aws_creds used = {0};
    char err[512], kerr[512], principal[64];
    int64_t lifetime_ms = 0;
    int attempts, delay;
    ts_err e = TS_OK;

    (void)oauthbearer_config;
    (void)opaque;
    pthread_mutex_lock(&ts_iam.lock);
    attempts = ts_iam.attempts;
    delay = ts_iam.first_delay_ms;
    pthread_mutex_unlock(&ts_iam.lock);
    for (int i = 1; i <= attempts; i++) {
        ts_buf_reset(&token);
        e = ts_iam_attempt(&token, &lifetime_ms, &used, err, sizeof(err));
        if (!e) {
            ts_aws_creds_masked_key(&used, principal, sizeof(principal));
            if (rd_kafka_oauthbearer_set_token(rk, token.data, lifetime_ms, principal, NULL, 0,
                                               kerr, sizeof(kerr)) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                pthread_mutex_lock(&ts_iam.lock);
                ts_iam.refresh_ok++;
                ts_iam.last_failed = 0;
                ts_iam.token_expires_ms = lifetime_ms;
                pthread_mutex_unlock(&ts_iam.lock);
                ts_iam_log_ok(rk, &used, lifetime_ms, i);
                goto out;
            }
            e = ts_seterr(TS_ERR_KAFKA, err, sizeof(err), "librdkafka refused the token: %s", kerr);
        }
        ts_aws_creds_clear(&used);
        if (i < attempts) {
            ts_log_ev *ev = ts_log_begin(TS_LOG_WARN, "msk_iam", "token refresh failed: %s", err);
            ts_log_int(ev, "attempt", i);
            ts_log_int(ev, "retry_in_ms", delay);
            ts_log_end(ev);
            usleep((useconds_t)delay * 1000);
            delay = delay * 2 > 2000 ? 2000 : delay * 2;
        }
    }
    pthread_mutex_lock(&ts_iam.lock);
    ts_iam.refresh_failed++;
    ts_iam.last_failed = 1;
    snprintf(ts_iam.last_error, sizeof(ts_iam.last_error), "%s", err);
    pthread_mutex_unlock(&ts_iam.lock);
    {
        ts_log_ev *ev = ts_log_begin(TS_LOG_ERROR, "msk_iam",
                                     "cannot refresh the MSK IAM token, retrying in 10 s: %s", err);
        ts_log_cstr(ev, "client", rk ? rd_kafka_name(rk) : "");
        ts_log_int(ev, "attempts", attempts);
        ts_log_end(ev);
    }
    rd_kafka_oauthbearer_set_token_failure(rk, err);
out:
    ts_aws_creds_clear(&used);
    if (token.data)
        OPENSSL_cleanse(token.data, token.len);
    ts_buf_free(&token);
}

static void ts_iam_collect_refreshes(void *opaque, ts_buf *out)
{
    (void)opaque;
    pthread_mutex_lock(&ts_iam.lock);
    ts_buf_printf(out,
                  "tagstream_msk_iam_token_refreshes_total{result=\"ok\"} %llu\n"
                  "tagstream_msk_iam_token_refreshes_total{result=\"error\"} %llu\n",
                  (unsigned long long)ts_iam.refresh_ok, (unsigned long long)ts_iam.refresh_failed);
    pthread_mutex_unlock(&ts_iam.lock);
}

static void ts_iam_collect_expiry(void *opaque, ts_buf *out)
{
    (void)opaque;
    pthread_mutex_lock(&ts_iam.lock);
    ts_buf_printf(out, "tagstream_msk_iam_token_expiry_seconds %.3f\n",
                  (double)ts_iam.token_expires_ms / 1000.0);
    pthread_mutex_unlock(&ts_iam.lock);
}

int ts_msk_iam_enabled(void)
{
    int on;

    pthread_mutex_lock(&ts_iam.lock);
    on = ts_iam.enabled;
    pthread_mutex_unlock(&ts_iam.lock);
    return on;
}

ts_err ts_msk_iam_metrics(ts_metrics *m, const ts_conf *conf)
{
    const int *on = ts_iam_field(conf, "msk.iam", TS_CONF_BOOL);
    ts_err err;

    if (!on || !*on)
        return TS_OK;
    err = ts_metrics_add_collector(m, "tagstream_msk_iam_token_refreshes_total",
                                   "MSK IAM token refreshes, by result (error: after the retries).",
                                   "counter", ts_iam_collect_refreshes, NULL);
    if (!err)
        err = ts_metrics_add_collector(
            m, "tagstream_msk_iam_token_expiry_seconds",
            "When the last MSK IAM token handed to the Kafka clients expires (epoch seconds).",
            "gauge", ts_iam_collect_expiry, NULL);
    return err == TS_ERR_EXISTS ? TS_OK : err;
}

int ts_msk_iam_health(ts_buf *detail)
{
    int ok;

    pthread_mutex_lock(&ts_iam.lock);
    if (!ts_iam.enabled) {
        pthread_mutex_unlock(&ts_iam.lock);
        return 1;
    }
    ok = !ts_iam.last_failed || ts_iam.token_expires_ms > ts_wall_ms();
    ts_buf_printf(detail, "%s\"msk_iam\":{\"token_expires_ms\":%lld,\"refresh_failing\":%s",
                  detail->len ? "," : "", (long long)ts_iam.token_expires_ms,
                  ts_iam.last_failed ? "true" : "false");
    if (ts_iam.last_failed) {
        ts_buf_puts(detail, ",\"error\":");
        ts_buf_json_str(detail, ts_iam.last_error, strlen(ts_iam.last_error));
    }
    ts_buf_putc(detail, '}');
    pthread_mutex_unlock(&ts_iam.lock);
    return ok;
}

static void ts_iam_iso(int64_t ms, char *out, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int ts_msk_iam_check(const ts_conf *conf, FILE *out)
{
    ts_msk_iam_settings s;
    ts_aws_creds c = {0};
    ts_aws_creds_opts o = {0};
    ts_buf token = TS_BUF_INIT;
    char err[512], masked[64], when[32];
    int64_t now = ts_wall_ms(), exp = 0;

    if (ts_msk_iam_settings_get(conf, &s, err, sizeof(err))) {
        fprintf(out, "msk iam: %s\n", err);
        return 1;
    }
    if (!s.enabled) {
        fprintf(out, "msk iam: off (msk.iam=false)\n");
        return 1;
    }
    fprintf(out, "region:      %s\nsigned host: %s\n", s.region, s.host);
    o.imds = s.imds;
    if (ts_aws_creds_load(&o, &c, err, sizeof(err))) {
        fprintf(out, "credentials: none: %s\n", err);
        return 1;
    }
    ts_aws_creds_masked_key(&c, masked, sizeof(masked));
    fprintf(out, "credentials: %s\naccess key:  %s%s\nrole:        %s\n", c.source, masked,
            c.session_token ? " (temporary, with a session token)" : " (long-term)",
            c.role_arn ? c.role_arn : "(not named by the source)");
    if (c.expires_ms) {
        ts_iam_iso(c.expires_ms, when, sizeof(when));
        fprintf(out, "keys expire: %s (in %lld s)\n", when,
                (long long)((c.expires_ms - now) / 1000));
    } else {
        fprintf(out, "keys expire: never (long-term keys)\n");
    }
    if (ts_msk_iam_token(&c, s.region, s.host, now / 1000, NULL, &token, &exp, err, sizeof(err))) {
        fprintf(out, "token:       cannot build: %s\n", err);
        ts_aws_creds_clear(&c);
        return 1;
    }
    if (c.expires_ms && c.expires_ms < exp)
        exp = c.expires_ms;
    ts_iam_iso(exp, when, sizeof(when));
    fprintf(out, "token:       %zu characters, for kafka-cluster:Connect, expires %s (in %lld s)\n",
            token.len, when, (long long)((exp - now) / 1000));
    OPENSSL_cleanse(token.data, token.len);
    ts_buf_free(&token);
    ts_aws_creds_clear(&c);
    return 0;
}

void ts_msk_iam_set_retry(int attempts, int first_delay_ms)
{
    pthread_mutex_lock(&ts_iam.lock);
    ts_iam.attempts = attempts > 0 ? attempts : 1;
    ts_iam.first_delay_ms = first_delay_ms > 0 ? first_delay_ms : 1;
    pthread_mutex_unlock(&ts_iam.lock);
}

void ts_msk_iam_reset(void)
{
    pthread_mutex_lock(&ts_iam.lock);
    ts_aws_creds_clear(&ts_iam.creds);
    ts_iam.creds_loaded_ms = 0;
    ts_iam.refresh_ok = ts_iam.refresh_failed = 0;
    ts_iam.last_failed = 0;
    ts_iam.token_expires_ms = 0;
    ts_iam.last_error[0] = '\0';
    pthread_mutex_unlock(&ts_iam.lock);
}
