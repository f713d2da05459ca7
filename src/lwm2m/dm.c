/* Device-Management requests from the server to registered devices. A
 * caller thread (the REST API) queues a request and waits on its own
 * condition variable; the server thread sends it as a confirmable CoAP
 * request on the session the device registered on, and the response, a
 * NACK or the session's end completes it. The queue lives outside the
 * server struct, under one leaf mutex, so that a caller that gave up (its
 * wait timed out) never touches server memory: an abandoned request is freed
 * by the server thread when it completes or when it is reaped. */
#include "lwm2m/lwm2m_internal.h"
#include "iotvault/log.h"
#include "iotvault/lwm2m_dm.h"
#include "iotvault/lwm2m_observe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* an abandoned request whose device never answered is dropped after this */
#define DM_REAP_AFTER_MS 120000

enum dm_state {
	DM_QUEUED,
	DM_SENT,
	DM_DONE,
};

struct dm_pending {
	struct lwm2m_dm_request req; /* req.payload points to PAYLOAD */
	uint8_t *payload;
	enum dm_state state;
	int abandoned; /* the caller stopped waiting */
	int answered;  /* DONE with the device's answer in RESP */
	int unreachable; /* DONE unsent: no session with the device */
	int observing;   /* OBSERVE: the observation has been stored */
	int64_t held_id; /* a held request's row: no caller waits; see lwm2m_dm_held_pop() */
	/* inside coap_send(): a NACK or session end raised there only marks it
	 * (SEND_FAILED); the sender completes it once coap_send() returned */
	int sending;
	int send_failed;
	coap_session_t *session;
	uint8_t token[8];
	size_t token_len;
	int64_t queued_ms;
	struct lwm2m_dm_response resp;
	pthread_cond_t cond;
	struct dm_pending *next;
};

static pthread_mutex_t dm_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct lwm2m_server *dm_server; /* the running server, if any */
static struct dm_pending *dm_list;
static struct dm_pending *dm_held_done; /* finished held requests, for the queue */

void lwm2m_dm_response_clear(struct lwm2m_dm_response *resp)
{
	if (resp == NULL)
		return;
	if (resp->payload != NULL) {
		secmem_wipe(resp->payload, resp->payload_len);
		free(resp->payload);
	}
	memset(resp, 0, sizeof(*resp));
}

static void pending_free(struct dm_pending *p)
{
	if (p == NULL)
		return;
	if (p->payload != NULL) {
		secmem_wipe(p->payload, p->req.payload_len);
		free(p->payload);
	}
	lwm2m_dm_response_clear(&p->resp);
	pthread_cond_destroy(&p->cond);
	free(p);
}

/* Under dm_mutex. */
static void unlink_pending(struct dm_pending *p)
{
	for (struct dm_pending **q = &dm_list; *q != NULL; q = &(*q)->next)
		if (*q == p) {
			*q = p->next;
			break;
		}
	p->next = NULL;
}

/* Under dm_mutex: hands P to its caller, or frees it when the caller left. */
static void complete(struct dm_pending *p, int answered)
{
	if (p->sending) {
		p->send_failed = 1;
		return;
	}
	if (p->held_id != 0) {
		unlink_pending(p);
		p->state = DM_DONE;
		p->answered = answered;
		p->next = dm_held_done;
		dm_held_done = p;
		return;
	}
	if (p->abandoned) {
		unlink_pending(p);
		pending_free(p);
		return;
	}
	p->state = DM_DONE;
	p->answered = answered;
	pthread_cond_signal(&p->cond);
}

void lwm2m_dm_attach(struct lwm2m_server *srv)
{
	pthread_mutex_lock(&dm_mutex);
	dm_server = srv;
	pthread_mutex_unlock(&dm_mutex);
}

void lwm2m_dm_detach(struct lwm2m_server *srv)
{
	struct dm_pending *p, *next;
	pthread_mutex_lock(&dm_mutex);
	if (dm_server == srv) {
		dm_server = NULL;
		for (p = dm_list; p != NULL; p = next) {
			next = p->next;
			if (p->state != DM_DONE)
				complete(p, 0);
		}
		/* their rows stay "sent"; the next start marks them failed */
		while ((p = dm_held_done) != NULL) {
			dm_held_done = p->next;
			pending_free(p);
		}
	}
	pthread_mutex_unlock(&dm_mutex);
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A pending copy of REQ (its payload copied too); NULL when out of memory. */
static struct dm_pending *pending_new(const struct lwm2m_dm_request *req)
{
	struct dm_pending *p;
	pthread_condattr_t attr;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->req = *req;
	if (req->payload_len > 0) {
		if ((p->payload = malloc(req->payload_len)) == NULL) { /* lint:not-secret */
			free(p);
			return NULL;
		}
		memcpy(p->payload, req->payload, req->payload_len);
	}
	p->req.payload = p->payload;
	p->queued_ms = monotonic_ms();
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &attr);
	pthread_condattr_destroy(&attr);
	return p;
}

