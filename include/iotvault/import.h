/* Bulk import of devices from CSV or JSON, as manufacturers and vendor
 * portals deliver them. Every row is validated (device_validate) and its keys
 * checked (keycheck_evaluate) under one policy for the whole import; the rows
 * go in one transaction, all or none, with exactly one audit record
 * ("device.import", counts only). A dry run does the same work inside the
 * transaction and rolls it back.
 *
 * CSV: a header row names the columns, case-insensitively, ignoring '_', '-'
 * and spaces: DevEUI, AppEUI/JoinEUI, AppKey, NwkKey, MACVersion, name, tags,
 * type, endpoint, psk_identity, psk. Unknown columns are refused (a typo must
 * not drop a key on the floor). JSON: an array of objects with the same
 * names, or {"devices": [...]}. An empty cell is an absent value; a row with
 * no key gets generated ones. The type is inferred when not given: a DevEUI
 * makes a LoRaWAN device, an endpoint an LwM2M one. */
#ifndef IOTVAULT_IMPORT_H
#define IOTVAULT_IMPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "iotvault/csv.h"
#include "iotvault/errors.h"
#include "iotvault/keycheck.h"
#include "iotvault/vault.h"

#define IMPORT_MAX_ROWS 1000000
#define IMPORT_ERRORS_MAX 100   /* detailed errors kept; the rest are counted */
#define IMPORT_NOTICES_MAX 1000 /* flagged/regenerated rows listed in detail */
#define IMPORT_COLUMN_MAX 64
#define IMPORT_MESSAGE_MAX 192
/* Largest JSON document: jansson builds it whole in memory. */
#define IMPORT_JSON_MAX (64L * 1024 * 1024)

enum import_format { IMPORT_FORMAT_CSV = 0, IMPORT_FORMAT_JSON };

struct import_options {
	int64_t tenant_id;
	enum import_format format;
	enum key_policy policy;
	int dry_run;
};

/* Where the rows come from: a buffer (an HTTP body) or a stream (a file). */
struct import_source {
	const uint8_t *data; /* buffer mode when non-NULL */
	size_t len;
	csv_read_fn read;    /* stream mode */
	void *ctx;
};

/* One refused row or file-level problem. ROW is the CSV row number (header =
 * 1) or the 1-based position in the JSON array; 0 for the file as a whole.
 * COLUMN is the column as the file names it ("AppKey"), or "" when none. */
struct import_error {
	size_t row;
	char column[IMPORT_COLUMN_MAX];
	char code[24];   /* "invalid", "duplicate", "exists", "weak_key", "syntax", "too_large" */
	char message[IMPORT_MESSAGE_MAX];
};

/* A row the policy acted on (flag or regenerate). No key material. */
struct import_notice {
	size_t row;
	char column[IMPORT_COLUMN_MAX];
	char device[STORE_NAME_MAX + 1]; /* DevEUI or endpoint */
	char action[16];                 /* "flagged", "regenerated" */
	char reason[IMPORT_MESSAGE_MAX]; /* rule ids and duplicate counts */
};

struct import_result {
	size_t rows;        /* data rows read */
	size_t valid;       /* rows accepted: devices created when COMMITTED */
	size_t flagged;     /* rows stored with findings (policy flag) */
	size_t regenerated; /* rows whose weak or duplicated key was replaced */
	size_t rejected;    /* rows refused by the key policy (policy reject) */
	size_t generated;   /* rows without a key that got generated keys */
	size_t invalid;     /* rows refused for any other reason */
	int committed;      /* 1 when the rows are stored */
	struct import_error errors[IMPORT_ERRORS_MAX];
	size_t nerrors;     /* kept in ERRORS */
	size_t errors_total;
	struct import_notice *notices; /* IMPORT_NOTICES_MAX entries, owned */
	size_t nnotices;
	size_t notices_total;
};

const char *import_format_name(enum import_format f);
int import_format_parse(const char *text, enum import_format *out) IV_WUR;

/* Allocates RES's notice list and zeroes the counts. */
int import_result_init(struct import_result *res) IV_WUR;
void import_result_clear(struct import_result *res);

/* Runs the import. Returns 0 when every row was accepted (and, unless a dry
 * run, committed); IV_ERR_INVALID / IV_ERR_WEAK_KEY / IV_ERR_TOO_LARGE when
 * rows or the file were refused (RES lists why; nothing was stored); another
 * negative code for a failure of the store or the vault. Every import that is
 * not a dry run writes one "device.import" audit record, outcome "success"
 * (with the rows) or "failure" (after the rollback). */
int import_run(struct vault *v, const struct audit_actor *actor, const struct import_options *opt,
	       const struct import_source *src, struct import_result *res) IV_WUR;

/* Reading and row validation alone, without a vault or store: no key
 * hygiene, no lookups of stored devices, nothing written. The fuzz target's
 * way into the row model. Returns 0 or the error import_run would. */
int import_validate(const struct import_options *opt, const struct import_source *src,
		    struct import_result *res) IV_WUR;

/* The result as a JSON object for the CLI and the API: counts, errors and
 * notices, never key material. */
json_t *import_result_to_json(const struct import_options *opt, const struct import_result *res);

#endif
