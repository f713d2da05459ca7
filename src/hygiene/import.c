/* The bulk-import engine: maps CSV columns or JSON members onto the device
 * row model, validates each row (device_validate), checks each key given
 * (keycheck_evaluate, plus duplicates within the file) under the import's
 * policy, and stores the rows in one transaction with one audit record.
 *
 * Per-row work is kept small for 100,000-row files: the CSV is streamed, key
 * bytes are decoded into three guarded buffers reused for every row and wiped
 * after it, and only non-secret identifiers and key fingerprints are
 * remembered across rows (for duplicate detection within the file). */
#include "iotvault/import.h"
#include "iotvault/audit.h"
#include "iotvault/crypto.h"
#include "iotvault/device.h"
#include "iotvault/hex.h"
#include "iotvault/hygiene.h"
#include "iotvault/log.h"
#include "iotvault/secmem.h"
#include "iotvault/store_hygiene.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum column {
	COL_TYPE = 0,
	COL_NAME,
	COL_TAGS,
	COL_DEV_EUI,
	COL_JOIN_EUI,
	COL_MAC_VERSION,
	COL_APP_KEY,
	COL_NWK_KEY,
	COL_ENDPOINT,
	COL_PSK_IDENTITY,
	COL_PSK,
	COL_COUNT
};

/* The JSON field names of device_validate's messages, by column. */
static const char *const column_field[COL_COUNT] = {
	"type", "name", "tags", "dev_eui", "join_eui", "mac_version",
	"app_key", "nwk_key", "endpoint", "psk_identity", "psk",
};

/* Header names after normalisation (lower case, without '_', '-', ' '), as
 * manufacturers' sheets and network servers' exports write them. */
static const struct {
	const char *name;
	enum column col;
} aliases[] = {
	{"type", COL_TYPE},          {"devicetype", COL_TYPE},
	{"name", COL_NAME},          {"devicename", COL_NAME},
	{"tags", COL_TAGS},
	{"deveui", COL_DEV_EUI},
	{"joineui", COL_JOIN_EUI},   {"appeui", COL_JOIN_EUI},
	{"macversion", COL_MAC_VERSION}, {"lorawanversion", COL_MAC_VERSION},
	{"appkey", COL_APP_KEY},
	{"nwkkey", COL_NWK_KEY},
	{"endpoint", COL_ENDPOINT},  {"endpointname", COL_ENDPOINT},
	{"pskidentity", COL_PSK_IDENTITY}, {"pskid", COL_PSK_IDENTITY},
	{"psk", COL_PSK},
};

/* One row, as text, in the importer's guarded scratch buffer. */
struct row {
	size_t number;
	const char *val[COL_COUNT];     /* NULL when absent or empty */
	const char *colname[COL_COUNT]; /* the column as the file names it */
};

/* Identifiers and fingerprints seen in this file: "e:<DevEUI>",
 * "n:<endpoint>", "i:<PSK identity>", "f:<fingerprint>" -> first row. None
 * of these is key material (a fingerprint is a keyed one-way function). */
struct seen_entry {
	uint64_t hash;
	char *text;
	size_t row;
};

struct seen {
	struct seen_entry *slots;
	size_t cap, used;
};

#define ROWBUF_CAP (CSV_RECORD_MAX + 2 * COL_COUNT + STORE_TAGS_MAX)
#define NAME_FOR_ERRORS(row, c) ((row)->colname[c] ? (row)->colname[c] : column_field[c])

struct importer {
	struct vault *v;
	struct store *st;
	const struct import_options *opt;
	struct import_result *res;
	struct secbuf *key[3]; /* app_key, nwk_key, psk: reused for every row */
	char *rowbuf;          /* guarded: values of the current row */
	size_t rowbuf_used;
	struct seen seen;
	/* CSV header: the column of each field of a record, or -1 */
	int header_col[CSV_FIELDS_MAX];
	char header_name[CSV_FIELDS_MAX][IMPORT_COLUMN_MAX];
	size_t ncolumns;
	int have_col[COL_COUNT];
};

const char *import_format_name(enum import_format f)
{
	return f == IMPORT_FORMAT_JSON ? "json" : "csv";
}

int import_format_parse(const char *text, enum import_format *out)
{
	if (text == NULL)
		return IV_ERR_INVALID;
	if (strcmp(text, "csv") == 0)
		*out = IMPORT_FORMAT_CSV;
	else if (strcmp(text, "json") == 0)
		*out = IMPORT_FORMAT_JSON;
	else
		return IV_ERR_INVALID;
	return 0;
}

int import_result_init(struct import_result *res)
{
	memset(res, 0, sizeof(*res));
	res->notices = calloc(IMPORT_NOTICES_MAX, sizeof(*res->notices));
	return res->notices ? 0 : IV_ERR_NOMEM;
}

void import_result_clear(struct import_result *res)
{
	if (res == NULL)
		return;
	free(res->notices);
	memset(res, 0, sizeof(*res));
}

/* ---- the set of identifiers seen ---- */

static uint64_t text_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a: not secret, not adversarial-critical */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

