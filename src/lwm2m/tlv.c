/* OMA LwM2M TLV (Content-Format 11542, and 1542 of LwM2M 1.0, which has the
 * same bytes). A TLV names only the last id of what it carries and does not
 * say a value's type, so decoding needs the request path and, for typed
 * values, the object model (lwm2m_decode_ctx.type_of).
 *
 * Type byte: bits 7-6 kind (00 object instance, 01 resource instance, 10
 * multiple resource, 11 resource with value); bit 5 identifier of 16 bits
 * rather than 8; bits 4-3 length field of 0/8/16/24 bits, a 0-bit length
 * being given by bits 2-0. */
#include "content_internal.h"

#include <stdlib.h>
#include <string.h>

#include "iotvault/cursor.h"

enum tlv_kind {
	TLV_OBJECT_INSTANCE = 0,
	TLV_RESOURCE_INSTANCE = 1,
	TLV_MULTIPLE_RESOURCE = 2,
	TLV_RESOURCE = 3,
};

#define TLV_ID16 0x20u
#define TLV_LEN_SHIFT 3
#define TLV_LEN_MASK 0x03u
#define TLV_LEN3_MASK 0x07u
#define TLV_LEN24_MAX 0xFFFFFFu

struct tlv {
	enum tlv_kind kind;
	uint16_t id;
	const uint8_t *value;
	size_t len;
};

/* ---- decoding ---- */

static int tlv_read(struct cursor *c, struct tlv *t)
{
	struct cursor at = *c;
	uint8_t hdr, id8, len8;
	uint16_t id16, len16;
	size_t len;
	int r;

	if ((r = cursor_read_u8(&at, &hdr)) != 0)
		return r;
	if (hdr & TLV_ID16) {
		if ((r = cursor_read_u16be(&at, &id16)) != 0)
			return r;
	} else {
		if ((r = cursor_read_u8(&at, &id8)) != 0)
			return r;
		id16 = id8;
	}
	switch ((hdr >> TLV_LEN_SHIFT) & TLV_LEN_MASK) {
	case 0:
		len = hdr & TLV_LEN3_MASK;
		break;
	case 1:
		if ((r = cursor_read_u8(&at, &len8)) != 0)
			return r;
		len = len8;
		break;
	case 2:
		if ((r = cursor_read_u16be(&at, &len16)) != 0)
			return r;
		len = len16;
		break;
	default:
		if ((r = cursor_read_u8(&at, &len8)) != 0 || (r = cursor_read_u16be(&at, &len16)) != 0)
			return r;
		len = ((size_t)len8 << 16) | len16;
		break;
	}
	if (id16 > LWM2M_ID_MAX)
		return IV_ERR_INVALID;
	if ((r = cursor_view(&at, &t->value, len)) != 0)
		return r;
	t->kind = (enum tlv_kind)(hdr >> 6);
	t->id = id16;
	t->len = len;
	*c = at;
	return 0;
}

int lwm2m_tlv_value_parse(const uint8_t *bytes, size_t len, enum lwm2m_type type,
			  struct lwm2m_value *out)
{
	struct cursor c;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64 = 0;
	int r = 0;

