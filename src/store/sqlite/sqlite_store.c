/* SQLite backend of the store interface: one connection, WAL mode, every
 * query a persistent prepared statement with bound parameters, numbered
 * migrations applied at open. */
#include "iotvault/log.h"
#include "iotvault/secmem.h"
#include "iotvault/store.h"
#include "store/migrations.h"
#include "store/sqlite/sqlite_internal.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum query {
	Q_TENANT_CREATE,
	Q_TENANT_BY_NAME,
	Q_USER_CREATE,
	Q_USER_GET,
	Q_DEVICE_INSERT,
	Q_DEVICE_BY_ID,
	Q_DEVICE_BY_EUI,
	Q_DEVICE_BY_ENDPOINT,
	Q_DEVICE_LIST,
	Q_DEVICE_UPDATE,
	Q_TENANT_GET,
	Q_TENANT_LIST,
	Q_AUDIT_LIST_TENANT,
	Q_DEVICE_DELETE,
	Q_SECRET_PUT,
	Q_SECRET_GET,
	Q_SECRET_DELETE_OWNER,
	Q_SECRET_LIST_BELOW,
	Q_SECRET_COUNT_BELOW,
	Q_SECRET_REWRAP,
	Q_MK_INSERT,
	Q_MK_LIST,
	Q_MK_SET_STATE,
	Q_AUDIT_LAST,
	Q_AUDIT_INSERT,
	Q_AUDIT_ITERATE,
	Q_AUDIT_HEAD_GET,
	Q_AUDIT_HEAD_SET,
	Q_COUNT
};

#define DEVICE_COLUMNS SQ_DEVICE_COLUMNS
#define SECRET_COLUMNS                                                                       \
	"id, tenant_id, owner_kind, owner_id, field, format, mk_version, wrapped_dek, ciphertext, " \
	"created_at"
#define AUDIT_COLUMNS \
	"seq, ts_ms, tenant_id, actor_type, actor, source, action, object, outcome, detail, mac"

static const char *const query_sql[Q_COUNT] = {
	[Q_TENANT_CREATE] = "INSERT INTO tenants (name, created_at) VALUES (?1, ?2)",
	[Q_TENANT_BY_NAME] = "SELECT id, name, created_at FROM tenants WHERE name = ?1",
	[Q_USER_CREATE] = "INSERT INTO users (tenant_id, username, password_hash, role, created_at) "
			  "VALUES (?1, ?2, ?3, ?4, ?5)",
	[Q_USER_GET] = "SELECT id, tenant_id, username, role, password_hash, created_at FROM users "
		       "WHERE tenant_id = ?1 AND username = ?2",
	[Q_DEVICE_INSERT] = "INSERT INTO devices (tenant_id, kind, name, tags, dev_eui, join_eui, "
			    "mac_version, endpoint, psk_identity, created_at, updated_at) "
			    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
	[Q_DEVICE_BY_ID] = "SELECT " DEVICE_COLUMNS " FROM devices WHERE tenant_id = ?1 AND id = ?2",
	[Q_DEVICE_BY_EUI] = "SELECT " DEVICE_COLUMNS
			    " FROM devices WHERE tenant_id = ?1 AND dev_eui = ?2",
	[Q_DEVICE_BY_ENDPOINT] = "SELECT " DEVICE_COLUMNS
				 " FROM devices WHERE tenant_id = ?1 AND endpoint = ?2",
	[Q_DEVICE_LIST] = "SELECT " DEVICE_COLUMNS " FROM devices WHERE tenant_id = ?1 AND id > ?2 "
			  "AND (?4 IS NULL OR kind = ?4) "
			  "AND (?5 IS NULL OR instr(',' || tags || ',', ',' || ?5 || ',') > 0) "
			  "AND (?6 IS NULL OR instr(lower(name), lower(?6)) > 0) "
			  "AND (?7 IS NULL OR join_eui = ?7) "
			  "ORDER BY id LIMIT ?3",
	[Q_DEVICE_UPDATE] = "UPDATE devices SET name = ?3, tags = ?4, join_eui = coalesce(?5, join_eui), "
			    "updated_at = ?6 WHERE tenant_id = ?1 AND id = ?2",
	[Q_TENANT_GET] = "SELECT id, name, created_at FROM tenants WHERE id = ?1",
	[Q_TENANT_LIST] = "SELECT id, name, created_at FROM tenants ORDER BY id",
	[Q_AUDIT_LIST_TENANT] = "SELECT " AUDIT_COLUMNS " FROM audit_log WHERE tenant_id = ?1 AND seq > ?2 "
				"AND (?4 IS NULL OR action = ?4 OR (substr(?4, -2) = '.*' AND "
				"substr(action, 1, length(?4) - 1) = substr(?4, 1, length(?4) - 1))) "
				"ORDER BY seq LIMIT ?3",
	[Q_DEVICE_DELETE] = "DELETE FROM devices WHERE tenant_id = ?1 AND id = ?2",
	[Q_SECRET_PUT] = "INSERT INTO secrets (tenant_id, owner_kind, owner_id, field, format, "
			 "mk_version, wrapped_dek, ciphertext, created_at) "
			 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
			 "ON CONFLICT (owner_kind, owner_id, field) DO UPDATE SET "
			 "tenant_id = excluded.tenant_id, format = excluded.format, "
			 "mk_version = excluded.mk_version, wrapped_dek = excluded.wrapped_dek, "
			 "ciphertext = excluded.ciphertext, created_at = excluded.created_at",
	[Q_SECRET_GET] = "SELECT " SECRET_COLUMNS
			 " FROM secrets WHERE owner_kind = ?1 AND owner_id = ?2 AND field = ?3",
	[Q_SECRET_DELETE_OWNER] = "DELETE FROM secrets WHERE owner_kind = ?1 AND owner_id = ?2",
	[Q_SECRET_LIST_BELOW] = "SELECT " SECRET_COLUMNS
				" FROM secrets WHERE mk_version < ?1 ORDER BY id LIMIT ?2",
	[Q_SECRET_COUNT_BELOW] = "SELECT count(*) FROM secrets WHERE mk_version < ?1",
	[Q_SECRET_REWRAP] = "UPDATE secrets SET mk_version = ?3, wrapped_dek = ?4 "
			    "WHERE id = ?1 AND mk_version = ?2",
	[Q_MK_INSERT] = "INSERT INTO master_keys (version, provider, state, params, check_blob, "
			"created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[Q_MK_LIST] = "SELECT m.version, m.provider, m.state, m.params, m.check_blob, m.created_at, "
		      "(SELECT count(*) FROM secrets s WHERE s.mk_version = m.version) "
		      "FROM master_keys m ORDER BY m.version",
	[Q_MK_SET_STATE] = "UPDATE master_keys SET state = ?2 WHERE version = ?1",
	[Q_AUDIT_LAST] = "SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1",
	[Q_AUDIT_INSERT] = "INSERT INTO audit_log (" AUDIT_COLUMNS
			   ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[Q_AUDIT_ITERATE] = "SELECT " AUDIT_COLUMNS " FROM audit_log WHERE seq >= ?1 ORDER BY seq",
	[Q_AUDIT_HEAD_GET] = "SELECT seq, mac, head_mac FROM audit_head WHERE id = 1",
	[Q_AUDIT_HEAD_SET] = "INSERT INTO audit_head (id, seq, mac, head_mac) VALUES (1, ?1, ?2, ?3) "
			     "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, mac = excluded.mac, "
			     "head_mac = excluded.head_mac",
};

