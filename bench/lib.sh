# bench/lib.sh: shell helpers shared by the benchmarks (bench/http.sh,
# bench/join.sh; bench/dtls.sh and bench/lwm2m.sh use coap_rd_ports), sourced,
# never run. They keep what both scripts promise in
# one place: throwaway state removed by a trap whatever happens, loopback only,
# and an nginx reference with exactly iotvault's TLS policy.
#
# The sourcing script sets BENCH_NAME (the prefix of its messages) first, and
# after bench_workdirs it may set IV_PID / NGX_PID / BENCH_PIDS for cleanup.
# shellcheck shell=bash

BENCH_NAME="${BENCH_NAME:-bench}"
IV_PID=""
NGX_PID=""
BENCH_PIDS=()
WORK=""
DOCROOT=""

die() {
	echo "$BENCH_NAME: $*" >&2
	exit 1
}

# stop_pid PID [SIGNAL]: ends one process this script started, and reaps it
stop_pid() {
	if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
		kill "-${2:-TERM}" "$1" 2>/dev/null || true
		wait "$1" 2>/dev/null || true
	fi
}

bench_cleanup() {
	local rc=$? p
	stop_pid "$IV_PID"
	for p in "${BENCH_PIDS[@]}"; do stop_pid "$p"; done
	stop_pid "$NGX_PID" QUIT
	[ -z "$WORK" ] || rm -rf "$WORK"
	[ -z "$DOCROOT" ] || rm -rf "$DOCROOT"
	exit $rc
}

# bench_workdirs SLUG: private WORK (0700) and a DOCROOT nginx's workers (nobody)
# can read, both removed on exit, interrupt or failure
bench_workdirs() {
	umask 077
	WORK="$(mktemp -d "${TMPDIR:-/tmp}/iotvault-$1.XXXXXX")"
	DOCROOT="$(mktemp -d "${TMPDIR:-/tmp}/iotvault-$1-www.XXXXXX")"
	chmod 755 "$DOCROOT"
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

# bench_need_tools TOOL...: all on PATH, and root (nginx drops to nobody)
bench_need_tools() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null || die "$tool not found (Debian packages: wrk nginx-light curl jq openssl; node: nodejs; sqlite3: sqlite3)"
	done
	[ "$(id -u)" = 0 ] || die "run as root (nginx is started with a private prefix and drops to nobody)"
}

free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		if ! ss -ltnH "sport = :$p" | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	die "no free TCP port found on loopback"
}

# free_port_except PORT...: a free port different from the ones given (which
# are not listening yet, so ss cannot tell)
free_port_except() {
	local p taken
	while :; do
		p="$(free_port)"
		taken=0
		for q in "$@"; do [ "$p" != "$q" ] || taken=1; done
		[ "$taken" = 1 ] || break
	done
	echo "$p"
}

# N loopback ports free for UDP and TCP (printed on one line); the last is
# followed by a free one too, because coap-rd-gnutls serves coaps on port+1.
coap_rd_ports() { # N
	python3 - "$1" <<'EOF'
import socket, sys
n = int(sys.argv[1])
out, keep = [], []
def take(port):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t = socket.socket()
    try:
        u.bind(("127.0.0.1", port)); t.bind(("127.0.0.1", u.getsockname()[1]))
    except OSError:
        return 0
    keep.extend([u, t])
    return u.getsockname()[1]
while len(out) < n:
    p = take(0)
    if p and (len(out) < n - 1 or take(p + 1)):
        out.append(p)
print(*out)
EOF
}

