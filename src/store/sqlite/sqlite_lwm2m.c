/* SQLite queries of the LwM2M server: device lookup by PSK identity or
 * endpoint, DM credentials (their sealed keys go with them through the
 * triggers of migration 0009) and registrations. Statements live in the
 * backend's auxiliary slots 192..223 (see sqlite_internal.h). */
#include "iotvault/store_lwm2m.h"
#include "iotvault/log.h"
#include "store/sqlite/sqlite_internal.h"

#include <stdio.h>
#include <string.h>

#define SLOT_BASE 192

enum mq {
	M_DEVICE_BY_IDENTITY,
	M_DEVICE_BY_ENDPOINT,
	M_CRED_INSERT,
	M_CRED_BY_IDENTITY,
	M_CRED_GET,
	M_CRED_RETIRE_OTHERS,
	M_CRED_ACTIVATE,
	M_CRED_LIST,
	M_REG_OLD_LOCATION,
	M_REG_DELETE_DEVICE,
	M_REG_INSERT,
	M_REG_GET,
	M_REG_BY_LOCATION,
	M_REG_UPDATE,
	M_REG_DELETE,
	M_REG_EXPIRED,
	M_REG_LIST,
	M_COUNT
};

_Static_assert(SLOT_BASE + M_COUNT <= SQ_AUX_STMTS, "aux statement slots exhausted");
_Static_assert(SLOT_BASE + M_COUNT <= 224, "LwM2M slots are 192..223");

#define DEVICE_COLUMNS SQ_DEVICE_COLUMNS
#define CRED_COLUMNS                                                                     \
	"id, tenant_id, device_id, identity, state, created_at, coalesce(activated_at, 0), " \
	"coalesce(retired_at, 0)"
#define REG_COLUMNS                                                                          \
	"id, tenant_id, device_id, location, endpoint, lwm2m_version, binding, queue_mode, "     \
	"lifetime_s, object_links, address, security, coalesce(credential_id, 0), registered_at, " \
	"updated_at, expires_at"

static const char *const sql[M_COUNT] = {
	[M_DEVICE_BY_IDENTITY] = "SELECT " DEVICE_COLUMNS " FROM devices WHERE kind = 'lwm2m' AND "
				 "psk_identity = ?1",
	[M_DEVICE_BY_ENDPOINT] = "SELECT " DEVICE_COLUMNS " FROM devices WHERE kind = 'lwm2m' AND "
				 "endpoint = ?1",
	[M_CRED_INSERT] = "INSERT INTO lwm2m_dm_credentials (tenant_id, device_id, identity, state, "
			  "created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
	[M_CRED_BY_IDENTITY] = "SELECT " CRED_COLUMNS " FROM lwm2m_dm_credentials WHERE identity = ?1",
	[M_CRED_GET] = "SELECT " CRED_COLUMNS " FROM lwm2m_dm_credentials WHERE id = ?1",
	[M_CRED_RETIRE_OTHERS] = "UPDATE lwm2m_dm_credentials SET state = 'retired', retired_at = ?3 "
				 "WHERE device_id = ?1 AND id <> ?2 AND state <> 'retired' AND "
				 "(?4 IS NULL OR state = ?4)",
	[M_CRED_ACTIVATE] = "UPDATE lwm2m_dm_credentials SET state = 'active', activated_at = ?2 "
			    "WHERE id = ?1 AND state = 'pending'",
	[M_CRED_LIST] = "SELECT " CRED_COLUMNS " FROM lwm2m_dm_credentials WHERE device_id = ?1 "
			"ORDER BY id DESC",
	[M_REG_OLD_LOCATION] = "SELECT location FROM lwm2m_registrations WHERE device_id = ?1",
	[M_REG_DELETE_DEVICE] = "DELETE FROM lwm2m_registrations WHERE device_id = ?1",
	[M_REG_INSERT] = "INSERT INTO lwm2m_registrations (tenant_id, device_id, location, endpoint, "
			 "lwm2m_version, binding, queue_mode, lifetime_s, object_links, address, "
			 "security, credential_id, registered_at, updated_at, expires_at) VALUES "
			 "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, nullif(?12, 0), ?13, ?14, ?15)",
	[M_REG_GET] = "SELECT " REG_COLUMNS " FROM lwm2m_registrations WHERE device_id = ?1",
	[M_REG_BY_LOCATION] = "SELECT " REG_COLUMNS " FROM lwm2m_registrations WHERE location = ?1",
	[M_REG_UPDATE] = "UPDATE lwm2m_registrations SET lifetime_s = ?2, binding = ?3, "
			 "queue_mode = ?4, object_links = ?5, address = ?6, updated_at = ?7, "
			 "expires_at = ?8 WHERE location = ?1",
	[M_REG_DELETE] = "DELETE FROM lwm2m_registrations WHERE location = ?1",
	[M_REG_EXPIRED] = "SELECT " REG_COLUMNS " FROM lwm2m_registrations WHERE expires_at <= ?1 "
			  "ORDER BY expires_at LIMIT ?2",
	[M_REG_LIST] = "SELECT " REG_COLUMNS " FROM lwm2m_registrations ORDER BY id",
};

