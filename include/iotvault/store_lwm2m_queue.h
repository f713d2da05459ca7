/* Storage of DM requests held for queue-mode LwM2M devices (migration
 * 0011), reached as st->ops->lwm2m_queue->... */
#ifndef IOTVAULT_STORE_LWM2M_QUEUE_H
#define IOTVAULT_STORE_LWM2M_QUEUE_H

#include "iotvault/store.h"

#define LWM2M_HELD_PAYLOAD_MAX 1024
#define LWM2M_HELD_QUERY_MAX 192
#define LWM2M_HELD_PATH_MAX 24

struct lwm2m_held_record {
	int64_t id;
	int64_t tenant_id;
	int64_t device_id;
	int method; /* enum lwm2m_dm_method */
	char path[LWM2M_HELD_PATH_MAX + 1];
	unsigned accept;
	unsigned content_format;
	uint8_t payload[LWM2M_HELD_PAYLOAD_MAX];
	size_t payload_len;
	char query[LWM2M_HELD_QUERY_MAX + 1];
	char actor_type[STORE_KIND_MAX + 1];
	char actor[AUDIT_TEXT_MAX + 1];
	char source[AUDIT_TEXT_MAX + 1];
	char state[STORE_KIND_MAX + 1];
	int coap_code; /* 0: none yet */
	const char *result; /* JSON or NULL; valid during the read */
	char error[AUDIT_TEXT_MAX + 1];
	int64_t created_at;
	int64_t updated_at;
	int64_t expires_at;
};

struct store_lwm2m_queue_ops {
	/* Sets H->id (state pending). */
	int (*held_insert)(struct store *st, struct lwm2m_held_record *h);
	/* CB is called once with the request (its result valid during the call). */
	int (*held_get)(struct store *st, int64_t device_id, int64_t id,
			int (*cb)(void *ctx, const struct lwm2m_held_record *h), void *ctx);
	/* Held (pending) requests of a device. */
	int (*held_count_pending)(struct store *st, int64_t device_id, int64_t *count);
	/* The oldest pending request of DEVICE_ID not expired at NOW_MS;
	 * IV_ERR_NOT_FOUND when none. */
	int (*held_next)(struct store *st, int64_t device_id, int64_t now_ms,
			 struct lwm2m_held_record *out);
	/* pending -> sent. */
	int (*held_mark_sent)(struct store *st, int64_t id, int64_t now_ms);
	/* sent -> STATE ("done" or "failed") with the outcome. */
	int (*held_finish)(struct store *st, int64_t id, const char *state, int coap_code,
			   const char *result, const char *error, int64_t now_ms);
	/* pending past expires_at -> expired; the count or a negative code. */
	int64_t (*held_expire)(struct store *st, int64_t now_ms);
	/* Deletes finished (done, failed, expired) requests last changed
	 * before BEFORE_MS; the count or a negative code. */
	int64_t (*held_purge)(struct store *st, int64_t before_ms);
	/* sent -> failed (at start-up: their answers were lost with the
	 * previous process); the count or a negative code. */
	int64_t (*held_fail_sent)(struct store *st, const char *error, int64_t now_ms);
};

#endif
