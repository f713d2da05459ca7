#!/usr/bin/env bash
# The join server end to end, against an independent oracle (issue 5): node's
# test runner (tests/node/joinserver/joinserver.test.mjs) makes a throwaway
# data directory with network-server peers (client certificate from openssl,
# bearer token) and application-server peers, ~20 LoRaWAN 1.0.3/1.0.4/1.1
# devices with random keys, starts the real `iotvault serve` with its backend
# listener, and checks every JoinAns with lora-packet and node:crypto (RFC 3394
# unwrap), then every refusal with its ResultCode and an unchanged database.
# Prints node's summary; exits non-zero on any failure. Missing node,
# lora-packet, openssl or sqlite3 is a failure, not a skip.
set -Eeuo pipefail
umask 077

IOTVAULT_SRC="${IOTVAULT_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
IOTVAULT_BIN="${IOTVAULT_BIN:-$IOTVAULT_SRC/build/iotvault}"
export IOTVAULT_SRC IOTVAULT_BIN
unset IOTVAULT_DATA IOTVAULT_PASSPHRASE IOTVAULT_PKCS11_PIN
NODE_DIR="$IOTVAULT_SRC/tests/node"

fail() {
	echo "FAIL: test_joinserver: $*" >&2
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
node --test "$NODE_DIR/joinserver/joinserver.test.mjs" 2>&1 || rc=$?
if ((rc != 0)); then
	echo "FAIL: test_joinserver (node --test exit status $rc)"
	exit 1
fi
echo "PASS: test_joinserver"
