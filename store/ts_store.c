#include "ts_store.h"
#include "ts_buf.h"
#include "ts_keys.h"

#include <errno.h>
#include <pthread.h>
#include <rocksdb/c.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ts_store {
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_block_based_table_options_t *table;
    rocksdb_readoptions_t *ropts;
    rocksdb_writeoptions_t *wopts;
    rocksdb_writeoptions_t *wopts_nowal;
    rocksdb_flushoptions_t *fopts;
    ts_store_mode mode;
    char *path;
};

struct ts_store_iter {
    rocksdb_iterator_t *it;
    rocksdb_readoptions_t *ropts;
    unsigned char upper[1]; /* iteration stops before the first non-window key */
};

struct ts_store_batch {
    rocksdb_writebatch_t *wb;
    ts_buf key; /* scratch for encoding keys */
    int failed; /* an allocation failed: ts_store_write refuses the batch */
};

/* One LRU block cache shared by every store of the process, so that the
 * memory bound holds however many tasks an instance owns. */
static pthread_mutex_t ts_store_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static rocksdb_cache_t *ts_store_cache;
static int ts_store_cache_refs;

static rocksdb_cache_t *ts_store_cache_ref(size_t bytes)
{
    rocksdb_cache_t *c;

    pthread_mutex_lock(&ts_store_cache_lock);
    if (!ts_store_cache && bytes > 0)
        ts_store_cache = rocksdb_cache_create_lru(bytes);
    if (ts_store_cache)
        ts_store_cache_refs++;
    c = ts_store_cache;
    pthread_mutex_unlock(&ts_store_cache_lock);
    return c;
}

static void ts_store_cache_unref(void)
{
    pthread_mutex_lock(&ts_store_cache_lock);
    if (ts_store_cache && --ts_store_cache_refs == 0) {
        rocksdb_cache_destroy(ts_store_cache);
        ts_store_cache = NULL;
    }
    pthread_mutex_unlock(&ts_store_cache_lock);
}

static ts_err ts_store_rocks_err(char *rerr, char *errstr, size_t errstr_size, const char *what,
                                 const char *path)
{
    ts_seterr(TS_ERR_STORE, errstr, errstr_size, "%s %s: %s", what, path, rerr);
    free(rerr);
    return TS_ERR_STORE;
}

static const char *const ts_meta_names[] = {"format.version",   "application.id", "task.id",
                                            "changelog.offset", "input.offset",   "stream.time"};
enum {
    TS_META_VERSION,
    TS_META_APP,
    TS_META_TASK,
    TS_META_CHANGELOG,
    TS_META_INPUT,
    TS_META_STREAM_TIME,
    TS_META__COUNT
};

static size_t ts_meta_key(unsigned char *out, int which)
{
    size_t n = strlen(ts_meta_names[which]);

    out[0] = TS_KEY_META;
    memcpy(out + 1, ts_meta_names[which], n);
    return n + 1;
}

void ts_store_meta_init(ts_store_meta *m)
{
    memset(m, 0, sizeof(*m));
    m->changelog_offset = -1;
    m->input_offset = -1;
    m->stream_time = INT64_MIN;
}

