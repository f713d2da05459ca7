#!/usr/bin/env bash
# Cross-check of src/lorawan against an implementation we did not write: the
# npm package lora-packet (tests/node/lorawan/oracle.mjs) generates random
# devices, keys, nonces and payloads and computes join-request MICs, rejoin
# MICs, join-accepts (1.0 and 1.1, encrypted), session keys (1.0, 1.1, JS keys),
# data frames (1.0 and 1.1 MICs, FRMPayload encryption) and 1.1 FOpts
# encryption; the unit-test program test_lorawan then recomputes every case
# with the C library and requires byte-for-byte equality.
#
# Environment: IOTVAULT_BIN (set by CTest; test_lorawan is looked up next to
# it), IOTVAULT_TEST_LORAWAN to point elsewhere, LORAWAN_ORACLE_CASES (default
# 200), LORAWAN_ORACLE_SEED (default: time; printed, to repeat a failing run).
# Missing node or lora-packet is a failure, not a skip: an oracle test that
# silently does nothing proves nothing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NODE_DIR="$IOTVAULT_SRC/tests/node"
CHECKER="${IOTVAULT_TEST_LORAWAN:-$(dirname "$IOTVAULT_BIN")/test_lorawan}"
COUNT="${LORAWAN_ORACLE_CASES:-200}"
SEED="${LORAWAN_ORACLE_SEED:-$(date +%s%N)}"

command -v node >/dev/null || fail "node is not installed (apt-get install nodejs)"
[[ -f "$NODE_DIR/node_modules/lora-packet/package.json" ]] ||
	fail "lora-packet is not installed (npm install --prefix $NODE_DIR lora-packet)"
[[ -x "$CHECKER" ]] || fail "unit-test program $CHECKER not found (build the test_lorawan target)"

CASES="$T/lorawan_cases.jsonl"
# The cases hold throwaway random keys: they stay in the private temp dir
# (umask 077, removed on exit) and are never printed.
node "$NODE_DIR/lorawan/oracle.mjs" --count "$COUNT" --seed "$SEED" --out "$CASES" 2>"$T/oracle.err" ||
	{ cat "$T/oracle.err" >&2; fail "the lora-packet oracle failed"; }
note "$(cat "$T/oracle.err")"
got="$(wc -l <"$CASES")"
assert_eq "$got" "$COUNT" "number of oracle cases"

IOTVAULT_VECTORS="${IOTVAULT_VECTORS:-$IOTVAULT_SRC/../shared/vectors}" \
	IOTVAULT_LORAWAN_CASES="$CASES" "$CHECKER" >"$T/check.out" 2>&1 || {
	grep -E 'oracle|FAIL|error' "$T/check.out" >&2 || true
	fail "src/lorawan disagrees with lora-packet (seed $SEED)"
}
grep -q "lora-packet oracle: $COUNT cases, 0 disagreements" "$T/check.out" ||
	fail "the oracle comparison did not run"
note "$(grep 'lora-packet oracle:' "$T/check.out")"
pass
