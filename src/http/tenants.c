/* /api/v1/tenants: a caller sees and (as admin) configures only its own
 * tenant; other tenants do not exist for it (404). Tenants are created with
 * `iotvault tenant add` by whoever runs the installation. */
#include "iotvault/fieldspec.h"
#include "iotvault/http.h"

#include <stdio.h>

static json_t *tenant_json(const struct tenant *t)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(t->id));
	json_object_set_new(o, "name", json_string(t->name));
	json_object_set_new(o, "created_at", json_integer(t->created_at));
	return o;
}

static int list_tenants(struct http_request *req, struct http_reply *rep)
{
	struct tenant t;
	int r = req->svc->st->ops->tenant_get(req->svc->st, req->who.tenant_id, &t);
	if (r != 0)
		return r;
	rep->body = json_object();
	json_object_set_new(rep->body, "tenants", json_array());
	json_array_append_new(json_object_get(rep->body, "tenants"), tenant_json(&t));
	return 0;
}

static int get_tenant(struct http_request *req, struct http_reply *rep)
{
	struct tenant t;
	int64_t id;
	int r;
	if (http_parse_id(req->params[0], &id) != 0 || id != req->who.tenant_id) {
		rep->error_message = "no such tenant";
		return IV_ERR_NOT_FOUND;
	}
	if ((r = req->svc->st->ops->tenant_get(req->svc->st, id, &t)) != 0)
		return r;
	rep->body = tenant_json(&t);
	return 0;
}

const struct route tenant_routes[] = {
	{"GET", "/api/v1/tenants", list_tenants, ROLES_ALL, 0},
	{"GET", "/api/v1/tenants/{id}", get_tenant, ROLES_ALL, 0},
	{NULL, NULL, NULL, 0, 0},
};
