/*
 * ts_task: one windowed-count task ("1_<partition>"), the stateful half of
 * the topology.
 *
 * Fed the repartitioned records of one partition (normalized tag + event
 * time), it keeps per-task stream time, counts each tag in tumbling windows,
 * drops late records, and when stream time passes a window's end plus grace
 * emits the window's final counts (count > min.count) exactly once, in
 * window then tag-byte order. Windows older than the retention are deleted.
 *
 * State lives in three places, in this order of truth:
 *   - the open transaction: the write cache (ts_cache) and the stream time;
 *   - Kafka: the changelog records and the committed offsets (with the
 *     stream time in their metadata), written in the same transaction;
 *   - RocksDB (ts_store), updated only after Kafka has committed, with the
 *     metadata of what it reflects: ts_task_committed hands the commit's
 *     changed keys to the store writer thread and returns; until the
 *     write is done its keys are read from memory, and whatever iterates
 *     the store (a window closing or expiring, an abort, a load) waits
 *     for it. A failed write is reported by the next call that needs the
 *     store (TS_ERR_ABORTABLE from process, advance or flush; an error from
 *     ts_task_committed or ts_task_abort): the caller aborts, and loads the
 *     task again from its store and changelog.
 * ts_task_abort forgets the first and keeps the others, so RocksDB is never
 * ahead of Kafka.
 *
 * Output goes through a ts_task_sink so that the task knows nothing of the
 * Kafka clients (the processor produces; unit tests collect).
 *
 * Thread: one thread (the processor loop), plus the process's store writer
 * (ts_store_writer), which touches only the store and the batch it was
 * handed.
 * Errors: TS_ERR_STORE from RocksDB,
 * TS_ERR_NOMEM, or whatever a sink callback returned; after an error the open
 * transaction must be aborted (ts_task_abort).
 */
#ifndef TS_TASK_H
#define TS_TASK_H

#include "ts_err.h"
#include "ts_store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ts_task ts_task;

typedef struct ts_task_sink {
    /* A window's final result (count > min.count). On failure, errstr says
     * why; the task's own error message adds what it was doing. */
    ts_err (*emit)(void *opaque, ts_task *task, const char *tag, size_t tag_len, int64_t count,
                   int64_t window_start, int64_t window_end, int64_t max_ts, char *errstr,
                   size_t errstr_size);
    /* A changelog record (val NULL: tombstone) for the task's partition. */
    ts_err (*changelog)(void *opaque, ts_task *task, const void *key, size_t klen, const void *val,
                        size_t vlen, char *errstr, size_t errstr_size);
    void *opaque;
} ts_task_sink;

typedef struct ts_task_config {
    int64_t window_size_ms;
    int64_t window_grace_ms;
    int64_t window_retention_ms; /* >= size + grace */
    int64_t min_count;           /* emit when count > min_count */
    const char *application_id;
} ts_task_config;

typedef struct ts_task_stats {
    uint64_t records;        /* counted */
    uint64_t late;           /* dropped: window already closed */
    uint64_t windows_closed; /* windows whose final result was decided */
    uint64_t results;        /* results emitted (count > min.count) */
    uint64_t windows_expired;
    uint64_t store_reads; /* cache misses that read RocksDB */
    uint64_t changelog_records;
} ts_task_stats;

typedef enum ts_task_result {
    TS_TASK_COUNTED,
    TS_TASK_LATE,
} ts_task_result;

/* Open (creating if needed) the task's store in dir. The configuration is
 * copied except application_id, which must outlive the task. */
ts_err ts_task_open(const ts_task_config *cfg, const char *dir, int32_t partition,
                    const ts_store_options *store_opts, const ts_task_sink *sink, ts_task **out,
                    char *errstr, size_t errstr_size);
/* Finish the store write in flight, close the store and free; NULL ok. */
void ts_task_close(ts_task *t);

/* Wait until the store reflects every commit handed to it (before reading
 * the store from outside the task). TS_ERR_ABORTABLE if a write failed: the
 * store then lacks a commit (ts_task_load or ts_task_abort clears this). */
ts_err ts_task_sync(ts_task *t, char *errstr, size_t errstr_size);

const char *ts_task_id(const ts_task *t); /* "1_<partition>" */
int32_t ts_task_partition(const ts_task *t);
ts_store *ts_task_store(ts_task *t);
const ts_task_stats *ts_task_get_stats(const ts_task *t);

/*
 * Take the committed position after a restore: stream time (from the
 * committed offset's metadata, or the store's), the next input offset and the
 * changelog offset the store reflects. Rebuilds the window bookkeeping from
 * the store and writes the metadata.
 */
ts_err ts_task_load(ts_task *t, int64_t stream_time, int64_t input_offset, int64_t changelog_offset,
                    char *errstr, size_t errstr_size);

/* One record: a normalized tag with its event time (>= 0). */
ts_err ts_task_process(ts_task *t, const char *tag, size_t tag_len, int64_t ts, int64_t offset,
                       ts_task_result *result, char *errstr, size_t errstr_size);

/*
 * Move stream time forward to stream_time without a record (the wall clock
 * of a quiet partition, window.close.idle.ms): the windows it passes close
 * and emit, the expired ones are deleted, all in the open transaction, like
 * the same stream time brought by a record. Nothing happens if stream_time
 * is not ahead, or if the task has consumed nothing yet (no offset to
 * commit the new stream time with).
 */
ts_err ts_task_advance(ts_task *t, int64_t stream_time, char *errstr, size_t errstr_size);

/* The stream time at which the next window closes or expires (INT64_MAX:
 * none is pending), the least a ts_task_advance needs to do anything. */
int64_t ts_task_next_due(const ts_task *t);

/* A record that cannot be counted (a bad one): consumed, nothing else. */
void ts_task_skip(ts_task *t, int64_t offset);

/* Before the commit: write the interval's changed keys to the changelog. */
ts_err ts_task_flush(ts_task *t, char *errstr, size_t errstr_size);

/* The transaction committed. changelog_next: the offset after the last
 * changelog record of the transaction (-1: none written). Starts the
 * RocksDB write (see above); an error means the store missed a commit,
 * this one or an earlier one, and the task must be loaded again. */
ts_err ts_task_committed(ts_task *t, int64_t changelog_next, char *errstr, size_t errstr_size);

/* The transaction was aborted: back to the last committed state. */
ts_err ts_task_abort(ts_task *t, char *errstr, size_t errstr_size);

/* Whether the open transaction holds anything of this task. */
int ts_task_dirty(const ts_task *t);
/* Keys in the write cache: those the open transaction changed. */
size_t ts_task_cache_keys(const ts_task *t);

int64_t ts_task_stream_time(const ts_task *t);
int64_t ts_task_next_offset(const ts_task *t);      /* next input offset to process */
int64_t ts_task_committed_offset(const ts_task *t); /* next input offset, committed */

/* Encode / parse the stream time kept in the committed offset's metadata
 * ("tagstream:1:st=<ms>"). parse returns 0 and leaves *st alone if the text
 * is not ours. */
size_t ts_task_meta_format(char *buf, size_t size, int64_t stream_time);
int ts_task_meta_parse(const void *meta, size_t len, int64_t *stream_time);

#endif
