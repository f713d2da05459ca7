/* TOTP second factor (RFC 6238, HMAC-SHA1, 30 s steps, 6 digits) on liboath.
 * The shared secret is sealed in the vault as the user's "totp_secret" and
 * opened only for the moment of a check (a protocol operation, not a reveal).
 * Each code is usable once: the last accepted time step is kept per user in
 * the store and only later steps are accepted, atomically, so a code cannot
 * be replayed even against another instance. */
#include "auth/auth_internal.h"
#include "iotvault/audit.h"
#include "iotvault/crypto.h"
#include "iotvault/log.h"
#include "iotvault/secmem.h"

#include <liboath/oath.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOTP_FIELD "totp_secret"
#define TOTP_OWNER "user"

int totp_init(void)
{
	return oath_init() == OATH_OK ? 0 : IV_ERR_CRYPTO;
}

int totp_code(const uint8_t *secret, size_t len, int64_t now_s, unsigned digits,
	      char out[static 9])
{
	if (digits < 6 || digits > 8 || now_s < 0)
		return IV_ERR_INVALID;
	if (oath_totp_generate((const char *)secret, len, (time_t)now_s, TOTP_STEP_S,
			       OATH_TOTP_DEFAULT_START_TIME, digits, out) != OATH_OK) {
		secmem_wipe(out, 9);
		return IV_ERR_CRYPTO;
	}
	return 0;
}

int totp_check(const uint8_t *secret, size_t len, int64_t now_s, const char *code,
	       int64_t last_step, int64_t *step)
{
	char expect[9];
	size_t digits = code ? strlen(code) : 0;
	int64_t now_step = now_s / TOTP_STEP_S;
	int matched = 0;
	int64_t found = 0;

	if (digits != TOTP_DIGITS || now_s < 0)
		return IV_ERR_UNAUTHENTICATED;
	for (size_t i = 0; i < digits; i++)
		if (code[i] < '0' || code[i] > '9')
			return IV_ERR_UNAUTHENTICATED;
	/* every candidate step is computed and compared, so timing says nothing */
	for (int64_t s = now_step - TOTP_WINDOW; s <= now_step + TOTP_WINDOW; s++) {
		if (s < 0 || totp_code(secret, len, s * TOTP_STEP_S, TOTP_DIGITS, expect) != 0)
			continue;
		if (secmem_equal(expect, code, TOTP_DIGITS) == 0 && s > last_step && !matched) {
			matched = 1;
			found = s;
		}
	}
	secmem_wipe(expect, sizeof(expect));
	if (!matched)
		return IV_ERR_UNAUTHENTICATED;
	*step = found;
	return 0;
}

int totp_base32(const uint8_t *secret, size_t len, char out[static TOTP_BASE32_MAX])
{
	char *b32 = NULL;
	size_t n = 0;
	int r;

	if (oath_base32_encode((const char *)secret, len, &b32, &n) != OATH_OK || b32 == NULL)
		return IV_ERR_NOMEM;
	r = n < TOTP_BASE32_MAX ? 0 : IV_ERR_TOO_LARGE;
	if (r == 0) {
		memcpy(out, b32, n);
		out[n] = '\0';
	}
	/* liboath returns the encoding in plain heap memory: wipe it before freeing */
	secmem_wipe(b32, n);
	free(b32);
	return r;
}

/* Opens the user's sealed secret into secure memory. */
static int open_secret(struct vault *v, int64_t tenant_id, int64_t user_id, struct secbuf **out)
{
	struct store *st = vault_store(v);
	struct secret_ref ref = {tenant_id, TOTP_OWNER, user_id, TOTP_FIELD};
	struct secret_record *rec = malloc(sizeof(*rec)); /* ciphertext only */ /* lint:not-secret */
	int r;

	if (rec == NULL)
		return IV_ERR_NOMEM;
	r = st->ops->secret_get(st, TOTP_OWNER, user_id, TOTP_FIELD, rec);
	if (r == 0 && rec->tenant_id != tenant_id)
		r = IV_ERR_NOT_FOUND;
	if (r == 0)
		r = vault_envelope_open(v, &ref, rec, out);
	free(rec);
	return r;
}

