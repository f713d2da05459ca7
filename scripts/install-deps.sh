#!/usr/bin/env bash
# Installs what building and testing iotvault needs on Debian 12, and nothing
# that is already there: `make demo` and `make check` run this first, so it
# must be cheap and safe to run again and again (no apt-get update unless a
# package is actually missing).
set -euo pipefail

# Debian packages, one group per need. Later features add to this list.
PACKAGES=(
	# toolchain
	build-essential cmake pkg-config
	# fuzzing: libFuzzer and the sanitizer runtimes
	clang libclang-rt-14-dev
	# crypto and TLS (Nettle, GnuTLS, libsodium); gnutls-bin gives certtool for tests
	nettle-dev libgnutls28-dev gnutls-bin libsodium-dev
	# storage
	libsqlite3-dev sqlite3
	# configuration (INI)
	libinih-dev
	# HSM: PKCS#11 through p11-kit, SoftHSM2 and pkcs11-tool for tests
	libp11-kit-dev p11-kit softhsm2 opensc
	# unit tests
	libcmocka-dev
	# HTTP API; TOTP second factor
	libjansson-dev libmicrohttpd-dev liboath-dev
	# export encrypted to an OpenPGP key (GPGME and the gpg it drives)
	libgpgme-dev gnupg
	# LwM2M: CoAP/DTLS (libcoap on GnuTLS; its example client and resource
	# directory serve as test peer and benchmark reference), SenML CBOR
	libcoap3-dev libcoap3-bin libcbor-dev
	# integrations: MQTT over TLS (broker and clients for tests), HTTPS client
	libmosquitto-dev mosquitto mosquitto-clients libcurl4-gnutls-dev
	# helpers the test scripts use (TLS scanning and clients included)
	ca-certificates procps psmisc python3 curl openssl sslscan iproute2
	# benchmarks (bench/): load generator and the nginx reference
	wrk nginx-light jq
)

# node may come from somewhere other than Debian; only ask for Debian's when
# there is none on PATH.
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

missing=()
for pkg in "${PACKAGES[@]}"; do
	status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
	if [ "$status" != "installed" ]; then
		missing+=("$pkg")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "install-deps: all ${#PACKAGES[@]} packages already installed"
else
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: missing packages: ${missing[*]}" >&2
		echo "install-deps: run as root, or: sudo apt-get install ${missing[*]}" >&2
		exit 1
	fi
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# npm packages used by tests: installed from tests/node/package.json (and its
# lock file) when the tests that need them exist.
# Skipped when node_modules is newer than both manifests, so a second run
# costs nothing.
NODE_DIR="$ROOT/tests/node"
if [ -f "$NODE_DIR/package.json" ]; then
	stamp="$NODE_DIR/node_modules/.package-lock.json"
	if [ -f "$stamp" ] && [ "$stamp" -nt "$NODE_DIR/package.json" ] &&
		{ [ ! -f "$NODE_DIR/package-lock.json" ] || [ "$stamp" -nt "$NODE_DIR/package-lock.json" ]; }; then
		echo "install-deps: tests/node/node_modules is up to date"
	elif [ -f "$NODE_DIR/package-lock.json" ]; then
		npm ci --prefix "$NODE_DIR" --no-audit --no-fund
	else
		npm install --prefix "$NODE_DIR" --no-audit --no-fund
	fi
fi
