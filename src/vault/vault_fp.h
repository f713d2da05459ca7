/* Private to the vault's own files: the fingerprint key held by the vault
 * (src/vault/vault.c) as used by its hygiene operations (hygiene_ops.c). */
#ifndef IOTVAULT_VAULT_FP_H
#define IOTVAULT_VAULT_FP_H

#include <stdint.h>

#include "iotvault/vault.h"
#include "iotvault/vault_hygiene.h"

/* Loads the fingerprint key again when hygiene_state names another version
 * than the one held (another process rotated it). IV_ERR_NOT_FOUND when the
 * data directory has no fingerprint key yet. */
int vault_fp_refresh(struct vault *v) IV_WUR;
/* Generates, seals and installs a new fingerprint key as VERSION, inside the
 * caller's write transaction. */
int vault_fp_install_new(struct vault *v, int64_t version) IV_WUR;
const uint8_t *vault_fp_key(const struct vault *v);
int64_t vault_fp_version(const struct vault *v);
int vault_batch_size(const struct vault *v);

#endif