static sqlite3_stmt *q_(struct store *st, enum mq q)
{
	struct sqlite_backend *b = sq_backend(st);
	return sq_stmt_cached(b, &b->aux[SLOT_BASE + q], sql[q]);
}

static int read_cred(sqlite3_stmt *q, struct lwm2m_credential_record *c)
{
	int r;
	memset(c, 0, sizeof(*c));
	c->id = sqlite3_column_int64(q, 0);
	c->tenant_id = sqlite3_column_int64(q, 1);
	c->device_id = sqlite3_column_int64(q, 2);
	if ((r = sq_copy_text(c->identity, sizeof(c->identity), q, 3)) ||
	    (r = sq_copy_text(c->state, sizeof(c->state), q, 4)))
		return r;
	c->created_at = sqlite3_column_int64(q, 5);
	c->activated_at = sqlite3_column_int64(q, 6);
	c->retired_at = sqlite3_column_int64(q, 7);
	return 0;
}

static int read_reg(sqlite3_stmt *q, struct lwm2m_registration_record *g)
{
	int r;
	memset(g, 0, sizeof(*g));
	g->id = sqlite3_column_int64(q, 0);
	g->tenant_id = sqlite3_column_int64(q, 1);
	g->device_id = sqlite3_column_int64(q, 2);
	if ((r = sq_copy_text(g->location, sizeof(g->location), q, 3)) ||
	    (r = sq_copy_text(g->endpoint, sizeof(g->endpoint), q, 4)) ||
	    (r = sq_copy_text(g->lwm2m_version, sizeof(g->lwm2m_version), q, 5)) ||
	    (r = sq_copy_text(g->binding, sizeof(g->binding), q, 6)) ||
	    (r = sq_copy_text(g->object_links, sizeof(g->object_links), q, 9)) ||
	    (r = sq_copy_text(g->address, sizeof(g->address), q, 10)) ||
	    (r = sq_copy_text(g->security, sizeof(g->security), q, 11)))
		return r;
	g->queue_mode = sqlite3_column_int(q, 7);
	g->lifetime_s = sqlite3_column_int64(q, 8);
	g->credential_id = sqlite3_column_int64(q, 12);
	g->registered_at = sqlite3_column_int64(q, 13);
	g->updated_at = sqlite3_column_int64(q, 14);
	g->expires_at = sqlite3_column_int64(q, 15);
	return 0;
}

/* Steps Q once: a row is read by READ into OUT, no row is IV_ERR_NOT_FOUND. */
#define ONE_ROW(st, q, read, out, what)                                                   \
	do {                                                                              \
		int rc_ = sqlite3_step(q), r_;                                            \
		if (rc_ == SQLITE_ROW)                                                    \
			r_ = read(q, out);                                                \
		else                                                                      \
			r_ = rc_ == SQLITE_DONE ? IV_ERR_NOT_FOUND                        \
						: sq_map_rc(sq_backend(st), rc_, what);   \
		sq_done(q);                                                               \
		return r_;                                                                \
	} while (0)

static int device_by_text(struct store *st, enum mq which, const char *text,
			  struct device_record *out)
{
	sqlite3_stmt *q = q_(st, which);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_text(q, 1, text, -1, SQLITE_STATIC);
	ONE_ROW(st, q, sq_read_device, out, "lwm2m_device");
}