struct sqlite_store {
	struct sqlite_backend pub;
	sqlite3_stmt *stmts[Q_COUNT];
	int tx_depth;
};

static struct sqlite_store *be(struct store *st) { return (struct sqlite_store *)st; }

static int map_rc(struct sqlite_store *s, int rc, const char *what)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_CONSTRAINT:
		return IV_ERR_EXISTS;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		log_warning("store: %s: database busy", what);
		return IV_ERR_BUSY;
	case SQLITE_NOMEM:
		return IV_ERR_NOMEM;
	default:
		log_error("store: %s: %s", what, sqlite3_errmsg(s->pub.db));
		return IV_ERR_STORE;
	}
}

int sq_step_done(struct store *st, sqlite3_stmt *q, const char *what)
{
	int r = sq_map_rc(sq_backend(st), sqlite3_step(q), what);
	sq_done(q);
	return r;
}

int sq_map_rc(struct sqlite_backend *b, int rc, const char *what)
{
	return map_rc((struct sqlite_store *)b, rc, what);
}

/* A reset, unbound prepared statement for Q (prepared on first use). */
static sqlite3_stmt *stmt(struct sqlite_store *s, enum query q)
{
	if (s->stmts[q] == NULL) {
		if (sqlite3_prepare_v3(s->pub.db, query_sql[q], -1, SQLITE_PREPARE_PERSISTENT,
				       &s->stmts[q], NULL) != SQLITE_OK) {
			log_error("store: prepare %d: %s", (int)q, sqlite3_errmsg(s->pub.db));
			return NULL;
		}
	}
	sqlite3_reset(s->stmts[q]);
	sqlite3_clear_bindings(s->stmts[q]);
	return s->stmts[q];
}

sqlite3_stmt *sq_stmt_cached(struct sqlite_backend *b, sqlite3_stmt **slot, const char *sql)
{
	if (*slot == NULL && sqlite3_prepare_v3(b->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot,
						NULL) != SQLITE_OK) {
		log_error("store: prepare: %s", sqlite3_errmsg(b->db));
		return NULL;
	}
	sqlite3_reset(*slot);
	sqlite3_clear_bindings(*slot);
	return *slot;
}

