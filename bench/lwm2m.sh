#!/usr/bin/env bash
# bench/lwm2m.sh: the LwM2M DM server under load, beside libcoap's
# coap-rd-gnutls (a CoRE Resource Directory: it takes the same POST /rd
# registrations) given the same requests over the same DTLS-PSK, in the same
# run, on loopback. bench/lwm2m_load.c drives both with up to C operations in
# flight. Figures:
#   1. DTLS-PSK handshakes/s: DEVICES devices (default 200), a fresh session
#      and full handshake each (cookie exchange included), closed once
#      established. iotvault looks each DM identity up in the vault and opens
#      its sealed PSK; coap-rd-gnutls answers every identity with its one key.
#   2. registrations/s over DTLS: the same devices, each a fresh session,
#      handshake and POST /rd?ep=&lt=3600&lwm2m=1.1&b=U (2.01). Round 1 is
#      each device's first registration with the DM credential its bootstrap
#      gave it (iotvault activates the credential and writes the audit record
#      in the same transaction); round 2 registers them again (replacement).
#      The DM credentials come from a real bootstrap of each device (timed too).
#   3. resident memory per registered client at CLIENTS (default 100,000)
#      devices created by one bulk import, registered over the NoSec listener
#      from 64 UDP sockets (100k DTLS sessions in one load process are not
#      practical here): (VmRSS after - VmRSS before) / CLIENTS of the server
#      process. That is per-registration state (SQLite row, CoAP resource of
#      the location, page cache), not per-DTLS-session state; the latter is
#      measured at DEVICES live sessions (round 2 is held open) instead.
# Usage: bench/lwm2m.sh [BUILD_DIR] (default build/); DEVICES, CLIENTS,
# LWM2M_CERTIFICATE (default off: PSK only; a path, relative to the data
# directory, e.g. tls/cert.pem, measures with certificate credentials set up),
# INFLIGHT (default "1 8") and REPEAT (default 5: the handshake and round-2
# runs go over the devices that many times) from the environment. Bounded: each load run stops
# after 300 s, the whole script after 10 minutes. Nothing here is a timed
# assertion; CTest does not run it.
set -euo pipefail
umask 077

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
source "$SRC/bench/lib.sh"
BUILD="${1:-$SRC/build}"
IV="$BUILD/iotvault"
DEVICES="${DEVICES:-200}"
CLIENTS="${CLIENTS:-100000}"
INFLIGHT="${INFLIGHT:-1 8}"
REPEAT="${REPEAT:-5}"

die() {
	echo "bench/lwm2m: $*" >&2
	exit 1
}
[ -x "$IV" ] || die "$IV is not built"
for tool in coap-rd-gnutls pkg-config cc python3 timeout; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done
[[ "$DEVICES" =~ ^[0-9]+$ && "$DEVICES" -ge 1 && "$DEVICES" -le 10000 ]] || die "DEVICES: 1..10000"
[[ "$CLIENTS" =~ ^[0-9]+$ && "$CLIENTS" -ge 1000 && "$CLIENTS" -le 1000000 ]] || die "CLIENTS: 1000..1000000"

# the whole run is bounded (the trap still cleans up)
if [ -z "${BENCH_LWM2M_BOUNDED:-}" ]; then
	BENCH_LWM2M_BOUNDED=1 exec timeout -k 10 600 bash "$0" "$@"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/iotvault-bench-lwm2m.XXXXXXXX")"
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
trap 'exit 130' INT TERM

COAP_FLAGS="$(pkg-config --cflags --libs libcoap-3-gnutls)"
# shellcheck disable=SC2086
cc -std=c17 -D_GNU_SOURCE -O2 -o "$WORK/lwm2m_client" "$SRC/tests/lwm2m_client/lwm2m_client.c" $COAP_FLAGS
# shellcheck disable=SC2086
cc -std=c17 -D_GNU_SOURCE -O2 -o "$WORK/lwm2m_load" "$SRC/bench/lwm2m_load.c" $COAP_FLAGS
LOAD="$WORK/lwm2m_load"

read -r HTTPS_PORT DM_PORT BS_PORT NOSEC_PORT RD_PORT <<<"$(coap_rd_ports 5)"

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
mib() { python3 -c "import sys; print('%.1f' % (int(sys.argv[1]) / 1024))" "$1"; }

echo "# bench/lwm2m: $(uname -m), $(nproc) CPU(s), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), libcoap $(pkg-config --modversion libcoap-3-gnutls), $("$IV" version 2>/dev/null | head -n 1 || echo iotvault)"

