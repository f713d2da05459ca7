# Shared helpers for the integration tests: each test_*.sh sources this file,
# drives the real iotvault binary ($IOTVAULT_BIN) against throwaway data
# directories under a per-test temporary directory, and ends with `pass`.
#
# Key material is never printed: revealed keys are compared inside the shell
# and only "match"/"mismatch" is reported.

set -Eeuo pipefail
umask 077

TEST_NAME="$(basename "${0%.sh}")"
IOTVAULT_SRC="${IOTVAULT_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
IOTVAULT_BIN="${IOTVAULT_BIN:-$IOTVAULT_SRC/build/iotvault}"
if [[ ! -x "$IOTVAULT_BIN" ]]; then
	echo "FAIL: $TEST_NAME: IOTVAULT_BIN ($IOTVAULT_BIN) is not an executable" >&2
	exit 1
fi

# Settings of the caller must not leak into a test.
unset IOTVAULT_DATA IOTVAULT_PASSPHRASE IOTVAULT_PKCS11_PIN
# A command that might prompt must see "stdin is not a terminal".
exec </dev/null

T="$(mktemp -d "${TMPDIR:-/tmp}/iotvault-it.XXXXXXXX")"
# Output of every command except explicit reveals, for the no-plaintext checks.
TRANSCRIPT="$T/transcript.log"
: >"$TRANSCRIPT"
OUT=""
ERR=""
RC=0
# Upper bound for any single iotvault run.
IV_TIMEOUT="${IV_TIMEOUT:-120}"

cleanup() {
	local rc=$?
	local pids
	pids="$(jobs -p)" || true
	if [[ -n "$pids" ]]; then
		# shellcheck disable=SC2086
		kill -9 $pids 2>/dev/null || true
		wait 2>/dev/null || true
	fi
	# A sanitizer build (make check's build-asan) reports into the stderr
	# of whichever process erred: a server's log file, a captured command.
	# A test that passed fails when any file of its run holds a report.
	if [[ $rc -eq 0 ]]; then
		local f
		while IFS= read -r f; do
			echo "FAIL: $TEST_NAME: a sanitizer report in $(basename "$f"):" >&2
			grep -E -A30 'ERROR: [A-Za-z]+Sanitizer|: runtime error: ' -- "$f" | head -40 | sed 's/^/    /' >&2
			rc=1
		done < <(grep -rIlE 'ERROR: [A-Za-z]+Sanitizer|: runtime error: ' -- "$T" 2>/dev/null)
	fi
	rm -rf -- "$T"
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "FAIL: $TEST_NAME: unexpected failure at line $LINENO: $BASH_COMMAND" >&2' ERR

fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	exit 1
}

pass() {
	echo "PASS: $TEST_NAME"
	exit 0
}

note() {
	echo "# $TEST_NAME: $*" >&2
}

iv() {
	timeout -k 5 "$IV_TIMEOUT" "$IOTVAULT_BIN" "$@"
}

_has_reveal() {
	local a
	for a in "$@"; do
		[[ "$a" == "--reveal" ]] && return 0
	done
	return 1
}

# expect_exit N cmd... : runs cmd, keeps stdout in $OUT and stderr in $ERR
# (also in $T/last.out and $T/last.err), and fails unless it exits with N.
# Output of non-reveal commands is appended to $TRANSCRIPT. On mismatch only
# stderr is shown (stdout of a reveal may hold keys).
expect_exit() {
	local want="$1"
	shift
	_run_capture "$@"
	if [[ "$RC" != "$want" ]]; then
		_show_failure "$@"
		fail "expected exit $want, got $RC: $(_describe "$@")"
	fi
}

# expect_exit_in "N M ..." cmd... : as expect_exit, any of the listed codes.
expect_exit_in() {
	local wants="$1" w
	shift
	_run_capture "$@"
	for w in $wants; do
		[[ "$RC" == "$w" ]] && return 0
	done
	_show_failure "$@"
	fail "expected exit in {$wants}, got $RC: $(_describe "$@")"
}

_run_capture() {
	RC=0
	"$@" >"$T/last.out" 2>"$T/last.err" || RC=$?
	OUT="$(cat "$T/last.out")"
	ERR="$(cat "$T/last.err")"
	if ! _has_reveal "$@"; then
		{
			printf '### %s\n' "$(_describe "$@")"
			cat "$T/last.out" "$T/last.err"
		} >>"$TRANSCRIPT"
	fi
}

