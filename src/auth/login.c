/* Login and password change. The flow is split around the service lock:
 * store work runs locked, while Argon2id and throttling delays run unlocked
 * so that one slow login never stalls every other request. An unknown tenant,
 * an unknown user, a disabled user and a wrong password all verify a hash and
 * give the same answer; the audit log alone says which it was. */
#include "auth/auth_internal.h"
#include "iotvault/audit.h"
#include "iotvault/crypto.h"
#include "iotvault/http.h"
#include "iotvault/log.h"
#include "iotvault/secmem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void login_object(char *out, size_t cap, const char *tenant, const char *username)
{
	snprintf(out, cap, "user:%s/%s", tenant, username);
}

/* Records a failed attempt and its audit record (lock held). The failure is
 * counted even when the audit record cannot be written, so a broken audit log
 * never opens the door to unthrottled guessing. */
static int record_failure(struct service *svc, const struct login_request *in, int64_t tenant_id,
			  const char *action, const char *reason, int64_t now_ms,
			  struct throttle_state *ts)
{
	struct store *st = svc->st;
	struct audit_actor actor = {"user", in->username, in->source};
	struct audit_event ev;
	char object[AUDIT_TEXT_MAX];
	int r;

	login_object(object, sizeof(object), in->tenant, in->username);
	ev = (struct audit_event){tenant_id, action, object, "failure", reason};
	if ((r = st->ops->begin(st, 1)) != 0)
		return r;
	if ((r = throttle_record_failure(st, in->tenant, in->username, in->source, now_ms, ts)) ||
	    (r = audit_append(svc->v, &actor, &ev))) {
		st->ops->rollback(st);
		if (r != IV_ERR_AUDIT || st->ops->begin(st, 1) != 0)
			return r;
		if (throttle_record_failure(st, in->tenant, in->username, in->source, now_ms, ts) != 0) {
			st->ops->rollback(st);
			return r;
		}
		(void)st->ops->commit(st);
		return r;
	}
	return st->ops->commit(st);
}

/* An attempt refused without counting it (throttled, or the second factor missing). */
static int audit_refusal(struct service *svc, const struct login_request *in, int64_t tenant_id,
			 const char *reason)
{
	struct audit_actor actor = {"user", in->username, in->source};
	struct audit_event ev;
	char object[AUDIT_TEXT_MAX];
	login_object(object, sizeof(object), in->tenant, in->username);
	ev = (struct audit_event){tenant_id, "session.login", object, "failure", reason};
	return audit_append_now(svc->v, &actor, &ev);
}

/* What phase 1 learns under the lock. */
struct account {
	int tenant_known;
	int user_known;
	struct tenant tenant;
	int require_totp;
	struct user_state user;
};

static int load_account(struct store *st, const char *tenant, const char *username,
			struct account *a)
{
	int r;
	memset(a, 0, sizeof(*a));
	r = st->ops->tenant_get_by_name(st, tenant, &a->tenant);
	if (r == IV_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	a->tenant_known = 1;
	if ((r = st->ops->auth->tenant_get(st, a->tenant.id, &a->tenant, &a->require_totp)) != 0)
		return r;
	r = st->ops->auth->user_find(st, a->tenant.id, username, &a->user);
	if (r == IV_ERR_NOT_FOUND)
		return 0;
	if (r == 0)
		a->user_known = 1;
	return r;
}

/* Phase 3 of a good password: second factor, session, audit (lock held). */
static int finish_login(struct service *svc, const struct login_request *in,
			const struct account *a, const char *new_hash, int64_t now_ms,
			struct login_result *out)
{
	struct store *st = svc->st;
	struct audit_actor actor = {"user", in->username, in->source};
	struct audit_event ev;
	struct user_state now;
	char object[AUDIT_TEXT_MAX];
	int r;

