#include "ts_config.h"
#include "ts_buf.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern char **environ;

#define TS_CONF_KAFKA_PREFIX "kafka."

static void *ts_conf_field(const ts_conf *c, const ts_conf_prop *p)
{
    return (char *)c->base + p->offset;
}

const ts_conf_prop *ts_conf_find(const ts_conf *c, const char *name)
{
    for (const ts_conf_prop *p = c->props; p->name; p++)
        if (!strcmp(p->name, name))
            return p;
    return NULL;
}

ts_conf_source ts_conf_source_of(const ts_conf *c, const char *name)
{
    const ts_conf_prop *p = ts_conf_find(c, name);

    return p ? (ts_conf_source)c->src[p - c->props] : TS_CONF_SRC_DEFAULT;
}

int ts_conf_key_is_secret(const char *key)
{
    static const char *const words[] = {"password", "secret", "token", "key.pem", "credential"};

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strstr(key, words[i]))
            return 1;
    return 0;
}

/* "kafka.sasl.password" -> "TAGSTREAM_KAFKA_SASL_PASSWORD" */
static void ts_conf_env_name_of(const char *prefix, const char *key, ts_buf *out)
{
    ts_buf_puts(out, prefix);
    for (; *key; key++)
        ts_buf_putc(out, *key == '.' ? '_' : (char)toupper((unsigned char)*key));
}

size_t ts_conf_cli_secrets(const ts_conf *c, const char *env_prefix, char *buf, size_t size)
{
    ts_buf keys = TS_BUF_INIT, envs = TS_BUF_INIT;
    size_t n = 0;

    if (!env_prefix)
        env_prefix = "TAGSTREAM_";
    for (size_t i = 0; i < c->nprops; i++) {
        const ts_conf_prop *p = &c->props[i];
        size_t nl = strlen(p->name);
        /* x.token.file names where the secret is, which is the safe way */
        int names_a_file = nl > 5 && !strcmp(p->name + nl - 5, ".file");
        if (c->src[i] != TS_CONF_SRC_FLAG ||
            !((p->flags & TS_CONF_F_SECRET) || (ts_conf_key_is_secret(p->name) && !names_a_file)))
            continue;
        ts_buf_printf(&keys, "%s%s", n ? ", " : "", p->name);
        if (n++)
            ts_buf_puts(&envs, ", ");
        ts_conf_env_name_of(env_prefix, p->name, &envs);
    }
    for (size_t i = 0; i < c->kafka_cnt; i++) {
        const ts_conf_kv *kv = &c->kafka[i];
        char full[300];
        snprintf(full, sizeof(full), "%s%s", TS_CONF_KAFKA_PREFIX, kv->key);
        if (kv->src != TS_CONF_SRC_FLAG || !ts_conf_key_is_secret(full))
            continue;
        ts_buf_printf(&keys, "%s%s", n ? ", " : "", full);
        if (n++)
            ts_buf_puts(&envs, ", ");
        ts_conf_env_name_of(env_prefix, full, &envs);
    }
    if (size)
        buf[0] = '\0';
    if (n && size)
        snprintf(buf, size,
                 "%s given on the command line, where every user of this host can read it "
                 "(ps, /proc/PID/cmdline): set %s in the environment instead, or put it in a "
                 "--config file only this user can read",
                 keys.data ? keys.data : "?", envs.data ? envs.data : "?");
    ts_buf_free(&keys);
    ts_buf_free(&envs);
    return n;
}

/* Index of `v` in the '|'-separated list, or -1. */
static int ts_conf_enum_index(const char *values, const char *v)
{
    size_t vl = strlen(v);
    int idx = 0;

    for (const char *s = values; *s; idx++) {
        const char *e = strchr(s, '|');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (l == vl && !strncasecmp(s, v, l))
            return idx;
        if (!e)
            break;
        s = e + 1;
    }
    return -1;
}

