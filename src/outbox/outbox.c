/* The outbox's front door: outbox_enqueue turns one message into one row per
 * integration of its tenant (MQTT, each subscribed webhook) inside the
 * caller's transaction, and keeps the tenant's queue within its bound by
 * dropping the oldest rows (docs/integrations.md). */
#include "iotvault/outbox.h"
#include "iotvault/config.h"
#include "iotvault/crypto.h"
#include "iotvault/hex.h"
#include "iotvault/log.h"
#include "iotvault/secmem.h"
#include "iotvault/store_lorawan.h"
#include "iotvault/store_outbox.h"

#include <mosquitto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOPIC_PREFIX_MAX 128
/* at most one overflow security event per tenant and minute */
#define OVERFLOW_EVENT_INTERVAL_MS 60000

struct outbox_settings {
	int mqtt_on;
	char topic_prefix[TOPIC_PREFIX_MAX + 1];
	int64_t max_per_tenant;
};

static pthread_mutex_t settings_lock = PTHREAD_MUTEX_INITIALIZER;
static struct outbox_settings settings = {0, "iotvault", 100000};

static int mqtt_configured(const struct config *cfg)
{
	return cfg->mqtt_url != NULL && cfg->mqtt_url[0] != '\0' && strcmp(cfg->mqtt_url, "off") != 0;
}

/* A topic level we may publish to: non-empty UTF-8 without '/', the
 * wildcards '+' and '#', or control characters. */
static int topic_level_ok(const char *s)
{
	size_t n;
	if (s == NULL || (n = strlen(s)) == 0 || n > 255)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || c == '/' || c == '+' || c == '#')
			return 0;
	}
	return mosquitto_validate_utf8(s, (int)n) == MOSQ_ERR_SUCCESS;
}

static int prefix_ok(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n > TOPIC_PREFIX_MAX || p[0] == '/' || p[n - 1] == '/' || strstr(p, "//"))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 || c == 0x7f || c == '+' || c == '#')
			return 0;
	}
	return mosquitto_pub_topic_check(p) == MOSQ_ERR_SUCCESS &&
	       mosquitto_validate_utf8(p, (int)n) == MOSQ_ERR_SUCCESS;
}

int outbox_configure(const struct config *cfg)
{
	struct outbox_settings s;
	memset(&s, 0, sizeof(s));
	s.mqtt_on = mqtt_configured(cfg);
	if (cfg->mqtt_topic_prefix == NULL || !prefix_ok(cfg->mqtt_topic_prefix)) {
		log_error("[mqtt] topic_prefix: 1-%d characters, topic levels separated by single "
			  "'/', no '+' or '#'",
			  TOPIC_PREFIX_MAX);
		return IV_ERR_CONFIG;
	}
	snprintf(s.topic_prefix, sizeof(s.topic_prefix), "%s", cfg->mqtt_topic_prefix);
	if (cfg->outbox_max_per_tenant < 1)
		return IV_ERR_CONFIG;
	s.max_per_tenant = cfg->outbox_max_per_tenant;
	pthread_mutex_lock(&settings_lock);
	settings = s;
	pthread_mutex_unlock(&settings_lock);
	return 0;
}

/* 1 when EVENT is in the comma-separated LIST ("" = every event). */
static int event_subscribed(const char *list, const char *event)
{
	size_t n = strlen(event);
	const char *p = list;
	if (list[0] == '\0')
		return 1;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && strncmp(p, event, n) == 0)
			return 1;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return 0;
}

struct fanout {
	const char *event;
	int64_t ids[OUTBOX_WEBHOOKS_MAX];
	size_t n;
};

static int collect_webhook(void *ctx, const struct webhook_record *w)
{
	struct fanout *f = ctx;
	if (!w->enabled || !event_subscribed(w->events, f->event))
		return 0;
	if (f->n == OUTBOX_WEBHOOKS_MAX) {
		log_error("outbox: tenant %lld has more than %d webhooks; webhook %lld skipped",
			  (long long)w->tenant_id, OUTBOX_WEBHOOKS_MAX, (long long)w->id);
		return 0;
	}
	f->ids[f->n++] = w->id;
	return 0;
}

static int note_overflow(struct store *st, const struct outbox_message *msg, int64_t dropped,
			 int64_t max)
{
	struct outbox_tenant_stats s;
	struct security_event ev;
	char detail[160];
	int64_t now = store_now_ms();
	int r;

	if ((r = st->ops->outbox->stats_get(st, msg->tenant_id, &s)) != 0)
		return r;
	if (s.last_overflow_event_at != 0 && now - s.last_overflow_event_at < OVERFLOW_EVENT_INTERVAL_MS)
		return 0;
	snprintf(detail, sizeof(detail),
		 "outbox full (%lld messages): dropped the %lld oldest; %lld dropped in total",
		 (long long)max, (long long)dropped, (long long)s.dropped);
	log_warning("outbox: tenant %s: %s", msg->tenant, detail);
	ev = (struct security_event){msg->tenant_id, "outbox_overflow", "outbox", msg->tenant, detail};
	if ((r = st->ops->lorawan->security_event_add(st, &ev)) != 0)
		return r;
	return st->ops->outbox->overflow_event_mark(st, msg->tenant_id, now);
}

