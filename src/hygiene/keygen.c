/* Generation of keys and PSK identities from the libsodium CSPRNG. A generated
 * key is run through the weak-key rules like any imported one: a healthy
 * generator is flagged with probability ~1e-10 per key (and then simply
 * drawn again), so a generator that keeps producing flagged keys (stuck at
 * zero, repeating) is broken, and that is reported instead of a bad key. */
#include "iotvault/hygiene.h"

#include <stdio.h>
#include <string.h>

#include "iotvault/crypto.h"
#include "iotvault/secmem.h"

/* Three flagged draws in a row happen by chance with probability ~1e-30. */
#define KEYGEN_ATTEMPTS 3

int hygiene_generate_key(uint8_t *out, size_t len)
{
	struct hygiene_finding findings[1];
	size_t n = 0;
	int r;

	if (out == NULL || len < HYGIENE_KEY_MIN_LEN || len > HYGIENE_KEY_MAX_LEN)
		return IV_ERR_INVALID;
	for (int attempt = 0; attempt < KEYGEN_ATTEMPTS; attempt++) {
		random_bytes(out, len);
		if ((r = hygiene_check_key(out, len, NULL, findings, 1, &n)) != 0)
			goto fail;
		if (n == 0)
			return 0;
	}
	r = IV_ERR_CRYPTO;
fail:
	secmem_wipe(out, len);
	return r;
}

/* RFC 4648 base32 of exactly 10 bytes: 80 bits, 16 characters, no padding. */
static void base32_encode10(const uint8_t in[static HYGIENE_PSK_IDENTITY_RANDOM_LEN],
			    char out[static HYGIENE_PSK_IDENTITY_RANDOM_CHARS])
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	size_t o = 0;
	for (size_t i = 0; i < HYGIENE_PSK_IDENTITY_RANDOM_LEN; i += 5) {
		uint64_t v = 0;
		for (size_t j = 0; j < 5; j++)
			v = (v << 8) | in[i + j];
		for (int k = 7; k >= 0; k--)
			out[o++] = alphabet[(v >> (5 * k)) & 31];
	}
}

static int prefix_valid(const char *prefix, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char ch = prefix[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '_' || ch == ':' || ch == '-'))
			return 0;
	}
	return 1;
}

int hygiene_generate_psk_identity(char *out, size_t cap, const char *prefix)
{
	uint8_t raw[HYGIENE_PSK_IDENTITY_RANDOM_LEN];
	char encoded[HYGIENE_PSK_IDENTITY_RANDOM_CHARS];
	size_t prefix_len = 0, need;
	int w;

	if (out == NULL)
		return IV_ERR_INVALID;
	if (prefix != NULL) {
		prefix_len = strnlen(prefix, HYGIENE_PSK_IDENTITY_PREFIX_MAX + 1);
		if (prefix_len > HYGIENE_PSK_IDENTITY_PREFIX_MAX || !prefix_valid(prefix, prefix_len))
			return IV_ERR_INVALID;
	}
	need = (prefix_len ? prefix_len + 1 : 0) + HYGIENE_PSK_IDENTITY_RANDOM_CHARS + 1;
	if (cap < need)
		return IV_ERR_INVALID;

	random_bytes(raw, sizeof(raw));
	base32_encode10(raw, encoded);
	if (prefix_len)
		w = snprintf(out, cap, "%.*s-%.*s", (int)prefix_len, prefix,
			     HYGIENE_PSK_IDENTITY_RANDOM_CHARS, encoded);
	else
		w = snprintf(out, cap, "%.*s", HYGIENE_PSK_IDENTITY_RANDOM_CHARS, encoded);
	/* an identity is not secret, but its randomness need not linger */
	secmem_wipe(raw, sizeof(raw));
	secmem_wipe(encoded, sizeof(encoded));
	return (w > 0 && (size_t)w + 1 == need) ? 0 : IV_ERR_INTERNAL;
}
