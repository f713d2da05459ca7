/* SQLite queries of LwM2M observations and notifications (migration 0011).
 * Statements live in the backend's auxiliary slots 240..255 (see
 * sqlite_internal.h; 224..239 are left to other LwM2M tables). */
#include "iotvault/store_lwm2m_observe.h"
#include "store/sqlite/sqlite_internal.h"

#include <string.h>

#define SLOT_BASE 240

enum oq {
	O_INSERT,
	O_GET,
	O_BY_TOKEN,
	O_TOUCH,
	O_DELETE,
	O_DELETE_DEVICE,
	O_LIST,
	O_COUNT_DEVICE,
	N_INSERT,
	N_LIST,
	N_PURGE,
	N_TRIM,
	O_COUNT
};

_Static_assert(SLOT_BASE + O_COUNT <= SQ_AUX_STMTS, "aux statement slots exhausted");

#define OBS_COLUMNS \
	"id, tenant_id, device_id, path, token, address, last_seq, last_at, notifications, created_at"

static const char *const sql[O_COUNT] = {
	[O_INSERT] = "INSERT INTO lwm2m_observations (tenant_id, device_id, path, token, address, "
		     "last_seq, last_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[O_GET] = "SELECT " OBS_COLUMNS " FROM lwm2m_observations WHERE device_id = ?1 AND id = ?2",
	/* device 0 (a NoSec session): only devices registered over NoSec */
	[O_BY_TOKEN] = "SELECT " OBS_COLUMNS " FROM lwm2m_observations WHERE (device_id = ?1 OR "
		       "(?1 = 0 AND device_id IN (SELECT device_id FROM lwm2m_registrations "
		       "WHERE security = 'nosec'))) AND token = ?2 AND address = ?3",
	[O_TOUCH] = "UPDATE lwm2m_observations SET last_seq = ?2, last_at = ?3, "
		    "notifications = notifications + 1 WHERE id = ?1",
	[O_DELETE] = "DELETE FROM lwm2m_observations WHERE id = ?1",
	[O_DELETE_DEVICE] = "DELETE FROM lwm2m_observations WHERE (device_id = ?1 OR (?1 = 0 AND "
			    "device_id IN (SELECT device_id FROM lwm2m_registrations WHERE "
			    "security = 'nosec'))) AND "
			    "(?2 IS NULL OR address = ?2) AND (?1 <> 0 OR ?2 IS NOT NULL)",
	[O_LIST] = "SELECT " OBS_COLUMNS " FROM lwm2m_observations WHERE device_id = ?1 ORDER BY id",
	[O_COUNT_DEVICE] = "SELECT count(*) FROM lwm2m_observations WHERE device_id = ?1",
	[N_INSERT] = "INSERT INTO lwm2m_notifications (tenant_id, device_id, observation_id, path, "
		     "seq, content_format, records, received_at, expires_at) VALUES "
		     "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[N_LIST] = "SELECT id, tenant_id, device_id, observation_id, path, seq, content_format, "
		   "records, received_at, expires_at FROM lwm2m_notifications WHERE tenant_id = ?1 "
		   "AND device_id = ?2 AND (?3 = 0 OR observation_id = ?3) AND (?4 = 0 OR id < ?4) "
		   "AND expires_at > ?5 ORDER BY id DESC LIMIT ?6",
	[N_PURGE] = "DELETE FROM lwm2m_notifications WHERE expires_at <= ?1",
	[N_TRIM] = "DELETE FROM lwm2m_notifications WHERE device_id = ?1 AND id <= (SELECT id FROM "
		   "lwm2m_notifications WHERE device_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
};

static sqlite3_stmt *q_(struct store *st, enum oq q)
{
	struct sqlite_backend *b = sq_backend(st);
	return sq_stmt_cached(b, &b->aux[SLOT_BASE + q], sql[q]);
}

