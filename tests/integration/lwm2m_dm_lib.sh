# Shared by the tests of DM operations over the REST API (test_lwm2m_dm.sh,
# test_lwm2m_observe.sh): tests/lwm2m_client bootstrapped and serving /3/0
# in the background, the API as the admin, and readers of its answers.
# Sourced after lwm2m_lib.sh.

CLIENT_PIDS=()
EXTRA_PIDS=()
dm_cleanup() {
	local rc=$? p
	for p in "${CLIENT_PIDS[@]}" "${EXTRA_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	stop_server
	trap - ERR
	set +e
	(exit "$rc")
	cleanup
}
trap dm_cleanup EXIT

# bootstraps NAME and leaves a client serving /3/0 over its DM session;
# its output goes to $T/NAME.serve, its pid to SERVE_PID. While the file
# $T/corrupt exists, the clients' Read and Observe answers are malformed.
CORRUPT_FLAG="$T/corrupt"
serve_device() { # NAME ENDPOINT VERSION [BINDING]
	local i
	client "$BS_PORT" "$K/$1" bootstrap "$2" "$K/dm-$1"
	[[ $CLIENT_RC -eq 0 ]] || fail "bootstrap of $1 failed: $CLIENT_OUT"
	"$CLIENT" --server "coaps://127.0.0.1:$DM_PORT" --identity-file "$K/dm-$1.identity" \
		--key-file "$K/dm-$1.key" --corrupt-flag "$CORRUPT_FLAG" serve "$2" 300 "$3" "${4:-U}" \
		>"$T/$1.serve" 2>&1 &
	SERVE_PID=$!
	CLIENT_PIDS+=("$SERVE_PID")
	for ((i = 0; i < 100; i++)); do
		grep -qs '^2.01 /rd/' "$T/$1.serve" && return 0
		kill -0 "$SERVE_PID" 2>/dev/null || fail "the client of $1 exited: $(cat "$T/$1.serve")"
		sleep 0.1
	done
	fail "the client of $1 did not register"
}

# the records of the last answer as "path type value" lines
records() {
	python3 -c '
import json, sys
for r in json.load(open(sys.argv[1]))["records"]:
    print(r["path"], r["type"], r["value"])' "$T/api.json"
}
# a value of the last answer: jq-like dotted path, e.g. observation.id
json_get() {
	python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(json.dumps(v) if isinstance(v, (dict, list)) else v)' "$T/api.json" "$1"
}
audit() { db_query "$D" "select count(*) from audit_log where $1"; }
