/*
 * proc: run tagstream binaries as child processes in integration tests,
 * with real signals.
 */
#ifndef TESTKIT_PROC_H
#define TESTKIT_PROC_H

#include <sys/types.h>

typedef struct tk_proc {
    pid_t pid;
    char log[512]; /* its stdout and stderr */
} tk_proc;

/* Start $TAGSTREAM_BIN/<binary> with args (NULL-terminated), output to a
 * log file in /tmp. Fails the test if it cannot start. */
tk_proc tk_proc_start(const char *binary, const char *const *args);

/* The processor's command line as the tests give it: the test cluster,
 * internal topics with one replica, the given application id, state
 * directory, input and output topics and http.listen ("" for none), then
 * extra (more flags, NULL-terminated; NULL for none), which may override
 * any of these. */
typedef struct tk_processor_opts {
    const char *app, *state, *input, *output;
    const char *http_listen;
    const char *const *extra;
} tk_processor_opts;

#define TK_PROCESSOR_ARGS_MAX 64
/* Fill args (TK_PROCESSOR_ARGS_MAX entries) with that command line, without
 * the program, NULL-terminated. */
void tk_processor_args(const tk_processor_opts *o, const char **args);
/* Start tagstream-processor with it (tk_proc_start). */
tk_proc tk_processor_start(const tk_processor_opts *o);

/* Send sig and wait up to timeout_ms; returns the exit status as
 * waitpid reports it, or -1 if the process did not exit in time (it is
 * then killed). */
int tk_proc_stop(tk_proc *p, int sig, int timeout_ms);

/* Wait up to timeout_ms for the process to exit by itself; -1 if it didn't. */
int tk_proc_wait(tk_proc *p, int timeout_ms);

/* 1 if the process's log contains `text`. */
int tk_proc_log_has(const tk_proc *p, const char *text);

/* Count the lines of the log that contain `text`. */
int tk_proc_log_count(const tk_proc *p, const char *text);

/* Wait up to timeout_ms for the log to contain `text`. */
int tk_proc_wait_log(const tk_proc *p, const char *text, int timeout_ms);

#endif
