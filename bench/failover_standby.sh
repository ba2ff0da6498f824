#!/usr/bin/env bash
# bench/failover_standby.sh: kill -9 of one of three instances holding about
# KEYS window keys in all, and the time until its tasks are processing on
# the other two, without and with standby replicas.
#
#   bench/failover_standby.sh [KEYS] [STANDBYS...]   (default 1000000, "0 1")
#
# For each number of standbys, one tagstream-drill run: three instances, six
# partitions, KEYS distinct tags fed (a window retention of a day: no key
# expires), then one instance is killed with SIGKILL and kept down for 40 s,
# longer than the session timeout (6 s), so that its tasks move to the
# others. From the processors' logs it prints the breakdown of kill -> its
# tasks processing elsewhere:
#   detection  kill -> the survivors are revoked (the broker noticed the dead
#              member: the session timeout, a setting, not tagstream's work)
#   rebalance  revoked -> the survivors' new assignment
#   restore    assignment -> every task of the survivors restored (moved
#              tasks: full restore without standbys, tail with them)
#   total      kill -> processing elsewhere, and without the detection
# The first commit of a task follows its restore within commit.interval.ms
# (100 ms). It also prints what the standbys cost: the instances' state
# directories, their largest resident memory and the CPU time they used
# (sampled every second from /proc). Uses $TAGSTREAM_BENCH_BOOTSTRAP or a
# one-node cluster of its own, like the other benchmarks.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

keys=${1:-1000000}
shift || true
standbys=("$@")
((${#standbys[@]})) || standbys=(0 1)
# shellcheck source=bench/lib.sh
. bench/lib.sh
drill=$build/bin/tagstream-drill
bench_build tagstream-drill tagstream-processor
bench_setup failover

ms() { date -d "$1" +%s%3N; }
# time of the first line of file $1 matching $2 at or after ms $3
first_after() {
  local t
  grep "$2" "$1" | sed 's/.*"time":"\([^"]*\)".*/\1/' | while read -r t; do
    if (($(ms "$t") >= $3)); then
      ms "$t"
      break
    fi
  done
}

# sample RSS (kB) and CPU ticks of the processors under $1 every second
sample() {
  local dir=$1 out=$2 pid rss cpu
  while sleep 1; do
    for pid in $(pgrep -f -- "--state.dir $dir/" || true); do
      rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null) || continue
      cpu=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) || continue
      echo "$pid $rss $cpu" >>"$out"
    done
  done
}

for sb in "${standbys[@]}"; do
  dir=$work/drill-$sb
  sample "$dir" "$work/sample-$sb" &
  bench_pids+=($!)
  "$drill" --bootstrap.servers "$bootstrap" --topic.prefix "bench-failover-$sb" \
    --work.dir "$dir" --keep.work.dir \
    --fault kill9 --kill9.when processing --cycles 1 --instances 3 --partitions 6 \
    --preload "$keys" --records $((keys + keys / 20)) --tags $((keys * 10)) \
    --hot.share 0 --junk.share 0 --rate 100000 --window.retention.ms 86400000 \
    --timeout.ms 1800000 --delay.min.ms 3000 --delay.max.ms 3000 \
    --down.min.ms 40000 --down.max.ms 40000 --session.timeout.ms 6000 \
    --num.standby.replicas "$sb" >"$work/drill-$sb.out" 2>&1 || {
    cat "$work/drill-$sb.out"
    exit 1
  }
  kill "${bench_pids[-1]}" 2>/dev/null || true
  grep -E '^  (missing|duplicate|wrong count) ' "$work/drill-$sb.out" | tr -s ' '

  # The victim: the instance with a second run; it was killed down-ms
  # before that run started.
  victim_log=$(ls "$dir"/instance-*.run-2.log | head -1)
  victim=$(basename "$victim_log" | sed 's/instance-\([0-9]*\).*/\1/')
  down=$(grep -E '^ +1 +'"$victim"' +kill9 ' "$work/drill-$sb.out" | awk '{print $5}')
  start=$(ms "$(head -1 "$victim_log" | sed 's/.*"time":"\([^"]*\)".*/\1/')")
  kill=$((start - down))
  revoked=0 assigned=0 restored=0
  full=0 tail=0 replayed=0
  for log in "$dir"/instance-*.run-1.log; do
    [[ $log == "$dir/instance-$victim.run-1.log" ]] && continue
    r=$(first_after "$log" '"msg":"partitions revoked' "$kill")
    a=$(first_after "$log" '"msg":"partitions assigned' "${r:-$kill}")
    [[ -n $r && -n $a ]] || continue
    ((r > revoked)) && revoked=$r
    ((a > assigned)) && assigned=$a
    while read -r line; do
      t=$(ms "$(sed 's/.*"time":"\([^"]*\)".*/\1/' <<<"$line")")
      ((t < a || t >= start)) && continue
      if grep -q '"msg":"restoring task' <<<"$line"; then
        grep -q '"kind":"full"' <<<"$line" && full=$((full + 1)) || tail=$((tail + 1))
      else
        ((t > restored)) && restored=$t
        replayed=$((replayed + $(sed 's/.*"records":\([0-9]*\).*/\1/' <<<"$line")))
      fi
    done < <(grep -E '"msg":"(restoring task 1_[0-9]+","kind"|task 1_[0-9]+ restored")' "$log")
  done
  echo "== num.standby.replicas=$sb, $keys keys: kill -9 of instance $victim =="
  echo "  detection (session timeout)   $((revoked - kill)) ms"
  echo "  rebalance                     $((assigned - revoked)) ms"
  echo "  restore                       $((restored - assigned)) ms ($full full, $tail tail, $replayed records replayed)"
  echo "  kill -> processing elsewhere  $((restored - kill)) ms; without the detection $((restored - revoked)) ms"
  du -sk "$dir"/instance-*/ 2>/dev/null | awk '{printf "  state directory %s: %d MiB\n", $2, $1 / 1024}'
  sort -n -k2 "$work/sample-$sb" | tail -1 | awk '{printf "  largest RSS of a processor: %d MiB\n", $2 / 1024}'
  awk '{if ($3 > cpu[$1]) cpu[$1] = $3} END {for (p in cpu) s += cpu[p]; printf "  CPU time of the processors: %.1f s\n", s / 100}' "$work/sample-$sb"
done
