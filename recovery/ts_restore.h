/*
 * ts_restore: replays changelog partitions into task stores.
 *
 * The restorer owns one plain (group-less) consumer with
 * isolation.level=read_committed, assigned to the changelog partitions being
 * restored. The processor loop drives it a slice at a time
 * (ts_restore_step), between polls of its group consumer, so no restore,
 * however long, keeps the group consumer from polling within
 * max.poll.interval.ms.
 *
 * A restore reads from a start offset to the partition's last stable offset
 * at the time it began (read_committed: aborted records and transaction
 * markers are skipped) and writes the records as they are (the changelog's
 * key and value bytes are the store's) in batches with the WAL off, then
 * flushes the store once. Replaying a record twice is harmless: values are
 * absolute counts, and tombstones are deletes.
 *
 * Bad records: each record is checked before it is written (a window key,
 * and a tombstone or a version-1 window value with a count >= 0), so that a
 * corrupt changelog record fails here, where its offset is known, rather
 * than later in the task. A bad record is logged with its partition and
 * offset and counted (ts_restore_set_bad_counter), and:
 *   - a key that is not a window key is skipped (it names no entry);
 *   - a bad value deletes its key: the entry's count is unknown, and an
 *     older value of the key would be wrong, so the key is left out of the
 *     store until a later record of the changelog sets it again.
 * The restore goes on either way: the changelog stays the source of truth
 * and one record cannot stop a task.
 *
 * Thread: the processor loop only.
 */
#ifndef TS_RESTORE_H
#define TS_RESTORE_H

#include "ts_config.h"
#include "ts_err.h"
#include "ts_store.h"

#include <stdint.h>

typedef struct ts_restore ts_restore;

typedef struct ts_restore_progress {
    int64_t start;    /* first offset replayed */
    int64_t end;      /* last stable offset when the restore began */
    int64_t position; /* next offset to read */
    uint64_t records; /* records applied so far */
    uint64_t bad;     /* bad records skipped or turned into deletes (ts_restore_check) */
    int64_t started_ms;
    int64_t started_cpu_ms; /* the process's CPU time then (ts_cpu_ms) */
} ts_restore_progress;

/* conf: for kafka.* passthrough (security settings); may be NULL. */
ts_err ts_restore_new(const ts_conf *conf, const char *bootstrap, const char *topic,
                      int batch_records, ts_restore **out, char *errstr, size_t errstr_size);
void ts_restore_destroy(ts_restore *r); /* NULL ok */

/*
 * The changelog partition's low watermark and last stable offset
 * (ListOffsets, read_committed).
 */
ts_err ts_restore_watermarks(ts_restore *r, int32_t partition, int timeout_ms, int64_t *low,
                             int64_t *end, char *errstr, size_t errstr_size);

/*
 * Start replaying partition into store from offset `from` up to `end` (from
 * ts_restore_watermarks). The store must stay open until the restore is done
 * or removed. If from >= end it is done at once.
 */
ts_err ts_restore_add(ts_restore *r, int32_t partition, ts_store *store, int64_t from, int64_t end,
                      char *errstr, size_t errstr_size);

/* Stop restoring a partition (its task was revoked); nothing more is written. */
void ts_restore_remove(ts_restore *r, int32_t partition);

/*
 * Restore for up to budget_ms. Partitions that finished are reported
 * through done[] (up to done_cap; the rest on the next call), each with the
 * offset after the last record replayed (the store's new changelog offset).
 * A partition in done[] is no longer tracked. TS_ERR_STORE/TS_ERR_KAFKA on
 * failure (the partition concerned is in *failed, and removed).
 */
typedef struct ts_restore_done {
    int32_t partition;
    int64_t next_offset;
    uint64_t records;
    uint64_t bad; /* bad records, not in records (ts_restore_check) */
    int64_t elapsed_ms;
    int64_t process_cpu_ms; /* CPU of the whole process meanwhile (all its threads, all
                               its work: a figure for a restore that runs alone) */
} ts_restore_done;

ts_err ts_restore_step(ts_restore *r, int budget_ms, ts_restore_done *done, size_t done_cap,
                       size_t *ndone, int32_t *failed, char *errstr, size_t errstr_size);

/* Count the bad records of every later restore in `bad` (NULL: none);
 * the counter must outlive r. */
struct ts_counter;
void ts_restore_set_bad_counter(ts_restore *r, struct ts_counter *bad);

/* Number of partitions being restored, and the progress of one. */
size_t ts_restore_active(const ts_restore *r);
int ts_restore_get_progress(const ts_restore *r, int32_t partition, ts_restore_progress *p);

#endif
