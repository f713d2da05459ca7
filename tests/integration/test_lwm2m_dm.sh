#!/usr/bin/env bash
# LwM2M Device-Management operations over the REST API (issue 7): the real
# `iotvault serve`, and tests/lwm2m_client bootstrapped and registered over
# DTLS-PSK, then serving a Device object (/3/0) with its own TLV and SenML
# CBOR encoders. Checks: Read of /3, /3/0 and /3/0/0 (LwM2M 1.1 asked for
# SenML CBOR, 1.0 for TLV typed by the server's object model) giving what the
# client serves; Write (replace and partial update) of /3/0/13 read back;
# Execute of /3/0/4 seen by the client; the Security and Server objects
# refused (403); the device's CoAP errors mapped (4.04 -> 404, 4.05 -> 405);
# an unregistered device 404; a device that stops answering 504 within the
# bound; audit records with paths and without values; no key in the logs.
source "$(dirname "${BASH_SOURCE[0]}")/lwm2m_lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lwm2m_dm_lib.sh"
DEV3="$(add_device dev3 urn:dev:three)"

start_server "$D"
note "HTTPS $HTTPS_PORT, DM $DM_PORT, bootstrap $BS_PORT"
api_login

# ---- 1. an LwM2M 1.1 device: SenML CBOR ----
serve_device dev1 urn:dev:one 1.1
PID1=$SERVE_PID
api GET "/api/v1/devices/$DEV1/lwm2m/3/0"
assert_eq "$STATUS" 200 "read /3/0"
assert_eq "$(records)" "/3/0/0 string iotvault test
/3/0/1 string lwm2m_client
/3/0/2 string SN-0001
/3/0/3 string 1.2.3
/3/0/9 integer 87
/3/0/13 time 1700000000" "records of /3/0 (1.1)"
api GET "/api/v1/devices/$DEV1/lwm2m/3/0/0"
assert_eq "$STATUS" 200 "read /3/0/0"
assert_eq "$(records)" "/3/0/0 string iotvault test" "read /3/0/0"
api GET "/api/v1/devices/$DEV1/lwm2m/3"
assert_eq "$STATUS" 200 "read /3"
assert_eq "$(records | wc -l)" 6 "records of /3"
note "read /3, /3/0, /3/0/0 over SenML CBOR"

# write (replace) of a resource, read back
api_json PUT "/api/v1/devices/$DEV1/lwm2m/3/0/13" '{"records":[{"path":"/3/0/13","value":1800000001}]}'
assert_eq "$STATUS" 204 "write /3/0/13"
grep -q '^wrote /3/0/13 1800000001 (senml-cbor)$' "$T/dev1.serve" || fail "the client did not see the write: $(cat "$T/dev1.serve")"
api GET "/api/v1/devices/$DEV1/lwm2m/3/0/13"
assert_eq "$(records)" "/3/0/13 time 1800000001" "read back /3/0/13"
# partial update of the instance
api_json POST "/api/v1/devices/$DEV1/lwm2m/3/0" '{"records":[{"path":"/3/0/13","type":"time","value":1800000002}]}'
assert_eq "$STATUS" 204 "partial update of /3/0"
grep -q '^wrote /3/0/13 1800000002 ' "$T/dev1.serve" || fail "the client did not see the partial update"
# a read-only resource: the device's 4.05 is 405
api_json PUT "/api/v1/devices/$DEV1/lwm2m/3/0/0" '{"records":[{"path":"/3/0/0","value":"evil corp"}]}'
assert_eq "$STATUS" 405 "write of a read-only resource"
# bad bodies change nothing and send nothing
api_json PUT "/api/v1/devices/$DEV1/lwm2m/3/0/13" '{"records":[{"path":"/3/0/14","value":1}]}'
assert_eq "$STATUS" 400 "record outside the request path"
api_json PUT "/api/v1/devices/$DEV1/lwm2m/3/0/13" '{"records":[{"path":"/3/0/13","value":"soon"}]}'
assert_eq "$STATUS" 400 "a string for a time resource"
api_json PUT "/api/v1/devices/$DEV1/lwm2m/3/0/13" '{"records":[]}'
assert_eq "$STATUS" 400 "no records"
api GET "/api/v1/devices/$DEV1/lwm2m/3/x"
assert_eq "$STATUS" 400 "a path that is not numeric"