static int device_by_psk_identity(struct store *st, const char *identity, struct device_record *out)
{
	return device_by_text(st, M_DEVICE_BY_IDENTITY, identity, out);
}

static int device_by_endpoint(struct store *st, const char *endpoint, struct device_record *out)
{
	return device_by_text(st, M_DEVICE_BY_ENDPOINT, endpoint, out);
}

static int credential_insert(struct store *st, struct lwm2m_credential_record *c)
{
	sqlite3_stmt *q = q_(st, M_CRED_INSERT);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	c->created_at = store_now_ms();
	sqlite3_bind_int64(q, 1, c->tenant_id);
	sqlite3_bind_int64(q, 2, c->device_id);
	sqlite3_bind_text(q, 3, c->identity, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, c->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, c->created_at);
	r = sq_step_done(st, q, "lwm2m_credential_insert");
	if (r == 0)
		c->id = sqlite3_last_insert_rowid(sq_backend(st)->db);
	return r;
}

static int credential_get_by_identity(struct store *st, const char *identity,
				      struct lwm2m_credential_record *out)
{
	sqlite3_stmt *q = q_(st, M_CRED_BY_IDENTITY);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_text(q, 1, identity, -1, SQLITE_STATIC);
	ONE_ROW(st, q, read_cred, out, "lwm2m_credential");
}

static int credential_get(struct store *st, int64_t id, struct lwm2m_credential_record *out)
{
	sqlite3_stmt *q = q_(st, M_CRED_GET);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, id);
	ONE_ROW(st, q, read_cred, out, "lwm2m_credential");
}

static int credential_retire_others(struct store *st, int64_t device_id, int64_t keep_id,
				    const char *state, int64_t *retired)
{
	sqlite3_stmt *q = q_(st, M_CRED_RETIRE_OTHERS);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, device_id);
	sqlite3_bind_int64(q, 2, keep_id);
	sqlite3_bind_int64(q, 3, store_now_ms());
	if (state != NULL)
		sqlite3_bind_text(q, 4, state, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 4);
	r = sq_step_done(st, q, "lwm2m_credential_retire");
	if (r == 0 && retired != NULL)
		*retired = sqlite3_changes(sq_backend(st)->db);
	return r;
}

static int credential_activate(struct store *st, int64_t id)
{
	sqlite3_stmt *q = q_(st, M_CRED_ACTIVATE);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, store_now_ms());
	r = sq_step_done(st, q, "lwm2m_credential_activate");
	if (r == 0 && sqlite3_changes(sq_backend(st)->db) == 0)
		r = IV_ERR_NOT_FOUND;
	return r;
}

static int credential_list(struct store *st, int64_t device_id, store_lwm2m_credential_cb cb,
			   void *ctx)
{
	sqlite3_stmt *q = q_(st, M_CRED_LIST);
	struct lwm2m_credential_record c;
	int r = 0, rc;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, device_id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if ((r = read_cred(q, &c)) != 0 || (r = cb(ctx, &c)) != 0)
			break;
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_map_rc(sq_backend(st), rc, "lwm2m_credential_list");
	sq_done(q);
	return r;
}

static int registration_put(struct store *st, struct lwm2m_registration_record *g,
			    char old_location[static LWM2M_LOCATION_MAX + 1])
{
	sqlite3_stmt *q;
	int r, rc;

	old_location[0] = '\0';
	if ((q = q_(st, M_REG_OLD_LOCATION)) == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, g->device_id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		r = sq_copy_text(old_location, LWM2M_LOCATION_MAX + 1, q, 0);
	else
		r = rc == SQLITE_DONE ? 0 : sq_map_rc(sq_backend(st), rc, "lwm2m_registration");
	sq_done(q);
	if (r != 0)
		return r;
	if ((q = q_(st, M_REG_DELETE_DEVICE)) == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, g->device_id);
	if ((r = sq_step_done(st, q, "lwm2m_registration_replace")) != 0)
		return r;
	if ((q = q_(st, M_REG_INSERT)) == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, g->tenant_id);
	sqlite3_bind_int64(q, 2, g->device_id);
	sqlite3_bind_text(q, 3, g->location, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, g->endpoint, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, g->lwm2m_version, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, g->binding, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 7, g->queue_mode);
	sqlite3_bind_int64(q, 8, g->lifetime_s);
	sqlite3_bind_text(q, 9, g->object_links, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 10, g->address, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 11, g->security, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 12, g->credential_id);
	sqlite3_bind_int64(q, 13, g->registered_at);
	sqlite3_bind_int64(q, 14, g->updated_at);
	sqlite3_bind_int64(q, 15, g->expires_at);
	r = sq_step_done(st, q, "lwm2m_registration_insert");
	if (r == 0)
		g->id = sqlite3_last_insert_rowid(sq_backend(st)->db);
	return r;
}

static int registration_get(struct store *st, int64_t device_id,
			    struct lwm2m_registration_record *out)
{
	sqlite3_stmt *q = q_(st, M_REG_GET);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, device_id);
	ONE_ROW(st, q, read_reg, out, "lwm2m_registration");
}