static ts_err ts_conf_parse_int(const char *v, int64_t *out)
{
    char *end;
    long long n;

    while (isspace((unsigned char)*v))
        v++;
    if (!*v)
        return TS_ERR_INVALID;
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno || end == v)
        return TS_ERR_INVALID;
    while (isspace((unsigned char)*end))
        end++;
    if (*end)
        return TS_ERR_INVALID;
    *out = n;
    return TS_OK;
}

static ts_err ts_conf_parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};

    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i]))
            return *out = 1, TS_OK;
        if (!strcasecmp(v, no[i]))
            return *out = 0, TS_OK;
    }
    return TS_ERR_INVALID;
}

/* Validate and store one table value. */
static ts_err ts_conf_assign(ts_conf *c, const ts_conf_prop *p, const char *value, char *errstr,
                             size_t errstr_size)
{
    void *f = ts_conf_field(c, p);
    int64_t n;
    int b, idx;
    char *s;

    switch (p->type) {
    case TS_CONF_STRING:
        s = strdup(value);
        if (!s)
            return TS_ERR_NOMEM;
        free(*(char **)f);
        *(char **)f = s;
        return TS_OK;
    case TS_CONF_INT:
        if (ts_conf_parse_int(value, &n))
            return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "%s: \"%s\" is not an integer",
                             p->name, value);
        if (n < p->min || n > p->max)
            return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                             "%s: %" PRId64 " is out of range [%" PRId64 ", %" PRId64 "]", p->name,
                             n, p->min, p->max);
        *(int64_t *)f = n;
        return TS_OK;
    case TS_CONF_BOOL:
        if (ts_conf_parse_bool(value, &b))
            return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                             "%s: \"%s\" is not a boolean (true or false)", p->name, value);
        *(int *)f = b;
        return TS_OK;
    case TS_CONF_ENUM:
        idx = ts_conf_enum_index(p->values, value);
        if (idx < 0)
            return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "%s: \"%s\" is not one of %s",
                             p->name, value, p->values);
        *(int *)f = idx;
        return TS_OK;
    }
    return TS_ERR_INVALID;
}

ts_err ts_conf_init(ts_conf *c, const ts_conf_prop *props, void *base, char *errstr,
                    size_t errstr_size)
{
    ts_err err;

    memset(c, 0, sizeof(*c));
    c->props = props;
    c->base = base;
    while (props[c->nprops].name)
        c->nprops++;
    c->src = calloc(c->nprops + 1, 1);
    if (!c->src)
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    /* The struct may be uninitialized: no string field holds anything yet. */
    for (const ts_conf_prop *p = props; p->name; p++)
        if (p->type == TS_CONF_STRING)
            *(char **)ts_conf_field(c, p) = NULL;
    for (const ts_conf_prop *p = props; p->name; p++) {
        if (!p->def)
            continue;
        err = ts_conf_assign(c, p, p->def, errstr, errstr_size);
        if (err) {
            ts_conf_destroy(c);
            return err;
        }
    }
    return TS_OK;
}

void ts_conf_destroy(ts_conf *c)
{
    if (!c || !c->props)
        return;
    for (const ts_conf_prop *p = c->props; p->name; p++) {
        if (p->type == TS_CONF_STRING) {
            char **f = ts_conf_field(c, p);
            free(*f);
            *f = NULL;
        }
    }
    for (size_t i = 0; i < c->kafka_cnt; i++) {
        free(c->kafka[i].key);
        free(c->kafka[i].value);
    }
    free(c->kafka);
    free(c->src);
    memset(c, 0, sizeof(*c));
}

