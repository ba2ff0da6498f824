#include "ts_stool_out.h"
#include "ts_store_tool.h"
#include "ts_time.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

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

void ts_out_init(ts_out *o, FILE *fp, ts_out_format format, int iso_times, const ts_col *cols,
                 size_t ncols)
{
    memset(o, 0, sizeof(*o));
    o->fp = fp;
    o->format = format;
    o->iso = iso_times;
    o->cols = cols;
    o->ncols = ncols;
    ts_buf_init(&o->line, 0);
    ts_buf_init(&o->cells, 0);
}

void ts_out_free(ts_out *o)
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

static void ts_out_time(const ts_out *o, ts_buf *b, int64_t v)
{
    char t[48];

    if (o->iso) {
        ts_time_format_iso(v, t, sizeof(t));
        if (o->format == TS_OUT_JSON)
            ts_buf_printf(b, "\"%s\"", t);
        else
            ts_buf_puts(b, t);
    } else {
        ts_buf_printf(b, "%" PRId64, v);
    }
}

/* One cell into b as the format writes it. */
static void ts_out_cell(const ts_out *o, ts_buf *b, ts_col_kind kind, const ts_cell *cell)
{
    if (cell->null) {
        /* JSON null, an empty CSV field, a dash in a table */
        if (o->format != TS_OUT_CSV)
            ts_buf_puts(b, o->format == TS_OUT_JSON ? "null" : "-");
    } else if (kind == TS_COL_INT) {
        ts_buf_printf(b, "%" PRId64, cell->v);
    } else if (kind == TS_COL_TIME) {
        ts_out_time(o, b, cell->v);
    } else if (o->format == TS_OUT_JSON) {
        ts_buf_json_str(b, cell->s, cell->len);
    } else if (o->format == TS_OUT_CSV) {
        ts_store_tool_csv_field(b, cell->s, cell->len);
    } else {
        ts_out_printable(b, cell->s, cell->len);
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

void ts_out_header(ts_out *o)
{
    if (o->format != TS_OUT_CSV)
        return;
    ts_buf_reset(&o->line);
    for (size_t i = 0; i < o->ncols; i++) {
        if (i)
            ts_buf_putc(&o->line, ',');
        ts_buf_puts(&o->line, o->cols[i].name);
    }
    ts_buf_puts(&o->line, "\r\n");
    fwrite(o->line.data, 1, o->line.len, o->fp);
}

ts_err ts_out_row(ts_out *o, const ts_cell *cells)
{
    ts_buf *b = &o->line;

    ts_buf_reset(b);
    switch (o->format) {
    case TS_OUT_JSON:
        ts_buf_putc(b, '{');
        for (size_t i = 0; i < o->ncols; i++) {
            ts_buf_printf(b, "%s\"%s\":", i ? "," : "", o->cols[i].name);
            ts_out_cell(o, b, o->cols[i].kind, &cells[i]);
        }
        ts_buf_puts(b, "}\n");
        break;
    case TS_OUT_CSV:
        for (size_t i = 0; i < o->ncols; i++) {
            if (i)
                ts_buf_putc(b, ',');
            ts_out_cell(o, b, o->cols[i].kind, &cells[i]);
        }
        ts_buf_puts(b, "\r\n");
        break;
    default: /* table: keep the rendered cells */
        for (size_t i = 0; i < o->ncols; i++) {
            if (ts_out_offs_push(o, o->cells.len))
                return TS_ERR_NOMEM;
            ts_out_cell(o, &o->cells, o->cols[i].kind, &cells[i]);
        }
        if (ts_buf_status(&o->cells))
            return TS_ERR_NOMEM;
        o->rows++;
        return TS_OK;
    }
    if (ts_buf_status(b))
        return TS_ERR_NOMEM;
    fwrite(b->data, 1, b->len, o->fp);
    return TS_OK;
}

static void ts_out_pad(FILE *fp, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fputc(' ', fp);
}

ts_err ts_out_finish(ts_out *o)
{
    size_t *w;
    FILE *fp = o->fp;

    if (o->format != TS_OUT_TABLE)
        return TS_OK;
    if (ts_out_offs_push(o, o->cells.len))
        return TS_ERR_NOMEM;
    w = calloc(o->ncols, sizeof(*w));
    if (!w)
        return TS_ERR_NOMEM;
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
    return TS_OK;
}
