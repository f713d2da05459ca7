/* The round trip shared by the LwM2M content fuzz targets (TLV, SenML JSON,
 * SenML CBOR): whatever decodes must encode, and decode again to the same
 * records; a failed decode must leave the list as it was. Resources 0..8 are
 * typed by the model (resource N has lwm2m_type N), others keep the format's
 * own types. Not a target itself: the fuzz CMakeLists builds only
 * fuzz_<name>.c files. */
#ifndef IOTVAULT_FUZZ_LWM2M_CONTENT_COMMON_H
#define IOTVAULT_FUZZ_LWM2M_CONTENT_COMMON_H

#include "iotvault/lwm2m_content.h"
#include "iotvault/secmem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static enum lwm2m_type fuzz_type_by_id(const struct lwm2m_path *p, void *arg)
{
	(void)arg;
	return p->depth >= 3 && p->id[2] <= LWM2M_TYPE_OBJLNK ? (enum lwm2m_type)p->id[2]
							     : LWM2M_TYPE_NONE;
}

static int fuzz_same_value(const struct lwm2m_value *a, const struct lwm2m_value *b)
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

/* Decodes DATA as CF for a request on BASE and checks the round trip.
 * ENCODE_MAY_REFUSE: the encoder may answer IV_ERR_INVALID for a decoded
 * list (SenML JSON has no exact form for an unsigned above INT64_MAX that a
 * float was coerced to), which is then not a bug. */
static void lwm2m_fuzz_roundtrip(unsigned cf, struct lwm2m_path base, const uint8_t *data,
				 size_t size, int encode_may_refuse)
{
	/* Full SenML names for every record, or a TLV unsigned widened by a
	 * byte, may make the copy larger than the input. */
	static uint8_t out[4 * LWM2M_PAYLOAD_MAX];
	static int initialised;
	struct lwm2m_records *recs, *again;
	struct lwm2m_decode_ctx ctx = {.base = base, .type_of = fuzz_type_by_id, .arg = NULL};
	size_t len = 0;
	int r;

	if (!initialised) {
		if (secmem_init() != 0)
			abort();
		initialised = 1;
	}
	recs = lwm2m_records_new();
	again = lwm2m_records_new();
	if (recs == NULL || again == NULL)
		abort();
	if (lwm2m_decode(cf, data, size, &ctx, recs) == 0) {
		r = lwm2m_encode(cf, &base, recs, out, sizeof(out), &len);
		if (r == IV_ERR_INVALID && encode_may_refuse)
			goto done;
		if (r != 0)
			abort();
		if (len > LWM2M_PAYLOAD_MAX)
			goto done;
		if (lwm2m_decode(cf, out, len, &ctx, again) != 0)
			abort();
		if (lwm2m_records_count(again) != lwm2m_records_count(recs))
			abort();
		for (size_t i = 0; i < lwm2m_records_count(recs); i++) {
			const struct lwm2m_record *a = lwm2m_records_get(recs, i);
			const struct lwm2m_record *b = lwm2m_records_get(again, i);
			if (!lwm2m_path_equal(&a->path, &b->path) ||
			    !fuzz_same_value(&a->value, &b->value) || a->has_time != b->has_time ||
			    (a->has_time && a->time != b->time))
				abort();
		}
	} else if (lwm2m_records_count(recs) != 0) {
		abort(); /* a failed decode must leave the list as it was */
	}
done:
	lwm2m_records_free(recs);
	lwm2m_records_free(again);
}

#endif
