#!/usr/bin/env bash
# tests/msk_iam/venv.sh VENV: make VENV a Python virtual environment with
# AWS's MSK IAM signer at the versions pinned in requirements.txt beside this
# script. Does nothing while the list, this script and the Python are
# unchanged; leaves no half-made environment behind on failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV=${1:?usage: venv.sh VENV}
PYTHON=${TAGSTREAM_PYTHON:-python3}

die() {
  echo "msk iam signer: $*" >&2
  exit 1
}

command -v "$PYTHON" >/dev/null || die "no $PYTHON (infra/setup installs python3-venv)"
stamp=$(
  {
    cat "$HERE/requirements.txt" "$HERE/venv.sh"
    "$PYTHON" -c 'import sys; print(sys.version)'
  } | sha256sum | cut -d' ' -f1
)
if [[ -f "$VENV/.stamp" && $(cat "$VENV/.stamp") == "$stamp" ]]; then
  echo "msk iam signer: up to date in $VENV"
  exit 0
fi

rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
trap 'rm -rf "$VENV"' EXIT
"$PYTHON" -m venv "$VENV" || die "cannot create a virtual environment (apt-get install python3-venv)"
pip=("$VENV/bin/python" -m pip --disable-pip-version-check --no-input -q)
echo "msk iam signer: installing into $VENV"
"${pip[@]}" install --only-binary :all: -r "$HERE/requirements.txt" ||
  die "pip could not install tests/msk_iam/requirements.txt"
"${pip[@]}" check || die "the signer's dependencies do not fit together"
echo "$stamp" >"$VENV/.stamp"
trap - EXIT
echo "msk iam signer: ready in $VENV"
