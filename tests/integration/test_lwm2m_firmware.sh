#!/usr/bin/env bash
# LwM2M block-wise transfers and firmware update (object 5): the real
# `iotvault serve` and tests/lwm2m_client bootstrapped and registered over
# DTLS-PSK. Checks: a DM write of /3/0/15 above one CoAP message goes
# block-wise (Block1) and its read-back is reassembled (Block2); firmware
# upload (SHA-256, 413 above [lwm2m] firmware_max_bytes, 415, 400, 409);
# a push job of a 200 KiB image arrives byte-identical in the client and
# ends succeeded after Downloaded -> Update; a pull job's one-time URI is
# refused (4.03 + security event) to another device's DTLS session
# (coap-client-gnutls, -b 512) and works once for its own device, then 4.04;
# a corrupt image ends failed with Update Result 5, a failing update with
# its result code; one running job per device (409); audit records; no
# token or key in the logs.
source "$(dirname "${BASH_SOURCE[0]}")/lwm2m_lib.sh"
DEV3="$(add_device dev3 urn:dev:three)"
cat >>"$D/iotvault.conf" <<EOF
firmware_max_bytes = 262144
firmware_poll_interval_ms = 300
firmware_token_ttl_s = 60
firmware_job_timeout_s = 40
EOF

CLIENT_PIDS=()
fw_cleanup() {
	local rc=$? p
	for p in "${CLIENT_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	stop_server
	trap - ERR
	set +e
	(exit "$rc")
	cleanup
}
trap fw_cleanup EXIT

start_server "$D"
note "HTTPS $HTTPS_PORT, DM $DM_PORT, bootstrap $BS_PORT"

# bootstraps NAME until its DM key holds no NUL or newline byte, so that
# coap-client-gnutls (which takes -k as text) can use it too
bootstrap_text() { # NAME ENDPOINT
	local i
	for ((i = 0; i < 10; i++)); do
		client "$BS_PORT" "$K/$1" bootstrap "$2" "$K/dm-$1"
		[[ $CLIENT_RC -eq 0 ]] || fail "bootstrap of $1 failed: $CLIENT_OUT"
		tr -d '\n' <"$K/dm-$1.key" | fold -w2 | grep -qiE '^(00|0a)$' || return 0
	done
	fail "no DM key without NUL or newline bytes for $1 in 10 bootstraps"
}
# leaves a client of NAME serving over its DM session; pid in SERVE_PID
serve_device() { # NAME ENDPOINT VERSION [client options...]
	local name="$1" ep="$2" ver="$3" i
	shift 3
	"$CLIENT" --server "coaps://127.0.0.1:$DM_PORT" --identity-file "$K/dm-$name.identity" \
		--key-file "$K/dm-$name.key" "$@" serve "$ep" 300 "$ver" U >"$T/$name.serve" 2>&1 &
	SERVE_PID=$!
	CLIENT_PIDS+=("$SERVE_PID")
	for ((i = 0; i < 100; i++)); do
		grep -qs '^2.01 /rd/' "$T/$name.serve" && return 0
		kill -0 "$SERVE_PID" 2>/dev/null || fail "the client of $name exited: $(cat "$T/$name.serve")"
		sleep 0.1
	done
	fail "the client of $name did not register"
}

