/* Key hygiene on writes: fingerprints stored with every sealed device key,
 * duplicate counts within and across tenants, the reject/flag/regenerate
 * policies of device creation, fingerprint key creation for old data
 * directories and its rotation, on a real SQLite file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iotvault/audit.h"
#include "iotvault/crypto.h"
#include "iotvault/device.h"
#include "iotvault/hex.h"
#include "iotvault/keycheck.h"
#include "iotvault/mkprov.h"
#include "iotvault/secmem.h"
#include "iotvault/store.h"
#include "iotvault/store_hygiene.h"
#include "iotvault/vault.h"
#include "iotvault/vault_hygiene.h"

static const struct audit_actor actor = {"system", "unit-test", "local"};
/* the FIPS-197 / RFC 4493 example key: published, flagged by the dictionary */
static const uint8_t fips_key[16] = {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
				     0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c};

struct fixture {
	char dir[64];
	char db[128];
	struct config cfg;
	struct store *st;
	struct vault *v;
	int64_t tenant_a, tenant_b;
};

static int open_vault(struct fixture *f, int create)
{
	struct mk_provider *prov = NULL;
	int r = mk_provider_new(&f->cfg, 0, &prov);
	if (r != 0)
		return r;
	return create ? vault_create(&f->cfg, f->st, prov, &actor, &f->v)
		      : vault_open(&f->cfg, f->st, prov, &f->v);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(secmem_init(), 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/iotvault-test-keycheck-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(config_defaults(&f->cfg, f->dir), 0);
	f->cfg.mk_provider = MK_PROVIDER_FILE;
	f->cfg.rotation_batch_size = 2;
	snprintf(f->db, sizeof(f->db), "%s/iotvault.db", f->dir);
	assert_int_equal(store_sqlite_open(f->db, 1, 5000, &f->st), 0);
	assert_int_equal(open_vault(f, 1), 0);
	assert_int_equal(f->st->ops->tenant_create(f->st, "a", &f->tenant_a), 0);
	assert_int_equal(f->st->ops->tenant_create(f->st, "b", &f->tenant_b), 0);
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

/* Creates a LoRaWAN 1.0.3 device with KEY under POLICY. */
static int add_device(struct fixture *f, int64_t tenant, const char *dev_eui, const uint8_t *key,
		      enum key_policy policy, struct device_record *out,
		      struct device_key_report *report)
{
	struct device_input in = {0};
	char err[256] = "";
	int r;
	in.kind = "lorawan";
	in.dev_eui = dev_eui;
	in.join_eui = "70B3D57ED0000000";
	in.app_key = secbuf_dup(key, 16);
	in.key_policy = policy;
	assert_non_null(in.app_key);
	r = device_create_checked(f->v, &actor, tenant, &in, out, report, err, sizeof(err));
	/* the error names fields and rules, never the key */
	assert_null(strstr(err, "2B7E1516"));
	secbuf_free(in.app_key);
	return r;
}

/* One text column of the first row of SQL (with ?1 = ID), via a separate connection. */
static int db_text(struct fixture *f, const char *sql, int64_t id, char *out, size_t cap)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int found = -1;
	assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	sqlite3_bind_int64(q, 1, id);
	if (sqlite3_step(q) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(q, 0);
		snprintf(out, cap, "%s", t ? (const char *)t : "");
		found = t != NULL;
	}
	sqlite3_finalize(q);
	sqlite3_close(db);
	return found;
}

static void db_exec(struct fixture *f, const char *sql)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void random_key(uint8_t key[16]) { random_bytes(key, 16); }

static void test_policy_names(void **state)
{
	enum key_policy p;
	(void)state;
	assert_int_equal(key_policy_parse("reject", &p), 0);
	assert_int_equal(p, KEY_POLICY_REJECT);
	assert_int_equal(key_policy_parse("flag", &p), 0);
	assert_int_equal(p, KEY_POLICY_FLAG);
	assert_int_equal(key_policy_parse("regenerate", &p), 0);
	assert_int_equal(p, KEY_POLICY_REGENERATE);
	assert_int_equal(key_policy_parse("Reject", &p), IV_ERR_INVALID);
	assert_int_equal(key_policy_parse(NULL, &p), IV_ERR_INVALID);
	assert_string_equal(key_policy_name(KEY_POLICY_REGENERATE), "regenerate");
}

static void test_fingerprint_stored_on_seal(void **state)
{
	struct fixture *f = *state;
	struct device_record dev;
	uint8_t key[16];
	char fp[HYGIENE_FP_HEX_LEN + 1], stored[128], keyhex[33];

	random_key(key);
	assert_int_equal(add_device(f, f->tenant_a, "70B3D57ED0000001", key, KEY_POLICY_REJECT, &dev,
				    NULL),
			 0);
	assert_int_equal(vault_fingerprint_hex(f->v, "app_key", key, 16, fp), 0);
	assert_int_equal(db_text(f, "SELECT fingerprint FROM secrets WHERE owner_kind = 'device' "
				    "AND owner_id = ?1 AND field = 'app_key'",
				 dev.id, stored, sizeof(stored)),
			 1);
	assert_string_equal(stored, fp);
	hex_encode_upper(key, 16, keyhex);
	assert_null(strstr(stored, keyhex));
	/* the class makes an AppKey and a PSK with the same bytes the same fingerprint */
	assert_int_equal(vault_fingerprint_hex(f->v, "psk", key, 16, stored), 0);
	assert_string_equal(stored, fp);
	/* secrets that are not device keys carry none */
	assert_int_equal(db_text(f, "SELECT fingerprint FROM secrets WHERE owner_kind = 'system' "
				    "AND field = 'audit_key' AND ?1 = ?1",
				 0, stored, sizeof(stored)),
			 0);
	assert_int_equal(db_text(f, "SELECT fingerprint FROM secrets WHERE owner_kind = 'system' "
				    "AND field = 'fingerprint_key' AND ?1 = ?1",
				 0, stored, sizeof(stored)),
			 0);
	secmem_wipe(key, sizeof(key));
}

static void test_duplicates_same_and_other_tenant(void **state)
{
	struct fixture *f = *state;
	struct device_record d1, d2, d3, probe;
	struct device_key_report report;
	struct key_verdict vd;
	uint8_t key[16];

	random_key(key);
	assert_int_equal(add_device(f, f->tenant_a, "70B3D57ED0000011", key, KEY_POLICY_REJECT, &d1,
				    NULL),
			 0);
	/* the same key again in the tenant: refused, named as a duplicate */
	assert_int_equal(add_device(f, f->tenant_a, "70B3D57ED0000012", key, KEY_POLICY_REJECT, &d2,
				    &report),
			 IV_ERR_WEAK_KEY);
	assert_int_equal(report.n, 1);
	assert_string_equal(report.items[0].rule, KEYCHECK_RULE_DUP_SAME_TENANT);
	assert_string_equal(report.items[0].field, "app_key");
	/* in another tenant: refused too, as a count of devices elsewhere */
	assert_int_equal(add_device(f, f->tenant_b, "70B3D57ED0000013", key, KEY_POLICY_REJECT, &d3,
				    &report),
			 IV_ERR_WEAK_KEY);
	assert_int_equal(report.n, 1);
	assert_string_equal(report.items[0].rule, KEYCHECK_RULE_DUP_OTHER_TENANT);
	assert_non_null(strstr(report.items[0].message, "1 device(s) in other tenants"));
	assert_int_equal(add_device(f, f->tenant_b, "70B3D57ED0000013", key, KEY_POLICY_FLAG, &d3,
				    NULL),
			 0);
	assert_int_equal(add_device(f, f->tenant_a, "70B3D57ED0000012", key, KEY_POLICY_FLAG, &d2,
				    NULL),
			 0);

	/* seen from d1: one other device in its tenant, one in another */
	assert_int_equal(keycheck_evaluate(f->v, &d1, "app_key", key, 16, &vd), 0);
	assert_int_equal(vd.nfindings, 0);
	assert_int_equal(vd.same_tenant_devices, 1);
	assert_int_equal(vd.other_tenant_devices, 1);
	assert_true(keycheck_is_bad(&vd));
	/* seen from tenant b's device: the two of tenant a are only a count */
	assert_int_equal(keycheck_evaluate(f->v, &d3, "app_key", key, 16, &vd), 0);
	assert_int_equal(vd.same_tenant_devices, 0);
	assert_int_equal(vd.other_tenant_devices, 2);
	/* a new device (id 0) in tenant a */
	memset(&probe, 0, sizeof(probe));
	probe.tenant_id = f->tenant_a;
	snprintf(probe.kind, sizeof(probe.kind), "lorawan");
	assert_int_equal(keycheck_evaluate(f->v, &probe, "app_key", key, 16, &vd), 0);
	assert_int_equal(vd.same_tenant_devices, 2);
	assert_int_equal(vd.other_tenant_devices, 1);
	/* a fresh random key: nothing */
	random_key(key);
	assert_int_equal(keycheck_evaluate(f->v, &d1, "app_key", key, 16, &vd), 0);
	assert_false(keycheck_is_bad(&vd));
	secmem_wipe(key, sizeof(key));
}

static int count_findings(void *ctx, const struct device_finding *fd)
{
	int *n = ctx;
	assert_null(strstr(fd->detail, "2B7E1516"));
	(*n)++;
	return 0;
}

static void test_policies(void **state)
{
	struct fixture *f = *state;
	struct device_record dev;
	struct device_key_report report;
	struct device_selector sel = {0};
	struct secret_ref ref;
	struct secbuf *stored = NULL;
	struct key_verdict vd;
	int needs = -1, nf = 0;

	/* reject (the default): nothing stored */
	assert_int_equal(add_device(f, f->tenant_a, "70B3D57ED0000021", fips_key, KEY_POLICY_REJECT,
				    &dev, &report),
			 IV_ERR_WEAK_KEY);
	assert_true(report.n >= 1);
	assert_string_equal(report.items[0].rule, "dictionary.fips197_example");
	sel.dev_eui = "70B3D57ED0000021";
	assert_int_equal(f->st->ops->device_get(f->st, f->tenant_a, &sel, &dev), IV_ERR_NOT_FOUND);

	/* flag: stored as given, findings recorded */
	assert_int_equal(add_device(f, f->tenant_a, "70B3D57ED0000021", fips_key, KEY_POLICY_FLAG,
				    &dev, &report),
			 0);
	assert_int_equal(report.regenerated, 0);
	assert_int_equal(f->st->ops->hygiene->finding_list(f->st, dev.id, count_findings, &nf), 0);
	assert_true(nf >= 1);
	assert_int_equal(f->st->ops->hygiene->device_get_needs_provisioning(f->st, f->tenant_a,
									    dev.id, &needs),
			 0);
	assert_int_equal(needs, 0);
	ref = (struct secret_ref){f->tenant_a, "device", dev.id, "app_key"};
	assert_int_equal(vault_reveal(f->v, &actor, &ref, &stored), 0);
	assert_int_equal(secmem_equal(stored->data, fips_key, 16), 0);
	secbuf_free(stored);

	/* regenerate: a generated key, never weak, and needs provisioning */
	assert_int_equal(add_device(f, f->tenant_a, "70B3D57ED0000022", fips_key,
				    KEY_POLICY_REGENERATE, &dev, &report),
			 0);
	assert_int_equal(report.regenerated, 1);
	assert_int_equal(report.needs_provisioning, 1);
	assert_int_equal(f->st->ops->hygiene->device_get_needs_provisioning(f->st, f->tenant_a,
									    dev.id, &needs),
			 0);
	assert_int_equal(needs, 1);
	ref = (struct secret_ref){f->tenant_a, "device", dev.id, "app_key"};
	assert_int_equal(vault_reveal(f->v, &actor, &ref, &stored), 0);
	assert_int_not_equal(secmem_equal(stored->data, fips_key, 16), 0);
	assert_int_equal(keycheck_evaluate(f->v, &dev, "app_key", stored->data, stored->len, &vd), 0);
	assert_false(keycheck_is_bad(&vd));
	secbuf_free(stored);
}

static void test_same_device_reuse(void **state)
{
	struct fixture *f = *state;
	struct device_input in = {0};
	struct device_record dev;
	struct device_key_report report;
	uint8_t key[16];
	char err[256];

	random_key(key);
	in.kind = "lorawan";
	in.dev_eui = "70B3D57ED0000031";
	in.join_eui = "70B3D57ED0000000";
	in.mac_version = "1.1";
	in.app_key = secbuf_dup(key, 16);
	in.nwk_key = secbuf_dup(key, 16);
	assert_int_equal(device_create_checked(f->v, &actor, f->tenant_a, &in, &dev, &report, err,
					       sizeof(err)),
			 IV_ERR_WEAK_KEY);
	assert_string_equal(report.items[0].field, "nwk_key");
	assert_string_equal(report.items[0].rule, KEYCHECK_RULE_DUP_SAME_DEVICE);
	secbuf_free(in.app_key);
	secbuf_free(in.nwk_key);
	secmem_wipe(key, sizeof(key));
}

static void test_rotation_keeps_duplicates(void **state)
{
	struct fixture *f = *state;
	struct device_record d[5];
	struct fp_rotation_progress res;
	struct key_verdict vd;
	uint8_t key[16], other[16];
	char eui[17], before[128], after[128];

	random_key(key);
	for (int i = 0; i < 5; i++) {
		snprintf(eui, sizeof(eui), "70B3D57ED00000%02u", (unsigned)(40 + i) % 100u);
		if (i < 3)
			assert_int_equal(add_device(f, i == 2 ? f->tenant_b : f->tenant_a, eui, key,
						    KEY_POLICY_FLAG, &d[i], NULL),
					 0);
		else {
			random_key(other);
			assert_int_equal(add_device(f, f->tenant_a, eui, other, KEY_POLICY_REJECT,
						    &d[i], NULL),
					 0);
		}
	}
	assert_int_equal(db_text(f, "SELECT fingerprint FROM secrets WHERE owner_id = ?1", d[0].id,
				 before, sizeof(before)),
			 1);
	/* batches of 2 over 5 keys */
	assert_int_equal(vault_fingerprint_rotate(f->v, &actor, NULL, NULL, &res), 0);
	assert_int_equal(res.version, 2);
	assert_int_equal(res.recomputed, 5);
	assert_int_equal(res.resumed, 0);
	assert_int_equal(db_text(f, "SELECT fingerprint FROM secrets WHERE owner_id = ?1", d[0].id,
				 after, sizeof(after)),
			 1);
	assert_string_not_equal(before, after);
	assert_int_equal(keycheck_evaluate(f->v, &d[0], "app_key", key, 16, &vd), 0);
	assert_int_equal(vd.same_tenant_devices, 1);
	assert_int_equal(vd.other_tenant_devices, 1);
	assert_string_equal(vd.fingerprint, after);
	/* a second process that still holds the old key notices the new one */
	vault_free(f->v);
	f->v = NULL;
	assert_int_equal(open_vault(f, 0), 0);
	assert_int_equal(keycheck_evaluate(f->v, &d[1], "app_key", key, 16, &vd), 0);
	assert_int_equal(vd.same_tenant_devices, 1);
	secmem_wipe(key, sizeof(key));
	secmem_wipe(other, sizeof(other));
}

static int count_action(void *ctx, const struct audit_record *a)
{
	int *n = ctx;
	if (strcmp(a->action, "vault.fingerprint_key.create") == 0)
		(*n)++;
	return 0;
}

/* A data directory from before fingerprints: no key, no fingerprints. */
static void test_old_data_directory(void **state)
{
	struct fixture *f = *state;
	struct device_record d1, d2;
	struct key_verdict vd;
	uint8_t key[16];
	char fp[128];
	int created = 0;

	random_key(key);
	assert_int_equal(add_device(f, f->tenant_a, "70B3D57ED0000051", key, KEY_POLICY_FLAG, &d1,
				    NULL),
			 0);
	assert_int_equal(add_device(f, f->tenant_b, "70B3D57ED0000052", key, KEY_POLICY_FLAG, &d2,
				    NULL),
			 0);
	vault_free(f->v);
	f->v = NULL;
	db_exec(f, "UPDATE secrets SET fingerprint = NULL, fp_version = 0 WHERE owner_kind = "
		   "'device'; DELETE FROM secrets WHERE field = 'fingerprint_key'; "
		   "UPDATE hygiene_state SET fp_version = 0");
	assert_int_equal(open_vault(f, 0), 0);
	assert_int_equal(db_text(f, "SELECT fingerprint FROM secrets WHERE owner_id = ?1", d1.id, fp,
				 sizeof(fp)),
			 1);
	assert_int_equal(strlen(fp), HYGIENE_FP_HEX_LEN);
	assert_int_equal(keycheck_evaluate(f->v, &d1, "app_key", key, 16, &vd), 0);
	assert_int_equal(vd.other_tenant_devices, 1);
	assert_int_equal(f->st->ops->audit_iterate(f->st, 1, count_action, &created), 0);
	assert_int_equal(created, 1);
	secmem_wipe(key, sizeof(key));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_names),
		cmocka_unit_test_setup_teardown(test_fingerprint_stored_on_seal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates_same_and_other_tenant, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_device_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_keeps_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_data_directory, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
