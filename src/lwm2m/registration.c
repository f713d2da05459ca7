/* The registration interface (LwM2M 1.0/1.1 section 5.3): Register
 * (POST /rd?ep=&lt=&lwm2m=&b=, link-format payload), Update (POST
 * /rd/{location}), De-register (DELETE /rd/{location}) and lifetime expiry.
 * A DTLS client may register only the endpoint its DM credential (or its
 * raw public key or certificate) belongs to (else 4.03 and a security event); registering with a pending credential
 * makes it the device's only usable one. Registrations are stored; each has a
 * CoAP resource at its location for as long as it lives. */
#include "lwm2m/lwm2m_internal.h"
#include "iotvault/crypto.h"
#include "iotvault/hex.h"
#include "iotvault/log.h"
#include "iotvault/lwm2m_content.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOCATION_RANDOM_LEN 6
#define SWEEP_BATCH 100

/* What a Register or Update request says. */
struct reg_params {
	struct lwm2m_query q;
	int has_links;
	char links[LWM2M_OBJECT_LINKS_MAX + 1];
};

static void set_code(coap_pdu_t *response, coap_pdu_code_t code)
{
	coap_pdu_set_code(response, code);
}

/* Parses the query and payload of REQUEST into P. Returns a CoAP error code,
 * or 0 when they are acceptable. */
static coap_pdu_code_t parse_params(struct lwm2m_server *srv, const coap_pdu_t *request,
				    const coap_string_t *query, int registering,
				    struct reg_params *p)
{
	const struct config *cfg = &srv->svc->cfg;
	const struct lwm2m_query_limits limits = {cfg->lwm2m_lifetime_min_s,
						  cfg->lwm2m_lifetime_max_s,
						  cfg->lwm2m_lifetime_default_s};
	const uint8_t *data;
	size_t len, offset, total;
	int r;

	memset(p, 0, sizeof(*p));
	r = lwm2m_query_parse(registering ? LWM2M_QUERY_REGISTER : LWM2M_QUERY_UPDATE,
			      query ? query->s : NULL, query ? query->length : 0, &limits, &p->q);
	if (r == IV_ERR_REFUSED)
		return COAP_RESPONSE_CODE(412); /* unsupported LwM2M version */
	if (r == IV_ERR_TOO_LARGE)
		return COAP_RESPONSE_CODE(413);
	if (r != 0)
		return COAP_RESPONSE_CODE_BAD_REQUEST;
	if (coap_get_data_large(request, &len, &data, &offset, &total) && total > 0) {
		coap_opt_iterator_t it;
		coap_opt_t *cf = coap_check_option(request, COAP_OPTION_CONTENT_FORMAT, &it);
		struct lwm2m_links *links;
		if (cf != NULL && coap_decode_var_bytes(coap_opt_value(cf), coap_opt_length(cf)) !=
				      LWM2M_CF_LINK_FORMAT)
			return COAP_RESPONSE_CODE_UNSUPPORTED_CONTENT_FORMAT;
		if (total > LWM2M_OBJECT_LINKS_MAX || offset != 0 || len != total)
			return COAP_RESPONSE_CODE(413);
		if ((links = lwm2m_links_new()) == NULL)
			return COAP_RESPONSE_CODE_INTERNAL_ERROR;
		r = lwm2m_linkformat_parse(data, len, links);
		lwm2m_links_free(links);
		if (r != 0)
			return COAP_RESPONSE_CODE_BAD_REQUEST;
		memcpy(p->links, data, len);
		p->links[len] = '\0';
		p->has_links = 1;
	}
	return 0;
}

/* Checks that LS may act for DEVICE_ID (registering endpoint EP when not
 * NULL). Runs under the service lock. Returns 0 or a CoAP error code; *CRED
 * receives the DM credential of a DTLS session. */
static coap_pdu_code_t authorise(struct lwm2m_server *srv, struct lwm2m_session *ls,
				 const char *ep, int64_t device_id, const char *security,
				 struct device_record *dev, struct lwm2m_credential_record *cred)
{
	struct store *st = srv->svc->st;
	struct device_selector sel = {0};
	int r;

