/*
 * Bluesky's Jetstream: a WebSocket (libwebsockets) to
 * {instance}/subscribe?wantedCollections=app.bsky.feed.post[&cursor=T],
 * one JSON event per text message (ts_bsky parses them).
 *
 * Each connection attempt has a libwebsockets context of its own, serviced
 * on the source's thread until the connection ends; a timer every 100 ms
 * checks for a stop request, a stall (no message for stall.timeout.ms) and
 * a connection that takes longer than connect.timeout.ms. Ending the
 * service and destroying the context drops the connection.
 *
 * Between attempts the reconnect discipline of ts_backoff applies, and
 * every attempt that did not end as a plain drop of a working stream moves
 * to the next instance of bluesky.instances. A reconnect resumes from the
 * time_us of the last event received, minus bluesky.rewind.ms; the posts
 * of that replay that were already published are recognized (ts_bsky_seen)
 * and counted as duplicates instead of being published again.
 */
#include "ts_bsky.h"
#include "ts_log.h"
#include "ts_source.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS_BSKY_PATH      "/subscribe?wantedCollections=app.bsky.feed.post"
#define TS_BSKY_UA        "tagstream-producer/0.1"
#define TS_BSKY_TICK_US   (100 * 1000)
#define TS_BSKY_SEEN      65536
#define TS_BSKY_RX_BUFFER 65536

typedef struct ts_bsky_inst {
    char *url;  /* as configured, for the logs */
    char *host; /* host name (and the Host header) */
    char *base; /* a path prefix, "" for none */
    int port;
    int tls;
} ts_bsky_inst;

typedef struct ts_bsky_src {
    const ts_source_env *env;
    ts_post post;
    ts_bsky_seen seen;
    ts_bsky_inst *inst;
    size_t ninst, cur;
    int64_t last_time_us;    /* the largest time_us received, 0 before any */
    int64_t replay_since_us; /* the replay: posts published since then are checked */
    int64_t replay_until_us; /* while events are at most this late; 0: no replay */

    /* the current attempt */
    struct lws_context *ctx;
    lws_sorted_usec_list_t tick;
    char url[2048];
    ts_buf msg;       /* the message being received */
    int msg_oversize; /* its fragments are being dropped */
    int done, established, got_data, stalled, timed_out;
    unsigned http_status;
    int close_code;
    int64_t start_mono, last_rx_mono;
    ts_err record_err;
    char err[512];
} ts_bsky_src;

static int64_t ts_bsky_mono(const ts_bsky_src *b)
{
    return b->env->clock->mono_ms(b->env->clock->opaque);
}

/* ---- messages ---- */

static ts_err ts_bsky_message(ts_bsky_src *b, const char *p, size_t n)
{
    ts_bsky_event ev;
    char detail[256];
    ts_skip why = ts_bsky_parse(&b->post, &ev, p, n, detail, sizeof(detail));

    if (ev.time_us > b->last_time_us)
        b->last_time_us = ev.time_us;
    if (why != TS_SKIP_NONE) {
        ts_source_skip(b->env, "bluesky", why, detail, p, n);
        return TS_OK;
    }
    if (!ev.is_post) {
        ts_pstats_add(&b->env->stats->events_ignored, 1);
        return TS_OK;
    }
    if (b->replay_until_us) {
        if (ev.time_us > b->replay_until_us)
            b->replay_until_us = 0;
        else if (ts_bsky_seen_has(&b->seen, ev.id, b->replay_since_us)) {
            ts_pstats_add(&b->env->stats->duplicates, 1);
            return TS_OK;
        }
    }
    ts_bsky_seen_add(&b->seen, ev.id, ev.time_us);
    for (size_t i = 0; i < b->post.bad_tags; i++)
        ts_source_skip(b->env, "bluesky", TS_SKIP_BAD_TAG, "tag facet without a usable tag", p, n);
    ts_pstats_add(&b->env->stats->posts, 1);
    return b->env->emit(b->env->opaque, &b->post);
}

/* A fragment of a message: kept up to max.line.bytes, else the whole
 * message is dropped as it arrives and counted once. */
