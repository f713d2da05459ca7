/* Unit tests of the pkcs11 master-key provider against a throwaway SoftHSM2
 * token: wrap/unwrap round trip, tamper and wrong-version detection, the key
 * never leaving the token, PIN handling, retirement and re-opening. The token
 * lives in a temporary directory that is removed at the end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>

#include "iotvault/config.h"
#include "iotvault/crypto.h"
#include "iotvault/mkprov.h"
#include "iotvault/secmem.h"
#include "iotvault/store.h"

#define TEST_TOKEN_LABEL "iotvault-test"
#define TEST_KEY_LABEL "iotvault-test-master"
#define TEST_PIN_ENV "IOTVAULT_TEST_PKCS11_PIN"
#define TEST_PIN_LEN 16

extern char **environ;

static char tmpdir[256];
static char user_pin[TEST_PIN_LEN + 1];
static char so_pin[TEST_PIN_LEN + 1];
static struct config cfg;

/* ---- throwaway token ---------------------------------------------------- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void remove_tmpdir(void)
{
	if (tmpdir[0] != '\0')
		(void)nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int run_softhsm_init(void)
{
	char *const argv[] = {"softhsm2-util", "--init-token", "--free", "--label",
			      TEST_TOKEN_LABEL, "--so-pin", so_pin, "--pin", user_pin, NULL};
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status = 0, rc;

	/* No shell, so the PINs are never parsed or echoed; stdout only says
	 * which slot the token went to. */
	if (posix_spawn_file_actions_init(&fa) != 0)
		return -1;
	(void)posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, "softhsm2-util", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		fprintf(stderr, "cannot run softhsm2-util (%s): install the softhsm2 package\n",
			strerror(rc));
		return -1;
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "softhsm2-util --init-token failed (status %d)%s\n", status,
			WIFEXITED(status) && WEXITSTATUS(status) == 127
				? ": softhsm2-util not found, install the softhsm2 package"
				: "");
		return -1;
	}
	return 0;
}

static int set_cfg_str(char **field, const char *value)
{
	char *copy = strdup(value);
	if (copy == NULL)
		return -1;
	free(*field);
	*field = copy;
	return 0;
}

static int token_setup(void)
{
	char path[512];
	FILE *f;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/iotvault-p11-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		tmpdir[0] = '\0';
		return -1;
	}
	snprintf(path, sizeof(path), "%s/tokens", tmpdir);
	if (mkdir(path, 0700) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/softhsm2.conf", tmpdir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f,
		"directories.tokendir = %s/tokens\n"
		"objectstore.backend = file\n"
		"log.level = ERROR\n"
		"slots.removable = false\n",
		tmpdir);
	if (fclose(f) != 0)
		return -1;
	if (setenv("SOFTHSM2_CONF", path, 1) != 0)
		return -1;

	password_generate(user_pin, TEST_PIN_LEN);
	password_generate(so_pin, TEST_PIN_LEN);
	if (run_softhsm_init() != 0)
		return -1;
	if (setenv(TEST_PIN_ENV, user_pin, 1) != 0)
		return -1;

	if (config_defaults(&cfg, tmpdir) != 0)
		return -1;
	cfg.mk_provider = MK_PROVIDER_PKCS11;
	if (set_cfg_str(&cfg.pkcs11_module, "/usr/lib/softhsm/libsofthsm2.so") != 0 ||
	    set_cfg_str(&cfg.pkcs11_token_label, TEST_TOKEN_LABEL) != 0 ||
	    set_cfg_str(&cfg.pkcs11_pin_env, TEST_PIN_ENV) != 0 ||
	    set_cfg_str(&cfg.pkcs11_key_label, TEST_KEY_LABEL) != 0)
		return -1;
	return 0;
}

static void token_teardown(void)
{
	config_free(&cfg);
	unsetenv(TEST_PIN_ENV);
	unsetenv("SOFTHSM2_CONF");
	secmem_wipe(user_pin, sizeof(user_pin));
	secmem_wipe(so_pin, sizeof(so_pin));
	remove_tmpdir();
}

/* ---- the test's own view of the token, independent of the provider ------- */

struct test_session {
	CK_FUNCTION_LIST *module;
	CK_SESSION_HANDLE session;
	int logged_in;
};

