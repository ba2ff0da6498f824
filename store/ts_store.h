/*
 * ts_store: the RocksDB window store of one task.
 *
 * One RocksDB instance per task, at <state.dir>/<application.id>/<task>/.
 * It holds the task's window counts (keys and values as store/ts_keys.h
 * encodes them, the same bytes as the changelog records) and the task's
 * metadata: which changelog offset, input offset and stream time the state
 * reflects. Every change arrives as one atomic batch (ts_store_write), so
 * the counts and the metadata never disagree, whatever moment a crash hits.
 *
 * Modes: a processor opens its stores read-write; the operator tool opens
 * them read-only (stopped processor) or as a RocksDB secondary instance
 * (running processor), which never takes the primary's lock.
 *
 * Errors: RocksDB's messages are converted here ("cannot open store PATH:
 * IO error: ..."). Thread: a store handle is used by one thread at a time;
 * iterators and batches belong to the thread that made them.
 */
#ifndef TS_STORE_H
#define TS_STORE_H

#include "ts_err.h"

#include <stddef.h>
#include <stdint.h>

#define TS_STORE_FORMAT_VERSION 1

typedef struct ts_store ts_store;
typedef struct ts_store_iter ts_store_iter;
typedef struct ts_store_batch ts_store_batch;

typedef enum ts_store_mode {
    TS_STORE_READ_WRITE, /* create if missing */
    TS_STORE_READ_ONLY,  /* fails if the store is open read-write elsewhere */
    TS_STORE_SECONDARY,  /* follows a live primary; needs a scratch directory */
} ts_store_mode;

/* The task metadata, kept under 0x00-prefixed keys. Offsets are "next to
 * read"; -1 means unknown. stream_time is INT64_MIN until a record was seen. */
typedef struct ts_store_meta {
    int64_t format_version; /* 0 when the store has no metadata yet */
    char application_id[256];
    char task_id[64];
    int64_t changelog_offset;
    int64_t input_offset;
    int64_t stream_time;
} ts_store_meta;

/* Tuning shared by the stores of one process. */
typedef struct ts_store_options {
    size_t block_cache_bytes;  /* shared LRU block cache; 0: RocksDB default */
    size_t write_buffer_bytes; /* per store memtable size; 0: RocksDB default */
} ts_store_options;

/*
 * Open the store at path. secondary_path is the scratch directory for
 * TS_STORE_SECONDARY (ignored otherwise). opts may be NULL.
 * Errors: TS_ERR_NOT_FOUND if a read-only/secondary open finds no store,
 * TS_ERR_STORE (with RocksDB's message) otherwise.
 */
ts_err ts_store_open(const char *path, ts_store_mode mode, const char *secondary_path,
                     const ts_store_options *opts, ts_store **out, char *errstr,
                     size_t errstr_size);
/* Close and free; NULL ok. Unflushed memtables are safe in the WAL. */
void ts_store_close(ts_store *s);
/* Delete a (closed) store's files. A missing store is not an error. */
ts_err ts_store_wipe(const char *path, char *errstr, size_t errstr_size);
const char *ts_store_path(const ts_store *s);

/* Metadata; a store without any gives format_version 0, offsets -1,
 * stream_time INT64_MIN. TS_ERR_CORRUPT if a value does not decode. */
ts_err ts_store_read_meta(ts_store *s, ts_store_meta *m, char *errstr, size_t errstr_size);
void ts_store_meta_init(ts_store_meta *m);

/* Point read of one window entry: *found = 0 if absent. */
ts_err ts_store_get(ts_store *s, int64_t window_start, const char *tag, size_t tag_len,
                    int64_t *count, int64_t *max_ts, int *found, char *errstr, size_t errstr_size);

/* Secondary mode: catch up with the primary's latest writes. */
ts_err ts_store_catch_up(ts_store *s, char *errstr, size_t errstr_size);
/* Flush memtables to SST files (after a restore written without WAL). */
ts_err ts_store_flush(ts_store *s, char *errstr, size_t errstr_size);
/* Approximate bytes on disk (live SST files) and estimated key count. */
uint64_t ts_store_disk_bytes(ts_store *s);
uint64_t ts_store_estimate_keys(ts_store *s);

