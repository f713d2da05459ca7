#!/usr/bin/env bash
# `iotvault device import` and POST /api/v1/devices/import: CSV (BOM, CRLF,
# quoting, aliases, inferred types) and JSON; every kind of bad input is
# refused with its row and column and changes nothing (counted with sqlite3);
# a bad last row imports nothing; weak and duplicated keys (in the file and in
# the database) under each policy; dry runs change nothing; one audit record
# per import without key material; the upload route's own body limit.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for tool in curl python3 sqlite3; do
	command -v "$tool" >/dev/null || fail "$tool is required"
done

D="$T/data"
init_data "$D"
JOIN=70B3D57ED0000000
WEAK=2B7E151628AED2A6ABF7158809CF4F3C # the FIPS-197 example key: a published key, not a secret
KEYS="$T/keys.txt"                   # sel value field hex ..., never printed
: >"$KEYS"

imports() { db_query "$D" "select count(*) from audit_log where action='device.import' ${1:-}"; }
state() { printf '%s/%s/%s' "$(device_count "$D")" "$(secret_count "$D")" "$(imports)"; }

# refused FILE WANT_EXIT NEEDLE... : the import fails with WANT_EXIT, stderr
# names every NEEDLE, and devices and secrets are unchanged.
refused() {
	local file="$1" want="$2" before
	shift 2
	before="$(device_count "$D")/$(secret_count "$D")"
	expect_exit "$want" iv device import --data "$D" --tenant default --file "$file" "${IMPORT_ARGS[@]}"
	local n
	for n in "$@"; do
		assert_contains "$ERR" "$n" "import error for $(basename "$file")"
	done
	assert_eq "$(device_count "$D")/$(secret_count "$D")" "$before" \
		"devices/secrets after the refused $(basename "$file")"
}
IMPORT_ARGS=()

# ---- a good CSV: BOM, CRLF, quotes, aliases, inferred types, no key -> generated ----
python3 - "$T/good.csv" "$KEYS" <<'EOF'
import os, sys
def k(n=16): return os.urandom(n).hex().upper()
rows, keys = [], []
a1, a2, n2, p1 = k(), k(), k(), k(32)
rows.append(["70b3d5000000a001", "70B3D57ED0000000", a1.lower(), "", "1.0.3", 'sensor, "north"', "a,b", "", "", ""])
rows.append(["70-B3-D5-00-00-00-A0-02", "70B3D57ED0000000", a2, "0x" + n2, "1.1", "semi;colon \"q\"", "", "", "", ""])
rows.append(["70B3D5000000A003", "70B3D57ED0000000", "", "", "", "generated", "", "", "", ""])
rows.append(["", "", "", "", "", "lwm2m one", "", "urn:imp:ep1", "imp-id-1", p1])
keys += ["dev-eui 70B3D5000000A001 app_key " + a1, "dev-eui 70B3D5000000A002 app_key %s nwk_key %s" % (a2, n2),
         "endpoint urn:imp:ep1 psk " + p1]
def q(f):
    return '"' + f.replace('"', '""') + '"' if any(c in f for c in ',"\r\n') else f
with open(sys.argv[1], "wb") as out:
    out.write(b"\xef\xbb\xbf")
    out.write(b"DevEUI,AppEUI,App_Key,NwkKey,MAC Version,Name,tags,Endpoint,PSK-Identity,psk\r\n")
    for r in rows:
        out.write((",".join(q(f) for f in r) + "\r\n").encode())
open(sys.argv[2], "a").write("\n".join(keys) + "\n")
EOF
expect_exit 0 iv device import --data "$D" --tenant default --file "$T/good.csv"
assert_contains "$OUT" "imported: 4 rows, 4 created" "import summary"
assert_contains "$OUT" "1 with generated keys" "import summary"
while read -r -u 3 kind sel f1 v1 f2 v2; do
	if [[ -n "${f2:-}" ]]; then
		reveal_check "$D" default "--$kind" "$sel" -- "$f1" "$v1" "$f2" "$v2"
	else
		reveal_check "$D" default "--$kind" "$sel" -- "$f1" "$v1"
	fi
	f2="" v2=""
