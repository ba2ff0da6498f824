/*
 * ts_pstats: the producer's counters, kept as atomics so that the source
 * thread, librdkafka's delivery reports and the HTTP thread (/metrics,
 * /ready) can all touch them without a lock.
 *
 * Thread: any thread.
 */
#ifndef TS_PSTATS_H
#define TS_PSTATS_H

#include "ts_backoff.h"
#include "ts_post.h"

#include <stdatomic.h>
#include <stdint.h>

typedef struct ts_pstats {
    atomic_uint_fast64_t posts;             /* posts read from the source */
    atomic_uint_fast64_t records_sent;      /* hashtags handed to librdkafka */
    atomic_uint_fast64_t records_produced;  /* acknowledged by the brokers */
    atomic_uint_fast64_t delivery_failures; /* given up by librdkafka */
    atomic_uint_fast64_t events_ignored;    /* SSE events other than update */
    atomic_uint_fast64_t duplicates;        /* posts a resumed stream sent again */
    atomic_uint_fast64_t skipped[TS_SKIP__COUNT];
    atomic_uint_fast64_t reconnects[TS_RECONNECT__COUNT];
    atomic_int source_connected; /* a stream is open (or a file/generator runs) */
    atomic_int kafka_connected;  /* the brokers answer */
} ts_pstats;

static inline void ts_pstats_add(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t ts_pstats_get(const atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* Count a skip; returns the count before it (for ts_log_sampled). */
static inline uint64_t ts_pstats_skip(ts_pstats *s, ts_skip why)
{
    return atomic_fetch_add_explicit(&s->skipped[why], 1, memory_order_relaxed);
}

#endif
