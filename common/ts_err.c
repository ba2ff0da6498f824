#include "ts_err.h"

#include <stdio.h>

static const char *const ts_err_names[TS_ERR__COUNT] = {
    [TS_OK] = "ok",
    [TS_ERR_INVALID] = "invalid",
    [TS_ERR_NOMEM] = "nomem",
    [TS_ERR_IO] = "io",
    [TS_ERR_NOT_FOUND] = "not_found",
    [TS_ERR_EXISTS] = "exists",
    [TS_ERR_KAFKA] = "kafka",
    [TS_ERR_STORE] = "store",
    [TS_ERR_CORRUPT] = "corrupt",
    [TS_ERR_VERSION] = "version",
    [TS_ERR_MISMATCH] = "mismatch",
    [TS_ERR_FENCED] = "fenced",
    [TS_ERR_ABORTABLE] = "abortable",
    [TS_ERR_TIMEOUT] = "timeout",
    [TS_ERR_STOPPED] = "stopped",
    [TS_ERR_DENIED] = "denied",
};

const char *ts_err_name(ts_err err)
{
    if ((unsigned)err >= TS_ERR__COUNT || !ts_err_names[err])
        return "unknown";
    return ts_err_names[err];
}

ts_err ts_seterr(ts_err err, char *errstr, size_t errstr_size, const char *fmt, ...)
{
    va_list ap;

    if (errstr && errstr_size > 0) {
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return err;
}
