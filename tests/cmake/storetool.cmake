# tagstream-store, the operator tool. Unit tests (label unit): stores built
# with ts_store in a temporary state directory, no broker; one runs the
# binary against a store held open read-write. Integration tests (label
# integration): a real processor on the real broker, inspected while it runs.
if(NOT TARGET tagstream-store)
  return()
endif()

ts_unit_test(test_store_tool ts_store_tool)
# One binary, split by what is tested: the output of the reading commands
# (test_store_tool.c), the errors and usage (test_store_tool_errors.c).
target_sources(test_store_tool PRIVATE unit/test_store_tool_errors.c unit/store_tool_kit.c)
add_dependencies(test_store_tool tagstream-store)
set_tests_properties(test_store_tool PROPERTIES ENVIRONMENT "TAGSTREAM_BIN=${CMAKE_BINARY_DIR}/bin")

if(TARGET tagstream-processor)
  ts_integration_test(test_store_tool_live ts_store_tool)
  add_dependencies(test_store_tool_live tagstream-store tagstream-processor)
  set_tests_properties(test_store_tool_live PROPERTIES TIMEOUT 300)
endif()
