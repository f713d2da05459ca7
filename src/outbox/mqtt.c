/* The MQTT delivery thread: publishes queued rows over TLS (libmosquitto,
 * peer and host name verified) in enqueue order, deletes each row when the
 * broker acknowledges it (PUBACK for QoS 1, PUBCOMP for QoS 2), and
 * reconnects with exponential back-off. After a lost connection the client
 * is rebuilt, so unacknowledged rows are published again from the outbox
 * and never also from libmosquitto's own queue. */
#include "iotvault/config.h"
#include "iotvault/crypto.h"
#include "iotvault/log.h"
#include "iotvault/outbox.h"
#include "iotvault/secmem.h"
#include "iotvault/store_outbox.h"
#include "core/fsutil.h"
#include "outbox/outbox_internal.h"

#include <errno.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MQTT_INFLIGHT_MAX 64
#define MQTT_CONNECT_TIMEOUT_MS 10000
#define MQTT_LOOP_MS 100
#define MQTT_DRAIN_MS 2000
#define MQTT_HOST_MAX 255

struct inflight {
	int mid;
	int64_t row_id;
};

struct mqtt_worker {
	struct outbox_workers *w;
	struct store *st;
	char host[MQTT_HOST_MAX + 1];
	int port;
	char client_id[96];
	char *ca_file, *client_cert, *client_key, *username;
	struct secbuf *password; /* NUL-terminated; NULL when none */
	int qos, keepalive_s, retry_max_s;
	int lib_ready;

	struct mosquitto *mosq;
	int connected, refused, lost;
	struct inflight inflight[MQTT_INFLIGHT_MAX];
	size_t ninflight;
	int64_t acked[2 * MQTT_INFLIGHT_MAX];
	size_t nacked;
	/* the row being handed to mosquitto_publish, whose acknowledgement
	 * (QoS 0) may arrive before the call returns */
	int pending_mid;
	int64_t pending_row;
	int pending_acked;
	int64_t last_id; /* rows up to here are in flight or acknowledged */
};

/* "mqtts://host[:port]" or "mqtts://[v6]:port"; TLS only. */
static int parse_url(const char *url, char host[static MQTT_HOST_MAX + 1], int *port)
{
	const char *p, *end, *colon = NULL;
	char *stop = NULL;
	long v = 8883;
	size_t n;

	if (strncmp(url, "mqtts://", 8) != 0)
		return IV_ERR_CONFIG;
	p = url + 8;
	if (*p == '[') {
		if ((end = strchr(p, ']')) == NULL)
			return IV_ERR_CONFIG;
		n = (size_t)(end - p - 1);
		p++;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL)
			return IV_ERR_CONFIG;
	} else {
		colon = strchr(p, ':');
		n = colon ? (size_t)(colon - p) : strlen(p);
	}
	if (n == 0 || n > MQTT_HOST_MAX || memchr(p, '/', n) != NULL)
		return IV_ERR_CONFIG;
	memcpy(host, p, n);
	host[n] = '\0';
	if (colon != NULL) {
		errno = 0;
		v = strtol(colon + 1, &stop, 10);
		if (errno || stop == colon + 1 || *stop != '\0' || v < 1 || v > 65535)
			return IV_ERR_CONFIG;
	}
	*port = (int)v;
	return 0;
}

static int resolve(const struct config *cfg, const char *path, char **out)
{
	*out = NULL;
	if (path == NULL)
		return 0;
	return (*out = config_path(cfg, path)) == NULL ? IV_ERR_NOMEM : 0;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	struct mqtt_worker *m = obj;
	(void)mosq;
	if (rc == 0) {
		m->connected = 1;
		return;
	}
	m->refused = 1;
	log_warning("mqtt: %s:%d refused the connection: %s", m->host, m->port,
		    mosquitto_connack_string(rc));
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	struct mqtt_worker *m = obj;
	(void)mosq;
	(void)rc;
	m->connected = 0;
	m->lost = 1;
}

