/* HMAC-SHA256 and AES-128-CMAC through Nettle. Contexts hold key schedules and
 * are wiped before returning. */
#include "iotvault/crypto.h"
#include "iotvault/secmem.h"

#include <nettle/cmac.h>
#include <nettle/hmac.h>

void hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
		 uint8_t out[static HMAC_SHA256_LEN])
{
	struct hmac_sha256_ctx ctx;
	hmac_sha256_set_key(&ctx, key_len, key);
	hmac_sha256_update(&ctx, msg_len, msg);
	hmac_sha256_digest(&ctx, HMAC_SHA256_LEN, out);
	secmem_wipe(&ctx, sizeof(ctx));
}

void cmac_aes128(const uint8_t key[static 16], const uint8_t *msg, size_t len,
		 uint8_t out[static CMAC_LEN])
{
	struct cmac_aes128_ctx ctx;
	cmac_aes128_set_key(&ctx, key);
	cmac_aes128_update(&ctx, len, msg);
	cmac_aes128_digest(&ctx, CMAC_LEN, out);
	secmem_wipe(&ctx, sizeof(ctx));
}
