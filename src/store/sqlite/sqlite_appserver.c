/* SQLite queries of the LoRaWAN Application Server: codec profiles, frame
 * counters (conditional UPDATEs are the replay rule), uplinks and downlinks.
 * Statements live in the backend's auxiliary slots 160..191. */
#include "iotvault/store_appserver.h"
#include "iotvault/log.h"
#include "store/sqlite/sqlite_internal.h"

#include <stdio.h>
#include <string.h>

#define SLOT_BASE 160

enum aq {
	A_CODEC_GET,
	A_CODEC_SET,
	A_SESSION_LATEST,
	A_STATE_ENSURE,
	A_STATE_GET,
	A_FCNT_UP,
	A_FCNT_DOWN,
	A_STATE_NS,
	A_UPLINK_INSERT,
	A_UPLINK_LIST,
	A_UPLINK_PURGE,
	A_DOWNLINK_INSERT,
	A_DOWNLINK_OUTCOME,
	A_COUNT
};

_Static_assert(SLOT_BASE + A_COUNT <= SQ_AUX_STMTS, "aux statement slots exhausted");
_Static_assert(SLOT_BASE + A_COUNT <= 192, "application server slots are 160..191");

static const char *const sql[A_COUNT] = {
	[A_CODEC_GET] = "SELECT codec FROM devices WHERE tenant_id = ?1 AND id = ?2",
	[A_CODEC_SET] = "UPDATE devices SET codec = ?3, updated_at = ?4 WHERE tenant_id = ?1 AND id = ?2",
	[A_SESSION_LATEST] = "SELECT id, session_key_id, device_id, tenant_id, dev_addr, mac_version, "
			     "opt_neg, coalesce(ns_peer_id, 0), created_at FROM lorawan_sessions "
			     "WHERE device_id = ?1 ORDER BY id DESC LIMIT 1",
	[A_STATE_ENSURE] = "INSERT OR IGNORE INTO appserver_sessions (session_id, updated_at) "
			   "VALUES (?1, ?2)",
	[A_STATE_GET] = "SELECT last_fcnt_up, next_a_fcnt_down, ns_kind, tts_application_id, "
			"tts_device_id FROM appserver_sessions WHERE session_id = ?1",
	[A_FCNT_UP] = "UPDATE appserver_sessions SET last_fcnt_up = ?2, updated_at = ?3 "
		      "WHERE session_id = ?1 AND (last_fcnt_up IS NULL OR last_fcnt_up < ?2)",
	[A_FCNT_DOWN] = "UPDATE appserver_sessions SET next_a_fcnt_down = next_a_fcnt_down + 1, "
			"updated_at = ?2 WHERE session_id = ?1 AND next_a_fcnt_down <= 4294967295 "
			"RETURNING next_a_fcnt_down - 1",
	[A_STATE_NS] = "UPDATE appserver_sessions SET ns_kind = ?2, tts_application_id = ?3, "
		       "tts_device_id = ?4, updated_at = ?5 WHERE session_id = ?1",
	[A_UPLINK_INSERT] = "INSERT INTO uplinks (tenant_id, device_id, session_id, f_cnt, f_port, "
			    "status, reason, codec, decoded, source, received_at, expires_at) "
			    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[A_UPLINK_LIST] = "SELECT id, tenant_id, device_id, session_id, f_cnt, f_port, status, reason, "
			  "codec, decoded, source, received_at, expires_at FROM uplinks "
			  "WHERE tenant_id = ?1 AND device_id = ?2 AND (?3 = 0 OR id < ?3) "
			  "AND expires_at > ?4 ORDER BY id DESC LIMIT ?5",
	[A_UPLINK_PURGE] = "DELETE FROM uplinks WHERE expires_at <= ?1",
	[A_DOWNLINK_INSERT] = "INSERT INTO downlinks (tenant_id, device_id, session_id, f_port, "
			      "a_fcnt_down, confirmed, payload_len, target, outcome, detail, "
			      "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
			      "?10, ?11, ?11)",
	[A_DOWNLINK_OUTCOME] = "UPDATE downlinks SET outcome = ?2, detail = ?3, updated_at = ?4 "
			       "WHERE id = ?1",
};

static sqlite3_stmt *q_(struct store *st, enum aq q)
{
	struct sqlite_backend *b = sq_backend(st);
	return sq_stmt_cached(b, &b->aux[SLOT_BASE + q], sql[q]);
}

static int changed(struct store *st)
{
	return sqlite3_changes(sq_backend(st)->db) != 0;
}

static int device_codec_get(struct store *st, int64_t tenant_id, int64_t device_id,
			    char out[static CODEC_NAME_MAX + 1])
{
	sqlite3_stmt *q = q_(st, A_CODEC_GET);
	int rc, r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, device_id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		r = sq_copy_text(out, CODEC_NAME_MAX + 1, q, 0);
	else
		r = rc == SQLITE_DONE ? IV_ERR_NOT_FOUND : sq_map_rc(sq_backend(st), rc, "codec_get");
	sq_done(q);
	return r;
}

