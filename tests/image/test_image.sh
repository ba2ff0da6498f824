#!/usr/bin/env bash
# tests/image/test_image.sh: the container image end to end against the
# local cluster (CTest label `image`; run by tests/run inside
# `infra/image/dockerd run`, which gives it an engine).
#
# Builds the image (infra/image/build: a warm build when nothing changed),
# then checks what the image holds and runs its binaries with
# `docker run --network host`, as a deployment runs them:
#
#   - the runtime user is not root, every shared library of every binary
#     resolves on the image's own libraries, there is no curl;
#   - the image's producer replays a file of posts into a new input topic
#     and exits 0; the image's processor counts them and writes the windowed
#     results, which must be exactly the expected ones (worked out by hand
#     below), each once;
#   - the image's HEALTHCHECK (tagstream-probe) turns the running container
#     healthy, and the probe exits 1 where nothing answers;
#   - the processor exits 0 on `docker stop` (SIGTERM).
#
# Both binaries reach Kafka over SASL_SSL with SCRAM-SHA-512, as on MSK,
# with the cluster's client property files: each as its own user
# (client-scram-producer/-processor.properties) holding only the ACLs of
# infra/acls.txt, granted here for the test's topics; with the cluster's
# client-scram.properties where only that one is written; over PLAINTEXT on
# a cluster without SASL_SSL. The test says which. Its own reads go over
# PLAINTEXT with Kafka's tools.
#
# Environment: TAGSTREAM_KAFKA_DIR (the cluster, set by CTest),
# TAGSTREAM_IMAGE (default tagstream:local), TAGSTREAM_IMAGE_NO_BUILD=1 to
# test the image as it is.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
TAG=${TAGSTREAM_IMAGE:-tagstream:local}
KAFKA=$TOP/infra/local/kafka
export TAGSTREAM_KAFKA_DIR=${TAGSTREAM_KAFKA_DIR:?TAGSTREAM_KAFKA_DIR names the cluster}
WINDOW=20000

fail() {
  echo "image test: FAILED: $*" >&2
  exit 1
}
say() { echo "image test: $*"; }

command -v python3 >/dev/null || fail "python3 is needed"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
  fail "no Docker engine answers (run under infra/image/dockerd run)"

if [[ ${TAGSTREAM_IMAGE_NO_BUILD:-0} != 1 ]]; then
  "$TOP/infra/image/build"
fi
docker image inspect "$TAG" >/dev/null || fail "no image $TAG"

ID=$$-$RANDOM
NAME=tagstream-image-test-$ID
WORK=$(mktemp -d /tmp/tagstream-image-test.XXXXXX)
INPUT=image-test-$ID-in
OUTPUT=image-test-$ID-out
APP=image-test-$ID
cleanup() {
  docker rm -f "$NAME-processor" "$NAME-producer" >/dev/null 2>&1 || true
  "$KAFKA" tool kafka-topics --delete --topic "$INPUT" >/dev/null 2>&1 || true
  "$KAFKA" tool kafka-topics --delete --topic "$OUTPUT" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---- what the image holds -------------------------------------------------

# One container for all of it (with the vfs driver each one costs a copy).
docker run --rm --network none --entrypoint sh "$TAG" -c '
  echo "uid $(id -u)"
  echo "rdkafka $(dpkg-query -W -f "\${Version}" librdkafka1)"
  if command -v curl >/dev/null; then echo curl; fi
  for b in processor producer store view probe; do
    [ -x /usr/local/bin/tagstream-$b ] || echo "absent tagstream-$b"
  done
  for b in /usr/local/bin/tagstream-*; do
    ldd "$b" | while read -r name arrow path rest; do
      case "$arrow $path" in
      "=> not") echo "notfound $b $name" ;;
      "=> /"*)
        real=$(readlink -f "$path")
        pkg=$(dpkg-query -S "$real" 2>/dev/null || dpkg-query -S "/usr$real" 2>/dev/null ||
          dpkg-query -S "${real#/usr}" 2>/dev/null || echo "?: $real")
        echo "needs ${pkg%%:*}" ;;
      esac
    done
  done' >"$WORK/facts"
uid=$(sed -n 's/^uid //p' "$WORK/facts")
[[ -n $uid && $uid != 0 ]] || fail "the image runs as root (uid '$uid')"
! grep -q '^curl$' "$WORK/facts" || fail "the image has curl"
! grep '^absent ' "$WORK/facts" || fail "binaries missing in the image"
! grep '^notfound ' "$WORK/facts" || fail "libraries missing in the image"
! grep '^needs ?' "$WORK/facts" || fail "libraries of no package in the image"
# Every library package the runtime stage installs is one a binary needs.
python3 - "$TOP/Dockerfile" "$WORK/facts" <<'EOF' || fail "the runtime stage installs packages no binary needs"
import re, sys
text = open(sys.argv[1]).read().replace("\\\n", " ")
runtime = re.split(r"^FROM ", text, flags=re.M)[-1]
m = re.search(r"apt-get install -y --no-install-recommends ([^&]*)&&", runtime)
installed = set(m.group(1).split()) - {"ca-certificates"}
needed = {l.split()[1] for l in open(sys.argv[2]) if l.startswith("needs ")}
extra = sorted(installed - needed)
if extra:
    print("installed, and needed by no binary:", *extra)
    sys.exit(1)