static int read_obs(sqlite3_stmt *q, struct lwm2m_observation_record *o)
{
	int r;
	memset(o, 0, sizeof(*o));
	o->id = sqlite3_column_int64(q, 0);
	o->tenant_id = sqlite3_column_int64(q, 1);
	o->device_id = sqlite3_column_int64(q, 2);
	if ((r = sq_copy_text(o->path, sizeof(o->path), q, 3)) != 0 ||
	    (r = sq_copy_blob(o->token, sizeof(o->token), &o->token_len, q, 4)) != 0 ||
	    (r = sq_copy_text(o->address, sizeof(o->address), q, 5)) != 0)
		return r;
	o->last_seq = sqlite3_column_int64(q, 6);
	o->last_at = sqlite3_column_int64(q, 7);
	o->notifications = sqlite3_column_int64(q, 8);
	o->created_at = sqlite3_column_int64(q, 9);
	return 0;
}

/* One row of Q into OUT: IV_ERR_NOT_FOUND when there is none. */
static int get_one(struct store *st, sqlite3_stmt *q, struct lwm2m_observation_record *out,
		   const char *what)
{
	int rc = sqlite3_step(q), r;
	if (rc == SQLITE_ROW)
		r = read_obs(q, out);
	else if (rc == SQLITE_DONE)
		r = IV_ERR_NOT_FOUND;
	else
		r = sq_map_rc(sq_backend(st), rc, what);
	sq_done(q);
	return r;
}

static int observation_insert(struct store *st, struct lwm2m_observation_record *o)
{
	sqlite3_stmt *q = q_(st, O_INSERT);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, o->tenant_id);
	sqlite3_bind_int64(q, 2, o->device_id);
	sqlite3_bind_text(q, 3, o->path, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 4, o->token, (int)o->token_len, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, o->address, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 6, o->last_seq);
	sqlite3_bind_int64(q, 7, o->last_at);
	sqlite3_bind_int64(q, 8, o->created_at);
	r = sq_step_done(st, q, "observation_insert");
	if (r == 0)
		o->id = sqlite3_last_insert_rowid(sq_backend(st)->db);
	return r;
}

static int observation_get(struct store *st, int64_t device_id, int64_t id,
			   struct lwm2m_observation_record *out)
{
	sqlite3_stmt *q = q_(st, O_GET);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, device_id);
	sqlite3_bind_int64(q, 2, id);
	return get_one(st, q, out, "observation_get");
}

static int observation_by_token(struct store *st, int64_t device_id, const uint8_t *token,
				size_t token_len, const char *address,
				struct lwm2m_observation_record *out)
{
	sqlite3_stmt *q = q_(st, O_BY_TOKEN);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, device_id);
	/* a zero-length blob, not NULL, for the empty token */
	sqlite3_bind_blob(q, 2, token_len ? (const void *)token : "", (int)token_len, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, address, -1, SQLITE_STATIC);
	return get_one(st, q, out, "observation_by_token");
}

static int observation_touch(struct store *st, int64_t id, int64_t seq, int64_t at)
{
	sqlite3_stmt *q = q_(st, O_TOUCH);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, seq);
	sqlite3_bind_int64(q, 3, at);
	return sq_step_done(st, q, "observation_touch");
}

static int observation_delete(struct store *st, int64_t id)
{
	sqlite3_stmt *q = q_(st, O_DELETE);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, id);
	if ((r = sq_step_done(st, q, "observation_delete")) != 0)
		return r;
	return sqlite3_changes(sq_backend(st)->db) > 0 ? 0 : IV_ERR_NOT_FOUND;
}

static int observation_delete_device(struct store *st, int64_t device_id, const char *address,
				     int64_t *count)
{
	sqlite3_stmt *q = q_(st, O_DELETE_DEVICE);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, device_id);
	sq_bind_text_or_null(q, 2, address);
	if ((r = sq_step_done(st, q, "observation_delete_device")) != 0)
		return r;
	if (count != NULL)
		*count = sqlite3_changes(sq_backend(st)->db);
	return 0;
}