	memset(cred, 0, sizeof(*cred));
	if (ls->listener == LW_LISTENER_NOSEC) {
		/* NoSec proves nothing: allowed only where the operator enabled it,
		 * and never for a registration made over DTLS */
		if (security != NULL && strcmp(security, "nosec") != 0)
			return COAP_RESPONSE_CODE_FORBIDDEN;
		if (ep != NULL)
			r = st->ops->lwm2m->device_by_endpoint(st, ep, dev);
		else {
			/* Update/De-register of a NoSec registration: its location is all
			 * the client has to show */
			memset(dev, 0, sizeof(*dev));
			dev->id = device_id;
			r = device_id > 0 ? 0 : IV_ERR_NOT_FOUND;
		}
		return r == 0 ? 0 : COAP_RESPONSE_CODE_FORBIDDEN;
	}
	/* the key, mode or CA an RPK/X.509 handshake relied on is gone, like a
	 * retired PSK credential below */
	if (ls->listener == LW_LISTENER_DM && (ls->revoked || !lwm2m_pki_session_current(srv, ls)))
		return COAP_RESPONSE_CODE_UNAUTHORIZED;
	if (ls->listener != LW_LISTENER_DM || !ls->authenticated ||
	    ls->owner.kind != LWM2M_CREDENTIAL_DM)
		return COAP_RESPONSE_CODE_FORBIDDEN;
	if (ls->auth != LW_AUTH_PSK) {
		/* RPK or certificate: the device itself, no DM credential */
		sel.id = ls->owner.device_id;
		if (st->ops->device_get(st, ls->owner.tenant_id, &sel, dev) != 0)
			return COAP_RESPONSE_CODE_UNAUTHORIZED;
	} else if ((r = st->ops->lwm2m->credential_get(st, ls->owner.credential_id, cred)) != 0 ||
		   strcmp(cred->state, "retired") == 0) {
		/* the credential may have been retired since the handshake */
		return COAP_RESPONSE_CODE_UNAUTHORIZED;
	} else {
		sel.id = cred->device_id;
		if (st->ops->device_get(st, cred->tenant_id, &sel, dev) != 0)
			return COAP_RESPONSE_CODE_UNAUTHORIZED;
	}
	if (ep != NULL && strcmp(dev->endpoint, ep) != 0) {
		char detail[2 * STORE_NAME_MAX + 64];
		snprintf(detail, sizeof(detail), "registration for endpoint %s with the credential of %s",
			 ep, dev->endpoint);
		lwm2m_security_event(srv, dev->tenant_id, LWM2M_EVENT_ENDPOINT_MISMATCH, ls->address,
				     dev->endpoint, detail);
		log_warning("lwm2m: %s", detail);
		return COAP_RESPONSE_CODE_FORBIDDEN;
	}
	if (device_id > 0 && dev->id != device_id) {
		lwm2m_security_event(srv, dev->tenant_id, LWM2M_EVENT_ENDPOINT_MISMATCH, ls->address,
				     dev->endpoint, "update or de-register of another device's registration");
		return COAP_RESPONSE_CODE_FORBIDDEN;
	}
	return 0;
}

static void drop_later(struct lwm2m_server *srv, const char *location)
{
	struct lwm2m_drop *d;
	if (location[0] == '\0' || (d = calloc(1, sizeof(*d))) == NULL)
		return;
	snprintf(d->location, sizeof(d->location), "%s", location);
	d->next = srv->drops;
	srv->drops = d;
}

void lwm2m_registration_drop_pending(struct lwm2m_server *srv)
{
	while (srv->drops != NULL) {
		struct lwm2m_drop *d = srv->drops;
		srv->drops = d->next;
		coap_context_t *ctxs[] = {srv->ctx, srv->ctx_rpk};
		for (size_t i = 0; i < 2; i++) {
			coap_resource_t *res =
				ctxs[i] == NULL ? NULL
						: coap_get_resource_from_uri_path(
							  ctxs[i], coap_make_str_const(d->location));
			if (res != NULL)
				coap_delete_resource(ctxs[i], res);
		}
		free(d);
	}
}

static void handle_registration(coap_resource_t *resource, coap_session_t *session,
				const coap_pdu_t *request, const coap_string_t *query,
				coap_pdu_t *response);

/* In every context: a device may update from either kind of listener. */
int lwm2m_registration_resource_add(struct lwm2m_server *srv, const char *location)
{
	coap_context_t *ctxs[] = {srv->ctx, srv->ctx_rpk};
	for (size_t i = 0; i < 2; i++) {
		coap_str_const_t *path;
		coap_resource_t *res;
		if (ctxs[i] == NULL)
			continue;
		if ((path = coap_new_str_const((const uint8_t *)location, strlen(location))) == NULL)
			return IV_ERR_NOMEM;
		/* libcoap owns PATH from here (released with the resource) */
		if ((res = coap_resource_init(path, COAP_RESOURCE_FLAGS_RELEASE_URI)) == NULL)
			return IV_ERR_NOMEM;
		coap_register_handler(res, COAP_REQUEST_POST, handle_registration);
		coap_register_handler(res, COAP_REQUEST_DELETE, handle_registration);
		coap_add_resource(ctxs[i], res);
	}
	return 0;
}

