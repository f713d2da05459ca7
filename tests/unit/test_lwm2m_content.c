/* Tests for the LwM2M content formats (src/lwm2m/): known answers from the
 * OMA LwM2M specification's Device object example (TLV, SenML JSON), RFC 8428
 * (SenML CBOR), RFC 6690 registration and Discover payloads; round trips of
 * every type through every format; every truncation of valid input rejected
 * (or, where the format allows, read as the shorter document it is); limits;
 * and libcbor's and jansson's own decoders reading what we encode. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cbor.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotvault/lwm2m_content.h"
#include "iotvault/secmem.h"

static int setup(void **state)
{
	(void)state;
	return secmem_init() == 0 ? 0 : -1;
}

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	for (const char *p = hex; *p && p[1]; p += 2) {
		unsigned v;
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		assert_int_equal(sscanf(p, "%2x", &v), 1);
		assert_true(n < cap);
		out[n++] = (uint8_t)v;
	}
	return n;
}

/* The Device object (/3) as the specification's examples type it. */
static enum lwm2m_type device_type(const struct lwm2m_path *p, void *arg)
{
	(void)arg;
	if (p->depth < 3 || p->id[0] != 3)
		return LWM2M_TYPE_NONE;
	switch (p->id[2]) {
	case 0: case 1: case 2: case 3: case 14: case 15: case 16:
		return LWM2M_TYPE_STRING;
	case 6: case 7: case 8: case 9: case 10: case 11:
		return LWM2M_TYPE_INTEGER;
	case 13:
		return LWM2M_TYPE_TIME;
	default:
		return LWM2M_TYPE_NONE;
	}
}

/* LwM2M 1.0 TS section 6.4.3.1 (Read /3/0): resources at top level. */
static const char DEVICE_TLV[] =
	"C800144F70656E204D6F62696C6520416C6C69616E6365"
	"C801164C69676874776569676874204D324D20436C69656E74"
	"C80209333435303030313233"
	"C303312E30"
	"86064100014101 05"
	"88070842000ED842011388"
	"870841007D42010384"
	"C10964"
	"C10A0F"
	"830B410000"
	"C40D5182428F"
	"C60E2B30323A3030"
	"C11055";

static void check_device_records(const struct lwm2m_records *recs)
{
	const struct lwm2m_record *r;
	struct lwm2m_path p;

	assert_int_equal(lwm2m_records_count(recs), 16);
	r = lwm2m_records_get(recs, 0);
	assert_true(lwm2m_path_equal(&r->path, &(struct lwm2m_path){{3, 0, 0, 0}, 3}));
	assert_int_equal(r->value.type, LWM2M_TYPE_STRING);
	assert_string_equal((const char *)r->value.bytes, "Open Mobile Alliance");
	p = lwm2m_path_resource(3, 0, 1);
	assert_string_equal((const char *)lwm2m_records_find(recs, &p)->value.bytes,
			    "Lightweight M2M Client");
	p = lwm2m_path_resource(3, 0, 2);
	assert_string_equal((const char *)lwm2m_records_find(recs, &p)->value.bytes, "345000123");
	p = lwm2m_path_resource_instance(3, 0, 6, 1);
	assert_int_equal(lwm2m_records_find(recs, &p)->value.v.i, 5);
	p = lwm2m_path_resource_instance(3, 0, 7, 0);
	assert_int_equal(lwm2m_records_find(recs, &p)->value.v.i, 3800);
	p = lwm2m_path_resource_instance(3, 0, 8, 1);
	assert_int_equal(lwm2m_records_find(recs, &p)->value.v.i, 900);
	p = lwm2m_path_resource(3, 0, 9);
	assert_int_equal(lwm2m_records_find(recs, &p)->value.v.i, 100);
	p = lwm2m_path_resource_instance(3, 0, 11, 0);
	assert_int_equal(lwm2m_records_find(recs, &p)->value.v.i, 0);
	p = lwm2m_path_resource(3, 0, 13);
	r = lwm2m_records_find(recs, &p);
	assert_int_equal(r->value.type, LWM2M_TYPE_TIME);
	assert_int_equal(r->value.v.i, 1367491215);
	p = lwm2m_path_resource(3, 0, 16);
	assert_string_equal((const char *)lwm2m_records_find(recs, &p)->value.bytes, "U");
}

static struct lwm2m_decode_ctx ctx_at(struct lwm2m_path base, lwm2m_type_fn fn)
{
	struct lwm2m_decode_ctx ctx = {base, fn, NULL};
	return ctx;
}

/* ---- paths ---- */

