#include "ts_skip.h"

static const char *const ts_skip_names[TS_SKIP__COUNT] = {
    "none",         "truncated", "oversize",   "invalid_utf8", "malformed_json", "error_object",
    "unrecognized", "bad_tag",   "null_value", "no_timestamp", "null_key",       "window_full"};

const char *ts_skip_name(ts_skip skip)
{
    return (unsigned)skip < TS_SKIP__COUNT ? ts_skip_names[skip] : "?";
}
