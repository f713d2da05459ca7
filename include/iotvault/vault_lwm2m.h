/* The vault's LwM2M operations: the DTLS handshake asks the vault for the PSK
 * of an identity (a device's bootstrap PSK on the bootstrap listener, a DM
 * credential on the DM listener), and the bootstrap server asks it for a
 * fresh DM credential. Keys are opened only inside these functions and handed
 * out only into the caller's secure buffer. */
#ifndef IOTVAULT_VAULT_LWM2M_H
#define IOTVAULT_VAULT_LWM2M_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/store_lwm2m.h"
#include "iotvault/vault.h"

/* Generated DM PSKs: 16 bytes, what constrained DTLS stacks (tinydtls,
 * AES-128-CCM-8) take. */
#define LWM2M_DM_PSK_LEN 16
/* Generated DM identities are "iv-dm-" and 16 base32 characters. */
#define LWM2M_DM_IDENTITY_PREFIX "iv-dm"
/* Largest PSK either kind of credential can have. */
#define LWM2M_PSK_MAX 64

/* Secret fields of a DM credential, owner kind "lwm2m_dm_cred", owner id the
 * credential's row id. */
#define LWM2M_DM_OWNER_KIND "lwm2m_dm_cred"
#define LWM2M_DM_PSK_FIELD "dm_psk"
#define LWM2M_DM_IDENTITY_FIELD "dm_psk_identity"

enum lwm2m_credential_kind {
	LWM2M_CREDENTIAL_BOOTSTRAP, /* the device's own PSK (secret field "psk") */
	LWM2M_CREDENTIAL_DM,        /* a DM credential handed out at bootstrap */
};

/* Whom a PSK identity belongs to. */
struct lwm2m_psk_owner {
	enum lwm2m_credential_kind kind;
	int64_t tenant_id;
	int64_t device_id;
	int64_t credential_id; /* DM only */
	char endpoint[STORE_NAME_MAX + 1];
	char state[STORE_KIND_MAX + 1]; /* DM only: "pending" or "active" */
};

/* Looks IDENTITY up among the credentials of KIND and copies its PSK into
 * KEY (CAP bytes, the caller's secure buffer), setting *KEY_LEN and OWNER.
 * IV_ERR_NOT_FOUND for an unknown identity and for a retired DM credential.
 * Runs under the caller's service lock; opens no audit record (a handshake
 * is not a reveal: the key never leaves the process). */
int vault_lwm2m_psk_lookup(struct vault *v, enum lwm2m_credential_kind kind,
			   const char *identity, struct lwm2m_psk_owner *owner, uint8_t *key,
			   size_t cap, size_t *key_len) IV_WUR;

/* Creates a fresh DM credential for DEV (state "pending"; a random identity
 * and a random PSK different from the device's bootstrap PSK), seals both,
 * discards the device's other pending credentials, and writes the audit
 * record "lwm2m.bootstrap" (outcome "started"), in one transaction. The PSK
 * is returned in *PSK (secure memory, caller frees) for the Bootstrap-Write. */
int vault_lwm2m_dm_credential_create(struct vault *v, const struct audit_actor *actor,
				     const struct device_record *dev,
				     struct lwm2m_credential_record *cred,
				     struct secbuf **psk) IV_WUR;

/* The device has registered with CRED: a pending credential becomes active
 * and every other credential of the device is retired (its sealed keys
 * deleted), with the audit record "lwm2m.dm_credential.activate", in the
 * caller's transaction. Nothing happens for an already active credential.
 * *ACTIVATED (may be NULL) is set to 1 when the state changed. */
int vault_lwm2m_dm_credential_activate(struct vault *v, const struct audit_actor *actor,
				       const struct lwm2m_credential_record *cred,
				       int *activated) IV_WUR;

/* A bootstrap that created CRED did not finish: the credential is retired
 * (never usable) and "lwm2m.bootstrap" is audited with outcome "failure". */
int vault_lwm2m_bootstrap_failed(struct vault *v, const struct audit_actor *actor,
				 const struct lwm2m_credential_record *cred,
				 const char *reason) IV_WUR;

#endif
