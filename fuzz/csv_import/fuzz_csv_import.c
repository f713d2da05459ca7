/* libFuzzer target for bulk import's CSV path: the RFC 4180 reader and the
 * row model on top of it (header aliases, type inference, key decoding,
 * device_validate, duplicates within the file), without a vault or store.
 * Oracles: the reader gives the same records from the buffer and from a
 * stream of 1..16-byte reads; every record is valid UTF-8 within the limits;
 * a row or column named by an error exists; import_validate agrees with
 * itself over the buffer and the stream, and its counts add up. */
#include "iotvault/csv.h"
#include "iotvault/import.h"
#include "iotvault/secmem.h"

#include "../import_common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A digest of every record and the final status. */
static uint64_t read_all(struct csv_reader *r, int *status, size_t *records)
{
	const char *const *f;
	struct csv_error err;
	size_t n;
	uint64_t h = 1469598103934665603ull;
	int got;

	*records = 0;
	while ((got = csv_next(r, &f, &n, &err)) == 1) {
		CHECK(n >= 1 && n <= CSV_FIELDS_MAX);
		(*records)++;
		h = (h ^ csv_row(r)) * 1099511628211ull;
		for (size_t i = 0; i < n; i++) {
			size_t len = strlen(f[i]);
			CHECK(len <= CSV_FIELD_MAX);
			CHECK(csv_utf8_valid((const uint8_t *)f[i], len));
			for (size_t k = 0; k < len; k++)
				h = (h ^ (uint8_t)f[i][k]) * 1099511628211ull;
			h = (h ^ 0x100) * 1099511628211ull;
		}
	}
	if (got < 0) {
		CHECK(err.row >= 1);
		CHECK(err.column <= CSV_FIELDS_MAX + 1);
		CHECK(strlen(err.message) > 0);
	}
	*status = got;
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct csv_reader *a = NULL, *b = NULL;
	struct pieces p = {data, size, 0, 1 + (size ? data[0] % 16 : 0)};
	struct import_result ra, rb;
	size_t na, nb;
	int sa, sb, va, vb;
	uint64_t ha, hb;

	if (!ready) {
		if (secmem_init() != 0)
			abort();
		ready = 1;
	}
	if (size > 4 * CSV_RECORD_MAX)
		return 0;
	CHECK(csv_reader_new_buffer(size ? data : (const uint8_t *)"", size, &a) == 0);
	CHECK(csv_reader_new_stream(piece_read, &p, &b) == 0);
	ha = read_all(a, &sa, &na);
	hb = read_all(b, &sb, &nb);
	CHECK(sa == sb && na == nb && ha == hb);
	csv_reader_free(a);
	csv_reader_free(b);

	va = run_validate(IMPORT_FORMAT_CSV, data, size, 0, &ra);
	vb = run_validate(IMPORT_FORMAT_CSV, data, size, 1 + (size ? data[size - 1] % 16 : 0), &rb);
	CHECK(va == vb && ra.rows == rb.rows && ra.valid == rb.valid &&
	      ra.errors_total == rb.errors_total);
	CHECK(ra.valid + ra.invalid + ra.rejected == ra.rows);
	CHECK((va == 0) == (ra.errors_total == 0));
	CHECK(ra.nerrors <= IMPORT_ERRORS_MAX && ra.nerrors <= ra.errors_total);
	for (size_t i = 0; i < ra.nerrors; i++) {
		CHECK(csv_utf8_valid((const uint8_t *)ra.errors[i].column, strlen(ra.errors[i].column)));
		CHECK(csv_utf8_valid((const uint8_t *)ra.errors[i].message, strlen(ra.errors[i].message)));
	}
	import_result_clear(&ra);
	import_result_clear(&rb);
	return 0;
}