# execute
api POST "/api/v1/devices/$DEV1/lwm2m/3/0/4/execute"
assert_eq "$STATUS" 204 "execute /3/0/4"
grep -q '^executed /3/0/4$' "$T/dev1.serve" || fail "the client did not record the reboot"
note "write, partial update and execute reached the client"

# the device's errors
api GET "/api/v1/devices/$DEV1/lwm2m/3/0/7"
assert_eq "$STATUS $(error_code)" "404 not_found" "a resource the device lacks"
api DELETE "/api/v1/devices/$DEV1/lwm2m/3/0"
assert_eq "$STATUS $(error_code)" "405 method_not_allowed" "delete the device refuses"

# ---- 2. credentials are never read or written over the API ----
before="$(grep -c . "$T/dev1.serve")"
api GET "/api/v1/devices/$DEV1/lwm2m/0/0"
assert_eq "$STATUS $(error_code)" "403 forbidden" "read of /0/0"
api GET "/api/v1/devices/$DEV1/lwm2m/0"
assert_eq "$STATUS" 403 "read of /0"
api_json PUT "/api/v1/devices/$DEV1/lwm2m/0/1" '{"records":[{"path":"/0/1/3","type":"opaque","value":"AAAA"}]}'
assert_eq "$STATUS $(error_code)" "403 forbidden" "write of /0/1"
api_json PUT "/api/v1/devices/$DEV1/lwm2m/1/0" '{"records":[{"path":"/1/0/1","value":60}]}'
assert_eq "$STATUS $(error_code)" "403 forbidden" "write of /1/0"
api DELETE "/api/v1/devices/$DEV1/lwm2m/0/1"
assert_eq "$STATUS" 403 "delete of /0/1"
api GET "/api/v1/devices/$DEV1/lwm2m/21/0"
assert_eq "$STATUS" 403 "read of the OSCORE object"
assert_eq "$(grep -c . "$T/dev1.serve")" "$before" "client output after refused requests"
note "Security and Server objects refused"

# ---- 3. an LwM2M 1.0 device: TLV typed by the object model ----
serve_device dev2 urn:dev:two 1.0
PID2=$SERVE_PID
api GET "/api/v1/devices/$DEV2/lwm2m/3/0"
assert_eq "$STATUS" 200 "read /3/0 (1.0)"
assert_eq "$(records)" "/3/0/0 string iotvault test
/3/0/1 string lwm2m_client
/3/0/2 string SN-0001
/3/0/3 string 1.2.3
/3/0/9 integer 87
/3/0/13 time 1700000000" "records of /3/0 (1.0, TLV)"
api_json PUT "/api/v1/devices/$DEV2/lwm2m/3/0/13" '{"records":[{"path":"/3/0/13","value":1234567890}]}'
assert_eq "$STATUS" 204 "write /3/0/13 (TLV)"
grep -q '^wrote /3/0/13 1234567890 (tlv)$' "$T/dev2.serve" || fail "the 1.0 client did not see a TLV write"
api GET "/api/v1/devices/$DEV2/lwm2m/3/0/13"
assert_eq "$(records)" "/3/0/13 time 1234567890" "read back over TLV"
note "LwM2M 1.0 over TLV"

# a device answering a malformed payload (TLV and SenML CBOR one byte short):
# 502 device_error, nothing stored, and the server carries on
rows_before="$(db_query "$D" "select (select count(*) from audit_log) || ' ' || (select count(*) from lwm2m_registrations) || ' ' || (select count(*) from security_events)")"
touch "$CORRUPT_FLAG"
api GET "/api/v1/devices/$DEV2/lwm2m/3/0"
assert_eq "$STATUS $(error_code)" "502 device_error" "a malformed TLV answer"
api GET "/api/v1/devices/$DEV1/lwm2m/3/0"
assert_eq "$STATUS $(error_code)" "502 device_error" "a malformed SenML CBOR answer"
api GET "/api/v1/devices/$DEV1/lwm2m/3/0/0"
assert_eq "$STATUS $(error_code)" "502 device_error" "a malformed SenML CBOR resource"
rm -f "$CORRUPT_FLAG"
assert_eq "$(db_query "$D" "select (select count(*) from audit_log) || ' ' || (select count(*) from lwm2m_registrations) || ' ' || (select count(*) from security_events)")" \
	"$rows_before" "nothing changed by malformed answers"
