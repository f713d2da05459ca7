/* `iotvault hygiene`: the fleet report of a tenant, and the rotation of the
 * fingerprint key behind duplicate detection. */
#include "cmd/cli.h"
#include "iotvault/keycheck.h"
#include "iotvault/mkprov.h"
#include "iotvault/vault_hygiene.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
	"iotvault hygiene --data DIR --tenant T [--json] [--batch-size N] [--groups N]\n"
	"       iotvault hygiene rotate-fingerprint-key --data DIR [--batch-size N]\n"
	"\n"
	"The report scans every device key of the tenant inside the vault (nothing is\n"
	"revealed): counts per weak-key rule, duplicate groups (device ids), keys also\n"
	"used in other tenants (counts only), keys revealed or exported, devices\n"
	"needing provisioning, and the fleet score (docs/hygiene.md).\n"
	"rotate-fingerprint-key replaces the fingerprint key and recomputes every\n"
	"fingerprint in batches (audited; run it again to resume an interrupted one).";

enum { OPT_DATA = 1, OPT_TENANT, OPT_JSON, OPT_BATCH, OPT_GROUPS, OPT_HELP };

static const struct option options[] = {
	{"data", required_argument, NULL, OPT_DATA},
	{"tenant", required_argument, NULL, OPT_TENANT},
	{"json", no_argument, NULL, OPT_JSON},
	{"batch-size", required_argument, NULL, OPT_BATCH},
	{"groups", required_argument, NULL, OPT_GROUPS},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

#define GROUP_IDS 100

static void progress(void *ctx, const struct fp_rotation_progress *p)
{
	(void)ctx;
	fprintf(stderr, "recomputed %lld fingerprints, %lld remaining\n", (long long)p->recomputed,
		(long long)p->remaining);
}

static int rotate(struct app *app, long batch)
{
	struct fp_rotation_progress res = {0};
	struct mk_provider *prov = NULL;
	int r;

	if (batch) {
		/* the vault copied the batch size at open; re-open with the override */
		app->cfg.rotation_batch_size = (int)batch;
		vault_free(app->v);
		app->v = NULL;
		if ((r = mk_provider_new(&app->cfg, 1, &prov)) != 0 ||
		    (r = vault_open(&app->cfg, app->st, prov, &app->v)) != 0)
			return cli_error(r, "%s", iv_error_message(r));
	}
	if ((r = vault_fingerprint_rotate(app->v, &app->actor, progress, NULL, &res)) != 0)
		return cli_error(r, "fingerprint key rotation stopped: %s (run it again to resume)",
				 iv_error_message(r));
	printf("fingerprint key rotation %s: version %lld is current; recomputed %lld "
	       "fingerprints\n",
	       res.resumed ? "resumed and complete" : "complete", (long long)res.version,
	       (long long)res.recomputed);
	return 0;
}

static void print_text(json_t *j, const char *tenant)
{
	json_t *dup = json_object_get(j, "duplicates"), *other = json_object_get(j, "other_tenants");
	json_t *rules = json_object_get(j, "rules"), *v, *g;
	const char *k;
	size_t i, n;

#define NUM(obj, name) ((long long)json_integer_value(json_object_get((obj), (name))))
	printf("tenant: %s\nscore: %lld/100\n", tenant, NUM(j, "score"));
	printf("devices: %lld\nkeys: %lld (scanned %lld, errors %lld, fingerprints pending %lld)\n",
	       NUM(j, "devices"), NUM(j, "keys"), NUM(j, "keys_scanned"), NUM(j, "scan_errors"),
	       NUM(j, "fingerprints_pending"));
	printf("devices with weak keys: %lld\ndevices on default keys: %lld\n",
	       NUM(j, "devices_with_weak_keys"), NUM(j, "devices_on_default_keys"));
	json_object_foreach(rules, k, v)
		if (json_integer_value(v) > 0)
			printf("rule %s: %lld keys\n", k, (long long)json_integer_value(v));
	printf("duplicate groups: %lld (%lld devices); devices sharing a key: %lld\n",
	       NUM(dup, "groups"), NUM(dup, "devices_in_groups"), NUM(dup, "devices_sharing_a_key"));
	json_array_foreach(json_object_get(dup, "list"), i, g) {
		printf("duplicate group %zu (%lld devices):", i + 1, NUM(g, "size"));
		json_array_foreach(json_object_get(g, "devices"), n, v)
			printf(" %lld", (long long)json_integer_value(v));
		printf("\n");
	}
	printf("own keys also used in other tenants: %lld (by %lld devices there)\n",
	       NUM(other, "own_keys_shared"), NUM(other, "devices"));
	printf("devices with revealed keys: %lld\ndevices exported: %lld (%lld export events)\n",
	       NUM(j, "devices_revealed"), NUM(j, "devices_exported"), NUM(j, "export_events"));
	printf("devices needing provisioning: %lld\ndevices with recorded findings: %lld\n",
	       NUM(j, "devices_needing_provisioning"), NUM(j, "devices_flagged"));
#undef NUM
}

int cmd_hygiene(int argc, char **argv)
{
	const char *data = NULL, *tenant = NULL;
	long batch = 0, groups = 20;
	int rotate_key = 0, json = 0, c, r, status;
	struct hygiene_report *rep = NULL;
	struct tenant t;
	struct app app;
	json_t *j = NULL;

	if (argc > 1 && strcmp(argv[1], "rotate-fingerprint-key") == 0) {
		rotate_key = 1;
		argc--;
		argv++;
	}
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_DATA: data = optarg; break;
		case OPT_TENANT: tenant = optarg; break;
		case OPT_JSON: json = 1; break;
		case OPT_BATCH:
			if (cli_parse_int(optarg, 1, 10000, &batch))
				return cli_usage(usage);
			break;
		case OPT_GROUPS:
			if (cli_parse_int(optarg, 0, 1000, &groups))
				return cli_usage(usage);
			break;
		case OPT_HELP: printf("usage: %s\n", usage); return 0;
		default: return cli_usage(usage);
		}
	}
	if (optind != argc)
		return cli_usage(usage);
	if (!rotate_key && tenant == NULL)
		return cli_error(IV_ERR_USAGE, "--tenant NAME is required");
	if ((status = app_open(&app, cli_data_dir(data))) != 0)
		return status;
	if (rotate_key) {
		status = rotate(&app, batch);
		goto out;
	}
	if ((status = cli_tenant(&app, tenant, &t)) != 0)
		goto out;
	if ((r = hygiene_report_build(app.v, t.id, (int)batch, &rep)) != 0) {
		status = cli_error(r, "hygiene report: %s", iv_error_message(r));
		goto out;
	}
	if ((j = hygiene_report_json(app.v, rep, (int)groups, GROUP_IDS)) == NULL) {
		status = cli_error(IV_ERR_NOMEM, "hygiene report: out of memory");
		goto out;
	}
	if (json) {
		json_object_set_new(j, "tenant", json_string(t.name));
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
	} else
		print_text(j, t.name);
	/* success */
	status = 0;
out:
	json_decref(j);
	hygiene_report_free(rep);
	app_close(&app);
	return status;
}
