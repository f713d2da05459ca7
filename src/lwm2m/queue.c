/* Queue mode (LwM2M 1.1 section 6.5): requests for a device registered in
 * queue mode are held in the store (lwm2m_held_requests) by the API and
 * sent by the server thread while the device is awake, that is within
 * [lwm2m] queue_awake_ms of the last time it was heard from (registration
 * or update) on a session: one at a time per device, oldest first. The
 * device's answer (code and decoded content) or the failure is written
 * back to the row, which the API's client polls, and audited for the
 * requests that change something. Held requests survive a restart; ones
 * sent when the previous process stopped are marked failed (their answer
 * was lost), ones never sent within LWM2M_QUEUE_EXPIRY_MS expire. */
#include "lwm2m/lwm2m_internal.h"
#include "iotvault/audit.h"
#include "iotvault/log.h"
#include "iotvault/lwm2m_observe.h"
#include "iotvault/store_lwm2m_queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SWEEP_MS 1000
#define PURGE_MS 60000

static atomic_int queue_kicked;

void lwm2m_queue_kick(void)
{
	atomic_store(&queue_kicked, 1);
}

void lwm2m_queue_heard(struct lwm2m_server *srv, struct lwm2m_session *ls, int64_t device_id)
{
	(void)srv;
	ls->heard_device = device_id;
	ls->heard_ms = store_now_ms();
	lwm2m_queue_kick();
}

void lwm2m_queue_session_reset(struct lwm2m_server *srv, struct lwm2m_session *ls)
{
	/* requests on their way were for the previous peer: they fail (a held
	 * one is recorded failed by lwm2m_queue_run) */
	lwm2m_dm_session_gone(srv, ls->session);
	ls->heard_device = 0;
	ls->heard_ms = 0;
	ls->held_in_flight = 0;
}

/* Whether LS may carry the held requests of device DEVICE_ID: the checks
 * lwm2m_dm's session_for() makes, again at the time of sending (the
 * session's peer may have changed since the device was heard on it). A
 * NoSec session is heard only by a registration over NoSec. */
static int session_carries(const struct lwm2m_session *ls, int64_t device_id)
{
	if (ls->listener == LW_LISTENER_NOSEC)
		return 1;
	return ls->listener == LW_LISTENER_DM && ls->authenticated && ls->cipher_checked &&
	       ls->owner.kind == LWM2M_CREDENTIAL_DM && ls->owner.device_id == device_id;
}

/* The device's answer as JSON for the row: records for a Read, links for a
 * Discover, nothing otherwise. NULL when there is nothing to keep. */
static char *result_json(const struct lwm2m_dm_request *req, const struct lwm2m_dm_response *resp)
{
	struct lwm2m_decode_ctx dctx = {req->path, lwm2m_object_resource_type, NULL};
	unsigned cf = resp->has_content_format ? resp->content_format : LWM2M_CF_TEXT;
	const uint8_t *data = resp->payload ? resp->payload : (const uint8_t *)"";
	json_t *body = NULL, *list = NULL;
	char *text = NULL;

	if (resp->coap_code != COAP_RESPONSE_CODE_CONTENT)
		return NULL;
	if (req->method == LWM2M_DM_DISCOVER) {
		struct lwm2m_links *links = lwm2m_links_new();
		if (links != NULL && cf == LWM2M_CF_LINK_FORMAT &&
		    lwm2m_linkformat_parse(data, resp->payload_len, links) == 0)
			list = lwm2m_links_to_json(links);
		lwm2m_links_free(links);
		if (list != NULL)
			body = json_pack("{s:o}", "links", list);
	} else if (req->method == LWM2M_DM_READ) {
		struct lwm2m_records *recs = lwm2m_records_new();
		if (recs != NULL && lwm2m_content_format_supported(cf) &&
		    lwm2m_decode(cf, data, resp->payload_len, &dctx, recs) == 0)
			list = lwm2m_records_to_json(recs);
		lwm2m_records_free(recs);
		if (list != NULL)
			body = json_pack("{s:o}", "records", list);
	}
	if (body == NULL)
		body = json_pack("{s:s}", "undecoded", "the answer could not be decoded");
	if (body != NULL)
		text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	return text;
}

