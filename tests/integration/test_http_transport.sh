#!/usr/bin/env bash
# HTTPS transport of `iotvault serve`: the TLS policy seen from outside
# (sslscan plus single handshakes with openssl s_client or gnutls-cli), the
# security headers on success and error replies, no plaintext HTTP on the
# port, and the 404/405 error bodies. Only loopback, only unauthenticated
# requests: the policy under test does not depend on who is calling.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for tool in curl python3 sslscan; do
	command -v "$tool" >/dev/null || fail "$tool is required"
done
if [[ -z "${TLS_CLIENT:-}" ]]; then
	if command -v openssl >/dev/null; then
		TLS_CLIENT=openssl
	elif command -v gnutls-cli >/dev/null; then
		TLS_CLIENT=gnutls
	else
		fail "neither openssl nor gnutls-cli is installed"
	fi
fi

# ---- server lifecycle (the server is stopped by the EXIT trap) ----

source "$(dirname "${BASH_SOURCE[0]}")/http_lib.sh"

# ---- HTTP helpers ----

URL_BASE=""

# http_get METHOD PATH [curl args...]: status in $STATUS, headers in
# $T/h.txt, body in $T/b.txt.
http_req() {
	local method="$1" path="$2"
	shift 2
	STATUS="$(curl -sk --max-time 10 -X "$method" -D "$T/h.txt" -o "$T/b.txt" \
		-w '%{http_code}' "$@" "$URL_BASE$path")" || STATUS="curl-failed"
}

header_value() { # NAME: value of the first header NAME in $T/h.txt
	awk -v want="$1" '
		BEGIN { want = tolower(want) }
		{
			sub(/\r$/, "")
			i = index($0, ":")
			if (i == 0) next
			if (tolower(substr($0, 1, i - 1)) != want) next
			v = substr($0, i + 1)
			sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v)
			print v
			exit
		}' "$T/h.txt"
}

error_code() { # the "error.code" of $T/b.txt, or "-" when there is none
	python3 -c '
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    print(d["error"]["code"])
except Exception:
    print("-")' "$T/b.txt"
}

