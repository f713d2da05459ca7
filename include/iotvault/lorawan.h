/* LoRaWAN 1.0.x / 1.1 frame codec and cryptography, on Nettle primitives.
 *
 * Byte order: the wire is little-endian. In these structures every multi-octet
 * identifier is given as humans write it: EUIs are 8 bytes big-endian
 * ("70B3D57ED0000000"), DevAddr, NetID, JoinNonce, DevNonce and counters are
 * plain integers. The codec does the reversal.
 *
 * Keys are parameters (uint8_t key[static 16]); the caller keeps them in
 * secure memory. Every function that derives or uses a key wipes its own
 * temporaries and Nettle contexts before returning. Derived keys are written
 * to caller-provided buffers, which should be secbufs.
 *
 * A JoinAccept travels encrypted. lorawan_frame_parse()/_build() handle its
 * PLAINTEXT form (what the device sees after decryption); the
 * lorawan_join_accept_* functions convert between the two. */
#ifndef IOTVAULT_LORAWAN_H
#define IOTVAULT_LORAWAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotvault/errors.h"

#define LORAWAN_KEY_LEN 16
#define LORAWAN_EUI_LEN 8
#define LORAWAN_MIC_LEN 4
#define LORAWAN_CFLIST_LEN 16
#define LORAWAN_FOPTS_MAX 15
/* The LoRa physical layer carries at most 255 bytes. */
#define LORAWAN_PHY_PAYLOAD_MAX 255
/* MHDR + FHDR without FOpts + FPort + MIC = 13 bytes of overhead. */
#define LORAWAN_FRM_PAYLOAD_MAX (LORAWAN_PHY_PAYLOAD_MAX - 13)
#define LORAWAN_JOIN_REQUEST_LEN 23
#define LORAWAN_REJOIN_0_2_LEN 19
#define LORAWAN_REJOIN_1_LEN 24
#define LORAWAN_JOIN_ACCEPT_LEN 17
#define LORAWAN_JOIN_ACCEPT_CFLIST_LEN (LORAWAN_JOIN_ACCEPT_LEN + LORAWAN_CFLIST_LEN)
/* Largest forward jump of the 32-bit frame counter that
 * lorawan_fcnt_reconstruct() accepts (LoRaWAN 1.0.0 MAX_FCNT_GAP). */
#define LORAWAN_FCNT_MAX_GAP 16384u

/* JoinReqType in the 1.1 join-accept MIC: 0xFF answers a JoinRequest, 0/1/2
 * answer a RejoinRequest of that type. */
#define LORAWAN_JOIN_REQ_TYPE_JOIN 0xFF

/* FCtrl flag bits (the low nibble is FOptsLen, kept in fopts_len). */
#define LORAWAN_FCTRL_ADR 0x80
#define LORAWAN_FCTRL_ADR_ACK_REQ 0x40 /* uplink; RFU downlink */
#define LORAWAN_FCTRL_ACK 0x20
#define LORAWAN_FCTRL_FPENDING 0x10 /* downlink; ClassB uplink */
#define LORAWAN_FCTRL_FLAGS_MASK 0xF0

/* DLSettings bit 7: OptNeg, set by a LoRaWAN 1.1 join server. */
#define LORAWAN_DLSETTINGS_OPTNEG 0x80

enum lorawan_mtype {
	LORAWAN_MTYPE_JOIN_REQUEST = 0,
	LORAWAN_MTYPE_JOIN_ACCEPT = 1,
	LORAWAN_MTYPE_UNCONFIRMED_UP = 2,
	LORAWAN_MTYPE_UNCONFIRMED_DOWN = 3,
	LORAWAN_MTYPE_CONFIRMED_UP = 4,
	LORAWAN_MTYPE_CONFIRMED_DOWN = 5,
	LORAWAN_MTYPE_REJOIN_REQUEST = 6,
	LORAWAN_MTYPE_PROPRIETARY = 7,
};

struct lorawan_join_request {
	uint8_t join_eui[LORAWAN_EUI_LEN]; /* AppEUI in 1.0 */
	uint8_t dev_eui[LORAWAN_EUI_LEN];
	uint16_t dev_nonce;
};

