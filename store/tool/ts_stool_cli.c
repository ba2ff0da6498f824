/*
 * The command line of tagstream-store: options, their checks against the
 * command, and --help.
 */
#include "ts_kafka.h"
#include "ts_stool_int.h"
#include "ts_tag.h"
#include "ts_time.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum {
    TS_OPT_STATE_DIR,
    TS_OPT_APP,
    TS_OPT_TASK,
    TS_OPT_WINDOW,
    TS_OPT_GRACE,
    TS_OPT_FORMAT,
    TS_OPT_TIME,
    TS_OPT_TAG,
    TS_OPT_FROM,
    TS_OPT_TO,
    TS_OPT_OPEN,
    TS_OPT_CLOSED,
    TS_OPT_BOOTSTRAP,
    TS_OPT_TIMEOUT,
    TS_OPT_SCRATCH,
    TS_OPT_CONFIG,
    TS_OPT_HELP,
    TS_OPT_X, /* -X */
};

static const struct {
    const char *name; /* with '-'; '.' is accepted in its place */
    int id;
    int has_arg;
} ts_stool_options[] = {
    {"state-dir", TS_OPT_STATE_DIR, 1},
    {"application-id", TS_OPT_APP, 1},
    {"task", TS_OPT_TASK, 1},
    {"window-size-ms", TS_OPT_WINDOW, 1},
    {"grace-ms", TS_OPT_GRACE, 1},
    {"window-grace-ms", TS_OPT_GRACE, 1},
    {"format", TS_OPT_FORMAT, 1},
    {"time-format", TS_OPT_TIME, 1},
    {"tag", TS_OPT_TAG, 1},
    {"from", TS_OPT_FROM, 1},
    {"to", TS_OPT_TO, 1},
    {"open", TS_OPT_OPEN, 0},
    {"closed", TS_OPT_CLOSED, 0},
    {"bootstrap-servers", TS_OPT_BOOTSTRAP, 1},
    {"timeout-ms", TS_OPT_TIMEOUT, 1},
    {"scratch", TS_OPT_SCRATCH, 1},
    {"config", TS_OPT_CONFIG, 1},
    {"help", TS_OPT_HELP, 0},
};

const char ts_stool_usage[] =
    "usage: tagstream-store COMMAND --state-dir DIR [options]\n"
    "\n"
    "Reads the RocksDB task stores of a tagstream-processor, running or stopped,\n"
    "without disturbing it.\n"
    "\n"
    "commands:\n"
    "  tasks        each task: keys, open/closed windows, size, offsets, stream time\n"
    "  dump         window entries (task, window, hashtag, count, state)\n"
    "  top N        the N most-mentioned hashtags of each window\n"
    "  verify       compare each store with its changelog partition\n"
    "\n"
    "options:\n"
    "  --state-dir DIR            the processor's state.dir (required)\n"
    "  --application-id ID        its application.id (default tagstream)\n"
    "  --task 1_N                 only this task (repeatable; default: all)\n"
    "  --window-size-ms MS        the processor's window.size.ms (default 20000)\n"
    "  --grace-ms MS              the processor's window.grace.ms (default 0)\n"
    "  --format FMT               tasks: table|json|csv; dump, top: json|table|csv;\n"
    "                             verify: text|json\n"
    "  --time-format ms|iso       times in dump/top (default: ms, iso for tables)\n"
    "  --scratch DIR              where a secondary instance keeps its files (default\n"
    "                             $TMPDIR or /tmp)\n"
    "dump and top:\n"
    "  --tag TAG                  one hashtag (normalized as the processor does)\n"
    "  --from TIME, --to TIME     window start within [from, to]; ISO-8601\n"
    "                             (2026-11-26T17:00:00Z) or epoch milliseconds\n"
    "  --open | --closed          only open or only closed windows\n"
    "verify:\n"
    "  --bootstrap-servers HOSTS  Kafka brokers (required; or bootstrap.servers from\n"
    "                             --config or $TAGSTREAM_BOOTSTRAP_SERVERS)\n"
    "  --config FILE              properties file: its bootstrap.servers, kafka.* and\n"
    "                             msk.iam* keys are used, others ignored (so the\n"
    "                             processor's file will do)\n"
    "  -X kafka.KEY=VALUE         librdkafka property (security, SASL, TLS); also from\n"
    "                             $TAGSTREAM_KAFKA_<KEY>, which is where secrets belong:\n"
    "                             a command line is visible to every user in ps\n"
    "  -X msk.iam=true            MSK IAM authentication (also msk.iam.region, ...;\n"
    "                             also from --config and $TAGSTREAM_MSK_IAM...)\n"
    "  --timeout-ms MS            bound on reading one changelog partition (default 60000)\n"
    "\n"
    "exit codes: 0 ok, 1 verify found differences, 2 usage, 3 no such directory,\n"
    "application or task, 4 store of another application or task, 5 corrupt store,\n"
    "6 unknown store format version, 7 Kafka error, 8 other failure\n";