EOF
say "runs as uid $uid; every library of every binary resolves, from packages the runtime stage" \
  "installs (librdkafka $(sed -n 's/^rdkafka //p' "$WORK/facts")); no curl"

# ---- how the binaries reach Kafka ----------------------------------------

# A librdkafka property file as the image's environment (TAGSTREAM_KAFKA_*,
# as the AWS task definitions set it) into the named array, with the files
# it names mounted read-only at the same paths.
props_args() {
  local -n out=$1
  local file=$2 line key val
  out=()
  while IFS= read -r line; do
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    key=${line%%=*}
    val=${line#*=}
    case $key in
    bootstrap.servers) out+=(-e "TAGSTREAM_BOOTSTRAP_SERVERS=$val") ;;
    *.location)
      [[ -r $val ]] || fail "$file: $key names $val, which cannot be read"
      out+=(-v "$val:$val:ro" -e "TAGSTREAM_KAFKA_$(tr 'a-z.' 'A-Z_' <<<"$key")=$val")
      ;;
    *) out+=(-e "TAGSTREAM_KAFKA_$(tr 'a-z.' 'A-Z_' <<<"$key")=$val") ;;
    esac
  done <"$file"
  grep -q '^security.protocol=SASL_SSL' "$file" || fail "$file is not SASL_SSL"
  grep -q '^sasl.mechanisms=SCRAM-SHA-512' "$file" || fail "$file is not SCRAM-SHA-512"
}

K=$TAGSTREAM_KAFKA_DIR
if [[ -f $K/client-scram-producer.properties && -f $K/client-scram-processor.properties ]]; then
  # As on MSK: each binary its own SCRAM user, holding only its ACLs.
  MODE="SASL_SSL/SCRAM-SHA-512 as the users producer and processor, with only their ACLs"
  "$KAFKA" grant producer User:producer "topic=$INPUT" >/dev/null
  "$KAFKA" grant processor User:processor "application.id=$APP" "input.topic=$INPUT" \
    "output.topic=$OUTPUT" >/dev/null
  props_args PRODUCER_KAFKA "$K/client-scram-producer.properties"
  props_args PROCESSOR_KAFKA "$K/client-scram-processor.properties"
elif [[ -f $K/client-scram.properties ]]; then
  MODE="SASL_SSL/SCRAM-SHA-512"
  props_args PRODUCER_KAFKA "$K/client-scram.properties"
  PROCESSOR_KAFKA=("${PRODUCER_KAFKA[@]}")
else
  MODE=PLAINTEXT
  PRODUCER_KAFKA=(-e "TAGSTREAM_BOOTSTRAP_SERVERS=$("$KAFKA" bootstrap)")
  PROCESSOR_KAFKA=("${PRODUCER_KAFKA[@]}")
fi
say "the image's binaries reach Kafka over $MODE"

# ---- input and expected output -------------------------------------------

"$KAFKA" tool kafka-topics --create --topic "$INPUT" --partitions 1 --replication-factor 1 >/dev/null
"$KAFKA" tool kafka-topics --create --topic "$OUTPUT" --partitions 3 --replication-factor 1 >/dev/null

# Mastodon statuses, one hashtag each, two hours back on a window boundary,
# in one partition so that stream time is the file's order. Each line of
# expected: tag, count, window start.
python3 - "$WORK" "$WINDOW" <<'EOF'
import datetime, json, sys, time
work, W = sys.argv[1], int(sys.argv[2])
B = int(time.time() * 1000) - 2 * 3600 * 1000
B -= B % W
posts = []
def add(tag, n, ts):
    posts.extend([(tag, ts)] * n)
# window 0: case and spaces fold into one tag; 4 is not more than min.count
for i, t in enumerate(["Kafka", "KAFKA", "kafka", "kAfKa", "Kafka", "kafka"]):
    add(t, 1, B + 1 + i)
add("AWS", 5, B + 100)
add("four", 4, B + 200)
add("x", 9, B + 300)                    # one code unit: filtered
# window 1: its first post closes window 0
add("scram", 5, B + W)
add("kafka", 7, B + W + 10)
add("M\u00fcnchen", 5, B + W + 20)      # "münchen"
# window 2, then one post that closes it and stays open itself
add("tls", 6, B + 2 * W + 5)
add("closer", 1, B + 3 * W)
with open(f"{work}/posts.ndjson", "w") as f:
    for i, (tag, ts) in enumerate(posts):
        at = datetime.datetime.fromtimestamp(ts / 1000, datetime.timezone.utc)
        f.write(json.dumps({"id": str(900000 + i), "created_at": at.strftime("%Y-%m-%dT%H:%M:%S.")
                            + f"{ts % 1000:03d}Z", "content": "", "tags": [{"name": tag}]},
                           ensure_ascii=False) + "\n")
