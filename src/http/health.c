/* GET /api/v1/health: liveness and the vault's state, without secrets. */
#include "iotvault/http.h"

static int get_health(struct http_request *req, struct http_reply *rep)
{
	rep->body = json_object();
	json_object_set_new(rep->body, "status", json_string("ok"));
	json_object_set_new(rep->body, "version", json_string(IOTVAULT_VERSION));
	json_object_set_new(rep->body, "master_key_version",
			    json_integer(vault_current_version(req->svc->v)));
	return 0;
}

const struct route health_routes[] = {
	{"GET", "/api/v1/health", get_health, 0, ROUTE_PUBLIC},
	{NULL, NULL, NULL, 0, 0},
};