done 3<"$KEYS"
assert_eq "$(db_query "$D" "select name || '|' || tags || '|' || mac_version from devices where dev_eui='70B3D5000000A001'")" \
	'sensor, "north"|a,b|1.0.3' "quoted name with comma and doubled quote"
assert_eq "$(db_query "$D" "select name from devices where dev_eui='70B3D5000000A002'")" \
	'semi;colon "q"' "a quoted field with quotes"
assert_eq "$(db_query "$D" "select kind || '|' || psk_identity from devices where endpoint='urn:imp:ep1'")" \
	"lwm2m|imp-id-1" "inferred LwM2M row"
assert_eq "$(db_query "$D" "select count(*) from secrets s join devices d on d.id=s.owner_id where d.dev_eui='70B3D5000000A003'")" \
	1 "generated key of the row without one"
assert_eq "$(imports "and outcome='success'")" 1 "one device.import record"
assert_eq "$(db_query "$D" "select count(*) from audit_log where action='device.create'")" 0 \
	"no per-device create records for an import"
assert_contains "$(db_query "$D" "select detail from audit_log where action='device.import'")" \
	"rows=4 created=4 flagged=0 regenerated=0 rejected=0 generated=1" "import record counts"

# ---- every kind of bad input: exit 2, row and column named, nothing changed ----
hdr="DevEUI,JoinEUI,AppKey,name"
good_row() { printf '70B3D50000B%05X,%s,%s,row\n' "$1" "$JOIN" "$(rand_hex 16)"; }
bad_case() { # NAME LINE... : a file of the header, one good row, then the lines
	local f="$T/$1.csv"
	shift
	{ printf '%s\n' "$hdr"; good_row 1; printf '%s\n' "$@"; } >"$f"
	printf '%s' "$f"
}
refused "$(bad_case bad_eui "70B3D5ZZ00000001,$JOIN,$(rand_hex 16),x")" 2 "row 3, column DevEUI"
refused "$(bad_case short_eui "70B3D5000001,$JOIN,$(rand_hex 16),x")" 2 "row 3, column DevEUI"
refused "$(bad_case bad_join "70B3D50000C00001,nothex,$(rand_hex 16),x")" 2 "row 3, column JoinEUI"
refused "$(bad_case bad_hex "70B3D50000C00002,$JOIN,$(rand_hex 15)zz,x")" 2 "row 3, column AppKey: not hexadecimal"
refused "$(bad_case short_key "70B3D50000C00003,$JOIN,$(rand_hex 15),x")" 2 \
	"row 3, column AppKey: wrong length: 30 hex digits, expected 32"
refused "$(bad_case long_key "70B3D50000C00004,$JOIN,$(rand_hex 17),x")" 2 "row 3, column AppKey: wrong length"
refused "$(bad_case dup_file "70B3D50000B00001,$JOIN,$(rand_hex 16),again")" 2 \
	"row 3, column DevEUI: DevEUI 70B3D50000B00001 already in row 2"
refused "$(bad_case dup_db "70B3D5000000A001,$JOIN,$(rand_hex 16),x")" 2 \
	"row 3, column DevEUI: a device with DevEUI 70B3D5000000A001 already exists"
refused "$(bad_case fields "70B3D50000C00005,$JOIN,$(rand_hex 16)")" 2 "row 3: 3 fields, but the header has 4"
refused "$(bad_case unterminated "70B3D50000C00006,$JOIN,$(rand_hex 16),\"open")" 2 \
	"row 3, column name: quoted field not closed"
refused "$(bad_case stray_quote "70B3D50000C00007,$JOIN,$(rand_hex 16),ab\"c")" 2 \
	"row 3, column name: quote inside an unquoted field"
refused "$(bad_case after_quote "70B3D50000C00008,$JOIN,$(rand_hex 16),\"ab\"c")" 2 \
	"row 3, column name: text after a closing quote"
