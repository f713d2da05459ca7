/* Client-initiated bootstrap (LwM2M 1.0/1.1 section 5.2.7): POST /bs?ep= over
 * DTLS with the device's bootstrap PSK, answered 2.04; then the server sends,
 * one after the other, Bootstrap-Delete /0 and /1 (the client keeps its
 * bootstrap-server account), Bootstrap-Write of a Security instance (DM
 * server URI, PSK mode, a fresh DM identity and PSK from the vault) and of a
 * Server instance (short server ID, lifetime, binding "U"), and
 * Bootstrap-Finish. The DM credential is created (pending) before the first
 * write and retired again if the sequence fails; every bootstrap is audited.
 * A device configured for RPK or X.509 (lwm2m_device_security) gets Security
 * Mode 1 or 2 instead: its own public key or certificate, the server's, and
 * no DM credential; its private key never passes through iotvault. */
#include "lwm2m/lwm2m_internal.h"
#include "iotvault/audit.h"
#include "iotvault/lwm2m_content.h"
#include "iotvault/log.h"
#include "iotvault/store_lwm2m_pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Instance ids the bootstrap writes. The client's bootstrap-server account
 * is conventionally Security instance 0, which the deletes leave alone. */
#define BS_SECURITY_INSTANCE 1
#define BS_SERVER_INSTANCE 0
/* LwM2M Security object resources */
#define SEC_URI 0
#define SEC_BOOTSTRAP 1
#define SEC_MODE 2
#define SEC_IDENTITY 3
#define SEC_SERVER_KEY 4
#define SEC_SECRET_KEY 5
#define SEC_SSID 10
#define SEC_MODE_PSK 0
#define SEC_MODE_RPK 1
#define SEC_MODE_CERTIFICATE 2
/* LwM2M Server object resources */
#define SRV_SSID 0
#define SRV_LIFETIME 1
#define SRV_STORING 6
#define SRV_BINDING 7

#define TLV_MAX 512

enum bs_step {
	BS_DELETE_SECURITY,
	BS_DELETE_SERVER,
	BS_WRITE_SECURITY,
	BS_WRITE_SERVER,
	BS_FINISH,
	BS_DONE,
};

struct lwm2m_bootstrap {
	struct lwm2m_credential_record cred;
	struct secbuf *security_tlv; /* carries the DM PSK (PSK mode) */
	size_t security_len;
	int cert_mode; /* RPK or X.509: no DM credential, no secret in the write */
	char mode[STORE_KIND_MAX + 1]; /* what the Security instance says: "psk", "rpk", "x509" */
	uint8_t server_tlv[TLV_MAX];
	size_t server_len;
	enum bs_step step;
	int started; /* the first request has been sent */
	uint8_t token[8];
	size_t token_len;
};

static const char *step_name(enum bs_step s)
{
	switch (s) {
	case BS_DELETE_SECURITY: return "Bootstrap-Delete /0";
	case BS_DELETE_SERVER: return "Bootstrap-Delete /1";
	case BS_WRITE_SECURITY: return "Bootstrap-Write /0";
	case BS_WRITE_SERVER: return "Bootstrap-Write /1";
	case BS_FINISH: return "Bootstrap-Finish";
	case BS_DONE: return "done";
	}
	return "?";
}

static void bs_free(struct lwm2m_bootstrap *bs)
{
	if (bs == NULL)
		return;
	secbuf_free(bs->security_tlv);
	secmem_wipe(bs, sizeof(*bs));
	free(bs);
}

static void unlink_session(struct lwm2m_server *srv, struct lwm2m_session *ls)
{
	for (struct lwm2m_session **p = &srv->bootstraps; *p != NULL; p = &(*p)->bs_next)
		if (*p == ls) {
			*p = ls->bs_next;
			break;
		}
	ls->bs_next = NULL;
}

