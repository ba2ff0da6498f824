# docs/CONFIGURATION.md is generated from the configuration tables in the
# code: `cmake --build build --target config-doc` rewrites it, and this test
# fails when the committed file differs from what the code generates.
set(_gen ${CMAKE_COMMAND} -DPROCESSOR=$<TARGET_FILE:tagstream-processor>
  -DPRODUCER=$<TARGET_FILE:tagstream-producer> -DVIEW=$<TARGET_FILE:tagstream-view>)
add_custom_target(config-doc
  COMMAND ${_gen} -DOUT=${PROJECT_SOURCE_DIR}/docs/CONFIGURATION.md
    -P ${CMAKE_CURRENT_SOURCE_DIR}/tools/gen_config_doc.cmake
  DEPENDS tagstream-processor tagstream-producer tagstream-view)
add_test(NAME config_doc_up_to_date
  COMMAND sh -c "${CMAKE_COMMAND} -DPROCESSOR='$<TARGET_FILE:tagstream-processor>' -DPRODUCER='$<TARGET_FILE:tagstream-producer>' -DVIEW='$<TARGET_FILE:tagstream-view>' -DOUT='${CMAKE_CURRENT_BINARY_DIR}/CONFIGURATION.md' -P '${CMAKE_CURRENT_SOURCE_DIR}/tools/gen_config_doc.cmake' && diff -u '${PROJECT_SOURCE_DIR}/docs/CONFIGURATION.md' '${CMAKE_CURRENT_BINARY_DIR}/CONFIGURATION.md'")
set_tests_properties(config_doc_up_to_date PROPERTIES LABELS unit)
