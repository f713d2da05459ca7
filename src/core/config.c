/* INI configuration: defaults, parsing (libinih), rendering for `init`. */
#include "iotvault/config.h"
#include "iotvault/log.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int set_str(char **slot, const char *value)
{
	char *copy = strdup(value);
	if (copy == NULL)
		return IV_ERR_NOMEM;
	free(*slot);
	*slot = copy;
	return 0;
}

int config_defaults(struct config *cfg, const char *data_dir)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->busy_timeout_ms = 10000;
	cfg->mk_provider = MK_PROVIDER_FILE;
	cfg->kdf_opslimit = 3;
	cfg->kdf_memlimit = 256u * 1024u * 1024u;
	cfg->rotation_batch_size = 500;
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->http_threads = 4;
	cfg->joinserver_lifetime_s = 0;
	cfg->http_max_body_bytes = 1024 * 1024;
	cfg->http_max_import_bytes = 64L * 1024 * 1024;
	cfg->http_max_header_bytes = 16 * 1024;
	cfg->http_connections_per_source = 32;
	cfg->http_request_timeout_s = 30;
	cfg->session_idle_timeout_s = 30 * 60;
	cfg->session_absolute_timeout_s = 12 * 60 * 60;
	cfg->auth_max_failures_per_account_hour = 100;
	cfg->auth_max_failures_per_source_hour = 1000;
	cfg->auth_throttle_base_ms = 250;
	cfg->auth_throttle_max_ms = 30000;
	cfg->appserver_uplink_retention_days = 30;
	cfg->mqtt_qos = 1;
	cfg->mqtt_keepalive_s = 30;
	cfg->mqtt_retry_max_s = 300;
	cfg->outbox_max_per_tenant = 100000;
	cfg->webhooks_timeout_s = 10;
	cfg->webhooks_retry_max_s = 300;
	cfg->lwm2m_lifetime_default_s = 86400;
	cfg->lwm2m_lifetime_min_s = 1;
	cfg->lwm2m_lifetime_max_s = 30 * 86400;
	cfg->lwm2m_dm_lifetime_s = 86400;
	cfg->lwm2m_short_server_id = 1;
	cfg->lwm2m_firmware_max_bytes = 1024L * 1024;
	cfg->lwm2m_firmware_token_ttl_s = 600;
	cfg->lwm2m_firmware_poll_interval_ms = 1000;
	cfg->lwm2m_firmware_job_timeout_s = 1800;
	cfg->lwm2m_dm_timeout_ms = 10000;
	cfg->lwm2m_observe_retention_days = 30;
	cfg->lwm2m_notifications_per_device = 10000;
	cfg->lwm2m_queue_awake_ms = 93000;
	if (set_str(&cfg->data_dir, data_dir) || set_str(&cfg->db_path, "iotvault.db") ||
	    set_str(&cfg->mk_key_dir, "keys") || set_str(&cfg->passphrase_env, "IOTVAULT_PASSPHRASE") ||
	    set_str(&cfg->pkcs11_module, "/usr/lib/softhsm/libsofthsm2.so") ||
	    set_str(&cfg->pkcs11_token_label, "iotvault") ||
	    set_str(&cfg->pkcs11_pin_env, "IOTVAULT_PKCS11_PIN") ||
	    set_str(&cfg->pkcs11_key_label, "iotvault-master") ||
	    set_str(&cfg->tls_certificate, "tls/cert.pem") ||
	    set_str(&cfg->tls_private_key, "tls/key.pem") || set_str(&cfg->log_file, "iotvault.log") ||
	    set_str(&cfg->http_listen, "127.0.0.1:8443") ||
	    set_str(&cfg->backend_listen, "off") ||
	    set_str(&cfg->appserver_chirpstack_token_env, "IOTVAULT_CHIRPSTACK_TOKEN") ||
	    set_str(&cfg->appserver_tts_key_env, "IOTVAULT_TTS_API_KEY") ||
	    set_str(&cfg->mqtt_topic_prefix, "iotvault") ||
	    set_str(&cfg->lwm2m_dm_listen, "127.0.0.1:5684") ||
	    set_str(&cfg->lwm2m_bootstrap_listen, "127.0.0.1:5784") ||
	    set_str(&cfg->lwm2m_nosec, "off") ||
	    set_str(&cfg->lwm2m_dm_server_uri, "coaps://127.0.0.1:5684") ||
	    set_str(&cfg->lwm2m_certificate, "") || set_str(&cfg->lwm2m_private_key, "") ||
	    set_str(&cfg->lwm2m_rpk_dm_listen, "off") ||
	    set_str(&cfg->lwm2m_rpk_bootstrap_listen, "off") ||
	    set_str(&cfg->lwm2m_rpk_dm_server_uri, "") ||
	    set_str(&cfg->auth_common_passwords, IOTVAULT_DATADIR "/common-passwords.txt")) {
		config_free(cfg);
		return IV_ERR_NOMEM;
	}
	return 0;
}

