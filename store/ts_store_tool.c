#include "ts_store_tool.h"
#include "ts_buf.h"
#include "ts_config.h"
#include "ts_fs.h"
#include "ts_kafka.h"
#include "ts_keys.h"
#include "ts_store.h"
#include "ts_store_verify.h"
#include "ts_tag.h"
#include "ts_window.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utf8proc.h>

/* ---- times ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * algorithm, exact for every int64 year we can meet). */
static int64_t ts_stool_days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void ts_stool_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

size_t ts_store_tool_format_time(int64_t ms, char *buf, size_t size)
{
    int64_t days = ms / 86400000, rem = ms % 86400000, y;
    int mo, d, n;

    if (rem < 0) {
        rem += 86400000;
        days--;
    }
    ts_stool_civil_from_days(days, &y, &mo, &d);
    n = snprintf(buf, size,
                 y >= 0 && y <= 9999 ? "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d.%03dZ"
                                     : "%+05" PRId64 "-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 y, mo, d, (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
                 (int)(rem % 1000));
    return n < 0 ? 0 : (size_t)n;
}

/* Exactly `n` digits at *p; advances *p. */
static int ts_stool_digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        *v = *v * 10 + (**p - '0');
    }
    return 0;
}

static int ts_stool_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

ts_err ts_store_tool_parse_time(const char *s, int64_t *ms)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, off = 0;
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
    if (ts_stool_digits(&p, 4, &y) || *p++ != '-' || ts_stool_digits(&p, 2, &mo) || *p++ != '-' ||
        ts_stool_digits(&p, 2, &d))
        return TS_ERR_INVALID;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && ts_stool_leap(y)))
        return TS_ERR_INVALID;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (ts_stool_digits(&p, 2, &h) || *p++ != ':' || ts_stool_digits(&p, 2, &mi))
            return TS_ERR_INVALID;
        if (*p == ':') {
            p++;
            if (ts_stool_digits(&p, 2, &sec))
                return TS_ERR_INVALID;
            if (*p == '.' || *p == ',') {
                int nd = 0;
                p++;
                while (*p >= '0' && *p <= '9') {
                    if (nd < 3)
                        frac = frac * 10 + (*p - '0');
                    nd++;
                    p++;
                }
                if (nd == 0 || nd > 9)
                    return TS_ERR_INVALID;
                for (; nd < 3; nd++)
                    frac *= 10;
            }
        }
        if (h > 23 || mi > 59 || sec > 59)
            return TS_ERR_INVALID;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
            if (ts_stool_digits(&p, 2, &oh))
                return TS_ERR_INVALID;
            if (*p == ':')
                p++;
            if (*p && ts_stool_digits(&p, 2, &om))
                return TS_ERR_INVALID;
            if (oh > 23 || om > 59)
                return TS_ERR_INVALID;
            off = sign * (oh * 60 + om);
        }
    }
    if (*p)
        return TS_ERR_INVALID;
    *ms = ts_stool_days_from_civil(y, mo, d) * 86400000 + (int64_t)h * 3600000 +
          (int64_t)mi * 60000 + (int64_t)sec * 1000 + frac - (int64_t)off * 60000;
    return TS_OK;
}

void ts_store_tool_csv_field(ts_buf *b, const char *p, size_t n)
{
    int quote = 0;

    for (size_t i = 0; i < n && !quote; i++)
        quote = p[i] == ',' || p[i] == '"' || p[i] == '\r' || p[i] == '\n';
    if (!quote) {
        ts_buf_append(b, p, n);
        return;
    }
    ts_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"')
            ts_buf_putc(b, '"');
        ts_buf_putc(b, p[i]);
    }
    ts_buf_putc(b, '"');
}

/* ---- the command line ---- */

enum {
    TS_CMD_TASKS,
    TS_CMD_DUMP,
    TS_CMD_TOP,
    TS_CMD_VERIFY
};
enum {
    TS_FMT_DEFAULT,
    TS_FMT_JSON,
    TS_FMT_TABLE,
    TS_FMT_CSV,
    TS_FMT_TEXT
};
enum {
    TS_TIME_DEFAULT,
    TS_TIME_MS,
    TS_TIME_ISO
};

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
    {"help", TS_OPT_HELP, 0},
};

static const char ts_stool_usage[] =
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
    "  --bootstrap-servers HOSTS  Kafka brokers (required)\n"
    "  -X kafka.KEY=VALUE         librdkafka property (security, SASL, TLS)\n"
    "  --timeout-ms MS            bound on reading one changelog partition (default 60000)\n"
    "\n"
    "exit codes: 0 ok, 1 verify found differences, 2 usage, 3 no such directory,\n"
    "application or task, 4 store of another application or task, 5 corrupt store,\n"
    "6 unknown store format version, 7 Kafka error, 8 other failure\n";

typedef struct ts_stool_task {
    char id[32];
    long sub;
    int32_t part;
    char *path;
    ts_store *store;
    ts_store_meta meta;
    int secondary;
} ts_stool_task;

typedef struct ts_stool {
    FILE *out;
    int rc;
    char msg[2048];

    /* options */
    unsigned seen; /* 1 << TS_OPT_* of each option given */
    int cmd;
    int help;
    const char *state_dir;
    const char *app_id;
    const char **want; /* --task values */
    size_t nwant;
    int64_t window_ms;
    int64_t grace_ms;
    int format;
    int time_fmt;
    char *tag; /* normalized */
    size_t tag_len;
    int64_t from, to;
    int only_open, only_closed;
    int64_t top_n;
    const char *bootstrap;
    int64_t timeout_ms;
    const char *scratch_base;
    ts_conf conf; /* kafka.* passthrough */

    /* state */
    char *app_dir;
    char *scratch; /* created on the first secondary open */
    ts_stool_task *tasks;
    size_t ntasks;
} ts_stool;

