/* Tests for the configuration file (src/core/config.c): defaults, every key,
 * every refusal, error texts that name the line and key but never the value,
 * the size limit, and that a rendered file parses back to the same settings. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iotvault/config.h"
#include "iotvault/log.h"
#include "iotvault/secmem.h"

/* stands in for a secret typed into the wrong place */
#define SECRET "SECRETVALUE123"

static int setup(void **state)
{
	(void)state;
	return secmem_init() == 0 ? 0 : -1;
}

static void test_defaults(void **state)
{
	struct config cfg;
	(void)state;

	assert_int_equal(config_defaults(&cfg, "/var/lib/iotvault"), 0);
	assert_string_equal(cfg.data_dir, "/var/lib/iotvault");
	assert_string_equal(cfg.db_path, "iotvault.db");
	assert_int_equal(cfg.busy_timeout_ms, 10000);
	assert_int_equal(cfg.mk_provider, MK_PROVIDER_FILE);
	assert_string_equal(cfg.mk_key_dir, "keys");
	assert_string_equal(cfg.passphrase_env, "IOTVAULT_PASSPHRASE");
	assert_int_equal(cfg.kdf_opslimit, 3);
	assert_int_equal(cfg.kdf_memlimit, 256u * 1024u * 1024u);
	assert_string_equal(cfg.pkcs11_module, "/usr/lib/softhsm/libsofthsm2.so");
	assert_string_equal(cfg.pkcs11_token_label, "iotvault");
	assert_string_equal(cfg.pkcs11_pin_env, "IOTVAULT_PKCS11_PIN");
	assert_string_equal(cfg.pkcs11_key_label, "iotvault-master");
	assert_int_equal(cfg.rotation_batch_size, 500);
	assert_string_equal(cfg.tls_certificate, "tls/cert.pem");
	assert_string_equal(cfg.tls_private_key, "tls/key.pem");
	assert_string_equal(cfg.log_file, "iotvault.log");
	assert_int_equal(cfg.log_level, LOG_LEVEL_INFO);
	config_free(&cfg);
	assert_null(cfg.data_dir);
	/* freeing twice and freeing NULL are harmless */
	config_free(&cfg);
	config_free(NULL);

	/* an empty file and a file of comments change nothing */
	{
		char err[256];
		assert_int_equal(config_defaults(&cfg, "/d"), 0);
		assert_int_equal(config_parse_string(&cfg, "", err, sizeof(err)), 0);
		assert_int_equal(config_parse_string(&cfg, "# c\n; c\n\n[storage]\n", err,
						     sizeof(err)),
				 0);
		assert_string_equal(cfg.db_path, "iotvault.db");
		config_free(&cfg);
	}
}

static const char every_key[] =
	"[storage]\n"
	"path = /srv/db/vault.sqlite\n"
	"busy_timeout_ms = 2500\n"
	"\n"
	"[master_key]\n"
	"provider = pkcs11\n"
	"key_dir = master-keys\n"
	"passphrase_env = MY_PASSPHRASE_VAR\n"
	"kdf_opslimit = 7\n"
	"kdf_memlimit_mib = 64\n"
	"pkcs11_module = /opt/hsm/lib.so\n"
	"pkcs11_token_label = token-a\n"
	"pkcs11_pin_env = MY_PIN_VAR\n"
	"pkcs11_key_label = key-a\n"
	"rotation_batch_size = 42\n"
	"\n"
	"[tls]\n"
	"certificate = certs/server.pem\n"
	"private_key = /etc/iotvault/server.key\n"
	"\n"
	"[log]\n"
	"file = /var/log/iotvault.log\n"
	"level = warning\n";

