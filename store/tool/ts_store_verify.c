#include "ts_store_verify.h"
#include "ts_buf.h"
#include "ts_clock.h"
#include "ts_kafka.h"
#include "ts_keys.h"
#include "ts_time.h"
#include "ts_window.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* One changelog record (key and value copied out of the message). */
typedef struct ts_vrec {
    int64_t offset;
    char *key;
    size_t klen;
    char *val; /* NULL: tombstone */
    size_t vlen;
} ts_vrec;

typedef struct ts_vrecs {
    ts_vrec *v;
    size_t n, cap;
} ts_vrecs;

/* What the consumer's callbacks saw (they run inside rd_kafka_consumer_poll,
 * on the caller's thread). */
typedef struct ts_vkafka {
    char last_error[512];
} ts_vkafka;

typedef struct ts_verify {
    const ts_store_verify_opts *o;
    FILE *out;
    rd_kafka_t *rk;
    ts_vkafka k;
    ts_buf line;
    char *errstr;
    size_t errstr_size;
} ts_verify;

static void ts_vrecs_free(ts_vrecs *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].key);
        free(r->v[i].val);
    }
    free(r->v);
    memset(r, 0, sizeof(*r));
}

static ts_err ts_vrecs_add(ts_vrecs *r, int64_t offset, const void *key, size_t klen,
                           const void *val, size_t vlen)
{
    ts_vrec *v = ts_grow(r->v, r->n, &r->cap, sizeof(*v), 1024), *e;

    if (!v)
        return TS_ERR_NOMEM;
    r->v = v;
    e = &r->v[r->n];
    e->offset = offset;
    e->klen = klen;
    e->vlen = vlen;
    e->key = malloc(klen ? klen : 1);
    e->val = val ? malloc(vlen ? vlen : 1) : NULL;
    if (!e->key || (val && !e->val)) {
        free(e->key);
        free(e->val);
        return TS_ERR_NOMEM;
    }
    if (klen)
        memcpy(e->key, key, klen);
    if (val && vlen)
        memcpy(e->val, val, vlen);
    r->n++;
    return TS_OK;
}

/* Key order of the store: bytewise, a prefix first. */
static int ts_verify_keycmp(const void *a, size_t al, const void *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);

    if (c)
        return c;
    return (al > bl) - (al < bl);
}

static int ts_vrec_cmp(const void *a, const void *b)
{
    const ts_vrec *x = a, *y = b;
    int c = ts_verify_keycmp(x->key, x->klen, y->key, y->klen);

    if (c)
        return c;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

/* Sort by key then offset and keep the last record of each key; drop keys
 * whose last record is a tombstone when drop_deleted. */
static void ts_vrecs_latest(ts_vrecs *r, int drop_deleted)
{
    size_t out = 0;

    if (r->n > 1)
        qsort(r->v, r->n, sizeof(*r->v), ts_vrec_cmp);
    for (size_t i = 0; i < r->n; i++) {
        int last = i + 1 == r->n ||
                   ts_verify_keycmp(r->v[i].key, r->v[i].klen, r->v[i + 1].key, r->v[i + 1].klen);
        if (!last || (drop_deleted && !r->v[i].val)) {
            free(r->v[i].key);
            free(r->v[i].val);
            continue;
        }
        r->v[out++] = r->v[i];
    }
    r->n = out;
}

static int ts_vrecs_has(const ts_vrecs *r, const void *key, size_t klen)
{
    size_t lo = 0, hi = r->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = ts_verify_keycmp(r->v[mid].key, r->v[mid].klen, key, klen);
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* ---- Kafka ---- */

static void ts_verify_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    ts_vkafka *k = opaque;

    (void)rk;
    ts_kafka_note_error((rd_kafka_resp_err_t)err, reason);
    if (ts_kafka_err_is_denied((rd_kafka_resp_err_t)err))
        ts_kafka_problem(k->last_error, sizeof(k->last_error));
    else
        snprintf(k->last_error, sizeof(k->last_error), "%s", reason);
}

/* librdkafka's log would otherwise reach stdout, mixed with the results;
 * what matters of it comes through error_cb. */
static void ts_verify_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    (void)level;
    (void)fac;
    (void)buf;
}

