#!/usr/bin/env bash
# Runs each native fuzz target of the package for a bounded time
# (FUZZTIME, default 8s; six targets, under a minute in all). When the
# fuzzer finds a failing input it writes it to testdata/fuzz/<Target>/ and
# this script fails: fix the bug, then commit that file, which `go test`
# replays from then on as a regression case.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-8s}
targets=$(go test -list '^Fuzz' . | grep '^Fuzz')
for target in $targets; do
	echo "== fuzz $target ($fuzztime)"
	if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" . >/tmp/fuzz-$$.log 2>&1; then
		cat /tmp/fuzz-$$.log
		rm -f /tmp/fuzz-$$.log
		echo "fuzz $target failed; the input is in testdata/fuzz/$target/"
		exit 1
	fi
	tail -n 1 /tmp/fuzz-$$.log
done
rm -f /tmp/fuzz-$$.log