	if (out == NULL || (bytes == NULL && len))
		return IV_ERR_INVALID;
	cursor_init(&c, bytes, len);
	switch (type) {
	case LWM2M_TYPE_INTEGER:
	case LWM2M_TYPE_TIME:
	case LWM2M_TYPE_UNSIGNED: {
		bool is_signed = type != LWM2M_TYPE_UNSIGNED;
		int64_t i;
		switch (len) {
		case 1:
			r = cursor_read_u8(&c, &u8);
			u64 = u8;
			i = (int8_t)u8;
			break;
		case 2:
			r = cursor_read_u16be(&c, &u16);
			u64 = u16;
			i = (int16_t)u16;
			break;
		case 4:
			r = cursor_read_u32be(&c, &u32);
			u64 = u32;
			i = (int32_t)u32;
			break;
		case 8:
			r = cursor_read_u64be(&c, &u64);
			i = (int64_t)u64;
			break;
		default:
			return IV_ERR_INVALID;
		}
		if (r)
			return r;
		memset(out, 0, sizeof(*out));
		out->type = type;
		if (is_signed)
			out->v.i = i;
		else
			out->v.u = u64;
		return 0;
	}
	case LWM2M_TYPE_FLOAT:
		if (len == 4) {
			float f;
			if ((r = cursor_read_u32be(&c, &u32)) != 0)
				return r;
			memcpy(&f, &u32, sizeof(f));
			*out = lwm2m_value_float((double)f);
		} else if (len == 8) {
			double d;
			if ((r = cursor_read_u64be(&c, &u64)) != 0)
				return r;
			memcpy(&d, &u64, sizeof(d));
			*out = lwm2m_value_float(d);
		} else {
			return IV_ERR_INVALID;
		}
		return 0;
	case LWM2M_TYPE_BOOLEAN:
		if (len != 1 || (r = cursor_read_u8(&c, &u8)) != 0 || u8 > 1)
			return r ? r : IV_ERR_INVALID;
		*out = lwm2m_value_boolean(u8 == 1);
		return 0;
	case LWM2M_TYPE_OBJLNK: {
		uint16_t obj, inst;
		if (len != 4)
			return IV_ERR_INVALID;
		if ((r = cursor_read_u16be(&c, &obj)) != 0 || (r = cursor_read_u16be(&c, &inst)) != 0)
			return r;
		*out = lwm2m_value_objlnk(obj, inst);
		return 0;
	}
	case LWM2M_TYPE_STRING:
	case LWM2M_TYPE_OPAQUE:
		if (len > LWM2M_VALUE_MAX)
			return IV_ERR_TOO_LARGE;
		if (type == LWM2M_TYPE_STRING && !lwm2m_utf8_valid(bytes, len))
			return IV_ERR_INVALID;
		memset(out, 0, sizeof(*out));
		out->type = type;
		out->bytes = bytes;
		out->len = len;
		return 0;
	default:
		return IV_ERR_INVALID;
	}
}

static int add_value(const struct lwm2m_decode_ctx *ctx, const struct lwm2m_path *path,
		     const struct tlv *t, struct lwm2m_records *out)
{
	struct lwm2m_value v;
	enum lwm2m_type type = lwm2m_ctx_type(ctx, path);
	int r;

	/* Without a model the bytes are handed on as they came. */
	if (type == LWM2M_TYPE_NONE)
		type = LWM2M_TYPE_OPAQUE;
	if ((r = lwm2m_tlv_value_parse(t->value, t->len, type, &v)) != 0)
		return r;
	return lwm2m_records_add(out, path, &v);
}

static int cmp_id(const void *a, const void *b)
{
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
	return (x > y) - (x < y);
}

static int ids_unique(const struct tlv *items, size_t n)
{
	uint16_t *ids;
	bool unique = true;

	if (n < 2)
		return 0;
	ids = malloc(n * sizeof(*ids));
	if (ids == NULL)
		return IV_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		ids[i] = items[i].id;
	qsort(ids, n, sizeof(*ids), cmp_id);
	for (size_t i = 1; i < n && unique; i++)
		unique = ids[i] != ids[i - 1];
	free(ids);
	return unique ? 0 : IV_ERR_INVALID;
}

/* The TLVs of one container (or the payload), read into an array so that
 * their shape can be checked before anything is added. Each id may appear
 * once: an instance or multiple resource given twice is malformed (and could
 * not be written back as one). A container of more elements than a record
 * list holds is refused before any sorting. */
static int read_all(const uint8_t *payload, size_t len, struct tlv **items, size_t *count)
{
	struct cursor c;
	struct tlv t, *arr = NULL;
	size_t n = 0;
	int r;

	cursor_init(&c, payload, len);
	while (cursor_remaining(&c)) {
		struct tlv *grown;
		if ((r = tlv_read(&c, &t)) != 0)
			goto fail;
		if (n == LWM2M_RECORDS_MAX) {
			r = IV_ERR_TOO_LARGE;
			goto fail;
		}
		grown = realloc(arr, (n + 1) * sizeof(*arr));
		if (grown == NULL) {
			r = IV_ERR_NOMEM;
			goto fail;
		}
		arr = grown;
		arr[n++] = t;
	}
	if ((r = ids_unique(arr, n)) != 0)
		goto fail;
	*items = arr;
	*count = n;
	return 0;
fail:
	free(arr);
	return r;
}

