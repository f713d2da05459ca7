/* The fleet report of key hygiene: per-rule counts from a scan of every
 * device key of a tenant (inside the vault, in batches: open, check, wipe),
 * duplicate groups and cross-tenant counts from the fingerprint index, keys
 * revealed or exported (audit log), devices needing provisioning, and the
 * fleet score. docs/hygiene.md describes the figures and the formula. */
#include "iotvault/keycheck.h"
#include "iotvault/device.h"
#include "iotvault/hex.h"
#include "iotvault/log.h"
#include "iotvault/store_hygiene.h"
#include "iotvault/vault_hygiene.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define REPORT_BATCH_DEFAULT 500
#define REPORT_BATCH_MAX 10000
#define SCAN_FINDINGS 16

struct rule_count {
	const char *rule;
	int64_t keys;
};

struct hygiene_report {
	int64_t tenant_id;
	struct hygiene_tenant_counts counts;
	int64_t devices_scanned;
	int64_t keys_scanned;
	int64_t scan_errors;    /* keys that could not be opened or checked */
	int64_t devices_weak;   /* at least one weak-key finding */
	int64_t devices_default; /* a key from the dictionary of published keys */
	size_t nrules;
	struct rule_count *rules;
};

struct scan_batch {
	struct device_record *devs;
	size_t count, cap;
};

static int collect_device(void *ctx, const struct device_record *d)
{
	struct scan_batch *b = ctx;
	if (b->count >= b->cap)
		return IV_ERR_INTERNAL;
	b->devs[b->count++] = *d;
	return 0;
}

static void count_rule(struct hygiene_report *r, const char *rule)
{
	for (size_t i = 0; i < r->nrules; i++)
		if (strcmp(r->rules[i].rule, rule) == 0) {
			r->rules[i].keys++;
			return;
		}
}

/* Checks every key of DEV; CTX is re-prepared with DEV's identifiers. */
static int scan_device(struct vault *v, struct hygiene_report *rep, struct hygiene_context *ctx,
		       const struct device_record *dev)
{
	struct hygiene_finding findings[SCAN_FINDINGS];
	const char *const *fields = device_key_fields(dev);
	int weak = 0, dflt = 0, r;

	ctx->flags = 0;
	if (dev->dev_eui[0] && eui_parse(dev->dev_eui, ctx->dev_eui) == 0)
		ctx->flags |= HYGIENE_HAVE_DEV_EUI;
	if (dev->join_eui[0] && eui_parse(dev->join_eui, ctx->join_eui) == 0)
		ctx->flags |= HYGIENE_HAVE_JOIN_EUI;
	ctx->endpoint = dev->endpoint[0] ? dev->endpoint : NULL;
	ctx->psk_identity = dev->psk_identity[0] ? dev->psk_identity : NULL;
	if ((r = hygiene_context_prepare(ctx)) != 0)
		return r;
	for (size_t f = 0; fields[f] != NULL; f++) {
		size_t n = 0;
		r = vault_device_key_check(v, dev, fields[f], ctx, findings, SCAN_FINDINGS, &n);
		if (r == IV_ERR_NOT_FOUND)
			continue;
		if (r != 0) {
			/* one unreadable key must not hide the rest of the fleet */
			log_warning("hygiene report: device %lld %s: %s", (long long)dev->id, fields[f],
				    iv_error_message(r));
			rep->scan_errors++;
			continue;
		}
		rep->keys_scanned++;
		if (n > SCAN_FINDINGS)
			n = SCAN_FINDINGS;
		for (size_t i = 0; i < n; i++) {
			count_rule(rep, findings[i].rule);
			weak = 1;
			if (strncmp(findings[i].rule, "dictionary.", 11) == 0)
				dflt = 1;
		}
	}
	rep->devices_scanned++;
	rep->devices_weak += weak;
	rep->devices_default += dflt;
	return 0;
}

int hygiene_report_build(struct vault *v, int64_t tenant_id, int batch,
			 struct hygiene_report **out)
{
	return hygiene_report_build_paced(v, tenant_id, batch, NULL, NULL, out);
}

