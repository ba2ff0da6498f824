#include "browser.h"
#include "testkit.h"

#include <criterion/criterion.h>
#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define TK_BROWSER_TIMEOUT_MS 30000

struct tk_browser {
    pid_t pid;
    pid_t pgid;
    int to;   /* our end of the browser's fd 3 (commands) */
    int from; /* our end of its fd 4 (answers and events) */
    char *in; /* bytes read, not yet a whole message */
    size_t in_len, in_cap;
    int next_id;
    char session[128];
    char profile[64];
    char log[128];
};

static const char *tk_browser_path(void)
{
    const char *p = getenv("TAGSTREAM_CHROMIUM");

    return p && *p ? p : "chromium";
}

int tk_browser_available(void)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "command -v '%s' >/dev/null 2>&1", tk_browser_path());
    return system(cmd) == 0;
}

/* One whole message (NUL-terminated on the pipe), parsed. */
static json_t *tk_browser_read(tk_browser *b, int64_t deadline)
{
    struct pollfd p = {b->from, POLLIN, 0};
    char chunk[65536];

    for (;;) {
        char *end = b->in ? memchr(b->in, '\0', b->in_len) : NULL;
        if (end) {
            size_t n = (size_t)(end - b->in) + 1;
            json_error_t jerr;
            json_t *m = json_loadb(b->in, n - 1, 0, &jerr);
            cr_assert_not_null(m, "browser sent bad JSON: %s", jerr.text);
            memmove(b->in, b->in + n, b->in_len - n);
            b->in_len -= n;
            return m;
        }
        int left = (int)(deadline - tk_now_ms());
        cr_assert_gt(left, 0, "the browser did not answer in time (log %s)", b->log);
        if (poll(&p, 1, left) <= 0)
            continue;
        ssize_t r = read(b->from, chunk, sizeof(chunk));
        cr_assert_gt(r, 0, "the browser closed its pipe (log %s)", b->log);
        if (b->in_len + (size_t)r > b->in_cap) {
            b->in_cap = (b->in_len + (size_t)r) * 2;
            b->in = realloc(b->in, b->in_cap);
            cr_assert_not_null(b->in);
        }
        memcpy(b->in + b->in_len, chunk, (size_t)r);
        b->in_len += (size_t)r;
    }
}

/* Send a command (params: taken over, may be NULL) and return its result
 * (owned by the caller); events that come first are dropped. */
static json_t *tk_browser_call(tk_browser *b, const char *method, json_t *params, int in_session)
{
    int id = ++b->next_id;
    json_t *cmd = json_pack("{s:i,s:s}", "id", id, "method", method), *m, *result;
    int64_t deadline = tk_now_ms() + TK_BROWSER_TIMEOUT_MS;
    char *text;
    size_t len, off = 0;

    if (params)
        json_object_set_new(cmd, "params", params);
    if (in_session)
        json_object_set_new(cmd, "sessionId", json_string(b->session));
    text = json_dumps(cmd, JSON_COMPACT);
    json_decref(cmd);
    len = strlen(text) + 1; /* with its NUL */
    while (off < len) {
        ssize_t w = write(b->to, text + off, len - off);
        cr_assert_gt(w, 0, "cannot write to the browser: %s", strerror(errno));
        off += (size_t)w;
    }
    free(text);
    for (;;) {
        m = tk_browser_read(b, deadline);
        if (json_integer_value(json_object_get(m, "id")) == id)
            break;
        json_decref(m);
    }
    cr_assert_null(json_object_get(m, "error"), "%s failed: %s", method,
                   json_string_value(json_object_get(json_object_get(m, "error"), "message")));
    result = json_incref(json_object_get(m, "result"));
    json_decref(m);
    return result;
}

