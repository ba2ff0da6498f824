/*
 * ts_window: tumbling-window arithmetic, as Kafka Streams' TimeWindows with
 * advance == size: windows [start, start + size) aligned to the epoch.
 * All functions are total: they saturate instead of overflowing.
 */
#ifndef TS_WINDOW_H
#define TS_WINDOW_H

#include <stdint.h>

/* Start of the window holding ts: the largest multiple of size <= ts (floor,
 * also for negative ts). size must be > 0. Saturates at INT64_MIN. */
int64_t ts_window_start(int64_t ts, int64_t size);

/* start + size, saturating at INT64_MAX (Kafka Streams does the same for
 * windows near the end of time). */
int64_t ts_window_end(int64_t start, int64_t size);

/* a + b for b >= 0, saturating at INT64_MAX. */
int64_t ts_time_add(int64_t a, int64_t b);

/*
 * A window is closed once stream time has reached its end plus the grace
 * period: end + grace <= stream_time. A record for a closed window is late;
 * a closed window's final count is emitted. Saturating: a window whose end +
 * grace passes INT64_MAX never closes.
 */
int ts_window_closed(int64_t end, int64_t grace, int64_t stream_time);

#endif
