/* /api/v1/devices: create, list (filters, cursor), get, update, delete, and
 * the audited key reveal. */
#include "iotvault/audit.h"
#include "iotvault/crypto.h"
#include "iotvault/device.h"
#include "iotvault/fieldspec.h"
#include "iotvault/hex.h"
#include "iotvault/http.h"
#include "iotvault/hygiene.h"
#include "iotvault/store_hygiene.h"
#include "iotvault/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_DEFAULT 100
#define LIST_MAX 1000
#define MAX_TAGS 32

static const char *const device_types[] = {"lorawan", "lwm2m", NULL};
static const char *const key_policies[] = {"reject", "flag", "regenerate", NULL};
static const char *const mac_versions[] = {"1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.1", NULL};

static const struct field_spec create_spec[] = {
	{"type", FIELD_ENUM, 1, 0, 0, device_types, NULL},
	{"name", FIELD_STRING, 0, 0, STORE_NAME_MAX, NULL, NULL},
	{"tags", FIELD_TAGS, 0, 0, MAX_TAGS, NULL, NULL},
	{"dev_eui", FIELD_EUI, 0, 0, 0, NULL, "16 hex digits"},
	{"join_eui", FIELD_EUI, 0, 0, 0, NULL, "16 hex digits"},
	{"mac_version", FIELD_ENUM, 0, 0, 0, mac_versions, NULL},
	{"app_key", FIELD_HEX, 0, 16, 16, NULL, NULL},
	{"nwk_key", FIELD_HEX, 0, 16, 16, NULL, NULL},
	{"endpoint", FIELD_IDENT, 0, 1, DEVICE_ENDPOINT_MAX, NULL, NULL},
	{"psk_identity", FIELD_IDENT, 0, 1, DEVICE_PSK_IDENTITY_MAX, NULL, NULL},
	{"psk", FIELD_HEX, 0, DEVICE_PSK_MIN, DEVICE_PSK_MAX, NULL, NULL},
	{"psk_length", FIELD_INT, 0, DEVICE_PSK_MIN, DEVICE_PSK_MAX, NULL, NULL},
	{"key_policy", FIELD_ENUM, 0, 0, 0, key_policies, NULL},
	{NULL, 0, 0, 0, 0, NULL, NULL},
};

static const struct field_spec update_spec[] = {
	{"name", FIELD_STRING, 0, 0, STORE_NAME_MAX, NULL, NULL},
	{"tags", FIELD_TAGS, 0, 0, MAX_TAGS, NULL, NULL},
	{"join_eui", FIELD_EUI, 0, 0, 0, NULL, "16 hex digits"},
	{NULL, 0, 0, 0, 0, NULL, NULL},
};

json_t *device_to_json(const struct device_record *d);

json_t *device_to_json(const struct device_record *d)
{
	json_t *o = json_object(), *tags = json_array();
	char copy[STORE_TAGS_MAX + 1], *save = NULL;

	json_object_set_new(o, "id", json_integer(d->id));
	json_object_set_new(o, "type", json_string(d->kind));
	json_object_set_new(o, "name", json_string(d->name));
	snprintf(copy, sizeof(copy), "%s", d->tags);
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
		json_array_append_new(tags, json_string(t));
	json_object_set_new(o, "tags", tags);
	if (strcmp(d->kind, "lorawan") == 0) {
		json_object_set_new(o, "dev_eui", json_string(d->dev_eui));
		json_object_set_new(o, "join_eui", json_string(d->join_eui));
		json_object_set_new(o, "mac_version", json_string(d->mac_version));
	} else {
		json_object_set_new(o, "endpoint", json_string(d->endpoint));
		json_object_set_new(o, "psk_identity", json_string(d->psk_identity));
	}
	json_object_set_new(o, "created_at", json_integer(d->created_at));
	json_object_set_new(o, "updated_at", json_integer(d->updated_at));
	return o;
}

/* ["a","b"] -> "a,b" (validated by FIELD_TAGS already) */
static int tags_join(json_t *arr, char *out, size_t cap)
{
	size_t i, used = 0;
	json_t *t;
	out[0] = '\0';
	json_array_foreach(arr, i, t)
	{
		int n = snprintf(out + used, cap - used, "%s%s", used ? "," : "", json_string_value(t));
		if (n < 0 || (size_t)n >= cap - used)
			return IV_ERR_TOO_LARGE;
		used += (size_t)n;
	}
	return 0;
}

