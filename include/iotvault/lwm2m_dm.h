/* Device-Management operations of the LwM2M server (LwM2M 1.0/1.1 section
 * 5.4): the server acts as a CoAP client towards a registered device, over
 * the DTLS (or NoSec) session the device registered on. A caller on another
 * thread (the REST API) hands a request to the server thread, which sends
 * it and correlates the answer by token; the caller waits, with a bound,
 * without holding the service lock. Also the small object model the server
 * knows (resource types of the core objects), so TLV values can be typed. */
#ifndef IOTVAULT_LWM2M_DM_H
#define IOTVAULT_LWM2M_DM_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/errors.h"
#include "iotvault/lwm2m_content.h"
#include "iotvault/store_lwm2m.h"

/* How long a caller waits for the device's answer. */
#define LWM2M_DM_TIMEOUT_MS 10000
/* Largest encoded Write/Create the REST API sends (records are bounded by
 * LWM2M_RECORDS_MAX and LWM2M_VALUE_MAX too). A payload above one CoAP
 * message goes block-wise (RFC 7959 Block1, libcoap's own transfer). */
#define LWM2M_DM_REQUEST_MAX 65536u
/* Largest payload lwm2m_dm_send() takes at all: firmware images pushed to
 * /5/0/0 ([lwm2m] firmware_max_bytes is at most this). */
#define LWM2M_DM_BODY_MAX (64u * 1024 * 1024)

enum lwm2m_dm_method {
	LWM2M_DM_READ,          /* GET with Accept */
	LWM2M_DM_WRITE_REPLACE, /* PUT */
	LWM2M_DM_WRITE_UPDATE,  /* POST to an instance */
	LWM2M_DM_EXECUTE,       /* POST to a resource */
	LWM2M_DM_CREATE,        /* POST to an object */
	LWM2M_DM_DELETE,        /* DELETE of an instance */
};

struct lwm2m_dm_request {
	/* the registration the request is for: the session that made it (its
	 * remote address and, over DTLS, its device) carries the request */
	int64_t device_id;
	char address[LWM2M_ADDRESS_MAX + 1];
	enum lwm2m_dm_method method;
	struct lwm2m_path path;
	unsigned accept;         /* READ: content format asked for */
	unsigned content_format; /* payload's, when PAYLOAD_LEN > 0 */
	const uint8_t *payload;
	size_t payload_len;
	int timeout_ms; /* 0: LWM2M_DM_TIMEOUT_MS */
};

struct lwm2m_dm_response {
	int coap_code; /* class*32+detail, e.g. 2.05 -> 69 */
	int has_content_format;
	unsigned content_format;
	uint8_t *payload; /* malloc'd; lwm2m_dm_response_clear() frees it */
	size_t payload_len;
};

/* Sends REQ and waits for the device's answer. 0 with RESP filled when the
 * device answered (any code); IV_ERR_DEVICE_TIMEOUT when it did not answer
 * in time or its session is gone (or the LwM2M server is not running);
 * IV_ERR_TOO_LARGE for a payload above LWM2M_DM_BODY_MAX. Call without
 * the service lock. */
int lwm2m_dm_send(const struct lwm2m_dm_request *req, struct lwm2m_dm_response *resp) IV_WUR;
void lwm2m_dm_response_clear(struct lwm2m_dm_response *resp);

/* The type of resource PATH (depth 3 or 4) in the objects the server knows
 * (1 Server, 3 Device); LWM2M_TYPE_NONE otherwise. Usable as an
 * lwm2m_type_fn (ARG unused). */
enum lwm2m_type lwm2m_object_resource_type(const struct lwm2m_path *path, void *arg);

#endif