static void test_session_open(struct test_session *t, int login)
{
	CK_SLOT_ID slots[8];
	CK_ULONG n = sizeof(slots) / sizeof(slots[0]);
	CK_TOKEN_INFO info;
	CK_SLOT_ID slot = 0;
	int found = 0;

	memset(t, 0, sizeof(*t));
	t->module = p11_kit_module_load(cfg.pkcs11_module, 0);
	assert_non_null(t->module);
	assert_int_equal(p11_kit_module_initialize(t->module), CKR_OK);
	assert_int_equal(t->module->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	for (CK_ULONG i = 0; i < n && !found; i++) {
		assert_int_equal(t->module->C_GetTokenInfo(slots[i], &info), CKR_OK);
		if (memcmp(info.label, TEST_TOKEN_LABEL, strlen(TEST_TOKEN_LABEL)) == 0 &&
		    info.label[strlen(TEST_TOKEN_LABEL)] == ' ') {
			slot = slots[i];
			found = 1;
		}
	}
	assert_true(found);
	assert_int_equal(t->module->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
						  NULL, NULL, &t->session),
			 CKR_OK);
	if (login) {
		assert_int_equal(t->module->C_Login(t->session, CKU_USER, (CK_UTF8CHAR_PTR)user_pin,
						    strlen(user_pin)),
				 CKR_OK);
		t->logged_in = 1;
	}
}

static void test_session_close(struct test_session *t)
{
	if (t->logged_in)
		(void)t->module->C_Logout(t->session);
	(void)t->module->C_CloseSession(t->session);
	(void)p11_kit_module_finalize(t->module);
	p11_kit_module_release(t->module);
}

static CK_ULONG find_objects(struct test_session *t, const char *label, CK_OBJECT_HANDLE *first)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_LABEL, (void *)label, strlen(label)},
	};
	CK_OBJECT_HANDLE found[8];
	CK_ULONG count = 0;

	assert_int_equal(t->module->C_FindObjectsInit(t->session, tmpl, 2), CKR_OK);
	assert_int_equal(t->module->C_FindObjects(t->session, found, 8, &count), CKR_OK);
	assert_int_equal(t->module->C_FindObjectsFinal(t->session), CKR_OK);
	if (count > 0 && first != NULL)
		*first = found[0];
	return count;
}

/* ---- helpers ------------------------------------------------------------- */

static struct mk_provider *provider_new(void)
{
	struct mk_provider *p = NULL;
	assert_int_equal(mk_provider_pkcs11_new(&cfg, &p), 0);
	assert_non_null(p);
	assert_string_equal(p->ops->name, "pkcs11");
	return p;
}

static void create_and_load(struct mk_provider *p, uint32_t version, uint8_t *params,
			    size_t *params_len)
{
	char want[64];
	*params_len = 0;
	assert_int_equal(p->ops->create_version(p, version, params, params_len), 0);
	snprintf(want, sizeof(want), "%s-v%" PRIu32, TEST_KEY_LABEL, version);
	assert_int_equal(*params_len, strlen(want));
	assert_memory_equal(params, want, *params_len);
	assert_int_equal(p->ops->load_version(p, version, params, *params_len), 0);
}

static int all_zero(const uint8_t *b, size_t len)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < len; i++)
		acc |= b[i];
	return acc == 0;
}

static const uint8_t aad_a[] = "tenant=1;device=0011223344556677;field=appkey";
static const uint8_t aad_b[] = "tenant=2;device=0011223344556677;field=appkey";

/* ---- tests --------------------------------------------------------------- */

/* First, while nothing in the process is logged in to the token (login state
 * is per process, so a later login would mask a wrong PIN). */
static void test_missing_pin_env(void **state)
{
	struct mk_provider *p = (struct mk_provider *)1;
	(void)state;
	assert_int_equal(unsetenv(TEST_PIN_ENV), 0);
	assert_int_equal(mk_provider_pkcs11_new(&cfg, &p), IV_ERR_MASTER_KEY);
	assert_null(p);
	assert_int_equal(setenv(TEST_PIN_ENV, "", 1), 0);
	assert_int_equal(mk_provider_pkcs11_new(&cfg, &p), IV_ERR_MASTER_KEY);
	assert_null(p);
	assert_int_equal(setenv(TEST_PIN_ENV, user_pin, 1), 0);
}

