/* Peer authentication material: certificate fingerprints, CA checks and
 * client-chain verification with GnuTLS, bearer tokens. The TLS layer only
 * hands over the chain the client presented; whether it belongs to a peer is
 * decided here, per peer, because each peer may trust a different CA. */
#include "iotvault/peer_auth.h"
#include "iotvault/crypto.h"
#include "iotvault/hex.h"
#include "iotvault/secmem.h"
#include "iotvault/store_lorawan.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <nettle/sha2.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int peer_cert_pem_fingerprint(const char *pem, size_t len, char out[static 65])
{
	gnutls_datum_t in = {(unsigned char *)pem, (unsigned int)len}, der = {NULL, 0};
	gnutls_x509_crt_t crt = NULL;
	uint8_t digest[SHA256_DIGEST_SIZE];
	struct sha256_ctx ctx;
	int r = IV_ERR_INVALID;

	out[0] = '\0';
	if (len == 0 || len > 65536)
		return IV_ERR_INVALID;
	if (gnutls_x509_crt_init(&crt) < 0)
		return IV_ERR_NOMEM;
	if (gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM) >= 0 &&
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) >= 0) {
		sha256_init(&ctx);
		sha256_update(&ctx, der.size, der.data);
		sha256_digest(&ctx, sizeof(digest), digest);
		hex_encode_upper(digest, sizeof(digest), out);
		r = 0;
	}
	gnutls_free(der.data);
	gnutls_x509_crt_deinit(crt);
	return r;
}

int peer_client_ca_check(const char *pem, char *err, size_t err_len)
{
	gnutls_x509_crt_t crts[PEER_CHAIN_MAX];
	unsigned int n = PEER_CHAIN_MAX, critical = 0;
	gnutls_datum_t in = {(unsigned char *)pem, (unsigned int)strlen(pem)};
	time_t now = time(NULL);
	int r = IV_ERR_INVALID;

	if (in.size == 0 || gnutls_x509_crt_list_import(crts, &n, &in, GNUTLS_X509_FMT_PEM, 0) < 0 ||
	    n == 0) {
		snprintf(err, err_len, "not PEM certificates (at most %d)", PEER_CHAIN_MAX);
		return IV_ERR_INVALID;
	}
	for (unsigned int i = 0; i < n; i++) {
		if (gnutls_x509_crt_get_ca_status(crts[i], &critical) <= 0) {
			snprintf(err, err_len, "certificate %u is not a CA (basicConstraints)", i + 1);
			goto out;
		}
		if (gnutls_x509_crt_get_activation_time(crts[i]) > now ||
		    gnutls_x509_crt_get_expiration_time(crts[i]) < now) {
			snprintf(err, err_len, "certificate %u is not valid now", i + 1);
			goto out;
		}
	}
	/* success */
	r = 0;
out:
	for (unsigned int i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	return r;
}

/* The leaf's subject CN is exactly CN, and it has only one. */
static int leaf_cn_is(gnutls_x509_crt_t leaf, const char *cn)
{
	char buf[PEER_CERT_CN_MAX + 2];
	size_t len = sizeof(buf);
	if (gnutls_x509_crt_get_dn_by_oid(leaf, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &len) < 0 ||
	    len != strlen(buf) || strcmp(buf, cn) != 0)
		return 0;
	len = sizeof(buf);
	return gnutls_x509_crt_get_dn_by_oid(leaf, GNUTLS_OID_X520_COMMON_NAME, 1, 0, buf, &len) ==
	       GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE;
}

int peer_client_chain_verify(const char *ca_pem, const char *cn, const struct peer_cert_der *certs,
			     size_t n)
{
	gnutls_x509_trust_list_t tl = NULL;
	gnutls_x509_crt_t chain[PEER_CHAIN_MAX];
	gnutls_datum_t ca = {(unsigned char *)ca_pem, (unsigned int)strlen(ca_pem)};
	gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID,
					 (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0};
	unsigned int status = 1, imported = 0;
	int r = IV_ERR_UNAUTHENTICATED;

	if (ca.size == 0 || certs == NULL || n == 0)
		return IV_ERR_UNAUTHENTICATED;
	if (n > PEER_CHAIN_MAX)
		n = PEER_CHAIN_MAX;
	if (gnutls_x509_trust_list_init(&tl, 0) < 0)
		return IV_ERR_NOMEM;
	if (gnutls_x509_trust_list_add_trust_mem(tl, &ca, NULL, GNUTLS_X509_FMT_PEM, 0, 0) <= 0)
		goto out;
	for (; imported < n; imported++) {
		gnutls_datum_t der = {(unsigned char *)certs[imported].der,
				      (unsigned int)certs[imported].len};
		if (gnutls_x509_crt_init(&chain[imported]) < 0)
			goto out;
		if (gnutls_x509_crt_import(chain[imported], &der, GNUTLS_X509_FMT_DER) < 0) {
			gnutls_x509_crt_deinit(chain[imported]);
			goto out;
		}
	}
	/* the default flags check signatures, validity times and CA flags */
	if (gnutls_x509_trust_list_verify_crt2(tl, chain, imported, &purpose, 1, 0, &status, NULL) < 0 ||
	    status != 0)
		goto out;
	if (cn != NULL && cn[0] != '\0' && !leaf_cn_is(chain[0], cn))
		goto out;
	/* success */
	r = 0;
out:
	for (unsigned int i = 0; i < imported; i++)
		gnutls_x509_crt_deinit(chain[i]);
	gnutls_x509_trust_list_deinit(tl, 1);
	return r;
}

void peer_token_generate(char out[static PEER_TOKEN_MAX])
{
	uint8_t raw[24];
	random_bytes(raw, sizeof(raw));
	sodium_bin2base64(out, PEER_TOKEN_MAX, raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	secmem_wipe(raw, sizeof(raw));
}

void peer_token_hash(const char *token, uint8_t out[static 32])
{
	struct sha256_ctx ctx;
	sha256_init(&ctx);
	sha256_update(&ctx, strlen(token), (const uint8_t *)token);
	sha256_digest(&ctx, 32, out);
}