void sq_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static void done(sqlite3_stmt *st)
{
	/* release read locks and any bound blobs at once */
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

int sq_copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);
	if (t == NULL)
		n = 0;
	if (n >= cap)
		return IV_ERR_STORE;
	if (n)
		memcpy(dst, t, n);
	dst[n] = '\0';
	return 0;
}

int sq_copy_blob(uint8_t *dst, size_t cap, size_t *len, sqlite3_stmt *st, int col)
{
	const void *b = sqlite3_column_blob(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);
	if (n > cap)
		return IV_ERR_STORE;
	if (n)
		memcpy(dst, b, n);
	*len = n;
	return 0;
}

static int exec_simple(struct sqlite_store *s, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(s->pub.db, sql, NULL, NULL, &err);
	if (rc != SQLITE_OK) {
		log_error("store: %s: %s", sql, err ? err : "?");
		sqlite3_free(err);
		return map_rc(s, rc, "exec");
	}
	return 0;
}

/* ---- transactions ---- */

static int sq_begin(struct store *st, int write)
{
	struct sqlite_store *s = be(st);
	char sql[48];
	int r;
	if (s->tx_depth == 0)
		r = exec_simple(s, write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
	else {
		snprintf(sql, sizeof(sql), "SAVEPOINT sp%d", s->tx_depth);
		r = exec_simple(s, sql);
	}
	if (r == 0)
		s->tx_depth++;
	return r;
}

static int sq_commit(struct store *st)
{
	struct sqlite_store *s = be(st);
	char sql[48];
	int r;
	if (s->tx_depth <= 0)
		return IV_ERR_INTERNAL;
	if (s->tx_depth == 1)
		r = exec_simple(s, "COMMIT");
	else {
		snprintf(sql, sizeof(sql), "RELEASE sp%d", s->tx_depth - 1);
		r = exec_simple(s, sql);
	}
	if (r == 0)
		s->tx_depth--;
	return r;
}

static int sq_rollback(struct store *st)
{
	struct sqlite_store *s = be(st);
	char sql[64];
	int r;
	if (s->tx_depth <= 0)
		return IV_ERR_INTERNAL;
	if (s->tx_depth == 1)
		r = exec_simple(s, "ROLLBACK");
	else {
		snprintf(sql, sizeof(sql), "ROLLBACK TO sp%d; RELEASE sp%d", s->tx_depth - 1,
			 s->tx_depth - 1);
		r = exec_simple(s, sql);
	}
	s->tx_depth--;
	return r;
}

/* ---- tenants and users ---- */

static int sq_tenant_create(struct store *st, const char *name, int64_t *id)
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_TENANT_CREATE);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, store_now_ms());
	r = map_rc(s, sqlite3_step(q), "tenant_create");
	if (r == 0)
		*id = sqlite3_last_insert_rowid(s->pub.db);
	done(q);
	return r;
}

static int sq_tenant_get_by_name(struct store *st, const char *name, struct tenant *out)
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_TENANT_BY_NAME);
	int r, rc;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		out->id = sqlite3_column_int64(q, 0);
		r = sq_copy_text(out->name, sizeof(out->name), q, 1);
		out->created_at = sqlite3_column_int64(q, 2);
	} else
		r = rc == SQLITE_DONE ? IV_ERR_NOT_FOUND : map_rc(s, rc, "tenant_get");
	done(q);
	return r;
}

static int sq_tenant_get(struct store *st, int64_t id, struct tenant *out)
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_TENANT_GET);
	int r, rc;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		out->id = sqlite3_column_int64(q, 0);
		r = sq_copy_text(out->name, sizeof(out->name), q, 1);
		out->created_at = sqlite3_column_int64(q, 2);
	} else
		r = rc == SQLITE_DONE ? IV_ERR_NOT_FOUND : map_rc(s, rc, "tenant_get");
	done(q);
	return r;
}

static int sq_tenant_list(struct store *st, int (*cb)(void *ctx, const struct tenant *t), void *ctx)
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_TENANT_LIST);
	struct tenant t;
	int r = 0, rc;
	if (q == NULL)
		return IV_ERR_STORE;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		t.id = sqlite3_column_int64(q, 0);
		t.created_at = sqlite3_column_int64(q, 2);
		if ((r = sq_copy_text(t.name, sizeof(t.name), q, 1)) != 0 || (r = cb(ctx, &t)) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = map_rc(s, rc, "tenant_list");
	done(q);
	return r;
}

static int sq_user_create(struct store *st, struct user_record *u)
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_USER_CREATE);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	u->created_at = store_now_ms();
	sqlite3_bind_int64(q, 1, u->tenant_id);
	sqlite3_bind_text(q, 2, u->username, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, u->password_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, u->role, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, u->created_at);
	r = map_rc(s, sqlite3_step(q), "user_create");
	if (r == 0)
		u->id = sqlite3_last_insert_rowid(s->pub.db);
	done(q);
	return r;
}

