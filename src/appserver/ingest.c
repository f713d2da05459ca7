/* Uplink ingest: session lookup (or adoption from an AppSKey envelope), the
 * frame-counter rule, decryption in the vault, decoding, storage and the
 * outbox. One write transaction per uplink: the counter, the stored uplink
 * and the outbox row commit together or not at all. */
#include "iotvault/appserver.h"
#include "iotvault/codec.h"
#include "iotvault/log.h"
#include "iotvault/outbox.h"
#include "iotvault/secmem.h"
#include "iotvault/store_appserver.h"
#include "iotvault/store_lorawan.h"
#include "iotvault/vault_appserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR(...) snprintf(err, err_len, __VA_ARGS__)

static void security_event(struct store *st, int64_t tenant_id, const char *kind,
			   const char *source, const char *subject, const char *detail)
{
	struct security_event ev = {tenant_id, kind, source, subject, detail};
	/* outside the refused transaction, which was rolled back */
	if (st->ops->lorawan->security_event_add(st, &ev) != 0)
		log_error("appserver: security event %s could not be recorded", kind);
}

/* The session of UP: by SessionKeyID, else adopted from its envelope under
 * the own AS peer's KEK. Inside the write transaction. */
static int find_session(struct service *svc, const struct device_record *dev,
			const struct appserver_uplink *up, struct lorawan_session_record *sess,
			bool *adopted, const char **event_kind, char *err, size_t err_len)
{
	struct store *st = svc->st;
	struct peer_record own;
	const char *own_name = svc->cfg.appserver_own_as_peer;
	int r;

	*adopted = false;
	if (up->session_key_id[0] == '\0') {
		ERR("SessionKeyID missing");
		return IV_ERR_INVALID;
	}
	r = st->ops->lorawan->session_get(st, up->session_key_id, sess);
	if (r == 0) {
		if (sess->device_id != dev->id || sess->tenant_id != dev->tenant_id) {
			*event_kind = "session_mismatch";
			ERR("the SessionKeyID belongs to another device");
			return IV_ERR_REFUSED;
		}
		return 0;
	}
	if (r != IV_ERR_NOT_FOUND)
		return r;
	if (!up->has_envelope) {
		ERR("unknown SessionKeyID and no AppSKey envelope");
		return IV_ERR_NOT_FOUND;
	}
	if (own_name == NULL || own_name[0] == '\0') {
		ERR("unknown SessionKeyID; [appserver] own_as_peer is not configured");
		return IV_ERR_NOT_FOUND;
	}
	if ((r = st->ops->lorawan->peer_get_by_name(st, own_name, &own)) != 0 ||
	    strcmp(own.kind, "as") != 0) {
		log_error("appserver: own_as_peer %s is not an application-server peer", own_name);
		ERR("[appserver] own_as_peer is not an application-server peer");
		return IV_ERR_CONFIG;
	}
	if (!up->has_dev_addr) {
		ERR("DevAddr needed to adopt a session");
		return IV_ERR_INVALID;
	}
	memset(sess, 0, sizeof(*sess));
	snprintf(sess->session_key_id, sizeof(sess->session_key_id), "%s", up->session_key_id);
	sess->device_id = dev->id;
	sess->tenant_id = dev->tenant_id;
	sess->dev_addr = up->dev_addr;
	snprintf(sess->mac_version, sizeof(sess->mac_version), "%s", dev->mac_version);
	if ((r = st->ops->lorawan->session_insert(st, sess)) != 0)
		return r;
	r = vault_appserver_adopt_session(svc->v, dev->tenant_id, sess->id, &own, &up->app_s_key);
	if (r == IV_ERR_REFUSED)
		ERR("the AppSKey envelope is not for iotvault's KEK");
	else if (r == IV_ERR_AUTH_TAG || r == IV_ERR_INVALID)
		ERR("the AppSKey envelope does not unwrap under iotvault's KEK");
	if (r == IV_ERR_AUTH_TAG || r == IV_ERR_REFUSED)
		*event_kind = "app_s_key_unwrap_failed";
	if (r == IV_ERR_AUTH_TAG)
		r = IV_ERR_REFUSED;
	if (r == 0)
		*adopted = true;
	return r;
}

