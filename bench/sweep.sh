#!/usr/bin/env bash
# bench/sweep.sh: how the processor's cost grows with the input size and the
# number of distinct tags.
#
#   bench/sweep.sh ["RECORDS..."] ["TAGS..."]
#       (default "100000 1000000 10000000" and "1000 100000 1000000")
#
# Runs bench/processor_throughput.sh for every pair, on one local broker
# started for the sweep (or $TAGSTREAM_BENCH_BOOTSTRAP), and prints one line
# per run: records, tags, records/s from ready, CPU-s per million records,
# peak RSS. CPU per record should stay flat and RSS bounded by
# configuration, not by the input. The table goes to $SWEEP_OUT (default
# build/sweep), with sweep.png beside it when gnuplot is installed
# (Debian: gnuplot-nox).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

sizes=${1:-100000 1000000 10000000}
keys=${2:-1000 100000 1000000}
# shellcheck source=bench/lib.sh
. bench/lib.sh
out=${SWEEP_OUT:-$build/sweep}
mkdir -p "$out"
bench_build tagstream-processor tagstream-producer
bench_setup sweep
export TAGSTREAM_BENCH_BOOTSTRAP=$bootstrap

data=$out/sweep.dat
echo "# records tags records_per_s cpu_s_per_m peak_rss_mib" >"$data"
for k in $keys; do
  for n in $sizes; do
    bench/processor_throughput.sh "$n" 3 "$k" >"$work/run.out" 2>&1 || {
      cat "$work/run.out"
      exit 1
    }
    rate=$(sed -n 's/^throughput: *\([0-9]*\) records\/s.*/\1/p' "$work/run.out")
    cpu=$(sed -n 's/^CPU per M records: *\([0-9.]*\).*/\1/p' "$work/run.out")
    rss=$(sed -n 's/^peak RSS: *\([0-9]*\) MiB.*/\1/p' "$work/run.out")
    echo "$n $k $rate $cpu $rss" >>"$data"
    printf 'sweep: %9d records %8d tags: %8d records/s, %5.2f CPU-s per M, %4d MiB\n' \
      "$n" "$k" "$rate" "$cpu" "$rss"
  done
  printf '\n\n' >>"$data" # gnuplot: one data set (index) per tag count
done
echo "sweep: figures in $data"
if command -v gnuplot >/dev/null; then
  gnuplot <<GP
set terminal png size 1200,400
set output "$out/sweep.png"
set multiplot layout 1,3
set logscale x
set xlabel "input records"
set key top left
set title "CPU-s per million records"
keys = "$keys"
plot for [i=1:words(keys)] "$data" index i-1 using 1:4 with linespoints title word(keys, i)." tags"
set title "records/s (from ready)"
plot for [i=1:words(keys)] "$data" index i-1 using 1:3 with linespoints notitle
set title "peak RSS, MiB"
plot for [i=1:words(keys)] "$data" index i-1 using 1:5 with linespoints notitle
unset multiplot
GP
  echo "sweep: plot in $out/sweep.png"
else
  echo "sweep: no gnuplot (apt-get install gnuplot-nox): no plot"
fi
