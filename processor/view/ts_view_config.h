/*
 * tagstream-view's configuration: one table (ts_view_config_props) from
 * which parsing, --help and docs/CONFIGURATION.md come. Keys shared with the
 * processor (bootstrap.servers, output.topic, window.size.ms, http.listen,
 * log.level) mean the same there; the ones every binary has come from
 * ts_config.h (TS_CONF_KEY_*).
 */
#ifndef TS_VIEW_CONFIG_H
#define TS_VIEW_CONFIG_H

#include "ts_config.h"

#include <stdint.h>

typedef enum ts_view_from {
    TS_VIEW_FROM_EARLIEST = 0,
    TS_VIEW_FROM_LATEST = 1,
} ts_view_from;

typedef struct ts_view_config {
    char *bootstrap_servers;
    char *output_topic;
    int64_t window_size_ms;
    int64_t view_windows;
    int64_t view_top;
    int view_from; /* ts_view_from */
    char *http_listen;
    int log_level; /* ts_log_level */
} ts_view_config;

extern const ts_conf_prop ts_view_config_props[];

/* Required keys; TS_ERR_INVALID with a message naming the key. */
ts_err ts_view_config_validate(const ts_view_config *cfg, char *errstr, size_t errstr_size);

#endif
