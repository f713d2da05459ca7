/* The vault's key-hygiene operations (include/iotvault/vault_hygiene.h):
 * checking a stored device key without revealing it, and recomputing
 * fingerprints after the fingerprint key changed. */
#include "iotvault/audit.h"
#include "iotvault/log.h"
#include "iotvault/store_hygiene.h"
#include "iotvault/vault_hygiene.h"
#include "vault/vault_fp.h"
#include "vault/vault_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vault_device_key_check(struct vault *v, const struct device_record *dev, const char *field,
			   const struct hygiene_context *ctx, struct hygiene_finding *out,
			   size_t max, size_t *n)
{
	struct secret_ref ref = {dev->tenant_id, "device", dev->id, field};
	struct secbuf *key = NULL;
	int r;

	*n = 0;
	if ((r = vault_fetch_open(v, &ref, &key)) != 0)
		return r;
	if (key->len == 0 || key->len > HYGIENE_KEY_MAX_LEN)
		r = IV_ERR_INVALID;
	else
		r = hygiene_check_key(key->data, key->len, ctx, out, max, n);
	secbuf_free(key);
	return r;
}

struct pending_batch {
	struct fp_pending *items;
	size_t count, cap;
};

static int collect_pending(void *ctx, const struct fp_pending *p)
{
	struct pending_batch *b = ctx;
	if (b->count >= b->cap)
		return IV_ERR_INTERNAL;
	b->items[b->count++] = *p;
	return 0;
}

static int recompute_one(struct vault *v, const struct fp_pending *p)
{
	struct secret_ref ref = {p->tenant_id, "device", p->owner_id, p->field};
	struct secbuf *key = NULL;
	char fp[HYGIENE_FP_HEX_LEN + 1];
	struct store *st = vault_store(v);
	int r;

	if ((r = vault_fetch_open(v, &ref, &key)) != 0) {
		log_error("fingerprints: device %lld %s cannot be opened: %s", (long long)p->owner_id,
			  p->field, iv_error_message(r));
		return r;
	}
	r = hygiene_fingerprint_hex(vault_fp_key(v), p->field, key->data, key->len, fp);
	secbuf_free(key);
	if (r == 0)
		r = st->ops->hygiene->secret_set_fingerprint_by_id(st, p->secret_id, fp,
								   vault_fp_version(v));
	return r;
}

int vault_fingerprint_backfill(struct vault *v, vault_fp_progress_cb cb, void *ctx,
			       struct fp_rotation_progress *result)
{
	struct store *st = vault_store(v);
	struct fp_rotation_progress prog = {0};
	struct pending_batch b = {0};
	int64_t remaining = 0;
	int r, in_tx = 0;

	b.cap = (size_t)vault_batch_size(v);
	if ((b.items = calloc(b.cap, sizeof(*b.items))) == NULL)
		return IV_ERR_NOMEM;
	for (;;) {
		if ((r = st->ops->begin(st, 1)) != 0)
			goto out;
		in_tx = 1;
		/* a rotation by another process moves the target with it */
		if ((r = vault_fp_refresh(v)) != 0)
			goto out;
		prog.version = vault_fp_version(v);
		b.count = 0;
		if ((r = st->ops->hygiene->fp_pending_list(st, prog.version, (int)b.cap,
							   collect_pending, &b)) != 0)
			goto out;
		for (size_t i = 0; i < b.count; i++)
			if ((r = recompute_one(v, &b.items[i])) != 0)
				goto out;
		if ((r = st->ops->commit(st)) != 0)
			goto out;
		in_tx = 0;
		if (b.count == 0)
			break;
		prog.recomputed += (int64_t)b.count;
		if ((r = st->ops->hygiene->fp_pending_count(st, prog.version, &remaining)) != 0)
			goto out;
		prog.remaining = remaining;
		if (cb)
			cb(ctx, &prog);
	}
	prog.remaining = 0;
	if (result)
		*result = prog;
	/* success */
	r = 0;
out:
	if (in_tx)
		st->ops->rollback(st);
	free(b.items);
	return r;
}

int vault_fingerprint_rotate(struct vault *v, const struct audit_actor *actor,
			     vault_fp_progress_cb cb, void *ctx, struct fp_rotation_progress *result)
{
	struct store *st = vault_store(v);
	struct fp_rotation_progress prog = {0};
	struct audit_event ev;
	char object[64], detail[96];
	int64_t pending = 0;
	int resumed, r, in_tx = 0;

	/* the write lock makes the version bump and the key replacement atomic */
	if ((r = st->ops->begin(st, 1)) != 0)
		return r;
	in_tx = 1;
	if ((r = vault_fp_refresh(v)) != 0 ||
	    (r = st->ops->hygiene->fp_pending_count(st, vault_fp_version(v), &pending)) != 0)
		goto out;
	resumed = pending > 0;
	if (!resumed && (r = vault_fp_install_new(v, vault_fp_version(v) + 1)) != 0)
		goto out;
	snprintf(object, sizeof(object), "fingerprint_key:v%lld", (long long)vault_fp_version(v));
	ev = (struct audit_event){0, "vault.fingerprint_key.rotate", object,
				  resumed ? "resumed" : "started", NULL};
	if ((r = audit_append(v, actor, &ev)) != 0)
		goto out;
	if ((r = st->ops->commit(st)) != 0)
		goto out;
	in_tx = 0;
	log_info("fingerprint key rotation to version %lld %s", (long long)vault_fp_version(v),
		 resumed ? "resumed" : "started");
	if ((r = vault_fingerprint_backfill(v, cb, ctx, &prog)) != 0)
		goto out;
	prog.resumed = resumed;
	snprintf(detail, sizeof(detail), "recomputed %lld fingerprints", (long long)prog.recomputed);
	ev = (struct audit_event){0, "vault.fingerprint_key.rotate", object, "success", detail};
	if ((r = audit_append_now(v, actor, &ev)) != 0)
		goto out;
	if (result)
		*result = prog;
	/* success */
	r = 0;
out:
	if (in_tx)
		st->ops->rollback(st);
	return r;
}