static int seen_grow(struct seen *s)
{
	size_t cap = s->cap ? s->cap * 2 : 4096;
	struct seen_entry *slots = calloc(cap, sizeof(*slots));
	if (slots == NULL)
		return IV_ERR_NOMEM;
	for (size_t i = 0; i < s->cap; i++) {
		if (s->slots[i].text == NULL)
			continue;
		size_t j = s->slots[i].hash & (cap - 1);
		while (slots[j].text != NULL)
			j = (j + 1) & (cap - 1);
		slots[j] = s->slots[i];
	}
	free(s->slots);
	s->slots = slots;
	s->cap = cap;
	return 0;
}

/* The row that first used TEXT (0 if none); with ROW != 0 also records it. */
static int seen_check(struct seen *s, const char *prefix, const char *value, size_t row,
		      size_t *first)
{
	char text[2 + HYGIENE_FP_HEX_LEN + STORE_NAME_MAX + 1];
	uint64_t h;
	size_t j;
	int r;

	*first = 0;
	snprintf(text, sizeof(text), "%s%s", prefix, value);
	if (s->used * 2 >= s->cap && (r = seen_grow(s)) != 0)
		return r;
	h = text_hash(text);
	for (j = h & (s->cap - 1); s->slots[j].text != NULL; j = (j + 1) & (s->cap - 1))
		if (s->slots[j].hash == h && strcmp(s->slots[j].text, text) == 0) {
			*first = s->slots[j].row;
			return 0;
		}
	if (row == 0)
		return 0;
	if ((s->slots[j].text = strdup(text)) == NULL)
		return IV_ERR_NOMEM;
	s->slots[j].hash = h;
	s->slots[j].row = row;
	s->used++;
	return 0;
}

static void seen_free(struct seen *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->slots[i].text);
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

/* ---- errors and notices ---- */

/* Cuts S back to whole UTF-8 characters: a truncated copy of a column name
 * must still be valid text in a JSON reply. */
static void utf8_trim(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && !csv_utf8_valid((const uint8_t *)s, n))
		s[--n] = '\0';
}