struct lorawan_rejoin_request {
	uint8_t type;                      /* 0, 1 or 2 */
	uint32_t net_id;                   /* types 0 and 2 (24 bits) */
	uint8_t join_eui[LORAWAN_EUI_LEN]; /* type 1 */
	uint8_t dev_eui[LORAWAN_EUI_LEN];
	uint16_t rj_count; /* RJcount0 (types 0, 2) or RJcount1 (type 1) */
};

struct lorawan_join_accept {
	uint32_t join_nonce; /* AppNonce in 1.0 (24 bits) */
	uint32_t net_id;     /* 24 bits */
	uint32_t dev_addr;
	uint8_t dl_settings;
	uint8_t rx_delay;
	bool has_cflist;
	uint8_t cflist[LORAWAN_CFLIST_LEN]; /* wire bytes, uninterpreted */
};

struct lorawan_data_frame {
	uint32_t dev_addr;
	uint8_t fctrl; /* flag bits only (LORAWAN_FCTRL_*); FOptsLen is fopts_len */
	uint16_t fcnt; /* the 16 bits on the wire */
	uint8_t fopts_len;
	uint8_t fopts[LORAWAN_FOPTS_MAX];
	bool has_fport;
	uint8_t fport;
	size_t frm_payload_len; /* 0 when !has_fport */
	uint8_t frm_payload[LORAWAN_FRM_PAYLOAD_MAX];
};

struct lorawan_frame {
	enum lorawan_mtype mtype;
	uint8_t rfu; /* MHDR bits 4..2, kept so that parse/build round-trips */
	union {
		struct lorawan_join_request join_request;
		struct lorawan_rejoin_request rejoin_request;
		struct lorawan_join_accept join_accept; /* plaintext form */
		struct lorawan_data_frame data;
	} u;
	uint8_t mic[LORAWAN_MIC_LEN];
};

/* ---------------------------------------------------------------- codec */

/* Parses a PHYPayload. Major must be LoRaWAN R1 (0); proprietary frames are
 * refused (iotvault has no use for them). IV_ERR_TRUNCATED when the input is
 * shorter than its type requires, IV_ERR_INVALID for any other malformation
 * (wrong length, unknown rejoin type, FPort 0 with FOpts), IV_ERR_TOO_LARGE
 * beyond LORAWAN_PHY_PAYLOAD_MAX. */
int lorawan_frame_parse(const uint8_t *phy, size_t len, struct lorawan_frame *out) IV_WUR;
/* Serialises F, MIC included as given. Fields are range-checked
 * (IV_ERR_INVALID); IV_ERR_TOO_LARGE when CAP is too small. */
int lorawan_frame_build(const struct lorawan_frame *f, uint8_t *out, size_t cap,
			size_t *out_len) IV_WUR;
bool lorawan_mtype_is_data(enum lorawan_mtype t);
bool lorawan_mtype_is_uplink(enum lorawan_mtype t);

/* ---------------------------------------------------------------- key derivation */

/* 1.0.x: NwkSKey and AppSKey from AppKey, JoinNonce (AppNonce), NetID, DevNonce.
 * Also 1.1 devices answered without OptNeg. IV_ERR_INVALID for out-of-range
 * 24-bit values. */
int lorawan_derive_session_keys_1_0(const uint8_t app_key[static 16], uint32_t join_nonce,
				    uint32_t net_id, uint16_t dev_nonce,
				    uint8_t nwk_s_key[static 16],
				    uint8_t app_s_key[static 16]) IV_WUR;
/* 1.1 with OptNeg: network keys from NwkKey, AppSKey from AppKey, each with
 * JoinNonce, JoinEUI and DevNonce. */
int lorawan_derive_session_keys_1_1(const uint8_t nwk_key[static 16],
				    const uint8_t app_key[static 16], uint32_t join_nonce,
				    const uint8_t join_eui[static 8], uint16_t dev_nonce,
				    uint8_t f_nwk_s_int_key[static 16],
				    uint8_t s_nwk_s_int_key[static 16],
				    uint8_t nwk_s_enc_key[static 16],
				    uint8_t app_s_key[static 16]) IV_WUR;
/* 1.1: JSIntKey and JSEncKey from NwkKey and DevEUI. */
void lorawan_derive_js_keys(const uint8_t nwk_key[static 16], const uint8_t dev_eui[static 8],
			    uint8_t js_int_key[static 16], uint8_t js_enc_key[static 16]);

