/* SenML JSON (RFC 8428, Content-Format 110) as profiled by LwM2M 1.1: names
 * are LwM2M paths built from "bn" + "n"; values in "v" (number), "vs"
 * (string), "vb" (boolean), "vd" (opaque, base64url) and "vlo" (object link,
 * "obj:inst"); "t"/"bt" times. Parsing is jansson's; this file maps its tree
 * to records. Also the SenML rules shared with the CBOR codec. */
#include "content_internal.h"

#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotvault/secmem.h"

/* ---- shared SenML rules ---- */

static int give_model_type(const struct lwm2m_decode_ctx *ctx, const struct lwm2m_path *path,
			   struct lwm2m_value *v)
{
	enum lwm2m_type want = lwm2m_ctx_type(ctx, path);

	if (want == LWM2M_TYPE_NONE || v->type == LWM2M_TYPE_NONE || v->type == want)
		return 0;
	return lwm2m_value_coerce(v, want);
}

int lwm2m_senml_add(struct senml_state *st, const struct senml_fields *f,
		    const struct lwm2m_decode_ctx *ctx, struct lwm2m_records *out)
{
	char name[LWM2M_SENML_NAME_MAX + 1];
	struct lwm2m_path path;
	struct lwm2m_value v = f->value;
	size_t len;
	int r;

	if (f->has_bn) {
		if (f->bn_len > LWM2M_SENML_NAME_MAX || memchr(f->bn, 0, f->bn_len) != NULL)
			return IV_ERR_INVALID;
		if (f->bn_len)
			memcpy(st->bn, f->bn, f->bn_len);
		st->bn_len = f->bn_len;
	}
	if (f->has_bt) {
		st->has_bt = true;
		st->bt = f->bt;
	}
	len = st->bn_len;
	if (len)
		memcpy(name, st->bn, len);
	if (f->has_n) {
		if (f->n_len > LWM2M_SENML_NAME_MAX - len)
			return IV_ERR_INVALID;
		if (f->n_len)
			memcpy(name + len, f->n, f->n_len);
		len += f->n_len;
	}
	if ((r = lwm2m_path_parse(name, len, &path)) != 0 || path.depth == 0)
		return IV_ERR_INVALID;
	if (!lwm2m_path_is_prefix(&ctx->base, &path))
		return IV_ERR_INVALID;
	if ((r = give_model_type(ctx, &path, &v)) != 0)
		return r;
	if (f->has_t || st->has_bt) {
		double t = (st->has_bt ? st->bt : 0) + (f->has_t ? f->t : 0);
		if (!isfinite(t))
			return IV_ERR_INVALID;
		return lwm2m_records_add_timed(out, &path, &v, t);
	}
	return lwm2m_records_add(out, &path, &v);
}

int lwm2m_senml_names_init(const struct lwm2m_path *base, const struct lwm2m_records *in,
			   struct senml_names *names)
{
	bool any_at_base = false;
	size_t n;
	int r;

	if (base == NULL || in == NULL || !lwm2m_path_valid(base))
		return IV_ERR_INVALID;
	for (size_t i = 0; i < lwm2m_records_count(in); i++) {
		const struct lwm2m_record *rec = lwm2m_records_get(in, i);
		if (!lwm2m_path_is_prefix(base, &rec->path))
			return IV_ERR_INVALID;
		if (rec->path.depth == base->depth)
			any_at_base = true;
	}
	memset(names, 0, sizeof(*names));
	if (base->depth == 0)
		return 0;
	if ((r = lwm2m_path_format(base, names->bn, sizeof(names->bn))) != 0)
		return r;
	/* "bn":"/3/0/","n":"0" as the specification's examples write it,
	 * unless a record is the base itself and so has no name of its own. */
	if (!any_at_base) {
		n = strlen(names->bn);
		if (n + 1 >= sizeof(names->bn))
			return IV_ERR_INTERNAL;
		names->bn[n] = '/';
		names->bn[n + 1] = '\0';
		names->bn_ends_with_slash = true;
	}
	return 0;
}