static void ack(struct mqtt_worker *m, int64_t row_id)
{
	if (m->nacked < sizeof(m->acked) / sizeof(m->acked[0]))
		m->acked[m->nacked++] = row_id;
	else /* cannot happen: every acknowledged row was one of the in-flight ones */
		log_error("mqtt: acknowledgement of message %lld not recorded", (long long)row_id);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
	struct mqtt_worker *m = obj;
	(void)mosq;
	if (m->pending_row != 0 && mid == m->pending_mid) {
		ack(m, m->pending_row);
		m->pending_acked = 1;
		return;
	}
	for (size_t i = 0; i < m->ninflight; i++) {
		if (m->inflight[i].mid != mid)
			continue;
		ack(m, m->inflight[i].row_id);
		m->inflight[i] = m->inflight[--m->ninflight];
		return;
	}
}

static int client_new(struct mqtt_worker *m, struct mosquitto **out)
{
	struct mosquitto *mosq;
	int rc;

	if ((mosq = mosquitto_new(m->client_id, true, m)) == NULL)
		return IV_ERR_NOMEM;
	if ((rc = mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311)) != 0 ||
	    (rc = mosquitto_int_option(mosq, MOSQ_OPT_SEND_MAXIMUM, MQTT_INFLIGHT_MAX)) != 0) {
		log_error("mqtt: client options: %s", mosquitto_strerror(rc));
		goto fail;
	}
	/* no ca_file: the system's trust store */
	if ((rc = mosquitto_tls_set(mosq, m->ca_file, m->ca_file ? NULL : "/etc/ssl/certs",
				    m->client_cert, m->client_key, NULL)) != 0) {
		log_error("mqtt: TLS settings (ca_file, client_cert, client_key): %s",
			  mosquitto_strerror(rc));
		goto fail;
	}
	/* 1 = SSL_VERIFY_PEER; libmosquitto's default minimum is TLS 1.2 */
	if ((rc = mosquitto_tls_opts_set(mosq, 1, NULL, NULL)) != 0 ||
	    (rc = mosquitto_tls_insecure_set(mosq, false)) != 0) {
		log_error("mqtt: TLS options: %s", mosquitto_strerror(rc));
		goto fail;
	}
	if (m->username != NULL &&
	    (rc = mosquitto_username_pw_set(mosq, m->username,
					    m->password ? (const char *)m->password->data : NULL)) != 0) {
		log_error("mqtt: username: %s", mosquitto_strerror(rc));
		goto fail;
	}
	mosquitto_connect_callback_set(mosq, on_connect);
	mosquitto_disconnect_callback_set(mosq, on_disconnect);
	mosquitto_publish_callback_set(mosq, on_publish);
	*out = mosq;
	return 0;
fail:
	mosquitto_destroy(mosq);
	return IV_ERR_CONFIG;
}

void mqtt_worker_free(struct mqtt_worker *m)
{
	if (m == NULL)
		return;
	if (m->mosq)
		mosquitto_destroy(m->mosq);
	store_close(m->st);
	free(m->ca_file);
	free(m->client_cert);
	free(m->client_key);
	free(m->username);
	secbuf_free(m->password);
	if (m->lib_ready)
		mosquitto_lib_cleanup();
	free(m);
}

