/* The vault: envelope encryption of every secret field, the master key
 * keyring and its rotation, and the vault-held keys (audit MAC key). The rest
 * of the program asks the vault for operations and never handles a master
 * key; it receives a plaintext secret only through vault_reveal, which writes
 * the audit record first.
 *
 * Envelope (format 1): a random 32-byte data key (DEK) seals the secret with
 * AES-256-GCM; AAD = "iotvault/secret/1" | tenant | owner kind | owner id |
 * field | format. The DEK is wrapped by the provider under master key version
 * N with AAD = "iotvault/dek/1" | the same fields | N. A ciphertext or wrapped
 * key moved to another row, field, tenant or version fails to open. */
#ifndef IOTVAULT_VAULT_H
#define IOTVAULT_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/config.h"
#include "iotvault/errors.h"
#include "iotvault/secmem.h"
#include "iotvault/store.h"

#define SECRET_FORMAT_V1 1

struct vault;
struct mk_provider;

struct secret_ref {
	int64_t tenant_id;
	const char *owner_kind; /* "device", "system" */
	int64_t owner_id;
	const char *field;
};

/* Who does something, for the audit log. */
struct audit_actor {
	const char *type;   /* "cli", "user", "apikey", "peer", "system" */
	const char *name;
	const char *source; /* address or "local" */
};

/* Creates master key version 1 and the vault-held keys in an empty store, and
 * writes the first audit record, "vault.init" (used by `init`). */
int vault_create(const struct config *cfg, struct store *st, struct mk_provider *prov,
		 const struct audit_actor *actor, struct vault **out) IV_WUR;
/* Loads every active master key version, checks each against its check blob,
 * and opens the vault-held keys. Takes ownership of PROV. */
int vault_open(const struct config *cfg, struct store *st, struct mk_provider *prov,
	       struct vault **out) IV_WUR;
void vault_free(struct vault *v);

/* Seals PLAINTEXT for REF under the current master key version and stores it
 * (insert or replace). Run inside the caller's transaction. */
int vault_seal(struct vault *v, const struct secret_ref *ref, const uint8_t *plaintext,
	       size_t len) IV_WUR;
/* The envelope alone, without the store: seal PLAINTEXT for REF into REC, and
 * open REC (which must have been sealed for the same REF) into *OUT. Used by
 * vault_seal/vault_reveal and by bench/vault; not an unaudited way around
 * vault_reveal for callers outside the vault and its protocol operations. */
int vault_envelope_seal(struct vault *v, const struct secret_ref *ref, const uint8_t *plaintext,
			size_t len, struct secret_record *rec) IV_WUR;
int vault_envelope_open(struct vault *v, const struct secret_ref *ref,
			const struct secret_record *rec, struct secbuf **out) IV_WUR;
/* 0 when a secret exists for REF, IV_ERR_NOT_FOUND otherwise. */
int vault_secret_exists(struct vault *v, const struct secret_ref *ref) IV_WUR;
/* Audited reveal: writes the audit record (action "key.reveal"), and only if
 * that succeeded opens the secret into *OUT (secure memory; caller frees with
 * secbuf_free). */
int vault_reveal(struct vault *v, const struct audit_actor *actor, const struct secret_ref *ref,
		 struct secbuf **out) IV_WUR;

/* The current (highest active) master key version. */
uint32_t vault_current_version(const struct vault *v);

struct rotation_progress {
	uint32_t from_below; /* secrets below this version are re-wrapped */
	uint32_t to_version;
	int resumed;         /* 1 when an interrupted rotation was continued */
	int64_t rewrapped;
	int64_t remaining;
};
typedef void (*vault_progress_cb)(void *ctx, const struct rotation_progress *p);

/* Adds a master key version (or resumes an interrupted rotation) and re-wraps
 * every data key in batches of cfg->rotation_batch_size, one transaction per
 * batch, so readers and writers keep working and a crash loses at most the
 * batch in flight. */
int vault_rotate(struct vault *v, const struct audit_actor *actor, vault_progress_cb cb,
		 void *ctx, struct rotation_progress *result) IV_WUR;
/* Retires and destroys every active version below BELOW. IV_ERR_REFUSED when
 * a secret still depends on one, or BELOW would retire the current version. */
int vault_retire(struct vault *v, const struct audit_actor *actor, uint32_t below,
		 int64_t *still_dependent) IV_WUR;
/* Re-reads the keyring from the store (another process rotated). */
int vault_reload(struct vault *v) IV_WUR;

/* HMAC-SHA256 under the vault-held audit key. */
int vault_audit_mac(struct vault *v, const uint8_t *msg, size_t len, uint8_t out[static 32]) IV_WUR;
struct store *vault_store(struct vault *v);

#endif
