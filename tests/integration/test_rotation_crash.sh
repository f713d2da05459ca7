# Crash safety of master key rotation: `master rotate` is killed with SIGKILL
# after varying delays, again and again on the same data directory. After
# every kill all keys still reveal to their original values (a sample each
# round, all at the end), the audit log verifies, and a final rotation
# completes with no secret left below the current version.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

D="$T/data"
KEYS="$T/keys.txt"
init_data "$D"
add_devices "$D" 400 2 "$KEYS"
n_secrets="$(secret_count "$D")"

# Kill delays are fractions of the time one full rotation takes here, so the
# kills land at different stages (start-up, new version, early/late batches)
# on fast and slow machines alike.
t0="$(date +%s%N)"
expect_exit 0 iv master rotate --data "$D" --batch-size 20
t1="$(date +%s%N)"
full_ms=$(((t1 - t0) / 1000000))
note "one full rotation of $n_secrets secrets takes ${full_ms}ms"
delays="$(awk -v ms="$full_ms" 'BEGIN {
	n = split("0.02 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.95", f, " ")
	for (i = 1; i <= n; i++) printf "%.3f ", ms * f[i] / 1000
}')"

round=0
interrupted=0
for delay in $delays; do
	round=$((round + 1))
	before="$(db_query "$D" "select max(version) from master_keys")"
	"$IOTVAULT_BIN" master rotate --data "$D" --batch-size 20 >/dev/null 2>"$T/rotate.err" &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null || true
	rc=0
	wait "$pid" 2>/dev/null || rc=$?
	if [[ $rc -ne 0 && $rc -ne 137 ]]; then
		sed 's/^/    /' "$T/rotate.err" >&2
		fail "round $round: master rotate failed on its own with exit $rc"
	fi
	cur="$(mk_current "$D")"
	left="$(secrets_below "$D" "$cur")"
	[[ $rc -eq 137 && "$left" -gt 0 ]] && interrupted=$((interrupted + 1))
	note "round $round: delay ${delay}s, exit $rc, versions $before -> $cur, $left of $n_secrets secrets below v$cur"

	# every secret is wrapped under a version that still exists and is active
	orphans="$(db_query "$D" "select count(*) from secrets where mk_version not in
		(select version from master_keys where state='active')")"
	assert_eq "$orphans" 0 "round $round: secrets under a missing or retired version"
	for v in $(db_query "$D" "select version from master_keys where state='active'"); do
		[[ -f "$D/keys/master-v$v.key" ]] || fail "round $round: keys/master-v$v.key missing"
		assert_file_mode "$D/keys/master-v$v.key" 600
	done

	check_keys "$D" "$KEYS" 20 $((round % 20))
	expect_exit 0 iv audit verify --data "$D"
	expect_exit 0 iv master status --data "$D"
done
note "$interrupted of $round rounds were killed in the middle of re-wrapping"
[[ $interrupted -ge 1 ]] || note "warning: no round interrupted a rotation in progress"

# a refused retire while secrets depend on an older version
cur="$(mk_current "$D")"
if [[ "$(secrets_below "$D" "$cur")" -gt 0 ]]; then
	expect_exit 4 iv master retire --data "$D" --below "$cur"
fi

# one rotation to the end
expect_exit 0 iv master rotate --data "$D" --batch-size 20
cur="$(mk_current "$D")"
assert_eq "$(secrets_below "$D" "$cur")" 0 "secrets below the current version after a full rotation"
expect_exit 0 iv master status --data "$D"
expect_exit 0 iv master retire --data "$D" --below "$cur"
assert_eq "$(db_query "$D" "select count(*) from master_keys where state='active'")" 1 "active versions after retire"
check_keys "$D" "$KEYS"
expect_exit 0 iv audit verify --data "$D"
pass
