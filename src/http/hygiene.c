/* /api/v1/keygen (generated keys, never stored) and /api/v1/hygiene (the
 * tenant's fleet report). */
#include "iotvault/fieldspec.h"
#include "iotvault/hex.h"
#include "iotvault/http.h"
#include "iotvault/hygiene.h"
#include "iotvault/keycheck.h"

#include <stdio.h>
#include <string.h>

#define KEYGEN_COUNT_MAX 100
#define REPORT_GROUPS_DEFAULT 20
#define REPORT_GROUPS_MAX 1000
#define REPORT_IDS 100

static const char *const keygen_types[] = {"app_key",	   "nwk_key",	  "psk", "psk_identity",
					   "app-key",	   "nwk-key",	  "psk-identity", NULL};

static const struct field_spec keygen_spec[] = {
	{"type", FIELD_ENUM, 0, 0, 0, keygen_types, NULL},
	{"count", FIELD_INT, 0, 1, KEYGEN_COUNT_MAX, NULL, NULL},
	{"length", FIELD_INT, 0, HYGIENE_KEY_MIN_LEN, HYGIENE_KEY_MAX_LEN, NULL, NULL},
	{"prefix", FIELD_STRING, 0, 0, HYGIENE_PSK_IDENTITY_PREFIX_MAX, NULL, NULL},
	{NULL, 0, 0, 0, 0, NULL, NULL},
};

static int field_error(struct http_reply *rep, const char *field, const char *message)
{
	json_t *e = json_object();
	json_object_set_new(e, "field", json_string(field));
	json_object_set_new(e, "code", json_string("invalid"));
	json_object_set_new(e, "message", json_string(message));
	rep->field_errors = json_array();
	json_array_append_new(rep->field_errors, e);
	return IV_ERR_INVALID;
}

static int keygen(struct http_request *req, struct http_reply *rep)
{
	json_t *body = NULL, *errors = NULL, *keys = NULL;
	struct secbuf *key = NULL;
	char text[2 * HYGIENE_KEY_MAX_LEN + HYGIENE_PSK_IDENTITY_PREFIX_MAX + 32];
	const char *type, *prefix;
	long count, length;
	int identity, r;

	if ((r = http_body_json(req, rep, &body)) != 0)
		return r;
	if ((r = fieldspec_validate(keygen_spec, body, &errors)) != 0) {
		rep->field_errors = errors;
		goto out;
	}
	type = fieldspec_string(body, "type");
	if (type == NULL)
		type = "app_key";
	identity = strcmp(type, "psk_identity") == 0 || strcmp(type, "psk-identity") == 0;
	count = fieldspec_int(body, "count", 1);
	length = fieldspec_int(body, "length", 0);
	prefix = fieldspec_string(body, "prefix");
	if (length != 0 && strcmp(type, "psk") != 0 && !(length == 16 && !identity)) {
		r = field_error(rep, "length", "only for type psk (AppKeys and NwkKeys are 16 bytes)");
		goto out;
	}
	if (prefix != NULL && !identity) {
		r = field_error(rep, "prefix", "only for type psk_identity");
		goto out;
	}
	if (length == 0)
		length = HYGIENE_KEY_MIN_LEN;
	if (!identity && (key = secbuf_new((size_t)length)) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	keys = json_array();
	for (long i = 0; i < count; i++) {
		if (identity)
			r = hygiene_generate_psk_identity(text, sizeof(text), prefix);
		else if ((r = hygiene_generate_key(key->data, key->len)) == 0)
			hex_encode_upper(key->data, key->len, text);
		if (r == IV_ERR_INVALID) {
			r = field_error(rep, "prefix", "up to 64 of A-Z a-z 0-9 . _ : -");
			goto out;
		}
		if (r != 0)
			goto out;
		json_array_append_new(keys, json_string(text));
		secmem_wipe(text, sizeof(text));
	}
	/* the route is ROUTE_CARRIES_KEYS: no-store, and the server wipes the strings */
	rep->body = json_object();
	json_object_set_new(rep->body, "type", json_string(type));
	json_object_set_new(rep->body, "keys", keys);
	keys = NULL;
	/* success */
	r = 0;
out:
	if (keys != NULL) {
		size_t i;
		json_t *s;
		json_array_foreach(keys, i, s)
			secmem_wipe((char *)json_string_value(s), json_string_length(s));
		json_decref(keys);
	}
	secmem_wipe(text, sizeof(text));
	secbuf_free(key);
	json_decref(body);
	return r;
}

/* Between batches of the scan: other requests get the store. */
static void pause_scan(void *ctx)
{
	struct service *svc = ctx;
	service_unlock(svc);
	service_lock(svc);
}

static int report(struct http_request *req, struct http_reply *rep)
{
	struct hygiene_report *hr = NULL;
	const char *groups_s = http_query(req, "groups");
	int64_t groups = REPORT_GROUPS_DEFAULT;
	int r;

	if (groups_s && strcmp(groups_s, "0") == 0)
		groups = 0;
	else if (groups_s && (http_parse_id(groups_s, &groups) != 0 || groups > REPORT_GROUPS_MAX)) {
		rep->error_message = "groups: 0 to 1000";
		return IV_ERR_INVALID;
	}
	service_lock(req->svc);
	r = hygiene_report_build_paced(req->svc->v, req->who.tenant_id, 0, pause_scan, req->svc,
				       &hr);
	if (r == 0 && (rep->body = hygiene_report_json(req->svc->v, hr, (int)groups, REPORT_IDS)) ==
			      NULL)
		r = IV_ERR_NOMEM;
	service_unlock(req->svc);
	if (r == 0)
		json_object_set_new(rep->body, "tenant", json_string(req->who.tenant));
	hygiene_report_free(hr);
	return r;
}

const struct route hygiene_routes[] = {
	{"POST", "/api/v1/keygen", keygen, ROLE_ADMIN | ROLE_OPERATOR, ROUTE_CARRIES_KEYS},
	{"GET", "/api/v1/hygiene", report, ROLE_ADMIN | ROLE_AUDITOR, ROUTE_SELF_LOCKING},
	{NULL, NULL, NULL, 0, 0},
};
