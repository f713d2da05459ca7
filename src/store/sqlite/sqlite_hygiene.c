/* SQLite queries of key hygiene (include/iotvault/store_hygiene.h).
 * Statements are cached in the backend's auxiliary slots 100..127. */
#include "iotvault/store_hygiene.h"
#include "store/sqlite/sqlite_internal.h"

#include <string.h>

enum hygiene_query {
	H_FPV_GET,
	H_FPV_SET,
	H_SET_FP,
	H_SET_FP_ID,
	H_PENDING_LIST,
	H_PENDING_COUNT,
	H_LOOKUP_SAME,
	H_COUNT_SAME,
	H_COUNT_OTHER,
	H_FINDING_PUT,
	H_FINDING_LIST,
	H_NP_SET,
	H_NP_GET,
	H_C_DEVICES,
	H_C_KEYS,
	H_C_GROUPS,
	H_C_SHARED_OTHER,
	H_C_OTHER_DEVICES,
	H_C_SHARED_ANY,
	H_C_REVEALED,
	H_C_EXPORTED,
	H_C_EXPORT_EVENTS,
	H_C_FLAGGED,
	H_GROUPS,
	H_GROUP_DEVICES,
	H_COUNT
};

#define H_FIRST_SLOT 100
/* this file owns aux slots 100..127 of struct sqlite_backend */
_Static_assert(H_FIRST_SLOT + H_COUNT <= 128, "sqlite_hygiene.c owns aux slots 100..127");

/* Device keys are the only rows with a fingerprint, so lookups by
 * fingerprint need no owner_kind condition. "tenant_id < ?2 OR tenant_id >
 * ?2" rather than "<>": two range seeks on the (fingerprint, tenant_id)
 * index instead of a walk over a large group of the caller's own keys. */
#define DEVICE_KEY_FIELDS "field IN ('app_key', 'nwk_key', 'psk')"
#define EXPOSED_DEVICES(action_cond)                                                         \
	"SELECT count(*) FROM devices WHERE tenant_id = ?1 AND id IN ("                     \
	"SELECT CAST(substr(object, 8) AS INTEGER) FROM audit_log WHERE tenant_id = ?1 AND " \
	action_cond " AND object LIKE 'device:%')"

