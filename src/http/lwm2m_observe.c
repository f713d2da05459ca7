/* /api/v1/devices/{id}/lwm2m/...: Discover (GET .../discover), Write-
 * Attributes (PUT .../attributes), Observe (POST .../observe), the device's
 * observations (GET .../observations, DELETE .../observations/{oid} to
 * cancel) and its stored notifications (GET .../notifications, newest
 * first, cursor pagination like the uplinks). The operations go through the
 * generic DM path of lwm2m.c (policy, audit, lookup, send); this file holds
 * what is particular to them. See docs/lwm2m.md and docs/api.md. */
#include "http/lwm2m_http.h"
#include "iotvault/log.h"
#include "iotvault/lwm2m_observe.h"
#include "iotvault/store_lwm2m_observe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_DEFAULT 100
#define LIST_MAX 100 /* a page is built under the service lock: bounded */
/* pmin/pmax/epmin/epmax are seconds; larger values are refused */
#define ATTR_PERIOD_MAX 2147483647LL
/* gt/lt/st are written as plain decimals: |value| below this */
#define ATTR_NUMBER_MAX 1e15

static const char *const attr_names[] = {"pmin", "pmax", "gt", "lt", "st", "epmin", "epmax"};
#define ATTRS (sizeof(attr_names) / sizeof(attr_names[0]))

int lwm2m_http_attributes_query(const struct http_request *req, struct http_reply *rep,
				const struct lwm2m_path *path, char *buf, size_t cap)
{
	json_t *body = NULL, *v;
	const char *key;
	double num[ATTRS];
	int set[ATTRS] = {0}, r;
	size_t used = 0;

	buf[0] = '\0';
	if ((r = http_body_json(req, rep, &body)) != 0)
		return r;
	if (json_object_size(body) == 0) {
		rep->error_message = "give at least one of pmin, pmax, gt, lt, st, epmin, epmax";
		r = IV_ERR_INVALID;
		goto out;
	}
	json_object_foreach(body, key, v) {
		size_t a;
		for (a = 0; a < ATTRS && strcmp(key, attr_names[a]) != 0; a++)
			;
		if (a == ATTRS) {
			http_field_error(rep, key, "unknown",
				   "attributes are pmin, pmax, gt, lt, st, epmin and epmax");
			continue;
		}
		if (a >= 2 && a <= 4 && path->depth < 3) {
			http_field_error(rep, key, "invalid",
				   "gt, lt and st apply to a resource only");
			continue;
		}
		if (json_is_null(v)) { /* removes the attribute on the device */
			set[a] = 2;
			continue;
		}
		if (a >= 2 && a <= 4) {
			if (!json_is_number(v)) {
				http_field_error(rep, key, "type", "gt, lt and st are numbers, or null to remove");
				continue;
			}
			if (!isfinite(json_number_value(v)) ||
			    fabs(json_number_value(v)) >= ATTR_NUMBER_MAX ||
			    (a == 4 && json_number_value(v) < 0)) {
				http_field_error(rep, key, "range", "|gt|, |lt| < 1e15; 0 <= st < 1e15");
				continue;
			}
		} else if (!json_is_integer(v)) {
			http_field_error(rep, key, "type",
				   "pmin, pmax, epmin and epmax are whole seconds, or null to remove");
			continue;
		} else if (json_integer_value(v) < 0 || json_integer_value(v) > ATTR_PERIOD_MAX) {
			http_field_error(rep, key, "range", "0..2147483647 seconds");
			continue;
		}
		set[a] = 1;
		num[a] = json_number_value(v);
	}
	if (rep->field_errors == NULL) {
		/* LwM2M 1.1 section 5.1.2: pmax >= pmin, epmax > epmin, lt < gt and
		 * lt + 2 st < gt */
		if (set[0] == 1 && set[1] == 1 && num[1] < num[0])
			http_field_error(rep, "pmax", "conflict", "pmax must not be below pmin");
		if (set[5] == 1 && set[6] == 1 && num[6] <= num[5])
			http_field_error(rep, "epmax", "conflict", "epmax must exceed epmin");
		if (set[2] == 1 && set[3] == 1 &&
		    !(num[3] < num[2] && (set[4] != 1 || num[3] + 2 * num[4] < num[2])))
			http_field_error(rep, "lt", "conflict",
				   "lt must be below gt (and lt + 2*st below gt)");
	}
	if (rep->field_errors != NULL) {
		rep->error_message = "some attributes are not valid";
		r = IV_ERR_INVALID;
		goto out;
	}
	for (size_t a = 0; a < ATTRS; a++) {
		int n;
		if (set[a] == 0)
			continue;
		if (set[a] == 2)
			n = snprintf(buf + used, cap - used, "%s%s", used ? "&" : "", attr_names[a]);
		else if (a >= 2 && a <= 4)
			n = snprintf(buf + used, cap - used, "%s%s=%.15g", used ? "&" : "", attr_names[a],
				     num[a]);
		else
			n = snprintf(buf + used, cap - used, "%s%s=%lld", used ? "&" : "", attr_names[a],
				     (long long)num[a]);
		if (n < 0 || used + (size_t)n >= cap) {
			r = IV_ERR_INTERNAL;
			goto out;
		}
		used += (size_t)n;
	}
	/* success */
	r = 0;
out:
	json_decref(body);
	return r;
}

