/* Export of devices with their keys (include/iotvault/export.h): builds The
 * Things Stack CSV, ChirpStack v4 JSON or iotvault LwM2M JSON in secure
 * memory, and encrypts it with GPGME to one recipient public key imported
 * into a private, throwaway GNUPGHOME. The document is written by hand rather
 * than through jansson so that no copy of a key ends up in memory that is
 * freed without being wiped (jansson's buffers grow by realloc). */
#include "iotvault/audit.h"
#include "iotvault/device.h"
#include "iotvault/export.h"
#include "iotvault/hex.h"
#include "iotvault/log.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <gpgme.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE_SIZE_DEVICES 256
#define KEY_HEX_MAX (2 * DEVICE_PSK_MAX + 1)

static const struct {
	enum export_format format;
	const char *name;
	const char *kind;
	const char *media_type;
} formats[] = {
	{EXPORT_TTS_CSV, "tts-csv", "lorawan", "text/csv"},
	{EXPORT_CHIRPSTACK_JSON, "chirpstack-json", "lorawan", "application/json"},
	{EXPORT_LWM2M_JSON, "lwm2m-json", "lwm2m", "application/json"},
};

enum export_format export_format_from_name(const char *name)
{
	for (size_t i = 0; name && i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(name, formats[i].name) == 0)
			return formats[i].format;
	return 0;
}

const char *export_format_name(enum export_format f)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (formats[i].format == f)
			return formats[i].name;
	return "unknown";
}

static size_t format_index(enum export_format f)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (formats[i].format == f)
			return i;
	return 0;
}

/* ---- the document: a growable buffer in secure memory ---- */

struct outbuf {
	struct secbuf *buf;
	size_t len;
	int failed; /* IV_ERR_* once an append failed; later appends do nothing */
};

static void out_bytes(struct outbuf *o, const void *p, size_t n)
{
	if (o->failed)
		return;
	if (o->buf == NULL || o->len + n > o->buf->len) {
		size_t cap = o->buf ? o->buf->len : 0;
		struct secbuf *grown;
		while (cap < o->len + n)
			cap = cap ? cap * 2 : 64 * 1024;
		if (cap > EXPORT_DOCUMENT_MAX) {
			o->failed = IV_ERR_TOO_LARGE;
			return;
		}
		if ((grown = secbuf_new(cap)) == NULL) {
			o->failed = IV_ERR_NOMEM;
			return;
		}
		if (o->len)
			memcpy(grown->data, o->buf->data, o->len);
		secbuf_free(o->buf);
		o->buf = grown;
	}
	memcpy(o->buf->data + o->len, p, n);
	o->len += n;
}

static void out_str(struct outbuf *o, const char *s)
{
	out_bytes(o, s, strlen(s));
}

/* A JSON string literal; names are user text. */
static void out_json_string(struct outbuf *o, const char *s)
{
	out_str(o, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};
			out_bytes(o, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			char esc[8];
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			out_str(o, esc);
		} else
			out_bytes(o, s, 1);
	}
	out_str(o, "\"");
}

/* A CSV field as Go's encoding/csv (The Things Stack's reader) reads it with
 * ';' as the separator and leading spaces trimmed. */
static void out_csv_field(struct outbuf *o, const char *s)
{
	if (strpbrk(s, ";\"\r\n") == NULL && s[0] != ' ' && s[0] != '\t') {
		out_str(o, s);
		return;
	}
	out_str(o, "\"");
	for (; *s; s++) {
		if (*s == '"')
			out_str(o, "\"");
		out_bytes(o, s, 1);
	}
	out_str(o, "\"");
}

static void out_key_hex(struct outbuf *o, const struct secbuf *key)
{
	char hex[KEY_HEX_MAX];
	if (key->len > DEVICE_PSK_MAX) {
		o->failed = IV_ERR_INTERNAL;
		return;
	}
	hex_encode_upper(key->data, key->len, hex);
	out_bytes(o, hex, 2 * key->len);
	secmem_wipe(hex, sizeof(hex));
}

