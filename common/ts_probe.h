/*
 * ts_probe: one HTTP GET on a TCP address, for the container's health check
 * (tagstream-probe), so that the image needs no HTTP client of its own.
 *
 * Speaks just enough HTTP/1.0 to ts_http: sends `GET path`, reads the status
 * line, and closes. Blocking, bounded by a timeout over the whole exchange.
 *
 * Thread: any; keeps no state.
 */
#ifndef TS_PROBE_H
#define TS_PROBE_H

#include "ts_err.h"

/*
 * GET http://host:port/path (host a numeric IPv4 or IPv6 address) and store
 * the response's status code in *status. Returns TS_ERR_IO when the
 * connection fails or the answer is not HTTP, TS_ERR_TIMEOUT when the whole
 * exchange takes longer than timeout_ms, TS_ERR_INVALID for a bad address
 * or path; with a message in each case.
 */
ts_err ts_probe_get(const char *host, int port, const char *path, int timeout_ms, int *status,
                    char *errstr, size_t errstr_size);

/*
 * The port of a listen address "HOST:PORT" (as http.listen takes it; an
 * IPv6 HOST in brackets). Returns TS_ERR_INVALID when there is no port in
 * 1..65535.
 */
ts_err ts_probe_listen_port(const char *listen, int *port, char *errstr, size_t errstr_size);

#endif
