/*
 * The Mastodon streaming API: /api/v1/streaming/public (or public/local, or
 * hashtag?tag=), Server-Sent Events. `update` events carry a Status whose
 * tags[].name are the hashtags; `delete`, `status.update` (an edit of a post
 * already counted) and the other events are ignored.
 */
#include "ts_log.h"
#include "ts_source.h"
#include "ts_stream.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ts_masto {
    const ts_source_env *env;
    ts_post post;
} ts_masto;

static ts_err ts_masto_record(void *opaque, const char *type, size_t tl, const char *p, size_t n)
{
    ts_masto *m = opaque;

    if (tl == 6 && !memcmp(type, "update", 6))
        return ts_source_record(m->env, "mastodon", &m->post, TS_POST_MASTODON, p, n);
    ts_pstats_add(&m->env->stats->events_ignored, 1);
    if (ts_log_enabled(TS_LOG_DEBUG)) {
        ts_log_ev *ev = ts_log_begin(TS_LOG_DEBUG, "mastodon", "event ignored");
        ts_log_str(ev, "event", type, tl);
        ts_log_end(ev);
    }
    return TS_OK;
}

ts_err ts_source_mastodon_run(const ts_source_env *env, char *errstr, size_t errstr_size)
{
    const ts_pconf *c = env->conf;
    ts_masto m = {0};
    ts_stream_opts o = {0};
    ts_stream *s;
    char url[2048], *tag = NULL;
    size_t bl = strlen(c->masto_base_url);
    ts_err err;

    m.env = env;
    ts_post_init(&m.post);
    while (bl > 0 && c->masto_base_url[bl - 1] == '/')
        bl--;
    if (c->masto_stream == TS_MASTO_HASHTAG) {
        CURL *h = curl_easy_init();
        char *esc = h ? curl_easy_escape(h, c->masto_tag, 0) : NULL;
        tag = esc ? strdup(esc) : NULL;
        curl_free(esc);
        curl_easy_cleanup(h);
        if (!tag) {
            err = ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
            goto fail_url;
        }
        snprintf(url, sizeof(url), "%.*s/api/v1/streaming/hashtag?tag=%s", (int)bl,
                 c->masto_base_url, tag);
    } else {
        snprintf(url, sizeof(url), "%.*s/api/v1/streaming/public%s", (int)bl, c->masto_base_url,
                 c->masto_stream == TS_MASTO_LOCAL ? "/local" : "");
    }
    o.component = "mastodon";
    o.token = c->masto_token;
    o.token_hint = c->masto_token_file ? "the token in mastodon.token.file" : "MASTODON_TOKEN";
    o.sse = 1;
    o.record = ts_masto_record;
    o.opaque = &m;
    s = ts_stream_new(env, &o, errstr, errstr_size);
    if (!s) {
        err = TS_ERR_NOMEM;
        goto fail_stream;
    }
    err = ts_stream_run(s, url, errstr, errstr_size);
    ts_stream_destroy(s);
fail_stream:
    free(tag);
fail_url:
    ts_post_free(&m.post);
    return err;
}
