/* /api/v1/peers: a tenant's admins create, list, show and delete the
 * tenant's own backend-interface peers (network and application servers that
 * the join server answers only for this tenant's devices). The KEK and a
 * generated bearer token are returned once, by the create call, after the
 * audit records are written; installation-wide peers (CLI only) are not
 * visible here. Also the devices' join settings and the DevNonce reset. */
#include "iotvault/audit.h"
#include "iotvault/crypto.h"
#include "iotvault/fieldspec.h"
#include "iotvault/hex.h"
#include "iotvault/http.h"
#include "iotvault/peer_auth.h"
#include "iotvault/store_lorawan.h"
#include "iotvault/vault_lorawan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PEM text is multi-line, which FIELD_STRING refuses: these two are taken out
 * of the body and checked here. */
#define PEM_FIELD_MAX (PEER_CLIENT_CA_MAX)

static const char *const peer_types[] = {"ns", "as", NULL};
static const char *const token_modes[] = {"generate", NULL};
static const char *const receiver_codes[] = {"UnknownReceiver", "UnknownReceiverID", NULL};

static const struct field_spec create_fields[] = {
	{"type", FIELD_ENUM, 1, 0, 0, peer_types, "ns or as"},
	{"name", FIELD_IDENT, 1, 1, STORE_NAME_MAX, NULL, "peer name"},
	{"sender_id", FIELD_STRING, 1, 1, PEER_SENDER_ID_MAX, NULL, "NetID or AS-ID"},
	{"kek_label", FIELD_STRING, 0, 0, KEK_LABEL_MAX, NULL, "KEK label"},
	{"kek", FIELD_HEX, 0, PEER_KEK_LEN, PEER_KEK_LEN, NULL, "16 bytes of hex"},
	{"client_cert_cn", FIELD_STRING, 0, 1, PEER_CERT_CN_MAX, NULL, "subject CN"},
	{"token", FIELD_ENUM, 0, 0, 0, token_modes, "generate"},
	{"allow_plaintext", FIELD_BOOL, 0, 0, 0, NULL, NULL},
	{"receiver_unknown_code", FIELD_ENUM, 0, 0, 0, receiver_codes, NULL},
	{NULL, 0, 0, 0, 0, NULL, NULL},
};

static const struct field_spec join_settings_fields[] = {
	{"as_peer_id", FIELD_INT, 0, 1, 0x7fffffffL, NULL, "an application-server peer id"},
	{"home_net_id", FIELD_HEX, 0, 3, 3, NULL, "a NetID, 6 hex digits"},
	{NULL, 0, 0, 0, 0, NULL, NULL},
};

static json_t *opt_string(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

static json_t *peer_json(const struct peer_record *p)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(p->id));
	json_object_set_new(o, "type", json_string(p->kind));
	json_object_set_new(o, "name", json_string(p->name));
	json_object_set_new(o, "sender_id", json_string(p->sender_id));
	json_object_set_new(o, "kek_label", json_string(p->kek_label));
	json_object_set_new(o, "client_cert_sha256", opt_string(p->cert_sha256));
	json_object_set_new(o, "client_ca", opt_string(p->client_ca));
	json_object_set_new(o, "client_cert_cn", opt_string(p->client_cert_cn));
	json_object_set_new(o, "bearer_token", json_boolean(p->has_token));
	json_object_set_new(o, "allow_plaintext", json_boolean(p->allow_plaintext));
	json_object_set_new(o, "receiver_unknown_code",
			    json_string(p->receiver_unknown_code[0] ? p->receiver_unknown_code
								    : "UnknownReceiver"));
	json_object_set_new(o, "created_at", json_integer(p->created_at));
	return o;
}

static int ident_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr("._:-", *s)))
			return 0;
	return 1;
}

/* Moves the PEM field NAME out of BODY into *OUT (NULL when absent or null). */
static int take_pem(json_t *body, const char *name, json_t **out, struct http_reply *rep)
{
	json_t *v = json_object_get(body, name);
	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		json_object_del(body, name);
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > PEM_FIELD_MAX ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		http_field_error(rep, name, "format", "PEM text");
		return IV_ERR_INVALID;
	}
	*out = json_incref(v);
	json_object_del(body, name);
	return 0;
}

/* The peer record of a create request; field errors into REP. */
static int build_peer(struct http_request *req, json_t *body, json_t *cert, json_t *ca,
		      struct peer_record *p, struct http_reply *rep)
{
	const char *type = fieldspec_string(body, "type"), *sender = fieldspec_string(body, "sender_id");
	const char *label = fieldspec_string(body, "kek_label"), *cn = fieldspec_string(body, "client_cert_cn");
	const char *code = fieldspec_string(body, "receiver_unknown_code");
	char err[160];
	uint8_t netid[3];

