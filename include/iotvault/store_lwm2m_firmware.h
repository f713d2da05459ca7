/* Storage operations of LwM2M firmware update (object 5): firmware images
 * and per-device update jobs, reached as st->ops->lwm2m_firmware->... */
#ifndef IOTVAULT_STORE_LWM2M_FIRMWARE_H
#define IOTVAULT_STORE_LWM2M_FIRMWARE_H

#include "iotvault/store.h"

#define LWM2M_FW_NAME_MAX 64
#define LWM2M_FW_VERSION_MAX 32
#define LWM2M_FW_SHA256_HEX 64
#define LWM2M_FW_STATES_MAX 128
#define LWM2M_FW_DETAIL_MAX 160

struct lwm2m_firmware_record {
	int64_t id;
	int64_t tenant_id;
	char name[LWM2M_FW_NAME_MAX + 1];
	char version[LWM2M_FW_VERSION_MAX + 1];
	int64_t size;
	char sha256[LWM2M_FW_SHA256_HEX + 1];
	int64_t created_at;
};

struct lwm2m_firmware_job_record {
	int64_t id;
	int64_t tenant_id;
	int64_t device_id;
	int64_t firmware_id;
	char method[STORE_KIND_MAX + 1]; /* "push" or "pull" */
	char status[STORE_KIND_MAX + 1]; /* "running", "succeeded", "failed", "timed_out" */
	int fw_state;      /* last /5/0/3 read, -1: none */
	int update_result; /* last /5/0/5 read, -1: none */
	char states[LWM2M_FW_STATES_MAX + 1];
	char detail[LWM2M_FW_DETAIL_MAX + 1];
	int64_t created_at;
	int64_t updated_at;
	int64_t finished_at; /* 0: running */
};

typedef int (*store_lwm2m_firmware_cb)(void *ctx, const struct lwm2m_firmware_record *fw);
typedef int (*store_lwm2m_firmware_job_cb)(void *ctx, const struct lwm2m_firmware_job_record *job);

struct store_lwm2m_firmware_ops {
	/* Sets FW->id and FW->created_at. IV_ERR_EXISTS when the tenant already
	 * has that name and version. */
	int (*firmware_insert)(struct store *st, struct lwm2m_firmware_record *fw,
			       const uint8_t *image, size_t len);
	int (*firmware_get)(struct store *st, int64_t tenant_id, int64_t id,
			    struct lwm2m_firmware_record *out);
	/* The image bytes into a malloc'd *IMAGE (the caller frees it). */
	int (*firmware_image)(struct store *st, int64_t tenant_id, int64_t id, uint8_t **image,
			      size_t *len);
	int (*firmware_list)(struct store *st, int64_t tenant_id, store_lwm2m_firmware_cb cb,
			     void *ctx);
	/* IV_ERR_EXISTS when a job refers to it. */
	int (*firmware_delete)(struct store *st, int64_t tenant_id, int64_t id);

	/* Inserts a running job; sets JOB->id and times. IV_ERR_EXISTS when the
	 * device already has a running job. */
	int (*job_insert)(struct store *st, struct lwm2m_firmware_job_record *job);
	int (*job_get)(struct store *st, int64_t tenant_id, int64_t id,
		       struct lwm2m_firmware_job_record *out);
	/* Writes status, fw_state, update_result, states, detail, updated_at
	 * and finished_at of JOB (by id). */
	int (*job_update)(struct store *st, const struct lwm2m_firmware_job_record *job);
	/* A tenant's jobs, newest first; DEVICE_ID 0 means every device. */
	int (*job_list)(struct store *st, int64_t tenant_id, int64_t device_id, int limit,
			store_lwm2m_firmware_job_cb cb, void *ctx);
	/* Ends every running job as failed with DETAIL (at start-up: a job's
	 * runner does not survive a restart). *COUNT receives how many. */
	int (*job_abort_running)(struct store *st, const char *detail, int64_t *count);
};

#endif