static int ts_stool_fail(ts_stool *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record the first failure (its message and exit code); returns rc. */
static int ts_stool_fail(ts_stool *c, int rc, const char *fmt, ...)
{
    va_list ap;

    if (c->rc)
        return c->rc;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
    va_end(ap);
    c->rc = rc;
    return rc;
}

static char *ts_stool_join(const char *a, const char *b)
{
    char *s;

    if (asprintf(&s, "%s/%s", a, b) < 0)
        return NULL;
    return s;
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

/* "1_3" -> sub-topology 1, partition 3; -1 if the name is not a task id. */
static int ts_stool_task_name(const char *s, long *sub, int32_t *part)
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
            c->time_fmt = TS_TIME_MS;
        else if (!strcmp(v, "iso"))
            c->time_fmt = TS_TIME_ISO;
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
    case TS_OPT_HELP:
        c->help = 1;
        return 0;
    }
    return 0;
}

/* -X key=value: a librdkafka property, with or without the "kafka." prefix. */
static int ts_stool_passthrough(ts_stool *c, const char *kv)
{
    const char *eq = kv ? strchr(kv, '=') : NULL;
    char key[256], err[512];

    c->seen |= 1u << TS_OPT_X;
    if (!eq || eq == kv || (size_t)(eq - kv) + 7 >= sizeof(key))
        return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "-X needs kafka.key=value, got \"%s\"",
                             kv ? kv : "");
    snprintf(key, sizeof(key), "%s%.*s", strncmp(kv, "kafka.", 6) ? "kafka." : "", (int)(eq - kv),
             kv);
    if (ts_conf_set(&c->conf, key, eq + 1, TS_CONF_SRC_FLAG, err, sizeof(err)))
        return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "-X %s", err);
    return 0;
}

static int ts_stool_parse(ts_stool *c, int argc, char **argv)
{
    rd_kafka_conf_t *kc;
    char err[512];
    const char *pos[3];
    size_t npos = 0;
    int dashdash = 0;

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
    if (c->cmd != TS_CMD_VERIFY &&
        (c->seen & ((1u << TS_OPT_BOOTSTRAP) | (1u << TS_OPT_TIMEOUT) | (1u << TS_OPT_X))))
        return ts_stool_fail(c, TS_STORE_TOOL_USAGE,
                             "--bootstrap-servers, -X and --timeout-ms apply to verify");
    if (c->only_open && c->only_closed)
        return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "--open and --closed exclude each other");
    if (c->from > c->to)
        return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "--from is after --to");
    if (c->cmd == TS_CMD_VERIFY) {
        if (!c->bootstrap || !*c->bootstrap)
            return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "verify needs --bootstrap-servers");
        /* a bad -X property is a command line error: find it now */
        kc = ts_kafka_conf_new(&c->conf, NULL, NULL, NULL, err, sizeof(err));
        if (!kc)
            return ts_stool_fail(c, TS_STORE_TOOL_USAGE, "-X %s", err);
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
    if (c->time_fmt == TS_TIME_DEFAULT)
        c->time_fmt = c->format == TS_FMT_TABLE ? TS_TIME_ISO : TS_TIME_MS;
    return 0;
}

/* ---- finding and opening the stores ---- */

static int ts_stool_task_cmp(const void *a, const void *b)
{
    const ts_stool_task *x = a, *y = b;

    if (x->sub != y->sub)
        return x->sub < y->sub ? -1 : 1;
    return (x->part > y->part) - (x->part < y->part);
}

