/*
 * httpget: read a tagstream binary's HTTP endpoint (/health, /ready,
 * /metrics) over loopback in integration tests.
 */
#ifndef TESTKIT_HTTPGET_H
#define TESTKIT_HTTPGET_H

#include "proc.h"

/* GET http://127.0.0.1:port/path (5 s timeout). Returns the status, 0 when
 * nothing answered; *body is the body, malloc'd ("" when none), which the
 * caller frees. */
int tk_http_get(int port, const char *path, char **body);

/* The value of one sample line ("name{labels} value", at the start of a
 * line) in a Prometheus exposition; -1 if there is none. */
double tk_sample(const char *text, const char *series);

/* The port a binary logged ("HTTP endpoint on port N"; the last such line),
 * waiting up to timeout_ms for it. Fails the test if it never said. */
int tk_logged_http_port(const tk_proc *p, int timeout_ms);

#endif
