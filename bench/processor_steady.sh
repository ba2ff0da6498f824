#!/usr/bin/env bash
# bench/processor_steady.sh: the processor's memory and store size over time
# under a steady load, across window expiry.
#
#   bench/processor_steady.sh [SECONDS] [RATE]   (default 360, 20000)
#
# The producer's synthetic source feeds RATE hashtags per second (100,000
# distinct tags, 3 partitions) with a simulated clock that starts two hours
# in the past and moves 1 ms per record, so at 20,000 records/s every
# wall-clock second is 20 s of event time: windows close all the time, and
# after three minutes the oldest windows pass the default one-hour
# retention and are deleted. Every 30 s it prints the processor's resident
# set size, records consumed, results emitted, the size of the stores' SST
# files (tagstream_store_bytes: what is still in memtables is not in it) and
# the state directory's size on disk (with the write-ahead logs); at the end
# the peak RSS and the processor's exit status after SIGTERM.
#
# Uses the cluster at $TAGSTREAM_BENCH_BOOTSTRAP if set; otherwise starts a
# one-node cluster in a temporary directory and removes it afterwards.
# BUILD names the build directory (default: build). Extra processor flags:
# $TAGSTREAM_BENCH_FLAGS.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${1:-360}
rate=${2:-20000}
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_build tagstream-processor tagstream-producer
bench_setup steady

app=bench-steady-$$
bench_topic "$app-in" 3
bench_topic "$app-out" 3
port=18450

# shellcheck disable=SC2086 # the extra flags are meant to split
"$build/bin/tagstream-processor" --bootstrap.servers "$bootstrap" --application.id "$app" \
  --input.topic "$app-in" --output.topic "$app-out" --state.dir "$work/state" \
  --replication.factor 1 --http.listen "127.0.0.1:$port" --log.level warn \
  ${TAGSTREAM_BENCH_FLAGS:-} >"$work/processor.log" 2>&1 &
proc=$!
bench_pids+=("$proc")
start_ms=$(($(date +%s%3N) - 7200000))
"$build/bin/tagstream-producer" --bootstrap.servers "$bootstrap" --topic "$app-in" \
  --http.listen "" --source synthetic --synthetic.rate "$rate" --synthetic.vocabulary 100000 \
  --synthetic.start.ms "$start_ms" --synthetic.step.ms 1 >"$work/producer.log" 2>&1 &
prod=$!
bench_pids+=("$prod")

# the sum of every series of a metric whose name (and labels) start so
metric() {
  curl -s "http://127.0.0.1:$port/metrics" |
    awk -v m="$1" 'index($1, m) == 1 { v += $2 } END { printf "%.0f", v }'
}
printf '%6s %9s %11s %9s %12s %9s\n' seconds "RSS MiB" consumed results "store bytes" "disk MiB"
for ((t = 0; t <= seconds; t += 30)); do
  rss=$(awk '/VmRSS/ { print $2 }' "/proc/$proc/status")
  printf '%6d %9d %11s %9s %12s %9s\n' "$t" $((rss / 1024)) \
    "$(metric 'tagstream_records_consumed_total{topic="input"')" \
    "$(metric tagstream_results_emitted_total)" "$(metric tagstream_store_bytes)" \
    "$(du -sm "$work/state" | cut -f1)"
  ((t + 30 <= seconds)) && sleep 30
done
hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$proc/status")
echo "peak RSS: $((hwm / 1024)) MiB (processor VmHWM)"
kill -TERM "$prod"
wait "$prod" || true
kill -TERM "$proc"
status=0
wait "$proc" || status=$?
echo "processor exit status after SIGTERM: $status"
bench_pids=()
