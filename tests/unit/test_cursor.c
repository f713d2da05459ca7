/* Tests for the bounds-checked byte reader and writer (src/core/cursor.c):
 * every reader at its exact length and one byte short, byte order, and the
 * promise that a failed read or write changes nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "iotvault/cursor.h"
#include "iotvault/secmem.h"

static int setup(void **state)
{
	(void)state;
	return secmem_init() == 0 ? 0 : -1;
}

static const uint8_t seq[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};

/* Each reader, described so one loop can try it at exact length and short. */
enum reader_kind { R_U8, R_U16LE, R_U16BE, R_U24LE, R_U32LE, R_U32BE, R_U64BE };

struct reader_case {
	enum reader_kind kind;
	size_t width;
	uint64_t expected; /* value read from seq[0..width) */
};

static const struct reader_case readers[] = {
	{R_U8, 1, 0x01},
	{R_U16LE, 2, 0x0201},
	{R_U16BE, 2, 0x0102},
	{R_U24LE, 3, 0x030201},
	{R_U32LE, 4, 0x04030201},
	{R_U32BE, 4, 0x01020304},
	{R_U64BE, 8, 0x0102030405060708ull},
};

static int run_reader(enum reader_kind kind, struct cursor *c, uint64_t *out)
{
	int r = IV_ERR_INTERNAL;
	switch (kind) {
	case R_U8: {
		uint8_t v = 0xee;
		if ((r = cursor_read_u8(c, &v)) == 0)
			*out = v;
		break;
	}
	case R_U16LE: {
		uint16_t v = 0xeeee;
		if ((r = cursor_read_u16le(c, &v)) == 0)
			*out = v;
		break;
	}
	case R_U16BE: {
		uint16_t v = 0xeeee;
		if ((r = cursor_read_u16be(c, &v)) == 0)
			*out = v;
		break;
	}
	case R_U24LE: {
		uint32_t v = 0xeeeeeeee;
		if ((r = cursor_read_u24le(c, &v)) == 0)
			*out = v;
		break;
	}
	case R_U32LE: {
		uint32_t v = 0xeeeeeeee;
		if ((r = cursor_read_u32le(c, &v)) == 0)
			*out = v;
		break;
	}
	case R_U32BE: {
		uint32_t v = 0xeeeeeeee;
		if ((r = cursor_read_u32be(c, &v)) == 0)
			*out = v;
		break;
	}
	case R_U64BE: {
		uint64_t v = 0xeeeeeeeeeeeeeeeeull;
		if ((r = cursor_read_u64be(c, &v)) == 0)
			*out = v;
		break;
	}
	}
	return r;
}

static void test_readers_exact_and_short(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++) {
		const struct reader_case *rc = &readers[i];
		struct cursor c;
		uint64_t v = 0xdead;

		/* exact length: reads the value and reaches the end */
		cursor_init(&c, seq, rc->width);
		assert_int_equal(run_reader(rc->kind, &c, &v), 0);
		assert_int_equal(v, rc->expected);
		assert_int_equal(c.pos, rc->width);
		assert_int_equal(cursor_remaining(&c), 0);
		assert_int_equal(cursor_expect_end(&c), 0);

		/* one byte short: truncated, position and output untouched */
		cursor_init(&c, seq, rc->width - 1);
		v = 0xdead;
		assert_int_equal(run_reader(rc->kind, &c, &v), IV_ERR_TRUNCATED);
		assert_int_equal(v, 0xdead);
		assert_int_equal(c.pos, 0);
		assert_int_equal(cursor_remaining(&c), rc->width - 1);

		/* one byte short after a prefix has been consumed */
		cursor_init(&c, seq, rc->width);
		{
			uint8_t b;
			assert_int_equal(cursor_read_u8(&c, &b), 0);
		}
		assert_int_equal(run_reader(rc->kind, &c, &v), IV_ERR_TRUNCATED);
		assert_int_equal(c.pos, 1);

		/* empty and NULL buffers */
		cursor_init(&c, NULL, 99);
		assert_int_equal(cursor_remaining(&c), 0);
		assert_int_equal(run_reader(rc->kind, &c, &v), IV_ERR_TRUNCATED);
		assert_int_equal(c.pos, 0);
	}
}

