/* The configuration file DIR/iotvault.conf (INI, parsed with libinih). Every
 * key is documented in README.md; unknown sections and keys are errors so a
 * typo never silently falls back to a default. Relative paths are relative to
 * the data directory. */
#ifndef IOTVAULT_CONFIG_H
#define IOTVAULT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/errors.h"

#define CONFIG_FILE_NAME "iotvault.conf"
#define CONFIG_MAX_SIZE (64 * 1024)
/* libinih (Debian build) reads at most 199 characters per line */
#define CONFIG_MAX_LINE 199
#define CONFIG_MAX_VALUE 160

enum mk_provider_kind { MK_PROVIDER_FILE = 0, MK_PROVIDER_PASSPHRASE, MK_PROVIDER_PKCS11 };

struct config {
	char *data_dir;
	/* [storage] */
	char *db_path;
	int busy_timeout_ms;
	/* [master_key] */
	enum mk_provider_kind mk_provider;
	char *mk_key_dir;
	char *passphrase_env;
	uint64_t kdf_opslimit;
	size_t kdf_memlimit;
	char *pkcs11_module;
	char *pkcs11_token_label;
	char *pkcs11_pin_env;
	char *pkcs11_key_label;
	int rotation_batch_size;
	/* [tls] */
	char *tls_certificate;
	char *tls_private_key;
	/* [log] */
	char *log_file;
	int log_level;
	/* [http] */
	char *http_listen;          /* host:port of the API listener */
	int http_threads;
	long http_max_body_bytes;
	long http_max_import_bytes; /* bulk-import uploads (ROUTE_LARGE_BODY) */
	long http_max_header_bytes;
	int http_connections_per_source;
	int http_request_timeout_s;
	/* [backend] LoRaWAN Backend Interfaces listener; "off" disables it */
	char *backend_listen;
	int joinserver_lifetime_s;
	/* [session] */
	int session_idle_timeout_s;
	int session_absolute_timeout_s;
	/* [auth] */
	int auth_max_failures_per_account_hour;
	int auth_max_failures_per_source_hour;
	int auth_throttle_base_ms;
	int auth_throttle_max_ms;
	char *auth_common_passwords; /* file of common passwords, one per line */
	/* [appserver] LoRaWAN Application Server (docs/appserver.md) */
	char *appserver_own_as_peer;     /* AS peer whose KEK iotvault holds; NULL: none */
	int appserver_uplink_retention_days;
	char *appserver_chirpstack_api_url; /* NULL: no ChirpStack downlinks */
	char *appserver_chirpstack_token_env;
	char *appserver_tts_api_url;        /* NULL: no The Things Stack downlinks */
	char *appserver_tts_key_env;
	char *appserver_ns_ca_file;        /* CA bundle for the NS APIs; NULL: system */
	/* [mqtt] MQTT over TLS integration (docs/integrations.md); off while url is unset */
	char *mqtt_url;            /* mqtts://host:port; NULL or "off": no MQTT */
	char *mqtt_ca_file;        /* CA bundle for the broker; NULL: system CAs */
	char *mqtt_client_cert;    /* client certificate (PEM); NULL: none */
	char *mqtt_client_key;
	char *mqtt_username;
	char *mqtt_password_env;   /* environment variable holding the password */
	char *mqtt_client_id;      /* NULL: iotvault-<random> */
	char *mqtt_topic_prefix;
	int mqtt_qos;
	int mqtt_keepalive_s;
	int mqtt_retry_max_s;
	long outbox_max_per_tenant; /* queued messages per tenant, every destination */
	/* [webhooks] signed HTTPS webhooks */
	char *webhooks_ca_file;    /* CA bundle for receivers; NULL: system CAs */
	int webhooks_timeout_s;
	int webhooks_retry_max_s;
	/* [lwm2m] LwM2M bootstrap and DM server (docs/lwm2m.md); "off" disables a listener */
	char *lwm2m_dm_listen;        /* DTLS, default 127.0.0.1:5684 */
	char *lwm2m_bootstrap_listen; /* DTLS, default 127.0.0.1:5784 */
	char *lwm2m_nosec;            /* NoSec DM listener HOST:PORT; default off */
	int lwm2m_lifetime_default_s; /* registrations without lt= */
	int lwm2m_lifetime_min_s;
	int lwm2m_lifetime_max_s;
	int lwm2m_dm_lifetime_s;      /* lifetime the bootstrap writes into the Server object */
	char *lwm2m_dm_server_uri;    /* DM server URI the bootstrap writes */
	int lwm2m_short_server_id;
	/* the DM and bootstrap listeners' own certificate for RPK and X.509
	 * sessions: "" = the [tls] ones; certificate "off" = PSK only */
	char *lwm2m_certificate;
	char *lwm2m_private_key;
	/* listeners that show peers the server's raw public key instead of its
	 * certificate (LwM2M Security Mode 1 both ways); default off. The
	 * bootstrap sends RPK devices rpk_dm_server_uri ("" = dm_server_uri). */
	char *lwm2m_rpk_dm_listen;
	char *lwm2m_rpk_bootstrap_listen;
	char *lwm2m_rpk_dm_server_uri;
	int lwm2m_rebootstrap_after_s; /* re-bootstrap older active DM credentials; 0 = off */
	/* firmware update (object 5), docs/lwm2m.md */
	long lwm2m_firmware_max_bytes;      /* largest image accepted by upload */
	int lwm2m_firmware_token_ttl_s;     /* life of a pull download token */
	int lwm2m_firmware_poll_interval_ms; /* how often a job reads /5/0/3 and /5/0/5 */
	int lwm2m_firmware_job_timeout_s;   /* a job not finished by then is timed_out */
	int lwm2m_dm_timeout_ms;      /* how long a DM request waits for the device (docs/lwm2m.md) */
	int lwm2m_observe_retention_days; /* stored notifications are kept this long */
	int lwm2m_queue_awake_ms;     /* a queue-mode device counts as awake this long after it was heard */
	int lwm2m_dm_waits;            /* REST requests waiting for devices at once; 0: [http] threads - 1 */
	int lwm2m_dm_waits_per_tenant; /* of one tenant; 0: dm_waits - 1 */
	int lwm2m_notifications_per_device; /* stored notifications kept per device (oldest dropped) */
};

/* Fills CFG with the built-in defaults for DATA_DIR. */
int config_defaults(struct config *cfg, const char *data_dir) IV_WUR;
/* Parses TEXT over the values already in CFG. On error, ERR (ERR_LEN bytes,
 * may be NULL) names the line and the key, never the value, and CFG is left
 * partly updated: the caller discards it. */
int config_parse_string(struct config *cfg, const char *text, char *err, size_t err_len) IV_WUR;
/* Defaults, then DATA_DIR/iotvault.conf. */
int config_load(struct config *cfg, const char *data_dir, char *err, size_t err_len) IV_WUR;
/* Resolves a configured path against the data directory (malloc'd). */
char *config_path(const struct config *cfg, const char *path);
/* A string value that renders and parses back unchanged: 1..CONFIG_MAX_VALUE
 * characters, no control characters, ';' or '#', no leading/trailing space. */
int config_value_ok(const char *value);
/* The text of a configuration file with CFG's values; NULL when a value
 * would not read back unchanged (see config_value_ok) or out of memory. */
char *config_render(const struct config *cfg);
const char *mk_provider_name(enum mk_provider_kind kind);
int mk_provider_parse(const char *name, enum mk_provider_kind *out) IV_WUR;
void config_free(struct config *cfg);

#endif
