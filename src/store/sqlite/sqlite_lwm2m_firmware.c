/* SQLite queries of LwM2M firmware update: images (blobs) and update jobs
 * (migration 0012). Statements live in the backend's auxiliary slots
 * 224..239 (see sqlite_internal.h). */
#include "iotvault/store_lwm2m_firmware.h"
#include "store/sqlite/sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOT_BASE 224

enum fq {
	F_INSERT,
	F_GET,
	F_IMAGE,
	F_LIST,
	F_IN_USE,
	F_DELETE,
	J_INSERT,
	J_GET,
	J_UPDATE,
	J_LIST,
	J_ABORT,
	F_COUNT
};

_Static_assert(SLOT_BASE + F_COUNT <= 240, "firmware slots are 224..239");

#define FW_COLUMNS "id, tenant_id, name, version, size, sha256, created_at"
#define JOB_COLUMNS                                                                         \
	"id, tenant_id, device_id, firmware_id, method, status, fw_state, update_result, "  \
	"states, detail, created_at, updated_at, coalesce(finished_at, 0)"

static const char *const sql[F_COUNT] = {
	[F_INSERT] = "INSERT INTO lwm2m_firmware (tenant_id, name, version, size, sha256, image, "
		     "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[F_GET] = "SELECT " FW_COLUMNS " FROM lwm2m_firmware WHERE tenant_id = ?1 AND id = ?2",
	[F_IMAGE] = "SELECT image FROM lwm2m_firmware WHERE tenant_id = ?1 AND id = ?2",
	[F_LIST] = "SELECT " FW_COLUMNS " FROM lwm2m_firmware WHERE tenant_id = ?1 ORDER BY id",
	[F_IN_USE] = "SELECT count(*) FROM lwm2m_firmware_jobs WHERE firmware_id = ?1",
	[F_DELETE] = "DELETE FROM lwm2m_firmware WHERE tenant_id = ?1 AND id = ?2",
	[J_INSERT] = "INSERT INTO lwm2m_firmware_jobs (tenant_id, device_id, firmware_id, method, "
		     "status, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?5)",
	[J_GET] = "SELECT " JOB_COLUMNS " FROM lwm2m_firmware_jobs WHERE tenant_id = ?1 AND id = ?2",
	[J_UPDATE] = "UPDATE lwm2m_firmware_jobs SET status = ?2, fw_state = ?3, update_result = ?4, "
		     "states = ?5, detail = ?6, updated_at = ?7, finished_at = nullif(?8, 0) "
		     "WHERE id = ?1",
	[J_LIST] = "SELECT " JOB_COLUMNS " FROM lwm2m_firmware_jobs WHERE tenant_id = ?1 AND "
		   "(?2 = 0 OR device_id = ?2) ORDER BY id DESC LIMIT ?3",
	[J_ABORT] = "UPDATE lwm2m_firmware_jobs SET status = 'failed', detail = ?1, updated_at = ?2, "
		    "finished_at = ?2 WHERE status = 'running'",
};

static sqlite3_stmt *q_(struct store *st, enum fq q)
{
	struct sqlite_backend *b = sq_backend(st);
	return sq_stmt_cached(b, &b->aux[SLOT_BASE + q], sql[q]);
}

static int read_fw(sqlite3_stmt *q, struct lwm2m_firmware_record *f)
{
	int r;
	memset(f, 0, sizeof(*f));
	f->id = sqlite3_column_int64(q, 0);
	f->tenant_id = sqlite3_column_int64(q, 1);
	if ((r = sq_copy_text(f->name, sizeof(f->name), q, 2)) ||
	    (r = sq_copy_text(f->version, sizeof(f->version), q, 3)) ||
	    (r = sq_copy_text(f->sha256, sizeof(f->sha256), q, 5)))
		return r;
	f->size = sqlite3_column_int64(q, 4);
	f->created_at = sqlite3_column_int64(q, 6);
	return 0;
}

