#!/usr/bin/env bash
# bench/join: LoRaWAN Backend Interfaces JoinReq/JoinAns per second and their
# latency over keep-alive TLS, every DevNonce, JoinNonce and session durably
# committed before its answer, printed beside nginx serving a static JSON file
# of a JoinAns's size with the same TLS settings, on the same machine, in the
# same run.
#
#   bash bench/join.sh [--duration S] [--connections N] [--devices D]
#                      [--node-count N] [--max-rate R]
#
# Two clients, because wrk cannot present a client certificate:
#  - wrk (-t2, keep-alive) as a network-server peer that authenticates with a
#    bearer token (ChirpStack's authorization_header), for the throughput rows;
#  - a node client (bench/join/client.mjs, https.Agent keep-alive) as a peer
#    with a pinned client certificate (mutual TLS), and as the bearer peer, for
#    the same comparison with a client that can do both.
# Every JoinReq is pre-built (bench/join/gen.mjs, lora-packet) with a valid MIC
# and a DevNonce its device never used, and is sent once; every answer's
# Result.ResultCode is counted and anything but Success is a failure.
#
# It prints figures; nothing passes or fails on a number, and CTest does not
# run it. Everything is on loopback, in throwaway directories removed on exit.
# No key, KEK or token is printed: peer add output goes to /dev/null, device
# keys exist only inside gen.mjs, the token is in a 0600 file read by the
# clients, and answers are counted, never shown.
set -euo pipefail
umask 077
BENCH_NAME="bench/join"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

DURATION=10
CONNECTIONS=16
THREADS=2
DEVICES=400
NODE_COUNT=2000
NODE_CONCURRENCY=16
MAX_RATE=5000
WARMUP=1
NODE_WARM=200

usage() {
	cat >&2 <<'EOF'
usage: bash bench/join.sh [--duration S (1-30, default 10)] [--connections N (2-256, default 16)]
                          [--devices D (even, 100-5000, default 400)] [--node-count N (100-20000, default 2000)]
                          [--max-rate R (JoinReqs/s the wrk run may reach; bodies are built for it; default 5000)]
EOF
	exit 2
}

while [ $# -gt 0 ]; do
	case "$1" in
	--duration) [ $# -ge 2 ] || usage; DURATION="$2"; shift 2 ;;
	--connections) [ $# -ge 2 ] || usage; CONNECTIONS="$2"; shift 2 ;;
	--devices) [ $# -ge 2 ] || usage; DEVICES="$2"; shift 2 ;;
	--node-count) [ $# -ge 2 ] || usage; NODE_COUNT="$2"; shift 2 ;;
	--max-rate) [ $# -ge 2 ] || usage; MAX_RATE="$2"; shift 2 ;;
	*) usage ;;
	esac
done
num_in() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
num_in "$DURATION" 1 30 || usage
num_in "$CONNECTIONS" 2 256 || usage
# wrk's threads split the devices between them (bench/join/wrk.lua)
if ! num_in "$DEVICES" 100 5000 || [ $((DEVICES % THREADS)) -ne 0 ]; then usage; fi
num_in "$NODE_COUNT" 100 20000 || usage
num_in "$MAX_RATE" 100 100000 || usage

ROOT="$(cd "$HERE/.." && pwd)"
BUILD="${IOTVAULT_BUILD:-$ROOT/build-bench-join}"
IOTVAULT="$BUILD/iotvault"
NODE_DIR="$ROOT/tests/node"
[ -x "$IOTVAULT" ] || die "no $IOTVAULT; build first: cmake -S $ROOT -B $BUILD && cmake --build $BUILD -j2 (or set IOTVAULT_BUILD)"
bench_need_tools wrk nginx curl jq openssl node sqlite3
[ -f "$NODE_DIR/node_modules/lora-packet/package.json" ] ||
	die "lora-packet is not installed (npm ci --prefix $NODE_DIR)"
unset IOTVAULT_DATA IOTVAULT_PASSPHRASE IOTVAULT_PKCS11_PIN

