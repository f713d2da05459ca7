/* Vault unit tests: envelope round trip, AAD binding (moved ciphertexts and
 * wrapped keys fail), the file and passphrase providers, rotation and
 * retirement, on a real SQLite file in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iotvault/audit.h"
#include "iotvault/crypto.h"
#include "iotvault/mkprov.h"
#include "iotvault/secmem.h"
#include "iotvault/store.h"
#include "iotvault/vault.h"

static const struct audit_actor actor = {"system", "unit-test", "local"};

struct fixture {
	char dir[64];
	struct config cfg;
	struct store *st;
	struct vault *v;
};

static void rm_rf(const char *dir)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static int open_vault(struct fixture *f, int create)
{
	struct mk_provider *prov = NULL;
	int r = mk_provider_new(&f->cfg, 0, &prov);
	if (r != 0)
		return r;
	return create ? vault_create(&f->cfg, f->st, prov, &actor, &f->v)
		      : vault_open(&f->cfg, f->st, prov, &f->v);
}

static int setup_with(void **state, enum mk_provider_kind kind)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[128];
	assert_non_null(f);
	assert_int_equal(secmem_init(), 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/iotvault-test-vault-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(config_defaults(&f->cfg, f->dir), 0);
	f->cfg.mk_provider = kind;
	f->cfg.rotation_batch_size = 3;
	/* the smallest Argon2id cost libsodium accepts keeps the test fast */
	f->cfg.kdf_opslimit = 1;
	f->cfg.kdf_memlimit = 8u * 1024u * 1024u;
	snprintf(path, sizeof(path), "%s/iotvault.db", f->dir);
	assert_int_equal(store_sqlite_open(path, 1, 5000, &f->st), 0);
	if (kind == MK_PROVIDER_PASSPHRASE)
		setenv("IOTVAULT_PASSPHRASE", "correct horse battery staple", 1);
	assert_int_equal(open_vault(f, 1), 0);
	*state = f;
	return 0;
}

static int setup_file(void **state) { return setup_with(state, MK_PROVIDER_FILE); }
static int setup_passphrase(void **state) { return setup_with(state, MK_PROVIDER_PASSPHRASE); }

static int teardown(void **state)
{
	struct fixture *f = *state;
	vault_free(f->v);
	store_close(f->st);
	rm_rf(f->dir);
	config_free(&f->cfg);
	free(f);
	return 0;
}

static void reopen(struct fixture *f)
{
	vault_free(f->v);
	f->v = NULL;
	if (f->cfg.mk_provider == MK_PROVIDER_PASSPHRASE)
		setenv("IOTVAULT_PASSPHRASE", "correct horse battery staple", 1);
	assert_int_equal(open_vault(f, 0), 0);
}