int mqtt_worker_new(struct outbox_workers *w, struct mqtt_worker **out)
{
	const struct config *cfg = &w->svc->cfg;
	struct mqtt_worker *m = NULL;
	struct mosquitto *probe = NULL;
	uint8_t rnd[8];
	const char *pw;
	int r;

	*out = NULL;
	if (cfg->mqtt_url == NULL || cfg->mqtt_url[0] == '\0' || strcmp(cfg->mqtt_url, "off") == 0)
		return 0;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return IV_ERR_NOMEM;
	m->w = w;
	m->qos = cfg->mqtt_qos;
	m->keepalive_s = cfg->mqtt_keepalive_s;
	m->retry_max_s = cfg->mqtt_retry_max_s;
	if ((r = parse_url(cfg->mqtt_url, m->host, &m->port)) != 0) {
		log_error("[mqtt] url: mqtts://HOST[:PORT] (TLS only)");
		goto fail;
	}
	if ((r = resolve(cfg, cfg->mqtt_ca_file, &m->ca_file)) != 0 ||
	    (r = resolve(cfg, cfg->mqtt_client_cert, &m->client_cert)) != 0 ||
	    (r = resolve(cfg, cfg->mqtt_client_key, &m->client_key)) != 0)
		goto fail;
	if ((m->client_cert == NULL) != (m->client_key == NULL)) {
		log_error("[mqtt] client_cert and client_key go together");
		r = IV_ERR_CONFIG;
		goto fail;
	}
	if (m->ca_file != NULL && access(m->ca_file, R_OK) != 0) {
		log_error("[mqtt] ca_file %s: %s", m->ca_file, strerror(errno));
		r = IV_ERR_CONFIG;
		goto fail;
	}
	if (m->client_key != NULL && (r = fs_check_private(m->client_key, 0)) != 0) {
		log_error("[mqtt] client_key %s: missing, or readable by others", m->client_key);
		goto fail;
	}
	if (cfg->mqtt_username != NULL && (m->username = strdup(cfg->mqtt_username)) == NULL) {
		r = IV_ERR_NOMEM;
		goto fail;
	}
	if (cfg->mqtt_password_env != NULL) {
		if (m->username == NULL || (pw = getenv(cfg->mqtt_password_env)) == NULL ||
		    pw[0] == '\0') {
			log_error("[mqtt] password_env: needs username and the variable %s set",
				  cfg->mqtt_password_env);
			r = IV_ERR_CONFIG;
			goto fail;
		}
		if ((m->password = secbuf_new(strlen(pw) + 1)) == NULL) {
			r = IV_ERR_NOMEM;
			goto fail;
		}
		memcpy(m->password->data, pw, strlen(pw));
	}
	if (cfg->mqtt_client_id != NULL)
		snprintf(m->client_id, sizeof(m->client_id), "%s", cfg->mqtt_client_id);
	else {
		random_bytes(rnd, sizeof(rnd));
		snprintf(m->client_id, sizeof(m->client_id), "iotvault-%02x%02x%02x%02x%02x%02x%02x%02x",
			 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	}
	if (mosquitto_lib_init() != MOSQ_ERR_SUCCESS) {
		r = IV_ERR_INTERNAL;
		goto fail;
	}
	m->lib_ready = 1;
	/* a client made now reports unreadable certificates before serve starts */
	if ((r = client_new(m, &probe)) != 0)
		goto fail;
	mosquitto_destroy(probe);
	if ((r = outbox_store_open(w->svc, &m->st)) != 0)
		goto fail;
	*out = m;
	return 0;
fail:
	mqtt_worker_free(m);
	return r;
}

/* Deletes the acknowledged rows; kept for the next round when the store is busy. */
static void flush_acks(struct mqtt_worker *m)
{
	struct store *st = m->st;
	int r;

	if (m->nacked == 0)
		return;
	if ((r = st->ops->begin(st, 1)) != 0)
		goto fail;
	for (size_t i = 0; i < m->nacked; i++)
		if ((r = st->ops->outbox->remove(st, m->acked[i])) != 0) {
			st->ops->rollback(st);
			goto fail;
		}
	if ((r = st->ops->commit(st)) != 0)
		goto fail;
	m->nacked = 0;
	return;
fail:
	log_warning("mqtt: cannot remove %zu delivered messages yet: %s", m->nacked,
		    iv_error_message(r));
}

/* Positive return: stop listing (connection trouble); negative: error. */
static int publish_row(void *ctx, const struct outbox_row *row)
{
	struct mqtt_worker *m = ctx;
	int rc;

	if (row->body_len > (size_t)OUTBOX_BODY_MAX)
		rc = MOSQ_ERR_PAYLOAD_SIZE;
	else {
		m->pending_mid = -1;
		m->pending_row = row->id;
		m->pending_acked = 0;
		rc = mosquitto_publish(m->mosq, &m->pending_mid, row->topic, (int)row->body_len,
				       row->body, m->qos, false);
		m->pending_row = 0;
	}
	switch (rc) {
	case MOSQ_ERR_SUCCESS:
		if (!m->pending_acked)
			m->inflight[m->ninflight++] = (struct inflight){m->pending_mid, row->id};
		m->last_id = row->id;
		return 0;
	case MOSQ_ERR_NOMEM:
		return IV_ERR_NOMEM;
	case MOSQ_ERR_INVAL:
	case MOSQ_ERR_PAYLOAD_SIZE:
	case MOSQ_ERR_MALFORMED_UTF8:
	case MOSQ_ERR_OVERSIZE_PACKET:
	case MOSQ_ERR_QOS_NOT_SUPPORTED:
		/* this row can never be published: it must not block the queue */
		log_warning("mqtt: message %lld of tenant %lld cannot be published (%s); dropped",
			    (long long)row->id, (long long)row->tenant_id, mosquitto_strerror(rc));
		ack(m, row->id);
		m->last_id = row->id;
		return 0;
	default:
		m->lost = 1;
		return 1;
	}
}

static void fill(struct mqtt_worker *m)
{
	int room = (int)(MQTT_INFLIGHT_MAX - m->ninflight), r;
	if (room <= 0 || m->nacked + (size_t)room > sizeof(m->acked) / sizeof(m->acked[0]))
		return;
	r = m->st->ops->outbox->list_mqtt(m->st, m->last_id, room, publish_row, m);
	if (r < 0 && r != IV_ERR_BUSY)
		log_error("mqtt: reading the outbox: %s", iv_error_message(r));
}

static int elapsed_ms(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int)((now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000);
}

/* One connection, from connect to loss or stop. Returns 1 when it was
 * established (the back-off starts over). */
static int run_connection(struct mqtt_worker *m)
{
	struct timespec start;
	int rc, established = 0;
	int64_t queued;

	m->connected = m->refused = m->lost = 0;
	m->ninflight = 0;
	m->last_id = 0;
	if (client_new(m, &m->mosq) != 0)
		return 0;
	/* blocking connect: with TLS, libmosquitto 2.0's connect_async to a closed
	 * port reports success and the worker would wait the whole CONNACK
	 * timeout before trying again; this fails at once (ECONNREFUSED) */
	rc = mosquitto_connect(m->mosq, m->host, m->port, m->keepalive_s);
	if (rc != MOSQ_ERR_SUCCESS) {
		log_warning("mqtt: cannot connect to %s:%d: %s", m->host, m->port,
			    rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!m->connected && !m->refused && !m->lost && !atomic_load(&m->w->stopping)) {
		if (elapsed_ms(&start) > MQTT_CONNECT_TIMEOUT_MS) {
			log_warning("mqtt: no CONNACK from %s:%d within %d s", m->host, m->port,
				    MQTT_CONNECT_TIMEOUT_MS / 1000);
			goto out;
		}
		rc = mosquitto_loop(m->mosq, MQTT_LOOP_MS, 1);
		if (rc != MOSQ_ERR_SUCCESS) {
			log_warning("mqtt: connecting to %s:%d failed: %s", m->host, m->port,
				    rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
			goto out;
		}
	}
	if (!m->connected)
		goto out;
	established = 1;
	queued = m->st->ops->outbox->count_mqtt(m->st);
	log_info("mqtt: connected to %s:%d (%lld messages queued)", m->host, m->port,
		 (long long)(queued < 0 ? 0 : queued));
	while (!atomic_load(&m->w->stopping) && !m->lost) {
		flush_acks(m);
		fill(m);
		if (m->lost)
			break;
		rc = mosquitto_loop(m->mosq, MQTT_LOOP_MS, 1);
		if (rc != MOSQ_ERR_SUCCESS) {
			m->lost = 1;
			log_warning("mqtt: connection to %s:%d lost: %s; %zu messages unacknowledged "
				    "will be sent again",
				    m->host, m->port,
				    rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc),
				    m->ninflight);
		}
	}
	if (!m->lost) {
		/* stopping: give outstanding acknowledgements a moment */
		clock_gettime(CLOCK_MONOTONIC, &start);
		while (m->ninflight > 0 && !m->lost && elapsed_ms(&start) < MQTT_DRAIN_MS)
			if (mosquitto_loop(m->mosq, MQTT_LOOP_MS, 1) != MOSQ_ERR_SUCCESS)
				break;
		if (mosquitto_disconnect(m->mosq) == MOSQ_ERR_SUCCESS)
			(void)mosquitto_loop(m->mosq, MQTT_LOOP_MS, 1);
	}
	flush_acks(m);
out:
	mosquitto_destroy(m->mosq);
	m->mosq = NULL;
	return established;
}

void *mqtt_worker_main(void *arg)
{
	struct mqtt_worker *m = arg;
	int failures = 0;
	int64_t wait_ms;

	while (!atomic_load(&m->w->stopping)) {
		if (run_connection(m))
			failures = 0;
		if (atomic_load(&m->w->stopping))
			break;
		failures++;
		wait_ms = outbox_backoff_ms(failures, m->retry_max_s);
		log_info("mqtt: reconnecting to %s:%d in %lld s", m->host, m->port,
			 (long long)(wait_ms / 1000));
		if (outbox_sleep(m->w, wait_ms))
			break;
	}
	return NULL;
}
