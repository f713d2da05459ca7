/* `iotvault master status|rotate|retire`. */
#include "cmd/cli.h"
#include "iotvault/log.h"
#include "iotvault/mkprov.h"

#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char usage[] =
	"iotvault master status --data DIR\n"
	"       iotvault master rotate --data DIR [--batch-size N]\n"
	"       iotvault master retire --data DIR --below N\n"
	"\n"
	"rotate adds a master key version and re-wraps every data key under it in\n"
	"batches (or resumes an interrupted rotation); the server keeps serving.\n"
	"retire destroys versions below N once no secret depends on them.";

enum { OPT_DATA = 1, OPT_BATCH, OPT_BELOW, OPT_HELP };

static const struct option options[] = {
	{"data", required_argument, NULL, OPT_DATA},
	{"batch-size", required_argument, NULL, OPT_BATCH},
	{"below", required_argument, NULL, OPT_BELOW},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

struct status_ctx {
	uint32_t current;
	int64_t below_current;
};

static int print_version(void *ctx, const struct master_key_record *mk)
{
	struct status_ctx *sc = ctx;
	char when[32];
	time_t t = (time_t)(mk->created_at / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("version %u: %s%s, %lld secrets, created %s\n", mk->version, mk->state,
	       mk->version == sc->current ? " (current)" : "", (long long)mk->secrets, when);
	if (mk->version < sc->current)
		sc->below_current += mk->secrets;
	return 0;
}

static void progress(void *ctx, const struct rotation_progress *p)
{
	(void)ctx;
	fprintf(stderr, "re-wrapped %lld data keys, %lld remaining\n", (long long)p->rewrapped,
		(long long)p->remaining);
}

int cmd_master(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL, *data = NULL;
	long batch = 0, below = 0;
	struct app app;
	int c, r, status;

	if (sub == NULL)
		return cli_usage(usage);
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
		printf("usage: %s\n", usage);
		return 0;
	}
	if (strcmp(sub, "status") != 0 && strcmp(sub, "rotate") != 0 && strcmp(sub, "retire") != 0) {
		cli_error(IV_ERR_USAGE, "unknown master subcommand '%s'", sub);
		return cli_usage(usage);
	}
	optind = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_DATA: data = optarg; break;
		case OPT_BATCH:
			if (cli_parse_int(optarg, 1, 100000, &batch))
				return cli_usage(usage);
			break;
		case OPT_BELOW:
			if (cli_parse_int(optarg, 1, UINT32_MAX > LONG_MAX ? LONG_MAX : UINT32_MAX, &below))
				return cli_usage(usage);
			break;
		case OPT_HELP: printf("usage: %s\n", usage); return 0;
		default: return cli_usage(usage);
		}
	}
	if (optind != argc - 1 || (strcmp(sub, "retire") == 0 && below == 0))
		return cli_usage(usage);
	if ((status = app_open(&app, cli_data_dir(data))) != 0)
		return status;
	if (strcmp(sub, "status") == 0) {
		struct status_ctx sc = {vault_current_version(app.v), 0};
		printf("provider: %s\ncurrent version: %u\n", mk_provider_name(app.cfg.mk_provider),
		       sc.current);
		if ((r = app.st->ops->master_key_list(app.st, print_version, &sc)) != 0) {
			status = cli_error(r, "%s", iv_error_message(r));
			goto out;
		}
		if (sc.below_current)
			printf("rotation: incomplete, %lld secrets below version %u (run master rotate "
			       "to finish)\n",
			       (long long)sc.below_current, sc.current);
		else
			printf("rotation: complete\n");
	} else if (strcmp(sub, "rotate") == 0) {
		struct rotation_progress res;
		if (batch)
			app.cfg.rotation_batch_size = (int)batch;
		/* the vault copied the batch size at open; re-open with the override */
		if (batch) {
			vault_free(app.v);
			app.v = NULL;
			struct mk_provider *prov = NULL;
			if ((r = mk_provider_new(&app.cfg, 1, &prov)) != 0 ||
			    (r = vault_open(&app.cfg, app.st, prov, &app.v)) != 0) {
				status = cli_error(r, "%s", iv_error_message(r));
				goto out;
			}
		}
		if ((r = vault_rotate(app.v, &app.actor, progress, NULL, &res)) != 0) {
			status = cli_error(r, "rotation stopped: %s (run master rotate again to resume)",
					   iv_error_message(r));
			goto out;
		}
		printf("rotation %s: master key version %u is current; re-wrapped %lld data keys\n",
		       res.resumed ? "resumed and complete" : "complete", res.to_version,
		       (long long)res.rewrapped);
	} else {
		int64_t dependent = 0;
		r = vault_retire(app.v, &app.actor, (uint32_t)below, &dependent);
		if (r == IV_ERR_REFUSED) {
			status = dependent
					 ? cli_error(r, "refused: %lld secrets still depend on versions below "
							"%ld; run master rotate first",
						     (long long)dependent, below)
					 : cli_error(r, "refused: versions below %ld include the current "
							"version %u",
						     below, vault_current_version(app.v));
			goto out;
		}
		if (r != 0) {
			status = cli_error(r, "%s", iv_error_message(r));
			goto out;
		}
		printf("retired master key versions below %ld\n", below);
	}
	/* success */
	status = 0;
out:
	app_close(&app);
	return status;
}
