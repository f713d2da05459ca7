/* What the LwM2M REST handlers share: the generic DM operation of
 * src/http/lwm2m.c and the pieces of src/http/lwm2m_observe.c it calls for
 * Discover, Write-Attributes and Observe. */
#ifndef IOTVAULT_HTTP_LWM2M_HTTP_H
#define IOTVAULT_HTTP_LWM2M_HTTP_H

#include "iotvault/http.h"
#include "iotvault/lwm2m_dm.h"

/* lwm2m.c */
/* Carries operation M on the route's /obj[/inst[/res]] to the device. */
int lwm2m_http_dm_operation(struct http_request *req, struct http_reply *rep,
			    enum lwm2m_dm_method m) IV_WUR;
/* Audit record of operation M on PATH of DEV (under the service lock). */
int lwm2m_http_dm_audit(struct http_request *req, const struct device_record *dev,
			enum lwm2m_dm_method m, const struct lwm2m_path *path, const char *outcome,
			const char *result) IV_WUR;
/* The device's CoAP answer CODE (not the expected one) as an API error. */
int lwm2m_http_coap_error(int code, struct http_reply *rep);

/* lwm2m_observe.c */
/* The Write-Attributes body ({"pmin": 10, "gt": null, ...}) as a CoAP
 * query "pmin=10&gt" in BUF; 400 with field errors for anything else. */
int lwm2m_http_attributes_query(const struct http_request *req, struct http_reply *rep,
				const struct lwm2m_path *path, char *buf, size_t cap) IV_WUR;
/* 409 refused when device DEVICE_ID has LWM2M_OBSERVATIONS_MAX observations
 * (under the service lock). */
int lwm2m_http_observe_limit(struct http_request *req, struct http_reply *rep,
			     int64_t device_id) IV_WUR;
/* A Discover answer (link-format) as {"links": [...]}. */
int lwm2m_http_discover_reply(const struct lwm2m_dm_response *resp, struct http_reply *rep) IV_WUR;
/* Adds the started observation to REP's body (a Read answer), 201; 502 when
 * the device answered without Observe. */
int lwm2m_http_observe_reply(struct http_request *req, const struct device_record *dev,
			     const struct lwm2m_dm_response *resp, struct http_reply *rep) IV_WUR;

/* lwm2m_queue.c */
/* 429 queue_full when device DEVICE_ID has LWM2M_QUEUE_MAX held requests
 * (under the service lock). */
int lwm2m_http_queue_limit(struct http_request *req, struct http_reply *rep,
			   int64_t device_id) IV_WUR;
/* Holds DMR for the queue-mode device DEV: 202 {"request": {...}}. Takes the
 * service lock. */
int lwm2m_http_hold(struct http_request *req, struct http_reply *rep,
		    const struct device_record *dev, const struct lwm2m_dm_request *dmr) IV_WUR;

/* lwm2m_dm_gate.c */
/* A place among the requests waiting for a device (tenant TENANT_ID): 0, or
 * 503 busy with Retry-After when [lwm2m] dm_waits / dm_waits_per_tenant are
 * taken (REP may be NULL: no message). Every 0 is paired with lwm2m_http_dm_leave(). */
int lwm2m_http_dm_enter(struct http_request *req, struct http_reply *rep, int64_t tenant_id) IV_WUR;
void lwm2m_http_dm_leave(int64_t tenant_id);

#endif