/* A key from the body (hex) or, when absent, a generated one. */
static int body_key(json_t *body, const char *field, size_t len, size_t gen_len,
		    struct secbuf **out, json_t *generated)
{
	const char *hex = fieldspec_string(body, field);
	struct secbuf *k;
	size_t want = len ? len : (hex ? 0 : gen_len);

	if (hex && !len) {
		/* variable length (PSK): the validated hex length decides */
		size_t digits = 0;
		const char *p = hex + ((hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) ? 2 : 0);
		for (; *p; p++)
			digits += *p != ':' && *p != '-';
		want = digits / 2;
	}
	if ((k = secbuf_new(want)) == NULL)
		return IV_ERR_NOMEM;
	if (hex) {
		if (hex_decode_exact(hex, k->data, k->len) != 0) {
			secbuf_free(k);
			return IV_ERR_INVALID;
		}
		/* the request's copy of the key */
		secmem_wipe((char *)hex, strlen(hex));
	} else {
		/* drawn again in the (never seen) case a rule flags it */
		if (hygiene_generate_key(k->data, k->len) != 0) {
			secbuf_free(k);
			return IV_ERR_CRYPTO;
		}
		json_array_append_new(generated, json_string(field));
	}
	*out = k;
	return 0;
}

struct findings_ctx {
	json_t *array;
};

static int finding_one(void *ctx, const struct device_finding *f)
{
	struct findings_ctx *fc = ctx;
	json_t *o = json_object();
	json_object_set_new(o, "field", json_string(f->field));
	json_object_set_new(o, "rule", json_string(f->rule));
	json_object_set_new(o, "message", json_string(f->detail));
	json_array_append_new(fc->array, o);
	return 0;
}

/* "needs_provisioning" and "findings" of a device's key hygiene. */
static int add_hygiene(struct store *st, const struct device_record *d, json_t *o)
{
	struct findings_ctx fc = {json_array()};
	int needs = 0, r;
	if ((r = st->ops->hygiene->device_get_needs_provisioning(st, d->tenant_id, d->id, &needs)) ||
	    (r = st->ops->hygiene->finding_list(st, d->id, finding_one, &fc))) {
		json_decref(fc.array);
		return r;
	}
	json_object_set_new(o, "needs_provisioning", json_boolean(needs));
	json_object_set_new(o, "findings", fc.array);
	return 0;
}

/* One field error per rule per key: {"field", "code": "weak_key", "rule", "message"}. */
static json_t *weak_key_errors(const struct device_key_report *report)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < report->n; i++) {
		json_t *e = json_object();
		json_object_set_new(e, "field", json_string(report->items[i].field));
		json_object_set_new(e, "code", json_string("weak_key"));
		json_object_set_new(e, "rule", json_string(report->items[i].rule));
		json_object_set_new(e, "message", json_string(report->items[i].message));
		json_array_append_new(arr, e);
	}
	return arr;
}