bench_workdirs bench-join
T_START="$(date +%s)"
DATA="$WORK/data"
CERT="$DATA/tls/cert.pem"
IV_PORT="$(free_port)"
BACKEND_PORT="$(free_port_except "$IV_PORT")"
JS="https://127.0.0.1:$BACKEND_PORT"
NS_BEARER_NETID=000013
NS_MTLS_NETID=000042

# ---- data directory, peers ----
"$IOTVAULT" init --data "$DATA" --tenant t --quiet >"$WORK/init.log" 2>&1 ||
	die "iotvault init failed: $(tail -n 3 "$WORK/init.log")"
PER_SOURCE=$((CONNECTIONS > 32 ? CONNECTIONS : 32))
sed -i "s/^connections_per_source = .*/connections_per_source = $PER_SOURCE/" "$DATA/iotvault.conf"
HTTP_THREADS="$(sed -n 's/^threads = //p' "$DATA/iotvault.conf")"

# peer add prints the generated KEK (and a generated token) once: not here
peer_add() {
	"$IOTVAULT" peer add --data "$DATA" "$@" >/dev/null 2>"$WORK/peer.err" ||
		die "iotvault peer add $2 failed: $(tail -n 2 "$WORK/peer.err")"
}
# the bearer token is made here so that it is known without parsing output;
# it stays in a 0600 file and in the environment of the one command that needs it
head -c 24 /dev/urandom | base64 | tr '+/' '-_' >"$WORK/ns.token"
BENCH_NS_TOKEN="$(cat "$WORK/ns.token")" peer_add --name ns-bearer --type ns \
	--sender-id "$NS_BEARER_NETID" --kek-label ns-bearer-kek --token env:BENCH_NS_TOKEN
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=ns-mtls -days 2 \
	-keyout "$WORK/ns-mtls.key" -out "$WORK/ns-mtls.crt" >"$WORK/openssl.log" 2>&1 ||
	die "openssl req (client certificate) failed"
peer_add --name ns-mtls --type ns --sender-id "$NS_MTLS_NETID" --kek-label ns-mtls-kek \
	--client-cert "$WORK/ns-mtls.crt"
peer_add --name bench-as --type as --sender-id bench-as --kek-label bench-as-kek --token generate

# ---- devices and JoinReq bodies, in the order the runs use them ----
WRK_WARM_N=$((MAX_RATE * WARMUP))
WRK_N=$((MAX_RATE * DURATION))
node "$HERE/join/gen.mjs" --bin "$IOTVAULT" --data "$DATA" --tenant t --as-peer bench-as \
	--devices "$DEVICES" --out "$WORK" \
	--set "node-warm:$NS_BEARER_NETID:$NODE_WARM" \
	--set "node-bearer:$NS_BEARER_NETID:$NODE_COUNT" \
	--set "node-mtls:$NS_MTLS_NETID:$NODE_COUNT" \
	--set "wrk-warm:$NS_BEARER_NETID:$WRK_WARM_N" \
	--set "wrk-join:$NS_BEARER_NETID:$WRK_N" >"$WORK/gen.out" 2>"$WORK/gen.err" ||
	die "gen.mjs failed: $(tail -n 3 "$WORK/gen.err")"
GEN="$(grep '^GEN ' "$WORK/gen.out")"
gen_field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$GEN"; }

# ---- iotvault with its backend-interfaces listener ----
iotvault_serve "$DATA" "$WORK/serve.log" --listen "127.0.0.1:$IV_PORT" \
	--backend-listen "127.0.0.1:$BACKEND_PORT"
wait_for_listen "$BACKEND_PORT" "$IV_PID" || die "the backend listener did not start: $(tail -n 3 "$WORK/serve.log")"