static ts_err ts_conf_set_kafka(ts_conf *c, const char *key, const char *value, ts_conf_source src)
{
    ts_conf_kv *kv;

    /* A later source replaces an earlier value of the same key. */
    for (size_t i = 0; i < c->kafka_cnt; i++) {
        if (!strcmp(c->kafka[i].key, key)) {
            char *v = strdup(value);
            if (!v)
                return TS_ERR_NOMEM;
            free(c->kafka[i].value);
            c->kafka[i].value = v;
            c->kafka[i].src = src;
            return TS_OK;
        }
    }
    kv = realloc(c->kafka, (c->kafka_cnt + 1) * sizeof(*kv));
    if (!kv)
        return TS_ERR_NOMEM;
    c->kafka = kv;
    kv[c->kafka_cnt].key = strdup(key);
    kv[c->kafka_cnt].value = strdup(value);
    kv[c->kafka_cnt].src = src;
    if (!kv[c->kafka_cnt].key || !kv[c->kafka_cnt].value) {
        free(kv[c->kafka_cnt].key);
        free(kv[c->kafka_cnt].value);
        return TS_ERR_NOMEM;
    }
    c->kafka_cnt++;
    return TS_OK;
}

ts_err ts_conf_set(ts_conf *c, const char *key, const char *value, ts_conf_source src, char *errstr,
                   size_t errstr_size)
{
    const ts_conf_prop *p;
    ts_err err;

    if (!strncmp(key, TS_CONF_KAFKA_PREFIX, strlen(TS_CONF_KAFKA_PREFIX))) {
        if (!key[strlen(TS_CONF_KAFKA_PREFIX)])
            return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                             "%s: a kafka.* key needs a librdkafka property name", key);
        if (ts_conf_set_kafka(c, key + strlen(TS_CONF_KAFKA_PREFIX), value, src))
            return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
        return TS_OK;
    }
    p = ts_conf_find(c, key);
    if (!p && c->ignore_unknown)
        return TS_OK;
    if (!p)
        return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                         "%s: unknown configuration key (see --help)", key);
    err = ts_conf_assign(c, p, value, errstr, errstr_size);
    if (!err)
        c->src[p - c->props] = (unsigned char)src;
    return err;
}

/* ---- Java properties files ---- */

/* Append the logical line's text, decoding escapes. */
static void ts_conf_unescape(ts_buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch != '\\' || i + 1 >= n) {
            ts_buf_putc(out, ch);
            continue;
        }
        ch = s[++i];
        switch (ch) {
        case 't':
            ts_buf_putc(out, '\t');
            break;
        case 'n':
            ts_buf_putc(out, '\n');
            break;
        case 'r':
            ts_buf_putc(out, '\r');
            break;
        case 'f':
            ts_buf_putc(out, '\f');
            break;
        case 'u': {
            unsigned cp = 0;
            size_t k;
            for (k = 0; k < 4 && i + 1 < n && isxdigit((unsigned char)s[i + 1]); k++) {
                char h = s[++i];
                cp = cp * 16 +
                     (unsigned)(isdigit((unsigned char)h) ? h - '0' : (tolower(h) - 'a' + 10));
            }
            if (cp < 0x80) {
                ts_buf_putc(out, (char)cp);
            } else if (cp < 0x800) {
                ts_buf_putc(out, (char)(0xc0 | (cp >> 6)));
                ts_buf_putc(out, (char)(0x80 | (cp & 0x3f)));
            } else {
                ts_buf_putc(out, (char)(0xe0 | (cp >> 12)));
                ts_buf_putc(out, (char)(0x80 | ((cp >> 6) & 0x3f)));
                ts_buf_putc(out, (char)(0x80 | (cp & 0x3f)));
            }
            break;
        }
        default:
            ts_buf_putc(out, ch);
        }
    }
}