printf 'DevEUI,JoinEUI,MACVersion\n70B3D50000C00009,%s,1.2\n' "$JOIN" >"$T/bad_mac.csv"
refused "$T/bad_mac.csv" 2 "row 2, column MACVersion: one of 1.0.0"
printf 'DevEUI,AppKey\n70B3D50000C0000A,%s\n' "$(rand_hex 16)" >"$T/no_join.csv"
refused "$T/no_join.csv" 2 "missing required column: JoinEUI"
printf 'name,AppKey\nx,%s\n' "$(rand_hex 16)" >"$T/no_id.csv"
refused "$T/no_id.csv" 2 "missing required column: DevEUI (LoRaWAN) or endpoint (LwM2M)"
printf 'DevEUI,JoinEUI,AppKey,Colour,serial no\n70B3D50000C0000B,%s,%s,red,1\n' "$JOIN" "$(rand_hex 16)" >"$T/unknown.csv"
refused "$T/unknown.csv" 2 "unknown column(s): Colour, serial no"
printf 'DevEUI,dev_eui,JoinEUI\n' >"$T/twice.csv"
refused "$T/twice.csv" 2 "column given twice (as DevEUI and dev_eui)"
: >"$T/empty.csv"
refused "$T/empty.csv" 2 "the file is empty"
printf '%s\n' "$hdr" >"$T/header_only.csv"
refused "$T/header_only.csv" 2 "no device rows"
printf 'DevEUI,JoinEUI,MACVersion,AppKey,NwkKey\n70B3D50000C0000C,%s,1.0.3,%s,%s\n' "$JOIN" "$(rand_hex 16)" "$(rand_hex 16)" >"$T/nwk10.csv"
refused "$T/nwk10.csv" 2 "row 2, column NwkKey: only LoRaWAN 1.1 devices have a NwkKey"
printf 'type,DevEUI,JoinEUI,endpoint\nlwm2m,70B3D50000C0000D,%s,\n' "$JOIN" >"$T/kind.csv"
refused "$T/kind.csv" 2 "row 2, column DevEUI: only for lorawan devices"
# several errors are all reported, with their rows
{ printf '%s\n' "$hdr"; good_row 2; printf '70B3D5ZZ,%s,,x\n' "$JOIN"; good_row 3; printf '70B3D50000C0000E,%s,abc,x\n' "$JOIN"; } >"$T/several.csv"
refused "$T/several.csv" 2 "row 3, column DevEUI" "row 5, column AppKey" "(2 error(s))"

# ---- atomicity: 999 good rows and a bad last one import nothing ----
{
	printf '%s\n' "$hdr"
	for ((i = 1; i <= 999; i++)); do good_row $((0x10000 + i)); done
	printf '70B3D50000FFFFFF,%s,%s,last\n' "$JOIN" "$(rand_hex 8)"
} >"$T/atomic.csv"
before_state="$(state)"
refused "$T/atomic.csv" 2 "row 1001, column AppKey: wrong length"
assert_eq "$(imports "and outcome='failure' and detail like '%rows=1000 created=0%invalid=1'")" 1 \
	"the refused import's record"
# the same file without its last row imports all 999 rows in one go
head -n 1000 "$T/atomic.csv" >"$T/atomic_ok.csv"
expect_exit 0 iv device import --data "$D" --tenant default --file "$T/atomic_ok.csv"
assert_contains "$OUT" "imported: 999 rows, 999 created" "999-row import"

# ---- dry run: reports, changes nothing, records nothing ----
{ printf '%s\n' "$hdr"; good_row 0x20001; good_row 0x20002; } >"$T/dry.csv"
before_state="$(state)"
expect_exit 0 iv device import --data "$D" --tenant default --file "$T/dry.csv" --dry-run --json
assert_json "$OUT" "dry-run --json"
assert_eq "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["valid"], d["created"], d["committed"], d["dry_run"])' <<<"$OUT")" \
	"2 0 False True" "dry-run counts"
