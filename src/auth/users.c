/* Tenants and users: creation with Argon2id password hashes, role changes,
 * disabling, deletion and unlocking, each with its audit record in the same
 * transaction. An admin can never remove the tenant's last active admin. */
#include "iotvault/auth.h"
#include "iotvault/store_auth.h"
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
	char object[AUDIT_TEXT_MAX];
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

int user_create_hashed(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
		       const char *username, const char *role, const char *hash, int64_t *id)
{
	struct store *st = vault_store(v);
	struct user_record u;
	struct audit_event ev;
	char object[AUDIT_TEXT_MAX];
	int r;

	if (!auth_name_valid(username) || !auth_role_valid(role))
		return IV_ERR_INVALID;
	memset(&u, 0, sizeof(u));
	u.tenant_id = tenant_id;
	snprintf(u.username, sizeof(u.username), "%s", username);
	snprintf(u.role, sizeof(u.role), "%s", role);
	snprintf(u.password_hash, sizeof(u.password_hash), "%s", hash);
	if ((r = st->ops->begin(st, 1)) != 0)
		goto out;
	if ((r = st->ops->user_create(st, &u)) != 0)
		goto fail;
	snprintf(object, sizeof(object), "user:%s", username);
	ev = (struct audit_event){tenant_id, "user.create", object, "success", role};
	if ((r = audit_append(v, actor, &ev)) != 0)
		goto fail;
	if ((r = st->ops->commit(st)) != 0)
		goto fail;
	if (id != NULL)
		*id = u.id;
	goto out;
fail:
	st->ops->rollback(st);
out:
	secmem_wipe(u.password_hash, sizeof(u.password_hash));
	return r;
}

int user_create(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
		const char *username, const char *role, const char *password, size_t len)
{
	char hash[PWHASH_STR_LEN];
	int r;

	if (!auth_name_valid(username) || !auth_role_valid(role))
		return IV_ERR_INVALID;
	if (len < PASSWORD_MIN_LEN || len > PASSWORD_MAX_LEN)
		return IV_ERR_INVALID;
	if ((r = pwhash_hash(password, len, hash)) != 0)
		return r;
	r = user_create_hashed(v, actor, tenant_id, username, role, hash, NULL);
	secmem_wipe(hash, sizeof(hash));
	return r;
}

/* 1 when the change takes the tenant's last active admin away. */
static int removes_last_admin(struct store *st, const struct user_state *u, const char *role,
			      int disabled, int deleting, int *refuse)
{
	int64_t admins = 0;
	int r;
	int was_active_admin = strcmp(u->rec.role, "admin") == 0 && !u->disabled;
	int stays = !deleting && (role == NULL || strcmp(role, "admin") == 0) &&
		    (disabled < 0 ? !u->disabled : !disabled);

	*refuse = 0;
	if (!was_active_admin || stays)
		return 0;
	if ((r = st->ops->auth->user_count_active_admins(st, u->rec.tenant_id, &admins)) != 0)
		return r;
	*refuse = admins <= 1;
	return 0;
}

