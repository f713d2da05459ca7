/* SQLite queries of the authentication layer (include/iotvault/store_auth.h).
 * Statements are cached in the backend's auxiliary slots 0..63. */
#include "iotvault/store_auth.h"
#include "store/sqlite/sqlite_internal.h"

#include <string.h>

enum auth_query {
	A_TENANT_GET,
	A_TENANT_SET_REQUIRE_TOTP,
	A_USER_FIND,
	A_USER_BY_ID,
	A_USER_LIST,
	A_USER_SET_ROLE,
	A_USER_SET_DISABLED,
	A_USER_SET_PASSWORD,
	A_USER_DELETE,
	A_USER_COUNT_ADMINS,
	A_USER_SET_TOTP,
	A_USER_USE_STEP,
	A_SESSION_INSERT,
	A_SESSION_GET,
	A_SESSION_TOUCH,
	A_SESSION_DELETE,
	A_SESSION_DELETE_USER,
	A_SESSION_PURGE,
	A_FAIL_RECORD,
	A_FAIL_COUNT_ACCOUNT,
	A_FAIL_COUNT_SOURCE,
	A_FAIL_DELETE_ACCOUNT,
	A_FAIL_PURGE,
	A_KEY_INSERT,
	A_KEY_GET,
	A_KEY_LIST,
	A_KEY_REVOKE,
	A_KEY_TOUCH,
	A_COUNT
};

/* this file owns aux slots 0..63 of struct sqlite_backend */
_Static_assert(A_COUNT <= 64, "sqlite_auth.c owns aux slots 0..63 only");

#define USER_COLUMNS                                                                      \
	"id, tenant_id, username, role, password_hash, created_at, disabled, totp_enabled, " \
	"totp_last_step"
#define KEY_COLUMNS                                                                             \
	"k.id, k.tenant_id, t.name, k.name, k.role, k.secret_hash, k.created_by, k.created_at, " \
	"k.last_used_at, k.revoked_at"

static const char *const auth_sql[A_COUNT] = {
	[A_TENANT_GET] = "SELECT id, name, created_at, require_totp FROM tenants WHERE id = ?1",
	[A_TENANT_SET_REQUIRE_TOTP] = "UPDATE tenants SET require_totp = ?2 WHERE id = ?1",
	[A_USER_FIND] = "SELECT " USER_COLUMNS " FROM users WHERE tenant_id = ?1 AND username = ?2",
	[A_USER_BY_ID] = "SELECT " USER_COLUMNS " FROM users WHERE tenant_id = ?1 AND id = ?2",
	[A_USER_LIST] = "SELECT id, tenant_id, username, role, '', created_at, disabled, "
			"totp_enabled, totp_last_step FROM users WHERE tenant_id = ?1 ORDER BY id",
	[A_USER_SET_ROLE] = "UPDATE users SET role = ?3 WHERE tenant_id = ?1 AND id = ?2",
	[A_USER_SET_DISABLED] = "UPDATE users SET disabled = ?3 WHERE tenant_id = ?1 AND id = ?2",
	[A_USER_SET_PASSWORD] = "UPDATE users SET password_hash = ?3 WHERE tenant_id = ?1 AND id = ?2",
	[A_USER_DELETE] = "DELETE FROM users WHERE tenant_id = ?1 AND id = ?2",
	[A_USER_COUNT_ADMINS] = "SELECT count(*) FROM users WHERE tenant_id = ?1 AND role = 'admin' "
				"AND disabled = 0",
	[A_USER_SET_TOTP] = "UPDATE users SET totp_enabled = ?3 WHERE tenant_id = ?1 AND id = ?2",
	[A_USER_USE_STEP] = "UPDATE users SET totp_last_step = ?3 "
			    "WHERE tenant_id = ?1 AND id = ?2 AND totp_last_step < ?3",
	[A_SESSION_INSERT] = "INSERT INTO sessions (token_hash, tenant_id, user_id, created_at, "
			     "last_seen_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[A_SESSION_GET] = "SELECT s.id, s.token_hash, s.tenant_id, s.user_id, s.created_at, "
			  "s.last_seen_at, s.expires_at, t.name, u.username, u.role, u.disabled, "
			  "u.totp_enabled, t.require_totp FROM sessions s "
			  "JOIN users u ON u.id = s.user_id AND u.tenant_id = s.tenant_id "
			  "JOIN tenants t ON t.id = s.tenant_id WHERE s.token_hash = ?1",
	[A_SESSION_TOUCH] = "UPDATE sessions SET last_seen_at = ?2 WHERE id = ?1 AND last_seen_at < ?2",
	[A_SESSION_DELETE] = "DELETE FROM sessions WHERE id = ?1",
	[A_SESSION_DELETE_USER] = "DELETE FROM sessions WHERE user_id = ?1 AND id <> ?2",
	[A_SESSION_PURGE] = "DELETE FROM sessions WHERE expires_at <= ?1 OR last_seen_at < ?2",
	[A_FAIL_RECORD] = "INSERT INTO login_failures (tenant, username, source, at_ms) "
			  "VALUES (?1, ?2, ?3, ?4)",
	[A_FAIL_COUNT_ACCOUNT] = "SELECT count(*) FROM login_failures WHERE tenant = ?1 AND "
				 "username = ?2 AND at_ms >= ?3",
	[A_FAIL_COUNT_SOURCE] = "SELECT count(*) FROM login_failures WHERE source = ?1 AND at_ms >= ?2",
	[A_FAIL_DELETE_ACCOUNT] = "DELETE FROM login_failures WHERE tenant = ?1 AND username = ?2",
	[A_FAIL_PURGE] = "DELETE FROM login_failures WHERE at_ms < ?1",
	[A_KEY_INSERT] = "INSERT INTO api_keys (tenant_id, name, role, secret_hash, created_by, "
			 "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[A_KEY_GET] = "SELECT " KEY_COLUMNS " FROM api_keys k JOIN tenants t ON t.id = k.tenant_id "
		      "WHERE k.id = ?1",
	[A_KEY_LIST] = "SELECT " KEY_COLUMNS " FROM api_keys k JOIN tenants t ON t.id = k.tenant_id "
		       "WHERE k.tenant_id = ?1 ORDER BY k.id",
	[A_KEY_REVOKE] = "UPDATE api_keys SET revoked_at = ?3 WHERE tenant_id = ?1 AND id = ?2 "
			 "AND revoked_at = 0",
	[A_KEY_TOUCH] = "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1",
};

