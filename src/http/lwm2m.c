/* /api/v1/devices/{id}/lwm2m: an LwM2M device's registration with the DM
 * server and the state of its DM credentials (never their keys or
 * identities); and the Device-Management operations on its /obj/inst/res
 * paths (read, write, execute, create, delete), carried to the device over
 * its registration's DTLS session by the LwM2M server (lwm2m_dm.h). The
 * Security object (0) and OSCORE object (21) hold credentials and are never
 * read or changed here, nor is the Server object (1) written: that is the
 * bootstrap's job. Every change is audited before it is sent. */
#include "iotvault/audit.h"
#include "iotvault/store_lwm2m_queue.h"
#include "iotvault/http.h"
#include "iotvault/log.h"
#include "iotvault/lwm2m_content.h"
#include "iotvault/lwm2m_dm.h"
#include "iotvault/lwm2m_observe.h"
#include "iotvault/store_lwm2m.h"
#include "iotvault/store_lwm2m_observe.h"
#include "http/lwm2m_http.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
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
	struct device_record dev;
	struct lwm2m_registration_record reg;
	json_t *creds;
	int r;

	if ((r = http_load_device(req, rep, "lwm2m", IV_ERR_NOT_FOUND, &dev)) != 0)
		return r;
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

/* ---- Device-Management operations ---- */

#define OBJ_SECURITY 0
#define OBJ_SERVER 1
#define OBJ_OSCORE 21
/* a CoAP code as class*32+detail */
#define COAP_CODE(c, d) ((c) * 32 + (d))

/* The LwM2M path of the route's {obj}/{inst}/{res} parameters. */
static int dm_path(const struct http_request *req, struct http_reply *rep, struct lwm2m_path *out)
{
	char text[LWM2M_PATH_TEXT_MAX + 1];
	size_t used = 0;
	for (size_t i = 1; i < req->nparams; i++) {
		int n = snprintf(text + used, sizeof(text) - used, "/%s", req->params[i]);
		if (n < 0 || used + (size_t)n >= sizeof(text))
			goto bad;
		used += (size_t)n;
	}
	if (lwm2m_path_parse(text, used, out) == 0)
		return 0;
bad:
	rep->error_message = "an LwM2M path is made of decimal ids 0..65534";
	return IV_ERR_INVALID;
}

static int dm_policy(enum lwm2m_dm_method m, const struct lwm2m_path *path,
		     struct http_reply *rep)
{
	uint16_t obj = path->id[0];
	if (obj == OBJ_SECURITY || obj == OBJ_OSCORE) {
		rep->error_message = "the Security and OSCORE objects hold credentials: they are "
				     "never read or changed over the API (the bootstrap writes them)";
		return IV_ERR_FORBIDDEN;
	}
	/* reading, discovering, observing and attributes change no value */
	if (obj == OBJ_SERVER && m != LWM2M_DM_READ && m != LWM2M_DM_EXECUTE &&
	    m != LWM2M_DM_DISCOVER && m != LWM2M_DM_OBSERVE && m != LWM2M_DM_WRITE_ATTRIBUTES) {
		rep->error_message = "the Server object is written by the bootstrap only";
		return IV_ERR_FORBIDDEN;
	}
	return 0;
}

static void dm_field_error(struct http_reply *rep, size_t index, const char *code,
			   const char *message)
{
	char field[48];
	snprintf(field, sizeof(field), "records[%zu]", index);
	http_field_error(rep, field, code, message);
}

static enum lwm2m_type type_from_name(const char *name)
{
	for (int t = LWM2M_TYPE_INTEGER; t <= LWM2M_TYPE_OBJLNK; t++)
		if (strcmp(name, lwm2m_type_name((enum lwm2m_type)t)) == 0)
			return (enum lwm2m_type)t;
	return LWM2M_TYPE_NONE;
}

/* One JSON value as TYPE (NONE: from the JSON kind). BIN (LWM2M_VALUE_MAX
 * bytes) holds decoded opaque bytes until the value is added. */
