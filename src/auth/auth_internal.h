/* Helpers shared by the files of the authentication layer. */
#ifndef IOTVAULT_AUTH_INTERNAL_H
#define IOTVAULT_AUTH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/auth.h"
#include "iotvault/store_auth.h"

/* The Argon2id hash that logins of unknown accounts verify against. */
const char *password_policy_dummy_hash(const struct password_policy *pp);

/* SHA-256 of a session token or API key secret: what the store keeps. */
void auth_hash(const uint8_t *in, size_t len, uint8_t out[static AUTH_HASH_LEN]);
/* base64url without padding; OUT holds sodium_base64_ENCODED_LEN bytes. */
void auth_b64url_encode(const uint8_t *in, size_t len, char *out, size_t cap);
/* Decodes exactly OUT_LEN bytes; IV_ERR_INVALID otherwise. */
int auth_b64url_decode(const char *in, size_t in_len, uint8_t *out, size_t out_len) IV_WUR;

#endif
