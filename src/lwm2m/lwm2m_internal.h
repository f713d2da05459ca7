/* Internals shared by the LwM2M server's files: the server and per-session
 * state (server.c), the bootstrap sequence (bootstrap.c), the
 * registration interface (registration.c) and the DM requests (dm.c). Every
 * function here runs on the server thread, except lwm2m_dm_attach/detach. */
#ifndef IOTVAULT_LWM2M_INTERNAL_H
#define IOTVAULT_LWM2M_INTERNAL_H

#include <coap3/coap.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdint.h>

#include "iotvault/lwm2m.h"
#include "iotvault/lwm2m_query.h"
#include "iotvault/lwm2m_dm.h"
#include "iotvault/secmem.h"
#include "iotvault/store_lwm2m.h"
#include "iotvault/vault_lwm2m.h"

enum lwm2m_listener {
	LW_LISTENER_NONE = 0,
	LW_LISTENER_DM,        /* DTLS */
	LW_LISTENER_BOOTSTRAP, /* DTLS */
	LW_LISTENER_NOSEC,     /* plain UDP, DM only */
};

struct lwm2m_bootstrap;
struct lwm2m_pki_server;

/* How a DTLS session's peer proved who it is. */
enum lwm2m_auth {
	LW_AUTH_PSK = 0,
	LW_AUTH_RPK,  /* a raw public key stored with the device */
	LW_AUTH_X509, /* a certificate verified against the tenant's CA */
};

/* App data of every coap_session_t the server has seen. */
struct lwm2m_session {
	struct lwm2m_server *srv;
	coap_session_t *session;
	enum lwm2m_listener listener;
	/* the PSK or certificate callback accepted the peer: the identity in
	 * OWNER is only claimed (PENDING) until the session's first request,
	 * which libcoap delivers only after the handshake completed, i.e. after
	 * the peer proved its key (Finished, CertificateVerify) */
	int pending;
	int authenticated;
	int revoked; /* lwm2m_pki_session_current found the handshake's basis gone */
	enum lwm2m_auth auth;
	int cipher_checked;
	struct lwm2m_psk_owner owner;
	/* RPK/X.509: what the handshake relied on, re-checked on every use
	 * (lwm2m_pki_session_current): the device's mode, RPK: the key's
	 * SHA-256; X.509: the tenant CA's SHA-256 (hex) and the leaf's expiry */
	char pki_mode[STORE_KIND_MAX + 1];
	uint8_t pki_key_sha256[32];
	char pki_ca_sha256[65];
	int64_t pki_not_after_ms;
	char identity[LWM2M_IDENTITY_MAX + 1];
	char address[LWM2M_ADDRESS_MAX + 1];
	int64_t heard_device; /* queue mode: the device last heard from here, and when */
	int64_t heard_ms;
	int held_in_flight;   /* a held request is on its way on this session */
	struct lwm2m_bootstrap *bs;   /* a bootstrap sequence in progress */
	struct lwm2m_session *bs_next; /* list of sessions with a bootstrap */
	struct lwm2m_session *next_session; /* list of every session */
};

/* A resource to drop after the current coap_io_process() returns. */
struct lwm2m_drop {
	char location[LWM2M_LOCATION_MAX + 1];
	struct lwm2m_drop *next;
};

struct lwm2m_server {
	struct service *svc;
	coap_context_t *ctx;
	coap_context_t *ctx_rpk; /* the RPK listeners' context; NULL when they are off */
	pthread_t thread;
	int thread_started;
	atomic_int stop;
	uint16_t dm_port, bootstrap_port, nosec_port;
	uint16_t rpk_dm_port, rpk_bootstrap_port; /* 0: off */
	/* the key handed to libcoap by the PSK callback; wiped after every
	 * coap_io_process() (libcoap copies it before the callback returns) */
	struct secbuf *psk_slot;
	coap_bin_const_t psk_out;
	struct lwm2m_session *bootstraps;
	struct lwm2m_session *sessions; /* every session with state, for DM requests */
	struct lwm2m_drop *drops;
	int64_t next_sweep_ms;
	struct lwm2m_pki_server *pki; /* RPK/X.509 set-up (server_pki.c); NULL: PSK only */
	int64_t next_observe_purge_ms;
	int64_t next_queue_sweep_ms;
	int64_t next_queue_purge_ms;
};

/* The peer of LS changes (a new handshake) or goes (DTLS closed): its
 * observations end, requests on their way fail, held-request state is
 * cleared, then its identity (lwm2m_session_reset_identity). */