static void new_location(char out[static LWM2M_LOCATION_MAX + 1])
{
	uint8_t rnd[LOCATION_RANDOM_LEN];
	char hex[2 * LOCATION_RANDOM_LEN + 1];
	random_bytes(rnd, sizeof(rnd));
	hex_encode_upper(rnd, sizeof(rnd), hex);
	snprintf(out, LWM2M_LOCATION_MAX + 1, "rd/%s", hex);
}

void lwm2m_register_handle_request(coap_resource_t *resource, coap_session_t *session,
				   const coap_pdu_t *request, const coap_string_t *query,
				   coap_pdu_t *response)
{
	struct lwm2m_server *srv = coap_get_app_data(coap_session_get_context(session));
	struct lwm2m_session *ls = lwm2m_session_of(srv, session);
	struct store *st = srv->svc->st;
	struct reg_params p;
	struct device_record dev;
	struct lwm2m_credential_record cred;
	struct lwm2m_registration_record reg;
	struct audit_actor actor;
	char old_location[LWM2M_LOCATION_MAX + 1] = "";
	coap_pdu_code_t code;
	int r, in_tx = 0;
	(void)resource;

	if (ls == NULL) {
		set_code(response, COAP_RESPONSE_CODE_INTERNAL_ERROR);
		return;
	}
	if (ls->listener == LW_LISTENER_BOOTSTRAP) {
		set_code(response, COAP_RESPONSE_CODE_NOT_FOUND);
		return;
	}
	if ((code = parse_params(srv, request, query, 1, &p)) != 0) {
		set_code(response, code);
		return;
	}
	actor = lwm2m_actor(ls->address);
	if (ls->listener == LW_LISTENER_DM)
		(void)lwm2m_session_check_cipher(srv, session, ls);
	service_lock(srv->svc);
	if ((code = authorise(srv, ls, p.q.ep, 0, NULL, &dev, &cred)) != 0)
		goto out;
	code = COAP_RESPONSE_CODE_INTERNAL_ERROR;
	memset(&reg, 0, sizeof(reg));
	reg.tenant_id = dev.tenant_id;
	reg.device_id = dev.id;
	new_location(reg.location);
	snprintf(reg.endpoint, sizeof(reg.endpoint), "%s", dev.endpoint);
	snprintf(reg.lwm2m_version, sizeof(reg.lwm2m_version), "%s", p.q.version);
	snprintf(reg.binding, sizeof(reg.binding), "%s", p.q.binding);
	reg.queue_mode = p.q.queue;
	reg.lifetime_s = p.q.lifetime_s;
	snprintf(reg.object_links, sizeof(reg.object_links), "%s", p.links);
	snprintf(reg.address, sizeof(reg.address), "%s", ls->address);
	snprintf(reg.security, sizeof(reg.security), "%s", lwm2m_session_security(ls));
	reg.credential_id = cred.id;
	reg.registered_at = reg.updated_at = store_now_ms();
	reg.expires_at = reg.registered_at + reg.lifetime_s * 1000;
	if ((r = st->ops->begin(st, 1)) != 0)
		goto out;
	in_tx = 1;
	if (cred.id != 0 &&
	    (r = vault_lwm2m_dm_credential_activate(srv->svc->v, &actor, &cred, NULL)) != 0)
		goto out;
	if ((r = st->ops->lwm2m->registration_put(st, &reg, old_location)) != 0 ||
	    (r = st->ops->commit(st)) != 0)
		goto out;
	in_tx = 0;
	if (cred.id != 0)
		snprintf(ls->owner.state, sizeof(ls->owner.state), "active");
	code = COAP_RESPONSE_CODE_CREATED;
out:
	if (in_tx)
		st->ops->rollback(st);
	service_unlock(srv->svc);
	if (code == COAP_RESPONSE_CODE_CREATED) {
		drop_later(srv, old_location);
		if (lwm2m_registration_resource_add(srv, reg.location) != 0) {
			log_error("lwm2m: no resource for registration %s", reg.location);
			code = COAP_RESPONSE_CODE_INTERNAL_ERROR;
		} else {
			const char *id = reg.location + 3; /* after "rd/" */
			coap_add_option(response, COAP_OPTION_LOCATION_PATH, 2, (const uint8_t *)"rd");
			coap_add_option(response, COAP_OPTION_LOCATION_PATH, strlen(id),
					(const uint8_t *)id);
			log_info("lwm2m: %s registered from %s (LwM2M %s, lifetime %lld s, binding %s)",
				 reg.endpoint, ls->address, reg.lwm2m_version,
				 (long long)reg.lifetime_s, reg.binding);
			if (reg.queue_mode)
				lwm2m_queue_heard(srv, ls, reg.device_id);
		}
	}
	set_code(response, code);
}

/* Update (POST) and De-register (DELETE) of the registration at the
 * resource's path. */
