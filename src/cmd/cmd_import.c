/* `iotvault device import`: bulk import of a CSV or JSON file (or standard
 * input) into one tenant, in one transaction, under a key policy. The file is
 * streamed and never copied to disk; the summary names rows and columns of
 * every refused row and never prints key material. */
#include "cmd/cli.h"
#include "cmd/cmd_import.h"
#include "iotvault/import.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
	"iotvault device import --data DIR --tenant T --file PATH|- [--format csv|json]\n"
	"         [--policy reject|flag|regenerate] [--dry-run] [--json]\n"
	"\n"
	"CSV has a header row (DevEUI, JoinEUI/AppEUI, AppKey, NwkKey, MACVersion, name,\n"
	"tags, type; LwM2M: endpoint, psk_identity, psk). Rows without keys get generated\n"
	"ones. --policy (default reject) decides what happens to weak or duplicated keys.\n"
	"All rows are imported or none; --dry-run reports what would happen.";

enum { OPT_DATA = 1, OPT_TENANT, OPT_FILE, OPT_FORMAT, OPT_POLICY, OPT_DRY_RUN, OPT_JSON, OPT_HELP };

static const struct option options[] = {
	{"data", required_argument, NULL, OPT_DATA},
	{"tenant", required_argument, NULL, OPT_TENANT},
	{"file", required_argument, NULL, OPT_FILE},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"policy", required_argument, NULL, OPT_POLICY},
	{"dry-run", no_argument, NULL, OPT_DRY_RUN},
	{"json", no_argument, NULL, OPT_JSON},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

/* Reads the file unbuffered into the reader's guarded window: stdio would
 * keep its own copy of the rows in an ordinary buffer. */
static int file_read(void *ctx, uint8_t *buf, size_t cap, size_t *got)
{
	FILE *f = ctx;
	size_t n = fread(buf, 1, cap, f);
	*got = n;
	return n == 0 && ferror(f) ? IV_ERR_IO : 0;
}

static void print_summary(const struct import_options *opt, const struct import_result *res)
{
	const char *what = res->committed ? "imported" : opt->dry_run ? "dry run" : "refused";
	printf("%s: %zu rows, %zu %s, %zu flagged, %zu regenerated, %zu rejected, %zu with "
	       "generated keys, %zu invalid\n",
	       what, res->rows, res->valid, res->committed ? "created" : "valid", res->flagged, res->regenerated, res->rejected,
	       res->generated, res->invalid);
	for (size_t i = 0; i < res->nnotices; i++) {
		const struct import_notice *n = &res->notices[i];
		printf("row %zu, %s (%s): %s: %s\n", n->row, n->column, n->device, n->action,
		       n->reason);
	}
	if (res->notices_total > res->nnotices)
		printf("... and %zu more\n", res->notices_total - res->nnotices);
	for (size_t i = 0; i < res->nerrors; i++) {
		const struct import_error *e = &res->errors[i];
		if (e->row && e->column[0])
			fprintf(stderr, "row %zu, column %s: %s\n", e->row, e->column, e->message);
		else if (e->row)
			fprintf(stderr, "row %zu: %s\n", e->row, e->message);
		else
			fprintf(stderr, "%s\n", e->message);
	}
	if (res->errors_total > res->nerrors)
		fprintf(stderr, "... and %zu more errors\n", res->errors_total - res->nerrors);
}

int cmd_device_import(int argc, char **argv)
{
	struct import_options opt = {0};
	struct import_result res;
	struct import_source src = {0};
	struct app app;
	struct tenant t;
	const char *data = NULL, *tenant = NULL, *file = NULL;
	FILE *f = NULL;
	int c, json = 0, r, status, opened = 0, have_result = 0;

	opt.format = IMPORT_FORMAT_CSV;
	opt.policy = KEY_POLICY_REJECT;
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_DATA: data = optarg; break;
		case OPT_TENANT: tenant = optarg; break;
		case OPT_FILE: file = optarg; break;
		case OPT_FORMAT:
			if (import_format_parse(optarg, &opt.format) != 0)
				return cli_error(IV_ERR_USAGE, "--format: csv or json");
			break;
		case OPT_POLICY:
			if (key_policy_parse(optarg, &opt.policy) != 0)
				return cli_error(IV_ERR_USAGE, "--policy: reject, flag or regenerate");
			break;
		case OPT_DRY_RUN: opt.dry_run = 1; break;
		case OPT_JSON: json = 1; break;
		case OPT_HELP: printf("usage: %s\n", usage); return 0;
		default: return cli_usage(usage);
		}
	}
	if (optind != argc)
		return cli_usage(usage);
	if (tenant == NULL)
		return cli_error(IV_ERR_USAGE, "--tenant NAME is required");
	if (file == NULL)
		return cli_error(IV_ERR_USAGE, "--file PATH (or - for standard input) is required");
	if (strcmp(file, "-") == 0)
		f = stdin;
	else if ((f = fopen(file, "rbe")) == NULL)
		return cli_error(IV_ERR_IO, "cannot open %s: %s", file, strerror(errno));
	setvbuf(f, NULL, _IONBF, 0);
	if ((status = app_open(&app, cli_data_dir(data))) != 0)
		goto out;
	opened = 1;
	if ((status = cli_tenant(&app, tenant, &t)) != 0)
		goto out;
	if ((r = import_result_init(&res)) != 0) {
		status = cli_error(r, "out of memory");
		goto out;
	}
	have_result = 1;
	opt.tenant_id = t.id;
	src.read = file_read;
	src.ctx = f;
	r = import_run(app.v, &app.actor, &opt, &src, &res);
	if (json) {
		json_t *j = import_result_to_json(&opt, &res);
		json_object_set_new(j, "tenant", json_string(t.name));
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("\n");
		json_decref(j);
	} else
		print_summary(&opt, &res);
	if (r == 0)
		status = 0;
	else if (res.errors_total > 0)
		status = cli_error(r, "import refused: nothing was imported (%zu error(s))",
				   res.errors_total);
	else
		status = cli_error(r, "import failed: nothing was imported");
out:
	if (have_result)
		import_result_clear(&res);
	if (opened)
		app_close(&app);
	if (f != NULL && f != stdin)
		fclose(f);
	return status;
}