static void add_error(struct importer *imp, size_t row, const char *column, const char *code,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void add_error(struct importer *imp, size_t row, const char *column, const char *code,
		      const char *fmt, ...)
{
	struct import_result *res = imp->res;
	struct import_error *e;
	va_list ap;

	res->errors_total++;
	if (res->nerrors == IMPORT_ERRORS_MAX)
		return;
	e = &res->errors[res->nerrors++];
	e->row = row;
	snprintf(e->column, sizeof(e->column), "%s", column ? column : "");
	snprintf(e->code, sizeof(e->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	utf8_trim(e->column);
	utf8_trim(e->message);
}

static void add_notice(struct importer *imp, const struct row *row, enum column c,
		       const struct device_record *dev, const char *action, const char *reason)
{
	struct import_result *res = imp->res;
	struct import_notice *n;

	res->notices_total++;
	if (res->nnotices == IMPORT_NOTICES_MAX)
		return;
	n = &res->notices[res->nnotices++];
	n->row = row->number;
	snprintf(n->column, sizeof(n->column), "%s", NAME_FOR_ERRORS(row, c));
	snprintf(n->device, sizeof(n->device), "%s", dev->dev_eui[0] ? dev->dev_eui : dev->endpoint);
	snprintf(n->action, sizeof(n->action), "%s", action);
	snprintf(n->reason, sizeof(n->reason), "%s", reason);
	utf8_trim(n->column);
}

/* ---- column names ---- */

/* Lower case without '_', '-', ' ' and surrounding white space. */
static void normalise(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	for (; *in && o + 1 < cap; in++) {
		unsigned char ch = (unsigned char)*in;
		if (ch == '_' || ch == '-' || ch == ' ' || ch == '\t')
			continue;
		out[o++] = (char)tolower(ch);
	}
	out[o] = '\0';
}

static int column_lookup(const char *name)
{
	char norm[IMPORT_COLUMN_MAX];
	normalise(name, norm, sizeof(norm));
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcmp(norm, aliases[i].name) == 0)
			return (int)aliases[i].col;
	return -1;
}

/* ---- values ---- */

/* Copies VALUE without surrounding blanks into the row buffer; NULL when it
 * is empty. */
static const char *row_store(struct importer *imp, const char *value, size_t len)
{
	char *out;
	while (len > 0 && (*value == ' ' || *value == '\t')) {
		value++;
		len--;
	}
	while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
		len--;
	if (len == 0 || imp->rowbuf_used + len + 1 > ROWBUF_CAP)
		return NULL;
	out = imp->rowbuf + imp->rowbuf_used;
	memcpy(out, value, len);
	out[len] = '\0';
	imp->rowbuf_used += len + 1;
	return out;
}

static void row_reset(struct importer *imp, struct row *row, size_t number)
{
	secmem_wipe(imp->rowbuf, imp->rowbuf_used);
	imp->rowbuf_used = 0;
	memset(row, 0, sizeof(*row));
	row->number = number;
}

/* Hex digits of TEXT (after an optional 0x, with ':'/'-' separators), or -1
 * when a character is neither. Counting does not depend on the digits. */
static long hex_digits(const char *text)
{
	long n = 0;
	const char *p = text;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	for (; *p; p++) {
		if (*p == ':' || *p == '-')
			continue;
		if (!isxdigit((unsigned char)*p))
			return -1;
		n++;
	}
	return n;
}

/* Decodes the key in column C into BUF, or leaves BUF->len 0 when absent.
 * 0, or IV_ERR_INVALID with an error recorded. */
static int row_key(struct importer *imp, const struct row *row, enum column c, struct secbuf *buf,
		   size_t min, size_t max)
{
	const char *text = row->val[c];
	long digits;

	buf->len = 0;
	if (text == NULL)
		return 0;
	digits = hex_digits(text);
	if (digits < 0) {
		add_error(imp, row->number, NAME_FOR_ERRORS(row, c), "invalid",
			  "not hexadecimal (expected %zu hex digits)", 2 * min);
		return IV_ERR_INVALID;
	}
	if (digits % 2 != 0 || (size_t)digits / 2 < min || (size_t)digits / 2 > max) {
		if (min == max)
			add_error(imp, row->number, NAME_FOR_ERRORS(row, c), "invalid",
				  "wrong length: %ld hex digits, expected %zu", digits, 2 * min);
		else
			add_error(imp, row->number, NAME_FOR_ERRORS(row, c), "invalid",
				  "wrong length: %ld hex digits, expected an even number from %zu "
				  "to %zu",
				  digits, 2 * min, 2 * max);
		return IV_ERR_INVALID;
	}
	buf->len = (size_t)digits / 2;
	if (hex_decode_exact(text, buf->data, buf->len) != 0) {
		buf->len = 0;
		add_error(imp, row->number, NAME_FOR_ERRORS(row, c), "invalid", "not hexadecimal");
		return IV_ERR_INVALID;
	}
	return 0;
}

/* ---- one row ---- */

static enum column column_of_field(const char *field)
{
	for (int c = 0; c < COL_COUNT; c++)
		if (strcmp(column_field[c], field) == 0)
			return (enum column)c;
	return COL_COUNT;
}

/* Reports device_validate's "field: reason" against the file's column. */
static void validation_error(struct importer *imp, const struct row *row, char *err)
{
	char *colon = strchr(err, ':');
	enum column c = COL_COUNT;
	if (colon != NULL) {
		*colon = '\0';
		c = column_of_field(err);
	}
	add_error(imp, row->number, c < COL_COUNT ? NAME_FOR_ERRORS(row, c) : (colon ? err : ""),
		  "invalid", "%s", colon ? colon + 1 + (colon[1] == ' ') : err);
}

static int key_index(const char *field)
{
	return strcmp(field, "app_key") == 0 ? 0 : strcmp(field, "nwk_key") == 0 ? 1 : 2;
}

static const enum column key_column[3] = {COL_APP_KEY, COL_NWK_KEY, COL_PSK};

/* Why a verdict is bad, in fixed text: rule ids and counts, never key bytes. */
static void verdict_reason(const struct key_verdict *kv, size_t same_file_row, char *out,
			   size_t cap)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < kv->nfindings && used < cap; i++)
		used += (size_t)snprintf(out + used, cap - used, "%s%s", used ? ", " : "weak key: ",
					 kv->findings[i].rule);
	if (same_file_row && used < cap)
		used += (size_t)snprintf(out + used, cap - used, "%ssame key as row %zu",
					 used ? "; " : "", same_file_row);
	if (kv->same_tenant_devices > 0 && used < cap)
		used += (size_t)snprintf(out + used, cap - used, "%sused by %lld other device(s) of "
							       "this tenant",
					 used ? "; " : "", (long long)kv->same_tenant_devices);
	if (kv->other_tenant_devices > 0 && used < cap)
		snprintf(out + used, cap - used, "%sused by %lld device(s) in other tenants",
			 used ? "; " : "", (long long)kv->other_tenant_devices);
}