/* Ends LS's bootstrap; a failure retires its credential and is audited. */
static void bs_end(struct lwm2m_server *srv, struct lwm2m_session *ls, const char *failure)
{
	struct lwm2m_bootstrap *bs = ls->bs;
	struct audit_actor actor = lwm2m_actor(ls->address);
	if (bs == NULL)
		return;
	unlink_session(srv, ls);
	ls->bs = NULL;
	if (failure != NULL) {
		int r;
		log_warning("lwm2m: bootstrap of device %lld from %s failed: %s",
			    (long long)bs->cred.device_id, ls->address, failure);
		service_lock(srv->svc);
		if (bs->cert_mode) {
			struct audit_event ev;
			char object[64];
			snprintf(object, sizeof(object), "device:%lld", (long long)bs->cred.device_id);
			ev = (struct audit_event){bs->cred.tenant_id, "lwm2m.bootstrap", object,
						  "failure", failure};
			r = audit_append_now(srv->svc->v, &actor, &ev);
		} else
			r = vault_lwm2m_bootstrap_failed(srv->svc->v, &actor, &bs->cred, failure);
		service_unlock(srv->svc);
		if (r != 0)
			log_error("lwm2m: the failed bootstrap could not be recorded: %s",
				  iv_error_message(r));
	}
	bs_free(bs);
}

void lwm2m_bootstrap_session_gone(struct lwm2m_server *srv, struct lwm2m_session *ls)
{
	if (ls->bs != NULL)
		bs_end(srv, ls, ls->bs->step == BS_DONE ? NULL : "session closed");
}