static int read_job(sqlite3_stmt *q, struct lwm2m_firmware_job_record *j)
{
	int r;
	memset(j, 0, sizeof(*j));
	j->id = sqlite3_column_int64(q, 0);
	j->tenant_id = sqlite3_column_int64(q, 1);
	j->device_id = sqlite3_column_int64(q, 2);
	j->firmware_id = sqlite3_column_int64(q, 3);
	if ((r = sq_copy_text(j->method, sizeof(j->method), q, 4)) ||
	    (r = sq_copy_text(j->status, sizeof(j->status), q, 5)) ||
	    (r = sq_copy_text(j->states, sizeof(j->states), q, 8)) ||
	    (r = sq_copy_text(j->detail, sizeof(j->detail), q, 9)))
		return r;
	j->fw_state = sqlite3_column_int(q, 6);
	j->update_result = sqlite3_column_int(q, 7);
	j->created_at = sqlite3_column_int64(q, 10);
	j->updated_at = sqlite3_column_int64(q, 11);
	j->finished_at = sqlite3_column_int64(q, 12);
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

static int firmware_insert(struct store *st, struct lwm2m_firmware_record *fw,
			   const uint8_t *image, size_t len)
{
	sqlite3_stmt *q = q_(st, F_INSERT);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	fw->created_at = store_now_ms();
	fw->size = (int64_t)len;
	sqlite3_bind_int64(q, 1, fw->tenant_id);
	sqlite3_bind_text(q, 2, fw->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, fw->version, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, fw->size);
	sqlite3_bind_text(q, 5, fw->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(q, 6, image, len, SQLITE_STATIC);
	sqlite3_bind_int64(q, 7, fw->created_at);
	r = sq_step_done(st, q, "lwm2m_firmware_insert");
	if (r == 0)
		fw->id = sqlite3_last_insert_rowid(sq_backend(st)->db);
	return r;
}

static int firmware_get(struct store *st, int64_t tenant_id, int64_t id,
			struct lwm2m_firmware_record *out)
{
	sqlite3_stmt *q = q_(st, F_GET);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, id);
	ONE_ROW(st, q, read_fw, out, "lwm2m_firmware_get");
}

static int firmware_image(struct store *st, int64_t tenant_id, int64_t id, uint8_t **image,
			  size_t *len)
{
	sqlite3_stmt *q = q_(st, F_IMAGE);
	int rc, r;
	*image = NULL;
	*len = 0;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(q, 0);
		const void *p = sqlite3_column_blob(q, 0);
		if (n == 0 || p == NULL)
			r = IV_ERR_STORE;
		else if ((*image = malloc(n)) == NULL) /* lint:not-secret */
			r = IV_ERR_NOMEM;
		else {
			memcpy(*image, p, n);
			*len = n;
			r = 0;
		}
	} else
		r = rc == SQLITE_DONE ? IV_ERR_NOT_FOUND
				      : sq_map_rc(sq_backend(st), rc, "lwm2m_firmware_image");
	sq_done(q);
	return r;
}

static int firmware_list(struct store *st, int64_t tenant_id, store_lwm2m_firmware_cb cb,
			 void *ctx)
{
	sqlite3_stmt *q = q_(st, F_LIST);
	struct lwm2m_firmware_record f;
	int rc, r = 0;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if ((r = read_fw(q, &f)) != 0 || (r = cb(ctx, &f)) != 0)
			break;
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_map_rc(sq_backend(st), rc, "lwm2m_firmware_list");
	sq_done(q);
	return r;
}

