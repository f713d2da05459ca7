# The PKCS#11 master-key provider against a SoftHSM2 token in a temporary
# directory: init, seal, reveal, rotate, retire; the master keys are
# non-extractable, sensitive token objects labelled iotvault-master-vN, and a
# retired version's object is destroyed; a wrong or missing PIN is exit 6.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODULE=/usr/lib/softhsm/libsofthsm2.so
if [[ ! -r "$MODULE" ]] || ! command -v softhsm2-util >/dev/null; then
	# make check installs softhsm2 (scripts/install-deps.sh): missing is a failure
	fail "SoftHSM2 is not installed (run scripts/install-deps.sh)"
fi

export SOFTHSM2_CONF="$T/softhsm2.conf"
mkdir -p "$T/tokens"
cat >"$SOFTHSM2_CONF" <<EOF
directories.tokendir = $T/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
PIN="$(rand_hex 8)"
WRONG_PIN="$(rand_hex 8)"
softhsm2-util --init-token --free --label iotvault --so-pin 12345678 --pin "$PIN" >/dev/null 2>&1 ||
	fail "softhsm2-util could not create a token"

# label -> p11tool flags, one "label<TAB>flags" line per object on the token
token_objects() {
	if command -v p11tool >/dev/null; then
		GNUTLS_PIN="$PIN" p11tool --provider "$MODULE" --login --list-all "pkcs11:token=iotvault" 2>/dev/null |
			awk -F': ' '
				/^[ \t]*Label:/ { label = $2 }
				/^[ \t]*Flags:/ { print label "\t" $2; label = "" }'
	elif command -v pkcs11-tool >/dev/null; then
		# opensc 0.23 takes the PIN only on the command line; the token is
		# a throwaway and the PIN is never printed
		pkcs11-tool --module "$MODULE" --token-label iotvault --login --pin "$PIN" --list-objects 2>/dev/null |
			awk -F': *' '
				/^[ \t]*label:/ { label = $2 }
				/^[ \t]*Access:/ { print label "\t" $2; label = "" }'
	else
		return 2
	fi
}
HAVE_LISTER=1
if ! command -v p11tool >/dev/null && ! command -v pkcs11-tool >/dev/null; then
	HAVE_LISTER=0
	note "neither p11tool nor pkcs11-tool available; token objects not inspected"
fi

# expect_object LABEL present|absent
expect_object() {
	[[ $HAVE_LISTER -eq 1 ]] || return 0
	local objs line flags
	objs="$(token_objects)"
	line="$(awk -F'\t' -v l="$1" '$1 == l' <<<"$objs")"
	if [[ "$2" == absent ]]; then
		[[ -z "$line" ]] || fail "token object $1 still exists"
		return 0
	fi
	[[ -n "$line" ]] || fail "token object $1 not found"
	[[ "$(wc -l <<<"$line")" -eq 1 ]] || fail "token holds more than one object labelled $1"
	flags="${line#*$'\t'}"
	local item
	while IFS= read -r item; do
		item="${item#"${item%%[![:space:]]*}"}"
		item="${item%"${item##*[![:space:]]}"}"
		if [[ "$item" == CKA_EXTRACTABLE || "$item" == extractable ]]; then
			fail "token object $1 is extractable ($flags)"
		fi
	done < <(sed 's/[;,]/\n/g' <<<"$flags")
	[[ "$flags" == *NEVER_EXTRACTABLE* || "$flags" == *"never extractable"* ]] ||
		fail "token object $1 is not marked never-extractable ($flags)"
	[[ "$flags" == *SENSITIVE* || "$flags" == *sensitive* ]] ||
		fail "token object $1 is not sensitive ($flags)"
}

D="$T/data"
P11=(--master-key-provider pkcs11 --pkcs11-module "$MODULE" --pkcs11-token-label iotvault)

IOTVAULT_PKCS11_PIN="$WRONG_PIN" expect_exit 6 iv init --data "$T/wrongpin" "${P11[@]}"
[[ ! -e "$T/wrongpin" ]] || fail "init with a wrong PIN left a data directory behind"

export IOTVAULT_PKCS11_PIN="$PIN"
expect_exit 0 iv init --data "$D" "${P11[@]}"
if compgen -G "$D/keys/master-v*.key" >/dev/null; then
	fail "the pkcs11 provider wrote a master key file"
fi
assert_eq "$(db_query "$D" "select provider from master_keys where version=1")" pkcs11 "provider of v1"
expect_object iotvault-master-v1 present

KEYS="$T/keys.txt"
add_devices "$D" 12 3 "$KEYS"
check_keys "$D" "$KEYS"
expect_exit 0 iv master status --data "$D"
assert_contains "$OUT" "pkcs11" "master status"

expect_exit 0 iv master rotate --data "$D" --batch-size 5
assert_eq "$(mk_current "$D")" 2 "current version after rotation"
assert_eq "$(secrets_below "$D" 2)" 0 "secrets under v1 after rotation"
expect_object iotvault-master-v1 present
expect_object iotvault-master-v2 present
check_keys "$D" "$KEYS"

expect_exit 4 iv master retire --data "$D" --below 3
expect_exit 0 iv master retire --data "$D" --below 2
expect_object iotvault-master-v1 absent
expect_object iotvault-master-v2 present
check_keys "$D" "$KEYS"
expect_exit 0 iv audit verify --data "$D"

# --- wrong, missing PIN; wrong token --------------------------------------------
id="$(awk 'NR==1{print $1}' "$KEYS")"
na="$(db_query "$D" "select count(*) from audit_log where action='key.reveal'")"
IOTVAULT_PKCS11_PIN="$WRONG_PIN" expect_exit 6 iv device show --data "$D" --tenant default --id "$id" --reveal
[[ -z "$OUT" ]] || fail "reveal with a wrong PIN printed something on stdout"
IOTVAULT_PKCS11_PIN="$WRONG_PIN" expect_exit 6 iv master rotate --data "$D"
unset IOTVAULT_PKCS11_PIN
expect_exit 6 iv device show --data "$D" --tenant default --id "$id" --reveal
[[ -z "$OUT" ]] || fail "reveal without a PIN printed something on stdout"
assert_eq "$(db_query "$D" "select count(*) from audit_log where action='key.reveal'")" "$na" \
	"key.reveal records after refused reveals"
assert_eq "$(mk_current "$D")" 2 "current version after refused rotate"
export IOTVAULT_PKCS11_PIN="$PIN"
# a token without the key objects
softhsm2-util --init-token --free --label other --so-pin 12345678 --pin "$PIN" >/dev/null 2>&1 ||
	fail "softhsm2-util could not create a second token"
sed -i 's/^\([[:space:]]*pkcs11_token_label[[:space:]]*=\).*/\1 other/' "$D/iotvault.conf"
grep -q 'pkcs11_token_label *= *other' "$D/iotvault.conf" || fail "could not point the config to another token"
expect_exit 6 iv device show --data "$D" --tenant default --id "$id" --reveal
sed -i 's/^\([[:space:]]*pkcs11_token_label[[:space:]]*=\).*/\1 iotvault/' "$D/iotvault.conf"
check_keys "$D" "$KEYS" 4

# the PIN is nowhere in the data directory or the outputs
while IFS= read -r -d '' f; do
	if grep -q -a -F -- "$PIN" "$f"; then
		fail "the PIN appears in $f"
	fi
done < <(find "$D" -type f -print0)
if grep -q -a -F -- "$PIN" "$TRANSCRIPT"; then
	fail "the PIN appears in the output of a command"
fi
pass
