/* The vault: envelope encryption of secret fields, the master key keyring
 * (load, check, rotate, retire) and the vault-held audit key. See
 * include/iotvault/vault.h for the envelope format. */
#include "iotvault/vault.h"
#include "iotvault/audit.h"
#include "iotvault/crypto.h"
#include "iotvault/cursor.h"
#include "iotvault/log.h"
#include "iotvault/mkprov.h"
#include "iotvault/hygiene.h"
#include "iotvault/store_hygiene.h"
#include "vault/vault_fp.h"
#include "vault/vault_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AAD_MAX 256
#define AUDIT_KEY_LEN 32
#define AUDIT_KEY_FIELD "audit_key"
#define FP_KEY_FIELD "fingerprint_key"

struct vault {
	struct store *st;
	struct mk_provider *prov;
	char provider_name[STORE_KIND_MAX + 1];
	int batch_size;
	uint32_t *loaded; /* active versions loaded into the provider */
	size_t nloaded;
	uint32_t current;
	uint32_t highest; /* highest version ever created, retired ones included */
	struct secbuf *audit_key;
	/* keyed fingerprints of device keys (duplicate detection); fp_version is
	 * the hygiene_state version the loaded key belongs to */
	struct secbuf *fp_key;
	int64_t fp_version;
	/* scratch for the data key of the operation in flight; wiped after each use */
	struct secbuf *dek;
	struct aead_key *dek_ctx;
};

static const struct secret_ref audit_key_ref = {0, "system", 0, AUDIT_KEY_FIELD};
static const struct secret_ref fp_key_ref = {0, "system", 0, FP_KEY_FIELD};

/* AAD = label | tenant | owner kind | owner id | field | format [| version] */
static int build_aad(const char *label, const struct secret_ref *ref, uint32_t format,
		     int with_version, uint32_t version, uint8_t out[static AAD_MAX], size_t *len)
{
	struct writer w;
	int r;
	writer_init(&w, out, AAD_MAX);
	if ((r = writer_put_string_field(&w, label)) ||
	    (r = writer_put_u64be(&w, (uint64_t)ref->tenant_id)) ||
	    (r = writer_put_string_field(&w, ref->owner_kind)) ||
	    (r = writer_put_u64be(&w, (uint64_t)ref->owner_id)) ||
	    (r = writer_put_string_field(&w, ref->field)) || (r = writer_put_u32be(&w, format)))
		return r;
	if (with_version && (r = writer_put_u32be(&w, version)) != 0)
		return r;
	*len = w.len;
	return 0;
}

static int check_aad(uint32_t version, uint8_t out[static AAD_MAX], size_t *len)
{
	struct writer w;
	int r;
	writer_init(&w, out, AAD_MAX);
	if ((r = writer_put_string_field(&w, "iotvault/check/1")) || (r = writer_put_u32be(&w, version)))
		return r;
	*len = w.len;
	return 0;
}

static int is_loaded(const struct vault *v, uint32_t version)
{
	for (size_t i = 0; i < v->nloaded; i++)
		if (v->loaded[i] == version)
			return 1;
	return 0;
}

static int mark_loaded(struct vault *v, uint32_t version)
{
	uint32_t *grown;
	if (is_loaded(v, version))
		return 0;
	grown = realloc(v->loaded, (v->nloaded + 1) * sizeof(*grown));
	if (grown == NULL)
		return IV_ERR_NOMEM;
	v->loaded = grown;
	v->loaded[v->nloaded++] = version;
	return 0;
}