int lwm2m_http_observe_limit(struct http_request *req, struct http_reply *rep, int64_t device_id)
{
	struct store *st = req->svc->st;
	int64_t n = 0;
	int r = st->ops->lwm2m_observe->observation_count(st, device_id, &n);
	if (r == 0 && n >= LWM2M_OBSERVATIONS_MAX) {
		rep->error_message = "the device has 32 observations: cancel one first";
		r = IV_ERR_REFUSED;
	}
	return r;
}

int lwm2m_http_discover_reply(const struct lwm2m_dm_response *resp, struct http_reply *rep)
{
	struct lwm2m_links *links = lwm2m_links_new();
	json_t *list;
	if (links == NULL)
		return IV_ERR_NOMEM;
	if (!resp->has_content_format || resp->content_format != LWM2M_CF_LINK_FORMAT ||
	    lwm2m_linkformat_parse(resp->payload ? resp->payload : (const uint8_t *)"",
				   resp->payload_len, links) != 0) {
		log_warning("lwm2m: a Discover answer (%zu bytes) is not link-format",
			    resp->payload_len);
		lwm2m_links_free(links);
		rep->error_message = "the device's answer is not valid link-format";
		return IV_ERR_DEVICE_ERROR;
	}
	list = lwm2m_links_to_json(links);
	lwm2m_links_free(links);
	if (list == NULL)
		return IV_ERR_NOMEM;
	rep->body = json_object();
	json_object_set_new(rep->body, "links", list);
	return 0;
}

static json_t *observation_to_json(const struct lwm2m_observation_record *o)
{
	json_t *j = json_object();
	json_object_set_new(j, "id", json_integer(o->id));
	json_object_set_new(j, "path", json_string(o->path));
	json_object_set_new(j, "created_at", json_integer(o->created_at));
	json_object_set_new(j, "notifications", json_integer(o->notifications));
	json_object_set_new(j, "last_seq", json_integer(o->last_seq));
	json_object_set_new(j, "last_notified_at", json_integer(o->last_at));
	return j;
}

int lwm2m_http_observe_reply(struct http_request *req, const struct device_record *dev,
			     const struct lwm2m_dm_response *resp, struct http_reply *rep)
{
	struct store *st = req->svc->st;
	struct lwm2m_observation_record o;
	int r;
	if (resp->observe_refused) {
		json_decref(rep->body);
		rep->body = NULL;
		rep->error_message = "the device has 32 observations: cancel one first (this one "
				     "was not stored; the device's next notification is reset)";
		return IV_ERR_REFUSED;
	}
	if (resp->observation_id == 0) {
		json_decref(rep->body);
		rep->body = NULL;
		rep->error_message = "the device answered without Observe: it does not observe that "
				     "path (or the observation could not be stored)";
		return IV_ERR_DEVICE_ERROR;
	}
	service_lock(req->svc);
	r = st->ops->lwm2m_observe->observation_get(st, dev->id, resp->observation_id, &o);
	service_unlock(req->svc);
	if (r == IV_ERR_NOT_FOUND) {
		/* the session or registration ended in the meantime */
		json_decref(rep->body);
		rep->body = NULL;
		rep->error_message = "the observation ended as soon as it started (session closed)";
		return IV_ERR_DEVICE_TIMEOUT;
	}
	if (r != 0)
		return r;
	json_object_set_new(rep->body, "observation", observation_to_json(&o));
	rep->status = 201;
	return 0;
}

/* ---- routes ---- */

static int op_discover(struct http_request *req, struct http_reply *rep)
{
	return lwm2m_http_dm_operation(req, rep, LWM2M_DM_DISCOVER);
}

static int op_attributes(struct http_request *req, struct http_reply *rep)
{
	return lwm2m_http_dm_operation(req, rep, LWM2M_DM_WRITE_ATTRIBUTES);
}

static int op_observe(struct http_request *req, struct http_reply *rep)
{
	return lwm2m_http_dm_operation(req, rep, LWM2M_DM_OBSERVE);
}

/* The LwM2M device of the route's {id}. */
static int load_device(struct http_request *req, struct http_reply *rep, struct device_record *dev)
{
	return http_load_device(req, rep, "lwm2m", IV_ERR_NOT_FOUND, dev);
}

