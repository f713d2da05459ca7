/* The durable outbox between the application server and the integrations:
 * every message for MQTT or webhooks is a row first, delivered by worker
 * threads of `serve` (MQTT over TLS with QoS 1, signed HTTPS webhooks), and
 * removed only once the receiver acknowledged it. Survives broker outages
 * and restarts; bounded per tenant (see docs/integrations.md). */
#ifndef IOTVAULT_OUTBOX_H
#define IOTVAULT_OUTBOX_H

#include <stdint.h>

#include "iotvault/errors.h"
#include "iotvault/store.h"

struct service;

struct outbox_message {
	int64_t tenant_id;
	const char *tenant;      /* tenant name (topic) */
	const char *application; /* "default" or the device's app:<name> tag */
	const char *device;      /* DevEUI or LwM2M endpoint */
	const char *event;       /* "up", "join", "notify", ... (topic suffix) */
	const char *json;        /* the message body */
};

/* Queues MSG for every integration of its tenant (MQTT and each enabled
 * webhook), in the caller's transaction. A full outbox drops its oldest
 * messages and counts them (docs/integrations.md); IV_ERR_TOO_LARGE only for
 * a body over OUTBOX_BODY_MAX. */
int outbox_enqueue(struct store *st, const struct outbox_message *msg) IV_WUR;

/* The application level of DEV's messages: the name of its "app:<name>"
 * tag, else "default" (written to OUT, CAP bytes). */
void outbox_application_of(const struct device_record *dev, char *out, size_t cap);

/* Starts and stops the delivery workers of SVC (called by `serve`). */
int outbox_workers_start(struct service *svc) IV_WUR;
void outbox_workers_stop(struct service *svc);

/* ---- additions ---- */

#define OUTBOX_BODY_MAX (256 * 1024)  /* IV_ERR_TOO_LARGE beyond */
#define OUTBOX_WEBHOOKS_MAX 16        /* webhook endpoints per tenant */
#define OUTBOX_SIGNATURE_LEN (3 + 64) /* "v1=" + hex HMAC-SHA256 */
#define WEBHOOK_SECRET_TEXT_LEN 64    /* the signing secret as shown once */

struct config;

/* The settings outbox_enqueue applies: MQTT on or off ([mqtt] url), the
 * topic prefix and the per-tenant bound. outbox_workers_start calls it;
 * other programs (tests) call it before enqueueing. Call it before any
 * thread enqueues. */
int outbox_configure(const struct config *cfg) IV_WUR;

/* "v1=" + hex(HMAC-SHA256(SECRET, "<TIMESTAMP>." + BODY)): the value of the
 * X-Iotvault-Signature header of a webhook request. */
int outbox_webhook_signature(const uint8_t *secret, size_t secret_len, int64_t timestamp,
			     const char *body, size_t body_len,
			     char out[static OUTBOX_SIGNATURE_LEN + 1]) IV_WUR;

/* Accepts only an absolute https URL with a host and no user name, password
 * or fragment; ORIGIN (may be NULL) receives "https://host[:port]" for the
 * audit log. IV_ERR_INVALID otherwise. */
int outbox_webhook_url_check(const char *url, char *origin, size_t origin_len) IV_WUR;

#endif