static sqlite3_stmt *q_get(struct store *st, enum auth_query q)
{
	struct sqlite_backend *b = sq_backend(st);
	return sq_stmt_cached(b, &b->aux[q], auth_sql[q]);
}

/* Steps a statement that returns no rows; IV_ERR_NOT_FOUND when MUST_CHANGE
 * and no row changed. */
static int run_update(struct store *st, sqlite3_stmt *q, int must_change, const char *what)
{
	struct sqlite_backend *b = sq_backend(st);
	int r = sq_map_rc(b, sqlite3_step(q), what);
	if (r == 0 && must_change && sqlite3_changes(b->db) == 0)
		r = IV_ERR_NOT_FOUND;
	sq_done(q);
	return r;
}

/* Steps a "SELECT count(*)" statement. */
static int run_count(struct store *st, sqlite3_stmt *q, int64_t *n, const char *what)
{
	int rc = sqlite3_step(q);
	int r = 0;
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int64(q, 0);
	else
		r = sq_map_rc(sq_backend(st), rc, what);
	sq_done(q);
	return r;
}

static int copy_hash(uint8_t out[static AUTH_HASH_LEN], sqlite3_stmt *q, int col)
{
	size_t n = 0;
	int r = sq_copy_blob(out, AUTH_HASH_LEN, &n, q, col);
	if (r == 0 && n != AUTH_HASH_LEN)
		r = IV_ERR_STORE;
	return r;
}

/* ---- tenants ---- */

static int sa_tenant_get(struct store *st, int64_t id, struct tenant *out, int *require_totp)
{
	sqlite3_stmt *q = q_get(st, A_TENANT_GET);
	int r, rc;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		memset(out, 0, sizeof(*out));
		out->id = sqlite3_column_int64(q, 0);
		r = sq_copy_text(out->name, sizeof(out->name), q, 1);
		out->created_at = sqlite3_column_int64(q, 2);
		if (require_totp != NULL)
			*require_totp = sqlite3_column_int(q, 3) != 0;
	} else
		r = rc == SQLITE_DONE ? IV_ERR_NOT_FOUND : sq_map_rc(sq_backend(st), rc, "tenant_get");
	sq_done(q);
	return r;
}

static int sa_tenant_set_require_totp(struct store *st, int64_t id, int require_totp)
{
	sqlite3_stmt *q = q_get(st, A_TENANT_SET_REQUIRE_TOTP);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int(q, 2, require_totp ? 1 : 0);
	return run_update(st, q, 1, "tenant_set_require_totp");
}

/* ---- users ---- */

