/* Route matching over the per-resource route tables. */
#include "iotvault/http.h"

#include <stdio.h>
#include <string.h>

static const struct route *const tables[] = {
	health_routes, session_routes, user_routes, tenant_routes,
	device_routes, apikey_routes,  audit_routes,
	export_routes,
	import_routes,
	ingest_routes, uplink_routes, downlink_routes,
	webhook_routes,
	hygiene_routes,
	lwm2m_rebootstrap_routes, /* before lwm2m_routes: /lwm2m/{obj} */
	lwm2m_observe_routes,     /* before lwm2m_routes: literal segments over {ids} */
	lwm2m_queue_routes,
	lwm2m_routes, lwm2m_firmware_routes, lwm2m_pki_routes,
	peer_routes,
};

/* Splits PATH (a writable copy) into segments at '/'. */
static size_t split(char *path, char *segs[], size_t max)
{
	size_t n = 0;
	char *save = NULL;
	for (char *s = strtok_r(path, "/", &save); s != NULL; s = strtok_r(NULL, "/", &save)) {
		if (n == max)
			return max + 1;
		segs[n++] = s;
	}
	return n;
}

static int match(const char *pattern, char *const segs[], size_t nsegs,
		 const char *params[HTTP_MAX_PARAMS], size_t *nparams)
{
	char copy[256];
	char *psegs[16];
	size_t np;

	if (strlen(pattern) >= sizeof(copy))
		return 0;
	memcpy(copy, pattern, strlen(pattern) + 1);
	np = split(copy, psegs, 16);
	if (np != nsegs)
		return 0;
	*nparams = 0;
	for (size_t i = 0; i < np; i++) {
		if (psegs[i][0] == '{') {
			if (*nparams == HTTP_MAX_PARAMS || segs[i][0] == '\0')
				return 0;
			params[(*nparams)++] = segs[i];
		} else if (strcmp(psegs[i], segs[i]) != 0)
			return 0;
	}
	return 1;
}

const struct route *router_match(const char *method, const char *path,
				 const char *params[HTTP_MAX_PARAMS], size_t *nparams,
				 char *scratch, size_t scratch_len, int *path_exists)
{
	char *segs[16];
	size_t nsegs;
	size_t len = strlen(path);

	*path_exists = 0;
	*nparams = 0;
	if (len >= scratch_len || path[0] != '/')
		return NULL;
	memcpy(scratch, path, len + 1);
	nsegs = split(scratch, segs, 16);
	if (nsegs > 16)
		return NULL;
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (const struct route *r = tables[t]; r->method != NULL; r++) {
			if (!match(r->pattern, segs, nsegs, params, nparams))
				continue;
			if (strcmp(r->method, method) == 0)
				return r;
			*path_exists = 1;
		}
	*nparams = 0;
	return NULL;
}

void router_allowed_methods(const char *path, char *out, size_t cap)
{
	char scratch[1024];
	char *segs[16];
	const char *params[HTTP_MAX_PARAMS];
	size_t nparams, nsegs, used = 0;
	size_t len = strlen(path);

	out[0] = '\0';
	if (cap == 0 || len >= sizeof(scratch))
		return;
	memcpy(scratch, path, len + 1);
	if ((nsegs = split(scratch, segs, 16)) > 16)
		return;
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (const struct route *r = tables[t]; r->method != NULL; r++)
			if (match(r->pattern, segs, nsegs, params, &nparams) && used + strlen(r->method) + 3 < cap)
				used += (size_t)snprintf(out + used, cap - used, "%s%s", used ? ", " : "",
							 r->method);
}
