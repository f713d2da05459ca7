/* Auth unit tests: password policy, session tokens (creation, resolution,
 * idle and absolute expiry with an injected clock, nothing but a hash in the
 * database), API keys, throttling counters and the hourly limit, the login
 * flow (generic errors, lockout, unlock, audit records with the source
 * address, hash upgrade) and user administration (last admin, sessions ended
 * by disabling and password change). */
#include "test_auth_fixture.h"

#include <sodium.h>
#include <unistd.h>

/* ---- password policy ---- */

static void test_policy_rules(void **state)
{
	struct fixture *f = *state;
	const struct password_policy *pp = f->svc.password_policy;
	const char *why = NULL;
	char pw[200];

	assert_true(password_policy_size(pp) >= COMMON_PASSWORDS_MIN);
	/* length in characters: 14 too short, 15 and 128 fine, 129 too long */
	memset(pw, 'x', sizeof(pw));
	pw[0] = 'k';
	assert_int_equal(password_policy_check(pp, pw, 14, "alice", &why), IV_ERR_WEAK_PASSWORD);
	assert_non_null(why);
	assert_int_equal(password_policy_check(pp, pw, 15, "alice", &why), 0);
	assert_null(why);
	assert_int_equal(password_policy_check(pp, pw, 128, "alice", &why), 0);
	assert_int_equal(password_policy_check(pp, pw, 129, "alice", &why), IV_ERR_WEAK_PASSWORD);
	/* no composition rules: all lower-case letters and spaces are fine */
	assert_int_equal(password_policy_check(pp, "purple monkey dishwasher", 24, "alice", &why), 0);
	/* characters, not bytes: 15 two-byte characters pass, 14 do not */
	{
		const char *e15 = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
				  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
		assert_int_equal(password_policy_check(pp, e15, 30, "alice", &why), 0);
		assert_int_equal(password_policy_check(pp, e15, 28, "alice", &why),
				 IV_ERR_WEAK_PASSWORD);
	}
	/* the common list, case-insensitively */
	assert_int_equal(password_policy_check(pp, "CorrectHorseBatteryStaple", 25, "alice", &why),
			 IV_ERR_WEAK_PASSWORD);
	assert_non_null(strstr(why, "common"));
	assert_int_equal(password_policy_check(pp, "qwertyuiopasdfgh", 16, "alice", &why),
			 IV_ERR_WEAK_PASSWORD);
	assert_int_equal(password_policy_check(pp, "qwertyuiopasdfgh!", 17, "alice", &why), 0);
	/* the user name itself */
	assert_int_equal(password_policy_check(pp, "Operator.Account", 16, "operator.account", &why),
			 IV_ERR_WEAK_PASSWORD);
	assert_non_null(strstr(why, "user name"));
	/* a generated suggestion passes */
	{
		char s[GENERATED_PASSWORD_LEN + 1];
		password_suggest(s);
		assert_int_equal(strlen(s), GENERATED_PASSWORD_LEN);
		assert_int_equal(password_policy_check(pp, s, strlen(s), "alice", &why), 0);
	}
}

static void test_policy_list_required(void **state)
{
	struct fixture *f = *state;
	struct password_policy *pp = NULL;
	struct service svc;
	char path[160];

	snprintf(path, sizeof(path), "%s/missing.txt", f->dir);
	assert_int_equal(password_policy_load(path, COMMON_PASSWORDS_MIN, &pp), IV_ERR_NOT_FOUND);
	assert_null(pp);
	snprintf(path, sizeof(path), "%s/short.txt", f->dir);
	fx_write_list(path, 10);
	assert_int_equal(password_policy_load(path, COMMON_PASSWORDS_MIN, &pp), IV_ERR_CONFIG);
	assert_int_equal(password_policy_load(path, 10, &pp), 0);
	password_policy_free(pp);

	/* the service refuses to start without the list */
	memset(&svc, 0, sizeof(svc));
	assert_int_equal(config_defaults(&svc.cfg, f->dir), 0);
	free(svc.cfg.auth_common_passwords);
	svc.cfg.auth_common_passwords = strdup("no-such-list.txt");
	assert_int_not_equal(auth_service_init(&svc), 0);
	assert_null(svc.password_policy);
	config_free(&svc.cfg);
}

/* ---- sessions ---- */