static int ts_bsky_receive(ts_bsky_src *b, struct lws *wsi, const char *p, size_t n)
{
    size_t max = (size_t)b->env->conf->max_line_bytes;
    ts_err err;

    b->got_data = 1;
    b->last_rx_mono = ts_bsky_mono(b);
    if (lws_is_first_fragment(wsi)) {
        ts_buf_reset(&b->msg);
        b->msg_oversize = 0;
    }
    if (!b->msg_oversize) {
        if (b->msg.len + n > max) {
            b->msg_oversize = 1;
            ts_buf_free(&b->msg);
            ts_buf_init(&b->msg, 0);
        } else if (ts_buf_append(&b->msg, p, n)) {
            b->record_err = TS_ERR_NOMEM;
            snprintf(b->err, sizeof(b->err), "bluesky: out of memory");
            return -1;
        }
    }
    if (!lws_is_final_fragment(wsi))
        return 0;
    if (b->msg_oversize) {
        ts_source_skip(b->env, "bluesky", TS_SKIP_OVERSIZE, "message longer than max.line.bytes",
                       NULL, 0);
        b->msg_oversize = 0;
        return 0;
    }
    if (lws_frame_is_binary(wsi)) {
        ts_source_skip(b->env, "bluesky", TS_SKIP_UNRECOGNIZED,
                       "binary message (compression is not asked for)", NULL, b->msg.len);
        return 0;
    }
    err = ts_bsky_message(b, b->msg.data ? b->msg.data : "", b->msg.len);
    ts_buf_reset(&b->msg);
    if (err == TS_OK)
        return 0;
    if (err != TS_ERR_STOPPED) {
        b->record_err = err;
        snprintf(b->err, sizeof(b->err), "bluesky: cannot publish: %s", ts_err_name(err));
    }
    b->done = 1;
    return -1;
}

/* ---- libwebsockets ---- */