int user_update(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
		int64_t id, const char *role, int disabled, struct user_state *out)
{
	struct store *st = vault_store(v);
	struct user_state u;
	struct audit_event ev;
	char object[AUDIT_TEXT_MAX], detail[96];
	int refuse = 0, r;

	memset(&u, 0, sizeof(u));
	if (role != NULL && !auth_role_valid(role))
		return IV_ERR_INVALID;
	if ((r = st->ops->begin(st, 1)) != 0)
		return r;
	if ((r = st->ops->auth->user_get_by_id(st, tenant_id, id, &u)) != 0 ||
	    (r = removes_last_admin(st, &u, role, disabled, 0, &refuse)) != 0)
		goto fail;
	if (refuse) {
		r = IV_ERR_REFUSED;
		goto fail;
	}
	if (role != NULL && (r = st->ops->auth->user_set_role(st, tenant_id, id, role)) != 0)
		goto fail;
	if (disabled >= 0 &&
	    (r = st->ops->auth->user_set_disabled(st, tenant_id, id, disabled)) != 0)
		goto fail;
	/* a disabled account is logged out everywhere at once */
	if (disabled > 0 && (r = st->ops->auth->session_delete_user(st, id, 0)) != 0)
		goto fail;
	snprintf(object, sizeof(object), "user:%s", u.rec.username);
	snprintf(detail, sizeof(detail), "role=%s disabled=%s", role ? role : u.rec.role,
		 disabled < 0 ? (u.disabled ? "true" : "false") : (disabled ? "true" : "false"));
	ev = (struct audit_event){tenant_id, "user.update", object, "success", detail};
	if ((r = audit_append(v, actor, &ev)) != 0)
		goto fail;
	if ((r = st->ops->commit(st)) != 0)
		goto fail;
	if (out != NULL) {
		r = st->ops->auth->user_get_by_id(st, tenant_id, id, out);
		if (r == 0)
			secmem_wipe(out->rec.password_hash, sizeof(out->rec.password_hash));
	}
	secmem_wipe(u.rec.password_hash, sizeof(u.rec.password_hash));
	return r;
fail:
	st->ops->rollback(st);
	secmem_wipe(u.rec.password_hash, sizeof(u.rec.password_hash));
	return r;
}

int user_delete(struct vault *v, const struct audit_actor *actor, int64_t tenant_id, int64_t id)
{
	struct store *st = vault_store(v);
	struct user_state u;
	struct audit_event ev;
	char object[AUDIT_TEXT_MAX];
	int refuse = 0, r;

	memset(&u, 0, sizeof(u));
	if ((r = st->ops->begin(st, 1)) != 0)
		return r;
	if ((r = st->ops->auth->user_get_by_id(st, tenant_id, id, &u)) != 0 ||
	    (r = removes_last_admin(st, &u, NULL, -1, 1, &refuse)) != 0)
		goto fail;
	if (refuse) {
		r = IV_ERR_REFUSED;
		goto fail;
	}
	if ((r = st->ops->auth->session_delete_user(st, id, 0)) != 0 ||
	    (r = st->ops->secret_delete_owner(st, "user", id)) != 0 ||
	    (r = st->ops->auth->user_delete(st, tenant_id, id)) != 0)
		goto fail;
	snprintf(object, sizeof(object), "user:%s", u.rec.username);
	ev = (struct audit_event){tenant_id, "user.delete", object, "success", NULL};
	if ((r = audit_append(v, actor, &ev)) != 0)
		goto fail;
	r = st->ops->commit(st);
	if (r != 0)
		goto fail;
	secmem_wipe(u.rec.password_hash, sizeof(u.rec.password_hash));
	return 0;
fail:
	st->ops->rollback(st);
	secmem_wipe(u.rec.password_hash, sizeof(u.rec.password_hash));
	return r;
}

int user_unlock(struct vault *v, const struct audit_actor *actor, int64_t tenant_id, int64_t id)
{
	struct store *st = vault_store(v);
	struct tenant t;
	struct user_state u;
	struct audit_event ev;
	char object[AUDIT_TEXT_MAX];
	int r;

	memset(&u, 0, sizeof(u));
	if ((r = st->ops->begin(st, 1)) != 0)
		return r;
	if ((r = st->ops->auth->user_get_by_id(st, tenant_id, id, &u)) != 0 ||
	    (r = st->ops->auth->tenant_get(st, tenant_id, &t, NULL)) != 0 ||
	    (r = st->ops->auth->login_failure_delete_account(st, t.name, u.rec.username)) != 0)
		goto fail;
	snprintf(object, sizeof(object), "user:%s", u.rec.username);
	ev = (struct audit_event){tenant_id, "user.unlock", object, "success", NULL};
	if ((r = audit_append(v, actor, &ev)) != 0)
		goto fail;
	if ((r = st->ops->commit(st)) != 0)
		goto fail;
	secmem_wipe(u.rec.password_hash, sizeof(u.rec.password_hash));
	return 0;
fail:
	st->ops->rollback(st);
	secmem_wipe(u.rec.password_hash, sizeof(u.rec.password_hash));
	return r;
}