static int import_row(struct importer *imp, const struct row *row)
{
	struct import_result *res = imp->res;
	struct store *st = imp->st;
	struct device_input in = {0};
	struct device_record dev;
	struct key_verdict verdict[3];
	int given[3] = {0, 0, 0}, bad[3] = {0, 0, 0};
	char err[256] = "", reason[IMPORT_MESSAGE_MAX];
	const char *const *fields;
	const char *kind = row->val[COL_TYPE];
	size_t first, first_kept;
	int r, row_bad = 0, policy_hit = 0;

	res->rows++;
	for (size_t k = 0; k < 3; k++)
		imp->key[k]->len = 0;

	/* the type, given or inferred */
	if (kind != NULL) {
		if (strcasecmp(kind, "lorawan") == 0)
			kind = "lorawan";
		else if (strcasecmp(kind, "lwm2m") == 0)
			kind = "lwm2m";
		else {
			add_error(imp, row->number, NAME_FOR_ERRORS(row, COL_TYPE), "invalid",
				  "must be lorawan or lwm2m");
			goto invalid;
		}
	} else if (row->val[COL_DEV_EUI] && row->val[COL_ENDPOINT]) {
		add_error(imp, row->number, NAME_FOR_ERRORS(row, COL_ENDPOINT), "invalid",
			  "a row has either a DevEUI (LoRaWAN) or an endpoint (LwM2M), not both");
		goto invalid;
	} else if (row->val[COL_DEV_EUI])
		kind = "lorawan";
	else if (row->val[COL_ENDPOINT])
		kind = "lwm2m";
	else {
		add_error(imp, row->number, NAME_FOR_ERRORS(row, COL_DEV_EUI), "invalid",
			  "required: a DevEUI (LoRaWAN) or an endpoint (LwM2M)");
		goto invalid;
	}

	/* keys given in the row */
	if (row_key(imp, row, COL_APP_KEY, imp->key[0], AES128_KEY_LEN, AES128_KEY_LEN) != 0 ||
	    row_key(imp, row, COL_NWK_KEY, imp->key[1], AES128_KEY_LEN, AES128_KEY_LEN) != 0 ||
	    row_key(imp, row, COL_PSK, imp->key[2], DEVICE_PSK_MIN, DEVICE_PSK_MAX) != 0)
		goto invalid;
	for (size_t k = 0; k < 3; k++)
		given[k] = imp->key[k]->len > 0;

	in.kind = kind;
	in.name = row->val[COL_NAME];
	in.tags = row->val[COL_TAGS];
	in.dev_eui = row->val[COL_DEV_EUI];
	in.join_eui = row->val[COL_JOIN_EUI];
	in.mac_version = row->val[COL_MAC_VERSION];
	in.endpoint = row->val[COL_ENDPOINT];
	in.psk_identity = row->val[COL_PSK_IDENTITY];
	in.app_key = given[0] ? imp->key[0] : NULL;
	in.nwk_key = given[1] ? imp->key[1] : NULL;
	in.psk = given[2] ? imp->key[2] : NULL;
	/* keys the row lacks are generated, so that validation sees a whole device */
	if (strcmp(kind, "lorawan") == 0) {
		if (!given[0]) {
			imp->key[0]->len = AES128_KEY_LEN;
			in.app_key = imp->key[0];
		}
		if (!given[1] && in.mac_version && strcmp(in.mac_version, "1.1") == 0) {
			imp->key[1]->len = AES128_KEY_LEN;
			in.nwk_key = imp->key[1];
		}
	} else if (!given[2]) {
		imp->key[2]->len = DEVICE_PSK_DEFAULT;
		in.psk = imp->key[2];
	}
	if (device_validate(&in, imp->opt->tenant_id, &dev, err, sizeof(err)) != 0) {
		validation_error(imp, row, err);
		goto invalid;
	}

	/* identifiers used twice within the file */
	if (dev.dev_eui[0]) {
		if ((r = seen_check(&imp->seen, "e:", dev.dev_eui, row->number, &first)) != 0)
			return r;
		if (first) {
			add_error(imp, row->number, NAME_FOR_ERRORS(row, COL_DEV_EUI), "duplicate",
				  "DevEUI %s already in row %zu", dev.dev_eui, first);
			goto invalid;
		}
	} else {
		if ((r = seen_check(&imp->seen, "n:", dev.endpoint, row->number, &first)) != 0)
			return r;
		if (first) {
			add_error(imp, row->number, NAME_FOR_ERRORS(row, COL_ENDPOINT), "duplicate",
				  "endpoint already in row %zu", first);
			goto invalid;
		}
		if ((r = seen_check(&imp->seen, "i:", dev.psk_identity, row->number, &first)) != 0)
			return r;
		if (first) {
			add_error(imp, row->number, NAME_FOR_ERRORS(row, COL_PSK_IDENTITY), "duplicate",
				  "PSK identity already used in row %zu", first);
			goto invalid;
		}
	}

	if (imp->v == NULL) {
		/* import_validate: no vault, no store */
		res->valid++;
		return 0;
	}
	/* key hygiene of the keys the file brought, under the import's policy */
	fields = device_key_fields(&dev);
	for (size_t i = 0; fields[i] != NULL; i++) {
		int k = key_index(fields[i]);
		struct secbuf *key = imp->key[k];
		if (!given[k]) {
			if ((r = hygiene_generate_key(key->data, key->len)) != 0)
				return r;
			continue;
		}
		if ((r = keycheck_evaluate(imp->v, &dev, fields[i], key->data, key->len,
					   &verdict[k])) != 0)
			return r;
	}
	/* LoRaWAN 1.1: one key as both root keys undoes their separation */
	if (given[0] && given[1] && imp->key[0]->len == imp->key[1]->len &&
	    secmem_equal(imp->key[0]->data, imp->key[1]->data, imp->key[0]->len) == 0)
		keycheck_note_same_device(&verdict[1], "app_key");
	for (size_t i = 0; fields[i] != NULL; i++) {
		int k = key_index(fields[i]);
		struct secbuf *key = imp->key[k];
		if (!given[k])
			continue;
		/* another row of this file with the same key (this row's other key
		 * is reported by the same-device rule above) */
		if ((r = seen_check(&imp->seen, "f:", verdict[k].fingerprint, 0, &first)) != 0)
			return r;
		if (first == row->number)
			first = 0;
		bad[k] = keycheck_is_bad(&verdict[k]) || first != 0;
		if (!bad[k] || imp->opt->policy == KEY_POLICY_FLAG) {
			if ((r = seen_check(&imp->seen, "f:", verdict[k].fingerprint, row->number,
					    &first_kept)) != 0)
				return r;
		}
		if (!bad[k])
			continue;
		policy_hit = 1;
		verdict_reason(&verdict[k], first, reason, sizeof(reason));
		switch (imp->opt->policy) {
		case KEY_POLICY_REJECT:
			add_error(imp, row->number, NAME_FOR_ERRORS(row, key_column[k]), "weak_key",
				  "%s", reason);
			row_bad = 1;
			break;
		case KEY_POLICY_FLAG:
			add_notice(imp, row, key_column[k], &dev, "flagged", reason);
			break;
		case KEY_POLICY_REGENERATE:
			add_notice(imp, row, key_column[k], &dev, "regenerated", reason);
			if ((r = hygiene_generate_key(key->data, key->len)) != 0)
				return r;
			break;
		}
		/* a duplicate within the file is recorded on the device like one
		 * against stored devices */
		if (first != 0 && verdict[k].same_tenant_devices == 0)
			verdict[k].same_tenant_devices = 1;
	}
	if (row_bad) {
		res->rejected++;
		return 0;
	}

	/* into the transaction: constraint violations against stored devices show here */
	if ((r = st->ops->device_insert(st, &dev)) != 0) {
		if (r != IV_ERR_EXISTS)
			return r;
		if (dev.dev_eui[0])
			add_error(imp, row->number, NAME_FOR_ERRORS(row, COL_DEV_EUI), "exists",
				  "a device with DevEUI %s already exists", dev.dev_eui);
		else
			add_error(imp, row->number, NAME_FOR_ERRORS(row, COL_ENDPOINT), "exists",
				  "this endpoint or PSK identity is already in use");
		goto invalid;
	}
	for (size_t i = 0; fields[i] != NULL; i++) {
		int k = key_index(fields[i]);
		struct secret_ref ref = {imp->opt->tenant_id, "device", dev.id, fields[i]};
		if ((r = vault_seal(imp->v, &ref, imp->key[k]->data, imp->key[k]->len)) != 0)
			return r;
		if (bad[k] && (r = keycheck_record_findings(
				       st, dev.id, fields[i], &verdict[k],
				       imp->opt->policy == KEY_POLICY_REGENERATE ? "replaced: " : NULL)) != 0)
			return r;
	}
	if (policy_hit && imp->opt->policy == KEY_POLICY_REGENERATE &&
	    (r = st->ops->hygiene->device_set_needs_provisioning(st, imp->opt->tenant_id, dev.id,
								    1)) != 0)
		return r;
	if (policy_hit && imp->opt->policy == KEY_POLICY_FLAG)
		res->flagged++;
	if (policy_hit && imp->opt->policy == KEY_POLICY_REGENERATE)
		res->regenerated++;
	if (!given[0] && !given[1] && !given[2])
		res->generated++;
	res->valid++;
	return 0;
invalid:
	res->invalid++;
	return 0;
}

