/* The RFC 4180 reader behind bulk import: one record at a time out of a
 * memory buffer or a stream window, through the cursor type, with limits and
 * row/column-precise errors. Strict where leniency would guess (a quote inside
 * an unquoted field, text after a closing quote, an unterminated quote are
 * errors), lenient where spreadsheets differ harmlessly (BOM, CRLF/LF/CR,
 * blank lines). */
#include "iotvault/csv.h"
#include "iotvault/cursor.h"
#include "iotvault/secmem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW_CAP (2 * CSV_RECORD_MAX)
#define FIELDBUF_CAP (CSV_RECORD_MAX + CSV_FIELDS_MAX)

struct csv_reader {
	const uint8_t *data; /* the buffer, or the window in stream mode */
	size_t len;
	size_t pos;
	csv_read_fn read; /* NULL: buffer mode */
	void *ctx;
	uint8_t *window;  /* guarded: rows hold keys */
	int eof;
	char *fieldbuf;   /* guarded: decoded fields */
	const char *fields[CSV_FIELDS_MAX];
	size_t rows;      /* records started so far, blank ones included */
	size_t last_row;
	int failed;
	struct csv_error failure;
};

int csv_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t b = s[i];
		size_t n;
		uint32_t cp, min;
		if (b < 0x80) {
			i++;
			continue;
		}
		if ((b & 0xe0) == 0xc0) {
			n = 1, cp = b & 0x1f, min = 0x80;
		} else if ((b & 0xf0) == 0xe0) {
			n = 2, cp = b & 0x0f, min = 0x800;
		} else if ((b & 0xf8) == 0xf0) {
			n = 3, cp = b & 0x07, min = 0x10000;
		} else
			return 0;
		if (len - i - 1 < n)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

static int reader_alloc(struct csv_reader **out)
{
	struct csv_reader *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return IV_ERR_NOMEM;
	if ((r->fieldbuf = secmem_alloc(FIELDBUF_CAP)) == NULL) {
		free(r);
		return IV_ERR_NOMEM;
	}
	*out = r;
	return 0;
}

int csv_reader_new_buffer(const uint8_t *data, size_t len, struct csv_reader **out)
{
	struct csv_reader *r;
	int rc;
	*out = NULL;
	if (data == NULL && len != 0)
		return IV_ERR_INVALID;
	if ((rc = reader_alloc(&r)) != 0)
		return rc;
	r->data = data;
	r->len = len;
	*out = r;
	return 0;
}

int csv_reader_new_stream(csv_read_fn read, void *ctx, struct csv_reader **out)
{
	struct csv_reader *r;
	int rc;
	*out = NULL;
	if (read == NULL)
		return IV_ERR_INVALID;
	if ((rc = reader_alloc(&r)) != 0)
		return rc;
	if ((r->window = secmem_alloc(WINDOW_CAP)) == NULL) {
		csv_reader_free(r);
		return IV_ERR_NOMEM;
	}
	r->read = read;
	r->ctx = ctx;
	r->data = r->window;
	*out = r;
	return 0;
}

void csv_reader_free(struct csv_reader *r)
{
	if (r == NULL)
		return;
	if (r->window) {
		secmem_wipe(r->window, WINDOW_CAP);
		secmem_free(r->window);
	}
	if (r->fieldbuf) {
		secmem_wipe(r->fieldbuf, FIELDBUF_CAP);
		secmem_free(r->fieldbuf);
	}
	free(r);
}

size_t csv_row(const struct csv_reader *r) { return r->last_row; }