static const char *const hygiene_sql[H_COUNT] = {
	[H_FPV_GET] = "SELECT fp_version FROM hygiene_state WHERE id = 1",
	[H_FPV_SET] = "UPDATE hygiene_state SET fp_version = ?1 WHERE id = 1",
	[H_SET_FP] = "UPDATE secrets SET fingerprint = ?4, fp_version = ?5 "
		     "WHERE owner_kind = ?1 AND owner_id = ?2 AND field = ?3",
	[H_SET_FP_ID] = "UPDATE secrets SET fingerprint = ?2, fp_version = ?3 "
			"WHERE id = ?1 AND fp_version < ?3",
	[H_PENDING_LIST] = "SELECT id, tenant_id, owner_id, field FROM secrets "
			   "WHERE owner_kind = 'device' AND fp_version < ?1 AND " DEVICE_KEY_FIELDS
			   " LIMIT ?2",
	[H_PENDING_COUNT] = "SELECT count(*) FROM secrets WHERE owner_kind = 'device' AND "
			    "fp_version < ?1 AND " DEVICE_KEY_FIELDS,
	[H_LOOKUP_SAME] = "SELECT DISTINCT owner_id FROM secrets WHERE fingerprint = ?1 AND "
			  "tenant_id = ?2 AND owner_id <> ?3 ORDER BY owner_id LIMIT ?4",
	[H_COUNT_SAME] = "SELECT count(DISTINCT owner_id) FROM secrets WHERE fingerprint = ?1 AND "
			 "tenant_id = ?2 AND owner_id <> ?3",
	[H_COUNT_OTHER] = "SELECT count(DISTINCT owner_id) FROM secrets WHERE fingerprint = ?1 AND "
			  "(tenant_id < ?2 OR tenant_id > ?2)",
	[H_FINDING_PUT] = "INSERT INTO device_findings (device_id, field, rule, detail, created_at) "
			  "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (device_id, field, rule) DO UPDATE "
			  "SET detail = excluded.detail, created_at = excluded.created_at",
	[H_FINDING_LIST] = "SELECT device_id, field, rule, detail, created_at FROM device_findings "
			   "WHERE device_id = ?1 ORDER BY field, rule",
	[H_NP_SET] = "UPDATE devices SET needs_provisioning = ?3 WHERE tenant_id = ?1 AND id = ?2",
	[H_NP_GET] = "SELECT needs_provisioning FROM devices WHERE tenant_id = ?1 AND id = ?2",
	[H_C_DEVICES] = "SELECT count(*), coalesce(sum(needs_provisioning), 0) FROM devices "
			"WHERE tenant_id = ?1",
	[H_C_KEYS] = "SELECT count(*), coalesce(sum(s.fingerprint IS NULL OR s.fp_version < "
		     "(SELECT fp_version FROM hygiene_state WHERE id = 1)), 0) "
		     "FROM devices d JOIN secrets s ON s.owner_kind = 'device' AND s.owner_id = d.id "
		     "WHERE d.tenant_id = ?1",
	[H_C_GROUPS] = "SELECT count(*), coalesce(sum(n), 0) FROM (SELECT count(DISTINCT owner_id) "
		       "AS n FROM secrets WHERE tenant_id = ?1 AND fingerprint IS NOT NULL "
		       "GROUP BY fingerprint HAVING n > 1)",
	[H_C_SHARED_OTHER] =
		"SELECT count(*) FROM secrets s WHERE s.tenant_id = ?1 AND s.fingerprint IS NOT NULL "
		"AND (EXISTS (SELECT 1 FROM secrets o WHERE o.fingerprint = s.fingerprint AND "
		"o.tenant_id < ?1) OR EXISTS (SELECT 1 FROM secrets o WHERE o.fingerprint = "
		"s.fingerprint AND o.tenant_id > ?1))",
	[H_C_OTHER_DEVICES] =
		"SELECT count(DISTINCT o.owner_id) FROM (SELECT DISTINCT fingerprint FROM secrets "
		"WHERE tenant_id = ?1 AND fingerprint IS NOT NULL) f JOIN secrets o ON "
		"o.fingerprint = f.fingerprint WHERE (o.tenant_id < ?1 OR o.tenant_id > ?1)",
	[H_C_SHARED_ANY] =
		"SELECT count(DISTINCT s.owner_id) FROM secrets s WHERE s.tenant_id = ?1 AND "
		"s.fingerprint IS NOT NULL AND (EXISTS (SELECT 1 FROM secrets o WHERE "
		"o.fingerprint = s.fingerprint AND o.owner_id < s.owner_id) OR EXISTS (SELECT 1 "
		"FROM secrets o WHERE o.fingerprint = s.fingerprint AND o.owner_id > s.owner_id))",
	[H_C_REVEALED] = EXPOSED_DEVICES("action = 'key.reveal' AND outcome = 'granted'"),
	[H_C_EXPORTED] = EXPOSED_DEVICES("action = 'device.export' AND outcome NOT IN ('failure', "
					 "'denied')"),
	[H_C_EXPORT_EVENTS] = "SELECT count(*) FROM audit_log WHERE tenant_id = ?1 AND "
			      "action = 'device.export' AND outcome NOT IN ('failure', 'denied')",
	[H_C_FLAGGED] = "SELECT count(DISTINCT f.device_id) FROM device_findings f JOIN devices d "
			"ON d.id = f.device_id WHERE d.tenant_id = ?1",
	[H_GROUPS] = "SELECT fingerprint, count(DISTINCT owner_id) AS n FROM secrets "
		     "WHERE tenant_id = ?1 AND fingerprint IS NOT NULL GROUP BY fingerprint "
		     "HAVING n > 1 ORDER BY n DESC, fingerprint LIMIT ?2",
	[H_GROUP_DEVICES] = "SELECT DISTINCT owner_id FROM secrets WHERE tenant_id = ?1 AND "
			    "fingerprint = ?2 ORDER BY owner_id LIMIT ?3",
};

