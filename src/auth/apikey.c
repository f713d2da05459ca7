/* API keys for machine clients: "ivk_<id>_<base64url of 32 random bytes>".
 * The id finds the row; only the SHA-256 of the secret part is stored and it
 * is compared in constant time. Keys are scoped to a tenant and a role, shown
 * once, revocable, and remember when they were last used. */
#include "auth/auth_internal.h"
#include "iotvault/audit.h"
#include "iotvault/crypto.h"
#include "iotvault/secmem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APIKEY_SECRET_TEXT_LEN 43 /* base64url of 32 bytes, no padding */
#define APIKEY_TOUCH_MS 60000     /* last_used_at is refreshed at most once a minute */

int apikey_create(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
		  const char *name, const char *role, int64_t now_ms,
		  char key[static APIKEY_TEXT_MAX], int64_t *id)
{
	struct store *st = vault_store(v);
	uint8_t secret[APIKEY_SECRET_LEN];
	char text[APIKEY_SECRET_TEXT_LEN + 1];
	struct apikey_record k;
	struct audit_event ev;
	char object[64];
	int r, n;

	if (name == NULL || name[0] == '\0' || strlen(name) > STORE_NAME_MAX || role == NULL ||
	    !auth_role_valid(role))
		return IV_ERR_INVALID;
	memset(&k, 0, sizeof(k));
	random_bytes(secret, sizeof(secret));
	auth_hash(secret, sizeof(secret), k.secret_hash);
	auth_b64url_encode(secret, sizeof(secret), text, sizeof(text));
	k.tenant_id = tenant_id;
	snprintf(k.name, sizeof(k.name), "%s", name);
	snprintf(k.role, sizeof(k.role), "%s", role);
	snprintf(k.created_by, sizeof(k.created_by), "%s", actor->name ? actor->name : "");
	k.created_at = now_ms;
	if ((r = st->ops->begin(st, 1)) != 0)
		goto out;
	if ((r = st->ops->auth->apikey_insert(st, &k)) != 0)
		goto fail;
	snprintf(object, sizeof(object), "apikey:%lld", (long long)k.id);
	ev = (struct audit_event){tenant_id, "apikey.create", object, "success", role};
	if ((r = audit_append(v, actor, &ev)) != 0)
		goto fail;
	if ((r = st->ops->commit(st)) != 0)
		goto out;
	n = snprintf(key, APIKEY_TEXT_MAX, APIKEY_PREFIX "%lld_%s", (long long)k.id, text);
	if (n < 0 || n >= APIKEY_TEXT_MAX) {
		r = IV_ERR_INTERNAL;
		goto out;
	}
	*id = k.id;
	/* success */
	r = 0;
	goto out;
fail:
	st->ops->rollback(st);
out:
	secmem_wipe(secret, sizeof(secret));
	secmem_wipe(text, sizeof(text));
	return r;
}

/* Splits "ivk_<id>_<secret>" without trusting any length. */
static int parse_key(const char *key, int64_t *id, uint8_t secret[static APIKEY_SECRET_LEN])
{
	const char *p, *sep;
	char digits[21];
	char *end = NULL;
	size_t n;
	long long v;

	if (strncmp(key, APIKEY_PREFIX, strlen(APIKEY_PREFIX)) != 0)
		return IV_ERR_INVALID;
	p = key + strlen(APIKEY_PREFIX);
	if ((sep = strchr(p, '_')) == NULL || (n = (size_t)(sep - p)) == 0 || n >= sizeof(digits))
		return IV_ERR_INVALID;
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return IV_ERR_INVALID;
	memcpy(digits, p, n);
	digits[n] = '\0';
	errno = 0;
	v = strtoll(digits, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
		return IV_ERR_INVALID;
	*id = v;
	if (strlen(sep + 1) != APIKEY_SECRET_TEXT_LEN)
		return IV_ERR_INVALID;
	return auth_b64url_decode(sep + 1, APIKEY_SECRET_TEXT_LEN, secret, APIKEY_SECRET_LEN);
}

int apikey_lookup(struct store *st, const char *key, int64_t now_ms, struct apikey_record *out)
{
	uint8_t secret[APIKEY_SECRET_LEN], hash[AUTH_HASH_LEN];
	int64_t id = 0;
	int r;

	if (key == NULL || parse_key(key, &id, secret) != 0) {
		r = IV_ERR_UNAUTHENTICATED;
		goto out;
	}
	auth_hash(secret, sizeof(secret), hash);
	r = st->ops->auth->apikey_get(st, id, out);
	if (r == IV_ERR_NOT_FOUND) {
		r = IV_ERR_UNAUTHENTICATED;
		goto out;
	}
	if (r != 0)
		goto out;
	if (secmem_equal(hash, out->secret_hash, AUTH_HASH_LEN) != 0 || out->revoked_at != 0) {
		r = IV_ERR_UNAUTHENTICATED;
		goto out;
	}
	if (now_ms - out->last_used_at >= APIKEY_TOUCH_MS) {
		if ((r = st->ops->auth->apikey_touch(st, out->id, now_ms)) != 0)
			goto out;
		out->last_used_at = now_ms;
	}
	/* success */
	r = 0;
out:
	secmem_wipe(secret, sizeof(secret));
	if (r != 0)
		memset(out, 0, sizeof(*out));
	return r;
}

int apikey_revoke(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
		  int64_t id, int64_t now_ms)
{
	struct store *st = vault_store(v);
	struct audit_event ev;
	char object[64];
	int r;

	if ((r = st->ops->begin(st, 1)) != 0)
		return r;
	if ((r = st->ops->auth->apikey_revoke(st, tenant_id, id, now_ms)) != 0)
		goto fail;
	snprintf(object, sizeof(object), "apikey:%lld", (long long)id);
	ev = (struct audit_event){tenant_id, "apikey.revoke", object, "success", NULL};
	if ((r = audit_append(v, actor, &ev)) != 0)
		goto fail;
	return st->ops->commit(st);
fail:
	st->ops->rollback(st);
	return r;
}