ts_err ts_store_open(const char *path, ts_store_mode mode, const char *secondary_path,
                     const ts_store_options *o, ts_store **out, char *errstr, size_t errstr_size)
{
    ts_store *s;
    char *rerr = NULL;
    rocksdb_cache_t *cache;
    struct stat st;

    *out = NULL;
    if (mode != TS_STORE_READ_WRITE && stat(path, &st) != 0)
        return ts_seterr(TS_ERR_NOT_FOUND, errstr, errstr_size, "no store at %s", path);
    s = calloc(1, sizeof(*s));
    if (!s)
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    s->mode = mode;
    s->path = strdup(path);
    s->opts = rocksdb_options_create();
    s->table = rocksdb_block_based_options_create();
    s->ropts = rocksdb_readoptions_create();
    s->wopts = rocksdb_writeoptions_create();
    s->wopts_nowal = rocksdb_writeoptions_create();
    s->fopts = rocksdb_flushoptions_create();
    if (!s->path)
        goto fail_nomem;
    rocksdb_writeoptions_disable_WAL(s->wopts_nowal, 1);
    rocksdb_flushoptions_set_wait(s->fopts, 1);
    rocksdb_options_set_create_if_missing(s->opts, mode == TS_STORE_READ_WRITE);
    rocksdb_options_set_max_open_files(s->opts, mode == TS_STORE_SECONDARY ? -1 : 256);
    rocksdb_options_set_info_log_level(s->opts, 3 /* error */);
    rocksdb_options_set_keep_log_file_num(s->opts, 2);
    rocksdb_options_set_max_background_jobs(s->opts, 2);
    if (o && o->write_buffer_bytes)
        rocksdb_options_set_write_buffer_size(s->opts, o->write_buffer_bytes);
    /* Prefix bloom filters are not worth it here: window keys are read by
     * point lookups of recently touched tags and by window-range scans.
     * Whole-key filters are: most point lookups are of a key that is not
     * there (the first record of a tag in a window looks for an earlier
     * count), and a profile of the processor had 15% of its instructions
     * in such misses walking the memtable's skiplist and the SST files. The
     * table owns the policy. */
    rocksdb_block_based_options_set_filter_policy(s->table, rocksdb_filterpolicy_create_bloom(10));
    rocksdb_options_set_memtable_whole_key_filtering(s->opts, 1);
    rocksdb_options_set_memtable_prefix_bloom_size_ratio(s->opts, 0.02);
    rocksdb_block_based_options_set_block_size(s->table, 16 * 1024);
    cache = ts_store_cache_ref(o ? o->block_cache_bytes : 0);
    if (cache)
        rocksdb_block_based_options_set_block_cache(s->table, cache);
    rocksdb_options_set_block_based_table_factory(s->opts, s->table);

    switch (mode) {
    case TS_STORE_READ_WRITE:
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            ts_seterr(TS_ERR_IO, errstr, errstr_size, "cannot create store directory %s: %s", path,
                      strerror(errno));
            ts_store_close(s);
            return TS_ERR_IO;
        }
        s->db = rocksdb_open(s->opts, path, &rerr);
        break;
    case TS_STORE_READ_ONLY:
        s->db = rocksdb_open_for_read_only(s->opts, path, 0, &rerr);
        break;
    case TS_STORE_SECONDARY:
        s->db = rocksdb_open_as_secondary(s->opts, path, secondary_path, &rerr);
        break;
    }
    if (rerr) {
        ts_store_rocks_err(rerr, errstr, errstr_size, "cannot open store", path);
        ts_store_close(s);
        return TS_ERR_STORE;
    }
    *out = s;
    return TS_OK;
fail_nomem:
    ts_store_close(s);
    return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
}

void ts_store_close(ts_store *s)
{
    if (!s)
        return;
    if (s->db)
        rocksdb_close(s->db);
    if (s->opts)
        rocksdb_options_destroy(s->opts);
    if (s->table) {
        rocksdb_block_based_options_destroy(s->table);
        ts_store_cache_unref();
    }
    if (s->ropts)
        rocksdb_readoptions_destroy(s->ropts);
    if (s->wopts)
        rocksdb_writeoptions_destroy(s->wopts);
    if (s->wopts_nowal)
        rocksdb_writeoptions_destroy(s->wopts_nowal);
    if (s->fopts)
        rocksdb_flushoptions_destroy(s->fopts);
    free(s->path);
    free(s);
}

ts_err ts_store_wipe(const char *path, char *errstr, size_t errstr_size)
{
    rocksdb_options_t *o;
    char *rerr = NULL;
    struct stat st;

    if (stat(path, &st) != 0)
        return TS_OK;
    o = rocksdb_options_create();
    rocksdb_destroy_db(o, path, &rerr);
    rocksdb_options_destroy(o);
    if (rerr)
        return ts_store_rocks_err(rerr, errstr, errstr_size, "cannot delete store", path);
    /* destroy_db leaves the directory (and a LOG file or two) behind */
    if (rmdir(path) != 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST)
        return ts_seterr(TS_ERR_IO, errstr, errstr_size, "cannot remove %s: %s", path,
                         strerror(errno));
    return TS_OK;
}

