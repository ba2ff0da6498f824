#include "ts_aws_creds.h"
#include "ts_buf.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define TS_CREDS_MAX_BODY  65536
#define TS_CREDS_ECS_BASE  "http://169.254.170.2"
#define TS_CREDS_IMDS_BASE "http://169.254.169.254"

static char *ts_creds_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void ts_creds_wipe_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void ts_aws_creds_clear(ts_aws_creds *c)
{
    if (!c)
        return;
    free(c->access_key_id);
    ts_creds_wipe_free(c->secret_access_key);
    ts_creds_wipe_free(c->session_token);
    free(c->role_arn);
    memset(c, 0, sizeof(*c));
}

ts_err ts_aws_creds_copy(ts_aws_creds *dst, const ts_aws_creds *src)
{
    ts_aws_creds_clear(dst);
    dst->access_key_id = ts_creds_strdup(src->access_key_id);
    dst->secret_access_key = ts_creds_strdup(src->secret_access_key);
    dst->session_token = ts_creds_strdup(src->session_token);
    dst->role_arn = ts_creds_strdup(src->role_arn);
    dst->expires_ms = src->expires_ms;
    dst->source = src->source;
    if ((src->access_key_id && !dst->access_key_id) ||
        (src->secret_access_key && !dst->secret_access_key) ||
        (src->session_token && !dst->session_token) || (src->role_arn && !dst->role_arn)) {
        ts_aws_creds_clear(dst);
        return TS_ERR_NOMEM;
    }
    return TS_OK;
}

void ts_aws_creds_masked_key(const ts_aws_creds *c, char *out, size_t out_size)
{
    const char *k = c && c->access_key_id ? c->access_key_id : "";
    size_t n = strlen(k), keep = n > 8 ? 4 : 0;

    snprintf(out, out_size, "%.*s%s", (int)(n - keep), "********************************",
             k + n - keep);
}

int64_t ts_aws_parse_time(const char *s)
{
    int y, mo, d, h, mi, sec, used = 0;
    struct tm tm;
    const char *rest;

    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6)
        return -1;
    rest = s + used;
    if (*rest == '.') /* fractions of a second are dropped */
        for (rest++; *rest >= '0' && *rest <= '9'; rest++)
            ;
    if (strcmp(rest, "Z") && strcmp(rest, "+00:00") && strcmp(rest, "UTC"))
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    return (int64_t)timegm(&tm) * 1000;
}

/* ---- HTTP ---- */

static size_t ts_creds_write(char *p, size_t size, size_t n, void *opaque)
{
    ts_buf *b = opaque;

    return ts_buf_append(b, p, size * n) ? 0 : size * n;
}

/*
 * One request; the body lands in `body`. Returns TS_ERR_IO with a message
 * naming `what` and the URL for a transport error or a status >= 400.
 * Header values are never part of a message (they carry tokens).
 */
static ts_err ts_creds_http(const char *what, const char *method, const char *url,
                            const char *const *headers, int timeout_ms, ts_buf *body, char *errstr,
                            size_t errstr_size)
{
    struct curl_slist *hl = NULL;
    char cerr[CURL_ERROR_SIZE] = "";
    long status = 0;
    CURLcode rc;
    CURL *c;

    c = curl_easy_init();
    if (!c)
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "%s: cannot create a curl handle",
                         what);
    for (size_t i = 0; headers && headers[i]; i++) {
        struct curl_slist *n = curl_slist_append(hl, headers[i]);
        if (!n) {
            curl_slist_free_all(hl);
            curl_easy_cleanup(c);
            return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "%s: out of memory", what);
        }
        hl = n;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "PUT")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ts_creds_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < 1000 ? timeout_ms : 1000));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK)
        return ts_seterr(TS_ERR_IO, errstr, errstr_size, "%s: %s %s: %s", what, method, url,
                         *cerr ? cerr : curl_easy_strerror(rc));
    if (status >= 400 || status < 200)
        return ts_seterr(TS_ERR_IO, errstr, errstr_size, "%s: %s %s: HTTP status %ld", what, method,
                         url, status);
    return TS_OK;
}