static int sq_user_get(struct store *st, int64_t tenant_id, const char *username,
		       struct user_record *out)
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_USER_GET);
	int r, rc;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_text(q, 2, username, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		out->id = sqlite3_column_int64(q, 0);
		out->tenant_id = sqlite3_column_int64(q, 1);
		r = sq_copy_text(out->username, sizeof(out->username), q, 2);
		if (r == 0)
			r = sq_copy_text(out->role, sizeof(out->role), q, 3);
		if (r == 0)
			r = sq_copy_text(out->password_hash, sizeof(out->password_hash), q, 4);
		out->created_at = sqlite3_column_int64(q, 5);
	} else
		r = rc == SQLITE_DONE ? IV_ERR_NOT_FOUND : map_rc(s, rc, "user_get");
	done(q);
	return r;
}

/* ---- devices ---- */

void sq_bind_text_or_null(sqlite3_stmt *q, int col, const char *text)
{
	if (text == NULL || text[0] == '\0')
		sqlite3_bind_null(q, col);
	else
		sqlite3_bind_text(q, col, text, -1, SQLITE_STATIC);
}

static int sq_device_insert(struct store *st, struct device_record *d)
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_DEVICE_INSERT);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	d->created_at = d->updated_at = store_now_ms();
	sqlite3_bind_int64(q, 1, d->tenant_id);
	sqlite3_bind_text(q, 2, d->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, d->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, d->tags, -1, SQLITE_STATIC);
	sq_bind_text_or_null(q, 5, d->dev_eui);
	sq_bind_text_or_null(q, 6, d->join_eui);
	sq_bind_text_or_null(q, 7, d->mac_version);
	sq_bind_text_or_null(q, 8, d->endpoint);
	sq_bind_text_or_null(q, 9, d->psk_identity);
	sqlite3_bind_int64(q, 10, d->created_at);
	r = map_rc(s, sqlite3_step(q), "device_insert");
	if (r == 0)
		d->id = sqlite3_last_insert_rowid(s->pub.db);
	done(q);
	return r;
}

int sq_read_device(sqlite3_stmt *q, struct device_record *d)
{
	int r;
	memset(d, 0, sizeof(*d));
	d->id = sqlite3_column_int64(q, 0);
	d->tenant_id = sqlite3_column_int64(q, 1);
	if ((r = sq_copy_text(d->kind, sizeof(d->kind), q, 2)) ||
	    (r = sq_copy_text(d->name, sizeof(d->name), q, 3)) ||
	    (r = sq_copy_text(d->tags, sizeof(d->tags), q, 4)) ||
	    (r = sq_copy_text(d->dev_eui, sizeof(d->dev_eui), q, 5)) ||
	    (r = sq_copy_text(d->join_eui, sizeof(d->join_eui), q, 6)) ||
	    (r = sq_copy_text(d->mac_version, sizeof(d->mac_version), q, 7)) ||
	    (r = sq_copy_text(d->endpoint, sizeof(d->endpoint), q, 8)) ||
	    (r = sq_copy_text(d->psk_identity, sizeof(d->psk_identity), q, 9)))
		return r;
	d->created_at = sqlite3_column_int64(q, 10);
	d->updated_at = sqlite3_column_int64(q, 11);
	return 0;
}

static int sq_device_get(struct store *st, int64_t tenant_id, const struct device_selector *sel,
			 struct device_record *out)
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q;
	int r, rc;

	if (sel->id > 0) {
		if ((q = stmt(s, Q_DEVICE_BY_ID)) == NULL)
			return IV_ERR_STORE;
		sqlite3_bind_int64(q, 2, sel->id);
	} else if (sel->dev_eui != NULL) {
		if ((q = stmt(s, Q_DEVICE_BY_EUI)) == NULL)
			return IV_ERR_STORE;
		sqlite3_bind_text(q, 2, sel->dev_eui, -1, SQLITE_STATIC);
	} else if (sel->endpoint != NULL) {
		if ((q = stmt(s, Q_DEVICE_BY_ENDPOINT)) == NULL)
			return IV_ERR_STORE;
		sqlite3_bind_text(q, 2, sel->endpoint, -1, SQLITE_STATIC);
	} else
		return IV_ERR_INVALID;
	sqlite3_bind_int64(q, 1, tenant_id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		r = sq_read_device(q, out);
	else
		r = rc == SQLITE_DONE ? IV_ERR_NOT_FOUND : map_rc(s, rc, "device_get");
	done(q);
	return r;
}

