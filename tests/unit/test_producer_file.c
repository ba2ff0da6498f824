/*
 * File replay on a fake clock: formats, pacing (rate and recorded speed),
 * looping, oversize lines, a last line without newline, empty and missing
 * files.
 */
#include "ts_source.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fake {
    int64_t mono;
    int64_t slept;
    size_t posts, records;
    char tags[4096];
    int64_t ts[64];
    atomic_int stop;
    size_t stop_after;
} fake;

static int64_t f_mono(void *o)
{
    return ((fake *)o)->mono;
}

static ts_err f_sleep(void *o, int64_t ms, const atomic_int *stop)
{
    fake *f = o;

    f->slept += ms;
    f->mono += ms;
    return atomic_load(stop) ? TS_ERR_STOPPED : TS_OK;
}

static ts_err f_emit(void *o, const ts_post *post)
{
    fake *f = o;

    if (f->posts < 64)
        f->ts[f->posts] = post->created_ms;
    f->posts++;
    for (size_t i = 0; i < post->ntags; i++) {
        size_t l = strlen(f->tags);
        if (l + post->tags[i].len + 2 < sizeof(f->tags))
            snprintf(f->tags + l, sizeof(f->tags) - l, "%s%.*s", l ? "|" : "",
                     (int)post->tags[i].len, ts_post_tag_ptr(post, i));
        f->records++;
    }
    if (f->stop_after && f->posts >= f->stop_after)
        return TS_ERR_STOPPED;
    return TS_OK;
}

static ts_pconf conf_for(const char *path)
{
    ts_pconf c;

    memset(&c, 0, sizeof(c));
    c.file_path = (char *)path;
    c.max_line_bytes = 4096;
    c.file_rate = 100;
    return c;
}

static ts_err run(ts_pconf *c, fake *f, ts_pstats *stats, char *err, size_t errsz)
{
    ts_clock clk = {f_mono, f_mono, f_sleep, f};
    ts_source_env env = {c, &clk, &f->stop, stats, f_emit, f};

    memset(stats, 0, sizeof(*stats));
    err[0] = '\0';
    return ts_source_file_run(&env, err, errsz);
}

static const char *fixture(const char *name)
{
    static char path[1024];

    snprintf(path, sizeof(path), "%s/%s", TS_FIXTURES, name);
    return path;
}

static const char *temp_file(const char *text, size_t n)
{
    static char path[64];
    int fd;

    snprintf(path, sizeof(path), "/tmp/ts-test-file-XXXXXX");
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

Test(file_source, x_lines_as_fast_as_possible)
{
    ts_pconf c = conf_for(fixture("x_stream.ndjson"));
    fake f = {0};
    ts_pstats st;
    char err[256];

    cr_assert_eq(run(&c, &f, &st, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_eq(f.posts, 9, "ten lines, one of them an error object");
    cr_expect_eq(f.records, 16);
    cr_expect_eq(ts_pstats_get(&st.skipped[TS_SKIP_ERROR_OBJECT]), 1);
    cr_expect_eq(f.slept, 0);
    cr_expect_eq(f.ts[0], 1795687200000);
}

Test(file_source, recorded_speed_follows_created_at)
{
    ts_pconf c = conf_for(fixture("x_stream.ndjson"));
    fake f = {0};
    ts_pstats st;
    char err[256];

    c.file_pace = TS_PACE_RECORDED;
    cr_assert_eq(run(&c, &f, &st, err, sizeof(err)), TS_OK, "%s", err);
    /* first post 10:00:00.000, last 10:00:06.000 */
    cr_expect_eq(f.slept, 6000);
    cr_expect_eq(f.posts, 9);
}

Test(file_source, a_given_rate)
{
    ts_pconf c = conf_for(fixture("mastodon_statuses.ndjson"));
    fake f = {0};
    ts_pstats st;
    char err[256];

    c.file_pace = TS_PACE_RATE;
    c.file_rate = 4;
    cr_assert_eq(run(&c, &f, &st, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_eq(f.posts, 5);
    cr_expect_eq(f.slept, 1000, "five posts at 4/s: the last is due after 1 s");
    cr_expect_str_eq(f.tags,
                     "Kafka|Fargate|\xce\xa3\xce\xaf\xcf\x83\xcf\x85\xcf\x86\xce\xbf\xcf\x82|"
                     "stra\xc3\x9f"
                     "e|fallback|\xc3\x9cn\xc3\xaf"
                     "c\xc3\xb6"
                     "d\xc3\xa9|rock|"
                     "kafka|\xe6\x9d\xb1\xe4\xba\xac|KAFKA");
}

Test(file_source, loops_until_stopped)
{
    static const char text[] = "#one\n#two\n";
    ts_pconf c = conf_for(temp_file(text, strlen(text)));
    fake f = {.stop_after = 7};
    ts_pstats st;
    char err[256];

    c.file_loop = 1;
    cr_assert_eq(run(&c, &f, &st, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_eq(f.posts, 7);
    cr_expect_str_eq(f.tags, "one|two|one|two|one|two|one");
    unlink(c.file_path);
}

Test(file_source, bad_lines_are_counted_and_the_last_line_needs_no_newline)
{
    char text[8192];
    size_t n = 0;
    ts_pconf c;
    fake f = {0};
    ts_pstats st;
    char err[256];

    n += (size_t)snprintf(text + n, sizeof(text) - n, "#first\n{\"data\":\n");
    memset(text + n, 'a', 5000);
    n += 5000;
    n += (size_t)snprintf(text + n, sizeof(text) - n, " #long\n\xff\xfe #bad\n\n#last");
    c = conf_for(temp_file(text, n));
    c.max_line_bytes = 4096;
    cr_assert_eq(run(&c, &f, &st, err, sizeof(err)), TS_OK, "%s", err);
    cr_expect_str_eq(f.tags, "first|last");
    cr_expect_eq(ts_pstats_get(&st.skipped[TS_SKIP_MALFORMED_JSON]), 1);
    cr_expect_eq(ts_pstats_get(&st.skipped[TS_SKIP_OVERSIZE]), 1);
    cr_expect_eq(ts_pstats_get(&st.skipped[TS_SKIP_INVALID_UTF8]), 1);
    unlink(c.file_path);
}

Test(file_source, empty_and_missing_files)
{
    ts_pconf c = conf_for(temp_file("", 0));
    fake f = {0};
    ts_pstats st;
    char err[256];

    c.file_loop = 1;
    cr_expect_eq(run(&c, &f, &st, err, sizeof(err)), TS_OK, "an empty file ends, even looping");
    cr_expect_eq(f.posts, 0);
    unlink(c.file_path);
    c.file_path = "/nonexistent/posts.txt";
    cr_expect_eq(run(&c, &f, &st, err, sizeof(err)), TS_ERR_IO);
    cr_expect(strstr(err, "/nonexistent/posts.txt") != NULL, "%s", err);
}
