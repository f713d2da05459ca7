#!/usr/bin/env bash
# LwM2M queue mode over the REST API, end to end: the real `iotvault
# serve` and tests/lwm2m_client registered over DTLS-PSK in queue mode
# (LwM2M 1.0, binding UQ, TLV). Checks: a request to an awake device is held
# (202 with an id) and sent at once, the poll gives the device's code and
# decoded answer; a request to a sleeping device stays pending (nothing
# reaches the device) and goes out, in order, when the device wakes
# (registration update) or registers again; held requests survive a restart
# of the server; the bound of 32 pending requests (429 queue_full, nothing
# held, nothing audited); expiry; unknown request ids 404; audit records.
source "$(dirname "${BASH_SOURCE[0]}")/lwm2m_lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lwm2m_dm_lib.sh"

cat >>"$D/iotvault.conf" <<CONF

[lwm2m]
queue_awake_ms = 1500
CONF
DEV4="$(add_device dev4 urn:dev:four)"
start_server "$D"
note "HTTPS $HTTPS_PORT, DM $DM_PORT, bootstrap $BS_PORT"
api_login
L="/api/v1/devices/$DEV4/lwm2m"
state_is() { # RID STATE
	api GET "$L/requests/$1"
	[[ "$STATUS" == 200 && "$(json_get request.state)" == "$2" ]]
}
held() { db_query "$D" "select count(*) from lwm2m_held_requests where device_id = $DEV4 and state = 'pending'"; }
held_is() { [[ "$(held)" == "$1" ]]; }

serve_device dev4 urn:dev:four 1.0 UQ
PID4=$SERVE_PID
api GET "/api/v1/devices/$DEV4/lwm2m"
assert_eq "$(json_get registration.queue_mode)" True "registered in queue mode"

# ---- 1. awake: held and sent at once ----
api GET "$L/3/0/9"
assert_eq "$STATUS $(json_get request.state) $(json_get request.method)" "202 pending read" "read held"
R1="$(json_get request.id)"
wait_for 10 state_is "$R1" done || fail "request $R1 not done: $(cat "$T/api.json")"
assert_eq "$(json_get request.coap_code) $(json_get request.result.records.0.value)" "2.05 87" "outcome of the read"
note "awake device: held, sent, answered"

# what queue mode does not take: a held write above 1 KiB (413, nothing
# held) and a firmware job (409, nothing started)
pending_before="$(db_query "$D" "select count(*) from lwm2m_held_requests")"
long="$(head -c 1500 /dev/zero | tr '\0' 'z')"
api_json PUT "$L/3/0/15" "{\"records\":[{\"path\":\"/3/0/15\",\"type\":\"string\",\"value\":\"$long\"}]}"
assert_eq "$STATUS $(error_code)" "413 too_large" "a held write above 1 KiB"
assert_eq "$(db_query "$D" "select count(*) from lwm2m_held_requests")" "$pending_before" "held requests after the refused write"
head -c 2048 /dev/urandom >"$T/fw.bin"
api POST "/api/v1/lwm2m/firmware?name=q&version=1" -H 'Content-Type: application/octet-stream' --data-binary "@$T/fw.bin"
assert_eq "$STATUS" 201 "firmware upload"
FW="$(json_get id)"
api_json POST /api/v1/lwm2m/firmware-jobs "{\"device_id\":$DEV4,\"firmware_id\":$FW,\"method\":\"push\"}"
assert_eq "$STATUS $(error_code)" "409 refused" "a firmware job for a queue-mode device"
assert_eq "$(db_query "$D" "select count(*) from lwm2m_firmware_jobs")" 0 "firmware jobs after the refusal"
note "queue mode refuses held writes above 1 KiB (413) and firmware jobs (409)"

# ---- 2. asleep: pending until the device wakes, in order ----
kill -USR1 "$PID4"
sleep 2 # past queue_awake_ms
api_json PUT "$L/3/0/13" '{"records":[{"path":"/3/0/13","value":1800000123}]}'
assert_eq "$STATUS" 202 "write held"
R2="$(json_get request.id)"
api GET "$L/3/0/13"
R3="$(json_get request.id)"
sleep 1.5
state_is "$R2" pending || fail "the write left while the device slept: $(cat "$T/api.json")"
grep -q '^wrote' "$T/dev4.serve" && fail "the sleeping device got the write"
api GET "$L/requests/99999"
assert_eq "$STATUS $(error_code)" "404 not_found" "unknown request id"
api GET "/api/v1/devices/$DEV4/lwm2m/requests/abc"
assert_eq "$STATUS" 404 "request id not a number"

