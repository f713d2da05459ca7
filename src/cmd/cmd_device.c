/* `iotvault device add|list|show|delete`. */
#include "cmd/cli.h"
#include "cmd/cmd_import.h"
#include "iotvault/device.h"
#include "iotvault/export.h"
#include "iotvault/audit.h"
#include "iotvault/hex.h"
#include "iotvault/store_hygiene.h"
#include "iotvault/store_lorawan.h"

#include <getopt.h>
#include <limits.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"iotvault device add --data DIR --tenant T --type lorawan --dev-eui HEX --join-eui HEX\n"
	"         [--mac-version 1.0.0|1.0.1|1.0.2|1.0.3|1.0.4|1.1] [--app-key SRC] [--nwk-key SRC]\n"
	"         [--name NAME] [--tags a,b] [--key-policy reject|flag|regenerate]\n"
	"       iotvault device add --data DIR --tenant T --type lwm2m --endpoint EP\n"
	"         [--psk-identity ID] [--psk SRC] [--psk-len N] [--name NAME] [--tags a,b]\n"
	"         [--key-policy reject|flag|regenerate]\n"
	"       iotvault device list --data DIR --tenant T [--after ID] [--limit N] [--json]\n"
	"       iotvault device show --data DIR --tenant T (--id N | --dev-eui HEX | --endpoint EP)\n"
	"         [--reveal] [--json]\n"
	"       iotvault device delete --data DIR --tenant T (--id N | --dev-eui HEX | --endpoint EP)\n"
	"       iotvault device join-settings --data DIR --tenant T --dev-eui HEX\n"
	"         [--as-peer NAME] [--home-net-id NETID]\n"
	"       iotvault device reset-nonces --data DIR --tenant T --dev-eui HEX\n"
	"\n"
	"SRC is generate (default), env:NAME, file:PATH or - (standard input); keys are\n"
	"never accepted literally on the command line. --reveal writes an audit record\n"
	"for each key before printing it. A weak or duplicated key is refused (exit 4,\n"
	"naming the rules) unless --key-policy flag (stored, findings recorded) or\n"
	"regenerate (replaced by a generated key; the device needs provisioning).";

enum {
	OPT_DATA = 1, OPT_TENANT, OPT_TYPE, OPT_DEV_EUI, OPT_JOIN_EUI, OPT_MAC, OPT_APP_KEY,
	OPT_NWK_KEY, OPT_NAME, OPT_TAGS, OPT_ENDPOINT, OPT_PSK_ID, OPT_PSK, OPT_PSK_LEN, OPT_AFTER,
	OPT_LIMIT, OPT_JSON, OPT_ID, OPT_REVEAL, OPT_AS_PEER, OPT_HOME_NET, OPT_KEY_POLICY, OPT_HELP
};