static void handle_registration(coap_resource_t *resource, coap_session_t *session,
				const coap_pdu_t *request, const coap_string_t *query,
				coap_pdu_t *response)
{
	struct lwm2m_server *srv = coap_get_app_data(coap_session_get_context(session));
	struct lwm2m_session *ls = lwm2m_session_of(srv, session);
	struct store *st = srv->svc->st;
	coap_str_const_t *uri = coap_resource_get_uri_path(resource);
	char location[LWM2M_LOCATION_MAX + 1];
	struct lwm2m_registration_record reg;
	struct device_record dev;
	struct lwm2m_credential_record cred;
	struct reg_params p;
	coap_pdu_code_t code;
	int deleting = coap_pdu_get_code(request) == COAP_REQUEST_CODE_DELETE, r;

	if (ls == NULL || uri == NULL || uri->length > LWM2M_LOCATION_MAX) {
		set_code(response, COAP_RESPONSE_CODE_INTERNAL_ERROR);
		return;
	}
	if (ls->listener == LW_LISTENER_BOOTSTRAP) {
		set_code(response, COAP_RESPONSE_CODE_NOT_FOUND);
		return;
	}
	memcpy(location, uri->s, uri->length);
	location[uri->length] = '\0';
	if (!deleting && (code = parse_params(srv, request, query, 0, &p)) != 0) {
		set_code(response, code);
		return;
	}
	if (ls->listener == LW_LISTENER_DM)
		(void)lwm2m_session_check_cipher(srv, session, ls);
	service_lock(srv->svc);
	if ((r = st->ops->lwm2m->registration_get_by_location(st, location, &reg)) != 0) {
		code = r == IV_ERR_NOT_FOUND ? COAP_RESPONSE_CODE_NOT_FOUND
					     : COAP_RESPONSE_CODE_INTERNAL_ERROR;
		goto out;
	}
	if ((code = authorise(srv, ls, NULL, reg.device_id, reg.security, &dev, &cred)) != 0)
		goto out;
	if (deleting) {
		r = st->ops->lwm2m->registration_delete(st, location);
		code = r == 0 ? COAP_RESPONSE_CODE_DELETED : COAP_RESPONSE_CODE_INTERNAL_ERROR;
		if (r == 0) {
			drop_later(srv, location);
			log_info("lwm2m: %s de-registered", reg.endpoint);
		}
		goto out;
	}
	if (lwm2m_query_check_version(&p.q, reg.lwm2m_version) != 0) {
		code = COAP_RESPONSE_CODE_BAD_REQUEST;
		goto out;
	}
	if (p.q.has_lt)
		reg.lifetime_s = p.q.lifetime_s;
	if (p.q.has_binding) {
		snprintf(reg.binding, sizeof(reg.binding), "%s", p.q.binding);
		reg.queue_mode = p.q.queue;
	} else if (p.q.queue)
		reg.queue_mode = 1;
	if (p.has_links)
		snprintf(reg.object_links, sizeof(reg.object_links), "%s", p.links);
	snprintf(reg.address, sizeof(reg.address), "%s", ls->address);
	reg.updated_at = store_now_ms();
	reg.expires_at = reg.updated_at + reg.lifetime_s * 1000;
	r = st->ops->lwm2m->registration_update(st, &reg);
	code = r == 0 ? COAP_RESPONSE_CODE_CHANGED : COAP_RESPONSE_CODE_INTERNAL_ERROR;
	if (r == 0 && reg.queue_mode)
		lwm2m_queue_heard(srv, ls, reg.device_id);
out:
	service_unlock(srv->svc);
	set_code(response, code);
}

static int expire_one(void *ctx, const struct lwm2m_registration_record *reg)
{
	struct lwm2m_server *srv = ctx;
	struct store *st = srv->svc->st;
	int r = st->ops->lwm2m->registration_delete(st, reg->location);
	if (r != 0 && r != IV_ERR_NOT_FOUND)
		return r;
	drop_later(srv, reg->location);
	log_info("lwm2m: registration of %s expired (lifetime %lld s)", reg->endpoint,
		 (long long)reg->lifetime_s);
	return 0;
}

void lwm2m_registration_sweep(struct lwm2m_server *srv)
{
	struct store *st = srv->svc->st;
	int r;
	service_lock(srv->svc);
	r = st->ops->lwm2m->registration_list_expired(st, store_now_ms(), SWEEP_BATCH, expire_one,
						      srv);
	service_unlock(srv->svc);
	if (r != 0)
		log_error("lwm2m: registration expiry: %s", iv_error_message(r));
}

static int restore_one(void *ctx, const struct lwm2m_registration_record *reg)
{
	return lwm2m_registration_resource_add(ctx, reg->location);
}

int lwm2m_registration_restore(struct lwm2m_server *srv)
{
	struct store *st = srv->svc->st;
	return st->ops->lwm2m->registration_list(st, restore_one, srv);
}
