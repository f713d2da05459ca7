/* Audit log unit tests: the chain verifies, and each way of tampering with
 * the stored records (modify, delete, reorder, insert, truncate, forge the
 * head) is reported with the first bad sequence number. Tampering goes
 * straight to the SQLite file, as an attacker with file access would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotvault/audit.h"
#include "iotvault/mkprov.h"
#include "iotvault/secmem.h"
#include "iotvault/store.h"
#include "iotvault/vault.h"

/* vault.init plus the records appended by setup */
#define APPENDED 8
#define RECORDS (APPENDED + 1)

struct fixture {
	char dir[64];
	char db[128];
	struct config cfg;
	struct store *st;
	struct vault *v;
};

static const struct audit_actor actor = {"user", "alice", "192.0.2.7"};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct mk_provider *prov = NULL;
	char object[32];

	assert_non_null(f);
	assert_int_equal(secmem_init(), 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/iotvault-test-audit-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/iotvault.db", f->dir);
	assert_int_equal(config_defaults(&f->cfg, f->dir), 0);
	assert_int_equal(store_sqlite_open(f->db, 1, 5000, &f->st), 0);
	assert_int_equal(mk_provider_new(&f->cfg, 0, &prov), 0);
	assert_int_equal(vault_create(&f->cfg, f->st, prov, &actor, &f->v), 0);
	for (int i = 1; i <= APPENDED; i++) {
		struct audit_event ev = {1, "key.reveal", object, "granted", NULL};
		snprintf(object, sizeof(object), "device:%d/app_key", i);
		assert_int_equal(audit_append_now(f->v, &actor, &ev), 0);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	vault_free(f->v);
	store_close(f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	config_free(&f->cfg);
	free(f);
	return 0;
}

/* Runs SQL on a separate connection, with the append-only triggers dropped
 * as an attacker would. */
static void tamper(struct fixture *f, const char *sql)
{
	sqlite3 *db = NULL;
	char *err = NULL;
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "DROP TRIGGER IF EXISTS audit_log_no_update;"
				      "DROP TRIGGER IF EXISTS audit_log_no_delete;",
				      NULL, NULL, &err),
			 SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("tamper SQL failed: %s", err);
	sqlite3_close(db);
}

static void expect_bad(struct fixture *f, int64_t seq)
{
	struct audit_verify_result res;
	assert_int_equal(audit_verify(f->v, &res), IV_ERR_AUDIT_CHAIN);
	assert_int_equal(res.first_bad, seq);
	assert_non_null(res.reason);
}

static void test_intact_chain_verifies(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	assert_int_equal(audit_verify(f->v, &res), 0);
	assert_int_equal(res.records, RECORDS);
	assert_int_equal(res.first_bad, 0);
}

static void test_append_only_triggers(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "UPDATE audit_log SET actor='bob'", NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM audit_log", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void test_modified_field(void **state)
{
	struct fixture *f = *state;
	tamper(f, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 4");
	expect_bad(f, 4);
}

static void test_modified_time(void **state)
{
	struct fixture *f = *state;
	tamper(f, "UPDATE audit_log SET ts_ms = ts_ms + 1 WHERE seq = 6");
	expect_bad(f, 6);
}

static void test_deleted_middle(void **state)
{
	struct fixture *f = *state;
	tamper(f, "DELETE FROM audit_log WHERE seq = 3");
	expect_bad(f, 3);
}

static void test_deleted_and_renumbered(void **state)
{
	struct fixture *f = *state;
	/* delete 3 and shift the rest down: the sequence is contiguous again */
	tamper(f, "DELETE FROM audit_log WHERE seq = 3; UPDATE audit_log SET seq = seq - 1 WHERE seq > 3");
	expect_bad(f, 3);
}

static void test_reordered(void **state)
{
	struct fixture *f = *state;
	tamper(f, "UPDATE audit_log SET seq = -5 WHERE seq = 5;"
		  "UPDATE audit_log SET seq = 5 WHERE seq = 6;"
		  "UPDATE audit_log SET seq = 6 WHERE seq = -5;");
	expect_bad(f, 5);
}

static void test_inserted(void **state)
{
	struct fixture *f = *state;
	/* a forged record copied from a real one, slotted in after 2 */
	tamper(f, "UPDATE audit_log SET seq = seq + 100 WHERE seq > 2;"
		  "UPDATE audit_log SET seq = seq - 99 WHERE seq > 100;"
		  "INSERT INTO audit_log SELECT 3, ts_ms, tenant_id, actor_type, 'mallory', source, "
		  "action, object, outcome, detail, mac FROM audit_log WHERE seq = 2;");
	expect_bad(f, 3);
}

static void test_truncated(void **state)
{
	struct fixture *f = *state;
	tamper(f, "DELETE FROM audit_log WHERE seq = 9");
	expect_bad(f, 9);
}

static void test_truncated_with_head_rewound(void **state)
{
	struct fixture *f = *state;
	/* the attacker also points the head at record 7: its MAC does not match */
	tamper(f, "DELETE FROM audit_log WHERE seq = 9;"
		  "UPDATE audit_head SET seq = 8, mac = (SELECT mac FROM audit_log WHERE seq = 8)");
	expect_bad(f, 9);
}

static void test_emptied(void **state)
{
	struct fixture *f = *state;
	tamper(f, "DELETE FROM audit_log; DELETE FROM audit_head;");
	expect_bad(f, 1);
}

static void test_new_records_after_verify(void **state)
{
	struct fixture *f = *state;
	struct audit_event ev = {0, "master.rotate", "master_key:v2", "started", "detail\nwith newline"};
	struct audit_verify_result res;
	assert_int_equal(audit_append_now(f->v, &actor, &ev), 0);
	assert_int_equal(audit_verify(f->v, &res), 0);
	assert_int_equal(res.records, RECORDS + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_intact_chain_verifies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_only_triggers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modified_field, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modified_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted_middle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted_and_renumbered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reordered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inserted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_with_head_rewound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_emptied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_records_after_verify, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
