/* Storage operations of the LoRaWAN roles (peers, join state, sessions,
 * security events), reached as st->ops->lorawan->... */
#ifndef IOTVAULT_STORE_LORAWAN_H
#define IOTVAULT_STORE_LORAWAN_H

#include "iotvault/store.h"

#define PEER_SENDER_ID_MAX 64
#define KEK_LABEL_MAX 64
#define SESSION_KEY_ID_MAX 64
/* a CA certificate (chain) in PEM, as a peer's client_ca */
#define PEER_CLIENT_CA_MAX 8192
#define PEER_CERT_CN_MAX 64

struct peer_record {
	int64_t id;
	int64_t tenant_id; /* 0: installation-wide peer, else the tenant's own */
	char kind[4]; /* "ns" or "as" */
	char name[STORE_NAME_MAX + 1];
	char sender_id[PEER_SENDER_ID_MAX + 1];
	char kek_label[KEK_LABEL_MAX + 1];
	char cert_sha256[65]; /* "" when none */
	/* a client certificate chaining to this CA (PEM, "" when none) and,
	 * when set, carrying this subject CN also authenticates the peer */
	char client_ca[PEER_CLIENT_CA_MAX + 1];
	char client_cert_cn[PEER_CERT_CN_MAX + 1];
	/* "UnknownReceiver" (default when "") or "UnknownReceiverID" */
	char receiver_unknown_code[24];
	uint8_t token_sha256[32];
	int has_token;
	int allow_plaintext;
	int64_t created_at;
};

struct lorawan_session_record {
	int64_t id;
	char session_key_id[SESSION_KEY_ID_MAX + 1];
	int64_t device_id;
	int64_t tenant_id;
	uint32_t dev_addr;
	char mac_version[8];
	int opt_neg;
	int64_t ns_peer_id;
	int64_t created_at;
};

struct security_event {
	int64_t tenant_id;
	const char *kind;    /* "mic_failed", "dev_nonce_replayed", "unknown_dev_eui", ... */
	const char *source;  /* peer name or address */
	const char *subject; /* DevEUI or peer */
	const char *detail;
};

typedef int (*store_peer_cb)(void *ctx, const struct peer_record *p);

struct store_lorawan_ops {
	/* IV_ERR_EXISTS when name or sender_id is taken. Sets P->id. */
	int (*peer_insert)(struct store *st, struct peer_record *p);
	int (*peer_get)(struct store *st, int64_t id, struct peer_record *out);
	int (*peer_get_by_name)(struct store *st, const char *name, struct peer_record *out);
	int (*peer_get_by_sender)(struct store *st, const char *sender_id, struct peer_record *out);
	int (*peer_get_by_cert)(struct store *st, const char *cert_sha256, struct peer_record *out);
	int (*peer_list)(struct store *st, store_peer_cb cb, void *ctx);
	/* The peers of one tenant (its own, never the installation-wide ones). */
	int (*peer_list_tenant)(struct store *st, int64_t tenant_id, store_peer_cb cb, void *ctx);
	int (*peer_delete)(struct store *st, int64_t id);

	int (*device_get_by_dev_eui)(struct store *st, const char *dev_eui, struct device_record *out,
				     int64_t *as_peer_id, char home_net_id[static 7]);
	int (*device_set_join_settings)(struct store *st, int64_t tenant_id, int64_t device_id,
					int64_t as_peer_id, const char *home_net_id);

	/* Records DEV_NONCE for the device. RANDOM_NONCES (1.0.0-1.0.3): refused
	 * (IV_ERR_REFUSED) when used before; otherwise refused unless greater
	 * than the last one. Run in the join transaction. */
	int (*dev_nonce_use)(struct store *st, int64_t device_id, uint16_t dev_nonce,
			     int random_nonces);
	/* Records a type 1 RejoinRequest's RJcount1, refused (IV_ERR_REFUSED)
	 * unless greater than the last one. */
	int (*rj_count1_use)(struct store *st, int64_t device_id, uint16_t rj_count);
	/* The same for RJcount0 (types 0 and 2), which restarts with each session. */
	int (*rj_count0_use)(struct store *st, int64_t device_id, uint16_t rj_count);
	/* Increments and returns the device's JoinNonce (persisted in the
	 * transaction). IV_ERR_REFUSED when the 24-bit space is exhausted. */
	int (*join_nonce_next)(struct store *st, int64_t device_id, uint32_t *out);
	/* Forgets the DevNonce history (operator reset). */
	int (*dev_nonce_reset)(struct store *st, int64_t device_id);

	int (*session_insert)(struct store *st, struct lorawan_session_record *s);
	int (*session_get)(struct store *st, const char *session_key_id,
			   struct lorawan_session_record *out);
	/* The device's most recent session. */
	int (*session_latest)(struct store *st, int64_t device_id,
			      struct lorawan_session_record *out);

	int (*security_event_add)(struct store *st, const struct security_event *ev);
	int64_t (*security_event_count)(struct store *st, const char *kind);
};

#endif
