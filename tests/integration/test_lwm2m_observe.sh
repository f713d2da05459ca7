#!/usr/bin/env bash
# LwM2M Discover, Write-Attributes, Observe and notifications over the REST
# API, end to end: the real `iotvault serve`, tests/lwm2m_client registered
# over DTLS-PSK (SenML CBOR, LwM2M 1.1) and a real mosquitto broker (TLS).
# Checks: Discover answers parsed links with the attributes the device
# holds; Write-Attributes reaches the device as a query, and bad attributes
# are refused with specific codes with nothing sent; an observation returns
# the first value, each notification is stored (and paginated) and
# published on <prefix>/<tenant>/<app>/<endpoint>/notify; a stale
# notification (older Observe value) is dropped; a notification with a token
# the server never made is answered RST; cancel reaches the device (GET
# Observe=1) and ends the notifications; an unknown observation is 404; an
# unregistered device 404; the observation limit; a new registration ends
# the observations; [lwm2m] dm_timeout_ms bounds the wait; after a restart
# a device without a session is 504 device_unreachable; audit records.
source "$(dirname "${BASH_SOURCE[0]}")/lwm2m_lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lwm2m_dm_lib.sh"

for tool in mosquitto mosquitto_sub mosquitto_passwd openssl; do
	command -v "$tool" >/dev/null || fail "$tool is required (apt-get install mosquitto mosquitto-clients)"
done

# ---- the broker: TLS with a test CA, a publisher and a reader account ----
PKI="$T/pki"
make_pki "$PKI"
broker_config "$T/broker" "$PKI"
mosquitto -c "$B/mosquitto.conf" >"$B/stdout.log" 2>&1 &
EXTRA_PIDS+=($!)
wait_for 15 grep -q "Opening ipv4 listen socket on port $MPORT" "$B/mosquitto.log" ||
	fail "mosquitto did not listen on $MPORT"
mosquitto_sub -h localhost -p "$MPORT" --cafile "$PKI/ca.pem" -u reader -P "$READER_PW" \
	-i iv-obs-reader -q 1 -t 'ivtest/#' -F '%t|%p' >"$T/mqtt.txt" 2>"$T/sub.err" &
EXTRA_PIDS+=($!)
wait_for 10 grep -q "iv-obs-reader" "$B/mosquitto.log" || fail "the subscriber did not connect"

cat >>"$D/iotvault.conf" <<CONF

[lwm2m]
dm_timeout_ms = 3000
notifications_per_device = 10

[mqtt]
url = mqtts://localhost:$MPORT
ca_file = $PKI/ca.pem
username = iotvault
password_env = IV_TEST_MQTT_PASSWORD
topic_prefix = ivtest
retry_max_s = 2
CONF
export IV_TEST_MQTT_PASSWORD="$MQTT_PW"
DEV3="$(add_device dev3 urn:dev:three)"
start_server "$D"
note "HTTPS $HTTPS_PORT, DM $DM_PORT, bootstrap $BS_PORT, MQTT $MPORT"
api_login

serve_device dev1 urn:dev:one 1.1
PID1=$SERVE_PID
L="/api/v1/devices/$DEV1/lwm2m"

# ---- 1. Discover ----
api GET "$L/3/0/discover"
assert_eq "$STATUS" 200 "discover /3/0"
assert_eq "$(json_get links.0.path) $(json_get links.5.path) $(json_get links.6.path)" \
	"/3/0 /3/0/9 /3/0/13" "links of /3/0"
api GET "$L/3/discover"
assert_eq "$STATUS $(json_get links.1.path)" "200 /3/0" "discover /3"
api GET "$L/0/discover"
assert_eq "$STATUS $(error_code)" "403 forbidden" "discover of the Security object"

# ---- 2. Write-Attributes ----
api_json PUT "$L/3/0/9/attributes" '{"pmin": 1, "pmax": 5, "gt": 90.5, "lt": 10, "st": null}'
assert_eq "$STATUS" 204 "write-attributes /3/0/9"
grep -q '^attributes /3/0/9 pmin=1&pmax=5&gt=90.5&lt=10&st$' "$T/dev1.serve" ||
	fail "the client did not get the attributes: $(cat "$T/dev1.serve")"