assert_eq "$(state)" "$before_state" "devices/secrets/import records after a dry run"
IMPORT_ARGS=(--dry-run)
refused "$T/bad_eui.csv" 2 "row 3, column DevEUI"
IMPORT_ARGS=()
assert_eq "$(state)" "$before_state" "after a refused dry run"

# ---- weak keys and duplicates under each policy ----
weak_file() { # NAME: row 2 a published key, rows 3 and 4 share one random key
	local shared
	shared="$(rand_hex 16)"
	{
		printf '%s\n' "$hdr"
		printf '70B3D50000D%05X,%s,%s,weak\n' "$2" "$JOIN" "$WEAK"
		printf '70B3D50000D%05X,%s,%s,first\n' $(($2 + 1)) "$JOIN" "$shared"
		printf '70B3D50000D%05X,%s,%s,second\n' $(($2 + 2)) "$JOIN" "$shared"
	} >"$T/$1.csv"
}
weak_file weak_reject 0x100
before_state="$(state)"
refused "$T/weak_reject.csv" 4 "row 2, column AppKey: weak key: dictionary." \
	"row 4, column AppKey: same key as row 3"
weak_file weak_flag 0x200
expect_exit 0 iv device import --data "$D" --tenant default --file "$T/weak_flag.csv" --policy flag --json
assert_eq "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["created"], d["flagged"], len(d["notices"]))' <<<"$OUT")" \
	"3 2 2" "flag: created, flagged, notices"
assert_eq "$(db_query "$D" "select count(distinct f.device_id) from device_findings f join devices d on d.id=f.device_id where d.dev_eui in ('70B3D50000D00200','70B3D50000D00202')")" \
	2 "findings recorded on the flagged devices"
assert_eq "$(db_query "$D" "select count(*) from device_findings f join devices d on d.id=f.device_id where d.dev_eui='70B3D50000D00201'")" \
	0 "no finding on the first of two equal keys"
weak_file weak_regen 0x300
expect_exit 0 iv device import --data "$D" --tenant default --file "$T/weak_regen.csv" --policy regenerate
assert_contains "$OUT" "2 regenerated" "regenerate summary"
assert_eq "$(db_query "$D" "select group_concat(needs_provisioning, '') from (select needs_provisioning from devices where dev_eui like '70B3D50000D003%' order by dev_eui)")" \
	"101" "needs_provisioning of the regenerated devices"