const char *mk_provider_name(enum mk_provider_kind kind)
{
	switch (kind) {
	case MK_PROVIDER_FILE: return "file";
	case MK_PROVIDER_PASSPHRASE: return "passphrase";
	case MK_PROVIDER_PKCS11: return "pkcs11";
	}
	return "unknown";
}

int mk_provider_parse(const char *name, enum mk_provider_kind *out)
{
	if (strcmp(name, "file") == 0)
		*out = MK_PROVIDER_FILE;
	else if (strcmp(name, "passphrase") == 0)
		*out = MK_PROVIDER_PASSPHRASE;
	else if (strcmp(name, "pkcs11") == 0)
		*out = MK_PROVIDER_PKCS11;
	else
		return IV_ERR_INVALID;
	return 0;
}

static int parse_long(const char *value, long min, long max, long *out)
{
	char *end;
	long v;
	errno = 0;
	v = strtol(value, &end, 10);
	if (errno || end == value || *end != '\0' || v < min || v > max)
		return IV_ERR_INVALID;
	*out = v;
	return 0;
}

struct parse_state {
	struct config *cfg;
	char *err;
	size_t err_len;
	int failed;
};

enum value_kind { V_STR, V_INT, V_LONG, V_PROVIDER, V_LOGLEVEL, V_MEMLIMIT, V_OPSLIMIT };

struct key_spec {
	const char *section;
	const char *name;
	enum value_kind kind;
	size_t offset;
	long min, max;
};

