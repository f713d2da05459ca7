#!/usr/bin/env bash
# Re-bootstrap of LwM2M devices (rotation of the DM credential): the real
# `iotvault serve` and tests/lwm2m_client over DTLS-PSK. A device that
# registered with DM credential A is sent Execute /1/0/9, bootstraps, is given
# credential B and registers with it; from then on A fails the handshake.
# Once on demand (POST /api/v1/devices/{id}/lwm2m/rebootstrap, reason
# "manual") and once on the schedule ([lwm2m] rebootstrap_after_s, reason
# "scheduled"). Also: a viewer is refused (403), an unregistered device 404,
# a NoSec registration 409, a device that does not answer 504 (audited as a
# failure), a body 400; the scheduler does not retry a device within its
# hold; audit records; no key in logs or output.
source "$(dirname "${BASH_SOURCE[0]}")/lwm2m_lib.sh"
DEV3="$(add_device dev3 urn:dev:three)"
DEV4="$(add_device dev4 urn:dev:four)"
echo "nosec = 127.0.0.1:$NOSEC_PORT" >>"$D/iotvault.conf"

LOOP_PIDS=()
rb_cleanup() {
	local rc=$? p
	for p in "${LOOP_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "$T"/*.client-pid; do
		[[ -f "$p" ]] && kill -TERM "$(cat "$p")" 2>/dev/null || true
	done
	stop_server
	trap - ERR
	set +e
	(exit "$rc")
	cleanup
}
trap rb_cleanup EXIT


# A device's life: serve with its DM credential; when the server executes
# /1/0/9 the client answers and returns, and the device bootstraps with its
# bootstrap credential and serves again. Credential generation N is kept in
# K/dm-NAME.N.{identity,key}. Output in T/NAME.serve.
device_loop() { # NAME ENDPOINT
	local name="$1" ep="$2" gen=0
	while :; do
		"$CLIENT" --server "coaps://127.0.0.1:$BS_PORT" --identity-file "$K/$name.identity" \
			--key-file "$K/$name.key" bootstrap "$ep" "$K/dm-$name.$gen" >>"$T/$name.serve" 2>&1 ||
			{ echo "bootstrap failed" >>"$T/$name.serve"; return 1; }
		"$CLIENT" --server "coaps://127.0.0.1:$DM_PORT" --identity-file "$K/dm-$name.$gen.identity" \
			--key-file "$K/dm-$name.$gen.key" serve "$ep" 300 1.1 U >>"$T/$name.serve" 2>&1 &
		echo $! >"$T/$name.client-pid"
		wait $! || return 0
		tail -n 1 "$T/$name.serve" | grep -q '^executed /1/0/9$' || return 0
		gen=$((gen + 1))
	done
}
start_device() { # NAME ENDPOINT
	: >"$T/$1.serve"
	device_loop "$1" "$2" &
	LOOP_PIDS+=($!)
}
wait_registrations() { # NAME N [SECONDS]: the device registered N times
	local i
	for ((i = 0; i < ${3:-20} * 10; i++)); do
		[[ "$(grep -c '^2.01 /rd/' "$T/$1.serve")" -ge "$2" ]] && return 0
		sleep 0.1
	done
	fail "$1 did not register $2 times: $(cat "$T/$1.serve")"
}
cred_states() { # DEVICE-ID: "active,retired,..." newest first
	db_query "$D" "select group_concat(state, ',') from (select state from lwm2m_dm_credentials where device_id = $1 order by id desc)"
}
audit() { db_query "$D" "select count(*) from audit_log where $1"; }

PASSWORD="$(cat "$D/initial-admin-password")"
jfield() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[sys.argv[2]])' "$T/api.json" "$1"; }

# ---- 1. on demand ----
start_server "$D"
note "HTTPS $HTTPS_PORT, DM $DM_PORT, bootstrap $BS_PORT, NoSec $NOSEC_PORT"
api POST /api/v1/session -H 'Content-Type: application/json' \
	--data-binary "{\"tenant\":\"default\",\"username\":\"admin\",\"password\":\"$PASSWORD\"}"