/* The JSON answer of the ECS endpoint and of IMDS (same member names). */
static ts_err ts_creds_parse(const char *what, const ts_buf *body, const char *source,
                             ts_aws_creds *out, char *errstr, size_t errstr_size)
{
    json_error_t jerr;
    json_t *j, *v;
    const char *akid, *secret, *token, *exp, *role, *code;
    ts_err err = TS_OK;

    j = json_loadb(body->data ? body->data : "", body->len, 0, &jerr);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return ts_seterr(TS_ERR_CORRUPT, errstr, errstr_size,
                         "%s: the answer is not a JSON object (%s)", what,
                         j ? "not an object" : jerr.text);
    }
    code = json_string_value(json_object_get(j, "Code"));
    akid = json_string_value(json_object_get(j, "AccessKeyId"));
    secret = json_string_value(json_object_get(j, "SecretAccessKey"));
    token = json_string_value(json_object_get(j, "Token"));
    exp = json_string_value(json_object_get(j, "Expiration"));
    role = json_string_value(json_object_get(j, "RoleArn"));
    if (code && strcmp(code, "Success")) {
        err = ts_seterr(TS_ERR_IO, errstr, errstr_size, "%s: the answer's Code is %s", what, code);
        goto out;
    }
    if (!akid || !*akid || !secret || !*secret) {
        v = json_object_get(j, "message");
        err =
            ts_seterr(TS_ERR_CORRUPT, errstr, errstr_size,
                      "%s: the answer has no AccessKeyId and SecretAccessKey%s%s", what,
                      json_is_string(v) ? ": " : "", json_is_string(v) ? json_string_value(v) : "");
        goto out;
    }
    memset(out, 0, sizeof(*out));
    out->source = source;
    if (exp) {
        out->expires_ms = ts_aws_parse_time(exp);
        if (out->expires_ms < 0) {
            err = ts_seterr(TS_ERR_CORRUPT, errstr, errstr_size,
                            "%s: cannot read the Expiration \"%.40s\"", what, exp);
            goto out;
        }
    }
    out->access_key_id = strdup(akid);
    out->secret_access_key = strdup(secret);
    out->session_token = token && *token ? strdup(token) : NULL;
    out->role_arn = role && *role ? strdup(role) : NULL;
    if (!out->access_key_id || !out->secret_access_key ||
        (token && *token && !out->session_token) || (role && *role && !out->role_arn))
        err = ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "%s: out of memory", what);
out:
    if (err)
        ts_aws_creds_clear(out);
    /* the parsed copy of the secret goes with the JSON; the body is the caller's */
    json_decref(j);
    return err;
}

/* ---- the sources ---- */

static const char *ts_creds_env(const char *name)
{
    const char *v = getenv(name);

    return v && *v ? v : NULL;
}

static ts_err ts_creds_from_env(ts_aws_creds *out, char *errstr, size_t errstr_size)
{
    const char *akid = ts_creds_env("AWS_ACCESS_KEY_ID");
    const char *secret = ts_creds_env("AWS_SECRET_ACCESS_KEY");
    const char *token = ts_creds_env("AWS_SESSION_TOKEN");

    memset(out, 0, sizeof(*out));
    out->source = "environment";
    out->access_key_id = strdup(akid);
    out->secret_access_key = strdup(secret);
    out->session_token = token ? strdup(token) : NULL;
    if (!out->access_key_id || !out->secret_access_key || (token && !out->session_token)) {
        ts_aws_creds_clear(out);
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size,
                         "environment credentials: out of memory");
    }
    return TS_OK;
}

/* The Authorization header value for FULL_URI: from the file (re-read on
 * every request: the agent rotates it), else from the variable. */
