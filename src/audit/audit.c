/* Hash-chained, HMAC-authenticated audit log: append inside the caller's
 * transaction, and verification of the whole chain and its head. */
#include "iotvault/audit.h"
#include "iotvault/cursor.h"
#include "iotvault/log.h"
#include "iotvault/secmem.h"

#include <stdio.h>
#include <string.h>

#define MAC_INPUT_MAX (32 + 3 * 8 + 7 * 4 + 5 * (AUDIT_TEXT_MAX + 1) + AUDIT_DETAIL_MAX + 64)

static int record_mac(struct vault *v, const uint8_t prev[static 32],
		      const struct audit_record *a, uint8_t out[static 32])
{
	uint8_t buf[MAC_INPUT_MAX];
	struct writer w;
	int r;

	writer_init(&w, buf, sizeof(buf));
	if ((r = writer_put_string_field(&w, "iotvault/audit/1")) ||
	    (r = writer_put_bytes(&w, prev, 32)) || (r = writer_put_u64be(&w, (uint64_t)a->seq)) ||
	    (r = writer_put_u64be(&w, (uint64_t)a->ts_ms)) ||
	    (r = writer_put_u64be(&w, (uint64_t)a->tenant_id)) ||
	    (r = writer_put_string_field(&w, a->actor_type)) ||
	    (r = writer_put_string_field(&w, a->actor)) ||
	    (r = writer_put_string_field(&w, a->source)) ||
	    (r = writer_put_string_field(&w, a->action)) ||
	    (r = writer_put_string_field(&w, a->object)) ||
	    (r = writer_put_string_field(&w, a->outcome)) ||
	    (r = writer_put_string_field(&w, a->detail)))
		return r;
	return vault_audit_mac(v, buf, w.len, out);
}

static int head_mac(struct vault *v, int64_t seq, const uint8_t mac[static 32],
		    uint8_t out[static 32])
{
	uint8_t buf[128];
	struct writer w;
	int r;
	writer_init(&w, buf, sizeof(buf));
	if ((r = writer_put_string_field(&w, "iotvault/audit-head/1")) ||
	    (r = writer_put_u64be(&w, (uint64_t)seq)) || (r = writer_put_bytes(&w, mac, 32)))
		return r;
	return vault_audit_mac(v, buf, w.len, out);
}

/* Copies S into DST, replacing control characters so one record is one line
 * wherever it is shown. */
static void clean_copy(char *dst, size_t cap, const char *s)
{
	size_t i = 0;
	if (s != NULL)
		for (; s[i] != '\0' && i + 1 < cap; i++)
			dst[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	dst[i] = '\0';
}

int audit_append(struct vault *v, const struct audit_actor *actor, const struct audit_event *ev)
{
	struct store *st = vault_store(v);
	struct audit_record a;
	uint8_t prev[32], hm[32];
	int64_t last;
	int r;

	memset(&a, 0, sizeof(a));
	if ((r = st->ops->audit_last(st, &last, prev)) != 0)
		goto out;
	a.seq = last + 1;
	a.ts_ms = store_now_ms();
	a.tenant_id = ev->tenant_id;
	clean_copy(a.actor_type, sizeof(a.actor_type), actor->type);
	clean_copy(a.actor, sizeof(a.actor), actor->name);
	clean_copy(a.source, sizeof(a.source), actor->source);
	clean_copy(a.action, sizeof(a.action), ev->action);
	clean_copy(a.object, sizeof(a.object), ev->object);
	clean_copy(a.outcome, sizeof(a.outcome), ev->outcome);
	clean_copy(a.detail, sizeof(a.detail), ev->detail);
	if ((r = record_mac(v, prev, &a, a.mac)) != 0 || (r = st->ops->audit_insert(st, &a)) != 0 ||
	    (r = head_mac(v, a.seq, a.mac, hm)) != 0 ||
	    (r = st->ops->audit_head_set(st, a.seq, a.mac, hm)) != 0)
		goto out;
	/* success */
	r = 0;
out:
	if (r) {
		log_error("audit: cannot append record for %s: %s", a.action, iv_error_message(r));
		return IV_ERR_AUDIT;
	}
	return 0;
}

int audit_append_now(struct vault *v, const struct audit_actor *actor,
		     const struct audit_event *ev)
{
	struct store *st = vault_store(v);
	int r;
	if ((r = st->ops->begin(st, 1)) != 0)
		return IV_ERR_AUDIT;
	if ((r = audit_append(v, actor, ev)) != 0) {
		st->ops->rollback(st);
		return r;
	}
	if (st->ops->commit(st) != 0)
		return IV_ERR_AUDIT;
	return 0;
}

struct verify_ctx {
	struct vault *v;
	struct audit_verify_result *res;
	int64_t expected;
	uint8_t prev[32];
	int r;
};

static int verify_one(void *ctx, const struct audit_record *a)
{
	struct verify_ctx *vc = ctx;
	uint8_t mac[32];

	if (a->seq != vc->expected) {
		vc->res->first_bad = vc->expected < a->seq ? vc->expected : a->seq;
		vc->res->reason = "sequence gap: a record was deleted or inserted";
		return 1;
	}
	if ((vc->r = record_mac(vc->v, vc->prev, a, mac)) != 0)
		return 1;
	if (secmem_equal(mac, a->mac, 32) != 0) {
		vc->res->first_bad = a->seq;
		vc->res->reason = "MAC mismatch: the record was modified, reordered or forged, "
				  "or its predecessor was removed";
		return 1;
	}
	memcpy(vc->prev, a->mac, 32);
	vc->res->records++;
	vc->expected++;
	return 0;
}

int audit_verify(struct vault *v, struct audit_verify_result *res)
{
	struct store *st = vault_store(v);
	struct verify_ctx vc = {v, res, 1, {0}, 0};
	uint8_t head_seq_mac[32], head_hm[32], expect_hm[32];
	int64_t head_seq = 0;
	int r;

	memset(res, 0, sizeof(*res));
	/* one read transaction: a consistent snapshot while others append */
	if ((r = st->ops->begin(st, 0)) != 0)
		return r;
	r = st->ops->audit_iterate(st, 1, verify_one, &vc);
	if (r == 1)
		r = 0;
	if (r == 0 && vc.r)
		r = vc.r;
	if (r != 0 || res->first_bad != 0)
		goto out;
	r = st->ops->audit_head_get(st, &head_seq, head_seq_mac, head_hm);
	if (r == IV_ERR_NOT_FOUND || res->records == 0) {
		/* vault_create writes the first record: a log is never empty */
		r = 0;
		res->first_bad = res->records + 1;
		res->reason = res->records ? "the authenticated head of the log is missing"
					   : "the log is empty: every record was removed";
		goto out;
	}
	if (r != 0)
		goto out;
	if ((r = head_mac(v, head_seq, head_seq_mac, expect_hm)) != 0)
		goto out;
	if (secmem_equal(expect_hm, head_hm, 32) != 0) {
		res->first_bad = res->records + 1;
		res->reason = "the head of the log is forged";
	} else if (head_seq != res->records || secmem_equal(head_seq_mac, vc.prev, 32) != 0) {
		res->first_bad = res->records + 1;
		res->reason = head_seq > res->records
				      ? "records at the end of the log were removed"
				      : "the head does not match the last record";
	}
out:
	st->ops->rollback(st);
	if (r != 0)
		return r;
	return res->first_bad ? IV_ERR_AUDIT_CHAIN : 0;
}