#define OFF(field) offsetof(struct config, field)
static const struct key_spec key_specs[] = {
	{"storage", "path", V_STR, OFF(db_path), 0, 0},
	{"storage", "busy_timeout_ms", V_INT, OFF(busy_timeout_ms), 0, 600000},
	{"master_key", "provider", V_PROVIDER, OFF(mk_provider), 0, 0},
	{"master_key", "key_dir", V_STR, OFF(mk_key_dir), 0, 0},
	{"master_key", "passphrase_env", V_STR, OFF(passphrase_env), 0, 0},
	{"master_key", "kdf_opslimit", V_OPSLIMIT, OFF(kdf_opslimit), 1, 20},
	{"master_key", "kdf_memlimit_mib", V_MEMLIMIT, OFF(kdf_memlimit), 8, 4096},
	{"master_key", "pkcs11_module", V_STR, OFF(pkcs11_module), 0, 0},
	{"master_key", "pkcs11_token_label", V_STR, OFF(pkcs11_token_label), 0, 0},
	{"master_key", "pkcs11_pin_env", V_STR, OFF(pkcs11_pin_env), 0, 0},
	{"master_key", "pkcs11_key_label", V_STR, OFF(pkcs11_key_label), 0, 0},
	{"master_key", "rotation_batch_size", V_INT, OFF(rotation_batch_size), 1, 100000},
	{"tls", "certificate", V_STR, OFF(tls_certificate), 0, 0},
	{"tls", "private_key", V_STR, OFF(tls_private_key), 0, 0},
	{"log", "file", V_STR, OFF(log_file), 0, 0},
	{"log", "level", V_LOGLEVEL, OFF(log_level), 0, 0},
	{"http", "listen", V_STR, OFF(http_listen), 0, 0},
	{"http", "threads", V_INT, OFF(http_threads), 1, 64},
	{"http", "max_body_bytes", V_LONG, OFF(http_max_body_bytes), 1024, 256L * 1024 * 1024},
	{"http", "max_import_bytes", V_LONG, OFF(http_max_import_bytes), 1024, 1024L * 1024 * 1024},
	{"http", "max_header_bytes", V_LONG, OFF(http_max_header_bytes), 2048, 1024L * 1024},
	{"http", "connections_per_source", V_INT, OFF(http_connections_per_source), 1, 10000},
	{"http", "request_timeout_s", V_INT, OFF(http_request_timeout_s), 1, 3600},
	{"backend", "listen", V_STR, OFF(backend_listen), 0, 0},
	{"backend", "session_lifetime_s", V_INT, OFF(joinserver_lifetime_s), 0, 365 * 86400},
	{"session", "idle_timeout_s", V_INT, OFF(session_idle_timeout_s), 60, 7 * 86400},
	{"session", "absolute_timeout_s", V_INT, OFF(session_absolute_timeout_s), 300, 30 * 86400},
	{"auth", "max_failures_per_account_hour", V_INT, OFF(auth_max_failures_per_account_hour), 1,
	 100},
	{"auth", "max_failures_per_source_hour", V_INT, OFF(auth_max_failures_per_source_hour), 1,
	 1000000},
	{"auth", "throttle_base_ms", V_INT, OFF(auth_throttle_base_ms), 0, 10000},
	{"auth", "throttle_max_ms", V_INT, OFF(auth_throttle_max_ms), 0, 600000},
	{"auth", "common_passwords", V_STR, OFF(auth_common_passwords), 0, 0},
	{"appserver", "own_as_peer", V_STR, OFF(appserver_own_as_peer), 0, 0},
	{"appserver", "uplink_retention_days", V_INT, OFF(appserver_uplink_retention_days), 1, 3650},
	{"appserver", "chirpstack_api_url", V_STR, OFF(appserver_chirpstack_api_url), 0, 0},
	{"appserver", "chirpstack_api_token_env", V_STR, OFF(appserver_chirpstack_token_env), 0, 0},
	{"appserver", "tts_api_url", V_STR, OFF(appserver_tts_api_url), 0, 0},
	{"appserver", "tts_api_key_env", V_STR, OFF(appserver_tts_key_env), 0, 0},
	{"appserver", "ns_ca_file", V_STR, OFF(appserver_ns_ca_file), 0, 0},
	{"mqtt", "url", V_STR, OFF(mqtt_url), 0, 0},
	{"mqtt", "ca_file", V_STR, OFF(mqtt_ca_file), 0, 0},
	{"mqtt", "client_cert", V_STR, OFF(mqtt_client_cert), 0, 0},
	{"mqtt", "client_key", V_STR, OFF(mqtt_client_key), 0, 0},
	{"mqtt", "username", V_STR, OFF(mqtt_username), 0, 0},
	{"mqtt", "password_env", V_STR, OFF(mqtt_password_env), 0, 0},
	{"mqtt", "client_id", V_STR, OFF(mqtt_client_id), 0, 0},
	{"mqtt", "topic_prefix", V_STR, OFF(mqtt_topic_prefix), 0, 0},
	{"mqtt", "qos", V_INT, OFF(mqtt_qos), 0, 2},
	{"mqtt", "keepalive_s", V_INT, OFF(mqtt_keepalive_s), 5, 3600},
	{"mqtt", "retry_max_s", V_INT, OFF(mqtt_retry_max_s), 1, 86400},
	{"mqtt", "outbox_max_per_tenant", V_LONG, OFF(outbox_max_per_tenant), 1, 100000000},
	{"webhooks", "ca_file", V_STR, OFF(webhooks_ca_file), 0, 0},
	{"webhooks", "timeout_s", V_INT, OFF(webhooks_timeout_s), 1, 300},
	{"webhooks", "retry_max_s", V_INT, OFF(webhooks_retry_max_s), 1, 86400},
	{"lwm2m", "dm_listen", V_STR, OFF(lwm2m_dm_listen), 0, 0},
	{"lwm2m", "bootstrap_listen", V_STR, OFF(lwm2m_bootstrap_listen), 0, 0},
	{"lwm2m", "nosec", V_STR, OFF(lwm2m_nosec), 0, 0},
	{"lwm2m", "lifetime_default_s", V_INT, OFF(lwm2m_lifetime_default_s), 1, 365 * 86400},
	{"lwm2m", "lifetime_min_s", V_INT, OFF(lwm2m_lifetime_min_s), 1, 365 * 86400},
	{"lwm2m", "lifetime_max_s", V_INT, OFF(lwm2m_lifetime_max_s), 1, 365 * 86400},
	{"lwm2m", "dm_lifetime_s", V_INT, OFF(lwm2m_dm_lifetime_s), 1, 365 * 86400},
	{"lwm2m", "dm_server_uri", V_STR, OFF(lwm2m_dm_server_uri), 0, 0},
	{"lwm2m", "short_server_id", V_INT, OFF(lwm2m_short_server_id), 1, 65534},
	{"lwm2m", "certificate", V_STR, OFF(lwm2m_certificate), 0, 0},
	{"lwm2m", "private_key", V_STR, OFF(lwm2m_private_key), 0, 0},
	{"lwm2m", "rpk_dm_listen", V_STR, OFF(lwm2m_rpk_dm_listen), 0, 0},
	{"lwm2m", "rpk_bootstrap_listen", V_STR, OFF(lwm2m_rpk_bootstrap_listen), 0, 0},
	{"lwm2m", "rpk_dm_server_uri", V_STR, OFF(lwm2m_rpk_dm_server_uri), 0, 0},
	{"lwm2m", "rebootstrap_after_s", V_INT, OFF(lwm2m_rebootstrap_after_s), 0, 365 * 86400},
	{"lwm2m", "firmware_max_bytes", V_LONG, OFF(lwm2m_firmware_max_bytes), 1024, 64L * 1024 * 1024},
	{"lwm2m", "firmware_token_ttl_s", V_INT, OFF(lwm2m_firmware_token_ttl_s), 10, 86400},
	{"lwm2m", "firmware_poll_interval_ms", V_INT, OFF(lwm2m_firmware_poll_interval_ms), 200, 60000},
	{"lwm2m", "firmware_job_timeout_s", V_INT, OFF(lwm2m_firmware_job_timeout_s), 10, 7 * 86400},
	{"lwm2m", "dm_timeout_ms", V_INT, OFF(lwm2m_dm_timeout_ms), 100, 120000},
	{"lwm2m", "observe_retention_days", V_INT, OFF(lwm2m_observe_retention_days), 1, 3650},
	{"lwm2m", "queue_awake_ms", V_INT, OFF(lwm2m_queue_awake_ms), 0, 600000},
	{"lwm2m", "dm_waits", V_INT, OFF(lwm2m_dm_waits), 0, 63},
	{"lwm2m", "dm_waits_per_tenant", V_INT, OFF(lwm2m_dm_waits_per_tenant), 0, 63},
	{"lwm2m", "notifications_per_device", V_INT, OFF(lwm2m_notifications_per_device), 10, 1000000},
};