static void test_endianness_high_bits(void **state)
{
	static const uint8_t ff[8] = {0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0x80};
	struct cursor c;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;
	(void)state;

	/* high bits must not be sign-extended or dropped */
	cursor_init(&c, ff, sizeof(ff));
	assert_int_equal(cursor_read_u16le(&c, &v16), 0);
	assert_int_equal(v16, 0xfeff);
	cursor_init(&c, ff, sizeof(ff));
	assert_int_equal(cursor_read_u16be(&c, &v16), 0);
	assert_int_equal(v16, 0xfffe);
	cursor_init(&c, ff, sizeof(ff));
	assert_int_equal(cursor_read_u24le(&c, &v32), 0);
	assert_int_equal(v32, 0xfdfeff);
	cursor_init(&c, ff, sizeof(ff));
	assert_int_equal(cursor_read_u32le(&c, &v32), 0);
	assert_int_equal(v32, 0xfcfdfeffu);
	cursor_init(&c, ff, sizeof(ff));
	assert_int_equal(cursor_read_u32be(&c, &v32), 0);
	assert_int_equal(v32, 0xfffefdfcu);
	cursor_init(&c, ff, sizeof(ff));
	assert_int_equal(cursor_read_u64be(&c, &v64), 0);
	assert_true(v64 == 0xfffefdfcfbfaf980ull);
}

static void test_sequential_reads(void **state)
{
	struct cursor c;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint8_t rest[2];
	(void)state;

	cursor_init(&c, seq, sizeof(seq));
	assert_int_equal(cursor_read_u8(&c, &u8), 0);
	assert_int_equal(u8, 0x01);
	assert_int_equal(cursor_read_u16be(&c, &u16), 0);
	assert_int_equal(u16, 0x0203);
	assert_int_equal(cursor_read_u24le(&c, &u32), 0);
	assert_int_equal(u32, 0x060504);
	assert_int_equal(cursor_remaining(&c), 2);
	assert_int_equal(cursor_expect_end(&c), IV_ERR_INVALID);
	assert_int_equal(cursor_read_bytes(&c, rest, 3), IV_ERR_TRUNCATED);
	assert_int_equal(c.pos, 6);
	assert_int_equal(cursor_read_bytes(&c, rest, 2), 0);
	assert_int_equal(rest[0], 0x07);
	assert_int_equal(rest[1], 0x08);
	assert_int_equal(cursor_expect_end(&c), 0);
	assert_int_equal(cursor_read_u8(&c, &u8), IV_ERR_TRUNCATED);
}

static void test_read_bytes_and_view(void **state)
{
	struct cursor c;
	uint8_t out[8];
	const uint8_t *view = NULL;
	(void)state;

	cursor_init(&c, seq, sizeof(seq));
	assert_int_equal(cursor_read_bytes(&c, out, 0), 0);
	assert_int_equal(c.pos, 0);

	memset(out, 0xee, sizeof(out));
	assert_int_equal(cursor_read_bytes(&c, out, 9), IV_ERR_TRUNCATED);
	assert_int_equal(c.pos, 0);
	assert_int_equal(out[0], 0xee);

	/* a huge length must not wrap the bounds check */
	assert_int_equal(cursor_read_bytes(&c, out, SIZE_MAX), IV_ERR_TRUNCATED);
	assert_int_equal(cursor_view(&c, &view, SIZE_MAX), IV_ERR_TRUNCATED);
	assert_null(view);
	assert_int_equal(c.pos, 0);

	assert_int_equal(cursor_read_bytes(&c, out, 3), 0);
	assert_memory_equal(out, seq, 3);
	assert_int_equal(cursor_view(&c, &view, 5), 0);
	/* a view points into the buffer, it does not copy */
	assert_ptr_equal(view, seq + 3);
	assert_int_equal(cursor_expect_end(&c), 0);
	assert_int_equal(cursor_view(&c, &view, 1), IV_ERR_TRUNCATED);
	assert_int_equal(cursor_view(&c, &view, 0), 0);
}

/* --------------------------------------------------------------- writer */

