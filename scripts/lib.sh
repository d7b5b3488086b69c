# Shared by the scripts that start servers (e2e.sh, multi-e2e.sh); sourced,
# not run. It sets work (a temporary folder) and pids (processes started,
# stopped by stop_all and on exit, with their children: go test's test
# binary runs under go).

work=$(mktemp -d)
pids=()
stop_all() {
	local pid
	for pid in "${pids[@]}"; do
		pkill -TERM -P "$pid" 2>/dev/null || true
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	pids=()
}
cleanup() {
	local status=$?
	stop_all
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# npm_ci: the e2e module's npm packages, installed when missing or older
# than the lock file.
npm_ci() {
	if [ ! -f e2e/node_modules/.package-lock.json ] || [ e2e/package-lock.json -nt e2e/node_modules/.package-lock.json ]; then
		(cd e2e && npm ci --no-audit --no-fund --loglevel=error)
	fi
}
free_port() {
	node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { process.stdout.write(String(s.address().port)); s.close(); })'
}
random_hex() {
	head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'
}
