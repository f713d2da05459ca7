/* Storage operation of the LwM2M re-bootstrap scheduler (src/lwm2m/
 * rebootstrap.c): which registered devices hold an ACTIVE DM credential older
 * than a bound. Reached as st->ops->lwm2m_rebootstrap->... */
#ifndef IOTVAULT_STORE_LWM2M_REBOOTSTRAP_H
#define IOTVAULT_STORE_LWM2M_REBOOTSTRAP_H

#include "iotvault/store.h"

struct lwm2m_rebootstrap_candidate {
	int64_t tenant_id;
	int64_t device_id;
	int64_t credential_id;
	int64_t activated_at; /* ms since the epoch */
};

typedef int (*store_lwm2m_rebootstrap_cb)(void *ctx,
					  const struct lwm2m_rebootstrap_candidate *c);

struct store_lwm2m_rebootstrap_ops {
	/* Devices with device_id > AFTER_DEVICE_ID, in device_id order, at most
	 * LIMIT, whose registration is live at NOW_MS (not expired), was made
	 * over DTLS with a DM credential, and whose credential is active and was
	 * activated at or before ACTIVATED_BEFORE_MS. */
	int (*candidates)(struct store *st, int64_t now_ms, int64_t activated_before_ms,
			  int64_t after_device_id, int limit, store_lwm2m_rebootstrap_cb cb,
			  void *ctx);
};

#endif