const char *ts_store_path(const ts_store *s)
{
    return s->path;
}

/* Read one value; *val NULL when absent. Caller frees with rocksdb_free. */
static ts_err ts_store_get_raw(ts_store *s, const void *key, size_t klen, char **val, size_t *vlen,
                               char *errstr, size_t errstr_size)
{
    char *rerr = NULL;

    *val = rocksdb_get(s->db, s->ropts, key, klen, vlen, &rerr);
    if (rerr)
        return ts_store_rocks_err(rerr, errstr, errstr_size, "cannot read store", s->path);
    return TS_OK;
}

ts_err ts_store_read_meta(ts_store *s, ts_store_meta *m, char *errstr, size_t errstr_size)
{
    unsigned char key[64];
    ts_err err;

    ts_store_meta_init(m);
    for (int i = 0; i < TS_META__COUNT; i++) {
        size_t klen = ts_meta_key(key, i), vlen;
        char *v;
        err = ts_store_get_raw(s, key, klen, &v, &vlen, errstr, errstr_size);
        if (err)
            return err;
        if (!v)
            continue;
        switch (i) {
        case TS_META_APP:
        case TS_META_TASK: {
            char *dst = i == TS_META_APP ? m->application_id : m->task_id;
            size_t cap = i == TS_META_APP ? sizeof(m->application_id) : sizeof(m->task_id);
            if (vlen >= cap) {
                rocksdb_free(v);
                return ts_seterr(TS_ERR_CORRUPT, errstr, errstr_size,
                                 "store %s: metadata %s too long", s->path, ts_meta_names[i]);
            }
            memcpy(dst, v, vlen);
            dst[vlen] = '\0';
            break;
        }
        default: {
            int64_t n;
            if (vlen != 8) {
                rocksdb_free(v);
                return ts_seterr(TS_ERR_CORRUPT, errstr, errstr_size,
                                 "store %s: metadata %s has %zu bytes, not 8", s->path,
                                 ts_meta_names[i], vlen);
            }
            n = (int64_t)ts_be64_get((const unsigned char *)v);
            if (i == TS_META_VERSION)
                m->format_version = n;
            else if (i == TS_META_CHANGELOG)
                m->changelog_offset = n;
            else if (i == TS_META_INPUT)
                m->input_offset = n;
            else
                m->stream_time = n;
        }
        }
        rocksdb_free(v);
    }
    return TS_OK;
}

ts_err ts_store_get(ts_store *s, int64_t window_start, const char *tag, size_t tag_len,
                    int64_t *count, int64_t *max_ts, int *found, char *errstr, size_t errstr_size)
{
    unsigned char stack[256], *key = stack;
    size_t klen = ts_key_window_len(tag_len), vlen;
    char *v = NULL;
    ts_err err;

    if (klen > sizeof(stack)) {
        key = malloc(klen);
        if (!key)
            return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    }
    ts_key_window_encode(key, window_start, tag, tag_len);
    err = ts_store_get_raw(s, key, klen, &v, &vlen, errstr, errstr_size);
    if (key != stack)
        free(key);
    if (err)
        return err;
    *found = v != NULL;
    if (v) {
        err = ts_value_decode(v, vlen, count, max_ts);
        rocksdb_free(v);
        if (err)
            return ts_seterr(err, errstr, errstr_size, "store %s: bad value for a window key",
                             s->path);
    }
    return TS_OK;
}

ts_err ts_store_catch_up(ts_store *s, char *errstr, size_t errstr_size)
{
    char *rerr = NULL;

    if (s->mode != TS_STORE_SECONDARY)
        return TS_OK;
    rocksdb_try_catch_up_with_primary(s->db, &rerr);
    if (rerr)
        return ts_store_rocks_err(rerr, errstr, errstr_size, "cannot follow store", s->path);
    return TS_OK;
}

