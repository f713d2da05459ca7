/* Storage operations of the integrations: the tenants' webhook endpoints and
 * the durable outbox of messages waiting for MQTT or a webhook, reached as
 * st->ops->outbox->... A message row is deleted only when its receiver has
 * acknowledged it; per-tenant counters are kept by the database itself. */
#ifndef IOTVAULT_STORE_OUTBOX_H
#define IOTVAULT_STORE_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/store.h"

#define WEBHOOK_URL_MAX 512
#define WEBHOOK_EVENTS_MAX 512 /* comma-separated event names */
#define OUTBOX_TOPIC_MAX 1024

struct webhook_record {
	int64_t id;
	int64_t tenant_id;
	char url[WEBHOOK_URL_MAX + 1];
	char events[WEBHOOK_EVENTS_MAX + 1]; /* "up,join"; "" = every event */
	int enabled;
	char created_by[STORE_NAME_MAX + 1];
	int64_t created_at;
	int64_t queued; /* filled by webhook_list/webhook_get: messages waiting */
};

/* One queued message. TOPIC is the MQTT topic, or the event name for a
 * webhook. Pointers are valid only during the callback that receives it. */
struct outbox_row {
	int64_t id;             /* enqueue order, never reused */
	int64_t tenant_id;
	int64_t webhook_id;     /* 0: MQTT */
	const char *topic;
	const char *body;
	size_t body_len;
	int attempts;
	int64_t next_attempt_at; /* ms since the epoch */
	int64_t created_at;
};

struct outbox_tenant_stats {
	int64_t queued;  /* rows waiting, every destination */
	int64_t dropped; /* rows dropped by the bound since the database was made */
	int64_t last_overflow_event_at; /* ms; 0 when never */
};

typedef int (*store_webhook_cb)(void *ctx, const struct webhook_record *w);
typedef int (*store_outbox_cb)(void *ctx, const struct outbox_row *row);

struct store_outbox_ops {
	/* Sets W->id and W->created_at. */
	int (*webhook_insert)(struct store *st, struct webhook_record *w);
	int (*webhook_get)(struct store *st, int64_t tenant_id, int64_t id, struct webhook_record *out);
	/* The tenant's webhooks in id order. */
	int (*webhook_list)(struct store *st, int64_t tenant_id, store_webhook_cb cb, void *ctx);
	/* Also removes the webhook's queued messages. */
	int (*webhook_delete)(struct store *st, int64_t tenant_id, int64_t id);

	/* Queues ROW (its id, attempts and created_at are ignored); sets *ID. */
	int (*insert)(struct store *st, const struct outbox_row *row, int64_t *id);
	/* MQTT rows with id > AFTER_ID, oldest first, at most LIMIT. */
	int (*list_mqtt)(struct store *st, int64_t after_id, int limit, store_outbox_cb cb, void *ctx);
	int64_t (*count_mqtt)(struct store *st);
	/* The oldest row of every webhook, when that row is due at NOW (a
	 * webhook's later rows wait behind it: order per endpoint). */
	int (*list_webhook_heads)(struct store *st, int64_t now, int limit, store_outbox_cb cb,
				  void *ctx);
	/* Rows of one webhook, oldest first, at most LIMIT. */
	int (*list_webhook)(struct store *st, int64_t webhook_id, int limit, store_outbox_cb cb,
			    void *ctx);
	/* Removes a delivered row (no error when it is already gone). */
	int (*remove)(struct store *st, int64_t id);
	int (*retry_later)(struct store *st, int64_t id, int attempts, int64_t next_attempt_at);

	int (*stats_get)(struct store *st, int64_t tenant_id, struct outbox_tenant_stats *out);
	/* Drops the tenant's oldest rows beyond MAX and counts them in the
	 * tenant's `dropped`; *DROPPED is how many went. */
	int (*trim)(struct store *st, int64_t tenant_id, int64_t max, int64_t *dropped);
	int (*overflow_event_mark)(struct store *st, int64_t tenant_id, int64_t now);
};

#endif
