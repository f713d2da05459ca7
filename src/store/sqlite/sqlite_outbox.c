/* SQLite queries of the integrations: webhook endpoints and the durable
 * outbox. Statements live in the backend's auxiliary slots 128..159 (see
 * sqlite_internal.h). */
#include "iotvault/store_outbox.h"
#include "iotvault/log.h"
#include "store/sqlite/sqlite_internal.h"

#include <string.h>

#define SLOT_BASE 128
#define SLOT_END 160

enum oq {
	O_WEBHOOK_INSERT,
	O_WEBHOOK_GET,
	O_WEBHOOK_LIST,
	O_WEBHOOK_DELETE,
	O_INSERT,
	O_LIST_MQTT,
	O_COUNT_MQTT,
	O_LIST_HEADS,
	O_LIST_WEBHOOK,
	O_REMOVE,
	O_RETRY_LATER,
	O_STATS_GET,
	O_TRIM,
	O_DROPPED_ADD,
	O_OVERFLOW_MARK,
	O_COUNT
};

_Static_assert(SLOT_END <= SQ_AUX_STMTS, "aux statement slots exhausted");
_Static_assert(SLOT_BASE + O_COUNT <= SLOT_END, "outbox statements exceed slots 128..159");

#define WEBHOOK_COLUMNS                                                                         \
	"w.id, w.tenant_id, w.url, w.events, w.enabled, w.created_by, w.created_at, "           \
	"(SELECT count(*) FROM outbox o WHERE o.webhook_id = w.id)"
#define ROW_COLUMNS                                                                     \
	"id, tenant_id, coalesce(webhook_id, 0), topic, body, attempts, next_attempt_at, " \
	"created_at"

static const char *const sql[O_COUNT] = {
	[O_WEBHOOK_INSERT] = "INSERT INTO webhooks (tenant_id, url, events, enabled, created_by, "
			     "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[O_WEBHOOK_GET] = "SELECT " WEBHOOK_COLUMNS " FROM webhooks w WHERE w.tenant_id = ?1 AND "
			  "w.id = ?2",
	[O_WEBHOOK_LIST] = "SELECT " WEBHOOK_COLUMNS " FROM webhooks w WHERE w.tenant_id = ?1 "
			   "ORDER BY w.id",
	[O_WEBHOOK_DELETE] = "DELETE FROM webhooks WHERE tenant_id = ?1 AND id = ?2",
	[O_INSERT] = "INSERT INTO outbox (tenant_id, webhook_id, topic, body, attempts, "
		     "next_attempt_at, created_at) VALUES (?1, nullif(?2, 0), ?3, ?4, 0, ?5, ?6)",
	[O_LIST_MQTT] = "SELECT " ROW_COLUMNS " FROM outbox WHERE webhook_id IS NULL AND id > ?1 "
			"ORDER BY id LIMIT ?2",
	[O_COUNT_MQTT] = "SELECT count(*) FROM outbox WHERE webhook_id IS NULL",
	[O_LIST_HEADS] = "SELECT " ROW_COLUMNS " FROM outbox WHERE id IN (SELECT min(id) FROM outbox "
			 "WHERE webhook_id IS NOT NULL GROUP BY webhook_id) AND next_attempt_at <= ?1 "
			 "ORDER BY id LIMIT ?2",
	[O_LIST_WEBHOOK] = "SELECT " ROW_COLUMNS " FROM outbox WHERE webhook_id = ?1 ORDER BY id "
			   "LIMIT ?2",
	[O_REMOVE] = "DELETE FROM outbox WHERE id = ?1",
	[O_RETRY_LATER] = "UPDATE outbox SET attempts = ?2, next_attempt_at = ?3 WHERE id = ?1",
	[O_STATS_GET] = "SELECT queued, dropped, last_overflow_event_at FROM outbox_tenant_stats "
			"WHERE tenant_id = ?1",
	[O_TRIM] = "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE tenant_id = ?1 "
		   "ORDER BY id LIMIT ?2)",
	[O_DROPPED_ADD] = "UPDATE outbox_tenant_stats SET dropped = dropped + ?2 WHERE tenant_id = ?1",
	[O_OVERFLOW_MARK] = "UPDATE outbox_tenant_stats SET last_overflow_event_at = ?2 "
			    "WHERE tenant_id = ?1",
};

static sqlite3_stmt *q_(struct store *st, enum oq q)
{
	struct sqlite_backend *b = sq_backend(st);
	return sq_stmt_cached(b, &b->aux[SLOT_BASE + q], sql[q]);
}

