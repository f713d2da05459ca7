/* What iotvault accepts as LwM2M certificate-mode material (lwm2m_pki.h):
 * tenant CA certificates, device raw public keys and device certificates,
 * the verification of a device's chain against its tenant's CA alone, and
 * the audited changes REST and CLI make. GnuTLS does the parsing and the
 * path validation. */
#include "iotvault/lwm2m_pki.h"
#include "iotvault/audit.h"
#include "iotvault/hex.h"
#include "iotvault/lwm2m.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Chains longer than this are refused (leaf, intermediates). */
#define CHAIN_MAX 8

void lwm2m_pki_sha256_hex(const uint8_t *der, size_t len, char out[static 65])
{
	uint8_t h[32];
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len, h) != 0)
		memset(h, 0, sizeof(h));
	hex_encode_upper(h, sizeof(h), out);
}

static int contains(const uint8_t *data, size_t len, const char *tag)
{
	size_t n = strlen(tag);
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(data + i, tag, n) == 0) /* lint:not-secret */
			return 1;
	return 0;
}

static int is_pem(const uint8_t *data, size_t len)
{
	return contains(data, len, "-----BEGIN ");
}

int64_t lwm2m_pki_cert_not_after_ms(const uint8_t *der, size_t len)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t in = {(unsigned char *)der, (unsigned)len};
	time_t t;
	int64_t ms = 0;
	if (gnutls_x509_crt_init(&crt) < 0)
		return 0;
	if (gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_DER) >= 0 &&
	    (t = gnutls_x509_crt_get_expiration_time(crt)) != (time_t)-1)
		ms = (int64_t)t * 1000;
	gnutls_x509_crt_deinit(crt);
	return ms;
}

int lwm2m_pki_parse_ca(const char *pem, size_t len, int64_t tenant_id,
		       struct lwm2m_tenant_ca_record *out, const char **why)
{
	gnutls_x509_crt_t *list = NULL;
	unsigned n = 0, critical = 0;
	gnutls_datum_t in = {(unsigned char *)pem, (unsigned)len}, der = {NULL, 0}, clean = {NULL, 0};
	size_t sz;
	time_t now = time(NULL);
	int r = IV_ERR_INVALID, ca;

	*why = "not a PEM X.509 certificate";
	memset(out, 0, sizeof(*out));
	if (len == 0 || len > LWM2M_CA_PEM_MAX) {
		*why = "the CA certificate must be 1..8192 bytes of PEM";
		return IV_ERR_INVALID;
	}
	/* "-----BEGIN PRIVATE KEY", "RSA/EC/ENCRYPTED PRIVATE KEY", ...: a key
	 * pasted along with the certificate would be kept in clear and shown
	 * to every role */
	if (contains((const uint8_t *)pem, len, "PRIVATE KEY")) {
		*why = "the upload contains a private key: send the CA certificate only";
		return IV_ERR_INVALID;
	}
	if (gnutls_x509_crt_list_import2(&list, &n, &in, GNUTLS_X509_FMT_PEM, 0) < 0 || n == 0)
		goto out;
	if (n != 1) {
		*why = "exactly one certificate is expected";
		goto out;
	}
	ca = gnutls_x509_crt_get_basic_constraints(list[0], &critical, NULL, NULL);
	if (ca <= 0) {
		*why = "the certificate is not a CA (basicConstraints)";
		goto out;
	}
	if (gnutls_x509_crt_get_expiration_time(list[0]) < now ||
	    gnutls_x509_crt_get_activation_time(list[0]) > now) {
		*why = "the certificate is outside its validity period";
		goto out;
	}
	sz = sizeof(out->subject);
	if (gnutls_x509_crt_get_dn(list[0], out->subject, &sz) < 0)
		snprintf(out->subject, sizeof(out->subject), "?");
	if (gnutls_x509_crt_export2(list[0], GNUTLS_X509_FMT_DER, &der) < 0)
		goto out;
	lwm2m_pki_sha256_hex(der.data, der.size, out->sha256);
	out->not_after = (int64_t)gnutls_x509_crt_get_expiration_time(list[0]) * 1000;
	out->tenant_id = tenant_id;
	/* the certificate alone, as GnuTLS writes it: no text or other blocks
	 * that came with the upload are stored */
	if (gnutls_x509_crt_export2(list[0], GNUTLS_X509_FMT_PEM, &clean) < 0 ||
	    clean.size > LWM2M_CA_PEM_MAX)
		goto out;
	memcpy(out->certificate_pem, clean.data, clean.size);
	out->certificate_pem[clean.size] = '\0';
	*why = NULL;
	/* success */
	r = 0;
out:
	gnutls_free(der.data);
	gnutls_free(clean.data);
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(list[i]);
	gnutls_free(list);
	return r;
}

