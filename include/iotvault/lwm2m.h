/* The LwM2M Bootstrap and Device-Management server: CoAP over DTLS 1.2 with
 * libcoap 3 (GnuTLS). The [lwm2m] configuration names its UDP listeners: the
 * DM listener (registration interface, POST /rd...), the bootstrap listener
 * (client-initiated bootstrap, POST /bs) and, only when configured, a NoSec
 * DM listener (and, when configured, RPK DM and bootstrap listeners). A DTLS
 * client's PSK identity, raw public key or certificate is checked inside the
 * handshake (vault, stored keys, the tenant's CA); unknown ones are refused
 * there. The server runs one thread of its own and takes the service lock
 * around store and vault work.
 * See docs/lwm2m.md. */
#ifndef IOTVAULT_LWM2M_H
#define IOTVAULT_LWM2M_H

#include "iotvault/errors.h"
#include "iotvault/http.h"

struct lwm2m_server;

/* Opens the listeners of SVC->cfg ([lwm2m]; every one may be "off"),
 * re-creates the resources of stored registrations and starts the server
 * thread. *OUT is NULL when every listener is off. */
int lwm2m_server_start(struct service *svc, struct lwm2m_server **out) IV_WUR;
/* Stops the thread, closes every session and the listeners; NULL is a no-op. */
void lwm2m_server_stop(struct lwm2m_server *srv);

/* Security events the server records (st->ops->lorawan->security_event_add). */
#define LWM2M_EVENT_UNKNOWN_IDENTITY "lwm2m_unknown_identity"
#define LWM2M_EVENT_ENDPOINT_MISMATCH "lwm2m_endpoint_mismatch"
#define LWM2M_EVENT_HANDSHAKE_POLICY "lwm2m_dtls_policy"
/* a certificate naming a device whose tenant's CA does not verify it */
#define LWM2M_EVENT_CERTIFICATE_REFUSED "lwm2m_certificate_refused"
/* an open RPK/X.509 session whose device key, mode, tenant CA or
 * certificate validity changed since its handshake: no longer used */
#define LWM2M_EVENT_SESSION_REVOKED "lwm2m_session_revoked"

/* A tenant's LwM2M device CA was set or deleted: the running server reloads
 * its trust before the next handshake (another process's change is seen
 * within a second). */
void lwm2m_pki_trust_changed(void);

#endif