static int read_user(sqlite3_stmt *q, struct user_state *u)
{
	int r;
	memset(u, 0, sizeof(*u));
	u->rec.id = sqlite3_column_int64(q, 0);
	u->rec.tenant_id = sqlite3_column_int64(q, 1);
	if ((r = sq_copy_text(u->rec.username, sizeof(u->rec.username), q, 2)) ||
	    (r = sq_copy_text(u->rec.role, sizeof(u->rec.role), q, 3)) ||
	    (r = sq_copy_text(u->rec.password_hash, sizeof(u->rec.password_hash), q, 4)))
		return r;
	u->rec.created_at = sqlite3_column_int64(q, 5);
	u->disabled = sqlite3_column_int(q, 6) != 0;
	u->totp_enabled = sqlite3_column_int(q, 7) != 0;
	u->totp_last_step = sqlite3_column_int64(q, 8);
	return 0;
}

static int one_user(struct store *st, sqlite3_stmt *q, struct user_state *out, const char *what)
{
	int r, rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		r = read_user(q, out);
	else
		r = rc == SQLITE_DONE ? IV_ERR_NOT_FOUND : sq_map_rc(sq_backend(st), rc, what);
	sq_done(q);
	return r;
}

static int sa_user_find(struct store *st, int64_t tenant_id, const char *username,
			struct user_state *out)
{
	sqlite3_stmt *q = q_get(st, A_USER_FIND);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_text(q, 2, username, -1, SQLITE_STATIC);
	return one_user(st, q, out, "user_find");
}

static int sa_user_get_by_id(struct store *st, int64_t tenant_id, int64_t id,
			     struct user_state *out)
{
	sqlite3_stmt *q = q_get(st, A_USER_BY_ID);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, id);
	return one_user(st, q, out, "user_get_by_id");
}

static int sa_user_list(struct store *st, int64_t tenant_id, store_user_cb cb, void *ctx)
{
	sqlite3_stmt *q = q_get(st, A_USER_LIST);
	struct user_state u;
	int r = 0, rc;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if ((r = read_user(q, &u)) != 0 || (r = cb(ctx, &u)) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_map_rc(sq_backend(st), rc, "user_list");
	sq_done(q);
	return r;
}

static int sa_user_set_role(struct store *st, int64_t tenant_id, int64_t id, const char *role)
{
	sqlite3_stmt *q = q_get(st, A_USER_SET_ROLE);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, id);
	sqlite3_bind_text(q, 3, role, -1, SQLITE_STATIC);
	return run_update(st, q, 1, "user_set_role");
}

static int sa_user_set_disabled(struct store *st, int64_t tenant_id, int64_t id, int disabled)
{
	sqlite3_stmt *q = q_get(st, A_USER_SET_DISABLED);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, id);
	sqlite3_bind_int(q, 3, disabled ? 1 : 0);
	return run_update(st, q, 1, "user_set_disabled");
}

static int sa_user_set_password_hash(struct store *st, int64_t tenant_id, int64_t id,
				     const char *hash)
{
	sqlite3_stmt *q = q_get(st, A_USER_SET_PASSWORD);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, id);
	sqlite3_bind_text(q, 3, hash, -1, SQLITE_STATIC);
	return run_update(st, q, 1, "user_set_password_hash");
}

static int sa_user_delete(struct store *st, int64_t tenant_id, int64_t id)
{
	sqlite3_stmt *q = q_get(st, A_USER_DELETE);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, id);
	return run_update(st, q, 1, "user_delete");
}

static int sa_user_count_active_admins(struct store *st, int64_t tenant_id, int64_t *n)
{
	sqlite3_stmt *q = q_get(st, A_USER_COUNT_ADMINS);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	return run_count(st, q, n, "user_count_active_admins");
}

static int sa_user_set_totp_enabled(struct store *st, int64_t tenant_id, int64_t id, int enabled)
{
	sqlite3_stmt *q = q_get(st, A_USER_SET_TOTP);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, id);
	sqlite3_bind_int(q, 3, enabled ? 1 : 0);
	return run_update(st, q, 1, "user_set_totp_enabled");
}

static int sa_user_use_totp_step(struct store *st, int64_t tenant_id, int64_t id, int64_t step)
{
	sqlite3_stmt *q = q_get(st, A_USER_USE_STEP);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, id);
	sqlite3_bind_int64(q, 3, step);
	r = run_update(st, q, 1, "user_use_totp_step");
	/* no row changed: the step was already used (or the user is gone) */
	return r == IV_ERR_NOT_FOUND ? IV_ERR_REFUSED : r;
}

/* ---- sessions ---- */