expect_exit 0 iv device show --data "$D" --tenant default --dev-eui 70B3D50000D00300 --reveal
got="$(field_value "$T/last.out" app_key)"
: >"$T/last.out"
[[ ${#got} -eq 32 && "$got" != "$WEAK" ]] || fail "the weak key was not replaced"
# a key already stored (in the database, not the file) is a duplicate too
a1="$(awk '$2=="70B3D5000000A001" {print $4}' "$KEYS")"
printf '%s\n70B3D50000D00400,%s,%s,dbdup\n' "$hdr" "$JOIN" "$a1" >"$T/dup_db_key.csv"
refused "$T/dup_db_key.csv" 4 "row 2, column AppKey: used by 1 other device(s) of this tenant"

# ---- JSON: an array or {"devices": [...]}, tags as an array; errors by position ----
k1="$(rand_hex 16)"
printf '[{"dev_eui":"70B3D50000E00001","join_eui":"%s","app_key":"%s","tags":["x","y"]},{"endpoint":"urn:imp:json","psk":"%s"}]' \
	"$JOIN" "$k1" "$(rand_hex 16)" >"$T/a.json"
expect_exit 0 iv device import --data "$D" --tenant default --file - --format json <"$T/a.json"
assert_contains "$OUT" "imported: 2 rows, 2 created" "JSON import from standard input"
reveal_check "$D" default --dev-eui 70B3D50000E00001 -- app_key "$k1"
assert_eq "$(db_query "$D" "select tags from devices where dev_eui='70B3D50000E00001'")" "x,y" "JSON tags"
printf '{"devices":[{"DevEUI":"70B3D50000E00002","AppEUI":"%s","AppKey":"%s"},{"dev_eui":"70B3D50000E00003","join_eui":"%s","colour":"red"}]}' \
	"$JOIN" "$(rand_hex 16)" "$JOIN" >"$T/b.json"
IMPORT_ARGS=(--format json)
refused "$T/b.json" 2 "row 2, column colour: unknown field"
printf '[{"dev_eui":"70B3D50000E00004","join_eui":"%s",' "$JOIN" >"$T/broken.json"
refused "$T/broken.json" 2 "not valid JSON"
IMPORT_ARGS=()

# ---- nothing secret in outputs or the audit log ----
assert_not_contains "$(cat "$TRANSCRIPT")" "$k1" "command transcript"
db_query "$D" "select actor || object || outcome || detail from audit_log" >"$T/audit.txt"
while read -r -u 3 _ _ _ v1 _ v2; do
	grep -qi -- "$v1" "$T/audit.txt" && fail "a key in the audit log"
	[[ -z "${v2:-}" ]] || ! grep -qi -- "$v2" "$T/audit.txt" || fail "a key in the audit log"
	v2=""
done 3<"$KEYS"
rm -f "$T/audit.txt"

# ---- the API: multipart and raw bodies, dry run, field errors, body limits ----
# small general body limit, larger import limit: the upload route has its own
sed -i 's/^max_body_bytes = .*/max_body_bytes = 4096/; s/^max_import_bytes = .*/max_import_bytes = 262144/' "$D/iotvault.conf"
grep -q '^max_import_bytes = 262144' "$D/iotvault.conf" || fail "max_import_bytes not in the rendered configuration"
SERVER_PID=""
import_cleanup() {
	[[ -z "$SERVER_PID" ]] || { kill -TERM "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true; }
	cleanup
}
trap import_cleanup EXIT
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$IOTVAULT_BIN" serve --data "$D" --listen "127.0.0.1:$PORT" >"$T/serve.out" 2>"$T/serve.err" &
SERVER_PID=$!
for ((i = 0; i < 150; i++)); do
	grep -q "serving https://127.0.0.1:$PORT" "$T/serve.out" 2>/dev/null && break
	kill -0 "$SERVER_PID" 2>/dev/null || fail "iotvault serve exited: $(cat "$T/serve.err")"
	sleep 0.1
done
URL="https://127.0.0.1:$PORT"
req() { # METHOD PATH [curl args]: $STATUS, body in $T/b.json
	local method="$1" path="$2"
	shift 2
	STATUS="$(curl -sk --max-time 60 -X "$method" -o "$T/b.json" -w '%{http_code}' "$@" "$URL$path")" || STATUS=000
}
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval("d" + sys.argv[2]))' "$T/b.json" "$1"; }
python3 -c 'import json,sys; print(json.dumps({"tenant":"default","username":"admin","password":open(sys.argv[1]).readline().strip()}))' \
	"$D/initial-admin-password" >"$T/login.json"
req POST /api/v1/session -H 'Content-Type: application/json' --data-binary "@$T/login.json" -c "$T/jar"
assert_eq "$STATUS" 200 "admin login"
rm -f "$T/login.json"
for role in operator viewer; do
	req POST /api/v1/apikeys -H 'Content-Type: application/json' -b "$T/jar" -H "Origin: $URL" \
		--data-binary "{\"name\":\"imp-$role\",\"role\":\"$role\"}"
	[[ "$STATUS" == 2* ]] || fail "creating the $role API key: HTTP $STATUS"
	printf 'Authorization: Bearer %s\n' "$(jget '["key"]')" >"$T/auth-$role"
done
: >"$T/b.json"

{ printf '%s\n' "$hdr"; for ((i = 1; i <= 300; i++)); do good_row $((0x30000 + i)); done; } >"$T/api.csv"
[[ $(stat -c %s "$T/api.csv") -gt 4096 ]] || fail "api.csv is not above the general body limit"
before_state="$(state)"
req POST '/api/v1/devices/import?dry_run=true' -H "@$T/auth-operator" -H 'Content-Type: text/csv' --data-binary "@$T/api.csv"
assert_eq "$STATUS" 200 "raw CSV dry run (above max_body_bytes, below max_import_bytes)"
assert_eq "$(jget '["import"]["valid"]')/$(jget '["import"]["committed"]')" "300/False" "API dry run"
assert_eq "$(state)" "$before_state" "after the API dry run"
req POST /api/v1/devices/import -H "@$T/auth-viewer" -F "file=@$T/api.csv;type=text/csv"
assert_eq "$STATUS" 403 "a viewer may not import"
req POST /api/v1/devices/import -H "@$T/auth-operator" -F "file=@$T/api.csv;type=text/csv" -F policy=flag
assert_eq "$STATUS" 201 "multipart import"
assert_eq "$(jget '["import"]["created"]')/$(jget '["import"]["policy"]')" "300/flag" "multipart import result"
assert_eq "$(device_count "$D")" "$(($(cut -d/ -f1 <<<"$before_state") + 300))" "devices after the API import"
assert_eq "$(imports "and actor_type='apikey' and outcome='success'")" 1 "the API import's record"
# a refused upload: 400 with rows and fields, nothing changed
before_state="$(state)"
req POST /api/v1/devices/import -H "@$T/auth-operator" -F "file=@$T/several.csv"
assert_eq "$STATUS" 400 "refused multipart import"
assert_eq "$(jget '["error"]["code"]')" invalid_argument "error code"
assert_eq "$(jget '["error"]["fields"][0]["row"]'):$(jget '["error"]["fields"][0]["field"]')" "3:DevEUI" "first field error"
assert_eq "$(jget '["error"]["fields"][1]["row"]'):$(jget '["error"]["fields"][1]["field"]')" "5:AppKey" "second field error"
assert_eq "$(device_count "$D")/$(secret_count "$D")" "${before_state%/*}" "after the refused upload"
req POST /api/v1/devices/import -H "@$T/auth-operator" -F "file=@$T/weak_reject.csv"
assert_eq "$STATUS" 422 "weak keys under the default policy"
# JSON body; a bad option; an unsupported type; the general limit elsewhere; the import limit
req POST /api/v1/devices/import -H "@$T/auth-operator" -H 'Content-Type: application/json' \
	--data-binary "[{\"dev_eui\":\"70B3D50000F00001\",\"join_eui\":\"$JOIN\"}]"
assert_eq "$STATUS" 201 "JSON body"
assert_eq "$(jget '["import"]["generated"]')" 1 "JSON row with a generated key"
req POST '/api/v1/devices/import?policy=lenient' -H "@$T/auth-operator" -H 'Content-Type: text/csv' --data-binary "@$T/dry.csv"
assert_eq "$STATUS" 400 "unknown policy"
req POST /api/v1/devices/import -H "@$T/auth-operator" -H 'Content-Type: text/plain' --data-binary "@$T/dry.csv"
assert_eq "$STATUS" 415 "text/plain body"
req POST /api/v1/devices/import -H "@$T/auth-operator" -F "upload=@$T/dry.csv"
assert_eq "$STATUS" 400 "multipart without a file part"
req POST /api/v1/devices -H "@$T/auth-operator" -H 'Content-Type: application/json' --data-binary "@$T/api.csv"
assert_eq "$STATUS" 413 "other routes keep max_body_bytes"
{ cat "$T/api.csv"; for ((i = 1; i <= 5000; i++)); do good_row $((0x40000 + i)); done; } >"$T/huge.csv"
req POST /api/v1/devices/import -H "@$T/auth-operator" -H 'Content-Type: text/csv' --data-binary "@$T/huge.csv"
assert_eq "$STATUS" 413 "an upload above max_import_bytes"
req GET /api/v1/health
assert_eq "$STATUS" 200 "the server still answers"
pass
