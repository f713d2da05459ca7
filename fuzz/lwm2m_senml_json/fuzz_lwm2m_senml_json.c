/* libFuzzer target for the LwM2M SenML JSON decoder (LwM2M 1.1 Read and
 * Observe answers, parsed by jansson). The whole input is the payload of a
 * composite answer (request path "/"). Whatever decodes must encode, and
 * decode again to the same records. Resources 0..8 are typed by the model
 * (resource N has lwm2m_type N), others keep SenML's own types. */
#include "iotvault/lwm2m_content.h"
#include "iotvault/secmem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CF LWM2M_CF_SENML_JSON

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
	/* Full names for every record may make the copy larger than the input. */
	static uint8_t out[4 * LWM2M_PAYLOAD_MAX];
	static int initialised;
	struct lwm2m_records *recs, *again;
	struct lwm2m_decode_ctx ctx;
	struct lwm2m_path base = lwm2m_path_root();
	size_t len = 0;

	if (!initialised) {
		if (secmem_init() != 0)
			abort();
		initialised = 1;
	}
	ctx.base = base;
	ctx.type_of = type_by_id;
	ctx.arg = NULL;
	recs = lwm2m_records_new();
	again = lwm2m_records_new();
	if (recs == NULL || again == NULL)
		abort();
	if (lwm2m_decode(CF, data, size, &ctx, recs) == 0) {
		/* An unsigned above INT64_MAX (a float coerced by the model) has no
		 * exact JSON form: the encoder refuses it, which is not a bug. */
		int r = lwm2m_encode(CF, &base, recs, out, sizeof(out), &len);
		if (r == IV_ERR_INVALID)
			goto done;
		if (r != 0)
			abort();
		if (len > LWM2M_PAYLOAD_MAX)
			goto done;
		if (lwm2m_decode(CF, out, len, &ctx, again) != 0)
			abort();
		if (lwm2m_records_count(again) != lwm2m_records_count(recs))
			abort();
		for (size_t i = 0; i < lwm2m_records_count(recs); i++) {
			const struct lwm2m_record *a = lwm2m_records_get(recs, i);
			const struct lwm2m_record *b = lwm2m_records_get(again, i);
			if (!lwm2m_path_equal(&a->path, &b->path) || !same_value(&a->value, &b->value) ||
			    a->has_time != b->has_time || (a->has_time && a->time != b->time))
				abort();
		}
	} else if (lwm2m_records_count(recs) != 0) {
		abort(); /* a failed decode must leave the list as it was */
	}
done:
	lwm2m_records_free(recs);
	lwm2m_records_free(again);
	return 0;
}
