#!/usr/bin/env bash
# Runs every check CI runs: formatting, vet, the tests under the race
# detector, and each benchmark for a few iterations so none can rot.
# Needs only Go; the module proxy provides the dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	printf 'gofmt would change:\n%s\n' "$unformatted"
	exit 1
fi

echo "== go.work lists every module"
# A go command run inside a module that go.work does not list fails.
missing=$(find . -name go.mod -not -path '*/node_modules/*' -printf '%h\n' | sort |
	while read -r dir; do grep -qxF "	$dir" go.work || echo "$dir"; done)
if [ -n "$missing" ]; then
	printf 'go.work does not list (add with go work use DIR):\n%s\n' "$missing"
	exit 1
fi

echo "== go vet"
# The root module, and two modules of their own that need no server:
# the example app and stores/bolt (go.work lets one command reach them).
go vet ./... ./example/... ./stores/bolt/...

echo "== go test -race"
go test -race -count=1 ./... ./example/... ./stores/bolt/...

echo "== benchmarks (smoke: 20 iterations each)"
go test -run '^$' -bench . -benchtime 20x ./... >/dev/null
echo "benchmarks ran"
echo "== load test (smoke)"; go run ./perf/loadtest -smoke >/dev/null; echo "load test ran"
./scripts/examples.sh
./scripts/lint.sh

echo "== fuzzing (bounded: scripts/fuzz.sh)"
./scripts/fuzz.sh

echo "== stores/redis against real redis-server (scripts/redis-tests.sh)"
./scripts/redis-tests.sh

echo "== browser end-to-end against real providers (scripts/e2e.sh)"
./scripts/e2e.sh