# ---- devices: DEVICES for DTLS (bootstrap PSKs kept in WORK/bs) and CLIENTS
# for the NoSec memory figure, in one bulk import ----
D="$WORK/data"
"$IV" init --data "$D" >/dev/null
mkdir "$WORK/bs" "$WORK/dm" "$WORK/rd"
python3 - "$WORK/import.csv" "$WORK/bs" "$DEVICES" "$CLIENTS" <<'EOF'
import os, sys
path, bs, n_dtls, n_nosec = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with open(path, "w", newline="") as f:
    f.write("type,endpoint,psk\r\n")
    for i in range(n_dtls):
        ep, key = "urn:bench:dtls:%d" % i, os.urandom(16).hex().upper()
        f.write("lwm2m,%s,%s\r\n" % (ep, key))
        for ext, text in (("identity", ep), ("key", key), ("ep", ep)):
            with open(os.path.join(bs, "%d.%s" % (i, ext)), "w") as g:
                g.write(text)
    pool = os.urandom(16 * n_nosec).hex().upper()
    for i in range(n_nosec):
        f.write("lwm2m,urn:bench:%d,%s\r\n" % (i, pool[32 * i:32 * i + 32]))
EOF
t0="$(date +%s.%N)"
"$IV" device import --data "$D" --tenant default --file "$WORK/import.csv" --policy flag \
	>"$WORK/import.out" 2>&1 || { tail -n 5 "$WORK/import.out" >&2; die "import failed"; }
t1="$(date +%s.%N)"
rm -f "$WORK/import.csv"
printf 'import: %d LwM2M devices in %.1f s\n' "$((DEVICES + CLIENTS))" "$(python3 -c "print($t1 - $t0)")"

cat >>"$D/iotvault.conf" <<EOF

[lwm2m]
dm_listen = 127.0.0.1:$DM_PORT
bootstrap_listen = 127.0.0.1:$BS_PORT
nosec = 127.0.0.1:$NOSEC_PORT
dm_server_uri = coaps://127.0.0.1:$DM_PORT
certificate = ${LWM2M_CERTIFICATE:-off}
EOF
"$IV" serve --data "$D" --listen "127.0.0.1:$HTTPS_PORT" --backend-listen off \
	>"$WORK/serve.out" 2>"$WORK/serve.err" &
IV_PID=$!
PIDS+=("$IV_PID")
# one PSK for every identity: coap-rd-gnutls takes -k as text
head -c 96 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24 >"$WORK/rd.txt"
RD_KEY_HEX="$(od -An -tx1 -v <"$WORK/rd.txt" | tr -d ' \n')"
coap-rd-gnutls -A 127.0.0.1 -p "$RD_PORT" -k "$(cat "$WORK/rd.txt")" -v 0 >"$WORK/rd.out" 2>&1 &
RD_PID=$!
PIDS+=("$RD_PID")
for i in $(seq 0 $((DEVICES - 1))); do
	printf 'rd-%d' "$i" >"$WORK/rd/$i.identity"
	printf 'urn:bench:dtls:%d' "$i" >"$WORK/rd/$i.ep"
done
for _ in $(seq 150); do
	grep -q "LwM2M DM server" "$WORK/serve.out" 2>/dev/null && break
	sleep 0.1
done
grep -q "LwM2M DM server" "$WORK/serve.out" || die "iotvault serve did not start"
sleep 0.5
echo "server RSS at start: iotvault $(mib "$(rss_kb "$IV_PID")") MiB, coap-rd-gnutls $(mib "$(rss_kb "$RD_PID")") MiB"