static int ts_stool_is_dir(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int ts_stool_add_task(ts_stool *c, const char *name, long sub, int32_t part)
{
    ts_stool_task *v, *t;

    for (size_t i = 0; i < c->ntasks; i++)
        if (!strcmp(c->tasks[i].id, name))
            return 0; /* --task given twice */
    v = realloc(c->tasks, (c->ntasks + 1) * sizeof(*v));
    if (!v)
        return ts_stool_fail(c, TS_STORE_TOOL_FAILED, "out of memory");
    c->tasks = v;
    t = &c->tasks[c->ntasks];
    memset(t, 0, sizeof(*t));
    snprintf(t->id, sizeof(t->id), "%s", name);
    t->sub = sub;
    t->part = part;
    t->path = ts_stool_join(c->app_dir, name);
    if (!t->path)
        return ts_stool_fail(c, TS_STORE_TOOL_FAILED, "out of memory");
    c->ntasks++;
    return 0;
}

/* The application directories the state directory holds, for a hint. */
static void ts_stool_list_apps(const char *state_dir, char *buf, size_t size)
{
    DIR *d = opendir(state_dir);
    struct dirent *e;
    size_t len = 0;

    buf[0] = '\0';
    if (!d)
        return;
    while ((e = readdir(d)) && len + 1 < size) {
        char *p;
        if (e->d_name[0] == '.')
            continue;
        p = ts_stool_join(state_dir, e->d_name);
        if (p && ts_stool_is_dir(p)) {
            int n = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", e->d_name);
            if (n > 0)
                len += (size_t)n < size - len ? (size_t)n : size - len - 1;
        }
        free(p);
    }
    closedir(d);
}

static int ts_stool_find_tasks(ts_stool *c)
{
    DIR *d;
    struct dirent *e;
    struct stat st;

    if (stat(c->state_dir, &st) != 0)
        return ts_stool_fail(c, TS_STORE_TOOL_NOT_FOUND, "no state directory %s: %s", c->state_dir,
                             strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return ts_stool_fail(c, TS_STORE_TOOL_NOT_FOUND, "no state directory %s: not a directory",
                             c->state_dir);
    c->app_dir = ts_stool_join(c->state_dir, c->app_id);
    if (!c->app_dir)
        return ts_stool_fail(c, TS_STORE_TOOL_FAILED, "out of memory");
    if (!ts_stool_is_dir(c->app_dir)) {
        char apps[512];
        ts_stool_list_apps(c->state_dir, apps, sizeof(apps));
        return ts_stool_fail(
            c, TS_STORE_TOOL_NOT_FOUND, "no application %s in %s (%s%s; see --application-id)",
            c->app_id, c->state_dir, apps[0] ? "it holds: " : "it holds no application", apps);
    }
    if (c->nwant) {
        for (size_t i = 0; i < c->nwant; i++) {
            long sub;
            int32_t part;
            char *p = ts_stool_join(c->app_dir, c->want[i]);
            int ok = p && ts_stool_is_dir(p);
            free(p);
            if (!ok)
                return ts_stool_fail(c, TS_STORE_TOOL_NOT_FOUND, "no task %s in %s", c->want[i],
                                     c->app_dir);
            ts_stool_task_name(c->want[i], &sub, &part);
            if (ts_stool_add_task(c, c->want[i], sub, part))
                return c->rc;
        }
    } else {
        d = opendir(c->app_dir);
        if (!d)
            return ts_stool_fail(c, TS_STORE_TOOL_FAILED, "cannot read %s: %s", c->app_dir,
                                 strerror(errno));
        while ((e = readdir(d))) {
            long sub;
            int32_t part;
            char *p;
            int isdir;
            if (ts_stool_task_name(e->d_name, &sub, &part))
                continue;
            p = ts_stool_join(c->app_dir, e->d_name);
            isdir = p && ts_stool_is_dir(p);
            free(p);
            if (isdir && ts_stool_add_task(c, e->d_name, sub, part)) {
                closedir(d);
                return c->rc;
            }
        }
        closedir(d);
    }
    if (c->ntasks > 1)
        qsort(c->tasks, c->ntasks, sizeof(*c->tasks), ts_stool_task_cmp);
    return 0;
}

/*
 * Whether another process holds the store's RocksDB LOCK (fcntl lock), that
 * is, a processor has the store open. F_GETLK only asks; it takes nothing.
 * (Closing the descriptor drops POSIX locks this process holds on the file,
 * so a process must not use this on a store it has open itself.)
 */
static int ts_stool_store_locked(const char *path)
{
    struct flock fl;
    char *lock = ts_stool_join(path, "LOCK");
    int fd, locked = 0;

    if (!lock)
        return 0;
    fd = open(lock, O_RDONLY | O_CLOEXEC);
    free(lock);
    if (fd < 0)
        return 0;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
        locked = 1;
    close(fd);
    return locked;
}

static int ts_stool_make_scratch(ts_stool *c)
{
    const char *base = c->scratch_base;
    char *tmpl;

    if (c->scratch)
        return 0;
    if (!base || !*base)
        base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    if (c->scratch_base && mkdir(base, 0700) != 0 && errno != EEXIST)
        return ts_stool_fail(c, TS_STORE_TOOL_FAILED, "cannot create scratch directory %s: %s",
                             base, strerror(errno));
    tmpl = ts_stool_join(base, "tagstream-store.XXXXXX");
    if (!tmpl)
        return ts_stool_fail(c, TS_STORE_TOOL_FAILED, "out of memory");
    if (!mkdtemp(tmpl)) {
        ts_stool_fail(c, TS_STORE_TOOL_FAILED, "cannot create a scratch directory in %s: %s", base,
                      strerror(errno));
        free(tmpl);
        return c->rc;
    }
    c->scratch = tmpl;
    return 0;
}

/* A RocksDB error: corruption or another failure. */
static int ts_stool_store_err(ts_stool *c, ts_err err, const char *msg)
{
    if (err == TS_ERR_NOT_FOUND)
        return ts_stool_fail(c, TS_STORE_TOOL_NOT_FOUND, "%s", msg);
    if (err == TS_ERR_CORRUPT || err == TS_ERR_VERSION || strstr(msg, "Corruption"))
        return ts_stool_fail(c, TS_STORE_TOOL_CORRUPT, "%s", msg);
    return ts_stool_fail(c, TS_STORE_TOOL_FAILED, "%s", msg);
}

static int ts_stool_open_task(ts_stool *c, ts_stool_task *t)
{
    char err[1024], *current, *second = NULL;
    ts_err e;
    int has_current;

    current = ts_stool_join(t->path, "CURRENT");
    if (!current)
        return ts_stool_fail(c, TS_STORE_TOOL_FAILED, "out of memory");
    has_current = access(current, F_OK) == 0;
    free(current);
    if (!has_current)
        return ts_stool_fail(c, TS_STORE_TOOL_NOT_FOUND, "no store in %s (no CURRENT file)",
                             t->path);
    t->secondary = ts_stool_store_locked(t->path);
    if (t->secondary) {
        if (ts_stool_make_scratch(c))
            return c->rc;
        second = ts_stool_join(c->scratch, t->id);
        if (!second)
            return ts_stool_fail(c, TS_STORE_TOOL_FAILED, "out of memory");
    }
    e = ts_store_open(t->path, t->secondary ? TS_STORE_SECONDARY : TS_STORE_READ_ONLY, second, NULL,
                      &t->store, err, sizeof(err));
    free(second);
    if (!e)
        e = ts_store_catch_up(t->store, err, sizeof(err));
    if (e)
        return ts_stool_store_err(c, e, err);
    e = ts_store_read_meta(t->store, &t->meta, err, sizeof(err));
    if (e)
        return ts_stool_store_err(c, e, err);
    if (t->meta.format_version == 0)
        return 0; /* nothing committed yet (or a restore in progress) */
    if (t->meta.format_version != TS_STORE_FORMAT_VERSION)
        return ts_stool_fail(c, TS_STORE_TOOL_VERSION,
                             "store %s has format version %" PRId64
                             "; this tagstream-store understands version %d",
                             t->path, t->meta.format_version, TS_STORE_FORMAT_VERSION);
    if (strcmp(t->meta.application_id, c->app_id))
        return ts_stool_fail(c, TS_STORE_TOOL_OTHER_APP,
                             "store %s belongs to application \"%s\", not \"%s\"", t->path,
                             t->meta.application_id, c->app_id);
    if (strcmp(t->meta.task_id, t->id))
        return ts_stool_fail(c, TS_STORE_TOOL_OTHER_APP,
                             "store %s holds the state of task %s, not %s", t->path,
                             t->meta.task_id, t->id);
    return 0;
}

static void ts_stool_remove_scratch(ts_stool *c)
{
    if (!c->scratch)
        return;
    ts_fs_remove_tree(c->scratch, NULL, 0);
    free(c->scratch);
    c->scratch = NULL;
}

static int ts_stool_open(ts_stool *c)
{
    if (ts_stool_find_tasks(c))
        return c->rc;
    for (size_t i = 0; i < c->ntasks; i++)
        if (ts_stool_open_task(c, &c->tasks[i]))
            return c->rc;
    /* A secondary instance keeps only its info LOG in the scratch directory,
     * open from now on: removing the directory now leaves nothing behind
     * even if the command is interrupted. */
    ts_stool_remove_scratch(c);
    return 0;
}

static void ts_stool_close(ts_stool *c)
{
    for (size_t i = 0; i < c->ntasks; i++) {
        ts_store_close(c->tasks[i].store);
        free(c->tasks[i].path);
    }
    free(c->tasks);
    ts_stool_remove_scratch(c);
    free(c->app_dir);
    free(c->want);
    free(c->tag);
    ts_conf_destroy(&c->conf);
}

/* ---- reading entries ---- */

/* Decode the iterator's entry; a failure is a corrupt store. */
static int ts_stool_entry(ts_stool *c, ts_stool_task *t, ts_store_iter *it, int64_t *w,
                          const char **tag, size_t *len, int64_t *count, int64_t *max_ts)
{
    const char *k, *v;
    size_t kl, vl;
    ts_buf b;
    ts_err e;

    ts_store_iter_raw(it, &k, &kl, &v, &vl);
    if (ts_key_window_decode(k, kl, w, tag, len)) {
        ts_buf_init(&b, 0);
        ts_buf_hex(&b, k, kl, 64);
        ts_stool_fail(c, TS_STORE_TOOL_CORRUPT, "store %s: key %s is not a window key", t->path,
                      ts_buf_status(&b) ? "?" : b.data);
        ts_buf_free(&b);
        return c->rc;
    }
    e = ts_value_decode(v, vl, count, max_ts);
    if (e) {
        char when[48];
        ts_buf_init(&b, 0);
        ts_store_tool_format_time(*w, when, sizeof(when));
        ts_buf_json_str(&b, *tag, *len);
        ts_buf_puts(&b, ": value ");
        ts_buf_hex(&b, v, vl, 64);
        if (e == TS_ERR_VERSION)
            ts_buf_printf(&b, " has version byte 0x%02x, not 0x%02x", (unsigned char)v[0],
                          TS_VALUE_V1);
        else
            ts_buf_printf(&b, " has %zu bytes, not %d", vl, TS_VALUE_LEN);
        ts_stool_fail(c, TS_STORE_TOOL_CORRUPT, "store %s: window %s hashtag %s", t->path, when,
                      ts_buf_status(&b) ? "?" : b.data);
        ts_buf_free(&b);
        return c->rc;
    }
    return 0;
}

static int ts_stool_iter_status(ts_stool *c, ts_stool_task *t, ts_store_iter *it)
{
    char err[1024], msg[1200];
    ts_err e = ts_store_iter_status(it, err, sizeof(err));

    if (!e)
        return 0;
    snprintf(msg, sizeof(msg), "store %s: %s", t->path, err);
    return ts_stool_store_err(c, e, msg);
}

static int ts_stool_closed(const ts_stool *c, const ts_stool_task *t, int64_t w)
{
    return ts_window_closed(ts_window_end(w, c->window_ms), c->grace_ms, t->meta.stream_time);
}

/* ---- output: JSON lines, CSV, or an aligned table ---- */

typedef enum {
    TS_COL_STR,
    TS_COL_INT,
    TS_COL_TIME
} ts_col_kind;

typedef struct ts_col {
    const char *name;
    ts_col_kind kind;
} ts_col;

typedef struct ts_cell {
    const char *s; /* TS_COL_STR; NULL: null */
    size_t len;
    int64_t v;
    int null;
} ts_cell;

typedef struct ts_out {
    ts_stool *c;
    const ts_col *cols;
    size_t ncols;
    ts_buf line;
    /* table: every cell rendered, then printed aligned at the end */
    ts_buf cells;
    size_t *offs; /* per cell: start in cells; one extra per row for the end */
    size_t noffs, capoffs;
    size_t rows;
} ts_out;

static void ts_out_init(ts_out *o, ts_stool *c, const ts_col *cols, size_t ncols)
{
    memset(o, 0, sizeof(*o));
    o->c = c;
    o->cols = cols;
    o->ncols = ncols;
    ts_buf_init(&o->line, 0);
    ts_buf_init(&o->cells, 0);
}

static void ts_out_free(ts_out *o)
{
    ts_buf_free(&o->line);
    ts_buf_free(&o->cells);
    free(o->offs);
}

/* A tag for a terminal: control characters and invalid UTF-8 as \xNN. */
static void ts_out_printable(ts_buf *b, const char *p, size_t n)
{
    const utf8proc_uint8_t *u = (const utf8proc_uint8_t *)p;
    size_t i = 0;

    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(u + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
            size_t m = k <= 0 ? 1 : (size_t)k;
            for (size_t j = 0; j < m; j++)
                ts_buf_printf(b, "\\x%02x", u[i + j]);
            i += m;
            continue;
        }
        ts_buf_append(b, p + i, (size_t)k);
        i += (size_t)k;
    }
}

/* Display width of UTF-8 text (East Asian wide characters take two). */
static size_t ts_out_width(const char *p, size_t n)
{
    const utf8proc_uint8_t *u = (const utf8proc_uint8_t *)p;
    size_t i = 0, w = 0;

    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(u + i, (utf8proc_ssize_t)(n - i), &cp);
        int cw;
        if (k <= 0) {
            w++;
            i++;
            continue;
        }
        cw = utf8proc_charwidth(cp);
        w += cw > 0 ? (size_t)cw : 0;
        i += (size_t)k;
    }
    return w;
}

