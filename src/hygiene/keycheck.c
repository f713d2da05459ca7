/* Key hygiene on every write: the weak-key rules with the device's own
 * identifiers, duplicate counts from the fingerprint index, and the policy
 * (reject, flag, regenerate) that decides what happens to a bad key. */
#include "iotvault/keycheck.h"
#include "iotvault/hex.h"
#include "iotvault/store_hygiene.h"
#include "iotvault/vault_hygiene.h"

#include <stdio.h>
#include <string.h>

int key_policy_parse(const char *text, enum key_policy *out)
{
	if (text == NULL)
		return IV_ERR_INVALID;
	if (strcmp(text, "reject") == 0)
		*out = KEY_POLICY_REJECT;
	else if (strcmp(text, "flag") == 0)
		*out = KEY_POLICY_FLAG;
	else if (strcmp(text, "regenerate") == 0)
		*out = KEY_POLICY_REGENERATE;
	else
		return IV_ERR_INVALID;
	return 0;
}

const char *key_policy_name(enum key_policy p)
{
	switch (p) {
	case KEY_POLICY_FLAG: return "flag";
	case KEY_POLICY_REGENERATE: return "regenerate";
	case KEY_POLICY_REJECT: break;
	}
	return "reject";
}

int keycheck_evaluate(struct vault *v, const struct device_record *dev, const char *field,
		      const uint8_t *key, size_t len, struct key_verdict *out)
{
	struct hygiene_context ctx;
	struct store *st = vault_store(v);
	size_t n = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if (dev == NULL || field == NULL || key == NULL || len == 0 || len > HYGIENE_KEY_MAX_LEN)
		return IV_ERR_INVALID;
	hygiene_context_init(&ctx);
	if (dev->dev_eui[0] && eui_parse(dev->dev_eui, ctx.dev_eui) == 0)
		ctx.flags |= HYGIENE_HAVE_DEV_EUI;
	if (dev->join_eui[0] && eui_parse(dev->join_eui, ctx.join_eui) == 0)
		ctx.flags |= HYGIENE_HAVE_JOIN_EUI;
	ctx.endpoint = dev->endpoint[0] ? dev->endpoint : NULL;
	ctx.psk_identity = dev->psk_identity[0] ? dev->psk_identity : NULL;
	r = hygiene_check_key(key, len, &ctx, out->findings, KEYCHECK_FINDINGS_MAX, &n);
	hygiene_context_clear(&ctx);
	if (r != 0)
		return r;
	out->nfindings = n < KEYCHECK_FINDINGS_MAX ? n : KEYCHECK_FINDINGS_MAX;
	if ((r = vault_fingerprint_hex(v, field, key, len, out->fingerprint)) != 0)
		return r;
	/* counts only: which devices of other tenants is never asked */
	return st->ops->hygiene->fp_lookup(st, out->fingerprint, dev->tenant_id, dev->id, 0, NULL,
					   NULL, &out->same_tenant_devices,
					   &out->other_tenant_devices);
}

int keycheck_is_bad(const struct key_verdict *v)
{
	return v->nfindings > 0 || v->same_tenant_devices > 0 || v->other_tenant_devices > 0;
}

size_t keycheck_rules(const struct key_verdict *v, const char *rules[KEYCHECK_RULES_MAX],
		      char messages[KEYCHECK_RULES_MAX][HYGIENE_MESSAGE_MAX])
{
	size_t n = 0;
	for (size_t i = 0; i < v->nfindings && n < KEYCHECK_FINDINGS_MAX; i++) {
		rules[n] = v->findings[i].rule;
		snprintf(messages[n], HYGIENE_MESSAGE_MAX, "%s", v->findings[i].message);
		n++;
	}
	if (v->same_tenant_devices > 0) {
		rules[n] = KEYCHECK_RULE_DUP_SAME_TENANT;
		snprintf(messages[n], HYGIENE_MESSAGE_MAX,
			 "the same key as %lld other device(s) of this tenant",
			 (long long)v->same_tenant_devices);
		n++;
	}
	if (v->other_tenant_devices > 0) {
		rules[n] = KEYCHECK_RULE_DUP_OTHER_TENANT;
		snprintf(messages[n], HYGIENE_MESSAGE_MAX,
			 "also used by %lld device(s) in other tenants",
			 (long long)v->other_tenant_devices);
		n++;
	}
	return n;
}

void keycheck_note_same_device(struct key_verdict *v, const char *other_field)
{
	if (v->nfindings >= KEYCHECK_FINDINGS_MAX)
		return;
	v->findings[v->nfindings].rule = KEYCHECK_RULE_DUP_SAME_DEVICE;
	snprintf(v->findings[v->nfindings].message, HYGIENE_MESSAGE_MAX,
		 "the same key as this device's %s", other_field);
	v->nfindings++;
}

int keycheck_same_tenant_devices(struct vault *v, const struct device_record *dev,
				 const struct key_verdict *verdict, int limit,
				 int (*cb)(void *ctx, int64_t device_id), void *ctx)
{
	struct store *st = vault_store(v);
	int64_t same = 0, other = 0;
	return st->ops->hygiene->fp_lookup(st, verdict->fingerprint, dev->tenant_id, dev->id, limit,
					   cb, ctx, &same, &other);
}

int keycheck_apply_policy(enum key_policy policy, const struct key_verdict *verdict, size_t len,
			  struct secbuf **replacement)
{
	struct secbuf *fresh;
	int r;

	*replacement = NULL;
	if (!keycheck_is_bad(verdict) || policy == KEY_POLICY_FLAG)
		return 0;
	if (policy != KEY_POLICY_REGENERATE)
		return IV_ERR_WEAK_KEY;
	if (len < HYGIENE_KEY_MIN_LEN)
		len = HYGIENE_KEY_MIN_LEN;
	if (len > HYGIENE_KEY_MAX_LEN)
		return IV_ERR_INVALID;
	if ((fresh = secbuf_new(len)) == NULL)
		return IV_ERR_NOMEM;
	if ((r = hygiene_generate_key(fresh->data, fresh->len)) != 0) {
		secbuf_free(fresh);
		return r;
	}
	*replacement = fresh;
	return 0;
}

int keycheck_record_findings(struct store *st, int64_t device_id, const char *field,
			     const struct key_verdict *v, const char *prefix)
{
	const char *rules[KEYCHECK_RULES_MAX];
	char messages[KEYCHECK_RULES_MAX][HYGIENE_MESSAGE_MAX];
	struct device_finding f;
	size_t n = keycheck_rules(v, rules, messages);
	int r;

	for (size_t i = 0; i < n; i++) {
		memset(&f, 0, sizeof(f));
		f.device_id = device_id;
		f.created_at = store_now_ms();
		snprintf(f.field, sizeof(f.field), "%s", field);
		snprintf(f.rule, sizeof(f.rule), "%s", rules[i]);
		snprintf(f.detail, sizeof(f.detail), "%s%s", prefix ? prefix : "", messages[i]);
		if ((r = st->ops->hygiene->finding_put(st, &f)) != 0)
			return r;
	}
	return 0;
}
