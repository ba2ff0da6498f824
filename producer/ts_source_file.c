/*
 * File replay: NDJSON (X stream lines, Mastodon statuses) or plain text,
 * one record per line, as fast as possible, at a rate, or at the recorded
 * speed (the gaps between the posts' created_at). `-` is standard input.
 */
#include "ts_log.h"
#include "ts_source.h"
#include "ts_split.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TS_FILE_CHUNK (64 * 1024)

typedef struct ts_file {
    const ts_source_env *env; /* the caller's */
    ts_source_env inner;      /* emits through ts_file_emit, which paces */
    ts_post post;
    uint64_t n;       /* posts emitted in this pass */
    uint64_t lines;   /* records (lines) seen in this pass */
    int64_t t0_mono;  /* when this pass started */
    int64_t first_ms; /* created_at of the first timed post of the pass, -1 */
    ts_err err;       /* an emit's error, ends the replay */
} ts_file;

/* Wait until the post is due, then hand it on. */
static ts_err ts_file_emit(void *opaque, const ts_post *post)
{
    ts_file *f = opaque;
    const ts_pconf *c = f->env->conf;
    const ts_clock *clk = f->env->clock;
    int64_t due = -1, now;

    if (c->file_pace == TS_PACE_RATE) {
        due = f->t0_mono + (int64_t)((double)f->n * 1000.0 / (double)c->file_rate);
    } else if (c->file_pace == TS_PACE_RECORDED && post->created_ms >= 0) {
        if (f->first_ms < 0)
            f->first_ms = post->created_ms;
        if (post->created_ms > f->first_ms)
            due = f->t0_mono + (post->created_ms - f->first_ms);
    }
    f->n++;
    if (due >= 0 && (now = clk->mono_ms(clk->opaque)) < due &&
        clk->sleep_ms(clk->opaque, due - now, f->env->stop) == TS_ERR_STOPPED)
        return TS_ERR_STOPPED;
    if (atomic_load(f->env->stop))
        return TS_ERR_STOPPED;
    return f->env->emit(f->env->opaque, post);
}

static int ts_file_line(void *opaque, ts_line_kind kind, const char *p, size_t n)
{
    ts_file *f = opaque;
    ts_err err;

    f->lines++;
    if (kind == TS_LINE_OVERSIZE) {
        ts_source_skip(f->env, "file", TS_SKIP_OVERSIZE, "line longer than max.line.bytes", p, n);
        return 0;
    }
    err = ts_source_record(&f->inner, "file", &f->post, (ts_post_format)f->env->conf->file_format,
                           p, n);
    if (err) {
        f->err = err;
        return 1;
    }
    return atomic_load(f->env->stop) ? 1 : 0;
}

/* One pass over the input. */
static ts_err ts_file_pass(ts_file *f, int fd, ts_linesplit *ls, char *buf, char *errstr,
                           size_t errstr_size)
{
    const char *path = f->env->conf->file_path;

    f->n = f->lines = 0;
    f->first_ms = -1;
    f->t0_mono = f->env->clock->mono_ms(f->env->clock->opaque);
    for (;;) {
        ssize_t r = read(fd, buf, TS_FILE_CHUNK);
        if (r < 0 && errno == EINTR) {
            if (atomic_load(f->env->stop))
                return TS_ERR_STOPPED;
            continue;
        }
        if (r < 0)
            return ts_seterr(TS_ERR_IO, errstr, errstr_size, "file: cannot read %s: %s", path,
                             strerror(errno));
        if (r == 0)
            break;
        if (ts_linesplit_feed(ls, buf, (size_t)r))
            return f->err ? f->err : TS_ERR_STOPPED;
    }
    /* a last line without a newline is a line */
    ts_linesplit_finish(ls, 1);
    if (f->err)
        return f->err;
    return TS_OK;
}

ts_err ts_source_file_run(const ts_source_env *env, char *errstr, size_t errstr_size)
{
    const ts_pconf *c = env->conf;
    int stdin_ = !strcmp(c->file_path, "-"), fd;
    char *buf = NULL;
    ts_linesplit ls;
    ts_file f = {0};
    ts_err err = TS_OK;
    uint64_t passes = 0;

    f.env = env;
    f.inner = *env;
    f.inner.emit = ts_file_emit;
    f.inner.opaque = &f;
    ts_post_init(&f.post);
    fd = stdin_ ? 0 : open(c->file_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err = ts_seterr(TS_ERR_IO, errstr, errstr_size, "file: cannot open %s: %s", c->file_path,
                        strerror(errno));
        goto fail_open;
    }
    buf = malloc(TS_FILE_CHUNK);
    if (!buf) {
        err = ts_seterr(TS_ERR_NOMEM, errstr, errstr_size, "out of memory");
        goto fail_buf;
    }
    ts_linesplit_init(&ls, (size_t)c->max_line_bytes, 0, ts_file_line, &f);
    atomic_store(&env->stats->source_connected, 1);
    {
        ts_log_ev *ev = ts_log_begin(TS_LOG_INFO, "file", "replaying");
        ts_log_cstr(ev, "path", stdin_ ? "(standard input)" : c->file_path);
        ts_log_end(ev);
    }
    for (;;) {
        err = ts_file_pass(&f, fd, &ls, buf, errstr, errstr_size);
        passes++;
        if (err == TS_ERR_STOPPED) {
            err = TS_OK;
            break;
        }
        if (err)
            break;
        if (f.lines == 0)
            ts_logf(TS_LOG_WARN, "file", "the input is empty");
        if (!c->file_loop || f.lines == 0 || atomic_load(env->stop))
            break;
        if (lseek(fd, 0, SEEK_SET) < 0) {
            err = ts_seterr(TS_ERR_IO, errstr, errstr_size, "file: cannot rewind %s: %s",
                            c->file_path, strerror(errno));
            break;
        }
    }
    if (err && err != TS_ERR_STOPPED && errstr && !errstr[0])
        ts_seterr(err, errstr, errstr_size, "file: cannot publish: %s", ts_err_name(err));
    {
        ts_log_ev *ev = ts_log_begin(TS_LOG_INFO, "file", "replay ended");
        ts_log_int(ev, "passes", (int64_t)passes);
        ts_log_end(ev);
    }
    atomic_store(&env->stats->source_connected, 0);
    ts_linesplit_free(&ls);
    free(buf);
fail_buf:
    if (!stdin_)
        close(fd);
fail_open:
    ts_post_free(&f.post);
    return err;
}
