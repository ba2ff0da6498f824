#!/usr/bin/env bash
# bench/sigterm_under_load.sh: how long a processor takes from SIGTERM to
# exit while it is busy (Fargate gives a task stopTimeout, 30 s by default,
# before it kills it), and how little the restart after a graceful stop
# replays.
#
#   bench/sigterm_under_load.sh [STOPS] [RATE]    (default 8 stops, 20000 records/s)
#
# One tagstream-drill run with one instance: input is fed at RATE records per
# second (as fast as the processor takes it when it is slower), and every
# few seconds the processor gets SIGTERM, must exit 0, and is started again.
# Prints each stop's time from signal to exit, and the records the restart
# replayed. Uses the cluster at $TAGSTREAM_BENCH_BOOTSTRAP if set; otherwise
# starts a one-node cluster in a temporary directory and removes it
# afterwards. BUILD names the build directory (default: build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

stops=${1:-8}
rate=${2:-20000}
# shellcheck source=bench/lib.sh
. bench/lib.sh
drill=$build/bin/tagstream-drill
bench_build tagstream-drill tagstream-processor
bench_setup sigterm

# Enough input for the whole run at RATE: the processor is busy whenever
# SIGTERM comes (a stop every 3 to 6 s, about 7 s to rejoin after it).
records=$((rate * stops * 12))
"$drill" --bootstrap.servers "$bootstrap" --topic.prefix bench-sigterm --work.dir "$work/drill" \
  --fault sigterm --cycles "$stops" --instances 1 --partitions 3 \
  --records "$records" --preload $((rate * 5)) --rate "$rate" --tags 20000 \
  --delay.min.ms 3000 --delay.max.ms 6000 --down.max.ms 0 --timeout.ms 1800000 |
  tee "$work/drill.out"

echo
echo "== SIGTERM under load ($stops stops, input at up to $rate records/s) =="
grep -E 'stopped [0-9]+ ms after SIGTERM' "$work/drill.out" | sed 's/^\[ *[0-9.]*s\] /  /'
grep -E '^  sigterm to exit' "$work/drill.out"
grep -E '^ +[0-9]+ +0 +sigterm ' "$work/drill.out" |
  awk '{printf "  restart %s: %s changelog records replayed (%s), ready %s ms after start\n", $1, $9, $8, $7}'
grep -q '^result: PASS' "$work/drill.out"
