#!/usr/bin/env bash
# The REST API suite: node's built-in test runner drives the real
# `iotvault serve` (tests/node/api/*.test.mjs start and stop their own servers
# on throwaway data directories) and validates every response against
# docs/openapi.yaml. Prints node's summary; exits non-zero on any failure.
set -Eeuo pipefail
umask 077

IOTVAULT_SRC="${IOTVAULT_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
IOTVAULT_BIN="${IOTVAULT_BIN:-$IOTVAULT_SRC/build/iotvault}"
export IOTVAULT_SRC IOTVAULT_BIN
unset IOTVAULT_DATA IOTVAULT_PASSPHRASE IOTVAULT_PKCS11_PIN
NODE_DIR="$IOTVAULT_SRC/tests/node"

fail() {
	echo "FAIL: test_api: $*" >&2
	exit 1
}

[[ -x "$IOTVAULT_BIN" ]] || fail "IOTVAULT_BIN ($IOTVAULT_BIN) is not an executable"
command -v node >/dev/null || fail "node is not installed (apt-get install nodejs npm)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
((node_major >= 18)) || fail "node $node_major is too old; node:test needs 18 or later"

# the npm dependencies of tests/node/package.json (ajv, ajv-formats, yaml)
deps_ok() {
	(cd "$NODE_DIR" && node -e 'for (const m of ["ajv", "ajv-formats", "yaml"]) require.resolve(m)') 2>/dev/null
}
if ! deps_ok; then
	[[ -f "$NODE_DIR/package.json" ]] || fail "$NODE_DIR/package.json is missing"
	echo "# test_api: installing the npm dependencies of tests/node" >&2
	npm install --prefix "$NODE_DIR" --no-audit --no-fund >&2 || fail "npm install failed"
	deps_ok || fail "ajv, ajv-formats and yaml are not dependencies of $NODE_DIR/package.json"
fi

shopt -s nullglob
tests=("$IOTVAULT_SRC"/tests/node/api/*.test.mjs)
((${#tests[@]} > 0)) || fail "no tests under tests/node/api"

cd "$NODE_DIR"
# each file starts its own server on a free port, so files may run in parallel
rc=0
node --test "${tests[@]}" 2>&1 || rc=$?
if ((rc != 0)); then
	echo "FAIL: test_api (node --test exit status $rc)"
	exit 1
fi
echo "PASS: test_api"