static void test_wrong_pin(void **state)
{
	char wrong[TEST_PIN_LEN + 1];
	struct mk_provider *p = (struct mk_provider *)1;
	(void)state;
	do
		password_generate(wrong, TEST_PIN_LEN);
	while (strcmp(wrong, user_pin) == 0);
	assert_int_equal(setenv(TEST_PIN_ENV, wrong, 1), 0);
	assert_int_equal(mk_provider_pkcs11_new(&cfg, &p), IV_ERR_MASTER_KEY);
	assert_null(p);
	assert_int_equal(setenv(TEST_PIN_ENV, user_pin, 1), 0);
	secmem_wipe(wrong, sizeof(wrong));
	/* the right PIN still works afterwards */
	p = provider_new();
	p->ops->free(p);
}

static void test_bad_config(void **state)
{
	struct config bad;
	struct mk_provider *p = NULL;
	(void)state;

	assert_int_equal(config_defaults(&bad, tmpdir), 0);
	assert_int_equal(set_cfg_str(&bad.pkcs11_pin_env, TEST_PIN_ENV), 0);
	assert_int_equal(set_cfg_str(&bad.pkcs11_token_label, "no-such-token"), 0);
	assert_int_equal(mk_provider_pkcs11_new(&bad, &p), IV_ERR_HSM);
	assert_null(p);
	assert_int_equal(set_cfg_str(&bad.pkcs11_token_label,
				     "a-label-longer-than-thirty-two-bytes"),
			 0);
	assert_int_equal(mk_provider_pkcs11_new(&bad, &p), IV_ERR_CONFIG);
	assert_int_equal(set_cfg_str(&bad.pkcs11_token_label, TEST_TOKEN_LABEL), 0);
	assert_int_equal(set_cfg_str(&bad.pkcs11_key_label, ""), 0);
	assert_int_equal(mk_provider_pkcs11_new(&bad, &p), IV_ERR_CONFIG);
	assert_int_equal(set_cfg_str(&bad.pkcs11_key_label, TEST_KEY_LABEL), 0);
	assert_int_equal(set_cfg_str(&bad.pkcs11_module, "/nonexistent/libnothing.so"), 0);
	assert_int_equal(mk_provider_pkcs11_new(&bad, &p), IV_ERR_HSM);
	assert_null(p);
	config_free(&bad);
}

static void test_round_trip(void **state)
{
	struct mk_provider *p = provider_new();
	uint8_t params[MK_PARAMS_MAX], dek[DEK_LEN], back[DEK_LEN];
	uint8_t w1[WRAPPED_DEK_LEN], w2[WRAPPED_DEK_LEN];
	size_t params_len;
	(void)state;

	create_and_load(p, 1, params, &params_len);
	random_bytes(dek, sizeof(dek));
	assert_int_equal(p->ops->wrap(p, 1, aad_a, sizeof(aad_a), dek, w1), 0);
	assert_int_equal(p->ops->unwrap(p, 1, aad_a, sizeof(aad_a), w1, sizeof(w1), back), 0);
	assert_memory_equal(back, dek, DEK_LEN);
	/* the DEK does not appear in the wrapped form */
	assert_memory_not_equal(w1 + 12, dek, DEK_LEN);
	/* a fresh IV each time */
	assert_int_equal(p->ops->wrap(p, 1, aad_a, sizeof(aad_a), dek, w2), 0);
	assert_memory_not_equal(w1, w2, 12);
	assert_memory_not_equal(w1 + 12, w2 + 12, WRAPPED_DEK_LEN - 12);
	/* empty AAD works too */
	assert_int_equal(p->ops->wrap(p, 1, NULL, 0, dek, w2), 0);
	assert_int_equal(p->ops->unwrap(p, 1, NULL, 0, w2, sizeof(w2), back), 0);
	assert_memory_equal(back, dek, DEK_LEN);
	secmem_wipe(dek, sizeof(dek));
	secmem_wipe(back, sizeof(back));
	p->ops->free(p);
}

static void test_unwrap_with_other_aad_fails(void **state)
{
	struct mk_provider *p = provider_new();
	uint8_t params[MK_PARAMS_MAX], dek[DEK_LEN], back[DEK_LEN];
	uint8_t w[WRAPPED_DEK_LEN];
	size_t params_len;
	(void)state;

	create_and_load(p, 1, params, &params_len);
	random_bytes(dek, sizeof(dek));
	assert_int_equal(p->ops->wrap(p, 1, aad_a, sizeof(aad_a), dek, w), 0);
	memset(back, 0xa5, sizeof(back));
	assert_int_equal(p->ops->unwrap(p, 1, aad_b, sizeof(aad_b), w, sizeof(w), back),
			 IV_ERR_AUTH_TAG);
	assert_true(all_zero(back, sizeof(back)));
	assert_int_equal(p->ops->unwrap(p, 1, NULL, 0, w, sizeof(w), back), IV_ERR_AUTH_TAG);
	/* the session is still usable after a failed decryption */
	assert_int_equal(p->ops->unwrap(p, 1, aad_a, sizeof(aad_a), w, sizeof(w), back), 0);
	assert_memory_equal(back, dek, DEK_LEN);
	secmem_wipe(dek, sizeof(dek));
	secmem_wipe(back, sizeof(back));
	p->ops->free(p);
}