static int fail(struct parse_state *st, int lineno, const char *section, const char *name,
		const char *why)
{
	/* never echo the value: a misplaced secret must not reach a log */
	snprintf(st->err, st->err_len, "line %d: [%s] %s: %s", lineno, section, name, why);
	st->failed = 1;
	return 0;
}

static int handle_key(void *user, const char *section, const char *name, const char *value,
		      int lineno)
{
	struct parse_state *st = user;
	char *base = (char *)st->cfg;
	long v;

	if (st->failed)
		return 0;
	if (name == NULL) /* a section header on its own */
		return 1;
	for (size_t i = 0; i < sizeof(key_specs) / sizeof(key_specs[0]); i++) {
		const struct key_spec *ks = &key_specs[i];
		if (strcmp(ks->section, section) != 0 || strcmp(ks->name, name) != 0)
			continue;
		switch (ks->kind) {
		case V_STR:
			if (value[0] == '\0')
				return fail(st, lineno, section, name, "must not be empty");
			if (set_str((char **)(base + ks->offset), value))
				return fail(st, lineno, section, name, "out of memory");
			return 1;
		case V_INT:
			if (parse_long(value, ks->min, ks->max, &v))
				return fail(st, lineno, section, name, "not an integer in range");
			*(int *)(base + ks->offset) = (int)v;
			return 1;
		case V_LONG:
			if (parse_long(value, ks->min, ks->max, &v))
				return fail(st, lineno, section, name, "not an integer in range");
			*(long *)(base + ks->offset) = v;
			return 1;
		case V_OPSLIMIT:
			if (parse_long(value, ks->min, ks->max, &v))
				return fail(st, lineno, section, name, "not an integer in range");
			*(uint64_t *)(base + ks->offset) = (uint64_t)v;
			return 1;
		case V_MEMLIMIT:
			if (parse_long(value, ks->min, ks->max, &v))
				return fail(st, lineno, section, name, "not an integer in range");
			*(size_t *)(base + ks->offset) = (size_t)v * 1024u * 1024u;
			return 1;
		case V_PROVIDER:
			if (mk_provider_parse(value, (enum mk_provider_kind *)(base + ks->offset)))
				return fail(st, lineno, section, name,
					    "must be one of file, passphrase, pkcs11");
			return 1;
		case V_LOGLEVEL:
			if ((v = log_level_parse(value)) < 0)
				return fail(st, lineno, section, name,
					    "must be one of debug, info, warning, error");
			*(int *)(base + ks->offset) = (int)v;
			return 1;
		}
	}
	return fail(st, lineno, section, name, "unknown key");
}