# node_run NAME URL BODIES [client args...] -> the RESULT json; fails unless every answer is Success
node_run() {
	local name="$1" url="$2" bodies="$3" line
	shift 3
	(cd "$NODE_DIR" && timeout 120 node "$HERE/join/client.mjs" --url "$url" --bodies "$bodies" \
		--concurrency "$NODE_CONCURRENCY" --ca "$CERT" "$@") >"$WORK/node-$name.out" 2>&1 ||
		die "node client ($name) failed: $(tail -n 3 "$WORK/node-$name.out")"
	line="$(sed -n 's/^RESULT //p' "$WORK/node-$name.out")"
	[ -n "$line" ] || die "node client ($name) printed no result"
	echo "$line"
}

STARTED="$(date -u '+%Y-%m-%d %H:%M:%SZ')"
LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)"

# warm-up (discarded) that also learns the answers' size and shape for nginx
R_WARM="$(node_run warm "$JS/" "$WORK/node-warm.jsonl" --token-file "$WORK/ns.token" \
	--static-out "$DOCROOT/joinans.json")"
[ "$(jq -r .failures <<<"$R_WARM")" = 0 ] ||
	die "warm-up JoinReqs failed: $(jq -c .codes <<<"$R_WARM") (the server log: $(tail -n 2 "$WORK/serve.log"))"
[ -s "$DOCROOT/joinans.json" ] || die "no JoinAns sample for nginx"
chmod 644 "$DOCROOT/joinans.json"
ANS_SIZE="$(stat -c %s "$DOCROOT/joinans.json")"

R_NODE_BEARER="$(node_run bearer "$JS/" "$WORK/node-bearer.jsonl" --token-file "$WORK/ns.token")"
R_NODE_MTLS="$(node_run mtls "$JS/" "$WORK/node-mtls.jsonl" --cert "$WORK/ns-mtls.crt" --key "$WORK/ns-mtls.key")"

# ---- nginx: same certificate, key and TLS policy, and like the backend
# listener it asks for a client certificate (CA list = the server's own
# certificate) without requiring one. A POST to a static file is refused with
# 405 by nginx; error_page turns that into the file itself. ----
bench_nginx_start "$DATA/tls/cert.pem" "$DATA/tls/key.pem" "
        location = /joinans.json {
            default_type application/json;
            etag off;
            error_page 405 =200 \$uri;
$BENCH_NGINX_SECURITY_HEADERS
        }" "
        ssl_client_certificate $WORK/nginx/cert.pem;
        ssl_verify_client optional_no_ca;"
curl -sS --cacert "$CERT" -o "$WORK/static.json" -w '%{http_code}' -X POST --data-binary @"$WORK/node-warm.jsonl" \
	"$NG/joinans.json" >"$WORK/static.code" || die "nginx: curl failed"
if [ "$(cat "$WORK/static.code")" != 200 ] || ! cmp -s "$WORK/static.json" "$DOCROOT/joinans.json"; then
	die "nginx does not answer a POST with the static JoinAns (HTTP $(cat "$WORK/static.code"))"
fi
R_NODE_NGINX="$(node_run nginx "$NG/joinans.json" "$WORK/node-mtls.jsonl" --cert "$WORK/ns-mtls.crt" --key "$WORK/ns-mtls.key")"

IV_TLS="$(tls_params "$BACKEND_PORT")"
IV_MTLS="$(tls_params "$BACKEND_PORT" -cert "$WORK/ns-mtls.crt" -key "$WORK/ns-mtls.key")"
NGX_TLS="$(tls_params "$NGX_PORT")"

# run_wrk NAME URL BODIES TOKEN_FILE SECONDS -> the RESULT line
run_wrk() {
	local name="$1" url="$2" bodies="$3" token="$4" secs="$5" line
	BENCH_BODIES="$bodies" BENCH_TOKEN_FILE="$token" BENCH_THREADS="$THREADS" timeout $((secs + 30)) \
		wrk -t"$THREADS" -c"$CONNECTIONS" -d"${secs}s" --latency --timeout 10s \
		-s "$HERE/join/wrk.lua" "$url" >"$WORK/wrk-$name.out" 2>&1 ||
		die "wrk against $name failed: $(tail -n 3 "$WORK/wrk-$name.out")"
	line="$(grep '^RESULT ' "$WORK/wrk-$name.out" | tail -n 1)"
	[ -n "$line" ] || die "wrk against $name printed no summary: $(tail -n 3 "$WORK/wrk-$name.out")"
	echo "$line"
}