static void wipe_keys(struct importer *imp)
{
	for (size_t k = 0; k < 3; k++)
		if (imp->key[k]) {
			secmem_wipe(imp->key[k]->data, HYGIENE_KEY_MAX_LEN);
			imp->key[k]->len = HYGIENE_KEY_MAX_LEN;
		}
}

/* ---- CSV ---- */

static int csv_header(struct importer *imp, char *const *fields, size_t n)
{
	char unknown[IMPORT_MESSAGE_MAX] = "";
	size_t used = 0;
	int r = 0;

	imp->ncolumns = n;
	for (size_t i = 0; i < n; i++) {
		int c = column_lookup(fields[i]);
		snprintf(imp->header_name[i], sizeof(imp->header_name[i]), "%s", fields[i]);
		utf8_trim(imp->header_name[i]);
		imp->header_col[i] = c;
		if (fields[i][0] == '\0') {
			add_error(imp, 1, "", "invalid", "column %zu has no name", i + 1);
			r = IV_ERR_INVALID;
		} else if (c < 0) {
			if (used < sizeof(unknown))
				used += (size_t)snprintf(unknown + used, sizeof(unknown) - used, "%s%s",
							 used ? ", " : "", imp->header_name[i]);
			r = IV_ERR_INVALID;
		} else if (imp->have_col[c]) {
			add_error(imp, 1, imp->header_name[i], "invalid",
				  "column given twice (as %s and %s)",
				  imp->header_name[imp->have_col[c] - 1], imp->header_name[i]);
			r = IV_ERR_INVALID;
		} else
			imp->have_col[c] = (int)i + 1;
	}
	if (unknown[0])
		add_error(imp, 1, "", "unknown_column",
			  "unknown column(s): %s (known: DevEUI, JoinEUI/AppEUI, AppKey, NwkKey, "
			  "MACVersion, name, tags, type, endpoint, psk_identity, psk)",
			  unknown);
	if (!imp->have_col[COL_DEV_EUI] && !imp->have_col[COL_ENDPOINT]) {
		add_error(imp, 1, "", "missing_column",
			  "missing required column: DevEUI (LoRaWAN) or endpoint (LwM2M)");
		r = IV_ERR_INVALID;
	}
	if (imp->have_col[COL_DEV_EUI] && !imp->have_col[COL_JOIN_EUI]) {
		add_error(imp, 1, "", "missing_column",
			  "missing required column: JoinEUI (or AppEUI) for LoRaWAN devices");
		r = IV_ERR_INVALID;
	}
	return r;
}

