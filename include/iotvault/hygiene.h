/* Key hygiene: weak-key detection (a dictionary of published and vendor-default
 * keys, structural patterns, derivations from the device's own identifiers),
 * keyed fingerprints that find duplicate keys without decrypting the fleet,
 * and generation of keys and PSK identities. Pure functions: no store, no
 * logging, no allocation on the checking path.
 *
 * Every finding names its rule and carries a message made only of fixed text
 * (and the key length): key material never appears in a finding. The checks
 * run in time independent of the key's value apart from what the findings
 * themselves reveal (no early exit, constant-time comparisons). */
#ifndef IOTVAULT_HYGIENE_H
#define IOTVAULT_HYGIENE_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/errors.h"
#include "iotvault/hex.h"

/* Keys the checker accepts: 1..HYGIENE_KEY_MAX_LEN bytes (a LoRaWAN root key
 * is 16, an LwM2M PSK 16..64). Shorter than HYGIENE_KEY_MIN_LEN is a finding
 * ("length.short"); keys are generated at HYGIENE_KEY_MIN_LEN or more. */
#define HYGIENE_KEY_MIN_LEN 16
#define HYGIENE_KEY_MAX_LEN 64
/* Longest endpoint name / PSK identity the derivation rules take. */
#define HYGIENE_IDENTITY_MAX 128
#define HYGIENE_MESSAGE_MAX 160
/* Enough for every rule firing at once; a caller may pass fewer. */
#define HYGIENE_FINDINGS_MAX 48

/* hygiene_context.flags */
#define HYGIENE_HAVE_DEV_EUI 0x1u
#define HYGIENE_HAVE_JOIN_EUI 0x2u

/* What is known about the device that owns the key. The EUIs are given
 * big-endian, as humans write them; the rules also try the reversed
 * (little-endian, LMIC "LSB first") order. */
struct hygiene_context {
	unsigned flags;
	uint8_t dev_eui[EUI_LEN];
	uint8_t join_eui[EUI_LEN];
	const char *endpoint;     /* LwM2M endpoint client name, or NULL */
	const char *psk_identity; /* LwM2M/DTLS PSK identity, or NULL */
	/* Private: candidates computed by hygiene_context_prepare(). NULL means
	 * they are computed (and wiped) on each hygiene_check_key() call. */
	struct hygiene_derived *derived;
};

struct hygiene_finding {
	const char *rule; /* static rule id, e.g. "pattern.repeated_byte" */
	char message[HYGIENE_MESSAGE_MAX];
};

struct hygiene_rule {
	const char *id;
	const char *summary;
};

/* Zeroes CTX (no identifiers, nothing prepared). */
void hygiene_context_init(struct hygiene_context *ctx);
/* Precomputes the identifier-derived candidates (hashes of the EUIs, endpoint
 * and identity) into guarded memory held by CTX, so that checking several keys
 * of one device, or a fleet with one context re-prepared per device, costs no
 * hashing per key. Call again after changing any identifier: a check against
 * a stale preparation fails with IV_ERR_INVALID. */
int hygiene_context_prepare(struct hygiene_context *ctx) IV_WUR;
/* Wipes and frees what prepare allocated, and zeroes CTX. */
void hygiene_context_clear(struct hygiene_context *ctx);

/* Runs every rule over KEY. CTX may be NULL (no device identifiers). Up to MAX
 * findings are written to OUT (which may be NULL when MAX is 0); *N receives
 * how many rules fired, which may exceed MAX. Each rule fires at most once.
 * Returns 0, or IV_ERR_INVALID for a length outside 1..HYGIENE_KEY_MAX_LEN, a
 * NULL argument, an over-long identifier or a stale preparation. */
int hygiene_check_key(const uint8_t *key, size_t len, const struct hygiene_context *ctx,
		      struct hygiene_finding *out, size_t max, size_t *n) IV_WUR;

/* Every rule a finding can carry, for reports that count per rule:
 * hygiene_rule_get(i) for i < hygiene_rule_count(); NULL past the end. */
size_t hygiene_rule_count(void);
const struct hygiene_rule *hygiene_rule_get(size_t i);

/* ---- duplicate detection ---- */

#define HYGIENE_FP_KEY_LEN 32
#define HYGIENE_FP_LEN 32
#define HYGIENE_FP_HEX_LEN (2 * HYGIENE_FP_LEN)

/* Keyed fingerprint of a stored key: HMAC-SHA256 under FP_KEY (held by the
 * vault, never stored beside the fingerprints) over
 *   "iotvault.hygiene.fingerprint.v1" 0x00 class 0x00 len(2 bytes, big-endian) key
 * FIELD is the secret's field name; it selects the class:
 *   "app_key", "nwk_key", "psk"  ->  "device-root-key"
 * All device root keys share one class on purpose: the same bytes used as the
 * AppKey and NwkKey of one device, as AppKeys of two devices, or as an AppKey
 * here and a DTLS PSK there are all the reuse this index exists to find. The
 * label and class keep these fingerprints apart from any other HMAC under the
 * same key; a future kind of secret (e.g. peer KEKs) gets a class of its own.
 * IV_ERR_INVALID for an unknown field or a length outside 1..HYGIENE_KEY_MAX_LEN. */
int hygiene_fingerprint(const uint8_t fp_key[static HYGIENE_FP_KEY_LEN], const char *field,
			const uint8_t *key, size_t len, uint8_t out[static HYGIENE_FP_LEN]) IV_WUR;
/* The form stored in the indexed column: 64 upper-case hex digits + NUL. */
void hygiene_fingerprint_format(const uint8_t fp[static HYGIENE_FP_LEN],
				char out[static HYGIENE_FP_HEX_LEN + 1]);
/* hygiene_fingerprint() then hygiene_fingerprint_format(). */
int hygiene_fingerprint_hex(const uint8_t fp_key[static HYGIENE_FP_KEY_LEN], const char *field,
			    const uint8_t *key, size_t len,
			    char out[static HYGIENE_FP_HEX_LEN + 1]) IV_WUR;

/* ---- generation ---- */

/* LEN (HYGIENE_KEY_MIN_LEN..HYGIENE_KEY_MAX_LEN) bytes from the CSPRNG,
 * drawn again in the (astronomically unlikely) case a rule flags them. A
 * generator whose output keeps being flagged is broken: IV_ERR_CRYPTO, OUT
 * wiped. */
int hygiene_generate_key(uint8_t *out, size_t len) IV_WUR;

/* Random part of a PSK identity: 10 bytes (80 bits), RFC 4648 base32 without
 * padding (16 characters). */
#define HYGIENE_PSK_IDENTITY_RANDOM_LEN 10
#define HYGIENE_PSK_IDENTITY_RANDOM_CHARS 16
#define HYGIENE_PSK_IDENTITY_PREFIX_MAX 64
/* Writes "<prefix>-<base32>" (or just "<base32>" when PREFIX is NULL or
 * empty) into OUT. PREFIX: up to HYGIENE_PSK_IDENTITY_PREFIX_MAX characters
 * from [A-Za-z0-9._:-]. IV_ERR_INVALID for a bad prefix or a CAP too small. */
int hygiene_generate_psk_identity(char *out, size_t cap, const char *prefix) IV_WUR;

#endif