/* ---------------------------------------------------------------- MICs */

/* Constant-time comparison of MIC with the last four bytes of PHY:
 * 0 or IV_ERR_AUTH_TAG (also for PHY shorter than a MIC). */
int lorawan_mic_check(const uint8_t *phy, size_t len, const uint8_t mic[static 4]) IV_WUR;

/* JoinRequest: CMAC over MHDR..DevNonce with AppKey (1.0) or NwkKey (1.1).
 * PHY is the whole 23-byte frame; its MIC bytes are not read. */
int lorawan_join_request_mic(const uint8_t key[static 16], const uint8_t *phy, size_t len,
			     uint8_t mic[static 4]) IV_WUR;
/* RejoinRequest: SNwkSIntKey for types 0 and 2, JSIntKey for type 1. */
int lorawan_rejoin_request_mic(const uint8_t key[static 16], const uint8_t *phy, size_t len,
			       uint8_t mic[static 4]) IV_WUR;

/* Join-accept MIC over a PLAINTEXT JoinAccept PHYPayload (17 or 33 bytes; the
 * MIC bytes are not read). 1.0 (and 1.1 without OptNeg): CMAC with AppKey
 * (1.0) / NwkKey (1.1) over MHDR..CFList. */
int lorawan_join_accept_mic_1_0(const uint8_t key[static 16], const uint8_t *phy, size_t len,
				uint8_t mic[static 4]) IV_WUR;
/* 1.1 with OptNeg: CMAC with JSIntKey over JoinReqType | JoinEUI | DevNonce |
 * MHDR..CFList. DEV_NONCE is the DevNonce of a JoinRequest, or the RJcount of
 * the RejoinRequest being answered. */
int lorawan_join_accept_mic_1_1(const uint8_t js_int_key[static 16], uint8_t join_req_type,
				const uint8_t join_eui[static 8], uint16_t dev_nonce,
				const uint8_t *phy, size_t len, uint8_t mic[static 4]) IV_WUR;

/* ---------------------------------------------------------------- join-accept cipher */

/* Network side: the MHDR is copied, the rest (fields and MIC, 16 or 32 bytes)
 * goes through AES-128 *decryption* in ECB mode, so that a device needs only
 * the AES encrypt operation. KEY: AppKey (1.0), NwkKey (1.1 answer to a
 * JoinRequest), JSEncKey (1.1 answer to a RejoinRequest). IN and OUT may be
 * the same buffer. */
int lorawan_join_accept_encrypt(const uint8_t key[static 16], const uint8_t *in, size_t len,
				uint8_t *out) IV_WUR;
/* Device side (for tests and oracles): the inverse, with AES encryption. */
int lorawan_join_accept_decrypt(const uint8_t key[static 16], const uint8_t *in, size_t len,
				uint8_t *out) IV_WUR;

/* Builds JA, computes its MIC and encrypts it: the bytes a join server sends.
 * 1.0 flavour: MIC and encryption with KEY (AppKey / NwkKey). */
int lorawan_join_accept_seal_1_0(const uint8_t key[static 16], const struct lorawan_join_accept *ja,
				 uint8_t *out, size_t cap, size_t *out_len) IV_WUR;
/* 1.1 flavour (OptNeg must be set in ja->dl_settings): MIC with JSIntKey,
 * encryption with ENC_KEY (NwkKey for a JoinRequest, JSEncKey for a rejoin). */
int lorawan_join_accept_seal_1_1(const uint8_t enc_key[static 16],
				 const uint8_t js_int_key[static 16], uint8_t join_req_type,
				 const uint8_t join_eui[static 8], uint16_t dev_nonce,
				 const struct lorawan_join_accept *ja, uint8_t *out, size_t cap,
				 size_t *out_len) IV_WUR;
/* Device side: decrypts, verifies the MIC (IV_ERR_AUTH_TAG) and parses. The
 * 1.1 variant checks OptNeg is set and uses the 1.1 MIC. */
int lorawan_join_accept_open_1_0(const uint8_t key[static 16], const uint8_t *phy, size_t len,
				 struct lorawan_join_accept *out) IV_WUR;
