/*
 * Kafka's default partitioner. Expected hashes come from the Java client's
 * Utils.murmur2; partitions are also checked against librdkafka's own
 * murmur2 partitioner, an independent implementation.
 */
#include "ts_murmur2.h"

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <string.h>

static const struct {
    const char *key;
    int32_t hash;
    int32_t p3, p12;
} vectors[] = {
    {"", 275646681, 0, 9},
    {"a", -1563381124, 1, 4},
    {"ab", 316155434, 2, 2},
    {"abc", 479470107, 0, 3},
    {"21", -973932308, 0, 0},
    {"foobar", -790332482, 0, 6},
    {"a-little-bit-long-string", -985981536, 2, 8},
    {"a-little-bit-longer-string", -1486304829, 2, 11},
    {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971, 2, 5},
    {"kafka", -798503068, 1, 4},
    {"i\xcc\x87stanbul", -650605695, 2, 5},
    {"\xe6\x9d\xb1\xe4\xba\xac", -1368386005, 1, 7},
    {"\xf0\x9f\x8e\x89party", -865225125, 2, 11},
};

Test(murmur2, java_vectors)
{
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        size_t n = strlen(vectors[i].key);
        cr_expect_eq(ts_murmur2(vectors[i].key, n), vectors[i].hash, "hash of \"%s\"",
                     vectors[i].key);
        cr_expect_eq(ts_murmur2_partition(vectors[i].key, n, 3), vectors[i].p3, "\"%s\" % 3",
                     vectors[i].key);
        cr_expect_eq(ts_murmur2_partition(vectors[i].key, n, 12), vectors[i].p12, "\"%s\" % 12",
                     vectors[i].key);
    }
}

Test(murmur2, agrees_with_librdkafka)
{
    char key[64];

    for (int len = 0; len < 40; len++) {
        for (int i = 0; i < len; i++)
            key[i] = (char)(0x20 + (i * 37 + len * 11) % 200);
        for (int32_t n = 1; n <= 17; n += 4) {
            int32_t want = rd_kafka_msg_partitioner_murmur2(NULL, key, (size_t)len, n, NULL, NULL);
            cr_expect_eq(ts_murmur2_partition(key, (size_t)len, n), want, "len %d, %d partitions",
                         len, n);
        }
    }
}
