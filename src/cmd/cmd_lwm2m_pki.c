/* `iotvault lwm2m-pki`: a tenant's LwM2M device CA and a device's DM
 * security mode (psk, rpk, x509) from the command line, with the same
 * checks and audit records as the REST API (lwm2m_pki.h). A running server
 * picks a CA change made here up within a second. */
#include "cmd/cli.h"
#include "iotvault/hex.h"
#include "iotvault/lwm2m_pki.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"iotvault lwm2m-pki ca-set --data DIR --tenant T --file CA.pem\n"
	"       iotvault lwm2m-pki ca-show|ca-delete --data DIR --tenant T\n"
	"       iotvault lwm2m-pki security-set --data DIR --tenant T --endpoint EP\n"
	"                --mode psk|rpk|x509 [--file KEY-OR-CERT]\n"
	"       iotvault lwm2m-pki security-show --data DIR --tenant T --endpoint EP\n"
	"\n"
	"--file for rpk: the device's public key (PEM or DER SubjectPublicKeyInfo);\n"
	"for x509: the device's certificate (PEM or DER), naming EP in its CN or SAN.";

enum { OPT_DATA = 1, OPT_TENANT, OPT_FILE, OPT_ENDPOINT, OPT_MODE, OPT_HELP };

static const struct option options[] = {
	{"data", required_argument, NULL, OPT_DATA},
	{"tenant", required_argument, NULL, OPT_TENANT},
	{"file", required_argument, NULL, OPT_FILE},
	{"endpoint", required_argument, NULL, OPT_ENDPOINT},
	{"mode", required_argument, NULL, OPT_MODE},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

/* FILE into a NUL-terminated heap buffer of at most MAX bytes. */
static int slurp(const char *path, size_t max, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n;
	if (f == NULL)
		return cli_error(IV_ERR_IO, "cannot read %s", path);
	if ((buf = malloc(max + 1)) == NULL) {
		fclose(f);
		return cli_error(IV_ERR_NOMEM, "out of memory");
	}
	n = fread(buf, 1, max + 1, f);
	fclose(f);
	if (n == 0 || n > max) {
		free(buf);
		return cli_error(IV_ERR_INVALID, "%s: empty or larger than %zu bytes", path, max);
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static void print_ca(const struct lwm2m_tenant_ca_record *ca)
{
	printf("subject: %s\nsha256: %s\nnot_after: %lld\nupdated_at: %lld\n", ca->subject, ca->sha256,
	       (long long)ca->not_after, (long long)ca->updated_at);
}

static int do_ca(struct app *app, const char *sub, const struct tenant *t, const char *file)
{
	struct lwm2m_tenant_ca_record *ca = malloc(sizeof(*ca));
	const char *why = NULL;
	char *pem = NULL;
	size_t len = 0;
	int r, status;

	if (ca == NULL)
		return cli_error(IV_ERR_NOMEM, "out of memory");
	if (strcmp(sub, "ca-show") == 0) {
		r = app->st->ops->lwm2m_pki->ca_get(app->st, t->id, ca);
		status = r == 0 ? 0 : cli_error(r, "%s", r == IV_ERR_NOT_FOUND
								  ? "the tenant has no LwM2M device CA"
								  : iv_error_message(r));
		if (r == 0) {
			print_ca(ca);
			fputs(ca->certificate_pem, stdout);
		}
	} else if (strcmp(sub, "ca-delete") == 0) {
		r = lwm2m_pki_ca_delete(app->v, &app->actor, t->id);
		status = r == 0 ? 0 : cli_error(r, "%s", r == IV_ERR_NOT_FOUND
								  ? "the tenant has no LwM2M device CA"
								  : iv_error_message(r));
	} else if (file == NULL) {
		status = cli_usage(usage);
	} else if ((status = slurp(file, LWM2M_CA_PEM_MAX, &pem, &len)) == 0) {
		if ((r = lwm2m_pki_parse_ca(pem, len, t->id, ca, &why)) != 0)
			status = cli_error(r, "%s: %s", file, why);
		else if ((r = lwm2m_pki_ca_set(app->v, &app->actor, ca)) != 0)
			status = cli_error(r, "%s", iv_error_message(r));
		else
			print_ca(ca);
	}
	free(pem);
	free(ca);
	return status;
}

static int do_security(struct app *app, const char *sub, const struct tenant *t,
		       const char *endpoint, const char *mode, const char *file)
{
	struct lwm2m_device_security_record *sec = malloc(sizeof(*sec));
	struct device_selector sel = {0};
	struct device_record dev;
	const char *why = NULL;
	char *data = NULL;
	size_t len = 0;
	int r, status = 0;

	if (sec == NULL)
		return cli_error(IV_ERR_NOMEM, "out of memory");
	sel.endpoint = endpoint;
	if (endpoint == NULL) {
		status = cli_usage(usage);
		goto out;
	}
	if ((r = app->st->ops->device_get(app->st, t->id, &sel, &dev)) != 0 ||
	    strcmp(dev.kind, "lwm2m") != 0) {
		status = cli_error(r ? r : IV_ERR_NOT_FOUND, "no LwM2M device '%s' in tenant '%s'",
				   endpoint, t->name);
		goto out;
	}
	if (strcmp(sub, "security-show") == 0) {
		char h[65];
		r = app->st->ops->lwm2m_pki->security_get(app->st, dev.id, sec);
		if (r == IV_ERR_NOT_FOUND)
			printf("mode: psk\n");
		else if (r != 0)
			status = cli_error(r, "%s", iv_error_message(r));
		else {
			hex_encode_upper(sec->spki_sha256, sizeof(sec->spki_sha256), h);
			printf("mode: %s\npublic_key_sha256: %s\n", sec->mode, h);
		}
		goto out;
	}
	if (mode == NULL || (strcmp(mode, "psk") == 0) != (file == NULL)) {
		status = cli_usage(usage);
		goto out;
	}
	if (strcmp(mode, "psk") != 0) {
		if ((status = slurp(file, 4 * LWM2M_CERT_DER_MAX, &data, &len)) != 0)
			goto out;
		if ((r = lwm2m_pki_parse_device(mode, (const uint8_t *)data, len, dev.endpoint, sec,
						&why)) != 0) {
			status = cli_error(r, "%s: %s", file, why);
			goto out;
		}
	}
	r = lwm2m_pki_security_set(app->v, &app->actor, &dev, strcmp(mode, "psk") == 0 ? NULL : sec);
	if (r != 0)
		status = cli_error(r, "%s", r == IV_ERR_EXISTS ? "this public key cannot be used (keys are unique on the server)"
							     : iv_error_message(r));
	else
		printf("device %lld (%s): DM security %s\n", (long long)dev.id, dev.endpoint, mode);
out:
	free(data);
	free(sec);
	return status;
}

int cmd_lwm2m_pki(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL, *data = NULL, *tenant = NULL, *file = NULL,
		   *endpoint = NULL, *mode = NULL;
	static const char *const subs[] = {"ca-set", "ca-show", "ca-delete", "security-set",
					   "security-show", NULL};
	struct app app;
	struct tenant t;
	int c, status, known = 0;

	if (sub == NULL)
		return cli_usage(usage);
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
		printf("usage: %s\n", usage);
		return 0;
	}
	for (size_t i = 0; subs[i] != NULL; i++)
		known |= strcmp(sub, subs[i]) == 0;
	if (!known) {
		cli_error(IV_ERR_USAGE, "unknown lwm2m-pki subcommand '%s'", sub);
		return cli_usage(usage);
	}
	optind = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_DATA: data = optarg; break;
		case OPT_TENANT: tenant = optarg; break;
		case OPT_FILE: file = optarg; break;
		case OPT_ENDPOINT: endpoint = optarg; break;
		case OPT_MODE: mode = optarg; break;
		case OPT_HELP: printf("usage: %s\n", usage); return 0;
		default: return cli_usage(usage);
		}
	}
	if (optind != argc - 1)
		return cli_usage(usage);
	if ((status = app_open(&app, cli_data_dir(data))) != 0)
		return status;
	if ((status = cli_tenant(&app, tenant, &t)) == 0)
		status = strncmp(sub, "ca-", 3) == 0 ? do_ca(&app, sub, &t, file)
						     : do_security(&app, sub, &t, endpoint, mode, file);
	app_close(&app);
	return status;
}