static void outbuf_clear(struct outbuf *o)
{
	secbuf_free(o->buf);
	o->buf = NULL;
	o->len = 0;
}

/* ---- the three shapes ---- */

static const char *tts_mac_version(const char *v)
{
	static const char *const map[][2] = {
		{"1.0.0", "MAC_V1_0"},   {"1.0.1", "MAC_V1_0_1"}, {"1.0.2", "MAC_V1_0_2"},
		{"1.0.3", "MAC_V1_0_3"}, {"1.0.4", "MAC_V1_0_4"}, {"1.1", "MAC_V1_1"},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(v, map[i][0]) == 0)
			return map[i][1];
	return "";
}

static const char *chirpstack_mac_version(const char *v)
{
	static const char *const map[][2] = {
		{"1.0.0", "LORAWAN_1_0_0"}, {"1.0.1", "LORAWAN_1_0_1"}, {"1.0.2", "LORAWAN_1_0_2"},
		{"1.0.3", "LORAWAN_1_0_3"}, {"1.0.4", "LORAWAN_1_0_4"}, {"1.1", "LORAWAN_1_1_0"},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(v, map[i][0]) == 0)
			return map[i][1];
	return "";
}

struct doc_ctx {
	struct outbuf *out;
	enum export_format format;
	int with_nwk_key; /* tts-csv: the nwk_key column (LoRaWAN 1.1 devices) */
	int64_t rows;
};

static const struct secbuf *key_of(const char *const *fields, struct secbuf *const *keys,
				   const char *name)
{
	for (size_t i = 0; fields[i] != NULL; i++)
		if (strcmp(fields[i], name) == 0)
			return keys[i];
	return NULL;
}

/* Tags "a,b" as a JSON array (AS_MAP 0) or a ChirpStack tag map {"a": ""}. */
static void out_tags(struct outbuf *o, const char *tags, int as_map)
{
	char copy[STORE_TAGS_MAX + 1], *save = NULL;
	int first = 1;
	snprintf(copy, sizeof(copy), "%s", tags);
	out_str(o, as_map ? "{" : "[");
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		out_str(o, first ? "" : ", ");
		out_json_string(o, t);
		if (as_map)
			out_str(o, ": \"\"");
		first = 0;
	}
	out_str(o, as_map ? "}" : "]");
}

static void doc_begin(struct doc_ctx *dc)
{
	switch (dc->format) {
	case EXPORT_TTS_CSV:
		out_str(dc->out, "id;dev_eui;join_eui;name;lorawan_version;app_key");
		out_str(dc->out, dc->with_nwk_key ? ";nwk_key\n" : "\n");
		break;
	case EXPORT_CHIRPSTACK_JSON:
		out_str(dc->out, "{\n  \"format\": \"chirpstack-v4-devices/1\",\n  \"devices\": [");
		break;
	case EXPORT_LWM2M_JSON:
		/* exactly the shape `iotvault device import --format json` reads */
		out_str(dc->out, "{\n  \"devices\": [");
		break;
	}
}

static void doc_end(struct doc_ctx *dc)
{
	if (dc->format != EXPORT_TTS_CSV)
		out_str(dc->out, dc->rows ? "\n  ]\n}\n" : "]\n}\n");
}

static int doc_row(void *ctx, const struct device_record *d, const char *const *fields,
		   struct secbuf *const *keys)
{
	struct doc_ctx *dc = ctx;
	struct outbuf *o = dc->out;
	const struct secbuf *app = key_of(fields, keys, "app_key");
	const struct secbuf *nwk = key_of(fields, keys, "nwk_key");
	const struct secbuf *psk = key_of(fields, keys, "psk");
	int v11 = strcmp(d->mac_version, "1.1") == 0;