static int csv_error_report(struct importer *imp, int code, const struct csv_error *ce)
{
	const char *col = "";
	if (ce->column > 0 && ce->column <= imp->ncolumns)
		col = imp->header_name[ce->column - 1];
	if (col[0])
		add_error(imp, ce->row, col, code == IV_ERR_TOO_LARGE ? "too_large" : "syntax", "%s",
			  ce->message);
	else if (ce->column > 0)
		add_error(imp, ce->row, "", code == IV_ERR_TOO_LARGE ? "too_large" : "syntax",
			  "field %zu: %s", ce->column, ce->message);
	else
		add_error(imp, ce->row, "", "syntax", "%s", ce->message);
	return code == IV_ERR_TOO_LARGE ? IV_ERR_TOO_LARGE : IV_ERR_INVALID;
}

static int run_csv(struct importer *imp, const struct import_source *src, int *input_error)
{
	struct csv_reader *rd = NULL;
	struct csv_error ce;
	struct row row;
	const char *const *fields;
	size_t n;
	int r, got;

	r = src->data ? csv_reader_new_buffer(src->data, src->len, &rd)
		      : csv_reader_new_stream(src->read, src->ctx, &rd);
	if (r != 0)
		return r;
	got = csv_next(rd, &fields, &n, &ce);
	if (got < 0) {
		*input_error = csv_error_report(imp, got, &ce);
		r = 0;
		goto out;
	}
	if (got == 0) {
		add_error(imp, 0, "", "invalid", "the file is empty: a header row is required");
		*input_error = IV_ERR_INVALID;
		r = 0;
		goto out;
	}
	if ((r = csv_header(imp, (char *const *)fields, n)) != 0) {
		*input_error = r;
		r = 0;
		goto out;
	}
	for (;;) {
		got = csv_next(rd, &fields, &n, &ce);
		if (got == 0)
			break;
		if (got < 0) {
			*input_error = csv_error_report(imp, got, &ce);
			break;
		}
		if (imp->res->rows >= IMPORT_MAX_ROWS) {
			add_error(imp, csv_row(rd), "", "too_large", "more than %d rows",
				  IMPORT_MAX_ROWS);
			*input_error = IV_ERR_TOO_LARGE;
			break;
		}
		row_reset(imp, &row, csv_row(rd));
		if (n != imp->ncolumns) {
			imp->res->rows++;
			imp->res->invalid++;
			add_error(imp, row.number, "", "invalid",
				  "%zu fields, but the header has %zu columns", n, imp->ncolumns);
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			int c = imp->header_col[i];
			row.val[c] = row_store(imp, fields[i], strlen(fields[i]));
			row.colname[c] = imp->header_name[i];
		}
		r = import_row(imp, &row);
		wipe_keys(imp);
		if (r != 0)
			goto out;
	}
	r = 0;
out:
	row_reset(imp, &row, 0);
	csv_reader_free(rd);
	return r;
}

/* ---- JSON ---- */

struct json_pull {
	const struct import_source *src;
	size_t total;
	int too_large;
};

static size_t json_pull_cb(void *buffer, size_t buflen, void *data)
{
	struct json_pull *jp = data;
	size_t got = 0;
	if (jp->src->read(jp->src->ctx, buffer, buflen, &got) != 0)
		return (size_t)-1;
	jp->total += got;
	if (jp->total > (size_t)IMPORT_JSON_MAX) {
		jp->too_large = 1;
		return (size_t)-1;
	}
	return got;
}

static void json_wipe_keys(json_t *item)
{
	const char *name;
	json_t *val;
	if (!json_is_object(item))
		return;
	json_object_foreach(item, name, val)
	{
		int c = column_lookup(name);
		if ((c == COL_APP_KEY || c == COL_NWK_KEY || c == COL_PSK) && json_is_string(val))
			secmem_wipe((char *)json_string_value(val), json_string_length(val));
	}
}

static int json_row(struct importer *imp, json_t *item, struct row *row)
{
	const char *name;
	json_t *val;
	int ok = 1;

	if (!json_is_object(item)) {
		add_error(imp, row->number, "", "invalid", "not a JSON object");
		return IV_ERR_INVALID;
	}
	json_object_foreach(item, name, val)
	{
		int c = column_lookup(name);
		if (c < 0) {
			add_error(imp, row->number, name, "unknown_column", "unknown field");
			ok = 0;
			continue;
		}
		if (row->colname[c] != NULL) {
			add_error(imp, row->number, name, "invalid", "field given twice (also as %s)",
				  row->colname[c]);
			ok = 0;
			continue;
		}
		row->colname[c] = name;
		if (json_is_null(val))
			continue;
		if (c == COL_TAGS && json_is_array(val)) {
			char tags[STORE_TAGS_MAX + 2];
			size_t i, used = 0;
			json_t *t;
			json_array_foreach(val, i, t)
			{
				if (!json_is_string(t) || used >= sizeof(tags)) {
					ok = 0;
					break;
				}
				used += (size_t)snprintf(tags + used, sizeof(tags) - used, "%s%s",
							 used ? "," : "", json_string_value(t));
			}
			if (!ok || used >= sizeof(tags)) {
				add_error(imp, row->number, name, "invalid",
					  "an array of tag strings, at most %d characters in all",
					  STORE_TAGS_MAX);
				ok = 0;
				continue;
			}
			row->val[c] = row_store(imp, tags, used);
			continue;
		}
		if (!json_is_string(val)) {
			add_error(imp, row->number, name, "invalid", "must be a string");
			ok = 0;
			continue;
		}
		if (json_string_length(val) > CSV_FIELD_MAX ||
		    strlen(json_string_value(val)) != json_string_length(val)) {
			add_error(imp, row->number, name, "invalid", "too long or contains NUL");
			ok = 0;
			continue;
		}
		row->val[c] = row_store(imp, json_string_value(val), json_string_length(val));
	}
	return ok ? 0 : IV_ERR_INVALID;
}

