# Helpers shared by test_mqtt.sh and test_webhooks.sh (sourced after lib.sh):
# a test CA and certificates, free loopback ports, the iotvault server's
# lifecycle, and the message source (test_outbox --enqueue, which calls the
# real outbox_enqueue on the served database).

for tool in openssl python3 sqlite3 curl; do
	command -v "$tool" >/dev/null || fail "$tool is required"
done
OUTBOX_TOOL="$(dirname "$IOTVAULT_BIN")/test_outbox"
[[ -x "$OUTBOX_TOOL" ]] || fail "$OUTBOX_TOOL is missing (cmocka is needed to build it)"

SERVER_PID=""
PORT=""
EXTRA_PIDS=()

stop_pid() { # PID
	[[ -n "$1" ]] || return 0
	kill -TERM "$1" 2>/dev/null || true
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

stop_server() {
	stop_pid "$SERVER_PID"
	SERVER_PID=""
}

outbox_cleanup() {
	local rc=$? p
	stop_server
	for p in "${EXTRA_PIDS[@]}"; do stop_pid "$p"; done
	trap - ERR
	set +e
	(exit "$rc")
	cleanup
}
trap outbox_cleanup EXIT

wait_port() { # PORT SECONDS
	python3 - "$1" "$2" <<'PY'
import socket, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
end = time.time() + limit
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
}

start_server() { # DATA [env assignments...]
	local data="$1" i
	shift
	PORT="$(free_port)" || fail "no free loopback port"
	: >"$T/serve.out"
	env "$@" "$IOTVAULT_BIN" serve --data "$data" --listen "127.0.0.1:$PORT" \
		--backend-listen off >"$T/serve.out" 2>>"$T/serve.err" &
	SERVER_PID=$!
	for ((i = 0; i < 150; i++)); do
		if grep -q "serving https://127.0.0.1:$PORT" "$T/serve.out" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			sed 's/^/    /' "$T/serve.err" >&2
			fail "iotvault serve exited before listening"
		fi
		sleep 0.1
	done
	fail "iotvault serve did not start within 15 s"
}

# enqueue DATA TENANT APP DEVICE EVENT COUNT [FIRST]
enqueue() {
	"$OUTBOX_TOOL" --enqueue "$@" >>"$T/enqueue.log" 2>&1 ||
		fail "test_outbox --enqueue $* failed: $(tail -n 3 "$T/enqueue.log")"
}

# The body test_outbox --enqueue sends for DEVICE EVENT SEQ.
expected_body() {
	printf '{"device":"%s","event":"%s","seq":%d,"decoded":{"temperature":%d.5,"note":"caf\\u00e9 \\"quoted\\""}}' \
		"$1" "$2" "$3" "$(($3 % 40))"
}

outbox_rows() { # DATA [where]
	db_query "$1" "select count(*) from outbox ${2:-}"
}

# The server's log lines (stderr and the log file).
server_log() { cat "$T/serve.err" "$1/iotvault.log" 2>/dev/null || true; }