int lwm2m_dm_send(const struct lwm2m_dm_request *req, struct lwm2m_dm_response *resp)
{
	struct dm_pending *p;
	struct timespec deadline;
	int timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : LWM2M_DM_TIMEOUT_MS, r;

	memset(resp, 0, sizeof(*resp));
	if (req->payload_len > LWM2M_DM_BODY_MAX)
		return IV_ERR_TOO_LARGE;
	if ((p = pending_new(req)) == NULL)
		return IV_ERR_NOMEM;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}

	pthread_mutex_lock(&dm_mutex);
	if (dm_server == NULL) {
		pthread_mutex_unlock(&dm_mutex);
		pending_free(p);
		return IV_ERR_DEVICE_TIMEOUT;
	}
	p->state = DM_QUEUED;
	p->next = dm_list;
	dm_list = p;
	while (p->state != DM_DONE)
		if (pthread_cond_timedwait(&p->cond, &dm_mutex, &deadline) == ETIMEDOUT)
			break;
	if (p->state != DM_DONE) {
		/* the server thread frees it when the answer, a NACK or the
		 * reaper comes */
		p->abandoned = 1;
		pthread_mutex_unlock(&dm_mutex);
		return IV_ERR_DEVICE_TIMEOUT;
	}
	unlink_pending(p);
	pthread_mutex_unlock(&dm_mutex);
	if (p->answered) {
		*resp = p->resp;
		memset(&p->resp, 0, sizeof(p->resp));
		r = 0;
	} else
		r = p->unreachable ? IV_ERR_DEVICE_UNREACHABLE : IV_ERR_DEVICE_TIMEOUT;
	pending_free(p);
	return r;
}

static int send_request(coap_session_t *session, struct dm_pending *p);

int lwm2m_dm_send_held(coap_session_t *session, const struct lwm2m_dm_request *req,
		       int64_t held_id)
{
	struct dm_pending *p;
	int r;
	if (req->payload_len > LWM2M_DM_REQUEST_MAX)
		return IV_ERR_TOO_LARGE;
	if ((p = pending_new(req)) == NULL)
		return IV_ERR_NOMEM;
	p->held_id = held_id;
	p->state = DM_SENT;
	p->session = session;
	p->sending = 1;
	/* linked before it is sent: a NACK raised inside coap_send() finds it */
	pthread_mutex_lock(&dm_mutex);
	p->next = dm_list;
	dm_list = p;
	pthread_mutex_unlock(&dm_mutex);
	r = send_request(session, p);
	pthread_mutex_lock(&dm_mutex);
	p->sending = 0;
	if (r == 0 && p->send_failed)
		r = IV_ERR_IO; /* NACKed or the session went inside coap_send() */
	if (r != 0) {
		unlink_pending(p);
		pthread_mutex_unlock(&dm_mutex);
		pending_free(p);
		return r;
	}
	pthread_mutex_unlock(&dm_mutex);
	return 0;
}

int lwm2m_dm_held_pop(int64_t *held_id, coap_session_t **session, int *answered,
		      struct lwm2m_dm_request *req, struct lwm2m_dm_response *resp)
{
	struct dm_pending *p;
	pthread_mutex_lock(&dm_mutex);
	if ((p = dm_held_done) != NULL)
		dm_held_done = p->next;
	pthread_mutex_unlock(&dm_mutex);
	if (p == NULL)
		return 0;
	*held_id = p->held_id;
	*session = p->session;
	*answered = p->answered;
	*req = p->req;
	req->payload = NULL;
	req->payload_len = 0;
	*resp = p->resp;
	memset(&p->resp, 0, sizeof(p->resp));
	pending_free(p);
	return 1;
}

const char *lwm2m_dm_method_name(enum lwm2m_dm_method m)
{
	switch (m) {
	case LWM2M_DM_READ: return "read";
	case LWM2M_DM_WRITE_REPLACE: return "write (replace)";
	case LWM2M_DM_WRITE_UPDATE: return "write (partial update)";
	case LWM2M_DM_EXECUTE: return "execute";
	case LWM2M_DM_CREATE: return "create";
	case LWM2M_DM_DELETE: return "delete";
	case LWM2M_DM_DISCOVER: return "discover";
	case LWM2M_DM_WRITE_ATTRIBUTES: return "write-attributes";
	case LWM2M_DM_OBSERVE: return "observe";
	case LWM2M_DM_CANCEL_OBSERVE: return "cancel observation";
	}
	return "?";
}

