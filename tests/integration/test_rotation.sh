# Master key rotation and retirement with the file provider: rotation in
# batches while readers keep revealing keys, status, retire (and its refusals),
# and resuming an interrupted rotation.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

D="$T/data"
KEYS="$T/keys.txt"
init_data "$D"
add_devices "$D" 300 1 "$KEYS"
n_secrets="$(secret_count "$D")"
[[ "$n_secrets" -ge 330 ]] || fail "expected at least 330 secrets, have $n_secrets"
assert_eq "$(mk_current "$D")" 1 "master key version after init"

# --- rotate while a background reader reveals keys ---------------------------
BG_LOG="$T/bg.log"
BG_STOP="$T/bg.stop"
: >"$BG_LOG"
bg_reveal() {
	local id f1 v1 f2 v2 rc got
	set +e
	while [[ ! -e "$BG_STOP" ]]; do
		while read -r -u 3 id f1 v1 f2 v2; do
			rc=0
			"$IOTVAULT_BIN" device show --data "$D" --tenant default --id "$id" --reveal \
				>"$T/bg.out" 2>"$T/bg.err" </dev/null || rc=$?
			if [[ $rc -ne 0 ]]; then
				echo "fail id=$id exit=$rc $(head -c 300 "$T/bg.err" | tr '\n' ' ')" >>"$BG_LOG"
			elif key_check "$T/bg.out" "$f1" "$v1" 2>/dev/null &&
				{ [[ -z "${f2:-}" ]] || key_check "$T/bg.out" "$f2" "$v2" 2>/dev/null; }; then
				echo "ok id=$id" >>"$BG_LOG"
			else
				echo "mismatch id=$id" >>"$BG_LOG"
			fi
			: >"$T/bg.out"
		done 3< <(sed -n '3p;50p;105p;200p;299p' "$KEYS")
	done
}
bg_reveal &
BG_PID=$!
# let the reader get going before the rotation starts
for _ in $(seq 1 200); do
	[[ -s "$BG_LOG" ]] && break
	sleep 0.05
done
[[ -s "$BG_LOG" ]] || fail "background reader did not start"

expect_exit 0 iv master rotate --data "$D" --batch-size 50
assert_not_contains "$OUT$ERR" "$(awk 'NR==1{print $3}' "$KEYS")" "master rotate output"

# and keep reading for another full round after it
n_before="$(wc -l <"$BG_LOG")"
for _ in $(seq 1 400); do
	(($(wc -l <"$BG_LOG") >= n_before + 6)) && break
	sleep 0.05
done
touch "$BG_STOP"
wait "$BG_PID" || true
n_bg="$(wc -l <"$BG_LOG")"
n_ok="$(grep -c '^ok ' "$BG_LOG" || true)"
note "background reveals: $n_ok of $n_bg succeeded"
if [[ "$n_ok" != "$n_bg" ]]; then
	grep -v '^ok ' "$BG_LOG" | head -n 5 >&2
	fail "background reveals failed during rotation"
fi
[[ "$n_bg" -ge 6 ]] || fail "background reader did too few reveals ($n_bg)"

assert_eq "$(mk_current "$D")" 2 "current master key version after rotation"
assert_eq "$(secrets_below "$D" 2)" 0 "secrets under v1 after rotation"
expect_exit 0 iv master status --data "$D"
status="$OUT"
assert_contains "$status" "file" "master status (provider)"
[[ "$(grep -i 'current' <<<"$status" | head -n 1)" =~ 2 ]] || fail "master status does not show version 2 as current"
[[ "$(grep -E '^ *version 1\b' <<<"$status" | head -n 1)" =~ (^|[^0-9])0\ secrets ]] ||
	fail "master status does not show 0 secrets under version 1"
assert_not_contains "$status" "incomplete" "master status after a complete rotation"
expect_exit 0 iv audit verify --data "$D"
[[ "$(db_query "$D" "select count(*) from audit_log where action like '%rotat%'")" -ge 1 ]] ||
	fail "no audit record of the rotation"

