/* Randomness and password helpers on libsodium. */
#include "iotvault/crypto.h"
#include "iotvault/secmem.h"

#include <sodium.h>
#include <string.h>

void random_bytes(void *out, size_t len) { randombytes_buf(out, len); }

uint32_t random_uniform(uint32_t upper) { return randombytes_uniform(upper); }

int pwhash_hash(const char *password, size_t len, char out[static PWHASH_STR_LEN])
{
	if (crypto_pwhash_str_alg(out, password, len, PWHASH_OPSLIMIT, PWHASH_MEMLIMIT,
				  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return IV_ERR_NOMEM;
	return 0;
}

int pwhash_verify(const char *hash, const char *password, size_t len)
{
	return crypto_pwhash_str_verify(hash, password, len) == 0 ? 0 : IV_ERR_AUTH_TAG;
}

int pwhash_derive_key(uint8_t *out, size_t out_len, const char *passphrase, size_t len,
		      const uint8_t salt[static KDF_SALT_LEN], uint64_t opslimit, size_t memlimit)
{
	if (crypto_pwhash(out, out_len, passphrase, len, salt, opslimit, memlimit,
			  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return IV_ERR_NOMEM;
	return 0;
}

void password_generate(char *out, size_t len)
{
	/* no 0/O, 1/l/I: read aloud and typed from paper */
	static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	for (size_t i = 0; i < len; i++)
		out[i] = alphabet[randombytes_uniform((uint32_t)(sizeof(alphabet) - 1))];
	out[len] = '\0';
}
