/*
 * ts_murmur2: Kafka's default partitioner, byte for byte: the Java client's
 * Utils.murmur2 (seed 0x9747b28c) and toPositive(hash) % partitions, which
 * librdkafka calls the "murmur2" partitioner.
 */
#ifndef TS_MURMUR2_H
#define TS_MURMUR2_H

#include <stddef.h>
#include <stdint.h>

/* The signed 32-bit hash Java's Utils.murmur2 returns. */
int32_t ts_murmur2(const void *key, size_t len);

/* Partition for key among n (> 0) partitions. */
int32_t ts_murmur2_partition(const void *key, size_t len, int32_t n);

#endif
