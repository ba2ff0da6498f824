#!/usr/bin/env bash
# infra/aws/store-exec, the ECS Exec path to tagstream-store, without an AWS
# account: a fake `aws` first on PATH records every command line and answers
# describe-stacks and list-tasks as the CLI would; for execute-command it
# plays the container: it runs the --command line as ECS Exec does (no
# shell, split at spaces) in the processor's environment, with the state
# directory mapped onto a real store that a real tagstream-processor built
# on the local broker. So the test checks the exact command lines and that
# the command they carry works on a real store.
#
#   test_store_exec.sh SOURCE_DIR BIN_DIR    (TAGSTREAM_KAFKA_DIR: the cluster)
set -euo pipefail

SRC=${1:?usage: test_store_exec.sh SOURCE_DIR BIN_DIR}
BIN=${2:?usage: test_store_exec.sh SOURCE_DIR BIN_DIR}
KAFKA=$SRC/infra/local/kafka
EXEC=$SRC/infra/aws/store-exec

fails=0
pass() { echo "ok: $*"; }
fail() {
  echo "FAIL: $*" >&2
  fails=$((fails + 1))
}

work=$(mktemp -d /tmp/ts-store-exec-XXXXXX)
app="storeexec-$$-$(date +%s)"
proc_pid=
cleanup() {
  [[ -z $proc_pid ]] || kill -KILL "$proc_pid" 2>/dev/null || true
  "$KAFKA" tool kafka-topics --delete --if-exists --topic "$app-.*" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

bootstrap=$("$KAFKA" bootstrap)
[[ -n $bootstrap ]] || {
  echo "no local cluster (infra/local/kafka start; TAGSTREAM_KAFKA_DIR)" >&2
  exit 1
}

# ---- a real store: a processor counts 300 hashtags on two partitions
for t in in out; do
  "$KAFKA" tool kafka-topics --create --topic "$app-$t" --partitions 2 --replication-factor 1 >/dev/null
done
for i in $(seq 1 300); do echo "tag$((i % 7))"; done |
  "$KAFKA" tool kafka-console-producer --topic "$app-in" >/dev/null
state=$work/state
mkdir -m 0700 "$state"
"$BIN/tagstream-processor" --bootstrap.servers "$bootstrap" --application.id "$app" \
  --state.dir "$state" --input.topic "$app-in" --output.topic "$app-out" --replication.factor 1 \
  --commit.interval.ms 200 --http.listen 127.0.0.1:0 >"$work/processor.log" 2>&1 &
proc_pid=$!
keys=0
for _ in $(seq 1 120); do
  # the store may not exist yet: the tool then fails, and that is no error here
  keys=$({ "$BIN/tagstream-store" tasks --state-dir "$state" --application-id "$app" --format csv 2>/dev/null ||
    true; } | awk -F, 'NR > 1 { k += $2 } END { print k + 0 }')
  ((keys >= 7)) && break
  sleep 0.5
done
kill -TERM "$proc_pid"
wait "$proc_pid" || fail "the processor did not exit 0 on SIGTERM (log: $(tail -3 "$work/processor.log"))"
proc_pid=
((keys >= 7)) || {
  echo "the processor stored only $keys keys; its log:" >&2
  tail -20 "$work/processor.log" >&2
  exit 1
}
# counted again once it has stopped: what the tool must show through ECS Exec
keys=$("$BIN/tagstream-store" tasks --state-dir "$state" --application-id "$app" --format csv |
  awk -F, 'NR > 1 { k += $2 } END { print k + 0 }')
pass "a processor stored $keys window keys in $state"

# ---- the fake aws
mkdir "$work/fakebin"
cat >"$work/fakebin/aws" <<'EOF'
#!/usr/bin/env bash
# Records its argv (one argument a line, a blank line after), answers as
# the AWS CLI would, and runs execute-command's --command as the container.
{ printf '%s\n' "$@"; echo; } >>"$FAKE_AWS_LOG"
args=("$@")
while [[ ${1:-} == --region ]]; do shift 2; done
case "$1 $2" in
  "cloudformation describe-stacks")
    printf 'tagstream-app\ttagstream-app-ProcessorService-Ab12\t%s\n' "$FAKE_APP" ;;
  "ecs list-tasks")
    echo "arn:aws:ecs:eu-west-1:123456789012:task/tagstream-app/0a1b2c3d arn:aws:ecs:eu-west-1:123456789012:task/tagstream-app/4e5f6a7b" ;;
  "ecs execute-command")
    cmd=
    for ((i = 0; i < ${#args[@]}; i++)); do
      [[ ${args[i]} == --command ]] && cmd=${args[i + 1]}
    done
    # ECS Exec: no shell, the line split at spaces, the container's
    # environment and file system (its state directory is ours here).
    read -r -a words <<<"${cmd//\/var\/lib\/tagstream/$FAKE_STATE_DIR}"
    exec env -i PATH="$FAKE_CONTAINER_PATH" HOME=/nonexistent \
      TAGSTREAM_BOOTSTRAP_SERVERS="$FAKE_BOOTSTRAP" TAGSTREAM_APPLICATION_ID="$FAKE_APP" \
      TAGSTREAM_STATE_DIR=/var/lib/tagstream TAGSTREAM_KAFKA_SECURITY_PROTOCOL=PLAINTEXT \
      "${words[@]}" ;;
  *) echo "fake aws: unexpected $*" >&2; exit 255 ;;
esac
EOF
chmod +x "$work/fakebin/aws"
export FAKE_AWS_LOG=$work/aws.log FAKE_APP=$app FAKE_STATE_DIR=$state FAKE_BOOTSTRAP=$bootstrap
export FAKE_CONTAINER_PATH=$BIN:/usr/bin:/bin
export PATH=$work/fakebin:$PATH

# the argv of the nth aws call (1-based), one argument a line
call() { awk -v n="$1" 'BEGIN { RS = ""; FS = "\n" } NR == n { print }' "$FAKE_AWS_LOG"; }
expect_call() {
  local n=$1 got want
  shift
  got=$(call "$n")
  want=$(printf '%s\n' "$@")
  if [[ $got == "$want" ]]; then
    pass "aws call $n: $*"
  else
    fail "aws call $n: expected"$'\n'"$want"$'\n'"got"$'\n'"$got"
  fi
}

# ---- tasks in the first task
: >"$FAKE_AWS_LOG"
out=$("$EXEC" --region eu-west-1 tagstream-app tasks --format csv)
expect_call 1 --region eu-west-1 cloudformation describe-stacks --stack-name tagstream-app --query \
  "Stacks[0].[Outputs[?OutputKey=='ClusterName'].OutputValue|[0],Outputs[?OutputKey=='ProcessorServiceName'].OutputValue|[0],Parameters[?ParameterKey=='ApplicationId'].ParameterValue|[0]]" \
  --output text
expect_call 2 --region eu-west-1 ecs list-tasks --cluster tagstream-app --service-name \
  tagstream-app-ProcessorService-Ab12 --desired-status RUNNING --query taskArns --output text
expect_call 3 --region eu-west-1 ecs execute-command --cluster tagstream-app --task \
  arn:aws:ecs:eu-west-1:123456789012:task/tagstream-app/0a1b2c3d --container processor --interactive \
  --command "tagstream-store tasks --state-dir /var/lib/tagstream --application-id $app --format csv"
[[ -z $(call 4) ]] || fail "more than three aws calls: $(call 4)"
got=$(awk -F, 'NR > 1 { k += $2 } END { print k + 0 }' <<<"$out")
if [[ $got == "$keys" ]]; then
  pass "tasks through ECS Exec: $got keys, as the store holds"
else
  fail "tasks through ECS Exec: $got keys, the store holds $keys: $out"
fi

# ---- top in every task: one execute-command per task, the same line
: >"$FAKE_AWS_LOG"
out=$("$EXEC" --all tagstream-app top 3 --format csv 2>"$work/stderr")
for n in 3 4; do
  c=$(call "$n")
  [[ $c == *$'\n--command\ntagstream-store top --state-dir /var/lib/tagstream --application-id '"$app"$' 3 --format csv' ]] ||
    fail "--all, call $n: $c"
done
[[ $(call 3) == *task/tagstream-app/0a1b2c3d* && $(call 4) == *task/tagstream-app/4e5f6a7b* ]] ||
  fail "--all did not visit both tasks"
grep -q '^== task 4e5f6a7b$' "$work/stderr" || fail "--all does not name each task on stderr"
grep -q ',tag[0-6],' <<<"$out" && pass "top through ECS Exec in both tasks" || fail "top printed no hashtag: $out"

# ---- verify: the line carries no Kafka settings, only the container has them
: >"$FAKE_AWS_LOG"
line=$("$EXEC" --print --task 0a1b2c3d tagstream-app verify)
want="aws ecs execute-command --cluster tagstream-app --task 0a1b2c3d --container processor --interactive --command tagstream-store\\ verify\\ --state-dir\\ /var/lib/tagstream\\ --application-id\\ $app"
[[ $line == "$want" ]] && pass "--print verify: $line" || fail "--print verify: $line, expected $want"
[[ $(call 2) == "" && $(call 1) == *describe-stacks* ]] || fail "--print ran more than describe-stacks"
if "$BIN/tagstream-store" --help 2>&1 | grep -q -- '--config'; then
  "$EXEC" --task 0a1b2c3d tagstream-app verify >"$work/verify.out" 2>&1 &&
    pass "verify through ECS Exec with the container's Kafka settings" ||
    fail "verify through ECS Exec: $(cat "$work/verify.out")"
else
  echo "note: this tagstream-store reads no Kafka settings from its environment; verify's line checked, not run"
fi

# ---- refused: secrets, shell quoting, what the stack sets
for bad in "-X sasl.password=x" "--tag a;b" "--state-dir /tmp" "-X sasl.oauthbearer.token=1"; do
  read -r -a words <<<"$bad"
  : >"$FAKE_AWS_LOG"
  if "$EXEC" tagstream-app dump "${words[@]}" 2>"$work/stderr"; then
    fail "store-exec accepted: dump $bad"
  else
    rc=$?
    [[ $rc == 2 && ! -s $FAKE_AWS_LOG ]] && pass "refused before any aws call (exit 2): dump $bad" ||
      fail "dump $bad: exit $rc, aws calls: $(cat "$FAKE_AWS_LOG")"
  fi
done
: >"$FAKE_AWS_LOG"
"$EXEC" tagstream-app dump --tag "a b" 2>/dev/null && fail "store-exec accepted an argument with a space" ||
  pass "refused an argument with a space"

((fails == 0)) || {
  echo "$fails check(s) failed" >&2
  exit 1
}
echo "test_store_exec: all checks passed"
