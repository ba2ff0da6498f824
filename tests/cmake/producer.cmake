# Producer tests: unit tests (label unit) and, against the real broker and
# local fake X and Mastodon servers, integration tests (label integration).
if(NOT TARGET ts_producer)
  return()
endif()

set(TS_PRODUCER_FIXTURES ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/producer)

foreach(t backoff split hashtag post config synth file jetstream)
  ts_unit_test(test_producer_${t} ts_producer ts_testfile)
  target_compile_definitions(test_producer_${t} PRIVATE TS_FIXTURES="${TS_PRODUCER_FIXTURES}")
endforeach()

# The fake X and Mastodon servers, and running the producer against them.
add_library(ts_fakehttp STATIC support/fakehttp.c)
target_include_directories(ts_fakehttp PUBLIC support)
target_link_libraries(ts_fakehttp PUBLIC ts_testkit ts_common ts_httpget PkgConfig::MHD PkgConfig::JANSSON PkgConfig::CURL)

# The Jetstream test server runs on a Python that has the websockets
# package: Debian's python3-websockets (infra/setup) for the system Python.
find_program(TS_WS_PYTHON python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT TS_WS_PYTHON)
  find_program(TS_WS_PYTHON python3)
endif()

# ts_stream against the fake server on loopback: no broker, so label unit.
ts_unit_test(test_producer_stream ts_producer ts_fakehttp)

foreach(t x mastodon run bluesky)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_producer_${t}.c)
    ts_integration_test(test_producer_${t} ts_fakehttp ts_producer)
    target_compile_definitions(test_producer_${t} PRIVATE TS_FIXTURES="${TS_PRODUCER_FIXTURES}")
    # the producer binary is what runs
    add_dependencies(test_producer_${t} tagstream-producer)
    set_tests_properties(test_producer_${t} PROPERTIES TIMEOUT 300)
    if(t STREQUAL "bluesky")
      target_compile_definitions(test_producer_${t} PRIVATE TS_PYTHON="${TS_WS_PYTHON}")
    endif()
  endif()
endforeach()