size_t lwm2m_pki_cert_names(const uint8_t *der, size_t len, char names[][256], size_t max)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t in = {(unsigned char *)der, (unsigned)len};
	size_t n = 0, sz;
	int ret;

	if (max == 0 || gnutls_x509_crt_init(&crt) < 0)
		return 0;
	if (gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_DER) < 0)
		goto out;
	sz = 255;
	if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, names[n], &sz) >= 0 &&
	    sz > 0 && strlen(names[n]) == sz)
		n++;
	for (unsigned i = 0; n < max; i++) {
		unsigned critical = 0;
		sz = 255;
		ret = gnutls_x509_crt_get_subject_alt_name(crt, i, names[n], &sz, &critical);
		if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (ret == GNUTLS_E_SHORT_MEMORY_BUFFER)
			continue;
		/* a name with an embedded NUL is not a name */
		if ((ret == GNUTLS_SAN_DNSNAME || ret == GNUTLS_SAN_URI) && strlen(names[n]) == sz)
			n++;
	}
out:
	gnutls_x509_crt_deinit(crt);
	return n;
}

/* SPKI (DER) of a public key given as PEM or DER. */
static int spki_of_key(const uint8_t *data, size_t len, struct lwm2m_device_security_record *out)
{
	gnutls_pubkey_t key = NULL;
	gnutls_datum_t in = {(unsigned char *)data, (unsigned)len};
	size_t sz = sizeof(out->spki);
	int r = IV_ERR_INVALID;
	if (gnutls_pubkey_init(&key) < 0)
		return IV_ERR_NOMEM;
	if (gnutls_pubkey_import(key, &in, is_pem(data, len) ? GNUTLS_X509_FMT_PEM
							     : GNUTLS_X509_FMT_DER) < 0)
		goto out;
	if (gnutls_pubkey_export(key, GNUTLS_X509_FMT_DER, out->spki, &sz) < 0)
		goto out;
	out->spki_len = sz;
	/* success */
	r = 0;
out:
	gnutls_pubkey_deinit(key);
	return r;
}