const char *lwm2m_dm_audit_action(enum lwm2m_dm_method m)
{
	switch (m) {
	case LWM2M_DM_WRITE_REPLACE:
	case LWM2M_DM_WRITE_UPDATE: return "lwm2m.write";
	case LWM2M_DM_EXECUTE: return "lwm2m.execute";
	case LWM2M_DM_CREATE: return "lwm2m.create";
	case LWM2M_DM_DELETE: return "lwm2m.delete";
	case LWM2M_DM_WRITE_ATTRIBUTES: return "lwm2m.write_attributes";
	case LWM2M_DM_OBSERVE: return "lwm2m.observe";
	case LWM2M_DM_CANCEL_OBSERVE: return "lwm2m.observe.cancel";
	case LWM2M_DM_READ:
	case LWM2M_DM_DISCOVER: break;
	}
	return NULL;
}

/* The session DEVICE_ID registered on from ADDRESS: an authenticated DM
 * session of that device whose cipher passed the policy, or a NoSec one. */
static coap_session_t *session_for(struct lwm2m_server *srv, const struct lwm2m_dm_request *req)
{
	for (struct lwm2m_session *ls = srv->sessions; ls != NULL; ls = ls->next_session) {
		if (strcmp(ls->address, req->address) != 0)
			continue;
		/* a NoSec session at the address of a DTLS registration is anyone's */
		if (ls->listener == LW_LISTENER_NOSEC) {
			if (req->nosec)
				return ls->session;
			continue;
		}
		if (ls->listener == LW_LISTENER_DM && ls->authenticated && ls->cipher_checked &&
		    ls->owner.kind == LWM2M_CREDENTIAL_DM && ls->owner.device_id == req->device_id) {
			/* an RPK/X.509 session whose key or CA went since is not used */
			int current;
			service_lock(srv->svc);
			current = lwm2m_pki_session_current(srv, ls);
			service_unlock(srv->svc);
			return current ? ls->session : NULL;
		}
	}
	return NULL;
}

static coap_pdu_code_t method_code(enum lwm2m_dm_method m)
{
	switch (m) {
	case LWM2M_DM_READ:
	case LWM2M_DM_DISCOVER:
	case LWM2M_DM_OBSERVE:
	case LWM2M_DM_CANCEL_OBSERVE: return COAP_REQUEST_CODE_GET;
	case LWM2M_DM_WRITE_REPLACE:
	case LWM2M_DM_WRITE_ATTRIBUTES: return COAP_REQUEST_CODE_PUT;
	case LWM2M_DM_DELETE: return COAP_REQUEST_CODE_DELETE;
	case LWM2M_DM_WRITE_UPDATE:
	case LWM2M_DM_EXECUTE:
	case LWM2M_DM_CREATE: return COAP_REQUEST_CODE_POST;
	}
	return COAP_REQUEST_CODE_GET;
}

/* A request body handed to libcoap for a (possibly block-wise) transfer. */
struct dm_body {
	size_t len;
	uint8_t data[];
};

/* libcoap's release callback for a body handed to it: the transfer ended. */
static void release_body(coap_session_t *session, void *app_ptr)
{
	struct dm_body *b = app_ptr;
	(void)session;
	secmem_wipe(b->data, b->len);
	free(b);
}

/* Sends P on SESSION; fills its token. Runs on the server thread. A body
 * above one message goes block-wise (Block1) by libcoap, from a copy libcoap
 * owns until the transfer ends: the pending request may be freed before. */
