/*
 * ts_config: table-driven configuration shared by every binary.
 *
 * A binary describes its keys in one ts_conf_prop table (name, type, where the
 * value lives in its own config struct, default, bounds, one-line doc). From
 * that table come parsing, validation, `--help` and docs/CONFIGURATION.md.
 *
 * Sources, lowest precedence first:
 *   1. a Java properties file            (--config FILE)
 *   2. environment TAGSTREAM_<KEY>       (dots as underscores, upper case)
 *   3. command-line flags                (-X key=value, --key value, --key=value)
 *
 * Keys beginning with "kafka." are not in the table: they are kept, in order,
 * without the prefix, for the Kafka clients (see ts_kafka_conf_new).
 * An unknown key or a bad value is an error naming the key (and file:line
 * for a file). Unknown TAGSTREAM_ variables are reported by ts_conf_load_env
 * through its `unknown` callback rather than failing, because one environment
 * is often shared by several binaries.
 *
 * Keys that several binaries have are declared once: the ones every binary
 * shares (Kafka connection, logging, HTTP) below, as TS_CONF_KEY_* macros;
 * a key one binary takes over from another (the drill from the processor)
 * in the other binary's config header (ts_proc_config.h). A table entry is
 * then one macro naming the owner's struct and field. docs/DEVELOPMENT.md,
 * "Adding a configuration key".
 *
 * Ownership: string values are owned by the ts_conf and freed by
 * ts_conf_destroy. Thread: configure from one thread, then read freely.
 */
#ifndef TS_CONFIG_H
#define TS_CONFIG_H

#include "ts_err.h"

#include <stddef.h> /* offsetof, for the TS_CONF_KEY_* macros */
#include <stdint.h>
#include <stdio.h>

typedef enum ts_conf_type {
    TS_CONF_STRING, /* char * (NULL when unset) */
    TS_CONF_INT,    /* int64_t, within [min, max] */
    TS_CONF_BOOL,   /* int: true/false, 1/0, yes/no, on/off */
    TS_CONF_ENUM,   /* int: index into `values` ("json|long" -> 0 or 1) */
} ts_conf_type;

#define TS_CONF_F_SECRET 0x1 /* never print the value */
#define TS_CONF_F_REQUIRED                                                                         \
    0x2                    /* no default and must be set (the docs say so; the owner checks)       \
                            */
#define TS_CONF_F_PASS 0x4 /* the owner gives the value on to a program it runs */

typedef struct ts_conf_prop {
    const char *name;
    ts_conf_type type;
    size_t offset;      /* offsetof(owner struct, field) */
    const char *def;    /* default as text, NULL for none */
    int64_t min, max;   /* TS_CONF_INT bounds */
    const char *values; /* TS_CONF_ENUM: '|'-separated names */
    const char *doc;    /* one sentence */
    int flags;
} ts_conf_prop;

/* ---- keys every binary shares: TS_CONF_KEY_<NAME>(owner struct, field, ...) ---- */

#define TS_CONF_LOG_LEVELS "debug|info|warn|error" /* the order of ts_log_level */

/* def: NULL for none; flags: TS_CONF_F_REQUIRED where a binary cannot
 * start without it. */
#define TS_CONF_KEY_BOOTSTRAP_SERVERS(owner, field, def, flags)                                    \
    {                                                                                              \
        "bootstrap.servers", TS_CONF_STRING, offsetof(owner, field), def, 0, 0, NULL,              \
            "Kafka brokers to connect to, host:port[,host:port...].", flags                        \
    }
#define TS_CONF_KEY_LOG_LEVEL(owner, field, def)                                                   \
    {                                                                                              \
        "log.level", TS_CONF_ENUM, offsetof(owner, field), def, 0, 0, TS_CONF_LOG_LEVELS,          \
            "Least severe level logged (JSON lines on stdout).", 0                                 \
    }
#define TS_CONF_KEY_HTTP_LISTEN(owner, field, def)                                                 \
    {                                                                                              \
        "http.listen", TS_CONF_STRING, offsetof(owner, field), def, 0, 0, NULL,                    \
            "Address of /health, /ready and /metrics, HOST:PORT (empty: no HTTP endpoint).", 0     \
    }

/* CloudWatch Embedded Metric Format lines on stdout (ts_emf). */
#define TS_CONF_KEY_METRICS_EMF(owner, field)                                                      \
    {                                                                                              \
        "metrics.emf", TS_CONF_BOOL, offsetof(owner, field), "false", 0, 0, NULL,                  \
            "Also write the metrics as CloudWatch Embedded Metric Format log lines, which the "    \
            "awslogs driver turns into CloudWatch metrics (on in the AWS templates).",             \
            0                                                                                      \
    }
