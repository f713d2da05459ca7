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
 * webhook), in the caller's transaction. IV_ERR_TOO_LARGE when the tenant's
 * outbox is full (the overflow rule is in docs/integrations.md). */
int outbox_enqueue(struct store *st, const struct outbox_message *msg) IV_WUR;

/* Starts and stops the delivery workers of SVC (called by `serve`). */
int outbox_workers_start(struct service *svc) IV_WUR;
void outbox_workers_stop(struct service *svc);

#endif
