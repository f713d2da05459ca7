/* Login sessions: a 256-bit random token lives only in the client's
 * __Host- cookie; the store keeps its SHA-256. A session ends at its absolute
 * expiry, after the idle timeout, at logout, and when its user changes the
 * password or is disabled or deleted. */
#include "auth/auth_internal.h"
#include "iotvault/crypto.h"
#include "iotvault/secmem.h"

#include <stdio.h>
#include <string.h>

/* Writing last_seen_at on every request would make each read a write; the
 * idle clock only needs a fraction of the timeout's precision. */
static int64_t touch_granularity_ms(const struct config *cfg)
{
	int64_t g = (int64_t)cfg->session_idle_timeout_s * 1000 / 10;
	return g < 60000 ? g : 60000;
}

int session_create(struct store *st, const struct config *cfg, int64_t tenant_id,
		   int64_t user_id, int64_t now_ms, char token[static SESSION_TOKEN_TEXT_LEN],
		   struct session_record *out)
{
	uint8_t raw[SESSION_TOKEN_LEN];
	struct session_record s;
	int r;

	memset(&s, 0, sizeof(s));
	random_bytes(raw, sizeof(raw));
	auth_hash(raw, sizeof(raw), s.token_hash);
	s.tenant_id = tenant_id;
	s.user_id = user_id;
	s.created_at = s.last_seen_at = now_ms;
	s.expires_at = now_ms + (int64_t)cfg->session_absolute_timeout_s * 1000;
	if ((r = st->ops->auth->session_insert(st, &s)) != 0)
		goto out;
	auth_b64url_encode(raw, sizeof(raw), token, SESSION_TOKEN_TEXT_LEN);
	if (out != NULL)
		*out = s;
	/* success */
	r = 0;
out:
	secmem_wipe(raw, sizeof(raw));
	return r;
}

int session_lookup(struct store *st, const struct config *cfg, const char *token,
		   int64_t now_ms, struct session_record *out)
{
	uint8_t raw[SESSION_TOKEN_LEN], hash[AUTH_HASH_LEN];
	int64_t idle_ms = (int64_t)cfg->session_idle_timeout_s * 1000;
	int r;

	if (token == NULL ||
	    auth_b64url_decode(token, strlen(token), raw, sizeof(raw)) != 0) {
		r = IV_ERR_UNAUTHENTICATED;
		goto out;
	}
	auth_hash(raw, sizeof(raw), hash);
	r = st->ops->auth->session_get(st, hash, out);
	if (r == IV_ERR_NOT_FOUND) {
		r = IV_ERR_UNAUTHENTICATED;
		goto out;
	}
	if (r != 0)
		goto out;
	if (now_ms >= out->expires_at || now_ms - out->last_seen_at > idle_ms ||
	    out->user_disabled) {
		/* best effort: an expired row is refused whether or not this succeeds */
		(void)st->ops->auth->session_delete(st, out->id);
		r = IV_ERR_UNAUTHENTICATED;
		goto out;
	}
	if (now_ms - out->last_seen_at >= touch_granularity_ms(cfg)) {
		if ((r = st->ops->auth->session_touch(st, out->id, now_ms)) != 0)
			goto out;
		out->last_seen_at = now_ms;
	}
	/* success */
	r = 0;
out:
	secmem_wipe(raw, sizeof(raw));
	return r;
}

int session_cookie(char *out, size_t cap, const char *token, int max_age_s)
{
	/* __Host-: Secure, Path=/ and no Domain, so no sibling host can set or read it */
	int n = snprintf(out, cap, "%s=%s; Path=/; Max-Age=%d; Secure; HttpOnly; SameSite=Strict",
			 SESSION_COOKIE_NAME, token ? token : "", token ? max_age_s : 0);
	if (n < 0 || (size_t)n >= cap) {
		if (cap > 0)
			secmem_wipe(out, cap);
		return IV_ERR_TOO_LARGE;
	}
	return 0;
}