static void test_path_parse_format(void **state)
{
	static const char *good[] = {"/", "/3", "/3/0", "/3/0/1", "/3/0/6/1", "/65534/65534/65534/65534"};
	static const char *bad[] = {"", "3", "/3/", "//", "/03", "/65535", "/1/2/3/4/5", "/-1",
				    "/3//0", "/3/a", "/100000", " /3"};
	struct lwm2m_path p;
	char text[LWM2M_PATH_TEXT_MAX];
	(void)state;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(lwm2m_path_parse(good[i], strlen(good[i]), &p), 0);
		assert_int_equal(lwm2m_path_format(&p, text, sizeof(text)), 0);
		assert_string_equal(text, good[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(lwm2m_path_parse(bad[i], strlen(bad[i]), &p), IV_ERR_INVALID);
	p = lwm2m_path_object(65535);
	assert_false(lwm2m_path_valid(&p));
}

/* ---- TLV ---- */

static void test_tlv_device_known_answer(void **state)
{
	uint8_t spec[256], wrapped[260], out[300];
	size_t n, out_len;
	struct lwm2m_records *recs = lwm2m_records_new();
	struct lwm2m_decode_ctx ctx = ctx_at(lwm2m_path_instance(3, 0), device_type);
	struct lwm2m_path obj = lwm2m_path_object(3), inst = lwm2m_path_instance(3, 0);
	(void)state;

	n = unhex(DEVICE_TLV, spec, sizeof(spec));
	assert_int_equal(n, 121);
	assert_int_equal(lwm2m_tlv_decode(spec, n, &ctx, recs), 0);
	check_device_records(recs);

	/* Encoding gives the specification's bytes back. */
	assert_int_equal(lwm2m_tlv_encode(&inst, recs, out, sizeof(out), &out_len), 0);
	assert_int_equal(out_len, n);
	assert_memory_equal(out, spec, n);

	/* Section 6.4.3.2: the same instance read as /3, wrapped "08 00 79". */
	wrapped[0] = 0x08, wrapped[1] = 0x00, wrapped[2] = 0x79;
	memcpy(wrapped + 3, spec, n);
	assert_int_equal(lwm2m_tlv_encode(&obj, recs, out, sizeof(out), &out_len), 0);
	assert_int_equal(out_len, n + 3);
	assert_memory_equal(out, wrapped, n + 3);

	lwm2m_records_clear(recs);
	ctx.base = obj;
	assert_int_equal(lwm2m_tlv_decode(wrapped, n + 3, &ctx, recs), 0);
	check_device_records(recs);
	/* A client that wraps its answer to a Read of /3/0 is understood. */
	lwm2m_records_clear(recs);
	ctx.base = inst;
	assert_int_equal(lwm2m_tlv_decode(wrapped, n + 3, &ctx, recs), 0);
	check_device_records(recs);
	/* ...but not when the wrapper names another instance. */
	lwm2m_records_clear(recs);
	ctx.base = lwm2m_path_instance(3, 1);
	assert_int_equal(lwm2m_tlv_decode(wrapped, n + 3, &ctx, recs), IV_ERR_INVALID);
	assert_int_equal(lwm2m_records_count(recs), 0);

	/* The legacy Content-Format 1542 reads the same bytes. */
	ctx.base = inst;
	assert_int_equal(lwm2m_decode(LWM2M_CF_TLV_LEGACY, spec, n, &ctx, recs), 0);
	check_device_records(recs);
	lwm2m_records_free(recs);
}

static void test_tlv_untyped_is_opaque(void **state)
{
	uint8_t b[8];
	size_t n = unhex("e116da01", b, sizeof(b)); /* resource 5850 = 1, 16-bit id */
	struct lwm2m_records *recs = lwm2m_records_new();
	struct lwm2m_decode_ctx ctx = ctx_at(lwm2m_path_resource(3311, 0, 5850), NULL);
	struct lwm2m_value v;
	const struct lwm2m_record *r;
	(void)state;

	assert_int_equal(lwm2m_tlv_decode(b, n, &ctx, recs), 0);
	r = lwm2m_records_get(recs, 0);
	assert_int_equal(r->value.type, LWM2M_TYPE_OPAQUE);
	assert_int_equal(r->value.len, 1);
	assert_int_equal(lwm2m_tlv_value_parse(r->value.bytes, r->value.len, LWM2M_TYPE_BOOLEAN, &v), 0);
	assert_true(v.v.b);
	lwm2m_records_free(recs);
}

static void test_tlv_truncations(void **state)
{
	uint8_t spec[256], wrapped[260];
	size_t n = unhex(DEVICE_TLV, spec, sizeof(spec));
	struct lwm2m_records *recs = lwm2m_records_new();
	struct lwm2m_decode_ctx ctx = ctx_at(lwm2m_path_object(3), device_type);
	/* Offsets where a top-level resource of the /3/0 example ends. */
	static const size_t boundaries[] = {0, 23, 48, 60, 65, 73, 84, 93, 96, 99, 104, 110, 118, 121};
	(void)state;

	wrapped[0] = 0x08, wrapped[1] = 0x00, wrapped[2] = 0x79;
	memcpy(wrapped + 3, spec, n);
	for (size_t cut = 0; cut < n + 3; cut++) {
		int r = lwm2m_tlv_decode(wrapped, cut, &ctx, recs);
		if (cut == 0) {
			assert_int_equal(r, 0); /* an object with no instances */
			continue;
		}
		assert_true(r == IV_ERR_TRUNCATED || r == IV_ERR_INVALID);
		assert_int_equal(lwm2m_records_count(recs), 0);
	}
	/* Without the wrapper a cut between two resources is a shorter, valid
	 * answer; anywhere else it is refused. */
	ctx.base = lwm2m_path_instance(3, 0);
	for (size_t cut = 0; cut < n; cut++) {
		bool at_boundary = false;
		int r;
		for (size_t b = 0; b < sizeof(boundaries) / sizeof(boundaries[0]); b++)
			at_boundary |= boundaries[b] == cut;
		lwm2m_records_clear(recs);
		r = lwm2m_tlv_decode(spec, cut, &ctx, recs);
		if (at_boundary) {
			assert_int_equal(r, 0);
		} else {
			assert_true(r == IV_ERR_TRUNCATED || r == IV_ERR_INVALID);
			assert_int_equal(lwm2m_records_count(recs), 0);
		}
	}
	lwm2m_records_free(recs);
}

/* Types for the round-trip object 9999: resource N has type N. */
static enum lwm2m_type roundtrip_type(const struct lwm2m_path *p, void *arg)
{
	(void)arg;
	return p->depth >= 3 && p->id[2] <= LWM2M_TYPE_OBJLNK ? (enum lwm2m_type)p->id[2]
							     : LWM2M_TYPE_NONE;
}

static bool value_same(const struct lwm2m_value *a, const struct lwm2m_value *b)
{
	if (a->type != b->type)
		return false;
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
		return true;
	}
}

static void assert_records_same(const struct lwm2m_records *a, const struct lwm2m_records *b)
{
	assert_int_equal(lwm2m_records_count(a), lwm2m_records_count(b));
	for (size_t i = 0; i < lwm2m_records_count(a); i++) {
		const struct lwm2m_record *x = lwm2m_records_get(a, i), *y = lwm2m_records_get(b, i);
		assert_true(lwm2m_path_equal(&x->path, &y->path));
		if (!value_same(&x->value, &y->value))
			fail_msg("record %zu differs (%s vs %s)", i, lwm2m_type_name(x->value.type),
				 lwm2m_type_name(y->value.type));
	}
}

/* One value of every type, several sizes each, as resource instances
 * /9999/0/<type>/<n> so one record list holds them all. */
static struct lwm2m_records *all_types(bool with_extremes)
{
	static uint8_t big[LWM2M_VALUE_MAX];
	static const int64_t ints[] = {0, 1, -1, 127, 128, -128, -129, 32767, 32768, -32769,
				       2147483647, 2147483648LL, -2147483649LL, INT64_MAX, INT64_MIN};
	static const uint64_t uints[] = {0, 200, 65535, 4294967296ULL, (uint64_t)INT64_MAX};
	static const double floats[] = {0.0, 1.5, -2.25, 0.1, 1e300, -3.4028234663852886e38};
	struct lwm2m_records *recs = lwm2m_records_new();
	struct lwm2m_value v;
	uint16_t ri;

#define ADD(type, value)                                                                  \
	do {                                                                              \
		struct lwm2m_path p_ = lwm2m_path_resource_instance(9999, 0, type, ri++); \
		v = (value);                                                              \
		assert_int_equal(lwm2m_records_add(recs, &p_, &v), 0);                    \
	} while (0)

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	ri = 0;
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		ADD(LWM2M_TYPE_INTEGER, lwm2m_value_integer(ints[i]));
	ri = 0;
	for (size_t i = 0; i < sizeof(uints) / sizeof(uints[0]); i++)
		ADD(LWM2M_TYPE_UNSIGNED, lwm2m_value_unsigned(uints[i]));
	if (with_extremes)
		ADD(LWM2M_TYPE_UNSIGNED, lwm2m_value_unsigned(UINT64_MAX));
	ri = 0;
	for (size_t i = 0; i < sizeof(floats) / sizeof(floats[0]); i++)
		ADD(LWM2M_TYPE_FLOAT, lwm2m_value_float(floats[i]));
	if (with_extremes)
		ADD(LWM2M_TYPE_FLOAT, lwm2m_value_float(NAN));
	ri = 0;
	ADD(LWM2M_TYPE_BOOLEAN, lwm2m_value_boolean(true));
	ADD(LWM2M_TYPE_BOOLEAN, lwm2m_value_boolean(false));
	ri = 0;
	ADD(LWM2M_TYPE_STRING, lwm2m_value_string(""));
	ADD(LWM2M_TYPE_STRING, lwm2m_value_string("Open Mobile Alliance"));
	ADD(LWM2M_TYPE_STRING, lwm2m_value_string("gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x94\x91"));
	ri = 0;
	ADD(LWM2M_TYPE_OPAQUE, lwm2m_value_opaque(big, 0));
	ADD(LWM2M_TYPE_OPAQUE, lwm2m_value_opaque(big, 7));
	ADD(LWM2M_TYPE_OPAQUE, lwm2m_value_opaque(big, 300));
	ADD(LWM2M_TYPE_OPAQUE, lwm2m_value_opaque(big, sizeof(big)));
	ri = 0;
	ADD(LWM2M_TYPE_TIME, lwm2m_value_time(1367491215));
	ADD(LWM2M_TYPE_TIME, lwm2m_value_time(-1));
	ri = 0;
	ADD(LWM2M_TYPE_OBJLNK, lwm2m_value_objlnk(3, 0));
	ADD(LWM2M_TYPE_OBJLNK, lwm2m_value_objlnk(65535, 65535));
#undef ADD
	return recs;
}

static void roundtrip(unsigned cf, bool with_extremes, const struct lwm2m_path *base)
{
	static uint8_t buf[4 * LWM2M_VALUE_MAX + 4096];
	struct lwm2m_records *in = all_types(with_extremes), *out = lwm2m_records_new();
	struct lwm2m_decode_ctx ctx = ctx_at(*base, roundtrip_type);
	size_t len = 0;

	assert_int_equal(lwm2m_encode(cf, base, in, buf, sizeof(buf), &len), 0);
	assert_int_equal(lwm2m_decode(cf, buf, len, &ctx, out), 0);
	assert_records_same(in, out);
	/* A buffer one byte short is refused, not overrun. */
	assert_int_equal(lwm2m_encode(cf, base, in, buf, len - 1, &len), IV_ERR_TOO_LARGE);
	lwm2m_records_free(in);
	lwm2m_records_free(out);
}

static void test_tlv_roundtrip_all_types(void **state)
{
	struct lwm2m_path obj = lwm2m_path_object(9999), inst = lwm2m_path_instance(9999, 0);
	(void)state;
	roundtrip(LWM2M_CF_TLV, true, &obj);
	roundtrip(LWM2M_CF_TLV, true, &inst);
}

static void test_tlv_integer_widths(void **state)
{
	struct { int64_t i; const char *hex; } cases[] = {
		{0, "C10000"}, {127, "C1007F"}, {128, "C2000080"}, {-128, "C10080"},
		{-129, "C200FF7F"}, {32768, "C40000008000"}, {-1, "C100FF"},
		{2147483648LL, "C8000800000000800000 00"},
	};
	uint8_t expect[32], out[32];
	struct lwm2m_path res = lwm2m_path_resource(9999, 0, 0);
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lwm2m_records *recs = lwm2m_records_new();
		struct lwm2m_value v = lwm2m_value_integer(cases[i].i);
		size_t n = unhex(cases[i].hex, expect, sizeof(expect)), len;
		assert_int_equal(lwm2m_records_add(recs, &res, &v), 0);
		assert_int_equal(lwm2m_tlv_encode(&res, recs, out, sizeof(out), &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(out, expect, n);
		lwm2m_records_free(recs);
	}
}

static void test_tlv_empty_containers(void **state)
{
	/* An empty instance 1 (00 01), an instance 2 holding a multiple
	 * resource 7 with no instances (02 02 | 80 07), an empty instance 0. */
	uint8_t b[16], out[16];
	size_t n = unhex("0001" "02028007" "0000", b, sizeof(b)), len;
	struct lwm2m_records *recs = lwm2m_records_new();
	struct lwm2m_decode_ctx ctx = ctx_at(lwm2m_path_object(9), NULL);
	struct lwm2m_path obj = lwm2m_path_object(9);
	(void)state;

	assert_int_equal(lwm2m_tlv_decode(b, n, &ctx, recs), 0);
	assert_int_equal(lwm2m_records_count(recs), 3);
	assert_int_equal(lwm2m_records_get(recs, 0)->path.depth, 2);
	assert_int_equal(lwm2m_records_get(recs, 1)->path.depth, 3);
	assert_int_equal(lwm2m_records_get(recs, 1)->value.type, LWM2M_TYPE_NONE);
	assert_int_equal(lwm2m_tlv_encode(&obj, recs, out, sizeof(out), &len), 0);
	assert_int_equal(len, n);
	assert_memory_equal(out, b, n);
	lwm2m_records_free(recs);
}

static void test_tlv_invalid(void **state)
{
	struct { const char *hex; struct lwm2m_path base; int err; } cases[] = {
		{"C10902", lwm2m_path_instance(3, 0), IV_ERR_INVALID},      /* set to 0 below */
		{"C3090102 03", lwm2m_path_instance(3, 0), IV_ERR_INVALID}, /* 3-byte integer */
		{"E1FFFF01", lwm2m_path_instance(3, 0), IV_ERR_INVALID},    /* id 65535 */
		{"C109 64C10964", lwm2m_path_instance(3, 0), IV_ERR_INVALID}, /* resource twice */
		{"4100 01", lwm2m_path_instance(3, 0), IV_ERR_INVALID},     /* instance at top */
		{"C10964", lwm2m_path_object(3), IV_ERR_INVALID},           /* resource at object level */
		{"8606C10001410105", lwm2m_path_instance(3, 0), IV_ERR_INVALID}, /* resource in multiple */
		{"C80964", lwm2m_path_instance(3, 0), IV_ERR_TRUNCATED},    /* length 0x64 > data */
		{"D8", lwm2m_path_instance(3, 0), IV_ERR_TRUNCATED},
		{"C10A0F", lwm2m_path_resource(3, 0, 9), IV_ERR_INVALID},   /* wrong resource id */
		{"C10964", lwm2m_path_root(), IV_ERR_INVALID},              /* TLV needs a path */
	};
	uint8_t b[32];
	(void)state;

	cases[0].err = 0; /* a valid one, so the table's shape is checked too */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lwm2m_records *recs = lwm2m_records_new();
		struct lwm2m_decode_ctx ctx = ctx_at(cases[i].base, device_type);
		size_t n = unhex(cases[i].hex, b, sizeof(b));
		int r = lwm2m_tlv_decode(b, n, &ctx, recs);
		if (r != cases[i].err)
			fail_msg("case %zu (%s): got %d, want %d", i, cases[i].hex, r, cases[i].err);
		if (r)
			assert_int_equal(lwm2m_records_count(recs), 0);
		lwm2m_records_free(recs);
	}
	{
		/* A boolean is 0 or 1 and nothing else. */
		struct lwm2m_value v;
		uint8_t two = 2;
		assert_int_equal(lwm2m_tlv_value_parse(&two, 1, LWM2M_TYPE_BOOLEAN, &v), IV_ERR_INVALID);
		assert_int_equal(lwm2m_tlv_value_parse((const uint8_t *)"\xff", 1, LWM2M_TYPE_STRING, &v),
				 IV_ERR_INVALID);
	}
}

/* Found by fuzzing: instance 2 given in two separate object instance TLVs
 * (with different resources) was accepted, and the records could then not be
 * written back. An instance, like a multiple resource, comes once. */
static void test_tlv_regression_instance_given_twice(void **state)
{
	uint8_t b[32];
	size_t n = unhex("02028071" "02028007" "000a" "02028041", b, sizeof(b));
	struct lwm2m_records *recs = lwm2m_records_new();
	struct lwm2m_decode_ctx ctx = ctx_at(lwm2m_path_object(9), NULL);
	(void)state;

	assert_int_equal(lwm2m_tlv_decode(b, n, &ctx, recs), IV_ERR_INVALID);
	assert_int_equal(lwm2m_records_count(recs), 0);
	/* the same for a multiple resource split in two */
	n = unhex("8303410001" "8303410105", b, sizeof(b));
	ctx.base = lwm2m_path_instance(3, 0);
	assert_int_equal(lwm2m_tlv_decode(b, n, &ctx, recs), IV_ERR_INVALID);
	/* ...while distinct instances in any order are fine */
	n = unhex("02028071" "000a" "02018007", b, sizeof(b));
	ctx.base = lwm2m_path_object(9);
	assert_int_equal(lwm2m_tlv_decode(b, n, &ctx, recs), 0);
	assert_int_equal(lwm2m_records_count(recs), 3);
	lwm2m_records_free(recs);
}

static enum lwm2m_type temperature_type(const struct lwm2m_path *p, void *arg)
{
	(void)arg;
	return p->depth >= 3 && p->id[2] == 5701 ? LWM2M_TYPE_STRING : LWM2M_TYPE_FLOAT;
}

/* Bytes written by an implementation we did not write (the npm package
 * lwm2m-codec 0.1.1, encode('tlv', '/3303/0', {5700: 23.5, 5701: 'Cel',
 * 5601: -12.25}) and encode('tlv', '/3/0', {0: 'Open Mobile Alliance',
 * 9: 100, 10: 70000, 13: 1367491215})): it wraps the instance and sorts by
 * id. We read them, and our encoding of the instance is its inner bytes. */
static void test_tlv_cross_check_lwm2m_codec(void **state)
{
	static const char temp[] = "080014e415e1c1440000e4164441bc0000e3164543656c";
	static const char dev[] = "080026c800144f70656e204d6f62696c6520416c6c69616e6365c10964"
				  "c40a00011170c40d5182428f";
	uint8_t b[64], out[64];
	size_t n = unhex(temp, b, sizeof(b)), len;
	struct lwm2m_records *recs = lwm2m_records_new();
	struct lwm2m_decode_ctx ctx = ctx_at(lwm2m_path_instance(3303, 0), temperature_type);
	struct lwm2m_path p;
	(void)state;

	assert_int_equal(lwm2m_tlv_decode(b, n, &ctx, recs), 0);
	assert_int_equal(lwm2m_records_count(recs), 3);
	p = lwm2m_path_resource(3303, 0, 5601);
	assert_true(lwm2m_records_find(recs, &p)->value.v.f == -12.25);
	p = lwm2m_path_resource(3303, 0, 5700);
	assert_true(lwm2m_records_find(recs, &p)->value.v.f == 23.5);
	assert_int_equal(lwm2m_tlv_encode(&ctx.base, recs, out, sizeof(out), &len), 0);
	assert_int_equal(len, n - 3);
	assert_memory_equal(out, b + 3, len);

	lwm2m_records_clear(recs);
	n = unhex(dev, b, sizeof(b));
	ctx = ctx_at(lwm2m_path_instance(3, 0), device_type);
	assert_int_equal(lwm2m_tlv_decode(b, n, &ctx, recs), 0);
	p = lwm2m_path_resource(3, 0, 10);
	assert_int_equal(lwm2m_records_find(recs, &p)->value.v.i, 70000);
	assert_int_equal(lwm2m_tlv_encode(&ctx.base, recs, out, sizeof(out), &len), 0);
	assert_int_equal(len, n - 3);
	assert_memory_equal(out, b + 3, len);
	lwm2m_records_free(recs);
}

static void test_tlv_encode_refuses_bad_lists(void **state)
{
	struct lwm2m_records *recs = lwm2m_records_new();
	struct lwm2m_path inst = lwm2m_path_instance(3, 0), other = lwm2m_path_resource(4, 0, 1);
	struct lwm2m_path a = lwm2m_path_resource(3, 0, 1), b = lwm2m_path_resource(3, 0, 2);
	struct lwm2m_value v = lwm2m_value_integer(1);
	uint8_t out[64];
	size_t len;
	(void)state;

	/* Resource 1, 2, then 1 again: not adjacent. */
	assert_int_equal(lwm2m_records_add(recs, &a, &v), 0);
	assert_int_equal(lwm2m_records_add(recs, &b, &v), 0);
	assert_int_equal(lwm2m_records_add(recs, &a, &v), 0);
	assert_int_equal(lwm2m_tlv_encode(&inst, recs, out, sizeof(out), &len), IV_ERR_INVALID);
	lwm2m_records_clear(recs);
	/* Outside the base path. */
	assert_int_equal(lwm2m_records_add(recs, &other, &v), 0);
	assert_int_equal(lwm2m_tlv_encode(&inst, recs, out, sizeof(out), &len), IV_ERR_INVALID);
	lwm2m_records_free(recs);
}

/* ---- SenML JSON ---- */

/* LwM2M 1.1 TS section 7.4.4: Read /3/0 in SenML JSON. */
static const char DEVICE_SENML_JSON[] =
	"[{\"bn\":\"/3/0/\",\"n\":\"0\",\"vs\":\"Open Mobile Alliance\"},"
	"{\"n\":\"1\",\"vs\":\"Lightweight M2M Client\"},"
	"{\"n\":\"2\",\"vs\":\"345000123\"},"
	"{\"n\":\"3\",\"vs\":\"1.0\"},"
	"{\"n\":\"6/0\",\"v\":1},{\"n\":\"6/1\",\"v\":5},"
	"{\"n\":\"7/0\",\"v\":3800},{\"n\":\"7/1\",\"v\":5000},"
	"{\"n\":\"8/0\",\"v\":125},{\"n\":\"8/1\",\"v\":900},"
	"{\"n\":\"9\",\"v\":100},{\"n\":\"10\",\"v\":15},"
	"{\"n\":\"11/0\",\"v\":0},{\"n\":\"13\",\"v\":1367491215},"
	"{\"n\":\"14\",\"vs\":\"+02:00\"},{\"n\":\"16\",\"vs\":\"U\"}]";

static void test_senml_json_device_known_answer(void **state)
{
	struct lwm2m_records *recs = lwm2m_records_new(), *from_tlv = lwm2m_records_new();
	struct lwm2m_decode_ctx ctx = ctx_at(lwm2m_path_instance(3, 0), device_type);
	struct lwm2m_path inst = lwm2m_path_instance(3, 0);
	uint8_t tlv[256], out[1024];
	size_t n, len;
	(void)state;

	assert_int_equal(lwm2m_senml_json_decode((const uint8_t *)DEVICE_SENML_JSON,
						 strlen(DEVICE_SENML_JSON), &ctx, recs), 0);
	check_device_records(recs);
	/* The same data as the TLV example... */
	n = unhex(DEVICE_TLV, tlv, sizeof(tlv));
	assert_int_equal(lwm2m_tlv_decode(tlv, n, &ctx, from_tlv), 0);
	assert_records_same(recs, from_tlv);
	/* ...and written back exactly as the specification writes it. */
	assert_int_equal(lwm2m_senml_json_encode(&inst, from_tlv, out, sizeof(out), &len), 0);
	assert_int_equal(len, strlen(DEVICE_SENML_JSON));
	assert_memory_equal(out, DEVICE_SENML_JSON, len);
	/* Truncated anywhere: refused, nothing added. */
	for (size_t cut = 0; cut < strlen(DEVICE_SENML_JSON); cut++) {
		int r;
		lwm2m_records_clear(recs);
		r = lwm2m_senml_json_decode((const uint8_t *)DEVICE_SENML_JSON, cut, &ctx, recs);
		assert_true(r == IV_ERR_TRUNCATED || r == IV_ERR_INVALID);
		assert_int_equal(lwm2m_records_count(recs), 0);
	}
	lwm2m_records_free(recs);
	lwm2m_records_free(from_tlv);
}

static void test_senml_json_fields(void **state)
{
	static const char doc[] =
		"[{\"bn\":\"/9999/0/\",\"bt\":1000,\"n\":\"7/0\",\"v\":-5,\"t\":-10},"
		"{\"n\":\"6/0\",\"vd\":\"AQID_-8\"},"      /* base64url, no padding */
		"{\"n\":\"6/1\",\"vd\":\"AQID_-8=\"},"     /* padding tolerated */
		"{\"n\":\"8/0\",\"vlo\":\"3:1\"},"
		"{\"n\":\"4/0\",\"vb\":true},"
		"{\"n\":\"3/0\",\"v\":2.5,\"u\":\"Cel\"},"
		"{\"bn\":\"/9999/1\",\"n\":\"/1\"},"       /* a name without a value */
		"{\"n\":\"/2/0\",\"v\":7}]";               /* "v":7 for an unsigned */
	struct lwm2m_records *recs = lwm2m_records_new();
	struct lwm2m_decode_ctx ctx = ctx_at(lwm2m_path_root(), roundtrip_type);
	const struct lwm2m_record *r;
	(void)state;

	assert_int_equal(lwm2m_senml_json_decode((const uint8_t *)doc, strlen(doc), &ctx, recs), 0);
	assert_int_equal(lwm2m_records_count(recs), 8);
	r = lwm2m_records_get(recs, 0);
	assert_true(r->has_time);
	assert_true(r->time == 990.0);
	assert_int_equal(r->value.type, LWM2M_TYPE_TIME); /* model says resource 6 is a time */
	assert_int_equal(r->value.v.i, -5);
	r = lwm2m_records_get(recs, 1);
	assert_int_equal(r->value.type, LWM2M_TYPE_OPAQUE);
	assert_int_equal(r->value.len, 5);
	assert_memory_equal(r->value.bytes, "\x01\x02\x03\xff\xef", 5);
	assert_int_equal(lwm2m_records_get(recs, 2)->value.len, 5);
	r = lwm2m_records_get(recs, 3);
	assert_int_equal(r->value.type, LWM2M_TYPE_OBJLNK);
	assert_int_equal(r->value.v.lnk.inst, 1);
	assert_true(lwm2m_records_get(recs, 4)->value.v.b);
	assert_true(lwm2m_records_get(recs, 5)->value.v.f == 2.5);
	r = lwm2m_records_get(recs, 6);
	assert_int_equal(r->path.depth, 3);
	assert_int_equal(r->path.id[1], 1);
	assert_int_equal(r->value.type, LWM2M_TYPE_NONE);
	r = lwm2m_records_get(recs, 7);
	assert_int_equal(r->value.type, LWM2M_TYPE_UNSIGNED);
	assert_int_equal(r->value.v.u, 7);
	lwm2m_records_free(recs);
}

static void test_senml_json_invalid(void **state)
{
	static const struct { const char *doc; int err; } cases[] = {
		{"{\"n\":\"/3/0/0\"}", IV_ERR_INVALID},                          /* not an array */
		{"[{\"n\":\"urn:dev:ow:10e2073a01080063\",\"v\":23.1}]", IV_ERR_INVALID},
		{"[{\"n\":\"/3/0/9\",\"v\":1,\"vs\":\"x\"}]", IV_ERR_INVALID},   /* two values */
		{"[{\"n\":\"/3/0/9\",\"v\":1,\"v\":2}]", IV_ERR_INVALID},        /* duplicate key */
		{"[{\"n\":\"/3/0/9\",\"bv\":1,\"v\":2}]", IV_ERR_INVALID},       /* base value */
		{"[{\"n\":\"/3/0/9\",\"v\":1,\"x_\":2}]", IV_ERR_INVALID},       /* must-understand */
		{"[{\"n\":\"/4/0/9\",\"v\":1}]", IV_ERR_INVALID},                /* outside /3 */
		{"[{\"n\":\"/3/0/9\",\"v\":\"1\"}]", IV_ERR_INVALID},            /* v as text */
		{"[{\"n\":\"/3/0/0\",\"v\":1}]", IV_ERR_INVALID},                /* model: string */
		{"[{\"n\":\"/3/0/9\",\"v\":1.5}]", IV_ERR_INVALID},              /* model: integer */
		{"[{\"n\":\"/3/0/9\",\"vd\":\"!!\"}]", IV_ERR_INVALID},          /* bad base64url */
		{"[{\"n\":\"/3/0/9\",\"vlo\":\"3\"}]", IV_ERR_INVALID},
		{"[{\"n\":\"/3/0/9\",\"v\":99999999999999999999}]", IV_ERR_INVALID},
		{"[{\"n\":\"/3/0/0\",\"vs\":\"a\\u0000b\"}]", IV_ERR_INVALID},  /* NUL in a string */
		{"[{\"v\":1}]", IV_ERR_INVALID},                                 /* no name */
		{"[{\"n\":\"/3/0/9\",\"v\":1}] x", IV_ERR_INVALID},
		{"[{\"n\":\"/3/0/9\",\"v\":1}", IV_ERR_TRUNCATED},
	};
	struct lwm2m_records *recs = lwm2m_records_new();
	struct lwm2m_decode_ctx ctx = ctx_at(lwm2m_path_object(3), device_type);
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = lwm2m_senml_json_decode((const uint8_t *)cases[i].doc, strlen(cases[i].doc),
						&ctx, recs);
		if (r != cases[i].err)
			fail_msg("case %zu (%s): got %d, want %d", i, cases[i].doc, r, cases[i].err);
		assert_int_equal(lwm2m_records_count(recs), 0);
	}
	lwm2m_records_free(recs);
}

