/* Identity and access: tenants, users, the password policy, sessions, login
 * with brute-force throttling, TOTP second factor and API keys. Times are
 * passed in (NOW_MS, milliseconds since the epoch) so tests need no sleeps. */
#ifndef IOTVAULT_AUTH_H
#define IOTVAULT_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/config.h"
#include "iotvault/errors.h"
#include "iotvault/store_auth.h"
#include "iotvault/vault.h"

#define PASSWORD_MIN_LEN 15
#define PASSWORD_MAX_LEN 128
#define GENERATED_PASSWORD_LEN 24

/* Tenant and user names: 1-64 characters of [a-z0-9._-], starting alphanumeric. */
int auth_name_valid(const char *name);
int auth_role_valid(const char *role);
/* Creates a tenant and writes "tenant.create". */
int tenant_create(struct vault *v, const struct audit_actor *actor, const char *name,
		  int64_t *id) IV_WUR;
/* Hashes PASSWORD with Argon2id, creates the user and writes "user.create". */
int user_create(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
		const char *username, const char *role, const char *password, size_t len) IV_WUR;

/* ---- used by the HTTP server core (src/http/server.c) ---- */
struct service;
struct principal;
/* Resolves the caller from a session token (the __Host-iotvault_session cookie
 * value) or a bearer API key, whichever is given (a bearer key wins). Checks
 * expiry (idle and absolute), revocation and the tenant; refreshes last-used
 * times. Runs with the service lock held. 0, or IV_ERR_UNAUTHENTICATED; a
 * store failure (IV_ERR_BUSY, IV_ERR_STORE, IV_ERR_NOMEM) is passed on so
 * that the client sees 503/500 rather than being logged out. */
int auth_resolve(struct service *svc, const char *session_token, const char *bearer,
		 struct principal *out) IV_WUR;
/* Loads what the auth layer needs at start-up (common-password list). */
int auth_service_init(struct service *svc) IV_WUR;
void auth_service_free(struct service *svc);

#define SESSION_COOKIE_NAME "__Host-iotvault_session"

/* Role bit of a session whose tenant requires TOTP while its user has none
 * enrolled: it may only reach routes that list this bit (TOTP enrolment,
 * logout, whoami), so every other route refuses it by the ordinary role
 * check. The core answers IV_ERR_TOTP_REQUIRED instead of IV_ERR_FORBIDDEN
 * when a principal with this bit is refused (see auth_route_denied). */
#define ROLE_TOTP_ENROLMENT 16

/* As auth_resolve, at NOW_MS (tests). */
int auth_resolve_at(struct service *svc, const char *session_token, const char *bearer,
		    int64_t now_ms, struct principal *out) IV_WUR;
/* The error for a principal whose role bit is not in ROUTE_ROLES:
 * IV_ERR_TOTP_REQUIRED for a session that must enrol TOTP first,
 * IV_ERR_FORBIDDEN otherwise. */
int auth_route_denied(const struct principal *who, int route_roles);

/* ---- password policy (src/auth/password.c) ---- */
struct password_policy;
#define COMMON_PASSWORDS_MIN 10000
/* Loads the common-password list at PATH (one per line). IV_ERR_NOT_FOUND
 * when the file is missing, IV_ERR_CONFIG when it has fewer than MIN_ENTRIES. */
int password_policy_load(const char *path, size_t min_entries,
			 struct password_policy **out) IV_WUR;
void password_policy_free(struct password_policy *pp);
size_t password_policy_size(const struct password_policy *pp);
/* 15..128 characters (code points), not in the common list (case-insensitive),
 * not the user name. 0, or IV_ERR_WEAK_PASSWORD with *REASON (static text). */
int password_policy_check(const struct password_policy *pp, const char *password, size_t len,
			  const char *username, const char **reason) IV_WUR;
/* A generated passphrase: GENERATED_PASSWORD_LEN characters of password_generate. */
void password_suggest(char out[static GENERATED_PASSWORD_LEN + 1]);
/* 1 when HASH was made with weaker parameters than today's (upgrade on login). */
int password_needs_rehash(const char *hash);

