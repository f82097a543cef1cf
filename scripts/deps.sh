#!/bin/sh
# Installs the Debian packages beeline-cpp needs, only those missing. Idempotent; safe to run any time.
set -eu

packages="cmake g++ make libboost1.81-dev libfmt-dev libsimdjson-dev catch2 libssl-dev zlib1g-dev libbenchmark-dev libboost-stacktrace1.81-dev chromium ccache"
# Node (for the interop reference scripts) ships on the machine; install Debian's only if there is none.
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || packages="$packages nodejs npm"
# Python 3 (the test that compiles the documentation's code blocks) likewise.
command -v python3 >/dev/null 2>&1 || packages="$packages python3"

missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "deps: installing$missing" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
