#!/usr/bin/env bash
# bench/producer_synthetic.sh: how fast tagstream-producer's synthetic source
# fills a real local broker, and how much memory the producer needs for it.
#
#   bench/producer_synthetic.sh [RECORDS] [PARTITIONS]   (default 2000000, 6)
#
# Runs the synthetic source at full speed (synthetic.rate=0) for RECORDS
# hashtag records into a fresh topic, waits until every record is
# acknowledged (acks=all, idempotent, lz4), and prints records per second and
# the producer's peak resident set size. Uses the cluster at
# $TAGSTREAM_BENCH_BOOTSTRAP if set; otherwise starts a one-node cluster in a
# temporary directory and removes it afterwards. BUILD names the build
# directory (default: build); extra producer flags can follow in
# $TAGSTREAM_BENCH_FLAGS (e.g. "--compression.type=zstd").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

records=${1:-2000000}
partitions=${2:-6}
# shellcheck source=bench/lib.sh
. bench/lib.sh
bin=$build/bin/tagstream-producer
bench_build tagstream-producer
bench_setup producer

topic=bench-synthetic-$$
bench_topic "$topic" "$partitions"

log=$work/producer.log
timing=$work/time.txt
# shellcheck disable=SC2086 # the extra flags are meant to split
/usr/bin/time -v -o "$timing" "$bin" --bootstrap.servers="$bootstrap" --topic="$topic" \
  --http.listen= --source=synthetic --synthetic.rate=0 --synthetic.count="$records" \
  ${TAGSTREAM_BENCH_FLAGS:-} >"$log"

# From the first generated post to the last acknowledgement, by the
# producer's own log clock; the process's wall time includes start-up.
summary=$(grep '"msg":"producer stopped"' "$log")
produced=$(sed -n 's/.*"records_produced":\([0-9]*\).*/\1/p' <<<"$summary")
failures=$(sed -n 's/.*"delivery_failures":\([0-9]*\).*/\1/p' <<<"$summary")
t0=$(grep '"msg":"generating"' "$log" | sed -n 's/.*"time":"\([^"]*\)".*/\1/p')
t1=$(sed -n 's/.*"time":"\([^"]*\)".*/\1/p' <<<"$summary")
secs=$(awk -v a="$(date -d "$t0" +%s.%N)" -v b="$(date -d "$t1" +%s.%N)" 'BEGIN { print b - a }')
rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$timing")
wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$timing")
cpu_user=$(sed -n 's/.*User time (seconds): //p' "$timing")
cpu_sys=$(sed -n 's/.*System time (seconds): //p' "$timing")

printf 'records            %s (acknowledged: %s, delivery failures: %s)\n' "$records" "$produced" "$failures"
printf 'topic              %s partitions, compression %s\n' "$partitions" \
  "$(grep -o '"compression":"[a-z0-9]*"' "$log" | cut -d'"' -f4)"
printf 'generate..acked    %.2f s\n' "$secs"
printf 'records/second     %.0f\n' "$(awk -v n="$produced" -v s="$secs" 'BEGIN { print n / s }')"
printf 'process wall time  %s (user %s s, sys %s s)\n' "$wall" "$cpu_user" "$cpu_sys"
printf 'peak RSS           %.1f MiB\n' "$(awk -v k="$rss_kb" 'BEGIN { print k / 1024 }')"
infra/local/kafka tool kafka-topics --bootstrap-server "$bootstrap" --delete --topic "$topic" \
  >/dev/null 2>&1 || true
