# The hash-chained audit log: `audit verify` passes on an untouched log and
# names the first bad record (exit 5) after each kind of tampering an attacker
# with write access to the database could try: a flipped byte in the file, a
# deleted, forged, reordered or truncated record. Each attack runs on a fresh
# copy of the data directory.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

D="$T/data"
init_data "$D"
JOIN_EUI=70B3D57ED0000000

for i in 1 2 3 4 5; do
	expect_exit 0 iv device add --data "$D" --tenant default --type lorawan \
		--dev-eui "$(printf '70B3D57ED4%06X' "$i")" --join-eui "$JOIN_EUI" --name "audit-dev-$i"
done
expect_exit 0 iv device add --data "$D" --tenant default --type lwm2m --endpoint urn:dev:audit-ep
expect_exit 0 iv device show --data "$D" --tenant default --dev-eui 70B3D57ED4000002 --reveal
: >"$T/last.out"
expect_exit 0 iv device show --data "$D" --tenant default --endpoint urn:dev:audit-ep --reveal
: >"$T/last.out"
expect_exit 0 iv device delete --data "$D" --tenant default --dev-eui 70B3D57ED4000005
expect_exit 0 iv master rotate --data "$D"

# --- intact log -----------------------------------------------------------------
expect_exit 0 iv audit verify --data "$D"
n_db="$(db_query "$D" "select count(*) from audit_log")"
[[ "$n_db" -ge 10 ]] || fail "expected at least 10 audit records, have $n_db"
[[ "$OUT" =~ audit\ log:\ ([0-9]+)\ records\ verified ]] || fail "audit verify output not as documented"
assert_eq "${BASH_REMATCH[1]}" "$n_db" "records verified"
LAST="$(db_query "$D" "select max(seq) from audit_log")"
FIRST="$(db_query "$D" "select min(seq) from audit_log")"
assert_eq "$((LAST - FIRST + 1))" "$n_db" "audit sequence numbers are contiguous"

# every reveal was audited
assert_eq "$(db_query "$D" "select count(*) from audit_log where action='key.reveal'")" 2 "key.reveal records"

# audit list: plain, JSON, paging
expect_exit 0 iv audit list --data "$D"
assert_contains "$OUT" "key.reveal" "audit list"
expect_exit 0 iv audit list --data "$D" --json --after "$FIRST" --limit 3
assert_json "$OUT" "audit list --json"
assert_eq "$(json_count "$T/last.out" seq)" 3 "records in audit list --after --limit 3"
for s in $((FIRST + 1)) $((FIRST + 2)) $((FIRST + 3)); do
	assert_eq "$(json_count "$T/last.out" "seq=$s")" 1 "record $s in audit list --after $FIRST"
done

# the append-only triggers are in place
if sqlite3 -batch "$D/iotvault.db" "delete from audit_log where seq=$LAST" 2>/dev/null; then
	fail "audit_log accepted a DELETE"
fi
if sqlite3 -batch "$D/iotvault.db" "update audit_log set action='x' where seq=$LAST" 2>/dev/null; then
	fail "audit_log accepted an UPDATE"
fi
assert_eq "$(db_query "$D" "select count(*) from audit_log")" "$n_db" "records after refused DELETE"

db_checkpoint "$D"
MID=$(((FIRST + LAST) / 2))

fresh_copy() { # NAME -> path
	local c="$T/$1"
	cp -a "$D" "$c"
	printf '%s' "$c"
}

# expect_broken DIR WHAT SEQ... : verify fails with exit 5 naming one of SEQ
expect_broken() {
	local dir="$1" what="$2" s
	shift 2
	expect_exit 5 iv audit verify --data "$dir"
	local all="$OUT
$ERR"
	[[ "$all" =~ record\ ([0-9]+)\ fails\ verification ]] ||
		fail "$what: audit verify did not name the bad record"
	local got="${BASH_REMATCH[1]}"
	for s in "$@"; do
		[[ "$got" == "$s" ]] && return 0
	done
	fail "$what: audit verify named record $got, expected one of: $*"
}

tamper_sql() { # DIR SQL : as an attacker would, triggers dropped first
	sqlite3 -batch "$1/iotvault.db" \
		"drop trigger if exists audit_log_no_update; drop trigger if exists audit_log_no_delete; $2" ||
		fail "tampering SQL failed"
	db_checkpoint "$1"
}

# --- 1. one byte flipped in the database file -----------------------------------
C="$(fresh_copy flip)"
# a record whose action or object text occurs exactly once in the file
sqlite3 -batch -noheader -separator $'\t' "$C/iotvault.db" \
	"select seq, action, object from audit_log order by (action='device.create') desc, seq" >"$T/rows.tsv"
