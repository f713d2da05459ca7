/* A small, strict RFC 4180 reader for files people export from spreadsheets
 * and vendor portals: quoted fields with "" escapes, a UTF-8 byte order mark,
 * CRLF, LF or CR line ends, blank lines skipped. Every byte is read through the
 * cursor type; fields and records have hard size limits; a syntax error names
 * the row (record number, the header being row 1, as a spreadsheet numbers
 * them) and the column (1-based field number).
 *
 * The reader works over a buffer in memory or pulls from a stream in windows,
 * so a large file is never held whole. Field text may hold key material: the
 * window and the decoded fields live in guarded memory and are wiped when the
 * next record is read and when the reader is freed. */
#ifndef IOTVAULT_CSV_H
#define IOTVAULT_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/errors.h"

#define CSV_FIELD_MAX 1024   /* bytes of one decoded field */
#define CSV_RECORD_MAX 16384 /* bytes of one record as written, quotes and line end included */
#define CSV_FIELDS_MAX 64    /* fields of one record */
#define CSV_MESSAGE_MAX 128

/* Fills BUF with up to CAP bytes; *GOT = 0 means end of input. */
typedef int (*csv_read_fn)(void *ctx, uint8_t *buf, size_t cap, size_t *got);

struct csv_reader;

struct csv_error {
	size_t row;    /* record number, the header is row 1 */
	size_t column; /* 1-based field number, 0 when not tied to a field */
	char message[CSV_MESSAGE_MAX]; /* fixed text: never the field's content */
};

/* A reader over LEN bytes at DATA, which must outlive it. */
int csv_reader_new_buffer(const uint8_t *data, size_t len, struct csv_reader **out) IV_WUR;
/* A reader that pulls from READ(CTX, ...) in windows of 2 * CSV_RECORD_MAX. */
int csv_reader_new_stream(csv_read_fn read, void *ctx, struct csv_reader **out) IV_WUR;
/* Wipes the window and the fields, and frees; NULL is a no-op. */
void csv_reader_free(struct csv_reader *r);

/* Reads the next non-blank record: returns 1 with *FIELDS (NUL-terminated,
 * valid UTF-8, valid until the next call) and *NFIELDS set, 0 at the end of
 * the input, or a negative code with ERR filled (IV_ERR_INVALID for syntax,
 * IV_ERR_TOO_LARGE for a limit, or the read function's error). After an
 * error the reader stays failed. */
int csv_next(struct csv_reader *r, const char *const **fields, size_t *nfields,
	     struct csv_error *err) IV_WUR;
/* Row number of the record last returned (header = 1). */
size_t csv_row(const struct csv_reader *r);

/* 1 when S[0..LEN) is well-formed UTF-8 (no overlongs, surrogates or code
 * points above U+10FFFF). */
int csv_utf8_valid(const uint8_t *s, size_t len);

#endif
