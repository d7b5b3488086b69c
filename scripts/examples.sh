#!/usr/bin/env bash
# Builds, vets and smoke-tests each router example under examples/, each
# its own module (so the root go.mod keeps its four dependencies): every
# test signs in against the in-process provider and reaches protected
# routes. go.sum files are committed, so this only downloads.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== examples (each its own module)"
for mod in examples/*/go.mod; do
	dir=$(dirname "$mod")
	echo "-- $dir"
	(cd "$dir" && go vet ./... && go test -count=1 ./...)
done
