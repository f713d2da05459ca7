/* LwM2M observations (LwM2M 1.1 section 5.4.6, RFC 7641): what the REST
 * API and the server thread share about them: decoded records as JSON (the
 * shape of a Read's answer, of a stored notification and of the message
 * published for it) and the freshness rule for notifications. */
#ifndef IOTVAULT_LWM2M_OBSERVE_H
#define IOTVAULT_LWM2M_OBSERVE_H

#include <jansson.h>
#include <stdint.h>

#include "iotvault/lwm2m_content.h"

/* the outbox event (MQTT topic suffix, webhook event) of a notification */
#define LWM2M_NOTIFY_EVENT "notify"
/* observations per device; the API answers 409 refused beyond */
#define LWM2M_OBSERVATIONS_MAX 32
/* [{"path": "/3/0", "attributes": {"pmin": 10, "obs": null, "rt": "x"}}, ...]:
 * plain decimal values as numbers. NULL when out of memory. */
json_t *lwm2m_links_to_json(const struct lwm2m_links *links);

/* RFC 7641 section 3.4: a notification older than this is fresh whatever
 * its sequence number */
#define LWM2M_OBSERVE_STALE_MS 128000

/* [{"path", "type", "value"}, ...]; opaque values as base64, object links
 * as "obj:inst". NULL when out of memory. */
json_t *lwm2m_records_to_json(const struct lwm2m_records *recs);

/* [{"path": "/3/0", "attributes": {"pmin": 10, "obs": null, "rt": "x"}}, ...]:
 * plain decimal values as numbers. NULL when out of memory. */
json_t *lwm2m_links_to_json(const struct lwm2m_links *links);

/* RFC 7641 section 3.4: 1 when a notification with Observe value SEQ
 * (24 bits) received at NOW_MS is newer than the last one (LAST_SEQ at
 * LAST_MS); 0 when it is older and must be dropped. */
int lwm2m_observe_fresh(int64_t last_seq, int64_t last_ms, int64_t seq, int64_t now_ms);

#endif
