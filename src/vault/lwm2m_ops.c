/* LwM2M operations of the vault (include/iotvault/vault_lwm2m.h): the only
 * place where bootstrap PSKs and DM credentials are opened for the DTLS
 * handshake, and where DM credentials are generated and sealed. */
#include "iotvault/vault_lwm2m.h"
#include "iotvault/audit.h"
#include "iotvault/hygiene.h"
#include "iotvault/log.h"
#include "iotvault/secmem.h"
#include "vault/vault_internal.h"

#include <stdio.h>
#include <string.h>

/* Opens REF into KEY (CAP bytes); the temporary secbuf is wiped on return. */
static int open_into(struct vault *v, const struct secret_ref *ref, uint8_t *key, size_t cap,
		     size_t *key_len)
{
	struct secbuf *k = NULL;
	int r = vault_fetch_open(v, ref, &k);
	if (r != 0)
		return r;
	if (k->len == 0 || k->len > cap) {
		log_error("vault: %s/%lld/%s has an unusable length", ref->owner_kind,
			  (long long)ref->owner_id, ref->field);
		r = IV_ERR_CRYPTO;
	} else {
		memcpy(key, k->data, k->len);
		*key_len = k->len;
	}
	secbuf_free(k);
	return r;
}

int vault_lwm2m_psk_lookup(struct vault *v, enum lwm2m_credential_kind kind,
			   const char *identity, struct lwm2m_psk_owner *owner, uint8_t *key,
			   size_t cap, size_t *key_len)
{
	struct store *st = vault_store(v);
	struct device_record dev;
	struct lwm2m_credential_record cred;
	struct secret_ref ref;
	int r;

	memset(owner, 0, sizeof(*owner));
	*key_len = 0;
	owner->kind = kind;
	if (kind == LWM2M_CREDENTIAL_BOOTSTRAP) {
		if ((r = st->ops->lwm2m->device_by_psk_identity(st, identity, &dev)) != 0)
			return r;
		ref = (struct secret_ref){dev.tenant_id, "device", dev.id, "psk"};
	} else {
		if ((r = st->ops->lwm2m->credential_get_by_identity(st, identity, &cred)) != 0)
			return r;
		if (strcmp(cred.state, "retired") == 0)
			return IV_ERR_NOT_FOUND;
		/* the device by id, in its own tenant */
		struct device_selector sel = {.id = cred.device_id};
		if ((r = st->ops->device_get(st, cred.tenant_id, &sel, &dev)) != 0)
			return r;
		owner->credential_id = cred.id;
		snprintf(owner->state, sizeof(owner->state), "%s", cred.state);
		ref = (struct secret_ref){cred.tenant_id, LWM2M_DM_OWNER_KIND, cred.id,
					  LWM2M_DM_PSK_FIELD};
	}
	owner->tenant_id = dev.tenant_id;
	owner->device_id = dev.id;
	snprintf(owner->endpoint, sizeof(owner->endpoint), "%s", dev.endpoint);
	if ((r = open_into(v, &ref, key, cap, key_len)) != 0) {
		secmem_wipe(key, cap);
		*key_len = 0;
	}
	return r;
}

static void object_of(const struct device_record *dev, char *out, size_t cap)
{
	snprintf(out, cap, "device:%lld", (long long)dev->id);
}

int vault_lwm2m_dm_credential_create(struct vault *v, const struct audit_actor *actor,
				     const struct device_record *dev,
				     struct lwm2m_credential_record *cred, struct secbuf **psk)
{
	struct store *st = vault_store(v);
	struct secbuf *key = NULL, *bs_key = NULL;
	struct secret_ref ref;
	struct audit_event ev;
	char object[64], detail[STORE_NAME_MAX + 96];
	int r, in_tx = 0, tries;

