/* Storage operations of the authentication layer (account state of users,
 * sessions, API keys, login failures, TOTP state, the per-tenant TOTP
 * requirement), reached as st->ops->auth->... Every lookup of a tenant's
 * object takes the tenant id, so another tenant's object is IV_ERR_NOT_FOUND.
 * Only hashes of session tokens and API key secrets are ever stored. */
#ifndef IOTVAULT_STORE_AUTH_H
#define IOTVAULT_STORE_AUTH_H

#include <stdint.h>

#include "iotvault/errors.h"
#include "iotvault/store.h"

#define AUTH_HASH_LEN 32 /* SHA-256 of a session token or API key secret */

/* A user with the account state that 0002_auth adds to struct user_record. */
struct user_state {
	struct user_record rec;
	int disabled;
	int totp_enabled;
	int64_t totp_last_step; /* last accepted TOTP time step, 0 when none */
};

/* A session joined with its user and tenant (what auth_resolve needs in one query). */
struct session_record {
	int64_t id;
	uint8_t token_hash[AUTH_HASH_LEN];
	int64_t tenant_id;
	int64_t user_id;
	int64_t created_at;
	int64_t last_seen_at;
	int64_t expires_at; /* absolute expiry, ms */
	/* filled by session_get from the joined rows */
	char tenant[STORE_NAME_MAX + 1];
	char username[STORE_NAME_MAX + 1];
	char role[STORE_KIND_MAX + 1];
	int user_disabled;
	int user_totp_enabled;
	int tenant_require_totp;
};

struct apikey_record {
	int64_t id;
	int64_t tenant_id;
	char tenant[STORE_NAME_MAX + 1]; /* filled by apikey_get */
	char name[STORE_NAME_MAX + 1];
	char role[STORE_KIND_MAX + 1];
	uint8_t secret_hash[AUTH_HASH_LEN];
	char created_by[STORE_NAME_MAX + 1];
	int64_t created_at;
	int64_t last_used_at; /* 0: never used */
	int64_t revoked_at;   /* 0: active */
};

typedef int (*store_user_cb)(void *ctx, const struct user_state *user);
typedef int (*store_apikey_cb)(void *ctx, const struct apikey_record *key);

struct store_auth_ops {
	/* ---- tenants ---- */
	/* The tenant with ID and its TOTP requirement. */
	int (*tenant_get)(struct store *st, int64_t id, struct tenant *out, int *require_totp);
	int (*tenant_set_require_totp)(struct store *st, int64_t id, int require_totp);

	/* ---- users ---- */
	int (*user_find)(struct store *st, int64_t tenant_id, const char *username,
			 struct user_state *out);
	int (*user_get_by_id)(struct store *st, int64_t tenant_id, int64_t id,
			      struct user_state *out);
	/* In id order; the password hash is not filled in. */
	int (*user_list)(struct store *st, int64_t tenant_id, store_user_cb cb, void *ctx);
	int (*user_set_role)(struct store *st, int64_t tenant_id, int64_t id, const char *role);
	int (*user_set_disabled)(struct store *st, int64_t tenant_id, int64_t id, int disabled);
	int (*user_set_password_hash)(struct store *st, int64_t tenant_id, int64_t id,
				      const char *hash);
	/* Deletes the user; its sessions go with it. */
	int (*user_delete)(struct store *st, int64_t tenant_id, int64_t id);
	/* Enabled (not disabled) users with role admin in the tenant. */
	int (*user_count_active_admins)(struct store *st, int64_t tenant_id, int64_t *n);
	int (*user_set_totp_enabled)(struct store *st, int64_t tenant_id, int64_t id, int enabled);
	/* Records STEP as used only if it is above the last used step: IV_ERR_REFUSED
	 * when it is not (a replayed code), atomically across instances. */
	int (*user_use_totp_step)(struct store *st, int64_t tenant_id, int64_t id, int64_t step);

	/* ---- sessions ---- */
	/* Sets S->id. */
	int (*session_insert)(struct store *st, struct session_record *s);
	int (*session_get)(struct store *st, const uint8_t hash[static AUTH_HASH_LEN],
			   struct session_record *out);
	int (*session_touch)(struct store *st, int64_t id, int64_t now_ms);
	int (*session_delete)(struct store *st, int64_t id);
	/* Every session of the user except EXCEPT_ID (0: all). */
	int (*session_delete_user)(struct store *st, int64_t user_id, int64_t except_id);
	/* Sessions past their absolute expiry or idle since before IDLE_BEFORE_MS. */
	int (*session_purge)(struct store *st, int64_t now_ms, int64_t idle_before_ms);

	/* ---- login failures (throttling) ---- */
	int (*login_failure_record)(struct store *st, const char *tenant, const char *username,
				    const char *source, int64_t at_ms);
	int (*login_failure_count_account)(struct store *st, const char *tenant,
					   const char *username, int64_t since_ms, int64_t *n);
	int (*login_failure_count_source)(struct store *st, const char *source, int64_t since_ms,
					  int64_t *n);
	int (*login_failure_delete_account)(struct store *st, const char *tenant,
					    const char *username);
	int (*login_failure_purge)(struct store *st, int64_t before_ms);

	/* ---- API keys ---- */
	/* Sets K->id. */
	int (*apikey_insert)(struct store *st, struct apikey_record *k);
	/* By id alone (the id is in the presented key); the caller compares the
	 * secret hash in constant time and checks revocation. */
	int (*apikey_get)(struct store *st, int64_t id, struct apikey_record *out);
	int (*apikey_list)(struct store *st, int64_t tenant_id, store_apikey_cb cb, void *ctx);
	/* IV_ERR_NOT_FOUND when absent, in another tenant or already revoked. */
	int (*apikey_revoke)(struct store *st, int64_t tenant_id, int64_t id, int64_t now_ms);
	int (*apikey_touch)(struct store *st, int64_t id, int64_t now_ms);
};

#endif
