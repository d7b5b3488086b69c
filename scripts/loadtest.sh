#!/usr/bin/env bash
# Load test: a bare handler, the same handler behind oidcauth's RequireAuth
# and a go-oidc + gorilla/sessions app, in one run, on 127.0.0.1 only, with
# sessions from real sign-ins against the in-process provider. Prints the
# tables of docs/PERFORMANCE.md. Every scenario is bounded in time and
# requests and the whole run stops by itself (-max-time, default 15m).
#
#   scripts/loadtest.sh                  # the full report (about 5 minutes)
#   scripts/loadtest.sh -smoke           # a few seconds
#   scripts/loadtest.sh -conns 64 -sizes 4k -rounds 1
#
# Needs only Go; see `go run ./perf/loadtest -h` for every flag.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./perf/loadtest "$@"
