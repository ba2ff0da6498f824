# MSK IAM authentication (common/ts_aws_sigv4, ts_aws_creds, ts_msk_iam).
# Label msk_iam, which tests/run selects on every run:
#   - test_msk_iam: the signer, the credential chain against fake ECS and
#     EC2 metadata endpoints on loopback, refresh through librdkafka with
#     short lifetimes, failing endpoints (also label unit: no broker);
#   - msk_iam_vs_aws_signer: tokens byte-identical to AWS's Python signer
#     (from PyPI, pinned, in a virtual environment in the build directory
#     that the fixture msk_iam_signer makes once);
#   - test_msk_iam_broker: producer and processor through a SASL_SSL
#     OAUTHBEARER listener whose broker-side handler checks the SigV4
#     signature (tests/msk_iam/MskIamCallbackHandler.java).
ts_unit_test(test_msk_iam ts_fakehttp ts_common)
set_tests_properties(test_msk_iam PROPERTIES LABELS "unit;msk_iam")

add_executable(msk_iam_token msk_iam/msk_iam_token.c)
target_link_libraries(msk_iam_token PRIVATE ts_common)

# The operator check prints the identity and expiries, never the secret.
add_test(NAME msk_iam_check
  COMMAND env AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
    AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY AWS_SESSION_TOKEN=SeSsIoNtOkEn
    $<TARGET_FILE:tagstream-processor> --msk-iam-check --msk.iam true --msk.iam.region eu-west-1)
set_tests_properties(msk_iam_check PROPERTIES LABELS msk_iam
  PASS_REGULAR_EXPRESSION "access key:  \\*+MPLE \\(temporary, with a session token\\).*token:       [0-9]+ characters, for kafka-cluster:Connect, expires"
  FAIL_REGULAR_EXPRESSION "wJalrXUtnFEMI|EXAMPLEKEY|SeSsIoNtOkEn|AKIAIOSFODNN7")

# Not in sanitizer builds: the plain build runs the same comparison.
if(TS_SANITIZE)
  return()
endif()

set(TS_MSK_IAM_VENV ${CMAKE_BINARY_DIR}/msk-iam-venv)
add_test(NAME msk_iam_signer COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/msk_iam/venv.sh ${TS_MSK_IAM_VENV})
set_tests_properties(msk_iam_signer PROPERTIES FIXTURES_SETUP msk_iam_signer LABELS msk_iam
  TIMEOUT 600)
add_test(NAME msk_iam_vs_aws_signer
  COMMAND ${TS_MSK_IAM_VENV}/bin/python ${CMAKE_CURRENT_SOURCE_DIR}/msk_iam/compare_signer.py
    $<TARGET_FILE:msk_iam_token>)
set_tests_properties(msk_iam_vs_aws_signer PROPERTIES FIXTURES_REQUIRED msk_iam_signer
  LABELS msk_iam TIMEOUT 120)


# End to end through the local cluster's IAM listener (infra/local/kafka).
ts_integration_test(test_msk_iam_broker ts_fakehttp ts_common)
add_dependencies(test_msk_iam_broker tagstream-processor tagstream-producer)
set_tests_properties(test_msk_iam_broker PROPERTIES LABELS msk_iam TIMEOUT 600)
