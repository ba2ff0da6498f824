# Tests of the processor, its task and store (unit: real RocksDB, no broker).
ts_unit_test(test_task ts_processor)
ts_unit_test(test_cache ts_processor)
ts_unit_test(test_proc_config ts_processor)
ts_unit_test(test_proc_produce ts_processor)

# The processor end to end against the real broker.
ts_integration_test(test_processor ts_common PkgConfig::JANSSON)
ts_integration_test(test_processor_ops ts_store ts_httpget PkgConfig::JANSSON)
# window.close.idle.ms: a quiet stream's windows close once, across a kill -9.
ts_integration_test(test_processor_idle ts_common ts_httpget PkgConfig::JANSSON)
# num.standby.replicas: a task that moves starts from the standby of it.
ts_integration_test(test_processor_standby ts_store)

# The private state directory: ts_fs's checks, and the processor binary's
# refusals, which all come before it reaches a broker (label unit).
ts_unit_test(test_state_dir ts_common)
add_dependencies(test_state_dir tagstream-processor)
set_tests_properties(test_state_dir PROPERTIES ENVIRONMENT "TAGSTREAM_BIN=${CMAKE_BINARY_DIR}/bin")

# Restores of bad changelog records, on the real broker (ts_restore alone).
ts_integration_test(test_restore ts_recovery)
