/* RFC 3394 AES key wrap (128-bit KEK, as LoRaWAN Backend Interfaces use it)
 * through Nettle's nist-keywrap. */
#include "iotvault/crypto.h"
#include "iotvault/secmem.h"

#include <nettle/aes.h>
#include <nettle/nist-keywrap.h>

static const uint8_t default_iv[8] = {0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6};

int keywrap_wrap(const uint8_t kek[static KEYWRAP_KEK_LEN], const uint8_t *key, size_t len,
		 uint8_t *out)
{
	struct aes128_ctx ctx;
	if (len < 16 || len % 8 != 0)
		return IV_ERR_INVALID;
	aes128_set_encrypt_key(&ctx, kek);
	aes128_keywrap(&ctx, default_iv, len + KEYWRAP_OVERHEAD, out, key);
	secmem_wipe(&ctx, sizeof(ctx));
	return 0;
}

int keywrap_unwrap(const uint8_t kek[static KEYWRAP_KEK_LEN], const uint8_t *wrapped,
		   size_t wrapped_len, uint8_t *out)
{
	struct aes128_ctx ctx;
	int ok;
	if (wrapped_len < 16 + KEYWRAP_OVERHEAD || wrapped_len % 8 != 0)
		return IV_ERR_INVALID;
	aes128_set_decrypt_key(&ctx, kek);
	ok = aes128_keyunwrap(&ctx, default_iv, wrapped_len - KEYWRAP_OVERHEAD, out, wrapped);
	secmem_wipe(&ctx, sizeof(ctx));
	if (!ok) {
		secmem_wipe(out, wrapped_len - KEYWRAP_OVERHEAD);
		return IV_ERR_AUTH_TAG;
	}
	return 0;
}
