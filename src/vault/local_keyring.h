/* Master key versions held in this process (file and passphrase providers):
 * one expanded AES-256-GCM key per version, in secure memory. */
#ifndef IOTVAULT_VAULT_LOCAL_KEYRING_H
#define IOTVAULT_VAULT_LOCAL_KEYRING_H

#include "iotvault/crypto.h"
#include "iotvault/mkprov.h"

struct local_keyring {
	struct local_version {
		uint32_t version;
		struct aead_key *key;
	} *versions;
	size_t count;
};

int local_keyring_add(struct local_keyring *kr, uint32_t version,
		      const uint8_t key[static AEAD_KEY_LEN]) IV_WUR;
void local_keyring_remove(struct local_keyring *kr, uint32_t version);
int local_keyring_wrap(struct local_keyring *kr, uint32_t version, const uint8_t *aad,
		       size_t aad_len, const uint8_t dek[static DEK_LEN],
		       uint8_t out[static WRAPPED_DEK_LEN]) IV_WUR;
int local_keyring_unwrap(struct local_keyring *kr, uint32_t version, const uint8_t *aad,
			 size_t aad_len, const uint8_t *wrapped, size_t wrapped_len,
			 uint8_t dek[static DEK_LEN]) IV_WUR;
void local_keyring_clear(struct local_keyring *kr);

#endif
