#!/usr/bin/env bash
# Grep lint in the spirit of s2n-tls's: fails the build on the handful of
# patterns that have caused real security bugs in C code (unbounded string
# functions, predictable random numbers, timing-leaky compares of secrets,
# key material outside the guarded allocator, and library code that kills the
# process). Usage: scripts/lint.sh [SRCDIR]. Prints file:line and the rule for
# each violation and exits 1, or prints "lint: OK (N files)".
#
# Comments and string literals are blanked before matching (line numbers are
# kept), so prose such as "never call memcmp() here" is not a violation. The
# escape hatch for a non-secret allocation or compare is a trailing
# /* lint:not-secret */ on the same line, which a reviewer can see.
set -euo pipefail

SRCDIR="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
cd "$SRCDIR"

ALL_DIRS=(src include tests fuzz bench)
LIB_DIRS=(src include)

existing() {
	local d
	for d in "$@"; do [ -d "$d" ] && printf '%s\n' "$d"; done
	return 0
}

mapfile -t FILES < <(existing "${ALL_DIRS[@]}" | xargs -r -I{} \
	find {} \( -name node_modules -o -name corpus \) -prune -o \
	-type f \( -name '*.c' -o -name '*.h' \) -print | LC_ALL=C sort)

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# Stripped copies: comments become blank (newlines kept), string and character
# literals become "" and ''.
for f in "${FILES[@]}"; do
	mkdir -p "$TMP/$(dirname "$f")"
	perl -0777 -pe '
		s{(//[^\n]*)|(/\*.*?\*/)|("(?:\\.|[^"\\\n])*")|(\x27(?:\\.|[^\x27\\\n])*\x27)}{
			defined $1 ? "" :
			defined $2 ? ("\n" x ($2 =~ tr/\n//)) . " " :
			defined $3 ? "\"\"" : "\x27\x27"
		}gse' "$f" >"$TMP/$f"
done

violations=0

report() { # FILE LINE RULE
	local text
	text="$(sed -n "${2}p" "$1" | sed 's/^[[:space:]]*//')"
	printf '%s:%s: %s: %s\n' "$1" "$2" "$3" "$text"
	violations=$((violations + 1))
}

# rule NAME ERE [--except PATH]... [--marker] [--mentions ERE] -- DIR...
# Matches ERE (case-sensitive) against stripped code in DIRs. --marker lets a
# line through when the original carries /* lint:not-secret */; --mentions
# only flags lines whose stripped code also matches that (case-insensitive) ERE.
rule() {
	local name="$1" re="$2"
	shift 2
	local excepts=() marker=0 mentions="" dirs=()
	while [ $# -gt 0 ]; do
		case "$1" in
		--except) excepts+=("$2"); shift 2 ;;
		--marker) marker=1; shift ;;
		--mentions) mentions="$2"; shift 2 ;;
		--) shift; dirs=("$@"); break ;;
		*) echo "lint: bad rule definition for $name" >&2; exit 2 ;;
		esac
	done
	local search=() d
	for d in "${dirs[@]}"; do [ -d "$TMP/$d" ] && search+=("$d"); done
	[ ${#search[@]} -gt 0 ] || return 0
	local hit file line code skip e
	while IFS= read -r hit; do
		file="${hit%%:*}"
		hit="${hit#*:}"
		line="${hit%%:*}"
		code="${hit#*:}"
		skip=0
		for e in "${excepts[@]}"; do [ "$file" = "$e" ] && skip=1; done
		[ $skip -eq 0 ] || continue
		if [ -n "$mentions" ] && ! printf '%s\n' "$code" | grep -qiE "$mentions"; then
			continue
		fi
		if [ $marker -eq 1 ] && sed -n "${line}p" "$file" | grep -qF '/* lint:not-secret */'; then
			continue
		fi
		report "$file" "$line" "$name"
	done < <(cd "$TMP" && grep -rnE "$re" "${search[@]}" | LC_ALL=C sort -t: -k1,1 -k2,2n || true)
}

# Unbounded string functions: everywhere, tests and fuzz targets included.
rule "strcpy is banned (use snprintf)" '\bstrcpy[[:space:]]*\(' -- "${ALL_DIRS[@]}"
rule "strcat is banned (use snprintf)" '\bstrcat[[:space:]]*\(' -- "${ALL_DIRS[@]}"
rule "sprintf/vsprintf are banned (use snprintf/vsnprintf)" '\bv?sprintf[[:space:]]*\(' -- "${ALL_DIRS[@]}"
rule "gets is banned" '\bgets[[:space:]]*\(' -- "${ALL_DIRS[@]}"

# Predictable randomness: libsodium's randombytes_* or crypto/random only.
rule "rand/srand/random are banned (use randombytes_buf or random_bytes)" \
	'\b(rand|srand|rand_r|random|srandom)[[:space:]]*\(' -- "${LIB_DIRS[@]}"

# Secrets are compared in constant time.
rule "memcmp in src/ (use secmem_equal/sodium_memcmp, or mark /* lint:not-secret */)" \
	'\bmemcmp[[:space:]]*\(' --marker -- src

# Key material is allocated only by the secure-memory module. "pin" must stand
# as a word part (pin_env, user_pin) so that "mapping" or "spinlock" pass.
rule "sodium_malloc/sodium_allocarray outside src/core/secmem.c (use secbuf_new/secmem_alloc)" \
	'\bsodium_(malloc|allocarray)[[:space:]]*\(' --except src/core/secmem.c -- src
rule "heap allocation of what looks like a secret (use secbuf_new, or mark /* lint:not-secret */)" \
	'\b(malloc|calloc|realloc|reallocarray|strdup|strndup)[[:space:]]*\(' \
	--mentions 'key|dek|psk|secret|passw|plaintext|(^|[^[:alpha:]])pins?([^[:alpha:]]|$)' --marker -- src

# Library code returns errors; only the command dispatcher decides to exit.
rule "abort/exit outside src/main.c (return an IV_ERR_* code)" \
	'\b(abort|exit)[[:space:]]*\(' --except src/main.c -- src

if [ "$violations" -gt 0 ]; then
	echo "lint: FAILED ($violations violation(s) in ${#FILES[@]} files)"
	exit 1
fi
echo "lint: OK (${#FILES[@]} files)"
