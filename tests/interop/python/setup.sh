#!/bin/sh
# Makes (once) the Python virtualenv with the OTLP protobuf decoder the interop tests use, and prints its
# interpreter's path. Idempotent: reinstalls only when requirements.txt changes.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
venv="${BEELINE_TOOLS_DIR:-$HOME/.cache/beeline-tools}/otlp-proto-venv"
stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$here/requirements.txt" "$stamp"; then
  python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
  cp "$here/requirements.txt" "$stamp"
fi
echo "$venv/bin/python"
