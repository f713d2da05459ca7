/* The LwM2M server's transport: one libcoap context (GnuTLS) with the DTLS
 * DM and bootstrap listeners and the optional NoSec DM listener (and a
 * second context for the optional RPK listeners, see server_pki.c), the PSK
 * callback that looks identities up in the vault during the handshake, the
 * per-session state, and the server thread's loop.
 *
 * DTLS policy: libcoap 4.3.1 does not let an application set the GnuTLS
 * priority string of its PSK sessions (it uses "NORMAL:+ECDHE-PSK:+PSK:
 * +ECDHE-ECDSA:+AES-128-CCM-8:..."). The policy is therefore enforced here:
 * a version other than DTLS 1.2 is refused in the PSK callback (GnuTLS has
 * negotiated it by then), before any key is looked up; a cipher other than
 * AES-CCM(-8), AES-GCM or ChaCha20-Poly1305 is refused at the session's first
 * request (GnuTLS names the cipher only once the handshake is complete). */
#include "lwm2m/lwm2m_internal.h"
#include "iotvault/log.h"
#include "iotvault/store_lorawan.h"

#include <gnutls/gnutls.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define IO_WAIT_MS 100
#define SWEEP_INTERVAL_MS 1000

static int64_t now_ms(void)
{
	return store_now_ms();
}

struct audit_actor lwm2m_actor(const char *source)
{
	return (struct audit_actor){"system", "lwm2m", source && source[0] ? source : "udp"};
}

void lwm2m_security_event(struct lwm2m_server *srv, int64_t tenant_id, const char *kind,
			  const char *source, const char *subject, const char *detail)
{
	struct store *st = srv->svc->st;
	struct security_event ev = {tenant_id, kind, source, subject, detail};
	if (st->ops->lorawan->security_event_add(st, &ev) != 0)
		log_error("lwm2m: security event %s could not be recorded", kind);
}

static uint16_t addr_port(const coap_address_t *a)
{
	return a ? coap_address_get_port(a) : 0;
}

enum lwm2m_listener lwm2m_listener_of(const struct lwm2m_server *srv,
				      const coap_session_t *session)
{
	uint16_t port = addr_port(coap_session_get_addr_local(session));
	coap_proto_t proto = coap_session_get_proto(session);
	if (proto == COAP_PROTO_UDP)
		return port == srv->nosec_port && port ? LW_LISTENER_NOSEC : LW_LISTENER_NONE;
	if (proto != COAP_PROTO_DTLS)
		return LW_LISTENER_NONE;
	if (port == 0)
		return LW_LISTENER_NONE;
	if (port == srv->dm_port || port == srv->rpk_dm_port)
		return LW_LISTENER_DM;
	if (port == srv->bootstrap_port || port == srv->rpk_bootstrap_port)
		return LW_LISTENER_BOOTSTRAP;
	return LW_LISTENER_NONE;
}

struct lwm2m_session *lwm2m_session_of(struct lwm2m_server *srv, coap_session_t *session)
{
	struct lwm2m_session *ls = coap_session_get_app_data(session);
	if (ls != NULL)
		return ls;
	if ((ls = calloc(1, sizeof(*ls))) == NULL)
		return NULL;
	ls->srv = srv;
	ls->session = session;
	ls->listener = lwm2m_listener_of(srv, session);
	coap_print_addr(coap_session_get_addr_remote(session), (unsigned char *)ls->address,
			sizeof(ls->address) - 1);
	coap_session_set_app_data(session, ls);
	ls->next_session = srv->sessions;
	srv->sessions = ls;
	return ls;
}

static void session_state_free(struct lwm2m_server *srv, struct lwm2m_session *ls)
{
	coap_session_t *session = ls->session;
	lwm2m_bootstrap_session_gone(srv, ls);
	lwm2m_dm_session_gone(srv, session);
	lwm2m_observe_session_gone(srv, ls);
	for (struct lwm2m_session **p = &srv->sessions; *p != NULL; p = &(*p)->next_session)
		if (*p == ls) {
			*p = ls->next_session;
			break;
		}
	coap_session_set_app_data(session, NULL);
	secmem_wipe(ls, sizeof(*ls));
	free(ls);
}