db() { sqlite3 -batch -noheader -cmd '.timeout 10000' "$DATA/iotvault.db" "$1"; }

run_wrk warm-join "$JS/" "$WORK/wrk-warm.jsonl" "$WORK/ns.token" "$WARMUP" >/dev/null
ROWS_BEFORE="$(db 'select (select count(*) from dev_nonces) || " " || (select count(*) from lorawan_sessions)')"
R_JOIN="$(run_wrk join "$JS/" "$WORK/wrk-join.jsonl" "$WORK/ns.token" "$DURATION")"
# requests in flight when wrk stopped are still answered (and committed)
sleep 0.5
ROWS_AFTER="$(db 'select (select count(*) from dev_nonces) || " " || (select count(*) from lorawan_sessions)')"
run_wrk warm-nginx "$NG/joinans.json" "$WORK/wrk-warm.jsonl" "" "$WARMUP" >/dev/null
R_NGINX="$(run_wrk nginx "$NG/joinans.json" "$WORK/wrk-join.jsonl" "" "$DURATION")"

EVENTS="$(db 'select coalesce(group_concat(kind || "=" || n, " "), "none") from (select kind, count(*) n from security_events group by kind)')"
TOTAL_ROWS="$(db 'select (select count(*) from dev_nonces) || " " || (select count(*) from lorawan_sessions) || " " || (select count(*) from secrets where owner_kind = "lorawan_session")')"
T_END="$(date +%s)"