	switch (dc->format) {
	case EXPORT_TTS_CSV: {
		char id[4 + 17];
		if (app == NULL || v11 != dc->with_nwk_key || (v11 && nwk == NULL))
			return IV_ERR_INTERNAL;
		/* The Things Stack's own default device ID: "eui-" and the DevEUI */
		snprintf(id, sizeof(id), "eui-%s", d->dev_eui);
		for (char *p = id; *p; p++)
			if (*p >= 'A' && *p <= 'F')
				*p = (char)(*p - 'A' + 'a');
		out_str(o, id);
		out_str(o, ";");
		out_str(o, d->dev_eui);
		out_str(o, ";");
		out_str(o, d->join_eui);
		out_str(o, ";");
		out_csv_field(o, d->name);
		out_str(o, ";");
		out_str(o, tts_mac_version(d->mac_version));
		out_str(o, ";");
		out_key_hex(o, app);
		if (v11) {
			out_str(o, ";");
			out_key_hex(o, nwk);
		}
		out_str(o, "\n");
		break;
	}
	case EXPORT_CHIRPSTACK_JSON:
		if (app == NULL || (v11 && nwk == NULL))
			return IV_ERR_INTERNAL;
		out_str(o, dc->rows ? ",\n    {\n" : "\n    {\n");
		out_str(o, "      \"device\": {\"devEui\": \"");
		out_str(o, d->dev_eui);
		out_str(o, "\", \"joinEui\": \"");
		out_str(o, d->join_eui);
		out_str(o, "\", \"name\": ");
		out_json_string(o, d->name[0] ? d->name : d->dev_eui);
		out_str(o, ", \"description\": \"\", \"tags\": ");
		out_tags(o, d->tags, 1);
		out_str(o, "},\n      \"deviceKeys\": {\"devEui\": \"");
		out_str(o, d->dev_eui);
		/* ChirpStack's DeviceKeys: nwkKey carries the 1.0.x AppKey; appKey
		 * is the 1.1 AppKey only */
		out_str(o, "\", \"nwkKey\": \"");
		out_key_hex(o, v11 ? nwk : app);
		if (v11) {
			out_str(o, "\", \"appKey\": \"");
			out_key_hex(o, app);
		}
		out_str(o, "\"},\n      \"macVersion\": \"");
		out_str(o, chirpstack_mac_version(d->mac_version));
		out_str(o, "\"\n    }");
		break;
	case EXPORT_LWM2M_JSON:
		if (psk == NULL)
			return IV_ERR_INTERNAL;
		out_str(o, dc->rows ? ",\n    {" : "\n    {");
		out_str(o, "\"type\": \"lwm2m\", \"name\": ");
		out_json_string(o, d->name);
		out_str(o, ", \"tags\": ");
		out_tags(o, d->tags, 0);
		out_str(o, ", \"endpoint\": ");
		out_json_string(o, d->endpoint);
		out_str(o, ", \"psk_identity\": ");
		out_json_string(o, d->psk_identity);
		out_str(o, ", \"psk\": \"");
		out_key_hex(o, psk);
		out_str(o, "\"}");
		break;
	}
	dc->rows++;
	return o->failed;
}

/* ---- the recipient key and the encryption (GPGME) ---- */

struct gpg {
	char home[96];
	int have_home;
	gpgme_ctx_t ctx;
	gpgme_key_t key;
};

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	if (remove(path) != 0)
		log_warning("export: could not remove %s: %s", path, strerror(errno));
	return 0;
}

