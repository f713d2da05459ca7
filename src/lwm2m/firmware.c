/* LwM2M firmware update (object 5): the job runners and the one-time
 * download resource of the pull method.
 *
 * A job runs on a thread of its own, because it waits on DM requests
 * (lwm2m_dm_send), which the server thread carries: push writes the image
 * to /5/0/0 (libcoap sends it block-wise), pull writes a Package URI whose
 * token the server thread serves at GET /fw/<token>. The runner then polls
 * /5/0/3 and /5/0/5 with a bounded interval (plain text reads of single
 * resources), executes /5/0/2 once the device says Downloaded, and ends the
 * job succeeded (Update Result 1), failed (a result code 2..9, or a refused
 * request) or timed_out ([lwm2m] firmware_job_timeout_s).
 *
 * Download tokens live in memory only, under fw_mutex: the job thread adds
 * one, the server thread (lwm2m_firmware_run_pending) creates and deletes
 * its CoAP resource, the GET handler burns it. A token is never logged. */
#include "lwm2m/lwm2m_internal.h"
#include "iotvault/audit.h"
#include "iotvault/log.h"
#include "iotvault/lwm2m_dm.h"
#include "iotvault/lwm2m_firmware.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OBJ_FIRMWARE "5/0"
#define FW_RES_PACKAGE 0
#define FW_RES_URI 1
#define FW_RES_UPDATE 2
#define FW_RES_STATE 3
#define FW_RES_RESULT 5
#define FW_STATE_DOWNLOADED 2
#define FW_RESULT_SUCCESS 1
#define TOKEN_HEX (2 * LWM2M_FW_TOKEN_BYTES)

enum token_state {
	TOKEN_NEW,     /* no resource yet */
	TOKEN_LIVE,    /* resource up, never asked for */
	TOKEN_SERVING, /* handed to libcoap for a (block-wise) transfer */
	TOKEN_BURNT,   /* served, expired or its job ended */
};

struct fw_token {
	char hex[TOKEN_HEX + 1];
	char path[TOKEN_HEX + 4]; /* "fw/<hex>" */
	int64_t device_id;
	int64_t tenant_id;
	int64_t job_id;
	int64_t expires_ms; /* monotonic */
	enum token_state state;
	int transfers; /* libcoap transfers not yet released */
	coap_session_t *session; /* the one session it is served to */
	coap_resource_t *res;
	uint8_t *image;
	size_t len;
	struct fw_token *next;
};

struct fw_job {
	struct service *svc;
	struct lwm2m_firmware_job_record rec;
	struct lwm2m_firmware_record fw;
	struct lwm2m_firmware_actor actor;
	uint8_t *image;
	size_t len;
	pthread_t thread;
	int finished; /* the thread has returned: join it */
	struct fw_job *next;
};

static pthread_mutex_t fw_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct lwm2m_server *fw_server;
static atomic_int fw_stopping;
static struct fw_token *fw_tokens;
static struct fw_job *fw_jobs;
static int fw_job_count;

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void token_free(struct fw_token *t)
{
	if (t == NULL)
		return;
	if (t->image != NULL) {
		secmem_wipe(t->image, t->len);
		free(t->image);
	}
	secmem_wipe(t, sizeof(*t));
	free(t);
}

/* ---- the download resource (server thread) ---- */

/* libcoap's release callback: a transfer of the token's image ended (its
 * last block was served, or it failed). The token is burnt either way. */
static void token_released(coap_session_t *session, void *app_ptr)
{
	struct fw_token *t = app_ptr;
	(void)session;
	pthread_mutex_lock(&fw_mutex);
	t->transfers--;
	t->state = TOKEN_BURNT;
	pthread_mutex_unlock(&fw_mutex);
}