int hygiene_report_build_paced(struct vault *v, int64_t tenant_id, int batch,
			       void (*pause)(void *ctx), void *ctx_pause,
			       struct hygiene_report **out)
{
	struct store *st = vault_store(v);
	struct hygiene_report *rep = calloc(1, sizeof(*rep));
	struct hygiene_context ctx;
	struct scan_batch b = {0};
	int64_t after = 0;
	int r, in_tx = 0;

	hygiene_context_init(&ctx);
	if (rep == NULL)
		return IV_ERR_NOMEM;
	rep->tenant_id = tenant_id;
	rep->nrules = hygiene_rule_count();
	if ((rep->rules = calloc(rep->nrules, sizeof(*rep->rules))) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < hygiene_rule_count(); i++)
		rep->rules[i].rule = hygiene_rule_get(i)->id;
	if (batch <= 0)
		batch = REPORT_BATCH_DEFAULT;
	if (batch > REPORT_BATCH_MAX)
		batch = REPORT_BATCH_MAX;
	b.cap = (size_t)batch;
	if ((b.devs = calloc(b.cap, sizeof(*b.devs))) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	/* one read transaction per batch: writers wait at most one batch */
	for (;;) {
		if ((r = st->ops->begin(st, 0)) != 0)
			goto out;
		in_tx = 1;
		b.count = 0;
		if ((r = st->ops->device_list(st, tenant_id, NULL, after, batch, collect_device, &b)))
			goto out;
		for (size_t i = 0; i < b.count; i++)
			if ((r = scan_device(v, rep, &ctx, &b.devs[i])) != 0)
				goto out;
		if ((r = st->ops->commit(st)) != 0)
			goto out;
		in_tx = 0;
		if (b.count == 0)
			break;
		after = b.devs[b.count - 1].id;
		if (b.count < b.cap)
			break;
		if (pause)
			pause(ctx_pause);
	}
	if ((r = st->ops->hygiene->tenant_counts(st, tenant_id, &rep->counts)) != 0)
		goto out;
	*out = rep;
	rep = NULL;
	/* success */
	r = 0;
out:
	if (in_tx)
		st->ops->rollback(st);
	hygiene_context_clear(&ctx);
	free(b.devs);
	hygiene_report_free(rep);
	return r;
}

void hygiene_report_free(struct hygiene_report *r)
{
	if (r == NULL)
		return;
	free(r->rules);
	free(r);
}

int hygiene_report_score(const struct hygiene_report *r)
{
	const struct hygiene_tenant_counts *c = &r->counts;
	double n = (double)r->devices_scanned, penalty, score;

	if (r->devices_scanned <= 0)
		return 100;
	penalty = (double)r->devices_weak + (double)c->devices_shared_any +
		  0.5 * (double)(c->devices_revealed + c->devices_exported) +
		  0.25 * (double)c->devices_needing_provisioning;
	score = 100.0 * (1.0 - penalty / n);
	if (score < 0.0)
		score = 0.0;
	return (int)(score + 0.5);
}

struct ids_ctx {
	json_t *array;
};

static int add_id(void *ctx, int64_t id)
{
	struct ids_ctx *ic = ctx;
	json_array_append_new(ic->array, json_integer(id));
	return 0;
}

struct group {
	char fp[STORE_FP_HEX_LEN + 1];
	int64_t devices;
};

struct groups_ctx {
	struct group *items;
	size_t count, cap;
};

static int collect_group(void *ctx, const char *fingerprint, int64_t devices)
{
	struct groups_ctx *gc = ctx;
	if (gc->count >= gc->cap)
		return 0;
	snprintf(gc->items[gc->count].fp, sizeof(gc->items[gc->count].fp), "%s", fingerprint);
	gc->items[gc->count].devices = devices;
	gc->count++;
	return 0;
}

/* Duplicate groups by device ids only: the fingerprints stay inside. */
static json_t *groups_json(struct vault *v, int64_t tenant_id, int groups, int ids)
{
	struct store *st = vault_store(v);
	struct groups_ctx gc = {NULL, 0, (size_t)groups};
	json_t *arr = json_array();
	int r = 0;

	if (groups <= 0)
		return arr;
	if ((gc.items = calloc(gc.cap, sizeof(*gc.items))) == NULL) {
		json_decref(arr);
		return NULL;
	}
	r = st->ops->hygiene->fp_groups(st, tenant_id, groups, collect_group, &gc);
	for (size_t i = 0; r == 0 && i < gc.count; i++) {
		struct ids_ctx ic = {json_array()};
		json_t *g = json_object();
		r = st->ops->hygiene->fp_group_devices(st, tenant_id, gc.items[i].fp, ids, add_id, &ic);
		json_object_set_new(g, "size", json_integer(gc.items[i].devices));
		json_object_set_new(g, "devices", ic.array);
		json_array_append_new(arr, g);
	}
	free(gc.items);
	if (r != 0) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

json_t *hygiene_report_json(struct vault *v, const struct hygiene_report *r, int groups, int ids)
{
	const struct hygiene_tenant_counts *c = &r->counts;
	json_t *o = json_object(), *rules = json_object(), *dup = json_object(),
	       *other = json_object(), *list;

	if (o == NULL || rules == NULL || dup == NULL || other == NULL)
		goto fail;
	json_object_set_new(o, "devices", json_integer(c->devices));
	json_object_set_new(o, "keys", json_integer(c->device_keys));
	json_object_set_new(o, "keys_scanned", json_integer(r->keys_scanned));
	json_object_set_new(o, "scan_errors", json_integer(r->scan_errors));
	json_object_set_new(o, "fingerprints_pending", json_integer(c->fingerprints_pending));
	for (size_t i = 0; i < r->nrules; i++)
		json_object_set_new(rules, r->rules[i].rule, json_integer(r->rules[i].keys));
	json_object_set_new(o, "rules", rules);
	rules = NULL;
	json_object_set_new(o, "devices_with_weak_keys", json_integer(r->devices_weak));
	json_object_set_new(o, "devices_on_default_keys", json_integer(r->devices_default));
	if ((list = groups_json(v, r->tenant_id, groups, ids)) == NULL)
		goto fail;
	json_object_set_new(dup, "groups", json_integer(c->duplicate_groups));
	json_object_set_new(dup, "devices_in_groups", json_integer(c->devices_in_duplicate_groups));
	json_object_set_new(dup, "devices_sharing_a_key", json_integer(c->devices_shared_any));
	json_object_set_new(dup, "truncated",
			    json_boolean(c->duplicate_groups > (int64_t)json_array_size(list)));
	json_object_set_new(dup, "list", list);
	json_object_set_new(o, "duplicates", dup);
	dup = NULL;
	json_object_set_new(other, "own_keys_shared", json_integer(c->keys_shared_other_tenants));
	json_object_set_new(other, "devices", json_integer(c->other_tenant_devices));
	json_object_set_new(o, "other_tenants", other);
	other = NULL;
	json_object_set_new(o, "devices_revealed", json_integer(c->devices_revealed));
	json_object_set_new(o, "devices_exported", json_integer(c->devices_exported));
	json_object_set_new(o, "export_events", json_integer(c->export_events));
	json_object_set_new(o, "devices_needing_provisioning",
			    json_integer(c->devices_needing_provisioning));
	json_object_set_new(o, "devices_flagged", json_integer(c->devices_flagged));
	json_object_set_new(o, "score", json_integer(hygiene_report_score(r)));
	json_object_set_new(o, "score_formula",
			    json_string("100 * (1 - (weak + sharing + 0.5 * (revealed + exported) "
					"+ 0.25 * needing_provisioning) / devices), at least 0"));
	return o;
fail:
	json_decref(o);
	json_decref(rules);
	json_decref(dup);
	json_decref(other);
	return NULL;
}
