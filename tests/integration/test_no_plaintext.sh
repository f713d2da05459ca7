# No key is ever at rest in plaintext: after adding devices with known keys,
# revealing some and rotating the master key, no file of the data directory
# (other than the master key files themselves) and no command output other
# than the explicit reveals contains any key as upper hex, lower hex, base64
# or raw bytes.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

D="$T/data"
init_data "$D"
JOIN_EUI=70B3D57ED0000000
KEYS="$T/keys.txt" # outside the data directory; never printed
: >"$KEYS"

ids=()
for i in $(seq 1 20); do
	eui="$(printf '70B3D57ED1%06X' "$i")"
	case $((i % 3)) in
	0)
		K1="$(rand_hex 16)"
		printf '%s\n' "$K1" >>"$KEYS"
		K1="$K1" expect_exit 0 iv device add --data "$D" --tenant default --type lorawan \
			--dev-eui "$eui" --join-eui "$JOIN_EUI" --app-key env:K1
		;;
	1)
		K1="$(rand_hex 16)"
		K2="$(rand_hex 16)"
		printf '%s\n%s\n' "$K1" "$K2" >>"$KEYS"
		K1="$K1" K2="$K2" expect_exit 0 iv device add --data "$D" --tenant default --type lorawan \
			--dev-eui "$eui" --join-eui "$JOIN_EUI" --mac-version 1.1 \
			--app-key env:K1 --nwk-key env:K2
		;;
	2)
		K1="$(rand_hex 16)"
		printf '%s\n' "$K1" >>"$KEYS"
		expect_exit 0 iv device add --data "$D" --tenant default --type lwm2m \
			--endpoint "urn:dev:np-$i" --psk - <<<"$K1"
		;;
	esac
	ids+=("$(added_id)")
done
unset K1 K2

# generated keys: learn them through a reveal (not part of the transcript)
for i in 1 2; do
	expect_exit 0 iv device add --data "$D" --tenant default --type lorawan \
		--dev-eui "$(printf '70B3D57ED2%06X' "$i")" --join-eui "$JOIN_EUI" --mac-version 1.1
	gid="$(added_id)"
	expect_exit 0 iv device show --data "$D" --tenant default --id "$gid" --reveal
	for f in app_key nwk_key; do
		v="$(field_value "$T/last.out" "$f")"
		[[ "$v" =~ ^[0-9A-F]{32}$ ]] || fail "revealed $f of a generated key is not 32 hex digits"
		printf '%s\n' "$v" >>"$KEYS"
	done
	: >"$T/last.out"
done
expect_exit 0 iv device add --data "$D" --tenant default --type lwm2m --endpoint urn:dev:np-gen --psk-len 32
gid="$(added_id)"
expect_exit 0 iv device show --data "$D" --tenant default --id "$gid" --reveal
v="$(field_value "$T/last.out" psk)"
[[ "$v" =~ ^[0-9A-F]{64}$ ]] || fail "revealed generated 32-byte psk is not 64 hex digits"
printf '%s\n' "$v" >>"$KEYS"
: >"$T/last.out"
unset v

# keys that the program must refuse must not be echoed either
LIT="$(rand_hex 16)"
printf '%s\n' "$LIT" >>"$KEYS"
expect_exit 2 iv device add --data "$D" --tenant default --type lorawan \
	--dev-eui 70B3D57ED3000001 --join-eui "$JOIN_EUI" --app-key "$LIT"
BAD="$(rand_hex 16)"
printf '%s\n' "$BAD" >>"$KEYS"
BADKEY="${BAD}00" expect_exit 2 iv device add --data "$D" --tenant default --type lorawan \
	--dev-eui 70B3D57ED3000002 --join-eui "$JOIN_EUI" --app-key env:BADKEY
BADKEY="${BAD}zz" expect_exit 2 iv device add --data "$D" --tenant default --type lorawan \
	--dev-eui 70B3D57ED3000002 --join-eui "$JOIN_EUI" --app-key env:BADKEY
