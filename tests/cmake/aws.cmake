# infra/aws/store-exec, the ECS Exec path to tagstream-store: its command
# lines recorded by a fake aws CLI, which runs the inner command on a store
# a real processor built on the local broker (label integration).
if(TARGET tagstream-processor AND TARGET tagstream-store)
  add_test(NAME test_store_exec
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/aws/test_store_exec.sh ${PROJECT_SOURCE_DIR} ${CMAKE_BINARY_DIR}/bin)
  set_tests_properties(test_store_exec PROPERTIES LABELS integration FIXTURES_REQUIRED kafka
    ENVIRONMENT "TAGSTREAM_KAFKA_DIR=${TS_KAFKA_DIR}" TIMEOUT 300)
endif()
