/* Re-bootstrap of LwM2M devices: the DM server executes the Bootstrap-Request
 * Trigger /1/0/9 (Server object instance written by the bootstrap) on a
 * registered device, which then runs a client-initiated bootstrap and
 * receives a fresh DM credential; the old one is retired when it registers
 * with the new one. Triggered on demand (REST, after a suspected compromise)
 * or on a schedule ([lwm2m] rebootstrap_after_s: active DM credentials older
 * than that), audited as "lwm2m.rebootstrap". See docs/lwm2m.md. */
#ifndef IOTVAULT_LWM2M_REBOOTSTRAP_H
#define IOTVAULT_LWM2M_REBOOTSTRAP_H

#include <stdint.h>

#include "iotvault/audit.h"
#include "iotvault/errors.h"
#include "iotvault/http.h"

/* The Server object instance the bootstrap writes (bootstrap.c) and the
 * Bootstrap-Request Trigger resource of the Server object. */
#define LWM2M_REBOOTSTRAP_SERVER_INSTANCE 0
#define LWM2M_REBOOTSTRAP_RESOURCE 9
/* The scheduler: at most this many triggers per second, one at a time; a
 * device is not triggered again within LWM2M_REBOOTSTRAP_HOLD_S of its last
 * trigger (it needs that long to bootstrap and register; remembered in
 * memory only). */
#define LWM2M_REBOOTSTRAP_PER_S 5
#define LWM2M_REBOOTSTRAP_HOLD_S 60
/* How long a scheduled trigger waits for the device's answer. */
#define LWM2M_REBOOTSTRAP_TIMEOUT_MS 5000

#define LWM2M_REBOOTSTRAP_MANUAL "manual"
#define LWM2M_REBOOTSTRAP_SCHEDULED "scheduled"

struct lwm2m_rebootstrap;

/* Triggers the re-bootstrap of device DEVICE_ID of TENANT_ID for REASON: the
 * device must be registered over DTLS (IV_ERR_NOT_FOUND when it is not,
 * IV_ERR_REFUSED for a NoSec registration: it has no DM credential). Audits
 * "lwm2m.rebootstrap" (outcome "started") before anything is sent, and the
 * outcome after. 0 when the device answered 2.04; IV_ERR_DEVICE_TIMEOUT when
 * it did not answer; IV_ERR_DEVICE_ERROR with *COAP_CODE (class*32+detail)
 * when it refused. *WHY (may be NULL) receives a static explanation of a
 * failure. Call without the service lock, never on the LwM2M server thread
 * (it waits for the device). */
int lwm2m_rebootstrap_device(struct service *svc, const struct audit_actor *actor,
			     int64_t tenant_id, int64_t device_id, const char *reason,
			     int timeout_ms, int *coap_code, const char **why) IV_WUR;

/* Starts the scheduler thread when [lwm2m] rebootstrap_after_s > 0 (*OUT is
 * NULL otherwise). */
int lwm2m_rebootstrap_start(struct service *svc, struct lwm2m_rebootstrap **out) IV_WUR;
/* Stops and joins it; NULL is a no-op. Call after lwm2m_server_stop(), which
 * ends a trigger still waiting for its device at once. */
void lwm2m_rebootstrap_stop(struct lwm2m_rebootstrap *rb);

#endif
