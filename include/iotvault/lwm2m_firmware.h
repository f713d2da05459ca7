/* LwM2M firmware update (object 5) run by the DM server: a job per device
 * delivers an uploaded image either by pushing it block-wise to /5/0/0
 * (Package) or by writing /5/0/1 (Package URI) with a one-time download
 * URI coaps://<DM listener>/fw/<token> that the DM listener serves
 * block-wise only to the DTLS session of that device. The job then polls
 * /5/0/3 (State) and /5/0/5 (Update Result), executes /5/0/2 (Update) once
 * the image is Downloaded, and records every state and the outcome in the
 * job row and the audit log. See docs/lwm2m.md. */
#ifndef IOTVAULT_LWM2M_FIRMWARE_H
#define IOTVAULT_LWM2M_FIRMWARE_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/errors.h"
#include "iotvault/http.h"
#include "iotvault/store_lwm2m_firmware.h"

/* Download tokens: 16 random bytes, as 32 hex digits in the URI. */
#define LWM2M_FW_TOKEN_BYTES 16
/* Concurrent jobs of one server (each has a thread and a copy of its image). */
#define LWM2M_FW_JOBS_MAX 32

/* Security event of a download token presented by another session. */
#define LWM2M_EVENT_FIRMWARE_TOKEN "lwm2m_firmware_token_misuse"

/* Who started a job, for its audit records (copied). */
struct lwm2m_firmware_actor {
	char type[16];
	char name[128];
	char source[64];
};

/* Starts the runner of JOB (inserted as running, its start audited) for
 * image FW, whose bytes IMAGE (malloc'd, LEN bytes) it takes over on success
 * and on failure alike. IV_ERR_BUSY when LWM2M_FW_JOBS_MAX jobs run;
 * IV_ERR_DEVICE_TIMEOUT when the LwM2M server is not running. The caller
 * then ends the job itself. Call without the service lock. */
int lwm2m_firmware_job_start(struct service *svc, const struct lwm2m_firmware_job_record *job,
			     const struct lwm2m_firmware_record *fw,
			     const struct lwm2m_firmware_actor *actor, uint8_t *image,
			     size_t len) IV_WUR;

/* The audit action of jobs. */
#define LWM2M_FW_AUDIT_JOB "lwm2m.firmware.update"

#endif