static int ini_handler_cb(void *user, const char *section, const char *name, const char *value)
{
	/* libinih without INI_HANDLER_LINENO does not pass line numbers; it returns
	 * the failing line from ini_parse_string, which we report instead. */
	return handle_key(user, section, name, value, 0);
}

/* libinih reads lines into a fixed buffer and would split a longer line into
 * two (a silently different value): such lines are refused up front. */
static int find_long_line(const char *text)
{
	int line = 1;
	size_t len = 0;
	for (const char *p = text; *p; p++) {
		if (*p == '\n') {
			line++;
			len = 0;
		} else if (++len > CONFIG_MAX_LINE)
			return line;
	}
	return 0;
}

int config_value_ok(const char *value)
{
	size_t n = strlen(value);
	if (n == 0 || n > CONFIG_MAX_VALUE || value[0] == ' ' || value[n - 1] == ' ')
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f || value[i] == ';' ||
		    value[i] == '#')
			return 0;
	return 1;
}

int config_parse_string(struct config *cfg, const char *text, char *err, size_t err_len)
{
	char scratch[1];
	struct parse_state st;
	int line;

	if (err == NULL || err_len == 0) {
		err = scratch;
		err_len = sizeof(scratch);
	}
	st = (struct parse_state){cfg, err, err_len, 0};
	err[0] = '\0';
	if (strlen(text) > CONFIG_MAX_SIZE) {
		snprintf(err, err_len, "configuration larger than %d bytes", CONFIG_MAX_SIZE);
		return IV_ERR_TOO_LARGE;
	}
	if ((line = find_long_line(text)) != 0) {
		snprintf(err, err_len, "line %d: longer than %d characters", line, CONFIG_MAX_LINE);
		return IV_ERR_CONFIG;
	}
	line = ini_parse_string(text, ini_handler_cb, &st);
	if (line != 0 || st.failed) {
		if (st.failed && line > 0) {
			/* replace the placeholder line number from the handler */
			char tail[256];
			const char *p = strchr(err, ':');
			snprintf(tail, sizeof(tail), "%s", p ? p + 1 : "");
			snprintf(err, err_len, "line %d:%s", line, tail);
		} else if (!st.failed) {
			snprintf(err, err_len, "line %d: syntax error", line);
		}
		return IV_ERR_CONFIG;
	}
	return 0;
}