static void test_tampered_wrapped_key_fails(void **state)
{
	struct mk_provider *p = provider_new();
	uint8_t params[MK_PARAMS_MAX], dek[DEK_LEN], back[DEK_LEN];
	uint8_t w[WRAPPED_DEK_LEN], bad[WRAPPED_DEK_LEN + 1];
	size_t params_len;
	/* IV, ciphertext, tag */
	const size_t positions[] = {0, 11, 12, 30, 43, 44, WRAPPED_DEK_LEN - 1};
	(void)state;

	create_and_load(p, 1, params, &params_len);
	random_bytes(dek, sizeof(dek));
	assert_int_equal(p->ops->wrap(p, 1, aad_a, sizeof(aad_a), dek, w), 0);
	for (size_t i = 0; i < sizeof(positions) / sizeof(positions[0]); i++) {
		memcpy(bad, w, sizeof(w));
		bad[positions[i]] ^= 0x01;
		memset(back, 0xa5, sizeof(back));
		assert_int_equal(p->ops->unwrap(p, 1, aad_a, sizeof(aad_a), bad, sizeof(w), back),
				 IV_ERR_AUTH_TAG);
		assert_true(all_zero(back, sizeof(back)));
	}
	memcpy(bad, w, sizeof(w));
	bad[WRAPPED_DEK_LEN] = 0;
	assert_int_equal(p->ops->unwrap(p, 1, aad_a, sizeof(aad_a), bad, sizeof(w) - 1, back),
			 IV_ERR_INVALID);
	assert_int_equal(p->ops->unwrap(p, 1, aad_a, sizeof(aad_a), bad, sizeof(w) + 1, back),
			 IV_ERR_INVALID);
	assert_int_equal(p->ops->unwrap(p, 1, aad_a, sizeof(aad_a), NULL, 0, back),
			 IV_ERR_INVALID);
	assert_int_equal(p->ops->unwrap(p, 1, aad_a, sizeof(aad_a), w, sizeof(w), back), 0);
	assert_memory_equal(back, dek, DEK_LEN);
	secmem_wipe(dek, sizeof(dek));
	secmem_wipe(back, sizeof(back));
	p->ops->free(p);
}

static void test_versions_have_different_keys(void **state)
{
	struct mk_provider *p = provider_new();
	uint8_t params[MK_PARAMS_MAX], dek[DEK_LEN], back[DEK_LEN];
	uint8_t w1[WRAPPED_DEK_LEN], w2[WRAPPED_DEK_LEN];
	size_t params_len;
	(void)state;

	create_and_load(p, 1, params, &params_len);
	create_and_load(p, 2, params, &params_len);
	random_bytes(dek, sizeof(dek));
	assert_int_equal(p->ops->wrap(p, 1, aad_a, sizeof(aad_a), dek, w1), 0);
	assert_int_equal(p->ops->unwrap(p, 2, aad_a, sizeof(aad_a), w1, sizeof(w1), back),
			 IV_ERR_AUTH_TAG);
	assert_int_equal(p->ops->wrap(p, 2, aad_a, sizeof(aad_a), dek, w2), 0);
	assert_int_equal(p->ops->unwrap(p, 1, aad_a, sizeof(aad_a), w2, sizeof(w2), back),
			 IV_ERR_AUTH_TAG);
	assert_int_equal(p->ops->unwrap(p, 2, aad_a, sizeof(aad_a), w2, sizeof(w2), back), 0);
	assert_memory_equal(back, dek, DEK_LEN);
	/* a version never created or loaded is unavailable, not an HSM fault */
	assert_int_equal(p->ops->wrap(p, 99, aad_a, sizeof(aad_a), dek, w2), IV_ERR_MASTER_KEY);
	assert_true(all_zero(w2, sizeof(w2)));
	assert_int_equal(p->ops->unwrap(p, 99, aad_a, sizeof(aad_a), w1, sizeof(w1), back),
			 IV_ERR_MASTER_KEY);
	assert_int_equal(p->ops->load_version(p, 99, NULL, 0), IV_ERR_MASTER_KEY);
	secmem_wipe(dek, sizeof(dek));
	secmem_wipe(back, sizeof(back));
	p->ops->free(p);
}