/* Verifies that the provider's key for VERSION is the one the store knows. */
static int verify_check(struct vault *v, const struct master_key_record *mk)
{
	uint8_t aad[AAD_MAX], zeros[DEK_LEN] = {0};
	size_t aad_len;
	int r;

	if ((r = check_aad(mk->version, aad, &aad_len)) != 0)
		return r;
	r = v->prov->ops->unwrap(v->prov, mk->version, aad, aad_len, mk->check, mk->check_len,
				 v->dek->data);
	if (r == 0 && secmem_equal(v->dek->data, zeros, DEK_LEN) != 0)
		r = IV_ERR_AUTH_TAG;
	secmem_wipe(v->dek->data, DEK_LEN);
	if (r == IV_ERR_AUTH_TAG || r == IV_ERR_INVALID) {
		log_error("master key version %u does not match this vault (wrong key file, "
			  "passphrase or token)",
			  mk->version);
		r = IV_ERR_MASTER_KEY;
	}
	return r;
}

static int make_check(struct vault *v, uint32_t version, struct master_key_record *mk)
{
	uint8_t aad[AAD_MAX], zeros[DEK_LEN] = {0};
	size_t aad_len;
	int r;
	if ((r = check_aad(version, aad, &aad_len)) != 0)
		return r;
	if ((r = v->prov->ops->wrap(v->prov, version, aad, aad_len, zeros, mk->check)) != 0)
		return r;
	mk->check_len = WRAPPED_DEK_LEN;
	return 0;
}

struct load_ctx {
	struct vault *v;
	int r;
};

static int load_one(void *ctx, const struct master_key_record *mk)
{
	struct load_ctx *lc = ctx;
	struct vault *v = lc->v;
	int r;

	if (mk->version > v->highest)
		v->highest = mk->version;
	if (strcmp(mk->state, "active") != 0)
		return 0;
	if (strcmp(mk->provider, v->provider_name) != 0) {
		log_error("master key version %u belongs to provider '%s' but '%s' is configured",
			  mk->version, mk->provider, v->provider_name);
		return lc->r = IV_ERR_MASTER_KEY;
	}
	if (mk->version > v->current)
		v->current = mk->version;
	if (is_loaded(v, mk->version))
		return 0;
	if ((r = v->prov->ops->load_version(v->prov, mk->version, mk->params, mk->params_len)) != 0 ||
	    (r = verify_check(v, mk)) != 0 || (r = mark_loaded(v, mk->version)) != 0)
		return lc->r = r;
	return 0;
}

int vault_reload(struct vault *v)
{
	struct load_ctx lc = {v, 0};
	int r;
	v->current = 0;
	r = v->st->ops->master_key_list(v->st, load_one, &lc);
	if (r == 0 && lc.r)
		r = lc.r;
	if (r == 0 && v->current == 0) {
		log_error("vault: no active master key version");
		r = IV_ERR_MASTER_KEY;
	}
	return r;
}

static struct vault *vault_alloc(const struct config *cfg, struct store *st,
				 struct mk_provider *prov)
{
	struct vault *v = calloc(1, sizeof(*v));
	if (v == NULL)
		return NULL;
	v->st = st;
	v->prov = prov;
	v->batch_size = cfg->rotation_batch_size > 0 ? cfg->rotation_batch_size : 500;
	snprintf(v->provider_name, sizeof(v->provider_name), "%s", prov->ops->name);
	v->dek = secbuf_new(DEK_LEN);
	if (v->dek != NULL)
		v->dek_ctx = aead_key_new(v->dek->data);
	if (v->dek == NULL || v->dek_ctx == NULL) {
		vault_free(v);
		return NULL;
	}
	return v;
}

void vault_free(struct vault *v)
{
	if (v == NULL)
		return;
	mk_provider_free(v->prov);
	free(v->loaded);
	secbuf_free(v->audit_key);
	secbuf_free(v->fp_key);
	secbuf_free(v->dek);
	aead_key_free(v->dek_ctx);
	free(v);
}

/* ---- sealing and opening ---- */

