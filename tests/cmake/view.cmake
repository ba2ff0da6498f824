# tagstream-view: the view and its HTTP side without a broker (`unit`), and
# the page in a real browser against a real broker (`integration`).
ts_unit_test(test_view ts_view PkgConfig::JANSSON)

# Chromium reads the page over loopback; the screenshot and the DOM it
# showed stay in build/tests/artifacts.
target_sources(ts_testkit PRIVATE support/browser.c)
target_link_libraries(ts_testkit PUBLIC PkgConfig::JANSSON)
ts_integration_test(test_view_browser ts_common PkgConfig::JANSSON)
set_property(TEST test_view_browser APPEND PROPERTY ENVIRONMENT
  "TAGSTREAM_ARTIFACT_DIR=${CMAKE_CURRENT_BINARY_DIR}/artifacts")
file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/artifacts)