static void ts_out_time(ts_out *o, ts_buf *b, int64_t v)
{
    char t[48];

    if (o->c->time_fmt == TS_TIME_ISO) {
        ts_store_tool_format_time(v, t, sizeof(t));
        if (o->c->format == TS_FMT_JSON)
            ts_buf_printf(b, "\"%s\"", t);
        else
            ts_buf_puts(b, t);
    } else {
        ts_buf_printf(b, "%" PRId64, v);
    }
}

static int ts_out_offs_push(ts_out *o, size_t off)
{
    if (o->noffs == o->capoffs) {
        size_t cap = o->capoffs ? o->capoffs * 2 : 256;
        size_t *v = realloc(o->offs, cap * sizeof(*v));
        if (!v)
            return -1;
        o->offs = v;
        o->capoffs = cap;
    }
    o->offs[o->noffs++] = off;
    return 0;
}

static void ts_out_header(ts_out *o)
{
    if (o->c->format != TS_FMT_CSV)
        return;
    ts_buf_reset(&o->line);
    for (size_t i = 0; i < o->ncols; i++) {
        if (i)
            ts_buf_putc(&o->line, ',');
        ts_buf_puts(&o->line, o->cols[i].name);
    }
    ts_buf_puts(&o->line, "\r\n");
    fwrite(o->line.data, 1, o->line.len, o->c->out);
}