int config_load(struct config *cfg, const char *data_dir, char *err, size_t err_len)
{
	char path[PATH_MAX];
	FILE *f = NULL;
	char *text = NULL;
	size_t n;
	struct stat stbuf;
	int r;

	if ((r = config_defaults(cfg, data_dir)) != 0)
		return r;
	snprintf(path, sizeof(path), "%s/%s", data_dir, CONFIG_FILE_NAME);
	f = fopen(path, "re");
	if (f == NULL) {
		snprintf(err, err_len, "cannot open %s: %s", path, strerror(errno));
		r = errno == ENOENT ? IV_ERR_NOT_FOUND : IV_ERR_IO;
		goto out;
	}
	if (fstat(fileno(f), &stbuf) != 0 || stbuf.st_size > CONFIG_MAX_SIZE) {
		snprintf(err, err_len, "%s: larger than %d bytes", path, CONFIG_MAX_SIZE);
		r = IV_ERR_TOO_LARGE;
		goto out;
	}
	text = calloc(1, (size_t)stbuf.st_size + 1);
	if (text == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	n = fread(text, 1, (size_t)stbuf.st_size, f);
	text[n] = '\0';
	if ((r = config_parse_string(cfg, text, err, err_len)) != 0)
		goto out;
	/* success */
	r = 0;
out:
	if (f)
		fclose(f);
	free(text);
	if (r)
		config_free(cfg);
	return r;
}

char *config_path(const struct config *cfg, const char *path)
{
	char *out = NULL;
	if (path[0] == '/')
		return strdup(path);
	if (asprintf(&out, "%s/%s", cfg->data_dir, path) < 0)
		return NULL;
	return out;
}

/* Comments config_render writes above a key. */
static const struct {
	const char *section, *name, *comment;
} key_comments[] = {
	{"master_key", "provider", "file | passphrase | pkcs11"},
	{"backend", "listen", "LoRaWAN Backend Interfaces (join server); off disables the listener"},
	{"lwm2m", "dm_listen", "LwM2M listeners (UDP); off disables one"},
};

/* Appends one "name = value" line (or a commented-out name when the value
 * is unset) to F; -1 when a string would not read back unchanged. */
static int render_key(FILE *f, const struct config *cfg, const struct key_spec *ks)
{
	static const char *const levels[] = {"debug", "info", "warning", "error"};
	const char *base = (const char *)cfg;
	const char *s;

	switch (ks->kind) {
	case V_STR:
		s = *(char *const *)(base + ks->offset);
		if (s == NULL || s[0] == '\0')
			return fprintf(f, "# %s =\n", ks->name) < 0 ? -1 : 0;
		if (!config_value_ok(s))
			return -1;
		return fprintf(f, "%s = %s\n", ks->name, s) < 0 ? -1 : 0;
	case V_INT:
		return fprintf(f, "%s = %d\n", ks->name, *(const int *)(base + ks->offset)) < 0 ? -1 : 0;
	case V_LONG:
		return fprintf(f, "%s = %ld\n", ks->name, *(const long *)(base + ks->offset)) < 0 ? -1
												  : 0;
	case V_OPSLIMIT:
		return fprintf(f, "%s = %llu\n", ks->name,
			       (unsigned long long)*(const uint64_t *)(base + ks->offset)) < 0
			       ? -1
			       : 0;
	case V_MEMLIMIT:
		return fprintf(f, "%s = %zu\n", ks->name,
			       *(const size_t *)(base + ks->offset) / (1024u * 1024u)) < 0
			       ? -1
			       : 0;
	case V_PROVIDER:
		return fprintf(f, "%s = %s\n", ks->name,
			       mk_provider_name(*(const enum mk_provider_kind *)(base + ks->offset))) < 0
			       ? -1
			       : 0;
	case V_LOGLEVEL:
		return fprintf(f, "%s = %s\n", ks->name, levels[*(const int *)(base + ks->offset) & 3]) < 0
			       ? -1
			       : 0;
	}
	return -1;
}

/* Every key of key_specs, in its order, so a key added there is written
 * too (an `init` file then names every setting an operator can change). */
char *config_render(const struct config *cfg)
{
	char *out = NULL;
	size_t out_len = 0;
	const char *section = NULL;
	FILE *f = open_memstream(&out, &out_len);
	int bad = 0;

	if (f == NULL)
		return NULL;
	if (fputs("# iotvault configuration. Every key is described in README.md.\n"
		  "# Relative paths are relative to this directory; a commented-out\n"
		  "# key keeps its built-in default.\n",
		  f) < 0)
		bad = 1;
	for (size_t i = 0; !bad && i < sizeof(key_specs) / sizeof(key_specs[0]); i++) {
		const struct key_spec *ks = &key_specs[i];
		if (section == NULL || strcmp(section, ks->section) != 0) {
			section = ks->section;
			if (fprintf(f, "\n[%s]\n", section) < 0)
				bad = 1;
		}
		for (size_t j = 0; j < sizeof(key_comments) / sizeof(key_comments[0]); j++)
			if (strcmp(key_comments[j].section, ks->section) == 0 &&
			    strcmp(key_comments[j].name, ks->name) == 0 &&
			    fprintf(f, "# %s\n", key_comments[j].comment) < 0)
				bad = 1;
		if (!bad && render_key(f, cfg, ks) != 0)
			bad = 1;
	}
	if (fclose(f) != 0)
		bad = 1;
	if (bad) {
		free(out);
		return NULL;
	}
	return out;
}

void config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->data_dir);
	free(cfg->db_path);
	free(cfg->mk_key_dir);
	free(cfg->passphrase_env);
	free(cfg->pkcs11_module);
	free(cfg->pkcs11_token_label);
	free(cfg->pkcs11_pin_env);
	free(cfg->pkcs11_key_label);
	free(cfg->tls_certificate);
	free(cfg->tls_private_key);
	free(cfg->log_file);
	free(cfg->http_listen);
	free(cfg->backend_listen);
	free(cfg->auth_common_passwords);
	free(cfg->appserver_own_as_peer);
	free(cfg->appserver_chirpstack_api_url);
	free(cfg->appserver_chirpstack_token_env);
	free(cfg->appserver_tts_api_url);
	free(cfg->appserver_tts_key_env);
	free(cfg->appserver_ns_ca_file);
	free(cfg->mqtt_url);
	free(cfg->mqtt_ca_file);
	free(cfg->mqtt_client_cert);
	free(cfg->mqtt_client_key);
	free(cfg->mqtt_username);
	free(cfg->mqtt_password_env);
	free(cfg->mqtt_client_id);
	free(cfg->mqtt_topic_prefix);
	free(cfg->webhooks_ca_file);
	free(cfg->lwm2m_dm_listen);
	free(cfg->lwm2m_bootstrap_listen);
	free(cfg->lwm2m_nosec);
	free(cfg->lwm2m_dm_server_uri);
	free(cfg->lwm2m_certificate);
	free(cfg->lwm2m_private_key);
	free(cfg->lwm2m_rpk_dm_listen);
	free(cfg->lwm2m_rpk_bootstrap_listen);
	free(cfg->lwm2m_rpk_dm_server_uri);
	memset(cfg, 0, sizeof(*cfg));
}