/* ---- sessions (src/auth/session.c) ---- */
#define SESSION_TOKEN_LEN 32       /* 256 random bits */
#define SESSION_TOKEN_TEXT_LEN 44  /* base64url without padding, and NUL */
#define SESSION_COOKIE_MAX 160
/* Creates a session (inside the caller's transaction) and returns its token. */
int session_create(struct store *st, const struct config *cfg, int64_t tenant_id,
		   int64_t user_id, int64_t now_ms, char token[static SESSION_TOKEN_TEXT_LEN],
		   struct session_record *out) IV_WUR;
/* Finds the live session of TOKEN; an idle or expired one is deleted and
 * IV_ERR_UNAUTHENTICATED returned; refreshes its idle time. */
int session_lookup(struct store *st, const struct config *cfg, const char *token,
		   int64_t now_ms, struct session_record *out) IV_WUR;
/* The Set-Cookie value carrying TOKEN (NULL: the value that clears it). */
int session_cookie(char *out, size_t cap, const char *token, int max_age_s) IV_WUR;

/* ---- API keys (src/auth/apikey.c) ---- */
#define APIKEY_PREFIX "ivk_"
#define APIKEY_SECRET_LEN 32
#define APIKEY_TEXT_MAX 96
/* Creates a key "ivk_<id>_<base64url secret>" (shown once; only the SHA-256
 * of the secret is stored) and writes "apikey.create". */
int apikey_create(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
		  const char *name, const char *role, int64_t now_ms,
		  char key[static APIKEY_TEXT_MAX], int64_t *id) IV_WUR;
/* Resolves a presented key: IV_ERR_UNAUTHENTICATED when malformed, unknown,
 * wrong or revoked. Refreshes last_used_at at most once a minute. */
int apikey_lookup(struct store *st, const char *key, int64_t now_ms,
		  struct apikey_record *out) IV_WUR;
/* Revokes key ID of the tenant and writes "apikey.revoke". */
int apikey_revoke(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
		  int64_t id, int64_t now_ms) IV_WUR;

/* ---- throttling (src/auth/throttle.c) ---- */
#define THROTTLE_WINDOW_MS (3600LL * 1000LL)
struct throttle_state {
	int64_t account_failures; /* in the last hour */
	int64_t source_failures;
};
int throttle_count(struct store *st, const char *tenant, const char *username,
		   const char *source, int64_t now_ms, struct throttle_state *out) IV_WUR;
/* 1 when either count has reached its configured hourly limit. */
int throttle_exceeded(const struct config *cfg, const struct throttle_state *ts);
/* Records a failure (inside the caller's transaction), drops failures older
 * than the window, and returns the counts including this one. */
int throttle_record_failure(struct store *st, const char *tenant, const char *username,
			    const char *source, int64_t now_ms, struct throttle_state *out) IV_WUR;
/* min(base * 2^(n-1), max) for the larger of the two counts' delays. */
int64_t throttle_delay_ms(const struct config *cfg, const struct throttle_state *ts);

/* ---- TOTP, RFC 6238 via liboath (src/auth/totp.c) ---- */
#define TOTP_SECRET_LEN 20 /* 160 bits, the HMAC-SHA1 block-friendly size of RFC 4226 */
#define TOTP_DIGITS 6
#define TOTP_STEP_S 30
#define TOTP_WINDOW 1      /* steps either side accepted, for clock drift */
#define TOTP_BASE32_MAX 64
#define TOTP_URI_MAX 384
/* Initialises liboath once (auth_service_init does it). */
int totp_init(void) IV_WUR;
/* The code of DIGITS (6..8) digits at time NOW_S; OUT holds 9 bytes. */
int totp_code(const uint8_t *secret, size_t len, int64_t now_s, unsigned digits,
	      char out[static 9]) IV_WUR;