wait_for_listen() { # port pid
	for _ in $(seq 1 100); do
		kill -0 "$2" 2>/dev/null || return 1
		ss -ltnH "sport = :$1" | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

# iotvault_serve DATA LOG ARGS...: starts `iotvault serve`, waits for its banner
iotvault_serve() {
	local data="$1" log="$2"
	shift 2
	"$IOTVAULT" serve --data "$data" "$@" >"$log" 2>&1 &
	IV_PID=$!
	for _ in $(seq 1 100); do
		grep -q serving "$log" && return 0
		kill -0 "$IV_PID" 2>/dev/null || die "iotvault serve exited: $(tail -n 3 "$log")"
		sleep 0.1
	done
	die "iotvault serve did not print 'serving' within 10 s"
}

# The security headers iotvault sends with every JSON reply (send_json in
# src/http/server.c), for nginx locations that mimic it on the wire.
# shellcheck disable=SC2034 # used by the sourcing scripts
BENCH_NGINX_SECURITY_HEADERS='
            add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;
            add_header X-Content-Type-Options nosniff always;
            add_header Content-Security-Policy "default-src '"'"'none'"'"'; frame-ancestors '"'"'none'"'"'; base-uri '"'"'none'"'"'; form-action '"'"'self'"'"'" always;
            add_header Referrer-Policy no-referrer always;
            add_header X-Frame-Options DENY always;
            add_header Cross-Origin-Opener-Policy same-origin always;
            add_header Cross-Origin-Resource-Policy same-origin always;
            add_header Cache-Control no-store always;'

# bench_nginx_start CERT KEY LOCATIONS [SERVER_EXTRA]: nginx as root with a
# private prefix under WORK, on 127.0.0.1 only, with a copy of iotvault's
# certificate and key and its TLS policy; LOCATIONS are location blocks over
# DOCROOT, SERVER_EXTRA more server directives. Sets NGX_PORT, NGX_PID, NG.
bench_nginx_start() {
	local cert="$1" key="$2" locations="$3" extra="${4:-}" ngx="$WORK/nginx"
	NGX_PORT="$(free_port_except "${IV_PORT:-}" "${BACKEND_PORT:-}")"
	mkdir -p "$ngx/logs" "$ngx/tmp"
	cp "$cert" "$ngx/cert.pem"
	cp "$key" "$ngx/key.pem"
	cat >"$ngx/nginx.conf" <<EOF
worker_processes auto;
pid $ngx/nginx.pid;
error_log $ngx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    # the file's descriptor and metadata are cached, as a static-file server is run
    open_file_cache max=16 inactive=60s;
    open_file_cache_valid 60s;
    server_tokens off;
    client_body_temp_path $ngx/tmp/body;
    proxy_temp_path $ngx/tmp/proxy;
    fastcgi_temp_path $ngx/tmp/fastcgi;
    uwsgi_temp_path $ngx/tmp/uwsgi;
    scgi_temp_path $ngx/tmp/scgi;
    # keep-alive for the whole run, as libmicrohttpd does (nginx closes after 1000 by default)
    keepalive_requests 100000000;
    keepalive_timeout 75s;
    server {
        listen 127.0.0.1:$NGX_PORT ssl;
        ssl_certificate $ngx/cert.pem;
        ssl_certificate_key $ngx/key.pem;
        # iotvault's http_tls_priorities (src/http/server.c): TLS 1.2 and 1.3,
        # ECDHE with AEAD only, X25519/P-256/P-384, server preference
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256;
        ssl_conf_command Ciphersuites TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256;
        ssl_prefer_server_ciphers on;
        ssl_ecdh_curve X25519:prime256v1:secp384r1;
$extra
        root $DOCROOT;
$locations
    }
}
EOF
	nginx -t -p "$ngx" -e "$ngx/logs/error.log" -c "$ngx/nginx.conf" >"$ngx/test.log" 2>&1 ||
		die "nginx configuration rejected: $(tail -n 3 "$ngx/test.log")"
	nginx -p "$ngx" -e "$ngx/logs/error.log" -c "$ngx/nginx.conf" -g 'daemon off;' >"$ngx/stdout.log" 2>&1 &
	NGX_PID=$!
	wait_for_listen "$NGX_PORT" "$NGX_PID" || die "nginx did not start: $(tail -n 3 "$ngx/logs/error.log")"
	# shellcheck disable=SC2034 # used by the sourcing scripts
	NG="https://127.0.0.1:$NGX_PORT"
}

# tls_params PORT [s_client args]: what TLS an OpenSSL client (as wrk) negotiates
tls_params() {
	local out port="$1"
	shift
	out="$(openssl s_client -connect "127.0.0.1:$port" -servername localhost "$@" </dev/null 2>/dev/null)" || true
	printf '%s %s %s' \
		"$(sed -n 's/^New, \([^,]*\), Cipher is \(.*\)$/\1 \2/p' <<<"$out" | head -n 1)" \
		"$(sed -n 's/^Server Temp Key: \([^,]*\),.*/\1/p' <<<"$out" | head -n 1)" \
		"$(sed -n 's/^Peer signature type: //p' <<<"$out" | head -n 1)"
}

pkg_version() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo "?"; }

cpu_model() { sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1; }

# ms MICROSECONDS: as milliseconds with three decimals
ms() { awk -v x="$1" 'BEGIN { printf "%.3f", x / 1000 }'; }
