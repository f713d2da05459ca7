/* Tests for the error registry (include/iotvault/errors.h, src/core/errors.c):
 * the table is walked through its own X-macro, so a code added later is
 * checked without touching this file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "iotvault/errors.h"
#include "iotvault/secmem.h"

struct row {
	const char *symbol;
	int value;
	const char *name;
	int http;
	int coap;
	const char *ts002;
	int exit_status;
	const char *message;
};

static const struct row rows[] = {
#define IV_ERR_ROW(sym, val, name, http, coap, ts002, exitc, msg) \
	{#sym, (val), (name), (http), (coap), (ts002), (exitc), (msg)},
	IV_ERROR_TABLE(IV_ERR_ROW)
#undef IV_ERR_ROW
};
#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

static int setup(void **state)
{
	(void)state;
	return secmem_init() == 0 ? 0 : -1;
}

static void test_values_and_names_unique(void **state)
{
	(void)state;
	assert_true(N_ROWS > 2);
	for (size_t i = 0; i < N_ROWS; i++) {
		for (size_t j = i + 1; j < N_ROWS; j++) {
			if (rows[i].value == rows[j].value)
				fail_msg("%s and %s share value %d", rows[i].symbol, rows[j].symbol,
					 rows[i].value);
			if (strcmp(rows[i].name, rows[j].name) == 0)
				fail_msg("%s and %s share name \"%s\"", rows[i].symbol,
					 rows[j].symbol, rows[i].name);
		}
	}
}

static void test_value_conventions(void **state)
{
	(void)state;
	/* success is 0, every failure is negative */
	assert_int_equal(rows[0].value, 0);
	assert_int_equal(IV_OK, 0);
	for (size_t i = 1; i < N_ROWS; i++)
		if (rows[i].value >= 0)
			fail_msg("%s has non-negative value %d", rows[i].symbol, rows[i].value);
	/* the lookup falls back to the second row for unknown codes */
	assert_int_equal(rows[1].value, IV_ERR_INTERNAL);
}

static int is_snake_case(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

static void test_lookups_match_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ROWS; i++) {
		const struct row *r = &rows[i];
		print_message("%s\n", r->symbol);
		assert_string_equal(iv_error_name(r->value), r->name);
		assert_string_equal(iv_error_message(r->value), r->message);
		assert_int_equal(iv_error_http_status(r->value), r->http);
		assert_int_equal(iv_error_coap_code(r->value), r->coap);
		assert_string_equal(iv_error_ts002_result(r->value), r->ts002);
		assert_int_equal(iv_error_exit_status(r->value), r->exit_status);

		/* machine-readable names are API: lower snake case */
		assert_true(is_snake_case(r->name));
		assert_true(strlen(r->message) > 0);

		/* a real HTTP status */
		assert_in_range(r->http, 200, 599);
		/* success maps to 2xx, failures to 4xx/5xx */
		if (r->value == 0)
			assert_in_range(r->http, 200, 299);
		else
			assert_in_range(r->http, 400, 599);

		/* CoAP class*32+detail: class 2, 4 or 5, detail 0..31 */
		{
			int cls = r->coap / 32, detail = r->coap % 32;
			assert_true(cls == 2 || cls == 4 || cls == 5);
			assert_in_range(detail, 0, 31);
			assert_true((r->value == 0) == (cls == 2));
			/* HTTP and CoAP agree on whose fault it was */
			assert_int_equal(cls, r->http / 100);
		}

		/* TS002 ResultCode */
		assert_true(strlen(r->ts002) > 0);
		assert_true((r->value == 0) == (strcmp(r->ts002, "Success") == 0));

		/* exit status 0 only for success, and inside the shell's range */
		assert_in_range(r->exit_status, 0, 125);
		assert_true((r->value == 0) == (r->exit_status == 0));
	}
}

static void test_unknown_code(void **state)
{
	static const int unknown[] = {1, 42, -1000, -999, 0x7fffffff, -0x7fffffff - 1};
	(void)state;
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		int code = unknown[i];
		int known = 0;
		for (size_t j = 0; j < N_ROWS; j++)
			known |= rows[j].value == code;
		assert_false(known);
		assert_string_equal(iv_error_name(code), "internal");
		assert_int_equal(iv_error_http_status(code), 500);
		assert_string_equal(iv_error_message(code), iv_error_message(IV_ERR_INTERNAL));
		assert_int_equal(iv_error_coap_code(code), iv_error_coap_code(IV_ERR_INTERNAL));
		assert_string_equal(iv_error_ts002_result(code),
				    iv_error_ts002_result(IV_ERR_INTERNAL));
		assert_int_equal(iv_error_exit_status(code), iv_error_exit_status(IV_ERR_INTERNAL));
	}
}

static void test_selected_mappings(void **state)
{
	(void)state;
	/* the mappings front ends and clients rely on by name */
	assert_string_equal(iv_error_name(IV_OK), "ok");
	assert_int_equal(iv_error_http_status(IV_OK), 200);
	assert_int_equal(iv_error_coap_code(IV_OK), 2 * 32 + 5);
	assert_int_equal(iv_error_http_status(IV_ERR_NOT_FOUND), 404);
	assert_int_equal(iv_error_coap_code(IV_ERR_NOT_FOUND), 4 * 32 + 4);
	assert_int_equal(iv_error_http_status(IV_ERR_INVALID), 400);
	assert_string_equal(iv_error_ts002_result(IV_ERR_INVALID), "MalformedRequest");
	assert_string_equal(iv_error_ts002_result(IV_ERR_TRUNCATED), "MalformedRequest");
	assert_int_equal(iv_error_http_status(IV_ERR_TOO_LARGE), 413);
	assert_string_equal(iv_error_name(IV_ERR_AUTH_TAG), "integrity_failure");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_values_and_names_unique, setup),
		cmocka_unit_test_setup(test_value_conventions, setup),
		cmocka_unit_test_setup(test_lookups_match_table, setup),
		cmocka_unit_test_setup(test_unknown_code, setup),
		cmocka_unit_test_setup(test_selected_mappings, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
