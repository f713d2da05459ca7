/* RPK and X.509 for LwM2M devices over the REST API:
 *   /api/v1/tenants/{id}/lwm2m-ca       a tenant's CA for device certificates
 *   /api/v1/devices/{id}/lwm2m-security a device's DM security mode: psk
 *                                       (default), rpk (its raw public key) or
 *                                       x509 (its certificate)
 * Public material, shown in full; every change is audited before it is made
 * (integrity matters even where secrecy does not) and the running LwM2M
 * server reloads its trust at once. See docs/lwm2m.md, "DTLS". */
#include "iotvault/audit.h"
#include "iotvault/hex.h"
#include "iotvault/http.h"
#include "iotvault/lwm2m_pki.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *b64_json(const uint8_t *der, size_t len)
{
	size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *b = malloc(cap);
	json_t *s;
	if (b == NULL)
		return json_null();
	sodium_bin2base64(b, cap, der, len, sodium_base64_VARIANT_ORIGINAL);
	s = json_string(b);
	free(b);
	return s;
}

/* ---- tenant CA ---- */

static json_t *ca_json(const struct lwm2m_tenant_ca_record *ca)
{
	json_t *o = json_object();
	json_object_set_new(o, "tenant_id", json_integer(ca->tenant_id));
	json_object_set_new(o, "subject", json_string(ca->subject));
	json_object_set_new(o, "sha256", json_string(ca->sha256));
	json_object_set_new(o, "not_after", json_integer(ca->not_after));
	json_object_set_new(o, "updated_at", json_integer(ca->updated_at));
	json_object_set_new(o, "certificate", json_string(ca->certificate_pem));
	return o;
}

static int own_tenant(struct http_request *req, struct http_reply *rep)
{
	int64_t id;
	if (http_parse_id(req->params[0], &id) != 0 || id != req->who.tenant_id) {
		rep->error_message = "no such tenant";
		return IV_ERR_NOT_FOUND;
	}
	return 0;
}

static int get_ca(struct http_request *req, struct http_reply *rep)
{
	struct lwm2m_tenant_ca_record *ca = NULL;
	int r;
	if ((r = own_tenant(req, rep)) != 0)
		return r;
	if ((ca = malloc(sizeof(*ca))) == NULL)
		return IV_ERR_NOMEM;
	r = req->svc->st->ops->lwm2m_pki->ca_get(req->svc->st, req->who.tenant_id, ca);
	if (r == IV_ERR_NOT_FOUND)
		rep->error_message = "the tenant has no LwM2M device CA";
	if (r == 0)
		rep->body = ca_json(ca);
	free(ca);
	return r;
}

