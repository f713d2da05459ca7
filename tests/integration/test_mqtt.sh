#!/usr/bin/env bash
# MQTT over TLS end to end: a real mosquitto broker (TLS listener with a test
# CA, username and password) and the real `iotvault serve`. Checks that
#  - a broker whose certificate does not chain to [mqtt] ca_file gets nothing
#    and the messages stay queued (and survive a restart of iotvault);
#  - messages arrive on <prefix>/<tenant>/<application>/<device>/<event>
#    byte for byte, and leave the outbox once acknowledged (QoS 1);
#  - broker outage: with the broker stopped, 150 messages of 3 devices are
#    queued; after it returns each arrives exactly once, exactly as sent,
#    in order per device;
#  - the password and the message bodies never reach the log.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/outbox_lib.sh"

for tool in mosquitto mosquitto_sub mosquitto_passwd; do
	command -v "$tool" >/dev/null || fail "$tool is required (apt-get install mosquitto mosquitto-clients)"
done

make_pki "$T/pki"
broker_config "$T/broker" "$T/pki"

BROKER_PID=""
start_broker() {
	mosquitto -c "$B/mosquitto.conf" >>"$B/stdout.log" 2>&1 &
	BROKER_PID=$!
	EXTRA_PIDS+=("$BROKER_PID")
	wait_port "$MPORT" 15 || {
		sed 's/^/    /' "$B/mosquitto.log" "$B/stdout.log" >&2 || true
		fail "mosquitto did not listen on $MPORT"
	}
}
stop_broker() {
	stop_pid "$BROKER_PID"
	BROKER_PID=""
}

SUB_PID=""
# start_sub FILE: the reader's persistent session (-c, fixed id, QoS 1), so
# that the broker keeps its messages while it is away.
start_sub() {
	: >"$1"
	mosquitto_sub -h localhost -p "$MPORT" --cafile "$T/pki/ca.pem" -u reader -P "$READER_PW" \
		-i iv-test-reader -c -q 1 -t 'ivtest/#' -F '%t|%p' >"$1" 2>>"$T/sub.err" &
	SUB_PID=$!
	EXTRA_PIDS+=("$SUB_PID")
	wait_for 10 grep -q "iv-test-reader" "$B/mosquitto.log" ||
		fail "the subscriber did not connect"
	sleep 0.5
}
stop_sub() {
	stop_pid "$SUB_PID"
	SUB_PID=""
}

lines() { [[ -f "$1" ]] && wc -l <"$1" || echo 0; }
has_lines() { [[ "$(lines "$1")" -ge "$2" ]]; }
outbox_empty() { [[ "$(outbox_rows "$D")" == 0 ]]; }

D="$T/data"
init_data "$D"
write_mqtt_config() { # CA-FILE
	cat "$T/base.conf" >"$D/iotvault.conf"
	cat >>"$D/iotvault.conf" <<CONF

[mqtt]
url = mqtts://localhost:$MPORT
ca_file = $1
username = iotvault
password_env = IV_TEST_MQTT_PASSWORD
topic_prefix = ivtest
retry_max_s = 2
CONF
}
cp "$D/iotvault.conf" "$T/base.conf"

start_broker
start_sub "$T/sub1.txt"

# ---- a broker that does not chain to ca_file gets nothing ----
write_mqtt_config "$T/pki/rogue-ca.pem"
start_server "$D" IV_TEST_MQTT_PASSWORD="$MQTT_PW"
enqueue "$D" default app1 70B3D57ED0000001 up 3 0
sleep 4
assert_eq "$(outbox_rows "$D")" 3 "messages queued while the broker is not trusted"
assert_eq "$(lines "$T/sub1.txt")" 0 "messages received from an untrusted connection"
assert_contains "$(server_log "$D")" "mqtt: connecting to localhost:$MPORT failed" "server log"
stop_server
note "untrusted broker certificate: nothing sent, 3 messages kept"

# ---- the right CA: the queued and new messages arrive as sent ----
write_mqtt_config "$T/pki/ca.pem"
start_server "$D" IV_TEST_MQTT_PASSWORD="$MQTT_PW"
enqueue "$D" default app1 70B3D57ED0000001 up 2 3
wait_for 20 outbox_empty || fail "the outbox did not drain: $(outbox_rows "$D") left"
wait_for 10 has_lines "$T/sub1.txt" 5 || fail "subscriber got $(lines "$T/sub1.txt") of 5"
{
	for i in 0 1 2 3 4; do
		printf 'ivtest/default/app1/70B3D57ED0000001/up|%s\n' "$(expected_body 70B3D57ED0000001 up "$i")"
	done
} >"$T/want1.txt"
sleep 0.5
cmp -s "$T/want1.txt" "$T/sub1.txt" || {
	diff "$T/want1.txt" "$T/sub1.txt" | head -n 10 >&2
	fail "received messages differ from those sent"
}
note "5 messages delivered byte for byte on the documented topic"

# ---- broker outage ----
stop_sub
stop_broker
DEVICES=(70B3D57ED00000A1 70B3D57ED00000B2 urn:dev:ops:1)
for ((round = 0; round < 5; round++)); do
	for dev in "${DEVICES[@]}"; do
		enqueue "$D" default fleet "$dev" up 10 $((round * 10))
	done
done
sleep 3
assert_eq "$(outbox_rows "$D")" 150 "messages queued during the outage"
assert_contains "$(server_log "$D")" "mqtt: reconnecting to localhost:$MPORT" "server log"
start_broker
wait_for 30 outbox_empty || fail "after the outage the outbox did not drain: $(outbox_rows "$D") left"
start_sub "$T/sub2.txt"
wait_for 30 has_lines "$T/sub2.txt" 150 || fail "subscriber got $(lines "$T/sub2.txt") of 150"
sleep 1
stop_sub
assert_eq "$(lines "$T/sub2.txt")" 150 "messages received after the outage (duplicates?)"
for dev in "${DEVICES[@]}"; do
	for ((i = 0; i < 50; i++)); do
		printf 'ivtest/default/fleet/%s/up|%s\n' "$dev" "$(expected_body "$dev" up "$i")"
	done >"$T/want.$dev.txt"
	grep -F "ivtest/default/fleet/$dev/up|" "$T/sub2.txt" >"$T/got.$dev.txt" || true
	cmp -s "$T/want.$dev.txt" "$T/got.$dev.txt" || {
		diff "$T/want.$dev.txt" "$T/got.$dev.txt" | head -n 10 >&2
		fail "device $dev: messages after the outage differ from those sent (order, loss or change)"
	}
done
note "broker outage: 150 of 150 delivered exactly once, as sent, in order per device"

# ---- nothing secret or private in the log ----
stop_server
log="$(server_log "$D")"
assert_not_contains "$log" "$MQTT_PW" "server log"
assert_not_contains "$log" "quoted" "server log (message bodies)"
pass