int vault_envelope_seal(struct vault *v, const struct secret_ref *ref, const uint8_t *plaintext,
		       size_t len, struct secret_record *rec)
{
	uint8_t aad[AAD_MAX];
	size_t aad_len;
	int r;

	if (len == 0 || len > SECRET_MAX_LEN)
		return IV_ERR_INVALID;
	memset(rec, 0, offsetof(struct secret_record, ciphertext));
	rec->tenant_id = ref->tenant_id;
	snprintf(rec->owner_kind, sizeof(rec->owner_kind), "%s", ref->owner_kind);
	rec->owner_id = ref->owner_id;
	snprintf(rec->field, sizeof(rec->field), "%s", ref->field);
	rec->format = SECRET_FORMAT_V1;
	rec->mk_version = v->current;
	rec->created_at = store_now_ms();

	random_bytes(v->dek->data, DEK_LEN);
	aead_key_set(v->dek_ctx, v->dek->data);
	if ((r = build_aad("iotvault/secret/1", ref, rec->format, 0, 0, aad, &aad_len)) != 0)
		goto out;
	random_bytes(rec->ciphertext, AEAD_NONCE_LEN);
	aead_seal(v->dek_ctx, rec->ciphertext, aad, aad_len, plaintext, len,
		  rec->ciphertext + AEAD_NONCE_LEN);
	rec->ciphertext_len = AEAD_NONCE_LEN + len + AEAD_TAG_LEN;
	if ((r = build_aad("iotvault/dek/1", ref, rec->format, 1, rec->mk_version, aad, &aad_len)) != 0)
		goto out;
	if ((r = v->prov->ops->wrap(v->prov, rec->mk_version, aad, aad_len, v->dek->data,
				    rec->wrapped_dek)) != 0)
		goto out;
	rec->wrapped_dek_len = WRAPPED_DEK_LEN;
	/* success */
	r = 0;
out:
	secmem_wipe(v->dek->data, DEK_LEN);
	aead_key_set(v->dek_ctx, v->dek->data);
	return r;
}

static int unwrap_dek(struct vault *v, const struct secret_ref *ref,
		      const struct secret_record *rec)
{
	uint8_t aad[AAD_MAX];
	size_t aad_len;
	int r;

	if (!is_loaded(v, rec->mk_version)) {
		/* another process rotated since we loaded the keyring */
		if ((r = vault_reload(v)) != 0)
			return r;
		if (!is_loaded(v, rec->mk_version)) {
			log_error("secret %s/%lld/%s needs master key version %u, which is not "
				  "active",
				  ref->owner_kind, (long long)ref->owner_id, ref->field,
				  rec->mk_version);
			return IV_ERR_MASTER_KEY;
		}
	}
	if ((r = build_aad("iotvault/dek/1", ref, rec->format, 1, rec->mk_version, aad, &aad_len)))
		return r;
	return v->prov->ops->unwrap(v->prov, rec->mk_version, aad, aad_len, rec->wrapped_dek,
				    rec->wrapped_dek_len, v->dek->data);
}