static struct lwm2m_session *session_state(struct lwm2m_server *srv, coap_session_t *session)
{
	for (struct lwm2m_session *ls = srv->sessions; ls != NULL; ls = ls->next_session)
		if (ls->session == session)
			return ls;
	return NULL;
}

/* Records the end of one held request: the row, and the audit record with
 * the actor who asked. */
static void finish(struct lwm2m_server *srv, int64_t held_id, int answered,
		   const struct lwm2m_dm_request *req, const struct lwm2m_dm_response *resp)
{
	struct store *st = srv->svc->st;
	const char *action = lwm2m_dm_audit_action(req->method);
	char *result = answered ? result_json(req, resp) : NULL;
	char error[64] = "", ptext[LWM2M_PATH_TEXT_MAX] = "?", object[48], detail[160];
	int64_t now = store_now_ms();
	int r;

	if (!answered)
		snprintf(error, sizeof(error), "no answer from the device (session gone or timed out)");
	if (lwm2m_path_format(&req->path, ptext, sizeof(ptext)) != 0)
		snprintf(ptext, sizeof(ptext), "?");
	service_lock(srv->svc);
	r = st->ops->lwm2m_queue->held_finish(st, held_id, answered ? "done" : "failed",
					       answered ? resp->coap_code : 0, result,
					       answered ? NULL : error, now);
	if (r != 0)
		log_error("lwm2m: the outcome of held request %lld could not be stored",
			  (long long)held_id);
	if (action != NULL) {
		/* the server acts for whoever asked: the "started" record of the
		 * request names them */
		struct audit_actor actor = lwm2m_actor(NULL);
		struct audit_event ev;
		snprintf(object, sizeof(object), "device:%lld", (long long)req->device_id);
		if (answered)
			snprintf(detail, sizeof(detail), "%s %s: held request %lld: device answered %d.%02d",
				 lwm2m_dm_method_name(req->method), ptext, (long long)held_id,
				 resp->coap_code >> 5, resp->coap_code & 31);
		else
			snprintf(detail, sizeof(detail), "%s %s: held request %lld: no answer",
				 lwm2m_dm_method_name(req->method), ptext, (long long)held_id);
		ev = (struct audit_event){req->tenant_id, action, object,
					  answered && resp->coap_code >> 5 == 2 ? "success" : "failure",
					  detail};
		if (audit_append_now(srv->svc->v, &actor, &ev) != 0)
			log_error("lwm2m: the outcome of held request %lld could not be audited",
				  (long long)held_id);
	}
	service_unlock(srv->svc);
	log_info("lwm2m: held request %lld of device %lld %s", (long long)held_id,
		 (long long)req->device_id, answered ? "answered" : "failed");
	free(result);
}

