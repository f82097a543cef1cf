#!/bin/sh
# Builds and runs tests/package/consumer against beeline-cpp, as a project would use it:
#   run.sh install SOURCE_DIR BUILD_DIR WORK_DIR   `cmake --install BUILD_DIR`, then find_package(beeline)
#   run.sh subdir  SOURCE_DIR BUILD_DIR WORK_DIR   add_subdirectory(SOURCE_DIR)
# and checks that the consumer's spans come out as one trace.
set -eu
mode=$1 src=$2 build=$3 work=$4
rm -rf "$work"
mkdir -p "$work"
case "$mode" in
  install)
    cmake --install "$build" --prefix "$work/prefix" >"$work/install.log"
    test -f "$work/prefix/include/beeline/beeline.hpp"
    test -f "$work/prefix/include/beeline/asio/http_server.hpp"
    test -f "$work/prefix/lib/cmake/beeline/beelineConfig.cmake"
    ls "$work/prefix/lib/"libbeeline.a >/dev/null
    cmake -S "$src/tests/package/consumer" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" \
      -DCMAKE_BUILD_TYPE=Release >"$work/configure.log"
    ;;
  subdir)
    cmake -S "$src/tests/package/consumer" -B "$work/build" -DBEELINE_SOURCE_DIR="$src" \
      -DCMAKE_BUILD_TYPE=Release >"$work/configure.log"
    # Only what a consumer builds: no tests, benchmarks or examples of ours.
    if grep -q 'beeline_tests\|span_bench\|quickstart' "$work/build/Makefile" "$work/build/beeline/Makefile" 2>/dev/null; then
      echo "add_subdirectory built our tests, benchmarks or examples" >&2
      exit 1
    fi
    ;;
  *) echo "usage: run.sh install|subdir SOURCE_DIR BUILD_DIR WORK_DIR" >&2; exit 2 ;;
esac
cmake --build "$work/build" -j2 >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
"$work/build/consumer" >"$work/out.jsonl" 2>"$work/err.log"
grep -q 'flush complete' "$work/err.log"
for name in consumer.root consumer.sync consumer.async; do
  grep -q "\"name\":\"$name\"" "$work/out.jsonl" || { echo "no span $name" >&2; cat "$work/out.jsonl" >&2; exit 1; }
done
# One trace: every line carries the root's trace id.
trace=$(grep '"name":"consumer.root"' "$work/out.jsonl" | sed 's/.*"trace.trace_id":"\([0-9a-f]*\)".*/\1/')
test "$(grep -c "\"trace.trace_id\":\"$trace\"" "$work/out.jsonl")" -eq 3
echo "package ($mode): ok"
