/* What every part of tagstream-store uses: the first failure, and paths. */
#include "ts_stool_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int ts_stool_fail(ts_stool *c, int rc, const char *fmt, ...)
{
    va_list ap;

    if (c->rc)
        return c->rc;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
    va_end(ap);
    c->rc = rc;
    return rc;
}

char *ts_stool_join(const char *a, const char *b)
{
    char *s;

    if (asprintf(&s, "%s/%s", a, b) < 0)
        return NULL;
    return s;
}