ts_err ts_store_tool_parse_time(const char *s, int64_t *ms)
{
    size_t i = s[0] == '-' ? 1 : 0;

    /* epoch milliseconds: an optional minus and digits only */
    if (s[i] && strspn(s + i, "0123456789") == strlen(s + i)) {
        char *end;
        long long v;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || *end)
            return TS_ERR_INVALID;
        *ms = v;
        return TS_OK;
    }
    return ts_time_parse_iso(s, strlen(s), TS_TIME_PARTIAL, ms);
}

static int ts_stool_int(ts_stool *c, const char *opt, const char *v, int64_t min, int64_t *out)
{
    char *end;
    long long n;

    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < min)
        return ts_stool_fail(c, TS_STORE_TOOL_USAGE,
                             "--%s: expected an integer >= %" PRId64 ", got \"%s\"", opt, min, v);
    *out = n;
    return 0;
}

static int ts_stool_time_opt(ts_stool *c, const char *opt, const char *v, int64_t *out)
{
    if (ts_store_tool_parse_time(v, out))
        return ts_stool_fail(c, TS_STORE_TOOL_USAGE,
                             "--%s: \"%s\" is neither ISO-8601 (2026-11-26T17:00:00Z) nor "
                             "epoch milliseconds",
                             opt, v);
    return 0;
}

int ts_stool_task_name(const char *s, long *sub, int32_t *part)
{
    const char *us = strchr(s, '_');
    char *end;
    long a, b;

    if (!us || us == s || !us[1] || strspn(s, "0123456789") != (size_t)(us - s) ||
        strspn(us + 1, "0123456789") != strlen(us + 1) || strlen(s) > 24)
        return -1;
    a = strtol(s, &end, 10);
    b = strtol(us + 1, &end, 10);
    if (b > INT32_MAX)
        return -1;
    *sub = a;
    *part = (int32_t)b;
    return 0;
}

static int ts_stool_set_format(ts_stool *c, const char *v)
{
    static const char *const names[] = {"", "json", "table", "csv", "text"};

    for (int i = 1; i < 5; i++) {
        if (!strcmp(v, names[i])) {
            c->format = i;
            return 0;
        }
    }
    return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "--format: unknown format \"%s\"", v);
}

static int ts_stool_option(ts_stool *c, int id, const char *name, const char *v)
{
    c->seen |= 1u << id;
    switch (id) {
    case TS_OPT_STATE_DIR:
        c->state_dir = v;
        return 0;
    case TS_OPT_APP:
        if (!*v || strpbrk(v, "/ "))
            return ts_stool_fail(c, TS_STORE_TOOL_USAGE,
                                 "--application-id: must be non-empty, without '/' or spaces");
        c->app_id = v;
        return 0;
    case TS_OPT_TASK: {
        long sub;
        int32_t part;
        const char **w;
        if (ts_stool_task_name(v, &sub, &part))
            return ts_stool_fail(c, TS_STORE_TOOL_USAGE,
                                 "--task: \"%s\" is not a task id such as 1_0", v);
        w = realloc(c->want, (c->nwant + 1) * sizeof(*w));
        if (!w)
            return ts_stool_fail(c, TS_STORE_TOOL_FAILED, "out of memory");
        c->want = w;
        c->want[c->nwant++] = v;
        return 0;
    }
    case TS_OPT_WINDOW:
        return ts_stool_int(c, name, v, 1, &c->window_ms);
    case TS_OPT_GRACE:
        return ts_stool_int(c, name, v, 0, &c->grace_ms);
    case TS_OPT_FORMAT:
        return ts_stool_set_format(c, v);
    case TS_OPT_TIME:
        if (!strcmp(v, "ms"))
            c->time_fmt = TS_TFMT_MS;
        else if (!strcmp(v, "iso"))
            c->time_fmt = TS_TFMT_ISO;
        else
            return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "--time-format: ms or iso, not \"%s\"", v);
        return 0;
    case TS_OPT_TAG: {
        size_t cap = ts_tag_normalize_cap(strlen(v));
        free(c->tag);
        c->tag = malloc(cap);
        if (!c->tag)
            return ts_stool_fail(c, TS_STORE_TOOL_FAILED, "out of memory");
        if (ts_tag_normalize(v, strlen(v), c->tag, cap, &c->tag_len))
            return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "--tag: not valid UTF-8");
        return 0;
    }
    case TS_OPT_FROM:
        return ts_stool_time_opt(c, name, v, &c->from);
    case TS_OPT_TO:
        return ts_stool_time_opt(c, name, v, &c->to);
    case TS_OPT_OPEN:
        c->only_open = 1;
        return 0;
    case TS_OPT_CLOSED:
        c->only_closed = 1;
        return 0;
    case TS_OPT_BOOTSTRAP:
        c->bootstrap = v;
        return 0;
    case TS_OPT_TIMEOUT:
        return ts_stool_int(c, name, v, 1, &c->timeout_ms);
    case TS_OPT_SCRATCH:
        c->scratch_base = v;
        return 0;
    case TS_OPT_CONFIG: /* loaded before the other options (ts_stool_load_conf) */
        return 0;
    case TS_OPT_HELP:
        c->help = 1;
        return 0;
    }
    return 0;
}