static int send_request(coap_session_t *session, struct dm_pending *p)
{
	const struct lwm2m_dm_request *req = &p->req;
	coap_pdu_t *pdu;
	uint8_t opt[4];
	char seg[8];

	if (req->method == LWM2M_DM_CANCEL_OBSERVE) {
		/* libcoap's cancel re-uses the state it kept for the observe
		 * request; without it (e.g. after a restart) a GET Observe=1 of
		 * our own carries the token */
		coap_binary_t tok = {req->token_len, (uint8_t *)req->token};
		memcpy(p->token, req->token, req->token_len);
		p->token_len = req->token_len;
		if (coap_cancel_observe(session, &tok, COAP_MESSAGE_CON))
			return 0;
	}
	pdu = coap_pdu_init(COAP_MESSAGE_CON, method_code(req->method),
			    coap_new_message_id(session), coap_session_max_pdu_size(session));
	if (pdu == NULL)
		return IV_ERR_NOMEM;
	if (req->method != LWM2M_DM_CANCEL_OBSERVE)
		coap_session_new_token(session, &p->token_len, p->token);
	if (!coap_add_token(pdu, p->token_len, p->token))
		goto fail;
	/* options in ascending number: Observe 6, Uri-Path 11, Content-Format
	 * 12, Uri-Query 15, Accept 17 */
	if ((req->method == LWM2M_DM_OBSERVE || req->method == LWM2M_DM_CANCEL_OBSERVE) &&
	    coap_add_option(pdu, COAP_OPTION_OBSERVE,
			    coap_encode_var_safe(opt, sizeof(opt),
						 req->method == LWM2M_DM_OBSERVE ? COAP_OBSERVE_ESTABLISH
										 : COAP_OBSERVE_CANCEL),
			    opt) == 0)
		goto fail;
	for (uint8_t i = 0; i < req->path.depth; i++) {
		int n = snprintf(seg, sizeof(seg), "%u", (unsigned)req->path.id[i]);
		if (coap_add_option(pdu, COAP_OPTION_URI_PATH, (size_t)n, (const uint8_t *)seg) == 0)
			goto fail;
	}
	/* Execute arguments carry no content format */
	if (req->payload_len > 0 && req->method != LWM2M_DM_EXECUTE &&
	    coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT,
			    coap_encode_var_safe(opt, sizeof(opt), req->content_format), opt) == 0)
		goto fail;
	if (req->method == LWM2M_DM_WRITE_ATTRIBUTES) {
		const char *q = req->query;
		while (*q != '\0') {
			size_t n = strcspn(q, "&");
			if (n > 0 && coap_add_option(pdu, COAP_OPTION_URI_QUERY, n, (const uint8_t *)q) == 0)
				goto fail;
			q += n;
			if (*q == '&')
				q++;
		}
	}
	if ((req->method == LWM2M_DM_READ || req->method == LWM2M_DM_DISCOVER ||
	     req->method == LWM2M_DM_OBSERVE || req->method == LWM2M_DM_CANCEL_OBSERVE) &&
	    coap_add_option(pdu, COAP_OPTION_ACCEPT, coap_encode_var_safe(opt, sizeof(opt), req->accept),
			    opt) == 0)
		goto fail;
	if (req->payload_len > 0) {
		struct dm_body *b = malloc(sizeof(*b) + req->payload_len); /* lint:not-secret */
		if (b == NULL) {
			coap_delete_pdu(pdu);
			return IV_ERR_NOMEM;
		}
		b->len = req->payload_len;
		memcpy(b->data, req->payload, req->payload_len);
		/* libcoap 4.3.1 calls release_body on its failure paths too */
		if (!coap_add_data_large_request(session, pdu, b->len, b->data, release_body, b))
			goto fail;
	}
	if (coap_send(session, pdu) == COAP_INVALID_MID)
		return IV_ERR_IO;
	return 0;
fail:
	coap_delete_pdu(pdu);
	return IV_ERR_TOO_LARGE;
}

void lwm2m_dm_run_pending(struct lwm2m_server *srv)
{
	int64_t now = monotonic_ms();
	for (;;) {
		struct dm_pending *p, *next, *todo = NULL;
		coap_session_t *session;
		int r;

		pthread_mutex_lock(&dm_mutex);
		for (p = dm_list; p != NULL; p = next) {
			next = p->next;
			if (p->abandoned && now - p->queued_ms > DM_REAP_AFTER_MS) {
				unlink_pending(p);
				pending_free(p);
			} else if (p->state == DM_QUEUED && !p->abandoned && todo == NULL)
				todo = p;
		}
		if (todo != NULL)
			todo->state = DM_SENT; /* only this thread frees it from here on */
		pthread_mutex_unlock(&dm_mutex);
		if (todo == NULL)
			return;
		session = session_for(srv, &todo->req);
		/* the session is set before coap_send(): a NACK raised inside it
		 * finds the request (and only marks it) */
		pthread_mutex_lock(&dm_mutex);
		todo->session = session;
		todo->sending = 1;
		pthread_mutex_unlock(&dm_mutex);
		r = session == NULL ? IV_ERR_NOT_FOUND : send_request(session, todo);
		pthread_mutex_lock(&dm_mutex);
		todo->sending = 0;
		if (r == 0 && todo->send_failed)
			r = IV_ERR_IO;
		if (r != 0) {
			if (r == IV_ERR_NOT_FOUND)
				log_warning("lwm2m: no session with device %lld at %s for a DM request",
					    (long long)todo->req.device_id, todo->req.address);
			else
				log_error("lwm2m: DM request to device %lld not sent: %s",
					  (long long)todo->req.device_id, iv_error_message(r));
			todo->unreachable = r == IV_ERR_NOT_FOUND;
			complete(todo, 0);
		}
		pthread_mutex_unlock(&dm_mutex);
	}
}