static void fw_get(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
		   const coap_string_t *query, coap_pdu_t *response)
{
	struct lwm2m_server *srv = coap_get_app_data(coap_session_get_context(session));
	struct fw_token *t = coap_resource_get_userdata(resource);
	struct lwm2m_session *ls = lwm2m_session_of(srv, session);
	int allowed, serve = 0;
	int64_t tenant_id = 0, device_id = 0;

	allowed = ls != NULL && ls->listener == LW_LISTENER_DM &&
		  lwm2m_session_check_cipher(srv, session, ls) &&
		  ls->owner.kind == LWM2M_CREDENTIAL_DM;
	if (allowed) {
		service_lock(srv->svc);
		allowed = lwm2m_pki_session_current(srv, ls);
		service_unlock(srv->svc);
	}
	pthread_mutex_lock(&fw_mutex);
	if (t == NULL || t->state == TOKEN_BURNT || t->state == TOKEN_NEW ||
	    monotonic_ms() >= t->expires_ms) {
		if (t != NULL && t->state != TOKEN_SERVING)
			t->state = TOKEN_BURNT;
		coap_pdu_set_code(response, COAP_RESPONSE_CODE_NOT_FOUND);
	} else if (allowed && ls->owner.device_id == t->device_id && t->state == TOKEN_SERVING &&
		   t->session != session) {
		/* one transfer only: a second session of the device gets nothing */
		coap_pdu_set_code(response, COAP_RESPONSE_CODE_NOT_FOUND);
	} else if (!allowed || ls->owner.device_id != t->device_id) {
		tenant_id = t->tenant_id;
		device_id = t->device_id;
		coap_pdu_set_code(response, COAP_RESPONSE_CODE_FORBIDDEN);
	} else {
		/* SERVING: the same device asking again for a block libcoap no
		 * longer holds; libcoap picks the block asked for */
		t->state = TOKEN_SERVING;
		t->session = session;
		t->transfers++;
		serve = 1;
	}
	pthread_mutex_unlock(&fw_mutex);
	if (device_id != 0) {
		/* the presenter's address and identity go to the presenter's
		 * tenant (0, the operator's, when it has none); the owner's tenant
		 * learns only that its device's token was presented elsewhere */
		int64_t presenter = ls != NULL && ls->authenticated ? ls->owner.tenant_id : 0;
		char detail[96];
		snprintf(detail, sizeof(detail), "firmware download token of device %lld",
			 (long long)device_id);
		log_warning("lwm2m: firmware download token of device %lld presented by %s; refused",
			    (long long)device_id, ls != NULL ? ls->address : "?");
		service_lock(srv->svc);
		lwm2m_security_event(srv, presenter, LWM2M_EVENT_FIRMWARE_TOKEN,
				     ls != NULL ? ls->address : "?",
				     ls != NULL && ls->identity[0] ? ls->identity : "(no identity)",
				     presenter == tenant_id ? detail : "a firmware download token of "
								       "another tenant");
		if (presenter != tenant_id)
			lwm2m_security_event(srv, tenant_id, LWM2M_EVENT_FIRMWARE_TOKEN, "-",
					     "(another tenant's session)", detail);
		service_unlock(srv->svc);
		return;
	}
	if (!serve)
		return;
	coap_pdu_set_code(response, COAP_RESPONSE_CODE_CONTENT);
	if (!coap_add_data_large_response(resource, session, request, response, query,
					  LWM2M_CF_OPAQUE, -1, 0, t->len, t->image, token_released,
					  t)) {
		/* libcoap 4.3.1 releases on its failure paths */
		coap_pdu_set_code(response, COAP_RESPONSE_CODE_INTERNAL_ERROR);
		return;
	}
	log_info("lwm2m: firmware download of device %lld started (%zu bytes)",
		 (long long)t->device_id, t->len);
}

