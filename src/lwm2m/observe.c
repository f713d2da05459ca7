/* Observations on the LwM2M server thread: an Observe request answered
 * 2.05 with an Observe option becomes a stored observation (token, path,
 * session address); every later response with that token on the device's
 * session is a notification: checked for freshness (RFC 7641 section 3.4:
 * older sequence numbers are dropped), decoded with the content codecs,
 * stored with a retention and published through the outbox (event
 * "notify"). A response with a token no observation has is answered RST
 * (by returning 0 to the response handler), which ends the observation on
 * the device. Observations end with their session, with the registration
 * (trigger of migration 0011) or by cancellation through the API. */
#include "lwm2m/lwm2m_internal.h"
#include "iotvault/log.h"
#include "iotvault/lwm2m_dm.h"
#include "iotvault/lwm2m_observe.h"
#include "iotvault/outbox.h"
#include "iotvault/store_lwm2m_observe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PURGE_INTERVAL_MS 60000

/* The device a response on SESSION speaks for: the DM credential's device,
 * 0 for a NoSec session (its observations are found by address). -1 for a
 * session that may not deliver notifications. */
static int64_t session_device(struct lwm2m_session *ls)
{
	if (ls == NULL)
		return -1;
	if (ls->listener == LW_LISTENER_NOSEC)
		return 0;
	if (ls->listener == LW_LISTENER_DM && ls->authenticated && ls->cipher_checked &&
	    ls->owner.kind == LWM2M_CREDENTIAL_DM)
		return ls->owner.device_id;
	return -1;
}

/* Decodes RECEIVED's payload under the observation's path, stores it as a
 * notification with sequence SEQ and queues it for the integrations. Under
 * the service lock, inside the caller's write transaction. */
