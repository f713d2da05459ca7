# Shared by the HTTPS transport tests (test_http_*.sh): start and stop
# `iotvault serve` on a free loopback port, and stop it on exit. Sourced after
# lib.sh, not run.
SERVER_PID=""
PORT=""

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

http_cleanup() {
	local rc=$?
	stop_server
	# lib.sh's cleanup takes the exit status from $?; errexit must not end
	# the trap at the (exit) that hands it over
	trap - ERR
	set +e
	(exit "$rc")
	cleanup
}
trap http_cleanup EXIT

start_server() { # DATA
	local i
	PORT="$(free_port)" || fail "no free loopback port"
	# emptied here, not only by the job's own redirection, which may happen
	# after the wait below has already read the line of an earlier run
	: >"$T/serve.out"
	# serve.err accumulates over restarts unless the test empties it
	[[ -n "${HTTP_KEEP_ERR:-}" ]] || : >"$T/serve.err"
	"$IOTVAULT_BIN" serve --data "$1" --listen "127.0.0.1:$PORT" >"$T/serve.out" 2>>"$T/serve.err" &
	SERVER_PID=$!
	for ((i = 0; i < 150; i++)); do
		if grep -q "serving https://127.0.0.1:$PORT" "$T/serve.out" 2>/dev/null; then
			URL_BASE="https://127.0.0.1:$PORT"
			return 0
		fi
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			sed 's/^/    /' "$T/serve.err" >&2
			fail "iotvault serve exited before listening"
		fi
		sleep 0.1
	done
	fail "iotvault serve did not print its 'serving' line within 15 s"
}