/* Split one logical line into key and value and apply it. */
static ts_err ts_conf_apply_line(ts_conf *c, const char *path, int lineno, const char *line,
                                 size_t n, char *errstr, size_t errstr_size)
{
    ts_buf key = TS_BUF_INIT, val = TS_BUF_INIT;
    size_t i = 0, ks, ke;
    char msg[512];
    ts_err err;

    while (i < n && isspace((unsigned char)line[i]))
        i++;
    ks = i;
    while (i < n && line[i] != '=' && line[i] != ':' && !isspace((unsigned char)line[i])) {
        if (line[i] == '\\' && i + 1 < n)
            i++;
        i++;
    }
    ke = i;
    while (i < n && isspace((unsigned char)line[i]))
        i++;
    if (i < n && (line[i] == '=' || line[i] == ':'))
        i++;
    while (i < n && isspace((unsigned char)line[i]))
        i++;
    ts_conf_unescape(&key, line + ks, ke - ks);
    ts_conf_unescape(&val, line + i, n - i);
    if (ts_buf_status(&key) || ts_buf_status(&val)) {
        err = ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
        goto out;
    }
    err = ts_conf_set(c, key.data ? key.data : "", val.data ? val.data : "", TS_CONF_SRC_FILE, msg,
                      sizeof(msg));
    if (err)
        ts_seterr(err, errstr, errstr_size, "%s:%d: %s", path, lineno, msg);
out:
    ts_buf_free(&key);
    ts_buf_free(&val);
    return err;
}

ts_err ts_conf_load_file(ts_conf *c, const char *path, char *errstr, size_t errstr_size)
{
    ts_buf logical = TS_BUF_INIT;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, start_line = 0, continuing = 0;
    ts_err err = TS_OK;
    FILE *fp;

    fp = fopen(path, "r");
    if (!fp)
        return ts_seterr(TS_ERR_IO, errstr, errstr_size, "cannot open config file %s: %s", path,
                         strerror(errno));
    while ((len = getline(&line, &cap, fp)) >= 0) {
        size_t n = (size_t)len, s = 0, bs = 0;
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        while (s < n && isspace((unsigned char)line[s]))
            s++;
        if (!continuing) {
            if (s == n || line[s] == '#' || line[s] == '!')
                continue;
            ts_buf_reset(&logical);
            start_line = lineno;
        }
        /* An odd number of trailing backslashes continues the line. */
        while (bs < n - s && line[n - 1 - bs] == '\\')
            bs++;
        continuing = bs % 2 == 1;
        ts_buf_append(&logical, line + s, n - s - (continuing ? 1 : 0));
        if (continuing)
            continue;
        err =
            ts_conf_apply_line(c, path, start_line, logical.data, logical.len, errstr, errstr_size);
        if (err)
            break;
    }
    if (!err && continuing)
        err =
            ts_conf_apply_line(c, path, start_line, logical.data, logical.len, errstr, errstr_size);
    if (!err && ferror(fp))
        err = ts_seterr(TS_ERR_IO, errstr, errstr_size, "cannot read config file %s: %s", path,
                        strerror(errno));
    free(line);
    ts_buf_free(&logical);
    fclose(fp);
    return err;
}

/* ---- environment ---- */

/* "TAGSTREAM_WINDOW_SIZE_MS" (after the prefix) -> "window.size.ms" */
static void ts_conf_env_to_key(const char *var, size_t n, char *out)
{
    size_t i;

    for (i = 0; i < n; i++)
        out[i] = var[i] == '_' ? '.' : (char)tolower((unsigned char)var[i]);
    out[i] = '\0';
}

ts_err ts_conf_load_env(ts_conf *c, const char *prefix, char **envp,
                        void (*unknown)(const char *var), char *errstr, size_t errstr_size)
{
    size_t pl = strlen(prefix);
    char key[256], msg[512];
    ts_err err;

    if (!envp)
        envp = environ;
    for (char **e = envp; *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t nl;
        if (!eq || strncmp(*e, prefix, pl))
            continue;
        nl = (size_t)(eq - *e) - pl;
        if (nl == 0 || nl >= sizeof(key))
            continue;
        ts_conf_env_to_key(*e + pl, nl, key);
        if (!strcmp(key, "kafka.dir") || !strcmp(key, "kafka.heap")) /* infra/local/kafka's */
            continue;
        /* Keys with dashes or underscores cannot come from the environment;
         * none of ours have them. A name that maps to no key is not ours. */
        if (strncmp(key, TS_CONF_KAFKA_PREFIX, strlen(TS_CONF_KAFKA_PREFIX)) &&
            !ts_conf_find(c, key)) {
            if (unknown)
                unknown(*e);
            continue;
        }
        err = ts_conf_set(c, key, eq + 1, TS_CONF_SRC_ENV, msg, sizeof(msg));
        if (err)
            return ts_seterr(err, errstr, errstr_size, "environment %.*s: %s", (int)(eq - *e), *e,
                             msg);
    }
    return TS_OK;
}