static int store_and_publish(struct lwm2m_server *srv, const struct lwm2m_observation_record *o,
			     int64_t seq, const coap_pdu_t *received, int64_t *notification_id)
{
	struct store *st = srv->svc->st;
	struct lwm2m_notification_record n;
	struct lwm2m_decode_ctx dctx;
	struct lwm2m_records *recs = NULL;
	struct device_record dev;
	struct device_selector sel = {0};
	struct tenant tenant;
	struct outbox_message om;
	coap_opt_iterator_t it;
	coap_opt_t *cfo;
	const uint8_t *data = (const uint8_t *)"";
	size_t len = 0, offset = 0, total = 0;
	unsigned cf = LWM2M_CF_TEXT;
	json_t *records = NULL, *msg = NULL;
	char *records_text = NULL, *msg_text = NULL, app[STORE_NAME_MAX + 1];
	int64_t now = store_now_ms();
	int r;

	if ((cfo = coap_check_option(received, COAP_OPTION_CONTENT_FORMAT, &it)) != NULL)
		cf = coap_decode_var_bytes(coap_opt_value(cfo), coap_opt_length(cfo));
	if (coap_get_data_large(received, &len, &data, &offset, &total) &&
	    (offset != 0 || len != total || total > LWM2M_PAYLOAD_MAX)) {
		log_warning("lwm2m: notification of device %lld dropped: body of %zu bytes",
			    (long long)o->device_id, total);
		r = IV_ERR_TOO_LARGE;
		goto out;
	}
	memset(&dctx, 0, sizeof(dctx));
	dctx.type_of = lwm2m_object_resource_type;
	if ((r = lwm2m_path_parse(o->path, strlen(o->path), &dctx.base)) != 0)
		goto out;
	if ((recs = lwm2m_records_new()) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	if (!lwm2m_content_format_supported(cf) || lwm2m_decode(cf, data, len, &dctx, recs) != 0) {
		log_warning("lwm2m: notification of device %lld (content format %u, %zu bytes) "
			    "could not be decoded; dropped",
			    (long long)o->device_id, cf, len);
		r = IV_ERR_INVALID;
		goto out;
	}
	if ((records = lwm2m_records_to_json(recs)) == NULL ||
	    (records_text = json_dumps(records, JSON_COMPACT)) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	memset(&n, 0, sizeof(n));
	n.tenant_id = o->tenant_id;
	n.device_id = o->device_id;
	n.observation_id = o->id;
	snprintf(n.path, sizeof(n.path), "%s", o->path);
	n.seq = seq;
	n.content_format = cf;
	n.records = records_text;
	n.received_at = now;
	n.expires_at = now + (int64_t)srv->svc->cfg.lwm2m_observe_retention_days * 86400000;
	/* at most [lwm2m] notifications_per_device per device: the oldest go */
	if ((r = st->ops->lwm2m_observe->notification_insert(st, &n)) != 0 ||
	    (r = st->ops->lwm2m_observe->notification_trim(
		     st, o->device_id, srv->svc->cfg.lwm2m_notifications_per_device)) != 0)
		goto out;
	*notification_id = n.id;

	sel.id = o->device_id;
	if ((r = st->ops->device_get(st, o->tenant_id, &sel, &dev)) != 0 ||
	    (r = st->ops->tenant_get(st, o->tenant_id, &tenant)) != 0)
		goto out;
	msg = json_object();
	json_object_set_new(msg, "device_id", json_integer(dev.id));
	json_object_set_new(msg, "endpoint", json_string(dev.endpoint));
	json_object_set_new(msg, "observation_id", json_integer(o->id));
	json_object_set_new(msg, "notification_id", json_integer(n.id));
	json_object_set_new(msg, "path", json_string(o->path));
	json_object_set_new(msg, "seq", json_integer(seq));
	json_object_set_new(msg, "content_format", json_integer(cf));
	json_object_set_new(msg, "records", records);
	records = NULL;
	json_object_set_new(msg, "received_at", json_integer(now));
	if ((msg_text = json_dumps(msg, JSON_COMPACT)) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	outbox_application_of(&dev, app, sizeof(app));
	om = (struct outbox_message){dev.tenant_id, tenant.name, app, dev.endpoint,
				     LWM2M_NOTIFY_EVENT, msg_text};
	r = outbox_enqueue(st, &om);
	if (r == IV_ERR_TOO_LARGE) {
		log_warning("lwm2m: notification %lld of device %lld stored, too large to publish",
			    (long long)n.id, (long long)dev.id);
		r = 0;
	}
	if (r != 0)
		goto out;
	/* success */
	r = 0;
out:
	json_decref(records);
	json_decref(msg);
	free(records_text);
	free(msg_text);
	lwm2m_records_free(recs);
	return r;
}

static int64_t observe_seq(const coap_pdu_t *received, int *present)
{
	coap_opt_iterator_t it;
	coap_opt_t *o = coap_check_option(received, COAP_OPTION_OBSERVE, &it);
	*present = o != NULL;
	return o ? (int64_t)coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o)) : 0;
}

int lwm2m_observe_started(struct lwm2m_server *srv, coap_session_t *session,
			  const struct lwm2m_dm_request *req, const uint8_t *token,
			  size_t token_len, const coap_pdu_t *received, int64_t *observation_id)
{
	struct store *st = srv->svc->st;
	struct lwm2m_session *ls = coap_session_get_app_data(session);
	struct lwm2m_observation_record o;
	int64_t notification_id = 0, count = 0;
	int present, in_tx = 0, r;

	*observation_id = 0;
	if (ls == NULL || token_len > LWM2M_TOKEN_MAX)
		return IV_ERR_INVALID;
	memset(&o, 0, sizeof(o));
	o.tenant_id = req->tenant_id;
	o.device_id = req->device_id;
	if ((r = lwm2m_path_format(&req->path, o.path, sizeof(o.path))) != 0)
		return r;
	memcpy(o.token, token, token_len);
	o.token_len = token_len;
	snprintf(o.address, sizeof(o.address), "%s", ls->address);
	o.last_seq = observe_seq(received, &present);
	o.created_at = o.last_at = store_now_ms();

	service_lock(srv->svc);
	if ((r = st->ops->begin(st, 1)) != 0)
		goto out;
	in_tx = 1;
	/* counted again in the transaction of the insert: the API's count came
	 * before the request went out, and concurrent observes may have raced.
	 * Refused, nothing is stored and the device's next notification is
	 * answered RST, which ends its observation. */
	if ((r = st->ops->lwm2m_observe->observation_count(st, o.device_id, &count)) != 0)
		goto out;
	if (count >= LWM2M_OBSERVATIONS_MAX) {
		log_warning("lwm2m: device %lld has %d observations: a new one is not stored",
			    (long long)o.device_id, LWM2M_OBSERVATIONS_MAX);
		r = IV_ERR_REFUSED;
		goto out;
	}
	if ((r = st->ops->lwm2m_observe->observation_insert(st, &o)) != 0)
		goto out;
	/* the first value is the observation's first notification; one that
	 * cannot be decoded is the caller's to report, the observation stays.
	 * In a nested transaction (a savepoint): a failure after the
	 * notification's insert (e.g. its publication) takes it back too. */
	if ((r = st->ops->begin(st, 1)) != 0)
		goto out;
	if (store_and_publish(srv, &o, o.last_seq, received, &notification_id) != 0 ||
	    st->ops->lwm2m_observe->observation_touch(st, o.id, o.last_seq, o.last_at) != 0) {
		if ((r = st->ops->rollback(st)) != 0)
			goto out;
	} else if ((r = st->ops->commit(st)) != 0)
		goto out; /* the outer rollback takes everything back */
	if ((r = st->ops->commit(st)) != 0)
		goto out;
	in_tx = 0;
	*observation_id = o.id;
	log_info("lwm2m: device %lld observed at %s (observation %lld)", (long long)o.device_id,
		 o.path, (long long)o.id);
	/* success */
	r = 0;
out:
	if (in_tx)
		st->ops->rollback(st);
	service_unlock(srv->svc);
	return r;
}

int lwm2m_observe_on_notification(struct lwm2m_server *srv, coap_session_t *session,
				  const coap_pdu_t *received)
{
	struct store *st = srv->svc->st;
	struct lwm2m_session *ls = coap_session_get_app_data(session);
	struct lwm2m_observation_record o;
	coap_bin_const_t token = coap_pdu_get_token(received);
	int64_t device = session_device(ls), seq, now = store_now_ms(), nid = 0;
	int present, handled = 0, in_tx = 0, r;

	if (device < 0 || token.length == 0 || token.length > LWM2M_TOKEN_MAX)
		return 0;
	seq = observe_seq(received, &present);
	service_lock(srv->svc);
	/* a notification on an RPK/X.509 session whose key or CA went since is
	 * refused (RST) like one from an unknown session */
	if (!lwm2m_pki_session_current(srv, ls) || st->ops->begin(st, 1) != 0)
		goto out;
	in_tx = 1;
	r = st->ops->lwm2m_observe->observation_by_token(st, device, token.s, token.length,
							  ls->address, &o);
	if (r != 0) {
		if (r != IV_ERR_NOT_FOUND)
			log_error("lwm2m: observation lookup failed: %s", iv_error_message(r));
		goto out;
	}
	handled = 1;
	if (coap_pdu_get_code(received) != COAP_RESPONSE_CODE_CONTENT || !present) {
		/* RFC 7641 section 3.2: a response without Observe, or an error,
		 * ends the observation */
		log_info("lwm2m: observation %lld of device %lld ended by the device (%d.%02d)",
			 (long long)o.id, (long long)o.device_id, coap_pdu_get_code(received) >> 5,
			 coap_pdu_get_code(received) & 31);
		if (st->ops->lwm2m_observe->observation_delete(st, o.id) == 0 && st->ops->commit(st) == 0)
			in_tx = 0;
		goto out;
	}
	if (!lwm2m_observe_fresh(o.last_seq, o.last_at, seq, now)) {
		log_info("lwm2m: notification %lld of observation %lld older than %lld: dropped",
			 (long long)seq, (long long)o.id, (long long)o.last_seq);
		goto out;
	}
	if ((r = store_and_publish(srv, &o, seq, received, &nid)) != 0) {
		if (r != IV_ERR_INVALID && r != IV_ERR_TOO_LARGE)
			log_error("lwm2m: notification of device %lld not stored: %s",
				  (long long)o.device_id, iv_error_message(r));
		goto out;
	}
	if (st->ops->lwm2m_observe->observation_touch(st, o.id, seq, now) != 0 ||
	    st->ops->commit(st) != 0) {
		log_error("lwm2m: notification of device %lld not stored", (long long)o.device_id);
		goto out;
	}
	in_tx = 0;
	log_debug("lwm2m: notification %lld of observation %lld stored", (long long)nid,
		  (long long)o.id);
out:
	if (in_tx)
		st->ops->rollback(st);
	service_unlock(srv->svc);
	return handled;
}

void lwm2m_observe_session_gone(struct lwm2m_server *srv, struct lwm2m_session *ls)
{
	struct store *st = srv->svc->st;
	int64_t device = session_device(ls), n = 0;
	if (device < 0 || ls->address[0] == '\0')
		return;
	service_lock(srv->svc);
	if (st->ops->lwm2m_observe->observation_delete_device(st, device, ls->address, &n) != 0)
		log_error("lwm2m: the observations of a closed session could not be removed");
	service_unlock(srv->svc);
	if (n > 0)
		log_info("lwm2m: session from %s closed: %lld observations ended", ls->address,
			 (long long)n);
}

void lwm2m_observe_purge(struct lwm2m_server *srv)
{
	struct store *st = srv->svc->st;
	int64_t now = store_now_ms(), n;
	if (now < srv->next_observe_purge_ms)
		return;
	srv->next_observe_purge_ms = now + PURGE_INTERVAL_MS;
	service_lock(srv->svc);
	n = st->ops->lwm2m_observe->notification_purge(st, now);
	service_unlock(srv->svc);
	if (n > 0)
		log_info("lwm2m: %lld notifications past their retention deleted", (long long)n);
}
