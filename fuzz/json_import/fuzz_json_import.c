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

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)            \
	do {                   \
		if (!(cond))   \
			abort(); \
	} while (0)

struct pieces {
	const uint8_t *data;
	size_t len, pos, step;
};

static int piece_read(void *ctx, uint8_t *buf, size_t cap, size_t *got)
{
	struct pieces *p = ctx;
	size_t n = p->len - p->pos;
	if (n > p->step)
		n = p->step;
	if (n > cap)
		n = cap;
	memcpy(buf, p->data + p->pos, n);
	p->pos += n;
	*got = n;
	return 0;
}

static int run_validate(const uint8_t *data, size_t size, size_t step, struct import_result *res)
{
	struct import_options opt = {0};
	struct pieces p = {data, size, 0, step};
	struct import_source src = {0};
	if (step == 0) {
		src.data = data ? data : (const uint8_t *)"";
		src.len = size;
	} else {
		src.read = piece_read;
		src.ctx = &p;
	}
	opt.format = IMPORT_FORMAT_JSON;
	CHECK(import_result_init(res) == 0);
	return import_validate(&opt, &src, res);
}

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
	va = run_validate(data, size, 0, &ra);
	vb = run_validate(data, size, 1 + (size ? data[size - 1] % 16 : 0), &rb);
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