	if ((r = st->ops->begin(st, 1)) != 0)
		return r;
	/* the account may have changed while the hash was verified unlocked */
	r = st->ops->auth->user_find(st, a->tenant.id, in->username, &now);
	if (r == IV_ERR_NOT_FOUND || (r == 0 && (now.disabled || now.rec.id != a->user.rec.id ||
						 secmem_equal(now.rec.password_hash,
							      a->user.rec.password_hash,
							      sizeof(now.rec.password_hash)) != 0))) {
		out->reason = "bad_credentials";
		r = IV_ERR_UNAUTHENTICATED;
	}
	if (r != 0)
		goto fail;
	if (now.totp_enabled) {
		r = totp_verify_user(svc->v, a->tenant.id, now.rec.id, in->totp, now_ms);
		if (r == IV_ERR_UNAUTHENTICATED || r == IV_ERR_NOT_FOUND) {
			out->reason = "bad_totp";
			r = IV_ERR_UNAUTHENTICATED;
		}
		if (r != 0)
			goto fail;
	}
	if (new_hash != NULL &&
	    (r = st->ops->auth->user_set_password_hash(st, a->tenant.id, now.rec.id, new_hash)) != 0)
		goto fail;
	if ((r = st->ops->auth->session_purge(st, now_ms, now_ms - (int64_t)svc->cfg.session_idle_timeout_s *
									   1000)) != 0 ||
	    (r = st->ops->auth->login_failure_delete_account(st, in->tenant, in->username)) != 0 ||
	    (r = session_create(st, &svc->cfg, a->tenant.id, now.rec.id, now_ms, out->token,
				&out->session)) != 0)
		goto fail;
	out->totp_enrolment_required = a->require_totp && !now.totp_enabled;
	login_object(object, sizeof(object), in->tenant, in->username);
	ev = (struct audit_event){a->tenant.id, "session.login", object, "success",
				  out->totp_enrolment_required ? "totp_enrolment_required"
				  : now.totp_enabled	       ? "password+totp"
							       : "password"};
	if ((r = audit_append(svc->v, &actor, &ev)) != 0)
		goto fail;
	if ((r = st->ops->commit(st)) != 0)
		goto fail;
	out->tenant_id = a->tenant.id;
	out->user_id = now.rec.id;
	snprintf(out->session.tenant, sizeof(out->session.tenant), "%s", a->tenant.name);
	snprintf(out->session.username, sizeof(out->session.username), "%s", now.rec.username);
	snprintf(out->session.role, sizeof(out->session.role), "%s", now.rec.role);
	secmem_wipe(now.rec.password_hash, sizeof(now.rec.password_hash));
	return 0;
fail:
	st->ops->rollback(st);
	secmem_wipe(now.rec.password_hash, sizeof(now.rec.password_hash));
	secmem_wipe(out->token, sizeof(out->token));
	return r;
}

int auth_login(struct service *svc, const struct login_request *in, int64_t now_ms,
	       struct login_result *out)
{
	const struct password_policy *pp = svc->password_policy;
	struct throttle_state ts = {0, 0};
	struct account a;
	char new_hash[PWHASH_STR_LEN];
	const char *hash;
	int throttled = 0, pw_ok = 0, rehash = 0, r;

	memset(out, 0, sizeof(*out));
	memset(&a, 0, sizeof(a));
	memset(new_hash, 0, sizeof(new_hash));
	if (pp == NULL)
		return IV_ERR_INTERNAL;

	/* phase 1, locked: is the account or the source locked out; who is it */
	service_lock(svc);
	r = throttle_count(svc->st, in->tenant, in->username, in->source, now_ms, &ts);
	if (r == 0 && !(throttled = throttle_exceeded(&svc->cfg, &ts)))
		r = load_account(svc->st, in->tenant, in->username, &a);
	if (r == 0 && throttled) {
		/* the password is not even looked at: nothing can be learnt from it */
		out->reason = "throttled";
		r = audit_refusal(svc, in, 0, out->reason);
		if (r == 0)
			r = IV_ERR_THROTTLED;
	}
	service_unlock(svc);
	if (r != 0)
		goto out;

	/* phase 2, unlocked: Argon2id, against a dummy hash when there is no account */
	hash = a.user_known ? a.user.rec.password_hash : password_policy_dummy_hash(pp);
	pw_ok = pwhash_verify(hash, in->password, in->password_len) == 0 && a.user_known &&
		!a.user.disabled;
	if (pw_ok && password_needs_rehash(a.user.rec.password_hash))
		rehash = pwhash_hash(in->password, in->password_len, new_hash) == 0;
	if (!pw_ok)
		out->reason = !a.user_known ? "unknown_account"
			      : a.user.disabled ? "disabled"
						: "bad_credentials";