static int read_webhook(sqlite3_stmt *q, struct webhook_record *w)
{
	int r;
	memset(w, 0, sizeof(*w));
	w->id = sqlite3_column_int64(q, 0);
	w->tenant_id = sqlite3_column_int64(q, 1);
	if ((r = sq_copy_text(w->url, sizeof(w->url), q, 2)) ||
	    (r = sq_copy_text(w->events, sizeof(w->events), q, 3)) ||
	    (r = sq_copy_text(w->created_by, sizeof(w->created_by), q, 5)))
		return r;
	w->enabled = sqlite3_column_int(q, 4);
	w->created_at = sqlite3_column_int64(q, 6);
	w->queued = sqlite3_column_int64(q, 7);
	return 0;
}

static int webhook_insert(struct store *st, struct webhook_record *w)
{
	sqlite3_stmt *q = q_(st, O_WEBHOOK_INSERT);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	w->created_at = store_now_ms();
	sqlite3_bind_int64(q, 1, w->tenant_id);
	sqlite3_bind_text(q, 2, w->url, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, w->events, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 4, w->enabled ? 1 : 0);
	sqlite3_bind_text(q, 5, w->created_by, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 6, w->created_at);
	r = sq_step_done(st, q, "webhook_insert");
	if (r == 0)
		w->id = sqlite3_last_insert_rowid(sq_backend(st)->db);
	return r;
}

static int webhook_get(struct store *st, int64_t tenant_id, int64_t id, struct webhook_record *out)
{
	sqlite3_stmt *q = q_(st, O_WEBHOOK_GET);
	int rc, r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		r = read_webhook(q, out);
	else
		r = rc == SQLITE_DONE ? IV_ERR_NOT_FOUND : sq_map_rc(sq_backend(st), rc, "webhook_get");
	sq_done(q);
	return r;
}

static int webhook_list(struct store *st, int64_t tenant_id, store_webhook_cb cb, void *ctx)
{
	sqlite3_stmt *q = q_(st, O_WEBHOOK_LIST);
	struct webhook_record w;
	int r = 0, rc;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if ((r = read_webhook(q, &w)) != 0 || (r = cb(ctx, &w)) != 0)
			break;
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_map_rc(sq_backend(st), rc, "webhook_list");
	sq_done(q);
	return r;
}

static int webhook_delete(struct store *st, int64_t tenant_id, int64_t id)
{
	sqlite3_stmt *q = q_(st, O_WEBHOOK_DELETE);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, id);
	r = sq_step_done(st, q, "webhook_delete");
	if (r == 0 && sqlite3_changes(sq_backend(st)->db) == 0)
		r = IV_ERR_NOT_FOUND;
	return r;
}

static int row_insert(struct store *st, const struct outbox_row *row, int64_t *id)
{
	sqlite3_stmt *q = q_(st, O_INSERT);
	int64_t now = store_now_ms();
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	if (row->body_len > (size_t)INT32_MAX)
		return IV_ERR_TOO_LARGE;
	sqlite3_bind_int64(q, 1, row->tenant_id);
	sqlite3_bind_int64(q, 2, row->webhook_id);
	sqlite3_bind_text(q, 3, row->topic, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, row->body, (int)row->body_len, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, row->next_attempt_at ? row->next_attempt_at : now);
	sqlite3_bind_int64(q, 6, now);
	r = sq_step_done(st, q, "outbox_insert");
	if (r == 0 && id != NULL)
		*id = sqlite3_last_insert_rowid(sq_backend(st)->db);
	return r;
}

/* Runs a row query, handing each row to CB. */
static int run_rows(struct store *st, sqlite3_stmt *q, store_outbox_cb cb, void *ctx,
		    const char *what)
{
	struct outbox_row row;
	int r = 0, rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		memset(&row, 0, sizeof(row));
		row.id = sqlite3_column_int64(q, 0);
		row.tenant_id = sqlite3_column_int64(q, 1);
		row.webhook_id = sqlite3_column_int64(q, 2);
		row.topic = (const char *)sqlite3_column_text(q, 3);
		row.body = (const char *)sqlite3_column_text(q, 4);
		row.body_len = (size_t)sqlite3_column_bytes(q, 4);
		row.attempts = sqlite3_column_int(q, 5);
		row.next_attempt_at = sqlite3_column_int64(q, 6);
		row.created_at = sqlite3_column_int64(q, 7);
		if (row.topic == NULL || row.body == NULL) {
			r = IV_ERR_NOMEM;
			break;
		}
		if ((r = cb(ctx, &row)) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_map_rc(sq_backend(st), rc, what);
	sq_done(q);
	return r;
}

static int list_mqtt(struct store *st, int64_t after_id, int limit, store_outbox_cb cb, void *ctx)
{
	sqlite3_stmt *q = q_(st, O_LIST_MQTT);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, after_id);
	sqlite3_bind_int(q, 2, limit);
	return run_rows(st, q, cb, ctx, "outbox_list_mqtt");
}

