/* Downlinks: the plaintext is encrypted with the AppSKey of the device's
 * latest session under the next AFCntDown, which is persisted (with a
 * "pending" downlink row) before anything leaves iotvault, so a counter is
 * never used twice even if the push or the process fails. The encrypted
 * FRMPayload is then pushed to the network server that last delivered the
 * session's traffic, without the service lock, and the outcome recorded:
 *   ChirpStack v4: POST {api}/api/devices/{devEui}/queue
 *     {"queueItem": {"devEui", "confirmed", "fPort", "data", "fCntDown",
 *      "isEncrypted": true}}   (api/proto/api/device.proto DeviceQueueItem)
 *   The Things Stack: POST {api}/api/v3/as/applications/{app}/devices/{dev}/down/push
 *     {"downlinks": [{"f_port", "frm_payload", "f_cnt", "session_key_id",
 *      "confirmed"}]}          (ApplicationDownlink, bytes in base64) */
#include "iotvault/appserver.h"
#include "iotvault/hex.h"
#include "iotvault/log.h"
#include "iotvault/secmem.h"
#include "iotvault/store_appserver.h"
#include "iotvault/vault_appserver.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR(...) snprintf(err, err_len, __VA_ARGS__)
#define PUSH_TIMEOUT_S 15L
#define URL_MAX 512

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The network server's reply is not needed beyond its status: discard it. */
static size_t discard(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	(void)ptr;
	(void)ctx;
	return size * nmemb;
}