ts_err ts_store_flush(ts_store *s, char *errstr, size_t errstr_size)
{
    char *rerr = NULL;

    rocksdb_flush(s->db, s->fopts, &rerr);
    if (rerr)
        return ts_store_rocks_err(rerr, errstr, errstr_size, "cannot flush store", s->path);
    return TS_OK;
}

static uint64_t ts_store_prop(ts_store *s, const char *name)
{
    uint64_t v = 0;

    if (rocksdb_property_int(s->db, name, &v) != 0)
        return 0;
    return v;
}

uint64_t ts_store_disk_bytes(ts_store *s)
{
    return ts_store_prop(s, "rocksdb.live-sst-files-size");
}

uint64_t ts_store_estimate_keys(ts_store *s)
{
    return ts_store_prop(s, "rocksdb.estimate-num-keys");
}

/* ---- iteration ---- */

ts_store_iter *ts_store_iter_new(ts_store *s)
{
    ts_store_iter *it = calloc(1, sizeof(*it));

    if (!it)
        return NULL;
    it->ropts = rocksdb_readoptions_create();
    /* Window keys all start with 0x01: an upper bound of 0x02 keeps the
     * iterator from wandering into anything else. */
    it->upper[0] = TS_KEY_WINDOW + 1;
    rocksdb_readoptions_set_iterate_upper_bound(it->ropts, (const char *)it->upper, 1);
    it->it = rocksdb_create_iterator(s->db, it->ropts);
    return it;
}

void ts_store_iter_destroy(ts_store_iter *it)
{
    if (!it)
        return;
    if (it->it)
        rocksdb_iter_destroy(it->it);
    if (it->ropts)
        rocksdb_readoptions_destroy(it->ropts);
    free(it);
}

void ts_store_iter_seek(ts_store_iter *it, int64_t window_start)
{
    unsigned char p[TS_KEY_WINDOW_PREFIX];

    ts_key_window_prefix(p, window_start);
    rocksdb_iter_seek(it->it, (const char *)p, sizeof(p));
}

void ts_store_iter_seek_last(ts_store_iter *it)
{
    /* the upper bound ends the window keys; below them is the metadata */
    rocksdb_iter_seek_to_last(it->it);
    if (rocksdb_iter_valid(it->it)) {
        size_t klen;
        const char *k = rocksdb_iter_key(it->it, &klen);
        if (klen < TS_KEY_WINDOW_PREFIX || (unsigned char)k[0] != TS_KEY_WINDOW)
            rocksdb_iter_seek(it->it, (const char *)it->upper, 1); /* past the end */
    }
}

int ts_store_iter_valid(ts_store_iter *it)
{
    return rocksdb_iter_valid(it->it);
}

void ts_store_iter_next(ts_store_iter *it)
{
    rocksdb_iter_next(it->it);
}

void ts_store_iter_raw(ts_store_iter *it, const char **key, size_t *klen, const char **val,
                       size_t *vlen)
{
    *key = rocksdb_iter_key(it->it, klen);
    *val = rocksdb_iter_value(it->it, vlen);
}

ts_err ts_store_iter_entry(ts_store_iter *it, int64_t *window_start, const char **tag,
                           size_t *tag_len, int64_t *count, int64_t *max_ts)
{
    const char *k, *v;
    size_t kl, vl;
    ts_err err;

    ts_store_iter_raw(it, &k, &kl, &v, &vl);
    err = ts_key_window_decode(k, kl, window_start, tag, tag_len);
    if (err)
        return err;
    return ts_value_decode(v, vl, count, max_ts);
}

ts_err ts_store_iter_status(ts_store_iter *it, char *errstr, size_t errstr_size)
{
    char *rerr = NULL;

    rocksdb_iter_get_error(it->it, &rerr);
    if (rerr)
        return ts_store_rocks_err(rerr, errstr, errstr_size, "cannot iterate store", "");
    return TS_OK;
}

/* ---- batches ---- */

ts_store_batch *ts_store_batch_new(void)
{
    ts_store_batch *b = calloc(1, sizeof(*b));

    if (!b)
        return NULL;
    b->wb = rocksdb_writebatch_create();
    ts_buf_init(&b->key, 0);
    return b;
}