	*psk = NULL;
	memset(cred, 0, sizeof(*cred));
	if ((key = secbuf_new(LWM2M_DM_PSK_LEN)) == NULL)
		return IV_ERR_NOMEM;
	/* the DM credential must never equal the bootstrap one */
	ref = (struct secret_ref){dev->tenant_id, "device", dev->id, "psk"};
	if ((r = vault_fetch_open(v, &ref, &bs_key)) != 0)
		goto out;
	for (tries = 0;; tries++) {
		if (tries == 4) {
			r = IV_ERR_CRYPTO;
			goto out;
		}
		if ((r = hygiene_generate_key(key->data, key->len)) != 0)
			goto out;
		if (bs_key->len != key->len || secmem_equal(bs_key->data, key->data, key->len) != 0)
			break;
	}
	cred->tenant_id = dev->tenant_id;
	cred->device_id = dev->id;
	snprintf(cred->state, sizeof(cred->state), "pending");
	if ((r = st->ops->begin(st, 1)) != 0)
		goto out;
	in_tx = 1;
	/* a fresh random identity; a collision (80 random bits) is retried */
	for (tries = 0;; tries++) {
		if ((r = hygiene_generate_psk_identity(cred->identity, sizeof(cred->identity),
						       LWM2M_DM_IDENTITY_PREFIX)) != 0)
			goto out;
		r = st->ops->lwm2m->credential_insert(st, cred);
		if (r != IV_ERR_EXISTS || tries == 3)
			break;
	}
	if (r != 0)
		goto out;
	/* an earlier bootstrap whose credential was never used is superseded */
	if ((r = st->ops->lwm2m->credential_retire_others(st, dev->id, cred->id, "pending",
							  NULL)) != 0)
		goto out;
	ref = (struct secret_ref){dev->tenant_id, LWM2M_DM_OWNER_KIND, cred->id, LWM2M_DM_PSK_FIELD};
	if ((r = vault_seal(v, &ref, key->data, key->len)) != 0)
		goto out;
	ref.field = LWM2M_DM_IDENTITY_FIELD;
	if ((r = vault_seal(v, &ref, (const uint8_t *)cred->identity, strlen(cred->identity))) != 0)
		goto out;
	object_of(dev, object, sizeof(object));
	snprintf(detail, sizeof(detail), "endpoint %s, new DM credential %lld", dev->endpoint,
		 (long long)cred->id);
	ev = (struct audit_event){dev->tenant_id, "lwm2m.bootstrap", object, "started", detail};
	if ((r = audit_append(v, actor, &ev)) != 0)
		goto out;
	if ((r = st->ops->commit(st)) != 0)
		goto out;
	in_tx = 0;
	*psk = key;
	key = NULL;
	/* success */
	r = 0;
out:
	if (in_tx)
		st->ops->rollback(st);
	secbuf_free(key);
	secbuf_free(bs_key);
	return r;
}

int vault_lwm2m_dm_credential_activate(struct vault *v, const struct audit_actor *actor,
				       const struct lwm2m_credential_record *cred, int *activated)
{
	struct store *st = vault_store(v);
	struct audit_event ev;
	char object[64], detail[STORE_NAME_MAX + 96];
	int64_t retired = 0;
	int r;

	if (activated != NULL)
		*activated = 0;
	if (strcmp(cred->state, "pending") != 0)
		return 0;
	snprintf(object, sizeof(object), "device:%lld", (long long)cred->device_id);
	snprintf(detail, sizeof(detail), "DM credential %lld in use; older credentials retired",
		 (long long)cred->id);
	ev = (struct audit_event){cred->tenant_id, "lwm2m.dm_credential.activate", object, "success",
				  detail};
	/* the audit record first: if it cannot be written, nothing changes */
	if ((r = audit_append(v, actor, &ev)) != 0 ||
	    (r = st->ops->lwm2m->credential_activate(st, cred->id)) != 0 ||
	    (r = st->ops->lwm2m->credential_retire_others(st, cred->device_id, cred->id, NULL,
							  &retired)) != 0)
		return r;
	if (activated != NULL)
		*activated = 1;
	log_info("lwm2m: device %lld now uses DM credential %lld (%lld retired)",
		 (long long)cred->device_id, (long long)cred->id, (long long)retired);
	return 0;
}

int vault_lwm2m_bootstrap_failed(struct vault *v, const struct audit_actor *actor,
				 const struct lwm2m_credential_record *cred, const char *reason)
{
	struct store *st = vault_store(v);
	struct lwm2m_credential_record now;
	struct audit_event ev;
	char object[64], detail[200];
	int r, in_tx = 0;

	snprintf(object, sizeof(object), "device:%lld", (long long)cred->device_id);
	snprintf(detail, sizeof(detail), "DM credential %lld discarded: %s", (long long)cred->id,
		 reason);
	ev = (struct audit_event){cred->tenant_id, "lwm2m.bootstrap", object, "failure", detail};
	if ((r = st->ops->begin(st, 1)) != 0)
		return r;
	in_tx = 1;
	if ((r = audit_append(v, actor, &ev)) != 0)
		goto out;
	/* retire it only while nobody has registered with it */
	r = st->ops->lwm2m->credential_get(st, cred->id, &now);
	if (r == 0 && strcmp(now.state, "pending") == 0) {
		/* retire_others keeps one id: retiring the credential itself means
		 * keeping none of this state, so use an id no row has */
		if ((r = st->ops->lwm2m->credential_retire_others(st, cred->device_id, 0, "pending",
								  NULL)) != 0)
			goto out;
	} else if (r != 0 && r != IV_ERR_NOT_FOUND)
		goto out;
	if ((r = st->ops->commit(st)) != 0)
		goto out;
	in_tx = 0;
	/* success */
	r = 0;
out:
	if (in_tx)
		st->ops->rollback(st);
	return r;
}
