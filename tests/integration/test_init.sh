# `iotvault init`: the data directory it creates, refusal on an existing
# directory, --help, --version and unknown commands.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

D="$T/data"

# --- a fresh data directory -------------------------------------------------
init_data "$D"
init_out="$OUT"

assert_file_mode "$D" 700
[[ -f "$D/iotvault.conf" ]] || fail "iotvault.conf missing"
[[ -f "$D/iotvault.db" ]] || fail "iotvault.db missing"
assert_file_mode "$D/keys/master-v1.key" 600
size="$(stat -c %s "$D/keys/master-v1.key")"
assert_eq "$size" 32 "size of keys/master-v1.key"
keydir_mode="$(stat -c %a "$D/keys")"
[[ "$keydir_mode" =~ ^[0-7]00$ ]] || fail "keys/ is accessible to group or others (mode $keydir_mode)"

# SQLite in WAL mode
jm="$(db_query "$D" "pragma journal_mode")"
assert_eq "$jm" wal "journal mode of iotvault.db"

# default tenant and admin user
assert_eq "$(db_query "$D" "select count(*) from tenants where name='default'")" 1 "tenant 'default'"
assert_eq "$(db_query "$D" "select role from users where username='admin'")" admin "role of user 'admin'"
assert_eq "$(db_query "$D" "select count(*) from master_keys where version=1 and state='active'")" 1 \
	"master key version 1"

# TLS certificate: self-signed ECDSA P-256 for localhost
[[ -f "$D/tls/cert.pem" ]] || fail "tls/cert.pem missing"
[[ -f "$D/tls/key.pem" ]] || fail "tls/key.pem missing"
tlskey_mode="$(stat -c %a "$D/tls/key.pem")"
[[ "$tlskey_mode" =~ ^[0-7]00$ ]] || fail "tls/key.pem is accessible to group or others (mode $tlskey_mode)"
if command -v openssl >/dev/null; then
	certtext="$(openssl x509 -in "$D/tls/cert.pem" -noout -text)" || fail "openssl cannot parse tls/cert.pem"
	assert_contains "$certtext" "id-ecPublicKey" "certificate"
	[[ "$certtext" == *"prime256v1"* || "$certtext" == *"P-256"* ]] || fail "certificate key is not P-256"
	[[ "$certtext" =~ CN\ ?=\ ?localhost || "$certtext" == *"DNS:localhost"* ]] ||
		fail "certificate names neither CN nor SAN localhost"
	# the private key belongs to the certificate (compare public halves only)
	pub_cert="$(openssl x509 -in "$D/tls/cert.pem" -noout -pubkey)"
	pub_key="$(openssl pkey -in "$D/tls/key.pem" -pubout 2>/dev/null)" || fail "openssl cannot parse tls/key.pem"
	[[ "$pub_cert" == "$pub_key" ]] || fail "tls/key.pem does not match tls/cert.pem"
	# self-signed: verifies against itself
	openssl verify -CAfile "$D/tls/cert.pem" -partial_chain "$D/tls/cert.pem" >/dev/null 2>&1 ||
		fail "tls/cert.pem is not a valid self-signed certificate"
elif command -v certtool >/dev/null; then
	certtext="$(certtool -i --infile "$D/tls/cert.pem")" || fail "certtool cannot parse tls/cert.pem"
	assert_contains "$certtext" "EC/ECDSA" "certificate"
	assert_contains "$certtext" "SECP256R1" "certificate"
	[[ "$certtext" == *"CN=localhost"* || "$certtext" == *"DNSname: localhost"* ]] ||
		fail "certificate names neither CN nor SAN localhost"
else
	note "neither openssl nor certtool available; certificate not inspected"
fi

# initial admin password: 0600, non-empty, printed once by init
assert_file_mode "$D/initial-admin-password" 600
pw="$(head -n 1 "$D/initial-admin-password")"
[[ ${#pw} -ge 12 ]] || fail "initial admin password is shorter than 12 characters"
[[ "$init_out" == *"$pw"* ]] || fail "init did not print the initial admin password"
# the password is stored hashed, never as given
if grep -q -F -- "$pw" "$D/iotvault.db" "$D/iotvault.conf" 2>/dev/null; then
	fail "the admin password appears in iotvault.db or iotvault.conf"
fi

# the new directory is usable and its audit log verifies
expect_exit 0 iv device list --data "$D" --tenant default
expect_exit 0 iv audit verify --data "$D"
assert_contains "$OUT" "records verified" "audit verify output"
expect_exit 0 iv master status --data "$D"

# --- init refuses an existing directory and changes nothing ------------------
before="$(tree_fingerprint "$D")"
expect_exit 4 iv init --data "$D"
after="$(tree_fingerprint "$D")"
[[ "$before" == "$after" ]] || fail "init on an existing data directory changed it"

mkdir -m 700 "$T/empty"
expect_exit 4 iv init --data "$T/empty"
[[ -z "$(ls -A "$T/empty")" ]] || fail "init on an existing empty directory wrote into it"

# --- options and environment -------------------------------------------------
expect_exit 0 iv init --data "$T/custom" --tenant acme --admin alice
assert_eq "$(db_query "$T/custom" "select count(*) from tenants where name='acme'")" 1 "tenant 'acme'"
assert_eq "$(db_query "$T/custom" "select role from users where username='alice'")" admin "role of 'alice'"
expect_exit 3 iv device list --data "$T/custom" --tenant default
expect_exit 0 iv device list --data "$T/custom" --tenant acme

IOTVAULT_DATA="$T/fromenv" expect_exit 0 iv init
[[ -f "$T/fromenv/iotvault.db" ]] || fail "IOTVAULT_DATA was not used by init"
IOTVAULT_DATA="$T/fromenv" expect_exit 0 iv device list --tenant default

# no data directory given at all
expect_exit 2 iv init
# bad options create nothing
expect_exit 2 iv init --data "$T/bad1" --no-such-option
[[ ! -e "$T/bad1" ]] || fail "init with an unknown option created the directory"
expect_exit 2 iv init --data "$T/bad2" --master-key-provider bogus
[[ ! -e "$T/bad2" ]] || fail "init with an unknown provider created the directory"
# a data directory that does not exist
expect_exit 3 iv device list --data "$T/nonexistent" --tenant default
[[ ! -e "$T/nonexistent" ]] || fail "a command on a missing data directory created it"

# --- help, version, unknown commands -----------------------------------------
expect_exit 0 iv --help
assert_contains "$OUT" "init" "iotvault --help"
assert_contains "$OUT" "device" "iotvault --help"
expect_exit 0 iv init --help
assert_contains "$OUT" "--data" "iotvault init --help"
expect_exit 0 iv device --help
assert_contains "$OUT" "add" "iotvault device --help"
expect_exit 0 iv master --help
expect_exit 0 iv audit --help

expect_exit 0 iv --version
[[ "$OUT" =~ [0-9]+\.[0-9]+ ]] || fail "--version prints no version number"
expect_exit 0 iv version
[[ "$OUT" =~ [0-9]+\.[0-9]+ ]] || fail "version prints no version number"

expect_exit 2 iv frobnicate
expect_exit 2 iv
expect_exit 2 iv device frobnicate --data "$D" --tenant default
expect_exit 2 iv device list --data "$D" --tenant default --no-such-option

pass
