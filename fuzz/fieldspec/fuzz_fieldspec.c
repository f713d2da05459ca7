/* libFuzzer target for the request-body validation layer: every JSON body an
 * HTTPS client sends goes through json_loadb() and fieldspec_validate(), so
 * any input must end in "valid" or a well-formed array of field errors, never
 * a crash, a leak or an error object without its field/code/message. */
#include "iotvault/device.h"
#include "iotvault/fieldspec.h"
#include "iotvault/secmem.h"
#include "iotvault/store.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Well above any body a resource accepts in practice, small enough that the
 * fuzzer spends its time in validation rather than in parsing huge inputs. */
#define FUZZ_BODY_MAX (64 * 1024)
/* as src/http/devices.c */
#define FUZZ_MAX_TAGS 32

static const char *const device_types[] = {"lorawan", "lwm2m", NULL};
static const char *const mac_versions[] = {"1.0.0", "1.0.1", "1.0.2", "1.0.3",
					   "1.0.4", "1.1",   NULL};

/* The device create spec of src/http/devices.c, plus the field types it does
 * not use (INT with a negative range, BOOL, OBJECT, a required STRING with a
 * lower length bound, a HEX with a description), so every branch of
 * check_field() is reachable. */
static const struct field_spec spec[] = {
	{"type", FIELD_ENUM, 1, 0, 0, device_types, NULL},
	{"name", FIELD_STRING, 0, 0, STORE_NAME_MAX, NULL, NULL},
	{"tags", FIELD_TAGS, 0, 0, FUZZ_MAX_TAGS, NULL, NULL},
	{"dev_eui", FIELD_EUI, 0, 0, 0, NULL, "16 hex digits"},
	{"join_eui", FIELD_EUI, 0, 0, 0, NULL, NULL},
	{"mac_version", FIELD_ENUM, 0, 0, 0, mac_versions, NULL},
	{"app_key", FIELD_HEX, 0, 16, 16, NULL, NULL},
	{"nwk_key", FIELD_HEX, 0, 16, 16, NULL, "32 hex digits"},
	{"endpoint", FIELD_IDENT, 0, 1, DEVICE_ENDPOINT_MAX, NULL, NULL},
	{"psk_identity", FIELD_IDENT, 0, 1, DEVICE_PSK_IDENTITY_MAX, NULL, NULL},
	{"psk", FIELD_HEX, 0, DEVICE_PSK_MIN, DEVICE_PSK_MAX, NULL, NULL},
	{"psk_length", FIELD_INT, 0, DEVICE_PSK_MIN, DEVICE_PSK_MAX, NULL, NULL},
	{"offset", FIELD_INT, 0, -1000, 1000, NULL, NULL},
	{"enabled", FIELD_BOOL, 0, 0, 0, NULL, NULL},
	{"attributes", FIELD_OBJECT, 0, 0, 0, NULL, NULL},
	{"comment", FIELD_STRING, 0, 2, 16, NULL, NULL},
	{NULL, 0, 0, 0, 0, NULL, NULL},
};

/* A field error must carry three strings; the server copies it into replies. */
static void check_errors(const json_t *errors)
{
	size_t i;
	json_t *e;

	if (!json_is_array(errors) || json_array_size(errors) == 0)
		abort();
	json_array_foreach(errors, i, e)
	{
		if (!json_is_object(e) || !json_is_string(json_object_get(e, "field")) ||
		    !json_is_string(json_object_get(e, "code")) ||
		    !json_is_string(json_object_get(e, "message")))
			abort();
	}
	/* the reply body is serialised with this call; it must not fail */
	char *text = json_dumps(errors, JSON_COMPACT);
	if (text == NULL)
		abort();
	free(text);
}

static void call_getters(json_t *obj)
{
	volatile size_t sink = 0;
	const char *s;

	for (const struct field_spec *f = spec; f->name; f++) {
		s = fieldspec_string(obj, f->name);
		if (s != NULL)
			sink += strlen(s);
		sink += (size_t)fieldspec_int(obj, f->name, -7);
		sink += (size_t)fieldspec_bool(obj, f->name, 2);
	}
	/* a name that no spec has */
	sink += fieldspec_string(obj, "no_such_field") != NULL;
	(void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int initialised;
	json_error_t jerr;
	json_t *obj, *errors = NULL;
	int r;

	if (!initialised) {
		if (secmem_init() != 0)
			abort();
		initialised = 1;
	}
	if (size > FUZZ_BODY_MAX)
		return 0;
	/* the server's flags: duplicate names are refused at parse time */
	obj = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
	if (obj == NULL)
		return 0;

	r = fieldspec_validate(spec, obj, &errors);
	if (r == 0) {
		if (errors != NULL)
			abort();
		call_getters(obj);
	} else {
		if (r != IV_ERR_INVALID && r != IV_ERR_NOMEM)
			abort();
		if (r == IV_ERR_INVALID)
			check_errors(errors);
		/* handlers only read fields after validation, but the getters must
		 * be safe on any object (or non-object) regardless */
		call_getters(obj);
	}
	json_decref(errors);
	json_decref(obj);
	return 0;
}