static void session_free(struct lwm2m_server *srv, coap_session_t *session)
{
	struct lwm2m_session *ls = coap_session_get_app_data(session);
	if (ls != NULL)
		session_state_free(srv, ls);
}

/* Peer-chosen text for logs and events: printable ASCII, at most 64 chars. */
static void printable(const uint8_t *s, size_t len, char *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < cap && n < 64; i++)
		out[n++] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
	out[n] = '\0';
}

/* GnuTLS has chosen the version by the time the PSK callback runs, but
 * exposes the cipher only once the handshake is complete: the version is
 * checked in the callback, the cipher at the session's first request. */
static gnutls_session_t gnutls_of(coap_session_t *session)
{
	coap_tls_library_t lib = COAP_TLS_LIBRARY_NOTLS;
	gnutls_session_t g = coap_session_get_tls(session, &lib);
	return lib == COAP_TLS_LIBRARY_GNUTLS ? g : NULL;
}

const char *lwm2m_dtls_version_violation(coap_session_t *session)
{
	gnutls_session_t g = gnutls_of(session);
	if (g == NULL)
		return "no GnuTLS session";
	if (gnutls_protocol_get_version(g) != GNUTLS_DTLS1_2)
		return "protocol version other than DTLS 1.2";
	return NULL;
}

/* AEAD only: AES-CCM(-8), AES-GCM, ChaCha20-Poly1305. */
static const char *dtls_cipher_violation(coap_session_t *session, const char **name)
{
	gnutls_session_t g = gnutls_of(session);
	gnutls_cipher_algorithm_t c;
	*name = "?";
	if (g == NULL)
		return "no GnuTLS session";
	c = gnutls_cipher_get(g);
	*name = gnutls_cipher_get_name(c) ? gnutls_cipher_get_name(c) : "?";
	/* with an RSA server certificate GnuTLS could pick RSA key transport */
	if (gnutls_kx_get(g) == GNUTLS_KX_RSA)
		return "RSA key exchange (no forward secrecy)";
	switch (c) {
	case GNUTLS_CIPHER_AES_128_CCM_8:
	case GNUTLS_CIPHER_AES_256_CCM_8:
	case GNUTLS_CIPHER_AES_128_CCM:
	case GNUTLS_CIPHER_AES_256_CCM:
	case GNUTLS_CIPHER_AES_128_GCM:
	case GNUTLS_CIPHER_AES_256_GCM:
	case GNUTLS_CIPHER_CHACHA20_POLY1305:
		return NULL;
	default:
		return "cipher is not AEAD";
	}
}

const char *lwm2m_session_security(const struct lwm2m_session *ls)
{
	if (ls->listener == LW_LISTENER_NOSEC)
		return "nosec";
	return ls->auth == LW_AUTH_RPK ? "rpk" : ls->auth == LW_AUTH_X509 ? "x509" : "psk";
}

void lwm2m_session_reset_identity(struct lwm2m_session *ls)
{
	ls->pending = 0;
	ls->authenticated = 0;
	ls->revoked = 0;
	ls->cipher_checked = 0;
	ls->auth = LW_AUTH_PSK;
	memset(&ls->owner, 0, sizeof(ls->owner));
	memset(ls->identity, 0, sizeof(ls->identity));
	memset(ls->pki_mode, 0, sizeof(ls->pki_mode));
	memset(ls->pki_key_sha256, 0, sizeof(ls->pki_key_sha256));
	memset(ls->pki_ca_sha256, 0, sizeof(ls->pki_ca_sha256));
	ls->pki_not_after_ms = 0;
}

void lwm2m_session_peer_gone(struct lwm2m_server *srv, struct lwm2m_session *ls)
{
	/* the clean-ups first: they find the session's device by its identity */
	lwm2m_observe_session_gone(srv, ls);
	lwm2m_queue_session_reset(srv, ls);
	lwm2m_session_reset_identity(ls);
}