/* -X key=value: a librdkafka property, with or without the "kafka." prefix,
 * or one of the msk.iam keys. */
static int ts_stool_passthrough(ts_stool *c, const char *kv)
{
    const char *eq = kv ? strchr(kv, '=') : NULL;
    char key[256], err[512];

    c->seen |= 1u << TS_OPT_X;
    if (!eq || eq == kv || (size_t)(eq - kv) + 7 >= sizeof(key))
        return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "-X needs kafka.key=value, got \"%s\"",
                             kv ? kv : "");
    snprintf(key, sizeof(key), "%s%.*s",
             strncmp(kv, "kafka.", 6) && strncmp(kv, "msk.", 4) ? "kafka." : "", (int)(eq - kv),
             kv);
    if (ts_conf_set(&c->conf, key, eq + 1, TS_CONF_SRC_FLAG, err, sizeof(err)))
        return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "-X %s", err);
    return 0;
}

/* Kafka settings below the flags: --config FILE, then TAGSTREAM_BOOTSTRAP_SERVERS
 * and TAGSTREAM_KAFKA_<KEY> (the same variables as the processor's, so that the
 * tool run inside its container finds them). */
static int ts_stool_load_conf(ts_stool *c, int argc, char **argv)
{
    char err[1024];

    for (int i = 1; i < argc; i++) {
        const char *path = NULL;
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            path = argv[++i];
        else if (!strncmp(argv[i], "--config=", 9))
            path = argv[i] + 9;
        else if (!strcmp(argv[i], "-X"))
            i++;
        if (path && ts_conf_load_file(&c->conf, path, err, sizeof(err)))
            return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "--config %s", err);
    }
    if (ts_conf_load_env(&c->conf, "TAGSTREAM_", NULL, NULL, err, sizeof(err)))
        return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "%s", err);
    return 0;
}

