# bench/lib.sh: what the benchmarks share. Sourced by them, not run.
#
# After `bench_setup NAME`: $work is a fresh temporary directory, removed at
# exit; $bootstrap is $TAGSTREAM_BENCH_BOOTSTRAP if set, or else a one-node
# local cluster started in $work/kafka and stopped at exit. Processes whose
# pids are in bench_pids get SIGTERM at exit. $build is $BUILD or build.
# shellcheck shell=bash

build=${BUILD:-build}
bench_pids=()
bench_own_cluster=0

# bench_build TARGET...: configure and build what the benchmark runs.
bench_build() {
  cmake -S . -B "$build" -G Ninja >/dev/null
  cmake --build "$build" --target "$@" >/dev/null
}

bench_cleanup() {
  local pid
  for pid in "${bench_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if ((bench_own_cluster)); then
    infra/local/kafka stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}

bench_setup() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/tagstream-bench-$1.XXXXXX")
  trap bench_cleanup EXIT
  if [[ -n ${TAGSTREAM_BENCH_BOOTSTRAP:-} ]]; then
    bootstrap=$TAGSTREAM_BENCH_BOOTSTRAP
  else
    export TAGSTREAM_KAFKA_DIR=$work/kafka
    bench_own_cluster=1
    infra/local/kafka start >/dev/null
    bootstrap=$(infra/local/kafka bootstrap)
  fi
}

# bench_topic NAME PARTITIONS: create a topic (replication factor 1).
bench_topic() {
  infra/local/kafka tool kafka-topics --bootstrap-server "$bootstrap" --create --topic "$1" \
    --partitions "$2" --replication-factor 1 >/dev/null
}
