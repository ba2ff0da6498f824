/*
 * Fuzz target: the stream line splitter and the SSE parser (producer/ts_split).
 * The first byte picks the parser and its size cap, the rest is the stream.
 * The stream is fed whole, then again in chunks whose sizes come from the
 * input: every record, every oversize report and what finish returns must
 * be the same both ways.
 */
#include "ts_split.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* What the callbacks saw, as one byte string: kind, lengths, bytes. */
typedef struct split_log {
    ts_buf b;
} split_log;

static void log_item(split_log *l, int kind, const char *a, size_t an, const char *d, size_t dn)
{
    unsigned char hdr[1 + 2 * sizeof(size_t)];

    hdr[0] = (unsigned char)kind;
    memcpy(hdr + 1, &an, sizeof(size_t));
    memcpy(hdr + 1 + sizeof(size_t), &dn, sizeof(size_t));
    ts_buf_append(&l->b, (const char *)hdr, sizeof(hdr));
    ts_buf_append(&l->b, a, an);
    ts_buf_append(&l->b, d, dn);
}

static int on_line(void *opaque, ts_line_kind kind, const char *p, size_t n)
{
    log_item(opaque, (int)kind, "", 0, p, n);
    return 0;
}

static int on_event(void *opaque, ts_sse_kind kind, const char *type, size_t type_len,
                    const char *data, size_t data_len)
{
    log_item(opaque, 0x10 + (int)kind, type, type_len, data, data_len);
    return 0;
}

/* Feed data[0..n) as chunks: whole when seed is 0, else sizes from seed. */
static void run(int mode, size_t max, const char *data, size_t n, uint32_t seed, split_log *l)
{
    ts_linesplit ls;
    ts_sse sse;
    size_t off = 0, rest;

    if (mode == 2)
        ts_sse_init(&sse, max, on_event, l);
    else
        ts_linesplit_init(&ls, max, mode, on_line, l);
    while (off < n) {
        size_t chunk = n - off;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            chunk = 1 + (seed >> 16) % 17;
            if (chunk > n - off)
                chunk = n - off;
        }
        if (mode == 2)
            ts_sse_feed(&sse, data + off, chunk);
        else
            ts_linesplit_feed(&ls, data + off, chunk);
        off += chunk;
    }
    if (mode == 2) {
        rest = ts_sse_finish(&sse);
        ts_sse_free(&sse);
    } else {
        rest = ts_linesplit_finish(&ls, mode == 0);
        ts_linesplit_free(&ls);
    }
    log_item(l, 0x20, "", 0, (const char *)&rest, sizeof(rest));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    split_log whole, chunked;
    uint32_t seed = 1;
    int mode;
    size_t max;

    if (size < 1)
        return 0;
    mode = data[0] % 3;                   /* 0: lines, 1: lines of SSE, 2: SSE events */
    max = 1 + (size_t)(data[0] >> 2) * 4; /* small caps reach the oversize paths */
    for (size_t i = 0; i < size; i++)
        seed = seed * 31u + data[i];
    seed |= 1;
    ts_buf_init(&whole.b, 0);
    ts_buf_init(&chunked.b, 0);
    run(mode, max, (const char *)data + 1, size - 1, 0, &whole);
    run(mode, max, (const char *)data + 1, size - 1, seed, &chunked);
    if (ts_buf_status(&whole.b) == TS_OK && ts_buf_status(&chunked.b) == TS_OK &&
        (whole.b.len != chunked.b.len || memcmp(whole.b.data, chunked.b.data, whole.b.len)))
        abort(); /* chunking changed what the parser reported */
    ts_buf_free(&whole.b);
    ts_buf_free(&chunked.b);
    return 0;
}
