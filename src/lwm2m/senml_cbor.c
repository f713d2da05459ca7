/* SenML CBOR (RFC 8428 section 6, Content-Format 112) as profiled by LwM2M
 * 1.1: integer labels (bn -2, bt -3, n 0, v 2, vs 3, vb 4, t 6, vd 8) and the
 * text label "vlo" for object links.
 *
 * Reading uses libcbor's streaming decoder one item at a time rather than
 * cbor_load(): nothing is allocated from sizes the peer declares, nesting is
 * bounded by the SenML shape itself (an array of maps of scalars), and value
 * bytes (a PSK in a Security object write) are never copied outside the
 * record list's secure memory. Writing uses libcbor's cbor_encode_* into a
 * small head buffer, then the writer. Indefinite-length strings and tags have
 * no place in SenML and are refused; indefinite arrays and maps are read. */
#include "content_internal.h"

#include <cbor.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "iotvault/cursor.h"

/* ---- reading: one CBOR item at a time ---- */

enum ev_kind {
	EV_NONE = 0,
	EV_UINT,
	EV_NEGINT, /* value -1 - u */
	EV_BYTES,
	EV_TEXT,
	EV_ARRAY,
	EV_INDEF_ARRAY,
	EV_MAP,
	EV_INDEF_MAP,
	EV_BREAK,
	EV_FLOAT,
	EV_BOOL,
	EV_OTHER, /* tags, null, undefined, indefinite strings */
};

struct ev {
	enum ev_kind kind;
	uint64_t u; /* integers; container sizes */
	double f;
	bool b;
	const uint8_t *data;
	size_t len;
};

static void ev_uint8(void *ctx, uint8_t v) { ((struct ev *)ctx)->kind = EV_UINT, ((struct ev *)ctx)->u = v; }
static void ev_uint16(void *ctx, uint16_t v) { ((struct ev *)ctx)->kind = EV_UINT, ((struct ev *)ctx)->u = v; }
static void ev_uint32(void *ctx, uint32_t v) { ((struct ev *)ctx)->kind = EV_UINT, ((struct ev *)ctx)->u = v; }
static void ev_uint64(void *ctx, uint64_t v) { ((struct ev *)ctx)->kind = EV_UINT, ((struct ev *)ctx)->u = v; }
static void ev_neg8(void *ctx, uint8_t v) { ((struct ev *)ctx)->kind = EV_NEGINT, ((struct ev *)ctx)->u = v; }
static void ev_neg16(void *ctx, uint16_t v) { ((struct ev *)ctx)->kind = EV_NEGINT, ((struct ev *)ctx)->u = v; }
static void ev_neg32(void *ctx, uint32_t v) { ((struct ev *)ctx)->kind = EV_NEGINT, ((struct ev *)ctx)->u = v; }
static void ev_neg64(void *ctx, uint64_t v) { ((struct ev *)ctx)->kind = EV_NEGINT, ((struct ev *)ctx)->u = v; }

static void ev_string(struct ev *e, enum ev_kind kind, cbor_data data, size_t len)
{
	e->kind = kind;
	e->data = data;
	e->len = len;
}

static void ev_bytes(void *ctx, cbor_data data, size_t len) { ev_string(ctx, EV_BYTES, data, len); }
static void ev_text(void *ctx, cbor_data data, size_t len) { ev_string(ctx, EV_TEXT, data, len); }
static void ev_other(void *ctx) { ((struct ev *)ctx)->kind = EV_OTHER; }
static void ev_tag(void *ctx, uint64_t tag) { (void)tag, ev_other(ctx); }
static void ev_array(void *ctx, size_t n) { ((struct ev *)ctx)->kind = EV_ARRAY, ((struct ev *)ctx)->u = n; }
static void ev_indef_array(void *ctx) { ((struct ev *)ctx)->kind = EV_INDEF_ARRAY; }
static void ev_map(void *ctx, size_t n) { ((struct ev *)ctx)->kind = EV_MAP, ((struct ev *)ctx)->u = n; }
static void ev_indef_map(void *ctx) { ((struct ev *)ctx)->kind = EV_INDEF_MAP; }
static void ev_break(void *ctx) { ((struct ev *)ctx)->kind = EV_BREAK; }
static void ev_float(void *ctx, float f) { ((struct ev *)ctx)->kind = EV_FLOAT, ((struct ev *)ctx)->f = f; }
static void ev_double(void *ctx, double f) { ((struct ev *)ctx)->kind = EV_FLOAT, ((struct ev *)ctx)->f = f; }
static void ev_bool(void *ctx, bool b) { ((struct ev *)ctx)->kind = EV_BOOL, ((struct ev *)ctx)->b = b; }