static int64_t count_mqtt(struct store *st)
{
	sqlite3_stmt *q = q_(st, O_COUNT_MQTT);
	int64_t n;
	if (q == NULL)
		return IV_ERR_STORE;
	n = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : IV_ERR_STORE;
	sq_done(q);
	return n;
}

static int list_webhook_heads(struct store *st, int64_t now, int limit, store_outbox_cb cb,
			      void *ctx)
{
	sqlite3_stmt *q = q_(st, O_LIST_HEADS);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, now);
	sqlite3_bind_int(q, 2, limit);
	return run_rows(st, q, cb, ctx, "outbox_list_heads");
}

static int list_webhook(struct store *st, int64_t webhook_id, int limit, store_outbox_cb cb,
			void *ctx)
{
	sqlite3_stmt *q = q_(st, O_LIST_WEBHOOK);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, webhook_id);
	sqlite3_bind_int(q, 2, limit);
	return run_rows(st, q, cb, ctx, "outbox_list_webhook");
}

static int row_remove(struct store *st, int64_t id)
{
	sqlite3_stmt *q = q_(st, O_REMOVE);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, id);
	return sq_step_done(st, q, "outbox_remove");
}

static int retry_later(struct store *st, int64_t id, int attempts, int64_t next_attempt_at)
{
	sqlite3_stmt *q = q_(st, O_RETRY_LATER);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int(q, 2, attempts);
	sqlite3_bind_int64(q, 3, next_attempt_at);
	return sq_step_done(st, q, "outbox_retry_later");
}

static int stats_get(struct store *st, int64_t tenant_id, struct outbox_tenant_stats *out)
{
	sqlite3_stmt *q = q_(st, O_STATS_GET);
	int rc, r = 0;
	if (q == NULL)
		return IV_ERR_STORE;
	memset(out, 0, sizeof(*out));
	sqlite3_bind_int64(q, 1, tenant_id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		out->queued = sqlite3_column_int64(q, 0);
		out->dropped = sqlite3_column_int64(q, 1);
		out->last_overflow_event_at = sqlite3_column_int64(q, 2);
	} else if (rc != SQLITE_DONE)
		r = sq_map_rc(sq_backend(st), rc, "outbox_stats");
	sq_done(q);
	return r;
}

static int trim(struct store *st, int64_t tenant_id, int64_t max, int64_t *dropped)
{
	struct outbox_tenant_stats s;
	sqlite3_stmt *q;
	int64_t n;
	int r;

	*dropped = 0;
	if ((r = stats_get(st, tenant_id, &s)) != 0)
		return r;
	if (s.queued <= max)
		return 0;
	if ((q = q_(st, O_TRIM)) == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, s.queued - max);
	if ((r = sq_step_done(st, q, "outbox_trim")) != 0)
		return r;
	n = sqlite3_changes64(sq_backend(st)->db);
	if ((q = q_(st, O_DROPPED_ADD)) == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, n);
	if ((r = sq_step_done(st, q, "outbox_dropped")) != 0)
		return r;
	*dropped = n;
	return 0;
}

static int overflow_event_mark(struct store *st, int64_t tenant_id, int64_t now)
{
	sqlite3_stmt *q = q_(st, O_OVERFLOW_MARK);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, now);
	return sq_step_done(st, q, "outbox_overflow_mark");
}

const struct store_outbox_ops sqlite_outbox_ops = {
	.webhook_insert = webhook_insert,
	.webhook_get = webhook_get,
	.webhook_list = webhook_list,
	.webhook_delete = webhook_delete,
	.insert = row_insert,
	.list_mqtt = list_mqtt,
	.count_mqtt = count_mqtt,
	.list_webhook_heads = list_webhook_heads,
	.list_webhook = list_webhook,
	.remove = row_remove,
	.retry_later = retry_later,
	.stats_get = stats_get,
	.trim = trim,
	.overflow_event_mark = overflow_event_mark,
};