db_checkpoint "$C"
[[ ! -e "$C/iotvault.db-wal" ]] || fail "a WAL file is left in the copy"
flip_seq="$(python3 - "$C/iotvault.db" "$T/rows.tsv" <<'EOF'
import sys
path, rows = sys.argv[1], sys.argv[2]
data = bytearray(open(path, "rb").read())
for line in open(rows):
    seq, action, obj = line.rstrip("\n").split("\t")
    for text in (action, obj):
        needle = text.encode()
        if len(needle) < 6 or data.count(needle) != 1:
            continue
        pos = data.find(needle)
        for i, ch in enumerate(needle):
            if chr(ch).isalpha():
                data[pos + i] = ord(chr(ch).swapcase())
                open(path, "r+b").write(data)
                print(seq)
                sys.exit(0)
sys.exit(1)
EOF
)" || fail "no audit record with a unique text found in the database file"
[[ "$flip_seq" =~ ^[0-9]+$ ]] || fail "could not pick a record to modify"
expect_broken "$C" "flipped byte" "$flip_seq"

# --- 2. MAC of a middle record replaced -----------------------------------------
C="$(fresh_copy mac)"
tamper_sql "$C" "update audit_log set mac = randomblob(32) where seq = $MID;"
expect_broken "$C" "replaced MAC" "$MID"

# --- 3. a middle record deleted -------------------------------------------------
C="$(fresh_copy delete)"
tamper_sql "$C" "delete from audit_log where seq = $MID;"
expect_broken "$C" "deleted middle record" "$MID" "$((MID + 1))"

# --- 4. a forged record appended (with and without moving the head) ------------
C="$(fresh_copy forge)"
tamper_sql "$C" "insert into audit_log (seq, ts_ms, tenant_id, actor_type, actor, source, action, object, outcome, detail, mac)
	select seq + 1, ts_ms + 1, tenant_id, actor_type, actor, source, 'key.reveal', object, 'success', '', randomblob(32)
	from audit_log where seq = $LAST;"
expect_broken "$C" "forged record" "$((LAST + 1))"
C="$(fresh_copy forge-head)"
tamper_sql "$C" "insert into audit_log (seq, ts_ms, tenant_id, actor_type, actor, source, action, object, outcome, detail, mac)
	select seq + 1, ts_ms + 1, tenant_id, actor_type, actor, source, 'key.reveal', object, 'success', '', randomblob(32)
	from audit_log where seq = $LAST;
	update audit_head set seq = $((LAST + 1)), mac = (select mac from audit_log where seq = $((LAST + 1)));"
expect_broken "$C" "forged record with a moved head" "$((LAST + 1))"
# a forged copy of an existing record (valid MAC of another position)
C="$(fresh_copy forge-copy)"
tamper_sql "$C" "insert into audit_log (seq, ts_ms, tenant_id, actor_type, actor, source, action, object, outcome, detail, mac)
	select $((LAST + 1)), ts_ms, tenant_id, actor_type, actor, source, action, object, outcome, detail, mac
	from audit_log where seq = $MID;"
expect_broken "$C" "replayed record" "$((LAST + 1))"

# --- 5. two records swapped -----------------------------------------------------
C="$(fresh_copy reorder)"
A=$MID
B=$((MID + 1))
tamper_sql "$C" "create temp table t as select * from audit_log where seq in ($A, $B);
	update audit_log set (ts_ms, tenant_id, actor_type, actor, source, action, object, outcome, detail, mac) =
	  (select ts_ms, tenant_id, actor_type, actor, source, action, object, outcome, detail, mac
	   from t where t.seq = (case audit_log.seq when $A then $B else $A end))
	where seq in ($A, $B);"
expect_broken "$C" "swapped records" "$A" "$B"

# --- 6. the last record truncated (head left alone, and head rewound) ----------
C="$(fresh_copy truncate)"
tamper_sql "$C" "delete from audit_log where seq = $LAST;"
expect_broken "$C" "truncated last record" "$((LAST - 1))" "$LAST"
C="$(fresh_copy truncate-head)"
tamper_sql "$C" "delete from audit_log where seq = $LAST;
	update audit_head set seq = $((LAST - 1)), mac = (select mac from audit_log where seq = $((LAST - 1)));"
expect_broken "$C" "truncated last record with a rewound head" "$((LAST - 1))" "$LAST"

# --- 7. the whole log emptied, head removed -------------------------------------
C="$(fresh_copy empty)"
tamper_sql "$C" "delete from audit_log; delete from audit_head;"
expect_exit 5 iv audit verify --data "$C"

# the original is untouched and still verifies; new records chain on
expect_exit 0 iv audit verify --data "$D"
expect_exit 0 iv device add --data "$D" --tenant default --type lwm2m --endpoint urn:dev:audit-after
expect_exit 0 iv audit verify --data "$D"
pass
