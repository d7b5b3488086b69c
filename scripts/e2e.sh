#!/usr/bin/env bash
# Browser tests against real OpenID Providers: headless Chromium (Debian's
# package) signs in to the example app through node-oidc-provider, the
# engine inside Logto, configured as Logto configures it (e2e/provider.js),
# and, as a second, independent provider, through the example provider of
# github.com/zitadel/oidc/v3 (e2e/zitadelop).
#
# Installs what is missing (chromium with apt-get, the provider's npm
# packages with npm ci), starts each provider with its own instance of the
# example app on free loopback ports, runs the Go tests of the e2e/ module,
# and stops everything it started, also on failure. Screenshots and logs go
# to artifacts/e2e/.
#
# Environment (all optional): E2E_CHROMIUM (default /usr/bin/chromium),
# E2E_ARTIFACTS (default artifacts/e2e), E2E_ACCESS_TOKEN_TTL (seconds,
# the provider's access-token lifetime, default 3600), E2E_SHORT_TOKEN_TTL
# (seconds, the lifetime of the short-lived API's tokens, default 35; the
# refresh test waits TTL-30 s, as oidcauth refreshes 30 s before expiry),
# E2E_GO_TEST_FLAGS (extra flags for go test, e.g. "-run SignOut -v").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

chromium=${E2E_CHROMIUM:-/usr/bin/chromium}
artifacts=${E2E_ARTIFACTS:-$root/artifacts/e2e}
started=$(date +%s)

for tool in go node npm curl; do
	command -v "$tool" >/dev/null || { echo "e2e: $tool is required" >&2; exit 1; }
done

echo "== e2e: browser and provider packages"
if [ ! -x "$chromium" ]; then
	echo "installing chromium (Debian package)"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
"$chromium" --version 2>/dev/null
. scripts/lib.sh
npm_ci
echo "node $(node --version), oidc-provider $(node -p 'require("./e2e/node_modules/oidc-provider/package.json").version')"

# wait_for NAME PID CHECK...: until CHECK succeeds, for 15 s at most, while
# PID runs.
wait_for() {
	local name=$1 pid=$2
	shift 2
	for _ in $(seq 150); do
		"$@" >/dev/null 2>&1 && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "e2e: $name exited; its log:" >&2
			tail -n 30 "$artifacts/$name.log" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "e2e: $name not ready after 15 s; its log:" >&2
	tail -n 30 "$artifacts/$name.log" >&2
	return 1
}

mkdir -p "$artifacts"
rm -f "$artifacts"/*.png "$artifacts"/*.log

echo "== e2e: build the example app and zitadelop"
go build -o "$work/example" ./example
(cd e2e && go build -o "$work/zitadelop" ./zitadelop)

# start_app NAME ISSUER APP_URL [VAR=VALUE...]: the example app as a user
# runs it, signing in with the provider at ISSUER, with more settings.
start_app() {
	OIDC_ISSUER=$2 OIDC_CLIENT_ID=$client_id OIDC_CLIENT_SECRET=$client_secret \
		BASE_URL=$3 ADDR=${3#http://} SESSION_SECRET=$(random_hex 32) \
		env "${@:4}" "$work/example" >"$artifacts/$1.log" 2>&1 &
	pids+=($!)
	wait_for "$1" "${pids[-1]}" curl -fsS "$3/"
}

echo "== e2e: start the providers and the apps"
client_id=oidcauth-e2e
# Secrets travel in the environment, never on a command line (ps shows those).
client_secret=$(random_hex 24)
# A machine-to-machine client of node-oidc-provider (client credentials),
# whose tokens the tests send to the app's /api/resource.
m2m_client_id=oidcauth-e2e-m2m
m2m_client_secret=$(random_hex 24)
export OP_CLIENT_ID=$client_id OP_CLIENT_SECRET=$client_secret
export OP_M2M_CLIENT_ID=$m2m_client_id OP_M2M_CLIENT_SECRET=$m2m_client_secret

app_url="http://127.0.0.1:$(free_port)"
# The provider's API resources (e2e/provider.js); the app gets tokens for
# both, and the provider tells it of sign-outs at its back-channel URI.
resources="https://api.example.com https://short-lived.api.example.com"
OP_APP_URL=$app_url OP_BACKCHANNEL_LOGOUT_URI=$app_url/backchannel-logout \
	OP_ACCESS_TOKEN_TTL=${E2E_ACCESS_TOKEN_TTL:-3600} OP_SHORT_API_TOKEN_TTL=${E2E_SHORT_TOKEN_TTL:-35} \
	OP_READY_FILE="$work/issuer" node e2e/provider.js >"$artifacts/provider.log" 2>&1 &
pids+=($!)
wait_for provider "${pids[-1]}" test -s "$work/issuer"
issuer=$(cat "$work/issuer")
start_app app "$issuer" "$app_url" OIDC_RESOURCES="$resources"

zitadel_app_url="http://127.0.0.1:$(free_port)"
OP_APP_URL=$zitadel_app_url "$work/zitadelop" -ready-file "$work/zitadel-issuer" >"$artifacts/zitadelop.log" 2>&1 &
pids+=($!)
wait_for zitadelop "${pids[-1]}" test -s "$work/zitadel-issuer"
zitadel_issuer=$(cat "$work/zitadel-issuer")
start_app zitadel-app "$zitadel_issuer" "$zitadel_app_url"
unset OP_CLIENT_ID OP_CLIENT_SECRET OP_M2M_CLIENT_ID OP_M2M_CLIENT_SECRET
echo "node-oidc-provider $issuer with app $app_url; zitadelop $zitadel_issuer with app $zitadel_app_url (ready after $(($(date +%s) - started)) s)"

echo "== e2e: go vet and go test (e2e module)"
cd e2e
go vet ./...
# shellcheck disable=SC2086 # E2E_GO_TEST_FLAGS is a list of flags
E2E_APP_URL=$app_url E2E_ISSUER=$issuer E2E_PROVIDER_DEBUG=${issuer%/oidc}/debug \
	E2E_ZITADEL_APP_URL=$zitadel_app_url E2E_ZITADEL_ISSUER=$zitadel_issuer \
	E2E_M2M_CLIENT_ID=$m2m_client_id E2E_M2M_CLIENT_SECRET=$m2m_client_secret \
	E2E_CHROMIUM=$chromium E2E_ARTIFACTS=$artifacts \
	go test -count=1 ${E2E_GO_TEST_FLAGS:-} ./... &
# In the background, so that a signal to this script stops the tests at
# once (the test binary's Chromium dies with it) instead of after them.
pids=("$!" "${pids[@]}")
if ! wait "${pids[0]}"; then
	echo "e2e: failed; the providers' and the apps' logs are in $artifacts" >&2
	exit 1
fi
echo "e2e: passed in $(($(date +%s) - started)) s; screenshots in $artifacts"
