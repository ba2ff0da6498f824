/*
 * ts_buf: a growable byte buffer (in the manner of curl's dynbuf).
 *
 * The buffer is always NUL-terminated after its `len` bytes, so its text can
 * be handed to printf-like functions, but its content is pointer + length and
 * may contain NUL bytes. A buffer that failed an allocation stays failed: every
 * later append is a no-op returning TS_ERR_NOMEM, so a sequence of appends can
 * be checked once at the end. `max` (0 = unlimited) caps the size; going past it
 * fails the same way.
 *
 * Thread: a buffer belongs to one thread at a time.
 */
#ifndef TS_BUF_H
#define TS_BUF_H

#include "ts_err.h"

#include <stdint.h>
#include <stddef.h>

typedef struct ts_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
    int failed;
} ts_buf;

#define TS_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0, 0, 0                                                                           \
    }

void ts_buf_init(ts_buf *b, size_t max);
/* Frees the memory; the buffer may be reused after ts_buf_init. NULL ok. */
void ts_buf_free(ts_buf *b);
/* Empties the buffer, keeps its memory, clears the failed state. */
void ts_buf_reset(ts_buf *b);
/* Detach the data (caller frees with free()); the buffer becomes empty. */
char *ts_buf_take(ts_buf *b, size_t *lenp);

ts_err ts_buf_append(ts_buf *b, const void *p, size_t n);
ts_err ts_buf_puts(ts_buf *b, const char *s);
ts_err ts_buf_putc(ts_buf *b, char c);
ts_err ts_buf_printf(ts_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Append p[0..n) as a JSON string literal, quotes included. Valid UTF-8 is
 * copied; control characters, '"' and '\\' are escaped; each byte of an
 * invalid UTF-8 sequence becomes U+FFFD, so the output is always valid JSON.
 */
ts_err ts_buf_json_str(ts_buf *b, const char *p, size_t n);

/* Append the first `max` bytes of p in lower-case hex, then "..." when n is
 * larger (for showing keys and values that are not text). */
ts_err ts_buf_hex(ts_buf *b, const void *p, size_t n, size_t max);

/* Byte-wise order of two byte strings, a prefix before any longer string:
 * RocksDB's default comparator. <0, 0 or >0, as memcmp. */
int ts_bytes_cmp(const void *a, size_t na, const void *b, size_t nb);

/* Returns TS_ERR_NOMEM if any append failed since init/reset. */
static inline ts_err ts_buf_status(const ts_buf *b)
{
    return b->failed ? TS_ERR_NOMEM : TS_OK;
}

/*
 * Growable arrays: `array` with room for at least one element past its first
 * n: the same array, or a larger one (capacity `first`, then doubling; *cap
 * updated), or NULL when out of memory (then `array` and *cap stay valid).
 */
void *ts_grow(void *array, size_t n, size_t *cap, size_t elem, size_t first);

#endif