static int decode_multiple(const struct lwm2m_decode_ctx *ctx, const struct lwm2m_path *res,
			   const uint8_t *bytes, size_t len, struct lwm2m_records *out)
{
	struct tlv *items = NULL;
	size_t n = 0;
	int r;

	if (len == 0) {
		struct lwm2m_value none = lwm2m_value_none();
		return lwm2m_records_add(out, res, &none);
	}
	if ((r = read_all(bytes, len, &items, &n)) != 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct lwm2m_path p = *res;
		if (items[i].kind != TLV_RESOURCE_INSTANCE) {
			r = IV_ERR_INVALID;
			break;
		}
		p.id[p.depth++] = items[i].id;
		if ((r = add_value(ctx, &p, &items[i], out)) != 0)
			break;
	}
	free(items);
	return r;
}

/* A resource (with value) or multiple resource inside instance INST. */
static int decode_resource(const struct lwm2m_decode_ctx *ctx, const struct lwm2m_path *inst,
			   const struct tlv *t, struct lwm2m_records *out)
{
	struct lwm2m_path p = *inst;

	p.id[p.depth++] = t->id;
	if (t->kind == TLV_RESOURCE)
		return add_value(ctx, &p, t, out);
	if (t->kind == TLV_MULTIPLE_RESOURCE)
		return decode_multiple(ctx, &p, t->value, t->len, out);
	return IV_ERR_INVALID;
}

