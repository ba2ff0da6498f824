# The container image end to end (label `image`): tests/image/test_image.sh
# builds the image with infra/image/build and runs its producer and
# processor against the test cluster, under infra/image/dockerd, which
# starts a Docker engine for the test when none answers and stops it after.
# Needs root (dockerd, debootstrap) and Debian's docker.io (infra/setup
# installs it). Not in sanitizer builds: the image builds its own binaries.
if(TS_SANITIZE)
  return()
endif()

add_test(NAME image_end_to_end
  COMMAND ${PROJECT_SOURCE_DIR}/infra/image/dockerd run ${CMAKE_CURRENT_SOURCE_DIR}/image/test_image.sh)
set_tests_properties(image_end_to_end PROPERTIES LABELS image FIXTURES_REQUIRED kafka
  ENVIRONMENT "TAGSTREAM_KAFKA_DIR=${TS_KAFKA_DIR}" TIMEOUT 1800)