static void gpg_close(struct gpg *g)
{
	if (g->key)
		gpgme_key_unref(g->key);
	if (g->ctx)
		gpgme_release(g->ctx);
	/* the throwaway keyring holds only a public key, but leave nothing behind */
	if (g->have_home)
		nftw(g->home, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	memset(g, 0, sizeof(*g));
}

static int gpg_fail(gpgme_error_t e, const char *what, char *err, size_t err_len)
{
	snprintf(err, err_len, "%s: %s", what, gpgme_strerror(e));
	return IV_ERR_CRYPTO;
}

/* A private GNUPGHOME (0700) that never starts an agent or asks a keyserver. */
static int gpg_open(struct gpg *g, char *err, size_t err_len)
{
	static const char conf[] = "no-autostart\nno-auto-key-retrieve\nno-greeting\n";
	const char *tmp = getenv("TMPDIR");
	char path[sizeof(g->home) + 16];
	gpgme_error_t e;
	int fd, n;

	memset(g, 0, sizeof(*g));
	gpgme_check_version(NULL);
	if (gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP) != 0) {
		snprintf(err, err_len, "gpg (GnuPG) is not installed or too old");
		return IV_ERR_CONFIG;
	}
	/* the agent's socket path must stay short; a long TMPDIR is not used */
	if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > 48)
		tmp = "/tmp";
	n = snprintf(g->home, sizeof(g->home), "%s/iotvault-export-XXXXXX", tmp);
	if (n < 0 || (size_t)n >= sizeof(g->home) || mkdtemp(g->home) == NULL) {
		snprintf(err, err_len, "cannot create a temporary GnuPG home: %s", strerror(errno));
		return IV_ERR_IO;
	}
	g->have_home = 1;
	snprintf(path, sizeof(path), "%s/gpg.conf", g->home);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, conf, sizeof(conf) - 1) != (ssize_t)(sizeof(conf) - 1)) {
		if (fd >= 0)
			close(fd);
		snprintf(err, err_len, "cannot write the temporary GnuPG configuration");
		return IV_ERR_IO;
	}
	close(fd);
	if ((e = gpgme_new(&g->ctx)) != 0 ||
	    (e = gpgme_set_protocol(g->ctx, GPGME_PROTOCOL_OpenPGP)) != 0 ||
	    (e = gpgme_ctx_set_engine_info(g->ctx, GPGME_PROTOCOL_OpenPGP, NULL, g->home)) != 0)
		return gpg_fail(e, "GnuPG", err, err_len);
	gpgme_set_armor(g->ctx, 1);
	gpgme_set_offline(g->ctx, 1);
	gpgme_set_pinentry_mode(g->ctx, GPGME_PINENTRY_MODE_CANCEL);
	return 0;
}

static int subkey_can_encrypt(gpgme_key_t k)
{
	for (gpgme_subkey_t s = k->subkeys; s != NULL; s = s->next)
		if (s->can_encrypt && !s->revoked && !s->expired && !s->disabled && !s->invalid)
			return 1;
	return 0;
}

/* Checks that DATA holds exactly one usable public key, imports it, and
 * leaves it in G->key. */
static int gpg_recipient(struct gpg *g, const uint8_t *data, size_t len, char *fpr, size_t fpr_len,
			 char *err, size_t err_len)
{
	gpgme_data_t kd = NULL;
	gpgme_key_t k = NULL;
	gpgme_import_result_t ir;
	gpgme_error_t e;
	int count = 0, secret = 0, r;

	if (len == 0 || len > EXPORT_RECIPIENT_KEY_MAX) {
		snprintf(err, err_len, "recipient key: empty or larger than %d bytes",
			 EXPORT_RECIPIENT_KEY_MAX);
		return IV_ERR_INVALID;
	}
	if ((e = gpgme_data_new_from_mem(&kd, (const char *)data, len, 0)) != 0)
		return gpg_fail(e, "recipient key", err, err_len);
	/* list what the file holds before anything is imported */
	if ((e = gpgme_op_keylist_from_data_start(g->ctx, kd, 0)) == 0) {
		while (gpgme_op_keylist_next(g->ctx, &k) == 0) {
			count++;
			secret |= k->secret;
			gpgme_key_unref(k);
			k = NULL;
		}
		gpgme_op_keylist_end(g->ctx);
	}
	if (count == 0) {
		snprintf(err, err_len, "recipient key: not an OpenPGP public key");
		r = IV_ERR_INVALID;
		goto out;
	}
	if (secret) {
		snprintf(err, err_len,
			 "recipient key: the file holds a secret key; give the recipient's public key only");
		r = IV_ERR_INVALID;
		goto out;
	}
	if (count > 1) {
		snprintf(err, err_len, "recipient key: the file holds %d keys; give exactly one", count);
		r = IV_ERR_INVALID;
		goto out;
	}
	if (gpgme_data_seek(kd, 0, SEEK_SET) != 0 || (e = gpgme_op_import(g->ctx, kd)) != 0) {
		r = gpg_fail(e, "recipient key: import", err, err_len);
		goto out;
	}
	ir = gpgme_op_import_result(g->ctx);
	if (ir == NULL || ir->secret_read != 0 || ir->considered != 1 || ir->imports == NULL ||
	    ir->imports->result != 0 || ir->imports->fpr == NULL) {
		snprintf(err, err_len, "recipient key: not exactly one importable public key");
		r = IV_ERR_INVALID;
		goto out;
	}
	if ((e = gpgme_get_key(g->ctx, ir->imports->fpr, &g->key, 0)) != 0) {
		r = gpg_fail(e, "recipient key", err, err_len);
		goto out;
	}
	if (g->key->revoked || g->key->expired || g->key->disabled || g->key->invalid) {
		snprintf(err, err_len, "recipient key: the key is %s",
			 g->key->revoked ? "revoked" : g->key->expired ? "expired" : "not usable");
		r = IV_ERR_INVALID;
		goto out;
	}
	if (!subkey_can_encrypt(g->key)) {
		snprintf(err, err_len,
			 "recipient key: no valid encryption subkey (expired, revoked or sign-only)");
		r = IV_ERR_INVALID;
		goto out;
	}
	snprintf(fpr, fpr_len, "%s", g->key->fpr ? g->key->fpr : ir->imports->fpr);
	/* success */
	r = 0;
out:
	gpgme_data_release(kd);
	return r;
}

