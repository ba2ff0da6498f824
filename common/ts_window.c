#include "ts_window.h"

int64_t ts_window_start(int64_t ts, int64_t size)
{
    int64_t rem = ts % size;

    if (rem < 0) {
        rem += size;
        /* ts - rem would fall below INT64_MIN */
        if (ts < INT64_MIN + rem)
            return INT64_MIN;
    }
    return ts - rem;
}

int64_t ts_time_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    return a + b;
}

int64_t ts_window_end(int64_t start, int64_t size)
{
    return ts_time_add(start, size);
}

int ts_window_closed(int64_t end, int64_t grace, int64_t stream_time)
{
    int64_t close = ts_time_add(end, grace);

    if (close == INT64_MAX)
        return 0;
    return close <= stream_time;
}
