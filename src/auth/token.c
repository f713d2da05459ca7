/* Encoding and hashing of bearer secrets (session tokens, API key secrets):
 * base64url on the wire, SHA-256 in the store. A 256-bit random secret needs
 * no slow hash: nobody can guess it, so a fast one-way hash is enough to make
 * a stolen database useless for logging in. */
#include "auth/auth_internal.h"

#include <nettle/sha2.h>
#include <sodium.h>
#include <string.h>

#define B64_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING

void auth_hash(const uint8_t *in, size_t len, uint8_t out[static AUTH_HASH_LEN])
{
	struct sha256_ctx ctx;
	sha256_init(&ctx);
	sha256_update(&ctx, len, in);
	sha256_digest(&ctx, AUTH_HASH_LEN, out);
	sodium_memzero(&ctx, sizeof(ctx));
}

void auth_b64url_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
	if (cap < sodium_base64_ENCODED_LEN(len, B64_VARIANT)) {
		if (cap > 0)
			out[0] = '\0';
		return;
	}
	sodium_bin2base64(out, cap, in, len, B64_VARIANT);
}

int auth_b64url_decode(const char *in, size_t in_len, uint8_t *out, size_t out_len)
{
	size_t n = 0;
	const char *end = NULL;
	if (sodium_base642bin(out, out_len, in, in_len, NULL, &n, &end, B64_VARIANT) != 0 ||
	    n != out_len || end != in + in_len) {
		sodium_memzero(out, out_len);
		return IV_ERR_INVALID;
	}
	return 0;
}
