/* Keyed fingerprints of stored keys, so that a duplicate is one index lookup
 * instead of decrypting the fleet. HMAC-SHA256 under a vault-held key: without
 * that key a fingerprint cannot be tested against guessed keys (a plain hash
 * of a 128-bit key could not be inverted either, but a plain hash of a
 * dictionary key or a short PSK could). The encoding is part of the stored
 * data: changing it means rebuilding every fingerprint, hence the version in
 * the label. */
#include "iotvault/hygiene.h"

#include <nettle/hmac.h>
#include <string.h>

#include "iotvault/secmem.h"

static const char FP_LABEL[] = "iotvault.hygiene.fingerprint.v1";

struct fp_class {
	const char *field;
	const char *cls;
};

/* See hygiene.h for why every device root key shares one class. */
static const struct fp_class fp_classes[] = {
	{"app_key", "device-root-key"},
	{"nwk_key", "device-root-key"},
	{"psk", "device-root-key"},
};

static const char *fingerprint_class(const char *field)
{
	if (field == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(fp_classes) / sizeof(fp_classes[0]); i++)
		if (strcmp(fp_classes[i].field, field) == 0)
			return fp_classes[i].cls;
	return NULL;
}

int hygiene_fingerprint(const uint8_t fp_key[static HYGIENE_FP_KEY_LEN], const char *field,
			const uint8_t *key, size_t len, uint8_t out[static HYGIENE_FP_LEN])
{
	struct hmac_sha256_ctx ctx;
	const char *cls = fingerprint_class(field);
	const uint8_t zero = 0;
	uint8_t len_be[2];

	if (cls == NULL || key == NULL || len == 0 || len > HYGIENE_KEY_MAX_LEN)
		return IV_ERR_INVALID;
	len_be[0] = (uint8_t)(len >> 8);
	len_be[1] = (uint8_t)len;

	/* label 0x00 class 0x00 len key: the NULs and the length make the
	 * encoding injective, so no two (class, key) pairs share an input */
	hmac_sha256_set_key(&ctx, HYGIENE_FP_KEY_LEN, fp_key);
	hmac_sha256_update(&ctx, sizeof(FP_LABEL) - 1, (const uint8_t *)FP_LABEL);
	hmac_sha256_update(&ctx, 1, &zero);
	hmac_sha256_update(&ctx, strlen(cls), (const uint8_t *)cls);
	hmac_sha256_update(&ctx, 1, &zero);
	hmac_sha256_update(&ctx, sizeof(len_be), len_be);
	hmac_sha256_update(&ctx, len, key);
	hmac_sha256_digest(&ctx, HYGIENE_FP_LEN, out);
	/* the context holds the fingerprint key's pads and key-dependent state */
	secmem_wipe(&ctx, sizeof(ctx));
	return 0;
}

void hygiene_fingerprint_format(const uint8_t fp[static HYGIENE_FP_LEN],
				char out[static HYGIENE_FP_HEX_LEN + 1])
{
	hex_encode_upper(fp, HYGIENE_FP_LEN, out);
}

int hygiene_fingerprint_hex(const uint8_t fp_key[static HYGIENE_FP_KEY_LEN], const char *field,
			    const uint8_t *key, size_t len, char out[static HYGIENE_FP_HEX_LEN + 1])
{
	uint8_t fp[HYGIENE_FP_LEN];
	int r;

	if ((r = hygiene_fingerprint(fp_key, field, key, len, fp)) != 0)
		return r;
	hygiene_fingerprint_format(fp, out);
	return 0;
}