static const uint8_t key16[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
				  0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

static void test_envelope_round_trip(void **state)
{
	struct fixture *f = *state;
	struct secret_ref ref = {1, "device", 7, "app_key"};
	struct secret_record *rec = calloc(1, sizeof(*rec));
	struct secbuf *out = NULL;

	assert_int_equal(vault_envelope_seal(f->v, &ref, key16, sizeof(key16), rec), 0);
	assert_int_equal(rec->mk_version, 1);
	assert_int_equal(rec->ciphertext_len, 12 + 16 + 16);
	assert_int_equal(rec->wrapped_dek_len, WRAPPED_DEK_LEN);
	/* the ciphertext does not contain the plaintext */
	assert_null(memmem(rec->ciphertext, rec->ciphertext_len, key16, sizeof(key16)));
	assert_int_equal(vault_envelope_open(f->v, &ref, rec, &out), 0);
	assert_int_equal(out->len, sizeof(key16));
	assert_memory_equal(out->data, key16, sizeof(key16));
	secbuf_free(out);
	free(rec);
}

static void test_two_seals_differ(void **state)
{
	struct fixture *f = *state;
	struct secret_ref ref = {1, "device", 7, "app_key"};
	struct secret_record *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	assert_int_equal(vault_envelope_seal(f->v, &ref, key16, 16, a), 0);
	assert_int_equal(vault_envelope_seal(f->v, &ref, key16, 16, b), 0);
	/* fresh data key and nonce each time */
	assert_memory_not_equal(a->ciphertext, b->ciphertext, a->ciphertext_len);
	assert_memory_not_equal(a->wrapped_dek, b->wrapped_dek, a->wrapped_dek_len);
	free(a);
	free(b);
}

static void expect_open_fails(struct fixture *f, const struct secret_ref *ref,
			      const struct secret_record *rec)
{
	struct secbuf *out = NULL;
	assert_int_equal(vault_envelope_open(f->v, ref, rec, &out), IV_ERR_AUTH_TAG);
	assert_null(out);
}

static void test_aad_binds_every_field(void **state)
{
	struct fixture *f = *state;
	struct secret_ref ref = {1, "device", 7, "app_key"};
	struct secret_ref other_tenant = {2, "device", 7, "app_key"};
	struct secret_ref other_device = {1, "device", 8, "app_key"};
	struct secret_ref other_field = {1, "device", 7, "nwk_key"};
	struct secret_ref other_kind = {1, "system", 7, "app_key"};
	struct secret_record *rec = calloc(1, sizeof(*rec)), *copy = calloc(1, sizeof(*copy));

	assert_int_equal(vault_envelope_seal(f->v, &ref, key16, 16, rec), 0);
	expect_open_fails(f, &other_tenant, rec);
	expect_open_fails(f, &other_device, rec);
	expect_open_fails(f, &other_field, rec);
	expect_open_fails(f, &other_kind, rec);

	/* a flipped bit anywhere in the ciphertext or the wrapped key */
	for (size_t i = 0; i < rec->ciphertext_len; i++) {
		*copy = *rec;
		copy->ciphertext[i] ^= 0x01;
		expect_open_fails(f, &ref, copy);
	}
	for (size_t i = 0; i < rec->wrapped_dek_len; i++) {
		*copy = *rec;
		copy->wrapped_dek[i] ^= 0x80;
		expect_open_fails(f, &ref, copy);
	}
	/* an unknown format is refused, not guessed */
	*copy = *rec;
	copy->format = 2;
	expect_open_fails(f, &ref, copy);
	free(rec);
	free(copy);
}

static void test_wrapped_key_swap_fails(void **state)
{
	struct fixture *f = *state;
	struct secret_ref ra = {1, "device", 1, "app_key"}, rb = {1, "device", 2, "app_key"};
	struct secret_record *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	assert_int_equal(vault_envelope_seal(f->v, &ra, key16, 16, a), 0);
	assert_int_equal(vault_envelope_seal(f->v, &rb, key16, 16, b), 0);
	/* b's wrapped key under a's ciphertext: bound to b's identity, so refused */
	memcpy(a->wrapped_dek, b->wrapped_dek, WRAPPED_DEK_LEN);
	expect_open_fails(f, &ra, a);
	free(a);
	free(b);
}

static void test_stored_row_moved_fails(void **state)
{
	struct fixture *f = *state;
	struct secret_ref r1 = {1, "device", 1, "app_key"}, r2 = {1, "device", 2, "app_key"};
	struct secret_record *rec = calloc(1, sizeof(*rec));
	struct secbuf *out = NULL;

	assert_int_equal(f->st->ops->begin(f->st, 1), 0);
	assert_int_equal(vault_seal(f->v, &r1, key16, 16), 0);
	assert_int_equal(f->st->ops->commit(f->st), 0);
	/* an attacker with write access copies device 1's row to device 2 */
	assert_int_equal(f->st->ops->secret_get(f->st, "device", 1, "app_key", rec), 0);
	rec->owner_id = 2;
	assert_int_equal(f->st->ops->secret_put(f->st, rec), 0);
	assert_int_equal(vault_reveal(f->v, &actor, &r2, &out), IV_ERR_AUTH_TAG);
	assert_null(out);
	assert_int_equal(vault_reveal(f->v, &actor, &r1, &out), 0);
	assert_memory_equal(out->data, key16, 16);
	secbuf_free(out);
	free(rec);
}

static void test_limits(void **state)
{
	struct fixture *f = *state;
	struct secret_ref ref = {1, "device", 1, "psk"};
	struct secret_record *rec = calloc(1, sizeof(*rec));
	uint8_t *big = calloc(1, SECRET_MAX_LEN + 1);
	assert_int_equal(vault_envelope_seal(f->v, &ref, key16, 0, rec), IV_ERR_INVALID);
	assert_int_equal(vault_envelope_seal(f->v, &ref, big, SECRET_MAX_LEN + 1, rec),
			 IV_ERR_INVALID);
	assert_int_equal(vault_envelope_seal(f->v, &ref, big, SECRET_MAX_LEN, rec), 0);
	free(big);
	free(rec);
}

static void seal_many(struct fixture *f, int n)
{
	uint8_t k[16];
	assert_int_equal(f->st->ops->begin(f->st, 1), 0);
	for (int i = 1; i <= n; i++) {
		struct secret_ref ref = {1, "device", i, "app_key"};
		memcpy(k, key16, 16);
		k[0] = (uint8_t)i;
		assert_int_equal(vault_seal(f->v, &ref, k, 16), 0);
	}
	assert_int_equal(f->st->ops->commit(f->st), 0);
}

static void check_many(struct fixture *f, int n)
{
	uint8_t k[16];
	for (int i = 1; i <= n; i++) {
		struct secret_ref ref = {1, "device", i, "app_key"};
		struct secbuf *out = NULL;
		memcpy(k, key16, 16);
		k[0] = (uint8_t)i;
		assert_int_equal(vault_reveal(f->v, &actor, &ref, &out), 0);
		assert_memory_equal(out->data, k, 16);
		secbuf_free(out);
	}
}

static void test_rotate_and_retire(void **state)
{
	struct fixture *f = *state;
	struct rotation_progress p;
	int64_t dependent = -1;

	seal_many(f, 10);
	/* retiring the current version is refused */
	assert_int_equal(vault_retire(f->v, &actor, 2, &dependent), IV_ERR_REFUSED);
	assert_int_equal(vault_rotate(f->v, &actor, NULL, NULL, &p), 0);
	assert_int_equal(p.to_version, 2);
	assert_int_equal(p.resumed, 0);
	/* 10 device keys, the audit key and the fingerprint key */
	assert_int_equal(p.rewrapped, 12);
	assert_int_equal(vault_current_version(f->v), 2);
	assert_int_equal(f->st->ops->secret_count_below(f->st, 2), 0);
	check_many(f, 10);
	assert_int_equal(vault_retire(f->v, &actor, 2, &dependent), 0);
	/* after retirement a fresh process needs only version 2 */
	reopen(f);
	check_many(f, 10);
	assert_int_equal(vault_retire(f->v, &actor, 3, &dependent), IV_ERR_REFUSED);
	assert_int_equal(dependent, 0);
}

static void test_retire_refused_while_dependent(void **state)
{
	struct fixture *f = *state;
	struct secret_record *rec = calloc(1, sizeof(*rec));
	struct secret_ref ref = {1, "device", 99, "app_key"};
	struct rotation_progress p;
	int64_t dependent = 0;

	seal_many(f, 4);
	/* a secret still under version 1, as after an interrupted rotation */
	assert_int_equal(vault_envelope_seal(f->v, &ref, key16, 16, rec), 0);
	assert_int_equal(vault_rotate(f->v, &actor, NULL, NULL, &p), 0);
	assert_int_equal(f->st->ops->secret_put(f->st, rec), 0);
	assert_int_equal(vault_retire(f->v, &actor, 2, &dependent), IV_ERR_REFUSED);
	assert_int_equal(dependent, 1);
	/* a second rotate resumes instead of adding a version */
	assert_int_equal(vault_rotate(f->v, &actor, NULL, NULL, &p), 0);
	assert_int_equal(p.resumed, 1);
	assert_int_equal(p.to_version, 2);
	assert_int_equal(p.rewrapped, 1);
	assert_int_equal(vault_retire(f->v, &actor, 2, &dependent), 0);
	/* sealing under a retired version is refused by the store itself */
	rec->mk_version = 1;
	assert_int_not_equal(f->st->ops->secret_put(f->st, rec), 0);
	free(rec);
}

static void test_file_provider_refuses_open_permissions(void **state)
{
	struct fixture *f = *state;
	char path[128];
	struct mk_provider *prov = NULL;

	snprintf(path, sizeof(path), "%s/keys/master-v1.key", f->dir);
	assert_int_equal(chmod(path, 0640), 0);
	vault_free(f->v);
	f->v = NULL;
	assert_int_equal(mk_provider_new(&f->cfg, 0, &prov), 0);
	assert_int_equal(vault_open(&f->cfg, f->st, prov, &f->v), IV_ERR_PERMISSIONS);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(chmod(f->dir, 0750), 0);
	assert_int_equal(mk_provider_new(&f->cfg, 0, &prov), IV_ERR_PERMISSIONS);
	assert_int_equal(chmod(f->dir, 0700), 0);
	reopen(f);
}

static void test_file_provider_wrong_key(void **state)
{
	struct fixture *f = *state;
	char path[128];
	uint8_t other[32];
	FILE *fp;
	struct mk_provider *prov = NULL;

	snprintf(path, sizeof(path), "%s/keys/master-v1.key", f->dir);
	random_bytes(other, sizeof(other));
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(other, 1, sizeof(other), fp), sizeof(other));
	fclose(fp);
	vault_free(f->v);
	f->v = NULL;
	assert_int_equal(mk_provider_new(&f->cfg, 0, &prov), 0);
	assert_int_equal(vault_open(&f->cfg, f->st, prov, &f->v), IV_ERR_MASTER_KEY);
	/* a truncated key file is refused too */
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(other, 1, 31, fp), 31);
	fclose(fp);
	assert_int_equal(mk_provider_new(&f->cfg, 0, &prov), 0);
	assert_int_equal(vault_open(&f->cfg, f->st, prov, &f->v), IV_ERR_MASTER_KEY);
}

