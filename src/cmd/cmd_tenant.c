/* `iotvault tenant add|list`: tenants are created by whoever runs the
 * installation, each with its first admin (password printed once). */
#include "cmd/cli.h"
#include "iotvault/auth.h"
#include "iotvault/crypto.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
	"iotvault tenant add --data DIR --name NAME [--admin USER]\n"
	"       iotvault tenant list --data DIR\n"
	"\n"
	"add creates the tenant and its first admin user (default 'admin'), whose\n"
	"generated password is printed once.";

enum { OPT_DATA = 1, OPT_NAME, OPT_ADMIN, OPT_HELP };

static const struct option options[] = {
	{"data", required_argument, NULL, OPT_DATA},
	{"name", required_argument, NULL, OPT_NAME},
	{"admin", required_argument, NULL, OPT_ADMIN},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

static int print_one(void *ctx, const struct tenant *t)
{
	(void)ctx;
	printf("%lld\t%s\n", (long long)t->id, t->name);
	return 0;
}

int cmd_tenant(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL, *data = NULL, *name = NULL, *admin = "admin";
	char password[GENERATED_PASSWORD_LEN + 1];
	struct app app;
	int64_t id = 0;
	int c, r, status;

	if (sub == NULL)
		return cli_usage(usage);
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
		printf("usage: %s\n", usage);
		return 0;
	}
	if (strcmp(sub, "add") != 0 && strcmp(sub, "list") != 0) {
		cli_error(IV_ERR_USAGE, "unknown tenant subcommand '%s'", sub);
		return cli_usage(usage);
	}
	optind = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_DATA: data = optarg; break;
		case OPT_NAME: name = optarg; break;
		case OPT_ADMIN: admin = optarg; break;
		case OPT_HELP: printf("usage: %s\n", usage); return 0;
		default: return cli_usage(usage);
		}
	}
	if (optind != argc - 1 || (strcmp(sub, "add") == 0 && name == NULL))
		return cli_usage(usage);
	if (name && (!auth_name_valid(name) || !auth_name_valid(admin)))
		return cli_error(IV_ERR_INVALID, "tenant and admin names: 1-64 characters of a-z 0-9 . _ -, "
						 "starting with a letter or digit");
	if ((status = app_open(&app, cli_data_dir(data))) != 0)
		return status;
	if (strcmp(sub, "list") == 0) {
		r = app.st->ops->tenant_list(app.st, print_one, NULL);
		status = r ? cli_error(r, "%s", iv_error_message(r)) : 0;
		goto out;
	}
	if ((r = tenant_create(app.v, &app.actor, name, &id)) != 0) {
		status = r == IV_ERR_EXISTS ? cli_error(r, "tenant '%s' already exists", name)
					    : cli_error(r, "%s", iv_error_message(r));
		goto out;
	}
	password_generate(password, GENERATED_PASSWORD_LEN);
	if ((r = user_create(app.v, &app.actor, id, admin, "admin", password, strlen(password))) != 0) {
		status = cli_error(r, "tenant created, but not its admin: %s", iv_error_message(r));
		goto out;
	}
	printf("tenant:         %s (id %lld)\nadmin user:     %s\nadmin password: %s\n"
	       "                (shown once)\n",
	       name, (long long)id, admin, password);
	/* success */
	status = 0;
out:
	secmem_wipe(password, sizeof(password));
	app_close(&app);
	return status;
}
