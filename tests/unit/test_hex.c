/* Tests for hex decoding and encoding of keys and EUIs (src/core/hex.c): the
 * accepted spellings, every refused one, and that a failed decode leaves no
 * partial key behind. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "iotvault/hex.h"
#include "iotvault/secmem.h"

static int setup(void **state)
{
	(void)state;
	return secmem_init() == 0 ? 0 : -1;
}

static const uint8_t key16[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
				  0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
static const uint8_t eui[8] = {0x70, 0xb3, 0xd5, 0x7e, 0xd0, 0x00, 0xab, 0xcd};

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static void expect_ok(const char *text, const uint8_t *expected, size_t len)
{
	uint8_t out[32];
	memset(out, 0xee, sizeof(out));
	print_message("accept \"%s\"\n", text);
	assert_int_equal(hex_decode_exact(text, out, len), 0);
	assert_memory_equal(out, expected, len);
	/* nothing written past OUT_LEN */
	assert_int_equal(out[len], 0xee);
}

/* A refused input returns IV_ERR_INVALID and OUT holds no decoded byte: it is
 * either untouched (0xee) or wiped (0x00). */
static void expect_bad(const char *text, size_t len)
{
	uint8_t out[32];
	memset(out, 0xee, sizeof(out));
	print_message("refuse \"%s\"\n", text ? text : "(null)");
	assert_int_equal(hex_decode_exact(text, out, len), IV_ERR_INVALID);
	for (size_t i = 0; i < len; i++)
		assert_true(out[i] == 0xee || out[i] == 0x00);
	assert_int_equal(out[len], 0xee);
}

/* A refused input whose prefix is valid hex: decoding got under way, so OUT
 * must be wiped, not left half-filled with key bytes. */
static void expect_bad_wiped(const char *text, size_t len)
{
	uint8_t out[32];
	memset(out, 0xee, sizeof(out));
	print_message("refuse and wipe \"%s\"\n", text);
	assert_int_equal(hex_decode_exact(text, out, len), IV_ERR_INVALID);
	assert_true(all_zero(out, len));
}

static void test_accepts(void **state)
{
	(void)state;
	expect_ok("00112233445566778899aabbccddeeff", key16, 16);
	expect_ok("00112233445566778899AABBCCDDEEFF", key16, 16);
	expect_ok("00112233445566778899aAbBcCdDeEfF", key16, 16);
	expect_ok("0x00112233445566778899AABBCCDDEEFF", key16, 16);
	expect_ok("0X00112233445566778899aabbccddeeff", key16, 16);
	expect_ok("00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF", key16, 16);
	expect_ok("00-11-22-33-44-55-66-77-88-99-aa-bb-cc-dd-ee-ff", key16, 16);
	expect_ok("0x00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff", key16, 16);
	expect_ok("70B3D57ED000ABCD", eui, 8);
	expect_ok("70-b3-d5-7e-d0-00-ab-cd", eui, 8);
	expect_ok("70b3:d57e:d000:abcd", eui, 8);
}

static void test_rejects(void **state)
{
	(void)state;
	expect_bad(NULL, 8);
	expect_bad("", 8);
	expect_bad("0x", 8);
	expect_bad("0X", 8);
	expect_bad("x70B3D57ED000ABCD", 8);
	expect_bad("0x0x70B3D57ED000ABCD", 8);
	/* odd number of digits */
	expect_bad("70B3D57ED000ABC", 8);
	expect_bad("70B3D57ED000ABCDE", 8);
	expect_bad("7", 1);
	/* too short and too long */
	expect_bad("70B3D57ED000AB", 8);
	expect_bad("70B3D57ED000ABCDEF", 8);
	expect_bad("70B3D57ED000ABCD70B3D57ED000ABCD", 8);
	/* separators only between bytes */
	expect_bad(":70:B3:D5:7E:D0:00:AB:CD", 8);
	expect_bad("70:B3:D5:7E:D0:00:AB:CD:", 8);
	expect_bad("-70B3D57ED000ABCD", 8);
	expect_bad("70B3D57ED000ABCD-", 8);
	expect_bad("0x:70B3D57ED000ABCD", 8);
	expect_bad("7:0B3D57ED000ABCD", 8);
	expect_bad("70B3D57ED000ABC:D", 8);
	expect_bad(":", 1);
	/* white space anywhere */
	expect_bad(" 70B3D57ED000ABCD", 8);
	expect_bad("70B3D57ED000ABCD ", 8);
	expect_bad("70B3D57ED000ABCD\n", 8);
	expect_bad("\t70B3D57ED000ABCD", 8);
	expect_bad("70 B3 D5 7E D0 00 AB CD", 8);
	/* other separators and non-hex characters */
	expect_bad("70.B3.D5.7E.D0.00.AB.CD", 8);
	expect_bad("70B3D57ED000ABCG", 8);
	expect_bad("G0B3D57ED000ABCD", 8);
	expect_bad("70B3D57ED000ABC\xff", 8);
	expect_bad("+0B3D57ED000ABCD", 8);
}

