#!/usr/bin/env bash
# The LwM2M bootstrap and DM server end to end (issue 7): the real `iotvault
# serve` with DTLS listeners on free loopback ports, libcoap's
# coap-client-gnutls as the independent peer for raw CoAP/DTLS checks, and
# tests/lwm2m_client (libcoap, its own TLV reader) for the bootstrap
# sequence. Checks: unknown identities refused in the handshake (and
# recorded), the wrong endpoint for an identity answered 4.03 with a
# security event, the bootstrap writing a fresh DM PSK that differs from the
# bootstrap PSK, registration with it at the DM listener and via the API,
# update, de-registration, lifetime expiry, a second bootstrap after which
# the old DM PSK keeps working only until the new one is used, and that no
# key reaches the server's output or log. Keys live in files under the test
# directory and are never printed.
source "$(dirname "${BASH_SOURCE[0]}")/lwm2m_lib.sh"

start_server "$D"
note "HTTPS $HTTPS_PORT, DM $DM_PORT, bootstrap $BS_PORT"

events() { db_query "$D" "select count(*) from security_events where kind = '$1'"; }
# coap-client-gnutls with a device's bootstrap credential; its -k is the key text
coap_as() { # NAME coap-client args...
	local name="$1"
	shift
	timeout -k 5 30 coap-client-gnutls -B 4 -u "$(cat "$K/$name.identity")" -k "$(cat "$K/$name.txt")" "$@" \
		>"$T/coap.out" 2>&1 || true
}

# ---- 1. an unknown identity is refused in the handshake ----
before="$(events lwm2m_unknown_identity)"
timeout -k 5 30 coap-client-gnutls -B 4 -u nobody-knows-me -k not-a-key-at-all -m post \
	"coaps://127.0.0.1:$BS_PORT/bs?ep=urn:dev:one" >"$T/coap.out" 2>&1 || true
assert_contains "$(cat "$T/coap.out")" "Handshake failed" "coap-client with an unknown identity"
[[ "$(events lwm2m_unknown_identity)" -gt "$before" ]] || fail "unknown identity left no security event"
# a bootstrap identity is unknown on the DM listener, and a real identity
# with the wrong key fails too
coap_as dev1 -m post "coaps://127.0.0.1:$DM_PORT/rd?ep=urn:dev:one&lt=60&lwm2m=1.1&b=U"
assert_contains "$(cat "$T/coap.out")" "Handshake failed" "bootstrap identity at the DM listener"
timeout -k 5 30 coap-client-gnutls -B 4 -u bs-dev1 -k wrong-key-wrong-key-wrong -m post \
	"coaps://127.0.0.1:$BS_PORT/bs?ep=urn:dev:one" >"$T/coap.out" 2>&1 || true
assert_not_contains "$(cat "$T/coap.out")" "2.04" "bootstrap with a wrong key"
note "unknown identity, wrong listener and wrong key refused in the handshake"

# ---- 2. wrong endpoint for the identity: 4.03 and a security event ----
before="$(events lwm2m_endpoint_mismatch)"
coap_as dev1 -m post "coaps://127.0.0.1:$BS_PORT/bs?ep=urn:dev:two"
assert_contains "$(cat "$T/coap.out")" "4.03" "bootstrap for another device's endpoint"
[[ "$(events lwm2m_endpoint_mismatch)" -eq $((before + 1)) ]] || fail "no endpoint-mismatch event"
assert_eq "$(db_query "$D" "select count(*) from lwm2m_dm_credentials")" 0 "DM credentials after a refused bootstrap"

