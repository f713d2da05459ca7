/* `iotvault init`: creates a data directory with its configuration, database,
 * master key, TLS certificate, first tenant and admin user. */
#include "cmd/cli.h"
#include "core/fsutil.h"
#include "iotvault/audit.h"
#include "iotvault/auth.h"
#include "iotvault/crypto.h"
#include "iotvault/log.h"
#include "iotvault/mkprov.h"
#include "iotvault/tls.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"iotvault init --data DIR [--master-key-provider file|passphrase|pkcs11]\n"
	"       [--tenant NAME] [--admin NAME] [--passphrase-env VAR]\n"
	"       [--kdf-opslimit N] [--kdf-memlimit-mib N] [--pkcs11-module PATH]\n"
	"       [--pkcs11-token-label LABEL] [--pkcs11-pin-env VAR] [--pkcs11-key-label LABEL]\n"
	"       [--quiet]\n"
	"\n"
	"Creates DIR (mode 0700) and refuses if it exists. The admin password is\n"
	"generated, written once to DIR/initial-admin-password (0600) and printed.";

enum {
	OPT_DATA = 1,
	OPT_PROVIDER,
	OPT_TENANT,
	OPT_ADMIN,
	OPT_PASS_ENV,
	OPT_OPS,
	OPT_MEM,
	OPT_P11_MODULE,
	OPT_P11_TOKEN,
	OPT_P11_PIN_ENV,
	OPT_P11_KEY,
	OPT_QUIET,
	OPT_HELP
};

static const struct option options[] = {
	{"data", required_argument, NULL, OPT_DATA},
	{"master-key-provider", required_argument, NULL, OPT_PROVIDER},
	{"tenant", required_argument, NULL, OPT_TENANT},
	{"admin", required_argument, NULL, OPT_ADMIN},
	{"passphrase-env", required_argument, NULL, OPT_PASS_ENV},
	{"kdf-opslimit", required_argument, NULL, OPT_OPS},
	{"kdf-memlimit-mib", required_argument, NULL, OPT_MEM},
	{"pkcs11-module", required_argument, NULL, OPT_P11_MODULE},
	{"pkcs11-token-label", required_argument, NULL, OPT_P11_TOKEN},
	{"pkcs11-pin-env", required_argument, NULL, OPT_P11_PIN_ENV},
	{"pkcs11-key-label", required_argument, NULL, OPT_P11_KEY},
	{"quiet", no_argument, NULL, OPT_QUIET},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

static int replace(char **slot, const char *value)
{
	char *copy = strdup(value);
	if (copy == NULL)
		return IV_ERR_NOMEM;
	free(*slot);
	*slot = copy;
	return 0;
}

static int write_text_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return fs_write_private(path, text, strlen(text), 1);
}