static int run_json(struct importer *imp, const struct import_source *src, int *input_error)
{
	struct json_pull jp = {src, 0, 0};
	json_error_t jerr;
	json_t *doc, *list, *item;
	struct row row;
	size_t i;
	int r = 0;

	if (src->data) {
		if (src->len > (size_t)IMPORT_JSON_MAX) {
			add_error(imp, 0, "", "too_large", "JSON documents are limited to %ld bytes",
				  IMPORT_JSON_MAX);
			*input_error = IV_ERR_TOO_LARGE;
			return 0;
		}
		doc = json_loadb((const char *)src->data, src->len, JSON_REJECT_DUPLICATES, &jerr);
	} else
		doc = json_load_callback(json_pull_cb, &jp, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		if (jp.too_large)
			add_error(imp, 0, "", "too_large", "JSON documents are limited to %ld bytes",
				  IMPORT_JSON_MAX);
		else
			add_error(imp, 0, "", "syntax", "not valid JSON (line %d, column %d)",
				  jerr.line, jerr.column);
		*input_error = jp.too_large ? IV_ERR_TOO_LARGE : IV_ERR_INVALID;
		return 0;
	}
	list = json_is_object(doc) ? json_object_get(doc, "devices") : doc;
	if (!json_is_array(list) || (json_is_object(doc) && json_object_size(doc) != 1)) {
		add_error(imp, 0, "", "invalid",
			  "expected an array of device objects or {\"devices\": [...]}");
		*input_error = IV_ERR_INVALID;
		goto out;
	}
	if (json_array_size(list) == 0) {
		add_error(imp, 0, "", "invalid", "no devices in the file");
		*input_error = IV_ERR_INVALID;
		goto out;
	}
	if (json_array_size(list) > IMPORT_MAX_ROWS) {
		add_error(imp, 0, "", "too_large", "more than %d rows", IMPORT_MAX_ROWS);
		*input_error = IV_ERR_TOO_LARGE;
		goto out;
	}
	json_array_foreach(list, i, item)
	{
		row_reset(imp, &row, i + 1);
		if (json_row(imp, item, &row) != 0) {
			imp->res->rows++;
			imp->res->invalid++;
		} else if ((r = import_row(imp, &row)) != 0) {
			wipe_keys(imp);
			json_wipe_keys(item);
			goto out;
		}
		wipe_keys(imp);
		json_wipe_keys(item);
	}
	r = 0;
out:
	row_reset(imp, &row, 0);
	json_array_foreach(list, i, item)
		json_wipe_keys(item);
	json_decref(doc);
	return r;
}

/* ---- the import ---- */

static void audit_detail(const struct import_options *opt, const struct import_result *res,
			 char *out, size_t cap)
{
	snprintf(out, cap,
		 "format=%s policy=%s rows=%zu created=%zu flagged=%zu regenerated=%zu "
		 "rejected=%zu generated=%zu invalid=%zu",
		 import_format_name(opt->format), key_policy_name(opt->policy), res->rows,
		 res->committed ? res->valid : 0, res->flagged, res->regenerated, res->rejected,
		 res->generated, res->invalid);
}

static void importer_free(struct importer *imp)
{
	for (size_t k = 0; k < 3; k++)
		secbuf_free(imp->key[k]);
	if (imp->rowbuf) {
		secmem_wipe(imp->rowbuf, ROWBUF_CAP);
		secmem_free(imp->rowbuf);
	}
	seen_free(&imp->seen);
}

static int importer_init(struct importer *imp, struct vault *v, const struct import_options *opt,
			 const struct import_source *src, struct import_result *res)
{
	memset(imp, 0, sizeof(*imp));
	imp->v = v;
	imp->st = v ? vault_store(v) : NULL;
	imp->opt = opt;
	imp->res = res;
	if ((src->data == NULL && src->read == NULL) || res->notices == NULL)
		return IV_ERR_INVALID;
	for (size_t k = 0; k < 3; k++)
		if ((imp->key[k] = secbuf_new(HYGIENE_KEY_MAX_LEN)) == NULL)
			return IV_ERR_NOMEM;
	if ((imp->rowbuf = secmem_alloc(ROWBUF_CAP)) == NULL)
		return IV_ERR_NOMEM;
	return 0;
}