api GET "$L/3/0/9/discover"
assert_eq "$STATUS" 200 "discover /3/0/9"
assert_eq "$(json_get links.0.attributes.pmin) $(json_get links.0.attributes.pmax) $(json_get links.0.attributes.gt)" \
	"1 5 90.5" "attributes read back by Discover"
# bad attributes: a specific code, nothing sent, nothing audited
before_lines="$(grep -c . "$T/dev1.serve")"
before_audit="$(audit "action = 'lwm2m.write_attributes'")"
field_code() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"]["fields"][0]["code"])' "$T/api.json"; }
api_json PUT "$L/3/0/9/attributes" '{"pmin": "soon"}'
assert_eq "$STATUS $(error_code) $(field_code)" "400 invalid_argument type" "pmin not a number"
api_json PUT "$L/3/0/9/attributes" '{"pmin": -1}'
assert_eq "$STATUS $(field_code)" "400 range" "negative pmin"
api_json PUT "$L/3/0/9/attributes" '{"pmin": 10, "pmax": 5}'
assert_eq "$STATUS $(field_code)" "400 conflict" "pmax below pmin"
api_json PUT "$L/3/0/9/attributes" '{"gt": 5, "lt": 10}'
assert_eq "$STATUS $(field_code)" "400 conflict" "lt above gt"
api_json PUT "$L/3/0/9/attributes" '{"pmin": 1, "cancel": 1}'
assert_eq "$STATUS $(field_code)" "400 unknown" "unknown attribute"
api_json PUT "$L/3/0/attributes" '{"gt": 5}'
assert_eq "$STATUS $(field_code)" "400 invalid" "gt on an instance"
api_json PUT "$L/3/0/9/attributes" '{}'
assert_eq "$STATUS $(error_code)" "400 invalid_argument" "no attribute"
api_json PUT "$L/3/0/9/attributes" '{"st": 1e300}'
assert_eq "$STATUS $(field_code)" "400 range" "st out of range"
assert_eq "$(grep -c . "$T/dev1.serve")" "$before_lines" "client output after refused attributes"
assert_eq "$(audit "action = 'lwm2m.write_attributes'")" "$before_audit" "audit after refused attributes"
note "discover and write-attributes"

# ---- 3. Observe, notifications, store, MQTT ----
api POST "$L/3/0/9/observe"
assert_eq "$STATUS" 201 "observe /3/0/9"
assert_eq "$(records)" "/3/0/9 integer 87" "first value"
OBS="$(json_get observation.id)"
assert_eq "$(json_get observation.path)" "/3/0/9" "observation path"
wait_for 5 grep -q '^observed /3/0/9$' "$T/dev1.serve" || fail "the client saw no Observe"
api GET "$L/observations"
assert_eq "$STATUS $(json_get observations.0.id)" "200 $OBS" "observations listed"