assert_eq "$STATUS" 200 "login"
api POST /api/v1/apikeys -H 'Content-Type: application/json' --data-binary '{"name":"rb-viewer","role":"viewer"}'
[[ "$STATUS" == 2* ]] || fail "creating a viewer API key: HTTP $STATUS"
printf 'Authorization: Bearer %s\n' "$(jfield key)" >"$T/auth-viewer"

start_device dev1 urn:dev:one
wait_registrations dev1 1
assert_eq "$(cred_states "$DEV1")" active "dev1 has one active DM credential (A)"

# refused before anything is sent or audited
curl -sk --max-time 30 -X POST -H "@$T/auth-viewer" -o "$T/api.json" -w '%{http_code}' \
	"https://127.0.0.1:$HTTPS_PORT/api/v1/devices/$DEV1/lwm2m/rebootstrap" >"$T/status"
assert_eq "$(cat "$T/status") $(error_code)" "403 forbidden" "a viewer cannot trigger a re-bootstrap"
api POST "/api/v1/devices/$DEV1/lwm2m/rebootstrap" -H 'Content-Type: application/json' --data-binary '{}'
assert_eq "$STATUS $(error_code)" "400 invalid_argument" "a body is refused"
api POST "/api/v1/devices/$DEV2/lwm2m/rebootstrap"
assert_eq "$STATUS $(error_code)" "404 not_found" "an unregistered device"
api POST "/api/v1/devices/999999/lwm2m/rebootstrap"
assert_eq "$STATUS $(error_code)" "404 not_found" "no such device"
api POST "/api/v1/devices/x/lwm2m/rebootstrap"
assert_eq "$STATUS" 404 "a device id that is not a number"
api GET "/api/v1/devices/$DEV1/lwm2m/rebootstrap"
assert_eq "$STATUS" 400 "GET is a DM read of an object id, and rebootstrap is not one"
assert_eq "$(audit "action = 'lwm2m.rebootstrap'")" 0 "nothing audited for refused requests"
grep -q '^executed /1/0/9' "$T/dev1.serve" && fail "a refused request reached the device"

# the rotation
api POST "/api/v1/devices/$DEV1/lwm2m/rebootstrap"
assert_eq "$STATUS" 202 "re-bootstrap triggered: $(cat "$T/api.json")"
assert_eq "$(jfield device_answer) $(jfield reason)" "2.04 manual" "the device's answer"
wait_registrations dev1 2
grep -q '^executed /1/0/9$' "$T/dev1.serve" || fail "the client did not see the trigger"
assert_eq "$(cred_states "$DEV1")" "active,retired" "dev1: B active, A retired"
cmp -s "$K/dm-dev1.0.identity" "$K/dm-dev1.1.identity" && fail "the new DM identity is the old one"
cmp -s "$K/dm-dev1.0.key" "$K/dm-dev1.1.key" && fail "the new DM key is the old one"
client "$DM_PORT" "$K/dm-dev1.0" register urn:dev:one 60 1.1 U
assert_eq "$CLIENT_RC" 3 "credential A after the rotation: $CLIENT_OUT"
assert_contains "$CLIENT_OUT" "DTLS handshake failed" "credential A fails the handshake"
api GET "/api/v1/devices/$DEV1/lwm2m/3/0/0"
assert_eq "$STATUS" 200 "DM read over credential B's session"
note "manual: dev1 went from DM credential A to B, A refused in the handshake"

# a NoSec registration has no DM credential to rotate
timeout -k 5 20 coap-client-gnutls -B 4 -m post "coap://127.0.0.1:$NOSEC_PORT/rd?ep=urn:dev:two&lt=60&lwm2m=1.1&b=U" \
	>/dev/null 2>&1 || true
assert_eq "$(db_query "$D" "select security from lwm2m_registrations where device_id = $DEV2")" nosec "NoSec registration of dev2"
api POST "/api/v1/devices/$DEV2/lwm2m/rebootstrap"
assert_eq "$STATUS $(error_code)" "409 refused" "a NoSec registration"