/* Reading and per-row validation, shared by import_run and import_validate. */
static int import_rows(struct importer *imp, const struct import_source *src, int *input_error)
{
	struct import_result *res = imp->res;
	int r = imp->opt->format == IMPORT_FORMAT_JSON ? run_json(imp, src, input_error)
						       : run_csv(imp, src, input_error);
	if (r != 0)
		return r;
	if (*input_error == 0 && res->errors_total == 0 && res->rows == 0) {
		add_error(imp, 0, "", "invalid", "no device rows in the file");
		*input_error = IV_ERR_INVALID;
	}
	if (*input_error == 0 && res->errors_total > 0)
		*input_error = res->invalid == 0 && res->rejected > 0 ? IV_ERR_WEAK_KEY : IV_ERR_INVALID;
	return 0;
}

int import_validate(const struct import_options *opt, const struct import_source *src,
		    struct import_result *res)
{
	struct importer imp;
	int r, input_error = 0;
	if ((r = importer_init(&imp, NULL, opt, src, res)) == 0 &&
	    (r = import_rows(&imp, src, &input_error)) == 0)
		r = input_error;
	importer_free(&imp);
	return r;
}

int import_run(struct vault *v, const struct audit_actor *actor, const struct import_options *opt,
	       const struct import_source *src, struct import_result *res)
{
	struct importer imp;
	struct store *st = vault_store(v);
	struct audit_event ev;
	char detail[AUDIT_DETAIL_MAX], object[64];
	int r, in_tx = 0, input_error = 0;

	if ((r = importer_init(&imp, v, opt, src, res)) != 0)
		goto out;
	if ((r = st->ops->begin(st, 1)) != 0)
		goto out;
	in_tx = 1;
	if ((r = import_rows(&imp, src, &input_error)) != 0)
		goto out;
	if (input_error != 0 || opt->dry_run) {
		/* all or nothing: every row of this import goes */
		st->ops->rollback(st);
		in_tx = 0;
		r = input_error;
		goto out;
	}
	res->committed = 1;
	audit_detail(opt, res, detail, sizeof(detail));
	snprintf(object, sizeof(object), "tenant:%lld", (long long)opt->tenant_id);
	ev = (struct audit_event){opt->tenant_id, "device.import", object, "success", detail};
	if ((r = audit_append(v, actor, &ev)) != 0 || (r = st->ops->commit(st)) != 0) {
		res->committed = 0;
		goto out;
	}
	in_tx = 0;
	/* success */
	r = 0;
out:
	if (in_tx)
		st->ops->rollback(st);
	if (r != 0 && !opt->dry_run) {
		/* one record per import, the refused ones included */
		int r2;
		res->committed = 0;
		audit_detail(opt, res, detail, sizeof(detail));
		snprintf(object, sizeof(object), "tenant:%lld", (long long)opt->tenant_id);
		ev = (struct audit_event){opt->tenant_id, "device.import", object, "failure", detail};
		if ((r2 = audit_append_now(v, actor, &ev)) != 0)
			log_error("audit: could not record a refused import (%s)", iv_error_name(r2));
	}
	importer_free(&imp);
	return r;
}

json_t *import_result_to_json(const struct import_options *opt, const struct import_result *res)
{
	json_t *o = json_object(), *errors = json_array(), *notices = json_array();

	json_object_set_new(o, "format", json_string(import_format_name(opt->format)));
	json_object_set_new(o, "policy", json_string(key_policy_name(opt->policy)));
	json_object_set_new(o, "dry_run", json_boolean(opt->dry_run));
	json_object_set_new(o, "committed", json_boolean(res->committed));
	json_object_set_new(o, "rows", json_integer((json_int_t)res->rows));
	json_object_set_new(o, "valid", json_integer((json_int_t)res->valid));
	json_object_set_new(o, "created", json_integer((json_int_t)(res->committed ? res->valid : 0)));
	json_object_set_new(o, "flagged", json_integer((json_int_t)res->flagged));
	json_object_set_new(o, "regenerated", json_integer((json_int_t)res->regenerated));
	json_object_set_new(o, "rejected", json_integer((json_int_t)res->rejected));
	json_object_set_new(o, "generated", json_integer((json_int_t)res->generated));
	json_object_set_new(o, "invalid", json_integer((json_int_t)res->invalid));
	for (size_t i = 0; i < res->nerrors; i++) {
		const struct import_error *e = &res->errors[i];
		json_t *j = json_object();
		json_object_set_new(j, "row", json_integer((json_int_t)e->row));
		json_object_set_new(j, "column", json_string(e->column));
		json_object_set_new(j, "code", json_string(e->code));
		json_object_set_new(j, "message", json_string(e->message));
		json_array_append_new(errors, j);
	}
	json_object_set_new(o, "errors", errors);
	json_object_set_new(o, "errors_total", json_integer((json_int_t)res->errors_total));
	for (size_t i = 0; i < res->nnotices; i++) {
		const struct import_notice *n = &res->notices[i];
		json_t *j = json_object();
		json_object_set_new(j, "row", json_integer((json_int_t)n->row));
		json_object_set_new(j, "column", json_string(n->column));
		json_object_set_new(j, "device", json_string(n->device));
		json_object_set_new(j, "action", json_string(n->action));
		json_object_set_new(j, "reason", json_string(n->reason));
		json_array_append_new(notices, j);
	}
	json_object_set_new(o, "notices", notices);
	json_object_set_new(o, "notices_total", json_integer((json_int_t)res->notices_total));
	return o;
}
