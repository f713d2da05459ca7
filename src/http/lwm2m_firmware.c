/* /api/v1/lwm2m/firmware and /api/v1/lwm2m/firmware-jobs: LwM2M firmware
 * images (uploaded as a raw body, bounded by [lwm2m] firmware_max_bytes,
 * SHA-256 computed here) and the update jobs that deliver them to devices
 * (lwm2m_firmware.h). Tenant-scoped; uploads, deletions and job starts are
 * for admins and operators, like device writes, and audited. */
#include "iotvault/audit.h"
#include "iotvault/http.h"
#include "iotvault/log.h"
#include "iotvault/lwm2m_firmware.h"
#include "iotvault/secmem.h"
#include "iotvault/store_lwm2m.h"

#include <nettle/sha2.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FW_WRITERS (ROLE_ADMIN | ROLE_OPERATOR)
#define JOB_LIST_MAX 100

/* Names and versions: [A-Za-z0-9._+-], 1..MAX characters. */
static int label_ok(const char *s, size_t max)
{
	size_t n = s != NULL ? strlen(s) : 0;
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("._+-", s[i]) != NULL))
			return 0;
	return 1;
}

static json_t *firmware_to_json(const struct lwm2m_firmware_record *f)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(f->id));
	json_object_set_new(o, "name", json_string(f->name));
	json_object_set_new(o, "version", json_string(f->version));
	json_object_set_new(o, "size", json_integer(f->size));
	json_object_set_new(o, "sha256", json_string(f->sha256));
	json_object_set_new(o, "created_at", json_integer(f->created_at));
	return o;
}

static json_t *job_to_json(const struct lwm2m_firmware_job_record *j)
{
	json_t *o = json_object(), *states = json_array();
	char copy[LWM2M_FW_STATES_MAX + 1], *save = NULL;
	snprintf(copy, sizeof(copy), "%s", j->states);
	for (char *s = strtok_r(copy, ",", &save); s != NULL; s = strtok_r(NULL, ",", &save))
		json_array_append_new(states, json_integer(strtol(s, NULL, 10)));
	json_object_set_new(o, "id", json_integer(j->id));
	json_object_set_new(o, "device_id", json_integer(j->device_id));
	json_object_set_new(o, "firmware_id", json_integer(j->firmware_id));
	json_object_set_new(o, "method", json_string(j->method));
	json_object_set_new(o, "status", json_string(j->status));
	json_object_set_new(o, "state", j->fw_state >= 0 ? json_integer(j->fw_state) : json_null());
	json_object_set_new(o, "update_result",
			    j->update_result >= 0 ? json_integer(j->update_result) : json_null());
	json_object_set_new(o, "states", states);
	json_object_set_new(o, "detail", json_string(j->detail));
	json_object_set_new(o, "created_at", json_integer(j->created_at));
	json_object_set_new(o, "updated_at", json_integer(j->updated_at));
	json_object_set_new(o, "finished_at", j->finished_at ? json_integer(j->finished_at)
							     : json_null());
	return o;
}