static const struct cbor_callbacks ev_callbacks = {
	.uint8 = ev_uint8,
	.uint16 = ev_uint16,
	.uint32 = ev_uint32,
	.uint64 = ev_uint64,
	.negint8 = ev_neg8,
	.negint16 = ev_neg16,
	.negint32 = ev_neg32,
	.negint64 = ev_neg64,
	.byte_string_start = ev_other,
	.byte_string = ev_bytes,
	.string = ev_text,
	.string_start = ev_other,
	.indef_array_start = ev_indef_array,
	.array_start = ev_array,
	.indef_map_start = ev_indef_map,
	.map_start = ev_map,
	.tag = ev_tag,
	.float2 = ev_float,
	.float4 = ev_float,
	.float8 = ev_double,
	.undefined = ev_other,
	.null = ev_other,
	.boolean = ev_bool,
	.indef_break = ev_break,
};

static int ev_next(struct cursor *c, struct ev *e)
{
	struct cursor peek = *c;
	struct cbor_decoder_result res;
	const uint8_t *p, *skip;
	size_t rem = cursor_remaining(c);

	memset(e, 0, sizeof(*e));
	if (rem == 0 || cursor_view(&peek, &p, rem) != 0)
		return IV_ERR_TRUNCATED;
	res = cbor_stream_decode(p, rem, &ev_callbacks, e);
	if (res.status == CBOR_DECODER_NEDATA)
		return IV_ERR_TRUNCATED;
	if (res.status != CBOR_DECODER_FINISHED || e->kind == EV_NONE || res.read == 0)
		return IV_ERR_INVALID;
	return cursor_view(c, &skip, res.read) == 0 ? 0 : IV_ERR_INTERNAL;
}

/* ---- reading SenML ---- */

/* Labels of RFC 8428 Table 4, and one for "vlo" */
enum {
	L_BVER = -1,
	L_BN = -2,
	L_BT = -3,
	L_BU = -4,
	L_BV = -5,
	L_BS = -6,
	L_N = 0,
	L_U = 1,
	L_V = 2,
	L_VS = 3,
	L_VB = 4,
	L_S = 5,
	L_T = 6,
	L_UT = 7,
	L_VD = 8,
	L_VLO = 100,   /* text label "vlo" */
	L_UNKNOWN = 101,
};

static int ev_number(const struct ev *e, struct lwm2m_value *v)
{
	switch (e->kind) {
	case EV_UINT:
		*v = e->u <= INT64_MAX ? lwm2m_value_integer((int64_t)e->u) : lwm2m_value_unsigned(e->u);
		return 0;
	case EV_NEGINT:
		if (e->u > INT64_MAX)
			return IV_ERR_INVALID;
		*v = lwm2m_value_integer(-1 - (int64_t)e->u);
		return 0;
	case EV_FLOAT:
		*v = lwm2m_value_float(e->f);
		return 0;
	default:
		return IV_ERR_INVALID;
	}
}

static int ev_time(const struct ev *e, double *out)
{
	struct lwm2m_value v;
	int r;

	if ((r = ev_number(e, &v)) != 0)
		return r;
	*out = v.type == LWM2M_TYPE_FLOAT ? v.v.f
	       : v.type == LWM2M_TYPE_UNSIGNED ? (double)v.v.u : (double)v.v.i;
	return 0;
}

