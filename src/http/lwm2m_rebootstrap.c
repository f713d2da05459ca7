/* POST /api/v1/devices/{id}/lwm2m/rebootstrap: tells a registered LwM2M
 * device to bootstrap again (Execute /1/0/9), so that it is given a fresh DM
 * credential and the one it holds now stops working once it has registered
 * with the new one: the rotation to use after a suspected compromise. The
 * trigger and its audit records ("lwm2m.rebootstrap", reason "manual") are
 * src/lwm2m/rebootstrap.c's; this file is the HTTP face. The route comes
 * before lwm2m_routes, whose /lwm2m/{obj} would otherwise match. */
#include "iotvault/http.h"
#include "iotvault/lwm2m_dm.h"
#include "iotvault/lwm2m_rebootstrap.h"
#include "http/lwm2m_http.h"

#include <stdio.h>

static int post_rebootstrap(struct http_request *req, struct http_reply *rep)
{
	struct audit_actor actor = http_actor(req);
	const char *why = NULL;
	char answer[24];
	int64_t id;
	int code = 0, r;

	if (http_parse_id(req->params[0], &id) != 0) {
		rep->error_message = "device id must be a positive integer";
		return IV_ERR_NOT_FOUND;
	}
	if (req->body_len > 0) {
		rep->error_message = "this request takes no body";
		return IV_ERR_INVALID;
	}
	/* it waits for the device's answer on this thread (lwm2m_dm_gate.c) */
	if ((r = lwm2m_http_dm_enter(req, rep, req->who.tenant_id)) != 0)
		return r;
	r = lwm2m_rebootstrap_device(req->svc, &actor, req->who.tenant_id, id,
				     LWM2M_REBOOTSTRAP_MANUAL, req->svc->cfg.lwm2m_dm_timeout_ms, &code,
				     &why);
	lwm2m_http_dm_leave(req->who.tenant_id);
	if (r != 0) {
		rep->error_message = why;
		return r;
	}
	snprintf(answer, sizeof(answer), "%d.%02d", code >> 5, code & 31);
	rep->status = 202;
	rep->body = json_object();
	json_object_set_new(rep->body, "device_id", json_integer(id));
	json_object_set_new(rep->body, "reason", json_string(LWM2M_REBOOTSTRAP_MANUAL));
	json_object_set_new(rep->body, "device_answer", json_string(answer));
	return 0;
}

const struct route lwm2m_rebootstrap_routes[] = {
	{"POST", "/api/v1/devices/{id}/lwm2m/rebootstrap", post_rebootstrap,
	 ROLE_ADMIN | ROLE_OPERATOR, ROUTE_SELF_LOCKING},
	{NULL, NULL, NULL, 0, 0},
};
