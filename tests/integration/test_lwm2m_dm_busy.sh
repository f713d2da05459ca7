#!/usr/bin/env bash
# REST requests waiting for a device cannot take every HTTP thread: with
# [http] threads = 4 (so [lwm2m] dm_waits 3, dm_waits_per_tenant 2 by
# default), eight concurrent reads of a device that has gone quiet (the test
# client muted with SIGUSR1) leave the API free: a health check and a login
# answer at once, the reads beyond the bound answer 503 busy with
# Retry-After at once, the rest 504 after dm_timeout_ms. (A connection
# that a worker thread accepted just before that thread blocked waits for
# it: the bound keeps threads free, it does not move connections.) Without the bound
# every thread would sit in a read for the whole timeout.
source "$(dirname "${BASH_SOURCE[0]}")/lwm2m_lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lwm2m_dm_lib.sh"
cat >>"$D/iotvault.conf" <<EOF2
dm_timeout_ms = 8000

[http]
threads = 4
EOF2

start_server "$D"
api_login
serve_device dev1 urn:dev:one 1.1
PID1=$SERVE_PID
api GET "/api/v1/devices/$DEV1/lwm2m/3/0/0"
assert_eq "$STATUS" 200 "read before the device went quiet"

kill -USR1 "$PID1"
sleep 0.3
pids=()
for i in 1 2 3 4 5 6 7 8; do
	sleep 0.2 # one by one: each lands on a free thread
	curl -sk --max-time 30 -b "$T/jar" -D "$T/read$i.h" -o "$T/read$i.json" \
		-w '%{http_code}%{stderr}%{time_total}' -H "Origin: https://127.0.0.1:$HTTPS_PORT" \
		"https://127.0.0.1:$HTTPS_PORT/api/v1/devices/$DEV1/lwm2m/3/0/0" >"$T/read$i.code" 2>"$T/read$i.t" &
	pids+=($!)
done
sleep 1
start=$(date +%s%N)
code="$(curl -sk --max-time 5 -o /dev/null -w '%{http_code}' "https://127.0.0.1:$HTTPS_PORT/api/v1/health")" || code=timeout
ms=$((($(date +%s%N) - start) / 1000000))
assert_eq "$code" 200 "health while reads wait for a quiet device"
((ms < 2000)) || fail "health took $ms ms while reads waited"
# a write refused for want of a place leaves no audit record and sends nothing
writes_before="$(db_query "$D" "select count(*) from audit_log where action = 'lwm2m.write'")"
api_json PUT "/api/v1/devices/$DEV1/lwm2m/3/0/13" '{"records":[{"path":"/3/0/13","value":1800000999}]}'
assert_eq "$STATUS $(error_code)" "503 busy" "a write while every place is taken"
assert_eq "$(db_query "$D" "select count(*) from audit_log where action = 'lwm2m.write'")" "$writes_before" \
	"audit records of a write refused busy"
api_login
note "health ($ms ms) and login answer while eight reads wait for a quiet device"
for p in "${pids[@]}"; do wait "$p" || true; done
busy=0 timeout=0
for i in 1 2 3 4 5 6 7 8; do
	case "$(cat "$T/read$i.code")" in
	503)
		busy=$((busy + 1))
		[[ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"]["code"])' "$T/read$i.json")" == busy ]] ||
			fail "503 without code busy: $(cat "$T/read$i.json")"
		grep -qi '^Retry-After: 8' "$T/read$i.h" || fail "503 without Retry-After: $(cat "$T/read$i.h")"
		;;
	504) timeout=$((timeout + 1)) ;;
	*) fail "read $i: $(cat "$T/read$i.code") $(cat "$T/read$i.json")" ;;
	esac
done
# two wait; a connection a worker thread accepted just before it blocked
# waits for that thread, then for a place; sent one by one, six of eight
# are refused (two wait: the per-tenant bound)
((busy >= 4 && busy + timeout == 8)) || fail "$busy reads refused busy, $timeout timed out"
note "beyond the bound: 503 busy with Retry-After; within it: 504 after the timeout"

# the places are given back: the device wakes and answers again
kill -USR1 "$PID1"
sleep 1
for i in 1 2 3; do
	api GET "/api/v1/devices/$DEV1/lwm2m/3/0/0"
	assert_eq "$STATUS" 200 "read $i after the device woke"
done
note "places given back after the waits ended"
pass
