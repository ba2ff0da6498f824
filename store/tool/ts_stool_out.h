/*
 * ts_stool_out: the rows of tagstream-store's commands rendered as JSON
 * lines, CSV or an aligned table. Internal to store/tool/; knows nothing of
 * the tool's options (the caller says the format).
 *
 * Use: ts_out_init, ts_out_header, ts_out_row for each row, ts_out_finish,
 * ts_out_free. JSON and CSV rows are written as they come; a table is kept
 * until ts_out_finish, which measures the columns (display width of UTF-8)
 * and prints it. Write errors are left in the stream (the caller checks
 * ferror/fflush). Errors: TS_ERR_NOMEM; what is written stays written.
 * Thread: the caller's; ts_out is not shared.
 */
#ifndef TS_STOOL_OUT_H
#define TS_STOOL_OUT_H

#include "ts_buf.h"
#include "ts_err.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum ts_out_format {
    TS_OUT_JSON,  /* one object a line, the columns as fields */
    TS_OUT_TABLE, /* a header and aligned columns, printed by ts_out_finish */
    TS_OUT_CSV,   /* RFC 4180, a header line, CRLF */
} ts_out_format;

typedef enum {
    TS_COL_STR,  /* text: JSON string, CSV field, table cell made printable */
    TS_COL_INT,  /* a number; right-aligned in a table */
    TS_COL_TIME, /* epoch ms: a number, or ISO-8601 UTC if asked for */
} ts_col_kind;

typedef struct ts_col {
    const char *name;
    ts_col_kind kind;
} ts_col;

/* One cell of a row; cells of a row are in the order of the columns. */
typedef struct ts_cell {
    const char *s; /* TS_COL_STR; NULL: null */
    size_t len;
    int64_t v;
    int null;
} ts_cell;

typedef struct ts_out {
    FILE *fp;
    ts_out_format format;
    int iso; /* TS_COL_TIME as ISO-8601 */
    const ts_col *cols;
    size_t ncols;
    ts_buf line;
    /* table: every cell rendered, then printed aligned at the end */
    ts_buf cells;
    size_t *offs; /* per cell: start in cells; one extra per row for the end */
    size_t noffs, capoffs;
    size_t rows;
} ts_out;

/* cols must outlive o. */
void ts_out_init(ts_out *o, FILE *fp, ts_out_format format, int iso_times, const ts_col *cols,
                 size_t ncols);

/* Free what o holds (not fp). */
void ts_out_free(ts_out *o);

/* CSV: the header line. Other formats: nothing (a table's header is printed
 * by ts_out_finish). */
void ts_out_header(ts_out *o);

/* One row of ncols cells. */
ts_err ts_out_row(ts_out *o, const ts_cell *cells);

/* Table: print it, text columns left-aligned, numbers right-aligned, two
 * spaces apart, no trailing blanks. Other formats: nothing. */
ts_err ts_out_finish(ts_out *o);

#endif
