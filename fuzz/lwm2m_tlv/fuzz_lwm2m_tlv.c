/* libFuzzer target for the LwM2M TLV decoder (what a client answers to a
 * Read). Input: one byte choosing the request path's depth (1..4), one byte
 * the resource id, then the TLV payload. Whatever decodes must encode, and
 * decode again to the same records. Resources 0..8 are typed (resource N has
 * lwm2m_type N), others are left as raw bytes. */
#include "iotvault/lwm2m_content.h"
#include "iotvault/secmem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum lwm2m_type type_by_id(const struct lwm2m_path *p, void *arg)
{
	(void)arg;
	return p->depth >= 3 && p->id[2] <= LWM2M_TYPE_OBJLNK ? (enum lwm2m_type)p->id[2]
							     : LWM2M_TYPE_NONE;
}

static int same_value(const struct lwm2m_value *a, const struct lwm2m_value *b)
{
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case LWM2M_TYPE_INTEGER:
	case LWM2M_TYPE_TIME:
		return a->v.i == b->v.i;
	case LWM2M_TYPE_UNSIGNED:
		return a->v.u == b->v.u;
	case LWM2M_TYPE_FLOAT:
		return (isnan(a->v.f) && isnan(b->v.f)) || a->v.f == b->v.f;
	case LWM2M_TYPE_BOOLEAN:
		return a->v.b == b->v.b;
	case LWM2M_TYPE_OBJLNK:
		return a->v.lnk.obj == b->v.lnk.obj && a->v.lnk.inst == b->v.lnk.inst;
	case LWM2M_TYPE_STRING:
	case LWM2M_TYPE_OPAQUE:
		return a->len == b->len && (a->len == 0 || memcmp(a->bytes, b->bytes, a->len) == 0);
	default:
		return 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Re-encoding may widen an unsigned value by a byte; twice is ample. */
	static uint8_t out[2 * LWM2M_PAYLOAD_MAX + 64];
	static int initialised;
	struct lwm2m_records *recs, *again;
	struct lwm2m_decode_ctx ctx;
	struct lwm2m_path base = lwm2m_path_resource_instance(9, 0, 0, 0);
	size_t len = 0;

	if (!initialised) {
		if (secmem_init() != 0)
			abort();
		initialised = 1;
	}
	if (size < 2)
		return 0;
	base.id[2] = data[1];
	base.depth = (uint8_t)(1 + (data[0] & 3));
	for (unsigned i = base.depth; i < LWM2M_PATH_DEPTH_MAX; i++)
		base.id[i] = 0;
	ctx.base = base;
	ctx.type_of = type_by_id;
	ctx.arg = NULL;
	recs = lwm2m_records_new();
	again = lwm2m_records_new();
	if (recs == NULL || again == NULL)
		abort();
	if (lwm2m_decode(LWM2M_CF_TLV, data + 2, size - 2, &ctx, recs) == 0) {
		if (lwm2m_encode(LWM2M_CF_TLV, &base, recs, out, sizeof(out), &len) != 0)
			abort();
		if (lwm2m_decode(LWM2M_CF_TLV, out, len, &ctx, again) != 0)
			abort();
		if (lwm2m_records_count(again) != lwm2m_records_count(recs))
			abort();
		for (size_t i = 0; i < lwm2m_records_count(recs); i++) {
			const struct lwm2m_record *a = lwm2m_records_get(recs, i);
			const struct lwm2m_record *b = lwm2m_records_get(again, i);
			if (!lwm2m_path_equal(&a->path, &b->path) || !same_value(&a->value, &b->value))
				abort();
		}
	} else if (lwm2m_records_count(recs) != 0) {
		abort(); /* a failed decode must leave the list as it was */
	}
	lwm2m_records_free(recs);
	lwm2m_records_free(again);
	return 0;
}
