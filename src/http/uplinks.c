/* /api/v1/devices/{id}/uplinks (stored uplinks, newest first, cursor
 * pagination) and /api/v1/devices/{id}/codec (the device's codec profile). */
#include "iotvault/audit.h"
#include "iotvault/codec.h"
#include "iotvault/fieldspec.h"
#include "iotvault/http.h"
#include "iotvault/store_appserver.h"

#include <stdio.h>
#include <string.h>

#define LIST_DEFAULT 100
#define LIST_MAX 1000

static int load_device(struct http_request *req, struct http_reply *rep, struct device_record *dev)
{
	return http_load_device(req, rep, "lorawan", IV_ERR_INVALID, dev);
}

struct list_ctx {
	json_t *array;
	int64_t last;
	int count;
};

static int list_one(void *ctx, const struct uplink_record *u)
{
	struct list_ctx *lc = ctx;
	json_t *o = json_object(), *decoded = NULL;
	json_object_set_new(o, "id", json_integer(u->id));
	json_object_set_new(o, "f_cnt", json_integer(u->f_cnt));
	json_object_set_new(o, "f_port", json_integer(u->f_port));
	json_object_set_new(o, "status", json_string(u->accepted ? "accepted" : "rejected"));
	json_object_set_new(o, "codec", json_string(u->codec));
	json_object_set_new(o, "source", json_string(u->source));
	json_object_set_new(o, "received_at", json_integer(u->received_at));
	json_object_set_new(o, "expires_at", json_integer(u->expires_at));
	if (u->decoded != NULL)
		decoded = json_loads(u->decoded, 0, NULL);
	json_object_set_new(o, "decoded", decoded ? decoded : json_null());
	if (!u->accepted)
		json_object_set_new(o, "reason", json_string(u->reason));
	json_array_append_new(lc->array, o);
	lc->last = u->id;
	lc->count++;
	return 0;
}

static int list_uplinks(struct http_request *req, struct http_reply *rep)
{
	struct device_record dev;
	struct list_ctx lc = {NULL, 0, 0};
	const char *cursor = http_query(req, "cursor"), *limit_s = http_query(req, "limit");
	int64_t before = 0, limit = LIST_DEFAULT;
	int r;

	if ((r = load_device(req, rep, &dev)) != 0)
		return r;
	if (cursor && http_parse_id(cursor, &before) != 0) {
		rep->error_message = "cursor: not a cursor returned by this API";
		return IV_ERR_INVALID;
	}
	if (limit_s && (http_parse_id(limit_s, &limit) != 0 || limit > LIST_MAX)) {
		rep->error_message = "limit: 1 to 1000";
		return IV_ERR_INVALID;
	}
	lc.array = json_array();
	r = req->svc->st->ops->appserver->uplink_list(req->svc->st, req->who.tenant_id, dev.id,
						      before, (int)limit, store_now_ms(), list_one,
						      &lc);
	if (r != 0) {
		json_decref(lc.array);
		return r;
	}
	rep->body = json_object();
	json_object_set_new(rep->body, "uplinks", lc.array);
	if (lc.count == limit) {
		char next[32];
		snprintf(next, sizeof(next), "%lld", (long long)lc.last);
		json_object_set_new(rep->body, "next_cursor", json_string(next));
	} else
		json_object_set_new(rep->body, "next_cursor", json_null());
	return 0;
}

static const struct field_spec codec_spec[] = {
	{"codec", FIELD_ENUM, 1, 0, 0, codec_names, NULL},
	{NULL, 0, 0, 0, 0, NULL, NULL},
};

static int get_codec(struct http_request *req, struct http_reply *rep)
{
	struct device_record dev;
	char codec[CODEC_NAME_MAX + 1];
	int r;
	if ((r = load_device(req, rep, &dev)) != 0 ||
	    (r = req->svc->st->ops->appserver->device_codec_get(req->svc->st, req->who.tenant_id,
								 dev.id, codec)) != 0)
		return r;
	rep->body = json_pack("{s:I,s:s}", "device_id", (json_int_t)dev.id, "codec", codec);
	return 0;
}

static int put_codec(struct http_request *req, struct http_reply *rep)
{
	struct device_record dev;
	struct store *st = req->svc->st;
	struct audit_actor actor = http_actor(req);
	struct audit_event ev;
	json_t *body = NULL, *errors = NULL;
	char object[64];
	const char *codec;
	int r;

	if ((r = load_device(req, rep, &dev)) != 0)
		return r;
	if ((r = http_body_json(req, rep, &body)) != 0)
		return r;
	if ((r = fieldspec_validate(codec_spec, body, &errors)) != 0) {
		rep->field_errors = errors;
		goto out;
	}
	codec = fieldspec_string(body, "codec");
	snprintf(object, sizeof(object), "device:%lld", (long long)dev.id);
	ev = (struct audit_event){dev.tenant_id, "device.codec", object, "success", codec};
	if ((r = st->ops->begin(st, 1)) != 0)
		goto out;
	if ((r = st->ops->appserver->device_codec_set(st, req->who.tenant_id, dev.id, codec)) != 0 ||
	    (r = audit_append(req->svc->v, &actor, &ev)) != 0 || (r = st->ops->commit(st)) != 0) {
		st->ops->rollback(st);
		goto out;
	}
	rep->body = json_pack("{s:I,s:s}", "device_id", (json_int_t)dev.id, "codec", codec);
	/* success */
	r = 0;
out:
	json_decref(body);
	return r;
}

const struct route uplink_routes[] = {
	{"GET", "/api/v1/devices/{id}/uplinks", list_uplinks, ROLES_ALL, 0},
	{"GET", "/api/v1/devices/{id}/codec", get_codec, ROLES_ALL, 0},
	{"PUT", "/api/v1/devices/{id}/codec", put_codec, ROLE_ADMIN | ROLE_OPERATOR, 0},
	{NULL, NULL, NULL, 0, 0},
};