	/* phase 3, locked */
	service_lock(svc);
	if (pw_ok && a.user.totp_enabled && (in->totp == NULL || in->totp[0] == '\0')) {
		/* not counted: the client asks for the code and tries again */
		out->reason = "totp_required";
		r = audit_refusal(svc, in, a.tenant.id, out->reason);
		service_unlock(svc);
		if (r == 0)
			r = IV_ERR_TOTP_REQUIRED;
		goto out;
	}
	if (pw_ok) {
		r = finish_login(svc, in, &a, rehash ? new_hash : NULL, now_ms, out);
		if (r == 0 || r != IV_ERR_UNAUTHENTICATED) {
			service_unlock(svc);
			goto out;
		}
	}
	r = record_failure(svc, in, a.tenant_known ? a.tenant.id : 0, "session.login",
			   out->reason ? out->reason : "bad_credentials", now_ms, &ts);
	service_unlock(svc);
	if (r != 0)
		goto out;
	/* phase 4, unlocked: the growing delay, then the one generic answer */
	out->delay_ms = throttle_delay_ms(&svc->cfg, &ts);
	sleep_ms(out->delay_ms);
	r = IV_ERR_UNAUTHENTICATED;
out:
	secmem_wipe(new_hash, sizeof(new_hash));
	secmem_wipe(a.user.rec.password_hash, sizeof(a.user.rec.password_hash));
	return r;
}

int auth_change_password(struct service *svc, const struct principal *who, const char *source,
			 const char *current, size_t current_len, const char *new_pw,
			 size_t new_len, int64_t now_ms, const char **reason)
{
	struct store *st = svc->st;
	struct audit_actor actor = {"user", who->name, source};
	struct login_request lr = {who->tenant, who->name, NULL, 0, NULL, source};
	struct throttle_state ts = {0, 0};
	struct user_state u, again;
	struct audit_event ev;
	char new_hash[PWHASH_STR_LEN], object[AUDIT_TEXT_MAX];
	int r;

	*reason = NULL;
	memset(&u, 0, sizeof(u));
	memset(&again, 0, sizeof(again));
	memset(new_hash, 0, sizeof(new_hash));
	if (who->kind != PRINCIPAL_USER)
		return IV_ERR_FORBIDDEN;
	if ((r = password_policy_check(svc->password_policy, new_pw, new_len, who->name, reason)))
		return r;

	service_lock(svc);
	r = throttle_count(st, who->tenant, who->name, source, now_ms, &ts);
	if (r == 0 && throttle_exceeded(&svc->cfg, &ts))
		r = IV_ERR_THROTTLED;
	if (r == 0)
		r = st->ops->auth->user_get_by_id(st, who->tenant_id, who->user_id, &u);
	service_unlock(svc);
	if (r != 0)
		goto out;

	if (pwhash_verify(u.rec.password_hash, current, current_len) != 0) {
		service_lock(svc);
		r = record_failure(svc, &lr, who->tenant_id, "user.password_change",
				   "bad_credentials", now_ms, &ts);
		service_unlock(svc);
		if (r == 0) {
			sleep_ms(throttle_delay_ms(&svc->cfg, &ts));
			*reason = "the current password is wrong";
			r = IV_ERR_FORBIDDEN;
		}
		goto out;
	}
	if ((r = pwhash_hash(new_pw, new_len, new_hash)) != 0)
		goto out;

	service_lock(svc);
	if ((r = st->ops->begin(st, 1)) != 0) {
		service_unlock(svc);
		goto out;
	}
	r = st->ops->auth->user_get_by_id(st, who->tenant_id, who->user_id, &again);
	if (r == 0 && secmem_equal(again.rec.password_hash, u.rec.password_hash,
				   sizeof(u.rec.password_hash)) != 0)
		r = IV_ERR_REFUSED; /* changed meanwhile by another request */
	if (r == 0)
		r = st->ops->auth->user_set_password_hash(st, who->tenant_id, who->user_id, new_hash);
	/* every other session ends; the user's API keys are tenant keys and stay */
	if (r == 0)
		r = st->ops->auth->session_delete_user(st, who->user_id, who->session_id);
	if (r == 0)
		r = st->ops->auth->login_failure_delete_account(st, who->tenant, who->name);
	if (r == 0) {
		snprintf(object, sizeof(object), "user:%s", who->name);
		ev = (struct audit_event){who->tenant_id, "user.password_change", object, "success",
					  NULL};
		r = audit_append(svc->v, &actor, &ev);
	}
	if (r == 0)
		r = st->ops->commit(st);
	else
		st->ops->rollback(st);
	service_unlock(svc);
out:
	secmem_wipe(new_hash, sizeof(new_hash));
	secmem_wipe(u.rec.password_hash, sizeof(u.rec.password_hash));
	secmem_wipe(again.rec.password_hash, sizeof(again.rec.password_hash));
	return r;
}
