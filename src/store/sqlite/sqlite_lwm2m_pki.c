/* SQLite queries of the LwM2M server's certificate-mode material: tenant CAs
 * and device security modes (migration 0013). These run rarely (uploads, a
 * handshake, a trust reload once a second at most), so the statements are
 * prepared per call rather than taking slots of the backend's cache. */
#include "iotvault/store_lwm2m_pki.h"
#include "store/sqlite/sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

#define CA_COLUMNS "tenant_id, certificate_pem, subject, sha256, not_after, updated_at"
#define SEC_COLUMNS \
	"device_id, tenant_id, mode, spki, spki_sha256, coalesce(certificate, x''), updated_at"

static sqlite3_stmt *prepare(struct store *st, const char *sql)
{
	sqlite3_stmt *q = NULL;
	if (sqlite3_prepare_v2(sq_backend(st)->db, sql, -1, &q, NULL) != SQLITE_OK)
		return NULL;
	return q;
}

static int read_ca(sqlite3_stmt *q, struct lwm2m_tenant_ca_record *ca)
{
	int r;
	memset(ca, 0, sizeof(*ca));
	ca->tenant_id = sqlite3_column_int64(q, 0);
	if ((r = sq_copy_text(ca->certificate_pem, sizeof(ca->certificate_pem), q, 1)) ||
	    (r = sq_copy_text(ca->subject, sizeof(ca->subject), q, 2)) ||
	    (r = sq_copy_text(ca->sha256, sizeof(ca->sha256), q, 3)))
		return r;
	ca->not_after = sqlite3_column_int64(q, 4);
	ca->updated_at = sqlite3_column_int64(q, 5);
	return 0;
}

static int read_sec(sqlite3_stmt *q, struct lwm2m_device_security_record *s)
{
	size_t hlen = 0;
	int r;
	memset(s, 0, sizeof(*s));
	s->device_id = sqlite3_column_int64(q, 0);
	s->tenant_id = sqlite3_column_int64(q, 1);
	if ((r = sq_copy_text(s->mode, sizeof(s->mode), q, 2)) ||
	    (r = sq_copy_blob(s->spki, sizeof(s->spki), &s->spki_len, q, 3)) ||
	    (r = sq_copy_blob(s->spki_sha256, sizeof(s->spki_sha256), &hlen, q, 4)) ||
	    (r = sq_copy_blob(s->certificate, sizeof(s->certificate), &s->certificate_len, q, 5)))
		return r;
	if (hlen != sizeof(s->spki_sha256))
		return IV_ERR_STORE;
	s->updated_at = sqlite3_column_int64(q, 6);
	return 0;
}

/* Steps Q once: a row is read with READ, none is IV_ERR_NOT_FOUND. Finalizes Q. */
#define ONE_ROW(st, q, read, out, what)                                                    \
	do {                                                                               \
		int rc_ = sqlite3_step(q), r_;                                             \
		if (rc_ == SQLITE_ROW)                                                     \
			r_ = read(q, out);                                                 \
		else                                                                       \
			r_ = rc_ == SQLITE_DONE ? IV_ERR_NOT_FOUND                         \
						: sq_map_rc(sq_backend(st), rc_, what);    \
		sqlite3_finalize(q);                                                       \
		return r_;                                                                 \
	} while (0)

static int exec_done(struct store *st, sqlite3_stmt *q, const char *what)
{
	int r = sq_step_done(st, q, what);
	sqlite3_finalize(q);
	return r;
}

static int ca_put(struct store *st, struct lwm2m_tenant_ca_record *ca)
{
	sqlite3_stmt *q = prepare(st, "INSERT INTO lwm2m_tenant_ca (" CA_COLUMNS ") "
				      "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (tenant_id) DO "
				      "UPDATE SET certificate_pem = ?2, subject = ?3, sha256 = ?4, "
				      "not_after = ?5, updated_at = ?6");
	if (q == NULL)
		return IV_ERR_STORE;
	ca->updated_at = store_now_ms();
	sqlite3_bind_int64(q, 1, ca->tenant_id);
	sqlite3_bind_text(q, 2, ca->certificate_pem, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, ca->subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, ca->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, ca->not_after);
	sqlite3_bind_int64(q, 6, ca->updated_at);
	return exec_done(st, q, "lwm2m_ca_put");
}

static int ca_get(struct store *st, int64_t tenant_id, struct lwm2m_tenant_ca_record *out)
{
	sqlite3_stmt *q = prepare(st, "SELECT " CA_COLUMNS " FROM lwm2m_tenant_ca WHERE tenant_id = ?1");
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	ONE_ROW(st, q, read_ca, out, "lwm2m_ca_get");
}