/* The Security instance for the DM server and the Server instance. */
static int build_payloads(struct lwm2m_server *srv, struct lwm2m_bootstrap *bs,
			  const struct secbuf *psk, const struct lwm2m_device_security_record *sec)
{
	const uint8_t *server_key = NULL;
	size_t server_key_len = 0;
	const struct config *cfg = &srv->svc->cfg;
	struct lwm2m_records *recs = NULL;
	struct lwm2m_path base = lwm2m_path_instance(0, BS_SECURITY_INSTANCE), p;
	struct lwm2m_value val;
	int r;

	if (sec != NULL &&
	    (r = lwm2m_pki_server_public(srv, strcmp(sec->mode, "rpk") == 0, &server_key,
					 &server_key_len)) != 0)
		return r;
	if ((bs->security_tlv = secbuf_new(TLV_MAX + server_key_len +
					   (sec ? sec->spki_len + sec->certificate_len : 0))) == NULL ||
	    (recs = lwm2m_records_new()) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
#define ADD(inst_obj, inst, res, value)                                                 \
	do {                                                                            \
		p = lwm2m_path_resource(inst_obj, inst, res);                           \
		val = (value);                                                          \
		if ((r = lwm2m_records_add(recs, &p, &val)) != 0)                        \
			goto out;                                                       \
	} while (0)
	/* an RPK device is sent to the listener that shows it the server's RPK */
	ADD(0, BS_SECURITY_INSTANCE, SEC_URI,
	    lwm2m_value_string(sec != NULL && strcmp(sec->mode, "rpk") == 0 &&
					       cfg->lwm2m_rpk_dm_server_uri[0]
				       ? cfg->lwm2m_rpk_dm_server_uri
				       : cfg->lwm2m_dm_server_uri));
	ADD(0, BS_SECURITY_INSTANCE, SEC_BOOTSTRAP, lwm2m_value_boolean(false));
	if (sec == NULL) {
		ADD(0, BS_SECURITY_INSTANCE, SEC_MODE, lwm2m_value_integer(SEC_MODE_PSK));
		ADD(0, BS_SECURITY_INSTANCE, SEC_IDENTITY,
		    lwm2m_value_opaque((const uint8_t *)bs->cred.identity,
				       strlen(bs->cred.identity)));
		ADD(0, BS_SECURITY_INSTANCE, SEC_SECRET_KEY, lwm2m_value_opaque(psk->data, psk->len));
	} else if (strcmp(sec->mode, "rpk") == 0) {
		ADD(0, BS_SECURITY_INSTANCE, SEC_MODE, lwm2m_value_integer(SEC_MODE_RPK));
		ADD(0, BS_SECURITY_INSTANCE, SEC_IDENTITY, lwm2m_value_opaque(sec->spki, sec->spki_len));
	} else {
		ADD(0, BS_SECURITY_INSTANCE, SEC_MODE, lwm2m_value_integer(SEC_MODE_CERTIFICATE));
		ADD(0, BS_SECURITY_INSTANCE, SEC_IDENTITY,
		    lwm2m_value_opaque(sec->certificate, sec->certificate_len));
	}
	if (sec != NULL) {
		ADD(0, BS_SECURITY_INSTANCE, SEC_SERVER_KEY,
		    lwm2m_value_opaque(server_key, server_key_len));
		/* the device keeps its private key: the resource is written empty */
		ADD(0, BS_SECURITY_INSTANCE, SEC_SECRET_KEY, lwm2m_value_opaque(NULL, 0));
	}
	ADD(0, BS_SECURITY_INSTANCE, SEC_SSID, lwm2m_value_integer(cfg->lwm2m_short_server_id));
	if ((r = lwm2m_tlv_encode(&base, recs, bs->security_tlv->data, bs->security_tlv->len,
				  &bs->security_len)) != 0)
		goto out;
	lwm2m_records_clear(recs);
	base = lwm2m_path_instance(1, BS_SERVER_INSTANCE);
	ADD(1, BS_SERVER_INSTANCE, SRV_SSID, lwm2m_value_integer(cfg->lwm2m_short_server_id));
	ADD(1, BS_SERVER_INSTANCE, SRV_LIFETIME, lwm2m_value_integer(cfg->lwm2m_dm_lifetime_s));
	ADD(1, BS_SERVER_INSTANCE, SRV_STORING, lwm2m_value_boolean(true));
	ADD(1, BS_SERVER_INSTANCE, SRV_BINDING, lwm2m_value_string("U"));
#undef ADD
	r = lwm2m_tlv_encode(&base, recs, bs->server_tlv, sizeof(bs->server_tlv), &bs->server_len);
out:
	lwm2m_records_free(recs);
	return r;
}

/* The audit record of a bootstrap in RPK or X.509 mode (which creates no DM
 * credential, the record vault_lwm2m_dm_credential_create would write). */
static int bootstrap_cert_mode_start(struct lwm2m_server *srv, const struct audit_actor *actor,
				     const struct device_record *dev,
				     const struct lwm2m_device_security_record *sec,
				     struct lwm2m_bootstrap *bs)
{
	struct audit_event ev;
	char object[64], detail[STORE_NAME_MAX + 64];
	if (srv->pki == NULL) {
		log_error("lwm2m: device %lld is configured for %s but [lwm2m] certificate is off",
			  (long long)dev->id, sec->mode);
		return IV_ERR_CONFIG;
	}
	snprintf(object, sizeof(object), "device:%lld", (long long)dev->id);
	snprintf(detail, sizeof(detail), "endpoint %s, security mode %s", dev->endpoint, sec->mode);
	ev = (struct audit_event){dev->tenant_id, "lwm2m.bootstrap", object, "started", detail};
	bs->cert_mode = 1;
	snprintf(bs->mode, sizeof(bs->mode), "%s", sec->mode);
	bs->cred.tenant_id = dev->tenant_id;
	bs->cred.device_id = dev->id;
	return audit_append_now(srv->svc->v, actor, &ev);
}

void lwm2m_bootstrap_handle_request(coap_resource_t *resource, coap_session_t *session,
				    const coap_pdu_t *request, const coap_string_t *query,
				    coap_pdu_t *response)
{
	struct lwm2m_server *srv = coap_get_app_data(coap_session_get_context(session));
	struct lwm2m_session *ls = lwm2m_session_of(srv, session);
	struct lwm2m_bootstrap *bs = NULL;
	struct secbuf *psk = NULL;
	struct lwm2m_device_security_record *sec = NULL;
	struct device_record dev;
	struct device_selector sel = {0};
	struct audit_actor actor;
	struct lwm2m_query q;
	char ep[STORE_NAME_MAX + 1];
	int r;
	(void)resource;
	(void)request;

	if (ls == NULL) {
		coap_pdu_set_code(response, COAP_RESPONSE_CODE_INTERNAL_ERROR);
		return;
	}
	actor = lwm2m_actor(ls->address);
	if (ls->listener != LW_LISTENER_BOOTSTRAP) {
		coap_pdu_set_code(response, COAP_RESPONSE_CODE_NOT_FOUND);
		return;
	}
	if (!lwm2m_session_check_cipher(srv, session, ls) ||
	    ls->owner.kind != LWM2M_CREDENTIAL_BOOTSTRAP) {
		coap_pdu_set_code(response, COAP_RESPONSE_CODE_FORBIDDEN);
		return;
	}
	if ((r = lwm2m_query_parse(LWM2M_QUERY_BOOTSTRAP, query ? query->s : NULL,
				   query ? query->length : 0, NULL, &q)) != 0) {
		coap_pdu_set_code(response, r == IV_ERR_TOO_LARGE ? COAP_RESPONSE_CODE(413)
								  : COAP_RESPONSE_CODE_BAD_REQUEST);
		return;
	}
	snprintf(ep, sizeof(ep), "%s", q.ep);
	/* LwM2M 1.1 "pct": the format the client prefers; the writes are TLV,
	 * which every 1.0 and 1.1 client must accept */
	if (ls->bs != NULL) {
		/* a second request while one runs: the client restarted */
		bs_end(srv, ls, "bootstrap requested again");
	}
	service_lock(srv->svc);
	sel.id = ls->owner.device_id;
	r = lwm2m_pki_session_current(srv, ls) ? 0 : IV_ERR_FORBIDDEN;
	if (r == 0)
		r = srv->svc->st->ops->device_get(srv->svc->st, ls->owner.tenant_id, &sel, &dev);
	if (r == 0 && strcmp(dev.endpoint, ep) != 0) {
		char detail[2 * STORE_NAME_MAX + 64];
		snprintf(detail, sizeof(detail), "bootstrap for endpoint %s with the credential of %s",
			 ep, dev.endpoint);
		lwm2m_security_event(srv, dev.tenant_id, LWM2M_EVENT_ENDPOINT_MISMATCH, ls->address,
				     dev.endpoint, detail);
		log_warning("lwm2m: %s", detail);
		r = IV_ERR_FORBIDDEN;
	}
	if (r == 0 && (sec = malloc(sizeof(*sec))) == NULL)
		r = IV_ERR_NOMEM;
	if (r == 0 && (r = srv->svc->st->ops->lwm2m_pki->security_get(srv->svc->st, dev.id, sec)) ==
			      IV_ERR_NOT_FOUND) {
		free(sec);
		sec = NULL;
		r = 0;
	}
	if (r == 0 && (bs = calloc(1, sizeof(*bs))) == NULL)
		r = IV_ERR_NOMEM;
	if (r == 0 && sec == NULL)
		r = vault_lwm2m_dm_credential_create(srv->svc->v, &actor, &dev, &bs->cred, &psk);
	else if (r == 0)
		r = bootstrap_cert_mode_start(srv, &actor, &dev, sec, bs);
	service_unlock(srv->svc);
	if (r == 0)
		r = build_payloads(srv, bs, psk, sec);
	secbuf_free(psk);
	free(sec);
	if (r != 0) {
		if (bs != NULL && (bs->cred.id != 0 || bs->cert_mode)) {
			ls->bs = bs; /* so that bs_end retires the credential */
			bs_end(srv, ls, "bootstrap payloads could not be built");
		} else
			bs_free(bs);
		coap_pdu_set_code(response, r == IV_ERR_FORBIDDEN ? COAP_RESPONSE_CODE_FORBIDDEN
								  : COAP_RESPONSE_CODE_INTERNAL_ERROR);
		return;
	}
	bs->step = BS_DELETE_SECURITY;
	ls->bs = bs;
	ls->bs_next = srv->bootstraps;
	srv->bootstraps = ls;
	log_info("lwm2m: bootstrap of device %lld (%s) from %s", (long long)dev.id, dev.endpoint,
		 ls->address);
	/* the writes start once this answer is out (lwm2m_bootstrap_run_pending) */
	coap_pdu_set_code(response, COAP_RESPONSE_CODE_CHANGED);
}

static int add_path(coap_pdu_t *pdu, const char *a, const char *b)
{
	if (coap_add_option(pdu, COAP_OPTION_URI_PATH, strlen(a), (const uint8_t *)a) == 0)
		return IV_ERR_NOMEM;
	if (b != NULL && coap_add_option(pdu, COAP_OPTION_URI_PATH, strlen(b), (const uint8_t *)b) == 0)
		return IV_ERR_NOMEM;
	return 0;
}

/* Sends the request of BS->step on LS's session. */
static int send_step(struct lwm2m_session *ls)
{
	struct lwm2m_bootstrap *bs = ls->bs;
	coap_session_t *session = ls->session;
	coap_pdu_code_t code;
	coap_pdu_t *pdu;
	uint8_t cf[4];
	char sec_inst[8], srv_inst[8];
	const uint8_t *data = NULL;
	size_t data_len = 0;
	int r;

	snprintf(sec_inst, sizeof(sec_inst), "%d", BS_SECURITY_INSTANCE);
	snprintf(srv_inst, sizeof(srv_inst), "%d", BS_SERVER_INSTANCE);
	code = bs->step == BS_DELETE_SECURITY || bs->step == BS_DELETE_SERVER ? COAP_REQUEST_CODE_DELETE
	       : bs->step == BS_FINISH					   ? COAP_REQUEST_CODE_POST
									   : COAP_REQUEST_CODE_PUT;
	pdu = coap_pdu_init(COAP_MESSAGE_CON, code, coap_new_message_id(session),
			    coap_session_max_pdu_size(session));
	if (pdu == NULL)
		return IV_ERR_NOMEM;
	coap_session_new_token(session, &bs->token_len, bs->token);
	if (!coap_add_token(pdu, bs->token_len, bs->token)) {
		r = IV_ERR_NOMEM;
		goto fail;
	}
	switch (bs->step) {
	case BS_DELETE_SECURITY: r = add_path(pdu, "0", NULL); break;
	case BS_DELETE_SERVER: r = add_path(pdu, "1", NULL); break;
	case BS_WRITE_SECURITY:
		r = add_path(pdu, "0", sec_inst);
		data = bs->security_tlv->data;
		data_len = bs->security_len;
		break;
	case BS_WRITE_SERVER:
		r = add_path(pdu, "1", srv_inst);
		data = bs->server_tlv;
		data_len = bs->server_len;
		break;
	case BS_FINISH: r = add_path(pdu, "bs", NULL); break;
	default: r = IV_ERR_INTERNAL; break;
	}
	if (r != 0)
		goto fail;
	if (data != NULL) {
		/* a write with certificates may exceed one datagram: libcoap
		 * sends it block-wise (Block1), reading DATA until the last
		 * block is acknowledged (it stays allocated until then) */
		if (coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT,
				    coap_encode_var_safe(cf, sizeof(cf), LWM2M_CF_TLV), cf) == 0 ||
		    !coap_add_data_large_request(session, pdu, data_len, data, NULL, NULL)) {
			r = IV_ERR_NOMEM;
			goto fail;
		}
	}
	if (coap_send(session, pdu) == COAP_INVALID_MID)
		return IV_ERR_IO;
	return 0;
fail:
	coap_delete_pdu(pdu);
	return r;
}

