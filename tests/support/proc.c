#include "proc.h"
#include "testkit.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void tk_processor_args(const tk_processor_opts *o, const char **args)
{
    const char *base[] = {"--bootstrap.servers", tk_bootstrap(), "--application.id",     o->app,
                          "--state.dir",         o->state,       "--input.topic",        o->input,
                          "--output.topic",      o->output,      "--replication.factor", "1",
                          "--http.listen",       o->http_listen};
    int n = 0;

    for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
        args[n++] = base[i];
    for (int i = 0; o->extra && o->extra[i]; i++) {
        cr_assert_lt(n, TK_PROCESSOR_ARGS_MAX - 1, "too many processor options");
        args[n++] = o->extra[i];
    }
    args[n] = NULL;
}

tk_proc tk_processor_start(const tk_processor_opts *o)
{
    const char *args[TK_PROCESSOR_ARGS_MAX];

    tk_processor_args(o, args);
    return tk_proc_start("tagstream-processor", args);
}

tk_proc tk_proc_start(const char *binary, const char *const *args)
{
    static int seq;
    const char *bin = getenv("TAGSTREAM_BIN");
    char path[512];
    const char *argv[64];
    tk_proc p;
    int n = 0, fd;

    cr_assert_not_null(bin, "TAGSTREAM_BIN is not set");
    snprintf(path, sizeof(path), "%s/%s", bin, binary);
    snprintf(p.log, sizeof(p.log), "/tmp/%s-%d-%d.log", binary, (int)getpid(), seq++);
    argv[n++] = path;
    for (int i = 0; args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    p.pid = fork();
    cr_assert_neq(p.pid, -1);
    if (p.pid == 0) {
        /* dies with the test, even when Criterion kills a test that timed out */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        fd = open(p.log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(path, (char *const *)argv);
        _exit(127);
    }
    return p;
}

int tk_proc_wait(tk_proc *p, int timeout_ms)
{
    int64_t deadline = tk_now_ms() + timeout_ms;
    int status;

    while (tk_now_ms() < deadline) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid) {
            p->pid = 0;
            return status;
        }
        usleep(20000);
    }
    return -1;
}

int tk_proc_stop(tk_proc *p, int sig, int timeout_ms)
{
    int status;

    if (p->pid <= 0)
        return -1;
    kill(p->pid, sig);
    status = tk_proc_wait(p, timeout_ms);
    if (status == -1 && p->pid > 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
    return status;
}

int tk_proc_log_count(const tk_proc *p, const char *text)
{
    FILE *fp = fopen(p->log, "r");
    char line[65536];
    int n = 0;

    if (!fp)
        return 0;
    while (fgets(line, sizeof(line), fp))
        n += strstr(line, text) != NULL;
    fclose(fp);
    return n;
}

int tk_proc_log_has(const tk_proc *p, const char *text)
{
    return tk_proc_log_count(p, text) > 0;
}

int tk_proc_wait_log(const tk_proc *p, const char *text, int timeout_ms)
{
    int64_t deadline = tk_now_ms() + timeout_ms;

    while (tk_now_ms() < deadline) {
        if (tk_proc_log_has(p, text))
            return 1;
        usleep(50000);
    }
    return 0;
}