static sqlite3_stmt *q_get(struct store *st, enum hygiene_query q)
{
	struct sqlite_backend *b = sq_backend(st);
	return sq_stmt_cached(b, &b->aux[H_FIRST_SLOT + q], hygiene_sql[q]);
}

static int run_update(struct store *st, sqlite3_stmt *q, int must_change, const char *what)
{
	struct sqlite_backend *b = sq_backend(st);
	int r = sq_map_rc(b, sqlite3_step(q), what);
	if (r == 0 && must_change && sqlite3_changes(b->db) == 0)
		r = IV_ERR_NOT_FOUND;
	sq_done(q);
	return r;
}

/* Steps a one-row query of up to two integer columns. */
static int run_ints(struct store *st, sqlite3_stmt *q, int64_t *a, int64_t *b, const char *what)
{
	int rc = sqlite3_step(q);
	int r = 0;
	if (rc == SQLITE_ROW) {
		*a = sqlite3_column_int64(q, 0);
		if (b != NULL)
			*b = sqlite3_column_int64(q, 1);
	} else
		r = rc == SQLITE_DONE ? IV_ERR_NOT_FOUND : sq_map_rc(sq_backend(st), rc, what);
	sq_done(q);
	return r;
}

/* Steps a query of one integer column, handing each to CB. */
static int run_ids(struct store *st, sqlite3_stmt *q, store_id_cb cb, void *ctx, const char *what)
{
	int r = 0, rc;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if ((r = cb(ctx, sqlite3_column_int64(q, 0))) != 0)
			break;
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_map_rc(sq_backend(st), rc, what);
	sq_done(q);
	return r;
}

static int valid_fp(const char *fp)
{
	return fp != NULL && strlen(fp) == STORE_FP_HEX_LEN;
}

/* ---- fingerprint key version ---- */

static int sh_fp_version_get(struct store *st, int64_t *version)
{
	sqlite3_stmt *q = q_get(st, H_FPV_GET);
	if (q == NULL)
		return IV_ERR_STORE;
	return run_ints(st, q, version, NULL, "fp_version_get");
}

static int sh_fp_version_set(struct store *st, int64_t version)
{
	sqlite3_stmt *q = q_get(st, H_FPV_SET);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, version);
	return run_update(st, q, 1, "fp_version_set");
}

/* ---- fingerprints ---- */

static int sh_secret_set_fingerprint(struct store *st, const char *owner_kind, int64_t owner_id,
				     const char *field, const char *fingerprint, int64_t version)
{
	sqlite3_stmt *q;
	if (fingerprint != NULL && !valid_fp(fingerprint))
		return IV_ERR_INVALID;
	if ((q = q_get(st, H_SET_FP)) == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_text(q, 1, owner_kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, owner_id);
	sqlite3_bind_text(q, 3, field, -1, SQLITE_STATIC);
	if (fingerprint != NULL) {
		sqlite3_bind_text(q, 4, fingerprint, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 5, version);
	}
	return run_update(st, q, 1, "secret_set_fingerprint");
}

static int sh_secret_set_fingerprint_by_id(struct store *st, int64_t secret_id,
					   const char *fingerprint, int64_t version)
{
	sqlite3_stmt *q;
	int r;
	if (!valid_fp(fingerprint))
		return IV_ERR_INVALID;
	if ((q = q_get(st, H_SET_FP_ID)) == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, secret_id);
	sqlite3_bind_text(q, 2, fingerprint, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, version);
	r = run_update(st, q, 1, "secret_set_fingerprint_by_id");
	/* re-sealed or deleted meanwhile: its fingerprint is current or gone */
	return r == IV_ERR_NOT_FOUND ? 0 : r;
}

static int sh_fp_pending_list(struct store *st, int64_t version, int limit,
			      store_fp_pending_cb cb, void *ctx)
{
	sqlite3_stmt *q = q_get(st, H_PENDING_LIST);
	struct fp_pending p;
	int r = 0, rc;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, version);
	sqlite3_bind_int(q, 2, limit);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		memset(&p, 0, sizeof(p));
		p.secret_id = sqlite3_column_int64(q, 0);
		p.tenant_id = sqlite3_column_int64(q, 1);
		p.owner_id = sqlite3_column_int64(q, 2);
		if ((r = sq_copy_text(p.field, sizeof(p.field), q, 3)) != 0 || (r = cb(ctx, &p)) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_map_rc(sq_backend(st), rc, "fp_pending_list");
	sq_done(q);
	return r;
}

static int sh_fp_pending_count(struct store *st, int64_t version, int64_t *n)
{
	sqlite3_stmt *q = q_get(st, H_PENDING_COUNT);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, version);
	return run_ints(st, q, n, NULL, "fp_pending_count");
}

