/* Internals shared by the files of the SQLite backend: each resource family
 * (devices, auth, LoRaWAN state, ...) keeps its queries in its own file and
 * caches its prepared statements in the backend's auxiliary slots. */
#ifndef IOTVAULT_STORE_SQLITE_INTERNAL_H
#define IOTVAULT_STORE_SQLITE_INTERNAL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "iotvault/store.h"

#define SQ_AUX_STMTS 288 /* 256..271: sqlite_lwm2m_queue.c */

struct sqlite_backend {
	struct store base; /* first member: struct store * converts to this */
	sqlite3 *db;
	/* statements of the other files, each owning a fixed range of slots */
	sqlite3_stmt *aux[SQ_AUX_STMTS];
};

static inline struct sqlite_backend *sq_backend(struct store *st)
{
	return (struct sqlite_backend *)st;
}

/* A reset, unbound persistent statement for SQL, prepared into *SLOT on first use. */
sqlite3_stmt *sq_stmt_cached(struct sqlite_backend *b, sqlite3_stmt **slot, const char *sql);
/* Resets STMT (releases read locks and bound blobs). */
void sq_done(sqlite3_stmt *stmt);
/* SQLite result code to the error registry (constraint -> IV_ERR_EXISTS). */
int sq_map_rc(struct sqlite_backend *b, int rc, const char *what);
/* The columns of a device row as sq_read_device reads them (0..11); files
 * that need more append them after these. */
#define SQ_DEVICE_COLUMNS                                                                       \
	"id, tenant_id, kind, name, tags, coalesce(dev_eui,''), coalesce(join_eui,''), "        \
	"coalesce(mac_version,''), coalesce(endpoint,''), coalesce(psk_identity,''), created_at, " \
	"updated_at"
/* Fills D from the SQ_DEVICE_COLUMNS of the current row. */
int sq_read_device(sqlite3_stmt *q, struct device_record *d);
/* Steps a statement that returns no rows, maps the result, resets it. */
int sq_step_done(struct store *st, sqlite3_stmt *q, const char *what);
/* Binds TEXT, or NULL when TEXT is NULL or empty. */
void sq_bind_text_or_null(sqlite3_stmt *q, int col, const char *text);
/* Bounded copies of a column; IV_ERR_STORE when it does not fit. */
int sq_copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col);
int sq_copy_blob(uint8_t *dst, size_t cap, size_t *len, sqlite3_stmt *st, int col);

/* the integrations' operations (sqlite_outbox.c, aux slots 128..159) */
struct store_outbox_ops;
extern const struct store_outbox_ops sqlite_outbox_ops;

#endif
