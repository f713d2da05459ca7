/* The vault's part of an export (include/iotvault/export.h): a device's keys
 * are opened for the export document only after its audit record is written,
 * and are wiped as soon as the document has its copy. */
#include "iotvault/audit.h"
#include "iotvault/device.h"
#include "iotvault/export.h"
#include "vault/vault_internal.h"

#include <stdio.h>

/* app_key, nwk_key: the most fields any device kind has */
#define EXPORT_FIELDS_MAX 4

int vault_export_device_keys(struct vault *v, const struct audit_actor *actor,
			     const struct device_record *dev, const char *detail,
			     vault_export_cb cb, void *ctx)
{
	struct secbuf *keys[EXPORT_FIELDS_MAX] = {NULL};
	const char *const *fields = device_key_fields(dev);
	struct audit_event ev;
	char object[64];
	size_t n = 0;
	int r;

	snprintf(object, sizeof(object), "device:%lld", (long long)dev->id);
	ev = (struct audit_event){dev->tenant_id, "device.export", object, "success", detail};
	/* the record goes first: no record, no key */
	if ((r = audit_append(v, actor, &ev)) != 0) {
		r = IV_ERR_AUDIT;
		goto out;
	}
	for (; fields[n] != NULL; n++) {
		struct secret_ref ref = {dev->tenant_id, "device", dev->id, fields[n]};
		if (n + 1 >= EXPORT_FIELDS_MAX) {
			r = IV_ERR_INTERNAL;
			goto out;
		}
		if ((r = vault_fetch_open(v, &ref, &keys[n])) != 0)
			goto out;
	}
	r = cb(ctx, dev, fields, keys);
out:
	for (size_t i = 0; i < EXPORT_FIELDS_MAX; i++)
		secbuf_free(keys[i]);
	return r;
}
