#include "ts_pconf.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

#define F(field) offsetof(ts_pconf, field)
#define DAY_MS   86400000LL

#define TS_PCONF_SOURCES      "x|mastodon|file|synthetic|bluesky"
#define TS_PCONF_COMPRESSIONS "none|gzip|snappy|lz4|zstd"

/* Bluesky's four public Jetstream instances. */
#define TS_PCONF_BSKY_INSTANCES                                                                    \
    "wss://jetstream1.us-east.bsky.network,wss://jetstream2.us-east.bsky.network,"                 \
    "wss://jetstream1.us-west.bsky.network,wss://jetstream2.us-west.bsky.network"

const ts_conf_prop ts_pconf_props[] = {
    {"source", TS_CONF_ENUM, F(source), "synthetic", 0, 0, TS_PCONF_SOURCES,
     "Where posts come from: the X API v2 stream, the Mastodon streaming API, a file, the "
     "built-in generator, or Bluesky's Jetstream.",
     0},
    TS_CONF_KEY_BOOTSTRAP_SERVERS(ts_pconf, bootstrap, "127.0.0.1:9092", 0),
    {"topic", TS_CONF_STRING, F(topic), "twitter_input", 0, 0, NULL,
     "Topic the hashtags are written to; it must exist.", 0},
    {"compression.type", TS_CONF_ENUM, F(compression), "lz4", 0, 0, TS_PCONF_COMPRESSIONS,
     "Compression of the record batches.", 0},
    TS_CONF_KEY_LOG_LEVEL(ts_pconf, log_level, "info"),
    TS_CONF_KEY_HTTP_LISTEN(ts_pconf, http_listen, "127.0.0.1:8081"),
    TS_CONF_KEY_METRICS_EMF(ts_pconf, metrics_emf),
    TS_CONF_KEY_METRICS_EMF_INTERVAL_MS(ts_pconf, metrics_emf_interval_ms),
    TS_CONF_KEY_METRICS_EMF_NAMESPACE(ts_pconf, metrics_emf_namespace),
    {"shutdown.timeout.ms", TS_CONF_INT, F(shutdown_timeout_ms), "10000", 0, DAY_MS, NULL,
     "On SIGTERM or SIGINT, how long to wait for the records in flight to be acknowledged.", 0},
    {"startup.timeout.ms", TS_CONF_INT, F(startup_timeout_ms), "30000", 100, DAY_MS, NULL,
     "How long to wait for the brokers' metadata (and the topic check) at start.", 0},
    {"max.line.bytes", TS_CONF_INT, F(max_line_bytes), "1048576", 1024, 1LL << 30, NULL,
     "Longest stream line, SSE event or file line accepted; longer ones are counted and "
     "skipped.",
     0},
    {"stall.timeout.ms", TS_CONF_INT, F(stall_timeout_ms), "20000", 100, DAY_MS, NULL,
     "A stream that delivers no byte (data or keep-alive) for this long is dropped and "
     "reconnected.",
     0},
    {"connect.timeout.ms", TS_CONF_INT, F(connect_timeout_ms), "10000", 100, DAY_MS, NULL,
     "Timeout of the TCP and TLS connection to a streaming API.", 0},
    {"reconnect.network.step.ms", TS_CONF_INT, F(net_step_ms), "250", 0, DAY_MS, NULL,
     "Network errors: the wait grows by this much per attempt.", 0},
    {"reconnect.network.max.ms", TS_CONF_INT, F(net_max_ms), "16000", 0, DAY_MS, NULL,
     "Network errors: the longest wait.", 0},
    {"reconnect.http.initial.ms", TS_CONF_INT, F(http_initial_ms), "5000", 0, DAY_MS, NULL,
     "HTTP errors: the first wait, doubled per attempt.", 0},
    {"reconnect.http.max.ms", TS_CONF_INT, F(http_max_ms), "320000", 0, DAY_MS, NULL,
     "HTTP errors: the longest wait.", 0},
    {"reconnect.ratelimit.initial.ms", TS_CONF_INT, F(rate_initial_ms), "60000", 0, DAY_MS, NULL,
     "HTTP 429: the first wait, doubled per attempt (and at least until the rate-limit "
     "reset).",
     0},
    {"reconnect.ratelimit.max.ms", TS_CONF_INT, F(rate_max_ms), "960000", 0, DAY_MS, NULL,
     "HTTP 429: the longest wait.", 0},

    {"allow.insecure.http", TS_CONF_BOOL, F(allow_http), "false", 0, 0, NULL,
     "Accept http:// base URLs for the streaming APIs, whose tokens then cross the network in "
     "clear text (for a local test server only).",
     0},

    {"x.base.url", TS_CONF_STRING, F(x_base_url), "https://api.x.com", 0, 0, NULL,
     "Base URL of the X API.", 0},
    {"x.stream", TS_CONF_ENUM, F(x_stream), "sample", 0, 0, "sample|filter",
     "The sampled stream, or the filtered stream (with x.rules).", 0},
    {"x.rules", TS_CONF_STRING, F(x_rules), NULL, 0, 0, NULL,
     "Filtered stream rules, separated by ';'; when set, the stream's rules are made exactly "
     "these.",
     0},
    {"x.token.file", TS_CONF_STRING, F(x_token_file), NULL, 0, 0, NULL,
     "File holding the X bearer token (else the BEARER_TOKEN environment variable).", 0},

    {"mastodon.base.url", TS_CONF_STRING, F(masto_base_url), "https://mastodon.social", 0, 0, NULL,
     "Base URL of the Mastodon streaming API (the server's urls.streaming_api).", 0},
    {"mastodon.stream", TS_CONF_ENUM, F(masto_stream), "public", 0, 0, "public|local|hashtag",
     "The federated public timeline, the local one, or one hashtag (mastodon.tag).", 0},
    {"mastodon.tag", TS_CONF_STRING, F(masto_tag), NULL, 0, 0, NULL,
     "The hashtag to follow with mastodon.stream=hashtag.", 0},
    {"mastodon.token.file", TS_CONF_STRING, F(masto_token_file), NULL, 0, 0, NULL,
     "File holding the Mastodon access token (else the MASTODON_TOKEN environment variable).", 0},

    {"bluesky.instances", TS_CONF_STRING, F(bsky_instances), TS_PCONF_BSKY_INSTANCES, 0, 0, NULL,
     "Jetstream instances (ws:// or wss:// base URLs, comma-separated), tried in turn: the "
     "next one after a connection that fails or stalls.",
     0},
    {"bluesky.cursor", TS_CONF_INT, F(bsky_cursor), "0", 0, INT64_MAX, NULL,
     "time_us (microseconds since the epoch) to start the first connection from; 0 starts "
     "live.",
     0},
    {"bluesky.rewind.ms", TS_CONF_INT, F(bsky_rewind_ms), "5000", 0, 600000, NULL,
     "A reconnect resumes this long before the last event received; the posts replayed twice "
     "are recognized and not published again.",
     0},

    {"file.path", TS_CONF_STRING, F(file_path), "-", 0, 0, NULL,
     "File to replay; '-' is standard input.", 0},
    {"file.format", TS_CONF_ENUM, F(file_format), "auto", 0, 0, "auto|x|mastodon|text",
     "Line format: detected per line (JSON of X or Mastodon, else text), or fixed.", 0},
    {"file.pace", TS_CONF_ENUM, F(file_pace), "max", 0, 0, "max|rate|recorded",
     "Replay as fast as possible, at file.rate posts per second, or at the recorded speed "
     "(by created_at).",
     0},
    {"file.rate", TS_CONF_INT, F(file_rate), "100", 1, 100000000, NULL,
     "Posts per second with file.pace=rate.", 0},
    {"file.loop", TS_CONF_BOOL, F(file_loop), "false", 0, 0, NULL,
     "Start the file over at its end (not for standard input).", 0},

    {"synthetic.seed", TS_CONF_INT, F(syn_seed), "1", 0, INT64_MAX, NULL,
     "Seed of the generator: the same seed gives the same posts.", 0},
    {"synthetic.rate", TS_CONF_INT, F(syn_rate), "100", 0, 100000000, NULL,
     "Hashtags per second; 0 is as fast as possible.", 0},
    {"synthetic.count", TS_CONF_INT, F(syn_count), "0", 0, INT64_MAX, NULL,
     "Stop after this many hashtags; 0 runs until stopped.", 0},
    {"synthetic.vocabulary", TS_CONF_INT, F(syn_vocabulary), "1000", 1, 1000000, NULL,
     "Number of distinct hashtags (before case variants).", 0},
    {"synthetic.zipf.s", TS_CONF_STRING, F(syn_zipf_s), "1.1", 0, 0, NULL,
     "Exponent of the Zipf distribution of the hashtags (0 to 10; 0 is uniform).", 0},
    {"synthetic.tags.per.post", TS_CONF_INT, F(syn_tags_per_post), "3", 1, 100, NULL,
     "Largest number of hashtags in one post (each post has 1 to this many).", 0},
    {"synthetic.start.ms", TS_CONF_INT, F(syn_start_ms), "0", 0, INT64_MAX / 2, NULL,
     "Event time of the first post in ms since the epoch, for a simulated clock; 0 uses the "
     "real time.",
     0},
    {"synthetic.step.ms", TS_CONF_INT, F(syn_step_ms), "10", 0, DAY_MS, NULL,
     "With synthetic.start.ms: how far the simulated clock moves per post.", 0},
    TS_CONF_KEY_MSK_IAM(ts_pconf, iam),
    {NULL},
};

