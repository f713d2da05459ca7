/* Table-driven validation of JSON request bodies (include/iotvault/fieldspec.h). */
#include "iotvault/fieldspec.h"
#include "iotvault/hex.h"
#include "iotvault/secmem.h"

#include <stdio.h>
#include <string.h>

#define HEX_SCRATCH 4096

static void add_error(json_t *errors, const char *field, const char *code, const char *message)
{
	json_t *e = json_object();
	json_object_set_new(e, "field", json_string(field));
	json_object_set_new(e, "code", json_string(code));
	json_object_set_new(e, "message", json_string(message));
	json_array_append_new(errors, e);
}

static int text_clean(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int ident_char(char c, const char *extra)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr(extra, c) != NULL);
}

static int ident_ok(const char *s, size_t n, const char *extra)
{
	for (size_t i = 0; i < n; i++)
		if (!ident_char(s[i], extra))
			return 0;
	return 1;
}

static void check_field(const struct field_spec *f, json_t *v, json_t *errors)
{
	char msg[256];
	const char *desc = f->description ? f->description : "";
	const char *s = "";
	size_t n = 0;

	switch (f->type) {
	case FIELD_STRING:
	case FIELD_IDENT:
	case FIELD_ENUM:
	case FIELD_HEX:
	case FIELD_EUI:
		if (!json_is_string(v)) {
			add_error(errors, f->name, "type", "must be a string");
			return;
		}
		s = json_string_value(v);
		n = json_string_length(v);
		if (strlen(s) != n) {
			add_error(errors, f->name, "format", "must not contain NUL characters");
			return;
		}
		break;
	case FIELD_INT:
		if (!json_is_integer(v)) {
			add_error(errors, f->name, "type", "must be an integer");
			return;
		}
		if (json_integer_value(v) < f->min || json_integer_value(v) > f->max) {
			snprintf(msg, sizeof(msg), "must be between %ld and %ld", f->min, f->max);
			add_error(errors, f->name, "range", msg);
		}
		return;
	case FIELD_BOOL:
		if (!json_is_boolean(v))
			add_error(errors, f->name, "type", "must be true or false");
		return;
	case FIELD_OBJECT:
		if (!json_is_object(v))
			add_error(errors, f->name, "type", "must be an object");
		return;
	case FIELD_TAGS: {
		size_t i;
		json_t *t;
		if (!json_is_array(v)) {
			add_error(errors, f->name, "type", "must be an array of strings");
			return;
		}
		if ((long)json_array_size(v) > f->max) {
			snprintf(msg, sizeof(msg), "at most %ld tags", f->max);
			add_error(errors, f->name, "length", msg);
			return;
		}
		json_array_foreach(v, i, t)
		{
			if (!json_is_string(t) || json_string_length(t) == 0 ||
			    json_string_length(t) > 64 ||
			    strlen(json_string_value(t)) != json_string_length(t) ||
			    !ident_ok(json_string_value(t), json_string_length(t), "._:-")) {
				add_error(errors, f->name, "format",
					  "each tag: 1-64 characters of A-Z a-z 0-9 . _ : -");
				return;
			}
		}
		return;
	}
	}

	switch (f->type) {
	case FIELD_STRING:
		if ((long)n < f->min || (long)n > f->max) {
			snprintf(msg, sizeof(msg), "length must be %ld to %ld", f->min, f->max);
			add_error(errors, f->name, "length", msg);
		} else if (!text_clean(s, n))
			add_error(errors, f->name, "format", "must not contain control characters");
		break;
	case FIELD_IDENT:
		if ((long)n < f->min || (long)n > f->max || !ident_ok(s, n, "._:@+-")) {
			snprintf(msg, sizeof(msg), "%ld-%ld characters of A-Z a-z 0-9 . _ : @ + -",
				 f->min, f->max);
			add_error(errors, f->name, "format", msg);
		}
		break;
	case FIELD_ENUM: {
		int found = 0;
		size_t used = 0;
		for (const char *const *e = f->enum_values; e && *e; e++)
			found |= strcmp(*e, s) == 0;
		if (!found) {
			used = (size_t)snprintf(msg, sizeof(msg), "must be one of:");
			for (const char *const *e = f->enum_values; e && *e && used < sizeof(msg); e++)
				used += (size_t)snprintf(msg + used, sizeof(msg) - used, " %s", *e);
			add_error(errors, f->name, "enum", msg);
		}
		break;
	}
	case FIELD_EUI: {
		uint8_t eui[EUI_LEN];
		if (eui_parse(s, eui) != 0)
			add_error(errors, f->name, "format", desc[0] ? desc : "16 hex digits");
		break;
	}
	case FIELD_HEX: {
		/* decode into secure scratch: the value is usually a key */
		uint8_t *buf = secmem_alloc(HEX_SCRATCH);
		int ok = 0;
		if (buf == NULL) {
			add_error(errors, f->name, "internal", "out of memory");
			break;
		}
		for (long len = f->min; len <= f->max && len <= HEX_SCRATCH && !ok; len++)
			ok = hex_decode_exact(s, buf, (size_t)len) == 0;
		secmem_free(buf);
		if (!ok) {
			if (desc[0])
				snprintf(msg, sizeof(msg), "%s", desc);
			else if (f->min == f->max)
				snprintf(msg, sizeof(msg), "%ld bytes as hex (%ld hex digits)", f->min,
					 2 * f->min);
			else
				snprintf(msg, sizeof(msg), "%ld to %ld bytes as hex", f->min, f->max);
			add_error(errors, f->name, "format", msg);
		}
		break;
	}
	default:
		break;
	}
}

