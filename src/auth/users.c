/* Tenant and user creation with Argon2id password hashes and audit records. */
#include "iotvault/auth.h"
#include "iotvault/audit.h"
#include "iotvault/crypto.h"
#include "iotvault/secmem.h"

#include <stdio.h>
#include <string.h>

int auth_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!(alnum || (i > 0 && (c == '.' || c == '_' || c == '-'))))
			return 0;
	}
	return 1;
}

int auth_role_valid(const char *role)
{
	return strcmp(role, "admin") == 0 || strcmp(role, "operator") == 0 ||
	       strcmp(role, "auditor") == 0 || strcmp(role, "viewer") == 0;
}

int tenant_create(struct vault *v, const struct audit_actor *actor, const char *name, int64_t *id)
{
	struct store *st = vault_store(v);
	struct audit_event ev;
	char object[96];
	int r;

	if (!auth_name_valid(name))
		return IV_ERR_INVALID;
	if ((r = st->ops->begin(st, 1)) != 0)
		return r;
	if ((r = st->ops->tenant_create(st, name, id)) != 0)
		goto fail;
	snprintf(object, sizeof(object), "tenant:%s", name);
	ev = (struct audit_event){*id, "tenant.create", object, "success", NULL};
	if ((r = audit_append(v, actor, &ev)) != 0)
		goto fail;
	return st->ops->commit(st);
fail:
	st->ops->rollback(st);
	return r;
}

int user_create(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
		const char *username, const char *role, const char *password, size_t len)
{
	struct store *st = vault_store(v);
	struct user_record u;
	struct audit_event ev;
	char object[96];
	int r;

	if (!auth_name_valid(username) || !auth_role_valid(role))
		return IV_ERR_INVALID;
	if (len < PASSWORD_MIN_LEN || len > PASSWORD_MAX_LEN)
		return IV_ERR_INVALID;
	memset(&u, 0, sizeof(u));
	u.tenant_id = tenant_id;
	snprintf(u.username, sizeof(u.username), "%s", username);
	snprintf(u.role, sizeof(u.role), "%s", role);
	if ((r = pwhash_hash(password, len, u.password_hash)) != 0)
		return r;
	if ((r = st->ops->begin(st, 1)) != 0)
		goto out;
	if ((r = st->ops->user_create(st, &u)) != 0)
		goto fail;
	snprintf(object, sizeof(object), "user:%s", username);
	ev = (struct audit_event){tenant_id, "user.create", object, "success", role};
	if ((r = audit_append(v, actor, &ev)) != 0)
		goto fail;
	r = st->ops->commit(st);
	goto out;
fail:
	st->ops->rollback(st);
out:
	secmem_wipe(u.password_hash, sizeof(u.password_hash));
	return r;
}