static void check_every_key(const struct config *cfg)
{
	assert_string_equal(cfg->db_path, "/srv/db/vault.sqlite");
	assert_int_equal(cfg->busy_timeout_ms, 2500);
	assert_int_equal(cfg->mk_provider, MK_PROVIDER_PKCS11);
	assert_string_equal(cfg->mk_key_dir, "master-keys");
	assert_string_equal(cfg->passphrase_env, "MY_PASSPHRASE_VAR");
	assert_int_equal(cfg->kdf_opslimit, 7);
	assert_int_equal(cfg->kdf_memlimit, 64u * 1024u * 1024u);
	assert_string_equal(cfg->pkcs11_module, "/opt/hsm/lib.so");
	assert_string_equal(cfg->pkcs11_token_label, "token-a");
	assert_string_equal(cfg->pkcs11_pin_env, "MY_PIN_VAR");
	assert_string_equal(cfg->pkcs11_key_label, "key-a");
	assert_int_equal(cfg->rotation_batch_size, 42);
	assert_string_equal(cfg->tls_certificate, "certs/server.pem");
	assert_string_equal(cfg->tls_private_key, "/etc/iotvault/server.key");
	assert_string_equal(cfg->log_file, "/var/log/iotvault.log");
	assert_int_equal(cfg->log_level, LOG_LEVEL_WARNING);
}

static void test_parse_every_key(void **state)
{
	struct config cfg;
	char err[256];
	(void)state;

	assert_int_equal(config_defaults(&cfg, "/data"), 0);
	assert_int_equal(config_parse_string(&cfg, every_key, err, sizeof(err)), 0);
	check_every_key(&cfg);
	assert_string_equal(cfg.data_dir, "/data");
	config_free(&cfg);
}

static void test_enum_values(void **state)
{
	static const struct {
		const char *text;
		enum mk_provider_kind kind;
	} providers[] = {{"file", MK_PROVIDER_FILE},
			 {"passphrase", MK_PROVIDER_PASSPHRASE},
			 {"pkcs11", MK_PROVIDER_PKCS11}};
	static const struct {
		const char *text;
		int level;
	} levels[] = {{"debug", LOG_LEVEL_DEBUG},
		      {"info", LOG_LEVEL_INFO},
		      {"warning", LOG_LEVEL_WARNING},
		      {"error", LOG_LEVEL_ERROR}};
	char text[128], err[256];
	struct config cfg;
	(void)state;

	for (size_t i = 0; i < 3; i++) {
		enum mk_provider_kind k;
		assert_int_equal(mk_provider_parse(providers[i].text, &k), 0);
		assert_int_equal(k, providers[i].kind);
		assert_string_equal(mk_provider_name(providers[i].kind), providers[i].text);

		assert_int_equal(config_defaults(&cfg, "/d"), 0);
		snprintf(text, sizeof(text), "[master_key]\nprovider = %s\n", providers[i].text);
		assert_int_equal(config_parse_string(&cfg, text, err, sizeof(err)), 0);
		assert_int_equal(cfg.mk_provider, providers[i].kind);
		config_free(&cfg);
	}
	{
		enum mk_provider_kind k = MK_PROVIDER_PASSPHRASE;
		assert_int_equal(mk_provider_parse("hsm", &k), IV_ERR_INVALID);
		assert_int_equal(mk_provider_parse("", &k), IV_ERR_INVALID);
		assert_int_equal(k, MK_PROVIDER_PASSPHRASE);
	}
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(config_defaults(&cfg, "/d"), 0);
		snprintf(text, sizeof(text), "[log]\nlevel = %s\n", levels[i].text);
		assert_int_equal(config_parse_string(&cfg, text, err, sizeof(err)), 0);
		assert_int_equal(cfg.log_level, levels[i].level);
		config_free(&cfg);
	}
}

/* Parses TEXT over defaults and expects IV_ERR_CONFIG with an error naming
 * line LINE and (when not NULL) KEY, and never containing SECRET. */
static void expect_config_error(const char *text, int line, const char *key)
{
	struct config cfg;
	char err[256], want[32];

	assert_int_equal(config_defaults(&cfg, "/d"), 0);
	memset(err, 0, sizeof(err));
	assert_int_equal(config_parse_string(&cfg, text, err, sizeof(err)), IV_ERR_CONFIG);
	print_message("error text: %s\n", err);
	snprintf(want, sizeof(want), "line %d", line);
	assert_non_null(strstr(err, want));
	/* "line 1" must not match inside "line 12" */
	{
		const char *p = strstr(err, want) + strlen(want);
		assert_false(*p >= '0' && *p <= '9');
	}
	if (key != NULL)
		assert_non_null(strstr(err, key));
	assert_null(strstr(err, SECRET));
	assert_null(strstr(err, "SECRET"));
	config_free(&cfg);
}