int totp_enroll(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
		const char *tenant, int64_t user_id, char base32[static TOTP_BASE32_MAX],
		char uri[static TOTP_URI_MAX])
{
	struct store *st = vault_store(v);
	struct secret_ref ref = {tenant_id, TOTP_OWNER, user_id, TOTP_FIELD};
	struct secbuf *secret = secbuf_new(TOTP_SECRET_LEN);
	struct user_state u;
	struct audit_event ev;
	char object[AUDIT_TEXT_MAX];
	int r, n, in_tx = 0;

	memset(&u, 0, sizeof(u));
	base32[0] = uri[0] = '\0';
	if (secret == NULL)
		return IV_ERR_NOMEM;
	random_bytes(secret->data, secret->len);
	if ((r = st->ops->begin(st, 1)) != 0)
		goto out;
	in_tx = 1;
	if ((r = st->ops->auth->user_get_by_id(st, tenant_id, user_id, &u)) != 0)
		goto out;
	if (u.totp_enabled) {
		/* replacing a working factor would need the old one: disable it first */
		r = IV_ERR_REFUSED;
		goto out;
	}
	if ((r = vault_seal(v, &ref, secret->data, secret->len)) != 0)
		goto out;
	snprintf(object, sizeof(object), "user:%s", u.rec.username);
	ev = (struct audit_event){tenant_id, "user.totp_enroll", object, "started", NULL};
	if ((r = audit_append(v, actor, &ev)) != 0)
		goto out;
	if ((r = totp_base32(secret->data, secret->len, base32)) != 0)
		goto out;
	n = snprintf(uri, TOTP_URI_MAX,
		     "otpauth://totp/iotvault:%s%%2F%s?secret=%s&issuer=iotvault&algorithm=SHA1"
		     "&digits=%d&period=%d",
		     tenant, u.rec.username, base32, TOTP_DIGITS, TOTP_STEP_S);
	if (n < 0 || n >= TOTP_URI_MAX) {
		r = IV_ERR_TOO_LARGE;
		goto out;
	}
	in_tx = 0;
	if ((r = st->ops->commit(st)) != 0)
		goto out;
	/* success */
	r = 0;
out:
	if (in_tx)
		st->ops->rollback(st);
	if (r != 0) {
		secmem_wipe(base32, TOTP_BASE32_MAX);
		secmem_wipe(uri, TOTP_URI_MAX);
	}
	secmem_wipe(u.rec.password_hash, sizeof(u.rec.password_hash));
	secbuf_free(secret);
	return r;
}

/* Checks CODE for the user U and records its step (inside a transaction). */
static int check_and_use(struct vault *v, const struct user_state *u, const char *code,
			 int64_t now_ms)
{
	struct store *st = vault_store(v);
	struct secbuf *secret = NULL;
	int64_t step = 0;
	int r;

	if ((r = open_secret(v, u->rec.tenant_id, u->rec.id, &secret)) != 0)
		return r;
	r = totp_check(secret->data, secret->len, now_ms / 1000, code, u->totp_last_step, &step);
	secbuf_free(secret);
	if (r != 0)
		return IV_ERR_UNAUTHENTICATED;
	r = st->ops->auth->user_use_totp_step(st, u->rec.tenant_id, u->rec.id, step);
	return r == IV_ERR_REFUSED ? IV_ERR_UNAUTHENTICATED : r;
}

int totp_verify_user(struct vault *v, int64_t tenant_id, int64_t user_id, const char *code,
		     int64_t now_ms)
{
	struct store *st = vault_store(v);
	struct user_state u;
	int r;

	if ((r = st->ops->auth->user_get_by_id(st, tenant_id, user_id, &u)) != 0)
		return r;
	secmem_wipe(u.rec.password_hash, sizeof(u.rec.password_hash));
	return check_and_use(v, &u, code, now_ms);
}

static int set_enabled(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
		       int64_t user_id, const char *code, int64_t now_ms, int enable)
{
	struct store *st = vault_store(v);
	struct tenant t;
	struct user_state u;
	struct audit_event ev;
	char object[AUDIT_TEXT_MAX];
	int require = 0, r;

	if ((r = st->ops->begin(st, 1)) != 0)
		return r;
	if ((r = st->ops->auth->user_get_by_id(st, tenant_id, user_id, &u)) != 0)
		goto fail;
	secmem_wipe(u.rec.password_hash, sizeof(u.rec.password_hash));
	if ((r = st->ops->auth->tenant_get(st, tenant_id, &t, &require)) != 0)
		goto fail;
	if (enable ? u.totp_enabled : (!u.totp_enabled || require)) {
		r = IV_ERR_REFUSED;
		goto fail;
	}
	if ((r = check_and_use(v, &u, code, now_ms)) != 0)
		goto fail;
	if ((r = st->ops->auth->user_set_totp_enabled(st, tenant_id, user_id, enable)) != 0)
		goto fail;
	if (!enable && (r = st->ops->secret_delete_owner(st, TOTP_OWNER, user_id)) != 0)
		goto fail;
	snprintf(object, sizeof(object), "user:%s", u.rec.username);
	ev = (struct audit_event){tenant_id, enable ? "user.totp_enable" : "user.totp_disable",
				  object, "success", NULL};
	if ((r = audit_append(v, actor, &ev)) != 0)
		goto fail;
	return st->ops->commit(st);
fail:
	st->ops->rollback(st);
	return r == IV_ERR_NOT_FOUND && enable ? IV_ERR_REFUSED : r;
}

int totp_confirm(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
		 int64_t user_id, const char *code, int64_t now_ms)
{
	return set_enabled(v, actor, tenant_id, user_id, code, now_ms, 1);
}

int totp_disable(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
		 int64_t user_id, const char *code, int64_t now_ms)
{
	return set_enabled(v, actor, tenant_id, user_id, code, now_ms, 0);
}