check_security_headers() { # WHAT
	local what="$1" v
	v="$(header_value Strict-Transport-Security)"
	[[ "$v" == "max-age=63072000; includeSubDomains" ]] ||
		fail "$what: Strict-Transport-Security is '$v'"
	v="$(header_value X-Content-Type-Options)"
	[[ "$v" == "nosniff" ]] || fail "$what: X-Content-Type-Options is '$v'"
	v="$(header_value Content-Security-Policy)"
	[[ -n "$v" ]] || fail "$what: no Content-Security-Policy"
	[[ "$v" =~ (^|;)[[:space:]]*default-src[[:space:]]+\'none\'[[:space:]]*(;|$) ]] ||
		fail "$what: Content-Security-Policy '$v' lacks default-src 'none'"
	v="$(header_value Referrer-Policy)"
	[[ "$v" == "no-referrer" ]] || fail "$what: Referrer-Policy is '$v'"
	v="$(header_value Cache-Control)"
	[[ "$v" =~ (^|[,[:space:]])no-store($|[,[:space:]]) ]] || fail "$what: Cache-Control is '$v'"
}

# ---- TLS handshakes with one client ----

# tls_handshake PROTO GROUPS CIPHER: 0 when a handshake with exactly these
# settings completes ("" = client default). Output in $T/tls.out; the
# negotiated protocol/group/cipher in $HS_PROTO $HS_GROUP $HS_CIPHER.
tls_handshake() {
	local proto="$1" groups="$2" cipher="$3" rc=0
	HS_PROTO="" HS_GROUP="" HS_CIPHER=""
	if [[ "$TLS_CLIENT" == openssl ]]; then
		local args=(-connect "127.0.0.1:$PORT" -servername localhost)
		case "$proto" in
		1.0) args+=(-tls1) ;;
		1.1) args+=(-tls1_1) ;;
		1.2) args+=(-tls1_2) ;;
		1.3) args+=(-tls1_3) ;;
		esac
		# OpenSSL 3 refuses TLS 1.0/1.1 itself at the default security
		# level; level 0 makes the client really offer them.
		if [[ "$proto" == 1.0 || "$proto" == 1.1 ]]; then
			args+=(-cipher "${cipher:-ALL}:@SECLEVEL=0")
		elif [[ -n "$cipher" ]]; then
			args+=(-cipher "$cipher")
		fi
		[[ -n "$groups" ]] && args+=(-groups "$groups")
		timeout 15 openssl s_client "${args[@]}" </dev/null >"$T/tls.out" 2>&1 || rc=$?
		if grep -qi "no protocols available\|no ciphers available" "$T/tls.out"; then
			fail "openssl s_client could not offer TLS $proto (${cipher:-default ciphers}) at all"
		fi
		HS_CIPHER="$(sed -n 's/^New, [^,]*, Cipher is //p' "$T/tls.out" | head -n1)"
		HS_PROTO="$(sed -n 's/^New, \([^,]*\), Cipher is .*/\1/p' "$T/tls.out" | head -n1)"
		HS_GROUP="$(sed -n 's/^Server Temp Key: //p' "$T/tls.out" | head -n1)"
		[[ $rc -eq 0 && -n "$HS_CIPHER" && "$HS_CIPHER" != "(NONE)" ]]
		return
	fi
	local prio="NORMAL:-VERS-ALL"
	case "$proto" in
	1.0) prio+=":+VERS-TLS1.0" ;;
	1.1) prio+=":+VERS-TLS1.1" ;;
	1.2) prio+=":+VERS-TLS1.2" ;;
	1.3) prio+=":+VERS-TLS1.3" ;;
	*) prio="NORMAL" ;;
	esac
	local g
	if [[ -n "$groups" ]]; then
		prio+=":-GROUP-ALL"
		for g in ${groups//:/ }; do
			case "$g" in
			X25519) prio+=":+GROUP-X25519" ;;
			P-256) prio+=":+GROUP-SECP256R1" ;;
			P-384) prio+=":+GROUP-SECP384R1" ;;
			P-521) prio+=":+GROUP-SECP521R1" ;;
			ffdhe2048) prio+=":+GROUP-FFDHE2048" ;;
			*) fail "tls_handshake: unknown group $g" ;;
			esac
		done
	fi
	case "$cipher" in
	"") ;;
	ECDHE-ECDSA-AES128-GCM-SHA256) prio+=":-CIPHER-ALL:+AES-128-GCM:-KX-ALL:+ECDHE-ECDSA" ;;
	ECDHE-ECDSA-AES128-SHA256) prio+=":-CIPHER-ALL:+AES-128-CBC:-MAC-ALL:+SHA256:-KX-ALL:+ECDHE-ECDSA" ;;
	AES256-GCM-SHA384) prio+=":-CIPHER-ALL:+AES-256-GCM:-KX-ALL:+RSA" ;;
	*) fail "tls_handshake: no gnutls priority for $cipher" ;;
	esac
	timeout 15 gnutls-cli --insecure --port "$PORT" 127.0.0.1 --priority "$prio" \
		</dev/null >"$T/tls.out" 2>&1 || rc=$?
	local desc
	desc="$(sed -n 's/^- Description: //p' "$T/tls.out" | head -n1)"
	# (TLS1.3-X.509)-(ECDHE-X25519)-(ECDSA-SECP256R1-SHA256)-(AES-256-GCM)
	HS_PROTO="$(printf '%s' "$desc" | sed -n 's/^(\(TLS[0-9.]*\)-.*/\1/p')"
	HS_GROUP="$(printf '%s' "$desc" | sed -n 's/^([^)]*)-(ECDHE-\([^)]*\)).*/\1/p')"
	HS_CIPHER="$desc"
	[[ $rc -eq 0 ]] && grep -q "Handshake was completed" "$T/tls.out"
}

expect_handshake_ok() { # WHAT PROTO GROUPS CIPHER
	local what="$1"
	shift
	if ! tls_handshake "$@"; then
		sed 's/^/    /' "$T/tls.out" | tail -n 20 >&2
		fail "$what: handshake failed"
	fi
	note "$what: ok ($HS_PROTO, ${HS_GROUP:-?}, $HS_CIPHER)"
}

expect_handshake_fail() { # WHAT PROTO GROUPS CIPHER
	local what="$1"
	shift
	if tls_handshake "$@"; then
		sed 's/^/    /' "$T/tls.out" | tail -n 20 >&2
		fail "$what: handshake succeeded ($HS_PROTO, $HS_GROUP, $HS_CIPHER)"
	fi
	note "$what: refused, as required"
}

# ---- the test ----

D="$T/data"
init_data "$D"
start_server "$D"
URL_BASE="https://127.0.0.1:$PORT"
note "server pid $SERVER_PID on port $PORT, TLS client $TLS_CLIENT"

# 1. sslscan: protocols, every accepted suite, key-exchange groups.
timeout 90 sslscan --no-colour "127.0.0.1:$PORT" >"$T/sslscan.txt" 2>&1 ||
	{ sed 's/^/    /' "$T/sslscan.txt" >&2; fail "sslscan failed"; }
python3 - "$T/sslscan.txt" <<'EOF' || fail "sslscan found a weak or missing setting (report above)"
import re, sys

text = open(sys.argv[1], errors="replace").read()
text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # in case colour slipped through
lines = text.splitlines()

