/* The vault's Application Server operations: the AppSKey of a session is
 * opened only inside these functions, into secure memory, used for one
 * FRMPayload and wiped before they return. A session created by another join
 * server is adopted by unwrapping its AppSKey envelope with the KEK of
 * iotvault's own application-server peer and sealing it as a session key. */
#ifndef IOTVAULT_VAULT_APPSERVER_H
#define IOTVAULT_VAULT_APPSERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotvault/store_lorawan.h"
#include "iotvault/vault.h"
#include "iotvault/vault_lorawan.h"

/* Encrypts or decrypts (the cipher is symmetric) LEN bytes of FRMPayload
 * (FPort > 0) of session SESSION_ROW_ID of TENANT_ID with its AppSKey:
 * DOWNLINK selects the direction, FCNT32 the full frame counter (FCntUp, or
 * AFCntDown). LEN <= LORAWAN_FRM_PAYLOAD_MAX; IN and OUT may be the same
 * buffer. IV_ERR_NOT_FOUND when the session has no AppSKey. */
int vault_appserver_crypt(struct vault *v, int64_t tenant_id, int64_t session_row_id,
			  bool downlink, uint32_t dev_addr, uint32_t fcnt32, const uint8_t *in,
			  size_t len, uint8_t *out) IV_WUR;

/* Unwraps ENV (RFC 3394 under the KEK of OWN_AS, whose label it must carry;
 * a plaintext key only when OWN_AS allows plaintext) and seals the AppSKey
 * for session SESSION_ROW_ID of TENANT_ID. IV_ERR_REFUSED for a foreign KEK
 * label, IV_ERR_AUTH_TAG when the envelope does not unwrap. Run inside the
 * caller's transaction. */
int vault_appserver_adopt_session(struct vault *v, int64_t tenant_id, int64_t session_row_id,
				  const struct peer_record *own_as,
				  const struct key_envelope *env) IV_WUR;

#endif
