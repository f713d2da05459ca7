/* /api/v1/webhooks: a tenant's admins register HTTPS endpoints that receive
 * the tenant's messages, signed (docs/integrations.md). The signing secret
 * is generated here, sealed in the vault and shown once; listings never
 * carry it. */
#include "iotvault/audit.h"
#include "iotvault/crypto.h"
#include "iotvault/fieldspec.h"
#include "iotvault/hex.h"
#include "iotvault/http.h"
#include "iotvault/outbox.h"
#include "iotvault/secmem.h"
#include "iotvault/store_outbox.h"

#include <stdio.h>
#include <string.h>

#define WEBHOOK_SECRET_LEN 32 /* random bytes; shown as 64 hex characters */

static const struct field_spec create_fields[] = {
	{"url", FIELD_STRING, 1, 1, WEBHOOK_URL_MAX, NULL, "https URL"},
	{"events", FIELD_TAGS, 0, 0, OUTBOX_WEBHOOKS_MAX, NULL, "event names; none: every event"},
	{"enabled", FIELD_BOOL, 0, 0, 0, NULL, "true or false"},
	{NULL, 0, 0, 0, 0, NULL, NULL},
};

static void request_actor(const struct http_request *req, struct audit_actor *actor)
{
	actor->type = req->who.kind == PRINCIPAL_APIKEY ? "apikey" : "user";
	actor->name = req->who.name;
	actor->source = req->source;
}

static json_t *events_json(const char *list)
{
	json_t *arr = json_array();
	const char *p = list;
	while (arr != NULL && *p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		json_array_append_new(arr, json_stringn(p, len));
		if (end == NULL)
			break;
		p = end + 1;
	}
	return arr;
}

static json_t *webhook_json(const struct webhook_record *w)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(w->id));
	json_object_set_new(o, "url", json_string(w->url));
	json_object_set_new(o, "events", events_json(w->events));
	json_object_set_new(o, "enabled", json_boolean(w->enabled));
	json_object_set_new(o, "created_by", json_string(w->created_by));
	json_object_set_new(o, "created_at", json_integer(w->created_at));
	json_object_set_new(o, "queued", json_integer(w->queued));
	return o;
}

/* "up,join" from the validated array; IV_ERR_INVALID when it is too long. */
static int join_events(json_t *arr, char out[static WEBHOOK_EVENTS_MAX + 1])
{
	size_t i, used = 0;
	json_t *e;
	out[0] = '\0';
	if (arr == NULL)
		return 0;
	json_array_foreach(arr, i, e)
	{
		const char *s = json_string_value(e);
		size_t n = strlen(s);
		if (used + n + (used ? 1 : 0) > WEBHOOK_EVENTS_MAX)
			return IV_ERR_INVALID;
		if (used)
			out[used++] = ',';
		memcpy(out + used, s, n);
		used += n;
		out[used] = '\0';
	}
	return 0;
}

struct count_ctx {
	int n;
};

static int count_webhook(void *ctx, const struct webhook_record *w)
{
	(void)w;
	((struct count_ctx *)ctx)->n++;
	return 0;
}

