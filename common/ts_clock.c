#include "ts_clock.h"

#include <time.h>

static int64_t ts_clock_ms(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ts_mono_ms(void)
{
    return ts_clock_ms(CLOCK_MONOTONIC);
}

int64_t ts_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t ts_wall_ms(void)
{
    return ts_clock_ms(CLOCK_REALTIME);
}

int64_t ts_cpu_ms(void)
{
    return ts_clock_ms(CLOCK_PROCESS_CPUTIME_ID);
}