tk_browser *tk_browser_open(const char *url)
{
    int to[2], from[2];
    tk_browser *b = calloc(1, sizeof(*b));
    char profile_arg[96];
    json_t *r;
    static int seq;

    cr_assert_not_null(b);
    snprintf(b->profile, sizeof(b->profile), "/tmp/tk-browser-XXXXXX");
    cr_assert_not_null(mkdtemp(b->profile));
    snprintf(b->log, sizeof(b->log), "/tmp/tk-browser-%d-%d.log", (int)getpid(), seq++);
    snprintf(profile_arg, sizeof(profile_arg), "--user-data-dir=%s", b->profile);
    cr_assert_eq(pipe(to), 0);
    cr_assert_eq(pipe(from), 0);
    b->pid = fork();
    cr_assert_neq(b->pid, -1);
    if (b->pid == 0) {
        const char *path = tk_browser_path();
        int fd = open(b->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        /* its own process group, so closing ends every process it made */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        /* fds 3 and 4 are the protocol's pipe; move the ends out of the way first */
        int r3 = fcntl(to[0], F_DUPFD, 10), w4 = fcntl(from[1], F_DUPFD, 10);
        dup2(r3, 3);
        dup2(w4, 4);
        for (int i = 5; i < 1024; i++)
            close(i);
        execlp(path, path, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--disable-extensions", "--hide-scrollbars",
               "--window-size=1280,900", "--remote-debugging-pipe", profile_arg, "about:blank",
               (char *)NULL);
        _exit(127);
    }
    setpgid(b->pid, b->pid);
    b->pgid = b->pid;
    close(to[0]);
    close(from[1]);
    b->to = to[1];
    b->from = from[0];
    signal(SIGPIPE, SIG_IGN);

    r = tk_browser_call(b, "Target.createTarget", json_pack("{s:s}", "url", "about:blank"), 0);
    const char *target = json_string_value(json_object_get(r, "targetId"));
    cr_assert_not_null(target);
    json_t *a = tk_browser_call(b, "Target.attachToTarget",
                                json_pack("{s:s,s:b}", "targetId", target, "flatten", 1), 0);
    snprintf(b->session, sizeof(b->session), "%s",
             json_string_value(json_object_get(a, "sessionId")));
    json_decref(a);
    json_decref(r);
    json_decref(tk_browser_call(b, "Page.enable", NULL, 1));
    json_decref(tk_browser_call(b, "Page.navigate", json_pack("{s:s}", "url", url), 1));
    for (int64_t deadline = tk_now_ms() + TK_BROWSER_TIMEOUT_MS;;) {
        char *state = tk_browser_eval(b, "location.href + ' ' + document.readyState");
        int loaded = strstr(state, url) && strstr(state, " complete");
        free(state);
        if (loaded)
            break;
        cr_assert_lt(tk_now_ms(), deadline, "%s did not load", url);
        usleep(20000);
    }
    return b;
}

char *tk_browser_eval(tk_browser *b, const char *expr)
{
    json_t *r = tk_browser_call(
        b, "Runtime.evaluate",
        json_pack("{s:s,s:b,s:b}", "expression", expr, "returnByValue", 1, "awaitPromise", 1), 1);
    json_t *res = json_object_get(r, "result"), *v;
    char *text;

    cr_assert_null(
        json_object_get(r, "exceptionDetails"), "%s threw %s", expr,
        json_string_value(json_object_get(
            json_object_get(json_object_get(r, "exceptionDetails"), "exception"), "description")));
    v = json_object_get(res, "value");
    text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("null");
    json_decref(r);
    cr_assert_not_null(text);
    return text;
}

static int tk_b64(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

void tk_browser_screenshot(tk_browser *b, const char *path)
{
    json_t *r =
        tk_browser_call(b, "Page.captureScreenshot", json_pack("{s:s}", "format", "png"), 1);
    const char *data = json_string_value(json_object_get(r, "data"));
    size_t n = data ? strlen(data) : 0, out = 0;
    unsigned char *png = malloc(n);
    unsigned acc = 0;
    int bits = 0;
    FILE *fp;

    cr_assert_not_null(data);
    cr_assert_not_null(png);
    for (size_t i = 0; i < n; i++) {
        int v = tk_b64((unsigned char)data[i]);
        if (v < 0)
            continue;
        acc = acc << 6 | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            png[out++] = (unsigned char)(acc >> bits);
        }
    }
    fp = fopen(path, "wb");
    cr_assert_not_null(fp, "cannot write %s", path);
    cr_assert_eq(fwrite(png, 1, out, fp), out);
    fclose(fp);
    free(png);
    json_decref(r);
}

static int tk_rm(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

void tk_browser_close(tk_browser *b)
{
    int status;

    if (!b)
        return;
    /* Ask it to quit; whatever is left of its process group goes after 5 s. */
    {
        const char *quit = "{\"id\":999999,\"method\":\"Browser.close\"}";
        if (write(b->to, quit, strlen(quit) + 1) < 0) {
            /* already gone */
        }
    }
    for (int i = 0; i < 100; i++) {
        if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
            b->pid = 0;
            break;
        }
        usleep(50000);
    }
    if (b->pid) {
        kill(b->pid, SIGKILL);
        waitpid(b->pid, &status, 0);
    }
    kill(-b->pgid, SIGKILL); /* its helper processes, if any outlived it */
    close(b->to);
    close(b->from);
    nftw(b->profile, tk_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(b->in);
    free(b);
}