static int device_codec_set(struct store *st, int64_t tenant_id, int64_t device_id,
			    const char *codec)
{
	sqlite3_stmt *q = q_(st, A_CODEC_SET);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, device_id);
	sqlite3_bind_text(q, 3, codec, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, store_now_ms());
	r = sq_step_done(st, q, "codec_set");
	if (r == 0 && !changed(st))
		r = IV_ERR_NOT_FOUND;
	return r;
}

static int session_latest(struct store *st, int64_t device_id, struct lorawan_session_record *out)
{
	sqlite3_stmt *q = q_(st, A_SESSION_LATEST);
	int rc, r = 0;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, device_id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		memset(out, 0, sizeof(*out));
		out->id = sqlite3_column_int64(q, 0);
		if ((r = sq_copy_text(out->session_key_id, sizeof(out->session_key_id), q, 1)) == 0 &&
		    (r = sq_copy_text(out->mac_version, sizeof(out->mac_version), q, 5)) == 0) {
			out->device_id = sqlite3_column_int64(q, 2);
			out->tenant_id = sqlite3_column_int64(q, 3);
			out->dev_addr = (uint32_t)sqlite3_column_int64(q, 4);
			out->opt_neg = sqlite3_column_int(q, 6);
			out->ns_peer_id = sqlite3_column_int64(q, 7);
			out->created_at = sqlite3_column_int64(q, 8);
		}
	} else
		r = rc == SQLITE_DONE ? IV_ERR_NOT_FOUND : sq_map_rc(sq_backend(st), rc, "session_latest");
	sq_done(q);
	return r;
}

static int state_get(struct store *st, int64_t session_id, struct appserver_session_state *out)
{
	sqlite3_stmt *q = q_(st, A_STATE_ENSURE);
	int rc, r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, session_id);
	sqlite3_bind_int64(q, 2, store_now_ms());
	if ((r = sq_step_done(st, q, "state_ensure")) != 0)
		return r;
	if ((q = q_(st, A_STATE_GET)) == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, session_id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		memset(out, 0, sizeof(*out));
		out->session_id = session_id;
		out->has_last_fcnt_up = sqlite3_column_type(q, 0) != SQLITE_NULL;
		out->last_fcnt_up = (uint32_t)sqlite3_column_int64(q, 0);
		out->next_a_fcnt_down = (uint64_t)sqlite3_column_int64(q, 1);
		if ((r = sq_copy_text(out->ns_kind, sizeof(out->ns_kind), q, 2)) == 0 &&
		    (r = sq_copy_text(out->tts_application_id, sizeof(out->tts_application_id), q, 3)) == 0)
			r = sq_copy_text(out->tts_device_id, sizeof(out->tts_device_id), q, 4);
	} else
		r = rc == SQLITE_DONE ? IV_ERR_NOT_FOUND : sq_map_rc(sq_backend(st), rc, "state_get");
	sq_done(q);
	return r;
}

static int fcnt_up_advance(struct store *st, int64_t session_id, uint32_t fcnt32)
{
	sqlite3_stmt *q = q_(st, A_FCNT_UP);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, session_id);
	sqlite3_bind_int64(q, 2, (int64_t)fcnt32);
	sqlite3_bind_int64(q, 3, store_now_ms());
	if ((r = sq_step_done(st, q, "fcnt_up")) != 0)
		return r;
	return changed(st) ? 0 : IV_ERR_REPLAY;
}

static int a_fcnt_down_next(struct store *st, int64_t session_id, uint32_t *out)
{
	sqlite3_stmt *q = q_(st, A_FCNT_DOWN);
	int rc, r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, session_id);
	sqlite3_bind_int64(q, 2, store_now_ms());
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*out = (uint32_t)sqlite3_column_int64(q, 0);
		/* step to the end so the UPDATE completes */
		rc = sqlite3_step(q);
		r = rc == SQLITE_DONE ? 0 : sq_map_rc(sq_backend(st), rc, "a_fcnt_down");
	} else
		r = rc == SQLITE_DONE ? IV_ERR_REFUSED : sq_map_rc(sq_backend(st), rc, "a_fcnt_down");
	sq_done(q);
	return r;
}

static int state_set_ns(struct store *st, int64_t session_id, const char *ns_kind,
			const char *tts_application_id, const char *tts_device_id)
{
	sqlite3_stmt *q = q_(st, A_STATE_NS);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, session_id);
	sqlite3_bind_text(q, 2, ns_kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, tts_application_id ? tts_application_id : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, tts_device_id ? tts_device_id : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, store_now_ms());
	return sq_step_done(st, q, "state_set_ns");
}

