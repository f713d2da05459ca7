/* The RFC 4180 reader of bulk import: quoting, escapes, line ends, BOM,
 * blank lines, row/column numbers of errors, limits, UTF-8, and the same
 * records whether read from a buffer or streamed in tiny pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "iotvault/csv.h"
#include "iotvault/secmem.h"

/* All records of TEXT joined as "a|b;c|d;" (fields '|', records ';'), or
 * "ERR r,c: message" at the first error. MODE 0: buffer, N>0: stream of N
 * bytes per read. */
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

static char *read_all(const char *text, size_t len, size_t step)
{
	static char out[1 << 16];
	struct csv_reader *r = NULL;
	struct pieces p = {(const uint8_t *)text, len, 0, step};
	struct csv_error err;
	const char *const *f;
	size_t n, used = 0;
	int got;

	if (step == 0)
		assert_int_equal(csv_reader_new_buffer((const uint8_t *)text, len, &r), 0);
	else
		assert_int_equal(csv_reader_new_stream(piece_read, &p, &r), 0);
	out[0] = '\0';
	while ((got = csv_next(r, &f, &n, &err)) == 1) {
		used += (size_t)snprintf(out + used, sizeof(out) - used, "%zu:", csv_row(r));
		for (size_t i = 0; i < n; i++)
			used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%s", i ? "|" : "", f[i]);
		used += (size_t)snprintf(out + used, sizeof(out) - used, ";");
	}
	if (got < 0)
		snprintf(out + used, sizeof(out) - used, "ERR %zu,%zu: %s", err.row, err.column,
			 err.message);
	csv_reader_free(r);
	return out;
}

/* The same result from the buffer and from streams of 1, 7 and 4096 bytes. */
static void expect(const char *text, size_t len, const char *want)
{
	static const size_t steps[] = {0, 1, 7, 4096};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		const char *got = read_all(text, len, steps[i]);
		if (strcmp(got, want) != 0) {
			print_error("step %zu: got '%s', want '%s'\n", steps[i], got, want);
			fail();
		}
	}
}
#define EXPECT(lit, want) expect((lit), sizeof(lit) - 1, (want))

static void test_plain_and_line_ends(void **state)
{
	(void)state;
	EXPECT("a,b\nc,d\n", "1:a|b;2:c|d;");
	EXPECT("a,b\r\nc,d\r\n", "1:a|b;2:c|d;");
	EXPECT("a,b\rc,d", "1:a|b;2:c|d;");
	EXPECT("a,b\nc,d", "1:a|b;2:c|d;");
	EXPECT("a,,\n", "1:a||;");
	EXPECT(",\n", "1:|;");
	EXPECT("", "");
}

static void test_quoting(void **state)
{
	(void)state;
	EXPECT("\"a,b\",c\n", "1:a,b|c;");
	EXPECT("\"say \"\"hi\"\"\",x\n", "1:say \"hi\"|x;");
	EXPECT("\"\",x\n", "1:|x;");
	EXPECT("\"\"\"\"\n", "1:\";");
	/* a quoted line break belongs to the field; rows count records, as a
	 * spreadsheet shows them, so the next record is row 3 */
	EXPECT("h\n\"two\r\nlines\"\nnext\n", "1:h;2:two\r\nlines;3:next;");
	EXPECT("x,\"last\"", "1:x|last;");
}

static void test_bom_and_blank_lines(void **state)
{
	(void)state;
	EXPECT("\xef\xbb\xbf" "DevEUI,AppKey\r\n", "1:DevEUI|AppKey;");
	/* only at the start */
	EXPECT("a\n\xef\xbb\xbf" "b\n", "1:a;2:\xef\xbb\xbf" "b;");
	/* blank lines are skipped but counted, so row numbers match the editor */
	EXPECT("a\n\n\r\nb\n\n", "1:a;4:b;");
}

