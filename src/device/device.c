/* Device validation and the transactional create/delete of a device with its
 * sealed keys and audit record. */
#include "iotvault/device.h"
#include "iotvault/audit.h"
#include "iotvault/hex.h"
#include "iotvault/log.h"
#include "iotvault/store_hygiene.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const lorawan_10_fields[] = {"app_key", NULL};
static const char *const lorawan_11_fields[] = {"app_key", "nwk_key", NULL};
static const char *const lwm2m_fields[] = {"psk", NULL};

const char *const *device_key_fields(const struct device_record *dev)
{
	if (strcmp(dev->kind, "lwm2m") == 0)
		return lwm2m_fields;
	if (strcmp(dev->mac_version, "1.1") == 0)
		return lorawan_11_fields;
	return lorawan_10_fields;
}

int mac_version_valid(const char *v)
{
	static const char *const versions[] = {"1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.1"};
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (strcmp(v, versions[i]) == 0)
			return 1;
	return 0;
}

/* Printable text without control characters, at most MAX bytes. */
static int text_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* Identifiers that appear in protocols and URLs: [A-Za-z0-9._:@+-], 1..MAX. */
static int ident_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("._:@+-", c) != NULL))
			return 0;
	}
	return 1;
}

/* Comma-separated tags of [A-Za-z0-9._:-]. */
static int tags_ok(const char *s)
{
	if (strlen(s) > STORE_TAGS_MAX)
		return 0;
	for (const char *p = s; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("._:-,", c) != NULL))
			return 0;
	}
	return 1;
}

#define FAIL(code, ...)                              \
	do {                                         \
		snprintf(err, err_len, __VA_ARGS__); \
		return (code);                       \
	} while (0)

int device_validate(const struct device_input *in, int64_t tenant_id, struct device_record *out,
		    char *err, size_t err_len)
{
	uint8_t eui[EUI_LEN];

	memset(out, 0, sizeof(*out));
	out->tenant_id = tenant_id;
	if (in->name && !text_ok(in->name, STORE_NAME_MAX))
		FAIL(IV_ERR_INVALID, "name: at most %d characters, no control characters",
		     STORE_NAME_MAX);
	if (in->tags && !tags_ok(in->tags))
		FAIL(IV_ERR_INVALID, "tags: comma-separated, letters, digits and ._:- only, at most "
				     "%d characters",
		     STORE_TAGS_MAX);
	snprintf(out->name, sizeof(out->name), "%s", in->name ? in->name : "");
	snprintf(out->tags, sizeof(out->tags), "%s", in->tags ? in->tags : "");

	if (in->kind == NULL)
		FAIL(IV_ERR_INVALID, "type: required (lorawan or lwm2m)");
	if (strcmp(in->kind, "lorawan") == 0) {
		const char *mv = in->mac_version ? in->mac_version : "1.0.3";
		snprintf(out->kind, sizeof(out->kind), "lorawan");
		if (in->endpoint || in->psk_identity || in->psk)
			FAIL(IV_ERR_INVALID, "%s: only for lwm2m devices",
			     in->endpoint ? "endpoint" : in->psk_identity ? "psk_identity" : "psk");
		if (in->dev_eui == NULL || eui_parse(in->dev_eui, eui) != 0)
			FAIL(IV_ERR_INVALID, "dev_eui: required, 16 hex digits");
		eui_format(eui, out->dev_eui);
		if (in->join_eui == NULL || eui_parse(in->join_eui, eui) != 0)
			FAIL(IV_ERR_INVALID, "join_eui: required, 16 hex digits");
		eui_format(eui, out->join_eui);
		if (!mac_version_valid(mv))
			FAIL(IV_ERR_INVALID, "mac_version: one of 1.0.0, 1.0.1, 1.0.2, 1.0.3, 1.0.4, 1.1");
		snprintf(out->mac_version, sizeof(out->mac_version), "%s", mv);
		if (in->app_key == NULL || in->app_key->len != AES128_KEY_LEN)
			FAIL(IV_ERR_INVALID, "app_key: must be 16 bytes (32 hex digits)");
		if (strcmp(mv, "1.1") == 0) {
			if (in->nwk_key == NULL || in->nwk_key->len != AES128_KEY_LEN)
				FAIL(IV_ERR_INVALID, "nwk_key: must be 16 bytes (32 hex digits)");
		} else if (in->nwk_key != NULL)
			FAIL(IV_ERR_INVALID, "nwk_key: only LoRaWAN 1.1 devices have a NwkKey");
	} else if (strcmp(in->kind, "lwm2m") == 0) {
		snprintf(out->kind, sizeof(out->kind), "lwm2m");
		if (in->dev_eui || in->join_eui || in->mac_version || in->app_key || in->nwk_key)
			FAIL(IV_ERR_INVALID, "%s: only for lorawan devices",
			     in->dev_eui       ? "dev_eui"
			     : in->join_eui    ? "join_eui"
			     : in->mac_version ? "mac_version"
			     : in->app_key     ? "app_key"
						: "nwk_key");
		if (in->endpoint == NULL || !ident_ok(in->endpoint, DEVICE_ENDPOINT_MAX))
			FAIL(IV_ERR_INVALID, "endpoint: required, 1-%d characters of "
					     "A-Z a-z 0-9 . _ : @ + -",
			     DEVICE_ENDPOINT_MAX);
		snprintf(out->endpoint, sizeof(out->endpoint), "%s", in->endpoint);
		const char *ident = in->psk_identity ? in->psk_identity : in->endpoint;
		if (!ident_ok(ident, DEVICE_PSK_IDENTITY_MAX))
			FAIL(IV_ERR_INVALID, "psk_identity: 1-%d characters of A-Z a-z 0-9 . _ : @ + -",
			     DEVICE_PSK_IDENTITY_MAX);
		snprintf(out->psk_identity, sizeof(out->psk_identity), "%s", ident);
		if (in->psk == NULL || in->psk->len < DEVICE_PSK_MIN || in->psk->len > DEVICE_PSK_MAX)
			FAIL(IV_ERR_INVALID, "psk: must be %d to %d bytes", DEVICE_PSK_MIN,
			     DEVICE_PSK_MAX);
	} else
		FAIL(IV_ERR_INVALID, "type: must be lorawan or lwm2m");
	return 0;
}

