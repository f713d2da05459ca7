/* libFuzzer target for what the LwM2M certificate modes accept from outside
 * (src/lwm2m/pki.c): a tenant CA upload, a device's raw public key or
 * certificate (PEM or DER), and the names a peer's certificate offers. What
 * is accepted must be consistent: a stored CA is its certificate alone and
 * parses back to itself, a key's SHA-256 is its SPKI's, a certificate names
 * its endpoint. */
#include "iotvault/lwm2m_pki.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lwm2m_tenant_ca_record ca, again;
	static struct lwm2m_device_security_record sec;
	static char text[LWM2M_CA_PEM_MAX + 1];
	char names[LWM2M_CERT_NAMES_MAX][256];
	const char *why = NULL;
	uint8_t h[32];
	size_t n;

	if (size <= LWM2M_CA_PEM_MAX) {
		memcpy(text, data, size);
		text[size] = '\0';
		/* what is stored is the certificate alone, re-encoded: it parses
		 * back to itself, and nothing that carried a private key is taken */
		if (lwm2m_pki_parse_ca(text, strlen(text), 1, &ca, &why) == 0 &&
		    (strlen(ca.sha256) != 64 || strstr(text, "PRIVATE KEY") != NULL ||
		     lwm2m_pki_parse_ca(ca.certificate_pem, strlen(ca.certificate_pem), 1, &again,
					&why) != 0 ||
		     strcmp(again.sha256, ca.sha256) != 0 ||
		     strcmp(again.certificate_pem, ca.certificate_pem) != 0))
			abort();
	}
	if (lwm2m_pki_parse_device("rpk", data, size, "urn:dev:fuzz", &sec, &why) == 0) {
		if (sec.spki_len == 0 || sec.spki_len > sizeof(sec.spki) ||
		    gnutls_hash_fast(GNUTLS_DIG_SHA256, sec.spki, sec.spki_len, h) != 0 ||
		    memcmp(h, sec.spki_sha256, sizeof(h)) != 0) /* lint:not-secret */
			abort();
	} else if (why == NULL)
		abort();
	if (lwm2m_pki_parse_device("x509", data, size, "urn:dev:fuzz", &sec, &why) == 0) {
		int named = 0;
		n = lwm2m_pki_cert_names(sec.certificate, sec.certificate_len, names,
					 LWM2M_CERT_NAMES_MAX);
		for (size_t i = 0; i < n; i++)
			named |= strcmp(names[i], "urn:dev:fuzz") == 0;
		if (!named)
			abort();
	}
	n = lwm2m_pki_cert_names(data, size, names, LWM2M_CERT_NAMES_MAX);
	for (size_t i = 0; i < n; i++)
		if (strlen(names[i]) > 255)
			abort();
	return 0;
}
