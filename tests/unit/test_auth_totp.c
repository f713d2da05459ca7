/* TOTP unit tests: RFC 6238 Appendix B (SHA-1, 8 digits), codes checked
 * against liboath's oath_totp_generate as the oracle, the acceptance window,
 * one-time use, enrolment/confirmation/removal through the vault, login with
 * a second factor, and a tenant that requires TOTP. */
#include "test_auth_fixture.h"

#include <liboath/oath.h>

/* RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890". */
static const uint8_t rfc_seed[20] = "12345678901234567890";

static void test_rfc6238_vectors(void **state)
{
	static const struct {
		int64_t t;
		const char *code;
	} v[] = {
		{59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
		{1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000LL, "65353130"},
	};
	char out[9];
	(void)state;
	assert_int_equal(totp_init(), 0);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(totp_code(rfc_seed, sizeof(rfc_seed), v[i].t, 8, out), 0);
		assert_string_equal(out, v[i].code);
	}
	/* 6 digits are the low 6 of the same truncation */
	assert_int_equal(totp_code(rfc_seed, sizeof(rfc_seed), 59, 6, out), 0);
	assert_string_equal(out, "287082");
	assert_int_equal(totp_code(rfc_seed, sizeof(rfc_seed), 59, 5, out), IV_ERR_INVALID);
	assert_int_equal(totp_code(rfc_seed, sizeof(rfc_seed), 59, 9, out), IV_ERR_INVALID);
}

static void oracle(const uint8_t *secret, size_t len, int64_t t, char out[9])
{
	assert_int_equal(oath_totp_generate((const char *)secret, len, (time_t)t, 30, 0, 6, out),
			 OATH_OK);
}

static void test_check_window_and_replay(void **state)
{
	uint8_t secret[TOTP_SECRET_LEN];
	char code[9];
	int64_t now = 1700000015, step = 0, last;
	(void)state;
	assert_int_equal(totp_init(), 0);
	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)(i * 37 + 11);

	/* now, one step back and one ahead are accepted; two steps are not */
	oracle(secret, sizeof(secret), now, code);
	assert_int_equal(totp_check(secret, sizeof(secret), now, code, 0, &step), 0);
	assert_int_equal(step, now / 30);
	oracle(secret, sizeof(secret), now - 30, code);
	assert_int_equal(totp_check(secret, sizeof(secret), now, code, 0, &step), 0);
	assert_int_equal(step, now / 30 - 1);
	oracle(secret, sizeof(secret), now + 30, code);
	assert_int_equal(totp_check(secret, sizeof(secret), now, code, 0, &step), 0);
	oracle(secret, sizeof(secret), now - 60, code);
	assert_int_equal(totp_check(secret, sizeof(secret), now, code, 0, &step),
			 IV_ERR_UNAUTHENTICATED);
	oracle(secret, sizeof(secret), now + 60, code);
	assert_int_equal(totp_check(secret, sizeof(secret), now, code, 0, &step),
			 IV_ERR_UNAUTHENTICATED);

	/* a step at or below the last accepted one is refused: each code works once */
	oracle(secret, sizeof(secret), now, code);
	last = now / 30;
	assert_int_equal(totp_check(secret, sizeof(secret), now, code, last, &step),
			 IV_ERR_UNAUTHENTICATED);
	assert_int_equal(totp_check(secret, sizeof(secret), now, code, last - 1, &step), 0);

	/* malformed codes */
	assert_int_equal(totp_check(secret, sizeof(secret), now, "12345", 0, &step),
			 IV_ERR_UNAUTHENTICATED);
	assert_int_equal(totp_check(secret, sizeof(secret), now, "1234567", 0, &step),
			 IV_ERR_UNAUTHENTICATED);
	assert_int_equal(totp_check(secret, sizeof(secret), now, "12a456", 0, &step),
			 IV_ERR_UNAUTHENTICATED);
	assert_int_equal(totp_check(secret, sizeof(secret), now, NULL, 0, &step),
			 IV_ERR_UNAUTHENTICATED);
}