void ts_store_batch_destroy(ts_store_batch *b)
{
    if (!b)
        return;
    rocksdb_writebatch_destroy(b->wb);
    ts_buf_free(&b->key);
    free(b);
}

void ts_store_batch_clear(ts_store_batch *b)
{
    rocksdb_writebatch_clear(b->wb);
    b->failed = 0;
}

/* Encode a window key into the batch's scratch buffer; NULL if out of memory. */
static const unsigned char *ts_store_batch_key(ts_store_batch *b, int64_t window_start,
                                               const char *tag, size_t tag_len, size_t *klen)
{
    unsigned char prefix[TS_KEY_WINDOW_PREFIX];

    ts_buf_reset(&b->key);
    ts_key_window_prefix(prefix, window_start);
    ts_buf_append(&b->key, prefix, sizeof(prefix));
    ts_buf_append(&b->key, tag, tag_len);
    if (ts_buf_status(&b->key)) {
        b->failed = 1;
        return NULL;
    }
    *klen = b->key.len;
    return (const unsigned char *)b->key.data;
}

size_t ts_store_batch_count(ts_store_batch *b)
{
    return (size_t)rocksdb_writebatch_count(b->wb);
}

void ts_store_batch_raw(ts_store_batch *b, const void *key, size_t klen, const void *val,
                        size_t vlen)
{
    if (val)
        rocksdb_writebatch_put(b->wb, key, klen, val, vlen);
    else
        rocksdb_writebatch_delete(b->wb, key, klen);
}

void ts_store_batch_put(ts_store_batch *b, int64_t window_start, const char *tag, size_t tag_len,
                        int64_t count, int64_t max_ts)
{
    unsigned char val[TS_VALUE_LEN];
    const unsigned char *key;
    size_t klen;

    key = ts_store_batch_key(b, window_start, tag, tag_len, &klen);
    if (!key)
        return;
    ts_value_encode(val, count, max_ts);
    rocksdb_writebatch_put(b->wb, (const char *)key, klen, (const char *)val, sizeof(val));
}

void ts_store_batch_delete(ts_store_batch *b, int64_t window_start, const char *tag, size_t tag_len)
{
    const unsigned char *key;
    size_t klen;

    key = ts_store_batch_key(b, window_start, tag, tag_len, &klen);
    if (key)
        rocksdb_writebatch_delete(b->wb, (const char *)key, klen);
}

void ts_store_batch_delete_windows_before(ts_store_batch *b, int64_t window_start)
{
    unsigned char from[1] = {TS_KEY_WINDOW}, to[TS_KEY_WINDOW_PREFIX];

    ts_key_window_prefix(to, window_start);
    rocksdb_writebatch_delete_range(b->wb, (const char *)from, sizeof(from), (const char *)to,
                                    sizeof(to));
}

static void ts_store_batch_meta_int(ts_store_batch *b, int which, int64_t v)
{
    unsigned char key[64], val[8];
    size_t klen = ts_meta_key(key, which);

    ts_be64_put(val, (uint64_t)v);
    rocksdb_writebatch_put(b->wb, (const char *)key, klen, (const char *)val, sizeof(val));
}

static void ts_store_batch_meta_str(ts_store_batch *b, int which, const char *v)
{
    unsigned char key[64];
    size_t klen = ts_meta_key(key, which);

    rocksdb_writebatch_put(b->wb, (const char *)key, klen, v, strlen(v));
}

void ts_store_batch_meta(ts_store_batch *b, const ts_store_meta *m)
{
    ts_store_batch_meta_int(b, TS_META_VERSION, m->format_version);
    ts_store_batch_meta_str(b, TS_META_APP, m->application_id);
    ts_store_batch_meta_str(b, TS_META_TASK, m->task_id);
    ts_store_batch_meta_int(b, TS_META_CHANGELOG, m->changelog_offset);
    ts_store_batch_meta_int(b, TS_META_INPUT, m->input_offset);
    ts_store_batch_meta_int(b, TS_META_STREAM_TIME, m->stream_time);
}