static ts_err ts_creds_ecs_auth(ts_buf *hdr, char *errstr, size_t errstr_size)
{
    const char *file = ts_creds_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *tok = ts_creds_env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    char buf[4096];
    size_t n;
    FILE *fp;

    if (file) {
        fp = fopen(file, "r");
        if (!fp)
            return ts_seterr(TS_ERR_IO, errstr, errstr_size,
                             "ECS credentials: cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE "
                             "%s: %s",
                             file, strerror(errno));
        n = fread(buf, 1, sizeof(buf) - 1, fp);
        fclose(fp);
        buf[n] = '\0';
        buf[strcspn(buf, "\r\n")] = '\0';
        ts_buf_printf(hdr, "Authorization: %s", buf);
        OPENSSL_cleanse(buf, sizeof(buf));
    } else if (tok) {
        if (strpbrk(tok, "\r\n"))
            return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                             "ECS credentials: AWS_CONTAINER_AUTHORIZATION_TOKEN contains a line "
                             "break");
        ts_buf_printf(hdr, "Authorization: %s", tok);
    }
    return ts_buf_status(hdr);
}

/* FULL_URI over plain http only to the loopback or to the ECS/EKS agents'
 * link-local addresses, as the SDKs allow: a token must not travel the
 * network in clear. */
static int ts_creds_http_allowed(const char *url)
{
    static const char *const ok[] = {"http://127.",
                                     "http://localhost:",
                                     "http://localhost/",
                                     "http://[::1]",
                                     "http://169.254.170.2:",
                                     "http://169.254.170.2/",
                                     "http://169.254.170.23:",
                                     "http://169.254.170.23/",
                                     "http://[fd00:ec2::23]",
                                     NULL};

    if (!strncmp(url, "https://", 8))
        return 1;
    for (size_t i = 0; ok[i]; i++)
        if (!strncmp(url, ok[i], strlen(ok[i])))
            return 1;
    return 0;
}

static ts_err ts_creds_from_ecs(const ts_aws_creds_opts *o, ts_aws_creds *out, char *errstr,
                                size_t errstr_size)
{
    const char *rel = ts_creds_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = ts_creds_env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    ts_buf url = TS_BUF_INIT, auth = TS_BUF_INIT, body = TS_BUF_INIT;
    const char *headers[3] = {"Accept: application/json", NULL, NULL};
    ts_err err;

    ts_buf_init(&body, TS_CREDS_MAX_BODY);
    if (rel) {
        ts_buf_printf(&url, "%s%s%s", o->ecs_base ? o->ecs_base : TS_CREDS_ECS_BASE,
                      *rel == '/' ? "" : "/", rel);
    } else {
        if (!ts_creds_http_allowed(full)) {
            err = ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                            "ECS credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI %s: plain http is "
                            "allowed only to the loopback or the ECS/EKS agent addresses",
                            full);
            goto out;
        }
        ts_buf_puts(&url, full);
        if ((err = ts_creds_ecs_auth(&auth, errstr, errstr_size)))
            goto out;
        if (auth.len)
            headers[1] = auth.data;
    }
    if ((err = ts_buf_status(&url)))
        goto out;
    err = ts_creds_http("ECS credentials", "GET", url.data, headers, o->timeout_ms, &body, errstr,
                        errstr_size);
    if (!err)
        err = ts_creds_parse("ECS credentials", &body, "ecs", out, errstr, errstr_size);
out:
    if (auth.data)
        OPENSSL_cleanse(auth.data, auth.len);
    if (body.data)
        OPENSSL_cleanse(body.data, body.len);
    ts_buf_free(&auth);
    ts_buf_free(&body);
    ts_buf_free(&url);
    return err;
}

