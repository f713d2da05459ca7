/* Signed HTTPS webhooks: the URL rule for endpoints, and the delivery thread
 * that POSTs each endpoint's queued messages in order with libcurl (GnuTLS
 * build; peer and host name verified, TLS 1.2 or later, no redirects). A
 * 2xx answer deletes the row; anything else holds the endpoint back with
 * exponential back-off, so its later messages never overtake an earlier one.
 * The signing secret is opened from the vault per round and wiped after. */
#include "iotvault/config.h"
#include "iotvault/log.h"
#include "iotvault/outbox.h"
#include "iotvault/secmem.h"
#include "iotvault/store_outbox.h"
#include "iotvault/vault.h"
#include "outbox/outbox_internal.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define WEBHOOK_HEADS_MAX 64
#define WEBHOOK_BATCH 32
#define WEBHOOK_IDLE_MS 250
#define WEBHOOK_CONNECT_TIMEOUT_S 5
#define ORIGIN_MAX 300

struct webhook_worker {
	struct outbox_workers *w;
	struct store *st;
	CURL *curl;
	char *ca_file;
	int timeout_s, retry_max_s;
	int global_ready;
};

int outbox_webhook_url_check(const char *url, char *origin, size_t origin_len)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *fragment = NULL;
	size_t n = url ? strlen(url) : 0;
	int r = IV_ERR_INVALID, k;

	if (n == 0 || n > WEBHOOK_URL_MAX)
		return IV_ERR_INVALID;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f)
			return IV_ERR_INVALID;
	/* libcurl's parser is lenient ("https:///x" has host "x"): the written
	 * form must already be the plain one */
	if (strncasecmp(url, "https://", 8) != 0 || url[8] == '/' || url[8] == '\0')
		return IV_ERR_INVALID;
	if ((u = curl_url()) == NULL)
		return IV_ERR_NOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || strcmp(scheme, "https") != 0 ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0')
		goto out;
	/* credentials in the URL would sit unsealed in the database and in listings */
	if (curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_NO_USER ||
	    curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0) != CURLUE_NO_FRAGMENT)
		goto out;
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	if (origin != NULL) {
		k = snprintf(origin, origin_len, "https://%s%s%s", host, port ? ":" : "",
			     port ? port : "");
		if (k < 0 || (size_t)k >= origin_len)
			goto out;
	}
	/* success */
	r = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(user);
	curl_free(fragment);
	curl_url_cleanup(u);
	return r;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	(void)ptr;
	(void)ctx;
	return size * nmemb;
}

/* Ends a transfer in progress when the workers stop. */
static int abort_on_stop(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			 curl_off_t ulnow)
{
	struct webhook_worker *h = ctx;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return atomic_load(&h->w->stopping) ? 1 : 0;
}

void webhook_worker_free(struct webhook_worker *h)
{
	if (h == NULL)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	store_close(h->st);
	free(h->ca_file);
	if (h->global_ready)
		curl_global_cleanup();
	free(h);
}

#define SETOPT(h, opt, val)                                              \
	do {                                                             \
		CURLcode cc_ = curl_easy_setopt((h), (opt), (val));      \
		if (cc_ != CURLE_OK) {                                   \
			log_error("webhooks: curl option %s: %s", #opt,  \
				  curl_easy_strerror(cc_));              \
			r = IV_ERR_INTERNAL;                             \
			goto fail;                                       \
		}                                                        \
	} while (0)

