#!/usr/bin/env bash
# Static analysis beyond go vet: staticcheck, pinned, on the root module
# and on each example and store module. The module proxy provides it.
set -euo pipefail
cd "$(dirname "$0")/.."

# 2026.2.2: supports the go 1.25 directive and Go 1.26 toolchains.
STATICCHECK_VERSION=v0.8.2

echo "== staticcheck $STATICCHECK_VERSION"
go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
bin=$(go env GOBIN)
staticcheck="${bin:-$(go env GOPATH)/bin}/staticcheck"
"$staticcheck" ./...
for mod in example/go.mod examples/*/go.mod stores/*/go.mod; do
	(cd "$(dirname "$mod")" && "$staticcheck" ./...)
done
# The multi-instance suite builds only with its tag (scripts/multi-e2e.sh).
(cd examples/redis && "$staticcheck" -tags multi ./multi)
echo "staticcheck clean"
