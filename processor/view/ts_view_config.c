#include "ts_view_config.h"

#include <stddef.h>

#define F(field) offsetof(ts_view_config, field)

const ts_conf_prop ts_view_config_props[] = {
    TS_CONF_KEY_BOOTSTRAP_SERVERS(ts_view_config, bootstrap_servers, NULL, TS_CONF_F_REQUIRED),
    {"output.topic", TS_CONF_STRING, F(output_topic), "twitter_output", 0, 0, NULL,
     "Topic of the processor's windowed results, read with read_committed.", 0},
    {"window.size.ms", TS_CONF_INT, F(window_size_ms), "20000", 1, 31536000000LL, NULL,
     "The processor's window size: places the results of `output.format=long`, whose records "
     "do not carry their window.",
     0},
    {"view.windows", TS_CONF_INT, F(view_windows), "6", 1, 100, NULL,
     "How many of the newest windows the page and /api/windows show.", 0},
    {"view.top", TS_CONF_INT, F(view_top), "20", 1, 1000, NULL,
     "How many hashtags of each window are shown, by count.", 0},
    {"view.from", TS_CONF_ENUM, F(view_from), "earliest", 0, 0, "earliest|latest",
     "Where to start reading the output topic: its beginning (the newest windows it holds are "
     "shown at once) or its end (only results committed from now on).",
     0},
    /* Not TS_CONF_KEY_HTTP_LISTEN: here it serves the page too, and cannot
     * be empty. */
    {"http.listen", TS_CONF_STRING, F(http_listen), "127.0.0.1:8090", 0, 0, NULL,
     "Address of the page, /api/windows, /events, /health, /ready and /metrics, HOST:PORT.", 0},
    TS_CONF_KEY_LOG_LEVEL(ts_view_config, log_level, "info"),
    {NULL},
};

ts_err ts_view_config_validate(const ts_view_config *c, char *errstr, size_t errstr_size)
{
    if (!c->bootstrap_servers || !*c->bootstrap_servers)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "bootstrap.servers: required (e.g. --bootstrap.servers host:9092)");
    if (!c->output_topic || !*c->output_topic)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "output.topic: must be set");
    if (!c->http_listen || !*c->http_listen)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "http.listen: required, the page is all this program serves");
    return TS_OK;
}
