#!/usr/bin/env bash
# bench/processor_throughput.sh: records per second through the whole
# topology with exactly-once on, and the processor's peak memory.
#
#   bench/processor_throughput.sh [RECORDS] [PARTITIONS] [TAGS]   (default 1000000, 3, 10000)
#
# Fills an input topic with RECORDS synthetic hashtags (Zipf over TAGS
# tags, event time advancing 1 ms per record, so windows keep closing), then
# starts tagstream-processor on it with an empty state directory and
# measures, from the moment its tasks are restored, the time until it has
# consumed every input record and every repartitioned record: both
# sub-topologies, the changelog, RocksDB and a transaction every 100 ms.
# Prints records per second and the processor's peak resident set size.
#
# Uses the cluster at $TAGSTREAM_BENCH_BOOTSTRAP if set; otherwise starts a
# one-node cluster in a temporary directory and removes it afterwards.
# BUILD names the build directory (default: build). Extra processor flags:
# $TAGSTREAM_BENCH_FLAGS.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

records=${1:-1000000}
partitions=${2:-3}
tags=${3:-10000}
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_build tagstream-processor tagstream-producer
bench_setup throughput
app=bench-$$
bench_topic "$app-in" "$partitions"
bench_topic "$app-out" "$partitions"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
start_ms=$(($(now_ms) - records - 600000)) # in the past, ending before now
echo "bench: producing $records records into $app-in ($partitions partitions)"
"$build/bin/tagstream-producer" --bootstrap.servers "$bootstrap" --topic "$app-in" \
  --http.listen "" --source synthetic --synthetic.rate 0 --synthetic.count "$records" \
  --synthetic.vocabulary "$tags" --synthetic.tags.per.post 1 \
  --synthetic.start.ms "$start_ms" --synthetic.step.ms 1 >"$work/producer.log"

port=18400
tstart=$(now_ms)
# shellcheck disable=SC2086 # the extra flags are meant to split
${TAGSTREAM_BENCH_WRAP:-} "$build/bin/tagstream-processor" --bootstrap.servers "$bootstrap" --application.id "$app" \
  --input.topic "$app-in" --output.topic "$app-out" --state.dir "$work/state" \
  --replication.factor 1 --http.listen "127.0.0.1:$port" --log.level warn \
  ${TAGSTREAM_BENCH_FLAGS:-} >"$work/processor.log" 2>&1 &
pid=$!
bench_pids+=("$pid")

metric() {
  # (awk reads everything: an early exit would fail curl with SIGPIPE)
  curl -s "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m { v = $2 } END { print v + 0 }'
}
until [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ready") == 200 ]]; do
  kill -0 "$pid" 2>/dev/null || {
    cat "$work/processor.log"
    exit 1
  }
  sleep 0.05
done
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
c0=$(cpu_ticks)
t0=$(now_ms)
# where the loop's wall-clock time goes: the counters at ready and at the end
phase() { metric "tagstream_loop_seconds_total{phase=\"$1\"}"; }
loop_phases() { echo "$(phase wait) $(phase process) $(phase commit) $(phase restore) $(metric tagstream_commit_latency_seconds_sum) $(metric tagstream_transactions_committed_total)"; }
phases0=$(loop_phases)
echo "bench: processor ready; counting"
while :; do
  in=$(metric 'tagstream_records_consumed_total{topic="input"}')
  rp=$(metric 'tagstream_records_consumed_total{topic="repartition"}')
  filtered=$(metric 'tagstream_records_filtered_total')
  if [[ ${in%.*} -ge $records && ${rp%.*} -ge $((records - ${filtered%.*})) ]]; then
    break
  fi
  sleep 0.1
done
t1=$(now_ms)
c1=$(cpu_ticks)
phases1=$(loop_phases)
# Consumed is not committed yet: wait for the next commit before reading
# the counters that describe the run.
sleep 0.5
hwm_kb=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
commits=$(metric 'tagstream_transactions_committed_total')
results=$(metric 'tagstream_results_emitted_total')
elapsed=$((t1 - t0))
echo "records:            $records input records ($partitions partitions), ${filtered%.*} filtered"
echo "time:               $elapsed ms from ready to all records consumed ($((t1 - tstart)) ms from the process start)"
echo "throughput:         $((records * 1000 / (elapsed > 0 ? elapsed : 1))) records/s from ready, $((records * 1000 / (t1 - tstart))) from the start (exactly-once, both sub-topologies)"
echo "transactions:       ${commits%.*} committed; ${results%.*} window results emitted"
tick=$(getconf CLK_TCK)
echo "processor CPU:      $(((c1 - c0) * 1000 / tick)) ms user+sys over those $elapsed ms"
echo "CPU per M records:   $(awk -v c=$((c1 - c0)) -v t="$tick" -v r="$records" 'BEGIN { printf "%.2f", c / t / (r / 1e6) }') CPU-s"
echo "peak RSS:           $((hwm_kb / 1024)) MiB (processor VmHWM)"
echo "$phases0 $phases1" | awk '{
    w = $7 - $1; p = $8 - $2; c = $9 - $3; r = $10 - $4; n = $12 - $6
    t = w + p + c + r; if (t <= 0) t = 1
    printf "loop time:          %.0f ms from ready: waiting %.0f%%, processing %.0f%%, committing %.0f%% (%d transactions, %.1f ms each), restore checks %.0f%%\n",
      t * 1000, 100 * w / t, 100 * p / t, 100 * c / t, n, (n > 0 ? ($11 - $5) * 1000 / n : 0), 100 * r / t
  }'