def section(title):
    """Lines of the section whose heading contains TITLE, up to the next heading."""
    out, inside = [], False
    for ln in lines:
        stripped = ln.strip()
        is_heading = ln.startswith("  ") and stripped.endswith(":") and not ln.startswith("   ")
        if is_heading:
            if inside:
                break
            inside = title.lower() in stripped.lower()
            continue
        if inside and stripped:
            out.append(stripped)
    return out

problems = []
protocols = {}
for ln in section("SSL/TLS Protocols"):
    m = re.match(r"^(SSLv2|SSLv3|TLSv1\.[0-3])\s+(\w+)", ln)
    if m:
        protocols[m.group(1)] = m.group(2).lower()
for p in ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"):
    if protocols.get(p) == "enabled":
        problems.append(f"protocol {p} is enabled")
for p in ("TLSv1.2", "TLSv1.3"):
    if protocols.get(p) != "enabled":
        problems.append(f"protocol {p} is not enabled ({protocols.get(p, 'not listed')})")

TLS13_OK = {"TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"}
TLS12_OK = re.compile(r"^ECDHE-(ECDSA|RSA)-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)$")
BAD = [
    (r"CBC|^(?!.*(GCM|CHACHA|POLY1305|CCM)).*-SHA(256|384)?$", "CBC (non-AEAD) suite"),
    (r"RC4", "RC4"),
    (r"3DES|DES-CBC|-DES-|^DES", "3DES/DES"),
    (r"NULL", "NULL cipher"),
    (r"EXP", "export suite"),
    (r"^ADH|^AECDH|anon", "anonymous key exchange"),
    (r"^TLS_RSA_|^AES|^CAMELLIA|^ARIA|^SEED|^IDEA|^RSA", "static RSA key exchange"),
    (r"^DHE-|^EDH-|^DH-", "finite-field DHE"),
]
ciphers = []
for ln in section("Supported Server Cipher"):
    f = ln.split()
    if len(f) >= 5 and f[0] in ("Preferred", "Accepted"):
        ciphers.append((f[1], f[4]))
if not ciphers:
    problems.append("no accepted cipher suites parsed from the 'Supported Server Cipher(s)' section")
seen_protocols = set()
for proto, name in ciphers:
    seen_protocols.add(proto)
    if proto not in ("TLSv1.2", "TLSv1.3"):
        problems.append(f"{name} accepted over {proto}")
        continue
    if proto == "TLSv1.3" and name in TLS13_OK:
        continue
    if proto == "TLSv1.2" and TLS12_OK.match(name):
        continue
    why = [w for pat, w in BAD if re.search(pat, name)] or ["not an ECDHE+AEAD suite"]
    problems.append(f"{proto} {name} accepted: {', '.join(why)}")
for p in ("TLSv1.2", "TLSv1.3"):
    if p not in seen_protocols:
        problems.append(f"no suite accepted over {p}")

groups = []
for ln in section("Key Exchange Group"):
    f = ln.split()
    if len(f) >= 4 and f[0].startswith("TLS"):
        groups.append((f[0], f[3]))
allowed_groups = {"x25519", "secp256r1", "secp384r1"}
for proto, g in groups:
    if g.lower() not in allowed_groups:
        problems.append(f"key exchange group {g} accepted over {proto}")
got = {g.lower() for _, g in groups}
for g in sorted(allowed_groups - got):
    problems.append(f"key exchange group {g} not offered")

for ln in lines:
    low = ln.lower()
    if "insecure session renegotiation supported" in low:
        problems.append(ln.strip())
    if "vulnerable to heartbleed" in low and "not vulnerable" not in low:
        problems.append(ln.strip())
    if "compression enabled" in low:
        problems.append(ln.strip())

if problems:
    print("sslscan problems:", file=sys.stderr)
    for p in problems:
        print("  - " + p, file=sys.stderr)
    print("---- sslscan: Supported Server Cipher(s)", file=sys.stderr)
    for ln in section("Supported Server Cipher"):
        print("    " + ln, file=sys.stderr)
    print("---- sslscan: SSL/TLS Protocols", file=sys.stderr)
    for ln in section("SSL/TLS Protocols"):
        print("    " + ln, file=sys.stderr)
    sys.exit(1)
print(f"# sslscan: {len(ciphers)} suites, all ECDHE+AEAD over TLS 1.2/1.3; groups {sorted(got)}",
      file=sys.stderr)
EOF

# 2. Single handshakes: old protocols refused, the policy's suites and groups
# accepted, others refused.
expect_handshake_fail "TLS 1.0" 1.0 "" ""
expect_handshake_fail "TLS 1.1" 1.1 "" ""
expect_handshake_ok "TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256" 1.2 "" ECDHE-ECDSA-AES128-GCM-SHA256
[[ "$HS_PROTO" == *1.2* ]] || fail "TLS 1.2 handshake negotiated '$HS_PROTO'"
[[ "$HS_CIPHER" == *ECDHE-ECDSA-AES128-GCM-SHA256* || "$HS_CIPHER" == *AES-128-GCM* ]] ||
	fail "TLS 1.2 handshake negotiated '$HS_CIPHER'"