	memset(p, 0, sizeof(*p));
	p->tenant_id = req->who.tenant_id;
	snprintf(p->kind, sizeof(p->kind), "%s", type);
	snprintf(p->name, sizeof(p->name), "%s", fieldspec_string(body, "name"));
	if (strcmp(type, "ns") == 0) {
		if (hex_decode_exact(sender, netid, sizeof(netid)) != 0)
			http_field_error(rep, "sender_id", "format", "an ns peer's NetID, 6 hex digits");
		else
			hex_encode_upper(netid, sizeof(netid), p->sender_id);
	} else if (!ident_ok(sender))
		http_field_error(rep, "sender_id", "format", "an AS-ID: A-Z a-z 0-9 . _ : -");
	else
		snprintf(p->sender_id, sizeof(p->sender_id), "%s", sender);
	if (label != NULL && label[0] != '\0' && !ident_ok(label))
		http_field_error(rep, "kek_label", "format", "A-Z a-z 0-9 . _ : -");
	if (label == NULL && strlen(p->name) > KEK_LABEL_MAX)
		http_field_error(rep, "kek_label", "required", "the name is too long to be the KEK label");
	snprintf(p->kek_label, sizeof(p->kek_label), "%.*s", KEK_LABEL_MAX, label ? label : p->name);
	p->allow_plaintext = fieldspec_bool(body, "allow_plaintext", 0);
	if (p->kek_label[0] == '\0' && !p->allow_plaintext)
		http_field_error(rep, "kek_label", "invalid",
			    "an empty label means plaintext session keys: set allow_plaintext to mean it");
	if (cert && peer_cert_pem_fingerprint(json_string_value(cert), json_string_length(cert),
					      p->cert_sha256) != 0)
		http_field_error(rep, "client_cert", "format", "a PEM certificate");
	if (ca) {
		snprintf(p->client_ca, sizeof(p->client_ca), "%s", json_string_value(ca));
		if (peer_client_ca_check(p->client_ca, err, sizeof(err)) != 0)
			http_field_error(rep, "client_ca", "format", err);
	}
	if (cn) {
		if (!ca)
			http_field_error(rep, "client_cert_cn", "invalid", "goes with client_ca");
		snprintf(p->client_cert_cn, sizeof(p->client_cert_cn), "%s", cn);
	}
	snprintf(p->receiver_unknown_code, sizeof(p->receiver_unknown_code), "%s",
		 code ? code : "UnknownReceiver");
	p->has_token = fieldspec_string(body, "token") != NULL;
	if (!cert && !ca && !p->has_token)
		http_field_error(rep, "client_cert", "required",
			    "a peer authenticates with client_cert, client_ca or token: \"generate\"");
	return rep->field_errors ? IV_ERR_INVALID : 0;
}