static ts_err ts_creds_from_imds(const ts_aws_creds_opts *o, ts_aws_creds *out, char *errstr,
                                 size_t errstr_size)
{
    const char *base =
        o->imds_base ? o->imds_base : ts_creds_env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    const char *put_headers[] = {"X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL};
    const char *headers[2] = {NULL, NULL};
    ts_buf tok = TS_BUF_INIT, hdr = TS_BUF_INIT, url = TS_BUF_INIT, body = TS_BUF_INIT;
    char role[256];
    size_t blen;
    ts_err err;

    if (!base)
        base = TS_CREDS_IMDS_BASE;
    blen = strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    ts_buf_init(&tok, 4096);
    ts_buf_init(&body, TS_CREDS_MAX_BODY);
    ts_buf_printf(&url, "%.*s/latest/api/token", (int)blen, base);
    if ((err = ts_buf_status(&url)) ||
        (err = ts_creds_http("EC2 instance metadata", "PUT", url.data, put_headers, o->timeout_ms,
                             &tok, errstr, errstr_size)))
        goto out;
    ts_buf_printf(&hdr, "X-aws-ec2-metadata-token: %.*s",
                  (int)strcspn(tok.data ? tok.data : "", "\r\n"), tok.data ? tok.data : "");
    headers[0] = hdr.data;
    ts_buf_reset(&url);
    ts_buf_printf(&url, "%.*s/latest/meta-data/iam/security-credentials/", (int)blen, base);
    if ((err = ts_buf_status(&url)) || (err = ts_buf_status(&hdr)) ||
        (err = ts_creds_http("EC2 instance metadata", "GET", url.data, headers, o->timeout_ms,
                             &body, errstr, errstr_size)))
        goto out;
    snprintf(role, sizeof(role), "%.*s", (int)strcspn(body.data ? body.data : "", "\r\n"),
             body.data ? body.data : "");
    if (!*role) {
        err = ts_seterr(TS_ERR_NOT_FOUND, errstr, errstr_size,
                        "EC2 instance metadata: the instance has no instance profile role");
        goto out;
    }
    ts_buf_reset(&url);
    ts_buf_reset(&body);
    ts_buf_printf(&url, "%.*s/latest/meta-data/iam/security-credentials/%s", (int)blen, base, role);
    if ((err = ts_buf_status(&url)) ||
        (err = ts_creds_http("EC2 instance metadata", "GET", url.data, headers, o->timeout_ms,
                             &body, errstr, errstr_size)))
        goto out;
    err = ts_creds_parse("EC2 instance metadata", &body, "imds", out, errstr, errstr_size);
out:
    if (tok.data)
        OPENSSL_cleanse(tok.data, tok.len);
    if (hdr.data)
        OPENSSL_cleanse(hdr.data, hdr.len);
    if (body.data)
        OPENSSL_cleanse(body.data, body.len);
    ts_buf_free(&tok);
    ts_buf_free(&hdr);
    ts_buf_free(&body);
    ts_buf_free(&url);
    return err;
}

ts_err ts_aws_creds_load(const ts_aws_creds_opts *opts, ts_aws_creds *out, char *errstr,
                         size_t errstr_size)
{
    ts_aws_creds_opts o = {0};
    const char *off;

    if (opts)
        o = *opts;
    if (o.timeout_ms <= 0)
        o.timeout_ms = 5000;
    memset(out, 0, sizeof(*out));
    if (ts_creds_env("AWS_ACCESS_KEY_ID") && ts_creds_env("AWS_SECRET_ACCESS_KEY"))
        return ts_creds_from_env(out, errstr, errstr_size);
    if (ts_creds_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") ||
        ts_creds_env("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
        return ts_creds_from_ecs(&o, out, errstr, errstr_size);
    off = ts_creds_env("AWS_EC2_METADATA_DISABLED");
    if (o.imds && !(off && !strcasecmp(off, "true")))
        return ts_creds_from_imds(&o, out, errstr, errstr_size);
    return ts_seterr(TS_ERR_NOT_FOUND, errstr, errstr_size,
                     "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run "
                     "with a task role (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI)%s",
                     o.imds ? "" : ", or enable msk.iam.imds on EC2");
}