/* POST /api/v1/lwm2m/firmware?name=&version= with the image as the body. */
static int upload(struct http_request *req, struct http_reply *rep)
{
	struct store *st = req->svc->st;
	struct audit_actor actor = http_actor(req);
	struct lwm2m_firmware_record fw;
	struct audit_event ev;
	struct sha256_ctx sha;
	uint8_t digest[SHA256_DIGEST_SIZE];
	const char *name = http_query(req, "name"), *version = http_query(req, "version");
	const char *ctype = http_header(req, "Content-Type");
	char detail[192];
	int r;

	if (ctype == NULL || strncmp(ctype, "application/octet-stream", 24) != 0) {
		rep->error_message = "the image is sent as Content-Type: application/octet-stream";
		return IV_ERR_MEDIA_TYPE;
	}
	if (!label_ok(name, LWM2M_FW_NAME_MAX) || !label_ok(version, LWM2M_FW_VERSION_MAX)) {
		rep->error_message = "name (1..64) and version (1..32) are query parameters made of "
				     "letters, digits and ._+-";
		return IV_ERR_INVALID;
	}
	if (req->body_len == 0) {
		rep->error_message = "the image is empty";
		return IV_ERR_INVALID;
	}
	/* the server's body limit already refused anything larger */
	if (req->body_len > (size_t)req->svc->cfg.lwm2m_firmware_max_bytes) {
		rep->error_message = "the image exceeds [lwm2m] firmware_max_bytes";
		return IV_ERR_TOO_LARGE;
	}
	memset(&fw, 0, sizeof(fw));
	fw.tenant_id = req->who.tenant_id;
	snprintf(fw.name, sizeof(fw.name), "%s", name);
	snprintf(fw.version, sizeof(fw.version), "%s", version);
	sha256_init(&sha);
	sha256_update(&sha, req->body_len, req->body);
	sha256_digest(&sha, sizeof(digest), digest);
	sodium_bin2hex(fw.sha256, sizeof(fw.sha256), digest, sizeof(digest));
	snprintf(detail, sizeof(detail), "%s %s, %zu bytes, sha256 %s", fw.name, fw.version,
		 req->body_len, fw.sha256);
	if ((r = st->ops->begin(st, 1)) != 0)
		return r;
	if ((r = st->ops->lwm2m_firmware->firmware_insert(st, &fw, req->body, req->body_len)) != 0) {
		st->ops->rollback(st);
		if (r == IV_ERR_EXISTS)
			rep->error_message = "this tenant already has a firmware of that name and version";
		return r;
	}
	char object[48];
	snprintf(object, sizeof(object), "lwm2m_firmware:%lld", (long long)fw.id);
	ev = (struct audit_event){fw.tenant_id, "lwm2m.firmware.upload", object, "success", detail};
	if ((r = audit_append(req->svc->v, &actor, &ev)) != 0 || (r = st->ops->commit(st)) != 0) {
		st->ops->rollback(st);
		return r;
	}
	rep->status = 201;
	rep->body = firmware_to_json(&fw);
	return 0;
}

static int append_firmware(void *ctx, const struct lwm2m_firmware_record *f)
{
	return json_array_append_new(ctx, firmware_to_json(f)) == 0 ? 0 : IV_ERR_NOMEM;
}

static int list_firmware(struct http_request *req, struct http_reply *rep)
{
	struct store *st = req->svc->st;
	json_t *items = json_array();
	int r = st->ops->lwm2m_firmware->firmware_list(st, req->who.tenant_id, append_firmware, items);
	if (r != 0) {
		json_decref(items);
		return r;
	}
	rep->body = json_object();
	json_object_set_new(rep->body, "items", items);
	return 0;
}

static int load_firmware(struct http_request *req, struct http_reply *rep, const char *id_text,
			 struct lwm2m_firmware_record *fw)
{
	struct store *st = req->svc->st;
	int64_t id;
	int r;
	if (http_parse_id(id_text, &id) != 0) {
		rep->error_message = "firmware id must be a positive integer";
		return IV_ERR_NOT_FOUND;
	}
	r = st->ops->lwm2m_firmware->firmware_get(st, req->who.tenant_id, id, fw);
	if (r == IV_ERR_NOT_FOUND)
		rep->error_message = "no such firmware";
	return r;
}

static int get_firmware(struct http_request *req, struct http_reply *rep)
{
	struct lwm2m_firmware_record fw;
	int r = load_firmware(req, rep, req->params[0], &fw);
	if (r != 0)
		return r;
	rep->body = firmware_to_json(&fw);
	return 0;
}

static int delete_firmware(struct http_request *req, struct http_reply *rep)
{
	struct store *st = req->svc->st;
	struct audit_actor actor = http_actor(req);
	struct lwm2m_firmware_record fw;
	struct audit_event ev;
	char object[48], detail[128];
	int r;

	if ((r = load_firmware(req, rep, req->params[0], &fw)) != 0)
		return r;
	snprintf(object, sizeof(object), "lwm2m_firmware:%lld", (long long)fw.id);
	snprintf(detail, sizeof(detail), "%s %s", fw.name, fw.version);
	ev = (struct audit_event){fw.tenant_id, "lwm2m.firmware.delete", object, "success", detail};
	if ((r = st->ops->begin(st, 1)) != 0)
		return r;
	if ((r = st->ops->lwm2m_firmware->firmware_delete(st, fw.tenant_id, fw.id)) != 0 ||
	    (r = audit_append(req->svc->v, &actor, &ev)) != 0 || (r = st->ops->commit(st)) != 0) {
		st->ops->rollback(st);
		if (r == IV_ERR_EXISTS) {
			rep->error_message = "update jobs refer to this firmware; it is kept";
			return IV_ERR_REFUSED;
		}
		return r;
	}
	rep->status = 204;
	return 0;
}

