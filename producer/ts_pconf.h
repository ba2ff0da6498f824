/*
 * ts_pconf: the producer's configuration, one table (ts_pconf_props) from
 * which parsing, validation, `--help` and the docs come (see ts_config.h for
 * the sources and their precedence).
 *
 * Tokens are not configuration keys: the X bearer token comes from
 * BEARER_TOKEN (or the file named by x.token.file), the Mastodon token from
 * MASTODON_TOKEN (or mastodon.token.file); ts_pconf_finish reads them.
 *
 * Ownership: the strings are owned by the ts_conf the struct is bound to,
 * except the tokens and the derived fields, which ts_pconf_clear frees.
 */
#ifndef TS_PCONF_H
#define TS_PCONF_H

#include "ts_backoff.h"
#include "ts_config.h"
#include "ts_err.h"
#include "ts_msk_iam.h"

#include <stdint.h>

typedef enum ts_source_kind {
    TS_SOURCE_X = 0,
    TS_SOURCE_MASTODON,
    TS_SOURCE_FILE,
    TS_SOURCE_SYNTHETIC,
    TS_SOURCE_BLUESKY,
} ts_source_kind;

enum {
    TS_X_SAMPLE = 0,
    TS_X_FILTER
};
enum {
    TS_MASTO_PUBLIC = 0,
    TS_MASTO_LOCAL,
    TS_MASTO_HASHTAG
};
enum {
    TS_PACE_MAX = 0,
    TS_PACE_RATE,
    TS_PACE_RECORDED
};

typedef struct ts_pconf {
    char *bootstrap;
    char *topic;
    int source;
    int compression;
    int log_level;
    char *http_listen;
    int metrics_emf;
    int64_t metrics_emf_interval_ms;
    char *metrics_emf_namespace;
    int64_t shutdown_timeout_ms;
    int64_t startup_timeout_ms;
    int64_t max_line_bytes;
    int64_t stall_timeout_ms;
    int64_t connect_timeout_ms;
    int64_t net_step_ms, net_max_ms;
    int64_t http_initial_ms, http_max_ms;
    int64_t rate_initial_ms, rate_max_ms;
    int allow_http; /* allow.insecure.http: http:// base URLs accepted */

    char *x_base_url;
    int x_stream;
    char *x_rules;
    char *x_token_file;

    char *masto_base_url;
    int masto_stream;
    char *masto_tag;
    char *masto_token_file;

    char *bsky_instances;
    int64_t bsky_cursor;
    int64_t bsky_rewind_ms;

    char *file_path;
    int file_format;
    int file_pace;
    int64_t file_rate;
    int file_loop;

    int64_t syn_seed;
    int64_t syn_rate;
    int64_t syn_count;
    int64_t syn_vocabulary;
    char *syn_zipf_s;
    int64_t syn_tags_per_post;
    int64_t syn_start_ms;
    int64_t syn_step_ms;

    ts_msk_iam_conf iam;

    /* derived by ts_pconf_finish */
    double zipf_s;
    char *x_token;
    char *masto_token;
} ts_pconf;

extern const ts_conf_prop ts_pconf_props[];

/* Names of the enum values, as the table spells them. */
const char *ts_pconf_source_name(int source);
const char *ts_pconf_compression_name(int compression);

/*
 * Check what one key cannot check alone and derive the rest: the Zipf
 * exponent, the tokens (from the environment `envp`, NULL for environ, or
 * the token files), source-specific requirements. Everything a run needs is
 * checked here, before any connection is made.
 */
ts_err ts_pconf_finish(ts_pconf *c, char **envp, char *errstr, size_t errstr_size);

/* Free what ts_pconf_finish derived; NULL ok. */
void ts_pconf_clear(ts_pconf *c);

/* The reconnect schedule the configuration asks for. */
void ts_pconf_backoff(const ts_pconf *c, ts_backoff_conf *out);

#endif
