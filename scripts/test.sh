#!/usr/bin/env bash
# Runs every check CI runs (.ci/run calls exactly this), stage after stage:
# gofmt, go.work, go vet, the tests under the race detector, a smoke of
# every benchmark and of the load test, the router examples, staticcheck,
# bounded fuzzing, stores/redis against real Redis, several instances on
# Redis, and the browser suite against real providers. Each stage prints
# its wall-clock and CPU time, and a table of all stages ends the run
# (README's "Two commands" gives the figures of one run on 2 cores).
#
# Needs Go 1.26 or newer with a C compiler (the race detector uses cgo),
# Node 20 or newer with npm, and curl. Installs what is missing: staticcheck
# (go install), Debian's redis-server, redis-tools and chromium (apt-get, so
# run it as root, with sudo, or with those installed), and the browser
# suite's npm packages (npm ci in e2e/). The Go module proxy and the npm
# registry provide the rest.
#
# A new stage: stage "NAME" COMMAND... (a function below or a script).
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C # bash's `times` and awk's numbers with a decimal point

# stage NAME COMMAND...: runs one stage and records its wall-clock time and
# its CPU time (user+sys of every process it ran and waited for); the table
# of all stages prints at the end, also when a stage fails.
stage_names=() stage_wall=() stage_cpu=()
load_start=$(cut -d' ' -f1-3 /proc/loadavg) # other work on the machine slows the stages
times_file=$(mktemp)
# cpu_now sets cpu to the user+sys seconds of this shell's finished
# children (in this shell: `times` in a subshell would see none).
cpu_now() {
	times >"$times_file"
	cpu=$(awk 'function s(x) { split(x, a, "m"); sub("s", "", a[2]); return a[1] * 60 + a[2] }
		NR == 2 { printf "%.1f", s($1) + s($2) }' "$times_file")
}
stage() {
	local name=$1 wall0=$EPOCHREALTIME cpu0
	shift
	cpu_now
	cpu0=$cpu
	echo "== $name"
	"$@"
	stage_names+=("$name")
	stage_wall+=("$(awk -v a="$wall0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')")
	cpu_now
	stage_cpu+=("$(awk -v a="$cpu0" -v b="$cpu" 'BEGIN { printf "%.1f", b - a }')")
	echo "-- $name: ${stage_wall[-1]} s wall, ${stage_cpu[-1]} s CPU"
}
report() {
	local status=$?
	rm -f "$times_file"
	echo
	echo "== stage times on $(nproc) cores (wall s, CPU user+sys s); load average at the start $load_start, at the end $(cut -d' ' -f1-3 /proc/loadavg)"
	local i
	for i in "${!stage_names[@]}"; do
		printf '%-52s %7s %7s\n' "${stage_names[i]}" "${stage_wall[i]}" "${stage_cpu[i]}"
	done
	printf '%-52s %7s %7s\n' total \
		"$(printf '%s\n' "${stage_wall[@]}" 0 | awk '{ t += $1 } END { printf "%.1f", t }')" \
		"$(printf '%s\n' "${stage_cpu[@]}" 0 | awk '{ t += $1 } END { printf "%.1f", t }')"
	[ "$status" = 0 ] || echo "test.sh: failed in the stage after the last one listed"
	exit "$status"
}
trap report EXIT

gofmt_check() {
	local unformatted
	unformatted=$(gofmt -l .)
	if [ -n "$unformatted" ]; then
		printf 'gofmt would change:\n%s\n' "$unformatted"
		return 1
	fi
}
gowork_check() {
	# A go command run inside a module that go.work does not list fails.
	local missing
	missing=$(find . -name go.mod -not -path '*/node_modules/*' -printf '%h\n' | sort |
		while read -r dir; do grep -qxF "	$dir" go.work || echo "$dir"; done)
	if [ -n "$missing" ]; then
		printf 'go.work does not list (add with go work use DIR):\n%s\n' "$missing"
		return 1
	fi
}
benchmarks_smoke() {
	go test -run '^$' -bench . -benchtime 20x ./... ./stores/bolt/... >/dev/null
	echo "benchmarks ran"
}
loadtest_smoke() {
	go run ./perf/loadtest -smoke >/dev/null
	echo "load test ran"
}

stage gofmt gofmt_check
stage "go.work lists every module" gowork_check
# The root module, and two modules of their own that need no server:
# the example app and stores/bolt (go.work lets one command reach them).
stage "go vet" go vet ./... ./example/... ./stores/bolt/...
stage "go test -race" go test -race -count=1 ./... ./example/... ./stores/bolt/...
stage "benchmarks (smoke: 20 iterations each)" benchmarks_smoke
stage "load test (smoke)" loadtest_smoke
stage "examples (scripts/examples.sh)" ./scripts/examples.sh
stage "staticcheck (scripts/lint.sh)" ./scripts/lint.sh
stage "fuzzing (scripts/fuzz.sh)" ./scripts/fuzz.sh
stage "stores/redis (scripts/redis-tests.sh)" ./scripts/redis-tests.sh
stage "several instances on Redis (scripts/multi-e2e.sh)" ./scripts/multi-e2e.sh
stage "browser end-to-end (scripts/e2e.sh)" ./scripts/e2e.sh