/* POST /api/v1/lwm2m/firmware-jobs {"device_id", "firmware_id", "method"} */
static int start_job(struct http_request *req, struct http_reply *rep)
{
	struct store *st = req->svc->st;
	struct audit_actor actor = http_actor(req);
	struct lwm2m_firmware_actor fw_actor;
	struct lwm2m_firmware_job_record job;
	struct lwm2m_firmware_record fw;
	struct lwm2m_registration_record reg;
	struct device_record dev;
	struct device_selector sel = {0};
	struct audit_event ev;
	json_t *body = NULL, *jd, *jf, *jm;
	uint8_t *image = NULL;
	size_t len = 0;
	char object[48], detail[192];
	const char *method;
	int r;

	if ((r = http_body_json(req, rep, &body)) != 0)
		return r;
	jd = json_object_get(body, "device_id");
	jf = json_object_get(body, "firmware_id");
	jm = json_object_get(body, "method");
	method = json_is_string(jm) ? json_string_value(jm) : "";
	if (!json_is_integer(jd) || json_integer_value(jd) <= 0 || !json_is_integer(jf) ||
	    json_integer_value(jf) <= 0 || (strcmp(method, "push") != 0 && strcmp(method, "pull") != 0)) {
		rep->error_message = "device_id and firmware_id are positive integers, method is "
				     "\"push\" or \"pull\"";
		r = IV_ERR_INVALID;
		goto out;
	}
	sel.id = json_integer_value(jd);
	if ((r = st->ops->device_get(st, req->who.tenant_id, &sel, &dev)) != 0 ||
	    strcmp(dev.kind, "lwm2m") != 0) {
		rep->error_message = "no such LwM2M device";
		r = IV_ERR_NOT_FOUND;
		goto out;
	}
	r = st->ops->lwm2m->registration_get(st, dev.id, &reg);
	if (r == 0 && reg.expires_at <= store_now_ms())
		r = IV_ERR_NOT_FOUND;
	if (r != 0) {
		if (r == IV_ERR_NOT_FOUND)
			rep->error_message = "the device is not registered with the DM server";
		goto out;
	}
	if (reg.queue_mode) {
		/* a job's requests would need the device awake at its every poll */
		rep->error_message = "the device is registered in queue mode: firmware update of "
				     "queue-mode devices is not supported";
		r = IV_ERR_REFUSED;
		goto out;
	}
	if ((r = st->ops->lwm2m_firmware->firmware_get(st, req->who.tenant_id,
							json_integer_value(jf), &fw)) != 0) {
		if (r == IV_ERR_NOT_FOUND)
			rep->error_message = "no such firmware";
		goto out;
	}
	if ((r = st->ops->lwm2m_firmware->firmware_image(st, fw.tenant_id, fw.id, &image, &len)) != 0)
		goto out;
	memset(&job, 0, sizeof(job));
	job.tenant_id = dev.tenant_id;
	job.device_id = dev.id;
	job.firmware_id = fw.id;
	snprintf(job.method, sizeof(job.method), "%s", method);
	/* audited before anything is sent: no record, no job */
	if ((r = st->ops->begin(st, 1)) != 0)
		goto out;
	if ((r = st->ops->lwm2m_firmware->job_insert(st, &job)) != 0) {
		st->ops->rollback(st);
		if (r == IV_ERR_EXISTS)
			rep->error_message = "the device already has a running firmware update job";
		goto out;
	}
	snprintf(object, sizeof(object), "device:%lld", (long long)dev.id);
	snprintf(detail, sizeof(detail), "job %lld, firmware %lld (%s %s, sha256 %.16s...), %s",
		 (long long)job.id, (long long)fw.id, fw.name, fw.version, fw.sha256, method);
	ev = (struct audit_event){dev.tenant_id, LWM2M_FW_AUDIT_JOB, object, "started", detail};
	if ((r = audit_append(req->svc->v, &actor, &ev)) != 0 || (r = st->ops->commit(st)) != 0) {
		st->ops->rollback(st);
		goto out;
	}
	snprintf(fw_actor.type, sizeof(fw_actor.type), "%s", actor.type);
	snprintf(fw_actor.name, sizeof(fw_actor.name), "%s", actor.name);
	snprintf(fw_actor.source, sizeof(fw_actor.source), "%s", actor.source);
	r = lwm2m_firmware_job_start(req->svc, &job, &fw, &fw_actor, image, len);
	image = NULL; /* taken over */
	if (r != 0) {
		int ra;
		snprintf(job.status, sizeof(job.status), "failed");
		snprintf(job.detail, sizeof(job.detail), "not started: %s", iv_error_name(r));
		job.finished_at = store_now_ms();
		ev.outcome = "failure";
		ev.detail = job.detail;
		if ((ra = st->ops->lwm2m_firmware->job_update(st, &job)) != 0 ||
		    (ra = audit_append_now(req->svc->v, &actor, &ev)) != 0)
			log_error("lwm2m: firmware job %lld that did not start could not be recorded",
				  (long long)job.id);
		rep->error_message = r == IV_ERR_BUSY ? "too many firmware jobs are running"
						      : "the LwM2M server is not running";
		goto out;
	}
	rep->status = 202;
	rep->body = job_to_json(&job);
	/* success */
	r = 0;
out:
	if (image != NULL) {
		secmem_wipe(image, len);
		free(image);
	}
	json_decref(body);
	return r;
}

