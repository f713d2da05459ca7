/* SQLite queries of the DM requests held for queue-mode LwM2M devices
 * (migration 0011). Statements live in the backend's auxiliary slots
 * 256..271 (see sqlite_internal.h). */
#include "iotvault/store_lwm2m_queue.h"
#include "store/sqlite/sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

#define SLOT_BASE 256

enum hq {
	H_INSERT,
	H_GET,
	H_COUNT_PENDING,
	H_NEXT,
	H_MARK_SENT,
	H_FINISH,
	H_EXPIRE,
	H_FAIL_SENT,
	H_PURGE,
	H_COUNT
};

_Static_assert(SLOT_BASE + H_COUNT <= SQ_AUX_STMTS, "aux statement slots exhausted");
_Static_assert(SLOT_BASE + H_COUNT <= 272, "held-request slots are 256..271");

#define HELD_COLUMNS                                                                          \
	"id, tenant_id, device_id, method, path, accept, content_format, payload, query, "       \
	"actor_type, actor, source, state, coalesce(coap_code, 0), result, coalesce(error, ''), " \
	"created_at, updated_at, expires_at"

static const char *const sql[H_COUNT] = {
	[H_INSERT] = "INSERT INTO lwm2m_held_requests (tenant_id, device_id, method, path, accept, "
		     "content_format, payload, query, actor_type, actor, source, state, created_at, "
		     "updated_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
		     "'pending', ?12, ?12, ?13)",
	[H_GET] = "SELECT " HELD_COLUMNS " FROM lwm2m_held_requests WHERE device_id = ?1 AND id = ?2",
	[H_COUNT_PENDING] = "SELECT count(*) FROM lwm2m_held_requests WHERE device_id = ?1 AND "
			    "state = 'pending'",
	[H_NEXT] = "SELECT " HELD_COLUMNS " FROM lwm2m_held_requests WHERE device_id = ?1 AND "
		   "state = 'pending' AND expires_at > ?2 ORDER BY id LIMIT 1",
	[H_MARK_SENT] = "UPDATE lwm2m_held_requests SET state = 'sent', updated_at = ?2 WHERE id = ?1 "
			"AND state = 'pending'",
	[H_FINISH] = "UPDATE lwm2m_held_requests SET state = ?2, coap_code = nullif(?3, 0), "
		     "result = ?4, error = ?5, updated_at = ?6, payload = x'' WHERE id = ?1 AND "
		     "state = 'sent'",
	[H_EXPIRE] = "UPDATE lwm2m_held_requests SET state = 'expired', updated_at = ?1, "
		     "payload = x'' WHERE state = 'pending' AND expires_at <= ?1",
	[H_FAIL_SENT] = "UPDATE lwm2m_held_requests SET state = 'failed', error = ?1, updated_at = ?2, "
			"payload = x'' WHERE state = 'sent'",
	[H_PURGE] = "DELETE FROM lwm2m_held_requests WHERE updated_at < ?1 AND state IN "
		    "('done', 'failed', 'expired')",
};

static sqlite3_stmt *q_(struct store *st, enum hq q)
{
	struct sqlite_backend *b = sq_backend(st);
	return sq_stmt_cached(b, &b->aux[SLOT_BASE + q], sql[q]);
}

static int read_held(sqlite3_stmt *q, struct lwm2m_held_record *h)
{
	int r;
	memset(h, 0, sizeof(*h));
	h->id = sqlite3_column_int64(q, 0);
	h->tenant_id = sqlite3_column_int64(q, 1);
	h->device_id = sqlite3_column_int64(q, 2);
	h->method = sqlite3_column_int(q, 3);
	if ((r = sq_copy_text(h->path, sizeof(h->path), q, 4)) != 0 ||
	    (r = sq_copy_blob(h->payload, sizeof(h->payload), &h->payload_len, q, 7)) != 0 ||
	    (r = sq_copy_text(h->query, sizeof(h->query), q, 8)) != 0 ||
	    (r = sq_copy_text(h->actor_type, sizeof(h->actor_type), q, 9)) != 0 ||
	    (r = sq_copy_text(h->actor, sizeof(h->actor), q, 10)) != 0 ||
	    (r = sq_copy_text(h->source, sizeof(h->source), q, 11)) != 0 ||
	    (r = sq_copy_text(h->state, sizeof(h->state), q, 12)) != 0 ||
	    (r = sq_copy_text(h->error, sizeof(h->error), q, 15)) != 0)
		return r;
	h->accept = (unsigned)sqlite3_column_int64(q, 5);
	h->content_format = (unsigned)sqlite3_column_int64(q, 6);
	h->coap_code = sqlite3_column_int(q, 13);
	h->result = (const char *)sqlite3_column_text(q, 14);
	h->created_at = sqlite3_column_int64(q, 16);
	h->updated_at = sqlite3_column_int64(q, 17);
	h->expires_at = sqlite3_column_int64(q, 18);
	return 0;
}

