/* Requests held for LwM2M devices in queue mode: the hold itself (called
 * by the generic DM operation of lwm2m.c, which has checked, audited and
 * encoded the request) and GET /api/v1/devices/{id}/lwm2m/requests/{rid},
 * the outcome a client polls: pending, sent, done (the device's code and
 * decoded answer), failed or expired. See docs/lwm2m.md, "Queue mode". */
#include "http/lwm2m_http.h"
#include "iotvault/store_lwm2m_queue.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lwm2m_http_queue_limit(struct http_request *req, struct http_reply *rep, int64_t device_id)
{
	struct store *st = req->svc->st;
	int64_t n = 0;
	int r = st->ops->lwm2m_queue->held_count_pending(st, device_id, &n);
	if (r == 0 && n >= LWM2M_QUEUE_MAX) {
		rep->error_message = "32 requests are already held for this sleeping device";
		r = IV_ERR_QUEUE_FULL;
	}
	return r;
}

static const char *method_key(int m)
{
	switch ((enum lwm2m_dm_method)m) {
	case LWM2M_DM_READ: return "read";
	case LWM2M_DM_WRITE_REPLACE: return "write";
	case LWM2M_DM_WRITE_UPDATE: return "update";
	case LWM2M_DM_EXECUTE: return "execute";
	case LWM2M_DM_CREATE: return "create";
	case LWM2M_DM_DELETE: return "delete";
	case LWM2M_DM_DISCOVER: return "discover";
	case LWM2M_DM_WRITE_ATTRIBUTES: return "write_attributes";
	case LWM2M_DM_OBSERVE: return "observe";
	case LWM2M_DM_CANCEL_OBSERVE: return "cancel_observation";
	}
	return "?";
}

static int held_to_json(void *ctx, const struct lwm2m_held_record *h)
{
	json_t *o = json_object(), *result = h->result ? json_loads(h->result, 0, NULL) : NULL;
	char code[24];
	json_object_set_new(o, "id", json_integer(h->id));
	json_object_set_new(o, "method", json_string(method_key(h->method)));
	json_object_set_new(o, "path", json_string(h->path));
	json_object_set_new(o, "state", json_string(h->state));
	if (h->coap_code != 0) {
		snprintf(code, sizeof(code), "%d.%02d", h->coap_code >> 5, h->coap_code & 31);
		json_object_set_new(o, "coap_code", json_string(code));
	} else
		json_object_set_new(o, "coap_code", json_null());
	json_object_set_new(o, "result", result ? result : json_null());
	json_object_set_new(o, "error", h->error[0] ? json_string(h->error) : json_null());
	json_object_set_new(o, "created_at", json_integer(h->created_at));
	json_object_set_new(o, "updated_at", json_integer(h->updated_at));
	json_object_set_new(o, "expires_at", json_integer(h->expires_at));
	*(json_t **)ctx = o;
	return 0;
}

int lwm2m_http_hold(struct http_request *req, struct http_reply *rep,
		    const struct device_record *dev, const struct lwm2m_dm_request *dmr)
{
	struct store *st = req->svc->st;
	struct lwm2m_held_record *h;
	json_t *o = NULL;
	int r;

	if (dmr->payload_len > sizeof(h->payload)) {
		rep->error_message = "a request held for a queue-mode device carries at most 1024 "
				     "bytes of payload";
		return IV_ERR_TOO_LARGE;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) /* lint:not-secret */
		return IV_ERR_NOMEM;
	h->tenant_id = dev->tenant_id;
	h->device_id = dev->id;
	h->method = (int)dmr->method;
	if ((r = lwm2m_path_format(&dmr->path, h->path, sizeof(h->path))) != 0)
		goto out;
	h->accept = dmr->accept;
	h->content_format = dmr->content_format;
	if (dmr->payload_len > 0)
		memcpy(h->payload, dmr->payload, dmr->payload_len);
	h->payload_len = dmr->payload_len;
	snprintf(h->query, sizeof(h->query), "%s", dmr->query);
	snprintf(h->actor_type, sizeof(h->actor_type), "%s",
		 req->who.kind == PRINCIPAL_APIKEY ? "apikey" : "user");
	snprintf(h->actor, sizeof(h->actor), "%s", req->who.name);
	snprintf(h->source, sizeof(h->source), "%s", req->source);
	h->created_at = store_now_ms();
	h->expires_at = h->created_at + LWM2M_QUEUE_EXPIRY_MS;
	service_lock(req->svc);
	/* counted again with the insert: two requests may have raced */
	if ((r = lwm2m_http_queue_limit(req, rep, dev->id)) == 0 &&
	    (r = st->ops->lwm2m_queue->held_insert(st, h)) == 0)
		r = st->ops->lwm2m_queue->held_get(st, dev->id, h->id, held_to_json, &o);
	service_unlock(req->svc);
	if (r != 0)
		goto out;
	lwm2m_queue_kick();
	rep->status = 202;
	rep->body = json_object();
	json_object_set_new(rep->body, "request", o);
	/* success */
	r = 0;
out:
	sodium_memzero(h, sizeof(*h));
	free(h);
	return r;
}

static int get_request(struct http_request *req, struct http_reply *rep)
{
	struct store *st = req->svc->st;
	struct device_record dev;
	int64_t rid;
	json_t *o = NULL;
	int r;

	if ((r = http_load_device(req, rep, "lwm2m", IV_ERR_NOT_FOUND, &dev)) != 0)
		return r;
	if (http_parse_id(req->params[1], &rid) != 0 ||
	    (r = st->ops->lwm2m_queue->held_get(st, dev.id, rid, held_to_json, &o)) ==
		    IV_ERR_NOT_FOUND) {
		rep->error_message = "no such request for this device";
		return IV_ERR_NOT_FOUND;
	}
	if (r != 0)
		return r;
	rep->body = json_object();
	json_object_set_new(rep->body, "request", o);
	return 0;
}

/* before lwm2m_routes in the router: "requests" would be taken for an id */
const struct route lwm2m_queue_routes[] = {
	{"GET", "/api/v1/devices/{id}/lwm2m/requests/{rid}", get_request, ROLES_ALL, 0},
	{NULL, NULL, NULL, 0, 0},
};