void lwm2m_bootstrap_run_pending(struct lwm2m_server *srv)
{
	struct lwm2m_session *ls = srv->bootstraps, *next;
	for (; ls != NULL; ls = next) {
		next = ls->bs_next;
		if (ls->bs->started)
			continue;
		ls->bs->started = 1;
		if (send_step(ls) != 0)
			bs_end(srv, ls, "request could not be sent");
	}
}

static int step_ok(enum bs_step step, coap_pdu_code_t code)
{
	if (step == BS_DELETE_SECURITY || step == BS_DELETE_SERVER)
		/* an object without instances besides the kept one may say 4.04 */
		return code == COAP_RESPONSE_CODE_DELETED || code == COAP_RESPONSE_CODE_NOT_FOUND;
	return code == COAP_RESPONSE_CODE_CHANGED;
}

int lwm2m_bootstrap_on_response(struct lwm2m_server *srv, coap_session_t *session,
				const coap_pdu_t *received)
{
	struct lwm2m_session *ls = coap_session_get_app_data(session);
	struct lwm2m_bootstrap *bs;
	coap_bin_const_t token = coap_pdu_get_token(received);
	coap_pdu_code_t code = coap_pdu_get_code(received);
	char why[96];

	if (ls == NULL || (bs = ls->bs) == NULL || !bs->started || bs->step == BS_DONE)
		return 0;
	if (token.length != bs->token_len ||
	    (token.length > 0 && secmem_equal(token.s, bs->token, token.length) != 0))
		return 0;
	if (!step_ok(bs->step, code)) {
		snprintf(why, sizeof(why), "%s answered %d.%02d", step_name(bs->step),
			 (int)code >> 5, (int)code & 31);
		bs_end(srv, ls, why);
		return 1;
	}
	if (bs->step == BS_WRITE_SECURITY && !bs->cert_mode) {
		/* the device has the key now; ours is not needed any more */
		secbuf_free(bs->security_tlv);
		bs->security_tlv = NULL;
	}
	if (bs->step == BS_FINISH) {
		struct audit_actor actor = lwm2m_actor(ls->address);
		struct audit_event ev;
		char object[64], detail[STORE_NAME_MAX + 96];
		int r;
		bs->step = BS_DONE;
		snprintf(object, sizeof(object), "device:%lld", (long long)bs->cred.device_id);
		if (bs->cert_mode)
			snprintf(detail, sizeof(detail), "endpoint %s, %s security written",
				 ls->owner.endpoint, bs->mode);
		else
			snprintf(detail, sizeof(detail), "endpoint %s, DM credential %lld written",
				 ls->owner.endpoint, (long long)bs->cred.id);
		ev = (struct audit_event){bs->cred.tenant_id, "lwm2m.bootstrap", object, "success",
					  detail};
		service_lock(srv->svc);
		r = audit_append_now(srv->svc->v, &actor, &ev);
		service_unlock(srv->svc);
		if (r != 0)
			log_error("lwm2m: audit record of a finished bootstrap failed: %s",
				  iv_error_message(r));
		log_info("lwm2m: bootstrap of device %lld finished", (long long)bs->cred.device_id);
		bs_end(srv, ls, NULL);
		return 1;
	}
	bs->step++;
	if (send_step(ls) != 0)
		bs_end(srv, ls, "request could not be sent");
	return 1;
}

void lwm2m_bootstrap_on_nack(struct lwm2m_server *srv, coap_session_t *session, const char *why)
{
	struct lwm2m_session *ls = coap_session_get_app_data(session);
	if (ls != NULL && ls->bs != NULL && ls->bs->step != BS_DONE)
		bs_end(srv, ls, why);
}