static int fail(struct csv_reader *r, struct csv_error *err, int code, size_t column,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(struct csv_reader *r, struct csv_error *err, int code, size_t column,
		const char *fmt, ...)
{
	va_list ap;
	r->failed = code;
	r->failure.row = r->rows;
	r->failure.column = column;
	va_start(ap, fmt);
	vsnprintf(r->failure.message, sizeof(r->failure.message), fmt, ap);
	va_end(ap);
	if (err)
		*err = r->failure;
	return code;
}

/* Stream mode: keeps more than one record's worth of bytes ahead of POS (or
 * everything up to the end of input) in the window. */
static int refill(struct csv_reader *r)
{
	size_t keep, got;
	int rc;
	if (r->read == NULL || r->eof || r->len - r->pos > CSV_RECORD_MAX)
		return 0;
	keep = r->len - r->pos;
	memmove(r->window, r->window + r->pos, keep);
	secmem_wipe(r->window + keep, WINDOW_CAP - keep);
	r->len = keep;
	r->pos = 0;
	while (r->len < WINDOW_CAP && !r->eof) {
		got = 0;
		if ((rc = r->read(r->ctx, r->window + r->len, WINDOW_CAP - r->len, &got)) != 0)
			return rc;
		if (got > WINDOW_CAP - r->len)
			return IV_ERR_INTERNAL;
		if (got == 0)
			r->eof = 1;
		r->len += got;
	}
	return 0;
}

/* The next byte without consuming it; -1 at the end of C. */
static int peek(const struct cursor *c)
{
	struct cursor copy = *c;
	uint8_t b;
	return cursor_read_u8(&copy, &b) == 0 ? b : -1;
}

int csv_next(struct csv_reader *r, const char *const **fields, size_t *nfields,
	     struct csv_error *err)
{
	struct cursor c;
	size_t avail, o, start, nf;
	int rc, quoted, blank;
	uint8_t b;

	*fields = NULL;
	*nfields = 0;
	if (r->failed) {
		if (err)
			*err = r->failure;
		return r->failed;
	}
	secmem_wipe(r->fieldbuf, FIELDBUF_CAP);
	for (;;) {
		if ((rc = refill(r)) != 0)
			return fail(r, err, rc, 0, "the input could not be read");
		if (r->rows == 0 && r->pos == 0 && r->len - r->pos >= 3 && r->data[0] == 0xef &&
		    r->data[1] == 0xbb && r->data[2] == 0xbf)
			r->pos = 3; /* UTF-8 byte order mark, as Excel writes it */
		avail = r->len - r->pos;
		if (avail == 0)
			return 0;
		/* a record must end within CSV_RECORD_MAX bytes */
		cursor_init(&c, r->data + r->pos, avail > CSV_RECORD_MAX ? CSV_RECORD_MAX : avail);
		r->rows++;
		o = 0;
		nf = 0;
		start = 0;
		quoted = 0;
		blank = 1;
		for (;;) {
			int at_end = cursor_read_u8(&c, &b) != 0;
			if (at_end && avail > CSV_RECORD_MAX)
				return fail(r, err, IV_ERR_TOO_LARGE, nf + 1,
					    "record longer than %d bytes", CSV_RECORD_MAX);
			if (!at_end && b == 0)
				return fail(r, err, IV_ERR_INVALID, nf + 1, "NUL byte");
			if (quoted) {
				if (at_end)
					return fail(r, err, IV_ERR_INVALID, nf + 1,
						    "quoted field not closed before the end of the input");
				if (b == '"') {
					if (peek(&c) == '"') {
						if (cursor_read_u8(&c, &b) != 0)
							return IV_ERR_INTERNAL;
					} else {
						int next = peek(&c);
						quoted = 0;
						if (next != -1 && next != ',' && next != '\r' && next != '\n')
							return fail(r, err, IV_ERR_INVALID, nf + 1,
								    "text after a closing quote");
						continue;
					}
				}
			} else if (at_end || b == ',' || b == '\n' || b == '\r') {
				/* end of a field */
				if (nf == CSV_FIELDS_MAX)
					return fail(r, err, IV_ERR_TOO_LARGE, nf + 1,
						    "more than %d fields", CSV_FIELDS_MAX);
				if (!csv_utf8_valid((const uint8_t *)r->fieldbuf + start, o - start))
					return fail(r, err, IV_ERR_INVALID, nf + 1, "not valid UTF-8");
				r->fieldbuf[o++] = '\0';
				r->fields[nf++] = r->fieldbuf + start;
				start = o;
				if (b == ',' && !at_end) {
					blank = 0;
					if (peek(&c) == '"') {
						if (cursor_read_u8(&c, &b) != 0)
							return IV_ERR_INTERNAL;
						quoted = 1;
					}
					continue;
				}
				if (!at_end && b == '\r' && peek(&c) == '\n' && cursor_read_u8(&c, &b) != 0)
					return IV_ERR_INTERNAL;
				break;
			} else if (b == '"') {
				if (o == start) {
					quoted = 1;
					blank = 0;
					continue;
				}
				return fail(r, err, IV_ERR_INVALID, nf + 1,
					    "quote inside an unquoted field (quote the whole field "
					    "and double the quote)");
			}
			if (o - start >= CSV_FIELD_MAX)
				return fail(r, err, IV_ERR_TOO_LARGE, nf + 1, "field longer than %d bytes",
					    CSV_FIELD_MAX);
			r->fieldbuf[o++] = (char)b;
			blank = 0;
		}
		r->pos += c.pos;
		if (blank && nf == 1 && r->fields[0][0] == '\0')
			continue; /* a blank line: counted, not returned */
		r->last_row = r->rows;
		*fields = r->fields;
		*nfields = nf;
		return 1;
	}
}