static void test_senml_json_roundtrip_and_limits(void **state)
{
	struct lwm2m_path root = lwm2m_path_root(), inst = lwm2m_path_instance(9999, 0);
	struct lwm2m_records *recs = all_types(true);
	uint8_t out[64];
	size_t len;
	(void)state;

	roundtrip(LWM2M_CF_SENML_JSON, false, &root);
	roundtrip(LWM2M_CF_SENML_JSON, false, &inst);
	/* UINT64_MAX and NaN have no exact JSON form here: refused. */
	assert_int_equal(lwm2m_senml_json_encode(&root, recs, out, sizeof(out), &len), IV_ERR_INVALID);
	lwm2m_records_free(recs);
}

/* What we write, jansson reads back as the RFC's structure. */
static void test_senml_json_read_by_jansson(void **state)
{
	struct lwm2m_records *recs = lwm2m_records_new();
	struct lwm2m_path p = lwm2m_path_resource(3303, 0, 5700), inst = lwm2m_path_instance(3303, 0);
	struct lwm2m_value v = lwm2m_value_float(23.1);
	uint8_t out[256];
	size_t len;
	json_t *root;
	json_error_t err;
	(void)state;

	assert_int_equal(lwm2m_records_add_timed(recs, &p, &v, 1700000000), 0);
	assert_int_equal(lwm2m_senml_json_encode(&inst, recs, out, sizeof(out), &len), 0);
	root = json_loadb((const char *)out, len, 0, &err);
	assert_non_null(root);
	assert_string_equal(json_string_value(json_object_get(json_array_get(root, 0), "bn")),
			    "/3303/0/");
	assert_string_equal(json_string_value(json_object_get(json_array_get(root, 0), "n")), "5700");
	assert_true(json_real_value(json_object_get(json_array_get(root, 0), "v")) == 23.1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(root, 0), "t")),
			 1700000000);
	json_decref(root);
	lwm2m_records_free(recs);
}