static int sa_session_insert(struct store *st, struct session_record *s)
{
	sqlite3_stmt *q = q_get(st, A_SESSION_INSERT);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_blob(q, 1, s->token_hash, AUTH_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, s->tenant_id);
	sqlite3_bind_int64(q, 3, s->user_id);
	sqlite3_bind_int64(q, 4, s->created_at);
	sqlite3_bind_int64(q, 5, s->last_seen_at);
	sqlite3_bind_int64(q, 6, s->expires_at);
	r = sq_map_rc(sq_backend(st), sqlite3_step(q), "session_insert");
	if (r == 0)
		s->id = sqlite3_last_insert_rowid(sq_backend(st)->db);
	sq_done(q);
	return r;
}

static int sa_session_get(struct store *st, const uint8_t hash[static AUTH_HASH_LEN],
			  struct session_record *out)
{
	sqlite3_stmt *q = q_get(st, A_SESSION_GET);
	int r, rc;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_blob(q, 1, hash, AUTH_HASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		memset(out, 0, sizeof(*out));
		out->id = sqlite3_column_int64(q, 0);
		r = copy_hash(out->token_hash, q, 1);
		out->tenant_id = sqlite3_column_int64(q, 2);
		out->user_id = sqlite3_column_int64(q, 3);
		out->created_at = sqlite3_column_int64(q, 4);
		out->last_seen_at = sqlite3_column_int64(q, 5);
		out->expires_at = sqlite3_column_int64(q, 6);
		if (r == 0)
			r = sq_copy_text(out->tenant, sizeof(out->tenant), q, 7);
		if (r == 0)
			r = sq_copy_text(out->username, sizeof(out->username), q, 8);
		if (r == 0)
			r = sq_copy_text(out->role, sizeof(out->role), q, 9);
		out->user_disabled = sqlite3_column_int(q, 10) != 0;
		out->user_totp_enabled = sqlite3_column_int(q, 11) != 0;
		out->tenant_require_totp = sqlite3_column_int(q, 12) != 0;
	} else
		r = rc == SQLITE_DONE ? IV_ERR_NOT_FOUND : sq_map_rc(sq_backend(st), rc, "session_get");
	sq_done(q);
	return r;
}

static int sa_session_touch(struct store *st, int64_t id, int64_t now_ms)
{
	sqlite3_stmt *q = q_get(st, A_SESSION_TOUCH);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, now_ms);
	return run_update(st, q, 0, "session_touch");
}

static int sa_session_delete(struct store *st, int64_t id)
{
	sqlite3_stmt *q = q_get(st, A_SESSION_DELETE);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, id);
	return run_update(st, q, 1, "session_delete");
}

static int sa_session_delete_user(struct store *st, int64_t user_id, int64_t except_id)
{
	sqlite3_stmt *q = q_get(st, A_SESSION_DELETE_USER);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, user_id);
	sqlite3_bind_int64(q, 2, except_id);
	return run_update(st, q, 0, "session_delete_user");
}

static int sa_session_purge(struct store *st, int64_t now_ms, int64_t idle_before_ms)
{
	sqlite3_stmt *q = q_get(st, A_SESSION_PURGE);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, now_ms);
	sqlite3_bind_int64(q, 2, idle_before_ms);
	return run_update(st, q, 0, "session_purge");
}

/* ---- login failures ---- */

static int sa_login_failure_record(struct store *st, const char *tenant, const char *username,
				   const char *source, int64_t at_ms)
{
	sqlite3_stmt *q = q_get(st, A_FAIL_RECORD);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_text(q, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, username, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, at_ms);
	return run_update(st, q, 0, "login_failure_record");
}

static int sa_login_failure_count_account(struct store *st, const char *tenant,
					  const char *username, int64_t since_ms, int64_t *n)
{
	sqlite3_stmt *q = q_get(st, A_FAIL_COUNT_ACCOUNT);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_text(q, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, username, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, since_ms);
	return run_count(st, q, n, "login_failure_count_account");
}

static int sa_login_failure_count_source(struct store *st, const char *source, int64_t since_ms,
					 int64_t *n)
{
	sqlite3_stmt *q = q_get(st, A_FAIL_COUNT_SOURCE);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_text(q, 1, source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, since_ms);
	return run_count(st, q, n, "login_failure_count_source");
}

static int sa_login_failure_delete_account(struct store *st, const char *tenant,
					   const char *username)
{
	sqlite3_stmt *q = q_get(st, A_FAIL_DELETE_ACCOUNT);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_text(q, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, username, -1, SQLITE_STATIC);
	return run_update(st, q, 0, "login_failure_delete_account");
}