#define TS_CONF_KEY_METRICS_EMF_INTERVAL_MS(owner, field)                                          \
    {                                                                                              \
        "metrics.emf.interval.ms", TS_CONF_INT, offsetof(owner, field), "60000", 1000, 3600000,    \
            NULL, "How often the metrics are written as EMF lines (counters as their increase).",  \
            0                                                                                      \
    }
#define TS_CONF_KEY_METRICS_EMF_NAMESPACE(owner, field)                                            \
    {                                                                                              \
        "metrics.emf.namespace", TS_CONF_STRING, offsetof(owner, field), "tagstream", 0, 0, NULL,  \
            "CloudWatch namespace of the EMF metrics.", 0                                          \
    }

typedef enum ts_conf_source {
    TS_CONF_SRC_DEFAULT = 0,
    TS_CONF_SRC_FILE,
    TS_CONF_SRC_ENV,
    TS_CONF_SRC_FLAG,
} ts_conf_source;

typedef struct ts_conf_kv {
    char *key; /* without the "kafka." prefix */
    char *value;
    ts_conf_source src; /* where the value in force came from */
} ts_conf_kv;

typedef struct ts_conf {
    const ts_conf_prop *props; /* terminated by an entry with name == NULL */
    void *base;                /* the owner's struct */
    ts_conf_kv *kafka;         /* passthrough, in the order given */
    size_t kafka_cnt;
    unsigned char *src; /* ts_conf_source of each prop */
    size_t nprops;
    int ignore_unknown; /* set after ts_conf_init: a key not in the table is skipped, not an
                           error (a tool reading the Kafka keys of another binary's file) */
} ts_conf;

/* Bind a table to a struct and apply the defaults. On failure nothing is
 * left to free. */
ts_err ts_conf_init(ts_conf *c, const ts_conf_prop *props, void *base, char *errstr,
                    size_t errstr_size);
/* Frees owned strings and the passthrough list; NULL ok. */
void ts_conf_destroy(ts_conf *c);

/* Set one key from text; "kafka.*" goes to the passthrough list. */
ts_err ts_conf_set(ts_conf *c, const char *key, const char *value, ts_conf_source src, char *errstr,
                   size_t errstr_size);

/* Load a Java properties file (comments #/!, key=value / key:value / key
 * value, backslash continuations and escapes). Errors say file:line. */
ts_err ts_conf_load_file(ts_conf *c, const char *path, char *errstr, size_t errstr_size);

/* Apply PREFIX<KEY> variables of envp (NULL: environ). `unknown` (may be
 * NULL) is called for each PREFIX variable that names no key. */
ts_err ts_conf_load_env(ts_conf *c, const char *prefix, char **envp,
                        void (*unknown)(const char *var), char *errstr, size_t errstr_size);

/*
 * The common command line: --config FILE, -X key=value, --KEY VALUE,
 * --KEY=VALUE, --help/-h. Loads the file, then the environment (prefix
 * env_prefix, may be NULL to skip), then the flags. Sets *help if help was
 * asked for. Returns TS_ERR_INVALID with a message for an unknown flag.
 */
ts_err ts_conf_cli(ts_conf *c, int argc, char **argv, const char *env_prefix, int *help,
                   void (*unknown_env)(const char *var), char *errstr, size_t errstr_size);

/* Look a property up by name (NULL if none). */
const ts_conf_prop *ts_conf_find(const ts_conf *c, const char *name);
ts_conf_source ts_conf_source_of(const ts_conf *c, const char *name);

/* The value of p in the struct base as text, as a flag would give it
 * ("100", "true", "json"); "" for an unset string. Returns snprintf's
 * result. */
int ts_conf_format(const ts_conf_prop *p, const void *base, char *buf, size_t size);

/* Print the keys as `--help` text, or as a Markdown table for the docs. */
void ts_conf_print_help(const ts_conf_prop *props, FILE *fp);
void ts_conf_print_markdown(const ts_conf_prop *props, FILE *fp);

/* 1 if a key's value should never be shown (passwords, tokens, secrets). */
int ts_conf_key_is_secret(const char *key);

/*
 * Secrets given on the command line (-X, --key): any user of the host can
 * read a process's arguments (ps, /proc/PID/cmdline), so a password there is
 * no longer a secret. They are accepted, and the binary warns. Writes into
 * buf one warning naming each such key (never its value) and the safe ways
 * to give it: the environment variable env_prefix<KEY> (NULL: "TAGSTREAM_")
 * or a --config file readable only by its owner. Returns the number of such
 * keys; 0 leaves buf "".
 */
size_t ts_conf_cli_secrets(const ts_conf *c, const char *env_prefix, char *buf, size_t size);

#endif