static int ts_bsky_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                            size_t len)
{
    ts_bsky_src *b = lws_context_user(lws_get_context(wsi));

    (void)user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        unsigned char **p = in, *end = *p + len;
        if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_USER_AGENT,
                                         (const unsigned char *)TS_BSKY_UA, (int)strlen(TS_BSKY_UA),
                                         p, end))
            return -1;
        break;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED: {
        ts_log_ev *ev = ts_log_begin(TS_LOG_INFO, "bluesky", "stream connected");
        b->established = 1;
        b->last_rx_mono = ts_bsky_mono(b);
        atomic_store(&b->env->stats->source_connected, 1);
        ts_log_cstr(ev, "url", b->url);
        ts_log_end(ev);
        break;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        b->http_status = lws_http_client_http_response(wsi);
        snprintf(b->err, sizeof(b->err), "%.*s", (int)(in ? len : 0), in ? (const char *)in : "");
        if (!b->err[0] && in)
            snprintf(b->err, sizeof(b->err), "%s", (const char *)in);
        b->done = 1;
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return ts_bsky_receive(b, wsi, in, len);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2) {
            const unsigned char *c = in;
            b->close_code = c[0] << 8 | c[1];
        }
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        b->done = 1;
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols ts_bsky_protocols[] = {
    {"jetstream", ts_bsky_callback, 0, TS_BSKY_RX_BUFFER, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Every 100 ms: a stop, a stall or a slow connection ends the service. */
static void ts_bsky_tick(lws_sorted_usec_list_t *sul)
{
    ts_bsky_src *b = lws_container_of(sul, ts_bsky_src, tick);
    int64_t now = ts_bsky_mono(b);

    if (atomic_load(b->env->stop)) {
        b->done = 1;
    } else if (b->established && now - b->last_rx_mono >= b->env->conf->stall_timeout_ms) {
        b->stalled = 1;
        b->done = 1;
    } else if (!b->established && now - b->start_mono >= b->env->conf->connect_timeout_ms) {
        b->timed_out = 1;
        b->done = 1;
    }
    /* lws_service polls again after the timers ran: only the next tick
     * (or network activity) makes it return and the loop see `done` */
    lws_sul_schedule(b->ctx, 0, &b->tick, ts_bsky_tick, b->done ? 1 : TS_BSKY_TICK_US);
}

static void ts_bsky_lws_log(int level, const char *line)
{
    size_t n = strlen(line);

    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    ts_logf(level == LLL_ERR ? TS_LOG_WARN : TS_LOG_DEBUG, "lws", "%.*s", (int)n, line);
}

/* ---- attempts ---- */

static void ts_bsky_attempt(void *opaque, ts_attempt *a)
{
    ts_bsky_src *b = opaque;
    const ts_bsky_inst *in = &b->inst[b->cur];
    struct lws_context_creation_info info;
    struct lws_client_connect_info ci;
    int64_t cursor = b->env->conf->bsky_cursor;
    char path[1024];

    memset(a, 0, sizeof(*a));
    b->done = b->established = b->got_data = b->stalled = b->timed_out = 0;
    b->http_status = 0;
    b->close_code = 0;
    b->record_err = TS_OK;
    b->err[0] = '\0';
    b->msg_oversize = 0;
    ts_buf_reset(&b->msg);
    if (b->last_time_us) {
        int64_t rewind = b->env->conf->bsky_rewind_ms * 1000;
        cursor = b->last_time_us - rewind > 0 ? b->last_time_us - rewind : 1;
        b->replay_since_us = cursor - rewind;
        b->replay_until_us = b->last_time_us + rewind;
    }
    if (cursor > 0)
        snprintf(path, sizeof(path), "%s" TS_BSKY_PATH "&cursor=%lld", in->base, (long long)cursor);
    else
        snprintf(path, sizeof(path), "%s" TS_BSKY_PATH, in->base);
    snprintf(b->url, sizeof(b->url), "%s://%s:%d%s", in->tls ? "wss" : "ws", in->host, in->port,
             path);

    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = ts_bsky_protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.gid = -1;
    info.uid = -1;
    info.user = b;
    info.connect_timeout_secs = (unsigned)((b->env->conf->connect_timeout_ms + 999) / 1000);
    b->ctx = lws_create_context(&info);
    if (!b->ctx) {
        a->fatal = 1;
        a->err = TS_ERR_NOMEM;
        snprintf(b->err, sizeof(b->err), "bluesky: cannot create a WebSocket context");
        return;
    }
    memset(&ci, 0, sizeof(ci));
    ci.context = b->ctx;
    ci.address = in->host;
    ci.port = in->port;
    ci.path = path;
    ci.host = in->host;
    ci.origin = in->host;
    ci.ssl_connection = in->tls ? LCCSCF_USE_SSL : 0;
    ci.local_protocol_name = ts_bsky_protocols[0].name;
    b->start_mono = b->last_rx_mono = ts_bsky_mono(b);
    if (!lws_client_connect_via_info(&ci)) {
        if (!b->err[0])
            snprintf(b->err, sizeof(b->err), "cannot start a connection to %s", in->host);
        b->done = 1;
    }
    if (!b->done)
        lws_sul_schedule(b->ctx, 0, &b->tick, ts_bsky_tick, TS_BSKY_TICK_US);
    while (!b->done)
        if (lws_service(b->ctx, 0) < 0)
            break;
    lws_sul_cancel(&b->tick);
    lws_context_destroy(b->ctx);
    b->ctx = NULL;
    atomic_store(&b->env->stats->source_connected, 0);

    if (b->record_err) {
        a->fatal = 1;
        a->err = b->record_err;
        return;
    }
    a->got_data = b->got_data;
    if (b->established) {
        a->http_status = 101;
        if (b->stalled)
            a->cause = TS_RECONNECT_STALL;
        else
            a->cause = b->got_data ? TS_RECONNECT_DROP : TS_RECONNECT_EMPTY;
        if (b->stalled)
            snprintf(b->err, sizeof(b->err), "no message for %lld ms",
                     (long long)b->env->conf->stall_timeout_ms);
        else if (b->close_code)
            snprintf(b->err, sizeof(b->err), "closed by the server with code %d", b->close_code);
    } else if (b->http_status && b->http_status != 101) {
        a->http_status = (int)b->http_status;
        a->cause = b->http_status == 429 ? TS_RECONNECT_RATELIMIT : TS_RECONNECT_HTTP;
    } else {
        a->cause = TS_RECONNECT_NETWORK;
        if (b->timed_out)
            snprintf(b->err, sizeof(b->err), "no connection within %lld ms",
                     (long long)b->env->conf->connect_timeout_ms);
    }
}

static void ts_bsky_reconnect(void *opaque, const ts_attempt *a, int64_t delay_ms)
{
    ts_bsky_src *b = opaque;
    ts_log_level lvl = a->cause == TS_RECONNECT_DROP ? TS_LOG_INFO : TS_LOG_WARN;
    ts_log_ev *ev;
    size_t from = b->cur;

    /* a working stream that was closed is tried again; anything else fails over */
    if (a->cause != TS_RECONNECT_DROP)
        b->cur = (b->cur + 1) % b->ninst;
    ts_pstats_add(&b->env->stats->reconnects[a->cause], 1);
    ev = ts_log_begin(lvl, "bluesky", "stream ended, reconnecting");
    ts_log_cstr(ev, "cause", ts_reconnect_cause_name(a->cause));
    ts_log_int(ev, "delay_ms", delay_ms);
    if (a->http_status && a->http_status != 101)
        ts_log_int(ev, "status", a->http_status);
    if (b->err[0])
        ts_log_cstr(ev, "error", b->err);
    ts_log_cstr(ev, "instance", b->inst[from].url);
    ts_log_cstr(ev, "next", b->inst[b->cur].url);
    if (b->last_time_us)
        ts_log_int(ev, "last_time_us", b->last_time_us);
    ts_log_end(ev);
}

/* ---- instances ---- */

static void ts_bsky_insts_free(ts_bsky_inst *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].url);
        free(v[i].host);
        free(v[i].base);
    }
    free(v);
}