ts_err ts_store_write(ts_store *s, ts_store_batch *b, int disable_wal, char *errstr,
                      size_t errstr_size)
{
    char *rerr = NULL;

    if (b->failed)
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size,
                         "cannot write store %s: out of memory building the batch", s->path);
    rocksdb_write(s->db, disable_wal ? s->wopts_nowal : s->wopts, b->wb, &rerr);
    if (rerr)
        return ts_store_rocks_err(rerr, errstr, errstr_size, "cannot write store", s->path);
    return TS_OK;
}

/* ---- bulk loading ---- */

struct ts_store_bulk {
    ts_store *s;
    rocksdb_envoptions_t *env;
    rocksdb_sstfilewriter_t *w;
    char *file;
    size_t n;
    char *rerr; /* the first failure of a put */
};

void ts_store_bulk_abort(ts_store_bulk *b)
{
    if (!b)
        return;
    if (b->w)
        rocksdb_sstfilewriter_destroy(b->w);
    if (b->env)
        rocksdb_envoptions_destroy(b->env);
    if (b->file)
        unlink(b->file);
    free(b->file);
    free(b->rerr);
    free(b);
}

ts_err ts_store_bulk_begin(ts_store *s, ts_store_bulk **out, char *errstr, size_t errstr_size)
{
    static const char name[] = "/tagstream-bulk.sst";
    ts_store_bulk *b;
    char *rerr = NULL;
    size_t n = strlen(s->path);

    *out = NULL;
    b = calloc(1, sizeof(*b));
    if (!b || !(b->file = malloc(n + sizeof(name)))) {
        free(b);
        return ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
    }
    memcpy(b->file, s->path, n);
    memcpy(b->file + n, name, sizeof(name));
    b->s = s;
    b->env = rocksdb_envoptions_create();
    /* the store's own options: the same table format, block size and
     * compression as its flushes write */
    b->w = rocksdb_sstfilewriter_create(b->env, s->opts);
    rocksdb_sstfilewriter_open(b->w, b->file, &rerr);
    if (rerr) {
        ts_err err =
            ts_store_rocks_err(rerr, errstr, errstr_size, "cannot bulk load store", s->path);
        ts_store_bulk_abort(b);
        return err;
    }
    *out = b;
    return TS_OK;
}

void ts_store_bulk_put(ts_store_bulk *b, const void *key, size_t klen, const void *val, size_t vlen)
{
    if (b->rerr)
        return;
    if (val)
        rocksdb_sstfilewriter_put(b->w, key, klen, val, vlen, &b->rerr);
    else
        rocksdb_sstfilewriter_delete(b->w, key, klen, &b->rerr);
    b->n++;
}

ts_err ts_store_bulk_commit(ts_store_bulk *b, char *errstr, size_t errstr_size)
{
    rocksdb_ingestexternalfileoptions_t *io;
    const char *files[1];
    char *rerr = NULL;
    ts_err err = TS_OK;

    if (b->rerr) {
        err =
            ts_store_rocks_err(b->rerr, errstr, errstr_size, "cannot bulk load store", b->s->path);
        b->rerr = NULL;
        goto done;
    }
    if (b->n == 0)
        goto done; /* RocksDB writes no empty SST files */
    rocksdb_sstfilewriter_finish(b->w, &rerr);
    if (rerr) {
        err = ts_store_rocks_err(rerr, errstr, errstr_size, "cannot bulk load store", b->s->path);
        goto done;
    }
    io = rocksdb_ingestexternalfileoptions_create();
    rocksdb_ingestexternalfileoptions_set_move_files(io, 1);
    files[0] = b->file;
    rocksdb_ingest_external_file(b->s->db, files, 1, io, &rerr);
    rocksdb_ingestexternalfileoptions_destroy(io);
    if (rerr)
        err = ts_store_rocks_err(rerr, errstr, errstr_size, "cannot ingest into store", b->s->path);
done:
    ts_store_bulk_abort(b); /* after a move the unlink finds nothing */
    return err;
}