int lwm2m_pki_parse_device(const char *mode, const uint8_t *data, size_t len,
			   const char *endpoint, struct lwm2m_device_security_record *out,
			   const char **why)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t key = NULL;
	gnutls_datum_t in = {(unsigned char *)data, (unsigned)len};
	char names[LWM2M_CERT_NAMES_MAX][256];
	size_t sz, n;
	int r = IV_ERR_INVALID, match = 0;

	memset(out, 0, sizeof(*out));
	if (strcmp(mode, "rpk") == 0) {
		snprintf(out->mode, sizeof(out->mode), "rpk");
		if (len == 0 || len > 4 * LWM2M_SPKI_MAX || spki_of_key(data, len, out) != 0) {
			*why = "public_key must be a SubjectPublicKeyInfo, PEM or base64 DER";
			return IV_ERR_INVALID;
		}
		gnutls_hash_fast(GNUTLS_DIG_SHA256, out->spki, out->spki_len, out->spki_sha256);
		*why = NULL;
		return 0;
	}
	if (strcmp(mode, "x509") != 0) {
		*why = "mode must be psk, rpk or x509";
		return IV_ERR_INVALID;
	}
	snprintf(out->mode, sizeof(out->mode), "x509");
	*why = "certificate must be one X.509 certificate, PEM or base64 DER";
	if (len == 0 || len > 2 * LWM2M_CERT_DER_MAX || gnutls_x509_crt_init(&crt) < 0)
		return IV_ERR_INVALID;
	if (gnutls_x509_crt_import(crt, &in, is_pem(data, len) ? GNUTLS_X509_FMT_PEM
							       : GNUTLS_X509_FMT_DER) < 0)
		goto out;
	sz = sizeof(out->certificate);
	if (gnutls_x509_crt_export(crt, GNUTLS_X509_FMT_DER, out->certificate, &sz) < 0 ||
	    sz > LWM2M_DEVICE_CERT_DER_MAX) {
		*why = "the certificate is larger than 2048 bytes DER (the most libcoap 4.3.1 "
		       "accepts in a handshake)";
		goto out;
	}
	out->certificate_len = sz;
	n = lwm2m_pki_cert_names(out->certificate, out->certificate_len, names, LWM2M_CERT_NAMES_MAX);
	for (size_t i = 0; i < n; i++)
		match |= strcmp(names[i], endpoint) == 0;
	if (!match) {
		*why = "the certificate's CN or SAN is not the device's endpoint name";
		goto out;
	}
	if (gnutls_pubkey_init(&key) < 0 || gnutls_pubkey_import_x509(key, crt, 0) < 0)
		goto out;
	sz = sizeof(out->spki);
	if (gnutls_pubkey_export(key, GNUTLS_X509_FMT_DER, out->spki, &sz) < 0)
		goto out;
	out->spki_len = sz;
	gnutls_hash_fast(GNUTLS_DIG_SHA256, out->spki, out->spki_len, out->spki_sha256);
	*why = NULL;
	/* success */
	r = 0;
out:
	if (key != NULL)
		gnutls_pubkey_deinit(key);
	gnutls_x509_crt_deinit(crt);
	return r;
}

static const char *status_reason(unsigned status)
{
	if (status & (GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED))
		return "certificate outside its validity period";
	if (status & GNUTLS_CERT_SIGNER_NOT_FOUND)
		return "certificate not issued by the tenant's CA";
	if (status & GNUTLS_CERT_REVOKED)
		return "certificate revoked";
	if (status & GNUTLS_CERT_INSECURE_ALGORITHM)
		return "certificate signed with an insecure algorithm";
	if (status & GNUTLS_CERT_SIGNATURE_FAILURE)
		return "certificate signature invalid";
	return "certificate chain invalid";
}

