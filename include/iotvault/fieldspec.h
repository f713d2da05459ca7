/* Request bodies described by tables of field specs, so every endpoint
 * validates the same way and reports field-level errors:
 *   {"field": "dev_eui", "code": "format", "message": "16 hex digits"}
 * Unknown fields are refused (a typo must not be silently ignored). */
#ifndef IOTVAULT_FIELDSPEC_H
#define IOTVAULT_FIELDSPEC_H

#include <jansson.h>
#include <stddef.h>

#include "iotvault/errors.h"

enum field_type {
	FIELD_STRING,  /* UTF-8 text without control characters */
	FIELD_INT,     /* integer in [min, max] */
	FIELD_BOOL,
	FIELD_ENUM,    /* one of enum_values */
	FIELD_HEX,     /* hex of exactly min_len..max_len BYTES (0x, any case, ':'/'-') */
	FIELD_EUI,     /* EUI-64: 16 hex digits */
	FIELD_IDENT,   /* identifier: [A-Za-z0-9._:@+-], min_len..max_len characters */
	FIELD_TAGS,    /* array of tag strings [A-Za-z0-9._:-], each at most 64 */
	FIELD_OBJECT,  /* any JSON object (validated by the handler) */
};

struct field_spec {
	const char *name;
	enum field_type type;
	int required;
	long min, max;                   /* string/ident length, hex bytes, int range */
	const char *const *enum_values;  /* FIELD_ENUM, NULL-terminated */
	const char *description;         /* used in error messages: "16 hex digits" */
};

/* Validates OBJ against SPECS (terminated by a {NULL} entry). Returns 0, or
 * IV_ERR_INVALID with *ERRORS set to a new array of field errors. */
int fieldspec_validate(const struct field_spec *specs, json_t *obj, json_t **errors) IV_WUR;

/* Convenience getters after validation (NULL / DEFAULT when absent). */
const char *fieldspec_string(json_t *obj, const char *name);
long fieldspec_int(json_t *obj, const char *name, long dflt);
int fieldspec_bool(json_t *obj, const char *name, int dflt);

#endif
