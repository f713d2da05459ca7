#!/usr/bin/env bash
# Runs one node:test suite of tests/node as an integration test: the
# checks every such suite needs first (iotvault built, node 18 or later,
# lora-packet installed, openssl and sqlite3), then node's test runner on
# the suite. Missing tools are a failure, never a skip. Run by the
# test_*.sh wrappers, not on its own.
# usage: node_suite.sh TEST_NAME SUITE (a path below tests/node)
set -Eeuo pipefail
umask 077

TEST_NAME="$1"
SUITE="$2"
IOTVAULT_SRC="${IOTVAULT_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
IOTVAULT_BIN="${IOTVAULT_BIN:-$IOTVAULT_SRC/build/iotvault}"
export IOTVAULT_SRC IOTVAULT_BIN
unset IOTVAULT_DATA IOTVAULT_PASSPHRASE IOTVAULT_PKCS11_PIN
NODE_DIR="$IOTVAULT_SRC/tests/node"

fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	exit 1
}

[[ -x "$IOTVAULT_BIN" ]] || fail "IOTVAULT_BIN ($IOTVAULT_BIN) is not an executable"
command -v node >/dev/null || fail "node is not installed (apt-get install nodejs)"
for tool in openssl sqlite3; do
	command -v "$tool" >/dev/null || fail "$tool is not installed"
done
node_major="$(node -p 'process.versions.node.split(".")[0]')"
((node_major >= 18)) || fail "node $node_major is too old; node:test needs 18 or later"
[[ -f "$NODE_DIR/node_modules/lora-packet/package.json" ]] ||
	fail "lora-packet is not installed (npm install --prefix $NODE_DIR)"

cd "$NODE_DIR"
rc=0
node --test "$NODE_DIR/$SUITE" 2>&1 || rc=$?
if ((rc != 0)); then
	echo "FAIL: $TEST_NAME (node --test exit status $rc)"
	exit 1
fi
echo "PASS: $TEST_NAME"