static int ev_label(const struct ev *e, int *label)
{
	switch (e->kind) {
	case EV_UINT:
		*label = e->u <= L_VD ? (int)e->u : L_UNKNOWN;
		return 0;
	case EV_NEGINT:
		*label = e->u <= 5 ? -1 - (int)e->u : L_UNKNOWN;
		return 0;
	case EV_TEXT: {
		struct cursor c;
		const uint8_t *head;
		uint8_t last = 0;
		if (e->len == 3 && memcmp(e->data, "vlo", 3) == 0) { /* lint:not-secret */
			*label = L_VLO;
			return 0;
		}
		/* Must-understand fields end in "_" (RFC 8428 section 4.4). */
		cursor_init(&c, e->data, e->len);
		if (e->len && cursor_view(&c, &head, e->len - 1) == 0 &&
		    cursor_read_u8(&c, &last) == 0 && last == '_')
			return IV_ERR_INVALID;
		*label = L_UNKNOWN;
		return 0;
	}
	default:
		return IV_ERR_INVALID;
	}
}

static bool ev_scalar(const struct ev *e)
{
	return e->kind == EV_UINT || e->kind == EV_NEGINT || e->kind == EV_BYTES ||
	       e->kind == EV_TEXT || e->kind == EV_FLOAT || e->kind == EV_BOOL;
}

static int record_field(struct senml_fields *f, int label, const struct ev *val, int *values)
{
	switch (label) {
	case L_BN:
	case L_N:
		if (val->kind != EV_TEXT)
			return IV_ERR_INVALID;
		if (label == L_BN)
			f->has_bn = true, f->bn = val->data, f->bn_len = val->len;
		else
			f->has_n = true, f->n = val->data, f->n_len = val->len;
		return 0;
	case L_BT:
		f->has_bt = true;
		return ev_time(val, &f->bt);
	case L_T:
		f->has_t = true;
		return ev_time(val, &f->t);
	case L_V:
		(*values)++;
		return ev_number(val, &f->value);
	case L_VS:
		(*values)++;
		if (val->kind != EV_TEXT)
			return IV_ERR_INVALID;
		f->value = lwm2m_value_opaque(val->data, val->len);
		f->value.type = LWM2M_TYPE_STRING;
		return 0;
	case L_VB:
		(*values)++;
		if (val->kind != EV_BOOL)
			return IV_ERR_INVALID;
		f->value = lwm2m_value_boolean(val->b);
		return 0;
	case L_VD:
		(*values)++;
		if (val->kind != EV_BYTES)
			return IV_ERR_INVALID;
		if (val->len > LWM2M_VALUE_MAX)
			return IV_ERR_TOO_LARGE;
		f->value = lwm2m_value_opaque(val->data, val->len);
		return 0;
	case L_VLO:
		(*values)++;
		if (val->kind != EV_TEXT)
			return IV_ERR_INVALID;
		return lwm2m_objlnk_parse(val->data, val->len, &f->value);
	case L_BV:
	case L_BS:
	case L_S:
		/* would change what "v" means: refused, not ignored */
		return IV_ERR_INVALID;
	default:
		return 0; /* bver, bu, u, ut and unknown labels */
	}
}

static int read_record(struct cursor *c, const struct ev *start, struct senml_fields *f)
{
	bool indef = start->kind == EV_INDEF_MAP;
	uint32_t seen = 0;
	int values = 0, r;
	size_t pairs = 0;

	if (start->kind != EV_MAP && !indef)
		return IV_ERR_INVALID;
	if (!indef && start->u > LWM2M_SENML_FIELDS_MAX)
		return IV_ERR_INVALID;
	memset(f, 0, sizeof(*f));
	f->value = lwm2m_value_none();
	for (;;) {
		struct ev key, val;
		int label;

		if (!indef && pairs == start->u)
			break;
		if ((r = ev_next(c, &key)) != 0)
			return r;
		if (indef && key.kind == EV_BREAK)
			break;
		if (++pairs > LWM2M_SENML_FIELDS_MAX)
			return IV_ERR_INVALID;
		if ((r = ev_label(&key, &label)) != 0)
			return r;
		if ((r = ev_next(c, &val)) != 0)
			return r;
		if (!ev_scalar(&val))
			return IV_ERR_INVALID;
		if (label != L_UNKNOWN) {
			uint32_t bit = 1u << (label == L_VLO ? 15 : label + 6);
			if (seen & bit)
				return IV_ERR_INVALID; /* a label twice */
			seen |= bit;
		}
		if ((r = record_field(f, label, &val, &values)) != 0)
			return r;
	}
	return values > 1 ? IV_ERR_INVALID : 0;
}

