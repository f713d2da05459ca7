/* /api/v1/devices/{id}/lwm2m: an LwM2M device's registration with the DM
 * server and the state of its DM credentials (never their keys or
 * identities). */
#include "iotvault/http.h"
#include "iotvault/store_lwm2m.h"

#include <string.h>

static int cred_to_json(void *ctx, const struct lwm2m_credential_record *c)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(c->id));
	json_object_set_new(o, "state", json_string(c->state));
	json_object_set_new(o, "created_at", json_integer(c->created_at));
	json_object_set_new(o, "activated_at", c->activated_at ? json_integer(c->activated_at)
								: json_null());
	json_object_set_new(o, "retired_at", c->retired_at ? json_integer(c->retired_at)
							    : json_null());
	json_array_append_new(ctx, o);
	return 0;
}

static json_t *registration_to_json(const struct lwm2m_registration_record *g)
{
	json_t *o = json_object();
	char location[LWM2M_LOCATION_MAX + 2];
	location[0] = '/';
	memcpy(location + 1, g->location, strlen(g->location) + 1);
	json_object_set_new(o, "location", json_string(location));
	json_object_set_new(o, "endpoint", json_string(g->endpoint));
	json_object_set_new(o, "lwm2m_version", json_string(g->lwm2m_version));
	json_object_set_new(o, "binding", json_string(g->binding));
	json_object_set_new(o, "queue_mode", json_boolean(g->queue_mode));
	json_object_set_new(o, "lifetime_s", json_integer(g->lifetime_s));
	json_object_set_new(o, "object_links", json_string(g->object_links));
	json_object_set_new(o, "address", json_string(g->address));
	json_object_set_new(o, "security", json_string(g->security));
	json_object_set_new(o, "registered_at", json_integer(g->registered_at));
	json_object_set_new(o, "updated_at", json_integer(g->updated_at));
	json_object_set_new(o, "expires_at", json_integer(g->expires_at));
	return o;
}

static int get_lwm2m(struct http_request *req, struct http_reply *rep)
{
	struct store *st = req->svc->st;
	struct device_selector sel = {0};
	struct device_record dev;
	struct lwm2m_registration_record reg;
	json_t *creds;
	int r;

	if (http_parse_id(req->params[0], &sel.id) != 0) {
		rep->error_message = "device id must be a positive integer";
		return IV_ERR_NOT_FOUND;
	}
	if ((r = st->ops->device_get(st, req->who.tenant_id, &sel, &dev)) != 0) {
		if (r == IV_ERR_NOT_FOUND)
			rep->error_message = "no such device";
		return r;
	}
	if (strcmp(dev.kind, "lwm2m") != 0) {
		rep->error_message = "not an LwM2M device";
		return IV_ERR_NOT_FOUND;
	}
	r = st->ops->lwm2m->registration_get(st, dev.id, &reg);
	if (r != 0 && r != IV_ERR_NOT_FOUND)
		return r;
	/* a registration past its lifetime counts as gone even before the sweep */
	if (r == 0 && reg.expires_at <= store_now_ms())
		r = IV_ERR_NOT_FOUND;
	creds = json_array();
	{
		int rc = st->ops->lwm2m->credential_list(st, dev.id, cred_to_json, creds);
		if (rc != 0) {
			json_decref(creds);
			return rc;
		}
	}
	rep->body = json_object();
	json_object_set_new(rep->body, "device_id", json_integer(dev.id));
	json_object_set_new(rep->body, "endpoint", json_string(dev.endpoint));
	json_object_set_new(rep->body, "registered", json_boolean(r == 0));
	json_object_set_new(rep->body, "registration", r == 0 ? registration_to_json(&reg) : json_null());
	json_object_set_new(rep->body, "dm_credentials", creds);
	return 0;
}

const struct route lwm2m_routes[] = {
	{"GET", "/api/v1/devices/{id}/lwm2m", get_lwm2m, ROLES_ALL, 0},
	{NULL, NULL, NULL, 0, 0},
};
