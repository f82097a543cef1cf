#!/bin/sh
# Builds the libFuzzer targets (clang, ASan + UBSan, the `fuzz` preset) and runs each for N seconds (default 60),
# one after another, then prints executions and coverage per target. Exits 1 if any target found a crash or a
# broken property; its input is in <build>/artifacts/<target>/ and the log in <build>/logs/<target>.log.
#
#   scripts/fuzz.sh [seconds]                     all targets
#   scripts/fuzz.sh 120 w3c honeycomb             some of them
#   BEELINE_FUZZ_BUILD_DIR=build/my-fuzz scripts/fuzz.sh
#   BEELINE_FUZZ_FLAGS="-fork=1 -ignore_crashes=1" scripts/fuzz.sh 600    keep going past crashes
#
# The seeds in fuzz/corpus/<target> are only read; what the fuzzer finds goes to <build>/corpus/<target>, so a
# later run starts from it. Reproduce a finding with: <build>/fuzz/fuzz_<target> <artifact file>.
set -eu
cd "$(dirname "$0")/.."
seconds="${1:-60}"
[ $# -gt 0 ] && shift
targets="${*:-honeycomb w3c aws xray highlight headers baggage}"
build="${BEELINE_FUZZ_BUILD_DIR:-build/fuzz}"
flags="${BEELINE_FUZZ_FLAGS:-}"

scripts/deps.sh
# clang and its runtime libraries (libFuzzer, the sanitizers), only if missing.
missing=""
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "fuzz: installing$missing" >&2
  $sudo apt-get update -qq
  # shellcheck disable=SC2086 # $missing is a list of packages
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

cmake --preset fuzz -B "$build" >/dev/null
cmake --build "$build" -j 2

# Leaks count as failures; UBSan stops at the first report (the build has -fno-sanitize-recover).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

status=0
summary=""
for t in $targets; do
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts/$t/"
  log="$build/logs/$t.log"
  # A previous run's findings move aside, so what is in artifacts/ is this run's.
  if [ -d "$artifacts" ] && [ -n "$(ls -A "$artifacts")" ]; then
    rm -rf "$build/artifacts/$t.previous"
    mv "$artifacts" "$build/artifacts/$t.previous"
  fi
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  echo "== fuzz_$t: ${seconds}s ==" >&2
  # max_len a little over max_header_bytes (8192), so values past the limit are tried too.
  # shellcheck disable=SC2086 # $flags is a list of options
  if "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -max_len=8300 -timeout=10 -print_final_stats=1 \
      -dict="fuzz/dict/$t.dict" -artifact_prefix="$artifacts" $flags "$corpus" "fuzz/corpus/$t" >"$log" 2>&1; then
    result="ok"
  else
    result="FAILED (see $log, input in $artifacts)"
    status=1
    tail -n 40 "$log" >&2
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  # Fork mode prints no final stats: take its last status line.
  [ -z "$runs" ] && runs=$(sed -n 's/^#\([0-9]*\):.*/\1/p' "$log" | tail -n 1)
  [ -z "$rate" ] && rate=$(sed -n 's/^#[0-9]*:.* exec\/s:\{0,1\} \([0-9]*\).*/\1/p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
  crashes=$(find "$artifacts" -type f | wc -l)
  [ "$crashes" -gt 0 ] && { result="FAILED: $crashes input(s) in $artifacts (log $log)"; status=1; }
  summary="$summary$(printf '%-10s %12s runs %8s/s  %-10s %s' "$t" "${runs:-?}" "${rate:-?}" "${cov:-}" "$result")
"
done
printf '\n%s' "$summary"
exit $status