/* POSTs BODY to URL with a bearer TOKEN; DETAIL gets the outcome. 0 on a 2xx. */
static int http_post(const struct config *cfg, const char *url, const char *token,
		     const char *body, char *detail, size_t detail_len)
{
	CURL *c;
	struct curl_slist *headers = NULL;
	char auth[600];
	long status = 0;
	CURLcode rc;
	int r;

	pthread_once(&curl_once, curl_init_once);
	if ((c = curl_easy_init()) == NULL)
		return IV_ERR_NOMEM;
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Accept: application/json");
	if (token != NULL && token[0] != '\0') {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		headers = curl_slist_append(headers, auth);
		secmem_wipe(auth, sizeof(auth));
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, PUSH_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	/* only HTTPS: the push carries the SessionKeyID and an API token */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (cfg->appserver_ns_ca_file != NULL) {
		char *ca = config_path(cfg, cfg->appserver_ns_ca_file);
		if (ca == NULL) {
			r = IV_ERR_NOMEM;
			goto out;
		}
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
		free(ca); /* libcurl keeps its own copy */
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(detail, detail_len, "network server unreachable: %s", curl_easy_strerror(rc));
		r = IV_ERR_IO;
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	snprintf(detail, detail_len, "HTTP %ld", status);
	r = status >= 200 && status < 300 ? 0 : IV_ERR_IO;
out:
	curl_slist_free_all(headers);
	curl_easy_cleanup(c);
	return r;
}

static void b64(const uint8_t *in, size_t len, char *out, size_t cap)
{
	sodium_bin2base64(out, cap, in, len, sodium_base64_VARIANT_ORIGINAL);
}

/* Builds the URL and body of the push for TARGET. */
static int build_push(const struct config *cfg, const char *target, const struct device_record *dev,
		      const struct lorawan_session_record *sess,
		      const struct appserver_session_state *state, const struct downlink_record *d,
		      const uint8_t *enc, size_t len, char url[static URL_MAX], char **body)
{
	char data[sodium_base64_ENCODED_LEN(APPSERVER_DOWNLINK_MAX, sodium_base64_VARIANT_ORIGINAL)];
	char skid_b64[sodium_base64_ENCODED_LEN(SESSION_KEY_ID_MAX / 2, sodium_base64_VARIANT_ORIGINAL)];
	uint8_t skid[SESSION_KEY_ID_MAX / 2];
	size_t skid_len = 0;
	json_t *o;
	int n;

	b64(enc, len, data, sizeof(data));
	if (strcmp(target, "chirpstack") == 0) {
		n = snprintf(url, URL_MAX, "%s/api/devices/%s/queue", cfg->appserver_chirpstack_api_url,
			     dev->dev_eui);
		o = json_pack("{s:{s:s,s:b,s:i,s:s,s:I,s:b}}", "queueItem", "devEui", dev->dev_eui,
			      "confirmed", d->confirmed, "fPort", d->f_port, "data", data, "fCntDown",
			      (json_int_t)d->a_fcnt_down, "isEncrypted", 1);
	} else {
		if (sodium_hex2bin(skid, sizeof(skid), sess->session_key_id,
				   strlen(sess->session_key_id), NULL, &skid_len, NULL) != 0)
			return IV_ERR_INTERNAL;
		b64(skid, skid_len, skid_b64, sizeof(skid_b64));
		n = snprintf(url, URL_MAX, "%s/api/v3/as/applications/%s/devices/%s/down/push",
			     cfg->appserver_tts_api_url, state->tts_application_id,
			     state->tts_device_id);
		o = json_pack("{s:[{s:i,s:s,s:I,s:s,s:b}]}", "downlinks", "f_port", d->f_port,
			      "frm_payload", data, "f_cnt", (json_int_t)d->a_fcnt_down,
			      "session_key_id", skid_b64, "confirmed", d->confirmed);
	}
	if (n < 0 || n >= URL_MAX) {
		json_decref(o);
		return IV_ERR_CONFIG;
	}
	if (o == NULL || (*body = json_dumps(o, JSON_COMPACT)) == NULL) {
		json_decref(o);
		return IV_ERR_NOMEM;
	}
	json_decref(o);
	return 0;
}

/* Everything up to the persisted "pending" row, under the service lock. */
static int prepare(struct service *svc, const struct principal *who,
		   const struct appserver_downlink_request *req, struct downlink_record *d,
		   char url[static URL_MAX], char **body, char *err, size_t err_len)
{
	struct store *st = svc->st;
	const struct config *cfg = &svc->cfg;
	struct device_selector sel = {.id = req->device_id};
	struct device_record dev;
	struct lorawan_session_record sess;
	struct appserver_session_state state;
	uint8_t enc[APPSERVER_DOWNLINK_MAX];
	const char *target;
	bool in_tx = false;
	int r;

	if ((r = st->ops->device_get(st, who->tenant_id, &sel, &dev)) != 0) {
		ERR("no such device");
		return r;
	}
	if (strcmp(dev.kind, "lorawan") != 0) {
		ERR("not a LoRaWAN device");
		return IV_ERR_INVALID;
	}
	if ((r = st->ops->begin(st, 1)) != 0)
		return r;
	in_tx = true;
	if ((r = st->ops->appserver->session_latest(st, dev.id, &sess)) != 0) {
		ERR("the device has no session (it has not joined)");
		goto out;
	}
	if ((r = st->ops->appserver->state_get(st, sess.id, &state)) != 0)
		goto out;
	target = state.ns_kind;
	if (strcmp(target, "chirpstack") == 0 && cfg->appserver_chirpstack_api_url == NULL) {
		ERR("[appserver] chirpstack_api_url is not configured");
		r = IV_ERR_REFUSED;
		goto out;
	}
	if (strcmp(target, "tts") == 0 &&
	    (cfg->appserver_tts_api_url == NULL || state.tts_application_id[0] == '\0' ||
	     state.tts_device_id[0] == '\0')) {
		ERR("[appserver] tts_api_url is not configured or the TTS identifiers are unknown");
		r = IV_ERR_REFUSED;
		goto out;
	}
	if (strcmp(target, "chirpstack") != 0 && strcmp(target, "tts") != 0) {
		ERR("no network server has delivered this session's traffic yet (ChirpStack or The Things Stack)");
		r = IV_ERR_REFUSED;
		goto out;
	}
	memset(d, 0, sizeof(*d));
	d->tenant_id = dev.tenant_id;
	d->device_id = dev.id;
	d->session_id = sess.id;
	d->f_port = req->f_port;
	d->confirmed = req->confirmed;
	d->payload_len = (uint32_t)req->len;
	snprintf(d->target, sizeof(d->target), "%s", target);
	snprintf(d->outcome, sizeof(d->outcome), "pending");
	if ((r = st->ops->appserver->a_fcnt_down_next(st, sess.id, &d->a_fcnt_down)) != 0) {
		if (r == IV_ERR_REFUSED)
			ERR("the session's downlink counter is used up: the device must rejoin");
		goto out;
	}
	if ((r = vault_appserver_crypt(svc->v, dev.tenant_id, sess.id, true, sess.dev_addr,
				       d->a_fcnt_down, req->data, req->len, enc)) != 0) {
		ERR("the session's AppSKey is not available");
		goto out;
	}
	if ((r = st->ops->appserver->downlink_insert(st, d)) != 0 ||
	    (r = build_push(cfg, target, &dev, &sess, &state, d, enc, req->len, url, body)) != 0)
		goto out;
	if ((r = st->ops->commit(st)) != 0)
		goto out;
	in_tx = false;
	/* success */
	r = 0;
out:
	if (in_tx)
		st->ops->rollback(st);
	if (r != 0) {
		free(*body);
		*body = NULL;
	}
	return r;
}

int appserver_downlink(struct service *svc, const struct principal *who,
		       const struct appserver_downlink_request *req, struct downlink_record *out,
		       char *err, size_t err_len)
{
	char url[URL_MAX], detail[APPSERVER_REASON_MAX + 1] = "";
	char *body = NULL;
	const char *env, *token = NULL;
	int r, pushed;

	memset(out, 0, sizeof(*out));
	if (req->f_port == 0 || req->f_port > 223 || req->len > APPSERVER_DOWNLINK_MAX) {
		ERR("f_port 1..223 and at most %d bytes", APPSERVER_DOWNLINK_MAX);
		return IV_ERR_INVALID;
	}
	service_lock(svc);
	r = prepare(svc, who, req, out, url, &body, err, err_len);
	env = strcmp(out->target, "tts") == 0 ? svc->cfg.appserver_tts_key_env
					      : svc->cfg.appserver_chirpstack_token_env;
	service_unlock(svc);
	if (r != 0)
		return r;

	if (env != NULL)
		token = getenv(env);
	pushed = http_post(&svc->cfg, url, token, body, detail, sizeof(detail));
	free(body);
	if (pushed != 0)
		log_warning("appserver: downlink %lld to %s not accepted: %s", (long long)out->id,
			    out->target, detail);

	service_lock(svc);
	snprintf(out->outcome, sizeof(out->outcome), "%s", pushed == 0 ? "pushed" : "failed");
	snprintf(out->detail, sizeof(out->detail), "%s", detail);
	r = svc->st->ops->appserver->downlink_set_outcome(svc->st, out->id, out->outcome,
							  out->detail);
	service_unlock(svc);
	return r;
}
