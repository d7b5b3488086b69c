#!/usr/bin/env bash
# Runs the stores/redis module's tests against real redis-server processes,
# which the tests start themselves on free loopback ports (and stop, also
# when the test binary dies): single nodes, and a three-master Redis Cluster
# (cluster-enabled nodes joined with redis-cli --cluster create). Installs
# redis-server (and redis-cli, from redis-tools) from Debian's packages when
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
	echo "installing redis-server (Debian package)"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server redis-tools >/dev/null
fi
# Debian's package may start a server of its own where an init system runs;
# the tests never use it.

cd stores/redis
go vet ./...
go test -race -count=1 ./...
# Each benchmark a few iterations, so none can rot (figures: docs/PERFORMANCE.md).
go test -run '^$' -bench . -benchtime 20x ./... >/dev/null
