#!/usr/bin/env bash
# `iotvault device export` and POST /api/v1/devices/export: documents
# encrypted to a throwaway gpg key decrypt with gpg and carry exactly the keys
# the devices were created with (compared silently); every export leaves one
# summary and one per-device "device.export" audit record without key
# material; plaintext needs --plaintext (CLI) or the admin role (API); bad
# recipient keys and requests export nothing and record nothing; the round
# trip export -> gpg -> `iotvault device import` into another data directory
# keeps every key.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for tool in gpg curl python3 sqlite3; do
	command -v "$tool" >/dev/null || fail "$tool is required (apt-get install gnupg curl python3 sqlite3)"
done

# ---- a throwaway recipient (no passphrase) in a private GNUPGHOME ----
export GNUPGHOME="$T/gnupg"
mkdir -m 700 "$GNUPGHOME"
printf 'no-auto-check-trustdb\ntrust-model always\n' >"$GNUPGHOME/gpg.conf"
gen_key() { # UID [ALGO USAGE EXPIRE]
	gpg --batch --quiet --passphrase '' --quick-gen-key "$1" "${2:-default}" "${3:-default}" \
		"${4:-never}" 2>/dev/null
}
fpr_of() { gpg --with-colons --list-keys "$1" | awk -F: '/^fpr/ { print $10; exit }'; }
gen_key 'iotvault export test <recipient@export.test>'
FPR="$(fpr_of recipient@export.test)"
gpg --armor --export recipient@export.test >"$T/recipient.asc"
gpg --export recipient@export.test >"$T/recipient.gpg"

decrypt() { # CIPHERTEXT PLAINTEXT
	gpg --batch --quiet --decrypt --output "$2" "$1" 2>"$T/gpg.err" || {
		sed 's/^/    /' "$T/gpg.err" >&2
		fail "gpg could not decrypt $1"
	}
}

D="$T/data"
init_data "$D"
KEYS="$T/keys.txt"
# 20 devices: 16 LoRaWAN 1.0.3, 2 LoRaWAN 1.1 (ids of i=10,20), 2 LwM2M (i=5,15)
add_devices "$D" 20 1 "$KEYS"
expect_exit 0 iv device add --data "$D" --tenant default --type lorawan \
	--dev-eui 70B3D57ED00000F1 --join-eui 70B3D57ED0000000 --mac-version 1.0.3 \
	--name 'quoted; "name"' --tags site-a,floor-2
QID="$(added_id)"
expect_exit 0 iv device show --data "$D" --tenant default --id "$QID" --reveal
printf '%s app_key %s\n' "$QID" "$(field_value "$T/last.out" app_key)" >>"$KEYS"
: >"$T/last.out"

