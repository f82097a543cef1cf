#!/bin/sh
# Installs what is missing, builds the library and runs the quickstart example (JSON lines on stdout).
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake --preset default >/dev/null
cmake --build --preset default --target quickstart
./build/default/examples/quickstart