static int put_ca(struct http_request *req, struct http_reply *rep)
{
	struct audit_actor actor = http_actor(req);
	struct lwm2m_tenant_ca_record *ca = NULL;
	json_t *body = NULL, *v;
	const char *why;
	int r;

	if ((r = own_tenant(req, rep)) != 0 || (r = http_body_json(req, rep, &body)) != 0)
		return r;
	if ((ca = malloc(sizeof(*ca))) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	v = json_object_get(body, "certificate");
	if (!json_is_string(v) || json_object_size(body) != 1) {
		http_field_error(rep, "certificate", "required", "one field: certificate (PEM)");
		r = IV_ERR_INVALID;
		goto out;
	}
	if ((r = lwm2m_pki_parse_ca(json_string_value(v), json_string_length(v), req->who.tenant_id,
				    ca, &why)) != 0) {
		http_field_error(rep, "certificate", "invalid", why);
		goto out;
	}
	if ((r = lwm2m_pki_ca_set(req->svc->v, &actor, ca)) != 0)
		goto out;
	rep->body = ca_json(ca);
out:
	json_decref(body);
	free(ca);
	return r;
}

static int delete_ca(struct http_request *req, struct http_reply *rep)
{
	struct audit_actor actor = http_actor(req);
	int r;

	if ((r = own_tenant(req, rep)) != 0)
		return r;
	if ((r = lwm2m_pki_ca_delete(req->svc->v, &actor, req->who.tenant_id)) != 0) {
		if (r == IV_ERR_NOT_FOUND)
			rep->error_message = "the tenant has no LwM2M device CA";
		return r;
	}
	rep->status = 204;
	return 0;
}

/* ---- device security mode ---- */

static int load_device(struct http_request *req, struct http_reply *rep, struct device_record *dev)
{
	return http_load_device(req, rep, "lwm2m", IV_ERR_NOT_FOUND, dev);
}

static json_t *security_json(const struct device_record *dev,
			     const struct lwm2m_device_security_record *s)
{
	json_t *o = json_object();
	char h[65];
	json_object_set_new(o, "device_id", json_integer(dev->id));
	json_object_set_new(o, "mode", json_string(s ? s->mode : "psk"));
	if (s != NULL) {
		hex_encode_upper(s->spki_sha256, sizeof(s->spki_sha256), h);
		json_object_set_new(o, "public_key", b64_json(s->spki, s->spki_len));
		json_object_set_new(o, "public_key_sha256", json_string(h));
		json_object_set_new(o, "certificate", s->certificate_len
							      ? b64_json(s->certificate, s->certificate_len)
							      : json_null());
		json_object_set_new(o, "updated_at", json_integer(s->updated_at));
	}
	return o;
}

static int get_security(struct http_request *req, struct http_reply *rep)
{
	struct device_record dev;
	struct lwm2m_device_security_record *s = NULL;
	int r;
	if ((r = load_device(req, rep, &dev)) != 0)
		return r;
	if ((s = malloc(sizeof(*s))) == NULL)
		return IV_ERR_NOMEM;
	r = req->svc->st->ops->lwm2m_pki->security_get(req->svc->st, dev.id, s);
	if (r == 0 || r == IV_ERR_NOT_FOUND) {
		rep->body = security_json(&dev, r == 0 ? s : NULL);
		r = 0;
	}
	free(s);
	return r;
}

/* TEXT is PEM as is, or base64 of DER: the bytes to parse, in *OUT (malloc). */
static int material(const char *text, size_t len, uint8_t **out, size_t *out_len)
{
	if ((*out = malloc(len + 1)) == NULL)
		return IV_ERR_NOMEM;
	if (strstr(text, "-----BEGIN ") != NULL) {
		memcpy(*out, text, len);
		*out_len = len;
		return 0;
	}
	if (sodium_base642bin(*out, len + 1, text, len, " \r\n", out_len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0) {
		free(*out);
		*out = NULL;
		return IV_ERR_INVALID;
	}
	return 0;
}

static int put_security(struct http_request *req, struct http_reply *rep)
{
	struct audit_actor actor = http_actor(req);
	struct device_record dev;
	struct lwm2m_device_security_record *s = NULL;
	json_t *body = NULL, *mode, *v = NULL;
	const char *field = NULL, *why = NULL;
	uint8_t *data = NULL;
	size_t data_len = 0;
	int r, psk;

	if ((r = load_device(req, rep, &dev)) != 0 || (r = http_body_json(req, rep, &body)) != 0)
		return r;
	mode = json_object_get(body, "mode");
	if (!json_is_string(mode) || (strcmp(json_string_value(mode), "psk") != 0 &&
				      strcmp(json_string_value(mode), "rpk") != 0 &&
				      strcmp(json_string_value(mode), "x509") != 0)) {
		http_field_error(rep, "mode", "invalid", "psk, rpk or x509");
		r = IV_ERR_INVALID;
		goto out;
	}
	psk = strcmp(json_string_value(mode), "psk") == 0;
	if (!psk) {
		field = strcmp(json_string_value(mode), "rpk") == 0 ? "public_key" : "certificate";
		v = json_object_get(body, field);
	}
	if (json_object_size(body) != (psk ? 1u : 2u) || (!psk && !json_is_string(v))) {
		http_field_error(rep, psk ? "mode" : field, "required",
			    psk ? "mode psk takes no other field"
				: "rpk takes public_key, x509 takes certificate (PEM or base64 DER)");
		r = IV_ERR_INVALID;
		goto out;
	}
	if ((s = malloc(sizeof(*s))) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	if (!psk) {
		if ((r = material(json_string_value(v), json_string_length(v), &data, &data_len)) != 0 ||
		    (r = lwm2m_pki_parse_device(json_string_value(mode), data, data_len, dev.endpoint,
						s, &why)) != 0) {
			http_field_error(rep, field, "invalid",
				    why ? why : "neither PEM nor base64 of DER");
			r = IV_ERR_INVALID;
			goto out;
		}
	}
	if ((r = lwm2m_pki_security_set(req->svc->v, &actor, &dev, psk ? NULL : s)) != 0) {
		if (r == IV_ERR_EXISTS)
			/* the same answer whoever holds the key: nothing said of
			 * another tenant's devices */
			http_field_error(rep, field, "duplicate",
				    "this public key cannot be used (keys are unique on the server)");
		goto out;
	}
	rep->body = security_json(&dev, psk ? NULL : s);
out:
	json_decref(body);
	free(data);
	free(s);
	return r;
}

const struct route lwm2m_pki_routes[] = {
	{"GET", "/api/v1/tenants/{id}/lwm2m-ca", get_ca, ROLES_ALL, 0},
	{"PUT", "/api/v1/tenants/{id}/lwm2m-ca", put_ca, ROLE_ADMIN, 0},
	{"DELETE", "/api/v1/tenants/{id}/lwm2m-ca", delete_ca, ROLE_ADMIN, 0},
	{"GET", "/api/v1/devices/{id}/lwm2m-security", get_security, ROLES_ALL, 0},
	/* admin only: whose key a device gets decides who can speak for it */
	{"PUT", "/api/v1/devices/{id}/lwm2m-security", put_security, ROLE_ADMIN, 0},
	{NULL, NULL, NULL, 0, 0},
};