static void test_unknown_key(void **state)
{
	(void)state;
	expect_config_error("[storage]\npath = db\n\n[master_key]\nsecret_key = " SECRET "\n", 5,
			    "secret_key");
	/* a known key in the wrong section is unknown there */
	expect_config_error("[tls]\npath = " SECRET "\n", 2, "path");
	/* an unknown section */
	expect_config_error("[storage]\npath = x\n[vault]\nkey = " SECRET "\n", 4, "key");
	/* a key before any section */
	expect_config_error("provider = " SECRET "\n", 1, "provider");
	/* the first error wins; later lines are not reported over it */
	expect_config_error("[log]\n\n\nbogus = " SECRET "\nother = 1\n", 4, "bogus");
	/* keys are case-sensitive: a typo never falls back to a default */
	expect_config_error("[log]\nLevel = " SECRET "\n", 2, "Level");
}

static void test_bad_values(void **state)
{
	(void)state;
	/* provider and log level outside their sets */
	expect_config_error("[master_key]\nprovider = " SECRET "\n", 2, "provider");
	expect_config_error("[master_key]\nprovider = hsm\n", 2, "provider");
	expect_config_error("[log]\nlevel = " SECRET "\n", 2, "level");
	expect_config_error("[log]\nlevel = verbose\n", 2, "level");
	/* integers: not numbers, trailing garbage, out of range (each bound + 1) */
	expect_config_error("[storage]\nbusy_timeout_ms = " SECRET "\n", 2, "busy_timeout_ms");
	expect_config_error("[storage]\nbusy_timeout_ms = 10x\n", 2, "busy_timeout_ms");
	expect_config_error("[storage]\nbusy_timeout_ms = -1\n", 2, "busy_timeout_ms");
	expect_config_error("[storage]\nbusy_timeout_ms = 600001\n", 2, "busy_timeout_ms");
	expect_config_error("[storage]\nbusy_timeout_ms = 99999999999999999999\n", 2,
			    "busy_timeout_ms");
	expect_config_error("[storage]\nbusy_timeout_ms =\n", 2, "busy_timeout_ms");
	expect_config_error("[master_key]\nkdf_opslimit = 0\n", 2, "kdf_opslimit");
	expect_config_error("[master_key]\nkdf_opslimit = 21\n", 2, "kdf_opslimit");
	expect_config_error("[master_key]\nkdf_memlimit_mib = 7\n", 2, "kdf_memlimit_mib");
	expect_config_error("[master_key]\nkdf_memlimit_mib = 4097\n", 2, "kdf_memlimit_mib");
	expect_config_error("[master_key]\nrotation_batch_size = 0\n", 2, "rotation_batch_size");
	expect_config_error("[master_key]\nrotation_batch_size = 100001\n", 2,
			    "rotation_batch_size");
	/* strings must not be empty */
	expect_config_error("[storage]\npath =\n", 2, "path");
	expect_config_error("[tls]\nprivate_key = \n", 2, "private_key");
}