int lwm2m_senml_cbor_decode(const uint8_t *payload, size_t len,
			    const struct lwm2m_decode_ctx *ctx, struct lwm2m_records *out)
{
	struct senml_state st;
	struct senml_fields f;
	struct cursor c;
	struct ev top, item;
	size_t start = lwm2m_records_count(out), i;
	bool indef;
	int r;

	if (ctx == NULL || out == NULL || (payload == NULL && len) || !lwm2m_path_valid(&ctx->base))
		return IV_ERR_INVALID;
	if (len > LWM2M_PAYLOAD_MAX)
		return IV_ERR_TOO_LARGE;
	cursor_init(&c, payload, len);
	memset(&st, 0, sizeof(st));
	if ((r = ev_next(&c, &top)) != 0)
		goto out;
	indef = top.kind == EV_INDEF_ARRAY;
	if (top.kind != EV_ARRAY && !indef) {
		r = IV_ERR_INVALID;
		goto out;
	}
	if (!indef && top.u > LWM2M_RECORDS_MAX) {
		r = IV_ERR_TOO_LARGE;
		goto out;
	}
	for (i = 0;; i++) {
		if (!indef && i == top.u)
			break;
		if ((r = ev_next(&c, &item)) != 0)
			goto out;
		if (indef && item.kind == EV_BREAK)
			break;
		if ((r = read_record(&c, &item, &f)) != 0)
			goto out;
		if ((r = lwm2m_senml_add(&st, &f, ctx, out)) != 0)
			goto out;
	}
	if ((r = cursor_expect_end(&c)) != 0)
		goto out;
	/* success */
	r = 0;
out:
	if (r)
		lwm2m_records_truncate(out, start);
	return r;
}

/* ---- writing ---- */

/* Longest CBOR head: initial byte and an 8-byte argument. */
#define CBOR_HEAD_MAX 9

static int put_head(struct writer *w, const uint8_t *head, size_t n)
{
	return n ? writer_put_bytes(w, head, n) : IV_ERR_INTERNAL;
}

static int put_uint(struct writer *w, uint64_t u)
{
	uint8_t h[CBOR_HEAD_MAX];
	return put_head(w, h, cbor_encode_uint(u, h, sizeof(h)));
}

static int put_int(struct writer *w, int64_t i)
{
	uint8_t h[CBOR_HEAD_MAX];
	if (i >= 0)
		return put_uint(w, (uint64_t)i);
	return put_head(w, h, cbor_encode_negint((uint64_t)(-1 - i), h, sizeof(h)));
}

static int put_text(struct writer *w, const void *s, size_t len)
{
	uint8_t h[CBOR_HEAD_MAX];
	int r = put_head(w, h, cbor_encode_string_start(len, h, sizeof(h)));
	return r ? r : writer_put_bytes(w, s, len);
}

static int put_bytes(struct writer *w, const void *s, size_t len)
{
	uint8_t h[CBOR_HEAD_MAX];
	int r = put_head(w, h, cbor_encode_bytestring_start(len, h, sizeof(h)));
	return r ? r : writer_put_bytes(w, s, len);
}

static int put_double(struct writer *w, double f)
{
	uint8_t h[CBOR_HEAD_MAX];
	float s = (float)f;

	/* single precision when nothing is lost, as the RFC's examples do */
	if ((double)s == f || isnan(f))
		return put_head(w, h, cbor_encode_single(s, h, sizeof(h)));
	return put_head(w, h, cbor_encode_double(f, h, sizeof(h)));
}