static int sh_fp_lookup(struct store *st, const char *fingerprint, int64_t tenant_id,
			int64_t exclude_device, int limit, store_id_cb cb, void *ctx, int64_t *same,
			int64_t *other)
{
	sqlite3_stmt *q;
	int r;
	if (!valid_fp(fingerprint))
		return IV_ERR_INVALID;
	if (cb != NULL && limit > 0) {
		if ((q = q_get(st, H_LOOKUP_SAME)) == NULL)
			return IV_ERR_STORE;
		sqlite3_bind_text(q, 1, fingerprint, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, tenant_id);
		sqlite3_bind_int64(q, 3, exclude_device);
		sqlite3_bind_int(q, 4, limit);
		if ((r = run_ids(st, q, cb, ctx, "fp_lookup")) != 0)
			return r;
	}
	if ((q = q_get(st, H_COUNT_SAME)) == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_text(q, 1, fingerprint, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, tenant_id);
	sqlite3_bind_int64(q, 3, exclude_device);
	if ((r = run_ints(st, q, same, NULL, "fp_lookup")) != 0)
		return r;
	if ((q = q_get(st, H_COUNT_OTHER)) == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_text(q, 1, fingerprint, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, tenant_id);
	return run_ints(st, q, other, NULL, "fp_lookup");
}

/* ---- findings and provisioning ---- */

static int sh_finding_put(struct store *st, const struct device_finding *f)
{
	sqlite3_stmt *q = q_get(st, H_FINDING_PUT);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, f->device_id);
	sqlite3_bind_text(q, 2, f->field, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, f->rule, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, f->detail, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, f->created_at ? f->created_at : store_now_ms());
	return run_update(st, q, 0, "finding_put");
}

static int sh_finding_list(struct store *st, int64_t device_id, store_finding_cb cb, void *ctx)
{
	sqlite3_stmt *q = q_get(st, H_FINDING_LIST);
	struct device_finding f;
	int r = 0, rc;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, device_id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		memset(&f, 0, sizeof(f));
		f.device_id = sqlite3_column_int64(q, 0);
		if ((r = sq_copy_text(f.field, sizeof(f.field), q, 1)) != 0 ||
		    (r = sq_copy_text(f.rule, sizeof(f.rule), q, 2)) != 0 ||
		    (r = sq_copy_text(f.detail, sizeof(f.detail), q, 3)) != 0)
			break;
		f.created_at = sqlite3_column_int64(q, 4);
		if ((r = cb(ctx, &f)) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_map_rc(sq_backend(st), rc, "finding_list");
	sq_done(q);
	return r;
}

static int sh_device_set_needs_provisioning(struct store *st, int64_t tenant_id,
					    int64_t device_id, int needs)
{
	sqlite3_stmt *q = q_get(st, H_NP_SET);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, device_id);
	sqlite3_bind_int(q, 3, needs ? 1 : 0);
	return run_update(st, q, 1, "device_set_needs_provisioning");
}

static int sh_device_get_needs_provisioning(struct store *st, int64_t tenant_id,
					    int64_t device_id, int *needs)
{
	sqlite3_stmt *q = q_get(st, H_NP_GET);
	int64_t v = 0;
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, device_id);
	r = run_ints(st, q, &v, NULL, "device_get_needs_provisioning");
	*needs = v != 0;
	return r;
}

