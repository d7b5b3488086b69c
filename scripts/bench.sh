#!/usr/bin/env bash
# The speed benchmarks of docs/PERFORMANCE.md, benchstat-ready: each runs
# COUNT times (default 10) and the raw output goes to OUT (default
# $TMPDIR/oidcauth-bench.txt); with benchstat installed
# (go install golang.org/x/perf/cmd/benchstat@latest) it prints the medians.
#
#   scripts/bench.sh
#   COUNT=5 OUT=/tmp/new.txt scripts/bench.sh && benchstat old.txt /tmp/new.txt
set -euo pipefail
cd "$(dirname "$0")/.."
count=${COUNT:-10}
out=${OUT:-${TMPDIR:-/tmp}/oidcauth-bench.txt}
go test -run '^$' -bench 'BenchmarkRequest|BenchmarkCallback|BenchmarkSessionEncode|BenchmarkAccessToken' \
	-count "$count" . | tee "$out"
if command -v benchstat >/dev/null; then
	benchstat "$out"
fi