static int put_label(struct writer *w, int label)
{
	return put_int(w, label);
}

static int put_value(struct writer *w, const struct lwm2m_value *v)
{
	uint8_t h[CBOR_HEAD_MAX];
	char lnk[16];
	int r, n;

	switch (v->type) {
	case LWM2M_TYPE_INTEGER:
	case LWM2M_TYPE_TIME:
		return (r = put_label(w, L_V)) ? r : put_int(w, v->v.i);
	case LWM2M_TYPE_UNSIGNED:
		return (r = put_label(w, L_V)) ? r : put_uint(w, v->v.u);
	case LWM2M_TYPE_FLOAT:
		return (r = put_label(w, L_V)) ? r : put_double(w, v->v.f);
	case LWM2M_TYPE_BOOLEAN:
		if ((r = put_label(w, L_VB)) != 0)
			return r;
		return put_head(w, h, cbor_encode_bool(v->v.b, h, sizeof(h)));
	case LWM2M_TYPE_STRING:
		return (r = put_label(w, L_VS)) ? r : put_text(w, v->bytes, v->len);
	case LWM2M_TYPE_OPAQUE:
		return (r = put_label(w, L_VD)) ? r : put_bytes(w, v->bytes, v->len);
	case LWM2M_TYPE_OBJLNK:
		n = snprintf(lnk, sizeof(lnk), "%u:%u", (unsigned)v->v.lnk.obj,
			     (unsigned)v->v.lnk.inst);
		if (n < 0 || (size_t)n >= sizeof(lnk))
			return IV_ERR_INTERNAL;
		return (r = put_text(w, "vlo", 3)) ? r : put_text(w, lnk, (size_t)n);
	default:
		return IV_ERR_INVALID;
	}
}

int lwm2m_senml_cbor_encode(const struct lwm2m_path *base, const struct lwm2m_records *in,
			    uint8_t *buf, size_t cap, size_t *out_len)
{
	struct senml_names names;
	struct writer w;
	uint8_t h[CBOR_HEAD_MAX];
	size_t count;
	int r;

	if (out_len == NULL)
		return IV_ERR_INVALID;
	if ((r = lwm2m_senml_names_init(base, in, &names)) != 0)
		return r;
	writer_init(&w, buf, cap);
	count = lwm2m_records_count(in);
	if ((r = put_head(&w, h, cbor_encode_array_start(count, h, sizeof(h)))) != 0)
		return r;
	for (size_t i = 0; i < count; i++) {
		const struct lwm2m_record *rec = lwm2m_records_get(in, i);
		char name[LWM2M_PATH_TEXT_MAX];
		bool with_bn = i == 0 && names.bn[0];
		size_t pairs;

		if ((r = lwm2m_senml_name(&names, base, &rec->path, name, sizeof(name))) != 0)
			return r;
		pairs = (size_t)with_bn + (name[0] != '\0') +
			(rec->value.type != LWM2M_TYPE_NONE) + (size_t)rec->has_time;
		if ((r = put_head(&w, h, cbor_encode_map_start(pairs, h, sizeof(h)))) != 0)
			return r;
		if (with_bn && ((r = put_label(&w, L_BN)) != 0 ||
				(r = put_text(&w, names.bn, strlen(names.bn))) != 0))
			return r;
		if (name[0] && ((r = put_label(&w, L_N)) != 0 ||
				(r = put_text(&w, name, strlen(name))) != 0))
			return r;
		if (rec->value.type != LWM2M_TYPE_NONE && (r = put_value(&w, &rec->value)) != 0)
			return r;
		if (rec->has_time) {
			if ((r = put_label(&w, L_T)) != 0)
				return r;
			r = rec->time == floor(rec->time) && fabs(rec->time) < 9e15
				    ? put_int(&w, (int64_t)rec->time)
				    : put_double(&w, rec->time);
			if (r)
				return r;
		}
	}
	*out_len = w.len;
	return 0;
}