/* ---- command line ---- */

ts_err ts_conf_cli(ts_conf *c, int argc, char **argv, const char *env_prefix, int *help,
                   void (*unknown_env)(const char *var), char *errstr, size_t errstr_size)
{
    char msg[512];
    ts_err err;
    int i;

    *help = 0;
    /* 1. the file, wherever --config appears */
    for (i = 1; i < argc; i++) {
        const char *path = NULL;
        if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c")) {
            if (i + 1 >= argc)
                return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "%s needs a file name",
                                 argv[i]);
            path = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            path = argv[i] + 9;
        }
        if (path) {
            err = ts_conf_load_file(c, path, errstr, errstr_size);
            if (err)
                return err;
        }
    }
    /* 2. the environment */
    if (env_prefix) {
        err = ts_conf_load_env(c, env_prefix, NULL, unknown_env, errstr, errstr_size);
        if (err)
            return err;
    }
    /* 3. the flags, in order */
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        char key[256];
        const char *val;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *help = 1;
            continue;
        }
        if (!strcmp(a, "--config") || !strcmp(a, "-c")) {
            i++;
            continue;
        }
        if (!strncmp(a, "--config=", 9))
            continue;
        if (!strcmp(a, "-X") || !strncmp(a, "-X", 2)) {
            const char *kv = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
            const char *eq = kv ? strchr(kv, '=') : NULL;
            if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key))
                return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                                 "-X needs key=value, got \"%s\"", kv ? kv : "");
            memcpy(key, kv, (size_t)(eq - kv));
            key[eq - kv] = '\0';
            val = eq + 1;
        } else if (!strncmp(a, "--", 2) && a[2]) {
            const char *eq = strchr(a + 2, '=');
            size_t kl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            if (kl >= sizeof(key))
                return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "%s: flag too long", a);
            memcpy(key, a + 2, kl);
            key[kl] = '\0';
            if (!ts_conf_find(c, key) && strncmp(key, "kafka.", 6))
                return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                                 "%s: unknown option (see --help)", a);
            if (eq) {
                val = eq + 1;
            } else {
                const ts_conf_prop *p = ts_conf_find(c, key);
                if (p && p->type == TS_CONF_BOOL &&
                    (i + 1 >= argc || !strncmp(argv[i + 1], "-", 1))) {
                    val = "true"; /* --flag alone turns a boolean on */
                } else if (i + 1 < argc) {
                    val = argv[++i];
                } else {
                    return ts_seterr(TS_ERR_INVALID, errstr, errstr_size, "%s needs a value", a);
                }
            }
        } else {
            return ts_seterr(TS_ERR_INVALID, errstr, errstr_size,
                             "%s: unexpected argument (see --help)", a);
        }
        err = ts_conf_set(c, key, val, TS_CONF_SRC_FLAG, msg, sizeof(msg));
        if (err)
            return ts_seterr(err, errstr, errstr_size, "%s", msg);
    }
    return TS_OK;
}

/* ---- help and docs ---- */

static const char *ts_conf_type_name(const ts_conf_prop *p)
{
    switch (p->type) {
    case TS_CONF_STRING:
        return "string";
    case TS_CONF_INT:
        return "integer";
    case TS_CONF_BOOL:
        return "boolean";
    case TS_CONF_ENUM:
        return "enum";
    }
    return "?";
}

