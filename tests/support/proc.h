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
