#!/usr/bin/env bash
# Static analysis beyond go vet: staticcheck, pinned, on the root module
# and on each module of its own (the example app, the router examples and
# the stores), in one run: go.work lists every module, so shared packages
# are analysed once. The module proxy provides it.
set -euo pipefail
cd "$(dirname "$0")/.."

# 2026.2.2: supports the go 1.25 directive and Go 1.26 toolchains.
STATICCHECK_VERSION=v0.8.2

echo "== staticcheck $STATICCHECK_VERSION"
go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
bin=$(go env GOBIN)
staticcheck="${bin:-$(go env GOPATH)/bin}/staticcheck"
dirs=(./...)
for mod in example/go.mod examples/*/go.mod stores/*/go.mod; do
	dirs+=("./$(dirname "$mod")/...")
done
"$staticcheck" "${dirs[@]}"
# The multi-instance suite builds only with its tag (scripts/multi-e2e.sh).
"$staticcheck" -tags multi ./examples/redis/multi
echo "staticcheck clean"
