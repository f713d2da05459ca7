/* Decoded LwM2M records as JSON, and the RFC 7641 freshness rule: shared by
 * the REST API (Read answers, stored notifications) and the server thread
 * (notifications it stores and publishes). */
#include "iotvault/lwm2m_observe.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

static json_t *value_to_json(const struct lwm2m_value *v)
{
	switch (v->type) {
	case LWM2M_TYPE_INTEGER:
	case LWM2M_TYPE_TIME: return json_integer(v->v.i);
	case LWM2M_TYPE_UNSIGNED:
		if (v->v.u <= (uint64_t)INT64_MAX)
			return json_integer((json_int_t)v->v.u);
		return json_real((double)v->v.u);
	case LWM2M_TYPE_FLOAT: return json_real(v->v.f);
	case LWM2M_TYPE_BOOLEAN: return json_boolean(v->v.b);
	case LWM2M_TYPE_STRING: return json_stringn((const char *)v->bytes, v->len);
	case LWM2M_TYPE_OPAQUE: {
		size_t cap = sodium_base64_ENCODED_LEN(v->len, sodium_base64_VARIANT_ORIGINAL);
		char *b64 = malloc(cap); /* lint:not-secret */
		json_t *j;
		if (b64 == NULL)
			return NULL;
		sodium_bin2base64(b64, cap, v->bytes, v->len, sodium_base64_VARIANT_ORIGINAL);
		j = json_string(b64);
		free(b64);
		return j;
	}
	case LWM2M_TYPE_OBJLNK: {
		char text[16];
		snprintf(text, sizeof(text), "%u:%u", (unsigned)v->v.lnk.obj, (unsigned)v->v.lnk.inst);
		return json_string(text);
	}
	case LWM2M_TYPE_NONE: break;
	}
	return json_null();
}

json_t *lwm2m_records_to_json(const struct lwm2m_records *recs)
{
	json_t *list = json_array();
	if (list == NULL)
		return NULL;
	for (size_t i = 0; i < lwm2m_records_count(recs); i++) {
		const struct lwm2m_record *rec = lwm2m_records_get(recs, i);
		char ptext[LWM2M_PATH_TEXT_MAX];
		/* /5/x/1 Package URI carries a pull job's download token: never
		 * shown (Read answers, notifications, held results) */
		int hidden = rec->path.depth >= 3 && rec->path.id[0] == 5 && rec->path.id[2] == 1;
		json_t *o = json_object(),
		       *v = hidden ? json_string("(hidden)") : value_to_json(&rec->value);
		if (o == NULL || v == NULL || lwm2m_path_format(&rec->path, ptext, sizeof(ptext)) != 0) {
			json_decref(o);
			json_decref(v);
			json_decref(list);
			return NULL;
		}
		json_object_set_new(o, "path", json_string(ptext));
		json_object_set_new(o, "type", json_string(lwm2m_type_name(rec->value.type)));
		json_object_set_new(o, "value", v);
		json_array_append_new(list, o);
	}
	return list;
}

/* A link attribute value: a JSON number when it is a plain decimal. */
static json_t *attr_value(const struct lwm2m_link_attr *a)
{
	char *end = NULL;
	double d;
	if (a->value == NULL)
		return json_null();
	if (!a->quoted && a->value[0] != '\0') {
		long long i = strtoll(a->value, &end, 10);
		if (*end == '\0')
			return json_integer(i);
		d = strtod(a->value, &end);
		if (*end == '\0' && isfinite(d))
			return json_real(d);
	}
	return json_string(a->value);
}

json_t *lwm2m_links_to_json(const struct lwm2m_links *links)
{
	json_t *list = json_array();
	if (list == NULL)
		return NULL;
	for (size_t i = 0; i < lwm2m_links_count(links); i++) {
		const struct lwm2m_link *l = lwm2m_links_get(links, i);
		json_t *o = json_object(), *attrs = json_object();
		for (size_t k = 0; k < l->attr_count; k++)
			json_object_set_new(attrs, l->attrs[k].name, attr_value(&l->attrs[k]));
		json_object_set_new(o, "path", json_string(l->uri));
		json_object_set_new(o, "attributes", attrs);
		json_array_append_new(list, o);
	}
	return list;
}

int lwm2m_observe_fresh(int64_t last_seq, int64_t last_ms, int64_t seq, int64_t now_ms)
{
	const int64_t half = 1 << 23; /* the Observe value is 24 bits wide */
	if ((last_seq < seq && seq - last_seq < half) || (last_seq > seq && last_seq - seq > half))
		return 1;
	return now_ms > last_ms + LWM2M_OBSERVE_STALE_MS;
}