static int get_job(struct http_request *req, struct http_reply *rep)
{
	struct store *st = req->svc->st;
	struct lwm2m_firmware_job_record job;
	int64_t id;
	int r;
	if (http_parse_id(req->params[0], &id) != 0) {
		rep->error_message = "job id must be a positive integer";
		return IV_ERR_NOT_FOUND;
	}
	if ((r = st->ops->lwm2m_firmware->job_get(st, req->who.tenant_id, id, &job)) != 0) {
		if (r == IV_ERR_NOT_FOUND)
			rep->error_message = "no such firmware job";
		return r;
	}
	rep->body = job_to_json(&job);
	return 0;
}

static int append_job(void *ctx, const struct lwm2m_firmware_job_record *j)
{
	return json_array_append_new(ctx, job_to_json(j)) == 0 ? 0 : IV_ERR_NOMEM;
}

/* GET /api/v1/lwm2m/firmware-jobs[?device_id=N]: the newest 100. */
static int list_jobs(struct http_request *req, struct http_reply *rep)
{
	struct store *st = req->svc->st;
	const char *dev = http_query(req, "device_id");
	int64_t device_id = 0;
	json_t *items;
	int r;
	if (dev != NULL && http_parse_id(dev, &device_id) != 0) {
		rep->error_message = "device_id must be a positive integer";
		return IV_ERR_INVALID;
	}
	items = json_array();
	if ((r = st->ops->lwm2m_firmware->job_list(st, req->who.tenant_id, device_id, JOB_LIST_MAX,
						    append_job, items)) != 0) {
		json_decref(items);
		return r;
	}
	rep->body = json_object();
	json_object_set_new(rep->body, "items", items);
	return 0;
}

const struct route lwm2m_firmware_routes[] = {
	{"GET", "/api/v1/lwm2m/firmware", list_firmware, ROLES_ALL, 0},
	{"POST", "/api/v1/lwm2m/firmware", upload, FW_WRITERS, ROUTE_FIRMWARE_BODY},
	{"GET", "/api/v1/lwm2m/firmware/{id}", get_firmware, ROLES_ALL, 0},
	{"DELETE", "/api/v1/lwm2m/firmware/{id}", delete_firmware, FW_WRITERS, 0},
	{"GET", "/api/v1/lwm2m/firmware-jobs", list_jobs, ROLES_ALL, 0},
	{"POST", "/api/v1/lwm2m/firmware-jobs", start_job, FW_WRITERS, 0},
	{"GET", "/api/v1/lwm2m/firmware-jobs/{id}", get_job, ROLES_ALL, 0},
	{NULL, NULL, NULL, 0, 0},
};
