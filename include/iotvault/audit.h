/* The tamper-evident audit log. Record n carries
 * MAC_n = HMAC-SHA256(audit key, MAC_{n-1} | seq | time | tenant | actor type |
 * actor | source | action | object | outcome | detail), each field length-
 * prefixed. An authenticated head (last seq and MAC) catches truncation.
 * Detail text never carries key material. */
#ifndef IOTVAULT_AUDIT_H
#define IOTVAULT_AUDIT_H

#include <stdint.h>

#include "iotvault/errors.h"
#include "iotvault/store.h"
#include "iotvault/vault.h"

struct audit_event {
	int64_t tenant_id;
	const char *action;  /* e.g. "device.create", "key.reveal", "master.rotate" */
	const char *object;  /* e.g. "device:12/app_key" */
	const char *outcome; /* "success", "failure", "denied", "started" */
	const char *detail;  /* free text, no secrets; may be NULL */
};

/* Appends one record. Must run inside a write transaction of the store, so
 * the record and the action it describes commit together or not at all.
 * Returns IV_ERR_AUDIT when the record could not be written. */
int audit_append(struct vault *v, const struct audit_actor *actor,
		 const struct audit_event *ev) IV_WUR;
/* As audit_append, in its own transaction. */
int audit_append_now(struct vault *v, const struct audit_actor *actor,
		     const struct audit_event *ev) IV_WUR;

struct audit_verify_result {
	int64_t records;     /* records checked */
	int64_t first_bad;   /* first bad sequence number, 0 when all good */
	const char *reason;  /* static text */
};
/* 0 when the whole chain verifies; IV_ERR_AUDIT_CHAIN with RES filled otherwise. */
int audit_verify(struct vault *v, struct audit_verify_result *res) IV_WUR;

#endif