static void test_int_bounds_accepted(void **state)
{
	static const char text[] = "[storage]\nbusy_timeout_ms = 0\n"
				   "[master_key]\nkdf_opslimit = 20\nkdf_memlimit_mib = 8\n"
				   "rotation_batch_size = 100000\n";
	static const char text2[] = "[storage]\nbusy_timeout_ms = 600000\n"
				    "[master_key]\nkdf_opslimit = 1\nkdf_memlimit_mib = 4096\n"
				    "rotation_batch_size = 1\n";
	struct config cfg;
	char err[256];
	(void)state;

	assert_int_equal(config_defaults(&cfg, "/d"), 0);
	assert_int_equal(config_parse_string(&cfg, text, err, sizeof(err)), 0);
	assert_int_equal(cfg.busy_timeout_ms, 0);
	assert_int_equal(cfg.kdf_opslimit, 20);
	assert_int_equal(cfg.kdf_memlimit, 8u * 1024u * 1024u);
	assert_int_equal(cfg.rotation_batch_size, 100000);
	assert_int_equal(config_parse_string(&cfg, text2, err, sizeof(err)), 0);
	assert_int_equal(cfg.busy_timeout_ms, 600000);
	assert_int_equal(cfg.kdf_opslimit, 1);
	assert_true(cfg.kdf_memlimit == (size_t)4096 * 1024u * 1024u);
	assert_int_equal(cfg.rotation_batch_size, 1);
	config_free(&cfg);
}

static void test_syntax_error(void **state)
{
	(void)state;
	expect_config_error("[storage]\npath = x\nthis line has no equals sign\n", 3, NULL);
	expect_config_error("# comment\n[storage\npath = x\n", 2, NULL);
	/* a secret pasted on its own line is reported by line number only */
	expect_config_error("[master_key]\n\n" SECRET "\n", 3, NULL);
}

/* libinih (Debian's build) reads lines into a 200-byte buffer. A value longer
 * than that must be read whole or refused with the right line number; cutting
 * it short, or reading its tail as another line, would point the server at
 * another file. */
static void test_long_value_not_truncated(void **state)
{
	struct config cfg;
	char path[301], text[400], err[256];
	int r, same, busy;
	(void)state;

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	snprintf(text, sizeof(text), "[storage]\npath = %s\nbusy_timeout_ms = 5\n", path);
	assert_int_equal(config_defaults(&cfg, "/d"), 0);
	r = config_parse_string(&cfg, text, err, sizeof(err));
	print_message("r = %d, error text: %s\n", r, err);
	/* compare after freeing, so a failure leaks nothing under ASan */
	same = r == 0 && strcmp(cfg.db_path, path) == 0;
	busy = cfg.busy_timeout_ms;
	config_free(&cfg);
	if (r == 0) {
		assert_true(same);
		assert_int_equal(busy, 5);
	} else {
		assert_int_equal(r, IV_ERR_CONFIG);
		assert_non_null(strstr(err, "line 2"));
	}
}

/* The tail of a long value that starts with white space must not be taken
 * for a continuation line that silently replaces the value. */
static void test_long_value_with_space_not_replaced(void **state)
{
	struct config cfg;
	char path[260], text[400], err[256];
	const size_t prefix = strlen("path = ");
	int r, same;
	(void)state;

	/* a directory name with a space, placed at byte 199 of the line */
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[199 - prefix] = ' ';
	snprintf(path + 199 - prefix + 1, sizeof(path) - (199 - prefix + 1), "tail.db");
	snprintf(text, sizeof(text), "[storage]\npath = %s\n", path);
	assert_int_equal(config_defaults(&cfg, "/d"), 0);
	r = config_parse_string(&cfg, text, err, sizeof(err));
	print_message("r = %d, db_path = %s\n", r, cfg.db_path ? cfg.db_path : "(null)");
	same = r == 0 && strcmp(cfg.db_path, path) == 0;
	config_free(&cfg);
	if (r == 0)
		assert_true(same);
	else
		assert_int_equal(r, IV_ERR_CONFIG);
}

/* However long the value, the error text never contains any of it. */
static void test_long_value_not_in_error(void **state)
{
	struct config cfg;
	char value[260], text[400], err[256];
	const size_t prefix = strlen("pkcs11_module = ");
	int r;
	(void)state;

	/* the part past the line buffer looks like "name = x" */
	memset(value, 'b', sizeof(value));
	value[0] = '/';
	snprintf(value + 199 - prefix, sizeof(value) - (199 - prefix), "%s=x", SECRET);
	snprintf(text, sizeof(text), "[master_key]\npkcs11_module = %s\n", value);
	assert_int_equal(config_defaults(&cfg, "/d"), 0);
	r = config_parse_string(&cfg, text, err, sizeof(err));
	config_free(&cfg);
	if (r != 0) {
		print_message("error text: %s\n", err);
		assert_null(strstr(err, SECRET));
		assert_null(strstr(err, "bbbb"));
	}
}

