#!/usr/bin/env bash
# Certificate reload of `iotvault serve` on SIGHUP: a new certificate and key
# in tls/ are served without a restart (same PID); a broken certificate, a key
# that does not belong to the certificate, or a key readable by others is
# refused with a logged error while the previous certificate stays in service.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for tool in curl python3 openssl; do
	command -v "$tool" >/dev/null || fail "$tool is required"
done

# ---- server lifecycle (the server is stopped by the EXIT trap) ----

source "$(dirname "${BASH_SOURCE[0]}")/http_lib.sh"

# ---- certificates ----

# SHA-256 fingerprint of the certificate the server presents now ("" if the
# handshake fails).
served_fingerprint() {
	timeout 15 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost \
		</dev/null 2>"$T/s_client.err" | openssl x509 -noout -fingerprint -sha256 2>/dev/null |
		sed 's/^.*=//' || true
}

file_fingerprint() { # PEM
	openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/^.*=//'
}

# new_cert DIR CN: a self-signed ECDSA P-256 certificate and key in DIR
# (cert.pem, key.pem; the key 0600 through the umask of lib.sh).
new_cert() {
	mkdir -p "$1"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1/key.pem" -out "$1/cert.pem" -days 2 -subj "/CN=$2" \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1 ||
		fail "openssl could not create a test certificate"
	chmod 600 "$1/key.pem"
}

# install_pair CERT KEY: replaces tls/cert.pem and tls/key.pem of $D the way
# an operator's tooling would (write aside, then rename over).
install_pair() {
	cp "$1" "$D/tls/cert.pem.new"
	cp "$2" "$D/tls/key.pem.new"
	chmod 600 "$D/tls/key.pem.new"
	mv -f "$D/tls/cert.pem.new" "$D/tls/cert.pem"
	mv -f "$D/tls/key.pem.new" "$D/tls/key.pem"
}

log_lines() { cat "$T/serve.err" "$D/iotvault.log" 2>/dev/null | wc -l; }

# hup_and_wait WANT_FP: SIGHUP, then waits until WANT_FP is served (up to 10 s).
hup_and_wait() {
	local want="$1" i got=""
	kill -HUP "$SERVER_PID" || fail "cannot signal the server"
	for ((i = 0; i < 50; i++)); do
		got="$(served_fingerprint)"
		[[ "$got" == "$want" ]] && return 0
		sleep 0.2
	done
	sed 's/^/    /' "$T/serve.err" | tail -n 10 >&2
	fail "after SIGHUP the server presents '${got:-no certificate}', expected the new certificate"
}

PROBLEMS=()
problem() {
	PROBLEMS+=("$*")
	echo "# $TEST_NAME: PROBLEM: $*" >&2
}

# hup_refused WHAT WANT_FP: SIGHUP with a bad pair installed: the server must
# log an error, stay up (same PID) and keep presenting WANT_FP. Returns 1
# (and records a problem) if it switched to the bad pair instead.
hup_refused() {
	local what="$1" want="$2" before i got
	before="$(log_lines)"
	kill -HUP "$SERVER_PID" || fail "cannot signal the server"
	for ((i = 0; i < 50; i++)); do
		[[ "$(log_lines)" -gt "$before" ]] && break
		sleep 0.1
	done
	sleep 0.3
	kill -0 "$SERVER_PID" 2>/dev/null || fail "$what: the server died on SIGHUP"
	got="$(served_fingerprint)"
	if [[ "$got" != "$want" ]]; then
		local why
		why="$(grep -m1 ':error:' "$T/s_client.err" | sed 's/^[0-9A-F]*:error:[0-9A-F]*://' || true)"
		problem "$what: the reload was accepted; the server now presents ${got:-no certificate}" \
			"instead of the previous certificate (client: ${why:-handshake ok})"
		return 1
	fi
	if ! cat "$T/serve.err" "$D/iotvault.log" 2>/dev/null | tail -n +"$((before + 1))" |
		grep -qiE 'error.*(tls|reload|certificate)'; then
		sed 's/^/    /' "$T/serve.err" | tail -n 10 >&2
		problem "$what: no error was logged for the refused reload"
	fi
	health_ok "$what"
	note "$what: refused, previous certificate still served, error logged"
}