static void test_errors(void **state)
{
	(void)state;
	EXPECT("a,b\nc,\"open\n", "1:a|b;ERR 2,2: quoted field not closed before the end of the input");
	EXPECT("a,b\nc,d\"e\n", "1:a|b;ERR 2,2: quote inside an unquoted field (quote the whole field and double the quote)");
	EXPECT("\"ab\"c,d\n", "ERR 1,1: text after a closing quote");
	EXPECT("a\nb\0c\n", "1:a;ERR 2,1: NUL byte");
	EXPECT("a,\xc3\x28\n", "ERR 1,2: not valid UTF-8");
	EXPECT("\xed\xa0\x80\n", "ERR 1,1: not valid UTF-8");        /* a surrogate */
	EXPECT("\xc0\xaf\n", "ERR 1,1: not valid UTF-8");            /* overlong '/' */
	EXPECT("ok,\xe2\x82\xac\n", "1:ok|\xe2\x82\xac;");            /* the euro sign */
}

static void test_limits(void **state)
{
	size_t big = CSV_RECORD_MAX * 3;
	char *text = malloc(big + 1);
	char want[256];
	size_t o = 0;
	(void)state;
	assert_non_null(text);

	/* a field one byte too long */
	memset(text, 'k', CSV_FIELD_MAX + 1);
	text[CSV_FIELD_MAX + 1] = '\n';
	snprintf(want, sizeof(want), "ERR 1,1: field longer than %d bytes", CSV_FIELD_MAX);
	expect(text, CSV_FIELD_MAX + 2, want);
	/* exactly the limit is fine */
	memset(text, 'k', CSV_FIELD_MAX);
	text[CSV_FIELD_MAX] = '\n';
	assert_int_equal(strncmp(read_all(text, CSV_FIELD_MAX + 1, 7), "1:kkk", 5), 0);

	/* too many fields */
	o = 0;
	for (int i = 0; i <= CSV_FIELDS_MAX; i++)
		text[o++] = ',';
	text[o++] = '\n';
	snprintf(want, sizeof(want), "ERR 1,%d: more than %d fields", CSV_FIELDS_MAX + 1,
		 CSV_FIELDS_MAX);
	expect(text, o, want);

	/* a record longer than CSV_RECORD_MAX, every field within its limit */
	o = 0;
	for (int i = 0; i < 20; i++) {
		memset(text + o, 'x', 1000);
		o += 1000;
		text[o++] = ',';
	}
	text[o++] = '\n';
	snprintf(want, sizeof(want), "ERR 1,%d: record longer than %d bytes",
		 CSV_RECORD_MAX / 1001 + 1, CSV_RECORD_MAX);
	expect(text, o, want);
	free(text);
}

/* Many records across stream windows: every one arrives intact. */
static void test_stream_windows(void **state)
{
	size_t rows = 3000, o = 0;
	char *text = malloc(rows * 64);
	(void)state;
	assert_non_null(text);
	for (size_t i = 0; i < rows; i++)
		o += (size_t)snprintf(text + o, rows * 64 - o, "%zu,\"q,%zu\"\r\n", i, i);
	{
		char *a = strdup(read_all(text, o, 0));
		const char *b = read_all(text, o, 4093);
		assert_non_null(a);
		assert_string_equal(a, b);
		assert_non_null(strstr(a, "3000:2999|q,2999;"));
		free(a);
	}
	free(text);
}

static void test_failed_reader_stays_failed(void **state)
{
	struct csv_reader *r;
	struct csv_error err;
	const char *const *f;
	size_t n;
	(void)state;
	assert_int_equal(csv_reader_new_buffer((const uint8_t *)"\"x\ny\n", 5, &r), 0);
	assert_int_equal(csv_next(r, &f, &n, &err), IV_ERR_INVALID);
	assert_int_equal(csv_next(r, &f, &n, &err), IV_ERR_INVALID);
	assert_int_equal(err.row, 1);
	csv_reader_free(r);
	csv_reader_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_and_line_ends),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_bom_and_blank_lines),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_stream_windows),
		cmocka_unit_test(test_failed_reader_stays_failed),
	};
	if (secmem_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
