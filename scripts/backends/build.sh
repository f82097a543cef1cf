#!/bin/sh
# Builds, once, the real backends the backend tests (tests/backends/) and the end-to-end benchmark run:
#   - Jaeger (the `jaeger` all-in-one binary) from the Go module proxy, at $JAEGER_VERSION;
#   - an OpenTelemetry Collector (OTLP receiver, memory_limiter, file exporter) from tests/backends/collector/,
#     whose modules are pinned to the release Jaeger's go.mod uses, so the Go build cache serves both.
# The binaries are cached under $BEELINE_TOOLS_DIR (default ~/.cache/beeline-tools), keyed by version (and for
# the collector, by a hash of its sources): a run with both present and current does nothing.
#
#   scripts/backends/build.sh            build what is missing, print nothing else
#   scripts/backends/build.sh --print    also print the two paths (JAEGER=..., OTELCOL=...)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
tools=${BEELINE_TOOLS_DIR:-$HOME/.cache/beeline-tools}
JAEGER_VERSION=v1.75.0
COLLECTOR_VERSION=v0.139.0

jaeger_bin=$tools/jaeger-$JAEGER_VERSION/jaeger
collector_bin=$tools/otelcol-$COLLECTOR_VERSION/beeline-otelcol
collector_src=$root/tests/backends/collector

# Jaeger v1.75.0 and the collector's modules need Go 1.24 or newer (the official tarball's place if not on PATH).
command -v go >/dev/null 2>&1 || PATH="$PATH:/usr/local/go/bin"
go_minor=$(go env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
if [ -z "$go_minor" ] || [ "$go_minor" -lt 24 ]; then
  echo "backends: Go 1.24 or newer is needed to build Jaeger and the collector (found: $(go env GOVERSION 2>/dev/null || echo none))" >&2
  exit 1
fi

if [ ! -x "$jaeger_bin" ]; then
  echo "backends: building jaeger $JAEGER_VERSION (once; about 15 minutes of CPU)" >&2
  work=$tools/build/jaeger-$JAEGER_VERSION
  mkdir -p "$work" "$(dirname "$jaeger_bin")"
  (
    cd "$work"
    [ -f go.mod ] || go mod init beeline-jaeger-build >/dev/null 2>&1
    go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_VERSION"
    go build -buildvcs=false -o "$jaeger_bin.tmp" github.com/jaegertracing/jaeger/cmd/jaeger
  )
  mv "$jaeger_bin.tmp" "$jaeger_bin"
fi

# The collector is rebuilt when its sources change: a stamp beside it holds their hash.
collector_hash=$(cat "$collector_src/go.mod" "$collector_src/go.sum" "$collector_src/main.go" | sha256sum | cut -c1-16)
if [ ! -x "$collector_bin" ] || [ "$(cat "$collector_bin.stamp" 2>/dev/null)" != "$collector_hash" ]; then
  echo "backends: building the OpenTelemetry Collector $COLLECTOR_VERSION" >&2
  mkdir -p "$(dirname "$collector_bin")"
  (cd "$collector_src" && go build -buildvcs=false -o "$collector_bin.tmp" .)
  mv "$collector_bin.tmp" "$collector_bin"
  echo "$collector_hash" > "$collector_bin.stamp"
fi

if [ "${1:-}" = "--print" ]; then
  echo "JAEGER=$jaeger_bin"
  echo "OTELCOL=$collector_bin"
fi
