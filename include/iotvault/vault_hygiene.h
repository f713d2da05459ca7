/* Key-hygiene operations of the vault: they need the plaintext of device keys
 * or the vault-held fingerprint key, so they run inside the vault and hand
 * back only findings, fingerprints and counts, never a key.
 *
 * The fingerprint key (32 random bytes) is sealed like any secret as
 * {tenant 0, "system", 0, "fingerprint_key"}; hygiene_state.fp_version names
 * its version and secrets.fp_version the version each fingerprint was
 * computed under. */
#ifndef IOTVAULT_VAULT_HYGIENE_H
#define IOTVAULT_VAULT_HYGIENE_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/errors.h"
#include "iotvault/hygiene.h"
#include "iotvault/store.h"
#include "iotvault/vault.h"

/* The fingerprint a device key FIELD ("app_key", "nwk_key", "psk") with
 * these bytes has (or would have) in secrets.fingerprint. */
int vault_fingerprint_hex(struct vault *v, const char *field, const uint8_t *key, size_t len,
			  char out[static HYGIENE_FP_HEX_LEN + 1]) IV_WUR;

/* Opens FIELD of DEV inside the vault, runs hygiene_check_key over it with
 * CTX (may be NULL), and wipes it: the findings are all that leaves. No audit
 * record: nothing is revealed. */
int vault_device_key_check(struct vault *v, const struct device_record *dev, const char *field,
			   const struct hygiene_context *ctx, struct hygiene_finding *out,
			   size_t max, size_t *n) IV_WUR;

struct fp_rotation_progress {
	int64_t version;    /* fingerprint key version being brought up to date */
	int resumed;        /* 1 when an interrupted rotation was continued */
	int64_t recomputed;
	int64_t remaining;
};
typedef void (*vault_fp_progress_cb)(void *ctx, const struct fp_rotation_progress *p);

/* Recomputes, in batches of the rotation batch size (one transaction each),
 * the fingerprint of every device key below the current fingerprint key
 * version, opening each key inside the vault. */
int vault_fingerprint_backfill(struct vault *v, vault_fp_progress_cb cb, void *ctx,
			       struct fp_rotation_progress *result) IV_WUR;

/* `hygiene rotate-fingerprint-key`: a new fingerprint key (audited
 * "vault.fingerprint_key.rotate"), then the backfill above. Resumes an
 * interrupted rotation instead of starting another. While it runs, keys not
 * yet recomputed are missed by duplicate lookups. */
int vault_fingerprint_rotate(struct vault *v, const struct audit_actor *actor,
			     vault_fp_progress_cb cb, void *ctx,
			     struct fp_rotation_progress *result) IV_WUR;

#endif
