/* Milliseconds from the two clocks every part of tagstream reads. */
#ifndef TS_CLOCK_H
#define TS_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC: for intervals, deadlines and timeouts. */
int64_t ts_mono_ms(void);

/* CLOCK_MONOTONIC in microseconds: for the processor's loop accounting,
 * whose phases are often shorter than a millisecond. */
int64_t ts_mono_us(void);

/* CLOCK_REALTIME: milliseconds since the epoch, for event and wall time. */
int64_t ts_wall_ms(void);

/* CLOCK_PROCESS_CPUTIME_ID: CPU time of all the process's threads, for
 * reporting what a phase cost. */
int64_t ts_cpu_ms(void);

#endif