int lorawan_join_accept_open_1_1(const uint8_t enc_key[static 16],
				 const uint8_t js_int_key[static 16], uint8_t join_req_type,
				 const uint8_t join_eui[static 8], uint16_t dev_nonce,
				 const uint8_t *phy, size_t len,
				 struct lorawan_join_accept *out) IV_WUR;

/* ---------------------------------------------------------------- data frames */

/* Data-frame MICs over a whole data PHYPayload (its MIC bytes are not read).
 * FCNT32 is the full frame counter; its low 16 bits must equal the FCnt on
 * the wire (IV_ERR_INVALID otherwise). Direction and DevAddr come from PHY.
 *
 * 1.0.x, both directions: B0 and CMAC with NwkSKey. */
int lorawan_data_mic_1_0(const uint8_t nwk_s_key[static 16], const uint8_t *phy, size_t len,
			 uint32_t fcnt32, uint8_t mic[static 4]) IV_WUR;
/* 1.1 uplink: cmacS (SNwkSIntKey over B1) [0..1] | cmacF (FNwkSIntKey over B0)
 * [0..1]. CONF_FCNT is the counter of the confirmed downlink being
 * acknowledged; it is used only when the frame's ACK bit is set (else 0, as
 * the specification requires). TX_DR and TX_CH: data rate and channel index
 * of the uplink transmission. */
int lorawan_data_mic_1_1_uplink(const uint8_t f_nwk_s_int_key[static 16],
				const uint8_t s_nwk_s_int_key[static 16], const uint8_t *phy,
				size_t len, uint32_t fcnt32, uint16_t conf_fcnt, uint8_t tx_dr,
				uint8_t tx_ch, uint8_t mic[static 4]) IV_WUR;
/* 1.1 downlink: B0 with ConfFCnt (ACK bit rule as above), CMAC with
 * SNwkSIntKey. FCNT32 is AFCntDown or NFCntDown as the FPort says. */
int lorawan_data_mic_1_1_downlink(const uint8_t s_nwk_s_int_key[static 16], const uint8_t *phy,
				  size_t len, uint32_t fcnt32, uint16_t conf_fcnt,
				  uint8_t mic[static 4]) IV_WUR;

/* FRMPayload cipher (symmetric): AES-128 keystream over the A_i blocks (0x01,
 * 4 x 0x00, Dir, DevAddr, FCnt32, 0x00, i). KEY: AppSKey for FPort > 0,
 * NwkSKey (1.0) / NwkSEncKey (1.1) for FPort 0. LEN <= LORAWAN_FRM_PAYLOAD_MAX.
 * IN and OUT may be the same buffer. */
int lorawan_frm_payload_crypt(const uint8_t key[static 16], bool downlink, uint32_t dev_addr,
			      uint32_t fcnt32, const uint8_t *in, size_t len, uint8_t *out) IV_WUR;
/* 1.1 FOpts cipher with NwkSEncKey (symmetric), following the 1.1 errata
 * (A block byte 4 = 0x02 for a downlink counted by AFCntDown, else 0x01;
 * last byte 0x01), as ChirpStack and lora-packet do. LEN <= 15. */
int lorawan_fopts_crypt_1_1(const uint8_t nwk_s_enc_key[static 16], bool downlink,
			    bool a_fcnt_down, uint32_t dev_addr, uint32_t fcnt32, const uint8_t *in,
			    size_t len, uint8_t *out) IV_WUR;

/* ---------------------------------------------------------------- frame counters */

/* The 32-bit counter a 16-bit FCnt stands for, given the last 32-bit counter
 * accepted for the session (HAVE_LAST false for the first frame after a join,
 * when the counter is FCNT16 itself). The result is the smallest value >= LAST
 * whose low 16 bits are FCNT16; it equals LAST for a repeat of the last frame,
 * which the caller treats as a replay or a retransmission. IV_ERR_REFUSED when
 * it lies more than LORAWAN_FCNT_MAX_GAP above LAST (a regression, a replay of
 * an old frame, or too many lost frames) or would pass 2^32 - 1 (the session
 * must rejoin). */
int lorawan_fcnt_reconstruct(bool have_last, uint32_t last, uint16_t fcnt16,
			     uint32_t *out) IV_WUR;

#endif