unset LIT BAD

# reveal a few, show and list the rest, rotate, reveal again
for n in 0 4 8; do
	expect_exit 0 iv device show --data "$D" --tenant default --id "${ids[$n]}" --reveal
	: >"$T/last.out"
done
for id in "${ids[@]}"; do
	expect_exit 0 iv device show --data "$D" --tenant default --id "$id"
	expect_exit 0 iv device show --data "$D" --tenant default --id "$id" --json
done
expect_exit 0 iv device list --data "$D" --tenant default
expect_exit 0 iv device list --data "$D" --tenant default --json
expect_exit 0 iv master rotate --data "$D" --batch-size 7
expect_exit 0 iv master status --data "$D"
expect_exit 0 iv device show --data "$D" --tenant default --id "${ids[1]}" --reveal
: >"$T/last.out"
expect_exit 0 iv device delete --data "$D" --tenant default --id "${ids[19]}"
expect_exit 0 iv audit list --data "$D" --limit 1000
expect_exit 0 iv audit list --data "$D" --limit 1000 --json
expect_exit 0 iv audit verify --data "$D"
OUT=""
: >"$T/last.out"

nkeys="$(wc -l <"$KEYS")"
[[ "$nkeys" -eq 34 ]] || fail "expected 34 known keys, have $nkeys"

# --- search ---------------------------------------------------------------
targets=()
while IFS= read -r -d '' f; do
	case "$(basename "$f")" in
	master-v*.key) continue ;;
	esac
	targets+=("$f")
done < <(find "$D" -type f -print0)
[[ ${#targets[@]} -ge 4 ]] || fail "data directory has fewer files than expected"
targets+=("$TRANSCRIPT")

# search_keys KEYFILE FILE...: exit 1 when any key occurs in any file
search_keys() {
	python3 - "$@" <<'EOF'
import base64, sys
keys = [l.strip() for l in open(sys.argv[1]) if l.strip()]
files = sys.argv[2:]
bad = 0
for path in files:
    data = open(path, "rb").read()
    for i, k in enumerate(keys):
        raw = bytes.fromhex(k)
        forms = {
            "upper hex": k.upper().encode(),
            "lower hex": k.lower().encode(),
            "raw bytes": raw,
            "base64": base64.b64encode(raw).rstrip(b"="),
            "base64url": base64.urlsafe_b64encode(raw).rstrip(b"="),
        }
        for name, needle in forms.items():
            n = data.count(needle)
            if n:
                bad += 1
                print(f"FOUND key #{i} as {name} {n} time(s) in {path}", file=sys.stderr)
print(f"# searched {len(files)} files for {len(keys)} keys", file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
}

# the search itself finds a planted key
python3 - "$KEYS" "$T/control" <<'EOF'
import base64, sys
k = open(sys.argv[1]).readline().strip()
open(sys.argv[2], "wb").write(b"x" + k.lower().encode() + b"y" + base64.b64encode(bytes.fromhex(k)))
EOF
if search_keys "$KEYS" "$T/control" 2>/dev/null; then
	fail "the key search missed a planted key"
fi
rm -f "$T/control"

if ! search_keys "$KEYS" "${targets[@]}"; then
	fail "key material found in plaintext"
fi

# the master key file itself must not be in the log, the db or the outputs either
if ! python3 - "$D/keys" "${targets[@]}" <<'EOF'
import os, sys
mk = [open(os.path.join(sys.argv[1], f), "rb").read() for f in os.listdir(sys.argv[1])]
for path in sys.argv[2:]:
    data = open(path, "rb").read()
    for m in mk:
        for needle in (m, m.hex().encode(), m.hex().upper().encode()):
            if needle and needle in data:
                print(f"FOUND master key material in {path}", file=sys.stderr)
                sys.exit(1)
EOF
then
	fail "master key material found outside the key files"
fi

pass