int lwm2m_session_check_cipher(struct lwm2m_server *srv, coap_session_t *session,
			       struct lwm2m_session *ls)
{
	const char *why, *cipher;
	if (ls->cipher_checked)
		return ls->authenticated;
	if (!ls->pending)
		return 0;
	/* a request arrived: libcoap passes data up only once the handshake is
	 * complete, so the peer has proved the key its identity was claimed by */
	ls->pending = 0;
	ls->cipher_checked = 1;
	ls->authenticated = 1;
	if ((why = dtls_cipher_violation(session, &cipher)) != NULL) {
		/* the session stays up but is good for nothing */
		ls->authenticated = 0;
		log_warning("lwm2m: DTLS session from %s refused: %s (%s)", ls->address, why, cipher);
		service_lock(srv->svc);
		lwm2m_security_event(srv, ls->owner.tenant_id, LWM2M_EVENT_HANDSHAKE_POLICY,
				     ls->address, ls->identity, why);
		service_unlock(srv->svc);
		return 0;
	}
	log_info("lwm2m: DTLS 1.2 session from %s (%s listener, device %lld, %s): %s-%s",
		 ls->address, ls->listener == LW_LISTENER_BOOTSTRAP ? "bootstrap" : "DM",
		 (long long)ls->owner.device_id, lwm2m_session_security(ls),
		 gnutls_kx_get_name(gnutls_kx_get(gnutls_of(session))), cipher);
	return 1;
}

/* libcoap's per-identity server callback (coap_dtls_spsk_t
 * validate_id_call_back), called by GnuTLS while it processes the
 * ClientKeyExchange. Returning NULL fails the handshake. */
static const coap_bin_const_t *psk_for_identity(coap_bin_const_t *identity,
						coap_session_t *session, void *arg)
{
	struct lwm2m_server *srv = arg;
	struct lwm2m_session *ls = lwm2m_session_of(srv, session);
	struct lwm2m_psk_owner owner;
	enum lwm2m_credential_kind kind;
	char id[LWM2M_IDENTITY_MAX + 1], shown[80];
	const char *why;
	size_t key_len = 0;
	int r;

	if (ls == NULL)
		return NULL;
	/* a new handshake: nothing an earlier one of this session proved (a
	 * certificate's device, a checked cipher) carries over, and what was
	 * on its way for the earlier peer is never answered by this one */
	lwm2m_session_peer_gone(srv, ls);
	printable(identity->s, identity->length, shown, sizeof(shown));
	if (ls->listener != LW_LISTENER_DM && ls->listener != LW_LISTENER_BOOTSTRAP)
		return NULL;
	kind = ls->listener == LW_LISTENER_BOOTSTRAP ? LWM2M_CREDENTIAL_BOOTSTRAP
						      : LWM2M_CREDENTIAL_DM;
	if ((why = lwm2m_dtls_version_violation(session)) != NULL) {
		log_warning("lwm2m: %s handshake refused from %s: %s",
			    kind == LWM2M_CREDENTIAL_BOOTSTRAP ? "bootstrap" : "DM", ls->address, why);
		service_lock(srv->svc);
		lwm2m_security_event(srv, 0, LWM2M_EVENT_HANDSHAKE_POLICY, ls->address, shown, why);
		service_unlock(srv->svc);
		return NULL;
	}
	service_lock(srv->svc);
	if (!lwm2m_ident_ok((const char *)identity->s, identity->length, LWM2M_IDENTITY_MAX)) {
		r = IV_ERR_NOT_FOUND;
	} else {
		memcpy(id, identity->s, identity->length);
		id[identity->length] = '\0';
		r = vault_lwm2m_psk_lookup(srv->svc->v, kind, id, &owner, srv->psk_slot->data,
					   srv->psk_slot->len, &key_len);
	}
	if (r == IV_ERR_NOT_FOUND)
		lwm2m_security_event(srv, 0, LWM2M_EVENT_UNKNOWN_IDENTITY, ls->address, shown,
				     kind == LWM2M_CREDENTIAL_BOOTSTRAP ? "bootstrap listener"
									 : "DM listener");
	service_unlock(srv->svc);
	if (r != 0) {
		if (r == IV_ERR_NOT_FOUND)
			log_warning("lwm2m: unknown PSK identity '%s' from %s on the %s listener "
				    "refused",
				    shown, ls->address,
				    kind == LWM2M_CREDENTIAL_BOOTSTRAP ? "bootstrap" : "DM");
		else
			log_error("lwm2m: PSK lookup failed: %s", iv_error_message(r));
		return NULL;
	}
	ls->pending = 1;
	ls->owner = owner;
	snprintf(ls->identity, sizeof(ls->identity), "%s", id);
	log_debug("lwm2m: %s handshake from %s: identity of device %lld",
		  kind == LWM2M_CREDENTIAL_BOOTSTRAP ? "bootstrap" : "DM", ls->address,
		  (long long)owner.device_id);
	srv->psk_out.s = srv->psk_slot->data;
	srv->psk_out.length = key_len;
	return &srv->psk_out;
}

