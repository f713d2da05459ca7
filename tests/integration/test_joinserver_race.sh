#!/usr/bin/env bash
# Two `iotvault serve` processes share one data directory's database and
# receive the same JoinRequest at once, ~20 rounds with fresh DevNonces:
# exactly one Success and one FrameReplayed per round, one session row per
# round (tests/node/joinserver/race.test.mjs starts both servers). Prints
# node's summary; exits non-zero on any failure.
set -Eeuo pipefail
umask 077

IOTVAULT_SRC="${IOTVAULT_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
IOTVAULT_BIN="${IOTVAULT_BIN:-$IOTVAULT_SRC/build/iotvault}"
export IOTVAULT_SRC IOTVAULT_BIN
unset IOTVAULT_DATA IOTVAULT_PASSPHRASE IOTVAULT_PKCS11_PIN
NODE_DIR="$IOTVAULT_SRC/tests/node"

fail() {
	echo "FAIL: test_joinserver_race: $*" >&2
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
node --test "$NODE_DIR/joinserver/race.test.mjs" 2>&1 || rc=$?
if ((rc != 0)); then
	echo "FAIL: test_joinserver_race (node --test exit status $rc)"
	exit 1
fi
echo "PASS: test_joinserver_race"