/* ---- SenML CBOR ---- */

/* RFC 8428 section 6 (CBOR representation of the multiple-measurements
 * example): well-formed SenML, but its names are not LwM2M paths. */
static const char RFC8428_CBOR[] =
	"82a421781c75726e3a6465763a6f773a"
	"31306532303733613031303830303633"
	"3a0067766f6c74616765016156 02fb40"
	"5e066666666666a3006763757272656e"
	"74016141 02fb3ff3333333333333";

static void test_senml_cbor_rfc8428(void **state)
{
	uint8_t b[128];
	size_t n;
	struct lwm2m_records *recs = lwm2m_records_new();
	struct lwm2m_decode_ctx ctx = ctx_at(lwm2m_path_root(), NULL);
	struct cbor_load_result res;
	cbor_item_t *item;
	char hex[sizeof(RFC8428_CBOR)];
	size_t k = 0;
	(void)state;

	for (const char *p = RFC8428_CBOR; *p; p++)
		if (*p != ' ')
			hex[k++] = *p;
	hex[k] = '\0';
	n = unhex(hex, b, sizeof(b));
	/* libcbor agrees the bytes are one well-formed item... */
	item = cbor_load(b, n, &res);
	assert_non_null(item);
	assert_int_equal(res.read, n);
	cbor_decref(&item);
	/* ...which we refuse only for its names. */
	assert_int_equal(lwm2m_senml_cbor_decode(b, n, &ctx, recs), IV_ERR_INVALID);
	assert_int_equal(lwm2m_records_count(recs), 0);
	lwm2m_records_free(recs);
}