static int gpg_encrypt(struct gpg *g, const struct outbuf *doc, struct secbuf **out, size_t *out_len,
		       char *err, size_t err_len)
{
	gpgme_key_t keys[2] = {g->key, NULL};
	gpgme_data_t plain = NULL, cipher = NULL;
	gpgme_encrypt_result_t er;
	gpgme_error_t e;
	char *mem = NULL;
	size_t len = 0;
	int r;

	/* GPGME reads our secure buffer in place (no copy) and wipes its own
	 * I/O buffers ("sensitive") */
	if ((e = gpgme_data_new_from_mem(&plain, (const char *)doc->buf->data, doc->len, 0)) != 0 ||
	    (e = gpgme_data_new(&cipher)) != 0) {
		r = gpg_fail(e, "encryption", err, err_len);
		goto out;
	}
	gpgme_data_set_flag(plain, "sensitive", "1");
	if ((e = gpgme_op_encrypt(g->ctx, keys, GPGME_ENCRYPT_ALWAYS_TRUST, plain, cipher)) != 0) {
		r = gpg_fail(e, "encryption", err, err_len);
		goto out;
	}
	er = gpgme_op_encrypt_result(g->ctx);
	if (er != NULL && er->invalid_recipients != NULL) {
		snprintf(err, err_len, "encryption: the recipient key was refused: %s",
			 gpgme_strerror(er->invalid_recipients->reason));
		r = IV_ERR_INVALID;
		goto out;
	}
	mem = gpgme_data_release_and_get_mem(cipher, &len);
	cipher = NULL;
	if (mem == NULL || len == 0) {
		snprintf(err, err_len, "encryption produced no output");
		r = IV_ERR_CRYPTO;
		goto out;
	}
	if ((*out = secbuf_dup((const uint8_t *)mem, len)) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	*out_len = len;
	/* success */
	r = 0;
out:
	if (mem)
		gpgme_free(mem);
	gpgme_data_release(cipher);
	gpgme_data_release(plain);
	return r;
}

/* ---- selecting devices ---- */

struct page {
	struct device_record devs[PAGE_SIZE_DEVICES];
	size_t n;
};

static int page_add(void *ctx, const struct device_record *d)
{
	struct page *pg = ctx;
	if (pg->n == PAGE_SIZE_DEVICES)
		return IV_ERR_INTERNAL;
	pg->devs[pg->n++] = *d;
	return 0;
}

static int mac_filter_valid(const char *f)
{
	return f == NULL || strcmp(f, "1.0") == 0 || mac_version_valid(f);
}

static int mac_matches(const char *filter, const struct device_record *d)
{
	if (filter == NULL || strcmp(d->kind, "lorawan") != 0)
		return 1;
	if (strcmp(filter, "1.0") == 0)
		return strncmp(d->mac_version, "1.0.", 4) == 0;
	return strcmp(filter, d->mac_version) == 0;
}

struct counts {
	int64_t lorawan10, lorawan11, lwm2m;
};

typedef int (*device_visit)(void *ctx, const struct device_record *d);

/* Calls VISIT for every device of the request, a page at a time. */
static int for_each_device(struct store *st, const struct export_request *req,
			   const struct device_filter *filter, struct page *pg, device_visit visit,
			   void *ctx)
{
	int64_t after = 0;
	int r;
	for (;;) {
		pg->n = 0;
		if ((r = st->ops->device_list(st, req->tenant_id, filter, after, PAGE_SIZE_DEVICES,
					      page_add, pg)) != 0)
			return r;
		for (size_t i = 0; i < pg->n; i++)
			if (mac_matches(req->mac_version, &pg->devs[i]) &&
			    (r = visit(ctx, &pg->devs[i])) != 0)
				return r;
		if (pg->n < PAGE_SIZE_DEVICES)
			return 0;
		after = pg->devs[pg->n - 1].id;
	}
}

static int count_one(void *ctx, const struct device_record *d)
{
	struct counts *c = ctx;
	if (strcmp(d->kind, "lwm2m") == 0)
		c->lwm2m++;
	else if (strcmp(d->mac_version, "1.1") == 0)
		c->lorawan11++;
	else
		c->lorawan10++;
	return 0;
}

struct export_pass {
	struct vault *v;
	const struct audit_actor *actor;
	const char *detail;
	struct doc_ctx *doc;
};

static int export_one(void *ctx, const struct device_record *d)
{
	struct export_pass *p = ctx;
	return vault_export_device_keys(p->v, p->actor, d, p->detail, doc_row, p->doc);
}

/* ---- the export ---- */

static int check_request(const struct export_request *req, char *err, size_t err_len)
{
	const char *kind;
	if (export_format_from_name(export_format_name(req->format)) == 0) {
		snprintf(err, err_len, "format: tts-csv, chirpstack-json or lwm2m-json");
		return IV_ERR_INVALID;
	}
	kind = formats[format_index(req->format)].kind;
	if (req->kind != NULL && strcmp(req->kind, kind) != 0) {
		snprintf(err, err_len, "type: the %s format carries %s devices only%s",
			 export_format_name(req->format), kind,
			 strcmp(req->kind, "lwm2m") == 0 ? " (use lwm2m-json)" : "");
		return IV_ERR_INVALID;
	}
	if (!mac_filter_valid(req->mac_version) ||
	    (req->mac_version && strcmp(kind, "lorawan") != 0)) {
		snprintf(err, err_len, "mac_version: 1.0 (any 1.0.x), 1.1 or an exact version, "
				       "for LoRaWAN formats only");
		return IV_ERR_INVALID;
	}
	if (req->tag && (req->tag[0] == '\0' || strlen(req->tag) > 64)) {
		snprintf(err, err_len, "tag: 1 to 64 characters");
		return IV_ERR_INVALID;
	}
	if (req->plaintext == (req->recipient_key != NULL)) {
		snprintf(err, err_len, "give a recipient public key, or ask for plaintext explicitly");
		return IV_ERR_USAGE;
	}
	return 0;
}

int export_devices(struct vault *v, const struct audit_actor *actor,
		   const struct export_request *req, struct export_result *res, char *err,
		   size_t err_len)
{
	struct store *st = vault_store(v);
	struct gpg g;
	struct outbuf doc = {NULL, 0, 0};
	struct doc_ctx dc;
	struct counts c = {0, 0, 0};
	struct page *pg = NULL;
	struct device_filter filter = {0};
	struct audit_event ev;
	struct export_pass pass;
	char fpr[EXPORT_FPR_MAX + 1] = "", detail[AUDIT_DETAIL_MAX], object[48];
	const char *fname;
	int64_t total;
	int r, in_tx = 0;

	memset(&g, 0, sizeof(g));
	memset(res, 0, sizeof(*res));
	if (err_len)
		err[0] = '\0';
	if ((r = check_request(req, err, err_len)) != 0)
		return r;
	fname = export_format_name(req->format);
	/* a bad recipient key is refused before anything is read or recorded */
	if (!req->plaintext) {
		if ((r = gpg_open(&g, err, err_len)) != 0 ||
		    (r = gpg_recipient(&g, req->recipient_key, req->recipient_key_len, fpr,
				       sizeof(fpr), err, err_len)) != 0)
			goto out;
	}
	if ((pg = malloc(sizeof(*pg))) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	filter.kind = formats[format_index(req->format)].kind;
	filter.tag = req->tag;
	/* one write transaction: the device set cannot change under the export,
	 * and its records commit only together with a finished document */
	if ((r = st->ops->begin(st, 1)) != 0)
		goto out;
	in_tx = 1;
	if ((r = for_each_device(st, req, &filter, pg, count_one, &c)) != 0)
		goto out;
	total = c.lorawan10 + c.lorawan11 + c.lwm2m;
	if (total == 0) {
		snprintf(err, err_len, "no device matches the export's filters");
		r = IV_ERR_NOT_FOUND;
		goto out;
	}
	if (req->format == EXPORT_TTS_CSV && c.lorawan10 && c.lorawan11) {
		snprintf(err, err_len,
			 "tts-csv: LoRaWAN 1.0.x and 1.1 devices cannot share one file (only 1.1 has "
			 "a nwk_key column); export them separately, filtered by MAC version 1.0 and 1.1");
		r = IV_ERR_REFUSED;
		goto out;
	}
	snprintf(object, sizeof(object), "tenant:%lld", (long long)req->tenant_id);
	snprintf(detail, sizeof(detail),
		 "format=%s devices=%lld lorawan=%lld lwm2m=%lld encrypted=%s recipient=%s", fname,
		 (long long)total, (long long)(c.lorawan10 + c.lorawan11), (long long)c.lwm2m,
		 req->plaintext ? "no" : "yes", req->plaintext ? "none" : fpr);
	ev = (struct audit_event){req->tenant_id, "device.export", object, "success", detail};
	if (audit_append(v, actor, &ev) != 0) {
		r = IV_ERR_AUDIT;
		goto out;
	}
	snprintf(detail, sizeof(detail), "format=%s encrypted=%s recipient=%s", fname,
		 req->plaintext ? "no" : "yes", req->plaintext ? "none" : fpr);
	dc = (struct doc_ctx){&doc, req->format, c.lorawan11 > 0, 0};
	doc_begin(&dc);
	pass = (struct export_pass){v, actor, detail, &dc};
	if ((r = for_each_device(st, req, &filter, pg, export_one, &pass)) != 0)
		goto out;
	doc_end(&dc);
	if (doc.failed) {
		r = doc.failed;
		goto out;
	}
	if (dc.rows != total) {
		r = IV_ERR_INTERNAL;
		goto out;
	}
	if (req->plaintext) {
		res->document = doc.buf;
		res->document_len = doc.len;
		doc.buf = NULL;
	} else if ((r = gpg_encrypt(&g, &doc, &res->document, &res->document_len, err,
				    err_len)) != 0)
		goto out;
	if ((r = st->ops->commit(st)) != 0)
		goto out;
	in_tx = 0;
	res->encrypted = !req->plaintext;
	snprintf(res->recipient_fpr, sizeof(res->recipient_fpr), "%s", fpr);
	res->devices = total;
	res->lorawan = c.lorawan10 + c.lorawan11;
	res->lwm2m = c.lwm2m;
	res->media_type = formats[format_index(req->format)].media_type;
	/* success */
	r = 0;
out:
	if (in_tx)
		st->ops->rollback(st);
	if (r != 0) {
		export_result_clear(res);
		if (err_len && err[0] == '\0')
			snprintf(err, err_len, "%s", iv_error_message(r));
	}
	outbuf_clear(&doc);
	free(pg);
	gpg_close(&g);
	return r;
}

void export_result_clear(struct export_result *res)
{
	secbuf_free(res->document);
	memset(res, 0, sizeof(*res));
}
