/*
 * ts_store_verify: `tagstream-store verify`, a task store compared with its
 * changelog partition.
 *
 * For each task, the changelog partition is read from the beginning with a
 * read_committed consumer (aborted transactions and markers are skipped)
 * up to the last stable offset. The records before the store's recorded
 * changelog offset give the latest value of each key (a tombstone deletes
 * it); that state is compared with the store's window entries both ways,
 * byte for byte. Each difference is printed (missing in store, extra in
 * store, different value), then a summary per task and one for the run.
 *
 * A key the store holds but the changelog prefix lacks is "not verifiable"
 * rather than extra when the changelog has the key again at or after the
 * store's offset: compaction may have removed the older record (this
 * happens only to a store that is behind its changelog).
 *
 * Thread: the caller's. Errors: TS_ERR_KAFKA / TS_ERR_TIMEOUT when the
 * changelog cannot be read, TS_ERR_CORRUPT for a store entry that does not
 * decode, TS_ERR_STORE from RocksDB, TS_ERR_NOMEM. Output already written
 * stays written.
 */
#ifndef TS_STORE_VERIFY_H
#define TS_STORE_VERIFY_H

#include "ts_config.h"
#include "ts_err.h"
#include "ts_store.h"

#include <stdint.h>
#include <stdio.h>

typedef struct ts_store_verify_task {
    const char *id; /* "1_<partition>" */
    const char *path;
    int32_t partition;
    ts_store *store;
    const ts_store_meta *meta;
} ts_store_verify_task;

typedef struct ts_store_verify_opts {
    const char *bootstrap;
    const ts_conf *conf; /* kafka.* passthrough (security); may be NULL */
    const char *topic;   /* <application.id>-counts-changelog */
    int64_t timeout_ms;  /* per task, for reading its partition */
    int64_t window_size_ms;
    int json; /* JSON lines instead of text */
} ts_store_verify_opts;

typedef struct ts_store_verify_result {
    uint64_t tasks;
    uint64_t store_keys;
    uint64_t changelog_keys;
    uint64_t differences;    /* including tasks that could not be verified */
    uint64_t not_verifiable; /* see above; not differences */
} ts_store_verify_result;

ts_err ts_store_verify_run(const ts_store_verify_opts *o, const ts_store_verify_task *tasks,
                           size_t ntasks, FILE *out, ts_store_verify_result *res, char *errstr,
                           size_t errstr_size);

#endif