/* The Device example built by libcbor's own item API, so that a second CBOR
 * writer, not ours, produces what we read. */
static size_t build_device_cbor(uint8_t **out)
{
	static const struct { const char *n; const char *vs; int64_t v; } rows[] = {
		{"0", "Open Mobile Alliance", 0}, {"1", "Lightweight M2M Client", 0},
		{"2", "345000123", 0}, {"3", "1.0", 0}, {"6/0", NULL, 1}, {"6/1", NULL, 5},
		{"7/0", NULL, 3800}, {"7/1", NULL, 5000}, {"8/0", NULL, 125}, {"8/1", NULL, 900},
		{"9", NULL, 100}, {"10", NULL, 15}, {"11/0", NULL, 0}, {"13", NULL, 1367491215},
		{"14", "+02:00", 0}, {"16", "U", 0},
	};
	cbor_item_t *arr = cbor_new_definite_array(16);
	size_t size = 0, len;

	for (size_t i = 0; i < 16; i++) {
		cbor_item_t *map = cbor_new_definite_map(i == 0 ? 3 : 2);
		if (i == 0)
			assert_true(cbor_map_add(map, (struct cbor_pair){cbor_move(cbor_build_negint8(1)),
							   cbor_move(cbor_build_string("/3/0/"))}));
		assert_true(cbor_map_add(map, (struct cbor_pair){cbor_move(cbor_build_uint8(0)),
						   cbor_move(cbor_build_string(rows[i].n))}));
		if (rows[i].vs)
			assert_true(cbor_map_add(map, (struct cbor_pair){cbor_move(cbor_build_uint8(3)),
							   cbor_move(cbor_build_string(rows[i].vs))}));
		else
			assert_true(cbor_map_add(map, (struct cbor_pair){cbor_move(cbor_build_uint8(2)),
							   cbor_move(cbor_build_uint32((uint32_t)rows[i].v))}));
		assert_true(cbor_array_push(arr, cbor_move(map)));
	}
	len = cbor_serialize_alloc(arr, out, &size);
	cbor_decref(&arr);
	return len;
}