static void test_base32(void **state)
{
	char b32[TOTP_BASE32_MAX];
	(void)state;
	/* RFC 4648 test vector */
	assert_int_equal(totp_base32((const uint8_t *)"foobar", 6, b32), 0);
	assert_string_equal(b32, "MZXW6YTBOI======");
	assert_int_equal(totp_base32(rfc_seed, sizeof(rfc_seed), b32), 0);
	assert_string_equal(b32, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

/* Enrols alice and returns her secret (decoded from the base32 the API shows). */
static void enrol(struct fixture *f, int64_t uid, uint8_t secret[TOTP_SECRET_LEN])
{
	char b32[TOTP_BASE32_MAX], uri[TOTP_URI_MAX];
	char *raw = NULL;
	size_t n = 0;

	assert_int_equal(totp_enroll(f->svc.v, &test_actor, f->tenant_id, "acme", uid, b32, uri), 0);
	assert_int_equal(strncmp(uri, "otpauth://totp/iotvault:acme%2Falice?secret=", 44), 0);
	assert_non_null(strstr(uri, b32));
	assert_non_null(strstr(uri, "&issuer=iotvault"));
	assert_int_equal(oath_base32_decode(b32, strlen(b32), &raw, &n), OATH_OK);
	assert_int_equal(n, TOTP_SECRET_LEN);
	memcpy(secret, raw, n);
	secmem_wipe(raw, n);
	free(raw);
}

static void test_enrol_confirm_login_disable(void **state)
{
	struct fixture *f = *state;
	struct login_result res;
	struct user_state u;
	uint8_t secret[TOTP_SECRET_LEN];
	char code[9], b32[TOTP_BASE32_MAX], uri[TOTP_URI_MAX];
	int64_t uid = fx_user_id(f, f->tenant_id, "alice");
	int64_t t = T0 / 1000; /* seconds */

	f->svc.cfg.auth_max_failures_per_account_hour = 100;
	enrol(f, uid, secret);
	/* the secret is sealed in the vault, not enabled until confirmed */
	assert_int_equal(fx_st(f)->ops->auth->user_get_by_id(fx_st(f), f->tenant_id, uid, &u), 0);
	assert_false(u.totp_enabled);
	assert_int_equal(fx_login(f, "acme", "alice", ALICE_PW, NULL, T0, &res), 0);

	/* a wrong code does not confirm; the right one does */
	oracle(secret, sizeof(secret), t - 120, code);
	assert_int_equal(totp_confirm(f->svc.v, &test_actor, f->tenant_id, uid, code, T0),
			 IV_ERR_UNAUTHENTICATED);
	oracle(secret, sizeof(secret), t, code);
	assert_int_equal(totp_confirm(f->svc.v, &test_actor, f->tenant_id, uid, code, T0), 0);
	assert_int_equal(fx_audit_count(f, "user.totp_enable", "success", NULL), 1);
	assert_int_equal(totp_enroll(f->svc.v, &test_actor, f->tenant_id, "acme", uid, b32, uri),
			 IV_ERR_REFUSED);

	/* login now needs the code */
	assert_int_equal(fx_login(f, "acme", "alice", ALICE_PW, NULL, T0 + 1000, &res),
			 IV_ERR_TOTP_REQUIRED);
	assert_int_equal(fx_audit_count(f, "session.login", "failure", "totp_required"), 1);
	/* the code used for confirmation cannot be used again */
	assert_int_equal(fx_login(f, "acme", "alice", ALICE_PW, code, T0 + 1000, &res),
			 IV_ERR_UNAUTHENTICATED);
	assert_string_equal(res.reason, "bad_totp");
	/* the next step's code works, once */
	oracle(secret, sizeof(secret), t + 30, code);
	assert_int_equal(fx_login(f, "acme", "alice", ALICE_PW, code, T0 + 30000, &res), 0);
	assert_int_equal(fx_login(f, "acme", "alice", ALICE_PW, code, T0 + 31000, &res),
			 IV_ERR_UNAUTHENTICATED);
	/* a wrong code counts as a failure */
	{
		struct throttle_state ts;
		assert_int_equal(throttle_count(fx_st(f), "acme", "alice", "192.0.2.7", T0 + 31000,
						&ts),
				 0);
		assert_int_equal(ts.account_failures, 1);
	}
	/* a wrong password with a right code is still a wrong password */
	oracle(secret, sizeof(secret), t + 60, code);
	assert_int_equal(fx_login(f, "acme", "alice", "not-alices-password", code, T0 + 60000, &res),
			 IV_ERR_UNAUTHENTICATED);
	assert_int_equal(fx_login(f, "acme", "alice", ALICE_PW, code, T0 + 60000, &res), 0);

	/* disabling needs a fresh code; the tenant's requirement forbids it */
	oracle(secret, sizeof(secret), t + 90, code);
	assert_int_equal(fx_st(f)->ops->auth->tenant_set_require_totp(fx_st(f), f->tenant_id, 1), 0);
	assert_int_equal(totp_disable(f->svc.v, &test_actor, f->tenant_id, uid, code, T0 + 90000),
			 IV_ERR_REFUSED);
	assert_int_equal(fx_st(f)->ops->auth->tenant_set_require_totp(fx_st(f), f->tenant_id, 0), 0);
	assert_int_equal(totp_disable(f->svc.v, &test_actor, f->tenant_id, uid, "000000",
				      T0 + 90000),
			 IV_ERR_UNAUTHENTICATED);
	assert_int_equal(totp_disable(f->svc.v, &test_actor, f->tenant_id, uid, code, T0 + 90000), 0);
	assert_int_equal(fx_audit_count(f, "user.totp_disable", "success", NULL), 1);
	assert_int_equal(fx_login(f, "acme", "alice", ALICE_PW, NULL, T0 + 91000, &res), 0);
	/* the sealed secret is gone */
	{
		struct secret_ref ref = {f->tenant_id, "user", uid, "totp_secret"};
		assert_int_equal(vault_secret_exists(f->svc.v, &ref), IV_ERR_NOT_FOUND);
	}
	secmem_wipe(secret, sizeof(secret));
}

static void test_tenant_requires_totp(void **state)
{
	struct fixture *f = *state;
	struct login_result res;
	struct principal p;
	uint8_t secret[TOTP_SECRET_LEN];
	char code[9];
	int64_t uid = fx_user_id(f, f->tenant_id, "alice");

	assert_int_equal(fx_st(f)->ops->auth->tenant_set_require_totp(fx_st(f), f->tenant_id, 1), 0);
	/* the password still logs in, but only to enrol */
	assert_int_equal(fx_login(f, "acme", "alice", ALICE_PW, NULL, T0, &res), 0);
	assert_int_equal(res.totp_enrolment_required, 1);
	assert_int_equal(auth_resolve_at(&f->svc, res.token, NULL, T0 + 1, &p), 0);
	assert_int_equal(p.role_bit, ROLE_TOTP_ENROLMENT);
	assert_int_equal(auth_route_denied(&p, ROLES_ALL), IV_ERR_TOTP_REQUIRED);
	/* API keys are not affected */
	{
		char key[APIKEY_TEXT_MAX];
		int64_t kid;
		struct principal kp;
		assert_int_equal(apikey_create(f->svc.v, &test_actor, f->tenant_id, "m2m", "viewer",
					       T0, key, &kid),
				 0);
		assert_int_equal(auth_resolve_at(&f->svc, NULL, key, T0 + 1, &kp), 0);
		assert_int_equal(kp.role_bit, ROLE_VIEWER);
	}
	/* once enrolled, the same session has its full role */
	enrol(f, uid, secret);
	oracle(secret, sizeof(secret), T0 / 1000, code);
	assert_int_equal(totp_confirm(f->svc.v, &test_actor, f->tenant_id, uid, code, T0 + 2), 0);
	assert_int_equal(auth_resolve_at(&f->svc, res.token, NULL, T0 + 3, &p), 0);
	assert_int_equal(p.role_bit, ROLE_ADMIN);
	assert_int_equal(fx_audit_count(f, "session.login", "success", "totp_enrolment_required"), 1);
	secmem_wipe(secret, sizeof(secret));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6238_vectors),
		cmocka_unit_test(test_check_window_and_replay),
		cmocka_unit_test(test_base32),
		cmocka_unit_test_setup_teardown(test_enrol_confirm_login_disable, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_tenant_requires_totp, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
