#!/usr/bin/env bash
# Several instances end to end: two instances of examples/redis behind its
# round-robin proxy (started by examples/redis/run.sh, the command its
# README gives), on a real redis-server, signing in with node-oidc-provider
# (e2e/provider.js: refresh tokens rotate, a second use of one revokes the
# grant) whose access tokens live 33 s, so they are due for refresh (30 s
# before expiry) 3 s after sign-in. Then the Go tests of
# examples/redis/multi (go test -tags multi).
#
# Runs twice: sessions in cookies on a single Redis node, and server-side
# sessions in Redis on a three-master Redis Cluster. Installs what is missing
# (redis-server with apt-get, the provider's npm packages with npm ci) and
# stops everything it started, also on failure. Logs go to
# artifacts/multi-e2e/.
#
# Environment (optional): MULTI_ARTIFACTS (default artifacts/multi-e2e),
# MULTI_TEST_FLAGS (flags for the test binary, e.g. "-test.run SignOut -test.v").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
artifacts=${MULTI_ARTIFACTS:-$root/artifacts/multi-e2e}
started=$(date +%s)
ttl=33

for tool in go node npm curl; do
	command -v "$tool" >/dev/null || { echo "multi-e2e: $tool is required" >&2; exit 1; }
done
if ! command -v redis-server >/dev/null 2>&1; then
	echo "installing redis-server (Debian package)"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
fi
. scripts/lib.sh
npm_ci

# wait_file NAME FILE: until FILE has content, for 30 s at most, while the
# last process started runs.
wait_file() {
	for _ in $(seq 300); do
		[ -s "$2" ] && return 0
		if ! kill -0 "${pids[-1]}" 2>/dev/null; then
			echo "multi-e2e: $1 exited; its log:" >&2
			tail -n 30 "$logs/$1.log" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "multi-e2e: $1 not ready after 30 s; its log:" >&2
	tail -n 30 "$logs/$1.log" >&2
	return 1
}

# run NAME [VAR=VALUE...]: a fresh provider (its record of token requests
# starts empty), Redis, two instances and the proxy with the settings
# given, then the tests.
run() {
	local name=$1
	shift
	logs=$artifacts/$name
	rm -rf "$logs"
	mkdir -p "$logs"
	local base port1 port2 client_secret
	base="http://127.0.0.1:$(free_port)"
	port1=$(free_port)
	port2=$(free_port)
	client_secret=$(random_hex 24)
	rm -f "$work/issuer" "$work/instances"

	OP_CLIENT_ID=multi-e2e OP_CLIENT_SECRET=$client_secret OP_APP_URL=$base \
		OP_BACKCHANNEL_LOGOUT_URI=$base/backchannel-logout OP_ACCESS_TOKEN_TTL=$ttl \
		OP_READY_FILE="$work/issuer" node e2e/provider.js >"$logs/provider.log" 2>&1 &
	pids+=($!)
	wait_file provider "$work/issuer"
	local issuer
	issuer=$(cat "$work/issuer")

	env "$@" RUN_BIN_DIR="$work/bin" BASE_URL="$base" INSTANCE_PORTS="$port1 $port2" REDIS_PORT="$(free_port)" \
		OIDC_ISSUER="$issuer" OIDC_CLIENT_ID=multi-e2e OIDC_CLIENT_SECRET="$client_secret" \
		SESSION_SECRET="$(random_hex 32)" LOG_DIR="$logs" RUN_READY_FILE="$work/instances" \
		examples/redis/run.sh >"$logs/run.log" 2>&1 &
	pids+=($!)
	wait_file run "$work/instances"
	echo "== multi-e2e $name: $* (ready after $(($(date +%s) - started)) s)"

	# In the background, so that a signal to this script stops the tests.
	# shellcheck disable=SC2086 # MULTI_TEST_FLAGS is a list of flags
	(cd examples/redis/multi && MULTI_BASE_URL=$base MULTI_INSTANCES="$(tr '\n' ' ' <"$work/instances")" \
		MULTI_ISSUER=$issuer MULTI_PROVIDER_DEBUG=${issuer%/oidc}/debug MULTI_ACCESS_TOKEN_TTL=$ttl \
		MULTI_CLIENT_ID=multi-e2e MULTI_CLIENT_SECRET=$client_secret \
		"$work/multi.test" ${MULTI_TEST_FLAGS:-}) &
	local tests=$!
	pids+=("$tests")
	if ! wait "$tests"; then
		echo "multi-e2e: $name failed; logs in $logs" >&2
		exit 1
	fi
	stop_all
}

# start_cluster: a Redis Cluster of three masters (no replicas) on free
# loopback ports, as stores/redis's tests make one; sets cluster_url.
start_cluster() {
	local addrs=() port bus
	mkdir -p "$work/cluster"
	for _ in 1 2 3; do
		port=$(free_port)
		bus=$(free_port)
		redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
			--cluster-enabled yes --cluster-port "$bus" --cluster-node-timeout 2000 \
			--cluster-config-file "$work/cluster/nodes-$port.conf" --dir "$work/cluster" \
			>"$artifacts/cluster-$port.log" 2>&1 &
		pids+=($!)
		addrs+=("127.0.0.1:$port")
		for _ in $(seq 100); do
			redis-cli -p "$port" ping >/dev/null 2>&1 && break
			sleep 0.1
		done
	done
	redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >"$artifacts/cluster-create.log" 2>&1
	for addr in "${addrs[@]}"; do
		for _ in $(seq 100); do
			redis-cli -p "${addr##*:}" cluster info 2>/dev/null | grep -q cluster_state:ok && break
			sleep 0.1
		done
	done
	cluster_url="redis-cluster://$(IFS=,; echo "${addrs[*]}")"
}

mkdir -p "$artifacts"
# Built once for both runs: the app and the proxy (run.sh takes them from
# RUN_BIN_DIR), and the tests.
(cd examples/redis && go vet -tags multi ./multi && go build -o "$work/bin/" . ./proxy &&
	go test -c -tags multi -o "$work/multi.test" ./multi)
# Sessions in cookies on a single Redis node (run.sh starts it), then
# server-side sessions on a three-master cluster.
run cookies-single-node SESSION_STORE=cookie
start_cluster
run server-side-cluster SESSION_STORE=redis REDIS_URL="$cluster_url"
echo "multi-e2e: passed in $(($(date +%s) - started)) s; logs in $artifacts"
