/* Tests for the notification freshness rule of RFC 7641 section 3.4
 * (lwm2m_observe_fresh) and the records-as-JSON shape shared by Read
 * answers, stored notifications and published messages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "iotvault/lwm2m_observe.h"

static void fresh_in_order(void **state)
{
	(void)state;
	assert_int_equal(lwm2m_observe_fresh(4, 1000, 5, 1001), 1);
	assert_int_equal(lwm2m_observe_fresh(4, 1000, 4, 1001), 0);  /* a duplicate */
	assert_int_equal(lwm2m_observe_fresh(4, 1000, 3, 1001), 0);  /* older */
	assert_int_equal(lwm2m_observe_fresh(4, 1000, 0, 1001), 0);
	/* more than 2^23 ahead counts as behind (RFC 7641: V1 < V2, V2 - V1 < 2^23) */
	assert_int_equal(lwm2m_observe_fresh(4, 1000, 4 + (1 << 23), 1001), 0);
	assert_int_equal(lwm2m_observe_fresh(4, 1000, 3 + (1 << 23), 1001), 1);
}

static void fresh_across_wrap(void **state)
{
	(void)state;
	/* the 24-bit value wrapped: 0xFFFFFF -> 2 is newer */
	assert_int_equal(lwm2m_observe_fresh(0xFFFFFF, 1000, 2, 1001), 1);
	assert_int_equal(lwm2m_observe_fresh(2, 1000, 0xFFFFFF, 1001), 0);
}

static void fresh_after_128_s(void **state)
{
	(void)state;
	/* whatever the number, after 128 s a notification is newer */
	assert_int_equal(lwm2m_observe_fresh(9, 1000, 3, 1000 + LWM2M_OBSERVE_STALE_MS), 0);
	assert_int_equal(lwm2m_observe_fresh(9, 1000, 3, 1001 + LWM2M_OBSERVE_STALE_MS), 1);
}

static void records_as_json(void **state)
{
	struct lwm2m_records *recs = lwm2m_records_new();
	struct lwm2m_path p;
	const uint8_t bytes[] = {1, 2, 3};
	json_t *j;
	char *text;
	(void)state;
	assert_non_null(recs);
	assert_int_equal(lwm2m_path_parse("/3/0/9", 6, &p), 0);
	struct lwm2m_value v1 = lwm2m_value_integer(87), v2 = lwm2m_value_opaque(bytes, 3),
			   v3 = lwm2m_value_objlnk(1, 0);
	assert_int_equal(lwm2m_records_add(recs, &p, &v1), 0);
	assert_int_equal(lwm2m_path_parse("/3/0/8", 6, &p), 0);
	assert_int_equal(lwm2m_records_add(recs, &p, &v2), 0);
	assert_int_equal(lwm2m_path_parse("/3/0/7", 6, &p), 0);
	assert_int_equal(lwm2m_records_add(recs, &p, &v3), 0);
	j = lwm2m_records_to_json(recs);
	assert_non_null(j);
	text = json_dumps(j, JSON_COMPACT);
	assert_string_equal(text, "[{\"path\":\"/3/0/9\",\"type\":\"integer\",\"value\":87},"
				  "{\"path\":\"/3/0/8\",\"type\":\"opaque\",\"value\":\"AQID\"},"
				  "{\"path\":\"/3/0/7\",\"type\":\"objlnk\",\"value\":\"1:0\"}]");
	free(text);
	json_decref(j);
	lwm2m_records_free(recs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fresh_in_order),
		cmocka_unit_test(fresh_across_wrap),
		cmocka_unit_test(fresh_after_128_s),
		cmocka_unit_test(records_as_json),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