notif_count() { db_query "$D" "select count(*) from lwm2m_notifications where observation_id = $OBS"; }
has_value() { [[ "$(db_query "$D" "select count(*) from lwm2m_notifications where observation_id = $OBS and records like '%\"value\":$1}%'")" -ge 1 ]]; }
mqtt_has() { grep -q "^ivtest/default/default/urn:dev:one/notify|.*\"path\":\"/3/0/9\".*\"value\":$1}" "$T/mqtt.txt"; }
assert_eq "$(notif_count)" 1 "the first value is stored"
kill -USR2 "$PID1"
wait_for 10 grep -q '^notify /3/0/9 86$' "$T/dev1.serve" || fail "the client did not notify"
wait_for 10 has_value 86 || fail "notification 86 not stored: $(db_query "$D" "select records from lwm2m_notifications")"
kill -USR2 "$PID1"
wait_for 10 has_value 85 || fail "notification 85 not stored"
assert_eq "$(notif_count)" 3 "notifications stored"
wait_for 15 mqtt_has 85 || fail "notification 85 not on MQTT: $(cat "$T/mqtt.txt")"
mqtt_has 86 || fail "notification 86 not on MQTT"
# the REST query, newest first, with a cursor
api GET "/api/v1/devices/$DEV1/lwm2m/notifications?limit=2"
assert_eq "$STATUS" 200 "notifications query"
assert_eq "$(json_get notifications.0.records.0.value) $(json_get notifications.1.records.0.value)" "85 86" "newest first"
cursor="$(json_get next_cursor)"
api GET "/api/v1/devices/$DEV1/lwm2m/notifications?limit=2&cursor=$cursor"
assert_eq "$(json_get notifications.0.records.0.value) $(json_get next_cursor)" "87 None" "second page"
api GET "/api/v1/devices/$DEV1/lwm2m/notifications?cursor=abc"
assert_eq "$STATUS" 400 "bad cursor"
api GET "$L/observations"
assert_eq "$(json_get observations.0.notifications)" 3 "notification count of the observation"
note "observation: first value, two notifications stored and published"

# a stale notification (Observe 0 after higher ones) is dropped
kill -HUP "$PID1"
wait_for 5 grep -q '^sent stale notification$' "$T/dev1.serve" || fail "no stale notification sent"
sleep 1
assert_eq "$(notif_count)" 3 "stale notification dropped"
has_value 5 && fail "the stale value was stored"
# a token the server never made: RST
kill -ALRM "$PID1"
wait_for 10 grep -q '^got RST$' "$T/dev1.serve" || fail "no RST for an unknown token: $(cat "$T/dev1.serve")"
assert_eq "$(db_query "$D" "select count(*) from lwm2m_notifications")" 3 "nothing stored for an unknown token"
note "stale notification dropped, unknown token reset"

# a malformed notification (the payload one byte short) is acknowledged,
# logged and not stored or published; the observation goes on
touch "$CORRUPT_FLAG"
kill -USR2 "$PID1"
wait_for 5 grep -q '^notify /3/0/9 84$' "$T/dev1.serve" || fail "the client did not notify 84"
sleep 1
rm -f "$CORRUPT_FLAG"
assert_eq "$(notif_count)" 3 "a malformed notification is not stored"
has_value 84 && fail "the malformed value was stored"
kill -USR2 "$PID1"
wait_for 10 has_value 83 || fail "notification 83 (after the malformed one) not stored"
wait_for 15 mqtt_has 83 || fail "notification 83 not on MQTT"
mqtt_has 84 && fail "the malformed notification was published"
note "malformed notification dropped, the observation goes on"

# [lwm2m] notifications_per_device = 10: the oldest give way
for v in 82 81 80 79 78 77 76 75; do
	kill -USR2 "$PID1"
	wait_for 10 has_value "$v" || fail "notification $v not stored"
done
assert_eq "$(notif_count)" 10 "stored notifications capped at notifications_per_device"
has_value 87 && fail "the oldest notification was kept beyond the cap"
has_value 86 && fail "the second oldest notification was kept beyond the cap"
has_value 85 || fail "the third oldest went too early"
note "notifications_per_device keeps the newest 10"

# ---- 4. cancel ----
api DELETE "$L/observations/99999"
assert_eq "$STATUS $(error_code)" "404 not_found" "unknown observation"
api DELETE "$L/observations/abc"
assert_eq "$STATUS" 404 "observation id not a number"
api DELETE "$L/observations/$OBS"
assert_eq "$STATUS" 204 "cancel"
wait_for 5 grep -q '^cancelled /3/0/9$' "$T/dev1.serve" || fail "the device saw no cancel: $(cat "$T/dev1.serve")"
api GET "$L/observations"
assert_eq "$(json_get observations)" "[]" "no observation after cancel"
kill -USR2 "$PID1"
wait_for 5 grep -q '^notify /3/0/9 74$' "$T/dev1.serve" || fail "the client did not change the value"
sleep 1
assert_eq "$(notif_count)" 10 "no notification after cancel"
api DELETE "$L/observations/$OBS"
assert_eq "$STATUS" 404 "cancel twice"
note "cancel reached the device"