int cmd_init(int argc, char **argv)
{
	const char *data_dir = NULL, *tenant_name = "default", *admin = "admin";
	struct config cfg;
	struct store *st = NULL;
	struct vault *v = NULL;
	struct mk_provider *prov = NULL;
	struct audit_actor actor;
	char actor_buf[96], path[PATH_MAX], fingerprint[96], password[GENERATED_PASSWORD_LEN + 2];
	char *text = NULL, *p;
	int64_t tenant_id = 0;
	int quiet = 0, created = 0, c, r, status;
	long n;

	if ((r = config_defaults(&cfg, ".")) != 0)
		return cli_error(r, "out of memory");
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		r = 0;
		switch (c) {
		case OPT_DATA: data_dir = optarg; break;
		case OPT_PROVIDER:
			if (mk_provider_parse(optarg, &cfg.mk_provider) != 0)
				r = IV_ERR_USAGE;
			break;
		case OPT_TENANT: tenant_name = optarg; break;
		case OPT_ADMIN: admin = optarg; break;
		case OPT_PASS_ENV: r = replace(&cfg.passphrase_env, optarg); break;
		case OPT_OPS:
			if ((r = cli_parse_int(optarg, 1, 20, &n)) == 0)
				cfg.kdf_opslimit = (uint64_t)n;
			break;
		case OPT_MEM:
			if ((r = cli_parse_int(optarg, 8, 4096, &n)) == 0)
				cfg.kdf_memlimit = (size_t)n * 1024u * 1024u;
			break;
		case OPT_P11_MODULE: r = replace(&cfg.pkcs11_module, optarg); break;
		case OPT_P11_TOKEN: r = replace(&cfg.pkcs11_token_label, optarg); break;
		case OPT_P11_PIN_ENV: r = replace(&cfg.pkcs11_pin_env, optarg); break;
		case OPT_P11_KEY: r = replace(&cfg.pkcs11_key_label, optarg); break;
		case OPT_QUIET: quiet = 1; break;
		case OPT_HELP:
			printf("usage: %s\n", usage);
			config_free(&cfg);
			return 0;
		default: r = IV_ERR_USAGE;
		}
		if (r) {
			config_free(&cfg);
			return cli_usage(usage);
		}
	}
	data_dir = cli_data_dir(data_dir);
	if (optind != argc || data_dir == NULL) {
		config_free(&cfg);
		return cli_usage(usage);
	}
	if (!auth_name_valid(tenant_name) || !auth_name_valid(admin)) {
		config_free(&cfg);
		return cli_error(IV_ERR_INVALID, "tenant and admin names: 1-64 characters of a-z 0-9 . _ -, "
						 "starting with a letter or digit");
	}
	cli_actor(&actor, actor_buf, sizeof(actor_buf));

	/* mkdir fails on anything already there: init never overwrites */
	if (mkdir(data_dir, 0700) != 0) {
		status = errno == EEXIST
				 ? cli_error(IV_ERR_EXISTS, "%s already exists; init never overwrites a "
							    "data directory",
					     data_dir)
				 : cli_error(IV_ERR_IO, "cannot create %s: %s", data_dir, strerror(errno));
		config_free(&cfg);
		return status;
	}
	created = 1;
	if (chmod(data_dir, 0700) != 0 || replace(&cfg.data_dir, data_dir) != 0) {
		status = cli_error(IV_ERR_IO, "cannot set up %s", data_dir);
		goto out;
	}
	log_set_quiet(1);
	snprintf(path, sizeof(path), "%s/%s", data_dir, cfg.log_file);
	if (log_open_file(path) != 0) {
		status = cli_error(IV_ERR_IO, "cannot create the log file");
		goto out;
	}
	if ((text = config_render(&cfg)) == NULL) {
		status = cli_error(IV_ERR_INVALID, "option values must be 1-%d characters without "
						   "control characters, ';', '#' or edge spaces",
				   CONFIG_MAX_VALUE);
		goto out;
	}
	if ((r = write_text_file(data_dir, CONFIG_FILE_NAME, text)) != 0) {
		status = cli_error(IV_ERR_IO, "cannot write the configuration");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/tls", data_dir);
	if (mkdir(path, 0700) != 0) {
		status = cli_error(IV_ERR_IO, "cannot create %s", path);
		goto out;
	}
	{
		char *cert = config_path(&cfg, cfg.tls_certificate);
		char *key = config_path(&cfg, cfg.tls_private_key);
		r = (cert && key) ? tls_create_self_signed(cert, key, fingerprint) : IV_ERR_NOMEM;
		free(cert);
		free(key);
		if (r != 0) {
			status = cli_error(r, "cannot create the TLS certificate");
			goto out;
		}
	}
	if ((p = config_path(&cfg, cfg.db_path)) == NULL) {
		status = cli_error(IV_ERR_NOMEM, "out of memory");
		goto out;
	}
	r = store_sqlite_open(p, 1, cfg.busy_timeout_ms, &st);
	free(p);
	if (r != 0) {
		status = cli_error(r, "cannot create the database");
		goto out;
	}
	if ((r = mk_provider_new(&cfg, 1, &prov)) != 0) {
		status = cli_error(r, "master key provider '%s': %s", mk_provider_name(cfg.mk_provider),
				   iv_error_message(r));
		goto out;
	}
	if ((r = vault_create(&cfg, st, prov, &actor, &v)) != 0) {
		status = cli_error(r, "cannot create the vault: %s", iv_error_message(r));
		goto out;
	}
	if ((r = tenant_create(v, &actor, tenant_name, &tenant_id)) != 0) {
		status = cli_error(r, "cannot create the tenant: %s", iv_error_message(r));
		goto out;
	}
	password_generate(password, GENERATED_PASSWORD_LEN);
	if ((r = user_create(v, &actor, tenant_id, admin, "admin", password, strlen(password))) != 0) {
		status = cli_error(r, "cannot create the admin user: %s", iv_error_message(r));
		goto out;
	}
	password[GENERATED_PASSWORD_LEN] = '\n';
	password[GENERATED_PASSWORD_LEN + 1] = '\0';
	snprintf(path, sizeof(path), "%s/initial-admin-password", data_dir);
	if ((r = fs_write_private(path, password, GENERATED_PASSWORD_LEN + 1, 1)) != 0) {
		status = cli_error(r, "cannot write %s", path);
		goto out;
	}
	password[GENERATED_PASSWORD_LEN] = '\0';
	log_info("initialised data directory %s (provider %s, tenant %s, admin %s)", data_dir,
		 mk_provider_name(cfg.mk_provider), tenant_name, admin);
	if (!quiet) {
		printf("data directory:  %s\n", data_dir);
		printf("master key:      %s provider, version 1\n", mk_provider_name(cfg.mk_provider));
		printf("tenant:          %s\n", tenant_name);
		printf("admin user:      %s\n", admin);
		printf("admin password:  %s\n", password);
		printf("                 (shown once; also in %s/initial-admin-password, mode 0600:\n"
		       "                  delete that file once you have stored the password)\n",
		       data_dir);
		printf("TLS certificate: %s/%s\n", data_dir, cfg.tls_certificate);
		printf("  SHA-256 fingerprint %s\n", fingerprint);
	}
	created = 0;
	/* success */
	status = 0;
out:
	secmem_wipe(password, sizeof(password));
	vault_free(v);
	store_close(st);
	free(text);
	if (created) {
		/* do not leave a half-made data directory behind */
		char cmd_path[PATH_MAX];
		const char *const leftovers[] = {"initial-admin-password", "iotvault.db-wal",
						 "iotvault.db-shm", "iotvault.db", CONFIG_FILE_NAME,
						 "tls/cert.pem", "tls/key.pem", "tls",
						 "keys/master-v1.key", "keys", "iotvault.log"};
		for (size_t i = 0; i < sizeof(leftovers) / sizeof(leftovers[0]); i++) {
			snprintf(cmd_path, sizeof(cmd_path), "%s/%s", data_dir, leftovers[i]);
			if (remove(cmd_path) != 0 && errno != ENOENT)
				log_warning("could not remove %s", cmd_path);
		}
		if (rmdir(data_dir) != 0)
			log_warning("could not remove %s; remove it before retrying init", data_dir);
	}
	log_close();
	config_free(&cfg);
	return status;
}
