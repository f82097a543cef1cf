#!/bin/sh
# Installs what is missing, builds, and runs the whole test suite: the default build (with the Node interop
# references and the real Jaeger and OpenTelemetry Collector), ASan+UBSan over every test, and TSan over the
# concurrency tests. Idempotent.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
# ccache (CMakeLists.txt uses it when installed): paths under this checkout hash as relative ones, so a clone in
# another folder reuses what an earlier run compiled.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"

# The real Node packages the interop tests compare against, pinned by package-lock.json.
if [ ! -d tests/interop/node_modules ] || [ tests/interop/package-lock.json -nt tests/interop/node_modules/.package-lock.json ]; then
  (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ ! -d tests/interop/highlight/node_modules ] || [ tests/interop/highlight/package-lock.json -nt tests/interop/highlight/node_modules/.package-lock.json ]; then
  (cd tests/interop/highlight && npm ci --no-audit --no-fund --loglevel=error)
fi

# The opentelemetry-proto Python package the OTLP protobuf encoder is checked against (a cached virtualenv).
tests/interop/python/setup.sh >/dev/null

# Jaeger and an OpenTelemetry Collector for the backend tests, built with Go once and cached. A first build
# takes about 15 minutes of CPU: it runs at low priority beside the C++ builds and tests, which leave cores idle
# while tests wait on sockets, and the backend tests run last.
mkdir -p build
nice -n 10 scripts/backends/build.sh > build/backends-build.log 2>&1 &
backends_build=$!

for preset in default asan tsan; do
  echo "== $preset ==" >&2
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  ctest --preset "$preset" --label-exclude backends
done

echo "== default: real backends ==" >&2
if ! wait "$backends_build"; then
  cat build/backends-build.log >&2
  exit 1
fi
ctest --preset default --label-regex backends
