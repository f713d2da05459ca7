/* /api/v1/users: the tenant's admins list, create, change, disable, delete
 * and unlock user accounts. Users of other tenants do not exist here (404). */
#include "iotvault/auth.h"
#include "iotvault/crypto.h"
#include "iotvault/fieldspec.h"
#include "iotvault/http.h"
#include "iotvault/secmem.h"

#include <string.h>

#define PASSWORD_MAX_BYTES (PASSWORD_MAX_LEN * 4)

static const char *const role_names[] = {"admin", "operator", "auditor", "viewer", NULL};

static void request_actor(const struct http_request *req, struct audit_actor *actor)
{
	actor->type = req->who.kind == PRINCIPAL_APIKEY ? "apikey" : "user";
	actor->name = req->who.name;
	actor->source = req->source;
}

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

static json_t *user_json(const struct user_state *u)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(u->rec.id));
	json_object_set_new(o, "name", json_string(u->rec.username));
	json_object_set_new(o, "role", json_string(u->rec.role));
	json_object_set_new(o, "disabled", json_boolean(u->disabled));
	json_object_set_new(o, "totp_enabled", json_boolean(u->totp_enabled));
	json_object_set_new(o, "created_at", json_integer(u->rec.created_at));
	return o;
}

/* The user of the path's {id} in the caller's tenant. */
static int path_user(struct http_request *req, struct http_reply *rep, int64_t *id,
		     struct user_state *u)
{
	int r;
	if (http_parse_id(req->params[0], id) != 0) {
		rep->error_message = "no such user";
		return IV_ERR_NOT_FOUND;
	}
	r = req->svc->st->ops->auth->user_get_by_id(req->svc->st, req->who.tenant_id, *id, u);
	if (r == IV_ERR_NOT_FOUND)
		rep->error_message = "no such user";
	if (r == 0)
		secmem_wipe(u->rec.password_hash, sizeof(u->rec.password_hash));
	return r;
}

static int append_user(void *ctx, const struct user_state *u)
{
	return json_array_append_new(ctx, user_json(u)) == 0 ? 0 : IV_ERR_NOMEM;
}

static int list_users(struct http_request *req, struct http_reply *rep)
{
	json_t *arr = json_array();
	int r = req->svc->st->ops->auth->user_list(req->svc->st, req->who.tenant_id, append_user,
						    arr);
	if (r != 0) {
		json_decref(arr);
		return r;
	}
	rep->body = json_object();
	json_object_set_new(rep->body, "users", arr);
	return 0;
}

static const struct field_spec create_fields[] = {
	{"name", FIELD_IDENT, 1, 1, 64, NULL, "user name"},
	{"role", FIELD_ENUM, 1, 0, 0, role_names, "role"},
	{"password", FIELD_STRING, 0, 1, PASSWORD_MAX_BYTES, NULL, "password"},
	{"generate", FIELD_BOOL, 0, 0, 0, NULL, "generate a password"},
	{NULL, 0, 0, 0, 0, NULL, NULL},
};

static int create_user(struct http_request *req, struct http_reply *rep)
{
	struct service *svc = req->svc;
	struct audit_actor actor;
	struct user_state u;
	char generated[GENERATED_PASSWORD_LEN + 1], hash[PWHASH_STR_LEN];
	const char *name, *role, *password, *reason = NULL;
	size_t len;
	json_t *body = NULL, *pw;
	int64_t id = 0;
	int generate, r;

	memset(generated, 0, sizeof(generated));
	memset(hash, 0, sizeof(hash));
	if ((r = parse_body(req, rep, create_fields, &body)) != 0)
		return r;
	name = fieldspec_string(body, "name");
	role = fieldspec_string(body, "role");
	pw = json_object_get(body, "password");
	generate = fieldspec_bool(body, "generate", 0);
	if (!auth_name_valid(name)) {
		http_field_error(rep, "name", "format",
						"1-64 characters of a-z 0-9 . _ -, starting with a "
						"letter or digit");
		r = IV_ERR_INVALID;
		goto out;
	}
	if (generate == (json_is_string(pw) ? 1 : 0)) {
		http_field_error(rep, "password", "required",
						"give either a password or \"generate\": true");
		r = IV_ERR_INVALID;
		goto out;
	}
	if (generate) {
		password_generate(generated, GENERATED_PASSWORD_LEN);
		password = generated;
		len = GENERATED_PASSWORD_LEN;
	} else {
		password = json_string_value(pw);
		len = json_string_length(pw);
	}
	if ((r = password_policy_check(svc->password_policy, password, len, name, &reason)) != 0) {
		http_field_error(rep, "password", "weak_password", reason);
		rep->error_message = reason;
		goto out;
	}
	/* Argon2id runs without the service lock */
	if ((r = pwhash_hash(password, len, hash)) != 0)
		goto out;
	request_actor(req, &actor);
	service_lock(svc);
	r = user_create_hashed(svc->v, &actor, req->who.tenant_id, name, role, hash, &id);
	if (r == 0)
		r = svc->st->ops->auth->user_get_by_id(svc->st, req->who.tenant_id, id, &u);
	service_unlock(svc);
	if (r == IV_ERR_EXISTS)
		rep->error_message = "a user with this name exists in the tenant";
	if (r != 0)
		goto out;
	secmem_wipe(u.rec.password_hash, sizeof(u.rec.password_hash));
	rep->status = 201;
	rep->body = user_json(&u);
	if (generate) {
		/* shown once; the reply is Cache-Control: no-store */
		json_object_set_new(rep->body, "password", json_string(generated));
	}
	/* success */
	r = 0;
out:
	secmem_wipe(generated, sizeof(generated));
	secmem_wipe(hash, sizeof(hash));
	if (json_is_string(json_object_get(body, "password")))
		secmem_wipe((char *)json_string_value(json_object_get(body, "password")),
			    json_string_length(json_object_get(body, "password")));
	json_decref(body);
	return r;
}

