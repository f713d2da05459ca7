/* LoRaWAN operations of the vault (include/iotvault/vault_lorawan.h): the
 * only place where a device's root keys and the peers' KEKs are opened for
 * the join server. */
#include "iotvault/vault_lorawan.h"
#include "iotvault/crypto.h"
#include "iotvault/hex.h"
#include "iotvault/log.h"
#include "iotvault/secmem.h"
#include "vault/vault_internal.h"

#include <stdio.h>
#include <string.h>

/* Opens a secret that must be exactly LEN bytes. */
static int open_exact(struct vault *v, const struct secret_ref *ref, size_t len,
		      struct secbuf **out)
{
	int r = vault_fetch_open(v, ref, out);
	if (r == 0 && (*out)->len != len) {
		log_error("vault: %s/%lld/%s has the wrong length", ref->owner_kind,
			  (long long)ref->owner_id, ref->field);
		secbuf_free(*out);
		*out = NULL;
		r = IV_ERR_CRYPTO;
	}
	return r;
}

static int device_key(struct vault *v, const struct device_record *dev, const char *field,
		      struct secbuf **out)
{
	struct secret_ref ref = {dev->tenant_id, "device", dev->id, field};
	return open_exact(v, &ref, LORAWAN_KEY_LEN, out);
}

static int is_1_1(const struct device_record *dev)
{
	return strcmp(dev->mac_version, "1.1") == 0;
}

int vault_peer_kek_generate(struct vault *v, int64_t peer_id)
{
	struct secret_ref ref = {0, "peer", peer_id, "kek"};
	struct secbuf *kek = secbuf_new(PEER_KEK_LEN);
	int r;
	if (kek == NULL)
		return IV_ERR_NOMEM;
	random_bytes(kek->data, kek->len);
	r = vault_seal(v, &ref, kek->data, kek->len);
	secbuf_free(kek);
	return r;
}

int vault_lorawan_verify_join_request(struct vault *v, const struct device_record *dev,
				      const uint8_t *phy, size_t len)
{
	struct secbuf *key = NULL;
	uint8_t mic[LORAWAN_MIC_LEN];
	int r;

	if ((r = device_key(v, dev, is_1_1(dev) ? "nwk_key" : "app_key", &key)) != 0)
		return r;
	if ((r = lorawan_join_request_mic(key->data, phy, len, mic)) != 0)
		goto out;
	r = lorawan_mic_check(phy, len, mic) == 0 ? 0 : IV_ERR_MIC_FAILED;
out:
	secbuf_free(key);
	return r;
}

/* Wraps each of the N keys at KEYS (16 bytes apart) for PEER under its KEK,
 * opened once, or copies them for a plaintext peer. */
static int envelopes(struct vault *v, const struct peer_record *peer, const uint8_t *keys,
		     size_t n, struct key_envelope *const out[])
{
	struct secret_ref ref = {0, "peer", peer->id, "kek"};
	struct secbuf *kek = NULL;
	int r = 0;

	for (size_t i = 0; i < n; i++)
		memset(out[i], 0, sizeof(*out[i]));
	if (peer->allow_plaintext && peer->kek_label[0] == '\0') {
		for (size_t i = 0; i < n; i++) {
			memcpy(out[i]->data, keys + 16 * i, LORAWAN_KEY_LEN);
			out[i]->len = LORAWAN_KEY_LEN;
		}
		return 0;
	}
	if ((r = open_exact(v, &ref, PEER_KEK_LEN, &kek)) != 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		if ((r = keywrap_wrap(kek->data, keys + 16 * i, LORAWAN_KEY_LEN, out[i]->data)) != 0)
			break;
		snprintf(out[i]->kek_label, sizeof(out[i]->kek_label), "%s", peer->kek_label);
		out[i]->len = WRAPPED_SESSION_KEY_LEN;
	}
	secbuf_free(kek);
	return r;
}

