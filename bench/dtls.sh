#!/usr/bin/env bash
# bench/dtls.sh: DTLS-PSK handshakes per second against iotvault's LwM2M
# listeners, beside libcoap's coap-rd-gnutls given the same PSK, in the same
# run and on the same machine (loopback only). Each handshake is a full
# DTLS 1.2 handshake (cookie exchange included) by tests/lwm2m_client, which
# opens a fresh session, waits for it to connect and closes it. iotvault looks
# the identity up in the vault and opens the sealed PSK (AES-256-GCM envelope)
# in every handshake; coap-rd-gnutls answers every identity with its one
# configured key. Prints one line per server and concurrency:
#   server=... clients=C handshakes=N ok=K seconds=S rate=R/s
# coap-rd-gnutls -p P listens for coap on P and coaps on P+1.
# Usage: bench/dtls.sh [BUILD_DIR] (default build/); HANDSHAKES (default 400
# per client) and CLIENTS (default "1 4") from the environment. Nothing here
# is a timed assertion.
set -euo pipefail
umask 077

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
source "$SRC/bench/lib.sh"
BUILD="${1:-$SRC/build}"
IV="$BUILD/iotvault"
HANDSHAKES="${HANDSHAKES:-400}"
CLIENTS="${CLIENTS:-1 4}"

die() {
	echo "bench/dtls: $*" >&2
	exit 1
}
[ -x "$IV" ] || die "$IV is not built"
for tool in coap-rd-gnutls pkg-config cc python3; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/iotvault-bench-dtls.XXXXXXXX")"
PIDS=()
cleanup() {
	local rc=$? p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$WORK"
	exit $rc
}
trap cleanup EXIT

CLIENT="$WORK/lwm2m_client"
cc -std=c17 -D_GNU_SOURCE -O2 -o "$CLIENT" "$SRC/tests/lwm2m_client/lwm2m_client.c" \
	$(pkg-config --cflags --libs libcoap-3-gnutls)

read -r HTTPS_PORT DM_PORT BS_PORT RD_PORT <<<"$(coap_rd_ports 4)"

# One PSK for both servers: text (coap-rd-gnutls -k takes text), stored in
# the vault as its bytes. It is a throwaway benchmark key.
head -c 96 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24 >"$WORK/psk.txt"
od -An -tx1 -v <"$WORK/psk.txt" | tr -d ' \n' >"$WORK/psk.key"
printf 'bs-bench' >"$WORK/bs.identity"
printf 'bench' >"$WORK/rd.identity"

D="$WORK/data"
"$IV" init --data "$D" >/dev/null
IV_K="$(cat "$WORK/psk.key")" "$IV" device add --data "$D" --tenant default --type lwm2m \
	--endpoint urn:bench:1 --psk-identity bs-bench --psk env:IV_K --key-policy flag >/dev/null
cat >>"$D/iotvault.conf" <<EOF

[lwm2m]
dm_listen = 127.0.0.1:$DM_PORT
bootstrap_listen = 127.0.0.1:$BS_PORT
EOF
"$IV" serve --data "$D" --listen "127.0.0.1:$HTTPS_PORT" --backend-listen off \
	>"$WORK/serve.out" 2>"$WORK/serve.err" &
PIDS+=($!)
coap-rd-gnutls -A 127.0.0.1 -p "$RD_PORT" -k "$(cat "$WORK/psk.txt")" -v 0 \
	>"$WORK/rd.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
	grep -q "LwM2M DM server" "$WORK/serve.out" 2>/dev/null && break
	sleep 0.1
done
grep -q "LwM2M DM server" "$WORK/serve.out" || die "iotvault serve did not start"
sleep 0.5

# run NAME PORT IDENTITY-FILE C: C concurrent clients of HANDSHAKES each
run() {
	local name="$1" port="$2" idf="$3" c="$4" i start end ok=0 total=0
	local pids=()
	start="$(date +%s.%N)"
	for ((i = 0; i < c; i++)); do
		"$CLIENT" --server "coaps://127.0.0.1:$port" --identity-file "$idf" \
			--key-file "$WORK/psk.key" handshakes "$HANDSHAKES" >"$WORK/run.$i" 2>&1 &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || true; done
	end="$(date +%s.%N)"
	for ((i = 0; i < c; i++)); do
		read -r _ n _ k _ _ _ _ <"$WORK/run.$i" || true
		total=$((total + ${n:-0}))
		ok=$((ok + ${k:-0}))
	done
	python3 -c 'import sys
name, c, n, ok, s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
print(f"server={name} clients={c} handshakes={n} ok={ok} seconds={s:.2f} rate={ok / s:.0f}/s")' \
		"$name" "$c" "$total" "$ok" "$(python3 -c "print($end - $start)")"
}

echo "# bench/dtls: $(nproc) CPU(s), $(gnutls-cli --version 2>/dev/null | head -n 1 || echo GnuTLS), libcoap $(pkg-config --modversion libcoap-3-gnutls)"
for c in $CLIENTS; do
	run "iotvault-bootstrap(vault lookup)" "$BS_PORT" "$WORK/bs.identity" "$c"
	run "coap-rd-gnutls(one key)" "$((RD_PORT + 1))" "$WORK/rd.identity" "$c"
done