static int registration_get_by_location(struct store *st, const char *location,
					struct lwm2m_registration_record *out)
{
	sqlite3_stmt *q = q_(st, M_REG_BY_LOCATION);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_text(q, 1, location, -1, SQLITE_STATIC);
	ONE_ROW(st, q, read_reg, out, "lwm2m_registration");
}

static int registration_update(struct store *st, const struct lwm2m_registration_record *g)
{
	sqlite3_stmt *q = q_(st, M_REG_UPDATE);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_text(q, 1, g->location, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, g->lifetime_s);
	sqlite3_bind_text(q, 3, g->binding, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 4, g->queue_mode);
	sqlite3_bind_text(q, 5, g->object_links, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, g->address, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 7, g->updated_at);
	sqlite3_bind_int64(q, 8, g->expires_at);
	r = sq_step_done(st, q, "lwm2m_registration_update");
	if (r == 0 && sqlite3_changes(sq_backend(st)->db) == 0)
		r = IV_ERR_NOT_FOUND;
	return r;
}

static int registration_delete(struct store *st, const char *location)
{
	sqlite3_stmt *q = q_(st, M_REG_DELETE);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_text(q, 1, location, -1, SQLITE_STATIC);
	r = sq_step_done(st, q, "lwm2m_registration_delete");
	if (r == 0 && sqlite3_changes(sq_backend(st)->db) == 0)
		r = IV_ERR_NOT_FOUND;
	return r;
}

static int reg_iterate(struct store *st, sqlite3_stmt *q, store_lwm2m_registration_cb cb, void *ctx)
{
	struct lwm2m_registration_record g;
	int r = 0, rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if ((r = read_reg(q, &g)) != 0 || (r = cb(ctx, &g)) != 0)
			break;
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_map_rc(sq_backend(st), rc, "lwm2m_registration_list");
	sq_done(q);
	return r;
}

static int registration_list_expired(struct store *st, int64_t now_ms, int limit,
				     store_lwm2m_registration_cb cb, void *ctx)
{
	sqlite3_stmt *q = q_(st, M_REG_EXPIRED);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, now_ms);
	sqlite3_bind_int(q, 2, limit);
	return reg_iterate(st, q, cb, ctx);
}

static int registration_list(struct store *st, store_lwm2m_registration_cb cb, void *ctx)
{
	sqlite3_stmt *q = q_(st, M_REG_LIST);
	if (q == NULL)
		return IV_ERR_STORE;
	return reg_iterate(st, q, cb, ctx);
}

const struct store_lwm2m_ops sqlite_lwm2m_ops = {
	.device_by_psk_identity = device_by_psk_identity,
	.device_by_endpoint = device_by_endpoint,
	.credential_insert = credential_insert,
	.credential_get_by_identity = credential_get_by_identity,
	.credential_get = credential_get,
	.credential_retire_others = credential_retire_others,
	.credential_activate = credential_activate,
	.credential_list = credential_list,
	.registration_put = registration_put,
	.registration_get = registration_get,
	.registration_get_by_location = registration_get_by_location,
	.registration_update = registration_update,
	.registration_delete = registration_delete,
	.registration_list_expired = registration_list_expired,
	.registration_list = registration_list,
};
