/* Key hygiene on every write: the weak-key rules of src/hygiene/ plus
 * duplicate detection through keyed fingerprints, with the policy an
 * operator chose. Used by device creation (CLI, API), bulk import and the
 * fleet report. */
#ifndef IOTVAULT_KEYCHECK_H
#define IOTVAULT_KEYCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/errors.h"
#include "iotvault/hygiene.h"
#include "iotvault/store.h"
#include "iotvault/vault.h"

#define KEYCHECK_FINDINGS_MAX 8

/* What to do with a weak or duplicated key. */
enum key_policy {
	KEY_POLICY_REJECT = 0,  /* refuse the write (IV_ERR_WEAK_KEY) */
	KEY_POLICY_FLAG,        /* store it and record the findings on the device */
	KEY_POLICY_REGENERATE,  /* replace it with a generated key; the device is
				 * marked as needing its new key provisioned */
};

struct key_verdict {
	struct hygiene_finding findings[KEYCHECK_FINDINGS_MAX];
	size_t nfindings;             /* weak-key rules that fired (at most the array) */
	int64_t same_tenant_devices;  /* other devices of the tenant with this key */
	int64_t other_tenant_devices; /* devices of other tenants: a count, never which */
	char fingerprint[HYGIENE_FP_HEX_LEN + 1];
};

/* Parses "reject", "flag", "regenerate". */
int key_policy_parse(const char *text, enum key_policy *out) IV_WUR;
const char *key_policy_name(enum key_policy p);

/* Evaluates KEY as FIELD ("app_key", "nwk_key", "psk") of DEV (its DevEUI,
 * JoinEUI, endpoint and PSK identity feed the derivation rules; DEV->id may
 * be 0 for a device not stored yet). */
int keycheck_evaluate(struct vault *v, const struct device_record *dev, const char *field,
		      const uint8_t *key, size_t len, struct key_verdict *out) IV_WUR;

/* 1 when the verdict has weak-key findings or duplicates. */
int keycheck_is_bad(const struct key_verdict *v);

#endif