int webhook_worker_new(struct outbox_workers *w, struct webhook_worker **out)
{
	const struct config *cfg = &w->svc->cfg;
	struct webhook_worker *h;
	char ua[64];
	int r;

	*out = NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return IV_ERR_NOMEM;
	h->w = w;
	h->timeout_s = cfg->webhooks_timeout_s;
	h->retry_max_s = cfg->webhooks_retry_max_s;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		r = IV_ERR_INTERNAL;
		goto fail;
	}
	h->global_ready = 1;
	if (cfg->webhooks_ca_file != NULL &&
	    (h->ca_file = config_path(cfg, cfg->webhooks_ca_file)) == NULL) {
		r = IV_ERR_NOMEM;
		goto fail;
	}
	if ((h->curl = curl_easy_init()) == NULL) {
		r = IV_ERR_NOMEM;
		goto fail;
	}
	snprintf(ua, sizeof(ua), "iotvault/%s", IOTVAULT_VERSION);
	SETOPT(h->curl, CURLOPT_PROTOCOLS_STR, "https");
	SETOPT(h->curl, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(h->curl, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(h->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(h->curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SETOPT(h->curl, CURLOPT_CONNECTTIMEOUT, (long)WEBHOOK_CONNECT_TIMEOUT_S);
	SETOPT(h->curl, CURLOPT_TIMEOUT, (long)h->timeout_s);
	SETOPT(h->curl, CURLOPT_USERAGENT, ua);
	SETOPT(h->curl, CURLOPT_WRITEFUNCTION, discard);
	SETOPT(h->curl, CURLOPT_NOPROGRESS, 0L);
	SETOPT(h->curl, CURLOPT_XFERINFOFUNCTION, abort_on_stop);
	SETOPT(h->curl, CURLOPT_XFERINFODATA, h);
	if (h->ca_file != NULL)
		SETOPT(h->curl, CURLOPT_CAINFO, h->ca_file);
	if ((r = outbox_store_open(w->svc, &h->st)) != 0)
		goto fail;
	*out = h;
	return 0;
fail:
	webhook_worker_free(h);
	return r;
}

/* A queued message copied out of the store for delivery. */
struct delivery {
	int64_t id;
	int attempts;
	char event[64];
	char *body;
	size_t body_len;
};

struct batch {
	struct delivery items[WEBHOOK_BATCH];
	size_t n;
};

static int collect_row(void *ctx, const struct outbox_row *row)
{
	struct batch *b = ctx;
	struct delivery *d;
	if (b->n == WEBHOOK_BATCH)
		return 1;
	d = &b->items[b->n];
	memset(d, 0, sizeof(*d));
	d->id = row->id;
	d->attempts = row->attempts;
	snprintf(d->event, sizeof(d->event), "%s", row->topic);
	if ((d->body = malloc(row->body_len + 1)) == NULL)
		return IV_ERR_NOMEM;
	memcpy(d->body, row->body, row->body_len);
	d->body[row->body_len] = '\0';
	d->body_len = row->body_len;
	b->n++;
	return 0;
}

static void batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->items[i].body);
	b->n = 0;
}

struct head {
	int64_t webhook_id;
	int64_t tenant_id;
};

struct heads {
	struct head items[WEBHOOK_HEADS_MAX];
	size_t n;
};

static int collect_head(void *ctx, const struct outbox_row *row)
{
	struct heads *hs = ctx;
	if (hs->n == WEBHOOK_HEADS_MAX)
		return 1;
	hs->items[hs->n++] = (struct head){row->webhook_id, row->tenant_id};
	return 0;
}

/* Opens the endpoint's signing secret: the record is read on this thread's
 * connection, the vault (not thread-safe) is used under the service lock. */
static int open_secret(struct webhook_worker *h, const struct webhook_record *wh,
		       struct secbuf **out)
{
	struct secret_ref ref = {wh->tenant_id, "webhook", wh->id, "secret"};
	struct secret_record *rec = malloc(sizeof(*rec)); /* sealed, not secret */ /* lint:not-secret */
	int r;

	if (rec == NULL)
		return IV_ERR_NOMEM;
	if ((r = h->st->ops->secret_get(h->st, "webhook", wh->id, "secret", rec)) == 0) {
		service_lock(h->w->svc);
		r = vault_envelope_open(h->w->svc->v, &ref, rec, out);
		service_unlock(h->w->svc);
	}
	free(rec);
	return r;
}

/* POSTs one message; 0 on a 2xx answer, with *STATUS the HTTP status (0
 * when there was none) and ERR a static reason otherwise. */
static int post(struct webhook_worker *h, const struct webhook_record *wh,
		const struct secbuf *secret, const struct delivery *d, long *status,
		const char **err)
{
	struct curl_slist *headers = NULL, *next;
	char sig[OUTBOX_SIGNATURE_LEN + 1], line[160];
	const char *lines[6];
	int64_t ts = (int64_t)time(NULL);
	CURLcode cc;
	int r;

	*status = 0;
	*err = "internal error";
	if ((r = outbox_webhook_signature(secret->data, secret->len, ts, d->body, d->body_len, sig)) !=
	    0)
		return r;
	lines[0] = "Content-Type: application/json";
	lines[1] = "Expect:";
	for (size_t i = 0; i < 6; i++) {
		if (i == 2)
			snprintf(line, sizeof(line), "X-Iotvault-Timestamp: %lld", (long long)ts);
		else if (i == 3)
			snprintf(line, sizeof(line), "X-Iotvault-Signature: %s", sig);
		else if (i == 4)
			snprintf(line, sizeof(line), "X-Iotvault-Event: %s", d->event);
		else if (i == 5)
			snprintf(line, sizeof(line), "X-Iotvault-Delivery: %lld", (long long)d->id);
		if ((next = curl_slist_append(headers, i < 2 ? lines[i] : line)) == NULL) {
			r = IV_ERR_NOMEM;
			goto out;
		}
		headers = next;
	}
	if ((cc = curl_easy_setopt(h->curl, CURLOPT_URL, wh->url)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, headers)) != CURLE_OK ||
	    (cc = curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)d->body_len)) !=
		    CURLE_OK ||
	    (cc = curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, d->body)) != CURLE_OK) {
		*err = curl_easy_strerror(cc);
		r = IV_ERR_INTERNAL;
		goto out;
	}
	if ((cc = curl_easy_perform(h->curl)) != CURLE_OK) {
		*err = curl_easy_strerror(cc);
		r = IV_ERR_IO;
		goto out;
	}
	if ((cc = curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, status)) != CURLE_OK) {
		*err = curl_easy_strerror(cc);
		r = IV_ERR_IO;
		goto out;
	}
	*err = "non-2xx answer";
	r = (*status >= 200 && *status <= 299) ? 0 : IV_ERR_REFUSED;
