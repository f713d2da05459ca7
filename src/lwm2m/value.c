/* The LwM2M data model (paths, typed values, record lists with their bytes in
 * secure memory), the two single-resource formats (plain text and opaque) and
 * the dispatch from a Content-Format number to its codec. */
#include "content_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotvault/cursor.h"
#include "iotvault/secmem.h"

/* ---- paths ---- */

struct lwm2m_path lwm2m_path_root(void)
{
	struct lwm2m_path p = {{0, 0, 0, 0}, 0};
	return p;
}

struct lwm2m_path lwm2m_path_object(uint16_t obj)
{
	struct lwm2m_path p = {{obj, 0, 0, 0}, 1};
	return p;
}

struct lwm2m_path lwm2m_path_instance(uint16_t obj, uint16_t inst)
{
	struct lwm2m_path p = {{obj, inst, 0, 0}, 2};
	return p;
}

struct lwm2m_path lwm2m_path_resource(uint16_t obj, uint16_t inst, uint16_t res)
{
	struct lwm2m_path p = {{obj, inst, res, 0}, 3};
	return p;
}

struct lwm2m_path lwm2m_path_resource_instance(uint16_t obj, uint16_t inst, uint16_t res,
					       uint16_t ri)
{
	struct lwm2m_path p = {{obj, inst, res, ri}, 4};
	return p;
}

bool lwm2m_path_valid(const struct lwm2m_path *path)
{
	if (path == NULL || path->depth > LWM2M_PATH_DEPTH_MAX)
		return false;
	for (unsigned i = 0; i < LWM2M_PATH_DEPTH_MAX; i++) {
		if (i < path->depth ? path->id[i] > LWM2M_ID_MAX : path->id[i] != 0)
			return false;
	}
	return true;
}

int lwm2m_path_parse(const char *text, size_t len, struct lwm2m_path *out)
{
	struct lwm2m_path p = lwm2m_path_root();
	struct cursor c;
	uint8_t ch;

	if (text == NULL || out == NULL)
		return IV_ERR_INVALID;
	cursor_init(&c, (const uint8_t *)text, len);
	if (cursor_read_u8(&c, &ch) != 0 || ch != '/')
		return IV_ERR_INVALID;
	if (cursor_remaining(&c) == 0) {
		*out = p;
		return 0;
	}
	for (;;) {
		uint32_t id = 0;
		size_t digits = 0;
		int more = 0;

		if (p.depth == LWM2M_PATH_DEPTH_MAX)
			return IV_ERR_INVALID;
		while (cursor_read_u8(&c, &ch) == 0) {
			if (ch == '/') {
				more = 1;
				break;
			}
			if (ch < '0' || ch > '9' || (digits == 1 && id == 0) || digits == 5)
				return IV_ERR_INVALID;
			id = id * 10 + (uint32_t)(ch - '0');
			digits++;
		}
		if (digits == 0 || id > LWM2M_ID_MAX)
			return IV_ERR_INVALID;
		p.id[p.depth++] = (uint16_t)id;
		if (!more)
			break;
	}
	*out = p;
	return 0;
}

int lwm2m_path_format(const struct lwm2m_path *path, char *buf, size_t cap)
{
	size_t used = 0;
	int n;

	if (!lwm2m_path_valid(path) || buf == NULL || cap == 0)
		return IV_ERR_INVALID;
	if (path->depth == 0) {
		n = snprintf(buf, cap, "/");
		return n > 0 && (size_t)n < cap ? 0 : IV_ERR_TOO_LARGE;
	}
	for (unsigned i = 0; i < path->depth; i++) {
		n = snprintf(buf + used, cap - used, "/%u", (unsigned)path->id[i]);
		if (n < 0 || (size_t)n >= cap - used)
			return IV_ERR_TOO_LARGE;
		used += (size_t)n;
	}
	return 0;
}

bool lwm2m_path_equal(const struct lwm2m_path *a, const struct lwm2m_path *b)
{
	return a->depth == b->depth && lwm2m_path_is_prefix(a, b);
}