static int sq_device_list(struct store *st, int64_t tenant_id, const struct device_filter *filter,
			  int64_t after_id, int limit, store_device_cb cb, void *ctx)
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_DEVICE_LIST);
	struct device_record d;
	int r = 0, rc;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, after_id);
	sqlite3_bind_int(q, 3, limit);
	if (filter != NULL) {
		sq_bind_text_or_null(q, 4, filter->kind);
		sq_bind_text_or_null(q, 5, filter->tag);
		sq_bind_text_or_null(q, 6, filter->name_contains);
		sq_bind_text_or_null(q, 7, filter->join_eui);
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if ((r = sq_read_device(q, &d)) != 0 || (r = cb(ctx, &d)) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = map_rc(s, rc, "device_list");
	done(q);
	return r;
}

static int sq_device_update(struct store *st, const struct device_record *d)
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_DEVICE_UPDATE);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, d->tenant_id);
	sqlite3_bind_int64(q, 2, d->id);
	sqlite3_bind_text(q, 3, d->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, d->tags, -1, SQLITE_STATIC);
	sq_bind_text_or_null(q, 5, d->join_eui);
	sqlite3_bind_int64(q, 6, store_now_ms());
	r = map_rc(s, sqlite3_step(q), "device_update");
	if (r == 0 && sqlite3_changes(s->pub.db) == 0)
		r = IV_ERR_NOT_FOUND;
	done(q);
	return r;
}

static int sq_device_delete(struct store *st, int64_t tenant_id, int64_t id)
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_DEVICE_DELETE);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, id);
	r = map_rc(s, sqlite3_step(q), "device_delete");
	if (r == 0 && sqlite3_changes(s->pub.db) == 0)
		r = IV_ERR_NOT_FOUND;
	done(q);
	return r;
}

/* ---- secrets ---- */

static int sq_secret_put(struct store *st, const struct secret_record *sec)
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_SECRET_PUT);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, sec->tenant_id);
	sqlite3_bind_text(q, 2, sec->owner_kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, sec->owner_id);
	sqlite3_bind_text(q, 4, sec->field, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 5, (int)sec->format);
	sqlite3_bind_int64(q, 6, sec->mk_version);
	sqlite3_bind_blob(q, 7, sec->wrapped_dek, (int)sec->wrapped_dek_len, SQLITE_STATIC);
	sqlite3_bind_blob(q, 8, sec->ciphertext, (int)sec->ciphertext_len, SQLITE_STATIC);
	sqlite3_bind_int64(q, 9, sec->created_at);
	r = map_rc(s, sqlite3_step(q), "secret_put");
	done(q);
	return r;
}

static int read_secret(sqlite3_stmt *q, struct secret_record *sec)
{
	int r;
	sec->id = sqlite3_column_int64(q, 0);
	sec->tenant_id = sqlite3_column_int64(q, 1);
	if ((r = sq_copy_text(sec->owner_kind, sizeof(sec->owner_kind), q, 2)) != 0)
		return r;
	sec->owner_id = sqlite3_column_int64(q, 3);
	if ((r = sq_copy_text(sec->field, sizeof(sec->field), q, 4)) != 0)
		return r;
	sec->format = (uint32_t)sqlite3_column_int64(q, 5);
	sec->mk_version = (uint32_t)sqlite3_column_int64(q, 6);
	if ((r = sq_copy_blob(sec->wrapped_dek, sizeof(sec->wrapped_dek), &sec->wrapped_dek_len, q, 7)) ||
	    (r = sq_copy_blob(sec->ciphertext, sizeof(sec->ciphertext), &sec->ciphertext_len, q, 8)))
		return r;
	sec->created_at = sqlite3_column_int64(q, 9);
	return 0;
}

static int sq_secret_get(struct store *st, const char *owner_kind, int64_t owner_id,
			 const char *field, struct secret_record *out)
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_SECRET_GET);
	int r, rc;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_text(q, 1, owner_kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, owner_id);
	sqlite3_bind_text(q, 3, field, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		r = read_secret(q, out);
	else
		r = rc == SQLITE_DONE ? IV_ERR_NOT_FOUND : map_rc(s, rc, "secret_get");
	done(q);
	return r;
}

static int sq_secret_delete_owner(struct store *st, const char *owner_kind, int64_t owner_id)
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_SECRET_DELETE_OWNER);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_text(q, 1, owner_kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, owner_id);
	r = map_rc(s, sqlite3_step(q), "secret_delete_owner");
	done(q);
	return r;
}

static int sq_secret_list_below(struct store *st, uint32_t version, int limit, store_secret_cb cb,
				void *ctx)
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_SECRET_LIST_BELOW);
	struct secret_record *sec;
	int r = 0, rc;
	if (q == NULL)
		return IV_ERR_STORE;
	if ((sec = calloc(1, sizeof(*sec))) == NULL)
		return IV_ERR_NOMEM;
	sqlite3_bind_int64(q, 1, version);
	sqlite3_bind_int(q, 2, limit);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if ((r = read_secret(q, sec)) != 0 || (r = cb(ctx, sec)) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = map_rc(s, rc, "secret_list_below");
	done(q);
	free(sec);
	return r;
}