static void test_create_replaces_leftover(void **state)
{
	struct mk_provider *p = provider_new();
	uint8_t params[MK_PARAMS_MAX], dek[DEK_LEN], back[DEK_LEN];
	uint8_t w[WRAPPED_DEK_LEN];
	size_t params_len;
	struct test_session t;
	(void)state;

	/* a version created, used, then "lost" before the store recorded it */
	create_and_load(p, 3, params, &params_len);
	random_bytes(dek, sizeof(dek));
	assert_int_equal(p->ops->wrap(p, 3, aad_a, sizeof(aad_a), dek, w), 0);
	create_and_load(p, 3, params, &params_len);
	assert_int_equal(p->ops->unwrap(p, 3, aad_a, sizeof(aad_a), w, sizeof(w), back),
			 IV_ERR_AUTH_TAG);
	p->ops->free(p);

	test_session_open(&t, 1);
	assert_int_equal(find_objects(&t, TEST_KEY_LABEL "-v3", NULL), 1);
	test_session_close(&t);
	secmem_wipe(dek, sizeof(dek));
}

static void test_key_is_not_extractable(void **state)
{
	struct mk_provider *p = provider_new();
	uint8_t params[MK_PARAMS_MAX];
	size_t params_len;
	struct test_session t;
	CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
	uint8_t value[64];
	CK_ATTRIBUTE get_value = {CKA_VALUE, value, sizeof(value)};
	CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE, private_ = CK_FALSE,
		 token = CK_FALSE, wrap = CK_TRUE, never_extractable = CK_FALSE;
	CK_ATTRIBUTE flags[] = {
		{CKA_SENSITIVE, &sensitive, sizeof(sensitive)},
		{CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
		{CKA_PRIVATE, &private_, sizeof(private_)},
		{CKA_TOKEN, &token, sizeof(token)},
		{CKA_WRAP, &wrap, sizeof(wrap)},
		{CKA_NEVER_EXTRACTABLE, &never_extractable, sizeof(never_extractable)},
	};
	(void)state;

	create_and_load(p, 1, params, &params_len);
	p->ops->free(p);

	/* private: invisible without a login */
	test_session_open(&t, 0);
	assert_int_equal(find_objects(&t, TEST_KEY_LABEL "-v1", NULL), 0);
	test_session_close(&t);

	test_session_open(&t, 1);
	assert_int_equal(find_objects(&t, TEST_KEY_LABEL "-v1", &obj), 1);
	memset(value, 0, sizeof(value));
	assert_int_equal(t.module->C_GetAttributeValue(t.session, obj, &get_value, 1),
			 CKR_ATTRIBUTE_SENSITIVE);
	assert_int_equal(get_value.ulValueLen, CK_UNAVAILABLE_INFORMATION);
	assert_true(all_zero(value, sizeof(value)));
	assert_int_equal(t.module->C_GetAttributeValue(t.session, obj, flags,
						       sizeof(flags) / sizeof(flags[0])),
			 CKR_OK);
	assert_int_equal(sensitive, CK_TRUE);
	assert_int_equal(extractable, CK_FALSE);
	assert_int_equal(never_extractable, CK_TRUE);
	assert_int_equal(private_, CK_TRUE);
	assert_int_equal(token, CK_TRUE);
	assert_int_equal(wrap, CK_FALSE);
	test_session_close(&t);
}

static void test_destroy_version(void **state)
{
	struct mk_provider *p = provider_new();
	uint8_t params[MK_PARAMS_MAX], dek[DEK_LEN];
	uint8_t w[WRAPPED_DEK_LEN];
	size_t params_len;
	struct test_session t;
	(void)state;

	create_and_load(p, 4, params, &params_len);
	random_bytes(dek, sizeof(dek));
	assert_int_equal(p->ops->destroy_version(p, 4), 0);
	assert_int_equal(p->ops->load_version(p, 4, params, params_len), IV_ERR_MASTER_KEY);
	assert_int_equal(p->ops->wrap(p, 4, aad_a, sizeof(aad_a), dek, w), IV_ERR_MASTER_KEY);
	/* retiring again (after an interrupted retirement) is not an error */
	assert_int_equal(p->ops->destroy_version(p, 4), 0);
	p->ops->free(p);

	test_session_open(&t, 1);
	assert_int_equal(find_objects(&t, TEST_KEY_LABEL "-v4", NULL), 0);
	test_session_close(&t);
	secmem_wipe(dek, sizeof(dek));
}

static void test_new_provider_finds_existing_version(void **state)
{
	struct mk_provider *p = provider_new();
	uint8_t params[MK_PARAMS_MAX], dek[DEK_LEN], back[DEK_LEN];
	uint8_t w[WRAPPED_DEK_LEN];
	size_t params_len;
	const char other[] = "other-master-v5";
	(void)state;

	create_and_load(p, 5, params, &params_len);
	random_bytes(dek, sizeof(dek));
	assert_int_equal(p->ops->wrap(p, 5, aad_a, sizeof(aad_a), dek, w), 0);
	p->ops->free(p);

	/* nothing survives but the token: module finalized, new login */
	p = provider_new();
	assert_int_equal(p->ops->unwrap(p, 5, aad_a, sizeof(aad_a), w, sizeof(w), back),
			 IV_ERR_MASTER_KEY);
	assert_int_equal(p->ops->load_version(p, 5, (const uint8_t *)other, strlen(other)),
			 IV_ERR_MASTER_KEY);
	assert_int_equal(p->ops->load_version(p, 5, params, params_len), 0);
	assert_int_equal(p->ops->unwrap(p, 5, aad_a, sizeof(aad_a), w, sizeof(w), back), 0);
	assert_memory_equal(back, dek, DEK_LEN);
	secmem_wipe(dek, sizeof(dek));
	secmem_wipe(back, sizeof(back));
	p->ops->free(p);
}

#define THREADS 4
#define ROUNDS 50

struct worker {
	struct mk_provider *p;
	uint32_t version;
	int failures;
};

static void *worker_run(void *arg)
{
	struct worker *wk = arg;
	uint8_t dek[DEK_LEN], back[DEK_LEN], w[WRAPPED_DEK_LEN];

	for (int i = 0; i < ROUNDS; i++) {
		random_bytes(dek, sizeof(dek));
		if (wk->p->ops->wrap(wk->p, wk->version, aad_a, sizeof(aad_a), dek, w) != 0 ||
		    wk->p->ops->unwrap(wk->p, wk->version, aad_a, sizeof(aad_a), w, sizeof(w),
				       back) != 0 ||
		    secmem_equal(dek, back, DEK_LEN) != 0)
			wk->failures++;
	}
	secmem_wipe(dek, sizeof(dek));
	secmem_wipe(back, sizeof(back));
	return NULL;
}

static void test_concurrent_use(void **state)
{
	struct mk_provider *p = provider_new();
	uint8_t params[MK_PARAMS_MAX];
	size_t params_len;
	pthread_t th[THREADS];
	struct worker wk[THREADS];
	(void)state;

	create_and_load(p, 6, params, &params_len);
	create_and_load(p, 7, params, &params_len);
	for (int i = 0; i < THREADS; i++) {
		wk[i] = (struct worker){.p = p, .version = 6 + (uint32_t)(i % 2), .failures = 0};
		assert_int_equal(pthread_create(&th[i], NULL, worker_run, &wk[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(wk[i].failures, 0);
	}
	p->ops->free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_pin_env),
		cmocka_unit_test(test_wrong_pin),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_unwrap_with_other_aad_fails),
		cmocka_unit_test(test_tampered_wrapped_key_fails),
		cmocka_unit_test(test_versions_have_different_keys),
		cmocka_unit_test(test_create_replaces_leftover),
		cmocka_unit_test(test_key_is_not_extractable),
		cmocka_unit_test(test_destroy_version),
		cmocka_unit_test(test_new_provider_finds_existing_version),
		cmocka_unit_test(test_concurrent_use),
	};
	int failed;

	if (secmem_init() != 0) {
		fprintf(stderr, "secmem_init failed\n");
		return 1;
	}
	/* A missing softhsm2-util is a failure, not a skip: make check installs
	 * it, so its absence means the test environment is broken. */
	if (token_setup() != 0) {
		fprintf(stderr, "FAILED: cannot create the SoftHSM2 test token\n");
		token_teardown();
		return 1;
	}
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	token_teardown();
	return failed;
}