static int sa_login_failure_purge(struct store *st, int64_t before_ms)
{
	sqlite3_stmt *q = q_get(st, A_FAIL_PURGE);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, before_ms);
	return run_update(st, q, 0, "login_failure_purge");
}

/* ---- API keys ---- */

static int sa_apikey_insert(struct store *st, struct apikey_record *k)
{
	sqlite3_stmt *q = q_get(st, A_KEY_INSERT);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, k->tenant_id);
	sqlite3_bind_text(q, 2, k->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, k->role, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 4, k->secret_hash, AUTH_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, k->created_by, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 6, k->created_at);
	r = sq_map_rc(sq_backend(st), sqlite3_step(q), "apikey_insert");
	if (r == 0)
		k->id = sqlite3_last_insert_rowid(sq_backend(st)->db);
	sq_done(q);
	return r;
}

static int read_key(sqlite3_stmt *q, struct apikey_record *k)
{
	int r;
	memset(k, 0, sizeof(*k));
	k->id = sqlite3_column_int64(q, 0);
	k->tenant_id = sqlite3_column_int64(q, 1);
	if ((r = sq_copy_text(k->tenant, sizeof(k->tenant), q, 2)) ||
	    (r = sq_copy_text(k->name, sizeof(k->name), q, 3)) ||
	    (r = sq_copy_text(k->role, sizeof(k->role), q, 4)) ||
	    (r = copy_hash(k->secret_hash, q, 5)) ||
	    (r = sq_copy_text(k->created_by, sizeof(k->created_by), q, 6)))
		return r;
	k->created_at = sqlite3_column_int64(q, 7);
	k->last_used_at = sqlite3_column_int64(q, 8);
	k->revoked_at = sqlite3_column_int64(q, 9);
	return 0;
}

static int sa_apikey_get(struct store *st, int64_t id, struct apikey_record *out)
{
	sqlite3_stmt *q = q_get(st, A_KEY_GET);
	int r, rc;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		r = read_key(q, out);
	else
		r = rc == SQLITE_DONE ? IV_ERR_NOT_FOUND : sq_map_rc(sq_backend(st), rc, "apikey_get");
	sq_done(q);
	return r;
}

static int sa_apikey_list(struct store *st, int64_t tenant_id, store_apikey_cb cb, void *ctx)
{
	sqlite3_stmt *q = q_get(st, A_KEY_LIST);
	struct apikey_record k;
	int r = 0, rc;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if ((r = read_key(q, &k)) != 0 || (r = cb(ctx, &k)) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_map_rc(sq_backend(st), rc, "apikey_list");
	sq_done(q);
	return r;
}

static int sa_apikey_revoke(struct store *st, int64_t tenant_id, int64_t id, int64_t now_ms)
{
	sqlite3_stmt *q = q_get(st, A_KEY_REVOKE);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, id);
	sqlite3_bind_int64(q, 3, now_ms);
	return run_update(st, q, 1, "apikey_revoke");
}

static int sa_apikey_touch(struct store *st, int64_t id, int64_t now_ms)
{
	sqlite3_stmt *q = q_get(st, A_KEY_TOUCH);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, now_ms);
	return run_update(st, q, 0, "apikey_touch");
}

const struct store_auth_ops sqlite_auth_ops = {
	.tenant_get = sa_tenant_get,
	.tenant_set_require_totp = sa_tenant_set_require_totp,
	.user_find = sa_user_find,
	.user_get_by_id = sa_user_get_by_id,
	.user_list = sa_user_list,
	.user_set_role = sa_user_set_role,
	.user_set_disabled = sa_user_set_disabled,
	.user_set_password_hash = sa_user_set_password_hash,
	.user_delete = sa_user_delete,
	.user_count_active_admins = sa_user_count_active_admins,
	.user_set_totp_enabled = sa_user_set_totp_enabled,
	.user_use_totp_step = sa_user_use_totp_step,
	.session_insert = sa_session_insert,
	.session_get = sa_session_get,
	.session_touch = sa_session_touch,
	.session_delete = sa_session_delete,
	.session_delete_user = sa_session_delete_user,
	.session_purge = sa_session_purge,
	.login_failure_record = sa_login_failure_record,
	.login_failure_count_account = sa_login_failure_count_account,
	.login_failure_count_source = sa_login_failure_count_source,
	.login_failure_delete_account = sa_login_failure_delete_account,
	.login_failure_purge = sa_login_failure_purge,
	.apikey_insert = sa_apikey_insert,
	.apikey_get = sa_apikey_get,
	.apikey_list = sa_apikey_list,
	.apikey_revoke = sa_apikey_revoke,
	.apikey_touch = sa_apikey_touch,
};
