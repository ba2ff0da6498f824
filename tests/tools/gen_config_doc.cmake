# Writes docs/CONFIGURATION.md (or any OUT) from the configuration tables
# compiled into the binaries, so the doc cannot drift from the code.
#   cmake -DPROCESSOR=... -DPRODUCER=... -DVIEW=... -DOUT=... -P gen_config_doc.cmake
foreach(bin PROCESSOR PRODUCER VIEW)
  execute_process(COMMAND ${${bin}} --help-markdown OUTPUT_VARIABLE ${bin}_TABLE
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${${bin}} --help-markdown failed")
  endif()
endforeach()
file(WRITE ${OUT} "# Configuration

<!-- Generated from the configuration tables in the code by
     `cmake --build build --target config-doc`; tests/run fails when this file
     differs from what the code generates. Do not edit by hand. -->

Every key can be set, from lowest to highest precedence:

1. in a Java properties file given with `--config FILE`;
2. in the environment as `TAGSTREAM_<KEY>` (dots as underscores, upper case:
   `window.size.ms` is `TAGSTREAM_WINDOW_SIZE_MS`);
3. on the command line as `-X key=value`, `--key value` or `--key=value`.

Keys starting with `kafka.` are given to the Kafka clients (librdkafka) as
they are, without the prefix: `kafka.security.protocol=SASL_SSL`,
`kafka.sasl.mechanisms=SCRAM-SHA-512`, `kafka.ssl.ca.location=...`. An unknown
key or a bad value stops the program with a message that names the key,
before anything connects. The few client settings that exactly-once rests
on are not the operator's to change: the processor's consumers always read
`read_committed` and never commit or store offsets on their own, its
consumer group is `application.id`, and its producer's `transactional.id`
and transaction timeout come from its own keys. A `kafka.` key that names
one of them is ignored, with a warning in the log.

`msk.iam=true` authenticates to Amazon MSK with IAM: SASL/OAUTHBEARER over
TLS (it sets `kafka.security.protocol=SASL_SSL` and
`kafka.sasl.mechanisms=OAUTHBEARER` unless given) with a SigV4-signed token
for `kafka-cluster:Connect`, made from the AWS credentials of the
environment, the ECS task role or EC2 instance metadata, and renewed before
it or the credentials expire. `msk.iam.region` (or `AWS_REGION`) is the
cluster's region. `--msk-iam-check`, with the rest of the configuration,
prints the identity and the expiries it would use and exits; `tagstream-store
verify` takes the same keys as `-X msk.iam=true`. docs/DEPLOYMENT.md explains
the IAM permissions.

## tagstream-processor

${PROCESSOR_TABLE}
## tagstream-producer

${PRODUCER_TABLE}
## tagstream-view

${VIEW_TABLE}")
