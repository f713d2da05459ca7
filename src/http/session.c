/* /api/v1/session: login (cookie session), whoami, logout, password change,
 * TOTP enrolment/confirmation/removal; and /api/v1/password/suggestion. */
#include "iotvault/audit.h"
#include "iotvault/auth.h"
#include "iotvault/fieldspec.h"
#include "iotvault/http.h"
#include "iotvault/secmem.h"

#include <stdio.h>
#include <string.h>

/* 128 characters of up to 4 bytes of UTF-8 each */
#define PASSWORD_MAX_BYTES (PASSWORD_MAX_LEN * 4)

static void request_actor(const struct http_request *req, struct audit_actor *actor)
{
	actor->type = req->who.kind == PRINCIPAL_APIKEY ? "apikey" : "user";
	actor->name = req->who.name;
	actor->source = req->source;
}

/* Parses and validates the body against SPECS; field errors go to REP. */
static int parse_body(struct http_request *req, struct http_reply *rep,
		      const struct field_spec *specs, json_t **out)
{
	json_t *errors = NULL;
	int r;
	if ((r = http_body_json(req, rep, out)) != 0)
		return r;
	if ((r = fieldspec_validate(specs, *out, &errors)) != 0) {
		rep->field_errors = errors;
		json_decref(*out);
		*out = NULL;
	}
	return r;
}

/* Wipes a string held by jansson (passwords, codes) before it is freed. */
static void wipe_json_string(json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name);
	if (json_is_string(v))
		secmem_wipe((char *)json_string_value(v), json_string_length(v));
}

static const struct field_spec login_fields[] = {
	{"tenant", FIELD_STRING, 1, 1, 64, NULL, "tenant name"},
	{"username", FIELD_STRING, 1, 1, 64, NULL, "user name"},
	{"password", FIELD_STRING, 1, 1, PASSWORD_MAX_BYTES, NULL, "password"},
	{"totp", FIELD_STRING, 0, 0, 8, NULL, "6-digit one-time code"},
	{NULL, 0, 0, 0, 0, NULL, NULL},
};

static int login(struct http_request *req, struct http_reply *rep)
{
	struct login_request in;
	struct login_result res;
	char cookie[SESSION_COOKIE_MAX];
	json_t *body = NULL;
	int r;

	memset(&res, 0, sizeof(res));
	if ((r = parse_body(req, rep, login_fields, &body)) != 0)
		return r;
	in = (struct login_request){
		fieldspec_string(body, "tenant"),
		fieldspec_string(body, "username"),
		fieldspec_string(body, "password"),
		json_string_length(json_object_get(body, "password")),
		fieldspec_string(body, "totp"),
		req->source,
	};
	r = auth_login(req->svc, &in, store_now_ms(), &res);
	if (r == IV_ERR_UNAUTHENTICATED)
		rep->error_message = "invalid credentials";
	else if (r == IV_ERR_THROTTLED)
		rep->error_message = "too many failed logins for this account or address; try "
				     "again later";
	else if (r == IV_ERR_TOTP_REQUIRED)
		rep->error_message = "a one-time code (\"totp\") is required for this account";
	if (r != 0)
		goto out;
	if ((r = session_cookie(cookie, sizeof(cookie), res.token,
				req->svc->cfg.session_absolute_timeout_s)) != 0 ||
	    (r = http_reply_header(rep, "Set-Cookie", cookie)) != 0)
		goto out;
	rep->no_store = 1;
	rep->body = json_object();
	json_object_set_new(rep->body, "user", json_string(res.session.username));
	json_object_set_new(rep->body, "tenant", json_string(res.session.tenant));
	json_object_set_new(rep->body, "role", json_string(res.session.role));
	json_object_set_new(rep->body, "expires_at", json_integer(res.session.expires_at));
	json_object_set_new(rep->body, "idle_timeout_s",
			    json_integer(req->svc->cfg.session_idle_timeout_s));
	json_object_set_new(rep->body, "totp_enrolment_required",
			    json_boolean(res.totp_enrolment_required));
	/* success */
	r = 0;
out:
	secmem_wipe(cookie, sizeof(cookie));
	secmem_wipe(res.token, sizeof(res.token));
	wipe_json_string(body, "password");
	wipe_json_string(body, "totp");
	json_decref(body);
	return r;
}

