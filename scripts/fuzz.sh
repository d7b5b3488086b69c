#!/usr/bin/env bash
# Runs each native fuzz target of the packages below for a bounded time
# (FUZZTIME, default 3s per target; with the builds, eleven targets take
# about a minute on 2 cores; the seed corpora also run in every go test).
# Longer runs: FUZZTIME=5m scripts/fuzz.sh.
# When the fuzzer finds a failing input it writes it to the package's
# testdata/fuzz/<Target>/ and this script fails: fix the bug, then commit
# that file, which `go test` replays from then on as a regression case.
#
# Packages: the root; internal/jose (FuzzVerifyDifferential: the go-jose
# verifier against the standard-library one it replaced; FuzzJWKS).
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-3s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for pkg in . ./internal/jose; do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
		echo "== fuzz $pkg $target ($fuzztime)"
		if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1; then
			tail -n 1 "$log"
			continue
		fi
		# Go before 1.27 can report "context deadline exceeded" when -fuzztime
		# ends while a worker is busy (Go issue 75804), with no input found. A
		# real finding always writes its input; anything else fails too.
		if ! grep -q 'Failing input written to' "$log" && grep -q 'context deadline exceeded' "$log" &&
			[ "$(grep -c -e '_test.go:[0-9]' -e 'panic:' "$log")" = 0 ]; then
			echo "fuzz $target: stopped at the time limit with no finding (toolchain deadline race); not a failure"
			continue
		fi
		cat "$log"
		echo "fuzz $target failed; any failing input is in $pkg/testdata/fuzz/$target/"
		exit 1
	done
done