int vault_envelope_open(struct vault *v, const struct secret_ref *ref,
		       const struct secret_record *rec, struct secbuf **out)
{
	struct secbuf *pt = NULL;
	uint8_t aad[AAD_MAX];
	size_t aad_len;
	int r;

	if (rec->format != SECRET_FORMAT_V1 ||
	    rec->ciphertext_len < AEAD_NONCE_LEN + AEAD_TAG_LEN + 1) {
		r = IV_ERR_AUTH_TAG;
		goto out;
	}
	if ((r = unwrap_dek(v, ref, rec)) != 0)
		goto out;
	aead_key_set(v->dek_ctx, v->dek->data);
	if ((r = build_aad("iotvault/secret/1", ref, rec->format, 0, 0, aad, &aad_len)) != 0)
		goto out;
	if ((pt = secbuf_new(rec->ciphertext_len - AEAD_NONCE_LEN - AEAD_TAG_LEN)) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	if ((r = aead_open(v->dek_ctx, rec->ciphertext, aad, aad_len,
			   rec->ciphertext + AEAD_NONCE_LEN, rec->ciphertext_len - AEAD_NONCE_LEN,
			   pt->data)) != 0)
		goto out;
	*out = pt;
	pt = NULL;
	/* success */
	r = 0;
out:
	if (r == IV_ERR_AUTH_TAG)
		log_error("secret %s/%lld/%s fails authentication: modified, moved or sealed "
			  "under another key",
			  ref->owner_kind, (long long)ref->owner_id, ref->field);
	secbuf_free(pt);
	secmem_wipe(v->dek->data, DEK_LEN);
	aead_key_set(v->dek_ctx, v->dek->data);
	return r;
}

int vault_fetch_open(struct vault *v, const struct secret_ref *ref, struct secbuf **out)
{
	struct secret_record *rec = malloc(sizeof(*rec)); /* ciphertext only */ /* lint:not-secret */
	int r;
	if (rec == NULL)
		return IV_ERR_NOMEM;
	r = v->st->ops->secret_get(v->st, ref->owner_kind, ref->owner_id, ref->field, rec);
	if (r == 0)
		r = vault_envelope_open(v, ref, rec, out);
	free(rec);
	return r;
}

/* ---- fingerprints of device keys ---- */

static int is_device_key(const struct secret_ref *ref)
{
	return strcmp(ref->owner_kind, "device") == 0 &&
	       (strcmp(ref->field, "app_key") == 0 || strcmp(ref->field, "nwk_key") == 0 ||
		strcmp(ref->field, "psk") == 0);
}

int vault_fp_refresh(struct vault *v)
{
	int64_t version = 0;
	struct secbuf *key = NULL;
	int r;

	if ((r = v->st->ops->hygiene->fp_version_get(v->st, &version)) != 0)
		return r;
	if (version == v->fp_version && v->fp_key != NULL)
		return 0;
	if (version == 0)
		return IV_ERR_NOT_FOUND;
	/* another process rotated the fingerprint key since we loaded it */
	if ((r = vault_fetch_open(v, &fp_key_ref, &key)) != 0)
		return r;
	if (key->len != HYGIENE_FP_KEY_LEN) {
		secbuf_free(key);
		return IV_ERR_AUTH_TAG;
	}
	secbuf_free(v->fp_key);
	v->fp_key = key;
	v->fp_version = version;
	return 0;
}

const uint8_t *vault_fp_key(const struct vault *v) { return v->fp_key ? v->fp_key->data : NULL; }
int64_t vault_fp_version(const struct vault *v) { return v->fp_version; }
int vault_batch_size(const struct vault *v) { return v->batch_size; }

int vault_fp_install_new(struct vault *v, int64_t version)
{
	struct secbuf *key = secbuf_new(HYGIENE_FP_KEY_LEN);
	int r;

	if (key == NULL)
		return IV_ERR_NOMEM;
	random_bytes(key->data, key->len);
	if ((r = vault_seal(v, &fp_key_ref, key->data, key->len)) != 0 ||
	    (r = v->st->ops->hygiene->fp_version_set(v->st, version)) != 0) {
		secbuf_free(key);
		return r;
	}
	secbuf_free(v->fp_key);
	v->fp_key = key;
	v->fp_version = version;
	return 0;
}

int vault_fingerprint_hex(struct vault *v, const char *field, const uint8_t *key, size_t len,
			  char out[static HYGIENE_FP_HEX_LEN + 1])
{
	int r;
	if ((r = vault_fp_refresh(v)) != 0)
		return r;
	return hygiene_fingerprint_hex(v->fp_key->data, field, key, len, out);
}

/* Every device key gets its fingerprint in the same transaction as its
 * ciphertext, so the duplicate index never lags behind the secrets. */
static int fingerprint_on_seal(struct vault *v, const struct secret_ref *ref,
			       const uint8_t *plaintext, size_t len)
{
	char fp[HYGIENE_FP_HEX_LEN + 1];
	int r;

	if (!is_device_key(ref))
		return 0;
	if ((r = vault_fingerprint_hex(v, ref->field, plaintext, len, fp)) != 0)
		return r;
	return v->st->ops->hygiene->secret_set_fingerprint(v->st, ref->owner_kind, ref->owner_id,
							  ref->field, fp, v->fp_version);
}

int vault_seal(struct vault *v, const struct secret_ref *ref, const uint8_t *plaintext, size_t len)
{
	struct secret_record *rec = malloc(sizeof(*rec)); /* ciphertext only */ /* lint:not-secret */
	uint32_t before;
	int r;

	if (rec == NULL)
		return IV_ERR_NOMEM;
	if ((r = vault_envelope_seal(v, ref, plaintext, len, rec)) != 0)
		goto out;
	r = v->st->ops->secret_put(v->st, rec);
	if (r == IV_ERR_EXISTS) {
		/* the store refuses versions that are no longer active: reload, retry once */
		before = v->current;
		if ((r = vault_reload(v)) != 0)
			goto out;
		if (v->current == before) {
			r = IV_ERR_STORE;
			goto out;
		}
		if ((r = vault_envelope_seal(v, ref, plaintext, len, rec)) != 0)
			goto out;
		r = v->st->ops->secret_put(v->st, rec);
	}
	if (r == 0)
		r = fingerprint_on_seal(v, ref, plaintext, len);
out:
	free(rec);
	return r;
}

int vault_secret_exists(struct vault *v, const struct secret_ref *ref)
{
	struct secret_record *rec = malloc(sizeof(*rec)); /* lint:not-secret */
	int r;
	if (rec == NULL)
		return IV_ERR_NOMEM;
	r = v->st->ops->secret_get(v->st, ref->owner_kind, ref->owner_id, ref->field, rec);
	free(rec);
	return r;
}

int vault_reveal(struct vault *v, const struct audit_actor *actor, const struct secret_ref *ref,
		 struct secbuf **out)
{
	char object[AUDIT_TEXT_MAX];
	struct audit_event ev;
	int r, r2;

	if ((r = vault_secret_exists(v, ref)) != 0)
		return r;
	snprintf(object, sizeof(object), "%s:%lld/%s", ref->owner_kind, (long long)ref->owner_id,
		 ref->field);
	ev = (struct audit_event){ref->tenant_id, "key.reveal", object, "granted", NULL};
	/* the record goes first: no record, no reveal */
	if ((r = audit_append_now(v, actor, &ev)) != 0)
		return IV_ERR_AUDIT;
	if ((r = vault_fetch_open(v, ref, out)) != 0) {
		ev.outcome = "failure";
		ev.detail = iv_error_name(r);
		r2 = audit_append_now(v, actor, &ev);
		if (r2 != 0)
			log_error("audit: could not record the failed reveal of %s", object);
	}
	return r;
}

uint32_t vault_current_version(const struct vault *v) { return v->current; }
struct store *vault_store(struct vault *v) { return v->st; }

int vault_audit_mac(struct vault *v, const uint8_t *msg, size_t len, uint8_t out[static 32])
{
	if (v->audit_key == NULL)
		return IV_ERR_INTERNAL;
	hmac_sha256(v->audit_key->data, v->audit_key->len, msg, len, out);
	return 0;
}

/* ---- creation and opening ---- */

/* Creates VERSION in the provider and records it; inside a write transaction. */
static int add_version(struct vault *v, uint32_t version)
{
	struct master_key_record mk;
	int r;

	memset(&mk, 0, sizeof(mk));
	mk.version = version;
	snprintf(mk.provider, sizeof(mk.provider), "%s", v->provider_name);
	snprintf(mk.state, sizeof(mk.state), "active");
	mk.created_at = store_now_ms();
	if ((r = v->prov->ops->create_version(v->prov, version, mk.params, &mk.params_len)) != 0)
		return r;
	if ((r = make_check(v, version, &mk)) != 0)
		return r;
	if ((r = v->st->ops->master_key_insert(v->st, &mk)) != 0)
		return r;
	if ((r = mark_loaded(v, version)) != 0)
		return r;
	v->current = version;
	if (version > v->highest)
		v->highest = version;
	return 0;
}

int vault_create(const struct config *cfg, struct store *st, struct mk_provider *prov,
		 const struct audit_actor *actor, struct vault **out)
{
	struct vault *v = vault_alloc(cfg, st, prov);
	struct audit_event ev;
	struct secbuf *key = NULL;
	int r, in_tx = 0;

	if (v == NULL) {
		mk_provider_free(prov);
		return IV_ERR_NOMEM;
	}
	if ((r = st->ops->begin(st, 1)) != 0)
		goto out;
	in_tx = 1;
	if ((r = add_version(v, 1)) != 0)
		goto out;
	if ((key = secbuf_new(AUDIT_KEY_LEN)) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	random_bytes(key->data, key->len);
	if ((r = vault_seal(v, &audit_key_ref, key->data, key->len)) != 0)
		goto out;
	v->audit_key = key;
	key = NULL;
	if ((r = vault_fp_install_new(v, 1)) != 0)
		goto out;
	/* the first record of every log: an empty log is a truncated one */
	ev = (struct audit_event){0, "vault.init", "vault", "success", v->provider_name};
	if ((r = audit_append(v, actor, &ev)) != 0)
		goto out;
	if ((r = st->ops->commit(st)) != 0)
		goto out;
	in_tx = 0;
	*out = v;
	v = NULL;
	/* success */
	r = 0;
out:
	if (in_tx)
		st->ops->rollback(st);
	secbuf_free(key);
	vault_free(v);
	return r;
}

/* A data directory created before fingerprints: create the key (once, even
 * with several processes opening at the same time), then fingerprint the
 * device keys stored so far. */
static int fingerprint_key_first(struct vault *v)
{
	struct audit_actor system = {"system", "iotvault", "local"};
	struct audit_event ev;
	int64_t version = 0;
	int r, in_tx = 0;

	if ((r = v->st->ops->begin(v->st, 1)) != 0)
		return r;
	in_tx = 1;
	if ((r = v->st->ops->hygiene->fp_version_get(v->st, &version)) != 0)
		goto out;
	if (version == 0) {
		ev = (struct audit_event){0, "vault.fingerprint_key.create", "fingerprint_key:v1",
					  "success", NULL};
		if ((r = audit_append(v, &system, &ev)) != 0 || (r = vault_fp_install_new(v, 1)) != 0)
			goto out;
	}
	if ((r = v->st->ops->commit(v->st)) != 0)
		goto out;
	in_tx = 0;
	if ((r = vault_fp_refresh(v)) != 0)
		goto out;
	r = vault_fingerprint_backfill(v, NULL, NULL, NULL);
out:
	if (in_tx)
		v->st->ops->rollback(v->st);
	return r;
}

int vault_open(const struct config *cfg, struct store *st, struct mk_provider *prov,
	       struct vault **out)
{
	struct vault *v = vault_alloc(cfg, st, prov);
	int r;

	if (v == NULL) {
		mk_provider_free(prov);
		return IV_ERR_NOMEM;
	}
	if ((r = vault_reload(v)) != 0)
		goto out;
	if ((r = vault_fetch_open(v, &audit_key_ref, &v->audit_key)) != 0) {
		log_error("vault: cannot open the audit key: %s", iv_error_message(r));
		goto out;
	}
	if ((r = vault_fp_refresh(v)) == IV_ERR_NOT_FOUND)
		r = fingerprint_key_first(v);
	if (r != 0) {
		log_error("vault: cannot open the fingerprint key: %s", iv_error_message(r));
		goto out;
	}
	*out = v;
	v = NULL;
	/* success */
	r = 0;
out:
	vault_free(v);
	return r;
}

/* ---- rotation ---- */

struct rewrap_item {
	int64_t id;
	int64_t tenant_id;
	int64_t owner_id;
	char owner_kind[STORE_KIND_MAX + 1];
	char field[STORE_FIELD_MAX + 1];
	uint32_t format;
	uint32_t mk_version;
	uint8_t wrapped[WRAPPED_DEK_MAX];
	size_t wrapped_len;
};

struct batch {
	struct rewrap_item *items;
	size_t count, cap;
};

static int collect(void *ctx, const struct secret_record *sec)
{
	struct batch *b = ctx;
	struct rewrap_item *it;
	if (b->count >= b->cap)
		return IV_ERR_INTERNAL;
	it = &b->items[b->count++];
	it->id = sec->id;
	it->tenant_id = sec->tenant_id;
	it->owner_id = sec->owner_id;
	snprintf(it->owner_kind, sizeof(it->owner_kind), "%s", sec->owner_kind);
	snprintf(it->field, sizeof(it->field), "%s", sec->field);
	it->format = sec->format;
	it->mk_version = sec->mk_version;
	memcpy(it->wrapped, sec->wrapped_dek, sec->wrapped_dek_len);
	it->wrapped_len = sec->wrapped_dek_len;
	return 0;
}

static int rewrap_item(struct vault *v, const struct rewrap_item *it)
{
	struct secret_ref ref = {it->tenant_id, it->owner_kind, it->owner_id, it->field};
	struct secret_record rec;
	uint8_t aad[AAD_MAX], wrapped[WRAPPED_DEK_LEN];
	size_t aad_len;
	int r;

	/* unwrap_dek reads only these fields of the record */
	rec.format = it->format;
	rec.mk_version = it->mk_version;
	memcpy(rec.wrapped_dek, it->wrapped, it->wrapped_len);
	rec.wrapped_dek_len = it->wrapped_len;
	if ((r = unwrap_dek(v, &ref, &rec)) != 0)
		goto out;
	if ((r = build_aad("iotvault/dek/1", &ref, it->format, 1, v->current, aad, &aad_len)) != 0)
		goto out;
	if ((r = v->prov->ops->wrap(v->prov, v->current, aad, aad_len, v->dek->data, wrapped)) != 0)
		goto out;
	r = v->st->ops->secret_rewrap(v->st, it->id, it->mk_version, v->current, wrapped,
				      WRAPPED_DEK_LEN);
	if (r == IV_ERR_NOT_FOUND)
		r = 0; /* deleted or replaced meanwhile: nothing left to re-wrap */
out:
	secmem_wipe(v->dek->data, DEK_LEN);
	return r;
}

int vault_rotate(struct vault *v, const struct audit_actor *actor, vault_progress_cb cb, void *ctx,
		 struct rotation_progress *result)
{
	struct rotation_progress prog = {0};
	struct batch b = {0};
	struct audit_event ev;
	char object[64], detail[128];
	int64_t remaining;
	int r, in_tx = 0;

	/* The write lock is held while the new version is created, so two
	 * rotations can never create (and overwrite) the same version. */
	if ((r = v->st->ops->begin(v->st, 1)) != 0)
		return r;
	in_tx = 1;
	if ((r = vault_reload(v)) != 0)
		goto out;
	remaining = v->st->ops->secret_count_below(v->st, v->current);
	if (remaining < 0) {
		r = (int)remaining;
		goto out;
	}
	if (remaining == 0) {
		if ((r = add_version(v, v->highest + 1)) != 0)
			goto out;
		prog.resumed = 0;
	} else
		prog.resumed = 1;
	prog.to_version = v->current;
	prog.from_below = v->current;
	snprintf(object, sizeof(object), "master_key:v%u", v->current);
	ev = (struct audit_event){0, "master.rotate", object, prog.resumed ? "resumed" : "started",
				  NULL};
	if ((r = audit_append(v, actor, &ev)) != 0)
		goto out;
	if ((r = v->st->ops->commit(v->st)) != 0)
		goto out;
	in_tx = 0;
	log_info("master key rotation to version %u %s", v->current,
		 prog.resumed ? "resumed" : "started");

	b.cap = (size_t)v->batch_size;
	if ((b.items = calloc(b.cap, sizeof(*b.items))) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		if ((r = v->st->ops->begin(v->st, 1)) != 0)
			goto out;
		in_tx = 1;
		b.count = 0;
		if ((r = v->st->ops->secret_list_below(v->st, prog.to_version, v->batch_size, collect,
						       &b)) != 0)
			goto out;
		for (size_t i = 0; i < b.count; i++)
			if ((r = rewrap_item(v, &b.items[i])) != 0)
				goto out;
		if ((r = v->st->ops->commit(v->st)) != 0)
			goto out;
		in_tx = 0;
		if (b.count == 0)
			break;
		prog.rewrapped += (int64_t)b.count;
		remaining = v->st->ops->secret_count_below(v->st, prog.to_version);
		prog.remaining = remaining > 0 ? remaining : 0;
		if (cb)
			cb(ctx, &prog);
	}
	prog.remaining = 0;
	snprintf(detail, sizeof(detail), "re-wrapped %lld data keys", (long long)prog.rewrapped);
	ev = (struct audit_event){0, "master.rotate", object, "success", detail};
	if ((r = audit_append_now(v, actor, &ev)) != 0)
		goto out;
	if (result)
		*result = prog;
	/* success */
	r = 0;
out:
	if (in_tx)
		v->st->ops->rollback(v->st);
	for (size_t i = 0; i < b.count; i++)
		secmem_wipe(b.items[i].wrapped, sizeof(b.items[i].wrapped));
	free(b.items);
	return r;
}

struct retire_ctx {
	uint32_t below;
	uint32_t versions[64];
	size_t count;
};

static int collect_retirable(void *ctx, const struct master_key_record *mk)
{
	struct retire_ctx *rc = ctx;
	if (mk->version < rc->below && strcmp(mk->state, "active") == 0 &&
	    rc->count < sizeof(rc->versions) / sizeof(rc->versions[0]))
		rc->versions[rc->count++] = mk->version;
	return 0;
}

int vault_retire(struct vault *v, const struct audit_actor *actor, uint32_t below,
		 int64_t *still_dependent)
{
	struct retire_ctx rc = {below, {0}, 0};
	struct audit_event ev;
	char object[64];
	int64_t n;
	int r, in_tx = 0;

	*still_dependent = 0;
	if ((r = v->st->ops->begin(v->st, 1)) != 0)
		return r;
	in_tx = 1;
	if ((r = vault_reload(v)) != 0)
		goto out;
	if (below > v->current) {
		log_warning("refusing to retire version %u: it is the current master key", v->current);
		r = IV_ERR_REFUSED;
		goto out;
	}
	n = v->st->ops->secret_count_below(v->st, below);
	if (n < 0) {
		r = (int)n;
		goto out;
	}
	if (n > 0) {
		*still_dependent = n;
		r = IV_ERR_REFUSED;
		goto out;
	}
	if ((r = v->st->ops->master_key_list(v->st, collect_retirable, &rc)) != 0)
		goto out;
	for (size_t i = 0; i < rc.count; i++) {
		snprintf(object, sizeof(object), "master_key:v%u", rc.versions[i]);
		ev = (struct audit_event){0, "master.retire", object, "success", NULL};
		if ((r = audit_append(v, actor, &ev)) != 0 ||
		    (r = v->st->ops->master_key_set_state(v->st, rc.versions[i], "retired")) != 0)
			goto out;
	}
	if ((r = v->st->ops->commit(v->st)) != 0)
		goto out;
	in_tx = 0;
	/* destroy only after the store no longer lists the versions as active */
	for (size_t i = 0; i < rc.count; i++) {
		if ((r = v->prov->ops->destroy_version(v->prov, rc.versions[i])) != 0) {
			log_error("master key version %u is retired but its material could not be "
				  "destroyed",
				  rc.versions[i]);
			goto out;
		}
		for (size_t j = 0; j < v->nloaded; j++)
			if (v->loaded[j] == rc.versions[i])
				v->loaded[j] = v->loaded[--v->nloaded];
	}
	/* success */
	r = 0;
out:
	if (in_tx)
		v->st->ops->rollback(v->st);
	return r;
}