static ts_err ts_verify_consumer(ts_verify *v)
{
    /* librdkafka's assign() wants a group.id; the tool never joins the group
     * nor commits, and -X kafka.group.id=... can name one the ACLs allow */
    static const char *const defaults[] = {"client.id", "tagstream-store", "group.id",
                                           "tagstream-store", NULL};
    static const char *const forced[] = {"isolation.level",
                                         "read_committed",
                                         "enable.partition.eof",
                                         "true",
                                         "enable.auto.commit",
                                         "false",
                                         "enable.auto.offset.store",
                                         "false",
                                         "auto.offset.reset",
                                         "earliest",
                                         NULL};
    rd_kafka_conf_t *kc;
    char msg[512];

    /* forced: what verify rests on, whatever -X said */
    kc =
        ts_kafka_conf_new(v->o->conf, v->o->bootstrap, defaults, forced, v->errstr, v->errstr_size);
    if (!kc)
        return TS_ERR_INVALID;
    rd_kafka_conf_set_log_cb(kc, ts_verify_log_cb);
    rd_kafka_conf_set_error_cb(kc, ts_verify_error_cb);
    rd_kafka_conf_set_opaque(kc, &v->k);
    v->rk = ts_kafka_new(RD_KAFKA_CONSUMER, kc, msg, sizeof(msg));
    if (!v->rk) {
        rd_kafka_conf_destroy(kc);
        return ts_seterr(TS_ERR_KAFKA, v->errstr, v->errstr_size, "cannot create a consumer: %s",
                         msg);
    }
    rd_kafka_poll_set_consumer(v->rk);
    return TS_OK;
}

static const char *ts_verify_why(const ts_verify *v)
{
    return v->k.last_error[0] ? v->k.last_error : "no answer";
}

/* Read the whole partition, read_committed, up to its last stable offset
 * (where enable.partition.eof reports the end). */
