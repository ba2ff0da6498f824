#!/usr/bin/env bash
# bench/vs_kstreams.sh: tagstream against Kafka Streams 4.4 running the same
# topology (bench/kstreams/) on the same input, on one local broker.
#
#   bench/vs_kstreams.sh [RECORDS] [RUNS] [TAGS]   (default 1000000, 2, 100000)
#
# Fills one input topic (3 partitions) with RECORDS synthetic hashtags (Zipf
# over TAGS tags in several scripts and case spellings, event time 1 ms
# apart, so 20 s windows keep closing), then runs tagstream-processor and
# the Kafka Streams application alternately, RUNS times each, every run
# with a fresh application id, output topic and state directory. Both are
# exactly-once (v2) with a 100 ms commit interval; tagstream writes
# output.format=long, which is Kafka Streams' String/Long result. One
# watcher (bench/kstreams Watch) judges both from outside: a run is over when
# its group has committed every input and repartitioned record; the end time
# is the broker's append time of the last result (the output topics use
# LogAppendTime).
#
# Prints per run: records/s from the process start and from ready to the
# last result, CPU-s per million records, peak RSS (VmHWM), the broker's CPU
# during the run and the number of results; then the medians and their
# ratios. Fails if any run's results differ from the first tagstream run's
# (compared per tag, in order).
#
# Needs Java 17+ and Maven: the Kafka Streams application is built into
# $build/kstreams. KSTREAMS_JAVA_OPTS (e.g. -Xmx512m) and KSTREAMS_THREADS
# (default 1) tune it; TAGSTREAM_BENCH_FLAGS adds processor flags. Uses the
# cluster at $TAGSTREAM_BENCH_BOOTSTRAP if set (then the broker's CPU is not
# measured); otherwise starts a one-node cluster in a temporary directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

