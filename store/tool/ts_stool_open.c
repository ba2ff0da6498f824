/*
 * Finding the task stores of an application in a state directory, opening
 * them without disturbing a processor that has them open, and reading their
 * entries.
 */
#include "ts_buf.h"
#include "ts_fs.h"
#include "ts_keys.h"
#include "ts_stool_int.h"
#include "ts_time.h"
#include "ts_window.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

int ts_stool_store_err(ts_stool *c, ts_err err, const char *msg)
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

int ts_stool_open(ts_stool *c)
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

void ts_stool_close(ts_stool *c)
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

int ts_stool_entry(ts_stool *c, ts_stool_task *t, ts_store_iter *it, int64_t *w, const char **tag,
                   size_t *len, int64_t *count, int64_t *max_ts)
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
        ts_time_format_iso(*w, when, sizeof(when));
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

int ts_stool_iter_status(ts_stool *c, ts_stool_task *t, ts_store_iter *it)
{
    char err[1024], msg[1200];
    ts_err e = ts_store_iter_status(it, err, sizeof(err));

    if (!e)
        return 0;
    snprintf(msg, sizeof(msg), "store %s: %s", t->path, err);
    return ts_stool_store_err(c, e, msg);
}

int ts_stool_closed(const ts_stool *c, const ts_stool_task *t, int64_t w)
{
    return ts_window_closed(ts_window_end(w, c->window_ms), c->grace_ms, t->meta.stream_time);
}
