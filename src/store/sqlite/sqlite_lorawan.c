/* SQLite queries of the LoRaWAN roles: peers, join state (DevNonce and
 * JoinNonce under database constraints), sessions and security events.
 * Statements live in the backend's auxiliary slots 64.. (see sqlite_internal.h). */
#include "iotvault/store_lorawan.h"
#include "iotvault/log.h"
#include "store/sqlite/sqlite_internal.h"

#include <stdio.h>
#include <string.h>

#define SLOT_BASE 64

enum lq {
	L_PEER_INSERT,
	L_PEER_GET,
	L_PEER_BY_NAME,
	L_PEER_BY_SENDER,
	L_PEER_BY_CERT,
	L_PEER_LIST,
	L_PEER_LIST_TENANT,
	L_PEER_DELETE,
	L_DEVICE_BY_EUI,
	L_DEVICE_SET_JOIN,
	L_JOIN_STATE_ENSURE,
	L_NONCE_INSERT,
	L_NONCE_ADVANCE,
	L_RJ_COUNT1,
	L_RJ_COUNT0,
	L_RJ_COUNT0_RESET,
	L_SESSION_LATEST,
	L_JOIN_NONCE_NEXT,
	L_NONCE_RESET_HISTORY,
	L_NONCE_RESET_STATE,
	L_SESSION_INSERT,
	L_SESSION_GET,
	L_EVENT_ADD,
	L_EVENT_COUNT,
	L_COUNT
};

_Static_assert(SLOT_BASE + L_COUNT <= 100, "LoRaWAN slots are 64..99 (hygiene starts at 100)");

#define PEER_COLUMNS                                                                     \
	"id, kind, name, sender_id, kek_label, coalesce(cert_sha256, ''), token_sha256, " \
	"allow_plaintext, created_at, coalesce(tenant_id, 0), coalesce(client_ca, ''), "      \
	"coalesce(client_cert_cn, ''), receiver_unknown_code"
#define DEVICE_COLUMNS SQ_DEVICE_COLUMNS ", coalesce(as_peer_id, 0), coalesce(home_net_id, '')"