static int ts_out_row(ts_out *o, const ts_cell *cells)
{
    ts_buf *b = &o->line;

    ts_buf_reset(b);
    switch (o->c->format) {
    case TS_FMT_JSON:
        ts_buf_putc(b, '{');
        for (size_t i = 0; i < o->ncols; i++) {
            ts_buf_printf(b, "%s\"%s\":", i ? "," : "", o->cols[i].name);
            if (cells[i].null)
                ts_buf_puts(b, "null");
            else if (o->cols[i].kind == TS_COL_STR)
                ts_buf_json_str(b, cells[i].s, cells[i].len);
            else if (o->cols[i].kind == TS_COL_TIME)
                ts_out_time(o, b, cells[i].v);
            else
                ts_buf_printf(b, "%" PRId64, cells[i].v);
        }
        ts_buf_puts(b, "}\n");
        break;
    case TS_FMT_CSV:
        for (size_t i = 0; i < o->ncols; i++) {
            if (i)
                ts_buf_putc(b, ',');
            if (cells[i].null)
                continue;
            if (o->cols[i].kind == TS_COL_STR)
                ts_store_tool_csv_field(b, cells[i].s, cells[i].len);
            else if (o->cols[i].kind == TS_COL_TIME)
                ts_out_time(o, b, cells[i].v);
            else
                ts_buf_printf(b, "%" PRId64, cells[i].v);
        }
        ts_buf_puts(b, "\r\n");
        break;
    default: /* table: keep the rendered cells */
        for (size_t i = 0; i < o->ncols; i++) {
            if (ts_out_offs_push(o, o->cells.len))
                return ts_stool_fail(o->c, TS_STORE_TOOL_FAILED, "out of memory");
            if (cells[i].null)
                ts_buf_putc(&o->cells, '-');
            else if (o->cols[i].kind == TS_COL_STR)
                ts_out_printable(&o->cells, cells[i].s, cells[i].len);
            else if (o->cols[i].kind == TS_COL_TIME)
                ts_out_time(o, &o->cells, cells[i].v);
            else
                ts_buf_printf(&o->cells, "%" PRId64, cells[i].v);
        }
        if (ts_buf_status(&o->cells))
            return ts_stool_fail(o->c, TS_STORE_TOOL_FAILED, "out of memory");
        o->rows++;
        return 0;
    }
    if (ts_buf_status(b))
        return ts_stool_fail(o->c, TS_STORE_TOOL_FAILED, "out of memory");
    fwrite(b->data, 1, b->len, o->c->out);
    return 0;
}

static void ts_out_pad(FILE *fp, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fputc(' ', fp);
}

/* Print a buffered table: text columns left-aligned, numbers right-aligned,
 * two spaces apart, no trailing blanks. */