static int firmware_delete(struct store *st, int64_t tenant_id, int64_t id)
{
	sqlite3_stmt *q = q_(st, F_IN_USE);
	int64_t uses = 0;
	int rc;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		uses = sqlite3_column_int64(q, 0);
	sq_done(q);
	if (rc != SQLITE_ROW)
		return sq_map_rc(sq_backend(st), rc, "lwm2m_firmware_in_use");
	if (uses > 0)
		return IV_ERR_EXISTS;
	if ((q = q_(st, F_DELETE)) == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, id);
	rc = sqlite3_step(q);
	sq_done(q);
	if (rc != SQLITE_DONE)
		return sq_map_rc(sq_backend(st), rc, "lwm2m_firmware_delete");
	return sqlite3_changes(sq_backend(st)->db) > 0 ? 0 : IV_ERR_NOT_FOUND;
}

static int job_insert(struct store *st, struct lwm2m_firmware_job_record *job)
{
	sqlite3_stmt *q = q_(st, J_INSERT);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	job->created_at = job->updated_at = store_now_ms();
	sqlite3_bind_int64(q, 1, job->tenant_id);
	sqlite3_bind_int64(q, 2, job->device_id);
	sqlite3_bind_int64(q, 3, job->firmware_id);
	sqlite3_bind_text(q, 4, job->method, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, job->created_at);
	r = sq_step_done(st, q, "lwm2m_firmware_job_insert");
	if (r == 0) {
		job->id = sqlite3_last_insert_rowid(sq_backend(st)->db);
		snprintf(job->status, sizeof(job->status), "running");
		job->fw_state = job->update_result = -1;
		job->states[0] = job->detail[0] = '\0';
		job->finished_at = 0;
	}
	return r;
}

static int job_get(struct store *st, int64_t tenant_id, int64_t id,
		   struct lwm2m_firmware_job_record *out)
{
	sqlite3_stmt *q = q_(st, J_GET);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, id);
	ONE_ROW(st, q, read_job, out, "lwm2m_firmware_job_get");
}

static int job_update(struct store *st, const struct lwm2m_firmware_job_record *job)
{
	sqlite3_stmt *q = q_(st, J_UPDATE);
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, job->id);
	sqlite3_bind_text(q, 2, job->status, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 3, job->fw_state);
	sqlite3_bind_int(q, 4, job->update_result);
	sqlite3_bind_text(q, 5, job->states, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, job->detail, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 7, store_now_ms());
	sqlite3_bind_int64(q, 8, job->finished_at);
	return sq_step_done(st, q, "lwm2m_firmware_job_update");
}

static int job_list(struct store *st, int64_t tenant_id, int64_t device_id, int limit,
		    store_lwm2m_firmware_job_cb cb, void *ctx)
{
	sqlite3_stmt *q = q_(st, J_LIST);
	struct lwm2m_firmware_job_record j;
	int rc, r = 0;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_int64(q, 1, tenant_id);
	sqlite3_bind_int64(q, 2, device_id);
	sqlite3_bind_int(q, 3, limit);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if ((r = read_job(q, &j)) != 0 || (r = cb(ctx, &j)) != 0)
			break;
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_map_rc(sq_backend(st), rc, "lwm2m_firmware_job_list");
	sq_done(q);
	return r;
}

static int job_abort_running(struct store *st, const char *detail, int64_t *count)
{
	sqlite3_stmt *q = q_(st, J_ABORT);
	int r;
	if (q == NULL)
		return IV_ERR_STORE;
	sqlite3_bind_text(q, 1, detail, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, store_now_ms());
	r = sq_step_done(st, q, "lwm2m_firmware_job_abort");
	if (r == 0 && count != NULL)
		*count = sqlite3_changes(sq_backend(st)->db);
	return r;
}

const struct store_lwm2m_firmware_ops sqlite_lwm2m_firmware_ops = {
	.firmware_insert = firmware_insert,
	.firmware_get = firmware_get,
	.firmware_image = firmware_image,
	.firmware_list = firmware_list,
	.firmware_delete = firmware_delete,
	.job_insert = job_insert,
	.job_get = job_get,
	.job_update = job_update,
	.job_list = job_list,
	.job_abort_running = job_abort_running,
};
