/* Thin wrappers over Nettle and libsodium primitives. Sizes are named
 * constants; contexts that hold key schedules live in secure memory. */
#ifndef IOTVAULT_CRYPTO_H
#define IOTVAULT_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/errors.h"

#define AEAD_KEY_LEN 32
#define AEAD_NONCE_LEN 12
#define AEAD_TAG_LEN 16
#define HMAC_SHA256_LEN 32
#define KEYWRAP_KEK_LEN 16
#define KEYWRAP_OVERHEAD 8
#define CMAC_LEN 16

/* ---- AES-256-GCM (Nettle) ---- */
struct aead_key; /* expanded key schedule, kept in secure memory */

struct aead_key *aead_key_new(const uint8_t key[static AEAD_KEY_LEN]);
void aead_key_free(struct aead_key *k);
/* Re-keys an existing context (no allocation): used on hot paths. */
void aead_key_set(struct aead_key *k, const uint8_t key[static AEAD_KEY_LEN]);
/* OUT receives LEN bytes of ciphertext followed by AEAD_TAG_LEN bytes of tag. */
void aead_seal(struct aead_key *k, const uint8_t nonce[static AEAD_NONCE_LEN], const uint8_t *aad,
	       size_t aad_len, const uint8_t *in, size_t len, uint8_t *out);
/* IN is ciphertext||tag (IN_LEN >= AEAD_TAG_LEN); OUT receives IN_LEN-AEAD_TAG_LEN
 * bytes. On tag mismatch OUT is wiped and IV_ERR_AUTH_TAG returned. */
int aead_open(struct aead_key *k, const uint8_t nonce[static AEAD_NONCE_LEN], const uint8_t *aad,
	      size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out) IV_WUR;

/* ---- HMAC-SHA256 (Nettle) ---- */
void hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
		 uint8_t out[static HMAC_SHA256_LEN]);

/* ---- RFC 3394 AES key wrap with a 128-bit KEK (Nettle nist-keywrap) ---- */
/* OUT holds LEN + KEYWRAP_OVERHEAD bytes; LEN is a multiple of 8, >= 16. */
int keywrap_wrap(const uint8_t kek[static KEYWRAP_KEK_LEN], const uint8_t *key, size_t len,
		 uint8_t *out) IV_WUR;
int keywrap_unwrap(const uint8_t kek[static KEYWRAP_KEK_LEN], const uint8_t *wrapped,
		   size_t wrapped_len, uint8_t *out) IV_WUR;

/* ---- AES-128-CMAC (Nettle), RFC 4493 ---- */
void cmac_aes128(const uint8_t key[static 16], const uint8_t *msg, size_t len,
		 uint8_t out[static CMAC_LEN]);

/* ---- randomness (libsodium CSPRNG) ---- */
void random_bytes(void *out, size_t len);
/* Uniform in [0, upper). */
uint32_t random_uniform(uint32_t upper);

/* ---- passwords (libsodium Argon2id) ---- */
#define PWHASH_STR_LEN 128
/* OWASP minimum for Argon2id: m = 19 MiB, t = 2, p = 1. */
#define PWHASH_OPSLIMIT 2
#define PWHASH_MEMLIMIT (19u * 1024u * 1024u)
int pwhash_hash(const char *password, size_t len, char out[static PWHASH_STR_LEN]) IV_WUR;
/* 0 when the password matches. */
int pwhash_verify(const char *hash, const char *password, size_t len) IV_WUR;
/* Argon2id key derivation with an explicit salt, for passphrase-derived KEKs. */
#define KDF_SALT_LEN 16
int pwhash_derive_key(uint8_t *out, size_t out_len, const char *passphrase, size_t len,
		      const uint8_t salt[static KDF_SALT_LEN], uint64_t opslimit,
		      size_t memlimit) IV_WUR;
/* A random password of LEN characters from an unambiguous alphabet (NUL-terminated;
 * OUT holds LEN+1 bytes). */
void password_generate(char *out, size_t len);

#endif
