/* The storage interface. Callers see only these records and the operations in
 * struct store_ops; a backend (SQLite now, PostgreSQL later) is a plug-in that
 * fills the table. Every operation uses prepared statements with bound
 * parameters. Transactions nest (savepoints inside an outer transaction). */
#ifndef IOTVAULT_STORE_H
#define IOTVAULT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/errors.h"

#define STORE_NAME_MAX 128
#define STORE_TAGS_MAX 512
#define STORE_FIELD_MAX 32
#define STORE_KIND_MAX 16
#define WRAPPED_DEK_MAX 128
#define MK_PARAMS_MAX 256
#define MK_CHECK_MAX 128
#define SECRET_MAX_LEN 4096
#define AUDIT_TEXT_MAX 256
#define AUDIT_DETAIL_MAX 512

struct tenant {
	int64_t id;
	char name[STORE_NAME_MAX + 1];
	int64_t created_at;
};

struct user_record {
	int64_t id;
	int64_t tenant_id;
	char username[STORE_NAME_MAX + 1];
	char role[STORE_KIND_MAX + 1];
	char password_hash[160];
	int64_t created_at;
};

struct device_record {
	int64_t id;
	int64_t tenant_id;
	char kind[STORE_KIND_MAX + 1]; /* "lorawan" or "lwm2m" */
	char name[STORE_NAME_MAX + 1];
	char tags[STORE_TAGS_MAX + 1];
	char dev_eui[17];     /* canonical upper-case hex, "" for LwM2M */
	char join_eui[17];
	char mac_version[8];  /* "1.0.0".."1.0.4", "1.1" */
	char endpoint[STORE_NAME_MAX + 1];
	char psk_identity[STORE_NAME_MAX + 1];
	int64_t created_at;
	int64_t updated_at;
};

/* Optional conditions of a device listing (NULL/empty: any). */
struct device_filter {
	const char *kind;          /* "lorawan" or "lwm2m" */
	const char *tag;           /* has this tag */
	const char *name_contains; /* case-insensitive substring of the name */
	const char *join_eui;      /* canonical hex */
};

/* How a device is named on the command line or in an API path. */
struct device_selector {
	int64_t id;            /* > 0 to select by id */
	const char *dev_eui;   /* canonical hex */
	const char *endpoint;
};

struct secret_record {
	int64_t id;
	int64_t tenant_id;
	char owner_kind[STORE_KIND_MAX + 1]; /* "device", "system" */
	int64_t owner_id;
	char field[STORE_FIELD_MAX + 1];     /* "app_key", "nwk_key", "psk", "audit_key" */
	uint32_t format;
	uint32_t mk_version;
	uint8_t wrapped_dek[WRAPPED_DEK_MAX];
	size_t wrapped_dek_len;
	uint8_t ciphertext[SECRET_MAX_LEN + 64]; /* nonce || ciphertext || tag; not secret */
	size_t ciphertext_len;
	int64_t created_at;
};

struct master_key_record {
	uint32_t version;
	char provider[STORE_KIND_MAX + 1];
	char state[STORE_KIND_MAX + 1]; /* "active" or "retired" */
	uint8_t params[MK_PARAMS_MAX];
	size_t params_len;
	uint8_t check[MK_CHECK_MAX];
	size_t check_len;
	int64_t created_at;
	int64_t secrets; /* filled by master_key_list: secrets wrapped under it */
};

struct audit_record {
	int64_t seq;
	int64_t ts_ms;
	int64_t tenant_id; /* 0: not tied to a tenant */
	char actor_type[STORE_KIND_MAX + 1]; /* "cli", "user", "apikey", "peer", "system" */
	char actor[AUDIT_TEXT_MAX + 1];
	char source[AUDIT_TEXT_MAX + 1];
	char action[AUDIT_TEXT_MAX + 1];
	char object[AUDIT_TEXT_MAX + 1];
	char outcome[STORE_KIND_MAX + 1];
	char detail[AUDIT_DETAIL_MAX + 1];
	uint8_t mac[32];
};

struct store;
struct store_auth_ops;
struct store_lorawan_ops;
struct store_outbox_ops;
struct store_hygiene_ops;
struct store_lwm2m_rebootstrap_ops;
struct store_lwm2m_observe_ops;
struct store_lwm2m_queue_ops;

typedef int (*store_device_cb)(void *ctx, const struct device_record *dev);
typedef int (*store_secret_cb)(void *ctx, const struct secret_record *sec);
typedef int (*store_master_key_cb)(void *ctx, const struct master_key_record *mk);
typedef int (*store_audit_cb)(void *ctx, const struct audit_record *rec);

struct store_ops {
	const char *name;
	void (*close)(struct store *st);

	/* WRITE: take the write lock at once (SQLite BEGIN IMMEDIATE). */
	int (*begin)(struct store *st, int write);
	int (*commit)(struct store *st);
	int (*rollback)(struct store *st);

	int (*tenant_create)(struct store *st, const char *name, int64_t *id);
	int (*tenant_get_by_name)(struct store *st, const char *name, struct tenant *out);
	int (*tenant_get)(struct store *st, int64_t id, struct tenant *out);
	int (*tenant_list)(struct store *st, int (*cb)(void *ctx, const struct tenant *t), void *ctx);