/* Adds V's rules for FIELD to REPORT (as many as fit). */
static void report_add(struct device_key_report *report, const char *field,
		       const struct key_verdict *vd)
{
	const char *rules[KEYCHECK_RULES_MAX];
	char messages[KEYCHECK_RULES_MAX][HYGIENE_MESSAGE_MAX];
	size_t n = keycheck_rules(vd, rules, messages);
	for (size_t i = 0; i < n && report->n < DEVICE_FINDINGS_MAX; i++) {
		report->items[report->n].field = field;
		report->items[report->n].rule = rules[i];
		snprintf(report->items[report->n].message, HYGIENE_MESSAGE_MAX, "%s", messages[i]);
		report->n++;
	}
}

/* "app_key: weak or duplicated key (rule, rule)" for device_create's ERR. */
static void weak_key_error(const struct device_key_report *report, char *err, size_t err_len)
{
	size_t used;
	int w = snprintf(err, err_len, "%s: weak or duplicated key (", report->items[0].field);
	used = w > 0 && (size_t)w < err_len ? (size_t)w : err_len - 1;
	for (size_t i = 0; i < report->n && used < err_len; i++) {
		if (strcmp(report->items[i].field, report->items[0].field) != 0)
			continue;
		w = snprintf(err + used, err_len - used, "%s%s", i ? ", " : "", report->items[i].rule);
		if (w < 0 || (size_t)w >= err_len - used)
			return;
		used += (size_t)w;
	}
	snprintf(err + used, err_len - used, ")");
}

int device_create(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
		  const struct device_input *in, struct device_record *out, char *err,
		  size_t err_len)
{
	return device_create_checked(v, actor, tenant_id, in, out, NULL, err, err_len);
}

int device_create_checked(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
			  const struct device_input *in, struct device_record *out,
			  struct device_key_report *report, char *err, size_t err_len)
{
	struct store *st = vault_store(v);
	struct device_key_report local;
	struct key_verdict verdicts[3];
	struct secbuf *replacement[3] = {NULL, NULL, NULL};
	const struct secbuf *keys[3];
	struct secret_ref ref;
	struct audit_event ev;
	char object[64], detail[AUDIT_DETAIL_MAX];
	const char *const *fields;
	size_t nfields = 0, used;
	int r, in_tx = 0, any_bad = 0;