static int whoami(struct http_request *req, struct http_reply *rep)
{
	const struct principal *who = &req->who;
	rep->body = json_object();
	json_object_set_new(rep->body, "kind",
			    json_string(who->kind == PRINCIPAL_APIKEY ? "apikey" : "user"));
	json_object_set_new(rep->body, who->kind == PRINCIPAL_APIKEY ? "name" : "user",
			    json_string(who->name));
	json_object_set_new(rep->body, "tenant", json_string(who->tenant));
	json_object_set_new(rep->body, "tenant_id", json_integer(who->tenant_id));
	json_object_set_new(rep->body, "role", json_string(who->role));
	if (who->kind == PRINCIPAL_USER) {
		struct user_state u;
		int r = req->svc->st->ops->auth->user_get_by_id(req->svc->st, who->tenant_id,
								 who->user_id, &u);
		if (r != 0)
			return r;
		secmem_wipe(u.rec.password_hash, sizeof(u.rec.password_hash));
		json_object_set_new(rep->body, "user_id", json_integer(who->user_id));
		json_object_set_new(rep->body, "totp_enabled", json_boolean(u.totp_enabled));
		json_object_set_new(rep->body, "totp_enrolment_required",
				    json_boolean(who->role_bit == ROLE_TOTP_ENROLMENT));
	} else
		json_object_set_new(rep->body, "apikey_id", json_integer(who->apikey_id));
	return 0;
}

static int logout(struct http_request *req, struct http_reply *rep)
{
	struct store *st = req->svc->st;
	struct audit_actor actor;
	struct audit_event ev;
	char object[2 * STORE_NAME_MAX + 8], cookie[SESSION_COOKIE_MAX];
	int r;

	request_actor(req, &actor);
	if ((r = st->ops->begin(st, 1)) != 0)
		return r;
	r = st->ops->auth->session_delete(st, req->who.session_id);
	if (r == 0) {
		snprintf(object, sizeof(object), "user:%s/%s", req->who.tenant, req->who.name);
		ev = (struct audit_event){req->who.tenant_id, "session.logout", object, "success",
					  NULL};
		r = audit_append(req->svc->v, &actor, &ev);
	}
	if (r == 0)
		r = st->ops->commit(st);
	else
		st->ops->rollback(st);
	if (r != 0)
		return r;
	if ((r = session_cookie(cookie, sizeof(cookie), NULL, 0)) != 0 ||
	    (r = http_reply_header(rep, "Set-Cookie", cookie)) != 0)
		return r;
	rep->status = 204;
	return 0;
}

static const struct field_spec password_fields[] = {
	{"current", FIELD_STRING, 1, 1, PASSWORD_MAX_BYTES, NULL, "the current password"},
	{"new", FIELD_STRING, 1, 1, PASSWORD_MAX_BYTES, NULL, "the new password"},
	{NULL, 0, 0, 0, 0, NULL, NULL},
};

static int change_password(struct http_request *req, struct http_reply *rep)
{
	json_t *body = NULL, *errors, *e;
	const char *reason = NULL;
	int r;

	if ((r = parse_body(req, rep, password_fields, &body)) != 0)
		return r;
	r = auth_change_password(req->svc, &req->who, req->source,
				 fieldspec_string(body, "current"),
				 json_string_length(json_object_get(body, "current")),
				 fieldspec_string(body, "new"),
				 json_string_length(json_object_get(body, "new")), store_now_ms(),
				 &reason);
	if (r == IV_ERR_WEAK_PASSWORD && (errors = json_array()) != NULL) {
		e = json_object();
		json_object_set_new(e, "field", json_string("new"));
		json_object_set_new(e, "code", json_string("weak_password"));
		json_object_set_new(e, "message", json_string(reason ? reason : "too weak"));
		json_array_append_new(errors, e);
		rep->field_errors = errors;
	}
	if (r != 0 && reason != NULL)
		rep->error_message = reason;
	else if (r == IV_ERR_THROTTLED)
		rep->error_message = "too many failed attempts; try again later";
	if (r == 0)
		rep->status = 204;
	wipe_json_string(body, "current");
	wipe_json_string(body, "new");
	json_decref(body);
	return r;
}

