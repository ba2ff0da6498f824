/*
 * ts_producer: the tagstream-producer program: configuration, the source,
 * the Kafka sink, the HTTP endpoint, and the orderly stop.
 *
 * Exit codes: 0 when the input ended or a stop was requested and every
 * record was acknowledged within shutdown.timeout.ms; 1 on a runtime error
 * (an API refused the token, the topic does not exist, the brokers cannot
 * be reached at start, records left unacknowledged at the stop); 2 on a
 * configuration or usage error (reported before any connection is made).
 */
#ifndef TS_PRODUCER_H
#define TS_PRODUCER_H

#include <stdatomic.h>

/* Run the program. *stop is set (by a signal handler) to stop it. */
int ts_producer_main(int argc, char **argv, atomic_int *stop);

#endif