static const struct option options[] = {
	{"data", required_argument, NULL, OPT_DATA},
	{"tenant", required_argument, NULL, OPT_TENANT},
	{"type", required_argument, NULL, OPT_TYPE},
	{"dev-eui", required_argument, NULL, OPT_DEV_EUI},
	{"join-eui", required_argument, NULL, OPT_JOIN_EUI},
	{"mac-version", required_argument, NULL, OPT_MAC},
	{"app-key", required_argument, NULL, OPT_APP_KEY},
	{"nwk-key", required_argument, NULL, OPT_NWK_KEY},
	{"name", required_argument, NULL, OPT_NAME},
	{"tags", required_argument, NULL, OPT_TAGS},
	{"endpoint", required_argument, NULL, OPT_ENDPOINT},
	{"psk-identity", required_argument, NULL, OPT_PSK_ID},
	{"psk", required_argument, NULL, OPT_PSK},
	{"psk-len", required_argument, NULL, OPT_PSK_LEN},
	{"after", required_argument, NULL, OPT_AFTER},
	{"limit", required_argument, NULL, OPT_LIMIT},
	{"json", no_argument, NULL, OPT_JSON},
	{"id", required_argument, NULL, OPT_ID},
	{"reveal", no_argument, NULL, OPT_REVEAL},
	{"as-peer", required_argument, NULL, OPT_AS_PEER},
	{"home-net-id", required_argument, NULL, OPT_HOME_NET},
	{"key-policy", required_argument, NULL, OPT_KEY_POLICY},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

struct device_opts {
	const char *data, *tenant, *type, *dev_eui, *join_eui, *mac, *app_key, *nwk_key, *name, *tags;
	const char *endpoint, *psk_id, *psk, *id, *as_peer, *home_net_id, *key_policy;
	long psk_len, after, limit;
	int json, reveal, help;
};

static int parse(int argc, char **argv, struct device_opts *o)
{
	int c;
	memset(o, 0, sizeof(*o));
	o->psk_len = DEVICE_PSK_DEFAULT;
	o->limit = 100;
	optind = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_DATA: o->data = optarg; break;
		case OPT_TENANT: o->tenant = optarg; break;
		case OPT_TYPE: o->type = optarg; break;
		case OPT_DEV_EUI: o->dev_eui = optarg; break;
		case OPT_JOIN_EUI: o->join_eui = optarg; break;
		case OPT_MAC: o->mac = optarg; break;
		case OPT_APP_KEY: o->app_key = optarg; break;
		case OPT_NWK_KEY: o->nwk_key = optarg; break;
		case OPT_NAME: o->name = optarg; break;
		case OPT_TAGS: o->tags = optarg; break;
		case OPT_ENDPOINT: o->endpoint = optarg; break;
		case OPT_PSK_ID: o->psk_id = optarg; break;
		case OPT_PSK: o->psk = optarg; break;
		case OPT_PSK_LEN:
			if (cli_parse_int(optarg, DEVICE_PSK_MIN, DEVICE_PSK_MAX, &o->psk_len))
				return IV_ERR_USAGE;
			break;
		case OPT_AFTER:
			if (cli_parse_int(optarg, 0, LONG_MAX, &o->after))
				return IV_ERR_USAGE;
			break;
		case OPT_LIMIT:
			if (cli_parse_int(optarg, 1, 10000, &o->limit))
				return IV_ERR_USAGE;
			break;
		case OPT_JSON: o->json = 1; break;
		case OPT_ID: o->id = optarg; break;
		case OPT_REVEAL: o->reveal = 1; break;
		case OPT_AS_PEER: o->as_peer = optarg; break;
		case OPT_HOME_NET: o->home_net_id = optarg; break;
		case OPT_KEY_POLICY: o->key_policy = optarg; break;
		case OPT_HELP: o->help = 1; break;
		default: return IV_ERR_USAGE;
		}
	}
	return optind == argc ? 0 : IV_ERR_USAGE;
}

static json_t *device_json(const struct device_record *d, const char *tenant)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(d->id));
	json_object_set_new(o, "tenant", json_string(tenant));
	json_object_set_new(o, "type", json_string(d->kind));
	json_object_set_new(o, "name", json_string(d->name));
	json_object_set_new(o, "tags", json_string(d->tags));
	if (strcmp(d->kind, "lorawan") == 0) {
		json_object_set_new(o, "dev_eui", json_string(d->dev_eui));
		json_object_set_new(o, "join_eui", json_string(d->join_eui));
		json_object_set_new(o, "mac_version", json_string(d->mac_version));
	} else {
		json_object_set_new(o, "endpoint", json_string(d->endpoint));
		json_object_set_new(o, "psk_identity", json_string(d->psk_identity));
	}
	json_object_set_new(o, "created_at_ms", json_integer(d->created_at));
	return o;
}

static void print_device(const struct device_record *d, const char *tenant)
{
	printf("id: %lld\ntenant: %s\ntype: %s\nname: %s\ntags: %s\n", (long long)d->id, tenant,
	       d->kind, d->name, d->tags);
	if (strcmp(d->kind, "lorawan") == 0)
		printf("dev_eui: %s\njoin_eui: %s\nmac_version: %s\n", d->dev_eui, d->join_eui,
		       d->mac_version);
	else
		printf("endpoint: %s\npsk_identity: %s\n", d->endpoint, d->psk_identity);
}