static void test_too_large(void **state)
{
	struct config cfg;
	char err[256];
	/* static: 64 KiB is too much for a test's stack */
	static char text[CONFIG_MAX_SIZE + 2];
	(void)state;

	/* comment lines up to exactly the limit are fine */
	memset(text, '#', CONFIG_MAX_SIZE);
	for (size_t i = 63; i < CONFIG_MAX_SIZE; i += 64)
		text[i] = '\n';
	text[CONFIG_MAX_SIZE] = '\0';
	assert_int_equal(config_defaults(&cfg, "/d"), 0);
	assert_int_equal(config_parse_string(&cfg, text, err, sizeof(err)), 0);

	/* one byte more is refused before parsing */
	text[CONFIG_MAX_SIZE] = '\n';
	text[CONFIG_MAX_SIZE + 1] = '\0';
	assert_int_equal(config_parse_string(&cfg, text, err, sizeof(err)), IV_ERR_TOO_LARGE);
	assert_true(strlen(err) > 0);
	config_free(&cfg);
}

/* Every field set away from its default, rendered, parsed back over fresh
 * defaults: the same configuration comes out. */
static void test_render_round_trip(void **state)
{
	struct config a, b;
	char err[256];
	char *text;
	(void)state;

	for (int level = LOG_LEVEL_DEBUG; level <= LOG_LEVEL_ERROR; level++) {
		for (int prov = MK_PROVIDER_FILE; prov <= MK_PROVIDER_PKCS11; prov++) {
			assert_int_equal(config_defaults(&a, "/data"), 0);
			assert_int_equal(config_parse_string(&a, every_key, err, sizeof(err)), 0);
			a.log_level = level;
			a.mk_provider = (enum mk_provider_kind)prov;

			text = config_render(&a);
			assert_non_null(text);
			assert_int_equal(config_defaults(&b, "/data"), 0);
			if (config_parse_string(&b, text, err, sizeof(err)) != 0)
				fail_msg("rendered configuration does not parse: %s", err);

			assert_string_equal(b.db_path, a.db_path);
			assert_int_equal(b.busy_timeout_ms, a.busy_timeout_ms);
			assert_int_equal(b.mk_provider, a.mk_provider);
			assert_string_equal(b.mk_key_dir, a.mk_key_dir);
			assert_string_equal(b.passphrase_env, a.passphrase_env);
			assert_int_equal(b.kdf_opslimit, a.kdf_opslimit);
			assert_int_equal(b.kdf_memlimit, a.kdf_memlimit);
			assert_string_equal(b.pkcs11_module, a.pkcs11_module);
			assert_string_equal(b.pkcs11_token_label, a.pkcs11_token_label);
			assert_string_equal(b.pkcs11_pin_env, a.pkcs11_pin_env);
			assert_string_equal(b.pkcs11_key_label, a.pkcs11_key_label);
			assert_int_equal(b.rotation_batch_size, a.rotation_batch_size);
			assert_string_equal(b.tls_certificate, a.tls_certificate);
			assert_string_equal(b.tls_private_key, a.tls_private_key);
			assert_string_equal(b.log_file, a.log_file);
			assert_int_equal(b.log_level, a.log_level);
			free(text);
			config_free(&a);
			config_free(&b);
		}
	}

	/* the defaults render to a file that parses back to the defaults */
	assert_int_equal(config_defaults(&a, "/data"), 0);
	text = config_render(&a);
	assert_non_null(text);
	assert_int_equal(config_defaults(&b, "/elsewhere"), 0);
	assert_int_equal(config_parse_string(&b, text, err, sizeof(err)), 0);
	assert_int_equal(b.kdf_memlimit, a.kdf_memlimit);
	assert_string_equal(b.db_path, a.db_path);
	assert_int_equal(b.log_level, a.log_level);
	free(text);
	config_free(&a);
	config_free(&b);
}