static int list_observation(void *ctx, const struct lwm2m_observation_record *o)
{
	json_array_append_new(ctx, observation_to_json(o));
	return 0;
}

static int list_observations(struct http_request *req, struct http_reply *rep)
{
	struct store *st = req->svc->st;
	struct device_record dev;
	json_t *list;
	int r;
	if ((r = load_device(req, rep, &dev)) != 0)
		return r;
	list = json_array();
	if ((r = st->ops->lwm2m_observe->observation_list(st, dev.id, list_observation, list)) != 0) {
		json_decref(list);
		return r;
	}
	rep->body = json_object();
	json_object_set_new(rep->body, "observations", list);
	return 0;
}

static int cancel_observation(struct http_request *req, struct http_reply *rep)
{
	struct store *st = req->svc->st;
	struct device_record dev;
	struct lwm2m_registration_record reg;
	struct lwm2m_observation_record o;
	struct lwm2m_dm_request dmr;
	struct lwm2m_dm_response resp = {0};
	struct lwm2m_path path;
	int64_t oid;
	int live = 0, audited = 0, sent = -1, in_tx = 0, r;
	char result[80];

	service_lock(req->svc);
	if ((r = load_device(req, rep, &dev)) != 0)
		goto unlock;
	if (http_parse_id(req->params[1], &oid) != 0 ||
	    (r = st->ops->lwm2m_observe->observation_get(st, dev.id, oid, &o)) == IV_ERR_NOT_FOUND) {
		rep->error_message = "no such observation (it may have ended with its session or "
				     "registration)";
		r = IV_ERR_NOT_FOUND;
		goto unlock;
	}
	if (r != 0 || (r = lwm2m_path_parse(o.path, strlen(o.path), &path)) != 0)
		goto unlock;
	/* audited before anything changes; the row goes at once, so a
	 * notification that crosses the cancel is answered RST (RFC 7641 3.6) */
	if ((r = lwm2m_http_dm_audit(req, &dev, LWM2M_DM_CANCEL_OBSERVE, &path, "started", NULL)) != 0)
		goto unlock;
	audited = 1;
	if ((r = st->ops->begin(st, 1)) != 0)
		goto unlock;
	in_tx = 1;
	if ((r = st->ops->lwm2m_observe->observation_delete(st, o.id)) != 0 ||
	    (r = st->ops->commit(st)) != 0)
		goto unlock;
	in_tx = 0;
	live = st->ops->lwm2m->registration_get(st, dev.id, &reg) == 0 &&
	       reg.expires_at > store_now_ms() && strcmp(reg.address, o.address) == 0;
unlock:
	if (in_tx)
		st->ops->rollback(st);
	service_unlock(req->svc);
	if (r != 0)
		goto out;

	if (live) {
		memset(&dmr, 0, sizeof(dmr));
		dmr.device_id = dev.id;
		dmr.tenant_id = dev.tenant_id;
		snprintf(dmr.address, sizeof(dmr.address), "%s", reg.address);
		dmr.nosec = strcmp(reg.security, "nosec") == 0;
		dmr.method = LWM2M_DM_CANCEL_OBSERVE;
		dmr.path = path;
		dmr.accept = strcmp(reg.lwm2m_version, "1.0") == 0 ? LWM2M_CF_TLV : LWM2M_CF_SENML_CBOR;
		memcpy(dmr.token, o.token, o.token_len);
		dmr.token_len = o.token_len;
		dmr.timeout_ms = req->svc->cfg.lwm2m_dm_timeout_ms;
		/* busy: the cancel is not sent, the next notification is reset */
		if ((sent = lwm2m_http_dm_enter(req, NULL, dev.tenant_id)) == 0) {
			sent = lwm2m_dm_send(&dmr, &resp);
			lwm2m_http_dm_leave(dev.tenant_id);
		}
	}
	/* success: the observation is gone here whatever the device said */
	r = 0;
	rep->status = 204;
out:
	if (audited) {
		if (r != 0)
			snprintf(result, sizeof(result), "%s", iv_error_name(r));
		else if (sent == 0)
			snprintf(result, sizeof(result), "device answered %d.%02d", resp.coap_code >> 5,
				 resp.coap_code & 31);
		else
			snprintf(result, sizeof(result), "not delivered (%s): reset on the next "
				 "notification", sent < 0 && !live ? "no session" : iv_error_name(sent));
		service_lock(req->svc);
		if (lwm2m_http_dm_audit(req, &dev, LWM2M_DM_CANCEL_OBSERVE, &path,
					r == 0 ? "success" : "failure", result) != 0)
			log_error("lwm2m: the outcome of a cancelled observation could not be audited");
		service_unlock(req->svc);
	}
	lwm2m_dm_response_clear(&resp);
	return r;
}

struct notif_ctx {
	json_t *array;
	int64_t last;
	int count;
};

