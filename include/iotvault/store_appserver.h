/* Storage operations of the LoRaWAN Application Server (device codec
 * profiles, per-session frame counters, stored uplinks, downlinks), reached
 * as st->ops->appserver->... Frame counters are enforced by the database:
 * an uplink counter is recorded only when it is greater than the last one,
 * and each downlink counter is handed out once. */
#ifndef IOTVAULT_STORE_APPSERVER_H
#define IOTVAULT_STORE_APPSERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "iotvault/store.h"
#include "iotvault/store_lorawan.h"

#define CODEC_NAME_MAX 16
#define APPSERVER_REASON_MAX 200
#define APPSERVER_NS_ID_MAX 64 /* TTS application and device ids */
#define APPSERVER_SOURCE_MAX 16

struct appserver_session_state {
	int64_t session_id;
	bool has_last_fcnt_up;
	uint32_t last_fcnt_up;
	uint64_t next_a_fcnt_down; /* 2^32 when the 32-bit space is used up */
	char ns_kind[APPSERVER_SOURCE_MAX + 1];
	char tts_application_id[APPSERVER_NS_ID_MAX + 1];
	char tts_device_id[APPSERVER_NS_ID_MAX + 1];
};

struct uplink_record {
	int64_t id;
	int64_t tenant_id;
	int64_t device_id;
	int64_t session_id;
	uint32_t f_cnt;
	uint8_t f_port;
	bool accepted;
	char reason[APPSERVER_REASON_MAX + 1];  /* why it was rejected */
	char codec[CODEC_NAME_MAX + 1];
	const char *decoded;                    /* JSON text; NULL when rejected */
	char source[APPSERVER_SOURCE_MAX + 1];  /* chirpstack | tts | native */
	int64_t received_at;
	int64_t expires_at;
};

struct downlink_record {
	int64_t id;
	int64_t tenant_id;
	int64_t device_id;
	int64_t session_id;
	uint8_t f_port;
	uint32_t a_fcnt_down;
	bool confirmed;
	uint32_t payload_len;
	char target[APPSERVER_SOURCE_MAX + 1];  /* chirpstack | tts | none */
	char outcome[APPSERVER_SOURCE_MAX + 1]; /* pending | pushed | failed */
	char detail[APPSERVER_REASON_MAX + 1];
	int64_t created_at;
	int64_t updated_at;
};

/* The uplink record passed to the callback lives only during the call. */
typedef int (*store_uplink_cb)(void *ctx, const struct uplink_record *u);

struct store_appserver_ops {
	/* The codec profile of a device of TENANT ("raw" by default). */
	int (*device_codec_get)(struct store *st, int64_t tenant_id, int64_t device_id,
				char out[static CODEC_NAME_MAX + 1]);
	int (*device_codec_set)(struct store *st, int64_t tenant_id, int64_t device_id,
				const char *codec);
	/* The device's most recent session (highest id). */
	int (*session_latest)(struct store *st, int64_t device_id,
			      struct lorawan_session_record *out);

	/* Creates the counter row of a session when missing, then reads it. */
	int (*state_get)(struct store *st, int64_t session_id, struct appserver_session_state *out);
	/* Records FCNT32 as the session's last uplink counter, only when it is
	 * greater than the last one: IV_ERR_REPLAY otherwise (a replay or a
	 * regression). Run in the ingest transaction. */
	int (*fcnt_up_advance)(struct store *st, int64_t session_id, uint32_t fcnt32);
	/* Hands out the next AFCntDown and persists its successor: each value is
	 * given once. IV_ERR_REFUSED when the 32-bit space is used up. */
	int (*a_fcnt_down_next)(struct store *st, int64_t session_id, uint32_t *out);
	/* Remembers which network server delivered the session's traffic (and
	 * its TTS identifiers), for downlinks. */
	int (*state_set_ns)(struct store *st, int64_t session_id, const char *ns_kind,
			    const char *tts_application_id, const char *tts_device_id);

	/* Sets U->id. */
	int (*uplink_insert)(struct store *st, struct uplink_record *u);
	/* Uplinks of a device of TENANT with id < BEFORE_ID (0: from the newest),
	 * newest first, at most LIMIT, not yet expired at NOW_MS. */
	int (*uplink_list)(struct store *st, int64_t tenant_id, int64_t device_id,
			   int64_t before_id, int limit, int64_t now_ms, store_uplink_cb cb,
			   void *ctx);
	/* Deletes uplinks expired at NOW_MS; returns the count or a negative code. */
	int64_t (*uplink_purge)(struct store *st, int64_t now_ms);

	/* Sets D->id. */
	int (*downlink_insert)(struct store *st, struct downlink_record *d);
	int (*downlink_set_outcome)(struct store *st, int64_t id, const char *outcome,
				    const char *detail);
};

#endif
