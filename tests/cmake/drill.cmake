# Crash and failover drills (label drill): tagstream-drill runs the real
# tagstream-processor against the real broker, injects a fault in cycles and
# checks the output record for record (docs/DRILLS.md). Every drill must end
# with 0 missing, 0 duplicate and 0 wrong results.
if(NOT TARGET tagstream-drill OR NOT TARGET tagstream-processor)
  return()
endif()

# The drill's own generator, expected output and comparison (no broker).
add_executable(test_drill_check drill/test_drill_check.c)
target_link_libraries(test_drill_check PRIVATE ts_drill PkgConfig::CRITERION)
add_test(NAME test_drill_check COMMAND test_drill_check --jobs 1)
set_tests_properties(test_drill_check PROPERTIES LABELS unit TIMEOUT 120)

# A drill on the 1-broker test cluster (CTest fixture `kafka`).
function(ts_drill_test name)
  add_test(NAME ${name} COMMAND tagstream-drill --work.dir ${CMAKE_BINARY_DIR}/drill/${name}
    --topic.prefix ${name} ${ARGN})
  set_tests_properties(${name} PROPERTIES LABELS drill FIXTURES_REQUIRED kafka
    ENVIRONMENT "TAGSTREAM_KAFKA_DIR=${TS_KAFKA_DIR};TAGSTREAM_BIN=${CMAKE_BINARY_DIR}/bin"
    TIMEOUT 600)
endfunction()
# the drill runs the processor binary built next to it
add_dependencies(tagstream-drill tagstream-processor)

# kill -9 at random moments (processing, right after a restart, as a
# restore begins), one instance.
ts_drill_test(drill_kill9_one_instance --fault kill9 --cycles 20 --instances 1 --seed 101
  --records 30000)
# Three instances in one group, one of them killed each time.
ts_drill_test(drill_kill9_three_instances --fault kill9 --cycles 10 --instances 3 --seed 102
  --partitions 6 --records 30000)
# A frozen instance (SIGSTOP past the session timeout) wakes up after the
# others took its tasks: fenced, nothing of it visible; it rejoins or exits.
# The first wakes as soon as the others took over, the second only after the
# broker aborted its transaction (transaction.timeout.ms).
ts_drill_test(drill_zombie --fault zombie --cycles 2 --instances 3 --seed 103 --records 60000)
# State directory lost while down (kill -9 or SIGTERM), full restore,
# sometimes killed again in the middle of it.
ts_drill_test(drill_state_loss --fault stateloss --cycles 3 --instances 1 --seed 104
  --records 30000)
# Graceful stops and scale out/in (new instances with empty disks).
ts_drill_test(drill_sigterm_and_scale --fault sigterm,scale --cycles 6 --instances 2 --seed 105
  --records 30000)

# One broker of a three-broker cluster stopped during processing and started
# again, then another one killed (SIGKILL) and started again; internal topics
# at replication 3, min.insync.replicas 2. It needs its
# own cluster, started and stopped around the drill; it runs after the
# 1-broker cluster is stopped, so that the machine runs one of them at a time.
add_test(NAME drill_broker_stop_start
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/drill/with_cluster.sh ${CMAKE_BINARY_DIR}/kafka3 3
    $<TARGET_FILE:tagstream-drill> --work.dir ${CMAKE_BINARY_DIR}/drill/drill_broker_stop_start
    --topic.prefix drill_broker_stop_start --fault broker --cycles 2 --instances 2 --seed 106
    --records 30000 --cluster.script ${PROJECT_SOURCE_DIR}/infra/local/kafka)
set_tests_properties(drill_broker_stop_start PROPERTIES LABELS drill DEPENDS kafka_stop
  ENVIRONMENT "TAGSTREAM_BIN=${CMAKE_BINARY_DIR}/bin" TIMEOUT 900)

# Static membership (static.membership=true): each instance killed with
# kill -9 comes back with its identity (its state directory) and takes its
# partitions back at once, without a rebalance: the drill fails if any other
# instance is revoked meanwhile. The 30 s session timeout would show as
# a rebalance (and a 30 s wait) if the identity were not recognized.
ts_drill_test(drill_kill9_static --fault kill9 --kill9.when processing --cycles 4 --instances 3
  --seed 107 --partitions 6 --records 30000 --static.membership true --session.timeout.ms 30000)

# Standby replicas (num.standby.replicas=1): graceful stops, scale out and
# in, and kill -9 while every instance keeps warm copies of the tasks it
# does not own; a moved task starts from the standby and replays its tail.
ts_drill_test(drill_standby --fault sigterm,scale,kill9 --cycles 6 --instances 3 --seed 109
  --partitions 6 --records 30000 --num.standby.replicas 1)

# A rolling deploy under load, as ECS makes one: each of three instances in
# turn gets SIGTERM and is replaced by a new one on an empty state
# directory, the next one once all process again; with standbys, which the
# new instances build while they process. The summary gives the longest
# time a task was processed by nobody.
ts_drill_test(drill_rolling_deploy --fault replace --cycles 3 --instances 3 --seed 110
  --partitions 6 --records 30000 --num.standby.replicas 1)

# The drill with MSK IAM (msk.iam=true), as it runs against the deployed
# cluster: its own clients and the processors it starts sign in through the
# local cluster's IAM listener with the test keys (tests/drill/with_iam.sh).
add_test(NAME drill_kill9_msk_iam
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/drill/with_iam.sh $<TARGET_FILE:tagstream-drill>
    --work.dir ${CMAKE_BINARY_DIR}/drill/drill_kill9_msk_iam --topic.prefix drill_kill9_msk_iam
    --fault kill9 --cycles 2 --instances 1 --seed 111 --records 5000)
set_tests_properties(drill_kill9_msk_iam PROPERTIES LABELS "drill;msk_iam" FIXTURES_REQUIRED kafka
  ENVIRONMENT "TAGSTREAM_KAFKA_DIR=${TS_KAFKA_DIR};TAGSTREAM_BIN=${CMAKE_BINARY_DIR}/bin"
  TIMEOUT 300)
# Its operator check, on the drill's own configuration: the identity and
# expiries, never the secret.
add_test(NAME drill_msk_iam_check
  COMMAND env AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
    AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY AWS_SESSION_TOKEN=SeSsIoNtOkEn
    TAGSTREAM_DRILL_MSK_IAM=true
    $<TARGET_FILE:tagstream-drill> --msk-iam-check --bootstrap.servers 127.0.0.1:9
    --msk.iam.region eu-west-1)
set_tests_properties(drill_msk_iam_check PROPERTIES LABELS msk_iam
  ENVIRONMENT "TAGSTREAM_BIN=${CMAKE_BINARY_DIR}/bin"
  PASS_REGULAR_EXPRESSION "access key:  \\*+MPLE \\(temporary, with a session token\\).*token:       [0-9]+ characters, for kafka-cluster:Connect, expires"
  FAIL_REGULAR_EXPRESSION "wJalrXUtnFEMI|EXAMPLEKEY|SeSsIoNtOkEn|AKIAIOSFODNN7")