int lwm2m_pki_verify_chain(const void *chain_v, unsigned n, const char *ca_pem, const char **why)
{
	const gnutls_datum_t *chain = chain_v;
	gnutls_x509_trust_list_t tl = NULL;
	gnutls_x509_crt_t crts[CHAIN_MAX] = {0};
	gnutls_datum_t ca = {(unsigned char *)ca_pem, (unsigned)strlen(ca_pem)};
	unsigned loaded = 0, status = 0;
	int r = IV_ERR_FORBIDDEN;

	*why = "certificate chain invalid";
	if (n == 0 || n > CHAIN_MAX) {
		*why = n == 0 ? "no certificate" : "certificate chain too long";
		return IV_ERR_FORBIDDEN;
	}
	if (gnutls_x509_trust_list_init(&tl, 0) < 0)
		return IV_ERR_NOMEM;
	if (gnutls_x509_trust_list_add_trust_mem(tl, &ca, NULL, GNUTLS_X509_FMT_PEM, 0, 0) != 1) {
		*why = "the tenant's CA certificate cannot be loaded";
		goto out;
	}
	for (; loaded < n; loaded++)
		if (gnutls_x509_crt_init(&crts[loaded]) < 0 ||
		    gnutls_x509_crt_import(crts[loaded], &chain[loaded], GNUTLS_X509_FMT_DER) < 0) {
			if (crts[loaded] != NULL)
				loaded++;
			*why = "certificate cannot be parsed";
			goto out;
		}
	/* a CA certificate is not a device's (the trust anchor alone would
	 * otherwise verify as a chain of one) */
	if (gnutls_x509_crt_get_basic_constraints(crts[0], NULL, NULL, NULL) > 0) {
		*why = "a CA certificate is not a device certificate";
		goto out;
	}
	/* the leaf must be usable by a TLS client (key purpose, if present) */
	{
		gnutls_typed_vdata_st vd = {GNUTLS_DT_KEY_PURPOSE_OID,
					    (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0};
		if (gnutls_x509_trust_list_verify_crt2(tl, crts, n, &vd, 1, 0, &status, NULL) < 0)
			goto out;
	}
	if (status != 0) {
		*why = status_reason(status);
		goto out;
	}
	*why = NULL;
	/* success */
	r = 0;
out:
	for (unsigned i = 0; i < loaded; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_x509_trust_list_deinit(tl, 1);
	return r;
}

/* Runs CHANGE after the audit record EV, in one transaction. */
static int audited(struct vault *v, const struct audit_actor *actor, const struct audit_event *ev,
		   int (*change)(struct store *st, void *arg), void *arg)
{
	struct store *st = vault_store(v);
	int r;
	if ((r = st->ops->begin(st, 1)) != 0)
		return r;
	if ((r = audit_append(v, actor, ev)) != 0 || (r = change(st, arg)) != 0 ||
	    (r = st->ops->commit(st)) != 0) {
		st->ops->rollback(st);
		return r;
	}
	return 0;
}

static int ca_put(struct store *st, void *arg)
{
	return st->ops->lwm2m_pki->ca_put(st, arg);
}

static int ca_delete(struct store *st, void *arg)
{
	return st->ops->lwm2m_pki->ca_delete(st, *(int64_t *)arg);
}

static int security_put(struct store *st, void *arg)
{
	return st->ops->lwm2m_pki->security_put(st, arg);
}

static int security_delete(struct store *st, void *arg)
{
	int r = st->ops->lwm2m_pki->security_delete(st, *(int64_t *)arg);
	return r == IV_ERR_NOT_FOUND ? 0 : r; /* already PSK */
}

int lwm2m_pki_ca_set(struct vault *v, const struct audit_actor *actor,
		     struct lwm2m_tenant_ca_record *ca)
{
	struct audit_event ev;
	char object[64], detail[LWM2M_SUBJECT_MAX + 96];
	int r;
	snprintf(object, sizeof(object), "tenant:%lld", (long long)ca->tenant_id);
	snprintf(detail, sizeof(detail), "LwM2M device CA %s (SHA-256 %.16s...)", ca->subject,
		 ca->sha256);
	ev = (struct audit_event){ca->tenant_id, "lwm2m.ca.set", object, "success", detail};
	if ((r = audited(v, actor, &ev, ca_put, ca)) == 0)
		lwm2m_pki_trust_changed();
	return r;
}

int lwm2m_pki_ca_delete(struct vault *v, const struct audit_actor *actor, int64_t tenant_id)
{
	struct audit_event ev;
	char object[64];
	int r;
	snprintf(object, sizeof(object), "tenant:%lld", (long long)tenant_id);
	ev = (struct audit_event){tenant_id, "lwm2m.ca.delete", object, "success",
				  "LwM2M device CA removed"};
	if ((r = audited(v, actor, &ev, ca_delete, &tenant_id)) == 0)
		lwm2m_pki_trust_changed();
	return r;
}

int lwm2m_pki_security_set(struct vault *v, const struct audit_actor *actor,
			   const struct device_record *dev, struct lwm2m_device_security_record *sec)
{
	struct audit_event ev;
	char object[64], detail[128], h[65];
	int64_t id = dev->id;
	snprintf(object, sizeof(object), "device:%lld", (long long)dev->id);
	if (sec != NULL) {
		sec->device_id = dev->id;
		sec->tenant_id = dev->tenant_id;
		hex_encode_upper(sec->spki_sha256, sizeof(sec->spki_sha256), h);
		snprintf(detail, sizeof(detail), "DM security %s, public key SHA-256 %.16s...",
			 sec->mode, h);
	} else
		snprintf(detail, sizeof(detail), "DM security psk");
	ev = (struct audit_event){dev->tenant_id, "lwm2m.security.set", object, "success", detail};
	return sec != NULL ? audited(v, actor, &ev, security_put, sec)
			   : audited(v, actor, &ev, security_delete, &id);
}