static int ca_delete(struct store *st, int64_t tenant_id)
{
	sqlite3_stmt *q = prepare(st, "DELETE FROM lwm2m_tenant_ca WHERE tenant_id = ?1");
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	if ((r = exec_done(st, q, "lwm2m_ca_delete")) != 0)
		return r;
	return sqlite3_changes(sq_backend(st)->db) > 0 ? 0 : IV_ERR_NOT_FOUND;
}

static int ca_list(struct store *st, store_lwm2m_ca_cb cb, void *ctx)
{
	sqlite3_stmt *q = prepare(st, "SELECT " CA_COLUMNS " FROM lwm2m_tenant_ca ORDER BY tenant_id");
	struct lwm2m_tenant_ca_record *ca = NULL;
	int rc, r = 0;
	if (q == NULL)
		return IV_ERR_STORE;
	/* a record holds a whole PEM: one on the heap, not on the stack */
	if ((ca = malloc(sizeof(*ca))) == NULL) {
		sqlite3_finalize(q);
		return IV_ERR_NOMEM;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if ((r = read_ca(q, ca)) != 0 || (r = cb(ctx, ca)) != 0)
			break;
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_map_rc(sq_backend(st), rc, "lwm2m_ca_list");
	sqlite3_finalize(q);
	free(ca);
	return r;
}

static int security_put(struct store *st, struct lwm2m_device_security_record *s)
{
	sqlite3_stmt *q = prepare(st, "INSERT INTO lwm2m_device_security (device_id, tenant_id, mode, "
				      "spki, spki_sha256, certificate, updated_at) VALUES (?1, ?2, ?3, "
				      "?4, ?5, ?6, ?7) ON CONFLICT (device_id) DO UPDATE SET mode = ?3, "
				      "spki = ?4, spki_sha256 = ?5, certificate = ?6, updated_at = ?7");
	if (q == NULL)
		return IV_ERR_STORE;
	s->updated_at = store_now_ms();
	sqlite3_bind_int64(q, 1, s->device_id);
	sqlite3_bind_int64(q, 2, s->tenant_id);
	sqlite3_bind_text(q, 3, s->mode, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 4, s->spki, (int)s->spki_len, SQLITE_STATIC);
	sqlite3_bind_blob(q, 5, s->spki_sha256, sizeof(s->spki_sha256), SQLITE_STATIC);
	if (s->certificate_len > 0)
		sqlite3_bind_blob(q, 6, s->certificate, (int)s->certificate_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 6);
	sqlite3_bind_int64(q, 7, s->updated_at);
	return exec_done(st, q, "lwm2m_security_put");
}

static int security_get(struct store *st, int64_t device_id,
			struct lwm2m_device_security_record *out)
{
	sqlite3_stmt *q = prepare(st, "SELECT " SEC_COLUMNS " FROM lwm2m_device_security "
				      "WHERE device_id = ?1");
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, device_id);
	ONE_ROW(st, q, read_sec, out, "lwm2m_security_get");
}

static int security_get_by_spki_sha256(struct store *st, const uint8_t sha256[static 32],
				       struct lwm2m_device_security_record *out)
{
	sqlite3_stmt *q = prepare(st, "SELECT " SEC_COLUMNS " FROM lwm2m_device_security "
				      "WHERE spki_sha256 = ?1 AND mode = 'rpk'");
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_blob(q, 1, sha256, 32, SQLITE_STATIC);
	ONE_ROW(st, q, read_sec, out, "lwm2m_security_by_key");
}

static int security_delete(struct store *st, int64_t device_id)
{
	sqlite3_stmt *q = prepare(st, "DELETE FROM lwm2m_device_security WHERE device_id = ?1");
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, device_id);
	if ((r = exec_done(st, q, "lwm2m_security_delete")) != 0)
		return r;
	return sqlite3_changes(sq_backend(st)->db) > 0 ? 0 : IV_ERR_NOT_FOUND;
}

const struct store_lwm2m_pki_ops sqlite_lwm2m_pki_ops = {
	.ca_put = ca_put,
	.ca_get = ca_get,
	.ca_delete = ca_delete,
	.ca_list = ca_list,
	.security_put = security_put,
	.security_get = security_get,
	.security_get_by_spki_sha256 = security_get_by_spki_sha256,
	.security_delete = security_delete,
};