static void test_passphrase_provider(void **state)
{
	struct fixture *f = *state;
	struct mk_provider *prov = NULL;
	struct rotation_progress p;

	seal_many(f, 3);
	/* the environment copy is wiped once read */
	assert_null(getenv("IOTVAULT_PASSPHRASE"));
	reopen(f);
	check_many(f, 3);
	assert_int_equal(vault_rotate(f->v, &actor, NULL, NULL, &p), 0);
	reopen(f);
	check_many(f, 3);

	vault_free(f->v);
	f->v = NULL;
	setenv("IOTVAULT_PASSPHRASE", "not the right passphrase", 1);
	assert_int_equal(mk_provider_new(&f->cfg, 0, &prov), 0);
	assert_int_equal(vault_open(&f->cfg, f->st, prov, &f->v), IV_ERR_MASTER_KEY);
	unsetenv("IOTVAULT_PASSPHRASE");
	assert_int_equal(mk_provider_new(&f->cfg, 0, &prov), IV_ERR_MASTER_KEY);
	setenv("IOTVAULT_PASSPHRASE", "short", 1);
	assert_int_equal(mk_provider_new(&f->cfg, 0, &prov), IV_ERR_MASTER_KEY);
	reopen(f);
}

static void test_reveal_is_audited_first(void **state)
{
	struct fixture *f = *state;
	struct secret_ref ref = {1, "device", 1, "app_key"};
	struct audit_verify_result res;
	struct secbuf *out = NULL;
	int64_t seq_before = 0, seq_after = 0;
	uint8_t mac[32];

	seal_many(f, 1);
	assert_int_equal(f->st->ops->audit_last(f->st, &seq_before, mac), 0);
	assert_int_equal(vault_reveal(f->v, &actor, &ref, &out), 0);
	secbuf_free(out);
	assert_int_equal(f->st->ops->audit_last(f->st, &seq_after, mac), 0);
	assert_int_equal(seq_after, seq_before + 1);
	assert_int_equal(audit_verify(f->v, &res), 0);

	/* when the record cannot be written, nothing is revealed: another
	 * connection holds the write lock and ours gives up after 50 ms */
	{
		struct store *other = NULL;
		char path[128];
		snprintf(path, sizeof(path), "%s/iotvault.db", f->dir);
		vault_free(f->v);
		f->v = NULL;
		store_close(f->st);
		assert_int_equal(store_sqlite_open(path, 0, 50, &f->st), 0);
		assert_int_equal(open_vault(f, 0), 0);
		assert_int_equal(store_sqlite_open(path, 0, 50, &other), 0);
		assert_int_equal(other->ops->begin(other, 1), 0);
		out = NULL;
		assert_int_equal(vault_reveal(f->v, &actor, &ref, &out), IV_ERR_AUDIT);
		assert_null(out);
		assert_int_equal(other->ops->rollback(other), 0);
		store_close(other);
		assert_int_equal(f->st->ops->audit_last(f->st, &seq_after, mac), 0);
		assert_int_equal(seq_after, seq_before + 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_envelope_round_trip, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_two_seals_differ, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_aad_binds_every_field, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_wrapped_key_swap_fails, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_stored_row_moved_fails, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_rotate_and_retire, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_retire_refused_while_dependent, setup_file,
						teardown),
		cmocka_unit_test_setup_teardown(test_file_provider_refuses_open_permissions,
						setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_file_provider_wrong_key, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_passphrase_provider, setup_passphrase, teardown),
		cmocka_unit_test_setup_teardown(test_reveal_is_audited_first, setup_file, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
