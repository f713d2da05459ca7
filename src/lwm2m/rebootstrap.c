/* Re-bootstrap of LwM2M devices (rotation of their DM credential): the
 * trigger (Execute /1/0/9 through lwm2m_dm_send, audited before and after)
 * and the scheduler thread of [lwm2m] rebootstrap_after_s. The trigger waits
 * for the device's answer, so it runs on the caller's thread (the REST
 * handler) or on the scheduler's own thread, never on the LwM2M server
 * thread that carries the request. */
#include "iotvault/lwm2m_rebootstrap.h"
#include "iotvault/log.h"
#include "iotvault/lwm2m_dm.h"
#include "iotvault/store_lwm2m.h"
#include "iotvault/store_lwm2m_rebootstrap.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COAP_CHANGED (2 * 32 + 4)
/* devices looked at per query; the rest wait for the next second */
#define CANDIDATE_BATCH LWM2M_REBOOTSTRAP_PER_S
/* recent triggers remembered for the hold; enough for PER_S * HOLD_S */
#define RECENT_MAX 512
_Static_assert(RECENT_MAX >= LWM2M_REBOOTSTRAP_PER_S * LWM2M_REBOOTSTRAP_HOLD_S,
	       "the hold table must hold every trigger of one hold period");

struct recent {
	int64_t device_id;
	int64_t at_ms;
};

struct lwm2m_rebootstrap {
	struct service *svc;
	pthread_t thread;
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	atomic_int stop;
	int64_t cursor; /* last device_id looked at in this round */
	struct recent recent[RECENT_MAX];
	size_t recent_next;
};

static int rb_audit(struct service *svc, const struct audit_actor *actor, int64_t tenant_id,
		    int64_t device_id, const char *outcome, const char *detail)
{
	char object[48];
	struct audit_event ev;
	snprintf(object, sizeof(object), "device:%lld", (long long)device_id);
	ev = (struct audit_event){tenant_id, "lwm2m.rebootstrap", object, outcome, detail};
	return audit_append_now(svc->v, actor, &ev);
}