static void test_failure_wipes(void **state)
{
	(void)state;
	/* a valid first half followed by garbage, white space, an odd digit or
	 * extra bytes: the decoder has written key bytes by then */
	expect_bad_wiped("00112233445566778899AABBCCDDEEZZ", 16);
	expect_bad_wiped("00112233445566778899AABBCCDDEE F", 16);
	expect_bad_wiped("00112233445566778899AABBCCDDEEF", 16);
	expect_bad_wiped("00112233445566778899AABBCCDDEE", 16);
	expect_bad_wiped("00112233445566778899AABBCCDDEEFF00", 16);
	expect_bad_wiped("00112233445566778899AABBCCDDEEFF\n", 16);
	expect_bad_wiped("0011223344556677 8899AABBCCDDEEFF", 16);
}

static void test_encode_upper(void **state)
{
	char out[2 * 16 + 2];
	(void)state;

	memset(out, 'X', sizeof(out));
	hex_encode_upper(key16, 16, out);
	assert_string_equal(out, "00112233445566778899AABBCCDDEEFF");
	assert_int_equal(out[2 * 16 + 1], 'X');

	/* every byte value encodes to its upper-case spelling */
	for (unsigned v = 0; v < 256; v++) {
		static const char digits[] = "0123456789ABCDEF";
		uint8_t b = (uint8_t)v;
		char two[3];
		hex_encode_upper(&b, 1, two);
		assert_int_equal(two[0], digits[v >> 4]);
		assert_int_equal(two[1], digits[v & 15]);
		assert_int_equal(two[2], '\0');
	}

	hex_encode_upper(key16, 0, out);
	assert_string_equal(out, "");
}

static void test_encode_decode_round_trip(void **state)
{
	uint8_t in[32], back[32];
	char text[65];
	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37 + 11);
	hex_encode_upper(in, sizeof(in), text);
	assert_int_equal(hex_decode_exact(text, back, sizeof(back)), 0);
	assert_memory_equal(in, back, sizeof(in));
}

static void test_eui(void **state)
{
	uint8_t out[EUI_LEN];
	char text[EUI_HEX_LEN + 1];
	(void)state;

	assert_int_equal(eui_parse("70b3d57ed000abcd", out), 0);
	assert_memory_equal(out, eui, EUI_LEN);
	eui_format(out, text);
	assert_string_equal(text, "70B3D57ED000ABCD");
	assert_int_equal(strlen(text), EUI_HEX_LEN);

	/* the human spellings all come back in canonical form */
	assert_int_equal(eui_parse("70-B3-D5-7E-D0-00-AB-CD", out), 0);
	eui_format(out, text);
	assert_string_equal(text, "70B3D57ED000ABCD");
	assert_int_equal(eui_parse("0x70B3D57ED000ABCD", out), 0);
	eui_format(out, text);
	assert_string_equal(text, "70B3D57ED000ABCD");

	/* format then parse is the identity, including the extremes */
	{
		static const uint8_t zeros[EUI_LEN] = {0};
		static const uint8_t ones[EUI_LEN] = {0xff, 0xff, 0xff, 0xff,
						      0xff, 0xff, 0xff, 0xff};
		eui_format(zeros, text);
		assert_string_equal(text, "0000000000000000");
		assert_int_equal(eui_parse(text, out), 0);
		assert_memory_equal(out, zeros, EUI_LEN);
		eui_format(ones, text);
		assert_string_equal(text, "FFFFFFFFFFFFFFFF");
		assert_int_equal(eui_parse(text, out), 0);
		assert_memory_equal(out, ones, EUI_LEN);
	}

	assert_int_equal(eui_parse("70B3D57ED000AB", out), IV_ERR_INVALID);
	assert_int_equal(eui_parse("70B3D57ED000ABCD00", out), IV_ERR_INVALID);
	assert_int_equal(eui_parse(NULL, out), IV_ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_accepts, setup),
		cmocka_unit_test_setup(test_rejects, setup),
		cmocka_unit_test_setup(test_failure_wipes, setup),
		cmocka_unit_test_setup(test_encode_upper, setup),
		cmocka_unit_test_setup(test_encode_decode_round_trip, setup),
		cmocka_unit_test_setup(test_eui, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
