/* Shared fixture of the auth unit tests: a throwaway data directory with a
 * SQLite store, a file-provider vault, a small common-password list, a
 * service around them, and tenant "acme" with admin "alice". */
#ifndef IOTVAULT_TEST_AUTH_FIXTURE_H
#define IOTVAULT_TEST_AUTH_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotvault/audit.h"
#include "iotvault/auth.h"
#include "iotvault/crypto.h"
#include "iotvault/http.h"
#include "iotvault/mkprov.h"
#include "iotvault/secmem.h"
#include "iotvault/store.h"
#include "iotvault/store_auth.h"
#include "iotvault/vault.h"

static const struct audit_actor test_actor = {"system", "unit-test", "local"};

/* Not real credentials: throwaway values for a temporary database. */
#define ALICE_PW "violet-anchor-meadow-71"
#define BOB_PW "copper-lantern-orbit-29"
#define T0 1700000000000LL /* a fixed "now", ms */

struct fixture {
	char dir[64];
	struct service svc;
	int64_t tenant_id;
	int64_t other_tenant_id;
};

static __attribute__((unused)) void fx_rm_rf(const char *dir)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* A list file of common passwords; the real one comes from the build. */
static __attribute__((unused)) void fx_write_list(const char *path, int extra)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("123456\npassword\ncorrecthorsebatterystaple\nqwertyuiopasdfgh\n", f);
	for (int i = 0; i < extra; i++)
		fprintf(f, "filler-entry-%05d\n", i);
	fclose(f);
}

static __attribute__((unused)) int fx_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct mk_provider *prov = NULL;
	char path[160];

	assert_non_null(f);
	assert_int_equal(secmem_init(), 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/iotvault-test-auth-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(config_defaults(&f->svc.cfg, f->dir), 0);
	f->svc.cfg.kdf_opslimit = 1;
	f->svc.cfg.kdf_memlimit = 8u * 1024u * 1024u;
	f->svc.cfg.auth_throttle_base_ms = 0; /* the delay is tested by its formula */
	snprintf(path, sizeof(path), "%s/common-passwords.txt", f->dir);
	fx_write_list(path, COMMON_PASSWORDS_MIN);
	free(f->svc.cfg.auth_common_passwords);
	f->svc.cfg.auth_common_passwords = strdup("common-passwords.txt"); /* relative: data dir */
	snprintf(path, sizeof(path), "%s/iotvault.db", f->dir);
	assert_int_equal(store_sqlite_open(path, 1, 5000, &f->svc.st), 0);
	assert_int_equal(mk_provider_new(&f->svc.cfg, 0, &prov), 0);
	assert_int_equal(vault_create(&f->svc.cfg, f->svc.st, prov, &test_actor, &f->svc.v), 0);
	assert_int_equal(pthread_mutex_init(&f->svc.lock, NULL), 0);
	assert_int_equal(auth_service_init(&f->svc), 0);
	assert_int_equal(tenant_create(f->svc.v, &test_actor, "acme", &f->tenant_id), 0);
	assert_int_equal(tenant_create(f->svc.v, &test_actor, "globex", &f->other_tenant_id), 0);
	assert_int_equal(user_create(f->svc.v, &test_actor, f->tenant_id, "alice", "admin", ALICE_PW,
				     strlen(ALICE_PW)),
			 0);
	*state = f;
	return 0;
}

static __attribute__((unused)) int fx_teardown(void **state)
{
	struct fixture *f = *state;
	auth_service_free(&f->svc);
	vault_free(f->svc.v);
	store_close(f->svc.st);
	pthread_mutex_destroy(&f->svc.lock);
	fx_rm_rf(f->dir);
	config_free(&f->svc.cfg);
	free(f);
	return 0;
}

static __attribute__((unused)) struct store *fx_st(struct fixture *f) { return f->svc.st; }

static __attribute__((unused)) int64_t fx_user_id(struct fixture *f, int64_t tenant_id, const char *name)
{
	struct user_state u;
	assert_int_equal(fx_st(f)->ops->auth->user_find(fx_st(f), tenant_id, name, &u), 0);
	return u.rec.id;
}

static __attribute__((unused)) int fx_login(struct fixture *f, const char *tenant, const char *user, const char *pw,
		    const char *totp, int64_t now, struct login_result *res)
{
	struct login_request in = {tenant, user, pw, strlen(pw), totp, "192.0.2.7"};
	return auth_login(&f->svc, &in, now, res);
}

struct audit_count {
	const char *action;
	const char *outcome;
	const char *detail; /* NULL: any */
	int n;
	int with_source;
};

static __attribute__((unused)) int fx_count_cb(void *ctx, const struct audit_record *a)
{
	struct audit_count *c = ctx;
	if (strcmp(a->action, c->action) == 0 && strcmp(a->outcome, c->outcome) == 0 &&
	    (c->detail == NULL || strcmp(a->detail, c->detail) == 0)) {
		c->n++;
		c->with_source += strcmp(a->source, "192.0.2.7") == 0;
	}
	return 0;
}

static __attribute__((unused)) int fx_audit_count(struct fixture *f, const char *action, const char *outcome,
			  const char *detail)
{
	struct audit_count c = {action, outcome, detail, 0, 0};
	assert_int_equal(fx_st(f)->ops->audit_iterate(fx_st(f), 1, fx_count_cb, &c), 0);
	return c.n;
}

#endif