static int envelope(struct vault *v, const struct peer_record *peer, const uint8_t key[static 16],
		    struct key_envelope *out)
{
	struct key_envelope *const outs[1] = {out};
	return envelopes(v, peer, key, 1, outs);
}

static int seal_session_key(struct vault *v, const struct vault_join_in *in, const char *field,
			    const uint8_t key[static 16])
{
	struct secret_ref ref = {in->dev->tenant_id, "lorawan_session", in->session_row_id, field};
	return vault_seal(v, &ref, key, LORAWAN_KEY_LEN);
}

int vault_lorawan_answer_join(struct vault *v, const struct vault_join_in *in,
			      struct vault_join_out *out)
{
	struct secbuf *app_key = NULL, *nwk_key = NULL, *sk = NULL;
	/* session keys: 0 NwkSKey/FNwkSIntKey, 1 SNwkSIntKey, 2 NwkSEncKey, 3 AppSKey,
	 * 4 JSIntKey, 5 JSEncKey */
	uint8_t *k;
	struct lorawan_join_accept ja;
	/* the three 1.1 network keys lie at k, k+16, k+32 in this order */
	struct key_envelope *const network_envelopes[3] = {&out->f_nwk_s_int_key,
							   &out->s_nwk_s_int_key, &out->nwk_s_enc_key};
	int r;

	memset(out, 0, sizeof(*out));
	if ((sk = secbuf_new(6 * LORAWAN_KEY_LEN)) == NULL)
		return IV_ERR_NOMEM;
	k = sk->data;
	memset(&ja, 0, sizeof(ja));
	ja.join_nonce = in->join_nonce;
	ja.net_id = in->net_id;
	ja.dev_addr = in->dev_addr;
	ja.dl_settings = in->dl_settings;
	ja.rx_delay = in->rx_delay;
	ja.has_cflist = in->has_cflist;
	if (in->has_cflist)
		memcpy(ja.cflist, in->cflist, LORAWAN_CFLIST_LEN);
	if ((r = device_key(v, in->dev, "app_key", &app_key)) != 0)
		goto out;
	out->opt_neg = is_1_1(in->dev) && (in->dl_settings & LORAWAN_DLSETTINGS_OPTNEG);
	if (in->join_req_type != LORAWAN_JOIN_REQ_TYPE_JOIN && !out->opt_neg) {
		r = IV_ERR_INVALID; /* rejoins exist only in LoRaWAN 1.1 */
		goto out;
	}
	if (out->opt_neg) {
		if ((r = device_key(v, in->dev, "nwk_key", &nwk_key)) != 0)
			goto out;
		const uint8_t *enc_key;
		lorawan_derive_js_keys(nwk_key->data, in->dev_eui, k + 64, k + 80);
		/* a JoinRequest's answer is encrypted with the NwkKey, a rejoin's with JSEncKey */
		enc_key = in->join_req_type == LORAWAN_JOIN_REQ_TYPE_JOIN ? nwk_key->data : k + 80;
		if ((r = lorawan_derive_session_keys_1_1(nwk_key->data, app_key->data, in->join_nonce,
							 in->join_eui, in->dev_nonce, k, k + 16,
							 k + 32, k + 48)) != 0 ||
		    (r = lorawan_join_accept_seal_1_1(enc_key, k + 64, in->join_req_type,
						      in->join_eui, in->dev_nonce, &ja,
						      out->phy, sizeof(out->phy), &out->phy_len)) != 0)
			goto out;
		if ((r = seal_session_key(v, in, "f_nwk_s_int_key", k)) != 0 ||
		    (r = seal_session_key(v, in, "s_nwk_s_int_key", k + 16)) != 0 ||
		    (r = seal_session_key(v, in, "nwk_s_enc_key", k + 32)) != 0 ||
		    (r = envelopes(v, in->ns_peer, k, 3, network_envelopes)) != 0)
			goto out;
	} else {
		/* 1.0.x, and 1.1 devices answered as 1.0 (no OptNeg): the root key
		 * of the join is the AppKey for 1.0 and the NwkKey for 1.1 */
		const uint8_t *root = app_key->data;
		if (is_1_1(in->dev)) {
			if ((r = device_key(v, in->dev, "nwk_key", &nwk_key)) != 0)
				goto out;
			root = nwk_key->data;
		}
		if ((r = lorawan_derive_session_keys_1_0(root, in->join_nonce, in->net_id,
							 in->dev_nonce, k, k + 48)) != 0 ||
		    (r = lorawan_join_accept_seal_1_0(root, &ja, out->phy, sizeof(out->phy),
						      &out->phy_len)) != 0)
			goto out;
		if ((r = seal_session_key(v, in, "nwk_s_key", k)) != 0 ||
		    (r = envelope(v, in->ns_peer, k, &out->nwk_s_key)) != 0)
			goto out;
	}
	if ((r = seal_session_key(v, in, "app_s_key", k + 48)) != 0)
		goto out;
	if (in->as_peer != NULL) {
		if ((r = envelope(v, in->as_peer, k + 48, &out->app_s_key)) != 0)
			goto out;
		out->has_app_s_key = true;
	}
	/* success */
	r = 0;
out:
	secbuf_free(sk);
	secbuf_free(app_key);
	secbuf_free(nwk_key);
	if (r != 0)
		secmem_wipe(out, sizeof(*out));
	return r;
}