static void test_writer_endianness(void **state)
{
	uint8_t buf[32];
	struct writer w;
	static const uint8_t expected[] = {
		0xab,                                           /* u8 */
		0x34, 0x12,                                     /* u16le 0x1234 */
		0x12, 0x34,                                     /* u16be 0x1234 */
		0x56, 0x34, 0x12,                               /* u24le 0x123456 */
		0x78, 0x56, 0x34, 0x12,                         /* u32le */
		0x12, 0x34, 0x56, 0x78,                         /* u32be */
		0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, /* u64be */
	};
	(void)state;

	writer_init(&w, buf, sizeof(buf));
	assert_int_equal(writer_put_u8(&w, 0xab), 0);
	assert_int_equal(writer_put_u16le(&w, 0x1234), 0);
	assert_int_equal(writer_put_u16be(&w, 0x1234), 0);
	/* u24: the high byte of a 32-bit argument is not written */
	assert_int_equal(writer_put_u24le(&w, 0xff123456u), 0);
	assert_int_equal(writer_put_u32le(&w, 0x12345678u), 0);
	assert_int_equal(writer_put_u32be(&w, 0x12345678u), 0);
	assert_int_equal(writer_put_u64be(&w, 0x0123456789abcdefull), 0);
	assert_int_equal(w.len, sizeof(expected));
	assert_memory_equal(buf, expected, sizeof(expected));

	/* and the reader reads back what the writer wrote */
	{
		struct cursor c;
		uint8_t u8;
		uint16_t a, b;
		uint32_t c24, d, e;
		uint64_t f;
		cursor_init(&c, buf, w.len);
		assert_int_equal(cursor_read_u8(&c, &u8), 0);
		assert_int_equal(cursor_read_u16le(&c, &a), 0);
		assert_int_equal(cursor_read_u16be(&c, &b), 0);
		assert_int_equal(cursor_read_u24le(&c, &c24), 0);
		assert_int_equal(cursor_read_u32le(&c, &d), 0);
		assert_int_equal(cursor_read_u32be(&c, &e), 0);
		assert_int_equal(cursor_read_u64be(&c, &f), 0);
		assert_int_equal(cursor_expect_end(&c), 0);
		assert_int_equal(u8, 0xab);
		assert_int_equal(a, 0x1234);
		assert_int_equal(b, 0x1234);
		assert_int_equal(c24, 0x123456);
		assert_int_equal(d, 0x12345678u);
		assert_int_equal(e, 0x12345678u);
		assert_true(f == 0x0123456789abcdefull);
	}
}

/* Each writer at exact capacity succeeds; one byte less fails and leaves the
 * length (and the bytes already written) unchanged. */
static void test_writer_overflow(void **state)
{
	static const size_t widths[] = {1, 2, 2, 3, 4, 4, 8};
	(void)state;

	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		uint8_t buf[16];
		struct writer w;
		int r = 0;
		for (int pass = 0; pass < 2; pass++) {
			size_t cap = 1 + widths[i] - (size_t)pass; /* prefix byte + field */
			memset(buf, 0xee, sizeof(buf));
			writer_init(&w, buf, cap);
			assert_int_equal(writer_put_u8(&w, 0x5a), 0);
			switch (i) {
			case 0: r = writer_put_u8(&w, 1); break;
			case 1: r = writer_put_u16le(&w, 1); break;
			case 2: r = writer_put_u16be(&w, 1); break;
			case 3: r = writer_put_u24le(&w, 1); break;
			case 4: r = writer_put_u32le(&w, 1); break;
			case 5: r = writer_put_u32be(&w, 1); break;
			case 6: r = writer_put_u64be(&w, 1); break;
			}
			if (pass == 0) {
				assert_int_equal(r, 0);
				assert_int_equal(w.len, cap);
			} else {
				assert_int_equal(r, IV_ERR_TOO_LARGE);
				assert_int_equal(w.len, 1);
				assert_int_equal(buf[0], 0x5a);
				/* nothing written past the capacity */
				assert_int_equal(buf[cap], 0xee);
			}
		}
	}
}

