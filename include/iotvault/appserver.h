/* The LoRaWAN Application Server: uplinks whose FRMPayload the network
 * server could not decrypt (ChirpStack v4 end-to-end mode, The Things Stack
 * skip_payload_crypto, or iotvault's native JSON) are parsed into one shape,
 * matched to a session (by SessionKeyID, or adopted from an AppSKey envelope
 * wrapped for iotvault's own AS peer), checked against the session's frame
 * counter (database rule), decrypted in the vault, decoded with the device's
 * codec, stored, and queued for the integrations. Downlinks go the other
 * way: encrypted with the next AFCntDown and pushed to the network server.
 * See docs/appserver.md. */
#ifndef IOTVAULT_APPSERVER_H
#define IOTVAULT_APPSERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotvault/errors.h"
#include "iotvault/hex.h"
#include "iotvault/http.h"
#include "iotvault/lorawan.h"
#include "iotvault/store_appserver.h"
#include "iotvault/vault_lorawan.h"

#define APPSERVER_ERR_MAX 200
/* a downlink's FRMPayload: the largest any region allows at any data rate */
#define APPSERVER_DOWNLINK_MAX 242

enum appserver_event {
	APPSERVER_EVENT_IGNORED = 0, /* accepted and ignored (204) */
	APPSERVER_EVENT_UP,
	APPSERVER_EVENT_JOIN,
};

/* What an ingest adapter extracts from a network server's message. */
struct appserver_uplink {
	enum appserver_event event;
	const char *source; /* "chirpstack", "tts", "native" (static) */
	char dev_eui[EUI_HEX_LEN + 1];
	char session_key_id[SESSION_KEY_ID_MAX + 1]; /* upper-case hex */
	bool has_envelope;
	struct key_envelope app_s_key;
	bool has_dev_addr;
	uint32_t dev_addr;
	bool has_f_port; /* false: no FRMPayload (MAC-only frame) */
	uint8_t f_port;
	uint32_t f_cnt;
	bool f_cnt_16; /* only the low 16 bits are known: reconstruct */
	uint8_t payload[LORAWAN_FRM_PAYLOAD_MAX];
	size_t payload_len;
	char tts_application_id[APPSERVER_NS_ID_MAX + 1];
	char tts_device_id[APPSERVER_NS_ID_MAX + 1];
};

/* The adapters: validate a parsed JSON body (and the ChirpStack ?event=)
 * into OUT. IV_ERR_INVALID (or IV_ERR_TOO_LARGE) with a reason in ERR for
 * anything malformed; they touch nothing but OUT. */
int appserver_parse_chirpstack(const char *event, json_t *body, struct appserver_uplink *out,
			       char *err, size_t err_len) IV_WUR;
int appserver_parse_tts(json_t *body, struct appserver_uplink *out, char *err,
			size_t err_len) IV_WUR;
int appserver_parse_native(json_t *body, struct appserver_uplink *out, char *err,
			   size_t err_len) IV_WUR;

struct appserver_result {
	int64_t device_id;
	int64_t uplink_id; /* 0 for a join */
	bool accepted;     /* decoded and queued for the integrations */
	bool forwarded;    /* outbox_enqueue succeeded */
	bool adopted;      /* the session was adopted from its envelope */
	uint32_t f_cnt;    /* the 32-bit counter */
	char reason[APPSERVER_REASON_MAX + 1];
};

/* Acts on UP for a caller of tenant WHO (service lock held). 0 with RES
 * filled (a rejected payload is a success: it is stored as rejected);
 * IV_ERR_REPLAY for a replayed or regressed counter (security event
 * recorded, nothing stored); IV_ERR_NOT_FOUND for an unknown device or
 * session; IV_ERR_REFUSED for an envelope iotvault cannot open. ERR gets a
 * message for the client. */
int appserver_ingest(struct service *svc, const struct principal *who,
		     const struct appserver_uplink *up, struct appserver_result *res, char *err,
		     size_t err_len) IV_WUR;

struct appserver_downlink_request {
	int64_t device_id;
	uint8_t f_port;
	const uint8_t *data;
	size_t len;
	bool confirmed;
};

/* Encrypts and pushes a downlink (takes and releases the service lock
 * itself: the push to the network server runs unlocked). The AFCntDown is
 * persisted before anything is sent; OUT records the outcome. */
int appserver_downlink(struct service *svc, const struct principal *who,
		       const struct appserver_downlink_request *req, struct downlink_record *out,
		       char *err, size_t err_len) IV_WUR;

/* Deletes the uplinks past their retention (at most once a minute). */
void appserver_purge_expired(struct service *svc);

#endif