int lwm2m_rebootstrap_device(struct service *svc, const struct audit_actor *actor,
			     int64_t tenant_id, int64_t device_id, const char *reason,
			     int timeout_ms, int *coap_code, const char **why)
{
	struct store *st = svc->st;
	struct device_selector sel = {0};
	struct device_record dev;
	struct lwm2m_registration_record reg;
	struct lwm2m_dm_request dmr;
	struct lwm2m_dm_response resp = {0};
	const char *explain = NULL;
	char detail[160];
	int r, audited = 0;

	*coap_code = 0;
	sel.id = device_id;
	service_lock(svc);
	if ((r = st->ops->device_get(st, tenant_id, &sel, &dev)) != 0) {
		explain = r == IV_ERR_NOT_FOUND ? "no such device" : NULL;
		goto unlock;
	}
	if (strcmp(dev.kind, "lwm2m") != 0) {
		explain = "not an LwM2M device";
		r = IV_ERR_NOT_FOUND;
		goto unlock;
	}
	r = st->ops->lwm2m->registration_get(st, dev.id, &reg);
	if (r == 0 && reg.expires_at <= store_now_ms())
		r = IV_ERR_NOT_FOUND;
	if (r != 0) {
		if (r == IV_ERR_NOT_FOUND)
			explain = "the device is not registered with the DM server: it can only be "
				  "told to bootstrap while registered";
		goto unlock;
	}
	if (strcmp(reg.security, "psk") != 0 || reg.credential_id == 0) {
		explain = "the device registered without a DM credential (NoSec, RPK or X.509): "
			  "there is none to rotate";
		r = IV_ERR_REFUSED;
		goto unlock;
	}
	/* audited before it is sent: no record, no trigger */
	snprintf(detail, sizeof(detail), "reason %s: execute /1/%d/%d (Bootstrap-Request Trigger)",
		 reason, LWM2M_REBOOTSTRAP_SERVER_INSTANCE, LWM2M_REBOOTSTRAP_RESOURCE);
	if ((r = rb_audit(svc, actor, dev.tenant_id, dev.id, "started", detail)) != 0)
		goto unlock;
	audited = 1;
unlock:
	service_unlock(svc);
	if (r != 0)
		goto out;

	memset(&dmr, 0, sizeof(dmr));
	dmr.device_id = dev.id;
	snprintf(dmr.address, sizeof(dmr.address), "%s", reg.address);
	dmr.nosec = strcmp(reg.security, "nosec") == 0;
	dmr.method = LWM2M_DM_EXECUTE;
	dmr.path = lwm2m_path_resource(1, LWM2M_REBOOTSTRAP_SERVER_INSTANCE,
				       LWM2M_REBOOTSTRAP_RESOURCE);
	dmr.timeout_ms = timeout_ms;
	if ((r = lwm2m_dm_send(&dmr, &resp)) != 0) {
		explain = "the device did not answer in time (or has no session with the server)";
		goto out;
	}
	*coap_code = resp.coap_code;
	if (resp.coap_code != COAP_CHANGED) {
		explain = "the device refused the Bootstrap-Request Trigger";
		r = IV_ERR_DEVICE_ERROR;
		goto out;
	}
	/* success */
	r = 0;
out:
	if (audited) {
		int ra;
		if (r == 0)
			snprintf(detail, sizeof(detail), "reason %s: device answered 2.04; it is to "
				 "bootstrap now", reason);
		else if (*coap_code != 0)
			snprintf(detail, sizeof(detail), "reason %s: device answered %d.%02d", reason,
				 *coap_code >> 5, *coap_code & 31);
		else
			snprintf(detail, sizeof(detail), "reason %s: %s", reason, iv_error_name(r));
		service_lock(svc);
		ra = rb_audit(svc, actor, dev.tenant_id, dev.id, r == 0 ? "success" : "failure",
			      detail);
		service_unlock(svc);
		if (ra != 0)
			log_error("lwm2m: the outcome of a re-bootstrap could not be audited");
	}
	if (r == 0)
		log_info("lwm2m: re-bootstrap (%s) of device %lld triggered", reason,
			 (long long)device_id);
	else if (audited)
		log_warning("lwm2m: re-bootstrap (%s) of device %lld failed: %s", reason,
			    (long long)device_id, explain ? explain : iv_error_message(r));
	lwm2m_dm_response_clear(&resp);
	if (why != NULL)
		*why = explain;
	return r;
}

/* ---- the scheduler ---- */

static int held(const struct lwm2m_rebootstrap *rb, int64_t device_id, int64_t now)
{
	for (size_t i = 0; i < RECENT_MAX; i++)
		if (rb->recent[i].device_id == device_id &&
		    now - rb->recent[i].at_ms < (int64_t)LWM2M_REBOOTSTRAP_HOLD_S * 1000)
			return 1;
	return 0;
}

struct batch {
	struct lwm2m_rebootstrap_candidate c[CANDIDATE_BATCH];
	size_t n;
};

static int collect(void *ctx, const struct lwm2m_rebootstrap_candidate *c)
{
	struct batch *b = ctx;
	if (b->n < CANDIDATE_BATCH)
		b->c[b->n++] = *c;
	return 0;
}