struct findings_ctx {
	json_t *array; /* JSON output, or NULL for text */
	long count;
};

static int finding_one(void *ctx, const struct device_finding *f)
{
	struct findings_ctx *fc = ctx;
	fc->count++;
	if (fc->array) {
		json_t *o = json_object();
		json_object_set_new(o, "field", json_string(f->field));
		json_object_set_new(o, "rule", json_string(f->rule));
		json_object_set_new(o, "message", json_string(f->detail));
		json_array_append_new(fc->array, o);
	} else
		printf("finding: %s %s: %s\n", f->field, f->rule, f->detail);
	return 0;
}

/* needs_provisioning and the recorded findings, as JSON members of J or as text. */
static int show_hygiene(struct app *app, const struct device_record *d, json_t *j)
{
	struct findings_ctx fc = {j ? json_array() : NULL, 0};
	int needs = 0, r;

	if ((r = app->st->ops->hygiene->device_get_needs_provisioning(app->st, d->tenant_id, d->id,
								       &needs)) != 0) {
		json_decref(fc.array);
		return r;
	}
	if (j)
		json_object_set_new(j, "needs_provisioning", json_boolean(needs));
	else
		printf("needs_provisioning: %s\n", needs ? "yes" : "no");
	r = app->st->ops->hygiene->finding_list(app->st, d->id, finding_one, &fc);
	if (j)
		json_object_set_new(j, "findings", fc.array);
	return r;
}

static int do_add(struct app *app, const struct device_opts *o, int64_t tenant_id,
		  const char *tenant)
{
	struct device_input in = {0};
	struct device_record dev;
	struct device_key_report *report = NULL;
	char err[512] = "";
	int r, status;
	int lorawan = o->type && strcmp(o->type, "lorawan") == 0;
	int lwm2m = o->type && strcmp(o->type, "lwm2m") == 0;

	if (o->key_policy && key_policy_parse(o->key_policy, &in.key_policy) != 0) {
		status = cli_error(IV_ERR_USAGE, "--key-policy: reject, flag or regenerate");
		goto out;
	}
	if ((report = calloc(1, sizeof(*report))) == NULL) {
		status = cli_error(IV_ERR_NOMEM, "out of memory");
		goto out;
	}
	in.kind = o->type;
	in.name = o->name;
	in.tags = o->tags;
	in.dev_eui = o->dev_eui;
	in.join_eui = o->join_eui;
	in.mac_version = o->mac;
	in.endpoint = o->endpoint;
	in.psk_identity = o->psk_id;
	/* read keys only for options that apply; validation reports the rest */
	if (lorawan) {
		int v11 = o->mac && strcmp(o->mac, "1.1") == 0;
		if ((r = key_source_read(o->app_key, AES128_KEY_LEN, AES128_KEY_LEN, &in.app_key, err,
					 sizeof(err))) != 0) {
			status = cli_error(r, "app-key: %s", err);
			goto out;
		}
		if ((v11 || o->nwk_key) &&
		    (r = key_source_read(o->nwk_key, AES128_KEY_LEN, AES128_KEY_LEN, &in.nwk_key, err,
					 sizeof(err))) != 0) {
			status = cli_error(r, "nwk-key: %s", err);
			goto out;
		}
		if (o->psk) {
			status = cli_error(IV_ERR_INVALID, "psk: only for lwm2m devices");
			goto out;
		}
	} else if (lwm2m) {
		if ((r = key_source_read(o->psk, (size_t)o->psk_len, 0, &in.psk, err, sizeof(err))) != 0) {
			status = cli_error(r, "psk: %s", err);
			goto out;
		}
		if (o->app_key || o->nwk_key) {
			status = cli_error(IV_ERR_INVALID, "app-key, nwk-key: only for lorawan devices");
			goto out;
		}
	}
	r = device_create_checked(app->v, &app->actor, tenant_id, &in, &dev, report, err,
				  sizeof(err));
	if (r == IV_ERR_WEAK_KEY) {
		/* every rule of every key, by name; never the key */
		for (size_t i = 0; i < report->n; i++)
			fprintf(stderr, "iotvault: --%s: %s: %s\n",
				strcmp(report->items[i].field, "app_key") == 0   ? "app-key"
				: strcmp(report->items[i].field, "nwk_key") == 0 ? "nwk-key"
										 : "psk",
				report->items[i].rule, report->items[i].message);
	}
	if (r != 0) {
		/* "dev_eui: ..." names the JSON field; here it is the option --dev-eui */
		char *colon = strchr(err, ':');
		if (colon != NULL) {
			for (char *p = err; p < colon; p++)
				if (*p == '_')
					*p = '-';
			status = cli_error(r, "--%s", err);
		} else
			status = cli_error(r, "%s", err[0] ? err : iv_error_message(r));
		goto out;
	}
	if (o->json) {
		json_t *j = device_json(&dev, tenant);
		r = show_hygiene(app, &dev, j);
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(j);
	} else {
		print_device(&dev, tenant);
		r = show_hygiene(app, &dev, NULL);
	}
	if (r != 0) {
		status = cli_error(r, "device %lld stored; reading its findings: %s",
				   (long long)dev.id, iv_error_message(r));
		goto out;
	}
	/* success */
	status = 0;
out:
	free(report);
	secbuf_free(in.app_key);
	secbuf_free(in.nwk_key);
	secbuf_free(in.psk);
	return status;
}