void lwm2m_session_peer_gone(struct lwm2m_server *srv, struct lwm2m_session *ls);
/* The session state of SESSION, created on first use; NULL when out of memory. */
struct lwm2m_session *lwm2m_session_of(struct lwm2m_server *srv, coap_session_t *session);
/* For a DTLS session: 1 when its identity was accepted and its cipher is
 * AEAD (checked on first use: GnuTLS tells the cipher only after the
 * handshake, and libcoap 4.3.1 raises no connected event for server
 * sessions); 0 otherwise. */
int lwm2m_session_check_cipher(struct lwm2m_server *srv, coap_session_t *session,
			       struct lwm2m_session *ls);
/* Forgets whatever a handshake of LS proved (a new handshake, or the DTLS
 * session closed or failed). */
void lwm2m_session_reset_identity(struct lwm2m_session *ls);
/* Which listener SESSION came in on. */
enum lwm2m_listener lwm2m_listener_of(const struct lwm2m_server *srv,
				      const coap_session_t *session);
/* Records a security event (under the service lock, which the caller holds). */
void lwm2m_security_event(struct lwm2m_server *srv, int64_t tenant_id, const char *kind,
			  const char *source, const char *subject, const char *detail);
/* The audit actor of the server acting for a client at SOURCE. */
struct audit_actor lwm2m_actor(const char *source);

/* Why SESSION's protocol version breaks the DTLS policy, or NULL. */
const char *lwm2m_dtls_version_violation(coap_session_t *session);
/* "psk", "rpk", "x509" or "nosec": how LS authenticated (registrations). */
const char *lwm2m_session_security(const struct lwm2m_session *ls);

/* server_pki.c: certificate modes beside PSK */
/* Loads the server's certificate and key ([lwm2m] certificate/private_key,
 * default [tls]) and the tenant CAs into SRV->ctx; nothing when the
 * certificate is "off". */
int lwm2m_pki_server_start(struct lwm2m_server *srv) IV_WUR;
/* Re-reads the tenant CAs when they changed (server thread). */
void lwm2m_pki_server_refresh(struct lwm2m_server *srv);
/* libcoap refuses a chain that leads to no tenant's CA in its own check,
 * before validate_cn_call_back, and frees the GnuTLS session before any
 * event: its log line is the only trace. The log hook hands every libcoap
 * message here (it may run under the service lock, so refusals are only
 * queued) and the server thread records them as security events. */
void lwm2m_pki_libcoap_message(const char *line);
void lwm2m_pki_record_refusals(struct lwm2m_server *srv);
/* For an RPK/X.509 session (PSK and NoSec: always 1): 1 while what its
 * handshake relied on still holds (the device's mode and key, the tenant's
 * CA, the certificate's validity). Otherwise records a security event,
 * makes the session unusable and returns 0. Under the service lock. */
int lwm2m_pki_session_current(struct lwm2m_server *srv, struct lwm2m_session *ls);
/* Refreshes at once when this process changed a tenant CA. */
void lwm2m_pki_server_poll(struct lwm2m_server *srv);
void lwm2m_pki_server_stop(struct lwm2m_server *srv);
/* The server's certificate (DER) or its SubjectPublicKeyInfo (DER), for
 * the Security object's Server Public Key; IV_ERR_NOT_FOUND when the
 * certificate modes are off. */
int lwm2m_pki_server_public(const struct lwm2m_server *srv, int spki_only, const uint8_t **data,
			    size_t *len) IV_WUR;

/* bootstrap.c */
void lwm2m_bootstrap_handle_request(coap_resource_t *resource, coap_session_t *session,
				    const coap_pdu_t *request, const coap_string_t *query,
				    coap_pdu_t *response);
/* Sends the first Bootstrap-Delete of every bootstrap whose request has been
 * answered. */
void lwm2m_bootstrap_run_pending(struct lwm2m_server *srv);
/* A response to one of the server's own requests; 1 when it was a bootstrap's. */
int lwm2m_bootstrap_on_response(struct lwm2m_server *srv, coap_session_t *session,
				const coap_pdu_t *received);
void lwm2m_bootstrap_on_nack(struct lwm2m_server *srv, coap_session_t *session,
			     const char *why);
/* The session is going away: ends its bootstrap (audited as failed unless
 * finished) and unlinks it. */
void lwm2m_bootstrap_session_gone(struct lwm2m_server *srv, struct lwm2m_session *ls);

/* registration.c */
void lwm2m_register_handle_request(coap_resource_t *resource, coap_session_t *session,
				   const coap_pdu_t *request, const coap_string_t *query,
				   coap_pdu_t *response);