/* One second's work: up to PER_S triggers for the next devices of the round. */
static void tick(struct lwm2m_rebootstrap *rb)
{
	struct service *svc = rb->svc;
	struct store *st = svc->st;
	const struct audit_actor actor = {"system", "lwm2m-rebootstrap", "scheduler"};
	int64_t now = store_now_ms();
	int64_t before = now - (int64_t)svc->cfg.lwm2m_rebootstrap_after_s * 1000;
	int sent = 0, r;

	while (sent < LWM2M_REBOOTSTRAP_PER_S && !atomic_load(&rb->stop)) {
		struct batch b = {.n = 0};
		service_lock(svc);
		r = st->ops->lwm2m_rebootstrap->candidates(st, now, before, rb->cursor,
							  CANDIDATE_BATCH, collect, &b);
		service_unlock(svc);
		if (r != 0) {
			log_error("lwm2m: re-bootstrap candidates: %s", iv_error_message(r));
			return;
		}
		if (b.n == 0) {
			rb->cursor = 0; /* the round is over; the next starts next second */
			return;
		}
		for (size_t i = 0; i < b.n && sent < LWM2M_REBOOTSTRAP_PER_S; i++) {
			int code;
			rb->cursor = b.c[i].device_id;
			if (held(rb, b.c[i].device_id, now) || atomic_load(&rb->stop))
				continue;
			rb->recent[rb->recent_next] = (struct recent){b.c[i].device_id, now};
			rb->recent_next = (rb->recent_next + 1) % RECENT_MAX;
			sent++;
			/* a failure is audited and logged there; the device is
			 * tried again after the hold */
			if (lwm2m_rebootstrap_device(svc, &actor, b.c[i].tenant_id, b.c[i].device_id,
						     LWM2M_REBOOTSTRAP_SCHEDULED,
						     LWM2M_REBOOTSTRAP_TIMEOUT_MS, &code, NULL) != 0)
				continue;
		}
	}
}

static void *scheduler_main(void *arg)
{
	struct lwm2m_rebootstrap *rb = arg;
	while (!atomic_load(&rb->stop)) {
		struct timespec deadline;
		int64_t started = store_now_ms();
		tick(rb);
		/* the rest of the second, so PER_S is a rate, however quick the
		 * devices answered */
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		{
			int64_t wait_ms = 1000 - (store_now_ms() - started);
			if (wait_ms < 10)
				wait_ms = 10;
			deadline.tv_sec += wait_ms / 1000;
			deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
			if (deadline.tv_nsec >= 1000000000L) {
				deadline.tv_sec++;
				deadline.tv_nsec -= 1000000000L;
			}
		}
		pthread_mutex_lock(&rb->mutex);
		while (!atomic_load(&rb->stop))
			if (pthread_cond_timedwait(&rb->cond, &rb->mutex, &deadline) == ETIMEDOUT)
				break;
		pthread_mutex_unlock(&rb->mutex);
	}
	return NULL;
}

int lwm2m_rebootstrap_start(struct service *svc, struct lwm2m_rebootstrap **out)
{
	struct lwm2m_rebootstrap *rb;
	pthread_condattr_t attr;
	int r;

	*out = NULL;
	if (svc->cfg.lwm2m_rebootstrap_after_s <= 0)
		return 0;
	if ((rb = calloc(1, sizeof(*rb))) == NULL)
		return IV_ERR_NOMEM;
	rb->svc = svc;
	atomic_init(&rb->stop, 0);
	pthread_mutex_init(&rb->mutex, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&rb->cond, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&rb->thread, NULL, scheduler_main, rb) != 0) {
		r = IV_ERR_NOMEM;
		goto fail;
	}
	log_info("lwm2m: re-bootstrap of DM credentials older than %d s (at most %d per second)",
		 svc->cfg.lwm2m_rebootstrap_after_s, LWM2M_REBOOTSTRAP_PER_S);
	*out = rb;
	return 0;
fail:
	pthread_cond_destroy(&rb->cond);
	pthread_mutex_destroy(&rb->mutex);
	free(rb);
	return r;
}

void lwm2m_rebootstrap_stop(struct lwm2m_rebootstrap *rb)
{
	if (rb == NULL)
		return;
	pthread_mutex_lock(&rb->mutex);
	atomic_store(&rb->stop, 1);
	pthread_cond_signal(&rb->cond);
	pthread_mutex_unlock(&rb->mutex);
	pthread_join(rb->thread, NULL);
	pthread_cond_destroy(&rb->cond);
	pthread_mutex_destroy(&rb->mutex);
	free(rb);
}