static int get_user(struct http_request *req, struct http_reply *rep)
{
	struct user_state u;
	int64_t id;
	int r;
	if ((r = path_user(req, rep, &id, &u)) != 0)
		return r;
	rep->body = user_json(&u);
	return 0;
}

static const struct field_spec update_fields[] = {
	{"role", FIELD_ENUM, 0, 0, 0, role_names, "role"},
	{"disabled", FIELD_BOOL, 0, 0, 0, NULL, "account disabled"},
	{NULL, 0, 0, 0, 0, NULL, NULL},
};

static int update_user(struct http_request *req, struct http_reply *rep)
{
	struct audit_actor actor;
	struct user_state u;
	json_t *body = NULL, *d;
	int64_t id;
	int r;

	if ((r = path_user(req, rep, &id, &u)) != 0)
		return r;
	if ((r = parse_body(req, rep, update_fields, &body)) != 0)
		return r;
	d = json_object_get(body, "disabled");
	request_actor(req, &actor);
	r = user_update(req->svc->v, &actor, req->who.tenant_id, id, fieldspec_string(body, "role"),
			json_is_boolean(d) ? json_is_true(d) : -1, &u);
	json_decref(body);
	if (r == IV_ERR_REFUSED)
		rep->error_message = "the tenant's last active admin cannot be demoted or disabled";
	if (r != 0)
		return r;
	rep->body = user_json(&u);
	return 0;
}

static int delete_user(struct http_request *req, struct http_reply *rep)
{
	struct audit_actor actor;
	struct user_state u;
	int64_t id;
	int r;

	if ((r = path_user(req, rep, &id, &u)) != 0)
		return r;
	request_actor(req, &actor);
	r = user_delete(req->svc->v, &actor, req->who.tenant_id, id);
	if (r == IV_ERR_REFUSED)
		rep->error_message = "the tenant's last active admin cannot be deleted";
	if (r == 0)
		rep->status = 204;
	return r;
}

static int unlock_user(struct http_request *req, struct http_reply *rep)
{
	struct audit_actor actor;
	struct user_state u;
	int64_t id;
	int r;

	if ((r = path_user(req, rep, &id, &u)) != 0)
		return r;
	request_actor(req, &actor);
	r = user_unlock(req->svc->v, &actor, req->who.tenant_id, id);
	if (r == 0)
		rep->status = 204;
	return r;
}

const struct route user_routes[] = {
	{"GET", "/api/v1/users", list_users, ROLE_ADMIN, 0},
	{"POST", "/api/v1/users", create_user, ROLE_ADMIN, ROUTE_SELF_LOCKING | ROUTE_CARRIES_KEYS},
	{"GET", "/api/v1/users/{id}", get_user, ROLE_ADMIN, 0},
	{"PATCH", "/api/v1/users/{id}", update_user, ROLE_ADMIN, 0},
	{"DELETE", "/api/v1/users/{id}", delete_user, ROLE_ADMIN, 0},
	{"POST", "/api/v1/users/{id}/unlock", unlock_user, ROLE_ADMIN, 0},
	{NULL, NULL, NULL, 0, 0},
};
