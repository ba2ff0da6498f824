/*
 * The commands of tagstream-store, on the stores ts_stool_open opened:
 * tasks, dump and top (the tasks' entries merged window by window), and
 * verify (ts_store_verify.c does the comparison).
 */
#include "ts_buf.h"
#include "ts_stool_int.h"
#include "ts_stool_out.h"
#include "ts_store_verify.h"
#include "ts_time.h"
#include "ts_window.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- rows out ---- */

/* A renderer for c's --format and --time-format. */
static void ts_stool_out_init(ts_stool *c, ts_out *o, const ts_col *cols, size_t ncols)
{
    ts_out_format f = c->format == TS_FMT_JSON  ? TS_OUT_JSON
                      : c->format == TS_FMT_CSV ? TS_OUT_CSV
                                                : TS_OUT_TABLE;

    ts_out_init(o, c->out, f, c->time_fmt == TS_TFMT_ISO, cols, ncols);
}

static int ts_stool_out_err(ts_stool *c, ts_err e)
{
    return e ? ts_stool_fail(c, TS_STORE_TOOL_FAILED, "out of memory") : 0;
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

int ts_stool_cmd_tasks(ts_stool *c)
{
    ts_out o;
    int rc = 0;

    ts_stool_out_init(c, &o, ts_tasks_cols, TS_TASKS_NCOLS);
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
        ts_time_format_iso(m->stream_time, iso, sizeof(iso));
        cells[8].s = iso;
        cells[8].len = strlen(iso);
        cells[8].null = m->stream_time == INT64_MIN;
        cells[9].v = m->format_version;
        cells[10].s = mode;
        cells[10].len = strlen(mode);
        rc = ts_stool_out_err(c, ts_out_row(&o, cells));
    }
    if (!rc)
        rc = ts_stool_out_err(c, ts_out_finish(&o));
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
            return ts_stool_fail(c, TS_STORE_TOOL_FAILED, "out of memory");
    }
    return 0;
}

int ts_stool_cmd_entries(ts_stool *c)
{
    ts_cursor *cur = calloc(c->ntasks ? c->ntasks : 1, sizeof(*cur));
    ts_row *rows = NULL;
    size_t nrows = 0, caprows = 0;
    ts_buf tags;
    ts_out o;
    int rc = 0;

    ts_buf_init(&tags, 0);
    if (c->cmd == TS_CMD_TOP)
        ts_stool_out_init(c, &o, ts_top_cols, sizeof(ts_top_cols) / sizeof(ts_top_cols[0]));
    else
        ts_stool_out_init(c, &o, ts_dump_cols, sizeof(ts_dump_cols) / sizeof(ts_dump_cols[0]));
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
    rc = ts_stool_out_err(c, ts_out_finish(&o));
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

int ts_stool_cmd_verify(ts_stool *c)
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
    case TS_ERR_DENIED:
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