# the bound: 32 pending
for ((i = 0; i < 30; i++)); do
	db_query "$D" "insert into lwm2m_held_requests (tenant_id, device_id, method, path, accept, content_format, payload, actor_type, actor, source, state, created_at, updated_at, expires_at) values (1, $DEV4, 3, '/3/0/4', 0, 0, x'', 'user', 'admin', 'test', 'pending', 0, 0, 9000000000000)"
done
assert_eq "$(held)" 32 "32 pending"
before_audit="$(audit "action = 'lwm2m.execute'")"
api POST "$L/3/0/4/execute"
assert_eq "$STATUS $(error_code)" "429 queue_full" "beyond the bound"
assert_eq "$(held)" 32 "nothing held beyond the bound"
assert_eq "$(audit "action = 'lwm2m.execute'")" "$before_audit" "nothing audited beyond the bound"
# past their expiry, the sweep expires them, never sent
db_query "$D" "update lwm2m_held_requests set expires_at = 1 where actor = 'admin' and source = 'test'"
wait_for 5 held_is 2 || fail "held requests did not expire: $(held)"
assert_eq "$(db_query "$D" "select count(*) from lwm2m_held_requests where state = 'expired'")" 30 "expired"
note "asleep: pending; bound 32 (429); expiry"

# ---- 3. a restart keeps them ----
stop_server
# a finished request older than 7 days: purged
db_query "$D" "insert into lwm2m_held_requests (tenant_id, device_id, method, path, accept, content_format, payload, actor_type, actor, source, state, created_at, updated_at, expires_at) values (1, $DEV4, 0, '/3/0/9', 0, 0, x'', 'user', 'admin', 'old', 'done', 1, 1, 2)"
start_server "$D"
api_login
old_gone() { [[ "$(db_query "$D" "select count(*) from lwm2m_held_requests where source = 'old'")" == 0 ]]; }
wait_for 5 old_gone || fail "a finished request older than 7 days was not purged"
state_is "$R2" pending || fail "request $R2 lost in the restart: $(cat "$T/api.json")"
# the device comes back (new DTLS session, new registration): sent in order
kill -TERM "$PID4"
serve_device dev4 urn:dev:four 1.0 UQ
PID4=$SERVE_PID
wait_for 10 state_is "$R3" done || fail "request $R3 not done: $(cat "$T/api.json")"
assert_eq "$(json_get request.result.records.0.value)" 1800000123 "the read after the write sees it"
state_is "$R2" done || fail "request $R2 not done"
assert_eq "$(json_get request.coap_code)" 2.04 "write answered"
grep -q '^wrote /3/0/13 1800000123 (tlv)$' "$T/dev4.serve" || fail "the device did not get the write"
note "held across a restart, sent in order when the device came back"

# ---- 4. woken by a registration update ----
kill -USR1 "$PID4"
sleep 2
api POST "$L/3/0/4/execute"
assert_eq "$STATUS" 202 "execute held"
R4="$(json_get request.id)"
sleep 1
state_is "$R4" pending || fail "the execute left while the device slept"
kill -USR1 "$PID4"
wait_for 10 grep -q '^woke: 2.04' "$T/dev4.serve" || fail "the device did not update: $(cat "$T/dev4.serve")"
wait_for 10 state_is "$R4" done || fail "request $R4 not done after the update: $(cat "$T/api.json")"
grep -q '^executed /3/0/4$' "$T/dev4.serve" || fail "the device did not execute"
note "woken by an update"

# ---- 5. audit ----
assert_eq "$(audit "action = 'lwm2m.write' and outcome = 'started' and object = 'device:$DEV4'")" 1 "write audited when held"
assert_eq "$(audit "action = 'lwm2m.write' and outcome = 'success' and detail like '%held request $R2: device answered 2.04'")" 1 "write outcome audited"
assert_eq "$(audit "action = 'lwm2m.execute' and outcome = 'success' and detail like '%held request $R4%'")" 1 "execute outcome audited"
assert_eq "$(audit "action like 'lwm2m.%' and detail like '%1800000123%'")" 0 "values in audit records"

kill -TERM "$PID4"
stop_server
expect_exit 0 iv audit verify --data "$D"
for f in "$K"/*.key "$K"/*.txt; do
	secret="$(tr -d '\n' <"$f")"
	for out in "$T/serve.out" "$T/serve.err" "$D/iotvault.log" "$T/dev4.serve"; do
		[[ -f "$out" ]] || continue
		if grep -qiF -- "$secret" "$out"; then
			fail "a key from $(basename "$f") appears in $(basename "$out")"
		fi
	done
done

pass
