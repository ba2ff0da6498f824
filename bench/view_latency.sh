#!/usr/bin/env bash
# bench/view_latency.sh: how long a committed result takes to show on
# tagstream-view's page in a real browser.
#
#   bench/view_latency.sh [COMMITS]   (default 100)
#
# Runs the browser test's latency part (tests/integration/test_view_browser.c)
# against a real broker: headless Chromium follows the page while results
# are committed one transaction at a time, and the page's own render time
# is compared with the times the commit was called and returned. Prints
# min, median, p90 and max. Uses the cluster at $TAGSTREAM_BENCH_BOOTSTRAP
# if set; otherwise starts a one-node cluster in a temporary directory and
# removes it afterwards. BUILD names the build directory (default: build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

commits=${1:-100}
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_build tagstream-view test_view_browser
bench_setup view

TAGSTREAM_TEST_BOOTSTRAP=$bootstrap TAGSTREAM_BIN=$PWD/$build/bin \
  TAGSTREAM_ARTIFACT_DIR=$work TAGSTREAM_VIEW_LATENCY_ROUNDS=$commits \
  "$build/bin/test_view_browser" --jobs 1 \
  --filter 'view_browser/shows_the_committed_results_ranked' | grep '^view: update latency'
