/* Users and tenants. */
#ifndef IOTVAULT_AUTH_H
#define IOTVAULT_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/errors.h"
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
 * times. Runs with the service lock held. 0, or IV_ERR_UNAUTHENTICATED. */
int auth_resolve(struct service *svc, const char *session_token, const char *bearer,
		 struct principal *out) IV_WUR;
/* Loads what the auth layer needs at start-up (common-password list). */
int auth_service_init(struct service *svc) IV_WUR;
void auth_service_free(struct service *svc);

#define SESSION_COOKIE_NAME "__Host-iotvault_session"

#endif
