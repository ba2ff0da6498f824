#include "ts_cache.h"

#include <stdlib.h>
#include <string.h>

#define TS_CACHE_BLOCK (64 * 1024)

/* Arena blocks: a singly linked list, newest first. */
typedef struct ts_cache_block {
    struct ts_cache_block *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
} ts_cache_block;

struct ts_cache {
    ts_cache_entry **slots; /* open addressing, linear probing */
    size_t cap;             /* power of two */
    size_t count;
    ts_cache_block *blocks;
    size_t arena_bytes;
};

/* FNV-1a over the window start and the tag. */
static uint32_t ts_cache_hash(int64_t w, const char *tag, size_t len)
{
    uint32_t h = 2166136261u;
    uint64_t u = (uint64_t)w;

    for (int i = 0; i < 8; i++) {
        h ^= (uint32_t)(u & 0xff);
        h *= 16777619u;
        u >>= 8;
    }
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)tag[i];
        h *= 16777619u;
    }
    return h;
}

ts_cache *ts_cache_new(void)
{
    ts_cache *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->cap = 1024;
    c->slots = calloc(c->cap, sizeof(*c->slots));
    if (!c->slots) {
        free(c);
        return NULL;
    }
    return c;
}

static void ts_cache_free_blocks(ts_cache_block *b)
{
    while (b) {
        ts_cache_block *next = b->next;
        free(b);
        b = next;
    }
}

void ts_cache_destroy(ts_cache *c)
{
    if (!c)
        return;
    ts_cache_free_blocks(c->blocks);
    free(c->slots);
    free(c);
}

static void *ts_cache_alloc(ts_cache *c, size_t n)
{
    ts_cache_block *b = c->blocks;
    void *p;

    n = (n + 15) & ~(size_t)15;
    if (!b || b->size - b->used < n) {
        size_t size = n > TS_CACHE_BLOCK ? n : TS_CACHE_BLOCK;
        b = malloc(sizeof(*b) + size);
        if (!b)
            return NULL;
        b->next = c->blocks;
        b->used = 0;
        b->size = size;
        c->blocks = b;
        c->arena_bytes += size;
    }
    p = b->data + b->used;
    b->used += n;
    return p;
}

static size_t ts_cache_probe(const ts_cache *c, int64_t w, const char *tag, size_t len, uint32_t h)
{
    size_t mask = c->cap - 1, i = h & mask;

    for (;;) {
        ts_cache_entry *e = c->slots[i];
        if (!e || (e->hash == h && e->window_start == w && e->tag_len == len &&
                   memcmp(e->tag, tag, len) == 0))
            return i;
        i = (i + 1) & mask;
    }
}

ts_cache_entry *ts_cache_find(ts_cache *c, int64_t window_start, const char *tag, size_t len)
{
    uint32_t h = ts_cache_hash(window_start, tag, len);

    return c->slots[ts_cache_probe(c, window_start, tag, len, h)];
}

static int ts_cache_grow(ts_cache *c)
{
    size_t ncap = c->cap * 2, mask = ncap - 1;
    ts_cache_entry **ns = calloc(ncap, sizeof(*ns));

    if (!ns)
        return -1;
    for (size_t i = 0; i < c->cap; i++) {
        ts_cache_entry *e = c->slots[i];
        size_t j;
        if (!e)
            continue;
        for (j = e->hash & mask; ns[j]; j = (j + 1) & mask)
            ;
        ns[j] = e;
    }
    free(c->slots);
    c->slots = ns;
    c->cap = ncap;
    return 0;
}

ts_cache_entry *ts_cache_add(ts_cache *c, int64_t window_start, const char *tag, size_t len)
{
    uint32_t h = ts_cache_hash(window_start, tag, len);
    ts_cache_entry *e;
    size_t i;

    /* keep the load factor under 1/2 */
    if ((c->count + 1) * 2 > c->cap && ts_cache_grow(c) != 0)
        return NULL;
    e = ts_cache_alloc(c, sizeof(*e) + len);
    if (!e)
        return NULL;
    e->window_start = window_start;
    e->count = 0;
    e->max_ts = INT64_MIN;
    e->hash = h;
    e->tag_len = (uint32_t)len;
    e->in_store = 0;
    e->dirty = 0;
    memcpy(e->tag, tag, len);
    i = ts_cache_probe(c, window_start, tag, len, h);
    c->slots[i] = e;
    c->count++;
    return e;
}

size_t ts_cache_count(const ts_cache *c)
{
    return c->count;
}

ts_cache_entry *ts_cache_next(ts_cache *c, size_t *pos)
{
    while (*pos < c->cap) {
        ts_cache_entry *e = c->slots[(*pos)++];
        if (e)
            return e;
    }
    return NULL;
}

void ts_cache_clear(ts_cache *c)
{
    if (c->count)
        memset(c->slots, 0, c->cap * sizeof(*c->slots));
    c->count = 0;
    if (c->blocks) {
        /* keep the newest block for the next interval, free the rest */
        ts_cache_free_blocks(c->blocks->next);
        c->blocks->next = NULL;
        c->blocks->used = 0;
        c->arena_bytes = c->blocks->size;
    }
}

size_t ts_cache_bytes(const ts_cache *c)
{
    return c->arena_bytes + c->cap * sizeof(*c->slots);
}