# ---- bootstrap each DTLS device (4 at a time) for its DM credential ----
t0="$(date +%s.%N)"
batch=()
for i in $(seq 0 $((DEVICES - 1))); do
	"$WORK/lwm2m_client" --server "coaps://127.0.0.1:$BS_PORT" --identity-file "$WORK/bs/$i.identity" \
		--key-file "$WORK/bs/$i.key" bootstrap "urn:bench:dtls:$i" "$WORK/dm/$i" >/dev/null 2>&1 &
	batch+=($!)
	if ((${#batch[@]} == 4)); then
		wait "${batch[@]}" || true
		batch=()
	fi
done
((${#batch[@]} == 0)) || wait "${batch[@]}" || true
t1="$(date +%s.%N)"
n_ok="$(find "$WORK/dm" -name '*.identity' | wc -l)"
[ "$n_ok" -eq "$DEVICES" ] || die "only $n_ok of $DEVICES bootstraps finished"
for i in $(seq 0 $((DEVICES - 1))); do cp "$WORK/bs/$i.ep" "$WORK/dm/$i.ep"; done
printf 'bootstrap: %d devices (4 at a time), %.2f s, %.0f/s\n' "$DEVICES" "$(python3 -c "print($t1 - $t0)")" \
	"$(python3 -c "print($DEVICES / ($t1 - $t0))")"

iv_load() { "$LOAD" --server "coaps://127.0.0.1:$DM_PORT" --creds "$WORK/dm" --devices "$DEVICES" "$@" || true; }
rd_load() { "$LOAD" --server "coaps://127.0.0.1:$((RD_PORT + 1))" --creds "$WORK/rd" --key-hex "$RD_KEY_HEX" --devices "$DEVICES" "$@" || true; }

echo "## DTLS-PSK handshakes"
for c in $INFLIGHT; do
	echo "iotvault-dm(vault lookup)  $(iv_load --mode handshake --inflight "$c" --repeat "$REPEAT")"
	echo "coap-rd-gnutls(one key)    $(rd_load --mode handshake --inflight "$c" --repeat "$REPEAT")"
done
echo "## registrations over DTLS-PSK (fresh session + handshake + POST /rd each)"
c_last="${INFLIGHT##* }"
echo "iotvault-dm round 1 (activates)  $(iv_load --mode register --inflight "$c_last")"
echo "coap-rd-gnutls round 1           $(rd_load --mode register --inflight "$c_last")"
for c in $INFLIGHT; do
	echo "iotvault-dm round 2              $(iv_load --mode register --inflight "$c" --repeat "$REPEAT")"
	echo "coap-rd-gnutls round 2           $(rd_load --mode register --inflight "$c" --repeat "$REPEAT")"
done
before_iv="$(rss_kb "$IV_PID")"
before_rd="$(rss_kb "$RD_PID")"
"$LOAD" --server "coaps://127.0.0.1:$DM_PORT" --creds "$WORK/dm" --devices "$DEVICES" --mode register \
	--inflight "$c_last" --hold >"$WORK/hold.iv" 2>&1 &
HOLD1=$!
PIDS+=("$HOLD1")
"$LOAD" --server "coaps://127.0.0.1:$((RD_PORT + 1))" --creds "$WORK/rd" --key-hex "$RD_KEY_HEX" \
	--devices "$DEVICES" --mode register --inflight "$c_last" --hold >"$WORK/hold.rd" 2>&1 &
HOLD2=$!
PIDS+=("$HOLD2")
for _ in $(seq 600); do
	grep -q holding "$WORK/hold.iv" 2>/dev/null && grep -q holding "$WORK/hold.rd" 2>/dev/null && break
	sleep 0.1
done
sleep 1
after_iv="$(rss_kb "$IV_PID")"
after_rd="$(rss_kb "$RD_PID")"
printf '%d live DTLS sessions: iotvault +%s MiB (%.1f KiB/session), coap-rd-gnutls +%s MiB (%.1f KiB/session)\n' \
	"$DEVICES" "$(mib $((after_iv - before_iv)))" "$(python3 -c "print(($after_iv - $before_iv) / $DEVICES)")" \
	"$(mib $((after_rd - before_rd)))" "$(python3 -c "print(($after_rd - $before_rd) / $DEVICES)")"
kill -TERM "$HOLD1" "$HOLD2" 2>/dev/null || true
wait "$HOLD1" "$HOLD2" 2>/dev/null || true

echo "## $CLIENTS registrations over NoSec from 64 UDP sockets, memory"
before_iv="$(rss_kb "$IV_PID")"
out="$("$LOAD" --server "coap://127.0.0.1:$NOSEC_PORT" --mode nosec --devices "$CLIENTS" --prefix urn:bench: --sockets 64 || true)"
sleep 2
after_iv="$(rss_kb "$IV_PID")"
regs="$(python3 - "$D/iotvault.db" <<'EOF'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("select count(*) from lwm2m_registrations where security = 'nosec'").fetchone()[0])
EOF
)"
echo "iotvault-dm       $out"
printf 'iotvault-dm       %d NoSec registrations stored; RSS %s -> %s MiB: %.2f KiB per registered client\n' \
	"$regs" "$(mib "$before_iv")" "$(mib "$after_iv")" "$(python3 -c "print(($after_iv - $before_iv) / max($regs, 1))")"
before_rd="$(rss_kb "$RD_PID")"
out="$("$LOAD" --server "coap://127.0.0.1:$RD_PORT" --mode nosec --devices "$CLIENTS" --prefix urn:bench: --sockets 64 || true)"
sleep 2
after_rd="$(rss_kb "$RD_PID")"
echo "coap-rd-gnutls    $out"
printf 'coap-rd-gnutls    RSS %s -> %s MiB: %.2f KiB per registered client\n' \
	"$(mib "$before_rd")" "$(mib "$after_rd")" "$(python3 -c "print(($after_rd - $before_rd) / $CLIENTS)")"
echo "iotvault database: $(du -sm "$D" | cut -f1) MiB on disk"
