/* AES-256-GCM through Nettle. The expanded key (a key schedule, so key
 * material) is allocated in secure memory. */
#include "iotvault/crypto.h"
#include "iotvault/secmem.h"

#include <nettle/gcm.h>

struct aead_key {
	struct gcm_aes256_ctx ctx;
};

struct aead_key *aead_key_new(const uint8_t key[static AEAD_KEY_LEN])
{
	struct aead_key *k = secmem_alloc(sizeof(*k));
	if (k != NULL)
		gcm_aes256_set_key(&k->ctx, key);
	return k;
}

void aead_key_set(struct aead_key *k, const uint8_t key[static AEAD_KEY_LEN])
{
	gcm_aes256_set_key(&k->ctx, key);
}

void aead_key_free(struct aead_key *k)
{
	secmem_free(k);
}

void aead_seal(struct aead_key *k, const uint8_t nonce[static AEAD_NONCE_LEN], const uint8_t *aad,
	       size_t aad_len, const uint8_t *in, size_t len, uint8_t *out)
{
	gcm_aes256_set_iv(&k->ctx, AEAD_NONCE_LEN, nonce);
	if (aad_len)
		gcm_aes256_update(&k->ctx, aad_len, aad);
	if (len)
		gcm_aes256_encrypt(&k->ctx, len, out, in);
	gcm_aes256_digest(&k->ctx, AEAD_TAG_LEN, out + len);
}

int aead_open(struct aead_key *k, const uint8_t nonce[static AEAD_NONCE_LEN], const uint8_t *aad,
	      size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out)
{
	uint8_t tag[AEAD_TAG_LEN];
	size_t len;
	int ok;

	if (in_len < AEAD_TAG_LEN)
		return IV_ERR_TRUNCATED;
	len = in_len - AEAD_TAG_LEN;
	gcm_aes256_set_iv(&k->ctx, AEAD_NONCE_LEN, nonce);
	if (aad_len)
		gcm_aes256_update(&k->ctx, aad_len, aad);
	if (len)
		gcm_aes256_decrypt(&k->ctx, len, out, in);
	gcm_aes256_digest(&k->ctx, AEAD_TAG_LEN, tag);
	ok = secmem_equal(tag, in + len, AEAD_TAG_LEN) == 0;
	secmem_wipe(tag, sizeof(tag));
	if (!ok) {
		if (len)
			secmem_wipe(out, len);
		return IV_ERR_AUTH_TAG;
	}
	return 0;
}