static int uplink_insert(struct store *st, struct uplink_record *u)
{
	sqlite3_stmt *q = q_(st, A_UPLINK_INSERT);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, u->tenant_id);
	sqlite3_bind_int64(q, 2, u->device_id);
	sqlite3_bind_int64(q, 3, u->session_id);
	sqlite3_bind_int64(q, 4, (int64_t)u->f_cnt);
	sqlite3_bind_int(q, 5, u->f_port);
	sqlite3_bind_text(q, 6, u->accepted ? "accepted" : "rejected", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 7, u->reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 8, u->codec, -1, SQLITE_STATIC);
	if (u->decoded)
		sqlite3_bind_text(q, 9, u->decoded, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 9);
	sqlite3_bind_text(q, 10, u->source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 11, u->received_at);
	sqlite3_bind_int64(q, 12, u->expires_at);
	r = sq_step_done(st, q, "uplink_insert");
	if (r == 0)
		u->id = sqlite3_last_insert_rowid(sq_backend(st)->db);
	return r;
}

static int read_uplink(sqlite3_stmt *q, struct uplink_record *u)
{
	char status[16];
	int r;
	memset(u, 0, sizeof(*u));
	u->id = sqlite3_column_int64(q, 0);
	u->tenant_id = sqlite3_column_int64(q, 1);
	u->device_id = sqlite3_column_int64(q, 2);
	u->session_id = sqlite3_column_int64(q, 3);
	u->f_cnt = (uint32_t)sqlite3_column_int64(q, 4);
	u->f_port = (uint8_t)sqlite3_column_int(q, 5);
	if ((r = sq_copy_text(status, sizeof(status), q, 6)) != 0 ||
	    (r = sq_copy_text(u->reason, sizeof(u->reason), q, 7)) != 0 ||
	    (r = sq_copy_text(u->codec, sizeof(u->codec), q, 8)) != 0 ||
	    (r = sq_copy_text(u->source, sizeof(u->source), q, 10)) != 0)
		return r;
	u->accepted = strcmp(status, "accepted") == 0;
	u->decoded = (const char *)sqlite3_column_text(q, 9);
	u->received_at = sqlite3_column_int64(q, 11);
	u->expires_at = sqlite3_column_int64(q, 12);
	return 0;
}

static int uplink_list(struct store *st, int64_t tenant_id, int64_t device_id, int64_t before_id,
		       int limit, int64_t now_ms, store_uplink_cb cb, void *ctx)
{
	sqlite3_stmt *q = q_(st, A_UPLINK_LIST);
	struct uplink_record u;
	int rc, r = 0;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, device_id);
	sqlite3_bind_int64(q, 3, before_id);
	sqlite3_bind_int64(q, 4, now_ms);
	sqlite3_bind_int(q, 5, limit);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if ((r = read_uplink(q, &u)) != 0 || (r = cb(ctx, &u)) != 0)
			break;
	if (r == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = sq_map_rc(sq_backend(st), rc, "uplink_list");
	sq_done(q);
	return r;
}

static int64_t uplink_purge(struct store *st, int64_t now_ms)
{
	sqlite3_stmt *q = q_(st, A_UPLINK_PURGE);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, now_ms);
	if ((r = sq_step_done(st, q, "uplink_purge")) != 0)
		return r;
	return sqlite3_changes(sq_backend(st)->db);
}

static int downlink_insert(struct store *st, struct downlink_record *d)
{
	sqlite3_stmt *q = q_(st, A_DOWNLINK_INSERT);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	d->created_at = d->updated_at = store_now_ms();
	sqlite3_bind_int64(q, 1, d->tenant_id);
	sqlite3_bind_int64(q, 2, d->device_id);
	sqlite3_bind_int64(q, 3, d->session_id);
	sqlite3_bind_int(q, 4, d->f_port);
	sqlite3_bind_int64(q, 5, (int64_t)d->a_fcnt_down);
	sqlite3_bind_int(q, 6, d->confirmed ? 1 : 0);
	sqlite3_bind_int64(q, 7, (int64_t)d->payload_len);
	sqlite3_bind_text(q, 8, d->target, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 9, d->outcome, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 10, d->detail, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 11, d->created_at);
	r = sq_step_done(st, q, "downlink_insert");
	if (r == 0)
		d->id = sqlite3_last_insert_rowid(sq_backend(st)->db);
	return r;
}

static int downlink_set_outcome(struct store *st, int64_t id, const char *outcome,
				const char *detail)
{
	sqlite3_stmt *q = q_(st, A_DOWNLINK_OUTCOME);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_text(q, 2, outcome, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, detail ? detail : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, store_now_ms());
	r = sq_step_done(st, q, "downlink_outcome");
	if (r == 0 && !changed(st))
		r = IV_ERR_NOT_FOUND;
	return r;
}

const struct store_appserver_ops sqlite_appserver_ops = {
	.device_codec_get = device_codec_get,
	.device_codec_set = device_codec_set,
	.session_latest = session_latest,
	.state_get = state_get,
	.fcnt_up_advance = fcnt_up_advance,
	.a_fcnt_down_next = a_fcnt_down_next,
	.state_set_ns = state_set_ns,
	.uplink_insert = uplink_insert,
	.uplink_list = uplink_list,
	.uplink_purge = uplink_purge,
	.downlink_insert = downlink_insert,
	.downlink_set_outcome = downlink_set_outcome,
};