# ---- 3. bootstrap: a fresh DM credential ----
client "$BS_PORT" "$K/dev1" bootstrap urn:dev:one "$K/dm1"
[[ $CLIENT_RC -eq 0 ]] || fail "bootstrap failed: $CLIENT_OUT"
assert_contains "$CLIENT_OUT" "deletes 2, security mode 0, ssid 7, lifetime 300, binding U" "bootstrap writes"
assert_contains "$(cat "$K/dm1.info")" "uri coaps://127.0.0.1:$DM_PORT" "DM server URI"
[[ "$(tr -d '\n' <"$K/dm1.key" | wc -c)" -eq 32 ]] || fail "DM PSK is not 16 bytes"
[[ "$(tr -d '\n' <"$K/dm1.key")" != "$(upper "$(cat "$K/dev1.key")")" ]] || fail "DM PSK equals the bootstrap PSK"
[[ "$(cat "$K/dm1.identity")" == iv-dm-* ]] || fail "DM identity not generated"
assert_eq "$(db_query "$D" "select state from lwm2m_dm_credentials where device_id = $DEV1")" pending "credential state"
assert_eq "$(db_query "$D" "select count(*) from secrets where owner_kind = 'lwm2m_dm_cred' and field in ('dm_psk','dm_psk_identity')")" 2 "sealed DM secrets"
assert_eq "$(db_query "$D" "select count(*) from audit_log where action = 'lwm2m.bootstrap' and outcome = 'success'")" 1 "bootstrap audit"
# what coap-client-gnutls (libcoap, GnuTLS) negotiates with the server: the
# server logs the key exchange and cipher of every session it accepts
coap_as dev2 -m post "coaps://127.0.0.1:$BS_PORT/bs?ep=urn:dev:one"
SUITE="$(grep -o 'DTLS 1.2 session from .*' "$D/iotvault.log" | tail -n 1 | sed 's/.*: //')" || true
[[ "$SUITE" =~ ^(ECDHE-)?PSK-(AES-(128|256)-(GCM|CCM|CCM-8)|CHACHA20-POLY1305)$ ]] ||
	fail "unexpected DTLS suite '$SUITE'"
note "DTLS suite negotiated by coap-client-gnutls: $SUITE"