expect_handshake_fail "TLS 1.2 CBC suite ECDHE-ECDSA-AES128-SHA256" 1.2 "" ECDHE-ECDSA-AES128-SHA256
expect_handshake_fail "TLS 1.2 static RSA suite AES256-GCM-SHA384" 1.2 "" AES256-GCM-SHA384
expect_handshake_ok "TLS 1.3" 1.3 "" ""
[[ "$HS_PROTO" == *1.3* ]] || fail "TLS 1.3 handshake negotiated '$HS_PROTO'"

# In TLS 1.3 the group list is only about key exchange, so each group can be
# offered alone. The server's key is P-256 and a TLS 1.2 client applies its
# group list to the certificate too, so TLS 1.2 offers one group plus P-256.
for g in X25519 P-256 P-384; do
	expect_handshake_ok "TLS 1.3 with only $g" 1.3 "$g" ""
	case "$g" in
	X25519) want=X25519 ;;
	P-256) want='prime256v1|SECP256R1' ;;
	P-384) want='secp384r1|SECP384R1' ;;
	esac
	[[ "$HS_GROUP" =~ $want ]] || fail "TLS 1.3 with only $g: key exchange used '$HS_GROUP'"
done
expect_handshake_ok "TLS 1.2 with X25519 (and P-256)" 1.2 "X25519:P-256" ""
[[ "$HS_GROUP" =~ X25519|prime256v1|SECP256R1 ]] || fail "TLS 1.2 key exchange used '$HS_GROUP'"
expect_handshake_fail "TLS 1.3 with only ffdhe2048" 1.3 ffdhe2048 ""
expect_handshake_fail "TLS 1.2 with only ffdhe2048" 1.2 ffdhe2048 ""
expect_handshake_fail "TLS 1.3 with only P-521" 1.3 P-521 ""

# 3. Security headers on a success, a 401, a 404 and a 405.
http_req GET /api/v1/health
assert_eq "$STATUS" 200 "GET /api/v1/health"
check_security_headers "GET /api/v1/health (200)"
assert_json "$(cat "$T/b.txt")" "health body"

http_req GET /api/v1/devices
assert_eq "$STATUS" 401 "GET /api/v1/devices without credentials"
assert_eq "$(error_code)" unauthenticated "error code of the 401"
check_security_headers "GET /api/v1/devices (401)"

http_req GET /api/v1/no-such-resource
assert_eq "$STATUS" 404 "GET of an unknown path"
assert_eq "$(error_code)" not_found "error code of the 404"
check_security_headers "GET /api/v1/no-such-resource (404)"

http_req GET /definitely/not/here
assert_eq "$STATUS" 404 "GET of a path outside /api/v1"
check_security_headers "GET /definitely/not/here (404)"

http_req POST /api/v1/health -H 'Content-Type: application/json' --data '{}'
assert_eq "$STATUS" 405 "POST /api/v1/health"
assert_eq "$(error_code)" method_not_allowed "error code of the 405"
[[ "$(header_value Content-Type)" == application/json* ]] ||
	fail "405 reply is not application/json"
check_security_headers "POST /api/v1/health (405)"
if [[ -z "$(header_value Allow)" ]]; then
	# RFC 9110 15.5.6 requires it; reported, not (yet) a failure
	note "405 reply carries no Allow header"
fi

http_req DELETE /api/v1/health
assert_eq "$STATUS" 405 "DELETE /api/v1/health"

# 4. No plaintext HTTP on the TLS port: a cleartext request gets no HTTP
# reply (a TLS alert or nothing, then the connection is closed).
python3 - "$PORT" <<'EOF' || fail "plaintext HTTP got an HTTP reply on the TLS port"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
data = b""
try:
    while len(data) < 65536:
        d = s.recv(4096)
        if not d:
            break
        data += d
except (socket.timeout, ConnectionResetError):
    pass
s.close()
if data.startswith(b"HTTP/") or b"\"status\"" in data:
    print(f"plaintext reply: {data[:120]!r}", file=sys.stderr)
    sys.exit(1)
print(f"# plaintext request: {len(data)} bytes back, no HTTP", file=sys.stderr)
EOF
PLAIN_RC=0
curl -s --max-time 5 -o /dev/null "http://127.0.0.1:$PORT/api/v1/health" || PLAIN_RC=$?
[[ $PLAIN_RC -ne 0 ]] || fail "curl over plain http:// succeeded"

# 5. The server survived all of it.
http_req GET /api/v1/health
assert_eq "$STATUS" 200 "GET /api/v1/health after the scan"
kill -0 "$SERVER_PID" 2>/dev/null || fail "the server is gone"

pass