static void test_senml_cbor_device(void **state)
{
	uint8_t *doc = NULL, out[1024];
	size_t n = build_device_cbor(&doc), len;
	struct lwm2m_records *recs = lwm2m_records_new(), *again = lwm2m_records_new();
	struct lwm2m_decode_ctx ctx = ctx_at(lwm2m_path_instance(3, 0), device_type);
	struct lwm2m_path inst = lwm2m_path_instance(3, 0);
	(void)state;

	assert_true(n > 0);
	assert_int_equal(lwm2m_senml_cbor_decode(doc, n, &ctx, recs), 0);
	check_device_records(recs);
	for (size_t cut = 0; cut < n; cut++) {
		int r = lwm2m_senml_cbor_decode(doc, cut, &ctx, again);
		assert_true(r == IV_ERR_TRUNCATED || r == IV_ERR_INVALID);
		assert_int_equal(lwm2m_records_count(again), 0);
	}
	/* Ours uses the smallest integer heads (uint32 above for every v was
	 * libcbor's choice), so compare meaning, not bytes. */
	assert_int_equal(lwm2m_senml_cbor_encode(&inst, recs, out, sizeof(out), &len), 0);
	assert_true(len < n);
	assert_int_equal(lwm2m_senml_cbor_decode(out, len, &ctx, again), 0);
	assert_records_same(recs, again);
	free(doc);
	lwm2m_records_free(recs);
	lwm2m_records_free(again);
}

/* What we write, libcbor's cbor_load() reads back with the RFC's labels. */
static void test_senml_cbor_read_by_libcbor(void **state)
{
	struct lwm2m_records *recs = lwm2m_records_new();
	struct lwm2m_path p = lwm2m_path_resource(3, 0, 1), q = lwm2m_path_resource(3, 0, 9);
	struct lwm2m_path inst = lwm2m_path_instance(3, 0);
	struct lwm2m_value v = lwm2m_value_string("Lightweight M2M Client"), w = lwm2m_value_integer(-100);
	uint8_t out[256];
	size_t len;
	struct cbor_load_result res;
	cbor_item_t *item, *first;
	struct cbor_pair *pairs;
	(void)state;

	assert_int_equal(lwm2m_records_add(recs, &p, &v), 0);
	assert_int_equal(lwm2m_records_add(recs, &q, &w), 0);
	assert_int_equal(lwm2m_senml_cbor_encode(&inst, recs, out, sizeof(out), &len), 0);
	item = cbor_load(out, len, &res);
	assert_non_null(item);
	assert_int_equal(res.read, len);
	assert_true(cbor_isa_array(item));
	assert_int_equal(cbor_array_size(item), 2);
	first = cbor_array_get(item, 0);
	pairs = cbor_map_handle(first);
	assert_true(cbor_isa_negint(pairs[0].key));
	assert_int_equal(cbor_get_int(pairs[0].key), 1); /* -2: bn */
	assert_memory_equal(cbor_string_handle(pairs[0].value), "/3/0/", 5);
	assert_int_equal(cbor_get_int(pairs[1].key), 0); /* n */
	assert_int_equal(cbor_get_int(pairs[2].key), 3); /* vs */
	assert_memory_equal(cbor_string_handle(pairs[2].value), "Lightweight M2M Client", 22);
	{
		cbor_item_t *second = cbor_array_get(item, 1);
		struct cbor_pair *pp = cbor_map_handle(second);
		assert_int_equal(cbor_get_int(pp[1].key), 2); /* v */
		assert_true(cbor_isa_negint(pp[1].value));
		assert_int_equal(cbor_get_int(pp[1].value), 99); /* -1 - 99 = -100 */
		cbor_decref(&second);
	}
	cbor_decref(&first);
	cbor_decref(&item);
	lwm2m_records_free(recs);
}

static void test_senml_cbor_roundtrip_and_shapes(void **state)
{
	static const struct { const char *hex; int err; } cases[] = {
		/* indefinite array and map: read */
		{"9F BF 00 66 2F 332F302F39 02 18 64 FF FF", 0},
		/* a label twice */
		{"81 A2 00 66 2F332F302F39 00 66 2F332F302F39", IV_ERR_INVALID},
		/* an array declaring 2^64-1 elements: a bound, not an allocation */
		{"9B FFFFFFFFFFFFFFFF", IV_ERR_TOO_LARGE},
		/* a map declaring a billion pairs */
		{"81 BA 40000000", IV_ERR_INVALID},
		/* nesting: a container as a value */
		{"81 A1 00 81 81 81 00", IV_ERR_INVALID},
		/* a tag */
		{"81 A2 00 66 2F332F302F39 02 C1 01", IV_ERR_INVALID},
		/* an indefinite string */
		{"81 A1 00 7F 61 2F FF", IV_ERR_INVALID},
		/* trailing bytes */
		{"81 A2 00 66 2F332F302F39 02 01 00", IV_ERR_INVALID},
		/* vd must be a byte string */
		{"81 A2 00 66 2F332F302F39 08 61 41", IV_ERR_INVALID},
		/* a negative integer below INT64_MIN */
		{"81 A2 00 66 2F332F302F39 02 3B FFFFFFFFFFFFFFFF", IV_ERR_INVALID},
		/* a reserved initial byte */
		{"81 A2 00 66 2F332F302F39 02 1C", IV_ERR_INVALID},
		/* "bn" then "n" resolving to a path */
		{"81 A3 21 64 2F332F30 00 62 2F39 02 F9 3C00", 0},
	};
	struct lwm2m_path root = lwm2m_path_root(), obj = lwm2m_path_object(9999);
	struct lwm2m_decode_ctx ctx = ctx_at(lwm2m_path_object(3), NULL);
	struct lwm2m_records *recs = lwm2m_records_new();
	uint8_t b[64];
	(void)state;

	roundtrip(LWM2M_CF_SENML_CBOR, true, &root);
	roundtrip(LWM2M_CF_SENML_CBOR, true, &obj);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = unhex(cases[i].hex, b, sizeof(b));
		int r;
		lwm2m_records_clear(recs);
		r = lwm2m_senml_cbor_decode(b, n, &ctx, recs);
		if (r != cases[i].err)
			fail_msg("case %zu (%s): got %d, want %d", i, cases[i].hex, r, cases[i].err);
	}
	/* The last case: half-float 1.0 at /3/0/9. */
	assert_int_equal(lwm2m_records_count(recs), 1);
	assert_true(lwm2m_records_get(recs, 0)->value.v.f == 1.0);
	lwm2m_records_free(recs);
}

/* ---- plain text and opaque ---- */

static enum lwm2m_type fixed_type(const struct lwm2m_path *p, void *arg)
{
	(void)p;
	return *(enum lwm2m_type *)arg;
}

