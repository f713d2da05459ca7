/* The vault's LoRaWAN operations: the join server asks the vault to verify a
 * JoinRequest and to answer it (derive, seal and wrap session keys, build and
 * encrypt the JoinAccept). Root keys and KEKs are opened only inside these
 * functions, into secure memory, and wiped before they return. */
#ifndef IOTVAULT_VAULT_LORAWAN_H
#define IOTVAULT_VAULT_LORAWAN_H

#include <stdbool.h>
#include <stdint.h>

#include "iotvault/lorawan.h"
#include "iotvault/store_lorawan.h"
#include "iotvault/vault.h"

#define PEER_KEK_LEN 16
#define WRAPPED_SESSION_KEY_LEN 24

/* A session key as handed to a peer: RFC 3394-wrapped under the peer's KEK
 * (LEN 24, KEK_LABEL set), or in plaintext (LEN 16, empty label) only for a
 * peer configured with allow_plaintext. */
struct key_envelope {
	char kek_label[KEK_LABEL_MAX + 1];
	uint8_t data[WRAPPED_SESSION_KEY_LEN];
	size_t len;
};

struct vault_join_in {
	const struct device_record *dev;
	const uint8_t *phy; /* the JoinRequest PHYPayload */
	size_t phy_len;
	uint8_t join_eui[LORAWAN_EUI_LEN];
	uint8_t dev_eui[LORAWAN_EUI_LEN];
	/* the DevNonce of a JoinRequest, or the RJcount of a RejoinRequest */
	uint16_t dev_nonce;
	/* LORAWAN_JOIN_REQ_TYPE_JOIN, or the rejoin type 0, 1 or 2 (1.1 only:
	 * the JoinAccept is then encrypted with JSEncKey) */
	uint8_t join_req_type;
	uint32_t join_nonce, net_id, dev_addr;
	uint8_t dl_settings; /* OptNeg is set here for 1.1 devices */
	uint8_t rx_delay;
	bool has_cflist;
	uint8_t cflist[LORAWAN_CFLIST_LEN];
	const struct peer_record *ns_peer; /* receives the network session keys */
	const struct peer_record *as_peer; /* receives the AppSKey; NULL: none */
	int64_t session_row_id;            /* owner id of the sealed session keys */
};

struct vault_join_out {
	uint8_t phy[LORAWAN_JOIN_ACCEPT_CFLIST_LEN]; /* encrypted JoinAccept */
	size_t phy_len;
	bool opt_neg;
	/* 1.0 / no OptNeg: nwk_s_key; 1.1 OptNeg: the three network keys */
	struct key_envelope nwk_s_key, f_nwk_s_int_key, s_nwk_s_int_key, nwk_s_enc_key;
	struct key_envelope app_s_key;
	bool has_app_s_key;
};

/* Creates (or replaces) the 16-byte KEK of PEER, random, sealed in the vault. */
int vault_peer_kek_generate(struct vault *v, int64_t peer_id) IV_WUR;
/* Checks the JoinRequest's MIC with the device's AppKey (1.0.x) or NwkKey
 * (1.1): 0, or IV_ERR_MIC_FAILED. */
int vault_lorawan_verify_join_request(struct vault *v, const struct device_record *dev,
				      const uint8_t *phy, size_t len) IV_WUR;
/* Derives the session keys, seals them under owner ("lorawan_session",
 * session_row_id), wraps them for the peers and builds the encrypted
 * JoinAccept. Run inside the join transaction. */
int vault_lorawan_answer_join(struct vault *v, const struct vault_join_in *in,
			      struct vault_join_out *out) IV_WUR;
/* Checks a type 1 RejoinRequest's MIC with the device's JSIntKey (derived
 * from its NwkKey): 0, or IV_ERR_MIC_FAILED. */
int vault_lorawan_verify_rejoin_1(struct vault *v, const struct device_record *dev,
				  const uint8_t *phy, size_t len) IV_WUR;
/* Checks a type 0 or 2 RejoinRequest's MIC with the SNwkSIntKey of the
 * device's current session (SESSION_ROW_ID): 0, or IV_ERR_MIC_FAILED. */
int vault_lorawan_verify_rejoin_0_2(struct vault *v, int64_t tenant_id, int64_t session_row_id,
				    const uint8_t *phy, size_t len) IV_WUR;
/* The AppSKey of a stored session wrapped for AS_PEER (AppSKeyReq). */
int vault_lorawan_wrap_app_s_key(struct vault *v, int64_t tenant_id, int64_t session_row_id,
				 const struct peer_record *as_peer, struct key_envelope *out) IV_WUR;

#endif