int fieldspec_validate(const struct field_spec *specs, json_t *obj, json_t **errors)
{
	json_t *errs = json_array();
	const char *key;
	json_t *v;

	*errors = NULL;
	if (errs == NULL)
		return IV_ERR_NOMEM;
	if (!json_is_object(obj)) {
		add_error(errs, "", "type", "the body must be a JSON object");
		*errors = errs;
		return IV_ERR_INVALID;
	}
	json_object_foreach(obj, key, v)
	{
		const struct field_spec *f = specs;
		while (f->name && strcmp(f->name, key) != 0)
			f++;
		if (f->name == NULL) {
			char name[80];
			/* echo at most a short, cleaned prefix of an unknown name */
			size_t n = 0;
			for (; key[n] && n < 64; n++)
				name[n] = ((unsigned char)key[n] < 0x20 || key[n] == 0x7f) ? '?' : key[n];
			/* never cut a UTF-8 sequence: back up over continuation bytes */
			if (key[n] != '\0')
				while (n > 0 && ((unsigned char)key[n] & 0xc0) == 0x80)
					n--;
			name[n] = '\0';
			add_error(errs, name, "unknown", "unknown field");
			continue;
		}
		if (json_is_null(v) && !f->required)
			continue;
		check_field(f, v, errs);
	}
	for (const struct field_spec *f = specs; f->name; f++)
		if (f->required && (json_object_get(obj, f->name) == NULL ||
				    json_is_null(json_object_get(obj, f->name))))
			add_error(errs, f->name, "required", "required");
	if (json_array_size(errs) == 0) {
		json_decref(errs);
		return 0;
	}
	*errors = errs;
	return IV_ERR_INVALID;
}

const char *fieldspec_string(json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

long fieldspec_int(json_t *obj, const char *name, long dflt)
{
	json_t *v = json_object_get(obj, name);
	return json_is_integer(v) ? (long)json_integer_value(v) : dflt;
}

int fieldspec_bool(json_t *obj, const char *name, int dflt)
{
	json_t *v = json_object_get(obj, name);
	return json_is_boolean(v) ? json_is_true(v) : dflt;
}