void lwm2m_firmware_run_pending(struct lwm2m_server *srv)
{
	struct fw_token **p, *t;
	int64_t now = monotonic_ms();

	pthread_mutex_lock(&fw_mutex);
	for (p = &fw_tokens; (t = *p) != NULL;) {
		if (t->state == TOKEN_NEW) {
			t->res = coap_resource_init(coap_make_str_const(t->path), 0);
			if (t->res != NULL) {
				coap_resource_set_userdata(t->res, t);
				coap_register_handler(t->res, COAP_REQUEST_GET, fw_get);
				coap_add_resource(srv->ctx, t->res);
				t->state = TOKEN_LIVE;
			} else
				t->state = TOKEN_BURNT;
		}
		if (t->state == TOKEN_LIVE && now >= t->expires_ms)
			t->state = TOKEN_BURNT;
		/* a resource goes only once libcoap holds no transfer of it */
		if (t->state == TOKEN_BURNT && t->transfers == 0) {
			*p = t->next;
			if (t->res != NULL)
				coap_delete_resource(srv->ctx, t->res);
			token_free(t);
			continue;
		}
		p = &t->next;
	}
	pthread_mutex_unlock(&fw_mutex);
}

/* ---- tokens (job threads) ---- */

/* Adds a token for DEVICE_ID serving a copy of IMAGE; its hex into HEX. */
static int token_add(const struct fw_job *job, char hex[static TOKEN_HEX + 1])
{
	struct fw_token *t = calloc(1, sizeof(*t));
	uint8_t raw[LWM2M_FW_TOKEN_BYTES];
	if (t == NULL || (t->image = malloc(job->len)) == NULL) { /* lint:not-secret */
		free(t);
		return IV_ERR_NOMEM;
	}
	memcpy(t->image, job->image, job->len);
	t->len = job->len;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(t->hex, sizeof(t->hex), raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	snprintf(t->path, sizeof(t->path), "fw/%s", t->hex);
	t->device_id = job->rec.device_id;
	t->tenant_id = job->rec.tenant_id;
	t->job_id = job->rec.id;
	t->expires_ms = monotonic_ms() + (int64_t)job->svc->cfg.lwm2m_firmware_token_ttl_s * 1000;
	t->state = TOKEN_NEW;
	memcpy(hex, t->hex, TOKEN_HEX + 1);
	pthread_mutex_lock(&fw_mutex);
	t->next = fw_tokens;
	fw_tokens = t;
	pthread_mutex_unlock(&fw_mutex);
	return 0;
}

/* The device has the image (or gave up on it), or the job is over: the
 * token is burnt. libcoap 4.3.1 keeps a served body for the session's
 * further block requests until its own timeout and only then releases it;
 * the resource goes at that release, but the handler refuses from now on. */
static void token_end(int64_t job_id)
{
	pthread_mutex_lock(&fw_mutex);
	for (struct fw_token *t = fw_tokens; t != NULL; t = t->next)
		if (t->job_id == job_id)
			t->state = TOKEN_BURNT;
	pthread_mutex_unlock(&fw_mutex);
}

/* ---- the job runner ---- */

static int job_save(struct fw_job *job)
{
	struct store *st = job->svc->st;
	int r;
	service_lock(job->svc);
	r = st->ops->lwm2m_firmware->job_update(st, &job->rec);
	service_unlock(job->svc);
	if (r != 0)
		log_error("lwm2m: firmware job %lld could not be saved: %s", (long long)job->rec.id,
			  iv_error_message(r));
	return r;
}

/* The device's current registration address; 0, or IV_ERR_NOT_FOUND. */
static int job_address(struct fw_job *job, char *address, size_t cap, int *tlv, int *nosec)
{
	struct store *st = job->svc->st;
	struct lwm2m_registration_record reg;
	int r;
	service_lock(job->svc);
	r = st->ops->lwm2m->registration_get(st, job->rec.device_id, &reg);
	service_unlock(job->svc);
	if (r == 0 && reg.expires_at <= store_now_ms())
		r = IV_ERR_NOT_FOUND;
	if (r == 0) {
		snprintf(address, cap, "%s", reg.address);
		if (tlv != NULL)
			*tlv = strcmp(reg.lwm2m_version, "1.0") == 0;
		if (nosec != NULL)
			*nosec = strcmp(reg.security, "nosec") == 0;
	}
	return r;
}

/* One DM request on /5/0/RES; RESP filled when the device answered. */
static int job_request(struct fw_job *job, enum lwm2m_dm_method m, unsigned res, unsigned cf,
		       const uint8_t *payload, size_t len, int timeout_ms,
		       struct lwm2m_dm_response *resp)
{
	struct lwm2m_dm_request req;
	char text[16];
	int r;
	memset(&req, 0, sizeof(req));
	if ((r = job_address(job, req.address, sizeof(req.address), NULL, &req.nosec)) != 0)
		return IV_ERR_DEVICE_TIMEOUT; /* not registered (yet, again) */
	req.device_id = job->rec.device_id;
	req.method = m;
	snprintf(text, sizeof(text), "/" OBJ_FIRMWARE "/%u", res);
	if ((r = lwm2m_path_parse(text, strlen(text), &req.path)) != 0)
		return r;
	req.accept = LWM2M_CF_TEXT;
	req.content_format = cf;
	req.payload = payload;
	req.payload_len = len;
	req.timeout_ms = timeout_ms;
	return lwm2m_dm_send(&req, resp);
}

/* Reads an integer resource as plain text; -1 when unreadable. */
static int read_int(struct fw_job *job, unsigned res, int *value)
{
	struct lwm2m_dm_response resp = {0};
	char text[16];
	char *end;
	long v;
	int r = job_request(job, LWM2M_DM_READ, res, 0, NULL, 0, 0, &resp);
	if (r == 0 && (resp.coap_code != COAP_RESPONSE_CODE_CONTENT || resp.payload_len == 0 ||
		       resp.payload_len >= sizeof(text)))
		r = IV_ERR_DEVICE_ERROR;
	if (r == 0) {
		memcpy(text, resp.payload, resp.payload_len);
		text[resp.payload_len] = '\0';
		errno = 0;
		v = strtol(text, &end, 10);
		if (errno != 0 || *end != '\0' || v < 0 || v > 255)
			r = IV_ERR_DEVICE_ERROR;
		else
			*value = (int)v;
	}
	lwm2m_dm_response_clear(&resp);
	return r;
}

static void job_audit(struct fw_job *job, const char *outcome)
{
	struct audit_actor actor = {job->actor.type, job->actor.name, job->actor.source};
	struct audit_event ev;
	char object[48], detail[512];
	int r;
	snprintf(object, sizeof(object), "device:%lld", (long long)job->rec.device_id);
	snprintf(detail, sizeof(detail),
		 "job %lld, firmware %lld (%s %s, sha256 %.16s...), %s: %s, state %d, result %d%s%s",
		 (long long)job->rec.id, (long long)job->fw.id, job->fw.name, job->fw.version,
		 job->fw.sha256, job->rec.method, job->rec.status, job->rec.fw_state,
		 job->rec.update_result, job->rec.detail[0] ? ", " : "", job->rec.detail);
	ev = (struct audit_event){job->rec.tenant_id, LWM2M_FW_AUDIT_JOB, object, outcome, detail};
	service_lock(job->svc);
	r = audit_append_now(job->svc->v, &actor, &ev);
	service_unlock(job->svc);
	if (r != 0)
		log_error("lwm2m: the outcome of firmware job %lld could not be audited",
			  (long long)job->rec.id);
}

static void job_finish(struct fw_job *job, const char *status, const char *detail)
{
	snprintf(job->rec.status, sizeof(job->rec.status), "%s", status);
	snprintf(job->rec.detail, sizeof(job->rec.detail), "%s", detail);
	job->rec.finished_at = store_now_ms();
	(void)job_save(job);
	job_audit(job, strcmp(status, "succeeded") == 0 ? "success" : "failure");
	log_info("lwm2m: firmware job %lld of device %lld %s: %s", (long long)job->rec.id,
		 (long long)job->rec.device_id, status, detail);
}

/* Records a state read when it differs from the last one. */
static void job_note(struct fw_job *job, int state, int result)
{
	size_t used = strlen(job->rec.states);
	if (state == job->rec.fw_state && result == job->rec.update_result)
		return;
	if (state != job->rec.fw_state && used + 5 < sizeof(job->rec.states))
		snprintf(job->rec.states + used, sizeof(job->rec.states) - used, "%s%d",
			 used ? "," : "", state);
	job->rec.fw_state = state;
	job->rec.update_result = result;
	(void)job_save(job);
}

/* Waits MS, or less when the server stops; 1 when it stops. */
static int job_sleep(int ms)
{
	for (int waited = 0; waited < ms; waited += 50) {
		if (atomic_load(&fw_stopping))
			return 1;
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return atomic_load(&fw_stopping);
}

/* "coaps://host:port" of dm_server_uri + "/fw/<hex>". */
static int package_uri(const struct service *svc, const char *hex, char *out, size_t cap)
{
	const char *base = svc->cfg.lwm2m_dm_server_uri;
	size_t n = strlen(base);
	int w;
	while (n > 0 && base[n - 1] == '/')
		n--;
	if (strncmp(base, "coaps://", 8) != 0)
		return IV_ERR_CONFIG;
	w = snprintf(out, cap, "%.*s/fw/%s", (int)n, base, hex);
	return w < 0 || (size_t)w >= cap ? IV_ERR_TOO_LARGE : 0;
}

static void job_run(struct fw_job *job)
{
	const struct config *cfg = &job->svc->cfg;
	int64_t deadline = monotonic_ms() + (int64_t)cfg->lwm2m_firmware_job_timeout_s * 1000;
	struct lwm2m_dm_response resp = {0};
	int pull = strcmp(job->rec.method, "pull") == 0;
	char detail[LWM2M_FW_DETAIL_MAX + 1];
	int executed = 0, r;

	if (!pull) {
		/* the whole transfer may take its time: bounded by the job's deadline */
		r = job_request(job, LWM2M_DM_WRITE_REPLACE, FW_RES_PACKAGE, LWM2M_CF_OPAQUE,
				job->image, job->len, (int)(deadline - monotonic_ms()), &resp);
	} else {
		char hex[TOKEN_HEX + 1], uri[512];
		if ((r = package_uri(job->svc, "", uri, sizeof(uri))) != 0 ||
		    (r = token_add(job, hex)) != 0 ||
		    (r = package_uri(job->svc, hex, uri, sizeof(uri))) != 0) {
			sodium_memzero(hex, sizeof(hex));
			job_finish(job, "failed", r == IV_ERR_CONFIG ? "dm_server_uri is not coaps://"
								   : "no download token");
			token_end(job->rec.id);
			return;
		}
		r = job_request(job, LWM2M_DM_WRITE_REPLACE, FW_RES_URI, LWM2M_CF_TEXT,
				(const uint8_t *)uri, strlen(uri), 0, &resp);
		sodium_memzero(uri, sizeof(uri));
		sodium_memzero(hex, sizeof(hex));
	}
	if (r != 0 || resp.coap_code != COAP_RESPONSE_CODE_CHANGED) {
		if (r == 0)
			snprintf(detail, sizeof(detail), "the device answered %d.%02d to the %s write",
				 resp.coap_code >> 5, resp.coap_code & 31,
				 pull ? "Package URI" : "Package");
		else
			snprintf(detail, sizeof(detail), "the %s write was not answered (%s)",
				 pull ? "Package URI" : "Package", iv_error_name(r));
		lwm2m_dm_response_clear(&resp);
		job_finish(job, r == IV_ERR_DEVICE_TIMEOUT ? "timed_out" : "failed", detail);
		token_end(job->rec.id);
		return;
	}
	lwm2m_dm_response_clear(&resp);
	log_info("lwm2m: firmware job %lld: %s delivered to device %lld", (long long)job->rec.id,
		 pull ? "Package URI" : "image", (long long)job->rec.device_id);
	/* the image copy of a push is not needed any more */
	secmem_wipe(job->image, job->len);

	for (;;) {
		int state = -1, result = -1;
		if (job_sleep(cfg->lwm2m_firmware_poll_interval_ms)) {
			job_finish(job, "failed", "the server stopped");
			break;
		}
		if (monotonic_ms() >= deadline) {
			job_finish(job, "timed_out", executed ? "no final Update Result in time"
							      : "the image was not downloaded in time");
			break;
		}
		/* a device that does not answer (rebooting into the new image) is
		 * asked again at the next poll */
		if (read_int(job, FW_RES_STATE, &state) != 0 ||
		    read_int(job, FW_RES_RESULT, &result) != 0)
			continue;
		job_note(job, state, result);
		/* Downloaded, or a download error: the last block has been served */
		if (pull && (state >= FW_STATE_DOWNLOADED || result >= 2))
			token_end(job->rec.id);
		if (result >= 2) {
			snprintf(detail, sizeof(detail), "Update Result %d", result);
			job_finish(job, "failed", detail);
			break;
		}
		if (executed && result == FW_RESULT_SUCCESS) {
			job_finish(job, "succeeded", "Update Result 1");
			break;
		}
		if (!executed && state == FW_STATE_DOWNLOADED) {
			r = job_request(job, LWM2M_DM_EXECUTE, FW_RES_UPDATE, 0, NULL, 0, 0, &resp);
			if (r == 0 && resp.coap_code == COAP_RESPONSE_CODE_CHANGED) {
				executed = 1;
				log_info("lwm2m: firmware job %lld: Update executed on device %lld",
					 (long long)job->rec.id, (long long)job->rec.device_id);
			} else if (r == 0) {
				snprintf(detail, sizeof(detail),
					 "the device answered %d.%02d to Update (/5/0/2)",
					 resp.coap_code >> 5, resp.coap_code & 31);
				lwm2m_dm_response_clear(&resp);
				job_finish(job, "failed", detail);
				break;
			}
			lwm2m_dm_response_clear(&resp);
		}
	}
	token_end(job->rec.id);
}

static void *job_thread(void *arg)
{
	struct fw_job *job = arg;
	job_run(job);
	secmem_wipe(job->image, job->len);
	free(job->image);
	job->image = NULL;
	pthread_mutex_lock(&fw_mutex);
	job->finished = 1;
	pthread_mutex_unlock(&fw_mutex);
	return NULL;
}

/* Under fw_mutex: joins and frees the jobs whose thread has returned. */
static void reap_finished(void)
{
	struct fw_job **p, *j;
	for (p = &fw_jobs; (j = *p) != NULL;) {
		if (j->finished) {
			*p = j->next;
			pthread_join(j->thread, NULL);
			fw_job_count--;
			free(j);
			continue;
		}
		p = &j->next;
	}
}

int lwm2m_firmware_job_start(struct service *svc, const struct lwm2m_firmware_job_record *rec,
			     const struct lwm2m_firmware_record *fw,
			     const struct lwm2m_firmware_actor *actor, uint8_t *image, size_t len)
{
	struct fw_job *job;
	int r;

	if ((job = calloc(1, sizeof(*job))) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	job->svc = svc;
	job->rec = *rec;
	job->fw = *fw;
	job->actor = *actor;
	job->image = image;
	job->len = len;
	pthread_mutex_lock(&fw_mutex);
	reap_finished();
	if (fw_server == NULL || atomic_load(&fw_stopping))
		r = IV_ERR_DEVICE_TIMEOUT;
	else if (fw_job_count >= LWM2M_FW_JOBS_MAX)
		r = IV_ERR_BUSY;
	else if (pthread_create(&job->thread, NULL, job_thread, job) != 0)
		r = IV_ERR_INTERNAL;
	else {
		job->next = fw_jobs;
		fw_jobs = job;
		fw_job_count++;
		r = 0;
	}
	pthread_mutex_unlock(&fw_mutex);
	if (r == 0)
		return 0;
out:
	if (image != NULL) {
		secmem_wipe(image, len);
		free(image);
	}
	free(job);
	return r;
}

#define FW_RESTART_DETAIL "the server restarted"

/* The audit record of a job that the restart ended. */
static int audit_aborted(void *ctx, const struct lwm2m_firmware_job_record *job)
{
	struct service *svc = ctx;
	const struct audit_actor actor = {"system", "lwm2m-firmware", "start-up"};
	struct audit_event ev;
	char object[48], detail[160];
	snprintf(object, sizeof(object), "device:%lld", (long long)job->device_id);
	snprintf(detail, sizeof(detail), "job %lld, firmware %lld, %s: failed: %s, state %d",
		 (long long)job->id, (long long)job->firmware_id, job->method, FW_RESTART_DETAIL,
		 job->fw_state);
	ev = (struct audit_event){job->tenant_id, LWM2M_FW_AUDIT_JOB, object, "failure", detail};
	return audit_append(svc->v, &actor, &ev);
}

void lwm2m_firmware_attach(struct lwm2m_server *srv)
{
	struct store *st = srv->svc->st;
	int64_t aborted = 0;
	int r;
	/* a job's runner does not survive a restart: each running job ends
	 * failed, with its audit record, in one transaction */
	service_lock(srv->svc);
	if ((r = st->ops->begin(st, 1)) == 0) {
		r = st->ops->lwm2m_firmware->job_abort_running(st, FW_RESTART_DETAIL, audit_aborted,
								srv->svc, &aborted);
		r = r == 0 ? st->ops->commit(st) : (st->ops->rollback(st), r);
	}
	service_unlock(srv->svc);
	if (r != 0)
		log_error("lwm2m: firmware jobs left running by the last run could not be ended: %s",
			  iv_error_message(r));
	else if (aborted > 0)
		log_warning("lwm2m: %lld firmware jobs were running when the server stopped; "
			    "they are marked failed",
			    (long long)aborted);
	pthread_mutex_lock(&fw_mutex);
	fw_server = srv;
	atomic_store(&fw_stopping, 0);
	pthread_mutex_unlock(&fw_mutex);
}

void lwm2m_firmware_stop_jobs(void)
{
	atomic_store(&fw_stopping, 1);
}

void lwm2m_firmware_detach(struct lwm2m_server *srv)
{
	struct fw_job *j;
	atomic_store(&fw_stopping, 1);
	/* the job threads end: their DM requests fail at once once the DM
	 * queue is detached, and their sleeps watch fw_stopping */
	for (;;) {
		pthread_mutex_lock(&fw_mutex);
		j = fw_jobs;
		if (j != NULL)
			fw_jobs = j->next;
		pthread_mutex_unlock(&fw_mutex);
		if (j == NULL)
			break;
		pthread_join(j->thread, NULL);
		free(j);
	}
	pthread_mutex_lock(&fw_mutex);
	fw_job_count = 0;
	if (fw_server == srv)
		fw_server = NULL;
	pthread_mutex_unlock(&fw_mutex);
}

void lwm2m_firmware_free_tokens(void)
{
	struct fw_token *t, *next;
	pthread_mutex_lock(&fw_mutex);
	for (t = fw_tokens; t != NULL; t = next) {
		next = t->next;
		token_free(t);
	}
	fw_tokens = NULL;
	pthread_mutex_unlock(&fw_mutex);
}
