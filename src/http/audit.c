/* /api/v1/audit: the tenant's audit records (auditor, admin) and a
 * verification of the whole chain. */
#include "iotvault/audit.h"
#include "iotvault/http.h"

#include <stdio.h>
#include <string.h>

#define AUDIT_LIST_DEFAULT 100
#define AUDIT_LIST_MAX 1000

struct list_ctx {
	json_t *array;
	int64_t last;
	int count;
};

static int add_record(void *ctx, const struct audit_record *a)
{
	struct list_ctx *lc = ctx;
	json_t *o = json_object();
	json_object_set_new(o, "seq", json_integer(a->seq));
	json_object_set_new(o, "time", json_integer(a->ts_ms));
	json_object_set_new(o, "actor_type", json_string(a->actor_type));
	json_object_set_new(o, "actor", json_string(a->actor));
	json_object_set_new(o, "source", json_string(a->source));
	json_object_set_new(o, "action", json_string(a->action));
	json_object_set_new(o, "object", json_string(a->object));
	json_object_set_new(o, "outcome", json_string(a->outcome));
	json_object_set_new(o, "detail", json_string(a->detail));
	json_array_append_new(lc->array, o);
	lc->last = a->seq;
	lc->count++;
	return 0;
}

static int valid_action_filter(const char *a)
{
	size_t n = strlen(a);
	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((a[i] >= 'a' && a[i] <= 'z') || a[i] == '.' || a[i] == '_' ||
		      (a[i] == '*' && i == n - 1)))
			return 0;
	return 1;
}

static int list_audit(struct http_request *req, struct http_reply *rep)
{
	struct list_ctx lc = {json_array(), 0, 0};
	const char *cursor = http_query(req, "cursor"), *limit_s = http_query(req, "limit");
	const char *action = http_query(req, "action");
	int64_t after = 0, limit = AUDIT_LIST_DEFAULT;
	int r;

	if (cursor && http_parse_id(cursor, &after) != 0) {
		rep->error_message = "cursor: not a cursor returned by this API";
		r = IV_ERR_INVALID;
		goto fail;
	}
	if (limit_s && (http_parse_id(limit_s, &limit) != 0 || limit > AUDIT_LIST_MAX)) {
		rep->error_message = "limit: 1 to 1000";
		r = IV_ERR_INVALID;
		goto fail;
	}
	if (action && !valid_action_filter(action)) {
		rep->error_message = "action: an action name such as key.reveal, or a prefix like key.*";
		r = IV_ERR_INVALID;
		goto fail;
	}
	r = req->svc->st->ops->audit_list_tenant(req->svc->st, req->who.tenant_id, after, (int)limit,
						 action, add_record, &lc);
	if (r != 0)
		goto fail;
	rep->body = json_object();
	json_object_set_new(rep->body, "records", lc.array);
	if (lc.count == limit) {
		char next[32];
		snprintf(next, sizeof(next), "%lld", (long long)lc.last);
		json_object_set_new(rep->body, "next_cursor", json_string(next));
	} else
		json_object_set_new(rep->body, "next_cursor", json_null());
	return 0;
fail:
	json_decref(lc.array);
	return r;
}

static int verify_audit(struct http_request *req, struct http_reply *rep)
{
	struct audit_verify_result res;
	int r = audit_verify(req->svc->v, &res);
	if (r != 0 && r != IV_ERR_AUDIT_CHAIN)
		return r;
	rep->body = json_object();
	json_object_set_new(rep->body, "intact", json_boolean(r == 0));
	json_object_set_new(rep->body, "records", json_integer(res.records));
	if (r != 0) {
		json_object_set_new(rep->body, "first_bad_seq", json_integer(res.first_bad));
		json_object_set_new(rep->body, "reason", json_string(res.reason));
	}
	return 0;
}

const struct route audit_routes[] = {
	{"GET", "/api/v1/audit", list_audit, ROLE_ADMIN | ROLE_AUDITOR, 0},
	{"GET", "/api/v1/audit/verify", verify_audit, ROLE_ADMIN | ROLE_AUDITOR, 0},
	{NULL, NULL, NULL, 0, 0},
};