static int ts_out_finish(ts_out *o)
{
    size_t *w;
    FILE *fp = o->c->out;

    if (o->c->format != TS_FMT_TABLE)
        return 0;
    if (ts_out_offs_push(o, o->cells.len))
        return ts_stool_fail(o->c, TS_STORE_TOOL_FAILED, "out of memory");
    w = calloc(o->ncols, sizeof(*w));
    if (!w)
        return ts_stool_fail(o->c, TS_STORE_TOOL_FAILED, "out of memory");
    for (size_t i = 0; i < o->ncols; i++)
        w[i] = strlen(o->cols[i].name);
    for (size_t r = 0; r < o->rows; r++) {
        for (size_t i = 0; i < o->ncols; i++) {
            size_t k = r * o->ncols + i;
            size_t cw = ts_out_width(o->cells.data + o->offs[k], o->offs[k + 1] - o->offs[k]);
            if (cw > w[i])
                w[i] = cw;
        }
    }
    for (size_t r = 0; r <= o->rows; r++) {
        for (size_t i = 0; i < o->ncols; i++) {
            const char *s;
            size_t len, cw;
            int right = o->cols[i].kind == TS_COL_INT, last = i + 1 == o->ncols;
            char head[64];
            if (r == 0) {
                size_t j;
                for (j = 0; o->cols[i].name[j] && j + 1 < sizeof(head); j++)
                    head[j] = o->cols[i].name[j] >= 'a' && o->cols[i].name[j] <= 'z'
                                  ? (char)(o->cols[i].name[j] - 'a' + 'A')
                                  : o->cols[i].name[j];
                head[j] = '\0';
                s = head;
                len = j;
                cw = j;
            } else {
                size_t k = (r - 1) * o->ncols + i;
                s = o->cells.data + o->offs[k];
                len = o->offs[k + 1] - o->offs[k];
                cw = ts_out_width(s, len);
            }
            if (i)
                fputs("  ", fp);
            if (right)
                ts_out_pad(fp, w[i] - cw);
            fwrite(s, 1, len, fp);
            if (!right && !last)
                ts_out_pad(fp, w[i] - cw);
        }
        fputc('\n', fp);
    }
    free(w);
    return 0;
}

/* ---- tasks ---- */

static uint64_t ts_stool_dir_bytes(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    uint64_t sum = 0;

    if (!d)
        return 0;
    while ((e = readdir(d))) {
        struct stat st;
        char *p = ts_stool_join(path, e->d_name);
        if (p && lstat(p, &st) == 0 && S_ISREG(st.st_mode))
            sum += (uint64_t)st.st_size;
        free(p);
    }
    closedir(d);
    return sum;
}

static const ts_col ts_tasks_cols[] = {
    {"task", TS_COL_STR},           {"keys", TS_COL_INT},        {"windows_open", TS_COL_INT},
    {"windows_closed", TS_COL_INT}, {"disk_bytes", TS_COL_INT},  {"changelog_offset", TS_COL_INT},
    {"input_offset", TS_COL_INT},   {"stream_time", TS_COL_INT}, {"stream_time_iso", TS_COL_STR},
    {"format_version", TS_COL_INT}, {"opened_as", TS_COL_STR},
};
#define TS_TASKS_NCOLS (sizeof(ts_tasks_cols) / sizeof(ts_tasks_cols[0]))

static int ts_stool_cmd_tasks(ts_stool *c)
{
    ts_out o;
    int rc = 0;

    ts_out_init(&o, c, ts_tasks_cols, TS_TASKS_NCOLS);
    ts_out_header(&o);
    for (size_t i = 0; i < c->ntasks && !rc; i++) {
        ts_stool_task *t = &c->tasks[i];
        ts_store_iter *it = ts_store_iter_new(t->store);
        int64_t keys = 0, open = 0, closed = 0, last = 0;
        int any = 0;
        char iso[48];
        ts_cell cells[TS_TASKS_NCOLS];
        const ts_store_meta *m = &t->meta;
        const char *mode = t->secondary ? "secondary" : "read-only";

        if (!it) {
            rc = ts_stool_fail(c, TS_STORE_TOOL_FAILED, "out of memory");
            break;
        }
        for (ts_store_iter_seek(it, INT64_MIN); ts_store_iter_valid(it); ts_store_iter_next(it)) {
            int64_t w, count, max_ts;
            const char *tag;
            size_t len;
            if ((rc = ts_stool_entry(c, t, it, &w, &tag, &len, &count, &max_ts)))
                break;
            keys++;
            if (!any || w != last) {
                if (ts_stool_closed(c, t, w))
                    closed++;
                else
                    open++;
            }
            any = 1;
            last = w;
        }
        if (!rc)
            rc = ts_stool_iter_status(c, t, it);
        ts_store_iter_destroy(it);
        if (rc)
            break;
        memset(cells, 0, sizeof(cells));
        cells[0].s = t->id;
        cells[0].len = strlen(t->id);
        cells[1].v = keys;
        cells[2].v = open;
        cells[3].v = closed;
        cells[4].v = (int64_t)ts_stool_dir_bytes(t->path);
        cells[5].v = m->changelog_offset;
        cells[5].null = m->changelog_offset < 0;
        cells[6].v = m->input_offset;
        cells[6].null = m->input_offset < 0;
        cells[7].v = m->stream_time;
        cells[7].null = m->stream_time == INT64_MIN;
        ts_store_tool_format_time(m->stream_time, iso, sizeof(iso));
        cells[8].s = iso;
        cells[8].len = strlen(iso);
        cells[8].null = m->stream_time == INT64_MIN;
        cells[9].v = m->format_version;
        cells[10].s = mode;
        cells[10].len = strlen(mode);
        rc = ts_out_row(&o, cells);
    }
    if (!rc)
        rc = ts_out_finish(&o);
    ts_out_free(&o);
    return rc;
}