static int totp_start(struct http_request *req, struct http_reply *rep)
{
	struct audit_actor actor;
	char base32[TOTP_BASE32_MAX], uri[TOTP_URI_MAX];
	int r;

	request_actor(req, &actor);
	r = totp_enroll(req->svc->v, &actor, req->who.tenant_id, req->who.tenant, req->who.user_id,
			base32, uri);
	if (r == IV_ERR_REFUSED)
		rep->error_message = "TOTP is already enabled; disable it first to enrol again";
	if (r == 0) {
		rep->status = 201;
		rep->body = json_object();
		json_object_set_new(rep->body, "secret_base32", json_string(base32));
		json_object_set_new(rep->body, "otpauth_uri", json_string(uri));
		json_object_set_new(rep->body, "digits", json_integer(TOTP_DIGITS));
		json_object_set_new(rep->body, "period", json_integer(TOTP_STEP_S));
	}
	secmem_wipe(base32, sizeof(base32));
	secmem_wipe(uri, sizeof(uri));
	return r;
}

static const struct field_spec code_fields[] = {
	{"code", FIELD_STRING, 1, 6, 6, NULL, "6-digit one-time code"},
	{NULL, 0, 0, 0, 0, NULL, NULL},
};

static int totp_change(struct http_request *req, struct http_reply *rep, int enable)
{
	struct audit_actor actor;
	json_t *body = NULL;
	int r;

	if ((r = parse_body(req, rep, code_fields, &body)) != 0)
		return r;
	request_actor(req, &actor);
	r = enable ? totp_confirm(req->svc->v, &actor, req->who.tenant_id, req->who.user_id,
				  fieldspec_string(body, "code"), store_now_ms())
		   : totp_disable(req->svc->v, &actor, req->who.tenant_id, req->who.user_id,
				  fieldspec_string(body, "code"), store_now_ms());
	wipe_json_string(body, "code");
	json_decref(body);
	if (r == IV_ERR_UNAUTHENTICATED) {
		/* the session is fine; the code is not: not a 401 that would log the UI out */
		rep->error_message = "the one-time code does not match";
		return IV_ERR_INVALID;
	}
	if (r == IV_ERR_REFUSED)
		rep->error_message = enable ? "no pending TOTP enrolment, or TOTP is already enabled"
					    : "TOTP is not enabled, or the tenant requires it";
	if (r != 0)
		return r;
	rep->body = json_object();
	json_object_set_new(rep->body, "totp_enabled", json_boolean(enable));
	return 0;
}

static int totp_confirm_route(struct http_request *req, struct http_reply *rep)
{
	return totp_change(req, rep, 1);
}

static int totp_disable_route(struct http_request *req, struct http_reply *rep)
{
	return totp_change(req, rep, 0);
}

static int password_suggestion(struct http_request *req, struct http_reply *rep)
{
	char pw[GENERATED_PASSWORD_LEN + 1];
	(void)req;
	password_suggest(pw);
	rep->no_store = 1;
	rep->body = json_object();
	json_object_set_new(rep->body, "passphrase", json_string(pw));
	secmem_wipe(pw, sizeof(pw));
	return 0;
}

#define ANY_SESSION (ROLES_ALL | ROLE_TOTP_ENROLMENT)

const struct route session_routes[] = {
	{"POST", "/api/v1/session", login, 0, ROUTE_PUBLIC | ROUTE_SELF_LOCKING},
	{"GET", "/api/v1/session", whoami, ANY_SESSION, 0},
	{"DELETE", "/api/v1/session", logout, ANY_SESSION, ROUTE_USERS_ONLY},
	{"POST", "/api/v1/session/password", change_password, ROLES_ALL,
	 ROUTE_USERS_ONLY | ROUTE_SELF_LOCKING},
	{"POST", "/api/v1/session/totp", totp_start, ANY_SESSION,
	 ROUTE_USERS_ONLY | ROUTE_CARRIES_KEYS},
	{"POST", "/api/v1/session/totp/confirm", totp_confirm_route, ANY_SESSION,
	 ROUTE_USERS_ONLY},
	{"DELETE", "/api/v1/session/totp", totp_disable_route, ROLES_ALL, ROUTE_USERS_ONLY},
	{"GET", "/api/v1/password/suggestion", password_suggestion, 0, ROUTE_PUBLIC},
	{NULL, NULL, NULL, 0, 0},
};