/* Under dm_mutex: the sent request of SESSION with TOKEN. */
static struct dm_pending *find_sent(coap_session_t *session, coap_bin_const_t token)
{
	for (struct dm_pending *p = dm_list; p != NULL; p = p->next)
		if (p->state == DM_SENT && p->session == session && p->token_len == token.length &&
		    (token.length == 0 || secmem_equal(p->token, token.s, token.length) == 0))
			return p;
	return NULL;
}

int lwm2m_dm_on_response(struct lwm2m_server *srv, coap_session_t *session,
			 const coap_pdu_t *received)
{
	struct dm_pending *p;
	const uint8_t *data;
	size_t len = 0, offset = 0, total = 0;
	coap_opt_iterator_t it;
	coap_opt_t *cf;

	pthread_mutex_lock(&dm_mutex);
	if ((p = find_sent(session, coap_pdu_get_token(received))) == NULL) {
		pthread_mutex_unlock(&dm_mutex);
		return 0;
	}
	if (p->req.method == LWM2M_DM_OBSERVE && !p->observing &&
	    coap_pdu_get_code(received) == COAP_RESPONSE_CODE_CONTENT &&
	    coap_check_option(received, COAP_OPTION_OBSERVE, &it) != NULL) {
		/* the observation is stored before its caller learns of it, so
		 * that no notification finds it missing; only this thread frees
		 * a sent request, so P outlives the unlocked section */
		int64_t obs_id = 0;
		int ro;
		p->observing = 1;
		pthread_mutex_unlock(&dm_mutex);
		ro = lwm2m_observe_started(srv, session, &p->req, p->token, p->token_len, received,
					   &obs_id);
		if (ro != 0 && ro != IV_ERR_REFUSED)
			log_error("lwm2m: the observation of device %lld could not be stored",
				  (long long)p->req.device_id);
		pthread_mutex_lock(&dm_mutex);
		p->resp.observation_id = obs_id;
		p->resp.observe_refused = ro == IV_ERR_REFUSED;
	}
	p->resp.coap_code = (int)coap_pdu_get_code(received);
	if ((cf = coap_check_option(received, COAP_OPTION_CONTENT_FORMAT, &it)) != NULL) {
		p->resp.has_content_format = 1;
		p->resp.content_format = coap_decode_var_bytes(coap_opt_value(cf), coap_opt_length(cf));
	}
	if (coap_get_data_large(received, &len, &data, &offset, &total) && total > 0) {
		/* COAP_BLOCK_SINGLE_BODY: libcoap hands over the reassembled body */
		if (offset != 0 || len != total || total > LWM2M_PAYLOAD_MAX) {
			log_warning("lwm2m: DM answer of device %lld dropped: body of %zu bytes",
				    (long long)p->req.device_id, total);
			p->resp.coap_code = (int)COAP_RESPONSE_CODE(502);
		} else if ((p->resp.payload = malloc(len)) != NULL) { /* lint:not-secret */
			memcpy(p->resp.payload, data, len);
			p->resp.payload_len = len;
		} else
			p->resp.coap_code = (int)COAP_RESPONSE_CODE(500);
	}
	complete(p, 1);
	pthread_mutex_unlock(&dm_mutex);
	return 1;
}

void lwm2m_dm_on_nack(struct lwm2m_server *srv, coap_session_t *session, const coap_pdu_t *sent)
{
	struct dm_pending *p;
	(void)srv;
	if (sent == NULL)
		return;
	pthread_mutex_lock(&dm_mutex);
	if ((p = find_sent(session, coap_pdu_get_token(sent))) != NULL)
		complete(p, 0);
	pthread_mutex_unlock(&dm_mutex);
}

void lwm2m_dm_session_gone(struct lwm2m_server *srv, coap_session_t *session)
{
	struct dm_pending *p, *next;
	(void)srv;
	pthread_mutex_lock(&dm_mutex);
	for (p = dm_list; p != NULL; p = next) {
		next = p->next;
		if (p->state == DM_SENT && p->session == session) {
			/* a held one outlives the session: its pointer must not be
			 * compared with a later session at the same address */
			if (p->held_id != 0)
				p->session = NULL;
			complete(p, 0);
		}
	}
	for (p = dm_held_done; p != NULL; p = p->next)
		if (p->session == session)
			p->session = NULL;
	pthread_mutex_unlock(&dm_mutex);
}