static int held_insert(struct store *st, struct lwm2m_held_record *h)
{
	sqlite3_stmt *q = q_(st, H_INSERT);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, h->tenant_id);
	sqlite3_bind_int64(q, 2, h->device_id);
	sqlite3_bind_int(q, 3, h->method);
	sqlite3_bind_text(q, 4, h->path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, h->accept);
	sqlite3_bind_int64(q, 6, h->content_format);
	sqlite3_bind_blob(q, 7, h->payload_len ? (const void *)h->payload : "", (int)h->payload_len,
			  SQLITE_STATIC);
	sqlite3_bind_text(q, 8, h->query, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 9, h->actor_type, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 10, h->actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 11, h->source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 12, h->created_at);
	sqlite3_bind_int64(q, 13, h->expires_at);
	r = sq_step_done(st, q, "held_insert");
	if (r == 0)
		h->id = sqlite3_last_insert_rowid(sq_backend(st)->db);
	return r;
}

static int held_get(struct store *st, int64_t device_id, int64_t id,
		    int (*cb)(void *ctx, const struct lwm2m_held_record *h), void *ctx)
{
	sqlite3_stmt *q = q_(st, H_GET);
	struct lwm2m_held_record *h;
	int rc, r;
	if (q == NULL)
		return IV_ERR_STORE;
	if ((h = calloc(1, sizeof(*h))) == NULL) /* lint:not-secret */
		return IV_ERR_NOMEM;
	sqlite3_bind_int64(q, 1, device_id);
	sqlite3_bind_int64(q, 2, id);
	if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if ((r = read_held(q, h)) == 0)
			r = cb(ctx, h);
	} else
		r = rc == SQLITE_DONE ? IV_ERR_NOT_FOUND : sq_map_rc(sq_backend(st), rc, "held_get");
	sq_done(q);
	free(h);
	return r;
}

static int held_count_pending(struct store *st, int64_t device_id, int64_t *count)
{
	sqlite3_stmt *q = q_(st, H_COUNT_PENDING);
	int rc, r = 0;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, device_id);
	if ((rc = sqlite3_step(q)) == SQLITE_ROW)
		*count = sqlite3_column_int64(q, 0);
	else
		r = sq_map_rc(sq_backend(st), rc, "held_count_pending");
	sq_done(q);
	return r;
}

static int held_next(struct store *st, int64_t device_id, int64_t now_ms,
		     struct lwm2m_held_record *out)
{
	sqlite3_stmt *q = q_(st, H_NEXT);
	int rc, r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, device_id);
	sqlite3_bind_int64(q, 2, now_ms);
	if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		r = read_held(q, out);
		out->result = NULL; /* not valid past the reset */
	} else
		r = rc == SQLITE_DONE ? IV_ERR_NOT_FOUND : sq_map_rc(sq_backend(st), rc, "held_next");
	sq_done(q);
	return r;
}

static int held_mark_sent(struct store *st, int64_t id, int64_t now_ms)
{
	sqlite3_stmt *q = q_(st, H_MARK_SENT);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, now_ms);
	if ((r = sq_step_done(st, q, "held_mark_sent")) != 0)
		return r;
	return sqlite3_changes(sq_backend(st)->db) > 0 ? 0 : IV_ERR_NOT_FOUND;
}

static int held_finish(struct store *st, int64_t id, const char *state, int coap_code,
		       const char *result, const char *error, int64_t now_ms)
{
	sqlite3_stmt *q = q_(st, H_FINISH);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_text(q, 2, state, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 3, coap_code);
	sq_bind_text_or_null(q, 4, result);
	sq_bind_text_or_null(q, 5, error);
	sqlite3_bind_int64(q, 6, now_ms);
	return sq_step_done(st, q, "held_finish");
}

static int64_t held_expire(struct store *st, int64_t now_ms)
{
	sqlite3_stmt *q = q_(st, H_EXPIRE);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, now_ms);
	if ((r = sq_step_done(st, q, "held_expire")) != 0)
		return r;
	return sqlite3_changes(sq_backend(st)->db);
}

static int64_t held_fail_sent(struct store *st, const char *error, int64_t now_ms)
{
	sqlite3_stmt *q = q_(st, H_FAIL_SENT);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_text(q, 1, error, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, now_ms);
	if ((r = sq_step_done(st, q, "held_fail_sent")) != 0)
		return r;
	return sqlite3_changes(sq_backend(st)->db);
}

static int64_t held_purge(struct store *st, int64_t before_ms)
{
	sqlite3_stmt *q = q_(st, H_PURGE);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, before_ms);
	if ((r = sq_step_done(st, q, "held_purge")) != 0)
		return r;
	return sqlite3_changes(sq_backend(st)->db);
}

const struct store_lwm2m_queue_ops sqlite_lwm2m_queue_ops = {
	.held_purge = held_purge,
	.held_insert = held_insert,
	.held_get = held_get,
	.held_count_pending = held_count_pending,
	.held_next = held_next,
	.held_mark_sent = held_mark_sent,
	.held_finish = held_finish,
	.held_expire = held_expire,
	.held_fail_sent = held_fail_sent,
};