static int value_from_json(json_t *j, enum lwm2m_type type, uint8_t *bin,
			   struct lwm2m_value *out)
{
	if (type == LWM2M_TYPE_NONE) {
		type = json_is_integer(j)  ? LWM2M_TYPE_INTEGER
		       : json_is_real(j)   ? LWM2M_TYPE_FLOAT
		       : json_is_boolean(j) ? LWM2M_TYPE_BOOLEAN
		       : json_is_string(j) ? LWM2M_TYPE_STRING
					   : LWM2M_TYPE_NONE;
	}
	switch (type) {
	case LWM2M_TYPE_INTEGER:
	case LWM2M_TYPE_TIME:
		if (!json_is_integer(j))
			return IV_ERR_INVALID;
		*out = type == LWM2M_TYPE_TIME ? lwm2m_value_time(json_integer_value(j))
					       : lwm2m_value_integer(json_integer_value(j));
		return 0;
	case LWM2M_TYPE_UNSIGNED:
		if (!json_is_integer(j) || json_integer_value(j) < 0)
			return IV_ERR_INVALID;
		*out = lwm2m_value_unsigned((uint64_t)json_integer_value(j));
		return 0;
	case LWM2M_TYPE_FLOAT:
		if (!json_is_number(j))
			return IV_ERR_INVALID;
		*out = lwm2m_value_float(json_number_value(j));
		return 0;
	case LWM2M_TYPE_BOOLEAN:
		if (!json_is_boolean(j))
			return IV_ERR_INVALID;
		*out = lwm2m_value_boolean(json_is_true(j));
		return 0;
	case LWM2M_TYPE_STRING:
		if (!json_is_string(j))
			return IV_ERR_INVALID;
		*out = lwm2m_value_string(json_string_value(j));
		return 0;
	case LWM2M_TYPE_OPAQUE: {
		size_t len = 0;
		if (!json_is_string(j) ||
		    sodium_base642bin(bin, LWM2M_VALUE_MAX, json_string_value(j), json_string_length(j),
				      NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
			return IV_ERR_INVALID;
		*out = lwm2m_value_opaque(bin, len);
		return 0;
	}
	case LWM2M_TYPE_OBJLNK: {
		unsigned obj, inst;
		char end;
		if (!json_is_string(j) ||
		    sscanf(json_string_value(j), "%5u:%5u%c", &obj, &inst, &end) != 2 || obj > 65535 ||
		    inst > 65535)
			return IV_ERR_INVALID;
		*out = lwm2m_value_objlnk((uint16_t)obj, (uint16_t)inst);
		return 0;
	}
	case LWM2M_TYPE_NONE:
		break;
	}
	return IV_ERR_INVALID;
}

/* {"records": [{"path", "type"?, "value"}, ...]} under BASE into RECS. */
static int records_from_body(const struct http_request *req, struct http_reply *rep,
			     const struct lwm2m_path *base, struct lwm2m_records *recs)
{
	json_t *body = NULL, *list, *item;
	uint8_t *bin = NULL;
	size_t i;
	int r;

	if ((r = http_body_json(req, rep, &body)) != 0)
		return r;
	list = json_object_get(body, "records");
	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > LWM2M_RECORDS_MAX) {
		rep->error_message = "records must be a non-empty array of {path, type, value}";
		r = IV_ERR_INVALID;
		goto out;
	}
	if ((bin = malloc(LWM2M_VALUE_MAX)) == NULL) { /* lint:not-secret */
		r = IV_ERR_NOMEM;
		goto out;
	}
	json_array_foreach(list, i, item) {
		json_t *jp = json_object_get(item, "path"), *jt = json_object_get(item, "type");
		struct lwm2m_path path;
		struct lwm2m_value value;
		enum lwm2m_type type = LWM2M_TYPE_NONE;
		if (!json_is_object(item) || !json_is_string(jp) ||
		    lwm2m_path_parse(json_string_value(jp), json_string_length(jp), &path) != 0 ||
		    path.depth < 3 || !lwm2m_path_is_prefix(base, &path)) {
			dm_field_error(rep, i, "invalid_path",
				       "path must name a resource (instance) under the request's path");
			continue;
		}
		if (jt != NULL && (!json_is_string(jt) ||
				   (type = type_from_name(json_string_value(jt))) == LWM2M_TYPE_NONE)) {
			dm_field_error(rep, i, "invalid_type",
				       "type is integer, unsigned, float, boolean, string, opaque "
				       "(base64), time or objlnk (\"obj:inst\")");
			continue;
		}
		if (type == LWM2M_TYPE_NONE)
			type = lwm2m_object_resource_type(&path, NULL);
		if (value_from_json(json_object_get(item, "value"), type, bin, &value) != 0 ||
		    lwm2m_records_add(recs, &path, &value) != 0)
			dm_field_error(rep, i, "invalid_value", "value does not fit the type");
	}
	r = rep->field_errors != NULL ? IV_ERR_INVALID : 0;
	if (r != 0)
		rep->error_message = "some records are not valid";
out:
	if (bin != NULL) {
		sodium_memzero(bin, LWM2M_VALUE_MAX);
		free(bin);
	}
	json_decref(body);
	return r;
}

/* Execute arguments (LwM2M 1.1 section 5.4.5): {"arguments": "0='x',1"} or
 * no body. */
static int execute_arguments(const struct http_request *req, struct http_reply *rep,
			     char *buf, size_t cap, size_t *len)
{
	json_t *body = NULL, *args;
	int r;
	*len = 0;
	if (req->body_len == 0)
		return 0;
	if ((r = http_body_json(req, rep, &body)) != 0)
		return r;
	args = json_object_get(body, "arguments");
	if (args != NULL && (!json_is_string(args) || json_string_length(args) >= cap)) {
		rep->error_message = "arguments must be a string of at most 255 characters";
		json_decref(body);
		return IV_ERR_INVALID;
	}
	if (args != NULL) {
		*len = json_string_length(args);
		memcpy(buf, json_string_value(args), *len);
	}
	json_decref(body);
	return 0;
}

/* The device and its live registration; under the service lock. */
static int dm_lookup(struct http_request *req, struct http_reply *rep,
		     struct device_record *dev, struct lwm2m_registration_record *reg)
{
	struct store *st = req->svc->st;
	int r;
	if ((r = http_load_device(req, rep, "lwm2m", IV_ERR_NOT_FOUND, dev)) != 0)
		return r;
	r = st->ops->lwm2m->registration_get(st, dev->id, reg);
	if (r == 0 && reg->expires_at <= store_now_ms())
		r = IV_ERR_NOT_FOUND;
	if (r == IV_ERR_NOT_FOUND)
		rep->error_message = "the device is not registered with the DM server";
	return r;
}

int lwm2m_http_dm_audit(struct http_request *req, const struct device_record *dev,
		    enum lwm2m_dm_method m, const struct lwm2m_path *path, const char *outcome,
		    const char *result)
{
	struct audit_actor actor = http_actor(req);
	struct audit_event ev;
	char object[48], ptext[LWM2M_PATH_TEXT_MAX], detail[160];
	if (lwm2m_path_format(path, ptext, sizeof(ptext)) != 0)
		return IV_ERR_INTERNAL;
	snprintf(object, sizeof(object), "device:%lld", (long long)dev->id);
	snprintf(detail, sizeof(detail), "%s %s%s%s", lwm2m_dm_method_name(m), ptext,
		 result != NULL ? ": " : "", result != NULL ? result : "");
	ev = (struct audit_event){dev->tenant_id, lwm2m_dm_audit_action(m), object, outcome, detail};
	return audit_append_now(req->svc->v, &actor, &ev);
}

/* The device's CoAP error as an API error. */
int lwm2m_http_coap_error(int code, struct http_reply *rep)
{
	switch (code) {
	case COAP_CODE(4, 0):
		rep->error_message = "the device refused the request as malformed (4.00)";
		return IV_ERR_INVALID;
	case COAP_CODE(4, 1):
	case COAP_CODE(4, 3):
		rep->error_message = "the device does not allow this server that operation (4.01/4.03)";
		return IV_ERR_FORBIDDEN;
	case COAP_CODE(4, 4):
		rep->error_message = "the device has no such object, instance or resource (4.04)";
		return IV_ERR_NOT_FOUND;
	case COAP_CODE(4, 5):
		rep->error_message = "the device does not allow that operation on that path (4.05)";
		return IV_ERR_METHOD;
	case COAP_CODE(4, 6):
	case COAP_CODE(4, 15):
		rep->error_message = "the device does not support the content format (4.06/4.15)";
		return IV_ERR_MEDIA_TYPE;
	case COAP_CODE(4, 13):
		rep->error_message = "the device found the request too large (4.13)";
		return IV_ERR_TOO_LARGE;
	default:
		break;
	}
	if (code >> 5 == 4) {
		rep->error_message = "the device refused the request";
		return IV_ERR_INVALID;
	}
	rep->error_message = code >> 5 == 5 ? "the device failed to carry out the request"
					    : "the device gave an unexpected answer";
	return IV_ERR_DEVICE_ERROR;
}

/* A Read's answer as {"records": [{"path", "type", "value"}]}. */
static int read_reply(const struct lwm2m_path *path, const struct lwm2m_dm_response *resp,
		      struct http_reply *rep)
{
	struct lwm2m_decode_ctx ctx = {*path, lwm2m_object_resource_type, NULL};
	struct lwm2m_records *recs = lwm2m_records_new();
	unsigned cf = resp->has_content_format ? resp->content_format : LWM2M_CF_TEXT;
	json_t *list;

