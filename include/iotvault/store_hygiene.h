/* Storage operations of key hygiene (include/iotvault/keycheck.h), reached as
 * st->ops->hygiene->...: keyed fingerprints of device keys and duplicate
 * lookups over them, the fingerprint key's version, findings recorded on
 * devices, the needs-provisioning mark, and the aggregate queries of the
 * fleet report. Fingerprints are opaque to callers outside the hygiene and
 * vault code: they are never put into a reply or a log. A lookup that crosses
 * tenants only ever returns a count. */
#ifndef IOTVAULT_STORE_HYGIENE_H
#define IOTVAULT_STORE_HYGIENE_H

#include <stdint.h>

#include "iotvault/errors.h"
#include "iotvault/store.h"

#define STORE_FP_HEX_LEN 64
#define STORE_RULE_MAX 64
#define STORE_FINDING_DETAIL_MAX 160

struct device_finding {
	int64_t device_id;
	char field[STORE_FIELD_MAX + 1];
	char rule[STORE_RULE_MAX + 1];
	char detail[STORE_FINDING_DETAIL_MAX + 1];
	int64_t created_at;
};

/* A device key whose fingerprint is missing or below the current version. */
struct fp_pending {
	int64_t secret_id;
	int64_t tenant_id;
	int64_t owner_id;
	char field[STORE_FIELD_MAX + 1];
};

/* Tenant-wide figures of the fleet report that SQL computes without keys. */
struct hygiene_tenant_counts {
	int64_t devices;
	int64_t device_keys;             /* sealed device key fields */
	int64_t fingerprints_pending;    /* keys without a current fingerprint */
	int64_t duplicate_groups;        /* fingerprints shared by >1 device of the tenant */
	int64_t devices_in_duplicate_groups;
	int64_t keys_shared_other_tenants;   /* own keys also used in another tenant */
	int64_t other_tenant_devices;        /* devices of other tenants using one of them */
	int64_t devices_shared_any;          /* own devices with a key used by any other device */
	int64_t devices_revealed;            /* named by a granted key.reveal record */
	int64_t devices_exported;            /* named by a device.export record */
	int64_t export_events;               /* device.export records of the tenant */
	int64_t devices_needing_provisioning;
	int64_t devices_flagged;             /* with recorded findings */
};

typedef int (*store_id_cb)(void *ctx, int64_t id);
typedef int (*store_finding_cb)(void *ctx, const struct device_finding *f);
typedef int (*store_fp_pending_cb)(void *ctx, const struct fp_pending *p);
/* One duplicate group: its size; the ids come from fp_group_devices. */
typedef int (*store_fp_group_cb)(void *ctx, const char *fingerprint, int64_t devices);

struct store_hygiene_ops {
	/* ---- fingerprint key version (hygiene_state) ---- */
	int (*fp_version_get)(struct store *st, int64_t *version);
	int (*fp_version_set)(struct store *st, int64_t version);

	/* ---- fingerprints ---- */
	/* Sets the fingerprint (NULL: none) of the secret (owner_kind, owner_id, field). */
	int (*secret_set_fingerprint)(struct store *st, const char *owner_kind, int64_t owner_id,
				      const char *field, const char *fingerprint, int64_t version);
	/* As above by secret id, only if the row is still below VERSION (a
	 * concurrent re-seal already wrote a current fingerprint). */
	int (*secret_set_fingerprint_by_id)(struct store *st, int64_t secret_id,
					    const char *fingerprint, int64_t version);
	/* Device keys with fp_version < VERSION, at most LIMIT (in no set order). */
	int (*fp_pending_list)(struct store *st, int64_t version, int limit,
			       store_fp_pending_cb cb, void *ctx);
	int (*fp_pending_count)(struct store *st, int64_t version, int64_t *n);
	/* Devices of TENANT_ID other than EXCLUDE_DEVICE with a key of this
	 * fingerprint (distinct ids, ascending, at most LIMIT through CB), and the
	 * number of such devices in *SAME and of devices in all other tenants in
	 * *OTHER. CB may be NULL (counts only). */
	int (*fp_lookup)(struct store *st, const char *fingerprint, int64_t tenant_id,
			 int64_t exclude_device, int limit, store_id_cb cb, void *ctx,
			 int64_t *same, int64_t *other);

	/* ---- findings and provisioning ---- */
	int (*finding_put)(struct store *st, const struct device_finding *f);
	int (*finding_list)(struct store *st, int64_t device_id, store_finding_cb cb, void *ctx);
	int (*device_set_needs_provisioning)(struct store *st, int64_t tenant_id, int64_t device_id,
					     int needs);
	int (*device_get_needs_provisioning)(struct store *st, int64_t tenant_id,
					     int64_t device_id, int *needs);

	/* ---- fleet report ---- */
	int (*tenant_counts)(struct store *st, int64_t tenant_id, struct hygiene_tenant_counts *out);
	/* The tenant's duplicate groups, largest first, at most LIMIT. */
	int (*fp_groups)(struct store *st, int64_t tenant_id, int limit, store_fp_group_cb cb,
			 void *ctx);
	/* The tenant's devices with a key of FINGERPRINT, ascending, at most LIMIT. */
	int (*fp_group_devices)(struct store *st, int64_t tenant_id, const char *fingerprint,
				int limit, store_id_cb cb, void *ctx);
};

#endif