/* Every section is written, not only the ones `init` sets: a file changed
 * in [mqtt], [webhooks], [appserver] or [lwm2m], rendered, reads back to the
 * same values, and rendering what was read gives the same text. */
static void test_render_every_section(void **state)
{
	struct config a, b;
	char err[256];
	char *text, *again;
	static const char *const sections[] = {"[storage]", "[master_key]", "[tls]", "[log]",
					       "[http]", "[backend]", "[session]", "[auth]",
					       "[appserver]", "[mqtt]", "[webhooks]", "[lwm2m]"};
	(void)state;

	assert_int_equal(config_defaults(&a, "/data"), 0);
	assert_int_equal(config_parse_string(&a,
					     "[mqtt]\nurl = mqtts://broker.example:8883\nqos = 2\n"
					     "[webhooks]\ntimeout_s = 7\n"
					     "[appserver]\nuplink_retention_days = 9\n"
					     "[lwm2m]\nnosec = 127.0.0.1:5683\nshort_server_id = 42\n",
					     err, sizeof(err)),
			 0);
	text = config_render(&a);
	assert_non_null(text);
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (strstr(text, sections[i]) == NULL)
			fail_msg("%s is not rendered", sections[i]);
	assert_int_equal(config_defaults(&b, "/data"), 0);
	if (config_parse_string(&b, text, err, sizeof(err)) != 0)
		fail_msg("rendered configuration does not parse: %s", err);
	assert_string_equal(b.mqtt_url, "mqtts://broker.example:8883");
	assert_int_equal(b.mqtt_qos, 2);
	assert_int_equal(b.webhooks_timeout_s, 7);
	assert_int_equal(b.appserver_uplink_retention_days, 9);
	assert_string_equal(b.lwm2m_nosec, "127.0.0.1:5683");
	assert_int_equal(b.lwm2m_short_server_id, 42);
	again = config_render(&b);
	assert_non_null(again);
	assert_string_equal(again, text);
	free(text);
	free(again);
	config_free(&a);
	config_free(&b);
}

/* Values that reach config_render from the command line (`init
 * --pkcs11-token-label ...`) may hold what INI cannot say: a line break, an
 * inline comment, edge white space, or more than a line buffer. Rendering
 * must refuse them (NULL) or produce a file that reads back to the same
 * values; anything else is a configuration nobody asked for. */
static void test_render_awkward_values(void **state)
{
	static char long_path[251];
	const char *values[] = {
		"/opt/My HSM/lib#1=x.so", /* spaces, '#', '=': fine in INI */
		"team ;prod",             /* ';' after a space starts a comment */
		" padded ",               /* edge white space is stripped */
		"label\nprovider = file", /* a line break injects a key */
		long_path,                /* longer than libinih's line buffer */
	};
	struct config a, b;
	char err[256];
	int failures = 0;
	(void)state;

	memset(long_path, 'c', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char *text;
		int r;
		assert_int_equal(config_defaults(&a, "/d"), 0);
		a.mk_provider = MK_PROVIDER_PKCS11;
		free(a.pkcs11_token_label);
		a.pkcs11_token_label = strdup(values[i]);
		assert_non_null(a.pkcs11_token_label);
		text = config_render(&a);
		if (text == NULL) {
			print_message("value %zu: refused by config_render\n", i);
			config_free(&a);
			continue;
		}
		assert_int_equal(config_defaults(&b, "/d"), 0);
		r = config_parse_string(&b, text, err, sizeof(err));
		if (r != 0) {
			print_message("value %zu: rendered file does not parse: %s\n", i, err);
			failures++;
		} else if (strcmp(b.pkcs11_token_label, a.pkcs11_token_label) != 0 ||
			   b.mk_provider != a.mk_provider) {
			print_message("value %zu: reads back different (label %s, provider %s)\n",
				      i,
				      strcmp(b.pkcs11_token_label, a.pkcs11_token_label) ? "changed"
											  : "same",
				      mk_provider_name(b.mk_provider));
			failures++;
		} else {
			print_message("value %zu: round trip ok\n", i);
		}
		free(text);
		config_free(&a);
		config_free(&b);
	}
	assert_int_equal(failures, 0);
}

