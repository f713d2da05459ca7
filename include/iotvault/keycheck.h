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
#include "iotvault/secmem.h"
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

/* ---- additions: duplicate rules, same-device reuse, policy application ---- */

/* Rule ids of duplicate findings (beside the weak-key rules of hygiene.h). */
#define KEYCHECK_RULE_DUP_SAME_TENANT "duplicate.same_tenant"
#define KEYCHECK_RULE_DUP_OTHER_TENANT "duplicate.other_tenant"
#define KEYCHECK_RULE_DUP_SAME_DEVICE "duplicate.same_device"
/* Most rule ids one verdict names: its findings plus the two duplicate rules. */
#define KEYCHECK_RULES_MAX (KEYCHECK_FINDINGS_MAX + 2)

/* The rule ids of V (weak-key findings, then the duplicate rules that apply),
 * with a fixed-text message each (no key material); returns how many. */
size_t keycheck_rules(const struct key_verdict *v, const char *rules[KEYCHECK_RULES_MAX],
		      char messages[KEYCHECK_RULES_MAX][HYGIENE_MESSAGE_MAX]);

/* Notes in V that the key equals the device's OTHER_FIELD (AppKey == NwkKey
 * of a LoRaWAN 1.1 device): a finding "duplicate.same_device". */
void keycheck_note_same_device(struct key_verdict *v, const char *other_field);

/* The devices of DEV's tenant, other than DEV, that share V's key: ids in
 * ascending order, at most LIMIT, through CB. */
int keycheck_same_tenant_devices(struct vault *v, const struct device_record *dev,
				 const struct key_verdict *verdict, int limit,
				 int (*cb)(void *ctx, int64_t device_id), void *ctx) IV_WUR;

/* Applies POLICY to a key of LEN bytes after keycheck_evaluate filled
 * VERDICT: 0 when the key may be stored as it is (good, or POLICY is flag);
 * IV_ERR_WEAK_KEY when POLICY is reject and the key is bad; for regenerate,
 * 0 with *REPLACEMENT set to a generated key of the same length (at least
 * HYGIENE_KEY_MIN_LEN bytes) that the caller stores instead and frees.
 * *REPLACEMENT is NULL whenever no key was generated. */
int keycheck_apply_policy(enum key_policy policy, const struct key_verdict *verdict, size_t len,
			  struct secbuf **replacement) IV_WUR;

/* Records V's rules on the stored device DEVICE_ID as device_findings rows
 * (inside the caller's write transaction). PREFIX (may be NULL) goes before
 * each message, e.g. "replaced: ". */
int keycheck_record_findings(struct store *st, int64_t device_id, const char *field,
			     const struct key_verdict *v, const char *prefix) IV_WUR;

/* ---- fleet report (src/hygiene/report.c) ---- */

struct hygiene_tenant_counts;
struct hygiene_report;

/* Scans every device key of TENANT_ID inside the vault (devices streamed in
 * batches of BATCH, each key opened, checked and wiped; memory does not grow
 * with the fleet) and gathers the index-only figures (duplicates, other
 * tenants, reveals, exports, provisioning). */
int hygiene_report_build(struct vault *v, int64_t tenant_id, int batch,
			 struct hygiene_report **out) IV_WUR;
/* As hygiene_report_build, calling PAUSE(CTX) between batches, outside any
 * transaction (the API server releases its lock there). */
int hygiene_report_build_paced(struct vault *v, int64_t tenant_id, int batch,
			       void (*pause)(void *ctx), void *ctx,
			       struct hygiene_report **out) IV_WUR;
void hygiene_report_free(struct hygiene_report *r);
/* The report as JSON (docs/hygiene.md): at most GROUPS duplicate groups,
 * each with at most IDS device ids. NULL on allocation failure. */
struct json_t;
struct json_t *hygiene_report_json(struct vault *v, const struct hygiene_report *r, int groups,
				   int ids);
/* The fleet score 0..100 (docs/hygiene.md has the formula). */
int hygiene_report_score(const struct hygiene_report *r);

#endif