/* Sends the next held request of the device heard on LS, if any. */
static void send_next(struct lwm2m_server *srv, struct lwm2m_session *ls, int64_t now)
{
	struct store *st = srv->svc->st;
	struct lwm2m_held_record *h = calloc(1, sizeof(*h));
	struct lwm2m_dm_request req;
	int r;

	if (h == NULL)
		return;
	if (!session_carries(ls, ls->heard_device)) {
		log_warning("lwm2m: session from %s no longer speaks for device %lld: its held "
			    "requests wait for the device", ls->address, (long long)ls->heard_device);
		ls->heard_device = 0;
		goto out;
	}
	service_lock(srv->svc);
	if (!lwm2m_pki_session_current(srv, ls)) {
		/* the device's key or CA went since the session's handshake */
		ls->heard_device = 0;
		service_unlock(srv->svc);
		goto out;
	}
	r = st->ops->lwm2m_queue->held_next(st, ls->heard_device, now, h);
	if (r == 0)
		r = st->ops->lwm2m_queue->held_mark_sent(st, h->id, now);
	service_unlock(srv->svc);
	if (r != 0) {
		if (r != IV_ERR_NOT_FOUND)
			log_error("lwm2m: held requests could not be read: %s", iv_error_message(r));
		goto out;
	}
	memset(&req, 0, sizeof(req));
	req.device_id = h->device_id;
	req.tenant_id = h->tenant_id;
	snprintf(req.address, sizeof(req.address), "%s", ls->address);
	req.method = (enum lwm2m_dm_method)h->method;
	req.accept = h->accept;
	req.content_format = h->content_format;
	req.payload = h->payload;
	req.payload_len = h->payload_len;
	snprintf(req.query, sizeof(req.query), "%s", h->query);
	if (lwm2m_path_parse(h->path, strlen(h->path), &req.path) != 0 ||
	    (r = lwm2m_dm_send_held(ls->session, &req, h->id)) != 0) {
		struct lwm2m_dm_response none = {0};
		log_error("lwm2m: held request %lld could not be sent", (long long)h->id);
		finish(srv, h->id, 0, &req, &none);
		goto out;
	}
	ls->held_in_flight = 1;
	log_info("lwm2m: held request %lld sent to device %lld", (long long)h->id,
		 (long long)h->device_id);
out:
	secmem_wipe(h, sizeof(*h));
	free(h);
}

void lwm2m_queue_run(struct lwm2m_server *srv)
{
	struct store *st = srv->svc->st;
	struct lwm2m_dm_request req;
	struct lwm2m_dm_response resp;
	coap_session_t *session;
	int64_t held_id, now = store_now_ms(), n;
	int answered, kicked;

	while (lwm2m_dm_held_pop(&held_id, &session, &answered, &req, &resp)) {
		/* NULL when the session went meanwhile (dm.c forgets the pointer) */
		struct lwm2m_session *ls = session != NULL ? session_state(srv, session) : NULL;
		finish(srv, held_id, answered, &req, &resp);
		lwm2m_dm_response_clear(&resp);
		if (ls != NULL) {
			ls->held_in_flight = 0;
			/* an answer is news from the device: it is still awake */
			if (answered)
				ls->heard_ms = store_now_ms();
			lwm2m_queue_kick(); /* the next one of that device */
		}
	}
	kicked = atomic_exchange(&queue_kicked, 0);
	if (!kicked && now < srv->next_queue_sweep_ms)
		return;
	if (now >= srv->next_queue_sweep_ms) {
		srv->next_queue_sweep_ms = now + SWEEP_MS;
		service_lock(srv->svc);
		n = st->ops->lwm2m_queue->held_expire(st, now);
		if (now >= srv->next_queue_purge_ms) {
			srv->next_queue_purge_ms = now + PURGE_MS;
			if (st->ops->lwm2m_queue->held_purge(st, now - LWM2M_QUEUE_KEEP_MS) < 0)
				log_error("lwm2m: finished held requests could not be purged");
		}
		service_unlock(srv->svc);
		if (n > 0)
			log_info("lwm2m: %lld held requests expired unsent", (long long)n);
	}
	for (struct lwm2m_session *ls = srv->sessions; ls != NULL; ls = ls->next_session)
		if (ls->heard_device > 0 && !ls->held_in_flight &&
		    now - ls->heard_ms <= srv->svc->cfg.lwm2m_queue_awake_ms)
			send_next(srv, ls, now);
}

int lwm2m_queue_restore(struct lwm2m_server *srv)
{
	struct store *st = srv->svc->st;
	int64_t n = st->ops->lwm2m_queue->held_fail_sent(
		st, "the server stopped before the device answered", store_now_ms());
	if (n < 0)
		return (int)n;
	if (n > 0)
		log_warning("lwm2m: %lld held requests were on their way at the last stop: failed",
			    (long long)n);
	return 0;
}
