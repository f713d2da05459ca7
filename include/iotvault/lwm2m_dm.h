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

/* How long a caller waits for the device's answer when the request does
 * not say ([lwm2m] dm_timeout_ms sets it for the REST API). */
#define LWM2M_DM_TIMEOUT_MS 10000
/* Write-Attributes query ("pmin=10&pmax=60"), at most this long. */
#define LWM2M_DM_QUERY_MAX 192
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
	LWM2M_DM_DISCOVER,      /* GET with Accept 40 */
	LWM2M_DM_WRITE_ATTRIBUTES, /* PUT with Uri-Query, no payload */
	LWM2M_DM_OBSERVE,       /* GET with Observe 0: the answer starts an observation */
	LWM2M_DM_CANCEL_OBSERVE, /* GET with Observe 1 and the observation's token */
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
	int64_t tenant_id;                   /* OBSERVE: owner of the observation */
	char query[LWM2M_DM_QUERY_MAX + 1];  /* WRITE_ATTRIBUTES: '&'-separated */
	uint8_t token[8];                    /* CANCEL_OBSERVE: the observation's */
	size_t token_len;
	int nosec; /* the registration was made over NoSec: only then may a NoSec session carry it */
};

struct lwm2m_dm_response {
	int coap_code; /* class*32+detail, e.g. 2.05 -> 69 */
	int has_content_format;
	unsigned content_format;
	uint8_t *payload; /* malloc'd; lwm2m_dm_response_clear() frees it */
	size_t payload_len;
	int64_t observation_id; /* OBSERVE answered 2.05 with Observe: the stored observation */
	int observe_refused;    /* OBSERVE: not stored, the device has LWM2M_OBSERVATIONS_MAX */
};

/* Sends REQ and waits for the device's answer. 0 with RESP filled when the
 * device answered (any code); IV_ERR_DEVICE_TIMEOUT when it did not answer
 * in time or its session went while waiting (or the LwM2M server is not
 * running); IV_ERR_DEVICE_UNREACHABLE when the server has no session with
 * the device (e.g. after a restart, until it updates its registration);
 * IV_ERR_TOO_LARGE for a payload above LWM2M_DM_BODY_MAX. Call without
 * the service lock. */
int lwm2m_dm_send(const struct lwm2m_dm_request *req, struct lwm2m_dm_response *resp) IV_WUR;
void lwm2m_dm_response_clear(struct lwm2m_dm_response *resp);

/* "read", "write (replace)", ... for logs and audit details. */
const char *lwm2m_dm_method_name(enum lwm2m_dm_method m);
/* The audit action of M ("lwm2m.write", ...); NULL for reads and discovers,
 * which change nothing and are not audited. */
const char *lwm2m_dm_audit_action(enum lwm2m_dm_method m);

/* ---- queue mode (docs/lwm2m.md) ---- */

/* Pending held requests per device; the API answers 429 queue_full beyond. */
#define LWM2M_QUEUE_MAX 32
/* A held request not sent within this is expired. */
#define LWM2M_QUEUE_EXPIRY_MS (24LL * 3600 * 1000)
/* A finished held request's outcome can be polled this long. */
#define LWM2M_QUEUE_KEEP_MS (7LL * 24 * 3600 * 1000)
/* Tells the LwM2M server thread that a request was held (it sends held
 * requests to devices heard from within [lwm2m] queue_awake_ms at once). */
void lwm2m_queue_kick(void);

/* The type of resource PATH (depth 3 or 4) in the objects the server knows
 * (1 Server, 3 Device); LWM2M_TYPE_NONE otherwise. Usable as an
 * lwm2m_type_fn (ARG unused). */
enum lwm2m_type lwm2m_object_resource_type(const struct lwm2m_path *path, void *arg);

#endif