static const char *ts_pconf_nth(const char *values, int idx, char *out, size_t outsz)
{
    const char *s = values;

    for (int i = 0; i < idx && s; i++) {
        s = strchr(s, '|');
        if (s)
            s++;
    }
    if (!s)
        return "?";
    snprintf(out, outsz, "%.*s", (int)strcspn(s, "|"), s);
    return out;
}

const char *ts_pconf_source_name(int source)
{
    static _Thread_local char b[32];
    return ts_pconf_nth(TS_PCONF_SOURCES, source, b, sizeof(b));
}

const char *ts_pconf_compression_name(int compression)
{
    static _Thread_local char b[32];
    return ts_pconf_nth(TS_PCONF_COMPRESSIONS, compression, b, sizeof(b));
}

static const char *ts_pconf_getenv(char **envp, const char *name)
{
    size_t nl = strlen(name);

    for (char **e = envp; e && *e; e++)
        if (!strncmp(*e, name, nl) && (*e)[nl] == '=')
            return *e + nl + 1;
    return NULL;
}

/* The first line of a token file, without surrounding white space. */
static ts_err ts_pconf_read_token(const char *path, char **out, char *errstr, size_t errstr_size)
{
    char buf[4096];
    size_t n, s = 0;
    FILE *fp = fopen(path, "r");

    if (!fp)
        return ts_seterr(TS_ERR_IO, errstr, errstr_size, "cannot open token file %s: %s", path,
                         strerror(errno));
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    n = strlen(buf);
    while (s < n && isspace((unsigned char)buf[s]))
        s++;
    while (n > s && isspace((unsigned char)buf[n - 1]))
        n--;
    if (n == s)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "token file %s is empty", path);
    *out = strndup(buf + s, n - s);
    return *out ? TS_OK : ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
}

