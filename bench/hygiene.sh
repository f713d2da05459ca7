#!/usr/bin/env bash
# bench/hygiene: bulk import of 100,000 devices (one `iotvault device import`
# of one CSV file: parse, validate, weak-key and duplicate checks, seal, one
# transaction) and a full fleet scan with `iotvault hygiene` over 1,000,000
# devices; wall time, rows per second and peak memory (/usr/bin/time -v,
# maximum resident set size) of each.
#
#   bash bench/hygiene.sh [--rows N] [--fleet N] [--no-fleet]
#
# It prints figures; nothing passes or fails on a number, and CTest does not
# run it. Keys are random (a few published ones mixed in, so the flag policy
# has work), written to a private temporary directory and never printed; the
# directory is removed on exit.
set -euo pipefail
umask 077

ROWS=100000
FLEET=1000000
DO_FLEET=1
usage() {
	echo "usage: bash bench/hygiene.sh [--rows N (1000-1000000)] [--fleet N (>= rows)] [--no-fleet]" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--rows) [ $# -ge 2 ] || usage; ROWS="$2"; shift 2 ;;
	--fleet) [ $# -ge 2 ] || usage; FLEET="$2"; shift 2 ;;
	--no-fleet) DO_FLEET=0; shift ;;
	*) usage ;;
	esac
done
[[ "$ROWS" =~ ^[0-9]+$ && "$ROWS" -ge 1000 && "$ROWS" -le 1000000 ]] || usage
[[ "$FLEET" =~ ^[0-9]+$ && "$FLEET" -ge "$ROWS" ]] || usage

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${IOTVAULT_BIN:-$ROOT/build/iotvault}"
[ -x "$BIN" ] || { echo "bench/hygiene: $BIN is not built (set IOTVAULT_BIN)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench/hygiene: /usr/bin/time is required (apt-get install time)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench/hygiene: python3 is required" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/iotvault-bench-hygiene.XXXXXXXX")"
trap 'rm -rf "$WORK"' EXIT
D="$WORK/data"
"$BIN" init --data "$D" >/dev/null 2>&1 || { echo "bench/hygiene: init failed" >&2; exit 1; }

# make_csv FILE ROWS FIRST: LoRaWAN 1.0.3 (80%), 1.1 with NwkKey (10%), LwM2M
# (10%); one row in 1000 carries a published key (a weak-key finding)
make_csv() {
	python3 - "$1" "$2" "$3" <<'EOF'
import os, sys
path, rows, first = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
weak = "2B7E151628AED2A6ABF7158809CF4F3C"
with open(path, "w", newline="") as f:
    f.write("DevEUI,JoinEUI,MACVersion,AppKey,NwkKey,endpoint,psk,name\r\n")
    pool = os.urandom(rows * 32).hex().upper()
    for i in range(rows):
        n = first + i
        k1, k2 = pool[64 * i:64 * i + 32], pool[64 * i + 32:64 * i + 64]
        if i % 1000 == 999:
            k1 = weak
        if i % 10 == 5:
            f.write(",,,,,urn:bench:%d,%s,ep %d\r\n" % (n, k1, n))
        elif i % 10 == 9:
            f.write("%016X,70B3D57ED0000000,1.1,%s,%s,,,dev %d\r\n" % (0x70B3D50000000000 + n, k1, k2, n))
        else:
            f.write("%016X,70B3D57ED0000000,1.0.3,%s,,,,dev %d\r\n" % (0x70B3D50000000000 + n, k1, n))
EOF
}

# timed LABEL CMD...: runs CMD under /usr/bin/time -v; prints wall time and peak RSS
timed() {
	local label="$1"
	shift
	/usr/bin/time -v -o "$WORK/time.txt" "$@" >"$WORK/out.txt" 2>"$WORK/err.txt" || {
		echo "bench/hygiene: $label failed:" >&2
		sed 's/^/    /' "$WORK/err.txt" | tail -n 5 >&2
		exit 1
	}
	WALL="$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time.txt")"
	RSS_KB="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")"
	SECS="$(python3 -c 'import sys; p=sys.argv[1].split(":"); print(sum(float(x)*60**i for i,x in enumerate(reversed(p))))' "$WALL")"
}

echo "bench/hygiene: $(uname -m), $(nproc) CPU(s), $("$BIN" version 2>/dev/null | head -n 1 || echo iotvault)"

make_csv "$WORK/import.csv" "$ROWS" 1
SIZE_MB="$(python3 -c 'import os,sys; print("%.1f" % (os.path.getsize(sys.argv[1]) / 1048576))' "$WORK/import.csv")"

timed "dry run" "$BIN" device import --data "$D" --tenant default --file "$WORK/import.csv" --policy flag --dry-run
printf 'import %d rows (%s MiB CSV), dry run:   %8.2f s  %9.0f rows/s  peak RSS %6.1f MiB\n' \
	"$ROWS" "$SIZE_MB" "$SECS" "$(python3 -c "print($ROWS/$SECS)")" "$(python3 -c "print($RSS_KB/1024)")"
timed "import" "$BIN" device import --data "$D" --tenant default --file "$WORK/import.csv" --policy flag
printf 'import %d rows (%s MiB CSV), committed: %8.2f s  %9.0f rows/s  peak RSS %6.1f MiB\n' \
	"$ROWS" "$SIZE_MB" "$SECS" "$(python3 -c "print($ROWS/$SECS)")" "$(python3 -c "print($RSS_KB/1024)")"
grep -E '^imported:' "$WORK/out.txt" | sed 's/^/    /'
rm -f "$WORK/import.csv"

if [ "$DO_FLEET" -eq 0 ]; then
	echo "fleet scan: skipped (--no-fleet)"
	exit 0
fi
if ! "$BIN" hygiene --help >/dev/null 2>&1; then
	echo "fleet scan: NOT MEASURED: this build has no \`iotvault hygiene\` command yet"
	exit 0
fi
# grow the fleet to FLEET devices with further imports of ROWS rows
have="$ROWS"
while [ "$have" -lt "$FLEET" ]; do
	n=$((FLEET - have < ROWS ? FLEET - have : ROWS))
	make_csv "$WORK/more.csv" "$n" $((have + 1))
	"$BIN" device import --data "$D" --tenant default --file "$WORK/more.csv" --policy flag >/dev/null 2>"$WORK/err.txt" || {
		echo "bench/hygiene: growing the fleet failed:" >&2
		tail -n 5 "$WORK/err.txt" >&2
		exit 1
	}
	have=$((have + n))
done
rm -f "$WORK/more.csv"
timed "fleet scan" "$BIN" hygiene --data "$D" --tenant default
printf 'fleet scan of %d devices (iotvault hygiene):  %8.2f s  %9.0f devices/s  peak RSS %6.1f MiB\n' \
	"$FLEET" "$SECS" "$(python3 -c "print($FLEET/$SECS)")" "$(python3 -c "print($RSS_KB/1024)")"
