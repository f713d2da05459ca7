/* Self-signed certificate for a fresh data directory, made with GnuTLS. */
#include "iotvault/tls.h"
#include "core/fsutil.h"
#include "iotvault/crypto.h"
#include "iotvault/log.h"
#include "iotvault/secmem.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define CERT_DAYS 825

int tls_create_self_signed(const char *cert_path, const char *key_path,
			   char fingerprint[static 96])
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t key_pem = {NULL, 0}, crt_pem = {NULL, 0};
	uint8_t serial[16], fp[32], ip4[4], ip6[16];
	size_t fp_len = sizeof(fp);
	time_t now = time(NULL);
	int r, g;

	if ((g = gnutls_x509_privkey_init(&key)) < 0 || (g = gnutls_x509_crt_init(&crt)) < 0)
		goto gnutls_fail;
	if ((g = gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
					      GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0)) < 0)
		goto gnutls_fail;
	random_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f; /* positive */
	inet_pton(AF_INET, "127.0.0.1", ip4);
	inet_pton(AF_INET6, "::1", ip6);
	if ((g = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (g = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
	    (g = gnutls_x509_crt_set_activation_time(crt, now - 300)) < 0 ||
	    (g = gnutls_x509_crt_set_expiration_time(crt, now + (time_t)CERT_DAYS * 86400)) < 0 ||
	    (g = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "localhost",
					       9)) < 0 ||
	    (g = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0,
					       "iotvault (self-signed)", 22)) < 0 ||
	    (g = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9,
						      GNUTLS_FSAN_APPEND)) < 0 ||
	    (g = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip4, 4,
						      GNUTLS_FSAN_APPEND)) < 0 ||
	    (g = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip6, 16,
						      GNUTLS_FSAN_APPEND)) < 0 ||
	    (g = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
	    (g = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (g = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
	    (g = gnutls_x509_crt_set_key(crt, key)) < 0 ||
	    (g = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0)) < 0 ||
	    (g = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &key_pem)) < 0 ||
	    (g = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &crt_pem)) < 0 ||
	    (g = gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp, &fp_len)) < 0)
		goto gnutls_fail;
	if ((r = fs_write_private(key_path, key_pem.data, key_pem.size, 1)) != 0 ||
	    (r = fs_write_private(cert_path, crt_pem.data, crt_pem.size, 1)) != 0)
		goto out;
	for (size_t i = 0; i < fp_len && i < 32; i++)
		snprintf(fingerprint + 3 * i, 4, i + 1 < fp_len ? "%02X:" : "%02X", fp[i]);
	/* success */
	r = 0;
	goto out;
gnutls_fail:
	log_error("tls: cannot create certificate: %s", gnutls_strerror(g));
	r = IV_ERR_CRYPTO;
out:
	if (key_pem.data) {
		secmem_wipe(key_pem.data, key_pem.size);
		gnutls_free(key_pem.data);
	}
	gnutls_free(crt_pem.data);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
	return r;
}