out:
	/* the handle must not keep pointers to freed headers */
	(void)curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
	secmem_wipe(sig, sizeof(sig));
	return r;
}

/* Delivers one endpoint's due messages in order until one fails; returns
 * how many were delivered. */
static size_t serve_endpoint(struct webhook_worker *h, const struct head *hd)
{
	struct store *st = h->st;
	struct webhook_record wh;
	struct secbuf *secret = NULL;
	struct batch b;
	char origin[ORIGIN_MAX];
	const char *err;
	size_t delivered = 0;
	long status;
	int r;

	memset(&b, 0, sizeof(b));
	if ((r = st->ops->outbox->webhook_get(st, hd->tenant_id, hd->webhook_id, &wh)) != 0 ||
	    !wh.enabled)
		return 0; /* deleted meanwhile (its rows go with it) or disabled */
	if (outbox_webhook_url_check(wh.url, origin, sizeof(origin)) != 0)
		snprintf(origin, sizeof(origin), "(invalid URL)");
	if ((r = open_secret(h, &wh, &secret)) != 0) {
		log_error("webhook %lld: cannot open its signing secret: %s", (long long)wh.id,
			  iv_error_message(r));
		return 0;
	}
	if ((r = st->ops->outbox->list_webhook(st, wh.id, WEBHOOK_BATCH, collect_row, &b)) < 0) {
		log_error("webhook %lld: reading the outbox: %s", (long long)wh.id, iv_error_message(r));
		goto out;
	}
	for (size_t i = 0; i < b.n && !atomic_load(&h->w->stopping); i++) {
		struct delivery *d = &b.items[i];
		if (post(h, &wh, secret, d, &status, &err) == 0) {
			delivered++;
			if ((r = st->ops->outbox->remove(st, d->id)) != 0)
				log_warning("webhook %lld: delivered message %lld not removed yet: %s",
					    (long long)wh.id, (long long)d->id, iv_error_message(r));
			continue;
		}
		if (atomic_load(&h->w->stopping))
			break;
		d->attempts++;
		int64_t wait_ms = outbox_backoff_ms(d->attempts, h->retry_max_s);
		if (status != 0)
			log_warning("webhook %lld (%s): message %lld answered %ld; attempt %d, next in "
				    "%lld s",
				    (long long)wh.id, origin, (long long)d->id, status, d->attempts,
				    (long long)(wait_ms / 1000));
		else
			log_warning("webhook %lld (%s): message %lld not delivered: %s; attempt %d, next "
				    "in %lld s",
				    (long long)wh.id, origin, (long long)d->id, err, d->attempts,
				    (long long)(wait_ms / 1000));
		if ((r = st->ops->outbox->retry_later(st, d->id, d->attempts,
						      store_now_ms() + wait_ms)) != 0)
			log_warning("webhook %lld: cannot record the retry: %s", (long long)wh.id,
				    iv_error_message(r));
		break;
	}
out:
	batch_free(&b);
	secbuf_free(secret);
	return delivered;
}

void *webhook_worker_main(void *arg)
{
	struct webhook_worker *h = arg;
	struct heads hs;
	size_t delivered;
	int r;

	while (!atomic_load(&h->w->stopping)) {
		hs.n = 0;
		delivered = 0;
		r = h->st->ops->outbox->list_webhook_heads(h->st, store_now_ms(), WEBHOOK_HEADS_MAX,
							   collect_head, &hs);
		if (r < 0 && r != IV_ERR_BUSY)
			log_error("webhooks: reading the outbox: %s", iv_error_message(r));
		for (size_t i = 0; i < hs.n && !atomic_load(&h->w->stopping); i++)
			delivered += serve_endpoint(h, &hs.items[i]);
		/* nothing went out: everything is waiting for its back-off or failing */
		if (delivered == 0 && outbox_sleep(h->w, WEBHOOK_IDLE_MS))
			break;
	}
	return NULL;
}
