/* Application Server operations of the vault (include/iotvault/vault_appserver.h):
 * the only place where a session's AppSKey is opened for payload encryption,
 * and where an AppSKey envelope from another join server is unwrapped. */
#include "iotvault/vault_appserver.h"
#include "iotvault/crypto.h"
#include "iotvault/lorawan.h"
#include "iotvault/log.h"
#include "iotvault/secmem.h"
#include "vault/vault_internal.h"

#include <string.h>

int vault_appserver_crypt(struct vault *v, int64_t tenant_id, int64_t session_row_id,
			  bool downlink, uint32_t dev_addr, uint32_t fcnt32, const uint8_t *in,
			  size_t len, uint8_t *out)
{
	struct secret_ref ref = {tenant_id, "lorawan_session", session_row_id, "app_s_key"};
	struct secbuf *key = NULL;
	int r;

	if (len > LORAWAN_FRM_PAYLOAD_MAX)
		return IV_ERR_TOO_LARGE;
	if ((r = vault_fetch_open(v, &ref, &key)) != 0)
		return r;
	if (key->len != LORAWAN_KEY_LEN) {
		log_error("vault: session %lld has an AppSKey of the wrong length",
			  (long long)session_row_id);
		r = IV_ERR_CRYPTO;
		goto out;
	}
	r = lorawan_frm_payload_crypt(key->data, downlink, dev_addr, fcnt32, in, len, out);
out:
	secbuf_free(key);
	return r;
}

int vault_appserver_adopt_session(struct vault *v, int64_t tenant_id, int64_t session_row_id,
				  const struct peer_record *own_as, const struct key_envelope *env)
{
	struct secret_ref kek_ref = {0, "peer", own_as->id, "kek"};
	struct secret_ref ref = {tenant_id, "lorawan_session", session_row_id, "app_s_key"};
	struct secbuf *kek = NULL, *key = NULL;
	int r;

	if ((key = secbuf_new(LORAWAN_KEY_LEN)) == NULL)
		return IV_ERR_NOMEM;
	if (env->len == LORAWAN_KEY_LEN && env->kek_label[0] == '\0') {
		/* a network server without a KEK for us sends the key in the clear */
		if (!own_as->allow_plaintext) {
			r = IV_ERR_REFUSED;
			goto out;
		}
		memcpy(key->data, env->data, LORAWAN_KEY_LEN);
	} else {
		if (env->len != WRAPPED_SESSION_KEY_LEN) {
			r = IV_ERR_INVALID;
			goto out;
		}
		if (strcmp(env->kek_label, own_as->kek_label) != 0) {
			r = IV_ERR_REFUSED;
			goto out;
		}
		if ((r = vault_fetch_open(v, &kek_ref, &kek)) != 0)
			goto out;
		if (kek->len != PEER_KEK_LEN) {
			r = IV_ERR_CRYPTO;
			goto out;
		}
		if (keywrap_unwrap(kek->data, env->data, env->len, key->data) != 0) {
			r = IV_ERR_AUTH_TAG;
			goto out;
		}
	}
	r = vault_seal(v, &ref, key->data, key->len);
out:
	secbuf_free(kek);
	secbuf_free(key);
	return r;
}
