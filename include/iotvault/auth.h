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

#endif