int ts_stool_parse(ts_stool *c, int argc, char **argv)
{
    rd_kafka_conf_t *kc;
    char err[512];
    const char *pos[3];
    size_t npos = 0;
    int dashdash = 0;

    if (ts_stool_load_conf(c, argc, argv))
        return c->rc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!dashdash && !strcmp(a, "--")) {
            dashdash = 1;
        } else if (!dashdash && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
            c->help = 1;
        } else if (!dashdash && !strncmp(a, "-X", 2)) {
            if (ts_stool_passthrough(c, a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL)))
                return c->rc;
        } else if (!dashdash && !strncmp(a, "--", 2)) {
            char name[64];
            const char *eq = strchr(a + 2, '='), *val = NULL;
            size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2), k;
            if (n >= sizeof(name))
                return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "%s: unknown option", a);
            for (size_t j = 0; j < n; j++)
                name[j] = a[2 + j] == '.' ? '-' : a[2 + j];
            name[n] = '\0';
            for (k = 0; k < sizeof(ts_stool_options) / sizeof(ts_stool_options[0]); k++)
                if (!strcmp(ts_stool_options[k].name, name))
                    break;
            if (k == sizeof(ts_stool_options) / sizeof(ts_stool_options[0]))
                return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "%.*s: unknown option (see --help)",
                                     (int)n + 2, a);
            if (ts_stool_options[k].has_arg) {
                if (eq)
                    val = eq + 1;
                else if (i + 1 < argc)
                    val = argv[++i];
                else
                    return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "--%s needs a value", name);
            } else if (eq) {
                return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "--%s takes no value", name);
            }
            if (ts_stool_option(c, ts_stool_options[k].id, name, val))
                return c->rc;
        } else if (!dashdash && a[0] == '-' && a[1]) {
            return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "%s: unknown option (see --help)", a);
        } else {
            if (npos == 3)
                return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "%s: unexpected argument", a);
            pos[npos++] = a;
        }
    }
    if (c->help)
        return 0;
    if (npos == 0)
        return ts_stool_fail(c, TS_STORE_TOOL_USAGE,
                             "no command given (tasks, dump, top N or verify; see --help)");
    if (!strcmp(pos[0], "tasks"))
        c->cmd = TS_CMD_TASKS;
    else if (!strcmp(pos[0], "dump"))
        c->cmd = TS_CMD_DUMP;
    else if (!strcmp(pos[0], "top"))
        c->cmd = TS_CMD_TOP;
    else if (!strcmp(pos[0], "verify"))
        c->cmd = TS_CMD_VERIFY;
    else
        return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "%s: unknown command (see --help)", pos[0]);
    if (c->cmd == TS_CMD_TOP) {
        if (npos < 2)
            return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "top needs N, the number of tags");
        char *end;
        errno = 0;
        c->top_n = strtoll(pos[1], &end, 10);
        if (errno || end == pos[1] || *end || c->top_n < 1)
            return ts_stool_fail(c, TS_STORE_TOOL_USAGE,
                                 "top: N must be an integer >= 1, not \"%s\"", pos[1]);
    }
    if (npos > (c->cmd == TS_CMD_TOP ? 2u : 1u))
        return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "%s: unexpected argument",
                             pos[c->cmd == TS_CMD_TOP ? 2 : 1]);

    if (!c->state_dir || !*c->state_dir)
        return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "--state-dir is required");
    /* options that mean nothing to the command are mistakes, not no-ops */
    if (c->cmd == TS_CMD_TASKS || c->cmd == TS_CMD_VERIFY) {
        static const int only_entries[] = {TS_OPT_TAG,  TS_OPT_FROM,   TS_OPT_TO,
                                           TS_OPT_OPEN, TS_OPT_CLOSED, TS_OPT_TIME};
        for (size_t i = 0; i < sizeof(only_entries) / sizeof(only_entries[0]); i++)
            if (c->seen & (1u << only_entries[i]))
                return ts_stool_fail(c, TS_STORE_TOOL_USAGE,
                                     "--tag, --from, --to, --open, --closed and --time-format "
                                     "apply to dump and top");
    }
    if (c->cmd != TS_CMD_VERIFY && (c->seen & ((1u << TS_OPT_BOOTSTRAP) | (1u << TS_OPT_TIMEOUT) |
                                               (1u << TS_OPT_X) | (1u << TS_OPT_CONFIG))))
        return ts_stool_fail(c, TS_STORE_TOOL_USAGE,
                             "--bootstrap-servers, --config, -X and --timeout-ms apply to verify");
    if (c->only_open && c->only_closed)
        return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "--open and --closed exclude each other");
    if (c->from > c->to)
        return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "--from is after --to");
    if (c->cmd == TS_CMD_VERIFY) {
        if (!c->bootstrap || !*c->bootstrap)
            c->bootstrap = c->conf_bootstrap;
        if (!c->bootstrap || !*c->bootstrap)
            return ts_stool_fail(c, TS_STORE_TOOL_USAGE,
                                 "verify needs --bootstrap-servers (or bootstrap.servers in "
                                 "--config FILE or $TAGSTREAM_BOOTSTRAP_SERVERS)");
        /* a bad -X property is a command line error: find it now */
        kc = ts_kafka_conf_new(&c->conf, NULL, NULL, NULL, err, sizeof(err));
        if (!kc)
            return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "%s", err);
        rd_kafka_conf_destroy(kc);
        if (c->format == TS_FMT_DEFAULT)
            c->format = TS_FMT_TEXT;
        if (c->format != TS_FMT_TEXT && c->format != TS_FMT_JSON)
            return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "verify: --format is text or json");
    } else {
        if (c->format == TS_FMT_DEFAULT)
            c->format = c->cmd == TS_CMD_TASKS ? TS_FMT_TABLE : TS_FMT_JSON;
        if (c->format == TS_FMT_TEXT)
            return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "--format text applies to verify");
    }
    if (c->time_fmt == TS_TFMT_DEFAULT)
        c->time_fmt = c->format == TS_FMT_TABLE ? TS_TFMT_ISO : TS_TFMT_MS;
    return 0;
}