	if (recs == NULL)
		return IV_ERR_NOMEM;
	if (!lwm2m_content_format_supported(cf) ||
	    lwm2m_decode(cf, resp->payload != NULL ? resp->payload : (const uint8_t *)"",
			 resp->payload_len, &ctx, recs) != 0) {
		log_warning("lwm2m: a Read answer (content format %u, %zu bytes) could not be decoded",
			    cf, resp->payload_len);
		rep->error_message = "the device's answer could not be decoded";
		lwm2m_records_free(recs);
		return IV_ERR_DEVICE_ERROR;
	}
	list = lwm2m_records_to_json(recs);
	lwm2m_records_free(recs);
	if (list == NULL)
		return IV_ERR_NOMEM;
	rep->body = json_object();
	json_object_set_new(rep->body, "records", list);
	return 0;
}

int lwm2m_http_dm_operation(struct http_request *req, struct http_reply *rep, enum lwm2m_dm_method m)
{
	struct lwm2m_dm_request dmr;
	struct lwm2m_dm_response resp = {0};
	struct lwm2m_records *recs = NULL;
	struct device_record dev;
	struct lwm2m_registration_record reg;
	struct lwm2m_path path;
	uint8_t *payload = NULL;
	char args[256], query[LWM2M_DM_QUERY_MAX + 1] = "";
	size_t len = 0;
	int tlv, audited = 0, held = 0, entered = 0, r;

	if ((r = dm_path(req, rep, &path)) != 0 || (r = dm_policy(m, &path, rep)) != 0)
		return r;
	if (m == LWM2M_DM_WRITE_REPLACE || m == LWM2M_DM_WRITE_UPDATE || m == LWM2M_DM_CREATE) {
		if ((recs = lwm2m_records_new()) == NULL)
			return IV_ERR_NOMEM;
		if ((r = records_from_body(req, rep, &path, recs)) != 0)
			goto out;
	} else if (m == LWM2M_DM_EXECUTE &&
		   (r = execute_arguments(req, rep, args, sizeof(args), &len)) != 0)
		goto out;
	else if (m == LWM2M_DM_WRITE_ATTRIBUTES &&
		 (r = lwm2m_http_attributes_query(req, rep, &path, query, sizeof(query))) != 0)
		goto out;

	service_lock(req->svc);
	r = dm_lookup(req, rep, &dev, &reg);
	if (r == 0 && m == LWM2M_DM_OBSERVE)
		r = lwm2m_http_observe_limit(req, rep, dev.id);
	/* a sleeping device's requests are held (observations are not) */
	if (r == 0 && reg.queue_mode && m != LWM2M_DM_OBSERVE) {
		held = 1;
		r = lwm2m_http_queue_limit(req, rep, dev.id);
	}
	service_unlock(req->svc);
	if (r != 0)
		goto out;

	memset(&dmr, 0, sizeof(dmr));
	dmr.device_id = dev.id;
	snprintf(dmr.address, sizeof(dmr.address), "%s", reg.address);
	dmr.nosec = strcmp(reg.security, "nosec") == 0;
	dmr.method = m;
	dmr.path = path;
	dmr.tenant_id = dev.tenant_id;
	dmr.timeout_ms = req->svc->cfg.lwm2m_dm_timeout_ms;
	snprintf(dmr.query, sizeof(dmr.query), "%s", query);
	/* LwM2M 1.0 clients must take TLV; 1.1 ones are asked for SenML CBOR */
	tlv = strcmp(reg.lwm2m_version, "1.0") == 0;
	dmr.accept = m == LWM2M_DM_DISCOVER ? LWM2M_CF_LINK_FORMAT
		     : tlv		    ? LWM2M_CF_TLV
					    : LWM2M_CF_SENML_CBOR;
	if (recs != NULL) {
		if ((payload = malloc(LWM2M_DM_REQUEST_MAX)) == NULL) { /* lint:not-secret */
			r = IV_ERR_NOMEM;
			goto out;
		}
		dmr.content_format = tlv ? LWM2M_CF_TLV : LWM2M_CF_SENML_CBOR;
		r = lwm2m_encode(dmr.content_format, &path, recs, payload, LWM2M_DM_REQUEST_MAX, &len);
		if (r != 0) {
			rep->error_message = r == IV_ERR_TOO_LARGE
						     ? "the encoded records exceed 65536 bytes"
						     : "the records cannot be encoded for this path";
			goto out;
		}
		dmr.payload = payload;
		dmr.payload_len = len;
	} else if (m == LWM2M_DM_EXECUTE && len > 0) {
		dmr.payload = (const uint8_t *)args;
		dmr.payload_len = len;
	}
	if (held && dmr.payload_len > LWM2M_HELD_PAYLOAD_MAX) {
		rep->error_message = "a request held for a queue-mode device carries at most 1024 "
				     "encoded bytes";
		r = IV_ERR_TOO_LARGE;
		goto out;
	}

	/* a place among the requests waiting for devices, before the audit
	 * record: a refused request (503 busy) leaves no trace */
	if (!held) {
		if ((r = lwm2m_http_dm_enter(req, rep, dev.tenant_id)) != 0)
			goto out;
		entered = 1;
	}
	/* audited before it is sent (or held): no record, no change */
	if (lwm2m_dm_audit_action(m) != NULL) {
		service_lock(req->svc);
		r = lwm2m_http_dm_audit(req, &dev, m, &path, "started", NULL);
		service_unlock(req->svc);
		if (r != 0)
			goto out;
		audited = 1;
	}

	if (held) {
		/* the server thread audits the outcome when the device answered */
		if ((r = lwm2m_http_hold(req, rep, &dev, &dmr)) == 0)
			audited = 0;
		goto out;
	}
	r = lwm2m_dm_send(&dmr, &resp);
	lwm2m_http_dm_leave(dev.tenant_id);
	entered = 0;
	if (r == IV_ERR_DEVICE_TIMEOUT)
		rep->error_message = "the device did not answer in time";
	else if (r == IV_ERR_DEVICE_UNREACHABLE)
		rep->error_message = "the server has no session with the device (e.g. after a "
				     "restart): it must update its registration first";
	if (r != 0)
		goto out;
	switch (resp.coap_code) {
	case COAP_CODE(2, 5):
		if (m == LWM2M_DM_READ)
			r = read_reply(&path, &resp, rep);
		else if (m == LWM2M_DM_DISCOVER)
			r = lwm2m_http_discover_reply(&resp, rep);
		else if (m == LWM2M_DM_OBSERVE && (r = read_reply(&path, &resp, rep)) == 0)
			r = lwm2m_http_observe_reply(req, &dev, &resp, rep);
		else if (m != LWM2M_DM_OBSERVE)
			r = lwm2m_http_coap_error(resp.coap_code, rep);
		break;
	case COAP_CODE(2, 4):
	case COAP_CODE(2, 2):
		if (m == LWM2M_DM_READ || m == LWM2M_DM_DISCOVER || m == LWM2M_DM_OBSERVE)
			r = lwm2m_http_coap_error(resp.coap_code, rep);
		else
			rep->status = 204;
		break;
	case COAP_CODE(2, 1):
		if (m == LWM2M_DM_CREATE) {
			rep->status = 201;
			rep->body = json_object();
		} else
			r = lwm2m_http_coap_error(resp.coap_code, rep);
		break;
	default:
		r = lwm2m_http_coap_error(resp.coap_code, rep);
		break;
	}
out:
	if (entered)
		lwm2m_http_dm_leave(dev.tenant_id);
	if (audited) {
		char result[32];
		int ra;
		if (r == 0)
			snprintf(result, sizeof(result), "device answered %d.%02d", resp.coap_code >> 5,
				 resp.coap_code & 31);
		else
			snprintf(result, sizeof(result), "%s", iv_error_name(r));
		service_lock(req->svc);
		ra = lwm2m_http_dm_audit(req, &dev, m, &path, r == 0 ? "success" : "failure", result);
		service_unlock(req->svc);
		if (ra != 0)
			log_error("lwm2m: the outcome of a DM %s could not be audited", lwm2m_dm_method_name(m));
	}
	lwm2m_dm_response_clear(&resp);
	lwm2m_records_free(recs);
	if (payload != NULL) {
		sodium_memzero(payload, LWM2M_DM_REQUEST_MAX);
		free(payload);
	}
	return r;
}

static int dm_read(struct http_request *req, struct http_reply *rep)
{
	return lwm2m_http_dm_operation(req, rep, LWM2M_DM_READ);
}

static int dm_write(struct http_request *req, struct http_reply *rep)
{
	return lwm2m_http_dm_operation(req, rep, LWM2M_DM_WRITE_REPLACE);
}

static int dm_update(struct http_request *req, struct http_reply *rep)
{
	return lwm2m_http_dm_operation(req, rep, LWM2M_DM_WRITE_UPDATE);
}

static int dm_execute(struct http_request *req, struct http_reply *rep)
{
	return lwm2m_http_dm_operation(req, rep, LWM2M_DM_EXECUTE);
}

static int dm_create(struct http_request *req, struct http_reply *rep)
{
	return lwm2m_http_dm_operation(req, rep, LWM2M_DM_CREATE);
}

static int dm_delete(struct http_request *req, struct http_reply *rep)
{
	return lwm2m_http_dm_operation(req, rep, LWM2M_DM_DELETE);
}

#define DM_OPS (ROLE_ADMIN | ROLE_OPERATOR)

const struct route lwm2m_routes[] = {
	{"GET", "/api/v1/devices/{id}/lwm2m", get_lwm2m, ROLES_ALL, 0},
	{"GET", "/api/v1/devices/{id}/lwm2m/{obj}", dm_read, ROLES_ALL, ROUTE_SELF_LOCKING},
	{"POST", "/api/v1/devices/{id}/lwm2m/{obj}", dm_create, DM_OPS, ROUTE_SELF_LOCKING},
	{"GET", "/api/v1/devices/{id}/lwm2m/{obj}/{inst}", dm_read, ROLES_ALL, ROUTE_SELF_LOCKING},
	{"PUT", "/api/v1/devices/{id}/lwm2m/{obj}/{inst}", dm_write, DM_OPS, ROUTE_SELF_LOCKING},
	{"POST", "/api/v1/devices/{id}/lwm2m/{obj}/{inst}", dm_update, DM_OPS, ROUTE_SELF_LOCKING},
	{"DELETE", "/api/v1/devices/{id}/lwm2m/{obj}/{inst}", dm_delete, DM_OPS, ROUTE_SELF_LOCKING},
	{"GET", "/api/v1/devices/{id}/lwm2m/{obj}/{inst}/{res}", dm_read, ROLES_ALL,
	 ROUTE_SELF_LOCKING},
	{"PUT", "/api/v1/devices/{id}/lwm2m/{obj}/{inst}/{res}", dm_write, DM_OPS,
	 ROUTE_SELF_LOCKING},
	{"POST", "/api/v1/devices/{id}/lwm2m/{obj}/{inst}/{res}/execute", dm_execute, DM_OPS,
	 ROUTE_SELF_LOCKING},
	{NULL, NULL, NULL, 0, 0},
};