/*
 * Iteration over window entries in key order (window start, then tag bytes).
 * The iterator sees a consistent snapshot taken at creation.
 */
ts_store_iter *ts_store_iter_new(ts_store *s);
void ts_store_iter_destroy(ts_store_iter *it);
/* Position at the first entry whose window start is >= window_start. */
void ts_store_iter_seek(ts_store_iter *it, int64_t window_start);
/* Position at the last window entry (not valid when there is none). */
void ts_store_iter_seek_last(ts_store_iter *it);
int ts_store_iter_valid(ts_store_iter *it);
void ts_store_iter_next(ts_store_iter *it);
/* The current entry; *tag points into the iterator (valid until it moves).
 * TS_ERR_CORRUPT for an entry that does not decode. */
ts_err ts_store_iter_entry(ts_store_iter *it, int64_t *window_start, const char **tag,
                           size_t *tag_len, int64_t *count, int64_t *max_ts);
/* The current raw key and value (for verification against the changelog). */
void ts_store_iter_raw(ts_store_iter *it, const char **key, size_t *klen, const char **val,
                       size_t *vlen);
/* TS_OK, or the RocksDB error that ended the iteration. */
ts_err ts_store_iter_status(ts_store_iter *it, char *errstr, size_t errstr_size);

/* Atomic write batches. */
ts_store_batch *ts_store_batch_new(void);
void ts_store_batch_destroy(ts_store_batch *b);
void ts_store_batch_clear(ts_store_batch *b);
size_t ts_store_batch_count(ts_store_batch *b);
void ts_store_batch_put(ts_store_batch *b, int64_t window_start, const char *tag, size_t tag_len,
                        int64_t count, int64_t max_ts);
void ts_store_batch_delete(ts_store_batch *b, int64_t window_start, const char *tag,
                           size_t tag_len);
/* A changelog record as it is (tombstone when val == NULL). */
void ts_store_batch_raw(ts_store_batch *b, const void *key, size_t klen, const void *val,
                        size_t vlen);
/* Delete every window entry with window start < window_start. */
void ts_store_batch_delete_windows_before(ts_store_batch *b, int64_t window_start);
/* Write all metadata fields of m. */
void ts_store_batch_meta(ts_store_batch *b, const ts_store_meta *m);

/*
 * Bulk loading: records given in strictly increasing key order are written
 * to one SST file in the store's directory, which RocksDB then takes in
 * whole (IngestExternalFile, the file moved, not copied). This skips the
 * memtable, its sorted inserts and its flushes: what a restore into a large
 * store pays most for. The ingested records are newer than everything the
 * store held before (a key written again wins), and the ingestion is atomic
 * and durable once ts_store_bulk_commit returns TS_OK.
 *
 * ts_store_bulk_put with val NULL writes a delete. A key not greater than
 * the previous one fails the load (reported by commit). commit and abort
 * free the loader (abort accepts NULL) and remove the file if it was not
 * ingested; a commit of no records ingests nothing. One loader per store at
 * a time; thread: the store's.
 */
typedef struct ts_store_bulk ts_store_bulk;
ts_err ts_store_bulk_begin(ts_store *s, ts_store_bulk **out, char *errstr, size_t errstr_size);
void ts_store_bulk_put(ts_store_bulk *b, const void *key, size_t klen, const void *val,
                       size_t vlen);
ts_err ts_store_bulk_commit(ts_store_bulk *b, char *errstr, size_t errstr_size);
void ts_store_bulk_abort(ts_store_bulk *b);

/* Apply a batch atomically. disable_wal for bulk restores (then flush). */
ts_err ts_store_write(ts_store *s, ts_store_batch *b, int disable_wal, char *errstr,
                      size_t errstr_size);

#endif