struct list_ctx {
	const char *tenant;
	json_t *array;
	int64_t last_id;
	long count;
};

static int list_one(void *ctx, const struct device_record *d)
{
	struct list_ctx *lc = ctx;
	lc->last_id = d->id;
	lc->count++;
	if (lc->array)
		json_array_append_new(lc->array, device_json(d, lc->tenant));
	else
		printf("%lld\t%s\t%s\t%s\n", (long long)d->id, d->kind,
		       d->dev_eui[0] ? d->dev_eui : d->endpoint, d->name);
	return 0;
}

static int do_list(struct app *app, const struct device_opts *o, int64_t tenant_id,
		   const char *tenant)
{
	struct list_ctx lc = {tenant, o->json ? json_array() : NULL, 0, 0};
	int r = app->st->ops->device_list(app->st, tenant_id, NULL, o->after, (int)o->limit, list_one, &lc);
	if (r != 0) {
		json_decref(lc.array);
		return cli_error(r, "listing devices: %s", iv_error_message(r));
	}
	if (lc.array) {
		json_t *page = json_object();
		json_object_set_new(page, "devices", lc.array);
		/* cursor for the next page, absent on the last one */
		if (lc.count == o->limit)
			json_object_set_new(page, "next_after", json_integer(lc.last_id));
		json_dumpf(page, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(page);
	} else if (lc.count == o->limit)
		fprintf(stderr, "more devices: --after %lld\n", (long long)lc.last_id);
	return 0;
}

enum show_action { SHOW_PLAIN, SHOW_DELETE, SHOW_JOIN_SETTINGS, SHOW_RESET_NONCES };

/* LoRaWAN join settings: the device's application-server peer and home NetID. */
static int set_join_settings(struct app *app, const struct device_opts *o,
			     const struct device_record *dev)
{
	struct peer_record peer;
	struct audit_event ev;
	struct store *st = app->st;
	char object[64], home[7] = "", detail[160];
	uint8_t netid[3];
	int64_t peer_id = 0;
	int r;

	if (strcmp(dev->kind, "lorawan") != 0)
		return cli_error(IV_ERR_INVALID, "join settings are for lorawan devices");
	if (o->as_peer && o->as_peer[0]) {
		r = st->ops->lorawan->peer_get_by_name(st, o->as_peer, &peer);
		if (r != 0 || strcmp(peer.kind, "as") != 0 ||
		    (peer.tenant_id != 0 && peer.tenant_id != dev->tenant_id))
			return cli_error(IV_ERR_NOT_FOUND, "--as-peer: no application-server peer '%s'",
					 o->as_peer);
		peer_id = peer.id;
	}
	if (o->home_net_id && o->home_net_id[0]) {
		if (hex_decode_exact(o->home_net_id, netid, sizeof(netid)) != 0)
			return cli_error(IV_ERR_INVALID, "--home-net-id: a NetID, 6 hex digits");
		hex_encode_upper(netid, sizeof(netid), home);
	}
	snprintf(object, sizeof(object), "device:%lld", (long long)dev->id);
	snprintf(detail, sizeof(detail), "as_peer=%s home_net_id=%s", o->as_peer ? o->as_peer : "",
		 home);
	ev = (struct audit_event){dev->tenant_id, "device.join_settings", object, "success", detail};
	if ((r = st->ops->begin(st, 1)) != 0)
		return cli_error(r, "%s", iv_error_message(r));
	if ((r = audit_append(app->v, &app->actor, &ev)) != 0 ||
	    (r = st->ops->lorawan->device_set_join_settings(st, dev->tenant_id, dev->id, peer_id,
							    home)) != 0 ||
	    (r = st->ops->commit(st)) != 0) {
		st->ops->rollback(st);
		return cli_error(r, "%s", iv_error_message(r));
	}
	printf("device %lld: application server %s, home NetID %s\n", (long long)dev->id,
	       peer_id ? o->as_peer : "(none)", home[0] ? home : "(none)");
	return 0;
}

/* Forgets the DevNonce history, for devices that lost their counter or draw
 * nonces from a weak generator and would otherwise be locked out. */
static int reset_nonces(struct app *app, const struct device_record *dev)
{
	struct audit_event ev;
	struct store *st = app->st;
	char object[64];
	int r;
	snprintf(object, sizeof(object), "device:%lld", (long long)dev->id);
	ev = (struct audit_event){dev->tenant_id, "device.reset_nonces", object, "success", dev->dev_eui};
	if ((r = st->ops->begin(st, 1)) != 0)
		return cli_error(r, "%s", iv_error_message(r));
	if ((r = audit_append(app->v, &app->actor, &ev)) != 0 ||
	    (r = st->ops->lorawan->dev_nonce_reset(st, dev->id)) != 0 ||
	    (r = st->ops->commit(st)) != 0) {
		st->ops->rollback(st);
		return cli_error(r, "%s", iv_error_message(r));
	}
	printf("device %lld: DevNonce history cleared\n", (long long)dev->id);
	return 0;
}

static int do_show(struct app *app, const struct device_opts *o, int64_t tenant_id,
		   const char *tenant, enum show_action action)
{
	struct device_selector sel;
	struct device_record dev;
	struct secret_record *sec = NULL;
	char eui[17];
	const char *const *fields;
	json_t *j = NULL;
	int r, status;

	if ((r = device_selector_parse(o->id, o->dev_eui, o->endpoint, &sel, eui)) != 0)
		return r == IV_ERR_USAGE
			       ? cli_error(r, "name the device with exactly one of --id, --dev-eui, "
					      "--endpoint")
			       : cli_error(r, "malformed device identifier");
	r = app->st->ops->device_get(app->st, tenant_id, &sel, &dev);
	if (r != 0)
		return r == IV_ERR_NOT_FOUND ? cli_error(r, "device not found in tenant '%s'", tenant)
					     : cli_error(r, "%s", iv_error_message(r));
	if (action == SHOW_JOIN_SETTINGS)
		return set_join_settings(app, o, &dev);
	if (action == SHOW_RESET_NONCES)
		return reset_nonces(app, &dev);
	if (action == SHOW_DELETE) {
		if ((r = device_delete(app->v, &app->actor, &dev)) != 0)
			return cli_error(r, "delete: %s", iv_error_message(r));
		printf("deleted device %lld\n", (long long)dev.id);
		return 0;
	}
	if ((sec = malloc(sizeof(*sec))) == NULL)
		return cli_error(IV_ERR_NOMEM, "out of memory");
	if (o->json)
		j = device_json(&dev, tenant);
	else
		print_device(&dev, tenant);
	fields = device_key_fields(&dev);
	if ((r = show_hygiene(app, &dev, j)) != 0) {
		status = cli_error(r, "findings: %s", iv_error_message(r));
		goto out;
	}
	for (size_t i = 0; fields[i] != NULL; i++) {
		struct secret_ref ref = {tenant_id, "device", dev.id, fields[i]};
		char text[2 * DEVICE_PSK_MAX + 64];
		struct secbuf *key = NULL;

		r = app->st->ops->secret_get(app->st, "device", dev.id, fields[i], sec);
		if (r != 0) {
			status = cli_error(r, "%s: %s", fields[i], iv_error_message(r));
			goto out;
		}
		if (o->reveal) {
			if ((r = vault_reveal(app->v, &app->actor, &ref, &key)) != 0) {
				status = cli_error(r, "%s: %s", fields[i], iv_error_message(r));
				goto out;
			}
			if (key->len > DEVICE_PSK_MAX + 16) {
				secbuf_free(key);
				status = cli_error(IV_ERR_INTERNAL, "%s: unexpected length", fields[i]);
				goto out;
			}
			hex_encode_upper(key->data, key->len, text);
			secbuf_free(key);
		} else
			snprintf(text, sizeof(text), "sealed (master key v%u)", sec->mk_version);
		if (j)
			json_object_set_new(j, fields[i], json_string(text));
		else
			printf("%s: %s\n", fields[i], text);
		secmem_wipe(text, sizeof(text));
	}
	if (j) {
		char *dump = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
		if (dump) {
			puts(dump);
			secmem_wipe(dump, strlen(dump));
			free(dump);
		}
	}
	/* success */
	status = 0;
out:
	if (j) {
		/* jansson's copies of revealed keys: overwrite before release */
		const char *const *f = fields;
		for (size_t i = 0; f && f[i]; i++) {
			json_t *s = json_object_get(j, f[i]);
			if (s && json_is_string(s))
				secmem_wipe((char *)json_string_value(s), json_string_length(s));
		}
		json_decref(j);
	}
	fflush(stdout);
	free(sec);
	return status;
}

int cmd_device(int argc, char **argv)
{
	struct device_opts o;
	struct app app;
	struct tenant t;
	const char *sub = argc > 1 ? argv[1] : NULL;
	int status;

	if (sub == NULL)
		return cli_usage(usage);
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
		printf("usage: %s\n", usage);
		return 0;
	}
	if (strcmp(sub, "export") == 0)
		return cmd_device_export(argc - 1, argv + 1);
	if (strcmp(sub, "import") == 0)
		return cmd_device_import(argc - 1, argv + 1);
	if (strcmp(sub, "add") != 0 && strcmp(sub, "list") != 0 && strcmp(sub, "show") != 0 &&
	    strcmp(sub, "delete") != 0 && strcmp(sub, "join-settings") != 0 &&
	    strcmp(sub, "reset-nonces") != 0) {
		cli_error(IV_ERR_USAGE, "unknown device subcommand '%s'", sub);
		return cli_usage(usage);
	}
	if (parse(argc - 1, argv + 1, &o) != 0)
		return cli_usage(usage);
	if (o.help) {
		printf("usage: %s\n", usage);
		return 0;
	}
	if (o.tenant == NULL)
		return cli_error(IV_ERR_USAGE, "--tenant NAME is required");
	if ((status = app_open(&app, cli_data_dir(o.data))) != 0)
		return status;
	if ((status = cli_tenant(&app, o.tenant, &t)) != 0)
		goto out;
	if (strcmp(sub, "add") == 0)
		status = do_add(&app, &o, t.id, t.name);
	else if (strcmp(sub, "list") == 0)
		status = do_list(&app, &o, t.id, t.name);
	else
		status = do_show(&app, &o, t.id, t.name,
				 strcmp(sub, "delete") == 0		? SHOW_DELETE
				 : strcmp(sub, "join-settings") == 0 ? SHOW_JOIN_SETTINGS
				 : strcmp(sub, "reset-nonces") == 0	? SHOW_RESET_NONCES
									: SHOW_PLAIN);
out:
	app_close(&app);
	return status;
}