static int event_handler(coap_session_t *session, const coap_event_t event)
{
	coap_context_t *ctx = coap_session_get_context(session);
	struct lwm2m_server *srv = ctx ? coap_get_app_data(ctx) : NULL;
	if (srv == NULL)
		return 0;
	switch (event) {
	case COAP_EVENT_SERVER_SESSION_DEL:
		session_free(srv, session);
		break;
	case COAP_EVENT_DTLS_CLOSED:
	case COAP_EVENT_DTLS_ERROR:
	case COAP_EVENT_DTLS_RENEGOTIATE: {
		struct lwm2m_session *ls = coap_session_get_app_data(session);
		if (ls != NULL && ls->bs != NULL)
			lwm2m_bootstrap_on_nack(srv, session, "DTLS session closed");
		lwm2m_dm_session_gone(srv, session);
		/* a later handshake on this libcoap session object (same
		 * address and port) starts from nothing */
		if (ls != NULL)
			lwm2m_session_peer_gone(srv, ls);
		break;
	}
	default:
		break;
	}
	return 0;
}

static coap_response_t response_handler(coap_session_t *session, const coap_pdu_t *sent,
					const coap_pdu_t *received, const coap_mid_t mid)
{
	coap_context_t *ctx = coap_session_get_context(session);
	struct lwm2m_server *srv = ctx ? coap_get_app_data(ctx) : NULL;
	(void)sent;
	(void)mid;
	/* a notification with an unknown token is refused: libcoap answers RST */
	if (srv != NULL && (lwm2m_bootstrap_on_response(srv, session, received) ||
			    lwm2m_dm_on_response(srv, session, received) ||
			    lwm2m_observe_on_notification(srv, session, received)))
		return COAP_RESPONSE_OK;
	return COAP_RESPONSE_FAIL;
}

static void nack_handler(coap_session_t *session, const coap_pdu_t *sent,
			 const coap_nack_reason_t reason, const coap_mid_t mid)
{
	coap_context_t *ctx = coap_session_get_context(session);
	struct lwm2m_server *srv = ctx ? coap_get_app_data(ctx) : NULL;
	(void)mid;
	if (srv == NULL)
		return;
	lwm2m_dm_on_nack(srv, session, sent);
	lwm2m_bootstrap_on_nack(srv, session,
				reason == COAP_NACK_TOO_MANY_RETRIES ? "no answer" : "request not delivered");
}

/* libcoap's messages go to our log; its debug level names identities, so
 * only warnings and errors are passed on. */
static void coap_log_hook(coap_log_t level, const char *message)
{
	char line[256];
	size_t n = strlen(message);
	while (n > 0 && (message[n - 1] == '\n' || message[n - 1] == '\r'))
		n--;
	snprintf(line, sizeof(line), "%.*s", (int)(n < 200 ? n : 200), message);
	lwm2m_pki_libcoap_message(line);
	if (level <= LOG_ERR)
		log_error("libcoap: %s", line);
	else
		log_warning("libcoap: %s", line);
}