static void test_text(void **state)
{
	static const struct { enum lwm2m_type type; const char *text; int ok; } cases[] = {
		{LWM2M_TYPE_INTEGER, "-9223372036854775808", 1}, {LWM2M_TYPE_INTEGER, "9223372036854775808", 0},
		{LWM2M_TYPE_INTEGER, "12a", 0}, {LWM2M_TYPE_INTEGER, "", 0}, {LWM2M_TYPE_INTEGER, "+1", 0},
		{LWM2M_TYPE_UNSIGNED, "18446744073709551615", 1}, {LWM2M_TYPE_UNSIGNED, "18446744073709551616", 0},
		{LWM2M_TYPE_UNSIGNED, "-1", 0},
		{LWM2M_TYPE_FLOAT, "0.1", 1}, {LWM2M_TYPE_FLOAT, "-1.5e3", 1}, {LWM2M_TYPE_FLOAT, "inf", 0},
		{LWM2M_TYPE_FLOAT, "0x10", 0}, {LWM2M_TYPE_FLOAT, "1e999", 0},
		{LWM2M_TYPE_BOOLEAN, "1", 1}, {LWM2M_TYPE_BOOLEAN, "0", 1}, {LWM2M_TYPE_BOOLEAN, "true", 0},
		{LWM2M_TYPE_STRING, "Europe/Berlin", 1}, {LWM2M_TYPE_STRING, "\xc3\x28", 0},
		{LWM2M_TYPE_OPAQUE, "AQIDBAU=", 1}, {LWM2M_TYPE_OPAQUE, "AQIDBAU", 0},
		{LWM2M_TYPE_TIME, "1367491215", 1},
		{LWM2M_TYPE_OBJLNK, "3:0", 1}, {LWM2M_TYPE_OBJLNK, "65535:65535", 1},
		{LWM2M_TYPE_OBJLNK, "3:", 0}, {LWM2M_TYPE_OBJLNK, "65536:0", 0},
	};
	struct lwm2m_path res = lwm2m_path_resource(9999, 0, 1);
	uint8_t out[64];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum lwm2m_type t = cases[i].type;
		struct lwm2m_decode_ctx ctx = {res, fixed_type, &t};
		struct lwm2m_records *recs = lwm2m_records_new();
		size_t len;
		int r = lwm2m_decode(LWM2M_CF_TEXT, (const uint8_t *)cases[i].text,
				     strlen(cases[i].text), &ctx, recs);
		if ((r == 0) != cases[i].ok)
			fail_msg("case %zu (%s): got %d", i, cases[i].text, r);
		if (r == 0) {
			/* What we write reads back as the same value. */
			struct lwm2m_records *again = lwm2m_records_new();
			assert_int_equal(lwm2m_encode(LWM2M_CF_TEXT, &res, recs, out, sizeof(out), &len), 0);
			assert_int_equal(lwm2m_decode(LWM2M_CF_TEXT, out, len, &ctx, again), 0);
			assert_records_same(recs, again);
			lwm2m_records_free(again);
		}
		lwm2m_records_free(recs);
	}
	{
		/* Leshan's known answer: opaque 01..05 in text is "AQIDBAU=". */
		struct lwm2m_records *recs = lwm2m_records_new();
		struct lwm2m_value v = lwm2m_value_opaque((const uint8_t *)"\x01\x02\x03\x04\x05", 5);
		size_t len;
		assert_int_equal(lwm2m_records_add(recs, &res, &v), 0);
		assert_int_equal(lwm2m_text_encode(&res, recs, out, sizeof(out), &len), 0);
		assert_int_equal(len, 8);
		assert_memory_equal(out, "AQIDBAU=", 8);
		/* Text carries one resource, at the request path. */
		assert_int_equal(lwm2m_records_add(recs, &res, &v), 0);
		assert_int_equal(lwm2m_text_encode(&res, recs, out, sizeof(out), &len), IV_ERR_INVALID);
		lwm2m_records_free(recs);
	}
}