static const char *const sql[L_COUNT] = {
	[L_PEER_INSERT] = "INSERT INTO peers (kind, name, sender_id, kek_label, cert_sha256, "
			  "token_sha256, allow_plaintext, created_at, tenant_id, client_ca, client_cert_cn, "
			  "receiver_unknown_code) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, nullif(?9, 0), ?10, "
			  "?11, ?12)",
	[L_PEER_GET] = "SELECT " PEER_COLUMNS " FROM peers WHERE id = ?1",
	[L_PEER_BY_NAME] = "SELECT " PEER_COLUMNS " FROM peers WHERE name = ?1",
	[L_PEER_BY_SENDER] = "SELECT " PEER_COLUMNS " FROM peers WHERE sender_id = ?1",
	[L_PEER_BY_CERT] = "SELECT " PEER_COLUMNS " FROM peers WHERE cert_sha256 = ?1",
	[L_PEER_LIST] = "SELECT " PEER_COLUMNS " FROM peers ORDER BY id",
	[L_PEER_LIST_TENANT] = "SELECT " PEER_COLUMNS " FROM peers WHERE tenant_id = ?1 ORDER BY id",
	[L_PEER_DELETE] = "DELETE FROM peers WHERE id = ?1",
	[L_DEVICE_BY_EUI] = "SELECT " DEVICE_COLUMNS " FROM devices WHERE dev_eui = ?1",
	[L_DEVICE_SET_JOIN] = "UPDATE devices SET as_peer_id = nullif(?3, 0), home_net_id = ?4, "
			      "updated_at = ?5 WHERE tenant_id = ?1 AND id = ?2",
	[L_JOIN_STATE_ENSURE] = "INSERT OR IGNORE INTO join_state (device_id) VALUES (?1)",
	[L_NONCE_INSERT] = "INSERT INTO dev_nonces (device_id, dev_nonce, used_at) VALUES (?1, ?2, ?3)",
	[L_NONCE_ADVANCE] = "UPDATE join_state SET last_dev_nonce = ?2 WHERE device_id = ?1 AND "
			    "(last_dev_nonce IS NULL OR last_dev_nonce < ?2)",
	[L_RJ_COUNT1] = "UPDATE join_state SET rj_count1 = ?2 WHERE device_id = ?1 AND "
			"(rj_count1 IS NULL OR rj_count1 < ?2)",
	[L_RJ_COUNT0] = "UPDATE join_state SET rj_count0 = ?2 WHERE device_id = ?1 AND "
			"(rj_count0 IS NULL OR rj_count0 < ?2)",
	[L_RJ_COUNT0_RESET] = "UPDATE join_state SET rj_count0 = NULL WHERE device_id = ?1",
	[L_SESSION_LATEST] = "SELECT id, session_key_id, device_id, tenant_id, dev_addr, mac_version, "
			     "opt_neg, coalesce(ns_peer_id, 0), created_at FROM lorawan_sessions "
			     "WHERE device_id = ?1 ORDER BY id DESC LIMIT 1",
	[L_JOIN_NONCE_NEXT] = "UPDATE join_state SET join_nonce = join_nonce + 1 WHERE device_id = ?1 "
			      "AND join_nonce < 16777215 RETURNING join_nonce",
	[L_NONCE_RESET_HISTORY] = "DELETE FROM dev_nonces WHERE device_id = ?1",
	[L_NONCE_RESET_STATE] = "UPDATE join_state SET last_dev_nonce = NULL, rj_count1 = NULL "
				"WHERE device_id = ?1",
	[L_SESSION_INSERT] = "INSERT INTO lorawan_sessions (session_key_id, device_id, tenant_id, "
			     "dev_addr, mac_version, opt_neg, ns_peer_id, created_at) "
			     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, nullif(?7, 0), ?8)",
	[L_SESSION_GET] = "SELECT id, session_key_id, device_id, tenant_id, dev_addr, mac_version, "
			  "opt_neg, coalesce(ns_peer_id, 0), created_at FROM lorawan_sessions "
			  "WHERE session_key_id = ?1",
	[L_EVENT_ADD] = "INSERT INTO security_events (ts_ms, tenant_id, kind, source, subject, detail) "
			"VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[L_EVENT_COUNT] = "SELECT count(*) FROM security_events WHERE ?1 IS NULL OR kind = ?1",
};

static sqlite3_stmt *q_(struct store *st, enum lq q)
{
	struct sqlite_backend *b = sq_backend(st);
	return sq_stmt_cached(b, &b->aux[SLOT_BASE + q], sql[q]);
}

static int read_peer(sqlite3_stmt *q, struct peer_record *p)
{
	size_t n = 0;
	int r;
	memset(p, 0, sizeof(*p));
	p->id = sqlite3_column_int64(q, 0);
	if ((r = sq_copy_text(p->kind, sizeof(p->kind), q, 1)) ||
	    (r = sq_copy_text(p->name, sizeof(p->name), q, 2)) ||
	    (r = sq_copy_text(p->sender_id, sizeof(p->sender_id), q, 3)) ||
	    (r = sq_copy_text(p->kek_label, sizeof(p->kek_label), q, 4)) ||
	    (r = sq_copy_text(p->cert_sha256, sizeof(p->cert_sha256), q, 5)))
		return r;
	if (sqlite3_column_type(q, 6) != SQLITE_NULL) {
		if ((r = sq_copy_blob(p->token_sha256, sizeof(p->token_sha256), &n, q, 6)) != 0)
			return r;
		p->has_token = n == sizeof(p->token_sha256);
	}
	p->allow_plaintext = sqlite3_column_int(q, 7);
	p->created_at = sqlite3_column_int64(q, 8);
	p->tenant_id = sqlite3_column_int64(q, 9);
	if ((r = sq_copy_text(p->client_ca, sizeof(p->client_ca), q, 10)) ||
	    (r = sq_copy_text(p->client_cert_cn, sizeof(p->client_cert_cn), q, 11)) ||
	    (r = sq_copy_text(p->receiver_unknown_code, sizeof(p->receiver_unknown_code), q, 12)))
		return r;
	return 0;
}