static int create_device(struct http_request *req, struct http_reply *rep)
{
	struct device_input in = {0};
	struct device_key_report *report = NULL;
	struct device_record dev;
	json_t *body = NULL, *errors = NULL, *generated = json_array();
	char tags[STORE_TAGS_MAX + 1] = "", err[256] = "";
	int r;

	if ((r = http_body_json(req, rep, &body)) != 0)
		goto out;
	if ((r = fieldspec_validate(create_spec, body, &errors)) != 0) {
		rep->field_errors = errors;
		goto out;
	}
	if (fieldspec_string(body, "key_policy") &&
	    key_policy_parse(fieldspec_string(body, "key_policy"), &in.key_policy) != 0) {
		r = IV_ERR_INVALID;
		goto out;
	}
	if ((report = calloc(1, sizeof(*report))) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	in.kind = fieldspec_string(body, "type");
	in.name = fieldspec_string(body, "name");
	if (json_object_get(body, "tags") && !json_is_null(json_object_get(body, "tags")) &&
	    (r = tags_join(json_object_get(body, "tags"), tags, sizeof(tags))) != 0) {
		rep->error_message = "tags: too long altogether";
		r = IV_ERR_INVALID;
		goto out;
	}
	in.tags = tags;
	in.dev_eui = fieldspec_string(body, "dev_eui");
	in.join_eui = fieldspec_string(body, "join_eui");
	in.mac_version = fieldspec_string(body, "mac_version");
	in.endpoint = fieldspec_string(body, "endpoint");
	in.psk_identity = fieldspec_string(body, "psk_identity");
	if (strcmp(in.kind, "lorawan") == 0) {
		if ((r = body_key(body, "app_key", AES128_KEY_LEN, AES128_KEY_LEN, &in.app_key,
				  generated)) != 0)
			goto out;
		if ((in.mac_version && strcmp(in.mac_version, "1.1") == 0) ||
		    fieldspec_string(body, "nwk_key"))
			if ((r = body_key(body, "nwk_key", AES128_KEY_LEN, AES128_KEY_LEN, &in.nwk_key,
					  generated)) != 0)
				goto out;
		if (fieldspec_string(body, "psk")) {
			snprintf(err, sizeof(err), "psk: only for lwm2m devices");
			r = IV_ERR_INVALID;
			goto out;
		}
	} else {
		if ((r = body_key(body, "psk", 0,
				  (size_t)fieldspec_int(body, "psk_length", DEVICE_PSK_DEFAULT), &in.psk,
				  generated)) != 0)
			goto out;
		if (fieldspec_string(body, "app_key") || fieldspec_string(body, "nwk_key")) {
			snprintf(err, sizeof(err), "%s: only for lorawan devices",
				 fieldspec_string(body, "app_key") ? "app_key" : "nwk_key");
			r = IV_ERR_INVALID;
			goto out;
		}
	}
	r = device_create_checked(req->svc->v,
				  &(struct audit_actor){req->who.kind == PRINCIPAL_APIKEY ? "apikey"
											  : "user",
							req->who.name, req->source},
				  req->who.tenant_id, &in, &dev, report, err, sizeof(err));
	if (r == IV_ERR_WEAK_KEY) {
		rep->field_errors = weak_key_errors(report);
		rep->error_message = "key rejected as weak or duplicated (key_policy reject)";
		err[0] = '\0';
		goto out;
	}
	if (r != 0)
		goto out;
	rep->status = 201;
	rep->body = device_to_json(&dev);
	if ((r = add_hygiene(req->svc->st, &dev, rep->body)) != 0)
		goto out;
	json_object_set_new(rep->body, "generated_keys", generated);
	generated = NULL;
	/* success */
	r = 0;
out:
	if (r != 0 && err[0]) {
		/* field-level form of device_validate's "field: reason" message */
		char *colon = strchr(err, ':');
		json_t *e = json_object();
		if (colon) {
			*colon = '\0';
			json_object_set_new(e, "field", json_string(err));
			json_object_set_new(e, "code", json_string(r == IV_ERR_EXISTS ? "conflict" : "invalid"));
			json_object_set_new(e, "message", json_string(colon[1] == ' ' ? colon + 2 : colon + 1));
			rep->field_errors = json_array();
			json_array_append_new(rep->field_errors, e);
			rep->error_message = r == IV_ERR_EXISTS ? "already exists" : "invalid device";
		} else
			json_decref(e);
	}
	json_decref(generated);
	if (body) {
		/* keys given in the body live in jansson's strings: overwrite them */
		const char *const secret_fields[] = {"app_key", "nwk_key", "psk"};
		for (size_t i = 0; i < 3; i++) {
			json_t *v = json_object_get(body, secret_fields[i]);
			if (json_is_string(v))
				secmem_wipe((char *)json_string_value(v), json_string_length(v));
		}
	}
	json_decref(body);
	free(report);
	secbuf_free(in.app_key);
	secbuf_free(in.nwk_key);
	secbuf_free(in.psk);
	return r;
}

struct list_ctx {
	json_t *array;
	int64_t last;
	int count;
};

static int list_one(void *ctx, const struct device_record *d)
{
	struct list_ctx *lc = ctx;
	json_array_append_new(lc->array, device_to_json(d));
	lc->last = d->id;
	lc->count++;
	return 0;
}

static int list_devices(struct http_request *req, struct http_reply *rep)
{
	struct device_filter filter = {0};
	struct list_ctx lc = {json_array(), 0, 0};
	const char *cursor = http_query(req, "cursor"), *limit_s = http_query(req, "limit");
	const char *type = http_query(req, "type"), *join_eui = http_query(req, "join_eui");
	char eui_buf[EUI_HEX_LEN + 1];
	uint8_t eui[EUI_LEN];
	int64_t after = 0, limit = LIST_DEFAULT;
	int r;

	if (cursor && http_parse_id(cursor, &after) != 0) {
		rep->error_message = "cursor: not a cursor returned by this API";
		r = IV_ERR_INVALID;
		goto fail;
	}
	if (limit_s && (http_parse_id(limit_s, &limit) != 0 || limit > LIST_MAX)) {
		rep->error_message = "limit: 1 to 1000";
		r = IV_ERR_INVALID;
		goto fail;
	}
	if (type && strcmp(type, "lorawan") != 0 && strcmp(type, "lwm2m") != 0) {
		rep->error_message = "type: lorawan or lwm2m";
		r = IV_ERR_INVALID;
		goto fail;
	}
	if (join_eui) {
		if (eui_parse(join_eui, eui) != 0) {
			rep->error_message = "join_eui: 16 hex digits";
			r = IV_ERR_INVALID;
			goto fail;
		}
		eui_format(eui, eui_buf);
		filter.join_eui = eui_buf;
	}
	filter.kind = type;
	filter.tag = http_query(req, "tag");
	filter.name_contains = http_query(req, "q");
	if ((filter.tag && strlen(filter.tag) > 64) ||
	    (filter.name_contains && strlen(filter.name_contains) > STORE_NAME_MAX)) {
		rep->error_message = "tag or q: too long";
		r = IV_ERR_INVALID;
		goto fail;
	}
	r = req->svc->st->ops->device_list(req->svc->st, req->who.tenant_id, &filter, after,
					   (int)limit, list_one, &lc);
	if (r != 0)
		goto fail;
	rep->body = json_object();
	json_object_set_new(rep->body, "devices", lc.array);
	if (lc.count == limit) {
		char next[32];
		snprintf(next, sizeof(next), "%lld", (long long)lc.last);
		json_object_set_new(rep->body, "next_cursor", json_string(next));
	} else
		json_object_set_new(rep->body, "next_cursor", json_null());
	return 0;
fail:
	json_decref(lc.array);
	return r;
}

/* The device named by the path, in the caller's tenant (others: 404). */
static int load_device(struct http_request *req, struct http_reply *rep, struct device_record *dev)
{
	return http_load_device(req, rep, NULL, 0, dev);
}

static int get_device(struct http_request *req, struct http_reply *rep)
{
	struct device_record dev;
	int r = load_device(req, rep, &dev);
	if (r != 0)
		return r;
	rep->body = device_to_json(&dev);
	return add_hygiene(req->svc->st, &dev, rep->body);
}

static int update_device(struct http_request *req, struct http_reply *rep)
{
	struct device_record dev;
	struct audit_event ev;
	struct audit_actor actor = http_actor(req);
	struct store *st = req->svc->st;
	json_t *body = NULL, *errors = NULL, *tags;
	char object[64], fields[128] = "";
	uint8_t eui[EUI_LEN];
	int r;

	if ((r = load_device(req, rep, &dev)) != 0)
		return r;
	if ((r = http_body_json(req, rep, &body)) != 0)
		return r;
	if ((r = fieldspec_validate(update_spec, body, &errors)) != 0) {
		rep->field_errors = errors;
		goto out;
	}
	if (fieldspec_string(body, "name")) {
		snprintf(dev.name, sizeof(dev.name), "%s", fieldspec_string(body, "name"));
		strncat(fields, "name ", sizeof(fields) - strlen(fields) - 1);
	}
	if ((tags = json_object_get(body, "tags")) != NULL && json_is_array(tags)) {
		if (tags_join(tags, dev.tags, sizeof(dev.tags)) != 0) {
			rep->error_message = "tags: too long altogether";
			r = IV_ERR_INVALID;
			goto out;
		}
		strncat(fields, "tags ", sizeof(fields) - strlen(fields) - 1);
	}
	if (fieldspec_string(body, "join_eui")) {
		if (strcmp(dev.kind, "lorawan") != 0) {
			rep->error_message = "join_eui: only for lorawan devices";
			r = IV_ERR_INVALID;
			goto out;
		}
		if (eui_parse(fieldspec_string(body, "join_eui"), eui) != 0) {
			r = IV_ERR_INVALID;
			goto out;
		}
		eui_format(eui, dev.join_eui);
		strncat(fields, "join_eui ", sizeof(fields) - strlen(fields) - 1);
	}
	snprintf(object, sizeof(object), "device:%lld", (long long)dev.id);
	ev = (struct audit_event){dev.tenant_id, "device.update", object, "success", fields};
	if ((r = st->ops->begin(st, 1)) != 0)
		goto out;
	if ((r = audit_append(req->svc->v, &actor, &ev)) != 0 ||
	    (r = st->ops->device_update(st, &dev)) != 0 || (r = st->ops->commit(st)) != 0) {
		st->ops->rollback(st);
		goto out;
	}
	if ((r = load_device(req, rep, &dev)) != 0)
		goto out;
	rep->body = device_to_json(&dev);
out:
	json_decref(body);
	return r;
}

static int delete_device_handler(struct http_request *req, struct http_reply *rep)
{
	struct device_record dev;
	struct audit_actor actor = http_actor(req);
	int r = load_device(req, rep, &dev);
	if (r != 0)
		return r;
	if ((r = device_delete(req->svc->v, &actor, &dev)) != 0)
		return r;
	rep->status = 204;
	return 0;
}

static int reveal_keys(struct http_request *req, struct http_reply *rep)
{
	struct device_record dev;
	struct audit_actor actor = http_actor(req);
	const char *const *fields;
	char hex[2 * SECRET_MAX_LEN + 1];
	json_t *keys = NULL;
	int r;

	if ((r = load_device(req, rep, &dev)) != 0)
		return r;
	keys = json_object();
	fields = device_key_fields(&dev);
	for (size_t i = 0; fields[i] != NULL; i++) {
		struct secret_ref ref = {dev.tenant_id, "device", dev.id, fields[i]};
		struct secbuf *key = NULL;
		/* vault_reveal writes the audit record before it opens the key */
		if ((r = vault_reveal(req->svc->v, &actor, &ref, &key)) != 0)
			goto fail;
		hex_encode_upper(key->data, key->len, hex);
		secbuf_free(key);
		json_object_set_new(keys, fields[i], json_string(hex));
		secmem_wipe(hex, sizeof(hex));
	}
	rep->body = json_object();
	json_object_set_new(rep->body, "id", json_integer(dev.id));
	json_object_set_new(rep->body, "keys", keys);
	return 0;
fail:
	/* the server wipes string values of key-carrying replies; this one is dropped */
	{
		const char *k;
		json_t *v;
		json_object_foreach(keys, k, v)
			secmem_wipe((char *)json_string_value(v), json_string_length(v));
	}
	json_decref(keys);
	return r;
}

const struct route device_routes[] = {
	{"GET", "/api/v1/devices", list_devices, ROLES_ALL, 0},
	{"POST", "/api/v1/devices", create_device, ROLE_ADMIN | ROLE_OPERATOR, 0},
	{"GET", "/api/v1/devices/{id}", get_device, ROLES_ALL, 0},
	{"PATCH", "/api/v1/devices/{id}", update_device, ROLE_ADMIN | ROLE_OPERATOR, 0},
	{"DELETE", "/api/v1/devices/{id}", delete_device_handler, ROLE_ADMIN | ROLE_OPERATOR, 0},
	{"GET", "/api/v1/devices/{id}/keys", reveal_keys, ROLE_ADMIN | ROLE_OPERATOR,
	 ROUTE_CARRIES_KEYS},
	{NULL, NULL, NULL, 0, 0},
};
