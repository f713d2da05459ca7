#!/usr/bin/env bash
# The Application Server end to end, against an independent oracle (issue 6):
# node's test runner (tests/node/appserver/appserver.test.mjs) makes a
# throwaway data directory with a network-server peer and iotvault's own
# application-server peer, joins devices through the join server, encrypts
# uplinks with lora-packet under the session keys the JoinAccept yields,
# posts them in ChirpStack v4, The Things Stack and native shapes, and checks
# the decoded values, the refusals (replays, regressions, malformed events:
# 4xx and an unchanged database), session adoption from an envelope, and the
# downlinks a fake network server (python3 HTTPS) receives, decrypted by
# lora-packet. Missing node, lora-packet, openssl, python3 or sqlite3 is a
# failure, not a skip.
set -Eeuo pipefail
umask 077

IOTVAULT_SRC="${IOTVAULT_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
IOTVAULT_BIN="${IOTVAULT_BIN:-$IOTVAULT_SRC/build/iotvault}"
export IOTVAULT_SRC IOTVAULT_BIN
unset IOTVAULT_DATA IOTVAULT_PASSPHRASE IOTVAULT_PKCS11_PIN
NODE_DIR="$IOTVAULT_SRC/tests/node"

fail() {
	echo "FAIL: test_appserver: $*" >&2
	exit 1
}

[[ -x "$IOTVAULT_BIN" ]] || fail "IOTVAULT_BIN ($IOTVAULT_BIN) is not an executable"
command -v node >/dev/null || fail "node is not installed (apt-get install nodejs)"
for tool in openssl sqlite3 python3; do
	command -v "$tool" >/dev/null || fail "$tool is not installed"
done
node_major="$(node -p 'process.versions.node.split(".")[0]')"
((node_major >= 18)) || fail "node $node_major is too old; node:test needs 18 or later"
[[ -f "$NODE_DIR/node_modules/lora-packet/package.json" ]] ||
	fail "lora-packet is not installed (npm install --prefix $NODE_DIR)"

cd "$NODE_DIR"
rc=0
node --test "$NODE_DIR/appserver/appserver.test.mjs" 2>&1 || rc=$?
if ((rc != 0)); then
	echo "FAIL: test_appserver (node --test exit status $rc)"
	exit 1
fi
echo "PASS: test_appserver"
