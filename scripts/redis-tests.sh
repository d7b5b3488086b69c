#!/usr/bin/env bash
# Runs the stores/redis module's tests against real redis-server processes,
# which the tests start themselves on free loopback ports (and stop, also
# when the test binary dies). Installs redis-server from Debian's packages
# when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1; then
	echo "installing redis-server (Debian package)"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
fi
# Debian's package may start a server of its own where an init system runs;
# the tests never use it.

cd stores/redis
go vet ./...
go test -race -count=1 ./...
