/*
 * tagstream-probe: the container's health check. Asks GET /health of the
 * processor or producer in the same container and exits 0 on a 200 answer,
 * 1 on any other answer or none (printing why on stderr), 2 on bad usage.
 *
 *   tagstream-probe [--host ADDR] [--port N] [--path /health] [--timeout-ms MS]
 *
 * The port defaults to the one of TAGSTREAM_HTTP_LISTEN (the image sets
 * 0.0.0.0:8080), else 8080; the host to 127.0.0.1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts_probe.h"

static int usage(const char *why)
{
    fprintf(stderr,
            "tagstream-probe: %s\n"
            "usage: tagstream-probe [--host ADDR] [--port N] [--path /health] [--timeout-ms MS]\n",
            why);
    return 2;
}

static int parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *path = "/health", *listen = getenv("TAGSTREAM_HTTP_LISTEN");
    int port = 8080, timeout_ms = 3000, status = 0, i;
    char err[512] = "";

    if (listen && *listen && ts_probe_listen_port(listen, &port, err, sizeof(err))) {
        fprintf(stderr, "tagstream-probe: TAGSTREAM_HTTP_LISTEN: %s\n", err);
        return 2;
    }
    for (i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (!strcmp(opt, "-h") || !strcmp(opt, "--help")) {
            printf("usage: tagstream-probe [--host ADDR] [--port N] [--path /health] [--timeout-ms "
                   "MS]\n");
            return 0;
        }
        if (!val)
            return usage("an option without its value");
        if (!strcmp(opt, "--host"))
            host = val;
        else if (!strcmp(opt, "--path"))
            path = val;
        else if (!strcmp(opt, "--port")) {
            if (parse_int(val, 1, 65535, &port))
                return usage("--port takes 1..65535");
        } else if (!strcmp(opt, "--timeout-ms")) {
            if (parse_int(val, 1, 600000, &timeout_ms))
                return usage("--timeout-ms takes 1..600000");
        } else {
            return usage("unknown option");
        }
        i++;
    }
    if (ts_probe_get(host, port, path, timeout_ms, &status, err, sizeof(err))) {
        fprintf(stderr, "tagstream-probe: %s\n", err);
        return 1;
    }
    if (status != 200) {
        fprintf(stderr, "tagstream-probe: GET http://%s:%d%s: status %d\n", host, port, path,
                status);
        return 1;
    }
    return 0;
}