jget() { python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v=v[int(k)] if isinstance(v,list) else v[k]
print(json.dumps(v) if isinstance(v,(list,dict)) or v is None else v)' "$T/api.json" "$1"; }
upload() { # FILE NAME VERSION
	api POST "/api/v1/lwm2m/firmware?name=$2&version=$3" -H 'Content-Type: application/octet-stream' \
		--data-binary "@$1"
}
# waits until job ID is no longer running; its JSON stays in api.json
wait_job() { # ID
	local i
	for ((i = 0; i < 200; i++)); do
		api GET "/api/v1/lwm2m/firmware-jobs/$1"
		[[ "$(jget status)" != running ]] && return 0
		sleep 0.25
	done
	fail "job $1 still running after 50 s: $(cat "$T/api.json")"
}
fw_count() { db_query "$D" "select count(*) from lwm2m_firmware"; }
job_count() { db_query "$D" "select count(*) from lwm2m_firmware_jobs"; }

api_login

# ---- 1. firmware images ----
head -c 204800 /dev/urandom >"$T/fw-a.bin"
head -c 8192 /dev/urandom >"$T/fw-b.bin"
head -c 300000 /dev/urandom >"$T/fw-big.bin"
upload "$T/fw-a.bin" sensor-fw 2.0.0
assert_eq "$STATUS" 201 "upload of a 200 KiB image"
FW_A="$(jget id)"
assert_eq "$(jget sha256)" "$(sha256sum "$T/fw-a.bin" | cut -d' ' -f1)" "SHA-256 computed by the server"
assert_eq "$(jget size)" 204800 "size"
upload "$T/fw-b.bin" sensor-fw 2.0.1
assert_eq "$STATUS" 201 "upload of a second image"
FW_B="$(jget id)"
assert_eq "$(db_query "$D" "select length(image) from lwm2m_firmware where id = $FW_A")" 204800 "stored blob"
before="$(fw_count)"
upload "$T/fw-big.bin" sensor-fw 9.9.9
assert_eq "$STATUS $(jget error.code)" "413 too_large" "an image above firmware_max_bytes"
api POST "/api/v1/lwm2m/firmware?name=x&version=1" -H 'Content-Type: application/json' --data-binary '{}'
assert_eq "$STATUS $(jget error.code)" "415 unsupported_media_type" "an image that is not octet-stream"
upload "$T/fw-b.bin" "bad%20name" 1
assert_eq "$STATUS $(jget error.code)" "400 invalid_argument" "a name with a space"
upload "$T/fw-b.bin" sensor-fw 2.0.1
assert_eq "$STATUS $(jget error.code)" "409 already_exists" "the same name and version again"
assert_eq "$(fw_count)" "$before" "images after refused uploads"
api GET /api/v1/lwm2m/firmware
assert_eq "$(jget items.0.name) $(jget items.1.version)" "sensor-fw 2.0.1" "list"
api GET "/api/v1/lwm2m/firmware/$FW_A"
assert_eq "$STATUS $(jget version)" "200 2.0.0" "get"
note "upload, SHA-256, 413/415/400/409"

# ---- 2. block-wise DM write and read (/3/0/15, 3000 characters) ----
bootstrap_text dev1 urn:dev:one
serve_device dev1 urn:dev:one 1.1 --fw-expect "$T/fw-a.bin"
PID1=$SERVE_PID
TZ_TEXT="$(head -c 3000 /dev/zero | tr '\0' 'z')"
api_json PUT "/api/v1/devices/$DEV1/lwm2m/3/0/15" "{\"records\":[{\"path\":\"/3/0/15\",\"value\":\"$TZ_TEXT\"}]}"
assert_eq "$STATUS" 204 "block-wise write of /3/0/15"
grep -qE '^wrote /3/0/15 3000 chars in a [0-9]{4}-byte body$' "$T/dev1.serve" ||
	fail "the client did not get the 3000 characters: $(cat "$T/dev1.serve")"
api GET "/api/v1/devices/$DEV1/lwm2m/3/0/15"
assert_eq "$STATUS" 200 "block-wise read of /3/0/15"
assert_eq "$(jget records.0.value)" "$TZ_TEXT" "read back the 3000 characters"
note "DM write and read above one CoAP message (Block1, Block2)"

# ---- 3. push: 200 KiB, byte-identical, succeeded; one job per device ----
api_json POST /api/v1/lwm2m/firmware-jobs "{\"device_id\":$DEV1,\"firmware_id\":$FW_A,\"method\":\"push\"}"
assert_eq "$STATUS $(jget status) $(jget method)" "202 running push" "push job started"
JOB1="$(jget id)"
api_json POST /api/v1/lwm2m/firmware-jobs "{\"device_id\":$DEV1,\"firmware_id\":$FW_B,\"method\":\"push\"}"
assert_eq "$STATUS $(jget error.code)" "409 already_exists" "a second job for the same device"
assert_eq "$(job_count)" 1 "jobs after the refused one"
wait_job "$JOB1"
assert_eq "$(jget status) $(jget update_result) $(jget finished_at | grep -c '^[0-9]')" "succeeded 1 1" "push job outcome"
assert_contains "$(jget states)" "2, 3" "states seen: Downloaded, Updating"
grep -q '^firmware 204800 bytes identical$' "$T/dev1.serve" || fail "the client did not get the image: $(cat "$T/dev1.serve")"
grep -q '^update started$' "$T/dev1.serve" || fail "Update was not executed"
note "push of 200 KiB: identical, job succeeded"

# ---- 4. pull: wrong session 4.03 (raw coap-client), once for its own device, then 4.04 ----
bootstrap_text dev2 urn:dev:two
bootstrap_text dev3 urn:dev:three
serve_device dev2 urn:dev:two 1.0 --fw-expect "$T/fw-a.bin" --fw-uri-file "$K/dev2.uri" --fw-pull-delay 4000
PID2=$SERVE_PID
api_json POST /api/v1/lwm2m/firmware-jobs "{\"device_id\":$DEV2,\"firmware_id\":$FW_A,\"method\":\"pull\"}"
assert_eq "$STATUS $(jget method)" "202 pull" "pull job started"
JOB2="$(jget id)"
for ((i = 0; i < 50; i++)); do [[ -s "$K/dev2.uri" ]] && break; sleep 0.1; done
[[ -s "$K/dev2.uri" ]] || fail "no Package URI reached the client"
URI="$(cat "$K/dev2.uri")"
[[ "$URI" =~ ^coaps://127\.0\.0\.1:$DM_PORT/fw/[0-9a-f]{32}$ ]] || fail "the Package URI has an unexpected shape"
raw_get() { # NAME: GET of the URI with NAME's DM credential; output in RAW
	local key
	key="$(printf '%b' "$(tr -d '\n' <"$K/dm-$1.key" | sed 's/../\\x&/g')")"
	RAW="$(timeout 20 coap-client-gnutls -m get -b 512 -B 5 -u "$(cat "$K/dm-$1.identity")" -k "$key" \
		-o "$T/raw.bin" "$URI" 2>&1)" || true
}
ev_before="$(db_query "$D" "select count(*) from security_events where kind = 'lwm2m_firmware_token_misuse'")"
raw_get dev3
assert_contains "$RAW" "4.03" "another device's session fetching the token"
[[ ! -s "$T/raw.bin" ]] || fail "bytes of the image went to another device"
assert_eq "$(db_query "$D" "select count(*) from security_events where kind = 'lwm2m_firmware_token_misuse'")" \
	"$((ev_before + 1))" "security event of the misuse"
wait_job "$JOB2"
assert_eq "$(jget status) $(jget update_result)" "succeeded 1" "pull job outcome"
grep -q '^firmware 204800 bytes identical$' "$T/dev2.serve" || fail "the pull client did not get the image: $(cat "$T/dev2.serve")"
raw_get dev2
assert_contains "$RAW" "4.04" "the token once used, from its own device"
[[ ! -s "$T/raw.bin" ]] || fail "a used token served bytes again"
raw_get dev3
assert_contains "$RAW" "4.04" "the used token from another device"
# the Package URI the device holds is never shown by the API: a Read of
# /5/0/1 gives "(hidden)"
api GET "/api/v1/devices/$DEV2/lwm2m/5/0/1"
assert_eq "$STATUS" 200 "read of /5/0/1"
assert_contains "$(cat "$T/api.json")" '(hidden)' "the Package URI read back"
assert_not_contains "$(cat "$T/api.json")" "${URI##*/}" "the token in the read answer"
note "pull: 4.03 to another session, served once, then 4.04; the URI reads as (hidden)"

# ---- 5. failures: a corrupt image (result 5), a failing update (result 8) ----
api_json POST /api/v1/lwm2m/firmware-jobs "{\"device_id\":$DEV1,\"firmware_id\":$FW_B,\"method\":\"push\"}"
assert_eq "$STATUS" 202 "push of the wrong image"
JOB3="$(jget id)"
wait_job "$JOB3"
assert_eq "$(jget status) $(jget update_result) $(jget detail)" "failed 5 Update Result 5" "corrupt download"
grep -q '^firmware 8192 bytes differ$' "$T/dev1.serve" || fail "the client did not see the wrong image"
serve_device dev3 urn:dev:three 1.1 --fw-expect "$T/fw-a.bin" --fw-result 8
PID3=$SERVE_PID
api_json POST /api/v1/lwm2m/firmware-jobs "{\"device_id\":$DEV3,\"firmware_id\":$FW_A,\"method\":\"push\"}"
JOB4="$(jget id)"
wait_job "$JOB4"
assert_eq "$(jget status) $(jget update_result)" "failed 8" "a failing update"
api GET "/api/v1/lwm2m/firmware-jobs?device_id=$DEV1"
assert_eq "$(jget items.0.id) $(jget items.1.id) $(jget items.1.status)" "$JOB3 $JOB1 succeeded" "job list of a device"
note "corrupt image: failed 5; failing update: failed 8"

# ---- 6. bad requests change nothing ----
before="$(job_count)"
api_json POST /api/v1/lwm2m/firmware-jobs "{\"device_id\":$DEV1,\"firmware_id\":$FW_A,\"method\":\"fax\"}"
assert_eq "$STATUS $(jget error.code)" "400 invalid_argument" "unknown method"
api_json POST /api/v1/lwm2m/firmware-jobs "{\"device_id\":$DEV1,\"firmware_id\":999999,\"method\":\"push\"}"
assert_eq "$STATUS" 404 "unknown firmware"
api_json POST /api/v1/lwm2m/firmware-jobs "{\"device_id\":999999,\"firmware_id\":$FW_A,\"method\":\"push\"}"
assert_eq "$STATUS" 404 "unknown device"
assert_eq "$(job_count)" "$before" "jobs after bad requests"
api DELETE "/api/v1/lwm2m/firmware/$FW_A"
assert_eq "$STATUS $(jget error.code)" "409 refused" "deleting an image jobs refer to"
upload "$T/fw-b.bin" unused 1
api DELETE "/api/v1/lwm2m/firmware/$(jget id)"
assert_eq "$STATUS" 204 "deleting an unused image"
note "bad requests refused, nothing changed"

# ---- 7. a job cut short: server stop, crash (ended at the next start), timeout ----
# dev3 serves again with a pull that never starts, so its job stays running
serve_pull_never() {
	kill -TERM "$PID3" 2>/dev/null || true
	wait "$PID3" 2>/dev/null || true
	rm -f "$K/dev3.uri"
	serve_device dev3 urn:dev:three 1.1 --fw-expect "$T/fw-a.bin" --fw-uri-file "$K/dev3.uri" \
		--fw-pull-delay 600000
	PID3=$SERVE_PID
	api_json POST /api/v1/lwm2m/firmware-jobs "{\"device_id\":$DEV3,\"firmware_id\":$FW_A,\"method\":\"pull\"}"
	assert_eq "$STATUS $(jget status)" "202 running" "pull job for dev3"
	JOB="$(jget id)"
	for ((i = 0; i < 100; i++)); do [[ -s "$K/dev3.uri" ]] && return 0; sleep 0.1; done
	fail "no Package URI reached dev3"
}
job_row() { db_query "$D" "select status || '|' || detail from lwm2m_firmware_jobs where id = $1"; }
serve_pull_never
JOB5="$JOB"
stop_server
assert_eq "$(job_row "$JOB5")" "failed|the server stopped" "a job running at a clean stop"
start_server "$D"
api_login
serve_pull_never
JOB6="$JOB"
kill -KILL "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
assert_eq "$(job_row "$JOB6")" "running|" "a job running when the server was killed, before the restart"
sed -i 's/^firmware_job_timeout_s = 40$/firmware_job_timeout_s = 10/' "$D/iotvault.conf"
start_server "$D"
assert_eq "$(job_row "$JOB6")" "failed|the server restarted" "the killed run's job after the restart"
assert_eq "$(db_query "$D" "select count(*) from audit_log where action = 'lwm2m.firmware.update' and outcome = 'failure' and object = 'device:$DEV3' and detail like 'job $JOB6,%the server restarted%'")" 1 \
	"the job ended by the restart is audited"
api_login
serve_pull_never
JOB7="$JOB"
wait_job "$JOB7"
assert_eq "$(jget status)|$(jget detail)" "timed_out|the image was not downloaded in time" "a job past firmware_job_timeout_s"
note "jobs cut short: clean stop failed, crash failed at the next start (audited), timeout timed_out"

# ---- 7. audit, logs ----
audit() { db_query "$D" "select count(*) from audit_log where $1"; }
assert_eq "$(audit "action = 'lwm2m.firmware.update' and outcome = 'started'")" 7 "job starts audited"
assert_eq "$(audit "action = 'lwm2m.firmware.update' and outcome = 'success'")" 2 "job successes audited"
assert_eq "$(audit "action = 'lwm2m.firmware.update' and outcome = 'failure' and detail like '%result 5%'")" 1 "corrupt image audited"
assert_eq "$(audit "action = 'lwm2m.firmware.update' and outcome = 'failure' and detail like '%result 8%'")" 1 "failed update audited"
assert_eq "$(audit "action = 'lwm2m.firmware.upload'")" 3 "uploads audited"
assert_eq "$(audit "action = 'lwm2m.firmware.delete'")" 1 "deletion audited"

kill -TERM "$PID1" "$PID2" "$PID3" 2>/dev/null || true
kill -0 "$SERVER_PID" 2>/dev/null || fail "the server is gone"
stop_server
expect_exit 0 iv audit verify --data "$D"
TOKEN="${URI##*/}"
for out in "$T/serve.out" "$T/serve.err" "$D/iotvault.log" "$T/dev1.serve" "$T/dev2.serve" "$T/dev3.serve"; do
	[[ -f "$out" ]] || continue
	! grep -qiF -- "$TOKEN" "$out" || fail "the download token appears in $(basename "$out")"
	for f in "$K"/*.key; do
		! grep -qiF -- "$(tr -d '\n' <"$f")" "$out" || fail "a key from $(basename "$f") appears in $(basename "$out")"
	done
done
assert_eq "$(audit "detail like '%$TOKEN%'")" 0 "token in the audit log"

pass