static void test_config_path(void **state)
{
	struct config cfg;
	char *p;
	(void)state;

	assert_int_equal(config_defaults(&cfg, "/var/lib/iotvault"), 0);
	p = config_path(&cfg, "iotvault.db");
	assert_non_null(p);
	assert_string_equal(p, "/var/lib/iotvault/iotvault.db");
	free(p);
	p = config_path(&cfg, "tls/cert.pem");
	assert_string_equal(p, "/var/lib/iotvault/tls/cert.pem");
	free(p);
	p = config_path(&cfg, "/etc/iotvault/cert.pem");
	assert_string_equal(p, "/etc/iotvault/cert.pem");
	free(p);
	config_free(&cfg);

	/* a relative data directory stays relative */
	assert_int_equal(config_defaults(&cfg, "data"), 0);
	p = config_path(&cfg, cfg.db_path);
	assert_string_equal(p, "data/iotvault.db");
	free(p);
	config_free(&cfg);
}

/* config_load reads DIR/iotvault.conf over the defaults. */
static void test_config_load(void **state)
{
	char dir[] = "/tmp/iotvault-test-config-XXXXXX";
	char file[PATH_MAX], err[512];
	struct config cfg;
	FILE *f;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/%s", dir, CONFIG_FILE_NAME);

	/* no file: not found, and CFG holds nothing to free */
	assert_int_equal(config_load(&cfg, dir, err, sizeof(err)), IV_ERR_NOT_FOUND);
	assert_null(cfg.data_dir);

	f = fopen(file, "w");
	assert_non_null(f);
	fputs(every_key, f);
	fclose(f);
	assert_int_equal(config_load(&cfg, dir, err, sizeof(err)), 0);
	check_every_key(&cfg);
	assert_string_equal(cfg.data_dir, dir);
	config_free(&cfg);

	/* a bad file fails and leaves no half-filled configuration */
	f = fopen(file, "w");
	assert_non_null(f);
	fputs("[master_key]\nsecret = " SECRET "\n", f);
	fclose(f);
	assert_int_equal(config_load(&cfg, dir, err, sizeof(err)), IV_ERR_CONFIG);
	assert_null(strstr(err, SECRET));
	assert_non_null(strstr(err, "line 2"));
	assert_null(cfg.data_dir);

	/* an oversized file is refused without being read */
	f = fopen(file, "w");
	assert_non_null(f);
	for (int i = 0; i <= CONFIG_MAX_SIZE / 64; i++)
		fputs("# padding padding padding padding padding padding padding paddin\n", f);
	fclose(f);
	assert_int_equal(config_load(&cfg, dir, err, sizeof(err)), IV_ERR_TOO_LARGE);

	assert_int_equal(unlink(file), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_defaults, setup),
		cmocka_unit_test_setup(test_parse_every_key, setup),
		cmocka_unit_test_setup(test_enum_values, setup),
		cmocka_unit_test_setup(test_unknown_key, setup),
		cmocka_unit_test_setup(test_bad_values, setup),
		cmocka_unit_test_setup(test_int_bounds_accepted, setup),
		cmocka_unit_test_setup(test_syntax_error, setup),
		cmocka_unit_test_setup(test_long_value_not_truncated, setup),
		cmocka_unit_test_setup(test_long_value_with_space_not_replaced, setup),
		cmocka_unit_test_setup(test_long_value_not_in_error, setup),
		cmocka_unit_test_setup(test_too_large, setup),
		cmocka_unit_test_setup(test_render_round_trip, setup),
		cmocka_unit_test_setup(test_render_awkward_values, setup),
		cmocka_unit_test_setup(test_render_every_section, setup),
		cmocka_unit_test_setup(test_config_path, setup),
		cmocka_unit_test_setup(test_config_load, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
