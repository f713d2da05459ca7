/* /api/v1/ingest/{chirpstack,tts,native}: uplinks and joins from network
 * servers, for the Application Server (docs/appserver.md). Callers are API
 * keys of role operator or admin; the key's tenant must own the device. */
#include "iotvault/appserver.h"
#include "iotvault/http.h"
#include "iotvault/secmem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* error_message must outlive the handler until the reply is sent, which
 * happens on this thread */
static _Thread_local char ingest_message[APPSERVER_ERR_MAX + 1];

static int reply_error(struct http_reply *rep, int r)
{
	if (ingest_message[0] != '\0')
		rep->error_message = ingest_message;
	return r;
}

static int ingest(struct http_request *req, struct http_reply *rep, const char *format)
{
	struct appserver_uplink *up = NULL;
	struct appserver_result res;
	json_t *body = NULL;
	int r;

	ingest_message[0] = '\0';
	if (req->who.kind != PRINCIPAL_APIKEY) {
		rep->error_message = "ingest endpoints are for API keys of network-server integrations";
		return IV_ERR_FORBIDDEN;
	}
	if ((r = http_body_json(req, rep, &body)) != 0)
		return r;
	if ((up = calloc(1, sizeof(*up))) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	if (strcmp(format, "chirpstack") == 0)
		r = appserver_parse_chirpstack(http_query(req, "event"), body, up, ingest_message,
					       sizeof(ingest_message));
	else if (strcmp(format, "tts") == 0)
		r = appserver_parse_tts(body, up, ingest_message, sizeof(ingest_message));
	else
		r = appserver_parse_native(body, up, ingest_message, sizeof(ingest_message));
	if (r != 0) {
		r = reply_error(rep, r);
		goto out;
	}
	if (up->event == APPSERVER_EVENT_IGNORED) {
		rep->status = 204;
		goto out;
	}
	appserver_purge_expired(req->svc);
	if ((r = appserver_ingest(req->svc, &req->who, up, &res, ingest_message,
				  sizeof(ingest_message))) != 0) {
		r = reply_error(rep, r);
		goto out;
	}
	rep->body = json_object();
	json_object_set_new(rep->body, "device_id", json_integer(res.device_id));
	json_object_set_new(rep->body, "adopted", json_boolean(res.adopted));
	if (up->event == APPSERVER_EVENT_JOIN || !up->has_f_port) {
		json_object_set_new(rep->body, "status", json_string(up->event == APPSERVER_EVENT_JOIN
									     ? "session_ready"
									     : "no_payload"));
	} else {
		json_object_set_new(rep->body, "status",
				    json_string(res.accepted ? "accepted" : "rejected"));
		json_object_set_new(rep->body, "uplink_id", json_integer(res.uplink_id));
		json_object_set_new(rep->body, "f_cnt", json_integer(res.f_cnt));
		json_object_set_new(rep->body, "forwarded", json_boolean(res.forwarded));
		if (!res.accepted)
			json_object_set_new(rep->body, "reason", json_string(res.reason));
	}
	/* success */
	r = 0;
out:
	if (up != NULL) {
		/* the decrypted payload never sits in this struct, but the envelope does */
		secmem_wipe(up, sizeof(*up));
		free(up);
	}
	json_decref(body);
	return r;
}

static int ingest_chirpstack(struct http_request *req, struct http_reply *rep)
{
	return ingest(req, rep, "chirpstack");
}

static int ingest_tts(struct http_request *req, struct http_reply *rep)
{
	return ingest(req, rep, "tts");
}

static int ingest_native(struct http_request *req, struct http_reply *rep)
{
	return ingest(req, rep, "native");
}

const struct route ingest_routes[] = {
	{"POST", "/api/v1/ingest/chirpstack", ingest_chirpstack, ROLE_ADMIN | ROLE_OPERATOR, 0},
	{"POST", "/api/v1/ingest/tts", ingest_tts, ROLE_ADMIN | ROLE_OPERATOR, 0},
	{"POST", "/api/v1/ingest/native", ingest_native, ROLE_ADMIN | ROLE_OPERATOR, 0},
	{NULL, NULL, NULL, 0, 0},
};
