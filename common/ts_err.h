/*
 * ts_err: the one error model of tagstream.
 *
 * Every fallible function returns a ts_err (TS_OK == 0) and, where a message
 * helps, fills a caller-provided `char *errstr, size_t errstr_size`.
 * Library errors (librdkafka, RocksDB, jansson, curl) are converted at the
 * wrapper that calls the library and never travel further as their own types.
 */
#ifndef TS_ERR_H
#define TS_ERR_H

#include <stdarg.h>
#include <stddef.h>

typedef enum ts_err {
    TS_OK = 0,
    TS_ERR_INVALID,   /* bad argument, configuration value or input */
    TS_ERR_NOMEM,     /* allocation failed */
    TS_ERR_IO,        /* file or socket I/O failed */
    TS_ERR_NOT_FOUND, /* the thing asked for does not exist */
    TS_ERR_EXISTS,    /* the thing to create already exists */
    TS_ERR_KAFKA,     /* a Kafka operation failed (message says which) */
    TS_ERR_STORE,     /* a RocksDB operation failed */
    TS_ERR_CORRUPT,   /* data does not decode */
    TS_ERR_VERSION,   /* data of a format version we do not understand */
    TS_ERR_MISMATCH,  /* data belongs to something else (another application) */
    TS_ERR_FENCED,    /* a newer producer or group generation took over */
    TS_ERR_ABORTABLE, /* the open transaction must be aborted, then go on */
    TS_ERR_TIMEOUT,   /* an operation did not finish in time */
    TS_ERR_STOPPED,   /* a stop was requested while waiting */
    TS_ERR_DENIED,    /* the broker refused: authentication, TLS or an ACL */
    TS_ERR__COUNT
} ts_err;

/* Short stable name of an error code ("invalid", "kafka", ...). Never NULL. */
const char *ts_err_name(ts_err err);

/*
 * Format into errstr (truncating, always NUL-terminated when errstr_size > 0)
 * and return err, so that a failure path is one line:
 *     return ts_seterr(TS_ERR_IO, errstr, errstr_size, "cannot open %s: %s", p, strerror(errno));
 * errstr may be NULL.
 */
ts_err ts_seterr(ts_err err, char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