static int observation_list(struct store *st, int64_t device_id, store_lwm2m_observation_cb cb,
			    void *ctx)
{
	sqlite3_stmt *q = q_(st, O_LIST);
	struct lwm2m_observation_record o;
	int rc, r = 0;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, device_id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if ((r = read_obs(q, &o)) != 0 || (r = cb(ctx, &o)) != 0)
			break;
	if (r == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = sq_map_rc(sq_backend(st), rc, "observation_list");
	sq_done(q);
	return r;
}

static int observation_count(struct store *st, int64_t device_id, int64_t *count)
{
	sqlite3_stmt *q = q_(st, O_COUNT_DEVICE);
	int rc, r = 0;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, device_id);
	if ((rc = sqlite3_step(q)) == SQLITE_ROW)
		*count = sqlite3_column_int64(q, 0);
	else
		r = sq_map_rc(sq_backend(st), rc, "observation_count");
	sq_done(q);
	return r;
}

static int notification_insert(struct store *st, struct lwm2m_notification_record *n)
{
	sqlite3_stmt *q = q_(st, N_INSERT);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, n->tenant_id);
	sqlite3_bind_int64(q, 2, n->device_id);
	sqlite3_bind_int64(q, 3, n->observation_id);
	sqlite3_bind_text(q, 4, n->path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, n->seq);
	sqlite3_bind_int64(q, 6, (int64_t)n->content_format);
	sqlite3_bind_text(q, 7, n->records, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 8, n->received_at);
	sqlite3_bind_int64(q, 9, n->expires_at);
	r = sq_step_done(st, q, "notification_insert");
	if (r == 0)
		n->id = sqlite3_last_insert_rowid(sq_backend(st)->db);
	return r;
}

static int notification_list(struct store *st, int64_t tenant_id, int64_t device_id,
			     int64_t observation_id, int64_t before_id, int limit, int64_t now_ms,
			     store_lwm2m_notification_cb cb, void *ctx)
{
	sqlite3_stmt *q = q_(st, N_LIST);
	struct lwm2m_notification_record n;
	int rc, r = 0;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, device_id);
	sqlite3_bind_int64(q, 3, observation_id);
	sqlite3_bind_int64(q, 4, before_id);
	sqlite3_bind_int64(q, 5, now_ms);
	sqlite3_bind_int(q, 6, limit);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		memset(&n, 0, sizeof(n));
		n.id = sqlite3_column_int64(q, 0);
		n.tenant_id = sqlite3_column_int64(q, 1);
		n.device_id = sqlite3_column_int64(q, 2);
		n.observation_id = sqlite3_column_int64(q, 3);
		if ((r = sq_copy_text(n.path, sizeof(n.path), q, 4)) != 0)
			break;
		n.seq = sqlite3_column_int64(q, 5);
		n.content_format = (unsigned)sqlite3_column_int64(q, 6);
		n.records = (const char *)sqlite3_column_text(q, 7);
		n.received_at = sqlite3_column_int64(q, 8);
		n.expires_at = sqlite3_column_int64(q, 9);
		if ((r = cb(ctx, &n)) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = sq_map_rc(sq_backend(st), rc, "notification_list");
	sq_done(q);
	return r;
}

static int64_t notification_purge(struct store *st, int64_t now_ms)
{
	sqlite3_stmt *q = q_(st, N_PURGE);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, now_ms);
	if ((r = sq_step_done(st, q, "notification_purge")) != 0)
		return r;
	return sqlite3_changes(sq_backend(st)->db);
}

static int notification_trim(struct store *st, int64_t device_id, int64_t keep)
{
	sqlite3_stmt *q = q_(st, N_TRIM);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, device_id);
	sqlite3_bind_int64(q, 2, keep);
	return sq_step_done(st, q, "notification_trim");
}

const struct store_lwm2m_observe_ops sqlite_lwm2m_observe_ops = {
	.observation_insert = observation_insert,
	.observation_get = observation_get,
	.observation_by_token = observation_by_token,
	.observation_touch = observation_touch,
	.observation_delete = observation_delete,
	.observation_delete_device = observation_delete_device,
	.observation_list = observation_list,
	.observation_count = observation_count,
	.notification_insert = notification_insert,
	.notification_list = notification_list,
	.notification_purge = notification_purge,
	.notification_trim = notification_trim,
};
