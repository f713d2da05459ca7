#!/usr/bin/env bash
# bench/uplink: end-to-end uplinks per second through the Application Server
# (HTTPS in, session lookup, frame-counter UPDATE, AppSKey opened in the vault,
# FRMPayload decrypted, raw codec, uplink stored and queued in the outbox, one
# commit each) with p50/p99, beside nginx serving a static JSON file with the
# same TLS settings; then the per-frame decryption cost (bench_uplink_crypto:
# through the vault vs raw AES-128 on the same bytes) and lora-packet's decrypt
# rate on the same frame as the reference.
#
#   bash bench/uplink.sh [--duration S] [--connections N]
#
# Each wrk connection is its own thread with its own session (adopted from an
# envelope under the own AS KEK on its first request), so its counters arrive
# in order; a 409 would show up as errors. Prints figures; passes or fails on
# nothing. KEKs, API keys and session keys stay in files of the private work
# directory, removed on exit.
set -euo pipefail
umask 077
BENCH_NAME="bench/uplink"
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=10
CONNECTIONS=4
usage() {
	echo "usage: bash bench/uplink.sh [--duration S (1-30, default 10)] [--connections N (1-64, default 4)]" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--duration) [ $# -ge 2 ] || usage; DURATION="$2"; shift 2 ;;
	--connections) [ $# -ge 2 ] || usage; CONNECTIONS="$2"; shift 2 ;;
	*) usage ;;
	esac
done
if ! [[ "$DURATION" =~ ^[0-9]+$ ]] || [ "$DURATION" -lt 1 ] || [ "$DURATION" -gt 30 ]; then usage; fi
if ! [[ "$CONNECTIONS" =~ ^[0-9]+$ ]] || [ "$CONNECTIONS" -lt 1 ] || [ "$CONNECTIONS" -gt 64 ]; then usage; fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${IOTVAULT_BUILD:-$ROOT/build-bench-uplink}"
IOTVAULT="$BUILD/iotvault"
[ -x "$IOTVAULT" ] || die "no $IOTVAULT; build first: cmake -S $ROOT -B $BUILD && cmake --build $BUILD -j2 (or set IOTVAULT_BUILD)"
bench_need_tools wrk nginx curl jq openssl node
bench_workdirs bench-uplink

DATA="$WORK/data"
CERT="$DATA/tls/cert.pem"
IV_PORT="$(free_port)"
IV="https://127.0.0.1:$IV_PORT"

"$IOTVAULT" init --data "$DATA" --tenant t --quiet >"$WORK/init.log" 2>&1 ||
	die "iotvault init failed: $(tail -n 3 "$WORK/init.log")"
"$IOTVAULT" peer add --data "$DATA" --name bench-as --type as --sender-id AS-BENCH \
	--kek-label bench-as-kek --token generate >"$WORK/peer.out" 2>&1 || die "peer add failed"
sed -n 's/^kek: \([0-9A-Fa-f]\{32\}\)$/\1/p' "$WORK/peer.out" >"$WORK/kek"
rm -f "$WORK/peer.out"
[ -s "$WORK/kek" ] || die "peer add printed no KEK"
printf '\n[appserver]\nown_as_peer = bench-as\n' >>"$DATA/iotvault.conf"
sed -i "s/^connections_per_source = .*/connections_per_source = 64/" "$DATA/iotvault.conf"
for i in $(seq 1 "$CONNECTIONS"); do
	"$IOTVAULT" device add --data "$DATA" --tenant t --type lorawan --mac-version 1.0.4 \
		--dev-eui "$(printf '70B3D57ED1%06X' "$i")" --join-eui 70B3D57ED0000000 >/dev/null 2>&1 ||
		die "device add $i failed"
done
iotvault_serve "$DATA" "$WORK/serve.log" --listen "127.0.0.1:$IV_PORT" --backend-listen off

jq -n --rawfile pw "$DATA/initial-admin-password" \
	'{tenant: "t", username: "admin", password: ($pw | rtrimstr("\n"))}' >"$WORK/login-body.json"
curl -sS --cacert "$CERT" -o /dev/null -c "$WORK/cookies" -H 'Content-Type: application/json' \
	--data-binary @"$WORK/login-body.json" "$IV/api/v1/session" || die "login failed"
rm -f "$WORK/login-body.json"
curl -sS --cacert "$CERT" -o "$WORK/apikey.json" -b "$WORK/cookies" -H "Origin: $IV" \
	-H 'Content-Type: application/json' --data '{"name":"bench","role":"operator"}' "$IV/api/v1/apikeys"
jq -r '.key // empty' "$WORK/apikey.json" >"$WORK/apikey"
rm -f "$WORK/apikey.json"
[ -s "$WORK/apikey" ] || die "no API key"

# one session per connection: random AppSKey wrapped under the own AS KEK
# (node:crypto, RFC 3394), the SessionKeyID and DevAddr, one line each
node -e '
const c = require("crypto"), fs = require("fs");
const kek = Buffer.from(fs.readFileSync(process.argv[1], "utf8").trim(), "hex");
const n = Number(process.argv[2]); let out = "";
for (let i = 1; i <= n; i++) {
	const w = c.createCipheriv("id-aes128-wrap", kek, Buffer.from("A6A6A6A6A6A6A6A6", "hex"));
	const env = Buffer.concat([w.update(c.randomBytes(16)), w.final()]).toString("hex");
	out += `70B3D57ED1${i.toString(16).toUpperCase().padStart(6, "0")} ${c.randomBytes(16).toString("hex")} ${c.randomBytes(4).toString("hex")} ${env}\n`;
}
fs.writeFileSync(process.argv[3], out);' "$WORK/kek" "$CONNECTIONS" "$WORK/sessions"