_show_failure() {
	echo "---- stderr of: $(_describe "$@")" >&2
	sed 's/^/    /' "$T/last.err" >&2
	if ! _has_reveal "$@"; then
		echo "---- stdout:" >&2
		sed 's/^/    /' "$T/last.out" | head -n 40 >&2
	fi
	echo "----" >&2
}

# The command for messages. An argument that looks like key material (a
# literal key that the program must refuse) is shown as <redacted>.
_describe() {
	local s="" a h
	for a in "$@"; do
		[[ "$a" == "iv" ]] && a="iotvault"
		h="${a#0x}"
		h="${h//[:-]/}"
		if [[ ${#h} -ge 30 && "$h" =~ ^[0-9A-Fa-f]+$ ]]; then
			a="<redacted>"
		fi
		s+="$a "
	done
	printf '%s' "${s% }"
}

assert_contains() { # HAYSTACK NEEDLE [WHAT]
	if [[ "$1" != *"$2"* ]]; then
		fail "${3:-output} does not contain '$2'"
	fi
}

assert_not_contains() { # HAYSTACK NEEDLE [WHAT] -- the needle is never printed
	if [[ "$1" == *"$2"* ]]; then
		fail "${3:-output} contains a forbidden string"
	fi
}

assert_eq() { # GOT WANT WHAT
	if [[ "$1" != "$2" ]]; then
		fail "$3: got '$1', expected '$2'"
	fi
}

assert_file_mode() { # PATH MODE
	[[ -e "$1" ]] || fail "$1 does not exist"
	local m
	m="$(stat -c %a "$1")"
	[[ "$m" == "$2" ]] || fail "$1 has mode $m, expected $2"
}

# n random bytes as lower-case hex
rand_hex() {
	od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

upper() { printf '%s' "$1" | tr 'a-f' 'A-F'; }
lower() { printf '%s' "$1" | tr 'A-F' 'a-f'; }

# field_value FILE NAME: the value of the first "name: value" line whose name
# matches NAME ignoring case, '_', '-' and spaces ("app_key" = "AppKey").
field_value() {
	awk -v want="$2" '
		function norm(s) { s = tolower(s); gsub(/[-_ \t]/, "", s); return s }
		{
			i = index($0, ":")
			if (i == 0) next
			k = substr($0, 1, i - 1)
			if (norm(k) != norm(want)) next
			v = substr($0, i + 1)
			sub(/^[ \t]+/, "", v); sub(/[ \t\r]+$/, "", v)
			print v
			exit
		}' "$1"
}

# key_check FILE FIELD EXPECTED_HEX: compares the revealed FIELD in FILE with
# the expected key (as upper-case hex) without printing either. Returns 0 on
# match; prints "match"/"mismatch" with the field name only.
key_check() {
	local got want
	got="$(field_value "$1" "$2")"
	want="$(upper "$3")"
	if [[ -n "$got" && "$got" == "$want" ]]; then
		return 0
	fi
	echo "# key_check $2: mismatch (revealed value has ${#got} characters)" >&2
	return 1
}

# reveal_check DATA TENANT SELECTOR-ARGS... -- FIELD HEX [FIELD HEX...]
# runs `device show --reveal` and compares each listed field.
reveal_check() {
	local data="$1" tenant="$2"
	shift 2
	local sel=()
	while [[ $# -gt 0 && "$1" != "--" ]]; do
		sel+=("$1")
		shift
	done
	shift
	expect_exit 0 iv device show --data "$data" --tenant "$tenant" "${sel[@]}" --reveal
	local rc=0
	while [[ $# -gt 0 ]]; do
		key_check "$T/last.out" "$1" "$2" || rc=1
		shift 2
	done
	# the reveal output must not linger where later searches could trip on it
	: >"$T/last.out"
	OUT=""
	[[ $rc -eq 0 ]] || fail "revealed key mismatch for ${sel[*]}"
}

# id printed by `device add` ("id: N")
added_id() {
	local id
	id="$(field_value "$T/last.out" id)"
	[[ "$id" =~ ^[0-9]+$ ]] || fail "device add did not print 'id: N'"
	printf '%s' "$id"
}

# Checks that a string is valid JSON.
assert_json() { # TEXT WHAT
	if ! printf '%s' "$1" | python3 -c 'import json,sys; json.load(sys.stdin)' 2>/dev/null; then
		fail "${2:-output} is not valid JSON"
	fi
}

# json_count FILE COND...: number of JSON objects anywhere in FILE's document
# meeting every COND, where COND is KEY (present) or KEY=VALUE (string equal).
json_count() {
	python3 - "$@" <<'EOF'
import json, sys
path, conds = sys.argv[1], sys.argv[2:]
with open(path) as f:
    doc = json.load(f)
def ok(d):
    for c in conds:
        k, eq, v = c.partition("=")
        if k not in d:
            return False
        if eq and str(d[k]) != v:
            return False
    return True
n = 0
stack = [doc]
while stack:
    x = stack.pop()
    if isinstance(x, dict):
        if ok(x):
            n += 1
        stack.extend(x.values())
    elif isinstance(x, list):
        stack.extend(x)
print(n)
EOF
}

# N loopback ports free for both TCP and UDP, picked at random below the
# kernel's ephemeral range (where the source ports of the tests' own clients
# come from) so that tests running side by side rarely probe the same ones.
# A port is free when probed; the server binds it moments later.
free_ports() { # N
	python3 - "${1:-1}" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    low = 32768
rng = random.SystemRandom()
out = []
for _ in range(2000):
    if len(out) == n:
        break
    port = rng.randrange(10000, max(low, 10001))
    if port in out:
        continue
    ok = True
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            ok = False
        finally:
            s.close()
    if ok:
        out.append(port)
if len(out) < n:
    sys.exit(1)
print(" ".join(map(str, out)))
PY
}
free_port() { free_ports 1; }

# make_pki DIR: a CA (ca.pem), a server certificate for localhost and
# 127.0.0.1 signed by it (server.pem, server.key), and an unrelated CA
# (rogue-ca.pem) that must not be trusted in its place.
make_pki() {
	local d="$1"
	mkdir -p "$d"
	(
		cd "$d"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
			-out ca.pem -days 2 -subj "/CN=iotvault test CA" &&
			openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
				-keyout rogue-ca.key -out rogue-ca.pem -days 2 -subj "/CN=rogue CA" &&
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key \
				-out server.csr -subj "/CN=localhost" &&
			printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >ext.cnf &&
			openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
				-out server.pem -days 2 -extfile ext.cnf
	) >"$T/pki.log" 2>&1 || fail "openssl could not make the test certificates"
	chmod 600 "$d"/*.key
}

# broker_config DIR PKI-DIR: a mosquitto configuration in DIR for a TLS
# listener on 127.0.0.1 (port MPORT) with PKI-DIR's server certificate,
# persistence, and two password users: iotvault (MQTT_PW) and reader
# (READER_PW). Sets B, MPORT, MQTT_PW, READER_PW; the caller starts it.
broker_config() {
	B="$1"
	MQTT_PW="$(rand_hex 12)"
	READER_PW="$(rand_hex 12)"
	MPORT="$(free_port)" || fail "no free port for the broker"
	mkdir -p "$B"
	: >"$B/passwd"
	mosquitto_passwd -b "$B/passwd" iotvault "$MQTT_PW" >/dev/null 2>&1 || fail "mosquitto_passwd failed"
	mosquitto_passwd -b "$B/passwd" reader "$READER_PW" >/dev/null 2>&1 || fail "mosquitto_passwd failed"
	cat >"$B/mosquitto.conf" <<CONF
user root
per_listener_settings false
persistence true
persistence_location $B/
allow_anonymous false
password_file $B/passwd
log_dest file $B/mosquitto.log
log_type all
listener $MPORT localhost
cafile $2/ca.pem
certfile $2/server.pem
keyfile $2/server.key
require_certificate false
tls_version tlsv1.2
CONF
}

# polls COMMAND every 0.2 s until it succeeds; 1 after SECONDS
wait_for() { # SECONDS COMMAND...
	local limit="$1" i
	shift
	for ((i = 0; i < limit * 5; i++)); do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}

db_query() { # DATA SQL
	sqlite3 -batch -noheader -cmd ".timeout 10000" "$1/iotvault.db" "$2"
}

# Fingerprint of a directory tree: every path, mode and content hash.
tree_fingerprint() { # DIR
	(
		cd "$1"
		find . -printf '%p %m %y\n' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
	)
}

device_count() { db_query "$1" "select count(*) from devices"; }
secret_count() { db_query "$1" "select count(*) from secrets"; }

# Makes sure no connection left a WAL behind, so the main file is complete.
db_checkpoint() { # DATA
	sqlite3 -batch "$1/iotvault.db" "pragma wal_checkpoint(TRUNCATE);" >/dev/null
	if [[ -s "$1/iotvault.db-wal" ]]; then
		fail "WAL of $1 could not be checkpointed"
	fi
	rm -f -- "$1/iotvault.db-wal" "$1/iotvault.db-shm"
}

# Standard data directory: init with the file provider and the default tenant.
init_data() { # DIR [extra init args]
	local d="$1"
	shift
	expect_exit 0 iv init --data "$d" "$@"
}

# add_devices DATA N TAG KEYFILE: adds N devices with known random keys to the
# default tenant, a mix of LoRaWAN 1.0.3 (AppKey), LoRaWAN 1.1 (AppKey and
# NwkKey) and LwM2M (PSK), all keys through the environment. Appends one line
# per device to KEYFILE (outside the data directory, never printed):
#   id field hex [field hex]
# TAG (0..255) keeps DevEUIs and endpoints of several calls apart.
add_devices() {
	local data="$1" n="$2" tag="$3" keyfile="$4" i id pool off=0
	pool="$(od -An -tx1 -v -N$((n * 32)) /dev/urandom | tr -d ' \n')"
	for ((i = 1; i <= n; i++)); do
		local k1="${pool:off:32}" k2="${pool:off+32:32}"
		off=$((off + 64))
		local eui
		eui="$(printf '70B3D5%02X%08X' "$tag" "$i")"
		if ((i % 10 == 0)); then
			IV_K1="$k1" IV_K2="$k2" expect_exit 0 iv device add --data "$data" --tenant default \
				--type lorawan --dev-eui "$eui" --join-eui 70B3D57ED0000000 --mac-version 1.1 \
				--app-key env:IV_K1 --nwk-key env:IV_K2
			id="$(added_id)"
			printf '%s app_key %s nwk_key %s\n' "$id" "$k1" "$k2" >>"$keyfile"
		elif ((i % 10 == 5)); then
			IV_K1="$k1" expect_exit 0 iv device add --data "$data" --tenant default \
				--type lwm2m --endpoint "urn:dev:$tag:$i" --psk env:IV_K1
			id="$(added_id)"
			printf '%s psk %s\n' "$id" "$k1" >>"$keyfile"
		else
			IV_K1="$k1" expect_exit 0 iv device add --data "$data" --tenant default \
				--type lorawan --dev-eui "$eui" --join-eui 70B3D57ED0000000 \
				--app-key env:IV_K1
			id="$(added_id)"
			printf '%s app_key %s\n' "$id" "$k1" >>"$keyfile"
		fi
	done
}

# check_keys DATA KEYFILE [EVERY [OFFSET]]: reveals devices of KEYFILE (every
# EVERY-th line starting at OFFSET; all by default) and compares their keys.
check_keys() {
	local data="$1" keyfile="$2" every="${3:-1}" offset="${4:-0}" line=0 checked=0
	local id f1 v1 f2 v2
	while read -r -u 3 id f1 v1 f2 v2; do
		if (((line++ % every) != offset)); then
			continue
		fi
		if [[ -n "${f2:-}" ]]; then
			reveal_check "$data" default --id "$id" -- "$f1" "$v1" "$f2" "$v2"
		else
			reveal_check "$data" default --id "$id" -- "$f1" "$v1"
		fi
		checked=$((checked + 1))
	done 3<"$keyfile"
	[[ $checked -gt 0 ]] || fail "check_keys checked no device"
}

# current (highest active) master key version, from the database
mk_current() { db_query "$1" "select max(version) from master_keys where state='active'"; }
# secrets wrapped under a version below N
secrets_below() { db_query "$1" "select count(*) from secrets where mk_version < $2"; }