/* ---- fleet report ---- */

static int tenant_ints(struct store *st, enum hygiene_query which, int64_t tenant_id, int64_t *a,
		       int64_t *b)
{
	sqlite3_stmt *q = q_get(st, which);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	return run_ints(st, q, a, b, "hygiene report");
}

static int sh_tenant_counts(struct store *st, int64_t tenant_id, struct hygiene_tenant_counts *out)
{
	int r;
	memset(out, 0, sizeof(*out));
	if ((r = tenant_ints(st, H_C_DEVICES, tenant_id, &out->devices,
			     &out->devices_needing_provisioning)) ||
	    (r = tenant_ints(st, H_C_KEYS, tenant_id, &out->device_keys,
			     &out->fingerprints_pending)) ||
	    (r = tenant_ints(st, H_C_GROUPS, tenant_id, &out->duplicate_groups,
			     &out->devices_in_duplicate_groups)) ||
	    (r = tenant_ints(st, H_C_SHARED_OTHER, tenant_id, &out->keys_shared_other_tenants,
			     NULL)) ||
	    (r = tenant_ints(st, H_C_OTHER_DEVICES, tenant_id, &out->other_tenant_devices, NULL)) ||
	    (r = tenant_ints(st, H_C_SHARED_ANY, tenant_id, &out->devices_shared_any, NULL)) ||
	    (r = tenant_ints(st, H_C_REVEALED, tenant_id, &out->devices_revealed, NULL)) ||
	    (r = tenant_ints(st, H_C_EXPORTED, tenant_id, &out->devices_exported, NULL)) ||
	    (r = tenant_ints(st, H_C_EXPORT_EVENTS, tenant_id, &out->export_events, NULL)) ||
	    (r = tenant_ints(st, H_C_FLAGGED, tenant_id, &out->devices_flagged, NULL)))
		return r;
	return 0;
}

static int sh_fp_groups(struct store *st, int64_t tenant_id, int limit, store_fp_group_cb cb,
			void *ctx)
{
	sqlite3_stmt *q = q_get(st, H_GROUPS);
	char fp[STORE_FP_HEX_LEN + 1];
	int r = 0, rc;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int(q, 2, limit);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if ((r = sq_copy_text(fp, sizeof(fp), q, 0)) != 0 ||
		    (r = cb(ctx, fp, sqlite3_column_int64(q, 1))) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_map_rc(sq_backend(st), rc, "fp_groups");
	sq_done(q);
	return r;
}

static int sh_fp_group_devices(struct store *st, int64_t tenant_id, const char *fingerprint,
			       int limit, store_id_cb cb, void *ctx)
{
	sqlite3_stmt *q;
	if (!valid_fp(fingerprint))
		return IV_ERR_INVALID;
	if ((q = q_get(st, H_GROUP_DEVICES)) == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_text(q, 2, fingerprint, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 3, limit);
	return run_ids(st, q, cb, ctx, "fp_group_devices");
}

const struct store_hygiene_ops sqlite_hygiene_ops = {
	.fp_version_get = sh_fp_version_get,
	.fp_version_set = sh_fp_version_set,
	.secret_set_fingerprint = sh_secret_set_fingerprint,
	.secret_set_fingerprint_by_id = sh_secret_set_fingerprint_by_id,
	.fp_pending_list = sh_fp_pending_list,
	.fp_pending_count = sh_fp_pending_count,
	.fp_lookup = sh_fp_lookup,
	.finding_put = sh_finding_put,
	.finding_list = sh_finding_list,
	.device_set_needs_provisioning = sh_device_set_needs_provisioning,
	.device_get_needs_provisioning = sh_device_get_needs_provisioning,
	.tenant_counts = sh_tenant_counts,
	.fp_groups = sh_fp_groups,
	.fp_group_devices = sh_fp_group_devices,
};