static int one_peer(struct store *st, sqlite3_stmt *q, struct peer_record *out)
{
	int rc, r;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		r = read_peer(q, out);
	else
		r = rc == SQLITE_DONE ? IV_ERR_NOT_FOUND : sq_map_rc(sq_backend(st), rc, "peer");
	sq_done(q);
	return r;
}

static int peer_insert(struct store *st, struct peer_record *p)
{
	sqlite3_stmt *q = q_(st, L_PEER_INSERT);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	p->created_at = store_now_ms();
	sqlite3_bind_text(q, 1, p->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, p->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, p->sender_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, p->kek_label, -1, SQLITE_STATIC);
	sq_bind_text_or_null(q, 5, p->cert_sha256);
	if (p->has_token)
		sqlite3_bind_blob(q, 6, p->token_sha256, sizeof(p->token_sha256), SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 6);
	sqlite3_bind_int(q, 7, p->allow_plaintext);
	sqlite3_bind_int64(q, 8, p->created_at);
	sqlite3_bind_int64(q, 9, p->tenant_id);
	sq_bind_text_or_null(q, 10, p->client_ca);
	sq_bind_text_or_null(q, 11, p->client_cert_cn);
	sqlite3_bind_text(q, 12, p->receiver_unknown_code[0] ? p->receiver_unknown_code : "UnknownReceiver",
			  -1, SQLITE_STATIC);
	r = sq_step_done(st, q, "peer_insert");
	if (r == 0)
		p->id = sqlite3_last_insert_rowid(sq_backend(st)->db);
	return r;
}

static int peer_get(struct store *st, int64_t id, struct peer_record *out)
{
	sqlite3_stmt *q = q_(st, L_PEER_GET);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, id);
	return one_peer(st, q, out);
}

static int peer_get_text(struct store *st, enum lq which, const char *text, struct peer_record *out)
{
	sqlite3_stmt *q = q_(st, which);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_text(q, 1, text, -1, SQLITE_STATIC);
	return one_peer(st, q, out);
}

static int peer_get_by_name(struct store *st, const char *name, struct peer_record *out)
{
	return peer_get_text(st, L_PEER_BY_NAME, name, out);
}

static int peer_get_by_sender(struct store *st, const char *sender, struct peer_record *out)
{
	return peer_get_text(st, L_PEER_BY_SENDER, sender, out);
}

static int peer_get_by_cert(struct store *st, const char *fp, struct peer_record *out)
{
	return peer_get_text(st, L_PEER_BY_CERT, fp, out);
}

static int peer_list_rows(struct store *st, sqlite3_stmt *q, store_peer_cb cb, void *ctx)
{
	struct peer_record p;
	int r = 0, rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if ((r = read_peer(q, &p)) != 0 || (r = cb(ctx, &p)) != 0)
			break;
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_map_rc(sq_backend(st), rc, "peer_list");
	sq_done(q);
	return r;
}

static int peer_list(struct store *st, store_peer_cb cb, void *ctx)
{
	sqlite3_stmt *q = q_(st, L_PEER_LIST);
	if (q == NULL)
		return IV_ERR_STORE;
	return peer_list_rows(st, q, cb, ctx);
}

static int peer_list_tenant(struct store *st, int64_t tenant_id, store_peer_cb cb, void *ctx)
{
	sqlite3_stmt *q = q_(st, L_PEER_LIST_TENANT);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	return peer_list_rows(st, q, cb, ctx);
}

static int peer_delete(struct store *st, int64_t id)
{
	sqlite3_stmt *q = q_(st, L_PEER_DELETE);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, id);
	r = sq_step_done(st, q, "peer_delete");
	if (r == 0 && sqlite3_changes(sq_backend(st)->db) == 0)
		r = IV_ERR_NOT_FOUND;
	return r;
}

