# Security (label security): TLS, mTLS, SASL/SCRAM and ACLs on the local
# cluster's secure listeners, with the producer, the processor and the
# store tool as users holding exactly the ACLs of infra/acls.txt.
if(TARGET tagstream-producer AND TARGET tagstream-processor AND TARGET tagstream-store)
  ts_integration_test(test_security ts_common ts_httpget)
  add_dependencies(test_security tagstream-producer tagstream-processor tagstream-store)
  set_tests_properties(test_security PROPERTIES LABELS security TIMEOUT 900)
endif()

ts_unit_test(test_kafka_security ts_common)