cat >"$WORK/uplink.lua" <<'EOF2'
-- each thread (one connection) owns one session, read from the sessions file
local threads, counter = 0, 0
local mine
function setup(thread)
	threads = threads + 1
	thread:set("index", threads)
end
function init(args)
	local f = assert(io.open(os.getenv("BENCH_SESSIONS"), "r"))
	local i = 0
	for line in f:lines() do
		i = i + 1
		if i == index then mine = line end
	end
	f:close()
	local k = assert(io.open(os.getenv("BENCH_KEY_FILE"), "r"))
	wrk.headers["Authorization"] = "Bearer " .. k:read("*l")
	k:close()
	wrk.headers["Content-Type"] = "application/json"
	wrk.method = "POST"
end
function request()
	counter = counter + 1
	local eui, skid, addr, env = mine:match("(%S+) (%S+) (%S+) (%S+)")
	local body = string.format('{"event":"up","dev_eui":"%s","session_key_id":"%s","dev_addr":"%s",' ..
		'"f_cnt":%d,"f_port":1,"frm_payload":"AQIDBAUGBwgJCgsMDQ4PEBESExQ=",' ..
		'"app_s_key":{"kek_label":"bench-as-kek","aes_key":"%s"}}', eui, skid, addr, counter, env)
	return wrk.format(nil, nil, nil, body)
end
function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("RESULT %d %d %d %d %d\n", summary.requests, summary.duration,
		latency:percentile(50), latency:percentile(99), e.status + e.connect + e.read + e.write + e.timeout))
end
EOF2
cat >"$WORK/get.lua" <<'EOF2'
function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("RESULT %d %d %d %d %d\n", summary.requests, summary.duration,
		latency:percentile(50), latency:percentile(99), e.status + e.connect + e.read + e.write + e.timeout))
end
EOF2

# nginx: a static JSON reply of the size of an ingest reply
printf '{"device_id":1,"adopted":false,"status":"accepted","uplink_id":123456,"f_cnt":123456,"forwarded":true}' >"$DOCROOT/up.json"
chmod 644 "$DOCROOT/up.json"
bench_nginx_start "$DATA/tls/cert.pem" "$DATA/tls/key.pem" "
        location = /up.json {
            default_type application/json;
            etag off;
$BENCH_NGINX_SECURITY_HEADERS
        }"

run() { # NAME URL SCRIPT
	BENCH_SESSIONS="$WORK/sessions" BENCH_KEY_FILE="$WORK/apikey" timeout $((DURATION + 20)) \
		wrk -t"$CONNECTIONS" -c"$CONNECTIONS" -d"${DURATION}s" --latency --timeout 10s -s "$3" "$2" \
		>"$WORK/wrk-$1.out" 2>&1 || die "wrk $1 failed: $(tail -n 3 "$WORK/wrk-$1.out")"
	grep '^RESULT ' "$WORK/wrk-$1.out" | tail -n 1
}
R_UP="$(run uplink "$IV/api/v1/ingest/native" "$WORK/uplink.lua")"
R_NGX="$(run nginx "$NG/up.json" "$WORK/get.lua")"
STORED="$(sqlite3 "$DATA/iotvault.db" "select count(*) from uplinks where status = 'accepted'" 2>/dev/null || echo '?')"

echo "bench/uplink: end-to-end uplinks (HTTPS in -> decrypted, decoded, stored, queued) beside nginx static"
echo "machine:     $(nproc) CPUs, $(cpu_model), $(uname -sr)"
echo "load:        wrk -t$CONNECTIONS -c$CONNECTIONS -d${DURATION}s --latency, one session per connection, 20-byte FRMPayload, raw codec"
printf '%-30s %10s %10s %10s %10s %8s\n' target requests req/s "p50 ms" "p99 ms" errors
row() {
	local reqs dur p50 p99 err
	read -r _ reqs dur p50 p99 err <<<"$2"
	printf '%-30s %10s %10s %10s %10s %8s\n' "$1" "$reqs" \
		"$(awk -v r="$reqs" -v d="$dur" 'BEGIN { printf "%.0f", r / (d / 1e6) }')" "$(ms "$p50")" "$(ms "$p99")" "$err"
}
row "iotvault POST ingest/native" "$R_UP"
row "nginx GET static JSON" "$R_NGX"
echo "uplinks stored as accepted: $STORED"
echo

if [ -x "$BUILD/bench/bench_uplink_crypto" ]; then
	"$BUILD/bench/bench_uplink_crypto"
else
	echo "(no $BUILD/bench/bench_uplink_crypto: per-frame figures skipped)"
fi
echo
# the reference: lora-packet decrypting the same 20-byte frame
NODE_PATH="$ROOT/tests/node/node_modules" node -e '
const lora = require("lora-packet"), c = require("crypto");
const k = c.randomBytes(16), N = 50000;
const p = lora.fromFields({ MType: "Unconfirmed Data Up", DevAddr: Buffer.from("01020304", "hex"), FCnt: 1, FPort: 1,
	payload: c.randomBytes(20) }, k);
let t = process.hrtime.bigint();
for (let i = 0; i < N; i++) lora.decrypt(p, k);
const ns = Number(process.hrtime.bigint() - t) / N;
console.log(`lora-packet ${require("lora-packet/package.json").version} decrypt (node ${process.version}): ${(1e9 / ns).toFixed(0)} frames/s, ${(ns / 1000).toFixed(2)} us/frame`);'
