/* /api/v1/apikeys: the tenant's admins create (shown once), list and revoke
 * API keys for machine clients. */
#include "iotvault/auth.h"
#include "iotvault/fieldspec.h"
#include "iotvault/http.h"
#include "iotvault/secmem.h"

#include <string.h>

static const char *const role_names[] = {"admin", "operator", "auditor", "viewer", NULL};

static const struct field_spec create_fields[] = {
	{"name", FIELD_IDENT, 1, 1, 64, NULL, "key name"},
	{"role", FIELD_ENUM, 1, 0, 0, role_names, "role"},
	{NULL, 0, 0, 0, 0, NULL, NULL},
};

static void request_actor(const struct http_request *req, struct audit_actor *actor)
{
	actor->type = req->who.kind == PRINCIPAL_APIKEY ? "apikey" : "user";
	actor->name = req->who.name;
	actor->source = req->source;
}

static json_t *key_json(const struct apikey_record *k)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(k->id));
	json_object_set_new(o, "name", json_string(k->name));
	json_object_set_new(o, "role", json_string(k->role));
	json_object_set_new(o, "created_by", json_string(k->created_by));
	json_object_set_new(o, "created_at", json_integer(k->created_at));
	json_object_set_new(o, "last_used_at",
			    k->last_used_at ? json_integer(k->last_used_at) : json_null());
	json_object_set_new(o, "revoked", json_boolean(k->revoked_at != 0));
	json_object_set_new(o, "revoked_at", k->revoked_at ? json_integer(k->revoked_at) : json_null());
	return o;
}

static int create_key(struct http_request *req, struct http_reply *rep)
{
	struct audit_actor actor;
	char key[APIKEY_TEXT_MAX];
	json_t *body = NULL, *errors = NULL;
	int64_t id = 0, now = store_now_ms();
	int r;

	if ((r = http_body_json(req, rep, &body)) != 0)
		return r;
	if ((r = fieldspec_validate(create_fields, body, &errors)) != 0) {
		rep->field_errors = errors;
		goto out;
	}
	request_actor(req, &actor);
	if ((r = apikey_create(req->svc->v, &actor, req->who.tenant_id,
			       fieldspec_string(body, "name"), fieldspec_string(body, "role"), now,
			       key, &id)) != 0)
		goto out;
	rep->status = 201;
	rep->body = json_object();
	json_object_set_new(rep->body, "id", json_integer(id));
	json_object_set_new(rep->body, "name", json_string(fieldspec_string(body, "name")));
	json_object_set_new(rep->body, "role", json_string(fieldspec_string(body, "role")));
	json_object_set_new(rep->body, "created_at", json_integer(now));
	/* shown once; the reply is Cache-Control: no-store */
	json_object_set_new(rep->body, "key", json_string(key));
	secmem_wipe(key, sizeof(key));
out:
	json_decref(body);
	return r;
}

static int append_key(void *ctx, const struct apikey_record *k)
{
	return json_array_append_new(ctx, key_json(k)) == 0 ? 0 : IV_ERR_NOMEM;
}

static int list_keys(struct http_request *req, struct http_reply *rep)
{
	json_t *arr = json_array();
	int r = req->svc->st->ops->auth->apikey_list(req->svc->st, req->who.tenant_id, append_key,
						      arr);
	if (r != 0) {
		json_decref(arr);
		return r;
	}
	rep->body = json_object();
	json_object_set_new(rep->body, "apikeys", arr);
	return 0;
}

static int revoke_key(struct http_request *req, struct http_reply *rep)
{
	struct audit_actor actor;
	int64_t id;
	int r;

	if (http_parse_id(req->params[0], &id) != 0) {
		rep->error_message = "no such API key";
		return IV_ERR_NOT_FOUND;
	}
	request_actor(req, &actor);
	r = apikey_revoke(req->svc->v, &actor, req->who.tenant_id, id, store_now_ms());
	if (r == IV_ERR_NOT_FOUND)
		rep->error_message = "no such API key, or already revoked";
	if (r == 0)
		rep->status = 204;
	return r;
}

/* Creating keys needs a signed-in admin: a leaked key must not mint others. */
const struct route apikey_routes[] = {
	{"POST", "/api/v1/apikeys", create_key, ROLE_ADMIN, ROUTE_USERS_ONLY | ROUTE_CARRIES_KEYS},
	{"GET", "/api/v1/apikeys", list_keys, ROLE_ADMIN, 0},
	{"DELETE", "/api/v1/apikeys/{id}", revoke_key, ROLE_ADMIN, 0},
	{NULL, NULL, NULL, 0, 0},
};