bool lwm2m_path_is_prefix(const struct lwm2m_path *parent, const struct lwm2m_path *child)
{
	if (parent->depth > child->depth)
		return false;
	for (unsigned i = 0; i < parent->depth; i++)
		if (parent->id[i] != child->id[i])
			return false;
	return true;
}

/* ---- values ---- */

static struct lwm2m_value value_of(enum lwm2m_type type)
{
	struct lwm2m_value v;
	memset(&v, 0, sizeof(v));
	v.type = type;
	return v;
}

struct lwm2m_value lwm2m_value_none(void) { return value_of(LWM2M_TYPE_NONE); }

struct lwm2m_value lwm2m_value_integer(int64_t i)
{
	struct lwm2m_value v = value_of(LWM2M_TYPE_INTEGER);
	v.v.i = i;
	return v;
}

struct lwm2m_value lwm2m_value_unsigned(uint64_t u)
{
	struct lwm2m_value v = value_of(LWM2M_TYPE_UNSIGNED);
	v.v.u = u;
	return v;
}

struct lwm2m_value lwm2m_value_float(double f)
{
	struct lwm2m_value v = value_of(LWM2M_TYPE_FLOAT);
	v.v.f = f;
	return v;
}

struct lwm2m_value lwm2m_value_boolean(bool b)
{
	struct lwm2m_value v = value_of(LWM2M_TYPE_BOOLEAN);
	v.v.b = b;
	return v;
}

struct lwm2m_value lwm2m_value_time(int64_t seconds)
{
	struct lwm2m_value v = value_of(LWM2M_TYPE_TIME);
	v.v.i = seconds;
	return v;
}

struct lwm2m_value lwm2m_value_objlnk(uint16_t obj, uint16_t inst)
{
	struct lwm2m_value v = value_of(LWM2M_TYPE_OBJLNK);
	v.v.lnk.obj = obj;
	v.v.lnk.inst = inst;
	return v;
}

struct lwm2m_value lwm2m_value_string(const char *s)
{
	struct lwm2m_value v = value_of(LWM2M_TYPE_STRING);
	v.bytes = (const uint8_t *)s;
	v.len = s ? strlen(s) : 0;
	return v;
}

struct lwm2m_value lwm2m_value_opaque(const uint8_t *data, size_t len)
{
	struct lwm2m_value v = value_of(LWM2M_TYPE_OPAQUE);
	v.bytes = data;
	v.len = len;
	return v;
}

const char *lwm2m_type_name(enum lwm2m_type type)
{
	switch (type) {
	case LWM2M_TYPE_NONE: return "none";
	case LWM2M_TYPE_INTEGER: return "integer";
	case LWM2M_TYPE_UNSIGNED: return "unsigned";
	case LWM2M_TYPE_FLOAT: return "float";
	case LWM2M_TYPE_BOOLEAN: return "boolean";
	case LWM2M_TYPE_STRING: return "string";
	case LWM2M_TYPE_OPAQUE: return "opaque";
	case LWM2M_TYPE_TIME: return "time";
	case LWM2M_TYPE_OBJLNK: return "objlnk";
	}
	return "unknown";
}

/* 2^63 as a double: the first value past INT64_MAX; also -2^63 is INT64_MIN. */
#define TWO_POW_63 9223372036854775808.0