with open(f"{work}/expected", "w") as f:
    for tag, count, w in [("kafka", 6, 0), ("aws", 5, 0), ("scram", 5, 1), ("kafka", 7, 1),
                          ("m\u00fcnchen", 5, 1), ("tls", 6, 2)]:
        f.write(f"{tag}\t{count}\t{B + w * W}\n")
EOF
nexpect=$(wc -l <"$WORK/expected")

# ---- the image's producer --------------------------------------------------

t0=$(date +%s)
if ! docker run --rm -i --network host --name "$NAME-producer" "${PRODUCER_KAFKA[@]}" "$TAG" \
  tagstream-producer --source file --file.format mastodon --topic "$INPUT" \
  --http.listen "" --startup.timeout.ms 60000 <"$WORK/posts.ndjson" >"$WORK/producer.log" 2>&1; then
  tail -20 "$WORK/producer.log" >&2
  fail "the image's producer failed ($MODE)"
fi
say "the image's producer wrote $(wc -l <"$WORK/posts.ndjson") posts and exited 0 ($(($(date +%s) - t0)) s)"

# ---- the image's processor -------------------------------------------------

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
docker run -d --network host --name "$NAME-processor" "${PROCESSOR_KAFKA[@]}" \
  -e "TAGSTREAM_HTTP_LISTEN=127.0.0.1:$port" --health-interval 2s --health-start-period 60s \
  "$TAG" tagstream-processor --application.id "$APP" --input.topic "$INPUT" --output.topic "$OUTPUT" \
  --replication.factor 1 >/dev/null

consume() {
  "$KAFKA" tool kafka-console-consumer --topic "$OUTPUT" --from-beginning --isolation-level read_committed \
    --formatter-property print.key=true --formatter-property key.separator=$'\t' --timeout-ms "$1" \
    2>/dev/null || true
}
deadline=$((SECONDS + 180))
got=0
while ((SECONDS < deadline)); do
  consume 3000 >"$WORK/output"
  got=$(grep -c . "$WORK/output" || true)
  ((got >= nexpect)) && break
  if [[ $(docker inspect -f '{{.State.Running}}' "$NAME-processor") != true ]]; then
    docker logs "$NAME-processor" 2>&1 | tail -20 >&2
    fail "the image's processor stopped ($MODE)"
  fi
done
if ((got < nexpect)); then
  docker logs "$NAME-processor" 2>&1 | tail -20 >&2
  fail "$got of $nexpect results within 180 s ($MODE)"
fi
# Several commit intervals more: a duplicate would show now.
sleep 2
consume 5000 >"$WORK/output"
python3 - "$WORK/output" "$WORK/expected" "$WINDOW" <<'EOF' || fail "the windowed results differ ($MODE)"
import collections, json, sys
out, exp, W = sys.argv[1], sys.argv[2], int(sys.argv[3])
got = collections.Counter()
for line in open(out, encoding="utf-8"):
    if not line.strip():
        continue
    key, value = line.rstrip("\n").split("\t", 1)
    v = json.loads(value)
    assert v["hashtag"] == key, f"key {key!r} is not the hashtag of {value}"
    assert v["window_end"] == v["window_start"] + W, f"not a {W} ms window: {value}"
    got[(key, v["count"], v["window_start"])] += 1
want = collections.Counter()
for line in open(exp, encoding="utf-8"):
    tag, count, start = line.rstrip("\n").split("\t")
    want[(tag, int(count), int(start))] += 1
missing, extra = want - got, got - want
dup = {k: n for k, n in got.items() if n > 1}
for k in sorted(missing): print("missing:", *k)
for k in sorted(extra): print("extra:", *k)
for k, n in sorted(dup.items()): print("duplicate:", *k, f"x{n}")
if missing or extra or dup:
    sys.exit(1)
print(f"image test: all {sum(want.values())} windowed results, exactly once")
EOF

# ---- the health check ------------------------------------------------------

deadline=$((SECONDS + 60))
health=
while ((SECONDS < deadline)); do
  health=$(docker inspect -f '{{.State.Health.Status}}' "$NAME-processor")
  [[ $health == healthy ]] && break
  sleep 1
done
[[ $health == healthy ]] || fail "the container's health check says '$health'"
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
docker run --rm --network host --entrypoint sh "$TAG" -c \
  "tagstream-probe --port $port && ! tagstream-probe --port $closed 2>/dev/null" ||
  fail "tagstream-probe failed on the running processor, or passed where nothing listens"
say "HEALTHCHECK healthy; the probe passes on the processor and fails where nothing answers"

# ---- stop ------------------------------------------------------------------

t0=$(date +%s)
docker stop -t 30 "$NAME-processor" >/dev/null
code=$(docker inspect -f '{{.State.ExitCode}}' "$NAME-processor")
[[ $code == 0 ]] || {
  docker logs "$NAME-processor" 2>&1 | tail -20 >&2
  fail "the processor exited $code on SIGTERM"
}
say "the processor exited 0 on docker stop ($(($(date +%s) - t0)) s)"
say "passed over $MODE"