# ---- 5. limits and errors ----
api POST "/api/v1/devices/$DEV3/lwm2m/3/0/9/observe"
assert_eq "$STATUS $(error_code)" "404 not_found" "observe on an unregistered device"
api POST "/api/v1/devices/999999/lwm2m/3/0/9/observe"
assert_eq "$STATUS" 404 "observe on no device"
api POST "$L/0/0/observe"
assert_eq "$STATUS" 403 "observe of the Security object"
for ((i = 0; i < 32; i++)); do
	db_query "$D" "insert into lwm2m_observations (tenant_id, device_id, path, token, address, last_seq, last_at, created_at) values (1, $DEV1, '/3/0/0', x'$(printf '%016x' $((i + 1)))', 'nowhere', 0, 0, 0)"
done
before_lines="$(grep -c . "$T/dev1.serve")"
api POST "$L/3/0/9/observe"
assert_eq "$STATUS $(error_code)" "409 refused" "observation limit"
assert_eq "$(grep -c . "$T/dev1.serve")" "$before_lines" "nothing sent beyond the limit"
db_query "$D" "delete from lwm2m_observations where address = 'nowhere'"

# a new registration ends the observations
api POST "$L/3/0/9/observe"
assert_eq "$STATUS" 201 "observe again"
[[ "$(json_get observation.id)" -gt "$OBS" ]] || fail "observation id $OBS reused"
kill -TERM "$PID1"
serve_device dev1 urn:dev:one 1.1
PID1=$SERVE_PID
api GET "$L/observations"
assert_eq "$(json_get observations)" "[]" "observations after a new registration"

# [lwm2m] dm_timeout_ms bounds the wait
kill -USR1 "$PID1"
start=$SECONDS
api GET "$L/3/0/9"
assert_eq "$STATUS $(error_code)" "504 device_timeout" "quiet device"
(( SECONDS - start <= 5 )) || fail "dm_timeout_ms = 3000 but the wait took $((SECONDS - start)) s"
kill -TERM "$PID1"
note "limits, end with the registration, dm_timeout_ms"

# ---- 6. audit ----
assert_eq "$(audit "action = 'lwm2m.write_attributes' and outcome = 'success' and detail like 'write-attributes /3/0/9%'")" 1 "write-attributes audited"
assert_eq "$(audit "action = 'lwm2m.observe' and outcome = 'started'")" 2 "observe audited before sending"
assert_eq "$(audit "action = 'lwm2m.observe.cancel' and outcome = 'success' and detail like '%device answered 2.05%'")" 1 "cancel audited"
assert_eq "$(audit "action like 'lwm2m.%' and object = 'device:$DEV3'")" 0 "audit of an unregistered device"

# ---- 7. after a restart: no session, 504 device_unreachable ----
stop_server
start_server "$D"
api_login
api GET "$L/3/0/9"
assert_eq "$STATUS $(error_code)" "504 device_unreachable" "registered device without a session"
note "device_unreachable after a restart"

stop_server
expect_exit 0 iv audit verify --data "$D"
for f in "$K"/*.key "$K"/*.txt; do
	secret="$(tr -d '\n' <"$f")"
	for out in "$T/serve.out" "$T/serve.err" "$D/iotvault.log" "$T/dev1.serve" "$T/mqtt.txt"; do
		[[ -f "$out" ]] || continue
		if grep -qiF -- "$secret" "$out"; then
			fail "a key from $(basename "$f") appears in $(basename "$out")"
		fi
	done
done
if grep -qF -- "$MQTT_PW" "$T/serve.out" "$T/serve.err" "$D/iotvault.log" 2>/dev/null; then
	fail "the MQTT password is in a log"
fi

pass