void outbox_application_of(const struct device_record *dev, char *out, size_t cap)
{
	char copy[STORE_TAGS_MAX + 1], *save = NULL;
	snprintf(out, cap, "default");
	snprintf(copy, sizeof(copy), "%s", dev->tags);
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (strncmp(t, "app:", 4) == 0 && t[4] != '\0') {
			snprintf(out, cap, "%s", t + 4);
			return;
		}
}

int outbox_enqueue(struct store *st, const struct outbox_message *msg)
{
	struct outbox_settings s;
	struct fanout fan;
	struct outbox_row row;
	char topic[OUTBOX_TOPIC_MAX + 1];
	int64_t dropped = 0, inserted = 0;
	size_t body_len;
	int r, n, in_tx = 0;

	if (msg == NULL || msg->tenant_id <= 0 || msg->json == NULL || !topic_level_ok(msg->tenant) ||
	    !topic_level_ok(msg->application) || !topic_level_ok(msg->device) ||
	    !topic_level_ok(msg->event))
		return IV_ERR_INVALID;
	body_len = strlen(msg->json);
	if (body_len > OUTBOX_BODY_MAX)
		return IV_ERR_TOO_LARGE;
	pthread_mutex_lock(&settings_lock);
	s = settings;
	pthread_mutex_unlock(&settings_lock);

	memset(&fan, 0, sizeof(fan));
	fan.event = msg->event;
	/* a savepoint inside the caller's transaction: all rows or none */
	if ((r = st->ops->begin(st, 1)) != 0)
		return r;
	in_tx = 1;
	memset(&row, 0, sizeof(row));
	row.tenant_id = msg->tenant_id;
	row.body = msg->json;
	row.body_len = body_len;
	if (s.mqtt_on) {
		n = snprintf(topic, sizeof(topic), "%s/%s/%s/%s/%s", s.topic_prefix, msg->tenant,
			     msg->application, msg->device, msg->event);
		if (n < 0 || (size_t)n >= sizeof(topic)) {
			r = IV_ERR_TOO_LARGE;
			goto out;
		}
		row.webhook_id = 0;
		row.topic = topic;
		if ((r = st->ops->outbox->insert(st, &row, NULL)) != 0)
			goto out;
		inserted++;
	}
	if ((r = st->ops->outbox->webhook_list(st, msg->tenant_id, collect_webhook, &fan)) != 0)
		goto out;
	for (size_t i = 0; i < fan.n; i++) {
		row.webhook_id = fan.ids[i];
		row.topic = msg->event;
		if ((r = st->ops->outbox->insert(st, &row, NULL)) != 0)
			goto out;
		inserted++;
	}
	if (inserted > 0) {
		if ((r = st->ops->outbox->trim(st, msg->tenant_id, s.max_per_tenant, &dropped)) != 0)
			goto out;
		if (dropped > 0 && (r = note_overflow(st, msg, dropped, s.max_per_tenant)) != 0)
			goto out;
	}
	if ((r = st->ops->commit(st)) != 0)
		goto out;
	in_tx = 0;
	/* success */
	r = 0;
out:
	if (in_tx)
		st->ops->rollback(st);
	return r;
}

int outbox_webhook_signature(const uint8_t *secret, size_t secret_len, int64_t timestamp,
			     const char *body, size_t body_len, char out[static OUTBOX_SIGNATURE_LEN + 1])
{
	uint8_t mac[HMAC_SHA256_LEN];
	char head[24], hex[2 * HMAC_SHA256_LEN + 1];
	uint8_t *msg = NULL;
	size_t head_len;
	int n;

	n = snprintf(head, sizeof(head), "%lld.", (long long)timestamp);
	if (n < 0 || (size_t)n >= sizeof(head) || body_len > OUTBOX_BODY_MAX || secret_len == 0)
		return IV_ERR_INVALID;
	head_len = (size_t)n;
	/* the message is the public body; only the key is secret */
	if ((msg = malloc(head_len + body_len + 1)) == NULL)
		return IV_ERR_NOMEM;
	memcpy(msg, head, head_len);
	if (body_len)
		memcpy(msg + head_len, body, body_len);
	hmac_sha256(secret, secret_len, msg, head_len + body_len, mac);
	hex_encode_upper(mac, sizeof(mac), hex);
	/* receivers compare the lower-case form documented in docs/integrations.md */
	memcpy(out, "v1=", 3);
	for (size_t i = 0; i < 2 * HMAC_SHA256_LEN; i++)
		out[3 + i] = (hex[i] >= 'A' && hex[i] <= 'F') ? (char)(hex[i] - 'A' + 'a') : hex[i];
	out[OUTBOX_SIGNATURE_LEN] = '\0';
	secmem_wipe(mac, sizeof(mac));
	free(msg);
	return 0;
}