# a device that does not answer
kill -USR1 "$(cat "$T/dev1.client-pid")"
t0=$SECONDS
api POST "/api/v1/devices/$DEV1/lwm2m/rebootstrap"
assert_eq "$STATUS $(error_code)" "504 device_timeout" "a muted device"
((SECONDS - t0 <= 15)) || fail "the timeout took $((SECONDS - t0)) s"
assert_eq "$(cred_states "$DEV1")" "active,retired" "a failed trigger changes no credential"

assert_eq "$(audit "action = 'lwm2m.rebootstrap' and object = 'device:$DEV1' and outcome = 'started' and detail like 'reason manual: execute /1/0/9%'")" 2 "started records"
assert_eq "$(audit "action = 'lwm2m.rebootstrap' and object = 'device:$DEV1' and outcome = 'success' and detail like 'reason manual: device answered 2.04%'")" 1 "success record"
assert_eq "$(audit "action = 'lwm2m.rebootstrap' and outcome = 'failure' and detail = 'reason manual: device_timeout'")" 1 "failure record"
assert_eq "$(audit "action = 'lwm2m.rebootstrap' and actor = 'admin' and actor_type = 'user'")" 4 "the user is the actor"
kill -TERM "${LOOP_PIDS[0]}" "$(cat "$T/dev1.client-pid")" 2>/dev/null || true
stop_server

# ---- 2. on the schedule ----
echo "rebootstrap_after_s = 3" >>"$D/iotvault.conf"
start_server "$D"
start_device dev3 urn:dev:three
wait_registrations dev3 1
first_at=$SECONDS
# 3 s after its credential became active, the scheduler triggers; the device
# bootstraps and registers with B
wait_registrations dev3 2 20
((SECONDS - first_at >= 2)) || fail "re-bootstrapped after $((SECONDS - first_at)) s, before rebootstrap_after_s"
kill -TERM "${LOOP_PIDS[1]}" 2>/dev/null || true
sleep 0.5
kill -TERM "$(cat "$T/dev3.client-pid")" 2>/dev/null || true
grep -q '^executed /1/0/9$' "$T/dev3.serve" || fail "dev3 did not see the trigger"
client "$DM_PORT" "$K/dm-dev3.0" register urn:dev:three 60 1.1 U
assert_eq "$CLIENT_RC" 3 "dev3's credential A after the scheduled rotation: $CLIENT_OUT"
assert_contains "$CLIENT_OUT" "DTLS handshake failed" "credential A fails the handshake"
case "$(cred_states "$DEV3")" in
active,retired | pending,active,retired | active,retired,retired) ;;
*) fail "dev3's credentials: $(cred_states "$DEV3")" ;;
esac
assert_eq "$(audit "action = 'lwm2m.rebootstrap' and object = 'device:$DEV3' and outcome = 'success' and detail like 'reason scheduled:%' and actor = 'lwm2m-rebootstrap' and actor_type = 'system'")" 1 "scheduled success record"
# dev1 is still registered (lifetime 300 s) but has no session: its trigger
# fails at once, is audited, and is not retried within the hold (60 s)
sleep 4
assert_eq "$(audit "action = 'lwm2m.rebootstrap' and object = 'device:$DEV1' and detail like 'reason scheduled:%' and outcome = 'failure'")" 1 "one scheduled failure for dev1, not retried within the hold"
# dev4 never registered, dev2 is NoSec: never triggered
assert_eq "$(audit "action = 'lwm2m.rebootstrap' and object in ('device:$DEV2', 'device:$DEV4')")" 0 "devices without a DTLS registration"
note "scheduled: dev3 went from A to B; dev1 (no session) tried once"

kill -0 "$SERVER_PID" 2>/dev/null || fail "the server is gone"
stop_server
expect_exit 0 iv audit verify --data "$D"
for f in "$K"/*.key "$K"/*.txt; do
	secret="$(tr -d '\n' <"$f")"
	for out in "$T/serve.out" "$T/serve.err" "$D/iotvault.log" "$T/dev1.serve" "$T/dev3.serve" "$T/api.json"; do
		[[ -f "$out" ]] || continue
		if grep -qiF -- "$secret" "$out"; then
			fail "a key from $(basename "$f") appears in $(basename "$out")"
		fi
	done
done
pass
