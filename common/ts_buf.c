#include "ts_buf.h"
#include "ts_utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ts_buf_init(ts_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void ts_buf_free(ts_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

void ts_buf_reset(ts_buf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *ts_buf_take(ts_buf *b, size_t *lenp)
{
    char *p = b->data;

    if (lenp)
        *lenp = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

/* Make room for n more bytes plus the terminating NUL. */
static ts_err ts_buf_grow(ts_buf *b, size_t n)
{
    size_t need, ncap;
    char *p;

    if (b->failed)
        return TS_ERR_NOMEM;
    if (n > SIZE_MAX - b->len - 1)
        goto fail;
    need = b->len + n + 1;
    if (b->max && need > b->max + 1)
        goto fail;
    if (need <= b->cap)
        return TS_OK;
    ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    p = realloc(b->data, ncap);
    if (!p)
        goto fail;
    b->data = p;
    b->cap = ncap;
    return TS_OK;
fail:
    b->failed = 1;
    return TS_ERR_NOMEM;
}

ts_err ts_buf_append(ts_buf *b, const void *p, size_t n)
{
    if (ts_buf_grow(b, n))
        return TS_ERR_NOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return TS_OK;
}

ts_err ts_buf_puts(ts_buf *b, const char *s)
{
    return ts_buf_append(b, s, strlen(s));
}

ts_err ts_buf_putc(ts_buf *b, char c)
{
    return ts_buf_append(b, &c, 1);
}

ts_err ts_buf_printf(ts_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->failed)
        return TS_ERR_NOMEM;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || ts_buf_grow(b, (size_t)n))
        return b->failed = 1, TS_ERR_NOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return TS_OK;
}

ts_err ts_buf_json_str(ts_buf *b, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0, run;

    ts_buf_putc(b, '"');
    while (i < n) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x80) {
            run = ts_utf8_seqlen(p + i, n - i);
            if (run == 0) {
                ts_buf_append(b, "\xef\xbf\xbd", 3);
                i++;
            } else {
                ts_buf_append(b, p + i, run);
                i += run;
            }
            continue;
        }
        switch (c) {
        case '"':
            ts_buf_append(b, "\\\"", 2);
            break;
        case '\\':
            ts_buf_append(b, "\\\\", 2);
            break;
        case '\n':
            ts_buf_append(b, "\\n", 2);
            break;
        case '\r':
            ts_buf_append(b, "\\r", 2);
            break;
        case '\t':
            ts_buf_append(b, "\\t", 2);
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                ts_buf_append(b, esc, 6);
            } else {
                ts_buf_putc(b, (char)c);
            }
        }
        i++;
    }
    return ts_buf_putc(b, '"');
}

void *ts_grow(void *array, size_t n, size_t *cap, size_t elem, size_t first)
{
    size_t ncap;
    void *p;

    if (n < *cap)
        return array;
    ncap = *cap ? *cap * 2 : first;
    if (ncap <= n || ncap > SIZE_MAX / elem)
        return NULL;
    p = realloc(array, ncap * elem);
    if (p)
        *cap = ncap;
    return p;
}

int ts_bytes_cmp(const void *a, size_t na, const void *b, size_t nb)
{
    int c = na && nb ? memcmp(a, b, na < nb ? na : nb) : 0;

    if (c)
        return c;
    return (na > nb) - (na < nb);
}

ts_err ts_buf_hex(ts_buf *b, const void *p, size_t n, size_t max)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *u = p;

    for (size_t i = 0; i < n && i < max; i++) {
        ts_buf_putc(b, digits[u[i] >> 4]);
        ts_buf_putc(b, digits[u[i] & 15]);
    }
    if (n > max)
        ts_buf_puts(b, "...");
    return ts_buf_status(b);
}
