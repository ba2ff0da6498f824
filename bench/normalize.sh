#!/usr/bin/env bash
# bench/normalize.sh: the cost per byte of hashtag normalization
# (common/ts_tag.c) for ASCII, mixed scripts, all capital sigma, and capital
# sigma between supplementary letters, at 4 KiB, 64 KiB and 1 MiB. Prints
# ns/byte and the ratio to ASCII of the same size; needs no broker.
#
#   bench/normalize.sh [MAX_BYTES]   (default 1048576: every size)
#
# BUILD names the build directory (default: build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_build bench_normalize
"$build/bin/bench_normalize" "${1:-1048576}"