# ---- report ----
cpu="$(cpu_model)"
echo "bench/join: iotvault join server (TS002 JoinReq -> JoinAns) beside nginx static JSON"
echo "date:        $STARTED"
echo "machine:     $(nproc) CPUs online, ${cpu:-unknown CPU}, $(uname -sr) $(uname -m)"
echo "load avg:    $LOADAVG (1/5/15 min, at start of the measured runs)"
echo "versions:    $("$IOTVAULT" --version 2>&1 | head -n 1), $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), node $(node --version)"
echo "libraries:   GnuTLS $(pkg_version libgnutls30), libmicrohttpd $(pkg_version libmicrohttpd12), SQLite $(pkg_version libsqlite3-0), OpenSSL $(pkg_version libssl3) (nginx, wrk, node uses its own)"
echo "data dir:    $DATA on $(stat -f -c %T "$DATA"); SQLite WAL, synchronous=FULL"
echo "devices:     $(gen_field devices) ($(gen_field mix | tr ',' ' ')), each with an AS peer (AppSKey wrapped); added in $(gen_field add_s) s,"
echo "             $((NODE_WARM + 2 * NODE_COUNT + WRK_WARM_N + WRK_N)) JoinReq bodies built in $(gen_field bodies_s) s (lora-packet MIC, fresh DevNonce each, sent once)"
echo "peers:       ns-bearer (NetID $NS_BEARER_NETID, Authorization: Bearer), ns-mtls (NetID $NS_MTLS_NETID, pinned client certificate), bench-as"
echo "servers:     iotvault backend listener, $HTTP_THREADS libmicrohttpd threads (one service lock); nginx worker_processes auto ($(nproc)), access_log off"
echo "tls:         iotvault: $IV_TLS (with client certificate: $IV_MTLS); nginx: $NGX_TLS; same certificate and key"
echo "answer:      mean JoinAns body $(jq -r .mean_body <<<"$R_WARM") bytes; nginx file $ANS_SIZE bytes, a zeroed JoinAns, same security headers, POST answered 200"
echo "load:        wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency; node https.Agent keepAlive, $NODE_CONCURRENCY in flight, $NODE_COUNT requests;"
echo "             ${WARMUP}s wrk warm-up per target and $NODE_WARM node JoinReqs discarded"
echo
printf '%-46s %9s %8s %9s %9s %8s %9s\n' "target" "requests" "req/s" "p50 ms" "p99 ms" "B/reply" "failures"
bad=0
wrk_row() { # LABEL RESULT FRESH: FRESH=1 when every body must be new (iotvault)
	local label="$1" fresh="$3" reqs dur bytes p50 p99 sock tmo succ wrapped rps fails
	# RESULT requests duration bytes p50 p99 max non2xx sockerr timeouts success other non200 wrapped sent
	read -r _ reqs dur bytes p50 p99 _ _ sock tmo succ _ _ wrapped _ <<<"$2"
	# nginx may see a body twice: it keeps no nonces
	[ "$fresh" = 1 ] || wrapped=0
	rps="$(awk -v r="$reqs" -v d="$dur" 'BEGIN { printf "%.0f", (d > 0) ? r / (d / 1e6) : 0 }')"
	fails=$((reqs - succ + sock + tmo))
	printf '%-46s %9d %8s %9s %9s %8d %9d\n' "$label" "$reqs" "$rps" "$(ms "$p50")" "$(ms "$p99")" \
		$((reqs > 0 ? bytes / reqs : 0)) "$fails"
	[ "$fails" -eq 0 ] && [ "$wrapped" -eq 0 ] || bad=1
	[ "$wrapped" -eq 0 ] || echo "  ($label: ran out of fresh bodies $wrapped times; raise --max-rate)" >&2
}
node_row() {
	local label="$1" j="$2"
	printf '%-46s %9d %8d %9s %9s %8s %9d\n' "$label" "$(jq -r .requests <<<"$j")" "$(jq -r .rate <<<"$j")" \
		"$(ms "$(jq -r .p50_us <<<"$j")")" "$(ms "$(jq -r .p99_us <<<"$j")")" "-" "$(jq -r '.failures + .http_errors' <<<"$j")"
	[ "$(jq -r '.failures + .http_errors' <<<"$j")" = 0 ] || bad=1
}
wrk_row "iotvault JoinReq, wrk, bearer token" "$R_JOIN" 1
wrk_row "nginx static JoinAns, wrk" "$R_NGINX" 0
node_row "iotvault JoinReq, node, bearer token" "$R_NODE_BEARER"
node_row "iotvault JoinReq, node, mutual TLS" "$R_NODE_MTLS"
node_row "nginx static JoinAns, node, mutual TLS" "$R_NODE_NGINX"
echo
echo "failures:    answers whose Result.ResultCode is not Success (nginx: replies without it),"
echo "             non-200 replies, socket errors and timeouts. B/reply: bytes per reply, headers included."
read -r nb_before ss_before <<<"$ROWS_BEFORE"
read -r nb_after ss_after <<<"$ROWS_AFTER"
read -r _ _ _ _ _ _ _ _ _ _ join_succ _ <<<"$R_JOIN"
echo "durable:     wrk join run: $join_succ Success answers; DevNonces stored +$((nb_after - nb_before)), sessions +$((ss_after - ss_before))"
echo "             (requests in flight when wrk stopped are committed too); whole run: $(awk '{print $1" DevNonces, "$2" sessions, "$3" sealed session keys"}' <<<"$TOTAL_ROWS")"
echo "security:    events recorded: $EVENTS"
echo "note:        each JoinReq: MIC checked with the root key opened in guarded memory, then one SQLite write"
echo "             transaction (DevNonce, JoinNonce, session, sealed keys) committed with fdatasync before"
echo "             the JoinAns leaves; wrk cannot present a client certificate, so its rows use the bearer peer."
echo "run time:    $((T_END - T_START)) s (set-up included)"
if [ "$bad" -ne 0 ]; then
	echo "bench/join: some requests failed (see the failures column); the figures above are not valid" >&2
	for n in bearer mtls nginx; do
		if [ -f "$WORK/node-$n.out" ]; then sed -n 's/^RESULT /  node '"$n"': /p' "$WORK/node-$n.out" >&2; fi
	done
	exit 1
fi
