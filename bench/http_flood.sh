#!/usr/bin/env bash
# bench/http_flood.sh: the latency of GET /health on the HTTP endpoint
# (common/ts_http.c) alone, and while hundreds of idle and slow connections
# from other loopback addresses hold on (reopened as the server closes
# them). Prints p50/p99/max in ms and the requests that got no answer; needs
# no broker.
#
#   bench/http_flood.sh [IDLE] [SLOW] [REQUESTS]   (default 400 200 200)
#
# BUILD names the build directory (default: build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_build bench_http_flood
"$build/bin/bench_http_flood" "$@"