static int64_t sq_secret_count_below(struct store *st, uint32_t version)
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_SECRET_COUNT_BELOW);
	int64_t n;
	int rc;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, version);
	rc = sqlite3_step(q);
	n = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : map_rc(s, rc, "secret_count_below");
	done(q);
	return n;
}

static int sq_secret_rewrap(struct store *st, int64_t id, uint32_t old_version,
			    uint32_t new_version, const uint8_t *wrapped, size_t wrapped_len)
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_SECRET_REWRAP);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, old_version);
	sqlite3_bind_int64(q, 3, new_version);
	sqlite3_bind_blob(q, 4, wrapped, (int)wrapped_len, SQLITE_STATIC);
	r = map_rc(s, sqlite3_step(q), "secret_rewrap");
	if (r == 0 && sqlite3_changes(s->pub.db) == 0)
		r = IV_ERR_NOT_FOUND;
	done(q);
	return r;
}

/* ---- master keys ---- */

static int sq_master_key_insert(struct store *st, const struct master_key_record *mk)
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_MK_INSERT);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, mk->version);
	sqlite3_bind_text(q, 2, mk->provider, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, mk->state, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 4, mk->params, (int)mk->params_len, SQLITE_STATIC);
	sqlite3_bind_blob(q, 5, mk->check, (int)mk->check_len, SQLITE_STATIC);
	sqlite3_bind_int64(q, 6, mk->created_at);
	r = map_rc(s, sqlite3_step(q), "master_key_insert");
	done(q);
	return r;
}

static int sq_master_key_list(struct store *st, store_master_key_cb cb, void *ctx)
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_MK_LIST);
	struct master_key_record mk;
	int r = 0, rc;
	if (q == NULL)
		return IV_ERR_STORE;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		memset(&mk, 0, sizeof(mk));
		mk.version = (uint32_t)sqlite3_column_int64(q, 0);
		if ((r = sq_copy_text(mk.provider, sizeof(mk.provider), q, 1)) ||
		    (r = sq_copy_text(mk.state, sizeof(mk.state), q, 2)) ||
		    (r = sq_copy_blob(mk.params, sizeof(mk.params), &mk.params_len, q, 3)) ||
		    (r = sq_copy_blob(mk.check, sizeof(mk.check), &mk.check_len, q, 4)))
			break;
		mk.created_at = sqlite3_column_int64(q, 5);
		mk.secrets = sqlite3_column_int64(q, 6);
		if ((r = cb(ctx, &mk)) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = map_rc(s, rc, "master_key_list");
	done(q);
	return r;
}

static int sq_master_key_set_state(struct store *st, uint32_t version, const char *state)
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_MK_SET_STATE);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, version);
	sqlite3_bind_text(q, 2, state, -1, SQLITE_STATIC);
	r = map_rc(s, sqlite3_step(q), "master_key_set_state");
	if (r == 0 && sqlite3_changes(s->pub.db) == 0)
		r = IV_ERR_NOT_FOUND;
	done(q);
	return r;
}

/* ---- audit ---- */

static int sq_audit_last(struct store *st, int64_t *seq, uint8_t mac[static 32])
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_AUDIT_LAST);
	size_t n = 0;
	int r = 0, rc;
	if (q == NULL)
		return IV_ERR_STORE;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*seq = sqlite3_column_int64(q, 0);
		r = sq_copy_blob(mac, 32, &n, q, 1);
		if (r == 0 && n != 32)
			r = IV_ERR_STORE;
	} else if (rc == SQLITE_DONE) {
		*seq = 0;
		memset(mac, 0, 32);
	} else
		r = map_rc(s, rc, "audit_last");
	done(q);
	return r;
}

static int sq_audit_insert(struct store *st, const struct audit_record *a)
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_AUDIT_INSERT);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, a->seq);
	sqlite3_bind_int64(q, 2, a->ts_ms);
	sqlite3_bind_int64(q, 3, a->tenant_id);
	sqlite3_bind_text(q, 4, a->actor_type, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, a->actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, a->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 7, a->action, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 8, a->object, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 9, a->outcome, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 10, a->detail, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 11, a->mac, 32, SQLITE_STATIC);
	r = map_rc(s, sqlite3_step(q), "audit_insert");
	done(q);
	return r;
}