# Compares the keys of an export document with KEYS, printing only counts.
# check_doc FORMAT FILE DATA EXPECTED_COUNT
check_doc() {
	db_query "$3" "select id || '|' || ifnull(dev_eui, '') || '|' || ifnull(endpoint, '') from devices" >"$T/ids.txt"
	python3 - "$1" "$2" "$KEYS" "$T/ids.txt" "$4" <<'EOF' || fail "$1 export: keys do not match (see above)"
import csv, json, sys
fmt, path, keyfile, idfile, expected = sys.argv[1:6]
keys = {}
for line in open(keyfile):
    p = line.split()
    keys[p[0]] = {p[i]: p[i + 1].upper() for i in range(1, len(p), 2)}
by_eui, by_ep = {}, {}
for line in open(idfile):
    i, eui, ep = line.rstrip("\n").split("|")
    if eui: by_eui[eui] = i
    if ep: by_ep[ep] = i
bad, n = [], 0
def cmp(dev, field, got):
    if keys.get(dev, {}).get(field) != got:
        bad.append("device %s %s" % (dev, field))
if fmt == "tts-csv":
    rows = list(csv.DictReader(open(path, newline=""), delimiter=";"))
    for r in rows:
        dev = by_eui[r["dev_eui"]]
        if r["id"] != "eui-" + r["dev_eui"].lower(): bad.append("device %s id" % dev)
        if r["lorawan_version"] not in ("MAC_V1_0_3", "MAC_V1_1"): bad.append("device %s version" % dev)
        cmp(dev, "app_key", r["app_key"])
        if "nwk_key" in r: cmp(dev, "nwk_key", r["nwk_key"])
        n += 1
elif fmt == "chirpstack-json":
    for d in json.load(open(path))["devices"]:
        dev = by_eui[d["device"]["devEui"]]
        k = d["deviceKeys"]
        if d["macVersion"] == "LORAWAN_1_1_0":
            cmp(dev, "nwk_key", k["nwkKey"]); cmp(dev, "app_key", k["appKey"])
        else:
            cmp(dev, "app_key", k["nwkKey"])
            if "appKey" in k: bad.append("device %s appKey set for 1.0.x" % dev)
        n += 1
else:
    for d in json.load(open(path))["devices"]:
        cmp(by_ep[d["endpoint"]], "psk", d["psk"]); n += 1
if str(n) != expected:
    bad.append("%d devices in the document, expected %s" % (n, expected))
for b in bad:
    print("# mismatch: " + b, file=sys.stderr)
print("# %s: %d device(s) checked, %d problem(s)" % (fmt, n, len(bad)), file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
}

audit_n() { db_query "$D" "select count(*) from audit_log where action='device.export' $1"; }
# no key of KEYS anywhere in the audit log
audit_has_no_keys() {
	db_query "$D" "select actor || object || outcome || detail from audit_log" >"$T/audit.txt"
	python3 - "$KEYS" "$T/audit.txt" <<'EOF' || fail "key material in the audit log"
import sys
text = open(sys.argv[2]).read().upper()
for line in open(sys.argv[1]):
    p = line.split()
    for i in range(2, len(p), 2):
        if p[i].upper() in text:
            print("# a key of device %s appears in the audit log" % p[0], file=sys.stderr)
            sys.exit(1)
EOF
	rm -f "$T/audit.txt"
}

# ---- encrypted exports, each format ----
expect_exit 0 iv device export --data "$D" --tenant default --format tts-csv --mac-version 1.0 \
	--recipient-key "$T/recipient.asc" --out "$T/tts10.asc"
assert_contains "$ERR" "encrypted to $FPR" "export summary"
assert_file_mode "$T/tts10.asc" 600
head -n 1 "$T/tts10.asc" | grep -q -- '-----BEGIN PGP MESSAGE-----' || fail "not an armoured message"
decrypt "$T/tts10.asc" "$T/tts10.csv"
check_doc tts-csv "$T/tts10.csv" "$D" 17
head -n 1 "$T/tts10.csv" | grep -qx 'id;dev_eui;join_eui;name;lorawan_version;app_key' ||
	fail "tts-csv header"
grep -q '"quoted; ""name"""' "$T/tts10.csv" || fail "tts-csv: a name with ';' and '\"' is not quoted"
assert_eq "$(audit_n "and object like 'device:%' and outcome='success' and detail like '%recipient=$FPR%'")" 17 \
	"per-device export records"
assert_eq "$(audit_n "and object like 'tenant:%' and detail like 'format=tts-csv devices=17 lorawan=17 lwm2m=0 encrypted=yes recipient=$FPR'")" 1 \
	"summary export record"

# LoRaWAN 1.1 alone carries the nwk_key column; the binary key file works too
expect_exit 0 iv device export --data "$D" --tenant default --format tts-csv --mac-version 1.1 \
	--recipient-key "$T/recipient.gpg" --out "$T/tts11.asc"
decrypt "$T/tts11.asc" "$T/tts11.csv"
head -n 1 "$T/tts11.csv" | grep -q ';nwk_key$' || fail "tts-csv of 1.1 devices lacks nwk_key"
check_doc tts-csv "$T/tts11.csv" "$D" 2

expect_exit 0 iv device export --data "$D" --tenant default --format chirpstack-json \
	--recipient-key "$T/recipient.asc" --out "$T/cs.asc"
decrypt "$T/cs.asc" "$T/cs.json"
check_doc chirpstack-json "$T/cs.json" "$D" 19

# standard output, and a tag filter
expect_exit 0 iv device export --data "$D" --tenant default --format chirpstack-json --tag site-a \
	--recipient-key "$T/recipient.asc"
printf '%s\n' "$OUT" >"$T/tag.asc"
decrypt "$T/tag.asc" "$T/tag.json"
assert_eq "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["devices"]))' "$T/tag.json")" 1 \
	"devices exported with --tag site-a"

expect_exit 0 iv device export --data "$D" --tenant default --format lwm2m-json \
	--recipient-key "$T/recipient.asc" --out "$T/lwm2m.asc"
decrypt "$T/lwm2m.asc" "$T/lwm2m.json"
check_doc lwm2m-json "$T/lwm2m.json" "$D" 2

# ---- refusals: nothing written, nothing recorded ----
audit_before="$(db_query "$D" "select count(*) from audit_log")"
refused() { # EXIT NEEDLE ARGS...
	local want="$1" needle="$2"
	shift 2
	rm -f "$T/refused.out"
	expect_exit "$want" iv device export --data "$D" --tenant default "$@" --out "$T/refused.out"
	assert_contains "$ERR" "$needle" "error message of: $*"
	[[ ! -e "$T/refused.out" ]] || fail "a refused export left $T/refused.out behind"
	[[ -z "$OUT" ]] || fail "a refused export wrote to standard output"
}
refused 2 "--plaintext" --format tts-csv
refused 2 "--format" --format spreadsheet --recipient-key "$T/recipient.asc"
refused 2 "carries lorawan devices only" --format tts-csv --type lwm2m --recipient-key "$T/recipient.asc"
refused 4 "cannot share one file" --format tts-csv --recipient-key "$T/recipient.asc"
refused 3 "no device matches" --format chirpstack-json --tag nosuchtag --recipient-key "$T/recipient.asc"
printf 'this is not a key\n' >"$T/notakey.txt"
refused 2 "not an OpenPGP public key" --format lwm2m-json --recipient-key "$T/notakey.txt"
gen_key 'second <second@export.test>'
gpg --armor --export recipient@export.test second@export.test >"$T/two.asc"
refused 2 "holds 2 keys" --format lwm2m-json --recipient-key "$T/two.asc"
gpg --batch --armor --pinentry-mode loopback --passphrase '' --export-secret-keys \
	recipient@export.test >"$T/secret.asc" 2>/dev/null
refused 2 "secret key" --format lwm2m-json --recipient-key "$T/secret.asc"
rm -f "$T/secret.asc"
gen_key 'expired <expired@export.test>' default default seconds=1
sleep 2
gpg --armor --export expired@export.test >"$T/expired.asc"
refused 2 "expired" --format lwm2m-json --recipient-key "$T/expired.asc"
gen_key 'revoked <revoked@export.test>'
rfpr="$(fpr_of revoked@export.test)"
sed 's/^:-----BEGIN/-----BEGIN/' "$GNUPGHOME/openpgp-revocs.d/$rfpr.rev" | gpg --quiet --import 2>/dev/null
gpg --armor --export revoked@export.test >"$T/revoked.asc"
refused 2 "revoked" --format lwm2m-json --recipient-key "$T/revoked.asc"
gen_key 'signer <signer@export.test>' ed25519 sign
gpg --armor --export signer@export.test >"$T/signonly.asc"
refused 2 "no valid encryption subkey" --format lwm2m-json --recipient-key "$T/signonly.asc"
: >"$T/exists.out"
expect_exit 1 iv device export --data "$D" --tenant default --format lwm2m-json \
	--recipient-key "$T/recipient.asc" --out "$T/exists.out"
assert_contains "$ERR" "not overwritten" "export onto an existing file"
[[ ! -s "$T/exists.out" ]] || fail "an existing file was overwritten"
assert_eq "$(db_query "$D" "select count(*) from audit_log")" "$audit_before" \
	"audit records written by refused exports"
[[ -z "$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'iotvault-export-*' -user "$(id -u)" 2>/dev/null)" ]] ||
	note "a temporary GnuPG home of an export is left in ${TMPDIR:-/tmp} (another run?)"

# ---- plaintext, explicitly ----
expect_exit 0 iv device export --data "$D" --tenant default --format lwm2m-json --plaintext \
	--out "$T/plain.json"
assert_contains "$ERR" "NOT encrypted" "plaintext export summary"
assert_file_mode "$T/plain.json" 600
check_doc lwm2m-json "$T/plain.json" "$D" 2
assert_eq "$(audit_n "and object like 'tenant:%' and detail like '%encrypted=no recipient=none'")" 1 \
	"summary record of the plaintext export"
audit_has_no_keys
expect_exit 0 iv audit verify --data "$D"

# ---- round trip: export -> gpg -> import into another data directory ----
D2="$T/data2"
init_data "$D2"
expect_exit 0 iv device import --help
# LwM2M: lwm2m-json is the importer's own JSON shape
expect_exit 0 iv device import --data "$D2" --tenant default --file "$T/lwm2m.json" --format json
# LoRaWAN: The Things Stack CSV uses ';' and MAC_V1_0_3; the importer reads
# ',' and 1.0.3, so the test converts the columns (no key is touched)
python3 - "$T/tts10.csv" "$T/tts11.csv" "$T/roundtrip.csv" <<'EOF'
import csv, sys
mac = {"MAC_V1_0": "1.0.0", "MAC_V1_0_1": "1.0.1", "MAC_V1_0_2": "1.0.2",
       "MAC_V1_0_3": "1.0.3", "MAC_V1_0_4": "1.0.4", "MAC_V1_1": "1.1"}
with open(sys.argv[3], "w", newline="") as out:
    w = csv.writer(out)
    w.writerow(["DevEUI", "JoinEUI", "name", "MACVersion", "AppKey", "NwkKey"])
    for path in sys.argv[1:3]:
        for r in csv.DictReader(open(path, newline=""), delimiter=";"):
            w.writerow([r["dev_eui"], r["join_eui"], r["name"], mac[r["lorawan_version"]],
                        r["app_key"], r.get("nwk_key", "")])
EOF
expect_exit 0 iv device import --data "$D2" --tenant default --file "$T/roundtrip.csv" --format csv
assert_eq "$(device_count "$D2")" 21 "devices in the second data directory"
# the second directory's keys, revealed there, against the originals
db_query "$D" "select id || '|' || ifnull(dev_eui, '') || '|' || ifnull(endpoint, '') from devices" >"$T/src_ids.txt"
checked=0
while read -r -u 3 id f1 v1 f2 v2; do
	IFS='|' read -r _ eui ep < <(grep "^$id|" "$T/src_ids.txt")
	if [[ -n "$ep" ]]; then sel=(--endpoint "$ep"); else sel=(--dev-eui "$eui"); fi
	if [[ -n "${f2:-}" ]]; then
		reveal_check "$D2" default "${sel[@]}" -- "$f1" "$v1" "$f2" "$v2"
	else
		reveal_check "$D2" default "${sel[@]}" -- "$f1" "$v1"
	fi
	checked=$((checked + 1))
	f2="" v2=""
done 3<"$KEYS"
assert_eq "$checked" 21 "devices compared after the round trip"
rm -f "$T"/*.csv "$T"/*.json

# ---- the API: operator (encrypted only), admin (plaintext allowed) ----
SERVER_PID=""
stop_server() {
	[[ -n "$SERVER_PID" ]] || return 0
	kill -TERM "$SERVER_PID" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=""
}
export_cleanup() {
	local rc=$?
	stop_server
	trap - ERR
	set +e
	(exit "$rc")
	cleanup
}
trap export_cleanup EXIT
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$IOTVAULT_BIN" serve --data "$D" --listen "127.0.0.1:$PORT" --backend-listen off >"$T/serve.out" 2>"$T/serve.err" &
SERVER_PID=$!
for ((i = 0; i < 150; i++)); do
	grep -q "serving https://127.0.0.1:$PORT" "$T/serve.out" 2>/dev/null && break
	kill -0 "$SERVER_PID" 2>/dev/null || fail "iotvault serve exited: $(cat "$T/serve.err")"
	sleep 0.1
done
URL="https://127.0.0.1:$PORT"

# http METHOD PATH BODY_FILE [curl args]: $STATUS, body in $T/b.json
http() {
	local method="$1" path="$2" body="$3"
	shift 3
	STATUS="$(curl -sk --max-time 60 -X "$method" -o "$T/b.json" -w '%{http_code}' \
		-H 'Content-Type: application/json' --data-binary "@$body" "$@" "$URL$path")" || STATUS=000
}
jfield() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval("d" + sys.argv[2]))' "$T/b.json" "$1"; }

python3 -c 'import json,sys; print(json.dumps({"tenant":"default","username":"admin","password":open(sys.argv[1]).readline().strip()}))' \
	"$D/initial-admin-password" >"$T/login.json"
http POST /api/v1/session "$T/login.json" -c "$T/jar"
assert_eq "$STATUS" 200 "admin login"
rm -f "$T/login.json"
for role in operator admin viewer; do
	printf '{"name":"export-%s","role":"%s"}' "$role" "$role" >"$T/ak.json"
	http POST /api/v1/apikeys "$T/ak.json" -b "$T/jar" -H "Origin: $URL"
	[[ "$STATUS" == 2* ]] || fail "creating the $role API key: HTTP $STATUS"
	printf 'Authorization: Bearer %s\n' "$(jfield '["key"]')" >"$T/auth-$role"
	: >"$T/b.json"
done

export_body() { # FORMAT WITH_KEY(0/1) PLAINTEXT(true/false) [extra json]
	python3 - "$@" "$T/recipient.asc" <<'EOF' >"$T/req.json"
import json, sys
fmt, with_key, plain = sys.argv[1], sys.argv[2], sys.argv[3]
extra = json.loads(sys.argv[4]) if len(sys.argv) > 5 else {}
body = {"format": fmt, **extra}
if with_key == "1": body["recipient_key"] = open(sys.argv[-1]).read()
if plain == "true": body["plaintext"] = True
print(json.dumps(body))
EOF
}

before="$(audit_n "and object like 'device:%'")"
export_body lwm2m-json 1 false
http POST /api/v1/devices/export "$T/req.json" -H "@$T/auth-operator" -D "$T/h.txt"
assert_eq "$STATUS" 200 "operator, encrypted export"
grep -qi '^Cache-Control: no-store' "$T/h.txt" || fail "export reply without Cache-Control: no-store"
assert_eq "$(jfield '["recipient_fingerprint"]')" "$FPR" "recipient fingerprint in the reply"
assert_eq "$(jfield '["encrypted"]')" True "encrypted flag"
jfield '["document"]' >"$T/api.asc"
decrypt "$T/api.asc" "$T/api.json"
check_doc lwm2m-json "$T/api.json" "$D" 2
assert_eq "$(audit_n "and object like 'device:%'")" "$((before + 2))" "per-device records of the API export"
assert_eq "$(db_query "$D" "select actor_type || ':' || actor from audit_log where action='device.export' order by seq desc limit 1")" \
	"apikey:export-operator" "actor of the API export"

export_body lwm2m-json 0 true
http POST /api/v1/devices/export "$T/req.json" -H "@$T/auth-operator"
assert_eq "$STATUS" 403 "operator, plaintext export"
assert_eq "$(jfield '["error"]["code"]')" forbidden "error code of a refused plaintext export"
[[ "$(cat "$T/b.json")" != *document* ]] || fail "a refused export carried a document"
assert_eq "$(audit_n "and outcome='denied' and actor='export-operator'")" 1 "denied plaintext attempt recorded"

export_body lwm2m-json 1 false
http POST /api/v1/devices/export "$T/req.json" -H "@$T/auth-viewer"
assert_eq "$STATUS" 403 "viewer, encrypted export"

export_body lwm2m-json 0 true
http POST /api/v1/devices/export "$T/req.json" -H "@$T/auth-admin"
assert_eq "$STATUS" 200 "admin, plaintext export"
assert_eq "$(jfield '["encrypted"]')" False "plaintext flag"
jfield '["document"]' >"$T/api-plain.json"
check_doc lwm2m-json "$T/api-plain.json" "$D" 2
rm -f "$T/api-plain.json" "$T/b.json"

audit_before="$(db_query "$D" "select count(*) from audit_log")"
export_body lwm2m-json 1 true
http POST /api/v1/devices/export "$T/req.json" -H "@$T/auth-admin"
assert_eq "$STATUS" 400 "both a recipient key and plaintext"
export_body spreadsheet 1 false
http POST /api/v1/devices/export "$T/req.json" -H "@$T/auth-admin"
assert_eq "$STATUS" 400 "unknown format"
printf '{"format":"lwm2m-json","recipient_key":"-----BEGIN PGP PUBLIC KEY BLOCK-----\\n\\nnonsense\\n-----END PGP PUBLIC KEY BLOCK-----\\n"}' >"$T/req.json"
http POST /api/v1/devices/export "$T/req.json" -H "@$T/auth-admin"
assert_eq "$STATUS" 400 "a recipient key that is not a key"
assert_contains "$(cat "$T/b.json")" "not an OpenPGP public key" "error message of a bad key"
python3 -c 'import json,sys; print(json.dumps({"format":"lwm2m-json","recipient_key":open(sys.argv[1]).read()}))' \
	"$T/two.asc" >"$T/req.json"
http POST /api/v1/devices/export "$T/req.json" -H "@$T/auth-operator"
assert_eq "$STATUS" 400 "two recipient keys"
assert_eq "$(db_query "$D" "select count(*) from audit_log")" "$audit_before" \
	"audit records written by refused API exports"
stop_server
if grep -q 'Sanitizer' "$T/serve.err"; then
	sed 's/^/    /' "$T/serve.err" >&2
	fail "the server reported a sanitizer error"
fi

audit_has_no_keys
expect_exit 0 iv audit verify --data "$D"
pass