int vault_lorawan_verify_rejoin_1(struct vault *v, const struct device_record *dev,
				  const uint8_t *phy, size_t len)
{
	struct secbuf *nwk_key = NULL, *js = NULL;
	uint8_t mic[LORAWAN_MIC_LEN], dev_eui[LORAWAN_EUI_LEN];
	int r;

	if (!is_1_1(dev) || eui_parse(dev->dev_eui, dev_eui) != 0)
		return IV_ERR_INVALID;
	if ((js = secbuf_new(2 * LORAWAN_KEY_LEN)) == NULL)
		return IV_ERR_NOMEM;
	if ((r = device_key(v, dev, "nwk_key", &nwk_key)) != 0)
		goto out;
	lorawan_derive_js_keys(nwk_key->data, dev_eui, js->data, js->data + 16);
	if ((r = lorawan_rejoin_request_mic(js->data, phy, len, mic)) != 0)
		goto out;
	r = lorawan_mic_check(phy, len, mic) == 0 ? 0 : IV_ERR_MIC_FAILED;
out:
	secbuf_free(js);
	secbuf_free(nwk_key);
	return r;
}

int vault_lorawan_verify_rejoin_0_2(struct vault *v, int64_t tenant_id, int64_t session_row_id,
				    const uint8_t *phy, size_t len)
{
	struct secret_ref ref = {tenant_id, "lorawan_session", session_row_id, "s_nwk_s_int_key"};
	struct secbuf *key = NULL;
	uint8_t mic[LORAWAN_MIC_LEN];
	int r = open_exact(v, &ref, LORAWAN_KEY_LEN, &key);
	if (r != 0)
		return r == IV_ERR_NOT_FOUND ? IV_ERR_MIC_FAILED : r;
	if ((r = lorawan_rejoin_request_mic(key->data, phy, len, mic)) == 0)
		r = lorawan_mic_check(phy, len, mic) == 0 ? 0 : IV_ERR_MIC_FAILED;
	secbuf_free(key);
	return r;
}

int vault_lorawan_wrap_app_s_key(struct vault *v, int64_t tenant_id, int64_t session_row_id,
				 const struct peer_record *as_peer, struct key_envelope *out)
{
	struct secret_ref ref = {tenant_id, "lorawan_session", session_row_id, "app_s_key"};
	struct secbuf *key = NULL;
	int r = open_exact(v, &ref, LORAWAN_KEY_LEN, &key);
	if (r != 0)
		return r;
	r = envelope(v, as_peer, key->data, out);
	secbuf_free(key);
	return r;
}
