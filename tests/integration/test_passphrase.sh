# The passphrase master-key provider: init, seal and reveal with the right
# passphrase, exit 6 with a wrong or missing one, rotation, a custom
# --passphrase-env, and the passphrase never written anywhere.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

D="$T/data"
PASS="pp-$(rand_hex 12)"
WRONG="pp-$(rand_hex 12)"
KDF=(--kdf-memlimit-mib 8 --kdf-opslimit 1)

IOTVAULT_PASSPHRASE="$PASS" expect_exit 0 iv init --data "$D" --master-key-provider passphrase "${KDF[@]}"
if compgen -G "$D/keys/master-v*.key" >/dev/null; then
	fail "the passphrase provider wrote a master key file"
fi
assert_eq "$(db_query "$D" "select provider from master_keys where version=1")" passphrase "provider of v1"

K1="$(rand_hex 16)"
P1="$(rand_hex 16)"
IOTVAULT_PASSPHRASE="$PASS" K1="$K1" expect_exit 0 iv device add --data "$D" --tenant default \
	--type lorawan --dev-eui 70B3D57ED6000001 --join-eui 70B3D57ED0000000 --app-key env:K1
id1="$(added_id)"
IOTVAULT_PASSPHRASE="$PASS" P1="$P1" expect_exit 0 iv device add --data "$D" --tenant default \
	--type lwm2m --endpoint urn:dev:pp --psk env:P1
id2="$(added_id)"

export IOTVAULT_PASSPHRASE="$PASS"
reveal_check "$D" default --id "$id1" -- app_key "$K1"
reveal_check "$D" default --id "$id2" -- psk "$P1"
expect_exit 0 iv master status --data "$D"
assert_contains "$OUT" "passphrase" "master status"
unset IOTVAULT_PASSPHRASE

# --- wrong or missing passphrase: exit 6, nothing revealed or changed --------
nd="$(device_count "$D")"
na="$(db_query "$D" "select count(*) from audit_log where action='key.reveal'")"
IOTVAULT_PASSPHRASE="$WRONG" expect_exit 6 iv device show --data "$D" --tenant default --id "$id1" --reveal
[[ -z "$OUT" ]] || fail "reveal with a wrong passphrase printed something on stdout"
IOTVAULT_PASSPHRASE="$WRONG" K2="$(rand_hex 16)" expect_exit 6 iv device add --data "$D" --tenant default \
	--type lorawan --dev-eui 70B3D57ED6000002 --join-eui 70B3D57ED0000000 --app-key env:K2
IOTVAULT_PASSPHRASE="$WRONG" expect_exit 6 iv master rotate --data "$D"
IOTVAULT_PASSPHRASE="" expect_exit 6 iv device show --data "$D" --tenant default --id "$id1" --reveal
[[ -z "$OUT" ]] || fail "reveal with an empty passphrase printed something on stdout"
expect_exit 6 iv device show --data "$D" --tenant default --id "$id1" --reveal </dev/null
[[ -z "$OUT" ]] || fail "reveal without a passphrase printed something on stdout"
K2="$(rand_hex 16)" expect_exit 6 iv device add --data "$D" --tenant default \
	--type lorawan --dev-eui 70B3D57ED6000002 --join-eui 70B3D57ED0000000 --app-key env:K2 </dev/null
assert_eq "$(device_count "$D")" "$nd" "device count after refused commands"
assert_eq "$(db_query "$D" "select count(*) from audit_log where action='key.reveal'")" "$na" \
	"key.reveal records after refused reveals"
assert_eq "$(db_query "$D" "select count(*) from master_keys")" 1 "master key versions after refused rotate"

# --- rotation -----------------------------------------------------------------
export IOTVAULT_PASSPHRASE="$PASS"
expect_exit 0 iv master rotate --data "$D"
assert_eq "$(mk_current "$D")" 2 "current version after rotation"
assert_eq "$(secrets_below "$D" 2)" 0 "secrets under v1 after rotation"
reveal_check "$D" default --id "$id1" -- app_key "$K1"
reveal_check "$D" default --id "$id2" -- psk "$P1"
expect_exit 0 iv master retire --data "$D" --below 2
reveal_check "$D" default --id "$id1" -- app_key "$K1"
expect_exit 0 iv audit verify --data "$D"
unset IOTVAULT_PASSPHRASE
IOTVAULT_PASSPHRASE="$WRONG" expect_exit 6 iv device show --data "$D" --tenant default --id "$id1" --reveal

# --- --passphrase-env names another variable ----------------------------------
D2="$T/data2"
MY_VAULT_PASS="$PASS" expect_exit 0 iv init --data "$D2" --master-key-provider passphrase \
	--passphrase-env MY_VAULT_PASS "${KDF[@]}"
assert_contains "$(cat "$D2/iotvault.conf")" "MY_VAULT_PASS" "iotvault.conf of --passphrase-env"
MY_VAULT_PASS="$PASS" K3="$K1" expect_exit 0 iv device add --data "$D2" --tenant default \
	--type lorawan --dev-eui 70B3D57ED6000003 --join-eui 70B3D57ED0000000 --app-key env:K3
id3="$(added_id)"
export MY_VAULT_PASS="$PASS"
reveal_check "$D2" default --id "$id3" -- app_key "$K1"
unset MY_VAULT_PASS
# the default variable is not consulted when another is configured
IOTVAULT_PASSPHRASE="$PASS" expect_exit 6 iv device show --data "$D2" --tenant default --id "$id3" --reveal
# init without any passphrase creates nothing
expect_exit 6 iv init --data "$T/data3" --master-key-provider passphrase "${KDF[@]}"
[[ ! -e "$T/data3" ]] || fail "init without a passphrase left a data directory behind"

# --- the passphrase is nowhere ----------------------------------------------
targets=("$TRANSCRIPT")
while IFS= read -r -d '' f; do targets+=("$f"); done < <(find "$D" "$D2" -type f -print0)
for f in "${targets[@]}"; do
	if grep -q -a -F -- "$PASS" "$f"; then
		fail "the passphrase appears in $f"
	fi
	if grep -q -a -F -- "$WRONG" "$f"; then
		fail "the wrong passphrase appears in $f"
	fi
done
pass