int lwm2m_senml_name(const struct senml_names *names, const struct lwm2m_path *base,
		     const struct lwm2m_path *path, char *buf, size_t cap)
{
	struct lwm2m_path rest = lwm2m_path_root();
	char text[LWM2M_PATH_TEXT_MAX];
	const char *from;
	int r;

	for (unsigned i = base->depth; i < path->depth; i++)
		rest.id[rest.depth++] = path->id[i];
	if (rest.depth == 0) {
		if (cap == 0)
			return IV_ERR_TOO_LARGE;
		buf[0] = '\0';
		return 0;
	}
	if ((r = lwm2m_path_format(&rest, text, sizeof(text))) != 0)
		return r;
	from = names->bn_ends_with_slash ? text + 1 : text;
	if (strlen(from) >= cap)
		return IV_ERR_TOO_LARGE;
	memcpy(buf, from, strlen(from) + 1);
	return 0;
}

/* ---- decoding ---- */

static int json_number(json_t *j, struct lwm2m_value *v)
{
	if (json_is_integer(j))
		*v = lwm2m_value_integer((int64_t)json_integer_value(j));
	else if (json_is_real(j))
		*v = lwm2m_value_float(json_real_value(j));
	else
		return IV_ERR_INVALID;
	return 0;
}

/* vd: base64url, padding omitted as RFC 8428 asks, tolerated when present. */
static int json_vd(json_t *j, struct secbuf **scratch, struct lwm2m_value *v)
{
	const char *s = json_string_value(j);
	size_t len = json_string_length(j), n = 0;
	const char *end = NULL;

	if (s == NULL)
		return IV_ERR_INVALID;
	if (len > 2 * LWM2M_VALUE_MAX)
		return IV_ERR_TOO_LARGE;
	secbuf_free(*scratch);
	*scratch = secbuf_new(len / 4 * 3 + 3);
	if (*scratch == NULL)
		return IV_ERR_NOMEM;
	if (sodium_base642bin((*scratch)->data, (*scratch)->len, s, len, NULL, &n, &end,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != s + len) {
		if (sodium_base642bin((*scratch)->data, (*scratch)->len, s, len, NULL, &n, &end,
				      sodium_base64_VARIANT_URLSAFE) != 0 ||
		    end != s + len)
			return IV_ERR_INVALID;
	}
	if (n > LWM2M_VALUE_MAX)
		return IV_ERR_TOO_LARGE;
	*v = lwm2m_value_opaque((*scratch)->data, n);
	return 0;
}

static bool json_number_or_none(json_t *j, double *out)
{
	if (!json_is_number(j))
		return false;
	*out = json_number_value(j);
	return true;
}

static int json_record(json_t *obj, struct senml_fields *f, struct secbuf **scratch)
{
	const char *key;
	json_t *val;
	int values = 0, r;

	if (!json_is_object(obj) || json_object_size(obj) > LWM2M_SENML_FIELDS_MAX)
		return IV_ERR_INVALID;
	memset(f, 0, sizeof(*f));
	f->value = lwm2m_value_none();
	json_object_foreach(obj, key, val) {
		size_t klen = strlen(key);
		if (strcmp(key, "bn") == 0 || strcmp(key, "n") == 0) {
			const char *s = json_string_value(val);
			if (s == NULL)
				return IV_ERR_INVALID;
			if (key[0] == 'b') {
				f->has_bn = true;
				f->bn = (const uint8_t *)s;
				f->bn_len = json_string_length(val);
			} else {
				f->has_n = true;
				f->n = (const uint8_t *)s;
				f->n_len = json_string_length(val);
			}
		} else if (strcmp(key, "bt") == 0) {
			if (!json_number_or_none(val, &f->bt))
				return IV_ERR_INVALID;
			f->has_bt = true;
		} else if (strcmp(key, "t") == 0) {
			if (!json_number_or_none(val, &f->t))
				return IV_ERR_INVALID;
			f->has_t = true;
		} else if (strcmp(key, "v") == 0) {
			values++;
			if ((r = json_number(val, &f->value)) != 0)
				return r;
		} else if (strcmp(key, "vs") == 0) {
			const char *s = json_string_value(val);
			values++;
			if (s == NULL)
				return IV_ERR_INVALID;
			f->value = lwm2m_value_string(s);
			f->value.len = json_string_length(val);
		} else if (strcmp(key, "vb") == 0) {
			values++;
			if (!json_is_boolean(val))
				return IV_ERR_INVALID;
			f->value = lwm2m_value_boolean(json_is_true(val));
		} else if (strcmp(key, "vd") == 0) {
			values++;
			if ((r = json_vd(val, scratch, &f->value)) != 0)
				return r;
		} else if (strcmp(key, "vlo") == 0) {
			const char *s = json_string_value(val);
			values++;
			if (s == NULL)
				return IV_ERR_INVALID;
			if ((r = lwm2m_objlnk_parse((const uint8_t *)s, json_string_length(val),
						    &f->value)) != 0)
				return r;
		} else if (strcmp(key, "bv") == 0 || strcmp(key, "bs") == 0 ||
			   strcmp(key, "s") == 0 || (klen && key[klen - 1] == '_')) {
			/* A base value or sum would change what "v" means, and
			 * RFC 8428 says a field ending in "_" must be
			 * understood: refused rather than silently ignored. */
			return IV_ERR_INVALID;
		}
		/* u, bu, ut, bver and unknown fields carry nothing LwM2M reads. */
	}
	return values > 1 ? IV_ERR_INVALID : 0;
}

int lwm2m_senml_json_decode(const uint8_t *payload, size_t len,
			    const struct lwm2m_decode_ctx *ctx, struct lwm2m_records *out)
{
	struct senml_state st;
	struct senml_fields f;
	struct secbuf *scratch = NULL;
	json_error_t err;
	json_t *root = NULL;
	size_t start = lwm2m_records_count(out);
	int r;

	if (ctx == NULL || out == NULL || (payload == NULL && len) || !lwm2m_path_valid(&ctx->base))
		return IV_ERR_INVALID;
	if (len > LWM2M_PAYLOAD_MAX)
		return IV_ERR_TOO_LARGE;
	root = json_loadb((const char *)payload, len, JSON_REJECT_DUPLICATES, &err);
	if (root == NULL) {
		r = json_error_code(&err) == json_error_premature_end_of_input ? IV_ERR_TRUNCATED
									       : IV_ERR_INVALID;
		goto out;
	}
	if (!json_is_array(root)) {
		r = IV_ERR_INVALID;
		goto out;
	}
	if (json_array_size(root) > LWM2M_RECORDS_MAX) {
		r = IV_ERR_TOO_LARGE;
		goto out;
	}
	memset(&st, 0, sizeof(st));
	for (size_t i = 0; i < json_array_size(root); i++) {
		if ((r = json_record(json_array_get(root, i), &f, &scratch)) != 0)
			goto out;
		if ((r = lwm2m_senml_add(&st, &f, ctx, out)) != 0)
			goto out;
	}
	/* success */
	r = 0;
out:
	if (r)
		lwm2m_records_truncate(out, start);
	secbuf_free(scratch);
	json_decref(root);
	return r;
}

/* ---- encoding ---- */

static json_t *json_value(const struct lwm2m_value *v, const char **key)
{
	char lnk[16];

	switch (v->type) {
	case LWM2M_TYPE_INTEGER:
	case LWM2M_TYPE_TIME:
		*key = "v";
		return json_integer((json_int_t)v->v.i);
	case LWM2M_TYPE_UNSIGNED:
		/* jansson's integers are signed 64-bit; a larger value would
		 * silently lose digits as a real, so it is refused (CBOR and
		 * TLV carry it). */
		*key = "v";
		return v->v.u <= INT64_MAX ? json_integer((json_int_t)v->v.u) : NULL;
	case LWM2M_TYPE_FLOAT:
		*key = "v";
		return json_real(v->v.f); /* NULL for NaN and infinities */
	case LWM2M_TYPE_BOOLEAN:
		*key = "vb";
		return json_boolean(v->v.b);
	case LWM2M_TYPE_STRING:
		*key = "vs";
		return json_stringn((const char *)v->bytes, v->len);
	case LWM2M_TYPE_OBJLNK:
		*key = "vlo";
		snprintf(lnk, sizeof(lnk), "%u:%u", (unsigned)v->v.lnk.obj, (unsigned)v->v.lnk.inst);
		return json_string(lnk);
	case LWM2M_TYPE_OPAQUE: {
		size_t cap = sodium_base64_ENCODED_LEN(v->len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		char *text = malloc(cap);
		json_t *j;
		if (text == NULL)
			return NULL;
		sodium_bin2base64(text, cap, v->bytes, v->len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		*key = "vd";
		j = json_string(text);
		secmem_wipe(text, cap);
		free(text);
		return j;
	}
	default:
		return NULL;
	}
}

int lwm2m_senml_json_encode(const struct lwm2m_path *base, const struct lwm2m_records *in,
			    uint8_t *buf, size_t cap, size_t *out_len)
{
	struct senml_names names;
	json_t *root = NULL;
	size_t n;
	int r;

	if (out_len == NULL)
		return IV_ERR_INVALID;
	if ((r = lwm2m_senml_names_init(base, in, &names)) != 0)
		return r;
	root = json_array();
	if (root == NULL)
		return IV_ERR_NOMEM;
	for (size_t i = 0; i < lwm2m_records_count(in); i++) {
		const struct lwm2m_record *rec = lwm2m_records_get(in, i);
		char name[LWM2M_PATH_TEXT_MAX];
		json_t *obj = json_object();
		if (obj == NULL || json_array_append_new(root, obj) != 0) {
			r = IV_ERR_NOMEM;
			goto out;
		}
		if (i == 0 && names.bn[0] &&
		    json_object_set_new(obj, "bn", json_string(names.bn)) != 0) {
			r = IV_ERR_NOMEM;
			goto out;
		}
		if ((r = lwm2m_senml_name(&names, base, &rec->path, name, sizeof(name))) != 0)
			goto out;
		if (name[0] && json_object_set_new(obj, "n", json_string(name)) != 0) {
			r = IV_ERR_NOMEM;
			goto out;
		}
		if (rec->value.type != LWM2M_TYPE_NONE) {
			const char *key = NULL;
			json_t *jv = json_value(&rec->value, &key);
			if (jv == NULL) {
				r = IV_ERR_INVALID;
				goto out;
			}
			if (json_object_set_new(obj, key, jv) != 0) {
				r = IV_ERR_NOMEM;
				goto out;
			}
		}
		if (rec->has_time) {
			/* Whole seconds as an integer, as devices write them. */
			json_t *t = rec->time == floor(rec->time) && fabs(rec->time) < 9e15
					    ? json_integer((json_int_t)rec->time)
					    : json_real(rec->time);
			if (t == NULL || json_object_set_new(obj, "t", t) != 0) {
				r = IV_ERR_INVALID;
				goto out;
			}
		}
	}
	n = json_dumpb(root, (char *)buf, cap, JSON_COMPACT);
	if (n == 0) {
		r = IV_ERR_INTERNAL;
		goto out;
	}
	if (n > cap || buf == NULL) {
		r = IV_ERR_TOO_LARGE;
		goto out;
	}
	*out_len = n;
	/* success */
	r = 0;
out:
	json_decref(root);
	return r;
}