/* ---- dump and top: the tasks' entries merged window by window ---- */

typedef struct ts_cursor {
    ts_stool_task *t;
    ts_store_iter *it;
    int valid;
    int64_t w, count, max_ts;
    const char *tag;
    size_t len;
} ts_cursor;

typedef struct ts_row {
    size_t task;
    size_t tag_off, tag_len;
    int64_t count, max_ts;
    int closed;
} ts_row;

static const char *ts_row_tag(const ts_buf *tags, const ts_row *r)
{
    return tags->data + r->tag_off;
}

/* For qsort, which has no context argument: the tag bytes of the window
 * being sorted (set just before each sort, one thread). */
static const ts_buf *ts_sort_tags;

static int ts_row_cmp_tag(const void *a, const void *b)
{
    const ts_row *x = a, *y = b;
    int r = ts_bytes_cmp(ts_row_tag(ts_sort_tags, x), x->tag_len, ts_row_tag(ts_sort_tags, y),
                         y->tag_len);

    if (r)
        return r;
    return (x->task > y->task) - (x->task < y->task);
}

static int ts_row_cmp_top(const void *a, const void *b)
{
    const ts_row *x = a, *y = b;

    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return ts_row_cmp_tag(a, b);
}

static int ts_cursor_load(ts_stool *c, ts_cursor *k)
{
    k->valid = ts_store_iter_valid(k->it);
    if (!k->valid)
        return ts_stool_iter_status(c, k->t, k->it);
    return ts_stool_entry(c, k->t, k->it, &k->w, &k->tag, &k->len, &k->count, &k->max_ts);
}

static const ts_col ts_dump_cols[] = {
    {"task", TS_COL_STR},    {"window_start", TS_COL_TIME}, {"window_end", TS_COL_TIME},
    {"hashtag", TS_COL_STR}, {"count", TS_COL_INT},         {"max_timestamp", TS_COL_TIME},
    {"state", TS_COL_STR},
};
static const ts_col ts_top_cols[] = {
    {"task", TS_COL_STR},           {"window_start", TS_COL_TIME}, {"window_end", TS_COL_TIME},
    {"rank", TS_COL_INT},           {"hashtag", TS_COL_STR},       {"count", TS_COL_INT},
    {"max_timestamp", TS_COL_TIME}, {"state", TS_COL_STR},
};

static int ts_stool_emit_window(ts_stool *c, ts_out *o, int64_t w, ts_row *rows, size_t n,
                                const ts_buf *tags)
{
    int top = c->cmd == TS_CMD_TOP;
    size_t limit = n;

    ts_sort_tags = tags;
    if (n > 1)
        qsort(rows, n, sizeof(*rows), top ? ts_row_cmp_top : ts_row_cmp_tag);
    if (top && (uint64_t)c->top_n < (uint64_t)n)
        limit = (size_t)c->top_n;
    for (size_t i = 0; i < limit; i++) {
        const ts_row *r = &rows[i];
        const char *task = c->tasks[r->task].id, *state = r->closed ? "closed" : "open";
        ts_cell cells[8];
        size_t j = 0;
        memset(cells, 0, sizeof(cells));
        cells[j].s = task;
        cells[j++].len = strlen(task);
        cells[j++].v = w;
        cells[j++].v = ts_window_end(w, c->window_ms);
        if (top)
            cells[j++].v = (int64_t)i + 1;
        cells[j].s = ts_row_tag(tags, r);
        cells[j++].len = r->tag_len;
        cells[j++].v = r->count;
        cells[j++].v = r->max_ts;
        cells[j].s = state;
        cells[j++].len = strlen(state);
        if (ts_out_row(o, cells))
            return c->rc;
    }
    return 0;
}

