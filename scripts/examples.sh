#!/usr/bin/env bash
# Builds, vets and smoke-tests each router example under examples/, each
# its own module (so the root go.mod keeps its four dependencies): every
# test signs in against the in-process provider and reaches protected
# routes. go.sum files are committed, so this only downloads. One go vet
# and one go test for all of them (go.work lists every module), so the
# modules build and test side by side and shared packages load once.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== examples (each its own module)"
dirs=()
for mod in examples/*/go.mod; do
	dirs+=("./$(dirname "$mod")/...")
done
go vet "${dirs[@]}"
go test -count=1 "${dirs[@]}"
