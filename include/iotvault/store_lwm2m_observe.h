/* Storage of LwM2M observations and their notifications (migration 0011),
 * reached as st->ops->lwm2m_observe->... */
#ifndef IOTVAULT_STORE_LWM2M_OBSERVE_H
#define IOTVAULT_STORE_LWM2M_OBSERVE_H

#include "iotvault/store.h"
#include "iotvault/store_lwm2m.h"

#define LWM2M_TOKEN_MAX 8
#define LWM2M_OBS_PATH_MAX 24 /* "/65534/65534/65534/65534" */

struct lwm2m_observation_record {
	int64_t id;
	int64_t tenant_id;
	int64_t device_id;
	char path[LWM2M_OBS_PATH_MAX + 1];
	uint8_t token[LWM2M_TOKEN_MAX];
	size_t token_len;
	char address[LWM2M_ADDRESS_MAX + 1];
	int64_t last_seq; /* Observe option value, 0..2^24-1 */
	int64_t last_at;
	int64_t notifications;
	int64_t created_at;
};

struct lwm2m_notification_record {
	int64_t id;
	int64_t tenant_id;
	int64_t device_id;
	int64_t observation_id;
	char path[LWM2M_OBS_PATH_MAX + 1];
	int64_t seq;
	unsigned content_format;
	const char *records; /* JSON array; valid during the callback / the insert */
	int64_t received_at;
	int64_t expires_at;
};

typedef int (*store_lwm2m_observation_cb)(void *ctx, const struct lwm2m_observation_record *o);
typedef int (*store_lwm2m_notification_cb)(void *ctx, const struct lwm2m_notification_record *n);

struct store_lwm2m_observe_ops {
	/* Sets O->id. IV_ERR_EXISTS when the device already has that token. */
	int (*observation_insert)(struct store *st, struct lwm2m_observation_record *o);
	int (*observation_get)(struct store *st, int64_t device_id, int64_t id,
			       struct lwm2m_observation_record *out);
	/* The observation with TOKEN made on the session at ADDRESS, of
	 * DEVICE_ID (0: of any device, for NoSec sessions). */
	int (*observation_by_token)(struct store *st, int64_t device_id, const uint8_t *token,
				    size_t token_len, const char *address,
				    struct lwm2m_observation_record *out);
	/* Records a fresh notification: last_seq, last_at, notifications + 1. */
	int (*observation_touch)(struct store *st, int64_t id, int64_t seq, int64_t at);
	int (*observation_delete)(struct store *st, int64_t id);
	/* Deletes the device's observations made on the session at ADDRESS
	 * (NULL: all of them; DEVICE_ID 0: any device's at ADDRESS); *COUNT
	 * (may be NULL) gets how many. */
	int (*observation_delete_device)(struct store *st, int64_t device_id, const char *address,
					 int64_t *count);
	/* A device's observations, oldest first. */
	int (*observation_list)(struct store *st, int64_t device_id, store_lwm2m_observation_cb cb,
				void *ctx);
	int (*observation_count)(struct store *st, int64_t device_id, int64_t *count);

	/* Sets N->id. */
	int (*notification_insert)(struct store *st, struct lwm2m_notification_record *n);
	/* Newest first: id < BEFORE_ID (0: from the newest), not expired at
	 * NOW_MS, of OBSERVATION_ID when > 0, at most LIMIT. */
	int (*notification_list)(struct store *st, int64_t tenant_id, int64_t device_id,
				 int64_t observation_id, int64_t before_id, int limit, int64_t now_ms,
				 store_lwm2m_notification_cb cb, void *ctx);
	/* Deletes notifications expired at NOW_MS; the count or a negative code. */
	int64_t (*notification_purge)(struct store *st, int64_t now_ms);
	/* Deletes all but the newest KEEP notifications of DEVICE_ID. */
	int (*notification_trim)(struct store *st, int64_t device_id, int64_t keep);
};

#endif