int lwm2m_value_coerce(struct lwm2m_value *v, enum lwm2m_type want)
{
	struct lwm2m_value r;
	bool is_signed;

	if (v == NULL)
		return IV_ERR_INVALID;
	if (v->type == want)
		return 0;
	r = value_of(want);
	is_signed = v->type == LWM2M_TYPE_INTEGER || v->type == LWM2M_TYPE_TIME;
	switch (want) {
	case LWM2M_TYPE_INTEGER:
	case LWM2M_TYPE_TIME:
		if (is_signed)
			r.v.i = v->v.i;
		else if (v->type == LWM2M_TYPE_UNSIGNED && v->v.u <= INT64_MAX)
			r.v.i = (int64_t)v->v.u;
		else if (v->type == LWM2M_TYPE_FLOAT && v->v.f == floor(v->v.f) &&
			 v->v.f >= -TWO_POW_63 && v->v.f < TWO_POW_63)
			r.v.i = (int64_t)v->v.f;
		else
			return IV_ERR_INVALID;
		break;
	case LWM2M_TYPE_UNSIGNED:
		if (is_signed && v->v.i >= 0)
			r.v.u = (uint64_t)v->v.i;
		else if (v->type == LWM2M_TYPE_FLOAT && v->v.f == floor(v->v.f) &&
			 v->v.f >= 0 && v->v.f < 2 * TWO_POW_63)
			r.v.u = (uint64_t)v->v.f;
		else
			return IV_ERR_INVALID;
		break;
	case LWM2M_TYPE_FLOAT:
		if (is_signed)
			r.v.f = (double)v->v.i;
		else if (v->type == LWM2M_TYPE_UNSIGNED)
			r.v.f = (double)v->v.u;
		else
			return IV_ERR_INVALID;
		break;
	default:
		return IV_ERR_INVALID;
	}
	*v = r;
	return 0;
}