static void read_audit(sqlite3_stmt *q, struct audit_record *a)
{
	size_t n;
	memset(a, 0, sizeof(*a));
	a->seq = sqlite3_column_int64(q, 0);
	a->ts_ms = sqlite3_column_int64(q, 1);
	a->tenant_id = sqlite3_column_int64(q, 2);
	/* an over-long or mis-sized field is tampering; the chain check reports it */
	if (sq_copy_text(a->actor_type, sizeof(a->actor_type), q, 3) ||
	    sq_copy_text(a->actor, sizeof(a->actor), q, 4) ||
	    sq_copy_text(a->source, sizeof(a->source), q, 5) ||
	    sq_copy_text(a->action, sizeof(a->action), q, 6) ||
	    sq_copy_text(a->object, sizeof(a->object), q, 7) ||
	    sq_copy_text(a->outcome, sizeof(a->outcome), q, 8) ||
	    sq_copy_text(a->detail, sizeof(a->detail), q, 9) ||
	    sq_copy_blob(a->mac, sizeof(a->mac), &n, q, 10) || n != 32)
		a->actor_type[0] = '\x01'; /* can never verify */
}

static int run_audit_query(struct sqlite_store *s, sqlite3_stmt *q, store_audit_cb cb, void *ctx)
{
	struct audit_record a;
	int r = 0, rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		read_audit(q, &a);
		if ((r = cb(ctx, &a)) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = map_rc(s, rc, "audit query");
	done(q);
	return r;
}

static int sq_audit_iterate(struct store *st, int64_t from_seq, store_audit_cb cb, void *ctx)
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_AUDIT_ITERATE);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, from_seq);
	return run_audit_query(s, q, cb, ctx);
}

static int sq_audit_list_tenant(struct store *st, int64_t tenant_id, int64_t after, int limit,
				const char *action, store_audit_cb cb, void *ctx)
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_AUDIT_LIST_TENANT);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, after);
	sqlite3_bind_int(q, 3, limit);
	sq_bind_text_or_null(q, 4, action);
	return run_audit_query(s, q, cb, ctx);
}

static int sq_audit_head_get(struct store *st, int64_t *seq, uint8_t mac[static 32],
			     uint8_t head_mac[static 32])
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_AUDIT_HEAD_GET);
	size_t n1 = 0, n2 = 0;
	int r, rc;
	if (q == NULL)
		return IV_ERR_STORE;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*seq = sqlite3_column_int64(q, 0);
		r = sq_copy_blob(mac, 32, &n1, q, 1);
		if (r == 0)
			r = sq_copy_blob(head_mac, 32, &n2, q, 2);
		if (r == 0 && (n1 != 32 || n2 != 32))
			r = IV_ERR_STORE;
	} else
		r = rc == SQLITE_DONE ? IV_ERR_NOT_FOUND : map_rc(s, rc, "audit_head_get");
	done(q);
	return r;
}

static int sq_audit_head_set(struct store *st, int64_t seq, const uint8_t mac[static 32],
			     const uint8_t head_mac[static 32])
{
	struct sqlite_store *s = be(st);
	sqlite3_stmt *q = stmt(s, Q_AUDIT_HEAD_SET);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, seq);
	sqlite3_bind_blob(q, 2, mac, 32, SQLITE_STATIC);
	sqlite3_bind_blob(q, 3, head_mac, 32, SQLITE_STATIC);
	r = map_rc(s, sqlite3_step(q), "audit_head_set");
	done(q);
	return r;
}

/* ---- open, migrate, close ---- */

static void sq_close(struct store *st)
{
	struct sqlite_store *s = be(st);
	if (s == NULL)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(s->stmts[i]);
	for (size_t i = 0; i < SQ_AUX_STMTS; i++)
		sqlite3_finalize(s->pub.aux[i]);
	sqlite3_close(s->pub.db);
	free(s);
}

extern const struct store_auth_ops sqlite_auth_ops;
extern const struct store_lorawan_ops sqlite_lorawan_ops;
extern const struct store_appserver_ops sqlite_appserver_ops;
extern const struct store_hygiene_ops sqlite_hygiene_ops;
extern const struct store_lwm2m_ops sqlite_lwm2m_ops;
extern const struct store_lwm2m_pki_ops sqlite_lwm2m_pki_ops;
extern const struct store_lwm2m_rebootstrap_ops sqlite_lwm2m_rebootstrap_ops;
extern const struct store_lwm2m_firmware_ops sqlite_lwm2m_firmware_ops;
extern const struct store_lwm2m_observe_ops sqlite_lwm2m_observe_ops;
extern const struct store_lwm2m_queue_ops sqlite_lwm2m_queue_ops;