static int decode_instance(const struct lwm2m_decode_ctx *ctx, const struct lwm2m_path *inst,
			   const uint8_t *bytes, size_t len, struct lwm2m_records *out)
{
	struct tlv *items = NULL;
	size_t n = 0;
	int r;

	if (len == 0) {
		struct lwm2m_value none = lwm2m_value_none();
		return lwm2m_records_add(out, inst, &none);
	}
	if ((r = read_all(bytes, len, &items, &n)) != 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if ((r = decode_resource(ctx, inst, &items[i], out)) != 0)
			break;
	free(items);
	return r;
}

static int decode_top(const struct lwm2m_decode_ctx *ctx, const struct tlv *items, size_t n,
		      struct lwm2m_records *out)
{
	const struct lwm2m_path *base = &ctx->base;
	int r;

	switch (base->depth) {
	case 1:
		for (size_t i = 0; i < n; i++) {
			struct lwm2m_path inst = lwm2m_path_instance(base->id[0], items[i].id);
			if (items[i].kind != TLV_OBJECT_INSTANCE)
				return IV_ERR_INVALID;
			if ((r = decode_instance(ctx, &inst, items[i].value, items[i].len, out)) != 0)
				return r;
		}
		return 0;
	case 2:
		/* Some clients wrap an instance's resources in its own object
		 * instance TLV; accepted when it is the only element. */
		if (n == 1 && items[0].kind == TLV_OBJECT_INSTANCE) {
			if (items[0].id != base->id[1])
				return IV_ERR_INVALID;
			return decode_instance(ctx, base, items[0].value, items[0].len, out);
		}
		if (n == 0) {
			struct lwm2m_value none = lwm2m_value_none();
			return lwm2m_records_add(out, base, &none);
		}
		for (size_t i = 0; i < n; i++)
			if ((r = decode_resource(ctx, base, &items[i], out)) != 0)
				return r;
		return 0;
	case 3: {
		struct lwm2m_path inst = lwm2m_path_instance(base->id[0], base->id[1]);
		if (n == 1 && items[0].kind != TLV_RESOURCE_INSTANCE) {
			if (items[0].id != base->id[2])
				return IV_ERR_INVALID;
			return decode_resource(ctx, &inst, &items[0], out);
		}
		/* A multi-instance resource's instances without their
		 * multiple-resource wrapper, as some clients send them. */
		for (size_t i = 0; i < n; i++) {
			struct lwm2m_path p = *base;
			if (items[i].kind != TLV_RESOURCE_INSTANCE)
				return IV_ERR_INVALID;
			p.id[p.depth++] = items[i].id;
			if ((r = add_value(ctx, &p, &items[i], out)) != 0)
				return r;
		}
		return n ? 0 : IV_ERR_INVALID;
	}
	case 4:
		if (n != 1 || items[0].kind != TLV_RESOURCE_INSTANCE || items[0].id != base->id[3])
			return IV_ERR_INVALID;
		return add_value(ctx, base, &items[0], out);
	default:
		return IV_ERR_INVALID;
	}
}

int lwm2m_tlv_decode(const uint8_t *payload, size_t len, const struct lwm2m_decode_ctx *ctx,
		     struct lwm2m_records *out)
{
	struct tlv *items = NULL;
	size_t n = 0, start;
	int r;

	if (ctx == NULL || out == NULL || (payload == NULL && len) || !lwm2m_path_valid(&ctx->base) ||
	    ctx->base.depth == 0)
		return IV_ERR_INVALID;
	if (len > LWM2M_PAYLOAD_MAX)
		return IV_ERR_TOO_LARGE;
	start = lwm2m_records_count(out);
	if ((r = read_all(payload, len, &items, &n)) != 0)
		goto out;
	if ((r = decode_top(ctx, items, n, out)) != 0)
		goto out;
	/* success */
	r = 0;
out:
	if (r)
		lwm2m_records_truncate(out, start);
	free(items);
	return r;
}

/* ---- encoding ---- */

/* Output, or only a byte count when W is NULL: an element's length is known
 * by emitting its contents once in counting mode. */
struct tlv_out {
	struct writer *w;
	size_t n;
};

static int out_bytes(struct tlv_out *o, const void *p, size_t len)
{
	int r;

	if (o->w && (r = writer_put_bytes(o->w, p, len)) != 0)
		return r;
	o->n += len;
	return 0;
}

static int out_header(struct tlv_out *o, enum tlv_kind kind, uint16_t id, size_t len)
{
	uint8_t hdr[6];
	struct writer h;
	uint8_t type = (uint8_t)((unsigned)kind << 6);
	int r = 0;

	if (len > TLV_LEN24_MAX)
		return IV_ERR_TOO_LARGE;
	if (id > UINT8_MAX)
		type |= TLV_ID16;
	if (len <= TLV_LEN3_MASK)
		type |= (uint8_t)len;
	else if (len <= UINT8_MAX)
		type |= 1u << TLV_LEN_SHIFT;
	else if (len <= UINT16_MAX)
		type |= 2u << TLV_LEN_SHIFT;
	else
		type |= 3u << TLV_LEN_SHIFT;
	writer_init(&h, hdr, sizeof(hdr));
	r = writer_put_u8(&h, type);
	if (r == 0)
		r = id > UINT8_MAX ? writer_put_u16be(&h, id) : writer_put_u8(&h, (uint8_t)id);
	if (r == 0 && len > TLV_LEN3_MASK) {
		if (len <= UINT8_MAX)
			r = writer_put_u8(&h, (uint8_t)len);
		else if (len <= UINT16_MAX)
			r = writer_put_u16be(&h, (uint16_t)len);
		else if ((r = writer_put_u8(&h, (uint8_t)(len >> 16))) == 0)
			r = writer_put_u16be(&h, (uint16_t)len);
	}
	if (r)
		return IV_ERR_INTERNAL;
	return out_bytes(o, hdr, h.len);
}

static int put_signed(struct writer *w, int64_t i)
{
	if (i >= INT8_MIN && i <= INT8_MAX)
		return writer_put_u8(w, (uint8_t)(int8_t)i);
	if (i >= INT16_MIN && i <= INT16_MAX)
		return writer_put_u16be(w, (uint16_t)(int16_t)i);
	if (i >= INT32_MIN && i <= INT32_MAX)
		return writer_put_u32be(w, (uint32_t)(int32_t)i);
	return writer_put_u64be(w, (uint64_t)i);
}

/* The value bytes of a scalar into SCRATCH, or a pointer to a string's. */
static int value_bytes(const struct lwm2m_value *v, uint8_t scratch[static 8],
		       const uint8_t **p, size_t *len)
{
	struct writer w;
	int r;

	writer_init(&w, scratch, 8);
	switch (v->type) {
	case LWM2M_TYPE_INTEGER:
	case LWM2M_TYPE_TIME:
		r = put_signed(&w, v->v.i);
		break;
	case LWM2M_TYPE_UNSIGNED:
		/* The width a signed reader gets right too (a LwM2M 1.0
		 * client knows only Integer): 200 is 00 C8, not C8. */
		r = v->v.u <= INT64_MAX ? put_signed(&w, (int64_t)v->v.u)
					: writer_put_u64be(&w, v->v.u);
		break;
	case LWM2M_TYPE_FLOAT: {
		float f = (float)v->v.f;
		if ((double)f == v->v.f) {
			uint32_t u32;
			memcpy(&u32, &f, sizeof(u32));
			r = writer_put_u32be(&w, u32);
		} else {
			uint64_t u64;
			memcpy(&u64, &v->v.f, sizeof(u64));
			r = writer_put_u64be(&w, u64);
		}
		break;
	}
	case LWM2M_TYPE_BOOLEAN:
		r = writer_put_u8(&w, v->v.b ? 1 : 0);
		break;
	case LWM2M_TYPE_OBJLNK:
		r = writer_put_u16be(&w, v->v.lnk.obj);
		if (r == 0)
			r = writer_put_u16be(&w, v->v.lnk.inst);
		break;
	case LWM2M_TYPE_STRING:
	case LWM2M_TYPE_OPAQUE:
		*p = v->bytes;
		*len = v->len;
		return 0;
	default:
		return IV_ERR_INVALID;
	}
	if (r)
		return IV_ERR_INTERNAL;
	*p = scratch;
	*len = w.len;
	return 0;
}

static int out_value(struct tlv_out *o, enum tlv_kind kind, uint16_t id,
		     const struct lwm2m_value *v)
{
	uint8_t scratch[8];
	const uint8_t *p = NULL;
	size_t len = 0;
	int r;

	if ((r = value_bytes(v, scratch, &p, &len)) != 0 || (r = out_header(o, kind, id, len)) != 0)
		return r;
	return out_bytes(o, p, len);
}

/* Records [FROM, TO) grouped by their id at DEPTH; a group must be contiguous
 * and its id must not have been used by an earlier group. */
static size_t group_end(const struct lwm2m_records *in, size_t from, size_t to, unsigned depth)
{
	uint16_t id = lwm2m_records_get(in, from)->path.id[depth];
	size_t j = from + 1;

	while (j < to && lwm2m_records_get(in, j)->path.id[depth] == id)
		j++;
	return j;
}

static bool group_seen(const struct lwm2m_records *in, size_t parent_from, size_t from,
		       unsigned depth)
{
	uint16_t id = lwm2m_records_get(in, from)->path.id[depth];

	for (size_t k = parent_from; k < from; k++)
		if (lwm2m_records_get(in, k)->path.id[depth] == id)
			return true;
	return false;
}

typedef int (*emit_fn)(struct tlv_out *o, const struct lwm2m_records *in, size_t from, size_t to);

/* A container element: its contents counted first, then written. */
static int out_container(struct tlv_out *o, enum tlv_kind kind, uint16_t id,
			 const struct lwm2m_records *in, size_t from, size_t to, emit_fn fn)
{
	struct tlv_out count = {NULL, 0};
	int r;

	if ((r = fn(&count, in, from, to)) != 0 || (r = out_header(o, kind, id, count.n)) != 0)
		return r;
	return fn(o, in, from, to);
}

/* Resource instances [FROM, TO) of one resource: depth-4 records with values. */
static int emit_instances(struct tlv_out *o, const struct lwm2m_records *in, size_t from,
			  size_t to)
{
	int r;

	for (size_t i = from; i < to; i++) {
		const struct lwm2m_record *rec = lwm2m_records_get(in, i);
		if (rec->path.depth != 4 || rec->value.type == LWM2M_TYPE_NONE ||
		    group_seen(in, from, i, 3))
			return IV_ERR_INVALID;
		if ((r = out_value(o, TLV_RESOURCE_INSTANCE, rec->path.id[3], &rec->value)) != 0)
			return r;
	}
	return 0;
}

static int emit_nothing(struct tlv_out *o, const struct lwm2m_records *in, size_t from, size_t to)
{
	(void)o, (void)in, (void)from, (void)to;
	return 0;
}

/* One resource, records [FROM, TO) sharing id[2]. */
static int emit_resource(struct tlv_out *o, const struct lwm2m_records *in, size_t from,
			 size_t to)
{
	const struct lwm2m_record *first = lwm2m_records_get(in, from);
	uint16_t id = first->path.id[2];

	if (first->path.depth == 3) {
		if (to - from != 1)
			return IV_ERR_INVALID;
		if (first->value.type == LWM2M_TYPE_NONE)
			return out_container(o, TLV_MULTIPLE_RESOURCE, id, in, from, to, emit_nothing);
		return out_value(o, TLV_RESOURCE, id, &first->value);
	}
	return out_container(o, TLV_MULTIPLE_RESOURCE, id, in, from, to, emit_instances);
}

/* The resources of one instance, records [FROM, TO) of depth 3 or 4. */
static int emit_resources(struct tlv_out *o, const struct lwm2m_records *in, size_t from,
			  size_t to)
{
	int r;

	for (size_t i = from; i < to;) {
		size_t j;
		if (lwm2m_records_get(in, i)->path.depth < 3 || group_seen(in, from, i, 2))
			return IV_ERR_INVALID;
		j = group_end(in, i, to, 2);
		if ((r = emit_resource(o, in, i, j)) != 0)
			return r;
		i = j;
	}
	return 0;
}

/* One instance, records [FROM, TO) sharing id[1]: resources, or a single
 * "present, empty" record for the instance itself. */
static int emit_instance_body(struct tlv_out *o, const struct lwm2m_records *in, size_t from,
			      size_t to)
{
	const struct lwm2m_record *first = lwm2m_records_get(in, from);

	if (first->path.depth == 2)
		return to - from == 1 && first->value.type == LWM2M_TYPE_NONE ? 0 : IV_ERR_INVALID;
	return emit_resources(o, in, from, to);
}

static int emit_object(struct tlv_out *o, const struct lwm2m_records *in, size_t from, size_t to)
{
	int r;

	for (size_t i = from; i < to;) {
		size_t j;
		if (group_seen(in, from, i, 1))
			return IV_ERR_INVALID;
		j = group_end(in, i, to, 1);
		if ((r = out_container(o, TLV_OBJECT_INSTANCE, lwm2m_records_get(in, i)->path.id[1],
				       in, i, j, emit_instance_body)) != 0)
			return r;
		i = j;
	}
	return 0;
}

static int emit_top(struct tlv_out *o, const struct lwm2m_path *base,
		    const struct lwm2m_records *in)
{
	size_t n = lwm2m_records_count(in);
	const struct lwm2m_record *first = lwm2m_records_get(in, 0);

	switch (base->depth) {
	case 1:
		return emit_object(o, in, 0, n);
	case 2:
		return n ? emit_instance_body(o, in, 0, n) : 0;
	case 3:
		if (n == 0)
			return IV_ERR_INVALID;
		return emit_resource(o, in, 0, n);
	case 4:
		if (n != 1 || first->value.type == LWM2M_TYPE_NONE)
			return IV_ERR_INVALID;
		return out_value(o, TLV_RESOURCE_INSTANCE, base->id[3], &first->value);
	default:
		return IV_ERR_INVALID;
	}
}

int lwm2m_tlv_encode(const struct lwm2m_path *base, const struct lwm2m_records *in,
		     uint8_t *buf, size_t cap, size_t *out_len)
{
	struct writer w;
	struct tlv_out o;
	int r;

	if (base == NULL || in == NULL || out_len == NULL || !lwm2m_path_valid(base) ||
	    base->depth == 0)
		return IV_ERR_INVALID;
	for (size_t i = 0; i < lwm2m_records_count(in); i++) {
		const struct lwm2m_record *rec = lwm2m_records_get(in, i);
		if (!lwm2m_path_is_prefix(base, &rec->path) || rec->path.depth < 2)
			return IV_ERR_INVALID;
	}
	writer_init(&w, buf, cap);
	o.w = &w;
	o.n = 0;
	if ((r = emit_top(&o, base, in)) != 0)
		return r;
	*out_len = w.len;
	return 0;
}
