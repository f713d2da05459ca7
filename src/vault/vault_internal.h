/* Private to the vault's own files: opening a stored secret without the
 * audit record of vault_reveal, for the vault's protocol operations. */
#ifndef IOTVAULT_VAULT_INTERNAL_H
#define IOTVAULT_VAULT_INTERNAL_H

#include "iotvault/vault.h"

/* Fetches the secret of REF from the store and opens it into *OUT. */
int vault_fetch_open(struct vault *v, const struct secret_ref *ref, struct secbuf **out) IV_WUR;

#endif