static void ts_conf_env_name(const char *key, char *out, size_t outsz)
{
    size_t i, o = 0;
    const char *pre = "TAGSTREAM_";

    for (i = 0; pre[i] && o + 1 < outsz; i++)
        out[o++] = pre[i];
    for (i = 0; key[i] && o + 1 < outsz; i++)
        out[o++] = key[i] == '.' ? '_' : (char)toupper((unsigned char)key[i]);
    out[o] = '\0';
}

int ts_conf_format(const ts_conf_prop *p, const void *base, char *buf, size_t size)
{
    const char *f = (const char *)base + p->offset;
    const char *s;
    int idx;

    switch (p->type) {
    case TS_CONF_STRING:
        s = *(char *const *)(const void *)f;
        return snprintf(buf, size, "%s", s ? s : "");
    case TS_CONF_INT:
        return snprintf(buf, size, "%" PRId64, *(const int64_t *)(const void *)f);
    case TS_CONF_BOOL:
        return snprintf(buf, size, "%s", *(const int *)(const void *)f ? "true" : "false");
    case TS_CONF_ENUM:
        idx = *(const int *)(const void *)f;
        s = p->values;
        for (int i = 0; i < idx && s; i++)
            if ((s = strchr(s, '|')))
                s++;
        return snprintf(buf, size, "%.*s", s ? (int)strcspn(s, "|") : 0, s ? s : "");
    }
    return snprintf(buf, size, "%s", "");
}

void ts_conf_print_help(const ts_conf_prop *props, FILE *fp)
{
    for (const ts_conf_prop *p = props; p->name; p++) {
        fprintf(fp, "  %-32s %s", p->name, p->doc);
        if (p->flags & TS_CONF_F_REQUIRED)
            fputs(" Required.", fp);
        if (p->type == TS_CONF_ENUM)
            fprintf(fp, " One of: %s.", p->values);
        else if (p->type == TS_CONF_INT && (p->min != INT64_MIN || p->max != INT64_MAX))
            fprintf(fp, " Range: %" PRId64 "..%" PRId64 ".", p->min, p->max);
        fprintf(fp, " (default: %s)\n", p->def ? (*p->def ? p->def : "\"\"") : "none");
    }
    fprintf(fp, "  %-32s %s\n", "kafka.<property>",
            "Any librdkafka property, given to the Kafka clients as it is "
            "(security.protocol, sasl.*, ssl.*, tuning).");
}

/* Markdown table cells: a '|' would end the cell, even inside backticks. */
static void ts_conf_md(FILE *fp, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', fp);
        fputc(*s, fp);
    }
}

void ts_conf_print_markdown(const ts_conf_prop *props, FILE *fp)
{
    char env[128], buf[128];

    fprintf(fp, "| key | type | default | environment | description |\n");
    fprintf(fp, "|---|---|---|---|---|\n");
    for (const ts_conf_prop *p = props; p->name; p++) {
        ts_conf_env_name(p->name, env, sizeof(env));
        fprintf(fp, "| `%s` | %s", p->name, ts_conf_type_name(p));
        if (p->type == TS_CONF_ENUM) {
            fputs(" (`", fp);
            ts_conf_md(fp, p->values);
            fputs("`)", fp);
        } else if (p->type == TS_CONF_INT && (p->min != INT64_MIN || p->max != INT64_MAX)) {
            snprintf(buf, sizeof(buf), " (%" PRId64 "..%" PRId64 ")", p->min, p->max);
            fputs(buf, fp);
        }
        fputs(" | ", fp);
        if (p->def) {
            fputc('`', fp);
            ts_conf_md(fp, *p->def ? p->def : "\"\"");
            fputc('`', fp);
        } else {
            fputs("none", fp);
        }
        fprintf(fp, " | `%s` | ", env);
        ts_conf_md(fp, p->doc);
        if (p->flags & TS_CONF_F_REQUIRED)
            fputs(" Required.", fp);
        fputs(" |\n", fp);
    }
    fprintf(fp, "| `kafka.<property>` | string | | `TAGSTREAM_KAFKA_<PROPERTY>` | Any librdkafka "
                "property, passed to the Kafka clients as it is. |\n");
}
