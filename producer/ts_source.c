#include "ts_source.h"
#include "ts_log.h"

#include <string.h>

/* Log the first few of each reason, then one in this many. */
#define TS_SKIP_LOG_BURST 10
#define TS_SKIP_LOG_EVERY 1000
#define TS_SKIP_SAMPLE    200

void ts_source_skip(const ts_source_env *env, const char *component, ts_skip why,
                    const char *detail, const char *sample, size_t sample_len)
{
    uint64_t before = ts_pstats_skip(env->stats, why);
    ts_log_ev *ev;

    if (!ts_log_sampled(before, TS_SKIP_LOG_BURST, TS_SKIP_LOG_EVERY))
        return;
    ev = ts_log_begin(TS_LOG_WARN, component, "record skipped");
    ts_log_cstr(ev, "reason", ts_skip_name(why));
    if (detail && *detail)
        ts_log_cstr(ev, "detail", detail);
    if (sample) {
        ts_log_str(ev, "sample", sample, sample_len < TS_SKIP_SAMPLE ? sample_len : TS_SKIP_SAMPLE);
        ts_log_int(ev, "bytes", (int64_t)sample_len);
    }
    ts_log_int(ev, "count", (int64_t)before + 1);
    ts_log_end(ev);
}

ts_err ts_source_record(const ts_source_env *env, const char *component, ts_post *post,
                        ts_post_format fmt, const char *p, size_t n)
{
    char detail[256];
    ts_skip why = ts_post_parse(post, fmt, p, n, detail, sizeof(detail));

    if (why != TS_SKIP_NONE) {
        ts_source_skip(env, component, why, detail, p, n);
        return TS_OK;
    }
    for (size_t i = 0; i < post->bad_tags; i++)
        ts_source_skip(env, component, TS_SKIP_BAD_TAG, "hashtag entity without a usable tag", p,
                       n);
    ts_pstats_add(&env->stats->posts, 1);
    return env->emit(env->opaque, post);
}

ts_err ts_source_run(const ts_source_env *env, char *errstr, size_t errstr_size)
{
    switch (env->conf->source) {
    case TS_SOURCE_X:
        return ts_source_x_run(env, errstr, errstr_size);
    case TS_SOURCE_MASTODON:
        return ts_source_mastodon_run(env, errstr, errstr_size);
    case TS_SOURCE_FILE:
        return ts_source_file_run(env, errstr, errstr_size);
    case TS_SOURCE_SYNTHETIC:
        return ts_source_synthetic_run(env, errstr, errstr_size);
    case TS_SOURCE_BLUESKY:
        return ts_source_bluesky_run(env, errstr, errstr_size);
    }
    return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "unknown source %d", env->conf->source);
}
