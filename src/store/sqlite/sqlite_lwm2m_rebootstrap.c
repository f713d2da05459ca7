/* SQLite query of the LwM2M re-bootstrap scheduler: registered devices whose
 * active DM credential is older than a bound. Runs once a second at most, so
 * the statement is prepared per call and owns no auxiliary slot. The join
 * walks lwm2m_registrations by its unique device_id index and reaches each
 * credential by primary key. */
#include "iotvault/store_lwm2m_rebootstrap.h"
#include "store/sqlite/sqlite_internal.h"

#include <stddef.h>

static const char *const candidates_sql =
	"SELECT r.tenant_id, r.device_id, c.id, c.activated_at FROM lwm2m_registrations r "
	"JOIN lwm2m_dm_credentials c ON c.id = r.credential_id "
	"WHERE r.device_id > ?3 AND r.expires_at > ?1 AND r.security = 'psk' "
	"AND c.state = 'active' AND c.activated_at IS NOT NULL AND c.activated_at <= ?2 "
	"ORDER BY r.device_id LIMIT ?4";

static int candidates(struct store *st, int64_t now_ms, int64_t activated_before_ms,
		      int64_t after_device_id, int limit, store_lwm2m_rebootstrap_cb cb, void *ctx)
{
	struct sqlite_backend *b = sq_backend(st);
	sqlite3_stmt *q = NULL;
	int r = 0, rc;

	if (sqlite3_prepare_v2(b->db, candidates_sql, -1, &q, NULL) != SQLITE_OK) {
		r = sq_map_rc(b, sqlite3_errcode(b->db), "lwm2m_rebootstrap_candidates");
		goto out;
	}
	sqlite3_bind_int64(q, 1, now_ms);
	sqlite3_bind_int64(q, 2, activated_before_ms);
	sqlite3_bind_int64(q, 3, after_device_id);
	sqlite3_bind_int(q, 4, limit);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct lwm2m_rebootstrap_candidate c = {
			sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1),
			sqlite3_column_int64(q, 2), sqlite3_column_int64(q, 3)};
		if ((r = cb(ctx, &c)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		r = sq_map_rc(b, rc, "lwm2m_rebootstrap_candidates");
out:
	sqlite3_finalize(q);
	return r;
}

const struct store_lwm2m_rebootstrap_ops sqlite_lwm2m_rebootstrap_ops = {
	.candidates = candidates,
};