/* The JSON message of an accepted uplink (stored and queued). */
static json_t *uplink_message(const struct device_record *dev, const struct appserver_uplink *up,
			      const struct lorawan_session_record *sess, uint32_t fcnt32,
			      const char *codec, json_t *decoded, int64_t now)
{
	return json_pack("{s:s,s:I,s:s,s:s,s:I,s:i,s:s,s:I,s:s,s:O}", "dev_eui", dev->dev_eui,
			 "device_id", (json_int_t)dev->id, "device_name", dev->name,
			 "session_key_id", sess->session_key_id, "f_cnt", (json_int_t)fcnt32,
			 "f_port", up->f_port, "source", up->source, "received_at", (json_int_t)now,
			 "codec", codec, "decoded", decoded);
}

int appserver_ingest(struct service *svc, const struct principal *who,
		     const struct appserver_uplink *up, struct appserver_result *res, char *err,
		     size_t err_len)
{
	struct store *st = svc->st;
	struct device_record dev;
	struct lorawan_session_record sess;
	struct appserver_session_state state;
	struct uplink_record rec;
	const struct codec *codec;
	json_t *decoded = NULL, *msg = NULL;
	char *msg_text = NULL, *decoded_text = NULL, home[7], app[STORE_NAME_MAX + 1];
	uint8_t plain[LORAWAN_FRM_PAYLOAD_MAX];
	int64_t as_peer_id = 0, now = store_now_ms();
	uint32_t fcnt32 = up->f_cnt;
	bool in_tx = false;
	const char *event_kind = NULL;
	char detail[96] = "";
	int r;

	memset(res, 0, sizeof(*res));
	r = st->ops->lorawan->device_get_by_dev_eui(st, up->dev_eui, &dev, &as_peer_id, home);
	if (r == IV_ERR_NOT_FOUND || (r == 0 && dev.tenant_id != who->tenant_id)) {
		/* another tenant's device is as unknown as a missing one */
		ERR("no LoRaWAN device with this DevEUI");
		return IV_ERR_NOT_FOUND;
	}
	if (r != 0)
		return r;
	res->device_id = dev.id;
	if (up->event == APPSERVER_EVENT_UP && up->has_f_port && up->f_port == 0) {
		ERR("FPort 0 carries MAC commands, not application data");
		return IV_ERR_INVALID;
	}
	if (up->event == APPSERVER_EVENT_UP && up->has_f_port && up->f_port > 223) {
		ERR("FPort %u is reserved", up->f_port);
		return IV_ERR_INVALID;
	}
	if ((r = st->ops->begin(st, 1)) != 0)
		return r;
	in_tx = true;
	if ((r = find_session(svc, &dev, up, &sess, &res->adopted, &event_kind, err,
				   err_len)) != 0)
		goto out;
	if (up->has_dev_addr && up->dev_addr != sess.dev_addr) {
		ERR("DevAddr differs from the session's");
		r = IV_ERR_INVALID;
		goto out;
	}
	if ((r = st->ops->appserver->state_get(st, sess.id, &state)) != 0 ||
	    (r = st->ops->appserver->state_set_ns(st, sess.id, up->source, up->tts_application_id,
						  up->tts_device_id)) != 0)
		goto out;
	if (up->event == APPSERVER_EVENT_JOIN || !up->has_f_port) {
		/* a join (the session is ready) or a frame without application data */
		goto commit;
	}
	if (up->f_cnt_16 && state.has_last_fcnt_up &&
	    lorawan_fcnt_reconstruct(true, state.last_fcnt_up, (uint16_t)up->f_cnt, &fcnt32) != 0)
		r = IV_ERR_REPLAY;
	else
		r = st->ops->appserver->fcnt_up_advance(st, sess.id, fcnt32);
	if (r == IV_ERR_REPLAY) {
		event_kind = "fcnt_replayed";
		snprintf(detail, sizeof(detail), "FCnt %lu, last %lu", (unsigned long)fcnt32,
			 (unsigned long)state.last_fcnt_up);
		ERR("frame counter %lu is not above the last one accepted for this session",
		    (unsigned long)fcnt32);
		goto out;
	}
	if (r != 0)
		goto out;
	res->f_cnt = fcnt32;
	if ((r = vault_appserver_crypt(svc->v, dev.tenant_id, sess.id, false, sess.dev_addr, fcnt32,
				       up->payload, up->payload_len, plain)) != 0) {
		ERR("the session's AppSKey is not available");
		goto out;
	}

	memset(&rec, 0, sizeof(rec));
	rec.tenant_id = dev.tenant_id;
	rec.device_id = dev.id;
	rec.session_id = sess.id;
	rec.f_cnt = fcnt32;
	rec.f_port = up->f_port;
	snprintf(rec.source, sizeof(rec.source), "%s", up->source);
	rec.received_at = now;
	rec.expires_at = now + (int64_t)svc->cfg.appserver_uplink_retention_days * 86400000;
	if ((r = st->ops->appserver->device_codec_get(st, dev.tenant_id, dev.id, rec.codec)) != 0)
		goto out;
	if ((codec = codec_find(rec.codec)) == NULL) {
		snprintf(rec.reason, sizeof(rec.reason), "unknown codec profile");
	} else if (codec->decode(plain, up->payload_len, up->f_port, &decoded, rec.reason,
				 sizeof(rec.reason)) == 0) {
		rec.accepted = true;
	} else if (rec.reason[0] == '\0') {
		snprintf(rec.reason, sizeof(rec.reason), "payload refused by the %s codec", rec.codec);
	}
	if (rec.accepted) {
		if ((decoded_text = json_dumps(decoded, JSON_COMPACT)) == NULL ||
		    (msg = uplink_message(&dev, up, &sess, fcnt32, rec.codec, decoded, now)) == NULL) {
			r = IV_ERR_NOMEM;
			goto out;
		}
		rec.decoded = decoded_text;
	}
	if ((r = st->ops->appserver->uplink_insert(st, &rec)) != 0)
		goto out;
	res->uplink_id = rec.id;
	res->accepted = rec.accepted;
	snprintf(res->reason, sizeof(res->reason), "%s", rec.reason);
	if (rec.accepted) {
		struct outbox_message om;
		int q;
		json_object_set_new(msg, "uplink_id", json_integer((json_int_t)rec.id));
		if ((msg_text = json_dumps(msg, JSON_COMPACT)) == NULL) {
			r = IV_ERR_NOMEM;
			goto out;
		}
		outbox_application_of(&dev, app, sizeof(app));
		om = (struct outbox_message){dev.tenant_id, who->tenant, app, dev.dev_eui, "up",
					     msg_text};
		q = outbox_enqueue(st, &om);
		if (q == 0)
			res->forwarded = true;
		else if (q == IV_ERR_TOO_LARGE)
			log_warning("appserver: outbox of tenant %lld full; uplink %lld stored only",
				    (long long)dev.tenant_id, (long long)rec.id);
		else {
			r = q;
			goto out;
		}
	}
commit:
	if ((r = st->ops->commit(st)) != 0)
		goto out;
	in_tx = false;
	/* success */
	r = 0;
out:
	if (in_tx)
		st->ops->rollback(st);
	if (r != 0 && event_kind != NULL)
		security_event(st, dev.tenant_id, event_kind, up->source, dev.dev_eui, detail);
	secmem_wipe(plain, sizeof(plain));
	free(msg_text);
	free(decoded_text);
	json_decref(msg);
	json_decref(decoded);
	return r;
}

void appserver_purge_expired(struct service *svc)
{
	static int64_t last_purge;
	int64_t now = store_now_ms(), n;
	if (now - last_purge < 60000)
		return;
	last_purge = now;
	n = svc->st->ops->appserver->uplink_purge(svc->st, now);
	if (n > 0)
		log_info("appserver: %lld uplinks past their retention deleted", (long long)n);
}