static int ts_stool_cmd_entries(ts_stool *c)
{
    ts_cursor *cur = calloc(c->ntasks ? c->ntasks : 1, sizeof(*cur));
    ts_row *rows = NULL;
    size_t nrows = 0, caprows = 0;
    ts_buf tags;
    ts_out o;
    int rc = 0;

    ts_buf_init(&tags, 0);
    if (c->cmd == TS_CMD_TOP)
        ts_out_init(&o, c, ts_top_cols, sizeof(ts_top_cols) / sizeof(ts_top_cols[0]));
    else
        ts_out_init(&o, c, ts_dump_cols, sizeof(ts_dump_cols) / sizeof(ts_dump_cols[0]));
    if (!cur) {
        rc = ts_stool_fail(c, TS_STORE_TOOL_FAILED, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < c->ntasks; i++) {
        cur[i].t = &c->tasks[i];
        cur[i].it = ts_store_iter_new(c->tasks[i].store);
        if (!cur[i].it) {
            rc = ts_stool_fail(c, TS_STORE_TOOL_FAILED, "out of memory");
            goto out;
        }
        ts_store_iter_seek(cur[i].it, c->from);
        if ((rc = ts_cursor_load(c, &cur[i])))
            goto out;
    }
    ts_out_header(&o);
    for (;;) {
        int64_t w = INT64_MAX;
        int any = 0;
        for (size_t i = 0; i < c->ntasks; i++) {
            if (cur[i].valid && (!any || cur[i].w < w)) {
                w = cur[i].w;
                any = 1;
            }
        }
        if (!any || w > c->to)
            break;
        nrows = 0;
        ts_buf_reset(&tags);
        for (size_t i = 0; i < c->ntasks; i++) {
            ts_cursor *k = &cur[i];
            int closed = ts_stool_closed(c, k->t, w);
            if (!k->valid || k->w != w)
                continue;
            while (k->valid && k->w == w) {
                int keep = !(c->only_open && closed) && !(c->only_closed && !closed) &&
                           (!c->tag || (k->len == c->tag_len && !memcmp(k->tag, c->tag, k->len)));
                if (keep && nrows == caprows) {
                    size_t cap = caprows ? caprows * 2 : 64;
                    ts_row *v = realloc(rows, cap * sizeof(*v));
                    if (!v) {
                        rc = ts_stool_fail(c, TS_STORE_TOOL_FAILED, "out of memory");
                        goto out;
                    }
                    rows = v;
                    caprows = cap;
                }
                if (keep) {
                    rows[nrows].task = i;
                    rows[nrows].tag_off = tags.len;
                    rows[nrows].tag_len = k->len;
                    rows[nrows].count = k->count;
                    rows[nrows].max_ts = k->max_ts;
                    rows[nrows].closed = closed;
                    ts_buf_append(&tags, k->tag, k->len);
                    nrows++;
                }
                ts_store_iter_next(k->it);
                if ((rc = ts_cursor_load(c, k)))
                    goto out;
            }
        }
        if (ts_buf_status(&tags)) {
            rc = ts_stool_fail(c, TS_STORE_TOOL_FAILED, "out of memory");
            goto out;
        }
        if ((rc = ts_stool_emit_window(c, &o, w, rows, nrows, &tags)))
            goto out;
        if (w == INT64_MAX)
            break;
    }
    rc = ts_out_finish(&o);
out:
    for (size_t i = 0; cur && i < c->ntasks; i++)
        ts_store_iter_destroy(cur[i].it);
    free(cur);
    free(rows);
    ts_buf_free(&tags);
    ts_out_free(&o);
    return rc;
}

/* ---- verify ---- */

static int ts_stool_cmd_verify(ts_stool *c)
{
    ts_store_verify_task *vt = calloc(c->ntasks ? c->ntasks : 1, sizeof(*vt));
    ts_store_verify_opts vo;
    ts_store_verify_result res;
    char *topic = NULL, err[1024];
    ts_err e;

    if (!vt || asprintf(&topic, "%s-counts-changelog", c->app_id) < 0) {
        free(vt);
        return ts_stool_fail(c, TS_STORE_TOOL_FAILED, "out of memory");
    }
    for (size_t i = 0; i < c->ntasks; i++) {
        vt[i].id = c->tasks[i].id;
        vt[i].path = c->tasks[i].path;
        vt[i].partition = c->tasks[i].part;
        vt[i].store = c->tasks[i].store;
        vt[i].meta = &c->tasks[i].meta;
    }
    memset(&vo, 0, sizeof(vo));
    vo.bootstrap = c->bootstrap;
    vo.conf = &c->conf;
    vo.topic = topic;
    vo.timeout_ms = c->timeout_ms;
    vo.window_size_ms = c->window_ms;
    vo.json = c->format == TS_FMT_JSON;
    e = ts_store_verify_run(&vo, vt, c->ntasks, c->out, &res, err, sizeof(err));
    free(vt);
    free(topic);
    switch (e) {
    case TS_OK:
        break;
    case TS_ERR_KAFKA:
    case TS_ERR_TIMEOUT:
    case TS_ERR_INVALID:
        return ts_stool_fail(c, TS_STORE_TOOL_KAFKA, "%s", err);
    case TS_ERR_CORRUPT:
        return ts_stool_fail(c, TS_STORE_TOOL_CORRUPT, "%s", err);
    default:
        return ts_stool_store_err(c, e, err);
    }
    if (res.differences)
        return ts_stool_fail(c, TS_STORE_TOOL_DIFFERENT,
                             "verify: %" PRIu64
                             " difference%s between the stores and the changelog",
                             res.differences, res.differences == 1 ? "" : "s");
    return 0;
}

/* ---- main ---- */

int ts_store_tool_main(int argc, char **argv, FILE *out, FILE *err)
{
    static const ts_conf_prop no_props[] = {{NULL}};
    ts_stool c;
    char cerr[256];
    int rc = 0;

    memset(&c, 0, sizeof(c));
    c.out = out;
    c.app_id = "tagstream";
    c.window_ms = 20000;
    c.grace_ms = 0;
    c.from = INT64_MIN;
    c.to = INT64_MAX;
    c.timeout_ms = 60000;
    if (ts_conf_init(&c.conf, no_props, &c, cerr, sizeof(cerr))) {
        fprintf(err, "tagstream-store: %s\n", cerr);
        return TS_STORE_TOOL_FAILED;
    }
    if (ts_stool_parse(&c, argc, argv)) {
        fprintf(err, "tagstream-store: %s\n", c.msg);
        ts_stool_close(&c);
        return c.rc;
    }
    if (c.help) {
        fputs(ts_stool_usage, out);
        ts_stool_close(&c);
        return 0;
    }
    if (!ts_stool_open(&c)) {
        switch (c.cmd) {
        case TS_CMD_TASKS:
            ts_stool_cmd_tasks(&c);
            break;
        case TS_CMD_DUMP:
        case TS_CMD_TOP:
            ts_stool_cmd_entries(&c);
            break;
        case TS_CMD_VERIFY:
            ts_stool_cmd_verify(&c);
            break;
        }
    }
    if (fflush(out) != 0 || ferror(out))
        ts_stool_fail(&c, TS_STORE_TOOL_FAILED, "cannot write the output: %s", strerror(errno));
    if (c.rc) {
        /* one line, whatever a library put in the message */
        for (char *p = c.msg; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
        fprintf(err, "tagstream-store: %s\n", c.msg);
    }
    rc = c.rc;
    ts_stool_close(&c);
    return rc;
}
