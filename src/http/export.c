/* POST /api/v1/devices/export: the caller's devices and their keys in one
 * document (include/iotvault/export.h), encrypted to the ASCII-armoured
 * OpenPGP public key in the body; unencrypted only for admins who ask with
 * "plaintext": true. The reply is JSON (the server sends JSON only) with the
 * armoured message, or the plaintext document, in "document". */
#include "iotvault/audit.h"
#include "iotvault/export.h"
#include "iotvault/fieldspec.h"
#include "iotvault/http.h"

#include <stdio.h>
#include <string.h>

static const char *const format_names[] = {"tts-csv", "chirpstack-json", "lwm2m-json", NULL};
static const char *const device_types[] = {"lorawan", "lwm2m", NULL};
static const char *const mac_filters[] = {"1.0", "1.1", "1.0.0", "1.0.1", "1.0.2",
					  "1.0.3", "1.0.4", NULL};

/* "recipient_key" is checked apart: armour has line breaks, which
 * FIELD_STRING refuses. */
static const struct field_spec export_spec[] = {
	{"format", FIELD_ENUM, 1, 0, 0, format_names, NULL},
	{"plaintext", FIELD_BOOL, 0, 0, 0, NULL, NULL},
	{"type", FIELD_ENUM, 0, 0, 0, device_types, NULL},
	{"tag", FIELD_STRING, 0, 1, 64, NULL, NULL},
	{"mac_version", FIELD_ENUM, 0, 0, 0, mac_filters, NULL},
	{NULL, 0, 0, 0, 0, NULL, NULL},
};

static int export_handler(struct http_request *req, struct http_reply *rep)
{
	struct audit_actor actor = http_actor(req);
	struct export_request er;
	struct export_result res = {0};
	json_t *body = NULL, *errors = NULL, *rk = NULL, *doc;
	int plaintext, r;
	/* error messages outlive the handler: the server sends them after it returns */
	static __thread char err[512];

	err[0] = '\0';
	if ((r = http_body_json(req, rep, &body)) != 0)
		return r;
	if ((rk = json_object_get(body, "recipient_key")) != NULL) {
		json_incref(rk);
		json_object_del(body, "recipient_key");
		if (json_is_null(rk)) {
			json_decref(rk);
			rk = NULL;
		} else if (!json_is_string(rk) || json_string_length(rk) == 0 ||
			   json_string_length(rk) > EXPORT_RECIPIENT_KEY_MAX) {
			http_field_error(rep, "recipient_key", "format",
							"an ASCII-armoured OpenPGP public key");
			r = IV_ERR_INVALID;
			goto out;
		}
	}
	if ((r = fieldspec_validate(export_spec, body, &errors)) != 0) {
		rep->field_errors = errors;
		goto out;
	}
	plaintext = fieldspec_bool(body, "plaintext", 0);
	if (plaintext && rk != NULL) {
		rep->error_message = "give recipient_key or plaintext: true, not both";
		r = IV_ERR_INVALID;
		goto out;
	}
	if (!plaintext && rk == NULL) {
		http_field_error(rep, "recipient_key", "required",
						"an ASCII-armoured OpenPGP public key (or, for admins, "
						"\"plaintext\": true)");
		r = IV_ERR_INVALID;
		goto out;
	}
	if (plaintext && !(req->who.role_bit & ROLE_ADMIN)) {
		char object[48];
		struct audit_event ev;
		snprintf(object, sizeof(object), "tenant:%lld", (long long)req->who.tenant_id);
		ev = (struct audit_event){req->who.tenant_id, "device.export", object, "denied",
					  "plaintext export requires the admin role"};
		if (audit_append_now(req->svc->v, &actor, &ev) != 0)
			r = IV_ERR_AUDIT;
		else {
			rep->error_message = "plaintext export is for admins only; give recipient_key";
			r = IV_ERR_FORBIDDEN;
		}
		goto out;
	}
	er = (struct export_request){
		.tenant_id = req->who.tenant_id,
		.format = export_format_from_name(fieldspec_string(body, "format")),
		.kind = fieldspec_string(body, "type"),
		.tag = fieldspec_string(body, "tag"),
		.mac_version = fieldspec_string(body, "mac_version"),
		.recipient_key = rk ? (const uint8_t *)json_string_value(rk) : NULL,
		.recipient_key_len = rk ? json_string_length(rk) : 0,
		.plaintext = plaintext,
	};
	if ((r = export_devices(req->svc->v, &actor, &er, &res, err, sizeof(err))) != 0) {
		rep->error_message = err;
		goto out;
	}
	doc = json_stringn((const char *)res.document->data, res.document_len);
	if (doc == NULL) {
		rep->error_message = "the document is not valid UTF-8";
		r = IV_ERR_INTERNAL;
		goto out;
	}
	rep->body = json_object();
	json_object_set_new(rep->body, "format", json_string(export_format_name(er.format)));
	json_object_set_new(rep->body, "encrypted", json_boolean(res.encrypted));
	json_object_set_new(rep->body, "recipient_fingerprint",
			    res.encrypted ? json_string(res.recipient_fpr) : json_null());
	json_object_set_new(rep->body, "devices", json_integer(res.devices));
	json_object_set_new(rep->body, "lorawan", json_integer(res.lorawan));
	json_object_set_new(rep->body, "lwm2m", json_integer(res.lwm2m));
	json_object_set_new(rep->body, "media_type",
			    json_string(res.encrypted ? "application/pgp-encrypted" : res.media_type));
	json_object_set_new(rep->body, "document", doc);
	/* success */
	r = 0;
out:
	export_result_clear(&res);
	json_decref(rk);
	json_decref(body);
	return r;
}

const struct route export_routes[] = {
	{"POST", "/api/v1/devices/export", export_handler, ROLE_ADMIN | ROLE_OPERATOR,
	 ROUTE_CARRIES_KEYS},
	{NULL, NULL, NULL, 0, 0},
};
