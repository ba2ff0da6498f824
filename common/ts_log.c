#include "ts_log.h"
#include "ts_buf.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

struct ts_log_ev {
    ts_buf buf;
};

int ts_log__level = TS_LOG_INFO;
static int ts_log_fd = 1;
static pthread_mutex_t ts_log_lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local ts_log_ev ts_log_tls;

static const char *const ts_log_names[] = {"debug", "info", "warn", "error", "off"};

void ts_log_set_level(ts_log_level level)
{
    ts_log__level = (int)level;
}

ts_log_level ts_log_get_level(void)
{
    return (ts_log_level)ts_log__level;
}

const char *ts_log_level_name(ts_log_level level)
{
    return (unsigned)level <= TS_LOG_OFF ? ts_log_names[level] : "?";
}

ts_err ts_log_level_parse(const char *s, ts_log_level *level)
{
    for (int i = 0; i <= TS_LOG_OFF; i++) {
        if (!strcasecmp(s, ts_log_names[i])) {
            *level = (ts_log_level)i;
            return TS_OK;
        }
    }
    return TS_ERR_INVALID;
}

void ts_log_set_fd(int fd)
{
    ts_log_fd = fd;
}

static void ts_log_key(ts_log_ev *ev, const char *key)
{
    ts_buf_putc(&ev->buf, ',');
    ts_buf_json_str(&ev->buf, key, strlen(key));
    ts_buf_putc(&ev->buf, ':');
}

static ts_log_ev *ts_log_vbegin(ts_log_level level, const char *component, const char *fmt,
                                va_list ap)
{
    ts_log_ev *ev = &ts_log_tls;
    char msg[1024], when[40];
    struct timespec now;
    struct tm tm;
    int n;

    if (!ts_log_enabled(level) || level >= TS_LOG_OFF)
        return NULL;
    if (!ev->buf.data)
        ts_buf_init(&ev->buf, 1 << 20);
    ts_buf_reset(&ev->buf);
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    n = (int)strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof(when) - (size_t)n, ".%03ldZ", now.tv_nsec / 1000000);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    ts_buf_printf(&ev->buf, "{\"time\":\"%s\",\"level\":\"%s\",\"component\":", when,
                  ts_log_names[level]);
    ts_buf_json_str(&ev->buf, component, strlen(component));
    ts_buf_puts(&ev->buf, ",\"msg\":");
    ts_buf_json_str(&ev->buf, msg, strlen(msg));
    return ev;
}

ts_log_ev *ts_log_begin(ts_log_level level, const char *component, const char *fmt, ...)
{
    ts_log_ev *ev;
    va_list ap;

    va_start(ap, fmt);
    ev = ts_log_vbegin(level, component, fmt, ap);
    va_end(ap);
    return ev;
}

void ts_log_str(ts_log_ev *ev, const char *key, const char *val, size_t len)
{
    if (!ev)
        return;
    ts_log_key(ev, key);
    if (val)
        ts_buf_json_str(&ev->buf, val, len);
    else
        ts_buf_puts(&ev->buf, "null");
}

void ts_log_cstr(ts_log_ev *ev, const char *key, const char *val)
{
    ts_log_str(ev, key, val, val ? strlen(val) : 0);
}

void ts_log_int(ts_log_ev *ev, const char *key, int64_t val)
{
    if (!ev)
        return;
    ts_log_key(ev, key);
    ts_buf_printf(&ev->buf, "%lld", (long long)val);
}

void ts_log_dbl(ts_log_ev *ev, const char *key, double val)
{
    if (!ev)
        return;
    ts_log_key(ev, key);
    if (isfinite(val))
        ts_buf_printf(&ev->buf, "%.6g", val);
    else
        ts_buf_puts(&ev->buf, "null");
}

void ts_log_write_line(const char *line, size_t len)
{
    size_t off = 0;
    ssize_t w;

    if (!line)
        return;
    pthread_mutex_lock(&ts_log_lock);
    while (off < len) {
        w = write(ts_log_fd, line + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    pthread_mutex_unlock(&ts_log_lock);
}

void ts_log_end(ts_log_ev *ev)
{
    if (!ev)
        return;
    ts_buf_puts(&ev->buf, "}\n");
    if (ts_buf_status(&ev->buf))
        return; /* out of memory: drop the line rather than write half of it */
    ts_log_write_line(ev->buf.data, ev->buf.len);
}

void ts_logf(ts_log_level level, const char *component, const char *fmt, ...)
{
    ts_log_ev *ev;
    va_list ap;

    va_start(ap, fmt);
    ev = ts_log_vbegin(level, component, fmt, ap);
    va_end(ap);
    ts_log_end(ev);
}
