# Producer tests: unit tests (label unit) and, against the real broker and
# local fake X and Mastodon servers, integration tests (label integration).
if(NOT TARGET ts_producer)
  return()
endif()

set(TS_PRODUCER_FIXTURES ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/producer)

foreach(t backoff split hashtag post config synth file)
  ts_unit_test(test_producer_${t} ts_producer)
  target_compile_definitions(test_producer_${t} PRIVATE TS_FIXTURES="${TS_PRODUCER_FIXTURES}")
endforeach()