static void test_writer_bytes(void **state)
{
	uint8_t buf[8];
	struct writer w;
	(void)state;

	writer_init(&w, buf, sizeof(buf));
	assert_int_equal(writer_put_bytes(&w, seq, 0), 0);
	assert_int_equal(writer_put_bytes(&w, seq, 5), 0);
	assert_int_equal(writer_put_bytes(&w, seq, 4), IV_ERR_TOO_LARGE);
	assert_int_equal(w.len, 5);
	assert_int_equal(writer_put_bytes(&w, seq, SIZE_MAX), IV_ERR_TOO_LARGE);
	assert_int_equal(w.len, 5);
	assert_int_equal(writer_put_bytes(&w, seq, 3), 0);
	assert_int_equal(w.len, 8);
	assert_int_equal(writer_put_u8(&w, 0), IV_ERR_TOO_LARGE);
	assert_int_equal(w.len, 8);

	/* a NULL buffer has no room at all */
	writer_init(&w, NULL, 100);
	assert_int_equal(writer_put_u8(&w, 0), IV_ERR_TOO_LARGE);
	assert_int_equal(w.len, 0);
}

static void test_writer_put_field(void **state)
{
	uint8_t buf[16];
	struct writer w;
	static const uint8_t expected[] = {
		0x00, 0x00, 0x00, 0x03, 'a', 'b', 'c', /* "abc" */
		0x00, 0x00, 0x00, 0x00,                 /* empty */
		0x00, 0x00, 0x00, 0x00,                 /* NULL string */
	};
	(void)state;

	writer_init(&w, buf, sizeof(buf));
	assert_int_equal(writer_put_field(&w, "abc", 3), 0);
	assert_int_equal(writer_put_field(&w, "", 0), 0);
	assert_int_equal(writer_put_string_field(&w, NULL), 0);
	assert_int_equal(w.len, sizeof(expected));
	assert_memory_equal(buf, expected, sizeof(expected));

	/* the length prefix fits but the bytes do not: all or nothing */
	assert_int_equal(w.len, 15);
	writer_init(&w, buf, 6);
	assert_int_equal(writer_put_field(&w, "abc", 3), IV_ERR_TOO_LARGE);
	assert_int_equal(w.len, 0);
	writer_init(&w, buf, 3);
	assert_int_equal(writer_put_field(&w, "", 0), IV_ERR_TOO_LARGE);
	assert_int_equal(w.len, 0);

	/* string fields use strlen and are unambiguous: "ab"+"c" != "a"+"bc" */
	{
		uint8_t x[16], y[16];
		struct writer wx, wy;
		writer_init(&wx, x, sizeof(x));
		writer_init(&wy, y, sizeof(y));
		assert_int_equal(writer_put_string_field(&wx, "ab"), 0);
		assert_int_equal(writer_put_string_field(&wx, "c"), 0);
		assert_int_equal(writer_put_string_field(&wy, "a"), 0);
		assert_int_equal(writer_put_string_field(&wy, "bc"), 0);
		assert_int_equal(wx.len, 11);
		assert_int_equal(wy.len, 11);
		assert_memory_not_equal(x, y, 11);
	}
}

static void test_expect_end(void **state)
{
	struct cursor c;
	uint8_t b;
	(void)state;
	cursor_init(&c, seq, 0);
	assert_int_equal(cursor_expect_end(&c), 0);
	cursor_init(&c, seq, 1);
	assert_int_not_equal(cursor_expect_end(&c), 0);
	assert_int_equal(cursor_read_u8(&c, &b), 0);
	assert_int_equal(cursor_expect_end(&c), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_readers_exact_and_short, setup),
		cmocka_unit_test_setup(test_endianness_high_bits, setup),
		cmocka_unit_test_setup(test_sequential_reads, setup),
		cmocka_unit_test_setup(test_read_bytes_and_view, setup),
		cmocka_unit_test_setup(test_writer_endianness, setup),
		cmocka_unit_test_setup(test_writer_overflow, setup),
		cmocka_unit_test_setup(test_writer_bytes, setup),
		cmocka_unit_test_setup(test_writer_put_field, setup),
		cmocka_unit_test_setup(test_expect_end, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