static int device_get_by_dev_eui(struct store *st, const char *dev_eui, struct device_record *d,
				 int64_t *as_peer_id, char home_net_id[static 7])
{
	sqlite3_stmt *q = q_(st, L_DEVICE_BY_EUI);
	int rc, r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_text(q, 1, dev_eui, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		if ((r = sq_read_device(q, d)) || (r = sq_copy_text(home_net_id, 7, q, 13)))
			goto out;
		*as_peer_id = sqlite3_column_int64(q, 12);
	} else
		r = rc == SQLITE_DONE ? IV_ERR_NOT_FOUND : sq_map_rc(sq_backend(st), rc, "device_by_eui");
out:
	sq_done(q);
	return r;
}

static int device_set_join_settings(struct store *st, int64_t tenant_id, int64_t device_id,
				    int64_t as_peer_id, const char *home_net_id)
{
	sqlite3_stmt *q = q_(st, L_DEVICE_SET_JOIN);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, device_id);
	sqlite3_bind_int64(q, 3, as_peer_id);
	sq_bind_text_or_null(q, 4, home_net_id);
	sqlite3_bind_int64(q, 5, store_now_ms());
	r = sq_step_done(st, q, "device_set_join_settings");
	if (r == 0 && sqlite3_changes(sq_backend(st)->db) == 0)
		r = IV_ERR_NOT_FOUND;
	return r;
}

static int ensure_state(struct store *st, int64_t device_id)
{
	sqlite3_stmt *q = q_(st, L_JOIN_STATE_ENSURE);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, device_id);
	return sq_step_done(st, q, "join_state");
}

static int dev_nonce_use(struct store *st, int64_t device_id, uint16_t dev_nonce, int random_nonces)
{
	sqlite3_stmt *q;
	int r;

	if ((r = ensure_state(st, device_id)) != 0)
		return r;
	if (!random_nonces) {
		/* counter DevNonces (1.0.4, 1.1) must grow */
		if ((q = q_(st, L_NONCE_ADVANCE)) == NULL)
			return IV_ERR_STORE;
		sqlite3_bind_int64(q, 1, device_id);
		sqlite3_bind_int(q, 2, dev_nonce);
		if ((r = sq_step_done(st, q, "dev_nonce_advance")) != 0)
			return r;
		if (sqlite3_changes(sq_backend(st)->db) == 0)
			return IV_ERR_REFUSED;
	}
	if ((q = q_(st, L_NONCE_INSERT)) == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, device_id);
	sqlite3_bind_int(q, 2, dev_nonce);
	sqlite3_bind_int64(q, 3, store_now_ms());
	r = sq_step_done(st, q, "dev_nonce_insert");
	return r == IV_ERR_EXISTS ? IV_ERR_REFUSED : r;
}

static int rj_count_use(struct store *st, enum lq which, int64_t device_id, uint16_t rj_count)
{
	sqlite3_stmt *q;
	int r;
	if ((r = ensure_state(st, device_id)) != 0)
		return r;
	if ((q = q_(st, which)) == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, device_id);
	sqlite3_bind_int(q, 2, rj_count);
	if ((r = sq_step_done(st, q, "rj_count")) != 0)
		return r;
	return sqlite3_changes(sq_backend(st)->db) == 0 ? IV_ERR_REFUSED : 0;
}

static int rj_count1_use(struct store *st, int64_t device_id, uint16_t rj_count)
{
	return rj_count_use(st, L_RJ_COUNT1, device_id, rj_count);
}

static int rj_count0_use(struct store *st, int64_t device_id, uint16_t rj_count)
{
	return rj_count_use(st, L_RJ_COUNT0, device_id, rj_count);
}

static int join_nonce_next(struct store *st, int64_t device_id, uint32_t *out)
{
	sqlite3_stmt *q;
	int r, rc;
	if ((r = ensure_state(st, device_id)) != 0)
		return r;
	if ((q = q_(st, L_JOIN_NONCE_NEXT)) == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, device_id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*out = (uint32_t)sqlite3_column_int64(q, 0);
		/* step to the end so the UPDATE completes */
		rc = sqlite3_step(q);
		r = rc == SQLITE_DONE ? 0 : sq_map_rc(sq_backend(st), rc, "join_nonce");
	} else
		r = rc == SQLITE_DONE ? IV_ERR_REFUSED : sq_map_rc(sq_backend(st), rc, "join_nonce");
	sq_done(q);
	return r;
}

