/* In-process master key versions for the file and passphrase providers. */
#include "vault/local_keyring.h"
#include "iotvault/log.h"

#include <stdlib.h>

static struct local_version *find(struct local_keyring *kr, uint32_t version)
{
	for (size_t i = 0; i < kr->count; i++)
		if (kr->versions[i].version == version)
			return &kr->versions[i];
	return NULL;
}

int local_keyring_add(struct local_keyring *kr, uint32_t version,
		      const uint8_t key[static AEAD_KEY_LEN])
{
	struct local_version *v = find(kr, version), *grown;
	if (v != NULL) {
		aead_key_set(v->key, key);
		return 0;
	}
	/* the array holds only version numbers and pointers to secure memory */
	grown = realloc(kr->versions, (kr->count + 1) * sizeof(*grown));
	if (grown == NULL)
		return IV_ERR_NOMEM;
	kr->versions = grown;
	if ((grown[kr->count].key = aead_key_new(key)) == NULL)
		return IV_ERR_NOMEM;
	grown[kr->count].version = version;
	kr->count++;
	return 0;
}

void local_keyring_remove(struct local_keyring *kr, uint32_t version)
{
	struct local_version *v = find(kr, version);
	if (v == NULL)
		return;
	aead_key_free(v->key);
	*v = kr->versions[--kr->count];
}

int local_keyring_wrap(struct local_keyring *kr, uint32_t version, const uint8_t *aad,
		       size_t aad_len, const uint8_t dek[static DEK_LEN],
		       uint8_t out[static WRAPPED_DEK_LEN])
{
	struct local_version *v = find(kr, version);
	if (v == NULL) {
		log_error("vault: master key version %u is not loaded", version);
		return IV_ERR_MASTER_KEY;
	}
	random_bytes(out, AEAD_NONCE_LEN);
	aead_seal(v->key, out, aad, aad_len, dek, DEK_LEN, out + AEAD_NONCE_LEN);
	return 0;
}

int local_keyring_unwrap(struct local_keyring *kr, uint32_t version, const uint8_t *aad,
			 size_t aad_len, const uint8_t *wrapped, size_t wrapped_len,
			 uint8_t dek[static DEK_LEN])
{
	struct local_version *v = find(kr, version);
	if (v == NULL) {
		log_error("vault: master key version %u is not loaded", version);
		return IV_ERR_MASTER_KEY;
	}
	if (wrapped_len != WRAPPED_DEK_LEN)
		return IV_ERR_INVALID;
	return aead_open(v->key, wrapped, aad, aad_len, wrapped + AEAD_NONCE_LEN,
			 wrapped_len - AEAD_NONCE_LEN, dek);
}

void local_keyring_clear(struct local_keyring *kr)
{
	for (size_t i = 0; i < kr->count; i++)
		aead_key_free(kr->versions[i].key);
	free(kr->versions);
	kr->versions = NULL;
	kr->count = 0;
}