	if (report == NULL)
		report = &local;
	memset(report, 0, sizeof(*report));
	if ((r = device_validate(in, tenant_id, out, err, err_len)) != 0)
		return r;
	if ((r = st->ops->begin(st, 1)) != 0)
		return r;
	in_tx = 1;
	fields = device_key_fields(out);
	for (; fields[nfields] != NULL && nfields < 3; nfields++) {
		keys[nfields] = strcmp(fields[nfields], "app_key") == 0   ? in->app_key
				: strcmp(fields[nfields], "nwk_key") == 0 ? in->nwk_key
									  : in->psk;
		/* id 0: the device is not stored yet, every match is another device */
		if ((r = keycheck_evaluate(v, out, fields[nfields], keys[nfields]->data,
					   keys[nfields]->len, &verdicts[nfields])) != 0)
			goto out;
	}
	/* LoRaWAN 1.1: one key as both root keys undoes their separation */
	if (nfields == 2 && keys[0]->len == keys[1]->len &&
	    secmem_equal(keys[0]->data, keys[1]->data, keys[0]->len) == 0)
		keycheck_note_same_device(&verdicts[1], fields[0]);
	for (size_t i = 0; i < nfields; i++) {
		if (!keycheck_is_bad(&verdicts[i]))
			continue;
		any_bad = 1;
		report_add(report, fields[i], &verdicts[i]);
		if (in->key_policy == KEY_POLICY_REGENERATE) {
			if ((r = keycheck_apply_policy(in->key_policy, &verdicts[i], keys[i]->len,
						       &replacement[i])) != 0)
				goto out;
			report->regenerated++;
		}
	}
	if (any_bad && in->key_policy == KEY_POLICY_REJECT) {
		weak_key_error(report, err, err_len);
		r = IV_ERR_WEAK_KEY;
		goto out;
	}
	if ((r = st->ops->device_insert(st, out)) != 0) {
		if (r == IV_ERR_EXISTS)
			snprintf(err, err_len, "%s",
				 out->dev_eui[0] ? "dev_eui: a device with this DevEUI exists"
						 : "endpoint: this endpoint or PSK identity is already in use");
		goto out;
	}
	for (size_t i = 0; i < nfields; i++) {
		const struct secbuf *key = replacement[i] ? replacement[i] : keys[i];
		ref = (struct secret_ref){tenant_id, "device", out->id, fields[i]};
		if ((r = vault_seal(v, &ref, key->data, key->len)) != 0)
			goto out;
		if (keycheck_is_bad(&verdicts[i]) &&
		    (r = keycheck_record_findings(st, out->id, fields[i], &verdicts[i],
						  replacement[i] ? "replaced: " : NULL)) != 0)
			goto out;
	}
	if (report->regenerated) {
		if ((r = st->ops->hygiene->device_set_needs_provisioning(st, tenant_id, out->id, 1)))
			goto out;
		report->needs_provisioning = 1;
	}
	snprintf(object, sizeof(object), "device:%lld", (long long)out->id);
	used = (size_t)snprintf(detail, sizeof(detail), "%s",
				out->dev_eui[0] ? out->dev_eui : out->endpoint);
	/* rule ids only: the record says what was wrong, never the key */
	if (any_bad && used < sizeof(detail)) {
		int w = snprintf(detail + used, sizeof(detail) - used, " key_policy=%s",
				 key_policy_name(in->key_policy));
		used += w > 0 ? (size_t)w : 0;
		for (size_t i = 0; i < report->n && used < sizeof(detail); i++) {
			w = snprintf(detail + used, sizeof(detail) - used, " %s:%s",
				     report->items[i].field, report->items[i].rule);
			used += w > 0 ? (size_t)w : 0;
		}
	}
	ev = (struct audit_event){tenant_id, "device.create", object, "success", detail};
	if ((r = audit_append(v, actor, &ev)) != 0)
		goto out;
	if ((r = st->ops->commit(st)) != 0)
		goto out;
	in_tx = 0;
	/* success */
	r = 0;
out:
	if (in_tx)
		st->ops->rollback(st);
	for (size_t i = 0; i < 3; i++)
		secbuf_free(replacement[i]);
	return r;
}

int device_delete(struct vault *v, const struct audit_actor *actor, const struct device_record *dev)
{
	struct store *st = vault_store(v);
	struct audit_event ev;
	char object[64];
	int r, in_tx = 0;

	if ((r = st->ops->begin(st, 1)) != 0)
		return r;
	in_tx = 1;
	snprintf(object, sizeof(object), "device:%lld", (long long)dev->id);
	ev = (struct audit_event){dev->tenant_id, "device.delete", object, "success",
				  dev->dev_eui[0] ? dev->dev_eui : dev->endpoint};
	if ((r = audit_append(v, actor, &ev)) != 0 ||
	    (r = st->ops->secret_delete_owner(st, "device", dev->id)) != 0 ||
	    (r = st->ops->device_delete(st, dev->tenant_id, dev->id)) != 0 ||
	    (r = st->ops->commit(st)) != 0)
		goto out;
	in_tx = 0;
	/* success */
	r = 0;
out:
	if (in_tx)
		st->ops->rollback(st);
	return r;
}

int device_selector_parse(const char *id, const char *dev_eui, const char *endpoint,
			  struct device_selector *sel, char eui_buf[static 17])
{
	uint8_t eui[EUI_LEN];
	int given = (id != NULL) + (dev_eui != NULL) + (endpoint != NULL);
	memset(sel, 0, sizeof(*sel));
	if (given != 1)
		return IV_ERR_USAGE;
	if (id != NULL) {
		char *end;
		long long n = strtoll(id, &end, 10);
		if (end == id || *end != '\0' || n <= 0)
			return IV_ERR_INVALID;
		sel->id = n;
	} else if (dev_eui != NULL) {
		if (eui_parse(dev_eui, eui) != 0)
			return IV_ERR_INVALID;
		eui_format(eui, eui_buf);
		sel->dev_eui = eui_buf;
	} else {
		if (!ident_ok(endpoint, DEVICE_ENDPOINT_MAX))
			return IV_ERR_INVALID;
		sel->endpoint = endpoint;
	}
	return 0;
}
