#!/usr/bin/env bash
# Runs the example on several instances on this machine: Redis (unless
# REDIS_URL is set), a development provider (unless OIDC_ISSUER is set),
# two instances of this app and a round-robin proxy in front of them at
# BASE_URL (default http://127.0.0.1:3000). Ctrl-C stops them all.
#
#   ./examples/redis/run.sh                        # sessions in cookies
#   SESSION_STORE=redis ./examples/redis/run.sh    # sessions in Redis
#
# Environment (all optional):
#   BASE_URL          the proxy's URL, where the browser goes
#   INSTANCE_PORTS    the instances' ports (default: BASE_URL's port + 1, + 2)
#   REDIS_URL         a Redis to use (default: redis-server started on port
#                     REDIS_PORT, default 6390, without persistence)
#   OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET
#                     a real provider (register BASE_URL/callback); default a
#                     development provider on DEV_PROVIDER_PORT (default 3009)
#   SESSION_SECRET    shared by the instances (default: random)
#   LOG_DIR           where each process logs (default: a temporary directory)
#   RUN_READY_FILE    written with the instances' URLs, one a line, once every
#                     process serves (scripts/multi-e2e.sh waits for it)
#   RUN_BIN_DIR       where `go build -o DIR/ . ./proxy ./devprovider` put the
#                     binaries already (default: build them)
# and any other variable of the app (SESSION_STORE, OIDC_RESOURCES, …).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

for tool in go curl; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool is required" >&2; exit 1; }
done
base=${BASE_URL:-http://127.0.0.1:3000}
base=${base%/}
hostport=${base#http://}
host=${hostport%:*}
port=${hostport##*:}
if [ "$base" != "http://$host:$port" ]; then
	echo "run.sh: BASE_URL must be http://HOST:PORT" >&2
	exit 2
fi
read -r -a ports <<<"${INSTANCE_PORTS:-$((port + 1)) $((port + 2))}"
work=$(mktemp -d)
logs=${LOG_DIR:-$work}
mkdir -p "$logs"

pids=()
cleanup() {
	local status=$?
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for NAME URL: until URL answers, for 15 s at most, while the last
# process started runs.
wait_for() {
	for _ in $(seq 150); do
		curl -fsS -o /dev/null "$2" 2>/dev/null && return 0
		if ! kill -0 "${pids[-1]}" 2>/dev/null; then
			echo "run.sh: $1 exited; its log:" >&2
			tail -n 20 "$logs/$1.log" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "run.sh: $1 does not answer at $2; its log:" >&2
	tail -n 20 "$logs/$1.log" >&2
	return 1
}

bin=${RUN_BIN_DIR:-$work}
if [ -z "${RUN_BIN_DIR:-}" ]; then
	echo "run.sh: building the app, the proxy and the development provider"
	(cd "$here" && go build -o "$work/" . ./proxy ./devprovider) # one go build: links in parallel
fi

if [ -z "${REDIS_URL:-}" ]; then
	command -v redis-server >/dev/null || { echo "run.sh: redis-server is required (Debian: apt-get install redis-server), or set REDIS_URL" >&2; exit 1; }
	redis_port=${REDIS_PORT:-6390}
	redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no >"$logs/redis.log" 2>&1 &
	pids+=($!)
	export REDIS_URL=redis://127.0.0.1:$redis_port/0
	for _ in $(seq 100); do
		redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
		sleep 0.1
	done
fi

random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
export SESSION_SECRET=${SESSION_SECRET:-$(random_hex 32)}
if [ -z "${OIDC_ISSUER:-}" ]; then
	dev_port=${DEV_PROVIDER_PORT:-3009}
	export OIDC_ISSUER=http://$host:$dev_port OIDC_CLIENT_ID=example-app OIDC_CLIENT_SECRET=$(random_hex 16)
	"$bin/devprovider" -addr "$host:$dev_port" -app "$base" >"$logs/devprovider.log" 2>&1 &
	pids+=($!)
	wait_for devprovider "$OIDC_ISSUER/.well-known/openid-configuration"
fi

urls=()
for i in "${!ports[@]}"; do
	name=app-$((i + 1))
	BASE_URL=$base ADDR=$host:${ports[$i]} "$bin/redis" >"$logs/$name.log" 2>&1 &
	pids+=($!)
	wait_for "$name" "http://$host:${ports[$i]}/"
	urls+=("http://$host:${ports[$i]}")
done
"$bin/proxy" -addr "$host:$port" "${urls[@]}" >"$logs/proxy.log" 2>&1 &
pids+=($!)
wait_for proxy "$base/"

[ -z "${RUN_READY_FILE:-}" ] || printf '%s\n' "${urls[@]}" >"$RUN_READY_FILE"
echo "run.sh: open $base (instances ${urls[*]}, provider $OIDC_ISSUER); logs in $logs; Ctrl-C stops"
wait -n "${pids[@]}" || true
echo "run.sh: a process exited; stopping" >&2
exit 1