static int list_notification(void *ctx, const struct lwm2m_notification_record *n)
{
	struct notif_ctx *nc = ctx;
	json_t *o = json_object(), *records = n->records ? json_loads(n->records, 0, NULL) : NULL;
	json_object_set_new(o, "id", json_integer(n->id));
	json_object_set_new(o, "observation_id", json_integer(n->observation_id));
	json_object_set_new(o, "path", json_string(n->path));
	json_object_set_new(o, "seq", json_integer(n->seq));
	json_object_set_new(o, "content_format", json_integer(n->content_format));
	json_object_set_new(o, "records", records ? records : json_array());
	json_object_set_new(o, "received_at", json_integer(n->received_at));
	json_object_set_new(o, "expires_at", json_integer(n->expires_at));
	json_array_append_new(nc->array, o);
	nc->last = n->id;
	nc->count++;
	return 0;
}

static int list_notifications(struct http_request *req, struct http_reply *rep)
{
	struct store *st = req->svc->st;
	struct device_record dev;
	struct notif_ctx nc = {NULL, 0, 0};
	const char *cursor = http_query(req, "cursor"), *limit_s = http_query(req, "limit"),
		   *obs_s = http_query(req, "observation");
	int64_t before = 0, limit = LIST_DEFAULT, obs = 0;
	int r;

	if ((r = load_device(req, rep, &dev)) != 0)
		return r;
	if (cursor && http_parse_id(cursor, &before) != 0) {
		rep->error_message = "cursor: not a cursor returned by this API";
		return IV_ERR_INVALID;
	}
	if (limit_s && (http_parse_id(limit_s, &limit) != 0 || limit > LIST_MAX)) {
		rep->error_message = "limit: 1 to 100";
		return IV_ERR_INVALID;
	}
	if (obs_s && http_parse_id(obs_s, &obs) != 0) {
		rep->error_message = "observation: an observation id";
		return IV_ERR_INVALID;
	}
	nc.array = json_array();
	r = st->ops->lwm2m_observe->notification_list(st, req->who.tenant_id, dev.id, obs, before,
						      (int)limit, store_now_ms(), list_notification,
						      &nc);
	if (r != 0) {
		json_decref(nc.array);
		return r;
	}
	rep->body = json_object();
	json_object_set_new(rep->body, "notifications", nc.array);
	if (nc.count == limit) {
		char next[32];
		snprintf(next, sizeof(next), "%lld", (long long)nc.last);
		json_object_set_new(rep->body, "next_cursor", json_string(next));
	} else
		json_object_set_new(rep->body, "next_cursor", json_null());
	return 0;
}

#define DM_OPS (ROLE_ADMIN | ROLE_OPERATOR)

/* before lwm2m_routes in the router: "discover", "observe", "observations"
 * would otherwise be taken for ids */
const struct route lwm2m_observe_routes[] = {
	{"GET", "/api/v1/devices/{id}/lwm2m/observations", list_observations, ROLES_ALL, 0},
	{"DELETE", "/api/v1/devices/{id}/lwm2m/observations/{oid}", cancel_observation, DM_OPS, ROUTE_SELF_LOCKING},
	{"GET", "/api/v1/devices/{id}/lwm2m/notifications", list_notifications, ROLES_ALL, 0},
	{"GET", "/api/v1/devices/{id}/lwm2m/{obj}/discover", op_discover, ROLES_ALL, ROUTE_SELF_LOCKING},
	{"GET", "/api/v1/devices/{id}/lwm2m/{obj}/{inst}/discover", op_discover, ROLES_ALL, ROUTE_SELF_LOCKING},
	{"GET", "/api/v1/devices/{id}/lwm2m/{obj}/{inst}/{res}/discover", op_discover, ROLES_ALL, ROUTE_SELF_LOCKING},
	{"PUT", "/api/v1/devices/{id}/lwm2m/{obj}/attributes", op_attributes, DM_OPS, ROUTE_SELF_LOCKING},
	{"PUT", "/api/v1/devices/{id}/lwm2m/{obj}/{inst}/attributes", op_attributes, DM_OPS, ROUTE_SELF_LOCKING},
	{"PUT", "/api/v1/devices/{id}/lwm2m/{obj}/{inst}/{res}/attributes", op_attributes, DM_OPS, ROUTE_SELF_LOCKING},
	{"POST", "/api/v1/devices/{id}/lwm2m/{obj}/observe", op_observe, DM_OPS, ROUTE_SELF_LOCKING},
	{"POST", "/api/v1/devices/{id}/lwm2m/{obj}/{inst}/observe", op_observe, DM_OPS, ROUTE_SELF_LOCKING},
	{"POST", "/api/v1/devices/{id}/lwm2m/{obj}/{inst}/{res}/observe", op_observe, DM_OPS, ROUTE_SELF_LOCKING},
	{NULL, NULL, NULL, 0, 0},
};