static int dev_nonce_reset(struct store *st, int64_t device_id)
{
	sqlite3_stmt *q;
	int r;
	if ((q = q_(st, L_NONCE_RESET_HISTORY)) == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, device_id);
	if ((r = sq_step_done(st, q, "dev_nonce_reset")) != 0)
		return r;
	if ((q = q_(st, L_NONCE_RESET_STATE)) == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, device_id);
	return sq_step_done(st, q, "dev_nonce_reset");
}

static int session_insert(struct store *st, struct lorawan_session_record *s)
{
	sqlite3_stmt *q = q_(st, L_SESSION_INSERT);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	s->created_at = store_now_ms();
	sqlite3_bind_text(q, 1, s->session_key_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, s->device_id);
	sqlite3_bind_int64(q, 3, s->tenant_id);
	sqlite3_bind_int64(q, 4, s->dev_addr);
	sqlite3_bind_text(q, 5, s->mac_version, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 6, s->opt_neg);
	sqlite3_bind_int64(q, 7, s->ns_peer_id);
	sqlite3_bind_int64(q, 8, s->created_at);
	r = sq_step_done(st, q, "session_insert");
	if (r != 0)
		return r;
	s->id = sqlite3_last_insert_rowid(sq_backend(st)->db);
	/* a new session restarts the device's RJcount0 */
	if ((q = q_(st, L_RJ_COUNT0_RESET)) == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, s->device_id);
	return sq_step_done(st, q, "rj_count0_reset");
}

static int one_session(struct store *st, sqlite3_stmt *q, struct lorawan_session_record *out)
{
	int rc, r;
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
		r = rc == SQLITE_DONE ? IV_ERR_NOT_FOUND : sq_map_rc(sq_backend(st), rc, "session");
	sq_done(q);
	return r;
}

static int session_get(struct store *st, const char *id, struct lorawan_session_record *out)
{
	sqlite3_stmt *q = q_(st, L_SESSION_GET);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	return one_session(st, q, out);
}

static int session_latest(struct store *st, int64_t device_id, struct lorawan_session_record *out)
{
	sqlite3_stmt *q = q_(st, L_SESSION_LATEST);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, device_id);
	return one_session(st, q, out);
}

static int security_event_add(struct store *st, const struct security_event *ev)
{
	sqlite3_stmt *q = q_(st, L_EVENT_ADD);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, store_now_ms());
	sqlite3_bind_int64(q, 2, ev->tenant_id);
	sqlite3_bind_text(q, 3, ev->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, ev->source ? ev->source : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, ev->subject ? ev->subject : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, ev->detail ? ev->detail : "", -1, SQLITE_STATIC);
	return sq_step_done(st, q, "security_event_add");
}

static int64_t security_event_count(struct store *st, const char *kind)
{
	sqlite3_stmt *q = q_(st, L_EVENT_COUNT);
	int64_t n;
	if (q == NULL)
		return IV_ERR_STORE;
	sq_bind_text_or_null(q, 1, kind);
	n = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : IV_ERR_STORE;
	sq_done(q);
	return n;
}

const struct store_lorawan_ops sqlite_lorawan_ops = {
	.peer_insert = peer_insert,
	.peer_get = peer_get,
	.peer_get_by_name = peer_get_by_name,
	.peer_get_by_sender = peer_get_by_sender,
	.peer_get_by_cert = peer_get_by_cert,
	.peer_list = peer_list,
	.peer_list_tenant = peer_list_tenant,
	.peer_delete = peer_delete,
	.device_get_by_dev_eui = device_get_by_dev_eui,
	.device_set_join_settings = device_set_join_settings,
	.dev_nonce_use = dev_nonce_use,
	.rj_count1_use = rj_count1_use,
	.rj_count0_use = rj_count0_use,
	.join_nonce_next = join_nonce_next,
	.dev_nonce_reset = dev_nonce_reset,
	.session_insert = session_insert,
	.session_get = session_get,
	.session_latest = session_latest,
	.security_event_add = security_event_add,
	.security_event_count = security_event_count,
};