bool lwm2m_utf8_valid(const uint8_t *s, size_t len)
{
	struct cursor c;
	uint8_t b;

	cursor_init(&c, s, len);
	while (cursor_read_u8(&c, &b) == 0) {
		uint32_t cp, min;
		unsigned more;

		if (b == 0)
			return false;
		if (b < 0x80)
			continue;
		if ((b & 0xE0) == 0xC0) {
			cp = b & 0x1F, more = 1, min = 0x80;
		} else if ((b & 0xF0) == 0xE0) {
			cp = b & 0x0F, more = 2, min = 0x800;
		} else if ((b & 0xF8) == 0xF0) {
			cp = b & 0x07, more = 3, min = 0x10000;
		} else {
			return false;
		}
		while (more--) {
			if (cursor_read_u8(&c, &b) != 0 || (b & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (b & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
	}
	return true;
}

int lwm2m_format_double(double f, char *buf, size_t cap)
{
	if (!isfinite(f) || buf == NULL)
		return IV_ERR_INVALID;
	/* The shortest text that reads back exactly, so 0.1 stays "0.1". */
	for (int prec = 1; prec <= 17; prec++) {
		int n = snprintf(buf, cap, "%.*g", prec, f);
		if (n < 0 || (size_t)n >= cap)
			return IV_ERR_TOO_LARGE;
		if (strtod(buf, NULL) == f)
			return 0;
	}
	return IV_ERR_INTERNAL;
}

/* ---- record lists ---- */

/* String and opaque bytes live in one secure arena; a record remembers its
 * offset so that its pointer can be renewed when the arena moves. */
struct lwm2m_records {
	struct lwm2m_record *recs;
	size_t *offsets;
	size_t count;
	size_t cap;
	uint8_t *arena;
	size_t arena_used;
	size_t arena_cap;
};

/* Room for the limit plus each value's NUL terminator. */
#define ARENA_MAX (LWM2M_RECORDS_BYTES_MAX + LWM2M_RECORDS_MAX)
#define ARENA_MIN 1024u

static bool has_bytes(enum lwm2m_type t)
{
	return t == LWM2M_TYPE_STRING || t == LWM2M_TYPE_OPAQUE;
}

struct lwm2m_records *lwm2m_records_new(void)
{
	return calloc(1, sizeof(struct lwm2m_records));
}

void lwm2m_records_free(struct lwm2m_records *recs)
{
	if (recs == NULL)
		return;
	secmem_free(recs->arena);
	free(recs->recs);
	free(recs->offsets);
	free(recs);
}

void lwm2m_records_truncate(struct lwm2m_records *recs, size_t count)
{
	size_t keep = 0;

	if (recs == NULL || count >= recs->count)
		return;
	for (size_t i = 0; i < count; i++)
		if (has_bytes(recs->recs[i].value.type))
			keep = recs->offsets[i] + recs->recs[i].value.len + 1;
	if (recs->arena)
		secmem_wipe(recs->arena + keep, recs->arena_used - keep);
	recs->arena_used = keep;
	recs->count = count;
}

void lwm2m_records_clear(struct lwm2m_records *recs) { lwm2m_records_truncate(recs, 0); }

size_t lwm2m_records_count(const struct lwm2m_records *recs) { return recs ? recs->count : 0; }

const struct lwm2m_record *lwm2m_records_get(const struct lwm2m_records *recs, size_t i)
{
	return recs && i < recs->count ? &recs->recs[i] : NULL;
}

const struct lwm2m_record *lwm2m_records_find(const struct lwm2m_records *recs,
					      const struct lwm2m_path *path)
{
	for (size_t i = 0; recs && path && i < recs->count; i++)
		if (lwm2m_path_equal(&recs->recs[i].path, path))
			return &recs->recs[i];
	return NULL;
}

static int value_check(const struct lwm2m_path *path, const struct lwm2m_value *value)
{
	if (!lwm2m_path_valid(path) || path->depth == 0 || value == NULL)
		return IV_ERR_INVALID;
	switch (value->type) {
	case LWM2M_TYPE_NONE:
		return 0;
	case LWM2M_TYPE_STRING:
	case LWM2M_TYPE_OPAQUE:
		if (value->len > LWM2M_VALUE_MAX)
			return IV_ERR_TOO_LARGE;
		if (value->len && value->bytes == NULL)
			return IV_ERR_INVALID;
		if (value->type == LWM2M_TYPE_STRING && !lwm2m_utf8_valid(value->bytes, value->len))
			return IV_ERR_INVALID;
		break;
	case LWM2M_TYPE_INTEGER:
	case LWM2M_TYPE_UNSIGNED:
	case LWM2M_TYPE_FLOAT:
	case LWM2M_TYPE_BOOLEAN:
	case LWM2M_TYPE_TIME:
	case LWM2M_TYPE_OBJLNK:
		break;
	default:
		return IV_ERR_INVALID;
	}
	/* Values belong to resources and resource instances. */
	return path->depth >= 3 ? 0 : IV_ERR_INVALID;
}

static int grow_records(struct lwm2m_records *recs)
{
	size_t ncap;
	struct lwm2m_record *nrecs;
	size_t *noffs;

	if (recs->count < recs->cap)
		return 0;
	ncap = recs->cap ? recs->cap * 2 : 16;
	if (ncap > LWM2M_RECORDS_MAX)
		ncap = LWM2M_RECORDS_MAX;
	nrecs = realloc(recs->recs, ncap * sizeof(*nrecs));
	if (nrecs == NULL)
		return IV_ERR_NOMEM;
	recs->recs = nrecs;
	noffs = realloc(recs->offsets, ncap * sizeof(*noffs));
	if (noffs == NULL)
		return IV_ERR_NOMEM;
	recs->offsets = noffs;
	recs->cap = ncap;
	return 0;
}

/* Makes room for NEED more arena bytes. The old arena is handed back in *OLD
 * (freed by the caller after copying), because the value being added may
 * point into it. */
static int grow_arena(struct lwm2m_records *recs, size_t need, uint8_t **old)
{
	size_t ncap;
	uint8_t *narena;

	*old = NULL;
	if (need > ARENA_MAX - recs->arena_used)
		return IV_ERR_TOO_LARGE;
	if (need <= recs->arena_cap - recs->arena_used)
		return 0;
	ncap = recs->arena_cap ? recs->arena_cap : ARENA_MIN;
	while (ncap - recs->arena_used < need)
		ncap = ncap > ARENA_MAX / 2 ? ARENA_MAX : ncap * 2;
	narena = secmem_alloc(ncap);
	if (narena == NULL)
		return IV_ERR_NOMEM;
	if (recs->arena_used)
		memcpy(narena, recs->arena, recs->arena_used);
	*old = recs->arena;
	recs->arena = narena;
	recs->arena_cap = ncap;
	for (size_t i = 0; i < recs->count; i++)
		if (has_bytes(recs->recs[i].value.type))
			recs->recs[i].value.bytes = narena + recs->offsets[i];
	return 0;
}

static int records_add(struct lwm2m_records *recs, const struct lwm2m_path *path,
		       const struct lwm2m_value *value, bool has_time, double time)
{
	struct lwm2m_record *rec;
	uint8_t *old = NULL;
	int r;

	if (recs == NULL)
		return IV_ERR_INVALID;
	if ((r = value_check(path, value)) != 0)
		return r;
	if (recs->count >= LWM2M_RECORDS_MAX)
		return IV_ERR_TOO_LARGE;
	if ((r = grow_records(recs)) != 0)
		return r;
	rec = &recs->recs[recs->count];
	memset(rec, 0, sizeof(*rec));
	rec->path = *path;
	rec->value = *value;
	rec->has_time = has_time;
	rec->time = has_time ? time : 0;
	recs->offsets[recs->count] = 0;
	if (has_bytes(value->type)) {
		if ((r = grow_arena(recs, value->len + 1, &old)) != 0)
			return r;
		if (value->len)
			memcpy(recs->arena + recs->arena_used, value->bytes, value->len);
		recs->arena[recs->arena_used + value->len] = 0;
		rec->value.bytes = recs->arena + recs->arena_used;
		recs->offsets[recs->count] = recs->arena_used;
		recs->arena_used += value->len + 1;
		secmem_free(old);
	} else {
		rec->value.bytes = NULL;
		rec->value.len = 0;
	}
	recs->count++;
	return 0;
}

int lwm2m_records_add(struct lwm2m_records *recs, const struct lwm2m_path *path,
		      const struct lwm2m_value *value)
{
	return records_add(recs, path, value, false, 0);
}

int lwm2m_records_add_timed(struct lwm2m_records *recs, const struct lwm2m_path *path,
			    const struct lwm2m_value *value, double time)
{
	return records_add(recs, path, value, true, time);
}

enum lwm2m_type lwm2m_ctx_type(const struct lwm2m_decode_ctx *ctx, const struct lwm2m_path *path)
{
	return ctx && ctx->type_of ? ctx->type_of(path, ctx->arg) : LWM2M_TYPE_NONE;
}

/* ---- plain text ---- */

/* Longest number text we read: a float has at most 17 significant digits,
 * sign, point and exponent; generous, but a bound. */
#define TEXT_NUMBER_MAX 40

static int text_integer(const uint8_t *p, size_t len, bool allow_minus, bool *neg, uint64_t *mag)
{
	struct cursor c;
	uint8_t ch;
	uint64_t v = 0;
	size_t digits = 0;

	cursor_init(&c, p, len);
	*neg = false;
	if (allow_minus && len > 0 && p != NULL) {
		struct cursor peek = c;
		if (cursor_read_u8(&peek, &ch) == 0 && ch == '-') {
			*neg = true;
			c = peek;
		}
	}
	while (cursor_read_u8(&c, &ch) == 0) {
		if (ch < '0' || ch > '9')
			return IV_ERR_INVALID;
		if (v > (UINT64_MAX - (uint64_t)(ch - '0')) / 10)
			return IV_ERR_INVALID;
		v = v * 10 + (uint64_t)(ch - '0');
		digits++;
	}
	if (digits == 0)
		return IV_ERR_INVALID;
	*mag = v;
	return 0;
}

static int text_to_value(const uint8_t *p, size_t len, enum lwm2m_type type,
			 struct lwm2m_value *out, struct secbuf **scratch)
{
	struct cursor c;
	uint8_t ch;
	bool neg;
	uint64_t mag;
	int r;

	switch (type) {
	case LWM2M_TYPE_INTEGER:
	case LWM2M_TYPE_TIME:
		if ((r = text_integer(p, len, true, &neg, &mag)) != 0)
			return r;
		if (neg ? mag > (uint64_t)INT64_MAX + 1 : mag > (uint64_t)INT64_MAX)
			return IV_ERR_INVALID;
		*out = value_of(type);
		out->v.i = neg ? (int64_t)(0 - mag) : (int64_t)mag;
		return 0;
	case LWM2M_TYPE_UNSIGNED:
		if ((r = text_integer(p, len, false, &neg, &mag)) != 0)
			return r;
		*out = lwm2m_value_unsigned(mag);
		return 0;
	case LWM2M_TYPE_FLOAT: {
		char num[TEXT_NUMBER_MAX + 1];
		char *end = NULL;
		double f;
		if (len == 0 || len > TEXT_NUMBER_MAX)
			return IV_ERR_INVALID;
		/* strtod also takes "inf", "nan" and hex floats; only decimal
		 * notation is a number here. */
		cursor_init(&c, p, len);
		if (cursor_read_bytes(&c, (uint8_t *)num, len) != 0)
			return IV_ERR_INVALID;
		num[len] = '\0';
		if (strspn(num, "0123456789+-.eE") != len)
			return IV_ERR_INVALID;
		errno = 0;
		f = strtod(num, &end);
		if (end != num + len || errno == ERANGE || !isfinite(f))
			return IV_ERR_INVALID;
		*out = lwm2m_value_float(f);
		return 0;
	}
	case LWM2M_TYPE_BOOLEAN:
		cursor_init(&c, p, len);
		if (cursor_read_u8(&c, &ch) != 0 || cursor_expect_end(&c) != 0 ||
		    (ch != '0' && ch != '1'))
			return IV_ERR_INVALID;
		*out = lwm2m_value_boolean(ch == '1');
		return 0;
	case LWM2M_TYPE_STRING:
		if (len > LWM2M_VALUE_MAX)
			return IV_ERR_TOO_LARGE;
		if (!lwm2m_utf8_valid(p, len))
			return IV_ERR_INVALID;
		*out = value_of(LWM2M_TYPE_STRING);
		out->bytes = p;
		out->len = len;
		return 0;
	case LWM2M_TYPE_OPAQUE: {
		size_t n = 0;
		const char *end = NULL;
		if (len > 2 * LWM2M_VALUE_MAX)
			return IV_ERR_TOO_LARGE;
		/* The decoded bytes may be key material: secure scratch. */
		*scratch = secbuf_new(len / 4 * 3 + 3);
		if (*scratch == NULL)
			return IV_ERR_NOMEM;
		if (sodium_base642bin((*scratch)->data, (*scratch)->len, (const char *)p, len, NULL,
				      &n, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    end != (const char *)p + len)
			return IV_ERR_INVALID;
		if (n > LWM2M_VALUE_MAX)
			return IV_ERR_TOO_LARGE;
		*out = lwm2m_value_opaque((*scratch)->data, n);
		return 0;
	}
	case LWM2M_TYPE_OBJLNK: {
		const uint8_t *colon = memchr(p, ':', len);
		const uint8_t *first, *rest;
		size_t first_len;
		uint64_t obj, inst;
		if (colon == NULL)
			return IV_ERR_INVALID;
		first_len = (size_t)(colon - p);
		cursor_init(&c, p, len);
		if (cursor_view(&c, &first, first_len) != 0 || cursor_read_u8(&c, &ch) != 0 ||
		    cursor_view(&c, &rest, cursor_remaining(&c)) != 0)
			return IV_ERR_INVALID;
		if (text_integer(first, first_len, false, &neg, &obj) != 0 ||
		    text_integer(rest, len - first_len - 1, false, &neg, &inst) != 0 ||
		    obj > UINT16_MAX || inst > UINT16_MAX)
			return IV_ERR_INVALID;
		*out = lwm2m_value_objlnk((uint16_t)obj, (uint16_t)inst);
		return 0;
	}
	default:
		return IV_ERR_INVALID;
	}
}

int lwm2m_objlnk_parse(const uint8_t *p, size_t len, struct lwm2m_value *out)
{
	struct secbuf *unused = NULL;
	int r;

	if (p == NULL || out == NULL)
		return IV_ERR_INVALID;
	r = text_to_value(p, len, LWM2M_TYPE_OBJLNK, out, &unused);
	secbuf_free(unused);
	return r;
}

static int single_resource_base(const struct lwm2m_decode_ctx *ctx)
{
	if (ctx == NULL || !lwm2m_path_valid(&ctx->base) || ctx->base.depth < 3)
		return IV_ERR_INVALID;
	return 0;
}

int lwm2m_text_decode(const uint8_t *payload, size_t len, const struct lwm2m_decode_ctx *ctx,
		      struct lwm2m_records *out)
{
	struct lwm2m_value v;
	struct secbuf *scratch = NULL;
	enum lwm2m_type type;
	int r;

	if ((r = single_resource_base(ctx)) != 0)
		goto out;
	if (len > LWM2M_PAYLOAD_MAX) {
		r = IV_ERR_TOO_LARGE;
		goto out;
	}
	if (payload == NULL && len) {
		r = IV_ERR_INVALID;
		goto out;
	}
	type = lwm2m_ctx_type(ctx, &ctx->base);
	if (type == LWM2M_TYPE_NONE)
		type = LWM2M_TYPE_STRING;
	if ((r = text_to_value(payload ? payload : (const uint8_t *)"", len, type, &v, &scratch)) != 0)
		goto out;
	if ((r = lwm2m_records_add(out, &ctx->base, &v)) != 0)
		goto out;
	/* success */
	r = 0;
out:
	secbuf_free(scratch);
	return r;
}

/* The one record a single-resource payload carries; it must be at BASE. */
static int single_record(const struct lwm2m_path *base, const struct lwm2m_records *in,
			 const struct lwm2m_record **rec)
{
	if (base == NULL || in == NULL || lwm2m_records_count(in) != 1)
		return IV_ERR_INVALID;
	*rec = lwm2m_records_get(in, 0);
	if (!lwm2m_path_equal(&(*rec)->path, base) || (*rec)->value.type == LWM2M_TYPE_NONE)
		return IV_ERR_INVALID;
	return 0;
}

int lwm2m_text_encode(const struct lwm2m_path *base, const struct lwm2m_records *in,
		      uint8_t *buf, size_t cap, size_t *out_len)
{
	const struct lwm2m_record *rec;
	const struct lwm2m_value *v;
	char num[TEXT_NUMBER_MAX + 1];
	struct writer w;
	int n = 0, r;

	if ((r = single_record(base, in, &rec)) != 0 || out_len == NULL)
		return r ? r : IV_ERR_INVALID;
	v = &rec->value;
	writer_init(&w, buf, cap);
	switch (v->type) {
	case LWM2M_TYPE_INTEGER:
	case LWM2M_TYPE_TIME:
		n = snprintf(num, sizeof(num), "%" PRId64, v->v.i);
		break;
	case LWM2M_TYPE_UNSIGNED:
		n = snprintf(num, sizeof(num), "%" PRIu64, v->v.u);
		break;
	case LWM2M_TYPE_FLOAT:
		if ((r = lwm2m_format_double(v->v.f, num, sizeof(num))) != 0)
			return r;
		n = (int)strlen(num);
		break;
	case LWM2M_TYPE_BOOLEAN:
		n = snprintf(num, sizeof(num), "%d", v->v.b ? 1 : 0);
		break;
	case LWM2M_TYPE_OBJLNK:
		n = snprintf(num, sizeof(num), "%u:%u", (unsigned)v->v.lnk.obj,
			     (unsigned)v->v.lnk.inst);
		break;
	case LWM2M_TYPE_STRING:
		if ((r = writer_put_bytes(&w, v->bytes, v->len)) != 0)
			return r;
		*out_len = w.len;
		return 0;
	case LWM2M_TYPE_OPAQUE: {
		size_t need = sodium_base64_ENCODED_LEN(v->len, sodium_base64_VARIANT_ORIGINAL);
		/* sodium writes a NUL after the text, hence one spare byte. */
		if (buf == NULL || need > cap)
			return IV_ERR_TOO_LARGE;
		sodium_bin2base64((char *)buf, cap, v->bytes, v->len,
				  sodium_base64_VARIANT_ORIGINAL);
		*out_len = need - 1;
		return 0;
	}
	default:
		return IV_ERR_INVALID;
	}
	if (n < 0 || (size_t)n >= sizeof(num))
		return IV_ERR_INTERNAL;
	if ((r = writer_put_bytes(&w, num, (size_t)n)) != 0)
		return r;
	*out_len = w.len;
	return 0;
}

/* ---- opaque ---- */

int lwm2m_opaque_decode(const uint8_t *payload, size_t len, const struct lwm2m_decode_ctx *ctx,
			struct lwm2m_records *out)
{
	struct lwm2m_value v;
	int r;

	if ((r = single_resource_base(ctx)) != 0)
		return r;
	if (len > LWM2M_VALUE_MAX)
		return IV_ERR_TOO_LARGE;
	if (payload == NULL && len)
		return IV_ERR_INVALID;
	v = lwm2m_value_opaque(payload, len);
	return lwm2m_records_add(out, &ctx->base, &v);
}

int lwm2m_opaque_encode(const struct lwm2m_path *base, const struct lwm2m_records *in,
			uint8_t *buf, size_t cap, size_t *out_len)
{
	const struct lwm2m_record *rec;
	struct writer w;
	int r;

	if ((r = single_record(base, in, &rec)) != 0)
		return r;
	if (rec->value.type != LWM2M_TYPE_OPAQUE || out_len == NULL)
		return IV_ERR_INVALID;
	writer_init(&w, buf, cap);
	if ((r = writer_put_bytes(&w, rec->value.bytes, rec->value.len)) != 0)
		return r;
	*out_len = w.len;
	return 0;
}

/* ---- dispatch ---- */

bool lwm2m_content_format_supported(unsigned content_format)
{
	switch (content_format) {
	case LWM2M_CF_TEXT:
	case LWM2M_CF_OPAQUE:
	case LWM2M_CF_SENML_JSON:
	case LWM2M_CF_SENML_CBOR:
	case LWM2M_CF_TLV_LEGACY:
	case LWM2M_CF_TLV:
		return true;
	default:
		return false;
	}
}

int lwm2m_decode(unsigned content_format, const uint8_t *payload, size_t len,
		 const struct lwm2m_decode_ctx *ctx, struct lwm2m_records *out)
{
	if (ctx == NULL || out == NULL || (payload == NULL && len))
		return IV_ERR_INVALID;
	if (len > LWM2M_PAYLOAD_MAX)
		return IV_ERR_TOO_LARGE;
	switch (content_format) {
	case LWM2M_CF_TEXT:
		return lwm2m_text_decode(payload, len, ctx, out);
	case LWM2M_CF_OPAQUE:
		return lwm2m_opaque_decode(payload, len, ctx, out);
	case LWM2M_CF_SENML_JSON:
		return lwm2m_senml_json_decode(payload, len, ctx, out);
	case LWM2M_CF_SENML_CBOR:
		return lwm2m_senml_cbor_decode(payload, len, ctx, out);
	case LWM2M_CF_TLV_LEGACY:
	case LWM2M_CF_TLV:
		return lwm2m_tlv_decode(payload, len, ctx, out);
	default:
		return IV_ERR_MEDIA_TYPE;
	}
}

int lwm2m_encode(unsigned content_format, const struct lwm2m_path *base,
		 const struct lwm2m_records *in, uint8_t *buf, size_t cap, size_t *out_len)
{
	switch (content_format) {
	case LWM2M_CF_TEXT:
		return lwm2m_text_encode(base, in, buf, cap, out_len);
	case LWM2M_CF_OPAQUE:
		return lwm2m_opaque_encode(base, in, buf, cap, out_len);
	case LWM2M_CF_SENML_JSON:
		return lwm2m_senml_json_encode(base, in, buf, cap, out_len);
	case LWM2M_CF_SENML_CBOR:
		return lwm2m_senml_cbor_encode(base, in, buf, cap, out_len);
	case LWM2M_CF_TLV_LEGACY:
	case LWM2M_CF_TLV:
		return lwm2m_tlv_encode(base, in, buf, cap, out_len);
	default:
		return IV_ERR_MEDIA_TYPE;
	}
}
