#!/bin/sh
# with_cluster.sh DIR BROKERS COMMAND [ARGS...]
#
# Run COMMAND against a private local Kafka cluster of BROKERS nodes kept in
# DIR (infra/local/kafka, TAGSTREAM_KAFKA_DIR=DIR), and stop the cluster
# afterwards, whatever COMMAND did. Exits with COMMAND's status.
set -u
dir=$1
brokers=$2
shift 2
kafka=$(cd "$(dirname "$0")/../../infra/local" && pwd)/kafka
TAGSTREAM_KAFKA_DIR=$dir
export TAGSTREAM_KAFKA_DIR
trap '"$kafka" stop >/dev/null 2>&1' EXIT
trap 'exit 130' INT TERM
if ! "$kafka" start --brokers "$brokers" >"$dir.start.log" 2>&1; then
  cat "$dir.start.log" >&2
  exit 3
fi
"$@"
