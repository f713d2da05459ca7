/* `iotvault device export`: devices and their keys in The Things Stack CSV,
 * ChirpStack JSON or iotvault LwM2M JSON, encrypted to an OpenPGP recipient
 * key (or, with --plaintext, not encrypted). The local operator owns the data
 * directory and its master key, so --plaintext is theirs to ask for; the
 * HTTP API allows it to admins only. */
#include "cmd/cli.h"
#include "iotvault/export.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"iotvault device export --data DIR --tenant T --format tts-csv|chirpstack-json|lwm2m-json\n"
	"         (--recipient-key PUBKEY_FILE | --plaintext) [--out FILE]\n"
	"         [--type lorawan|lwm2m] [--tag TAG] [--mac-version 1.0|1.1|1.0.x]\n"
	"\n"
	"The document is encrypted to the one OpenPGP public key in PUBKEY_FILE\n"
	"(ASCII-armoured or binary). --plaintext writes it unencrypted. --out creates\n"
	"FILE (mode 0600, never overwritten); without it the output goes to standard\n"
	"output. Every export is audited (action device.export).";

enum {
	OPT_DATA = 1, OPT_TENANT, OPT_FORMAT, OPT_RECIPIENT, OPT_PLAINTEXT, OPT_OUT, OPT_TYPE,
	OPT_TAG, OPT_MAC, OPT_HELP
};

static const struct option options[] = {
	{"data", required_argument, NULL, OPT_DATA},
	{"tenant", required_argument, NULL, OPT_TENANT},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"recipient-key", required_argument, NULL, OPT_RECIPIENT},
	{"plaintext", no_argument, NULL, OPT_PLAINTEXT},
	{"out", required_argument, NULL, OPT_OUT},
	{"type", required_argument, NULL, OPT_TYPE},
	{"tag", required_argument, NULL, OPT_TAG},
	{"mac-version", required_argument, NULL, OPT_MAC},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

struct export_opts {
	const char *data, *tenant, *format, *recipient, *out, *type, *tag, *mac;
	int plaintext, help;
};

static int parse(int argc, char **argv, struct export_opts *o)
{
	int c;
	memset(o, 0, sizeof(*o));
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_DATA: o->data = optarg; break;
		case OPT_TENANT: o->tenant = optarg; break;
		case OPT_FORMAT: o->format = optarg; break;
		case OPT_RECIPIENT: o->recipient = optarg; break;
		case OPT_PLAINTEXT: o->plaintext = 1; break;
		case OPT_OUT: o->out = optarg; break;
		case OPT_TYPE: o->type = optarg; break;
		case OPT_TAG: o->tag = optarg; break;
		case OPT_MAC: o->mac = optarg; break;
		case OPT_HELP: o->help = 1; break;
		default: return IV_ERR_USAGE;
		}
	}
	return optind == argc ? 0 : IV_ERR_USAGE;
}

/* Reads the public key file (at most EXPORT_RECIPIENT_KEY_MAX bytes). */
static int read_key_file(const char *path, uint8_t **out, size_t *out_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t n;

	if (f == NULL)
		return cli_error(IV_ERR_IO, "--recipient-key: cannot open %s: %s", path,
				 strerror(errno));
	if ((buf = malloc(EXPORT_RECIPIENT_KEY_MAX + 1)) == NULL) { /* lint:not-secret */
		fclose(f);
		return cli_error(IV_ERR_NOMEM, "out of memory");
	}
	n = fread(buf, 1, EXPORT_RECIPIENT_KEY_MAX + 1, f);
	if (ferror(f) || n == 0 || n > EXPORT_RECIPIENT_KEY_MAX) {
		fclose(f);
		free(buf);
		return cli_error(IV_ERR_INVALID, "--recipient-key: %s is empty, unreadable or larger "
						 "than %d bytes", path, EXPORT_RECIPIENT_KEY_MAX);
	}
	fclose(f);
	*out = buf;
	*out_len = n;
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return IV_ERR_IO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int cmd_device_export(int argc, char **argv)
{
	struct export_opts o;
	struct export_request req;
	struct export_result res = {0};
	struct app app;
	struct tenant t;
	uint8_t *pubkey = NULL;
	size_t pubkey_len = 0;
	char err[512];
	int status, fd = -1, created = 0, r, opened = 0;

	if (parse(argc, argv, &o) != 0)
		return cli_usage(usage);
	if (o.help) {
		printf("usage: %s\n", usage);
		return 0;
	}
	if (o.tenant == NULL)
		return cli_error(IV_ERR_USAGE, "--tenant NAME is required");
	if (o.format == NULL || export_format_from_name(o.format) == 0)
		return cli_error(IV_ERR_USAGE, "--format: tts-csv, chirpstack-json or lwm2m-json");
	if (o.type && strcmp(o.type, "lorawan") != 0 && strcmp(o.type, "lwm2m") != 0)
		return cli_error(IV_ERR_USAGE, "--type: lorawan or lwm2m");
	if ((o.recipient != NULL) == o.plaintext)
		return cli_error(IV_ERR_USAGE, "give --recipient-key PUBKEY_FILE, or --plaintext to "
					       "export keys unencrypted");
	if (o.recipient && (status = read_key_file(o.recipient, &pubkey, &pubkey_len)) != 0)
		return status;
	if ((status = app_open(&app, cli_data_dir(o.data))) != 0)
		goto out;
	opened = 1;
	if ((status = cli_tenant(&app, o.tenant, &t)) != 0)
		goto out;
	/* the output file exists before any key is opened, so that a path
	 * problem is found before the export is recorded */
	if (o.out) {
		fd = open(o.out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			status = cli_error(IV_ERR_IO, "--out: cannot create %s: %s", o.out,
					   errno == EEXIST ? "file exists (not overwritten)"
							   : strerror(errno));
			goto out;
		}
		created = 1;
	}
	/* a gpg child that dies, or a closed standard output, must end in an
	 * error and a rolled-back export, not in a process killed mid-way */
	signal(SIGPIPE, SIG_IGN);
	req = (struct export_request){
		.tenant_id = t.id,
		.format = export_format_from_name(o.format),
		.kind = o.type,
		.tag = o.tag,
		.mac_version = o.mac,
		.recipient_key = pubkey,
		.recipient_key_len = pubkey_len,
		.plaintext = o.plaintext,
	};
	if ((r = export_devices(app.v, &app.actor, &req, &res, err, sizeof(err))) != 0) {
		status = cli_error(r, "export: %s", err);
		goto out;
	}
	if (write_all(fd >= 0 ? fd : STDOUT_FILENO, res.document->data, res.document_len) != 0 ||
	    (fd >= 0 && fsync(fd) != 0)) {
		status = cli_error(IV_ERR_IO, "writing the export: %s", strerror(errno));
		goto out;
	}
	created = 0;
	fprintf(stderr, "exported %lld device(s) (%lld LoRaWAN, %lld LwM2M) as %s, %s%s\n",
		(long long)res.devices, (long long)res.lorawan, (long long)res.lwm2m, o.format,
		res.encrypted ? "encrypted to " : "NOT encrypted",
		res.encrypted ? res.recipient_fpr : "");
	/* success */
	status = 0;
out:
	if (fd >= 0)
		close(fd);
	/* no half-written or empty file is left behind */
	if (created)
		unlink(o.out);
	export_result_clear(&res);
	free(pubkey);
	if (opened)
		app_close(&app);
	return status;
}