static int create_webhook(struct http_request *req, struct http_reply *rep)
{
	struct store *st = req->svc->st;
	struct audit_actor actor;
	struct audit_event ev;
	struct webhook_record w;
	struct secret_ref ref;
	struct count_ctx count = {0};
	struct secbuf *secret = NULL;
	uint8_t raw[WEBHOOK_SECRET_LEN];
	char origin[320], object[48];
	json_t *body = NULL, *errors = NULL;
	int r, in_tx = 0;

	if ((r = http_body_json(req, rep, &body)) != 0)
		return r;
	if ((r = fieldspec_validate(create_fields, body, &errors)) != 0) {
		rep->field_errors = errors;
		goto out;
	}
	memset(&w, 0, sizeof(w));
	if (outbox_webhook_url_check(fieldspec_string(body, "url"), origin, sizeof(origin)) != 0) {
		rep->error_message = "url: an absolute https URL with a host, without user name, "
				     "password or fragment";
		r = IV_ERR_INVALID;
		goto out;
	}
	if (join_events(json_object_get(body, "events"), w.events) != 0) {
		rep->error_message = "events: the list is too long";
		r = IV_ERR_INVALID;
		goto out;
	}
	w.tenant_id = req->who.tenant_id;
	snprintf(w.url, sizeof(w.url), "%s", fieldspec_string(body, "url"));
	w.enabled = fieldspec_bool(body, "enabled", 1);
	snprintf(w.created_by, sizeof(w.created_by), "%s", req->who.name);
	if ((secret = secbuf_new(WEBHOOK_SECRET_TEXT_LEN + 1)) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	random_bytes(raw, sizeof(raw));
	hex_encode_upper(raw, sizeof(raw), (char *)secret->data);
	secret->len = WEBHOOK_SECRET_TEXT_LEN;

	request_actor(req, &actor);
	if ((r = st->ops->begin(st, 1)) != 0)
		goto out;
	in_tx = 1;
	if ((r = st->ops->outbox->webhook_list(st, w.tenant_id, count_webhook, &count)) != 0)
		goto out;
	if (count.n >= OUTBOX_WEBHOOKS_MAX) {
		rep->error_message = "this tenant has the maximum number of webhooks";
		r = IV_ERR_REFUSED;
		goto out;
	}
	if ((r = st->ops->outbox->webhook_insert(st, &w)) != 0)
		goto out;
	ref = (struct secret_ref){w.tenant_id, "webhook", w.id, "secret"};
	if ((r = vault_seal(req->svc->v, &ref, secret->data, secret->len)) != 0)
		goto out;
	snprintf(object, sizeof(object), "webhook:%lld", (long long)w.id);
	/* the origin only: a path or query may carry the receiver's own token */
	ev = (struct audit_event){w.tenant_id, "webhook.create", object, "success", origin};
	if ((r = audit_append(req->svc->v, &actor, &ev)) != 0)
		goto out;
	if ((r = st->ops->commit(st)) != 0)
		goto out;
	in_tx = 0;
	rep->status = 201;
	rep->body = webhook_json(&w);
	/* shown once; the reply is Cache-Control: no-store */
	json_object_set_new(rep->body, "secret",
			    json_stringn((const char *)secret->data, WEBHOOK_SECRET_TEXT_LEN));
	/* success */
	r = 0;
out:
	if (in_tx)
		st->ops->rollback(st);
	secmem_wipe(raw, sizeof(raw));
	secbuf_free(secret);
	json_decref(body);
	return r;
}

static int append_webhook(void *ctx, const struct webhook_record *w)
{
	return json_array_append_new(ctx, webhook_json(w)) == 0 ? 0 : IV_ERR_NOMEM;
}

static int list_webhooks(struct http_request *req, struct http_reply *rep)
{
	struct store *st = req->svc->st;
	struct outbox_tenant_stats stats;
	json_t *arr = json_array(), *outbox;
	int r;

	if (arr == NULL)
		return IV_ERR_NOMEM;
	if ((r = st->ops->outbox->webhook_list(st, req->who.tenant_id, append_webhook, arr)) != 0 ||
	    (r = st->ops->outbox->stats_get(st, req->who.tenant_id, &stats)) != 0) {
		json_decref(arr);
		return r;
	}
	outbox = json_object();
	json_object_set_new(outbox, "queued", json_integer(stats.queued));
	json_object_set_new(outbox, "dropped", json_integer(stats.dropped));
	rep->body = json_object();
	json_object_set_new(rep->body, "webhooks", arr);
	json_object_set_new(rep->body, "outbox", outbox);
	return 0;
}

static int delete_webhook(struct http_request *req, struct http_reply *rep)
{
	struct store *st = req->svc->st;
	struct audit_actor actor;
	struct audit_event ev;
	char object[48];
	int64_t id;
	int r, in_tx = 0;

	if (http_parse_id(req->params[0], &id) != 0) {
		rep->error_message = "no such webhook";
		return IV_ERR_NOT_FOUND;
	}
	request_actor(req, &actor);
	if ((r = st->ops->begin(st, 1)) != 0)
		return r;
	in_tx = 1;
	/* its queued messages go with it (ON DELETE CASCADE) */
	if ((r = st->ops->outbox->webhook_delete(st, req->who.tenant_id, id)) != 0) {
		if (r == IV_ERR_NOT_FOUND)
			rep->error_message = "no such webhook";
		goto out;
	}
	if ((r = st->ops->secret_delete_owner(st, "webhook", id)) != 0)
		goto out;
	snprintf(object, sizeof(object), "webhook:%lld", (long long)id);
	ev = (struct audit_event){req->who.tenant_id, "webhook.delete", object, "success", NULL};
	if ((r = audit_append(req->svc->v, &actor, &ev)) != 0)
		goto out;
	if ((r = st->ops->commit(st)) != 0)
		goto out;
	in_tx = 0;
	rep->status = 204;
	/* success */
	r = 0;
out:
	if (in_tx)
		st->ops->rollback(st);
	return r;
}

/* Creating needs a signed-in admin (like API keys): a leaked key must not be
 * able to send the tenant's data somewhere new. */
const struct route webhook_routes[] = {
	{"POST", "/api/v1/webhooks", create_webhook, ROLE_ADMIN,
	 ROUTE_USERS_ONLY | ROUTE_CARRIES_KEYS},
	{"GET", "/api/v1/webhooks", list_webhooks, ROLE_ADMIN, 0},
	{"DELETE", "/api/v1/webhooks/{id}", delete_webhook, ROLE_ADMIN, 0},
	{NULL, NULL, NULL, 0, 0},
};