# ---- 4. registration at the DM listener with the new credential ----
client "$DM_PORT" "$K/dm1" register urn:dev:one 60 1.1 U
[[ $CLIENT_RC -eq 0 ]] || fail "registration failed: $CLIENT_OUT"
LOC1="$(awk '/^2.01/ {print $2}' <<<"$CLIENT_OUT")"
[[ "$LOC1" == /rd/* ]] || fail "no location in '$CLIENT_OUT'"
assert_eq "$(db_query "$D" "select state from lwm2m_dm_credentials where device_id = $DEV1")" active "credential after registration"
# the wrong endpoint with a DM credential
before="$(events lwm2m_endpoint_mismatch)"
client "$DM_PORT" "$K/dm1" register urn:dev:two 60 1.1 U
assert_contains "$CLIENT_OUT" "4.03" "registration of another endpoint"
[[ "$(events lwm2m_endpoint_mismatch)" -eq $((before + 1)) ]] || fail "no event for the registration mismatch"
# bad parameters: 4.00, unsupported version 4.12, nothing stored
client "$DM_PORT" "$K/dm1" register urn:dev:one abc 1.1 U
assert_contains "$CLIENT_OUT" "4.00" "lifetime abc"
client "$DM_PORT" "$K/dm1" register urn:dev:one 60 2.0 U
assert_contains "$CLIENT_OUT" "4.12" "LwM2M 2.0"
client "$DM_PORT" "$K/dm1" register urn:dev:one 60 1.1 U '</1/0>,<broken'
assert_contains "$CLIENT_OUT" "4.00" "malformed link-format"
assert_eq "$(db_query "$D" "select '/' || location from lwm2m_registrations where device_id = $DEV1")" "$LOC1" "registration unchanged by bad requests"

# ---- 5. the API shows it ----
api_login
api GET "/api/v1/devices/$DEV1/lwm2m"
assert_eq "$STATUS" 200 "GET lwm2m"
assert_eq "$(json_count "$T/api.json" registered)" 1 "registration JSON"
python3 - "$T/api.json" "$LOC1" <<'EOF' || fail "registration JSON does not match"
import json, sys
d = json.load(open(sys.argv[1]))
r = d["registration"]
assert d["registered"] is True, d
assert r["location"] == sys.argv[2] and r["endpoint"] == "urn:dev:one", r
assert r["lwm2m_version"] == "1.1" and r["binding"] == "U" and r["lifetime_s"] == 60, r
assert r["object_links"] == "</1/0>,</3/0>" and r["security"] == "psk", r
assert [c["state"] for c in d["dm_credentials"]] == ["active"], d
assert "identity" not in json.dumps(d["dm_credentials"]), d
EOF
api GET "/api/v1/devices/$DEV2/lwm2m"
assert_eq "$STATUS" 200 "GET lwm2m of an unregistered device"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["registered"] is False and d["registration"] is None' "$T/api.json" ||
	fail "unregistered device shows a registration"

# ---- 6. update and de-register ----
client "$DM_PORT" "$K/dm1" update "$LOC1" 120
assert_contains "$CLIENT_OUT" "2.04" "update"
assert_eq "$(db_query "$D" "select lifetime_s from lwm2m_registrations where device_id = $DEV1")" 120 "lifetime after update"
# another device's credential may not touch this registration
client "$BS_PORT" "$K/dev2" bootstrap urn:dev:two "$K/dm2"
[[ $CLIENT_RC -eq 0 ]] || fail "bootstrap of dev2 failed: $CLIENT_OUT"
client "$DM_PORT" "$K/dm2" deregister "$LOC1"
assert_contains "$CLIENT_OUT" "4.03" "de-register of another device's registration"
client "$DM_PORT" "$K/dm1" deregister "$LOC1"
assert_contains "$CLIENT_OUT" "2.02" "de-register"
assert_eq "$(db_query "$D" "select count(*) from lwm2m_registrations where device_id = $DEV1")" 0 "registration after de-register"
client "$DM_PORT" "$K/dm1" update "$LOC1" 60
assert_contains "$CLIENT_OUT" "4.04" "update after de-register"

# ---- 7. lifetime expiry ----
client "$DM_PORT" "$K/dm1" register urn:dev:one 2 1.0 UQ
assert_contains "$CLIENT_OUT" "2.01" "short-lived registration"
assert_eq "$(db_query "$D" "select lwm2m_version || ' ' || binding || ' ' || queue_mode from lwm2m_registrations where device_id = $DEV1")" "1.0 UQ 1" "LwM2M 1.0 queue-mode registration"
sleep 4
assert_eq "$(db_query "$D" "select count(*) from lwm2m_registrations where device_id = $DEV1")" 0 "registration after its lifetime"
api GET "/api/v1/devices/$DEV1/lwm2m"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["registered"] is False' "$T/api.json" ||
	fail "expired registration still shown"

# ---- 8. re-bootstrap: the old DM PSK works until the new one is used ----
client "$BS_PORT" "$K/dev1" bootstrap urn:dev:one "$K/dm1b"
[[ $CLIENT_RC -eq 0 ]] || fail "second bootstrap failed: $CLIENT_OUT"
[[ "$(cat "$K/dm1b.key")" != "$(cat "$K/dm1.key")" ]] || fail "second bootstrap reused the DM PSK"
[[ "$(cat "$K/dm1b.identity")" != "$(cat "$K/dm1.identity")" ]] || fail "second bootstrap reused the identity"
client "$DM_PORT" "$K/dm1" register urn:dev:one 60 1.1 U
assert_contains "$CLIENT_OUT" "2.01" "old credential before the new one is used"
client "$DM_PORT" "$K/dm1b" register urn:dev:one 60 1.1 U
assert_contains "$CLIENT_OUT" "2.01" "registration with the new credential"
assert_eq "$(db_query "$D" "select group_concat(state, ',') from (select state from lwm2m_dm_credentials where device_id = $DEV1 order by id)")" "retired,active" "credential states"
assert_eq "$(db_query "$D" "select count(*) from secrets s join lwm2m_dm_credentials c on s.owner_id = c.id where s.owner_kind = 'lwm2m_dm_cred' and c.state = 'retired'")" 0 "sealed keys of retired credentials"
before="$(events lwm2m_unknown_identity)"
client "$DM_PORT" "$K/dm1" register urn:dev:one 60 1.1 U
[[ $CLIENT_RC -eq 3 ]] || fail "the old DM PSK was not refused: $CLIENT_OUT"
assert_contains "$CLIENT_OUT" "DTLS handshake failed" "old DM PSK"
[[ "$(events lwm2m_unknown_identity)" -gt "$before" ]] || fail "old DM PSK left no security event"
# the bootstrap credential is not a DM credential
client "$DM_PORT" "$K/dev1" register urn:dev:one 60 1.1 U
[[ $CLIENT_RC -eq 3 ]] || fail "the bootstrap PSK was accepted at the DM listener"
note "re-bootstrap: old DM PSK refused after the new one registered"

# ---- 8b. cipher suites, with gnutls-cli as a DTLS client that offers one
# suite at a time and sends a raw CoAP POST /bs?ep=urn:dev:two ----
python3 -c '
import sys
q = b"ep=urn:dev:two"
sys.stdout.buffer.write(bytes([0x40, 0x02, 0x12, 0x34, 0xB2]) + b"bs" + bytes([0x4D, len(q) - 13]) + q)
' >"$T/coap_bs.bin"
suite_try() { # PRIORITY
	(sleep 1; cat "$T/coap_bs.bin"; sleep 1.5) | timeout -k 2 8 gnutls-cli --udp --port "$BS_PORT" \
		localhost --pskusername bs-dev2 --pskkey "$(cat "$K/dev2.key")" --priority "$1" \
		>"$T/gnutls.out" 2>&1 || true
}
for cipher in AES-128-CCM-8 AES-128-GCM AES-256-GCM; do
	suite_try "NONE:+VERS-DTLS1.2:+PSK:+$cipher:+AEAD:+SIGN-ALL:+COMP-NULL:+GROUP-ALL"
	assert_contains "$(cat "$T/gnutls.out")" "(PSK)-($cipher)" "gnutls-cli offering only PSK-$cipher"
	grep -q "DTLS 1.2 session from .*: PSK-$cipher\$" "$D/iotvault.log" || fail "server did not accept PSK-$cipher"
done
before="$(events lwm2m_dtls_policy)"
suite_try "NONE:+VERS-DTLS1.2:+PSK:+AES-128-CBC:+SHA256:+SIGN-ALL:+COMP-NULL:+GROUP-ALL"
[[ "$(events lwm2m_dtls_policy)" -eq $((before + 1)) ]] || fail "a CBC suite was not refused"
suite_try "NONE:+VERS-DTLS1.0:+PSK:+AES-128-CBC:+SHA1:+SIGN-ALL:+COMP-NULL:+GROUP-ALL"
assert_not_contains "$(cat "$T/gnutls.out")" "- Description: (DTLS1.0" "DTLS 1.0 handshake"
note "PSK-AES-128-CCM-8 and AES-GCM accepted; CBC refused; DTLS 1.0 refused"

# ---- 9. audit chain, server alive, no key in output or log ----
assert_eq "$(db_query "$D" "select count(*) from audit_log where action = 'lwm2m.bootstrap' and outcome = 'success'")" 3 "bootstrap audit records"
assert_eq "$(db_query "$D" "select count(*) from audit_log where action = 'lwm2m.dm_credential.activate'")" 2 "activation audit records"
kill -0 "$SERVER_PID" 2>/dev/null || fail "the server is gone"
stop_server
expect_exit 0 iv audit verify --data "$D"
for f in "$K"/*.key "$K"/*.txt; do
	secret="$(tr -d '\n' <"$f")"
	for out in "$T/serve.out" "$T/serve.err" "$D/iotvault.log" "$TRANSCRIPT"; do
		[[ -f "$out" ]] || continue
		if grep -qiF -- "$secret" "$out"; then
			fail "a key from $(basename "$f") appears in $(basename "$out")"
		fi
	done
done

# ---- 10. NoSec is off by default, and on only where configured ----
cat >>"$D/iotvault.conf" <<EOF
nosec = 127.0.0.1:$NOSEC_PORT
EOF
start_server "$D"
assert_contains "$(cat "$T/serve.out")" "NoSec 127.0.0.1:$NOSEC_PORT" "NoSec announcement"
timeout -k 5 20 coap-client-gnutls -B 4 -m post "coap://127.0.0.1:$NOSEC_PORT/rd?ep=urn:dev:two&lt=60&lwm2m=1.1&b=U" \
	>"$T/coap.out" 2>&1 || true
assert_eq "$(db_query "$D" "select security from lwm2m_registrations where device_id = $DEV2")" nosec "NoSec registration"
timeout -k 5 20 coap-client-gnutls -B 4 -m post "coap://127.0.0.1:$NOSEC_PORT/bs?ep=urn:dev:two" \
	>"$T/coap.out" 2>&1 || true
assert_contains "$(cat "$T/coap.out")" "4.04" "bootstrap over NoSec"
timeout -k 5 20 coap-client-gnutls -B 4 -m post "coap://127.0.0.1:$NOSEC_PORT/rd?ep=urn:dev:nobody&lt=60" \
	>"$T/coap.out" 2>&1 || true
assert_contains "$(cat "$T/coap.out")" "4.03" "NoSec registration of an unknown endpoint"
stop_server

pass
