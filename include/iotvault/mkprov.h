/* Master-key providers. A provider holds the master key versions and offers
 * exactly two operations on them: wrap and unwrap a 32-byte data key with
 * AES-256-GCM under a given version. Whether the master key is a file, is
 * derived from a passphrase, or never leaves a PKCS#11 token is invisible to
 * the vault. */
#ifndef IOTVAULT_MKPROV_H
#define IOTVAULT_MKPROV_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/config.h"
#include "iotvault/errors.h"

#define DEK_LEN 32
/* nonce(12) || AES-256-GCM(dek)(32) || tag(16) */
#define WRAPPED_DEK_LEN (12 + DEK_LEN + 16)

struct mk_provider;

struct mk_provider_ops {
	const char *name;
	/* Creates fresh key material for VERSION, replacing any leftover material of
	 * that version (which no record can use: versions are recorded in the
	 * store only after this returns). PARAMS (not secret, at most
	 * MK_PARAMS_MAX bytes) is stored with the version and handed back to
	 * load_version. */
	int (*create_version)(struct mk_provider *p, uint32_t version, uint8_t *params,
			      size_t *params_len);
	/* Makes VERSION usable in this process. */
	int (*load_version)(struct mk_provider *p, uint32_t version, const uint8_t *params,
			    size_t params_len);
	int (*wrap)(struct mk_provider *p, uint32_t version, const uint8_t *aad, size_t aad_len,
		    const uint8_t dek[static DEK_LEN], uint8_t out[static WRAPPED_DEK_LEN]);
	/* IV_ERR_AUTH_TAG when the wrapped key or its AAD was altered. */
	int (*unwrap)(struct mk_provider *p, uint32_t version, const uint8_t *aad, size_t aad_len,
		      const uint8_t *wrapped, size_t wrapped_len, uint8_t dek[static DEK_LEN]);
	/* Destroys the material of a retired version (file removed, token object
	 * destroyed). */
	int (*destroy_version)(struct mk_provider *p, uint32_t version);
	void (*free)(struct mk_provider *p);
};

struct mk_provider {
	const struct mk_provider_ops *ops;
};

/* file: DIR/<key_dir>/master-v<N>.key, 32 random bytes, mode 0600. Refuses
 * (IV_ERR_PERMISSIONS) when the data directory, the key directory or a key
 * file is accessible to group or others. */
int mk_provider_file_new(const struct config *cfg, struct mk_provider **out) IV_WUR;
/* passphrase: KEK(version) = Argon2id(passphrase, salt(version)). The
 * passphrase is read from the environment variable named in the config or,
 * when ALLOW_PROMPT and stdin is a terminal, from a prompt without echo. */
int mk_provider_passphrase_new(const struct config *cfg, int allow_prompt,
			       struct mk_provider **out) IV_WUR;
/* pkcs11: version N is a non-extractable, sensitive AES-256 secret key object
 * labelled "<pkcs11_key_label>-v<N>" on the token labelled pkcs11_token_label,
 * used with CKM_AES_GCM. The user PIN comes from the environment variable
 * named by pkcs11_pin_env. */
int mk_provider_pkcs11_new(const struct config *cfg, struct mk_provider **out) IV_WUR;

/* Dispatches on cfg->mk_provider. */
int mk_provider_new(const struct config *cfg, int allow_prompt, struct mk_provider **out) IV_WUR;
void mk_provider_free(struct mk_provider *p);

#endif