/* Checks CODE against the steps within TOTP_WINDOW of NOW_S, refusing steps
 * <= LAST_STEP (each code usable once). 0 with *STEP set, or IV_ERR_UNAUTHENTICATED. */
int totp_check(const uint8_t *secret, size_t len, int64_t now_s, const char *code,
	       int64_t last_step, int64_t *step) IV_WUR;
int totp_base32(const uint8_t *secret, size_t len, char out[static TOTP_BASE32_MAX]) IV_WUR;
/* Enrolment: seals a new secret for the user (not yet enabled) and returns
 * it as base32 and otpauth:// URI. IV_ERR_REFUSED when TOTP is already enabled. */
int totp_enroll(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
		const char *tenant, int64_t user_id, char base32[static TOTP_BASE32_MAX],
		char uri[static TOTP_URI_MAX]) IV_WUR;
/* Checks CODE against the user's sealed secret and marks its step used.
 * Runs inside the caller's transaction. IV_ERR_UNAUTHENTICATED on a wrong or
 * replayed code, IV_ERR_NOT_FOUND when the user has no secret. */
int totp_verify_user(struct vault *v, int64_t tenant_id, int64_t user_id, const char *code,
		     int64_t now_ms) IV_WUR;
/* Enables (after enrolment) or disables TOTP with a current CODE; writes
 * "user.totp_enable" / "user.totp_disable". Disabling is IV_ERR_REFUSED when
 * the tenant requires TOTP. */
int totp_confirm(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
		 int64_t user_id, const char *code, int64_t now_ms) IV_WUR;
int totp_disable(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
		 int64_t user_id, const char *code, int64_t now_ms) IV_WUR;

/* ---- login (src/auth/login.c) ---- */
struct login_request {
	const char *tenant;
	const char *username;
	const char *password;
	size_t password_len;
	const char *totp; /* NULL when not given */
	const char *source;
};
struct login_result {
	int64_t tenant_id;
	int64_t user_id;
	struct session_record session;
	char token[SESSION_TOKEN_TEXT_LEN];
	int totp_enrolment_required; /* tenant requires TOTP, user has none yet */
	const char *reason;          /* on failure: the audit detail */
	int64_t delay_ms;            /* throttling delay applied before returning */
};
/* The whole login: throttle check, Argon2id verify (against a dummy hash for
 * unknown accounts, so timing is alike), TOTP, session, audit. Takes the
 * service lock itself around store work and never holds it while hashing or
 * sleeping. 0; IV_ERR_UNAUTHENTICATED (generic), IV_ERR_TOTP_REQUIRED,
 * IV_ERR_THROTTLED, or a system error. */
int auth_login(struct service *svc, const struct login_request *in, int64_t now_ms,
	       struct login_result *out) IV_WUR;
/* Password change of the principal's own account, ending its other sessions.
 * Takes the service lock itself. IV_ERR_FORBIDDEN when CURRENT is wrong,
 * IV_ERR_WEAK_PASSWORD when NEW_PW fails the policy. */
int auth_change_password(struct service *svc, const struct principal *who, const char *source,
			 const char *current, size_t current_len, const char *new_pw,
			 size_t new_len, int64_t now_ms, const char **reason) IV_WUR;

/* ---- user administration (src/auth/users.c); run with the service lock held ---- */
/* Creates a user from an already computed Argon2id HASH; writes "user.create". */
int user_create_hashed(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
		       const char *username, const char *role, const char *hash,
		       int64_t *id) IV_WUR;
/* Changes ROLE (NULL: keep) and DISABLED (-1: keep); refuses (IV_ERR_REFUSED)
 * to demote or disable the last active admin; disabling ends the sessions.
 * Writes "user.update". */
int user_update(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
		int64_t id, const char *role, int disabled, struct user_state *out) IV_WUR;
/* Deletes a user, its sessions and its TOTP secret; refuses the last active
 * admin. Writes "user.delete". */
int user_delete(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
		int64_t id) IV_WUR;
/* Clears the login failures of the account; writes "user.unlock". */
int user_unlock(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
		int64_t id) IV_WUR;

#endif
