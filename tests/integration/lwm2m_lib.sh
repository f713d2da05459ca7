# Shared set-up of the LwM2M integration tests (test_lwm2m.sh,
# test_lwm2m_dm.sh): the test client build, free ports, a data directory
# with devices, and starting and stopping `iotvault serve`. Sourced, not run.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for tool in coap-client-gnutls gnutls-cli pkg-config cc curl python3 sqlite3; do
	command -v "$tool" >/dev/null || fail "$tool is not installed"
done
pkg-config --exists libcoap-3-gnutls || fail "libcoap-3-gnutls (libcoap3-dev) is not installed"

# ---- the test client ----
CLIENT="$T/lwm2m_client"
cc -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -O1 -o "$CLIENT" \
	"$IOTVAULT_SRC/tests/lwm2m_client/lwm2m_client.c" $(pkg-config --cflags --libs libcoap-3-gnutls) ||
	fail "cannot build tests/lwm2m_client"

# ---- ports and server ----
read -r HTTPS_PORT DM_PORT BS_PORT BACKEND_PORT NOSEC_PORT <<<"$(free_ports 5)"

SERVER_PID=""
stop_server() {
	[[ -n "$SERVER_PID" ]] || return 0
	kill -TERM "$SERVER_PID" 2>/dev/null || true
	local i
	for ((i = 0; i < 50; i++)); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=""
}
lwm2m_cleanup() {
	local rc=$?
	stop_server
	trap - ERR
	set +e
	(exit "$rc")
	cleanup
}
trap lwm2m_cleanup EXIT

start_server() { # DATA
	local i
	: >"$T/serve.out"
	"$IOTVAULT_BIN" serve --data "$1" --listen "127.0.0.1:$HTTPS_PORT" \
		--backend-listen "127.0.0.1:$BACKEND_PORT" >"$T/serve.out" 2>"$T/serve.err" &
	SERVER_PID=$!
	for ((i = 0; i < 150; i++)); do
		grep -q "LwM2M DM server on 127.0.0.1:$DM_PORT" "$T/serve.out" 2>/dev/null && return 0
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			sed 's/^/    /' "$T/serve.err" >&2
			fail "iotvault serve exited before listening"
		fi
		sleep 0.1
	done
	fail "iotvault serve did not announce its LwM2M listeners within 15 s"
}

# ---- the test client, the API, waiting ----
# runs the test client over DTLS-PSK with CRED.identity / CRED.key; its
# output in CLIENT_OUT, its exit status in CLIENT_RC
client() { # SERVER-PORT CRED-PREFIX args...
	local port="$1" cred="$2"
	shift 2
	CLIENT_RC=0
	"$CLIENT" --server "coaps://127.0.0.1:$port" --identity-file "$cred.identity" \
		--key-file "$cred.key" "$@" >"$T/client.out" 2>&1 || CLIENT_RC=$?
	CLIENT_OUT="$(cat "$T/client.out")"
}
# a request to the running server's API with the cookie jar of api_login;
# the status in STATUS, the body in $T/api.json
api() { # METHOD PATH [curl args...]
	local method="$1" path="$2"
	shift 2
	STATUS="$(curl -sk --max-time 60 -X "$method" -b "$T/jar" -c "$T/jar" -o "$T/api.json" \
		-w '%{http_code}' -H "Origin: https://127.0.0.1:$HTTPS_PORT" "$@" \
		"https://127.0.0.1:$HTTPS_PORT$path")" || STATUS="curl-failed"
}
api_json() { api "$1" "$2" -H 'Content-Type: application/json' --data-binary "$3"; }
api_login() { # as the initial admin
	api_json POST /api/v1/session \
		"{\"tenant\":\"default\",\"username\":\"admin\",\"password\":\"$(cat "$D/initial-admin-password")\"}"
	assert_eq "$STATUS" 200 "login"
}
error_code() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"]["code"])' "$T/api.json"; }

D="$T/data"
init_data "$D"
cat >>"$D/iotvault.conf" <<EOF

[lwm2m]
dm_listen = 127.0.0.1:$DM_PORT
bootstrap_listen = 127.0.0.1:$BS_PORT
dm_server_uri = coaps://127.0.0.1:$DM_PORT
short_server_id = 7
dm_lifetime_s = 300
EOF

# ---- devices: bootstrap PSKs are printable text so coap-client -k can use
# them (libcoap 4.3.1 takes -k as text); the vault is told to keep them with
# --key-policy flag, since printable keys are a hygiene finding ----
K="$T/keys"
mkdir -m 700 "$K"
new_text_psk() { # NAME: K/NAME.txt (text), K/NAME.key (hex), K/NAME.identity
	head -c 96 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24 >"$K/$1.txt"
	od -An -tx1 -v <"$K/$1.txt" | tr -d ' \n' >"$K/$1.key"
	printf '%s' "bs-$1" >"$K/$1.identity"
}
add_device() { # NAME ENDPOINT
	new_text_psk "$1"
	IV_K="$(cat "$K/$1.key")" expect_exit 0 iv device add --data "$D" --tenant default --type lwm2m \
		--endpoint "$2" --psk-identity "bs-$1" --psk env:IV_K --key-policy flag
	added_id
}
DEV1="$(add_device dev1 urn:dev:one)"
DEV2="$(add_device dev2 urn:dev:two)"
