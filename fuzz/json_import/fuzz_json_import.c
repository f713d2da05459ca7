/* libFuzzer target for bulk import's JSON path: jansson's parse of an array
 * of device objects (or {"devices": [...]}) and the row model on top of it
 * (field names, type inference, key decoding, device_validate, duplicates
 * within the file), without a vault or store. Oracles: the same verdict,
 * counts and errors from the buffer and from a stream of 1..16-byte reads;
 * the counts add up; a row named by an error exists; every error message is
 * valid UTF-8 and within its bounds. */
#include "iotvault/csv.h"
#include "iotvault/import.h"
#include "iotvault/secmem.h"

#include "../import_common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct import_result ra, rb;
	int va, vb;

	if (!ready) {
		if (secmem_init() != 0)
			abort();
		ready = 1;
	}
	va = run_validate(IMPORT_FORMAT_JSON, data, size, 0, &ra);
	vb = run_validate(IMPORT_FORMAT_JSON, data, size, 1 + (size ? data[size - 1] % 16 : 0), &rb);
	CHECK(va == vb && ra.rows == rb.rows && ra.valid == rb.valid &&
	      ra.invalid == rb.invalid && ra.errors_total == rb.errors_total &&
	      ra.nerrors == rb.nerrors);
	CHECK(ra.valid + ra.invalid + ra.rejected == ra.rows);
	CHECK((va == 0) == (ra.errors_total == 0));
	CHECK(ra.nerrors <= IMPORT_ERRORS_MAX && ra.nerrors <= ra.errors_total);
	CHECK(ra.committed == 0);
	for (size_t i = 0; i < ra.nerrors; i++) {
		const struct import_error *e = &ra.errors[i], *f = &rb.errors[i];
		CHECK(e->row <= ra.rows);
		CHECK(e->row == f->row && strcmp(e->code, f->code) == 0 &&
		      strcmp(e->column, f->column) == 0);
		CHECK(strlen(e->code) > 0 && strlen(e->message) > 0);
		CHECK(csv_utf8_valid((const uint8_t *)e->column, strlen(e->column)));
		CHECK(csv_utf8_valid((const uint8_t *)e->message, strlen(e->message)));
	}
	import_result_clear(&ra);
	import_result_clear(&rb);
	return 0;
}
