/* A bound on REST requests waiting for a device. A DM request holds its
 * libmicrohttpd worker thread until the device answers or [lwm2m]
 * dm_timeout_ms passes, and the API has only [http] threads of them: a few
 * reads of a device that never answers would stall every connection
 * (logins, ingest, other tenants). So at most [lwm2m] dm_waits requests
 * wait at once (by default one below the thread count: a thread always
 * stays for the rest), at most [lwm2m] dm_waits_per_tenant of one tenant
 * (by default one below that: one tenant cannot take them all); beyond
 * that the API answers 503 busy with Retry-After at once. Firmware jobs
 * and the server's own re-bootstraps wait on their own threads: not
 * counted. */
#include "http/lwm2m_http.h"

#include <pthread.h>
#include <stdio.h>

#define GATE_SLOTS 64 /* > the largest [http] threads, so > any global bound */

static pthread_mutex_t gate_mutex = PTHREAD_MUTEX_INITIALIZER;
static int gate_total;
static struct {
	int64_t tenant_id;
	int waits; /* 0: free slot */
} gate_tenants[GATE_SLOTS];

static int limit_total(const struct config *cfg)
{
	if (cfg->lwm2m_dm_waits > 0)
		return cfg->lwm2m_dm_waits;
	return cfg->http_threads > 1 ? cfg->http_threads - 1 : 1;
}

static int limit_tenant(const struct config *cfg)
{
	int total = limit_total(cfg);
	if (cfg->lwm2m_dm_waits_per_tenant > 0)
		return cfg->lwm2m_dm_waits_per_tenant;
	return total > 1 ? total - 1 : 1;
}

int lwm2m_http_dm_enter(struct http_request *req, struct http_reply *rep, int64_t tenant_id)
{
	int free_slot = -1, slot = -1, r = 0;
	char retry[16];

	pthread_mutex_lock(&gate_mutex);
	for (int i = 0; i < GATE_SLOTS; i++) {
		if (gate_tenants[i].waits > 0 && gate_tenants[i].tenant_id == tenant_id)
			slot = i;
		else if (gate_tenants[i].waits == 0 && free_slot < 0)
			free_slot = i;
	}
	if (slot < 0)
		slot = free_slot;
	if (gate_total >= limit_total(&req->svc->cfg) || slot < 0 ||
	    gate_tenants[slot].waits >= limit_tenant(&req->svc->cfg)) {
		r = IV_ERR_BUSY;
	} else {
		gate_tenants[slot].tenant_id = tenant_id;
		gate_tenants[slot].waits++;
		gate_total++;
	}
	pthread_mutex_unlock(&gate_mutex);
	if (r != 0 && rep != NULL) {
		rep->error_message = "too many requests are waiting for devices: try again later";
		/* the longest a waiting request can take */
		snprintf(retry, sizeof(retry), "%d", (req->svc->cfg.lwm2m_dm_timeout_ms + 999) / 1000);
		if (http_reply_header(rep, "Retry-After", retry) != 0)
			rep->error_message = "too many requests are waiting for devices";
	}
	return r;
}

void lwm2m_http_dm_leave(int64_t tenant_id)
{
	pthread_mutex_lock(&gate_mutex);
	for (int i = 0; i < GATE_SLOTS; i++)
		if (gate_tenants[i].waits > 0 && gate_tenants[i].tenant_id == tenant_id) {
			gate_tenants[i].waits--;
			gate_total--;
			break;
		}
	pthread_mutex_unlock(&gate_mutex);
}