static int create_peer(struct http_request *req, struct http_reply *rep)
{
	struct store *st = req->svc->st;
	struct audit_actor actor = http_actor(req);
	struct audit_event ev;
	struct peer_record *p = calloc(1, sizeof(*p));
	struct secbuf *kek = secbuf_new(PEER_KEK_LEN);
	json_t *body = NULL, *errors = NULL, *cert = NULL, *ca = NULL;
	char token[PEER_TOKEN_MAX] = "", kek_hex[2 * PEER_KEK_LEN + 1] = "", object[STORE_NAME_MAX + 32];
	int r, in_tx = 0;

	if (p == NULL || kek == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	if ((r = http_body_json(req, rep, &body)) != 0)
		goto out;
	if ((r = take_pem(body, "client_cert", &cert, rep)) != 0 ||
	    (r = take_pem(body, "client_ca", &ca, rep)) != 0)
		goto out;
	if ((r = fieldspec_validate(create_fields, body, &errors)) != 0) {
		rep->field_errors = errors;
		goto out;
	}
	if ((r = build_peer(req, body, cert, ca, p, rep)) != 0)
		goto out;
	if (fieldspec_string(body, "kek")) {
		json_t *v = json_object_get(body, "kek");
		r = hex_decode_exact(json_string_value(v), kek->data, kek->len);
		/* the request's copy of the key */
		secmem_wipe((char *)json_string_value(v), json_string_length(v));
		if (r != 0) {
			http_field_error(rep, "kek", "format", "16 bytes of hex");
			goto out;
		}
	} else
		random_bytes(kek->data, kek->len);
	if (p->has_token) {
		peer_token_generate(token);
		peer_token_hash(token, p->token_sha256);
	}
	if ((r = st->ops->begin(st, 1)) != 0)
		goto out;
	in_tx = 1;
	if ((r = st->ops->lorawan->peer_insert(st, p)) != 0) {
		if (r == IV_ERR_EXISTS)
			rep->error_message = "a peer with this name or sender_id exists";
		goto out;
	}
	snprintf(object, sizeof(object), "peer:%s", p->name);
	/* plaintext session keys for this peer are a decision worth finding later */
	ev = (struct audit_event){p->tenant_id, "peer.create", object, "success",
				  p->allow_plaintext ? (strcmp(p->kind, "ns") == 0 ? "ns allow_plaintext" : "as allow_plaintext") : p->kind};
	if ((r = vault_seal(req->svc->v, &(struct secret_ref){0, "peer", p->id, "kek"}, kek->data,
			    kek->len)) != 0 ||
	    (r = audit_append(req->svc->v, &actor, &ev)) != 0)
		goto out;
	/* the KEK goes back in this reply: recorded as a reveal, before it leaves */
	snprintf(object, sizeof(object), "peer:%lld/kek", (long long)p->id);
	ev = (struct audit_event){p->tenant_id, "key.reveal", object, "granted", "peer.create"};
	if ((r = audit_append(req->svc->v, &actor, &ev)) != 0 || (r = st->ops->commit(st)) != 0)
		goto out;
	in_tx = 0;
	hex_encode_upper(kek->data, kek->len, kek_hex);
	rep->status = 201;
	rep->body = peer_json(p);
	/* shown once; the reply is Cache-Control: no-store and wiped after sending */
	json_object_set_new(rep->body, "kek", json_string(kek_hex));
	if (token[0])
		json_object_set_new(rep->body, "token", json_string(token));
	/* success */
	r = 0;
out:
	if (in_tx)
		st->ops->rollback(st);
	secmem_wipe(token, sizeof(token));
	secmem_wipe(kek_hex, sizeof(kek_hex));
	secbuf_free(kek);
	json_decref(cert);
	json_decref(ca);
	json_decref(body);
	free(p);
	return r;
}

static int append_peer(void *ctx, const struct peer_record *p)
{
	return json_array_append_new(ctx, peer_json(p)) == 0 ? 0 : IV_ERR_NOMEM;
}

static int list_peers(struct http_request *req, struct http_reply *rep)
{
	json_t *arr = json_array();
	int r = req->svc->st->ops->lorawan->peer_list_tenant(req->svc->st, req->who.tenant_id,
							      append_peer, arr);
	if (r != 0) {
		json_decref(arr);
		return r;
	}
	rep->body = json_object();
	json_object_set_new(rep->body, "peers", arr);
	return 0;
}

/* The peer named by the path, when it is the caller's tenant's (others,
 * installation-wide ones included: 404). */
static int load_peer(struct http_request *req, struct http_reply *rep, struct peer_record *p)
{
	int64_t id;
	int r;
	rep->error_message = "no such peer";
	if (http_parse_id(req->params[0], &id) != 0)
		return IV_ERR_NOT_FOUND;
	r = req->svc->st->ops->lorawan->peer_get(req->svc->st, id, p);
	if (r == 0 && p->tenant_id != req->who.tenant_id)
		r = IV_ERR_NOT_FOUND;
	if (r != IV_ERR_NOT_FOUND)
		rep->error_message = NULL;
	return r;
}

static int get_peer(struct http_request *req, struct http_reply *rep)
{
	struct peer_record *p = calloc(1, sizeof(*p));
	int r = p ? load_peer(req, rep, p) : IV_ERR_NOMEM;
	if (r == 0)
		rep->body = peer_json(p);
	free(p);
	return r;
}

static int delete_peer(struct http_request *req, struct http_reply *rep)
{
	struct store *st = req->svc->st;
	struct audit_actor actor = http_actor(req);
	struct audit_event ev;
	struct peer_record *p = calloc(1, sizeof(*p));
	char object[STORE_NAME_MAX + 32];
	int r = p ? load_peer(req, rep, p) : IV_ERR_NOMEM;

	if (r != 0)
		goto out;
	snprintf(object, sizeof(object), "peer:%s", p->name);
	ev = (struct audit_event){p->tenant_id, "peer.delete", object, "success", p->kind};
	if ((r = st->ops->begin(st, 1)) != 0)
		goto out;
	if ((r = audit_append(req->svc->v, &actor, &ev)) != 0 ||
	    (r = st->ops->secret_delete_owner(st, "peer", p->id)) != 0 ||
	    (r = st->ops->lorawan->peer_delete(st, p->id)) != 0 || (r = st->ops->commit(st)) != 0) {
		st->ops->rollback(st);
		if (r == IV_ERR_EXISTS)
			rep->error_message = "devices still name this peer as their application server";
		goto out;
	}
	rep->status = 204;
out:
	free(p);
	return r;
}

/* The LoRaWAN device named by the path, in the caller's tenant (others: 404). */
static int load_lorawan_device(struct http_request *req, struct http_reply *rep,
			       struct device_record *dev)
{
	return http_load_device(req, rep, "lorawan", IV_ERR_INVALID, dev);
}

static int set_join_settings(struct http_request *req, struct http_reply *rep)
{
	struct store *st = req->svc->st;
	struct audit_actor actor = http_actor(req);
	struct audit_event ev;
	struct device_record dev;
	struct peer_record *peer = calloc(1, sizeof(*peer));
	json_t *body = NULL, *errors = NULL;
	char object[64], detail[96], home[7] = "";
	uint8_t netid[3];
	int64_t as_peer_id = 0;
	int r;

	if (peer == NULL)
		return IV_ERR_NOMEM;
	if ((r = load_lorawan_device(req, rep, &dev)) != 0 || (r = http_body_json(req, rep, &body)) != 0)
		goto out;
	if ((r = fieldspec_validate(join_settings_fields, body, &errors)) != 0) {
		rep->field_errors = errors;
		goto out;
	}
	as_peer_id = fieldspec_int(body, "as_peer_id", 0);
	/* the tenant's own AS peers, or installation-wide ones (iotvault's own
	 * application server); another tenant's peer is answered like none */
	if (as_peer_id != 0 &&
	    (st->ops->lorawan->peer_get(st, as_peer_id, peer) != 0 || strcmp(peer->kind, "as") != 0 ||
	     (peer->tenant_id != 0 && peer->tenant_id != dev.tenant_id))) {
		http_field_error(rep, "as_peer_id", "not_found", "no such application-server peer");
		r = IV_ERR_INVALID;
		goto out;
	}
	if (fieldspec_string(body, "home_net_id")) {
		if (hex_decode_exact(fieldspec_string(body, "home_net_id"), netid, sizeof(netid)) != 0) {
			http_field_error(rep, "home_net_id", "format", "a NetID, 6 hex digits");
			r = IV_ERR_INVALID;
			goto out;
		}
		hex_encode_upper(netid, sizeof(netid), home);
	}
	snprintf(object, sizeof(object), "device:%lld", (long long)dev.id);
	snprintf(detail, sizeof(detail), "as_peer_id=%lld home_net_id=%s", (long long)as_peer_id, home);
	ev = (struct audit_event){dev.tenant_id, "device.join_settings", object, "success", detail};
	if ((r = st->ops->begin(st, 1)) != 0)
		goto out;
	if ((r = audit_append(req->svc->v, &actor, &ev)) != 0 ||
	    (r = st->ops->lorawan->device_set_join_settings(st, dev.tenant_id, dev.id, as_peer_id,
							    home)) != 0 ||
	    (r = st->ops->commit(st)) != 0) {
		st->ops->rollback(st);
		goto out;
	}
	rep->body = json_object();
	json_object_set_new(rep->body, "id", json_integer(dev.id));
	json_object_set_new(rep->body, "as_peer_id", as_peer_id ? json_integer(as_peer_id) : json_null());
	json_object_set_new(rep->body, "home_net_id", opt_string(home));
out:
	json_decref(body);
	free(peer);
	return r;
}

/* Forgets the DevNonce history, for devices that lost their counter or draw
 * nonces from a weak generator and would otherwise be locked out. */
static int reset_nonces(struct http_request *req, struct http_reply *rep)
{
	struct store *st = req->svc->st;
	struct audit_actor actor = http_actor(req);
	struct audit_event ev;
	struct device_record dev;
	char object[64];
	int r;

	if ((r = load_lorawan_device(req, rep, &dev)) != 0)
		return r;
	snprintf(object, sizeof(object), "device:%lld", (long long)dev.id);
	ev = (struct audit_event){dev.tenant_id, "device.reset_nonces", object, "success", dev.dev_eui};
	if ((r = st->ops->begin(st, 1)) != 0)
		return r;
	if ((r = audit_append(req->svc->v, &actor, &ev)) != 0 ||
	    (r = st->ops->lorawan->dev_nonce_reset(st, dev.id)) != 0 || (r = st->ops->commit(st)) != 0) {
		st->ops->rollback(st);
		return r;
	}
	rep->status = 204;
	return 0;
}

const struct route peer_routes[] = {
	{"GET", "/api/v1/peers", list_peers, ROLE_ADMIN, 0},
	{"POST", "/api/v1/peers", create_peer, ROLE_ADMIN, ROUTE_CARRIES_KEYS},
	{"GET", "/api/v1/peers/{id}", get_peer, ROLE_ADMIN, 0},
	{"DELETE", "/api/v1/peers/{id}", delete_peer, ROLE_ADMIN, 0},
	{"PUT", "/api/v1/devices/{id}/join-settings", set_join_settings, ROLE_ADMIN | ROLE_OPERATOR, 0},
	{"POST", "/api/v1/devices/{id}/reset-nonces", reset_nonces, ROLE_ADMIN | ROLE_OPERATOR, 0},
	{NULL, NULL, NULL, 0, 0},
};
