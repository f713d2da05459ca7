/* What the bulk-import fuzz targets (CSV and JSON) share: CHECK, and a
 * source that hands the input over in pieces of a fixed size, so a target
 * can compare what the buffer and the stream paths make of the same bytes.
 * Not a target itself: the fuzz CMakeLists builds only fuzz_<name>.c files. */
#ifndef IOTVAULT_FUZZ_IMPORT_COMMON_H
#define IOTVAULT_FUZZ_IMPORT_COMMON_H

#include "iotvault/import.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)            \
	do {                   \
		if (!(cond))   \
			abort(); \
	} while (0)

struct pieces {
	const uint8_t *data;
	size_t len, pos, step;
};

/* a csv_read_fn over struct pieces: at most STEP bytes per call */
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

/* import_validate of FORMAT over DATA as a buffer (STEP 0) or as a stream
 * of STEP-byte pieces. */
static int run_validate(enum import_format format, const uint8_t *data, size_t size, size_t step,
			struct import_result *res)
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
	opt.format = format;
	CHECK(import_result_init(res) == 0);
	return import_validate(&opt, &src, res);
}

#endif