static const struct store_ops sqlite_ops = {
	.name = "sqlite",
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.tenant_create = sq_tenant_create,
	.tenant_get_by_name = sq_tenant_get_by_name,
	.tenant_get = sq_tenant_get,
	.tenant_list = sq_tenant_list,
	.user_create = sq_user_create,
	.user_get = sq_user_get,
	.device_insert = sq_device_insert,
	.device_get = sq_device_get,
	.device_list = sq_device_list,
	.device_delete = sq_device_delete,
	.device_update = sq_device_update,
	.secret_put = sq_secret_put,
	.secret_get = sq_secret_get,
	.secret_delete_owner = sq_secret_delete_owner,
	.secret_list_below = sq_secret_list_below,
	.secret_count_below = sq_secret_count_below,
	.secret_rewrap = sq_secret_rewrap,
	.master_key_insert = sq_master_key_insert,
	.master_key_list = sq_master_key_list,
	.master_key_set_state = sq_master_key_set_state,
	.audit_last = sq_audit_last,
	.audit_insert = sq_audit_insert,
	.audit_iterate = sq_audit_iterate,
	.audit_list_tenant = sq_audit_list_tenant,
	.audit_head_get = sq_audit_head_get,
	.audit_head_set = sq_audit_head_set,
	.auth = &sqlite_auth_ops,
	.lorawan = &sqlite_lorawan_ops,
	.outbox = &sqlite_outbox_ops,
	.appserver = &sqlite_appserver_ops,
	.hygiene = &sqlite_hygiene_ops,
	.lwm2m = &sqlite_lwm2m_ops,
	.lwm2m_pki = &sqlite_lwm2m_pki_ops,
	.lwm2m_rebootstrap = &sqlite_lwm2m_rebootstrap_ops,
	.lwm2m_firmware = &sqlite_lwm2m_firmware_ops,
	.lwm2m_observe = &sqlite_lwm2m_observe_ops,
	.lwm2m_queue = &sqlite_lwm2m_queue_ops,
};

static int migrate(struct sqlite_store *s)
{
	sqlite3_stmt *q = NULL;
	int current = 0, latest = 0, r;

	if ((r = exec_simple(s, "CREATE TABLE IF NOT EXISTS schema_migrations ("
				"version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
				"applied_at INTEGER NOT NULL)")) != 0)
		return r;
	if (sqlite3_prepare_v2(s->pub.db, "SELECT coalesce(max(version), 0) FROM schema_migrations", -1,
			       &q, NULL) != SQLITE_OK)
		return map_rc(s, sqlite3_errcode(s->pub.db), "migrate");
	if (sqlite3_step(q) == SQLITE_ROW)
		current = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	for (const struct migration *m = sqlite_migrations; m->sql != NULL; m++)
		latest = m->number;
	if (current > latest) {
		log_error("store: database schema version %d is newer than this program (%d)", current,
			  latest);
		return IV_ERR_SCHEMA;
	}
	for (const struct migration *m = sqlite_migrations; m->sql != NULL; m++) {
		if (m->number <= current)
			continue;
		if ((r = exec_simple(s, "BEGIN IMMEDIATE")) != 0)
			return r;
		if ((r = exec_simple(s, m->sql)) != 0)
			goto fail;
		if (sqlite3_prepare_v2(s->pub.db,
				       "INSERT INTO schema_migrations (version, name, applied_at) "
				       "VALUES (?1, ?2, ?3)",
				       -1, &q, NULL) != SQLITE_OK) {
			r = IV_ERR_STORE;
			goto fail;
		}
		sqlite3_bind_int(q, 1, m->number);
		sqlite3_bind_text(q, 2, m->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, store_now_ms());
		r = map_rc(s, sqlite3_step(q), "migrate");
		sqlite3_finalize(q);
		if (r)
			goto fail;
		if ((r = exec_simple(s, "COMMIT")) != 0)
			goto fail;
		log_debug("store: applied migration %s", m->name);
	}
	return 0;
fail:
	exec_simple(s, "ROLLBACK");
	return r;
}

int store_sqlite_open(const char *path, int create, int busy_timeout_ms, struct store **out)
{
	struct sqlite_store *s = calloc(1, sizeof(*s));
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	int rc, r;

	if (s == NULL)
		return IV_ERR_NOMEM;
	s->pub.base.ops = &sqlite_ops;
	rc = sqlite3_open_v2(path, &s->pub.db, flags, NULL);
	if (rc != SQLITE_OK) {
		log_error("store: cannot open database %s: %s", path,
			  s->pub.db ? sqlite3_errmsg(s->pub.db) : "out of memory");
		r = rc == SQLITE_CANTOPEN ? IV_ERR_NOT_FOUND : IV_ERR_STORE;
		goto fail;
	}
	sqlite3_busy_timeout(s->pub.db, busy_timeout_ms);
	sqlite3_extended_result_codes(s->pub.db, 1);
	/* secure_delete: freed pages (old ciphertexts, old wrapped keys) are zeroed */
	if ((r = exec_simple(s, "PRAGMA journal_mode = WAL")) != 0 ||
	    (r = exec_simple(s, "PRAGMA synchronous = FULL")) != 0 ||
	    (r = exec_simple(s, "PRAGMA foreign_keys = ON")) != 0 ||
	    (r = exec_simple(s, "PRAGMA secure_delete = ON")) != 0 || (r = migrate(s)) != 0)
		goto fail;
	*out = &s->pub.base;
	return 0;
fail:
	sq_close(&s->pub.base);
	return r;
}
