/*
 * The X API v2 stream: GET /2/tweets/sample/stream or
 * /2/tweets/search/stream with tweet.fields=created_at,entities, one JSON
 * object per line, \r\n keep-alives. For the filtered stream the rules given
 * in x.rules are made the stream's rules before it is opened.
 */
#include "ts_log.h"
#include "ts_source.h"
#include "ts_stream.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS_X_FIELDS "tweet.fields=created_at,entities"

typedef struct ts_x {
    const ts_source_env *env;
    ts_post post;
    char *base; /* x.base.url without a trailing / */
    int rules_synced;
} ts_x;

static ts_err ts_x_record(void *opaque, const char *type, size_t tl, const char *p, size_t n)
{
    ts_x *x = opaque;

    (void)type, (void)tl;
    return ts_source_record(x->env, "x", &x->post, TS_POST_X, p, n);
}

/* The wanted rules: x.rules split at ';', trimmed, without empties. */
static json_t *ts_x_wanted_rules(const char *spec)
{
    json_t *arr = json_array();
    const char *s = spec;

    while (arr && s && *s) {
        const char *e = strchr(s, ';');
        size_t a = 0, l = e ? (size_t)(e - s) : strlen(s);
        while (a < l && (s[a] == ' ' || s[a] == '\t'))
            a++;
        while (l > a && (s[l - 1] == ' ' || s[l - 1] == '\t'))
            l--;
        if (l > a)
            json_array_append_new(arr, json_stringn(s + a, l - a));
        s = e ? e + 1 : NULL;
    }
    return arr;
}

static int ts_x_contains(json_t *arr, const char *v)
{
    size_t i;
    json_t *el;

    json_array_foreach(arr, i, el)
    {
        const char *s = json_is_string(el) ? json_string_value(el)
                                           : json_string_value(json_object_get(el, "value"));
        if (s && !strcmp(s, v))
            return 1;
    }
    return 0;
}

/* POST a rules change; a rule X rejects is a configuration error. */
static int ts_x_post_rules(ts_x *x, ts_stream *s, const char *url, json_t *req, ts_attempt *a)
{
    ts_buf out = TS_BUF_INIT;
    char *body = json_dumps(req, JSON_COMPACT);
    json_t *res = NULL, *errs, *summary;
    int rc;

    if (!body) {
        ts_stream_fail(s, a, TS_ERR_NOMEM, "x: out of memory");
        return 1;
    }
    rc = ts_stream_call(s, "POST", url, body, &out, a);
    free(body);
    if (rc)
        goto out;
    res = json_loadb(out.data ? out.data : "", out.len, 0, NULL);
    errs = json_object_get(res, "errors");
    summary = json_object_get(json_object_get(res, "meta"), "summary");
    if (json_integer_value(json_object_get(summary, "invalid")) > 0 ||
        json_integer_value(json_object_get(summary, "not_deleted")) > 0 ||
        (json_is_array(errs) && json_array_size(errs) > 0)) {
        char *detail = json_dumps(errs ? errs : summary, JSON_COMPACT);
        ts_stream_fail(s, a, TS_ERR_INVALID, "x.rules: X did not accept the rules change: %s",
                       detail ? detail : "(no detail)");
        free(detail);
        rc = 1;
    }
    (void)x;
out:
    json_decref(res);
    ts_buf_free(&out);
    return rc;
}

/* Make the stream's rules exactly the wanted ones (once per run). */
static int ts_x_prepare(void *opaque, ts_stream *s, ts_attempt *a)
{
    ts_x *x = opaque;
    ts_buf out = TS_BUF_INIT;
    json_t *wanted = NULL, *have = NULL, *data, *del = NULL, *add = NULL, *el;
    char url[2048];
    size_t i;
    int rc = 0;

    if (x->rules_synced || x->env->conf->x_stream != TS_X_FILTER || !x->env->conf->x_rules ||
        !*x->env->conf->x_rules)
        return 0;
    snprintf(url, sizeof(url), "%s/2/tweets/search/stream/rules", x->base);
    rc = ts_stream_call(s, "GET", url, NULL, &out, a);
    if (rc)
        goto out;
    have = json_loadb(out.data ? out.data : "", out.len, 0, NULL);
    if (!json_is_object(have)) {
        a->cause = TS_RECONNECT_HTTP;
        a->http_status = 200;
        ts_logf(TS_LOG_WARN, "x", "the rules answer is not a JSON object");
        rc = 1;
        goto out;
    }
    wanted = ts_x_wanted_rules(x->env->conf->x_rules);
    data = json_object_get(have, "data");
    del = json_array();
    add = json_array();
    json_array_foreach(data, i, el)
    {
        const char *v = json_string_value(json_object_get(el, "value"));
        json_t *id = json_object_get(el, "id");
        if (json_is_string(id) && (!v || !ts_x_contains(wanted, v)))
            json_array_append(del, id);
    }
    json_array_foreach(wanted, i, el)
    {
        if (!ts_x_contains(data, json_string_value(el)))
            json_array_append_new(add, json_pack("{s:O}", "value", el));
    }
    if (json_array_size(del) > 0) {
        json_t *req = json_pack("{s:{s:O}}", "delete", "ids", del);
        rc = ts_x_post_rules(x, s, url, req, a);
        json_decref(req);
        if (rc)
            goto out;
    }
    if (json_array_size(add) > 0) {
        json_t *req = json_pack("{s:O}", "add", add);
        rc = ts_x_post_rules(x, s, url, req, a);
        json_decref(req);
        if (rc)
            goto out;
    }
    x->rules_synced = 1;
    {
        ts_log_ev *ev = ts_log_begin(TS_LOG_INFO, "x", "filtered stream rules set");
        ts_log_int(ev, "rules", (int64_t)json_array_size(wanted));
        ts_log_int(ev, "added", (int64_t)json_array_size(add));
        ts_log_int(ev, "deleted", (int64_t)json_array_size(del));
        ts_log_end(ev);
    }
out:
    json_decref(wanted);
    json_decref(have);
    json_decref(del);
    json_decref(add);
    ts_buf_free(&out);
    return rc;
}

ts_err ts_source_x_run(const ts_source_env *env, char *errstr, size_t errstr_size)
{
    ts_x x = {0};
    ts_stream_opts o = {0};
    ts_stream *s;
    char url[2048];
    size_t bl;
    ts_err err;

    x.env = env;
    ts_post_init(&x.post);
    x.base = strdup(env->conf->x_base_url);
    if (!x.base) {
        err = ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
        goto fail_base;
    }
    bl = strlen(x.base);
    while (bl > 0 && x.base[bl - 1] == '/')
        x.base[--bl] = '\0';
    snprintf(url, sizeof(url), "%s/2/tweets/%s/stream?" TS_X_FIELDS, x.base,
             env->conf->x_stream == TS_X_FILTER ? "search" : "sample");
    o.component = "x";
    o.token = env->conf->x_token;
    o.token_hint = env->conf->x_token_file ? "the token in x.token.file" : "BEARER_TOKEN";
    o.sse = 0;
    o.record = ts_x_record;
    o.prepare = ts_x_prepare;
    o.opaque = &x;
    s = ts_stream_new(env, &o, errstr, errstr_size);
    if (!s) {
        err = TS_ERR_NOMEM;
        goto fail_stream;
    }
    err = ts_stream_run(s, url, errstr, errstr_size);
    ts_stream_destroy(s);
fail_stream:
    free(x.base);
fail_base:
    ts_post_free(&x.post);
    return err;
}
