# File permissions as a security precondition: a master key file, the key
# directory or the data directory accessible to group or others makes every
# command refuse with exit 6 and a message naming the offending path; nothing
# is changed; restoring the modes makes everything work again.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

D="$T/data"
init_data "$D"
K1="$(rand_hex 16)"
K1="$K1" expect_exit 0 iv device add --data "$D" --tenant default --type lorawan \
	--dev-eui 70B3D57ED5000001 --join-eui 70B3D57ED0000000 --app-key env:K1
id="$(added_id)"
expect_exit 0 iv device list --data "$D" --tenant default

# The key files: names, modes, sizes, times and contents. Not "ls -a": the
# ".." entry carries the data directory's time, which SQLite's short-lived
# -wal/-shm files touch even when nothing is written (a flaky comparison at
# minute boundaries).
key_dir_state() {
	(cd "$D/keys" && ls -l --time-style=full-iso && sha256sum -- *)
}

# every command we try while permissions are wrong; each must exit 6
refused_everywhere() { # WHAT NEEDLE
	local what="$1" needle="$2"
	local nd ns na fp_keys
	nd="$(device_count "$D")"
	ns="$(secret_count "$D")"
	na="$(db_query "$D" "select count(*) from audit_log")"
	fp_keys="$(key_dir_state)"

	expect_exit 6 iv device list --data "$D" --tenant default
	assert_contains "$OUT$ERR" "$needle" "error message for $what"
	expect_exit 6 iv device show --data "$D" --tenant default --id "$id" --reveal
	[[ -z "$OUT" ]] || fail "$what: refused reveal printed something on stdout"
	K2="$(rand_hex 16)" expect_exit 6 iv device add --data "$D" --tenant default --type lorawan \
		--dev-eui 70B3D57ED5000002 --join-eui 70B3D57ED0000000 --app-key env:K2
	expect_exit 6 iv master rotate --data "$D"
	expect_exit 6 iv master status --data "$D"
	expect_exit 6 iv audit verify --data "$D"

	assert_eq "$(device_count "$D")" "$nd" "$what: device count"
	assert_eq "$(secret_count "$D")" "$ns" "$what: secret count"
	assert_eq "$(db_query "$D" "select count(*) from audit_log")" "$na" "$what: audit records"
	assert_eq "$(key_dir_state)" "$fp_keys" "$what: key directory"
}

works_again() {
	expect_exit 0 iv device list --data "$D" --tenant default
	reveal_check "$D" default --id "$id" -- app_key "$K1"
}

for mode in 0644 0640 0604 0660 0606; do
	chmod "$mode" "$D/keys/master-v1.key"
	refused_everywhere "key file mode $mode" "master-v1.key"
	chmod 0600 "$D/keys/master-v1.key"
done
works_again

for mode in 0755 0750 0705 0770 0707; do
	chmod "$mode" "$D"
	refused_everywhere "data directory mode $mode" "$D"
	chmod 0700 "$D"
done
works_again

for mode in 0755 0750 0705; do
	chmod "$mode" "$D/keys"
	refused_everywhere "key directory mode $mode" "keys"
	chmod 0700 "$D/keys"
done
works_again

# after a rotation the new key file is checked too
expect_exit 0 iv master rotate --data "$D"
assert_file_mode "$D/keys/master-v2.key" 600
chmod 0644 "$D/keys/master-v2.key"
refused_everywhere "key file v2 mode 0644" "master-v2.key"
chmod 0600 "$D/keys/master-v2.key"
works_again

# a missing master key file is "master key unavailable"
mv "$D/keys/master-v2.key" "$T/stash.key"
expect_exit 6 iv device show --data "$D" --tenant default --id "$id" --reveal
[[ -z "$OUT" ]] || fail "reveal without a master key printed something on stdout"
mv "$T/stash.key" "$D/keys/master-v2.key"
# a master key file with the wrong content is refused, not used
cp "$D/keys/master-v2.key" "$T/stash.key"
head -c 32 /dev/urandom >"$D/keys/master-v2.key"
expect_exit 6 iv device show --data "$D" --tenant default --id "$id" --reveal
[[ -z "$OUT" ]] || fail "reveal with a wrong master key printed something on stdout"
cp "$T/stash.key" "$D/keys/master-v2.key"
# a truncated key file too
head -c 16 "$T/stash.key" >"$D/keys/master-v2.key"
expect_exit 6 iv device show --data "$D" --tenant default --id "$id" --reveal
cp "$T/stash.key" "$D/keys/master-v2.key"
rm -f "$T/stash.key"
works_again

expect_exit 0 iv audit verify --data "$D"
pass