/* "host:port" or "[v6]:port" -> address; PORT gets the port. */
static int parse_listen(const char *text, coap_address_t *addr, uint16_t *port)
{
	char host[128], service[8];
	const char *colon = strrchr(text, ':');
	struct addrinfo hints, *res = NULL;
	size_t hlen;
	int r;

	if (colon == NULL || colon == text || strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof(service))
		return IV_ERR_CONFIG;
	hlen = (size_t)(colon - text);
	if (text[0] == '[' && hlen >= 2 && text[hlen - 1] == ']') {
		text++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return IV_ERR_CONFIG;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	snprintf(service, sizeof(service), "%s", colon + 1);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((r = getaddrinfo(host, service, &hints, &res)) != 0 || res == NULL)
		return IV_ERR_CONFIG;
	coap_address_init(addr);
	if (res->ai_addrlen > sizeof(addr->addr)) {
		freeaddrinfo(res);
		return IV_ERR_CONFIG;
	}
	addr->size = res->ai_addrlen;
	memcpy(&addr->addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	*port = coap_address_get_port(addr);
	return *port == 0 ? IV_ERR_CONFIG : 0;
}

static int add_listener(coap_context_t *ctx, const char *what, const char *text,
			coap_proto_t proto, uint16_t *port)
{
	coap_address_t addr;
	if (strcmp(text, "off") == 0)
		return 0;
	if (parse_listen(text, &addr, port) != 0) {
		log_error("[lwm2m] %s: expected HOST:PORT or off", what);
		return IV_ERR_CONFIG;
	}
	if (ctx == NULL || coap_new_endpoint(ctx, &addr, proto) == NULL) {
		log_error("lwm2m: cannot listen on %s (%s)", text, what);
		return IV_ERR_IO;
	}
	return 0;
}

static void *server_main(void *arg)
{
	struct lwm2m_server *srv = arg;
	struct pollfd fds[2];
	fds[0].fd = coap_context_get_coap_fd(srv->ctx);
	fds[1].fd = srv->ctx_rpk ? coap_context_get_coap_fd(srv->ctx_rpk) : -1;
	fds[0].events = fds[1].events = POLLIN;
	while (!atomic_load(&srv->stop)) {
		if (srv->ctx_rpk == NULL) {
			coap_io_process(srv->ctx, IO_WAIT_MS);
		} else if (fds[0].fd >= 0 && fds[1].fd >= 0) {
			/* two contexts: wait on both (libcoap's epoll descriptors),
			 * then let each handle its sockets and due timers */
			(void)poll(fds, 2, IO_WAIT_MS);
			coap_io_process(srv->ctx, COAP_IO_NO_WAIT);
			coap_io_process(srv->ctx_rpk, COAP_IO_NO_WAIT);
		} else {
			coap_io_process(srv->ctx, IO_WAIT_MS / 10);
			coap_io_process(srv->ctx_rpk, IO_WAIT_MS / 10);
		}
		/* the last handshake's key is in libcoap's own copy by now */
		secmem_wipe(srv->psk_slot->data, srv->psk_slot->len);
		lwm2m_pki_server_poll(srv);
		lwm2m_pki_record_refusals(srv);
		lwm2m_bootstrap_run_pending(srv);
		lwm2m_firmware_run_pending(srv);
		lwm2m_dm_run_pending(srv);
		lwm2m_queue_run(srv);
		lwm2m_registration_drop_pending(srv);
		if (now_ms() >= srv->next_sweep_ms) {
			lwm2m_pki_server_refresh(srv);
			lwm2m_registration_sweep(srv);
			lwm2m_registration_drop_pending(srv);
			lwm2m_observe_purge(srv);
			srv->next_sweep_ms = now_ms() + SWEEP_INTERVAL_MS;
		}
	}
	return NULL;
}

static int add_resource(coap_context_t *ctx, const char *path, coap_request_t method,
			coap_method_handler_t handler)
{
	coap_resource_t *res = coap_resource_init(coap_make_str_const(path), 0);
	if (res == NULL)
		return IV_ERR_NOMEM;
	coap_register_handler(res, method, handler);
	coap_add_resource(ctx, res);
	return 0;
}

/* GET /.well-known/core: only the interface of the listener asked. libcoap's
 * own answer would list every resource, the locations of all registrations
 * included. */
static void well_known_core(coap_resource_t *resource, coap_session_t *session,
			   const coap_pdu_t *request, const coap_string_t *query,
			   coap_pdu_t *response)
{
	struct lwm2m_server *srv = coap_get_app_data(coap_session_get_context(session));
	enum lwm2m_listener l = lwm2m_listener_of(srv, session);
	const char *links = l == LW_LISTENER_BOOTSTRAP ? "</bs>" : "</rd>";
	uint8_t cf[4];
	(void)resource;
	(void)request;
	(void)query;
	coap_pdu_set_code(response, COAP_RESPONSE_CODE_CONTENT);
	coap_add_option(response, COAP_OPTION_CONTENT_FORMAT,
			coap_encode_var_safe(cf, sizeof(cf), COAP_MEDIATYPE_APPLICATION_LINK_FORMAT), cf);
	coap_add_data(response, strlen(links), (const uint8_t *)links);
}

static void gnutls_audit_ignore(gnutls_session_t session, const char *message)
{
	(void)session;
	(void)message;
}

/* A libcoap context with the server's PSK callback, handlers and resources. */
static int context_new(struct lwm2m_server *srv, coap_context_t **out)
{
	coap_context_t *ctx = coap_new_context(NULL);
	coap_dtls_spsk_t spsk;
	int r;

	if ((*out = ctx) == NULL)
		return IV_ERR_NOMEM;
	coap_set_app_data(ctx, srv);
	coap_context_set_block_mode(ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
	memset(&spsk, 0, sizeof(spsk));
	spsk.version = COAP_DTLS_SPSK_SETUP_VERSION;
	spsk.validate_id_call_back = psk_for_identity;
	spsk.id_call_back_arg = srv;
	if (!coap_context_set_psk2(ctx, &spsk)) {
		log_error("lwm2m: cannot set up DTLS-PSK");
		return IV_ERR_CRYPTO;
	}
	coap_register_event_handler(ctx, event_handler);
	coap_register_response_handler(ctx, response_handler);
	coap_register_nack_handler(ctx, nack_handler);
	if ((r = add_resource(ctx, "bs", COAP_REQUEST_POST, lwm2m_bootstrap_handle_request)) != 0 ||
	    (r = add_resource(ctx, "rd", COAP_REQUEST_POST, lwm2m_register_handle_request)) != 0 ||
	    (r = add_resource(ctx, COAP_DEFAULT_URI_WELLKNOWN, COAP_REQUEST_GET, well_known_core)) != 0)
		return r;
	return 0;
}

int lwm2m_server_start(struct service *svc, struct lwm2m_server **out)
{
	const struct config *cfg = &svc->cfg;
	struct lwm2m_server *srv = NULL;
	int r;

	*out = NULL;
	if (strcmp(cfg->lwm2m_dm_listen, "off") == 0 &&
	    strcmp(cfg->lwm2m_bootstrap_listen, "off") == 0 && strcmp(cfg->lwm2m_nosec, "off") == 0)
		return 0;
	if (cfg->lwm2m_lifetime_min_s > cfg->lwm2m_lifetime_max_s ||
	    cfg->lwm2m_lifetime_default_s < cfg->lwm2m_lifetime_min_s ||
	    cfg->lwm2m_lifetime_default_s > cfg->lwm2m_lifetime_max_s) {
		log_error("[lwm2m] lifetime_default_s must lie within lifetime_min_s..lifetime_max_s");
		return IV_ERR_CONFIG;
	}
	if (!coap_dtls_is_supported()) {
		log_error("lwm2m: libcoap was built without DTLS");
		return IV_ERR_CONFIG;
	}
	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return IV_ERR_NOMEM;
	srv->svc = svc;
	atomic_init(&srv->stop, 0);
	if ((srv->psk_slot = secbuf_new(LWM2M_PSK_MAX)) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	coap_startup();
	coap_set_log_handler(coap_log_hook);
	coap_set_log_level(LOG_WARNING);
	coap_dtls_set_log_level(LOG_WARNING);
	/* libcoap installs a process-wide GnuTLS audit hook that treats every
	 * TLS session as one of its own; the HTTPS listeners' sessions would
	 * crash it (an unexpected record on the API port did). Replace it. */
	gnutls_global_set_audit_log_function(gnutls_audit_ignore);
	if ((r = context_new(srv, &srv->ctx)) != 0)
		goto out;
	/* the RPK listeners (off by default) need a context of their own: the
	 * server's credential type is per context in libcoap (server_pki.c) */
	if ((strcmp(cfg->lwm2m_rpk_dm_listen, "off") != 0 ||
	     strcmp(cfg->lwm2m_rpk_bootstrap_listen, "off") != 0) &&
	    (r = context_new(srv, &srv->ctx_rpk)) != 0)
		goto out;
	if ((r = lwm2m_pki_server_start(srv)) != 0)
		goto out;
	if ((r = add_listener(srv->ctx, "dm_listen", cfg->lwm2m_dm_listen, COAP_PROTO_DTLS,
			      &srv->dm_port)) != 0 ||
	    (r = add_listener(srv->ctx, "bootstrap_listen", cfg->lwm2m_bootstrap_listen,
			      COAP_PROTO_DTLS, &srv->bootstrap_port)) != 0 ||
	    (r = add_listener(srv->ctx, "nosec", cfg->lwm2m_nosec, COAP_PROTO_UDP,
			      &srv->nosec_port)) != 0 ||
	    (r = add_listener(srv->ctx_rpk, "rpk_dm_listen", cfg->lwm2m_rpk_dm_listen,
			      COAP_PROTO_DTLS, &srv->rpk_dm_port)) != 0 ||
	    (r = add_listener(srv->ctx_rpk, "rpk_bootstrap_listen", cfg->lwm2m_rpk_bootstrap_listen,
			      COAP_PROTO_DTLS, &srv->rpk_bootstrap_port)) != 0)
		goto out;
	if (srv->ctx_rpk != NULL && srv->pki == NULL) {
		log_error("[lwm2m] the RPK listeners need the server's key ([lwm2m] certificate is off)");
		r = IV_ERR_CONFIG;
		goto out;
	}
	/* the listener of a session is told by its local port */
	{
		uint16_t ports[] = {srv->dm_port, srv->bootstrap_port, srv->nosec_port,
				    srv->rpk_dm_port, srv->rpk_bootstrap_port};
		for (size_t i = 0; i < 5; i++)
			for (size_t j = i + 1; j < 5; j++)
				if (ports[i] != 0 && ports[i] == ports[j]) {
					log_error("[lwm2m] the listeners need different ports");
					r = IV_ERR_CONFIG;
					goto out;
				}
	}
	service_lock(svc);
	r = lwm2m_registration_restore(srv);
	if (r == 0)
		r = lwm2m_queue_restore(srv);
	service_unlock(svc);
	if (r != 0)
		goto out;
	lwm2m_dm_attach(srv);
	lwm2m_firmware_attach(srv);
	if (pthread_create(&srv->thread, NULL, server_main, srv) != 0) {
		r = IV_ERR_INTERNAL;
		goto out;
	}
	srv->thread_started = 1;
	*out = srv;
	srv = NULL;
	/* success */
	r = 0;
out:
	lwm2m_server_stop(srv);
	return r;
}

void lwm2m_server_stop(struct lwm2m_server *srv)
{
	if (srv == NULL)
		return;
	lwm2m_firmware_stop_jobs();
	if (srv->thread_started) {
		atomic_store(&srv->stop, 1);
		pthread_join(srv->thread, NULL);
	}
	lwm2m_dm_detach(srv);
	lwm2m_firmware_detach(srv);
	/* libcoap 4.3.1 raises no SERVER_SESSION_DEL for the sessions it frees
	 * with their context: the state of every session still open is ended
	 * here, while the sessions exist */
	while (srv->sessions != NULL)
		session_state_free(srv, srv->sessions);
	if (srv->ctx_rpk != NULL) {
		coap_free_context(srv->ctx_rpk);
		srv->ctx_rpk = NULL;
	}
	if (srv->ctx != NULL) {
		coap_free_context(srv->ctx);
		srv->ctx = NULL;
		coap_cleanup();
	}
	lwm2m_firmware_free_tokens();
	lwm2m_pki_server_stop(srv);
	lwm2m_registration_drop_pending(srv);
	secbuf_free(srv->psk_slot);
	free(srv);
}
