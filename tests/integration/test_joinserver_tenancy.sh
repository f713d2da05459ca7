#!/usr/bin/env bash
# The join-server gaps of issue 5 end to end (tests/node/joinserver/
# tenancy.test.mjs): tenant peers answered only for their tenant's devices,
# client certificates authenticated by a peer's CA (openssl-made CAs), the
# ReceiverID check with the per-peer receiver-unknown code, and the peers,
# join-settings and reset-nonces API calls, every JoinAns checked with
# lora-packet. Missing node, lora-packet, openssl or sqlite3 is a failure.
set -Eeuo pipefail
umask 077

IOTVAULT_SRC="${IOTVAULT_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
IOTVAULT_BIN="${IOTVAULT_BIN:-$IOTVAULT_SRC/build/iotvault}"
export IOTVAULT_SRC IOTVAULT_BIN
unset IOTVAULT_DATA IOTVAULT_PASSPHRASE IOTVAULT_PKCS11_PIN
NODE_DIR="$IOTVAULT_SRC/tests/node"

fail() {
	echo "FAIL: test_joinserver_tenancy: $*" >&2
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
node --test "$NODE_DIR/joinserver/tenancy.test.mjs" 2>&1 || rc=$?
if ((rc != 0)); then
	echo "FAIL: test_joinserver_tenancy (node --test exit status $rc)"
	exit 1
fi
echo "PASS: test_joinserver_tenancy"
