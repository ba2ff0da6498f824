/*
 * ts_cache: the per-task write cache of one commit interval.
 *
 * Maps (window start, tag) to the window's count and largest record
 * timestamp as they stand in the open transaction. Every record of the
 * interval updates the cache; at commit the changed entries go to the
 * changelog (one record per key, not per input record) and, once Kafka has
 * committed, to RocksDB in one batch. Then the cache is cleared. Entries are
 * allocated from an arena that the clear releases in one step.
 *
 * Ownership: the cache owns its entries and their tag bytes; an entry pointer
 * is valid until the next ts_cache_clear or ts_cache_destroy.
 * Thread: one thread (the processor loop).
 */
#ifndef TS_CACHE_H
#define TS_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct ts_cache ts_cache;

typedef struct ts_cache_entry {
    int64_t window_start;
    int64_t count;
    int64_t max_ts;
    uint32_t hash;
    uint32_t tag_len;
    uint8_t in_store; /* the key existed in RocksDB when the entry was made */
    uint8_t dirty;    /* changed in this interval: goes to the changelog */
    char tag[];       /* tag_len bytes, not NUL-terminated */
} ts_cache_entry;

ts_cache *ts_cache_new(void);
void ts_cache_destroy(ts_cache *c); /* NULL ok */

/* The entry for (window, tag), or NULL. */
ts_cache_entry *ts_cache_find(ts_cache *c, int64_t window_start, const char *tag, size_t len);

/* Add an entry that must not exist yet (count 0, max_ts INT64_MIN, clean).
 * NULL when out of memory (the cache is unchanged). */
ts_cache_entry *ts_cache_add(ts_cache *c, int64_t window_start, const char *tag, size_t len);

size_t ts_cache_count(const ts_cache *c);

/* Iterate: start with *pos = 0; returns NULL at the end. No adds while
 * iterating. */
ts_cache_entry *ts_cache_next(ts_cache *c, size_t *pos);

/* Drop every entry; keeps the table and one arena block for reuse. */
void ts_cache_clear(ts_cache *c);

/* Bytes held by entries and the table (for metrics). */
size_t ts_cache_bytes(const ts_cache *c);

#endif