health_ok() { # WHAT
	local status
	status="$(curl -sk --max-time 10 -o /dev/null -w '%{http_code}' \
		"https://127.0.0.1:$PORT/api/v1/health")" || true
	[[ "$status" == 200 ]] || fail "$1: health answered '$status'"
}

# ---- the test ----

D="$T/data"
init_data "$D"
start_server "$D"
PID0="$SERVER_PID"
note "server pid $SERVER_PID on port $PORT"

FP0="$(served_fingerprint)"
[[ -n "$FP0" ]] || fail "no certificate served at start"
assert_eq "$FP0" "$(file_fingerprint "$D/tls/cert.pem")" "served certificate vs tls/cert.pem at start"
health_ok "start"

# 1. A new certificate and key: served after SIGHUP, by the same process.
new_cert "$T/c1" "iotvault-reload-1"
FP1="$(file_fingerprint "$T/c1/cert.pem")"
[[ "$FP1" != "$FP0" ]] || fail "the test certificate equals the original"
install_pair "$T/c1/cert.pem" "$T/c1/key.pem"
hup_and_wait "$FP1"
assert_eq "$SERVER_PID" "$PID0" "server PID after reload"
kill -0 "$PID0" 2>/dev/null || fail "the server process is gone after reload"
grep -qi "certificate reloaded" "$T/serve.err" "$D/iotvault.log" 2>/dev/null ||
	note "no 'certificate reloaded' line in the log"
health_ok "after the reload"
note "SIGHUP: new certificate served by the same process"

# 2. A broken certificate: refused, the previous one stays.
cp "$D/tls/cert.pem" "$T/cert.good"
printf '%s\n' '-----BEGIN CERTIFICATE-----' 'bm90IGEgY2VydGlmaWNhdGU=' \
	'-----END CERTIFICATE-----' >"$D/tls/cert.pem"
hup_refused "broken certificate" "$FP1"

printf 'not PEM at all\n' >"$D/tls/cert.pem"
hup_refused "certificate file without PEM" "$FP1"

: >"$D/tls/cert.pem"
hup_refused "empty certificate file" "$FP1"

# 3. A valid certificate with a key that is not its own: accepting it would
# make every handshake fail, so the reload must be refused.
new_cert "$T/c2" "iotvault-reload-2"
new_cert "$T/c3" "iotvault-reload-3"
install_pair "$T/c2/cert.pem" "$T/c3/key.pem"
if ! hup_refused "key that does not match the certificate" "$FP1"; then
	# back to the good pair so that the cases below start from it
	install_pair "$T/c1/cert.pem" "$T/c1/key.pem"
	hup_and_wait "$FP1"
fi

# 4. A private key readable by others: refused.
install_pair "$T/c2/cert.pem" "$T/c2/key.pem"
chmod 644 "$D/tls/key.pem"
hup_refused "private key with mode 0644" "$FP1"

# 5. A good pair again: reload works after the refusals.
chmod 600 "$D/tls/key.pem"
FP2="$(file_fingerprint "$T/c2/cert.pem")"
hup_and_wait "$FP2"
assert_eq "$SERVER_PID" "$PID0" "server PID after the last reload"
health_ok "after the last reload"

if [[ ${#PROBLEMS[@]} -gt 0 ]]; then
	echo "---- $TEST_NAME: ${#PROBLEMS[@]} problem(s):" >&2
	for p in "${PROBLEMS[@]}"; do
		echo "  - $p" >&2
	done
	fail "${#PROBLEMS[@]} bad certificate reload(s) not refused"
fi
pass
