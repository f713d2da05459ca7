/* Who is calling: the HTTP core hands over the session cookie or the bearer
 * key of each request and receives a principal (tenant, user or key, role).
 * Also the start-up of the auth layer (common-password list, liboath). */
#include "auth/auth_internal.h"
#include "iotvault/http.h"
#include "iotvault/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int role_bit(const char *role)
{
	static const struct {
		const char *name;
		int bit;
	} roles[] = {{"admin", ROLE_ADMIN},
		     {"operator", ROLE_OPERATOR},
		     {"auditor", ROLE_AUDITOR},
		     {"viewer", ROLE_VIEWER}};
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (strcmp(roles[i].name, role) == 0)
			return roles[i].bit;
	return 0;
}

/* Store trouble is reported as such (503/500), never as "log in again". */
static int resolve_error(int r)
{
	return (r == IV_ERR_BUSY || r == IV_ERR_STORE || r == IV_ERR_NOMEM) ? r
									  : IV_ERR_UNAUTHENTICATED;
}

int auth_resolve_at(struct service *svc, const char *session_token, const char *bearer,
		    int64_t now_ms, struct principal *out)
{
	int r;

	memset(out, 0, sizeof(*out));
	if (bearer != NULL) {
		struct apikey_record k;
		if ((r = apikey_lookup(svc->st, bearer, now_ms, &k)) != 0)
			return resolve_error(r);
		out->kind = PRINCIPAL_APIKEY;
		out->tenant_id = k.tenant_id;
		out->apikey_id = k.id;
		snprintf(out->tenant, sizeof(out->tenant), "%s", k.tenant);
		snprintf(out->name, sizeof(out->name), "%s", k.name);
		snprintf(out->role, sizeof(out->role), "%s", k.role);
		out->role_bit = role_bit(k.role);
		secmem_wipe(k.secret_hash, sizeof(k.secret_hash));
	} else if (session_token != NULL) {
		struct session_record s;
		if ((r = session_lookup(svc->st, &svc->cfg, session_token, now_ms, &s)) != 0)
			return resolve_error(r);
		out->kind = PRINCIPAL_USER;
		out->tenant_id = s.tenant_id;
		out->user_id = s.user_id;
		out->session_id = s.id;
		out->via_cookie = 1;
		snprintf(out->tenant, sizeof(out->tenant), "%s", s.tenant);
		snprintf(out->name, sizeof(out->name), "%s", s.username);
		snprintf(out->role, sizeof(out->role), "%s", s.role);
		/* a tenant that requires TOTP lets a user without it do nothing but enrol */
		out->role_bit = s.tenant_require_totp && !s.user_totp_enabled ? ROLE_TOTP_ENROLMENT
									       : role_bit(s.role);
	} else
		return IV_ERR_UNAUTHENTICATED;
	if (out->role_bit == 0) {
		memset(out, 0, sizeof(*out));
		return IV_ERR_UNAUTHENTICATED;
	}
	return 0;
}

int auth_resolve(struct service *svc, const char *session_token, const char *bearer,
		 struct principal *out)
{
	return auth_resolve_at(svc, session_token, bearer, store_now_ms(), out);
}

int auth_route_denied(const struct principal *who, int route_roles)
{
	if (who->role_bit == ROLE_TOTP_ENROLMENT && !(route_roles & ROLE_TOTP_ENROLMENT))
		return IV_ERR_TOTP_REQUIRED;
	return IV_ERR_FORBIDDEN;
}

int auth_service_init(struct service *svc)
{
	struct password_policy *pp = NULL;
	char *path;
	int r;

	if ((r = totp_init()) != 0) {
		log_error("auth: liboath initialisation failed");
		return r;
	}
	if (svc->cfg.auth_common_passwords == NULL ||
	    (path = config_path(&svc->cfg, svc->cfg.auth_common_passwords)) == NULL)
		return IV_ERR_NOMEM;
	r = password_policy_load(path, COMMON_PASSWORDS_MIN, &pp);
	if (r == IV_ERR_NOT_FOUND)
		log_error("auth: the common-password list %s is missing: it is installed with "
			  "iotvault (cmake --install), or name another file with at least %d entries "
			  "in [auth] common_passwords; refusing to start without a password policy",
			  path, COMMON_PASSWORDS_MIN);
	free(path);
	if (r != 0)
		return r == IV_ERR_NOT_FOUND ? IV_ERR_CONFIG : r;
	log_info("auth: %zu common passwords loaded", password_policy_size(pp));
	svc->password_policy = pp;
	return 0;
}

void auth_service_free(struct service *svc)
{
	if (svc == NULL)
		return;
	password_policy_free(svc->password_policy);
	svc->password_policy = NULL;
}
