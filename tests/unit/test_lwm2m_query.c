/* Tests for the query strings of the LwM2M registration and bootstrap
 * interfaces (src/lwm2m/query.c): one test per rule of docs/lwm2m.md
 * ("Registration"): required and forbidden parameters, repeats, lengths,
 * lifetimes, the version (4.12 case), binding letters, queue mode in LwM2M
 * 1.0 and 1.1, and the bootstrap's pct. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "iotvault/lwm2m_query.h"

static const struct lwm2m_query_limits LIMITS = {10, 3600, 600};

static int parse(enum lwm2m_query_kind kind, const char *s, struct lwm2m_query *q)
{
	return lwm2m_query_parse(kind, (const uint8_t *)s, strlen(s), &LIMITS, q);
}

static int reg(const char *s)
{
	struct lwm2m_query q;
	return parse(LWM2M_QUERY_REGISTER, s, &q);
}

static int upd(const char *s)
{
	struct lwm2m_query q;
	return parse(LWM2M_QUERY_UPDATE, s, &q);
}

static int bs(const char *s)
{
	struct lwm2m_query q;
	return lwm2m_query_parse(LWM2M_QUERY_BOOTSTRAP, (const uint8_t *)s, strlen(s), NULL, &q);
}

static void test_param_reader(void **state)
{
	const char *s = "a=1&bb&c=345&&d=";
	char buf[4];
	(void)state;
	assert_int_equal(lwm2m_query_param((const uint8_t *)s, strlen(s), "a", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "1");
	assert_int_equal(lwm2m_query_param((const uint8_t *)s, strlen(s), "bb", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "");
	assert_int_equal(lwm2m_query_param((const uint8_t *)s, strlen(s), "d", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "");
	/* a prefix of a name is not the name */
	assert_int_equal(lwm2m_query_param((const uint8_t *)s, strlen(s), "b", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	/* "345" needs 4 bytes with its NUL: fits; 3 bytes do not */
	assert_int_equal(lwm2m_query_param((const uint8_t *)s, strlen(s), "c", buf, 4), 1);
	assert_int_equal(lwm2m_query_param((const uint8_t *)s, strlen(s), "c", buf, 3),
			 IV_ERR_INVALID);
	assert_int_equal(lwm2m_query_param((const uint8_t *)"a=1&a=1", 7, "a", buf, sizeof(buf)),
			 IV_ERR_INVALID);
	assert_int_equal(lwm2m_query_param(NULL, 0, "a", buf, sizeof(buf)), 0);
}

static void test_register_ok(void **state)
{
	struct lwm2m_query q;
	(void)state;
	assert_int_equal(parse(LWM2M_QUERY_REGISTER, "ep=urn:dev:one&lt=60&lwm2m=1.1&b=U", &q), 0);
	assert_string_equal(q.ep, "urn:dev:one");
	assert_true(q.has_lt);
	assert_int_equal(q.lifetime_s, 60);
	assert_string_equal(q.version, "1.1");
	assert_string_equal(q.binding, "U");
	assert_false(q.queue);
	/* defaults: version 1.0, binding U, the server's default lifetime */
	assert_int_equal(parse(LWM2M_QUERY_REGISTER, "ep=x", &q), 0);
	assert_false(q.has_lt);
	assert_int_equal(q.lifetime_s, 600);
	assert_string_equal(q.version, "1.0");
	assert_string_equal(q.binding, "U");
	assert_false(q.has_binding);
	/* unknown parameters are ignored, in any order */
	assert_int_equal(parse(LWM2M_QUERY_REGISTER, "sms=123&b=U&ep=x&apn=internet", &q), 0);
}

static void test_register_endpoint(void **state)
{
	char long_ep[STORE_NAME_MAX + 8], query[STORE_NAME_MAX + 16];
	(void)state;
	assert_int_equal(reg(""), IV_ERR_INVALID);
	assert_int_equal(reg("lt=60"), IV_ERR_INVALID);
	assert_int_equal(reg("ep="), IV_ERR_INVALID);
	assert_int_equal(reg("ep"), IV_ERR_INVALID);
	assert_int_equal(reg("ep=a/b"), IV_ERR_INVALID);
	assert_int_equal(reg("ep=a%20b"), IV_ERR_INVALID);
	/* the longest endpoint fits, one more character does not */
	memset(long_ep, 'e', STORE_NAME_MAX);
	long_ep[STORE_NAME_MAX] = '\0';
	snprintf(query, sizeof(query), "ep=%s", long_ep);
	assert_int_equal(reg(query), 0);
	snprintf(query, sizeof(query), "ep=%se", long_ep);
	assert_int_equal(reg(query), IV_ERR_INVALID);
}

static void test_repeated(void **state)
{
	(void)state;
	assert_int_equal(reg("ep=a&ep=a"), IV_ERR_INVALID);
	assert_int_equal(reg("ep=a&lt=60&lt=60"), IV_ERR_INVALID);
	assert_int_equal(reg("ep=a&lwm2m=1.1&lwm2m=1.1"), IV_ERR_INVALID);
	assert_int_equal(reg("ep=a&b=U&b=U"), IV_ERR_INVALID);
	assert_int_equal(reg("ep=a&lwm2m=1.1&Q&Q"), IV_ERR_INVALID);
	assert_int_equal(upd("lt=60&lt=70"), IV_ERR_INVALID);
	assert_int_equal(bs("ep=a&ep=b"), IV_ERR_INVALID);
	assert_int_equal(bs("ep=a&pct=60&pct=60"), IV_ERR_INVALID);
}

static void test_too_long_and_bytes(void **state)
{
	char big[LWM2M_QUERY_MAX + 2];
	struct lwm2m_query q;
	(void)state;
	memset(big, 'x', sizeof(big));
	memcpy(big, "ep=a&", 5);
	assert_int_equal(lwm2m_query_parse(LWM2M_QUERY_REGISTER, (const uint8_t *)big,
					   LWM2M_QUERY_MAX + 1, &LIMITS, &q),
			 IV_ERR_TOO_LARGE);
	assert_int_equal(lwm2m_query_parse(LWM2M_QUERY_REGISTER, (const uint8_t *)big,
					   LWM2M_QUERY_MAX, &LIMITS, &q),
			 0);
	/* a NUL would end the endpoint early behind the checks */
	assert_int_equal(lwm2m_query_parse(LWM2M_QUERY_REGISTER, (const uint8_t *)"ep=a\0b", 6,
					   &LIMITS, &q),
			 IV_ERR_INVALID);
	assert_int_equal(reg("ep=a&b=U\n"), IV_ERR_INVALID);
	assert_int_equal(reg("ep=a&b=\xc3\x9c"), IV_ERR_INVALID);
	assert_int_equal(reg("ep=a&b=UUUUUUUUU"), IV_ERR_INVALID);
}

static void test_lifetime(void **state)
{
	struct lwm2m_query q;
	(void)state;
	assert_int_equal(parse(LWM2M_QUERY_REGISTER, "ep=a&lt=10", &q), 0);
	assert_int_equal(q.lifetime_s, 10);
	assert_int_equal(parse(LWM2M_QUERY_REGISTER, "ep=a&lt=3600", &q), 0);
	assert_int_equal(reg("ep=a&lt=9"), IV_ERR_INVALID);
	assert_int_equal(reg("ep=a&lt=3601"), IV_ERR_INVALID);
	assert_int_equal(reg("ep=a&lt=0"), IV_ERR_INVALID);
	assert_int_equal(reg("ep=a&lt=-60"), IV_ERR_INVALID);
	assert_int_equal(reg("ep=a&lt=+60"), IV_ERR_INVALID);
	assert_int_equal(reg("ep=a&lt=60s"), IV_ERR_INVALID);
	assert_int_equal(reg("ep=a&lt=0x3c"), IV_ERR_INVALID);
	assert_int_equal(reg("ep=a&lt="), IV_ERR_INVALID);
	assert_int_equal(reg("ep=a&lt"), IV_ERR_INVALID);
	assert_int_equal(reg("ep=a&lt=99999999999999999999"), IV_ERR_INVALID);
	assert_int_equal(reg("ep=a&lt=00000000060"), IV_ERR_INVALID); /* 11 digits */
	assert_int_equal(parse(LWM2M_QUERY_REGISTER, "ep=a&lt=0000000060", &q), 0);
	assert_int_equal(q.lifetime_s, 60);
	/* an Update without lt keeps the registration's lifetime */
	assert_int_equal(parse(LWM2M_QUERY_UPDATE, "", &q), 0);
	assert_false(q.has_lt);
	assert_int_equal(upd("lt=5"), IV_ERR_INVALID);
	assert_int_equal(parse(LWM2M_QUERY_UPDATE, "lt=100", &q), 0);
	assert_true(q.has_lt);
	assert_int_equal(q.lifetime_s, 100);
}

static void test_version(void **state)
{
	(void)state;
	assert_int_equal(reg("ep=a&lwm2m=1.0"), 0);
	assert_int_equal(reg("ep=a&lwm2m=1.1"), 0);
	/* a version the server does not speak is 4.12 (IV_ERR_REFUSED), however
	 * it is spelt */
	assert_int_equal(reg("ep=a&lwm2m=1.2"), IV_ERR_REFUSED);
	assert_int_equal(reg("ep=a&lwm2m=2.0"), IV_ERR_REFUSED);
	assert_int_equal(reg("ep=a&lwm2m=1"), IV_ERR_REFUSED);
	assert_int_equal(reg("ep=a&lwm2m="), IV_ERR_REFUSED);
	assert_int_equal(reg("ep=a&lwm2m=1.1.1.1.1.1.1.1.1.1.1.1"), IV_ERR_REFUSED);
	assert_int_equal(iv_error_coap_code(IV_ERR_REFUSED), 140); /* 4.12 */
	/* an Update cannot change the version */
	assert_int_equal(upd("lwm2m=1.1"), IV_ERR_INVALID);
}

static void test_binding(void **state)
{
	struct lwm2m_query q;
	(void)state;
	assert_int_equal(reg("ep=a&b=U"), 0);
	assert_int_equal(reg("ep=a&b=UQ"), 0);
	assert_int_equal(reg("ep=a&b=T"), 0);
	assert_int_equal(reg("ep=a&b=UQS"), 0);
	assert_int_equal(reg("ep=a&lwm2m=1.1&b=UTSN"), 0);
	assert_int_equal(reg("ep=a&b="), IV_ERR_INVALID);
	assert_int_equal(reg("ep=a&b=u"), IV_ERR_INVALID);   /* letters are upper case */
	assert_int_equal(reg("ep=a&b=UX"), IV_ERR_INVALID);
	assert_int_equal(reg("ep=a&b=UU"), IV_ERR_INVALID);  /* each letter once */
	assert_int_equal(reg("ep=a&b=Q"), IV_ERR_INVALID);   /* queue mode of no transport */
	assert_int_equal(reg("ep=a&b=U Q"), IV_ERR_INVALID);
	assert_int_equal(parse(LWM2M_QUERY_UPDATE, "b=S", &q), 0);
	assert_true(q.has_binding);
	assert_string_equal(q.binding, "S");
	assert_int_equal(upd("b=UZ"), IV_ERR_INVALID);
}

static void test_queue_mode_by_version(void **state)
{
	struct lwm2m_query q;
	(void)state;
	/* 1.0: Q is a binding letter, there is no Q parameter */
	assert_int_equal(parse(LWM2M_QUERY_REGISTER, "ep=a&lwm2m=1.0&b=UQ", &q), 0);
	assert_true(q.queue);
	assert_false(q.queue_param);
	assert_int_equal(parse(LWM2M_QUERY_REGISTER, "ep=a&b=UQ", &q), 0); /* 1.0 by default */
	assert_true(q.queue);
	assert_int_equal(reg("ep=a&lwm2m=1.0&b=U&Q"), IV_ERR_INVALID);
	assert_int_equal(reg("ep=a&Q"), IV_ERR_INVALID);
	/* 1.1: the bare Q parameter, and no Q in the binding */
	assert_int_equal(parse(LWM2M_QUERY_REGISTER, "ep=a&lwm2m=1.1&b=U&Q", &q), 0);
	assert_true(q.queue);
	assert_true(q.queue_param);
	assert_int_equal(parse(LWM2M_QUERY_REGISTER, "ep=a&lwm2m=1.1&b=U", &q), 0);
	assert_false(q.queue);
	assert_int_equal(reg("ep=a&lwm2m=1.1&b=UQ"), IV_ERR_INVALID);
	assert_int_equal(reg("ep=a&lwm2m=1.1&Q="), IV_ERR_INVALID);
	assert_int_equal(reg("ep=a&lwm2m=1.1&Q=1"), IV_ERR_INVALID);
	/* names are case-sensitive: "q" is an unknown parameter */
	assert_int_equal(parse(LWM2M_QUERY_REGISTER, "ep=a&lwm2m=1.1&q", &q), 0);
	assert_false(q.queue);
	/* an Update is checked against its registration's version */
	assert_int_equal(parse(LWM2M_QUERY_UPDATE, "Q", &q), 0);
	assert_int_equal(lwm2m_query_check_version(&q, "1.1"), 0);
	assert_int_equal(lwm2m_query_check_version(&q, "1.0"), IV_ERR_INVALID);
	assert_int_equal(parse(LWM2M_QUERY_UPDATE, "b=UQ", &q), 0);
	assert_int_equal(lwm2m_query_check_version(&q, "1.0"), 0);
	assert_int_equal(lwm2m_query_check_version(&q, "1.1"), IV_ERR_INVALID);
}

static void test_update(void **state)
{
	(void)state;
	assert_int_equal(upd(""), 0);
	assert_int_equal(upd("ep=a"), IV_ERR_INVALID); /* an Update does not name the endpoint */
	assert_int_equal(upd("ep"), IV_ERR_INVALID);
	assert_int_equal(upd("lt=60&b=U&sms=1"), 0);
}

static void test_bootstrap(void **state)
{
	struct lwm2m_query q;
	(void)state;
	assert_int_equal(lwm2m_query_parse(LWM2M_QUERY_BOOTSTRAP, (const uint8_t *)"ep=urn:dev:one",
					   14, NULL, &q),
			 0);
	assert_string_equal(q.ep, "urn:dev:one");
	assert_false(q.has_pct);
	assert_int_equal(lwm2m_query_parse(LWM2M_QUERY_BOOTSTRAP,
					   (const uint8_t *)"ep=urn:dev:one&pct=112", 22, NULL, &q),
			 0);
	assert_true(q.has_pct);
	assert_int_equal(q.pct, 112);
	assert_int_equal(bs(""), IV_ERR_INVALID);
	assert_int_equal(bs("pct=112"), IV_ERR_INVALID);
	assert_int_equal(bs("ep=a&pct="), IV_ERR_INVALID);
	assert_int_equal(bs("ep=a&pct=abc"), IV_ERR_INVALID);
	assert_int_equal(bs("ep=a&pct=-1"), IV_ERR_INVALID);
	assert_int_equal(bs("ep=a&pct=65535"), 0);
	assert_int_equal(bs("ep=a&pct=65536"), IV_ERR_INVALID);
	assert_int_equal(bs("ep=a&pct=1111111"), IV_ERR_INVALID);
	/* the registration's parameters mean nothing here and are ignored */
	assert_int_equal(bs("ep=a&lt=zz&lwm2m=9"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_param_reader),
		cmocka_unit_test(test_register_ok),
		cmocka_unit_test(test_register_endpoint),
		cmocka_unit_test(test_repeated),
		cmocka_unit_test(test_too_long_and_bytes),
		cmocka_unit_test(test_lifetime),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_binding),
		cmocka_unit_test(test_queue_mode_by_version),
		cmocka_unit_test(test_update),
		cmocka_unit_test(test_bootstrap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