static void test_text_float_shortest(void **state)
{
	struct lwm2m_records *recs = lwm2m_records_new();
	struct lwm2m_path res = lwm2m_path_resource(3303, 0, 5700);
	struct lwm2m_value v = lwm2m_value_float(23.1);
	uint8_t out[64];
	size_t len;
	(void)state;

	assert_int_equal(lwm2m_records_add(recs, &res, &v), 0);
	assert_int_equal(lwm2m_text_encode(&res, recs, out, sizeof(out), &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(out, "23.1", 4);
	lwm2m_records_free(recs);
}

static void test_opaque_and_dispatch(void **state)
{
	static const uint8_t key[16] = {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
					0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c};
	struct lwm2m_path res = lwm2m_path_resource(0, 1, 5);
	struct lwm2m_decode_ctx ctx = ctx_at(res, NULL);
	struct lwm2m_records *recs = lwm2m_records_new();
	uint8_t out[32];
	size_t len;
	(void)state;

	assert_int_equal(lwm2m_decode(LWM2M_CF_OPAQUE, key, sizeof(key), &ctx, recs), 0);
	assert_int_equal(lwm2m_encode(LWM2M_CF_OPAQUE, &res, recs, out, sizeof(out), &len), 0);
	assert_int_equal(len, sizeof(key));
	assert_memory_equal(out, key, sizeof(key));
	/* Opaque and text address one resource. */
	ctx.base = lwm2m_path_instance(0, 1);
	assert_int_equal(lwm2m_decode(LWM2M_CF_OPAQUE, key, sizeof(key), &ctx, recs), IV_ERR_INVALID);
	assert_int_equal(lwm2m_decode(LWM2M_CF_TEXT, key, 1, &ctx, recs), IV_ERR_INVALID);
	assert_int_equal(lwm2m_decode(LWM2M_CF_JSON_LEGACY, key, 1, &ctx, recs), IV_ERR_MEDIA_TYPE);
	assert_int_equal(lwm2m_decode(LWM2M_CF_LINK_FORMAT, key, 1, &ctx, recs), IV_ERR_MEDIA_TYPE);
	assert_false(lwm2m_content_format_supported(LWM2M_CF_JSON));
	assert_true(lwm2m_content_format_supported(LWM2M_CF_TLV_LEGACY));
	assert_int_equal(lwm2m_records_count(recs), 1);
	lwm2m_records_free(recs);
}

/* ---- record lists ---- */

static void test_records_limits(void **state)
{
	static uint8_t big[LWM2M_VALUE_MAX + 1];
	struct lwm2m_records *recs = lwm2m_records_new();
	struct lwm2m_path p = lwm2m_path_resource(9999, 0, 0), inst = lwm2m_path_instance(9999, 0);
	struct lwm2m_value v = lwm2m_value_opaque(big, LWM2M_VALUE_MAX + 1), one = lwm2m_value_integer(1);
	(void)state;

	assert_int_equal(lwm2m_records_add(recs, &p, &v), IV_ERR_TOO_LARGE);
	/* a value needs a resource */
	assert_int_equal(lwm2m_records_add(recs, &inst, &one), IV_ERR_INVALID);
	v = lwm2m_value_string("x");
	assert_int_equal(lwm2m_records_add(recs, &p, &v), 0);
	/* Growing the arena moves the bytes; the record follows them, and a
	 * value borrowed from the list itself is copied correctly. */
	for (unsigned i = 1; i < LWM2M_RECORDS_MAX; i++) {
		struct lwm2m_value same = lwm2m_records_get(recs, 0)->value;
		p.id[2] = (uint16_t)i;
		assert_int_equal(lwm2m_records_add(recs, &p, &same), 0);
	}
	assert_string_equal((const char *)lwm2m_records_get(recs, LWM2M_RECORDS_MAX - 1)->value.bytes, "x");
	p.id[2] = 9999;
	assert_int_equal(lwm2m_records_add(recs, &p, &one), IV_ERR_TOO_LARGE);
	lwm2m_records_free(recs);
	lwm2m_records_free(NULL);
}

/* ---- link-format ---- */

static void test_linkformat_registration(void **state)
{
	static const char reg[] = "</>;rt=\"oma.lwm2m\";ct=110,</1/0>,</3/0>,</5>";
	struct lwm2m_links *links = lwm2m_links_new();
	const struct lwm2m_link *l;
	const struct lwm2m_link_attr *a;
	uint8_t out[128];
	size_t len;
	(void)state;

	assert_int_equal(lwm2m_linkformat_parse((const uint8_t *)reg, strlen(reg), links), 0);
	assert_int_equal(lwm2m_links_count(links), 4);
	l = lwm2m_links_get(links, 0);
	assert_string_equal(l->uri, "/");
	assert_true(l->has_path);
	assert_int_equal(l->path.depth, 0);
	a = lwm2m_link_attr_find(l, "rt");
	assert_non_null(a);
	assert_string_equal(a->value, "oma.lwm2m");
	assert_true(a->quoted);
	assert_string_equal(lwm2m_link_attr_find(l, "ct")->value, "110");
	l = lwm2m_links_get(links, 2);
	assert_int_equal(l->path.depth, 2);
	assert_int_equal(l->path.id[0], 3);
	l = lwm2m_links_get(links, 3);
	assert_int_equal(l->path.depth, 1);
	assert_int_equal(l->path.id[0], 5);
	/* written back byte for byte */
	assert_int_equal(lwm2m_linkformat_encode(links, out, sizeof(out), &len), 0);
	assert_int_equal(len, strlen(reg));
	assert_memory_equal(out, reg, len);
	/* Cut anywhere: refused with nothing added, or read as the shorter
	 * document it then is (written back as exactly that prefix); never
	 * accepted inside <...> or a quoted-string. */
	for (size_t cut = 0; cut < strlen(reg); cut++) {
		struct lwm2m_links *part = lwm2m_links_new();
		int r = lwm2m_linkformat_parse((const uint8_t *)reg, cut, part);
		if (r == 0) {
			assert_false(cut == 1 || cut == 2 || (cut >= 7 && cut <= 17));
			assert_int_equal(lwm2m_linkformat_encode(part, out, sizeof(out), &len), 0);
			assert_int_equal(len, cut);
			assert_memory_equal(out, reg, cut);
		} else {
			assert_true(r == IV_ERR_TRUNCATED || r == IV_ERR_INVALID);
			assert_int_equal(lwm2m_links_count(part), 0);
		}
		lwm2m_links_free(part);
	}
	lwm2m_links_free(links);
}

static void test_linkformat_discover_and_build(void **state)
{
	static const char disc[] = "</3/0>;pmin=10;pmax=60,</3/0/1>,</3/0/7>;dim=2;gt=50.5;lt=-1;st=1,"
				   "</lwm2m/1>;ver=1.1;obs";
	struct lwm2m_links *links = lwm2m_links_new(), *built = lwm2m_links_new();
	uint8_t out[256];
	size_t len;
	(void)state;

	assert_int_equal(lwm2m_linkformat_parse((const uint8_t *)disc, strlen(disc), links), 0);
	assert_int_equal(lwm2m_links_count(links), 4);
	assert_string_equal(lwm2m_link_attr_find(lwm2m_links_get(links, 2), "dim")->value, "2");
	assert_false(lwm2m_links_get(links, 3)->has_path); /* an alternate root */
	assert_null(lwm2m_link_attr_find(lwm2m_links_get(links, 3), "obs")->value);
	assert_int_equal(lwm2m_linkformat_encode(links, out, sizeof(out), &len), 0);
	assert_int_equal(len, strlen(disc));
	assert_memory_equal(out, disc, len);

	/* Built by hand: numbers bare, words quoted, quotes escaped. */
	assert_int_equal(lwm2m_links_add(built, "/3/0/7"), 0);
	assert_int_equal(lwm2m_links_add_attr(built, "dim", "2"), 0);
	assert_int_equal(lwm2m_links_add_attr(built, "title", "say \"hi\""), 0);
	assert_int_equal(lwm2m_links_add_attr(built, "dim", "3"), IV_ERR_INVALID);
	assert_int_equal(lwm2m_links_add(built, "/bad>"), IV_ERR_INVALID);
	assert_int_equal(lwm2m_linkformat_encode(built, out, sizeof(out), &len), 0);
	assert_int_equal(len, strlen("</3/0/7>;dim=2;title=\"say \\\"hi\\\"\""));
	assert_memory_equal(out, "</3/0/7>;dim=2;title=\"say \\\"hi\\\"\"", len);
	lwm2m_links_free(built);
	built = lwm2m_links_new();
	assert_int_equal(lwm2m_linkformat_parse(out, len, built), 0);
	assert_string_equal(lwm2m_link_attr_find(lwm2m_links_get(built, 0), "title")->value,
			    "say \"hi\"");
	lwm2m_links_free(built);
	lwm2m_links_free(links);
}

static void test_linkformat_invalid_and_limits(void **state)
{
	static const struct { const char *doc; int err; } cases[] = {
		{"</1/0>,", IV_ERR_TRUNCATED}, {"</1/0>;", IV_ERR_TRUNCATED},
		{"</1/0", IV_ERR_TRUNCATED}, {"</1/0>;rt=\"x", IV_ERR_TRUNCATED},
		{"</1/0>;rt=", IV_ERR_TRUNCATED},
		{"<>", IV_ERR_INVALID}, {"/1/0", IV_ERR_INVALID}, {"</1/0>x", IV_ERR_INVALID},
		{"</1/0>;=1", IV_ERR_INVALID}, {"</1/0>;a=1;a=2", IV_ERR_INVALID},
		{"</1/0>;rt=\"\x01\"", IV_ERR_INVALID}, {"</1 0>", IV_ERR_INVALID},
		{"</1/0>,,</2>", IV_ERR_INVALID}, {"</1/0>;a=,</2>", IV_ERR_INVALID},
		{"</1/0>, \r\n</3/0>", 0},
	};
	struct lwm2m_links *links = lwm2m_links_new();
	char *many;
	size_t n = 0;
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = lwm2m_linkformat_parse((const uint8_t *)cases[i].doc, strlen(cases[i].doc), links);
		if (r != cases[i].err)
			fail_msg("case %zu (%s): got %d, want %d", i, cases[i].doc, r, cases[i].err);
	}
	assert_int_equal(lwm2m_links_count(links), 2);
	lwm2m_links_free(links);

	/* One link more than the limit; an over-long URI; too many attributes. */
	many = malloc(16 * (LWM2M_LINKS_MAX + 1) + 512);
	assert_non_null(many);
	for (unsigned i = 0; i <= LWM2M_LINKS_MAX; i++)
		n += (size_t)snprintf(many + n, 16, "%s</%u>", i ? "," : "", i);
	links = lwm2m_links_new();
	assert_int_equal(lwm2m_linkformat_parse((const uint8_t *)many, n, links), IV_ERR_TOO_LARGE);
	assert_int_equal(lwm2m_links_count(links), 0);
	n = (size_t)snprintf(many, 512, "</%0*d>", LWM2M_LINK_URI_MAX, 0);
	assert_int_equal(lwm2m_linkformat_parse((const uint8_t *)many, n, links), IV_ERR_TOO_LARGE);
	n = (size_t)snprintf(many, 512, "</1>");
	for (int i = 0; i <= LWM2M_LINK_ATTRS_MAX; i++)
		n += (size_t)snprintf(many + n, 512 - n, ";a%d", i);
	assert_int_equal(lwm2m_linkformat_parse((const uint8_t *)many, n, links), IV_ERR_TOO_LARGE);
	free(many);
	lwm2m_links_free(links);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_parse_format),
		cmocka_unit_test(test_tlv_device_known_answer),
		cmocka_unit_test(test_tlv_untyped_is_opaque),
		cmocka_unit_test(test_tlv_truncations),
		cmocka_unit_test(test_tlv_roundtrip_all_types),
		cmocka_unit_test(test_tlv_integer_widths),
		cmocka_unit_test(test_tlv_empty_containers),
		cmocka_unit_test(test_tlv_invalid),
		cmocka_unit_test(test_tlv_regression_instance_given_twice),
		cmocka_unit_test(test_tlv_cross_check_lwm2m_codec),
		cmocka_unit_test(test_tlv_encode_refuses_bad_lists),
		cmocka_unit_test(test_senml_json_device_known_answer),
		cmocka_unit_test(test_senml_json_fields),
		cmocka_unit_test(test_senml_json_invalid),
		cmocka_unit_test(test_senml_json_roundtrip_and_limits),
		cmocka_unit_test(test_senml_json_read_by_jansson),
		cmocka_unit_test(test_senml_cbor_rfc8428),
		cmocka_unit_test(test_senml_cbor_device),
		cmocka_unit_test(test_senml_cbor_read_by_libcbor),
		cmocka_unit_test(test_senml_cbor_roundtrip_and_shapes),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_text_float_shortest),
		cmocka_unit_test(test_opaque_and_dispatch),
		cmocka_unit_test(test_records_limits),
		cmocka_unit_test(test_linkformat_registration),
		cmocka_unit_test(test_linkformat_discover_and_build),
		cmocka_unit_test(test_linkformat_invalid_and_limits),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