/* One URL of the list: ws[s]://host[:port][/base] (ts_pconf_finish has
 * checked its form; IPv6 literals are not supported). */
static int ts_bsky_inst_parse(ts_bsky_inst *in, const char *s, size_t n)
{
    size_t p, h, hl;
    const char *colon;

    in->tls = n > 6 && !strncmp(s, "wss://", 6);
    p = in->tls ? 6 : 5;
    in->port = in->tls ? 443 : 80;
    h = p;
    while (h < n && s[h] != '/')
        h++;
    hl = h - p;
    colon = hl ? memchr(s + p, ':', hl) : NULL;
    if (colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (end != s + h || port < 1 || port > 65535)
            return -1;
        in->port = (int)port;
        hl = (size_t)(colon - (s + p));
    }
    if (hl == 0)
        return -1;
    in->url = strndup(s, n);
    in->host = strndup(s + p, hl);
    /* the base path, without a trailing / */
    {
        size_t bl = n - h;
        while (bl > 0 && s[h + bl - 1] == '/')
            bl--;
        in->base = strndup(s + h, bl);
    }
    return in->url && in->host && in->base ? 0 : -2;
}

static ts_err ts_bsky_insts(ts_bsky_src *b, const char *list, char *errstr, size_t errstr_size)
{
    const char *s = list;
    size_t cap = 1;

    for (const char *c = list; *c; c++)
        cap += *c == ',';
    b->inst = calloc(cap, sizeof(*b->inst));
    if (!b->inst)
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    while (*s) {
        size_t a = 0, l = strcspn(s, ",");
        int rc;
        while (a < l && s[a] == ' ')
            a++;
        while (l > a && s[l - 1] == ' ')
            l--;
        if (l > a) {
            rc = ts_bsky_inst_parse(&b->inst[b->ninst++], s + a, l - a);
            if (rc == -2)
                return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
            if (rc)
                return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                                 "bluesky.instances: \"%.*s\" is not a ws:// or wss:// URL",
                                 (int)(l - a), s + a);
        }
        s += strcspn(s, ",");
        if (*s == ',')
            s++;
    }
    if (!b->ninst)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "bluesky.instances: empty");
    return TS_OK;
}

ts_err ts_source_bluesky_run(const ts_source_env *env, char *errstr, size_t errstr_size)
{
    ts_bsky_src b;
    ts_backoff bo;
    ts_backoff_conf bc;
    ts_err err;

    memset(&b, 0, sizeof(b));
    b.env = env;
    ts_post_init(&b.post);
    ts_buf_init(&b.msg, 0);
    lws_set_log_level(LLL_ERR | LLL_WARN, ts_bsky_lws_log);
    err = ts_bsky_seen_init(&b.seen, TS_BSKY_SEEN);
    if (err) {
        ts_seterr(err, errstr, errstr_size, "out of memory");
        goto out;
    }
    err = ts_bsky_insts(&b, env->conf->bsky_instances, errstr, errstr_size);
    if (err)
        goto out;
    ts_pconf_backoff(env->conf, &bc);
    ts_backoff_init(&bo, &bc);
    err = ts_reconnect_run(&bo, env->clock, env->stop, ts_bsky_attempt, ts_bsky_reconnect, &b);
    if (err)
        ts_seterr(err, errstr, errstr_size, "%s", b.err[0] ? b.err : "stream failed");
out:
    atomic_store(&env->stats->source_connected, 0);
    ts_bsky_insts_free(b.inst, b.ninst);
    ts_bsky_seen_free(&b.seen);
    ts_buf_free(&b.msg);
    ts_post_free(&b.post);
    return err;
}