static ts_err ts_pconf_token(const char *file, const char *env, char **out, char *errstr,
                             size_t errstr_size)
{
    if (file && *file)
        return ts_pconf_read_token(file, out, errstr, errstr_size);
    if (env && *env) {
        *out = strdup(env);
        return *out ? TS_OK : ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    }
    *out = NULL;
    return TS_OK;
}

/* A streaming API's base URL: https://, or http:// where allowed. */
static ts_err ts_pconf_check_url(const ts_pconf *c, const char *key, const char *u, char *errstr,
                                 size_t errstr_size)
{
    if (!u || !(!strncmp(u, "http://", 7) || !strncmp(u, "https://", 8)) || strpbrk(u, " \t\r\n"))
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "%s: \"%s\" is not an http(s) URL",
                         key, u ? u : "");
    if (!strncmp(u, "http://", 7) && !c->allow_http)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "%s: \"%s\" is not encrypted, the token would cross the network in "
                         "clear text; use https://, or set allow.insecure.http=true for a local "
                         "test server",
                         key, u);
    return TS_OK;
}

/* One ws[s]://host[:port][/path] URL, n bytes. */
static int ts_pconf_ws_url_ok(const char *u, size_t n)
{
    size_t p = n > 6 && !strncmp(u, "wss://", 6) ? 6 : n > 5 && !strncmp(u, "ws://", 5) ? 5 : 0;
    size_t h = p, colon = 0;
    long port = 0;

    if (!p)
        return 0;
    for (size_t i = p; i < n; i++)
        if (isspace((unsigned char)u[i]))
            return 0;
    while (h < n && u[h] != '/') {
        if (u[h] == ':')
            colon = h;
        h++;
    }
    if (!colon)
        return h > p;
    if (colon == p || colon + 1 == h || h - colon > 6)
        return 0;
    for (size_t i = colon + 1; i < h; i++) {
        if (u[i] < '0' || u[i] > '9')
            return 0;
        port = port * 10 + (u[i] - '0');
    }
    return port >= 1 && port <= 65535;
}