static ts_err ts_verify_read(ts_verify *v, int32_t part, ts_vrecs *recs, int64_t *end,
                             uint64_t *nread)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    int64_t deadline = ts_mono_ms() + v->o->timeout_ms, position = 0;
    rd_kafka_resp_err_t ke;
    ts_err err = TS_OK;

    *nread = 0;
    *end = -1;
    rd_kafka_topic_partition_list_add(l, v->o->topic, part)->offset = RD_KAFKA_OFFSET_BEGINNING;
    ke = rd_kafka_assign(v->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (ke)
        return ts_seterr(TS_ERR_KAFKA, v->errstr, v->errstr_size, "cannot assign %s [%d]: %s",
                         v->o->topic, (int)part, rd_kafka_err2str(ke));
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(v->rk, 200);
        if (!m) {
            if (ts_mono_ms() > deadline) {
                err =
                    ts_seterr(TS_ERR_TIMEOUT, v->errstr, v->errstr_size,
                              "timed out reading changelog %s partition %d at offset %" PRId64
                              " after %" PRId64 " ms (%s)",
                              v->o->topic, (int)part, position, v->o->timeout_ms, ts_verify_why(v));
                break;
            }
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            *end = m->offset;
            rd_kafka_message_destroy(m);
            break;
        }
        if (m->err) {
            /* a missing topic or partition will not appear; anything else
             * is the client's retry business until the deadline */
            if (m->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
                m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
                m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
                err = ts_seterr(TS_ERR_KAFKA, v->errstr, v->errstr_size,
                                "cannot read changelog %s partition %d: %s: %s%s", v->o->topic,
                                (int)part, rd_kafka_err2name(m->err), rd_kafka_message_errstr(m),
                                ts_kafka_err_is_denied(m->err)
                                    ? " (the principal needs Read on it, docs/SECURITY.md)"
                                    : "");
                rd_kafka_message_destroy(m);
                break;
            }
            snprintf(v->k.last_error, sizeof(v->k.last_error), "%s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        position = m->offset + 1;
        (*nread)++;
        if (ts_vrecs_add(recs, m->offset, m->key, m->key_len, m->payload, m->len)) {
            rd_kafka_message_destroy(m);
            err = ts_seterr(TS_ERR_NOMEM, v->errstr, v->errstr_size, "out of memory");
            break;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(v->rk, NULL);
    return err;
}

/* ---- reporting ---- */

static void ts_verify_time(ts_buf *b, int64_t ms)
{
    char t[48];

    ts_time_format_iso(ms, t, sizeof(t));
    ts_buf_puts(b, t);
}

/* A key: text "window <iso> (<ms>) hashtag "<tag>"", JSON fields. */
static void ts_verify_key(ts_verify *v, const char *key, size_t klen)
{
    ts_buf *b = &v->line;
    int64_t w;
    const char *tag;
    size_t len;

    if (ts_key_window_decode(key, klen, &w, &tag, &len)) {
        ts_buf_puts(b, v->o->json ? "\"key_hex\":\"" : "key ");
        ts_buf_hex(b, key, klen, 64);
        ts_buf_puts(b, v->o->json ? "\"" : " (not a window key)");
        return;
    }
    if (v->o->json) {
        ts_buf_printf(b, "\"window_start\":%" PRId64 ",\"window_end\":%" PRId64 ",\"hashtag\":", w,
                      ts_window_end(w, v->o->window_size_ms));
        ts_buf_json_str(b, tag, len);
        return;
    }
    ts_buf_puts(b, "window ");
    ts_verify_time(b, w);
    ts_buf_printf(b, " (%" PRId64 ") hashtag ", w);
    ts_buf_json_str(b, tag, len);
}

/* A value, with the changelog offset it came from (-1: the store's). */
static void ts_verify_value(ts_verify *v, const char *name, const char *val, size_t vlen,
                            int64_t offset)
{
    ts_buf *b = &v->line;
    int64_t count, max_ts;
    int ok = val && ts_value_decode(val, vlen, &count, &max_ts) == TS_OK;

    if (v->o->json) {
        ts_buf_printf(b, ",\"%s\":", name);
        if (!val) {
            ts_buf_puts(b, "null");
            return;
        }
        if (ok) {
            ts_buf_printf(b, "{\"count\":%" PRId64 ",\"max_timestamp\":%" PRId64, count, max_ts);
        } else {
            ts_buf_puts(b, "{\"value_hex\":\"");
            ts_buf_hex(b, val, vlen, 64);
            ts_buf_putc(b, '"');
        }
        if (offset >= 0)
            ts_buf_printf(b, ",\"offset\":%" PRId64, offset);
        ts_buf_putc(b, '}');
        return;
    }
    if (!val)
        return;
    ts_buf_printf(b, "; %s: ", name);
    if (ok) {
        ts_buf_printf(b, "count %" PRId64 ", max_timestamp ", count);
        ts_verify_time(b, max_ts);
    } else {
        ts_buf_puts(b, "undecodable value ");
        ts_buf_hex(b, val, vlen, 64);
    }
    if (offset >= 0)
        ts_buf_printf(b, " (offset %" PRId64 ")", offset);
}

static void ts_verify_flush_line(ts_verify *v)
{
    if (ts_buf_status(&v->line) == TS_OK)
        fwrite(v->line.data, 1, v->line.len, v->out);
    ts_buf_reset(&v->line);
}

/* kind: "missing_in_store", "extra_in_store", "different_value", "not_verifiable" */
static void ts_verify_report(ts_verify *v, const char *task, const char *kind, const char *key,
                             size_t klen, const char *sval, size_t svlen, const ts_vrec *cl)
{
    ts_buf *b = &v->line;

    ts_buf_reset(b);
    if (v->o->json) {
        ts_buf_printf(b, "{\"type\":\"%s\",\"task\":\"%s\",\"difference\":\"%s\",",
                      strcmp(kind, "not_verifiable") ? "difference" : "note", task, kind);
        ts_verify_key(v, key, klen);
        ts_verify_value(v, "store", sval, svlen, -1);
        ts_verify_value(v, "changelog", cl ? cl->val : NULL, cl ? cl->vlen : 0,
                        cl ? cl->offset : -1);
        ts_buf_puts(b, "}\n");
    } else {
        const char *what = !strcmp(kind, "missing_in_store")  ? "missing in store"
                           : !strcmp(kind, "extra_in_store")  ? "extra in store"
                           : !strcmp(kind, "different_value") ? "different value"
                                                              : "not verifiable (the changelog "
                                                                "has the key again after the "
                                                                "store's offset)";
        ts_buf_printf(b, "%s: %s: ", task, what);
        ts_verify_key(v, key, klen);
        ts_verify_value(v, "store", sval, svlen, -1);
        ts_verify_value(v, "changelog", cl ? cl->val : NULL, cl ? cl->vlen : 0,
                        cl ? cl->offset : -1);
        ts_buf_putc(b, '\n');
    }
    ts_verify_flush_line(v);
}

/* A task that cannot be compared at all. */
static void ts_verify_problem(ts_verify *v, const char *task, const char *kind, const char *text)
{
    ts_buf *b = &v->line;

    ts_buf_reset(b);
    if (v->o->json) {
        ts_buf_printf(
            b, "{\"type\":\"difference\",\"task\":\"%s\",\"difference\":\"%s\",\"detail\":", task,
            kind);
        ts_buf_json_str(b, text, strlen(text));
        ts_buf_puts(b, "}\n");
    } else {
        ts_buf_printf(b, "%s: %s\n", task, text);
    }
    ts_verify_flush_line(v);
}

/* ---- one task ---- */

static ts_err ts_verify_task(ts_verify *v, const ts_store_verify_task *t,
                             ts_store_verify_result *res)
{
    const ts_store_meta *m = t->meta;
    ts_vrecs recs = {0}, later = {0};
    ts_store_iter *it = NULL;
    uint64_t nread = 0, diffs = 0, notes = 0, store_keys = 0, cl_keys;
    int64_t end;
    size_t i = 0;
    ts_err err;

    res->tasks++;
    if (m->format_version == 0) {
        ts_verify_problem(v, t->id, "no_metadata",
                          "not verified: the store has no metadata yet (a restore in progress?)");
        res->differences++;
        return TS_OK;
    }
    err = ts_verify_read(v, t->partition, &recs, &end, &nread);
    if (err)
        goto out;
    if (m->changelog_offset > end) {
        char text[256];
        snprintf(text, sizeof(text),
                 "not verified: the store reflects changelog offset %" PRId64
                 " but the changelog ends at %" PRId64 " (was the topic deleted?)",
                 m->changelog_offset, end);
        ts_verify_problem(v, t->id, "store_ahead_of_changelog", text);
        res->differences++;
        goto out;
    }
    /* records from the store's offset on are only remembered as keys */
    for (size_t j = 0; j < recs.n; j++) {
        if (recs.v[j].offset < m->changelog_offset)
            continue;
        if (ts_vrecs_add(&later, recs.v[j].offset, recs.v[j].key, recs.v[j].klen, NULL, 0)) {
            err = ts_seterr(TS_ERR_NOMEM, v->errstr, v->errstr_size, "out of memory");
            goto out;
        }
        free(recs.v[j].key);
        free(recs.v[j].val);
        recs.v[j].key = NULL;
        recs.v[j].val = NULL;
        recs.v[j].offset = -1; /* dropped below */
    }
    {
        size_t n = 0;
        for (size_t j = 0; j < recs.n; j++)
            if (recs.v[j].offset >= 0)
                recs.v[n++] = recs.v[j];
        recs.n = n;
    }
    ts_vrecs_latest(&recs, 1);
    ts_vrecs_latest(&later, 0);
    cl_keys = recs.n;

    it = ts_store_iter_new(t->store);
    if (!it) {
        err = ts_seterr(TS_ERR_NOMEM, v->errstr, v->errstr_size, "out of memory");
        goto out;
    }
    ts_store_iter_seek(it, INT64_MIN);
    for (;;) {
        const char *k = NULL, *val = NULL;
        size_t kl = 0, vl = 0;
        int have = ts_store_iter_valid(it), c;
        if (have) {
            int64_t w, count, max_ts;
            const char *tag;
            size_t len;
            ts_store_iter_raw(it, &k, &kl, &val, &vl);
            if (ts_key_window_decode(k, kl, &w, &tag, &len) ||
                ts_value_decode(val, vl, &count, &max_ts)) {
                ts_buf b;
                ts_buf_init(&b, 0);
                ts_buf_hex(&b, k, kl, 64);
                ts_buf_puts(&b, " = ");
                ts_buf_hex(&b, val, vl, 64);
                err = ts_seterr(TS_ERR_CORRUPT, v->errstr, v->errstr_size,
                                "store %s: entry %s does not decode", t->path,
                                ts_buf_status(&b) ? "?" : b.data);
                ts_buf_free(&b);
                goto out;
            }
        } else {
            err = ts_store_iter_status(it, v->errstr, v->errstr_size);
            if (err)
                goto out;
        }
        if (!have && i == recs.n)
            break;
        if (!have)
            c = 1;
        else if (i == recs.n)
            c = -1;
        else
            c = ts_verify_keycmp(k, kl, recs.v[i].key, recs.v[i].klen);
        if (c < 0) {
            if (ts_vrecs_has(&later, k, kl)) {
                ts_verify_report(v, t->id, "not_verifiable", k, kl, val, vl, NULL);
                notes++;
            } else {
                ts_verify_report(v, t->id, "extra_in_store", k, kl, val, vl, NULL);
                diffs++;
            }
        } else if (c > 0) {
            ts_verify_report(v, t->id, "missing_in_store", recs.v[i].key, recs.v[i].klen, NULL, 0,
                             &recs.v[i]);
            diffs++;
        } else if (vl != recs.v[i].vlen || memcmp(val, recs.v[i].val, vl)) {
            ts_verify_report(v, t->id, "different_value", k, kl, val, vl, &recs.v[i]);
            diffs++;
        }
        if (c <= 0) {
            store_keys++;
            ts_store_iter_next(it);
        }
        if (c >= 0)
            i++;
    }

    ts_buf_reset(&v->line);
    if (v->o->json)
        ts_buf_printf(&v->line,
                      "{\"type\":\"task\",\"task\":\"%s\",\"store_keys\":%" PRIu64
                      ",\"changelog_keys\":%" PRIu64 ",\"changelog_offset\":%" PRId64
                      ",\"changelog_end\":%" PRId64 ",\"records_read\":%" PRIu64
                      ",\"differences\":%" PRIu64 ",\"not_verifiable\":%" PRIu64 "}\n",
                      t->id, store_keys, cl_keys, m->changelog_offset, end, nread, diffs, notes);
    else
        ts_buf_printf(&v->line,
                      "%s: %" PRIu64 " keys in the store, %" PRIu64
                      " in the changelog before offset %" PRId64 " (%" PRIu64
                      " records read, end %" PRId64 "): %" PRIu64 " difference%s%s\n",
                      t->id, store_keys, cl_keys, m->changelog_offset, nread, end, diffs,
                      diffs == 1 ? "" : "s", notes ? ", some keys not verifiable" : "");
    ts_verify_flush_line(v);
    res->store_keys += store_keys;
    res->changelog_keys += cl_keys;
    res->differences += diffs;
    res->not_verifiable += notes;
out:
    ts_store_iter_destroy(it);
    ts_vrecs_free(&recs);
    ts_vrecs_free(&later);
    return err;
}

ts_err ts_store_verify_run(const ts_store_verify_opts *o, const ts_store_verify_task *tasks,
                           size_t ntasks, FILE *out, ts_store_verify_result *res, char *errstr,
                           size_t errstr_size)
{
    ts_verify v;
    ts_err err = TS_OK;
    int parts = -1;

    memset(res, 0, sizeof(*res));
    memset(&v, 0, sizeof(v));
    v.o = o;
    v.out = out;
    v.errstr = errstr;
    v.errstr_size = errstr_size;
    ts_buf_init(&v.line, 0);
    if (ntasks > 0) {
        err = ts_verify_consumer(&v);
        if (err)
            goto out;
        err = ts_kafka_topic_partitions(v.rk, o->topic, (int)o->timeout_ms, &parts, NULL, errstr,
                                        errstr_size);
        if (err) {
            char msg[512];
            rd_kafka_consumer_poll(v.rk, 0); /* serve error_cb, for the reason */
            snprintf(msg, sizeof(msg), "%s", errstr);
            ts_seterr(err, errstr, errstr_size, "cannot reach Kafka at %s: %s%s%s%s", o->bootstrap,
                      msg, v.k.last_error[0] ? " (" : "", v.k.last_error,
                      v.k.last_error[0] ? ")" : "");
            goto out;
        }
        if (parts < 0) {
            err = ts_seterr(TS_ERR_KAFKA, errstr, errstr_size, "changelog topic %s does not exist",
                            o->topic);
            goto out;
        }
    }
    for (size_t i = 0; i < ntasks; i++) {
        if (tasks[i].partition >= parts) {
            err = ts_seterr(TS_ERR_KAFKA, errstr, errstr_size,
                            "changelog topic %s has %d partitions: none for task %s", o->topic,
                            parts, tasks[i].id);
            goto out;
        }
        err = ts_verify_task(&v, &tasks[i], res);
        if (err)
            goto out;
    }
    ts_buf_reset(&v.line);
    if (o->json)
        ts_buf_printf(&v.line,
                      "{\"type\":\"summary\",\"tasks\":%" PRIu64 ",\"store_keys\":%" PRIu64
                      ",\"changelog_keys\":%" PRIu64 ",\"differences\":%" PRIu64
                      ",\"not_verifiable\":%" PRIu64 ",\"ok\":%s}\n",
                      res->tasks, res->store_keys, res->changelog_keys, res->differences,
                      res->not_verifiable, res->differences ? "false" : "true");
    else
        ts_buf_printf(&v.line,
                      "verify: %" PRIu64 " task%s, %" PRIu64 " keys in the stores, %" PRIu64
                      " in the changelog: %s\n",
                      res->tasks, res->tasks == 1 ? "" : "s", res->store_keys, res->changelog_keys,
                      res->differences ? "DIFFERENT" : "the stores match the changelog");
    ts_verify_flush_line(&v);
out:
    if (v.rk) {
        rd_kafka_consumer_close(v.rk);
        rd_kafka_destroy(v.rk);
    }
    ts_buf_free(&v.line);
    return err;
}