/* Adds the resource of a registration's location. */
int lwm2m_registration_resource_add(struct lwm2m_server *srv, const char *location) IV_WUR;
/* Removes the resources queued by deregistrations, replacements and expiry. */
void lwm2m_registration_drop_pending(struct lwm2m_server *srv);
/* Removes registrations whose lifetime has passed. */
void lwm2m_registration_sweep(struct lwm2m_server *srv);
/* Re-creates the resources of stored registrations (at start-up). */
int lwm2m_registration_restore(struct lwm2m_server *srv) IV_WUR;

/* dm.c */
/* Makes SRV the server lwm2m_dm_send() queues for (before its thread starts). */
void lwm2m_dm_attach(struct lwm2m_server *srv);
/* Stops queueing for SRV and ends every request still waiting (after its
 * thread has stopped). */
void lwm2m_dm_detach(struct lwm2m_server *srv);
/* Sends the queued DM requests; reaps abandoned ones. */
void lwm2m_dm_run_pending(struct lwm2m_server *srv);
/* A response to one of the server's own requests; 1 when it was a DM request's. */
int lwm2m_dm_on_response(struct lwm2m_server *srv, coap_session_t *session,
			 const coap_pdu_t *received);
void lwm2m_dm_on_nack(struct lwm2m_server *srv, coap_session_t *session, const coap_pdu_t *sent);
/* SESSION is closing: its requests end without an answer. */
void lwm2m_dm_session_gone(struct lwm2m_server *srv, coap_session_t *session);
/* Sends held request HELD_ID (REQ) on SESSION without a waiting caller;
 * its end is collected with lwm2m_dm_held_pop(). */
int lwm2m_dm_send_held(coap_session_t *session, const struct lwm2m_dm_request *req,
		       int64_t held_id) IV_WUR;
/* One finished held request (1), or none (0). REQ comes without payload;
 * RESP is the caller's to clear. */
int lwm2m_dm_held_pop(int64_t *held_id, coap_session_t **session, int *answered,
		      struct lwm2m_dm_request *req, struct lwm2m_dm_response *resp);

/* queue.c */
/* The device DEVICE_ID was heard from on LS (registration or update): its
 * held requests go out. */
void lwm2m_queue_heard(struct lwm2m_server *srv, struct lwm2m_session *ls, int64_t device_id);
/* A new DTLS handshake on LS's session (its peer may be another device):
 * forgets the device heard there and fails the requests on their way on it.
 * To be called from the handshake callbacks that reset the session state. */
void lwm2m_queue_session_reset(struct lwm2m_server *srv, struct lwm2m_session *ls);
/* Sends held requests of awake devices, records finished ones, expires
 * old ones. */
void lwm2m_queue_run(struct lwm2m_server *srv);
/* At start-up: requests sent by the previous process failed. */
int lwm2m_queue_restore(struct lwm2m_server *srv) IV_WUR;

/* observe.c */
struct lwm2m_dm_request;
/* REQ (an Observe) was answered 2.05 with Observe on SESSION: stores the
 * observation and the answer as its first notification. Takes the service
 * lock. */
int lwm2m_observe_started(struct lwm2m_server *srv, coap_session_t *session,
			  const struct lwm2m_dm_request *req, const uint8_t *token,
			  size_t token_len, const coap_pdu_t *received,
			  int64_t *observation_id) IV_WUR;
/* A response that answers no request of ours: 1 when it belongs to an
 * observation (stored, or dropped as stale or undecodable), 0 for an
 * unknown token (the caller answers RST). Takes the service lock. */
int lwm2m_observe_on_notification(struct lwm2m_server *srv, coap_session_t *session,
				  const coap_pdu_t *received);
/* LS is closing: its observations end. Takes the service lock. */
void lwm2m_observe_session_gone(struct lwm2m_server *srv, struct lwm2m_session *ls);
/* Deletes notifications past their retention (at most once a minute). */
void lwm2m_observe_purge(struct lwm2m_server *srv);

/* firmware.c: firmware update jobs and their download resources */
/* Marks jobs left running by a previous run failed; jobs may start. */
void lwm2m_firmware_attach(struct lwm2m_server *srv);
/* Tells the job threads to end (before the server thread stops). */
void lwm2m_firmware_stop_jobs(void);
/* Joins the job threads (after lwm2m_dm_detach). */
void lwm2m_firmware_detach(struct lwm2m_server *srv);
/* Frees the download tokens (after the context and its transfers are gone). */
void lwm2m_firmware_free_tokens(void);
/* Adds the resources of new download tokens, drops burnt and expired ones. */
void lwm2m_firmware_run_pending(struct lwm2m_server *srv);

#endif