/* A comma-separated list of such URLs, spaces around the commas. */
static int ts_pconf_ws_list_ok(const char *list)
{
    const char *s = list;
    int n = 0;

    while (s && *s) {
        size_t a = 0, l = strcspn(s, ",");
        while (a < l && s[a] == ' ')
            a++;
        while (l > a && s[l - 1] == ' ')
            l--;
        if (!ts_pconf_ws_url_ok(s + a, l - a))
            return 0;
        n++;
        s += strcspn(s, ",");
        if (*s == ',')
            s++;
    }
    return n > 0;
}

ts_err ts_pconf_finish(ts_pconf *c, char **envp, char *errstr, size_t errstr_size)
{
    char *end;
    ts_err err;

    if (!envp)
        envp = environ;
    ts_pconf_clear(c); /* a second call starts over */
    if (!c->topic || !*c->topic)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "topic: must not be empty");
    if (!c->bootstrap || !*c->bootstrap)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "bootstrap.servers: must not be empty");
    errno = 0;
    c->zipf_s = strtod(c->syn_zipf_s ? c->syn_zipf_s : "", &end);
    if (errno || !c->syn_zipf_s || end == c->syn_zipf_s || *end || !isfinite(c->zipf_s) ||
        c->zipf_s < 0 || c->zipf_s > 10)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "synthetic.zipf.s: \"%s\" is not a number from 0 to 10",
                         c->syn_zipf_s ? c->syn_zipf_s : "");
    if (c->net_max_ms < c->net_step_ms || c->http_max_ms < c->http_initial_ms ||
        c->rate_max_ms < c->rate_initial_ms)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "reconnect.*: each max.ms must be at least its step or initial value");

    switch (c->source) {
    case TS_SOURCE_X:
        err = ts_pconf_check_url(c, "x.base.url", c->x_base_url, errstr, errstr_size);
        if (err)
            return err;
        if (c->x_rules && *c->x_rules && c->x_stream != TS_X_FILTER)
            return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                             "x.rules: rules apply to the filtered stream (x.stream=filter)");
        err = ts_pconf_token(c->x_token_file, ts_pconf_getenv(envp, "BEARER_TOKEN"), &c->x_token,
                             errstr, errstr_size);
        if (err)
            return err;
        if (!c->x_token)
            return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                             "source x needs a bearer token: set BEARER_TOKEN or x.token.file");
        break;
    case TS_SOURCE_MASTODON:
        err = ts_pconf_check_url(c, "mastodon.base.url", c->masto_base_url, errstr, errstr_size);
        if (err)
            return err;
        if (c->masto_stream == TS_MASTO_HASHTAG && (!c->masto_tag || !*c->masto_tag))
            return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                             "mastodon.stream=hashtag needs mastodon.tag");
        /* The token is optional: some servers stream public timelines to anyone. */
        err = ts_pconf_token(c->masto_token_file, ts_pconf_getenv(envp, "MASTODON_TOKEN"),
                             &c->masto_token, errstr, errstr_size);
        if (err)
            return err;
        break;
    case TS_SOURCE_BLUESKY:
        if (!ts_pconf_ws_list_ok(c->bsky_instances))
            return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                             "bluesky.instances: \"%s\" is not a comma-separated list of ws:// "
                             "or wss:// URLs",
                             c->bsky_instances ? c->bsky_instances : "");
        break;
    case TS_SOURCE_FILE:
        if (!c->file_path || !*c->file_path)
            return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "file.path: must not be empty");
        if (c->file_loop && !strcmp(c->file_path, "-"))
            return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                             "file.loop: standard input cannot be replayed again");
        break;
    default:
        break;
    }
    return TS_OK;
}

void ts_pconf_clear(ts_pconf *c)
{
    if (!c)
        return;
    free(c->x_token);
    free(c->masto_token);
    c->x_token = c->masto_token = NULL;
}

void ts_pconf_backoff(const ts_pconf *c, ts_backoff_conf *out)
{
    out->network_step_ms = c->net_step_ms;
    out->network_max_ms = c->net_max_ms;
    out->http_initial_ms = c->http_initial_ms;
    out->http_max_ms = c->http_max_ms;
    out->ratelimit_initial_ms = c->rate_initial_ms;
    out->ratelimit_max_ms = c->rate_max_ms;
}
