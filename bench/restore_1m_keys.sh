#!/usr/bin/env bash
# bench/restore_1m_keys.sh: how fast a processor whose store holds about
# 1,000,000 keys is ready again after kill -9 (tail replay), and how fast the
# same store is rebuilt from the changelog into an empty state directory
# (full restore).
#
#   bench/restore_1m_keys.sh [KEYS]    (default 1000000)
#
# One tagstream-drill run: KEYS records, each a distinct tag (so a distinct
# window key), are fed and processed with a window retention of a day (so
# that no key expires); then cycle 1 kills the processor with SIGKILL while
# it processes a little more input and restarts it; cycle 2 stops it,
# deletes its state directory and restarts it. Prints, for each restart, the
# time from the new process's start to ready (every task restored; this
# includes rejoining the consumer group, which waits for the dead member's
# session timeout), the time of the restore itself, the changelog records
# replayed, the replay rate and the processor's CPU time over the restore
# (a figure that depends less on what else runs on the machine), and checks
# the restored store against its changelog with `tagstream-store verify`. Uses the cluster at $TAGSTREAM_BENCH_BOOTSTRAP
# if set; otherwise starts a one-node cluster in a temporary directory and
# removes it afterwards. BUILD names the build directory (default: build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

keys=${1:-1000000}
# shellcheck source=bench/lib.sh
. bench/lib.sh
drill=$build/bin/tagstream-drill
bench_build tagstream-drill tagstream-processor tagstream-store
bench_setup restore

# Distinct tags: ten times more tag names than records, no hot tags, no
# junk; a tenth of KEYS more records arrive during cycle 1.
records=$((keys + keys / 10))
"$drill" --bootstrap.servers "$bootstrap" --topic.prefix bench-restore \
  --work.dir "$work/drill" --keep.work.dir --keep.topics \
  --fault kill9,stateloss --kill9.when processing --stateloss.rekill false \
  --cycles 2 --instances 1 --partitions 3 \
  --preload "$keys" --records "$records" --tags $((keys * 10)) --hot.share 0 --junk.share 0 \
  --rate 100000 --window.retention.ms 86400000 --timeout.ms 1800000 \
  --delay.min.ms 1000 --delay.max.ms 1000 --down.max.ms 0 | tee "$work/drill.out"

# The processor's own restore lines of the two restarts (runs 2 and 3).
restores() {
  grep '"msg":"task 1_[0-9]* restored"' "$1" |
    sed 's/.*"msg":"task \(1_[0-9]*\) restored".*"records":\([0-9]*\),.*"elapsed_ms":\([0-9]*\).*/\1 \2 \3/'
}
first_restoring() {
  grep '"msg":"restoring task' "$1" | grep '"kind"' | head -1 | sed 's/.*"time":"\([^"]*\)".*/\1/'
}
last_restored() {
  grep '"msg":"task 1_[0-9]* restored"' "$1" | tail -1 | sed 's/.*"time":"\([^"]*\)".*/\1/'
}
ms() { date -d "$1" +%s%3N; }

echo
echo "== restore figures ($keys keys) =="
for run in 2 3; do
  log=$work/drill/instance-0.run-$run.log
  [[ -f $log ]] || continue
  what=$([[ $run == 2 ]] && echo "after kill -9 (local store kept)" || echo "into an empty state directory")
  kind=$(grep '"msg":"restoring task' "$log" | grep -o '"kind":"[a-z]*"' | sort | uniq -c | tr -s ' ' | tr '\n' ' ')
  total=0
  while read -r task recs elapsed; do
    total=$((total + recs))
    printf '  %-34s task %s: %8d records in %6d ms\n' "$what" "$task" "$recs" "$elapsed"
  done < <(restores "$log")
  t0=$(ms "$(first_restoring "$log")")
  t1=$(ms "$(last_restored "$log")")
  wall=$((t1 - t0))
  rate=$([[ $wall -gt 0 ]] && echo $((total * 1000 / wall)) || echo "-")
  printf '  %-34s %s; %d records replayed in %d ms (%s records/s)\n' "$what" "$kind" "$total" "$wall" "$rate"
  # the process's CPU (all threads) from a task's restore start to its end;
  # the tasks restore together, so the largest is the whole restore's
  cpu=$(sed -n 's/.*"msg":"task 1_[0-9]* restored".*"process_cpu_ms":\([0-9]*\).*/\1/p' "$log" | sort -n | tail -1)
  rss=$(sed -n 's/.*"msg":"task 1_[0-9]* restored".*"process_peak_rss_mib":\([0-9]*\).*/\1/p' "$log" | sort -n | tail -1)
  [[ -n $rss ]] && printf '  %-34s processor peak RSS at the end of the restore: %d MiB\n' "$what" "$rss"
  if [[ -n $cpu && $total -gt 0 ]]; then
    printf '  %-34s processor CPU over the restore: %d ms (%d ms per million records)\n' "$what" "$cpu" \
      $((cpu * 1000000 / total))
  fi
done
grep -E '^ +[0-9]+ +0 +(kill9|stateloss) ' "$work/drill.out" |
  awk '{printf "  restart %s (%s): joined the group %s ms and ready %s ms after the new process started\n", $1, $3, $6, $7}'
# The store the full restore rebuilt (and the processor then wrote to),
# checked key by key against its changelog.
app=$(awk '$1 == "application" { print $2 }' "$work/drill.out")
echo
echo "== tagstream-store verify (the restored store against its changelog) =="
"$build/bin/tagstream-store" verify --state-dir "$work/drill/instance-0" --application-id "$app" \
  --bootstrap-servers "$bootstrap" | tail -1
grep -q '^result: PASS' "$work/drill.out"