# --- retire -------------------------------------------------------------------
expect_exit 4 iv master retire --data "$D" --below 3
[[ -f "$D/keys/master-v2.key" ]] || fail "refused retire removed the current key"
expect_exit 0 iv master retire --data "$D" --below 2
[[ ! -e "$D/keys/master-v1.key" ]] || fail "keys/master-v1.key still exists after retire"
[[ -f "$D/keys/master-v2.key" ]] || fail "keys/master-v2.key missing after retire"
assert_eq "$(db_query "$D" "select state from master_keys where version=1")" retired "state of v1"
[[ "$(db_query "$D" "select count(*) from audit_log where action like '%retire%'")" -ge 1 ]] ||
	fail "no audit record of the retirement"
check_keys "$D" "$KEYS" 5 0
expect_exit 0 iv master status --data "$D"
expect_exit 4 iv master retire --data "$D" --below 3
expect_exit 2 iv master retire --data "$D"
expect_exit 2 iv master retire --data "$D" --below x
expect_exit 2 iv master rotate --data "$D" --batch-size 0
assert_eq "$(mk_current "$D")" 2 "current version after refused commands"

# --- an interrupted rotation: retire refused, rotate resumes -------------------
caught=0
for attempt in 1 2 3; do
	cur="$(mk_current "$D")"
	"$IOTVAULT_BIN" master rotate --data "$D" --batch-size 1 >/dev/null 2>"$T/rotate.err" &
	pid=$!
	for _ in $(seq 1 3000); do
		moved="$(db_query "$D" "select count(*) from secrets where mk_version > $cur")"
		[[ "$moved" -gt 0 ]] && break
		kill -0 "$pid" 2>/dev/null || break
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	new="$(db_query "$D" "select max(version) from master_keys")"
	left="$(secrets_below "$D" "$new")"
	if [[ "$new" -gt "$cur" && "$left" -gt 0 ]]; then
		caught=1
		break
	fi
	note "rotation attempt $attempt finished before it could be interrupted"
done
[[ $caught -eq 1 ]] || fail "could not interrupt a rotation of $n_secrets secrets"
note "interrupted rotation to v$new with $left secrets still below"

# a device added now is sealed under the new version
IV_K1="$(rand_hex 16)"
printf 'X app_key %s\n' "$IV_K1" >"$T/late.txt"
IV_K1="$IV_K1" expect_exit 0 iv device add --data "$D" --tenant default --type lorawan \
	--dev-eui 70B3D5FF00000001 --join-eui 70B3D57ED0000000 --app-key env:IV_K1
unset IV_K1
late_id="$(added_id)"
sed -i "s/^X /$late_id /" "$T/late.txt"
assert_eq "$(db_query "$D" "select min(mk_version) from secrets where owner_id=$late_id and owner_kind='device'")" \
	"$new" "version sealing a device added during an interrupted rotation"
check_keys "$D" "$T/late.txt"

expect_exit 0 iv master status --data "$D"
assert_contains "$OUT" "incomplete" "master status after an interrupted rotation"
expect_exit 4 iv master retire --data "$D" --below "$new"
[[ -f "$D/keys/master-v$cur.key" ]] || fail "refused retire removed keys/master-v$cur.key"
check_keys "$D" "$KEYS" 10 3

# rotate resumes the interrupted rotation rather than adding a version
expect_exit 0 iv master rotate --data "$D" --batch-size 50
assert_eq "$(db_query "$D" "select max(version) from master_keys")" "$new" "version after resumed rotation"
assert_eq "$(secrets_below "$D" "$new")" 0 "secrets below v$new after resumed rotation"
expect_exit 0 iv master retire --data "$D" --below "$new"
for ((v = 1; v < new; v++)); do
	[[ ! -e "$D/keys/master-v$v.key" ]] || fail "keys/master-v$v.key still exists after retire"
done
check_keys "$D" "$KEYS"
check_keys "$D" "$T/late.txt"
expect_exit 0 iv audit verify --data "$D"
pass
