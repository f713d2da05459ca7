/* Storage operations of the LwM2M Bootstrap and Device-Management server
 * (DM credentials handed out at bootstrap, registrations), reached as
 * st->ops->lwm2m->... */
#ifndef IOTVAULT_STORE_LWM2M_H
#define IOTVAULT_STORE_LWM2M_H

#include "iotvault/store.h"

#define LWM2M_IDENTITY_MAX 128
#define LWM2M_LOCATION_MAX 32
#define LWM2M_VERSION_MAX 8
#define LWM2M_BINDING_MAX 8
#define LWM2M_OBJECT_LINKS_MAX 4096
#define LWM2M_ADDRESS_MAX 64

struct lwm2m_credential_record {
	int64_t id;
	int64_t tenant_id;
	int64_t device_id;
	char identity[LWM2M_IDENTITY_MAX + 1];
	char state[STORE_KIND_MAX + 1]; /* "pending", "active", "retired" */
	int64_t created_at;
	int64_t activated_at; /* 0: never */
	int64_t retired_at;   /* 0: not retired */
};

struct lwm2m_registration_record {
	int64_t id;
	int64_t tenant_id;
	int64_t device_id;
	char location[LWM2M_LOCATION_MAX + 1]; /* "rd/<hex>" */
	char endpoint[STORE_NAME_MAX + 1];
	char lwm2m_version[LWM2M_VERSION_MAX + 1]; /* "1.0", "1.1" */
	char binding[LWM2M_BINDING_MAX + 1];       /* "U", "UQ", ... */
	int queue_mode;
	int64_t lifetime_s;
	char object_links[LWM2M_OBJECT_LINKS_MAX + 1];
	char address[LWM2M_ADDRESS_MAX + 1]; /* the client's IP:port */
	char security[STORE_KIND_MAX + 1];   /* "psk" or "nosec" */
	int64_t credential_id;               /* 0 for NoSec */
	int64_t registered_at;
	int64_t updated_at;
	int64_t expires_at; /* ms since the epoch */
};

typedef int (*store_lwm2m_credential_cb)(void *ctx, const struct lwm2m_credential_record *c);
typedef int (*store_lwm2m_registration_cb)(void *ctx,
					   const struct lwm2m_registration_record *reg);

struct store_lwm2m_ops {
	/* The LwM2M device whose (bootstrap) PSK identity is IDENTITY, in any
	 * tenant (identities are unique across tenants). */
	int (*device_by_psk_identity)(struct store *st, const char *identity,
				      struct device_record *out);
	/* The LwM2M device named ENDPOINT, in any tenant (endpoints are unique). */
	int (*device_by_endpoint)(struct store *st, const char *endpoint, struct device_record *out);

	/* Sets C->id and C->created_at. IV_ERR_EXISTS when the identity is taken. */
	int (*credential_insert)(struct store *st, struct lwm2m_credential_record *c);
	int (*credential_get_by_identity)(struct store *st, const char *identity,
					  struct lwm2m_credential_record *out);
	int (*credential_get)(struct store *st, int64_t id, struct lwm2m_credential_record *out);
	/* Retires every credential of DEVICE_ID except KEEP_ID whose state is
	 * STATE (NULL: pending or active); their sealed keys are deleted with
	 * them. *RETIRED (may be NULL) receives how many. */
	int (*credential_retire_others)(struct store *st, int64_t device_id, int64_t keep_id,
					const char *state, int64_t *retired);
	/* pending -> active; IV_ERR_NOT_FOUND unless it was pending. */
	int (*credential_activate)(struct store *st, int64_t id);
	/* A device's credentials, newest first. */
	int (*credential_list)(struct store *st, int64_t device_id, store_lwm2m_credential_cb cb,
			       void *ctx);

	/* Inserts REG, replacing the device's previous registration (whose
	 * location goes to OLD_LOCATION, "" when there was none). Sets REG->id. */
	int (*registration_put)(struct store *st, struct lwm2m_registration_record *reg,
				char old_location[static LWM2M_LOCATION_MAX + 1]);
	int (*registration_get)(struct store *st, int64_t device_id,
				struct lwm2m_registration_record *out);
	int (*registration_get_by_location)(struct store *st, const char *location,
					    struct lwm2m_registration_record *out);
	/* Writes lifetime_s, binding, queue_mode, object_links, address,
	 * updated_at and expires_at of REG (by location). */
	int (*registration_update)(struct store *st, const struct lwm2m_registration_record *reg);
	int (*registration_delete)(struct store *st, const char *location);
	/* Registrations with expires_at <= NOW_MS, at most LIMIT, oldest first. */
	int (*registration_list_expired)(struct store *st, int64_t now_ms, int limit,
					 store_lwm2m_registration_cb cb, void *ctx);
	/* Every registration, in id order (the server recreates their
	 * resources at start-up). */
	int (*registration_list)(struct store *st, store_lwm2m_registration_cb cb, void *ctx);
};

#endif