static int file_contains(const char *path, const void *needle, size_t len)
{
	FILE *fp = fopen(path, "rb");
	static char buf[8 << 20];
	size_t n;
	if (fp == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	return memmem(buf, n, needle, len) != NULL;
}

static void test_session_token_stored_hashed(void **state)
{
	struct fixture *f = *state;
	struct session_record s, got;
	char token[SESSION_TOKEN_TEXT_LEN], path[160];
	uint8_t raw[SESSION_TOKEN_LEN];
	size_t n = 0;
	int64_t uid = fx_user_id(f, f->tenant_id, "alice");

	assert_int_equal(session_create(fx_st(f), &f->svc.cfg, f->tenant_id, uid, T0, token, &s), 0);
	assert_int_equal(strlen(token), 43);
	assert_int_equal(sodium_base642bin(raw, sizeof(raw), token, strlen(token), NULL, &n, NULL,
					   sodium_base64_VARIANT_URLSAFE_NO_PADDING),
			 0);
	assert_int_equal(n, SESSION_TOKEN_LEN);
	assert_int_equal(session_lookup(fx_st(f), &f->svc.cfg, token, T0 + 1000, &got), 0);
	assert_int_equal(got.id, s.id);
	assert_int_equal(got.user_id, uid);
	assert_string_equal(got.tenant, "acme");
	assert_string_equal(got.username, "alice");
	assert_string_equal(got.role, "admin");
	assert_int_equal(got.expires_at, T0 + 12LL * 3600 * 1000);
	/* neither the token text nor its bytes are anywhere in the database files */
	snprintf(path, sizeof(path), "%s/iotvault.db", f->dir);
	assert_false(file_contains(path, token, strlen(token)));
	assert_false(file_contains(path, raw, sizeof(raw)));
	snprintf(path, sizeof(path), "%s/iotvault.db-wal", f->dir);
	assert_false(file_contains(path, token, strlen(token)));
	assert_false(file_contains(path, raw, sizeof(raw)));
	/* the stored value is SHA-256 of the token bytes */
	{
		uint8_t h[32];
		crypto_hash_sha256(h, raw, sizeof(raw));
		assert_memory_equal(h, got.token_hash, 32);
	}
	/* a token one character off, or garbage, is nobody */
	token[10] = token[10] == 'A' ? 'B' : 'A';
	assert_int_equal(session_lookup(fx_st(f), &f->svc.cfg, token, T0, &got),
			 IV_ERR_UNAUTHENTICATED);
	assert_int_equal(session_lookup(fx_st(f), &f->svc.cfg, "", T0, &got),
			 IV_ERR_UNAUTHENTICATED);
	assert_int_equal(session_lookup(fx_st(f), &f->svc.cfg, "not base64 at all!", T0, &got),
			 IV_ERR_UNAUTHENTICATED);
}

static void test_session_idle_timeout(void **state)
{
	struct fixture *f = *state;
	struct session_record s;
	char token[SESSION_TOKEN_TEXT_LEN];
	int64_t uid = fx_user_id(f, f->tenant_id, "alice");
	int64_t idle = (int64_t)f->svc.cfg.session_idle_timeout_s * 1000;

	assert_int_equal(session_create(fx_st(f), &f->svc.cfg, f->tenant_id, uid, T0, token, &s), 0);
	/* activity keeps it alive past the idle timeout */
	assert_int_equal(session_lookup(fx_st(f), &f->svc.cfg, token, T0 + idle - 1000, &s), 0);
	assert_int_equal(session_lookup(fx_st(f), &f->svc.cfg, token, T0 + 2 * idle - 2000, &s), 0);
	/* then a pause longer than the idle timeout ends it, for good */
	assert_int_equal(session_lookup(fx_st(f), &f->svc.cfg, token, T0 + 3 * idle, &s),
			 IV_ERR_UNAUTHENTICATED);
	assert_int_equal(session_lookup(fx_st(f), &f->svc.cfg, token, T0 + 2 * idle - 1000, &s),
			 IV_ERR_UNAUTHENTICATED);
}

static void test_session_absolute_timeout(void **state)
{
	struct fixture *f = *state;
	struct session_record s;
	char token[SESSION_TOKEN_TEXT_LEN];
	int64_t uid = fx_user_id(f, f->tenant_id, "alice");
	int64_t abs_ms = (int64_t)f->svc.cfg.session_absolute_timeout_s * 1000;
	int64_t t;

	assert_int_equal(session_create(fx_st(f), &f->svc.cfg, f->tenant_id, uid, T0, token, &s), 0);
	/* busy all day: a request every 10 minutes */
	for (t = T0; t < T0 + abs_ms; t += 600000)
		assert_int_equal(session_lookup(fx_st(f), &f->svc.cfg, token, t, &s), 0);
	assert_int_equal(session_lookup(fx_st(f), &f->svc.cfg, token, T0 + abs_ms, &s),
			 IV_ERR_UNAUTHENTICATED);
}

static void test_session_cookie(void **state)
{
	char c[SESSION_COOKIE_MAX];
	(void)state;
	assert_int_equal(session_cookie(c, sizeof(c), "abc", 43200), 0);
	assert_string_equal(c, "__Host-iotvault_session=abc; Path=/; Max-Age=43200; Secure; "
			       "HttpOnly; SameSite=Strict");
	assert_null(strstr(c, "Domain"));
	assert_int_equal(session_cookie(c, sizeof(c), NULL, 0), 0);
	assert_non_null(strstr(c, "__Host-iotvault_session=; Path=/; Max-Age=0;"));
	assert_int_equal(session_cookie(c, 20, "abc", 1), IV_ERR_TOO_LARGE);
}

static void test_resolve_session(void **state)
{
	struct fixture *f = *state;
	struct session_record s;
	struct principal p;
	char token[SESSION_TOKEN_TEXT_LEN];
	int64_t uid = fx_user_id(f, f->tenant_id, "alice");

	assert_int_equal(session_create(fx_st(f), &f->svc.cfg, f->tenant_id, uid, T0, token, &s), 0);
	assert_int_equal(auth_resolve_at(&f->svc, token, NULL, T0 + 1, &p), 0);
	assert_int_equal(p.kind, PRINCIPAL_USER);
	assert_int_equal(p.tenant_id, f->tenant_id);
	assert_string_equal(p.tenant, "acme");
	assert_int_equal(p.user_id, uid);
	assert_int_equal(p.session_id, s.id);
	assert_string_equal(p.name, "alice");
	assert_string_equal(p.role, "admin");
	assert_int_equal(p.role_bit, ROLE_ADMIN);
	assert_int_equal(p.via_cookie, 1);
	assert_int_equal(auth_resolve_at(&f->svc, NULL, NULL, T0, &p), IV_ERR_UNAUTHENTICATED);
	/* a bad bearer is not rescued by a good cookie */
	assert_int_equal(auth_resolve_at(&f->svc, token, "ivk_1_x", T0, &p), IV_ERR_UNAUTHENTICATED);
	assert_int_equal(p.kind, PRINCIPAL_NONE);

	/* a tenant that requires TOTP restricts users without it to enrolment */
	assert_int_equal(fx_st(f)->ops->auth->tenant_set_require_totp(fx_st(f), f->tenant_id, 1), 0);
	assert_int_equal(auth_resolve_at(&f->svc, token, NULL, T0 + 2, &p), 0);
	assert_int_equal(p.role_bit, ROLE_TOTP_ENROLMENT);
	assert_string_equal(p.role, "admin");
	assert_int_equal(auth_route_denied(&p, ROLE_ADMIN), IV_ERR_TOTP_REQUIRED);
	p.role_bit = ROLE_VIEWER;
	assert_int_equal(auth_route_denied(&p, ROLE_ADMIN), IV_ERR_FORBIDDEN);
	assert_int_equal(fx_st(f)->ops->auth->tenant_set_require_totp(fx_st(f), 999, 1),
			 IV_ERR_NOT_FOUND);
}

/* ---- API keys ---- */

static void test_apikey_lifecycle(void **state)
{
	struct fixture *f = *state;
	struct apikey_record k;
	struct principal p;
	char key[APIKEY_TEXT_MAX], bad[APIKEY_TEXT_MAX + 8], path[160];
	int64_t id = 0;

	assert_int_equal(apikey_create(f->svc.v, &test_actor, f->tenant_id, "ingest", "operator", T0,
				       key, &id),
			 0);
	assert_true(id > 0);
	assert_int_equal(strncmp(key, "ivk_", 4), 0);
	assert_int_equal(strlen(strchr(key + 4, '_') + 1), 43);
	snprintf(path, sizeof(path), "%s/iotvault.db-wal", f->dir);
	assert_false(file_contains(path, strchr(key + 4, '_') + 1, 43));

	assert_int_equal(auth_resolve_at(&f->svc, NULL, key, T0 + 5, &p), 0);
	assert_int_equal(p.kind, PRINCIPAL_APIKEY);
	assert_int_equal(p.apikey_id, id);
	assert_int_equal(p.tenant_id, f->tenant_id);
	assert_string_equal(p.tenant, "acme");
	assert_string_equal(p.name, "ingest");
	assert_string_equal(p.role, "operator");
	assert_int_equal(p.role_bit, ROLE_OPERATOR);
	assert_int_equal(p.via_cookie, 0);

	/* last_used_at: written on first use, then at most once a minute */
	assert_int_equal(fx_st(f)->ops->auth->apikey_get(fx_st(f), id, &k), 0);
	assert_int_equal(k.last_used_at, T0 + 5);
	assert_int_equal(apikey_lookup(fx_st(f), key, T0 + 30000, &k), 0);
	assert_int_equal(fx_st(f)->ops->auth->apikey_get(fx_st(f), id, &k), 0);
	assert_int_equal(k.last_used_at, T0 + 5);
	assert_int_equal(apikey_lookup(fx_st(f), key, T0 + 70000, &k), 0);
	assert_int_equal(fx_st(f)->ops->auth->apikey_get(fx_st(f), id, &k), 0);
	assert_int_equal(k.last_used_at, T0 + 70000);

	/* wrong secret, wrong id, malformed */
	snprintf(bad, sizeof(bad), "%s", key);
	bad[strlen(bad) - 3] = bad[strlen(bad) - 3] == 'A' ? 'B' : 'A';
	assert_int_equal(apikey_lookup(fx_st(f), bad, T0, &k), IV_ERR_UNAUTHENTICATED);
	snprintf(bad, sizeof(bad), "ivk_%lld%s", (long long)id + 1, strchr(key + 4, '_'));
	assert_int_equal(apikey_lookup(fx_st(f), bad, T0, &k), IV_ERR_UNAUTHENTICATED);
	assert_int_equal(apikey_lookup(fx_st(f), "ivk_", T0, &k), IV_ERR_UNAUTHENTICATED);
	assert_int_equal(apikey_lookup(fx_st(f), "ivk_1_", T0, &k), IV_ERR_UNAUTHENTICATED);
	assert_int_equal(apikey_lookup(fx_st(f), "ivk_-1_abc", T0, &k), IV_ERR_UNAUTHENTICATED);
	assert_int_equal(apikey_lookup(fx_st(f), "Bearer", T0, &k), IV_ERR_UNAUTHENTICATED);
	snprintf(bad, sizeof(bad), "%sA", key);
	assert_int_equal(apikey_lookup(fx_st(f), bad, T0, &k), IV_ERR_UNAUTHENTICATED);

	/* another tenant cannot revoke it; its own admin can, once */
	assert_int_equal(apikey_revoke(f->svc.v, &test_actor, f->other_tenant_id, id, T0),
			 IV_ERR_NOT_FOUND);
	assert_int_equal(apikey_lookup(fx_st(f), key, T0 + 80000, &k), 0);
	assert_int_equal(apikey_revoke(f->svc.v, &test_actor, f->tenant_id, id, T0 + 90000), 0);
	assert_int_equal(apikey_revoke(f->svc.v, &test_actor, f->tenant_id, id, T0 + 90000),
			 IV_ERR_NOT_FOUND);
	assert_int_equal(apikey_lookup(fx_st(f), key, T0 + 100000, &k), IV_ERR_UNAUTHENTICATED);
	assert_int_equal(auth_resolve_at(&f->svc, NULL, key, T0 + 100000, &p),
			 IV_ERR_UNAUTHENTICATED);
	assert_int_equal(fx_audit_count(f, "apikey.create", "success", "operator"), 1);
	assert_int_equal(fx_audit_count(f, "apikey.revoke", "success", NULL), 1);
	assert_int_equal(apikey_create(f->svc.v, &test_actor, f->tenant_id, "x", "root", T0, key,
				       &id),
			 IV_ERR_INVALID);
}

/* ---- throttling ---- */

static void test_throttle_hourly_limit(void **state)
{
	struct fixture *f = *state;
	struct throttle_state ts;
	struct store *st = fx_st(f);

	assert_int_equal(f->svc.cfg.auth_max_failures_per_account_hour, 100);
	for (int i = 0; i < 99; i++) {
		assert_int_equal(st->ops->begin(st, 1), 0);
		assert_int_equal(throttle_record_failure(st, "acme", "alice", "198.51.100.1",
							 T0 + i * 1000, &ts),
				 0);
		assert_int_equal(st->ops->commit(st), 0);
	}
	assert_int_equal(ts.account_failures, 99);
	assert_false(throttle_exceeded(&f->svc.cfg, &ts));
	assert_int_equal(throttle_record_failure(st, "acme", "alice", "198.51.100.2", T0 + 100000,
						 &ts),
			 0);
	assert_int_equal(ts.account_failures, 100);
	assert_int_equal(ts.source_failures, 1);
	assert_true(throttle_exceeded(&f->svc.cfg, &ts));
	/* another account is not affected; the same account from elsewhere is */
	assert_int_equal(throttle_count(st, "acme", "bob", "198.51.100.1", T0 + 100000, &ts), 0);
	assert_int_equal(ts.account_failures, 0);
	assert_int_equal(ts.source_failures, 99);
	assert_false(throttle_exceeded(&f->svc.cfg, &ts));
	assert_int_equal(throttle_count(st, "acme", "alice", "203.0.113.9", T0 + 100000, &ts), 0);
	assert_true(throttle_exceeded(&f->svc.cfg, &ts));
	/* the window slides: an hour after the first failures they no longer count */
	assert_int_equal(throttle_count(st, "acme", "alice", "203.0.113.9",
					T0 + THROTTLE_WINDOW_MS + 50500, &ts),
			 0);
	assert_int_equal(ts.account_failures, 49);
	assert_false(throttle_exceeded(&f->svc.cfg, &ts));
	/* the per-source limit on its own */
	f->svc.cfg.auth_max_failures_per_source_hour = 99;
	assert_int_equal(throttle_count(st, "acme", "carol", "198.51.100.1", T0 + 100000, &ts), 0);
	assert_true(throttle_exceeded(&f->svc.cfg, &ts));
	/* a success clears the account */
	assert_int_equal(st->ops->auth->login_failure_delete_account(st, "acme", "alice"), 0);
	assert_int_equal(throttle_count(st, "acme", "alice", "203.0.113.9", T0 + 100000, &ts), 0);
	assert_int_equal(ts.account_failures, 0);
}

static void test_throttle_delay(void **state)
{
	struct config cfg;
	struct throttle_state ts = {0, 0};
	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.auth_throttle_base_ms = 250;
	cfg.auth_throttle_max_ms = 30000;
	assert_int_equal(throttle_delay_ms(&cfg, &ts), 0);
	ts.account_failures = 1;
	assert_int_equal(throttle_delay_ms(&cfg, &ts), 250);
	ts.account_failures = 2;
	assert_int_equal(throttle_delay_ms(&cfg, &ts), 500);
	ts.account_failures = 7;
	assert_int_equal(throttle_delay_ms(&cfg, &ts), 16000);
	ts.account_failures = 8;
	assert_int_equal(throttle_delay_ms(&cfg, &ts), 30000);
	ts.account_failures = 100000;
	assert_int_equal(throttle_delay_ms(&cfg, &ts), 30000);
	ts.account_failures = 1;
	ts.source_failures = 3;
	assert_int_equal(throttle_delay_ms(&cfg, &ts), 1000);
}

/* ---- login ---- */

static void test_login_success_and_generic_failures(void **state)
{
	struct fixture *f = *state;
	struct login_result res;
	struct principal p;

	assert_int_equal(fx_login(f, "acme", "alice", ALICE_PW, NULL, T0, &res), 0);
	assert_string_equal(res.session.username, "alice");
	assert_string_equal(res.session.tenant, "acme");
	assert_string_equal(res.session.role, "admin");
	assert_int_equal(res.session.expires_at, T0 + 12LL * 3600 * 1000);
	assert_int_equal(res.totp_enrolment_required, 0);
	assert_int_equal(auth_resolve_at(&f->svc, res.token, NULL, T0 + 10, &p), 0);
	assert_string_equal(p.name, "alice");

	/* wrong password, unknown user, unknown tenant: one answer */
	assert_int_equal(fx_login(f, "acme", "alice", "wrong-password-here", NULL, T0, &res),
			 IV_ERR_UNAUTHENTICATED);
	assert_string_equal(res.reason, "bad_credentials");
	assert_int_equal(fx_login(f, "acme", "mallory", ALICE_PW, NULL, T0, &res),
			 IV_ERR_UNAUTHENTICATED);
	assert_string_equal(res.reason, "unknown_account");
	assert_int_equal(fx_login(f, "nosuch", "alice", ALICE_PW, NULL, T0, &res),
			 IV_ERR_UNAUTHENTICATED);
	assert_int_equal(res.token[0], '\0');

	/* every attempt is audited with its source address */
	{
		struct audit_count c = {"session.login", "failure", NULL, 0, 0};
		assert_int_equal(fx_st(f)->ops->audit_iterate(fx_st(f), 1, fx_count_cb, &c), 0);
		assert_int_equal(c.n, 3);
		assert_int_equal(c.with_source, 3);
	}
	assert_int_equal(fx_audit_count(f, "session.login", "success", NULL), 1);
	assert_int_equal(fx_audit_count(f, "session.login", "failure", "bad_credentials"), 1);
	assert_int_equal(fx_audit_count(f, "session.login", "failure", "unknown_account"), 2);
}

static void test_login_lockout_unlock_and_window(void **state)
{
	struct fixture *f = *state;
	struct login_result res;
	int64_t uid = fx_user_id(f, f->tenant_id, "alice");

	f->svc.cfg.auth_max_failures_per_account_hour = 3;
	for (int i = 0; i < 3; i++)
		assert_int_equal(fx_login(f, "acme", "alice", "guess-number-one-x", NULL, T0 + i, &res),
				 IV_ERR_UNAUTHENTICATED);
	/* locked: even the right password is not tried */
	assert_int_equal(fx_login(f, "acme", "alice", ALICE_PW, NULL, T0 + 10, &res),
			 IV_ERR_THROTTLED);
	assert_string_equal(res.reason, "throttled");
	assert_int_equal(fx_audit_count(f, "session.login", "failure", "throttled"), 1);
	/* unknown accounts lock the same way: nothing tells them apart */
	for (int i = 0; i < 3; i++)
		assert_int_equal(fx_login(f, "acme", "ghost", "guess-number-one-x", NULL, T0 + i, &res),
				 IV_ERR_UNAUTHENTICATED);
	assert_int_equal(fx_login(f, "acme", "ghost", ALICE_PW, NULL, T0 + 10, &res),
			 IV_ERR_THROTTLED);

	/* an admin unlocks the account */
	assert_int_equal(user_unlock(f->svc.v, &test_actor, f->tenant_id, uid), 0);
	assert_int_equal(fx_audit_count(f, "user.unlock", "success", NULL), 1);
	assert_int_equal(fx_login(f, "acme", "alice", ALICE_PW, NULL, T0 + 20, &res), 0);

	/* or the hour passes; a success resets the counter */
	for (int i = 0; i < 3; i++)
		assert_int_equal(fx_login(f, "acme", "alice", "guess-number-two-x", NULL, T0 + 30 + i,
					  &res),
				 IV_ERR_UNAUTHENTICATED);
	assert_int_equal(fx_login(f, "acme", "alice", ALICE_PW, NULL, T0 + 40, &res),
			 IV_ERR_THROTTLED);
	assert_int_equal(fx_login(f, "acme", "alice", ALICE_PW, NULL, T0 + 40 + THROTTLE_WINDOW_MS,
				  &res),
			 0);
	assert_int_equal(fx_login(f, "acme", "alice", "guess-number-three", NULL,
				  T0 + 50 + THROTTLE_WINDOW_MS, &res),
			 IV_ERR_UNAUTHENTICATED);
	assert_int_equal(fx_login(f, "acme", "alice", ALICE_PW, NULL, T0 + 60 + THROTTLE_WINDOW_MS,
				  &res),
			 0);
}

static void test_login_upgrades_weak_hash(void **state)
{
	struct fixture *f = *state;
	struct login_result res;
	struct user_state u;
	char weak[crypto_pwhash_STRBYTES];

	assert_int_equal(crypto_pwhash_str_alg(weak, BOB_PW, strlen(BOB_PW), 1, 8u << 20,
					       crypto_pwhash_ALG_ARGON2ID13),
			 0);
	assert_true(password_needs_rehash(weak));
	assert_int_equal(user_create_hashed(f->svc.v, &test_actor, f->tenant_id, "bob", "viewer",
					    weak, NULL),
			 0);
	assert_int_equal(fx_login(f, "acme", "bob", BOB_PW, NULL, T0, &res), 0);
	assert_int_equal(fx_st(f)->ops->auth->user_find(fx_st(f), f->tenant_id, "bob", &u), 0);
	assert_string_not_equal(u.rec.password_hash, weak);
	assert_false(password_needs_rehash(u.rec.password_hash));
	assert_non_null(strstr(u.rec.password_hash, "m=19456,t=2"));
	assert_int_equal(fx_login(f, "acme", "bob", BOB_PW, NULL, T0 + 1, &res), 0);
}

static void test_disabled_user(void **state)
{
	struct fixture *f = *state;
	struct login_result res;
	struct principal p;
	struct user_state u;
	int64_t bob;

	assert_int_equal(user_create(f->svc.v, &test_actor, f->tenant_id, "bob", "operator", BOB_PW,
				     strlen(BOB_PW)),
			 0);
	bob = fx_user_id(f, f->tenant_id, "bob");
	assert_int_equal(fx_login(f, "acme", "bob", BOB_PW, NULL, T0, &res), 0);
	assert_int_equal(auth_resolve_at(&f->svc, res.token, NULL, T0 + 1, &p), 0);
	assert_int_equal(user_update(f->svc.v, &test_actor, f->tenant_id, bob, NULL, 1, &u), 0);
	assert_true(u.disabled);
	/* disabling ends the session at once and refuses logins */
	assert_int_equal(auth_resolve_at(&f->svc, res.token, NULL, T0 + 2, &p),
			 IV_ERR_UNAUTHENTICATED);
	assert_int_equal(fx_login(f, "acme", "bob", BOB_PW, NULL, T0 + 3, &res),
			 IV_ERR_UNAUTHENTICATED);
	assert_string_equal(res.reason, "disabled");
	assert_int_equal(user_update(f->svc.v, &test_actor, f->tenant_id, bob, NULL, 0, &u), 0);
	assert_int_equal(fx_login(f, "acme", "bob", BOB_PW, NULL, T0 + 4, &res), 0);
	/* role changes take effect on the next request */
	assert_int_equal(user_update(f->svc.v, &test_actor, f->tenant_id, bob, "auditor", -1, &u), 0);
	assert_int_equal(auth_resolve_at(&f->svc, res.token, NULL, T0 + 5, &p), 0);
	assert_int_equal(p.role_bit, ROLE_AUDITOR);
	assert_int_equal(fx_audit_count(f, "user.update", "success", NULL), 3);
}

/* ---- user administration ---- */

static void test_last_admin_protected(void **state)
{
	struct fixture *f = *state;
	struct user_state u;
	int64_t alice = fx_user_id(f, f->tenant_id, "alice"), bob;

	assert_int_equal(user_update(f->svc.v, &test_actor, f->tenant_id, alice, "operator", -1, &u),
			 IV_ERR_REFUSED);
	assert_int_equal(user_update(f->svc.v, &test_actor, f->tenant_id, alice, NULL, 1, &u),
			 IV_ERR_REFUSED);
	assert_int_equal(user_delete(f->svc.v, &test_actor, f->tenant_id, alice), IV_ERR_REFUSED);
	/* other tenants' users do not exist here */
	assert_int_equal(user_update(f->svc.v, &test_actor, f->other_tenant_id, alice, "viewer", -1,
				     &u),
			 IV_ERR_NOT_FOUND);
	assert_int_equal(user_delete(f->svc.v, &test_actor, f->other_tenant_id, alice),
			 IV_ERR_NOT_FOUND);
	assert_int_equal(user_unlock(f->svc.v, &test_actor, f->other_tenant_id, alice),
			 IV_ERR_NOT_FOUND);
	/* with a second admin, the first may step down */
	assert_int_equal(user_create(f->svc.v, &test_actor, f->tenant_id, "bob", "admin", BOB_PW,
				     strlen(BOB_PW)),
			 0);
	bob = fx_user_id(f, f->tenant_id, "bob");
	assert_int_equal(user_update(f->svc.v, &test_actor, f->tenant_id, alice, "viewer", -1, &u), 0);
	assert_string_equal(u.rec.role, "viewer");
	assert_int_equal(user_delete(f->svc.v, &test_actor, f->tenant_id, bob), IV_ERR_REFUSED);
	assert_int_equal(user_delete(f->svc.v, &test_actor, f->tenant_id, alice), 0);
	assert_int_equal(fx_st(f)->ops->auth->user_get_by_id(fx_st(f), f->tenant_id, alice, &u),
			 IV_ERR_NOT_FOUND);
	assert_int_equal(fx_audit_count(f, "user.delete", "success", NULL), 1);
	assert_int_equal(user_create_hashed(f->svc.v, &test_actor, f->tenant_id, "bob", "viewer",
					    "x", NULL),
			 IV_ERR_EXISTS);
}

static void test_password_change_ends_other_sessions(void **state)
{
	struct fixture *f = *state;
	struct login_result one, two;
	struct principal p;
	char key[APIKEY_TEXT_MAX];
	const char *reason = NULL;
	const char *new_pw = "saffron-glacier-piano-33";
	int64_t kid;

	assert_int_equal(fx_login(f, "acme", "alice", ALICE_PW, NULL, T0, &one), 0);
	assert_int_equal(fx_login(f, "acme", "alice", ALICE_PW, NULL, T0 + 1, &two), 0);
	assert_int_equal(apikey_create(f->svc.v, &test_actor, f->tenant_id, "ci", "viewer", T0, key,
				       &kid),
			 0);
	assert_int_equal(auth_resolve_at(&f->svc, one.token, NULL, T0 + 2, &p), 0);

	/* policy first, then the current password */
	assert_int_equal(auth_change_password(&f->svc, &p, "192.0.2.7", ALICE_PW, strlen(ALICE_PW),
					      "password", 8, T0 + 3, &reason),
			 IV_ERR_WEAK_PASSWORD);
	assert_non_null(reason);
	assert_int_equal(auth_change_password(&f->svc, &p, "192.0.2.7", "not-the-password-x", 18,
					      new_pw, strlen(new_pw), T0 + 3, &reason),
			 IV_ERR_FORBIDDEN);
	assert_int_equal(auth_change_password(&f->svc, &p, "192.0.2.7", ALICE_PW, strlen(ALICE_PW),
					      new_pw, strlen(new_pw), T0 + 4, &reason),
			 0);
	/* this session lives on, the other one is over, the API key is untouched */
	assert_int_equal(auth_resolve_at(&f->svc, one.token, NULL, T0 + 5, &p), 0);
	assert_int_equal(auth_resolve_at(&f->svc, two.token, NULL, T0 + 5, &p),
			 IV_ERR_UNAUTHENTICATED);
	assert_int_equal(auth_resolve_at(&f->svc, NULL, key, T0 + 5, &p), 0);
	assert_int_equal(fx_login(f, "acme", "alice", ALICE_PW, NULL, T0 + 6, &two),
			 IV_ERR_UNAUTHENTICATED);
	assert_int_equal(fx_login(f, "acme", "alice", new_pw, NULL, T0 + 7, &two), 0);
	assert_int_equal(fx_audit_count(f, "user.password_change", "success", NULL), 1);
	assert_int_equal(fx_audit_count(f, "user.password_change", "failure", "bad_credentials"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_policy_rules, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_policy_list_required, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_session_token_stored_hashed, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_session_idle_timeout, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_session_absolute_timeout, fx_setup, fx_teardown),
		cmocka_unit_test(test_session_cookie),
		cmocka_unit_test_setup_teardown(test_resolve_session, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_apikey_lifecycle, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_throttle_hourly_limit, fx_setup, fx_teardown),
		cmocka_unit_test(test_throttle_delay),
		cmocka_unit_test_setup_teardown(test_login_success_and_generic_failures, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_login_lockout_unlock_and_window, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_login_upgrades_weak_hash, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_disabled_user, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_last_admin_protected, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_password_change_ends_other_sessions, fx_setup,
						fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