api GET "/api/v1/devices/$DEV2/lwm2m/3/0/1"
assert_eq "$STATUS $(records)" "200 /3/0/1 string lwm2m_client" "a good answer after the malformed ones"
note "malformed TLV / SenML CBOR answers: 502, nothing changed"

# ---- 4. not registered, and gone quiet ----
api GET "/api/v1/devices/$DEV3/lwm2m/3/0"
assert_eq "$STATUS $(error_code)" "404 not_found" "unregistered device"
api_json PUT "/api/v1/devices/$DEV3/lwm2m/3/0/13" '{"records":[{"path":"/3/0/13","value":1}]}'
assert_eq "$STATUS" 404 "write to an unregistered device"
api GET "/api/v1/devices/999999/lwm2m/3/0"
assert_eq "$STATUS" 404 "no such device"
kill -USR1 "$PID1"
start=$SECONDS
api GET "/api/v1/devices/$DEV1/lwm2m/3/0/0"
assert_eq "$STATUS $(error_code)" "504 device_timeout" "a device that stopped answering"
(( SECONDS - start <= 15 )) || fail "the timeout took $((SECONDS - start)) s"
api POST "/api/v1/devices/$DEV1/lwm2m/3/0/4/execute"
assert_eq "$STATUS" 504 "execute on a quiet device"
# the server is still fine with the other device
api GET "/api/v1/devices/$DEV2/lwm2m/3/0/1"
assert_eq "$(records)" "/3/0/1 string lwm2m_client" "the other device meanwhile"
note "unregistered 404, quiet device 504"

# ---- 5. audit ----
assert_eq "$(audit "action = 'lwm2m.write' and outcome = 'started'")" 4 "lwm2m.write started records"
assert_eq "$(audit "action = 'lwm2m.write' and outcome = 'success'")" 3 "lwm2m.write success records"
assert_eq "$(audit "action = 'lwm2m.write' and outcome = 'failure' and detail like '%method_not_allowed'")" 1 "lwm2m.write failure record"
assert_eq "$(audit "action = 'lwm2m.execute' and outcome = 'success' and detail like 'execute /3/0/4%'")" 1 "lwm2m.execute success"
assert_eq "$(audit "action = 'lwm2m.execute' and outcome = 'failure' and detail like '%device_timeout%'")" 1 "lwm2m.execute timeout"
assert_eq "$(audit "action = 'lwm2m.delete'")" 2 "lwm2m.delete records"
assert_eq "$(audit "action like 'lwm2m.%' and (detail like '%1800000001%' or detail like '%1234567890%' or detail like '%evil%')")" 0 "values in audit records"
assert_eq "$(audit "action like 'lwm2m.%' and object = 'device:$DEV1' and detail like 'write (replace) /3/0/13%'")" 2 "audit names the path"
assert_eq "$(audit "action like 'lwm2m.%' and object = 'device:$DEV3'")" 0 "audit of an unregistered device"

kill -TERM "$PID1" "$PID2" 2>/dev/null || true
kill -0 "$SERVER_PID" 2>/dev/null || fail "the server is gone"
stop_server
expect_exit 0 iv audit verify --data "$D"
for f in "$K"/*.key "$K"/*.txt; do
	secret="$(tr -d '\n' <"$f")"
	for out in "$T/serve.out" "$T/serve.err" "$D/iotvault.log" "$T/dev1.serve" "$T/dev2.serve"; do
		[[ -f "$out" ]] || continue
		if grep -qiF -- "$secret" "$out"; then
			fail "a key from $(basename "$f") appears in $(basename "$out")"
		fi
	done
done

pass