	int (*user_create)(struct store *st, struct user_record *user);
	int (*user_get)(struct store *st, int64_t tenant_id, const char *username,
			struct user_record *out);

	/* Sets DEV->id. IV_ERR_EXISTS when DevEUI, endpoint or PSK identity is taken. */
	int (*device_insert)(struct store *st, struct device_record *dev);
	int (*device_get)(struct store *st, int64_t tenant_id, const struct device_selector *sel,
			  struct device_record *out);
	/* Devices with id > AFTER_ID in id order, at most LIMIT, matching FILTER
	 * (may be NULL). */
	int (*device_list)(struct store *st, int64_t tenant_id, const struct device_filter *filter,
			   int64_t after_id, int limit, store_device_cb cb, void *ctx);
	/* Updates name, tags, join_eui and updated_at of DEV (by tenant and id). */
	int (*device_update)(struct store *st, const struct device_record *dev);
	int (*device_delete)(struct store *st, int64_t tenant_id, int64_t id);

	/* Insert or replace the secret for (owner_kind, owner_id, field). */
	int (*secret_put)(struct store *st, const struct secret_record *sec);
	int (*secret_get)(struct store *st, const char *owner_kind, int64_t owner_id,
			  const char *field, struct secret_record *out);
	int (*secret_delete_owner)(struct store *st, const char *owner_kind, int64_t owner_id);
	/* Secrets whose mk_version < VERSION, in id order, at most LIMIT. */
	int (*secret_list_below)(struct store *st, uint32_t version, int limit,
				 store_secret_cb cb, void *ctx);
	int64_t (*secret_count_below)(struct store *st, uint32_t version);
	/* Replaces the wrapped data key only if the row is still at OLD_VERSION;
	 * IV_ERR_NOT_FOUND when someone else changed it first. */
	int (*secret_rewrap)(struct store *st, int64_t id, uint32_t old_version,
			     uint32_t new_version, const uint8_t *wrapped, size_t wrapped_len);

	int (*master_key_insert)(struct store *st, const struct master_key_record *mk);
	int (*master_key_list)(struct store *st, store_master_key_cb cb, void *ctx);
	int (*master_key_set_state)(struct store *st, uint32_t version, const char *state);

	/* The last record's sequence number and MAC (0 and zeros when empty). */
	int (*audit_last)(struct store *st, int64_t *seq, uint8_t mac[static 32]);
	int (*audit_insert)(struct store *st, const struct audit_record *rec);
	int (*audit_iterate)(struct store *st, int64_t from_seq, store_audit_cb cb, void *ctx);
	/* Records of one tenant with seq > AFTER, oldest first, at most LIMIT;
	 * ACTION (may be NULL) filters by exact action or by "prefix.*". */
	int (*audit_list_tenant)(struct store *st, int64_t tenant_id, int64_t after, int limit,
				 const char *action, store_audit_cb cb, void *ctx);
	/* The authenticated head: last seq, its MAC and a MAC over both. */
	int (*audit_head_get)(struct store *st, int64_t *seq, uint8_t mac[static 32],
			      uint8_t head_mac[static 32]);
	int (*audit_head_set)(struct store *st, int64_t seq, const uint8_t mac[static 32],
			      const uint8_t head_mac[static 32]);

	/* the authentication layer's operations (include/iotvault/store_auth.h) */
	const struct store_auth_ops *auth;
	/* the LoRaWAN roles' operations (include/iotvault/store_lorawan.h) */
	const struct store_lorawan_ops *lorawan;
	/* the integrations' webhooks and outbox (include/iotvault/store_outbox.h) */
	const struct store_outbox_ops *outbox;
	/* the application server's operations (include/iotvault/store_appserver.h) */
	const struct store_appserver_ops *appserver;
	/* key hygiene: fingerprints, findings, report (include/iotvault/store_hygiene.h) */
	const struct store_hygiene_ops *hygiene;
	const struct store_lwm2m_ops *lwm2m; /* LwM2M server (include/iotvault/store_lwm2m.h) */
	/* LwM2M tenant CAs, device RPKs/certificates (include/iotvault/store_lwm2m_pki.h) */
	const struct store_lwm2m_pki_ops *lwm2m_pki;
	/* re-bootstrap scheduler (include/iotvault/store_lwm2m_rebootstrap.h) */
	const struct store_lwm2m_rebootstrap_ops *lwm2m_rebootstrap;
	/* LwM2M firmware images and update jobs (include/iotvault/store_lwm2m_firmware.h) */
	const struct store_lwm2m_firmware_ops *lwm2m_firmware;
	/* observations and notifications (include/iotvault/store_lwm2m_observe.h) */
	const struct store_lwm2m_observe_ops *lwm2m_observe;
	/* requests held for queue-mode devices (include/iotvault/store_lwm2m_queue.h) */
	const struct store_lwm2m_queue_ops *lwm2m_queue;
};

struct store {
	const struct store_ops *ops;
};

/* Opens (creating if CREATE) the SQLite database at PATH, applies migrations. */
int store_sqlite_open(const char *path, int create, int busy_timeout_ms, struct store **out) IV_WUR;
void store_close(struct store *st);

/* Milliseconds since the epoch, for created_at and audit times. */
int64_t store_now_ms(void);

#endif