records=${1:-1000000}
runs=${2:-2}
tags=${3:-100000}
partitions=3
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_build tagstream-processor tagstream-producer
kdir=$PWD/$build/kstreams
echo "bench: building the Kafka Streams application into $kdir"
mvn -q -B -Dstyle.color=never -f bench/kstreams/pom.xml -Dts.out="$kdir" \
  -Dmaven.test.skip=true package >"${TMPDIR:-/tmp}/vs_kstreams.mvn.$$.log" 2>&1 || {
  cat "${TMPDIR:-/tmp}/vs_kstreams.mvn.$$.log"
  exit 1
}
rm -f "${TMPDIR:-/tmp}/vs_kstreams.mvn.$$.log"
cp=$kdir/tagstream-kstreams-bench-1.jar:$kdir/lib/*
jlog=-Dorg.slf4j.simpleLogger.defaultLogLevel=warn
bench_setup vs-kstreams

broker_pid=
if ((bench_own_cluster)); then
  broker_pid=$(cat "$TAGSTREAM_KAFKA_DIR/nodes/1/pid")
fi
tick=$(getconf CLK_TCK)
now_ms() { date +%s%3N; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

input=vs-in
bench_topic "$input" "$partitions"
start_ms=$(($(now_ms) - records - 600000)) # in the past, ending before now
echo "bench: producing $records records over $tags tags into $input ($partitions partitions)"
"$build/bin/tagstream-producer" --bootstrap.servers "$bootstrap" --topic "$input" \
  --http.listen "" --source synthetic --synthetic.rate 0 --synthetic.count "$records" \
  --synthetic.vocabulary "$tags" --synthetic.tags.per.post 1 \
  --synthetic.start.ms "$start_ms" --synthetic.step.ms 1 >"$work/producer.log"

# run KIND N: one run; appends "kind start_rps ready_rps cpu_per_m rss_mib
# broker_cpu_s outputs" to $work/rows and leaves the sorted results in
# $work/KIND-N.out.
run() {
  local kind=$1 n=$2 app out pid t0 tr b0 c1 b1 hwm done_ms last outputs port=18500
  app=vs-$kind-$n-$$
  out=$app-out
  infra/local/kafka tool kafka-topics --bootstrap-server "$bootstrap" --create --topic "$out" \
    --partitions "$partitions" --replication-factor 1 \
    --config message.timestamp.type=LogAppendTime >/dev/null
  b0=$([[ -n $broker_pid ]] && ticks "$broker_pid" || echo 0)
  t0=$(now_ms)
  if [[ $kind == tagstream ]]; then
    # shellcheck disable=SC2086 # the extra flags are meant to split
    "$build/bin/tagstream-processor" --bootstrap.servers "$bootstrap" --application.id "$app" \
      --input.topic "$input" --output.topic "$out" --state.dir "$work/state-$app" \
      --replication.factor 1 --output.format long --http.listen "127.0.0.1:$port" \
      --log.level warn ${TAGSTREAM_BENCH_FLAGS:-} >"$work/$app.log" 2>&1 &
  else
    # shellcheck disable=SC2086
    java ${KSTREAMS_JAVA_OPTS:-} "$jlog" -cp "$cp" tagstream.bench.TagCount "$bootstrap" "$app" \
      "$input" "$out" "$work/state-$app" "${KSTREAMS_THREADS:-1}" >"$work/$app.log" 2>&1 &
  fi
  pid=$!
  bench_pids+=("$pid")
  java "$jlog" -cp "$cp" tagstream.bench.Watch "$bootstrap" "$app" "$input" "$out" \
    "$work/$app.results" 1800000 >"$work/$app.watch" 2>&1 &
  local watch=$!
  tr=
  while [[ -z $tr ]]; do
    kill -0 "$pid" 2>/dev/null || {
      cat "$work/$app.log"
      exit 1
    }
    if [[ $kind == tagstream ]]; then
      [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ready") == 200 ]] &&
        tr=$(now_ms)
    else
      tr=$(sed -n 's/^ready \([0-9]*\)$/\1/p' "$work/$app.log")
    fi
    [[ -n $tr ]] || sleep 0.05
  done
  until grep -q '^done ' "$work/$app.watch"; do
    kill -0 "$watch" 2>/dev/null || {
      cat "$work/$app.watch"
      exit 1
    }
    sleep 0.05
  done
  c1=$(ticks "$pid")
  b1=$([[ -n $broker_pid ]] && ticks "$broker_pid" || echo 0)
  hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
  wait "$watch"
  kill -TERM "$pid"
  wait "$pid" || true
  done_ms=$(sed -n 's/^done \([0-9]*\)$/\1/p' "$work/$app.watch")
  read -r outputs last < <(sed -n 's/^outputs \([0-9]*\) last_output_ms \([0-9]*\)$/\1 \2/p' "$work/$app.watch")
  ((last > 0)) || last=$done_ms
  sort -s -t $'\t' -k1,1 "$work/$app.results" >"$work/$kind-$n.out"
  awk -v k="$kind" -v r="$records" -v t0="$t0" -v tr="$tr" -v last="$last" -v c="$c1" \
    -v b="$((b1 - b0))" -v tick="$tick" -v hwm="$hwm" -v o="$outputs" 'BEGIN {
      printf "%s %.0f %.0f %.2f %.0f %.2f %d %.2f\n", k, r * 1000 / (last - t0),
        r * 1000 / (last - tr), c / tick / (r / 1e6), hwm / 1024, b / tick, o, (tr - t0) / 1000
    }' >>"$work/rows"
  tail -1 "$work/rows" | awk '{ printf "bench: %-9s run: %8d rec/s from start, %8d from ready, %5.2f CPU-s/M, %5d MiB, %d results\n", $1, $2, $3, $4, $5, $7 }'
}

: >"$work/rows"
for ((n = 1; n <= runs; n++)); do
  run tagstream "$n"
  run kstreams "$n"
done

echo
printf '%-10s %12s %12s %10s %10s %10s %10s %9s\n' "" "rec/s start" "rec/s ready" "CPU-s/M" \
  "RSS MiB" "broker s" "results" "ready s"
awk '{ printf "%-10s %12d %12d %10.2f %10d %10.2f %10d %9.2f\n", $1, $2, $3, $4, $5, $6, $7, $8 }' "$work/rows"
median() { awk -v k="$1" -v f="$2" '$1 == k { print $f }' "$work/rows" | sort -g |
  awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
echo
echo "medians and ratios (tagstream / Kafka Streams; for CPU and RSS Kafka Streams / tagstream):"
for f in 2:rec/s_from_start 3:rec/s_from_ready 4:CPU-s_per_M 5:peak_RSS_MiB 6:broker_CPU-s 8:ready_s; do
  i=${f%%:*}
  ts=$(median tagstream "$i")
  ks=$(median kstreams "$i")
  awk -v n="${f#*:}" -v a="$ts" -v b="$ks" -v i="$i" 'BEGIN {
    r = (i == 2 || i == 3) ? (b > 0 ? a / b : 0) : (a > 0 ? b / a : 0)
    printf "  %-18s tagstream %10.2f   kstreams %10.2f   ratio %6.2fx\n", n, a, b, r
  }'
done

fail=0
for f in "$work"/*-*.out; do
  if ! cmp -s "$work/tagstream-1.out" "$f"; then
    echo "bench: results of $(basename "$f" .out) differ from tagstream-1:"
    diff "$work/tagstream-1.out" "$f" | head -10
    fail=1
  fi
done
if ((fail)); then
  exit 1
fi
echo "results: identical in all $((2 * runs)) runs ($(wc -l <"$work/tagstream-1.out") records each)"
