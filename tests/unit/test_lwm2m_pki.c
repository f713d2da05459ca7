/* What iotvault accepts as LwM2M certificate-mode material (src/lwm2m/pki.c):
 * tenant CAs, device raw public keys and certificates, names of a
 * certificate, and chain verification against one tenant's CA. Fixtures in
 * test_lwm2m_pki_fixtures.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iotvault/lwm2m_pki.h"
#include "test_lwm2m_pki_fixtures.h"

static struct lwm2m_tenant_ca_record ca;
static struct lwm2m_device_security_record sec;

static void test_ca(void **state)
{
	const char *why = NULL;
	(void)state;
	assert_int_equal(lwm2m_pki_parse_ca(CA_PEM, strlen(CA_PEM), 3, &ca, &why), 0);
	assert_null(why);
	assert_int_equal(ca.tenant_id, 3);
	assert_string_equal(ca.subject, "CN=Unit CA");
	assert_int_equal(strlen(ca.sha256), 64);
	assert_string_equal(ca.certificate_pem, CA_PEM);
	/* a leaf is not a CA */
	assert_int_equal(lwm2m_pki_parse_ca(LEAF_PEM, strlen(LEAF_PEM), 3, &ca, &why), IV_ERR_INVALID);
	assert_non_null(strstr(why, "not a CA"));
	/* two certificates, garbage, nothing, too much */
	{
		char two[4096];
		snprintf(two, sizeof(two), "%s%s", CA_PEM, OTHER_CA_PEM);
		assert_int_equal(lwm2m_pki_parse_ca(two, strlen(two), 3, &ca, &why), IV_ERR_INVALID);
		assert_non_null(strstr(why, "exactly one"));
	}
	assert_int_equal(lwm2m_pki_parse_ca("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
					    60, 3, &ca, &why), IV_ERR_INVALID);
	assert_int_equal(lwm2m_pki_parse_ca("", 0, 3, &ca, &why), IV_ERR_INVALID);
	{
		char *big = calloc(1, LWM2M_CA_PEM_MAX + 2);
		memset(big, 'A', LWM2M_CA_PEM_MAX + 1);
		assert_int_equal(lwm2m_pki_parse_ca(big, LWM2M_CA_PEM_MAX + 1, 3, &ca, &why),
				 IV_ERR_INVALID);
		free(big);
	}
}

/* Regression: a CA upload that carried a private key was stored (and
 * shown) as sent. A key block is refused; anything else sent along with
 * the certificate is dropped. */
static void test_ca_private_key_refused(void **state)
{
	static const char key[] = "-----BEGIN PRIVATE KEY-----\n"
				  "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n"
				  "-----END PRIVATE KEY-----\n";
	static const char *kinds[] = {"PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY",
				      "ENCRYPTED PRIVATE KEY"};
	char buf[4096];
	const char *why = NULL;
	(void)state;
	snprintf(buf, sizeof(buf), "%s%s", CA_PEM, key);
	memset(&ca, 0x55, sizeof(ca));
	assert_int_equal(lwm2m_pki_parse_ca(buf, strlen(buf), 3, &ca, &why), IV_ERR_INVALID);
	assert_non_null(strstr(why, "private key"));
	assert_null(strstr(ca.certificate_pem, "PRIVATE"));
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		snprintf(buf, sizeof(buf), "-----BEGIN %s-----\nAAAA\n-----END %s-----\n%s", kinds[i],
			 kinds[i], CA_PEM);
		assert_int_equal(lwm2m_pki_parse_ca(buf, strlen(buf), 3, &ca, &why), IV_ERR_INVALID);
		assert_non_null(strstr(why, "private key"));
	}
	/* text around the certificate (openssl x509 -text style) is not kept */
	snprintf(buf, sizeof(buf), "Subject: CN=Unit CA\nsome notes\n%strailing text\n", CA_PEM);
	assert_int_equal(lwm2m_pki_parse_ca(buf, strlen(buf), 3, &ca, &why), 0);
	assert_string_equal(ca.certificate_pem, CA_PEM);
}

/* A self-signed certificate for urn:dev:unit with N long DNS SANs, DER in OUT. */
static void big_cert(unsigned n, gnutls_datum_t *out)
{
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
	char name[80];
	unsigned char serial[] = {1};
	assert_int_equal(gnutls_x509_privkey_init(&key), 0);
	assert_int_equal(gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
						     GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0), 0);
	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	assert_int_equal(gnutls_x509_crt_set_version(crt, 3), 0);
	assert_int_equal(gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)), 0);
	assert_int_equal(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
						       "urn:dev:unit", 12), 0);
	for (unsigned i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "name-%03u.a-rather-long-host-name-for-padding.example", i);
		assert_int_equal(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, name,
								      strlen(name), GNUTLS_FSAN_APPEND), 0);
	}
	assert_int_equal(gnutls_x509_crt_set_activation_time(crt, time(NULL) - 60), 0);
	assert_int_equal(gnutls_x509_crt_set_expiration_time(crt, time(NULL) + 3600), 0);
	assert_int_equal(gnutls_x509_crt_set_key(crt, key), 0);
	assert_int_equal(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0), 0);
	assert_int_equal(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, out), 0);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
}

/* Regression: device certificates up to 4096 bytes were accepted, but
 * libcoap 4.3.1 refuses a peer certificate over 2048 bytes of DER in every
 * handshake. */
static void test_device_certificate_size(void **state)
{
	gnutls_datum_t small = {NULL, 0}, big = {NULL, 0};
	const char *why = NULL;
	(void)state;
	big_cert(10, &small);
	big_cert(40, &big);
	assert_true(small.size <= LWM2M_DEVICE_CERT_DER_MAX);
	assert_true(big.size > LWM2M_DEVICE_CERT_DER_MAX && big.size <= LWM2M_CERT_DER_MAX);
	assert_int_equal(lwm2m_pki_parse_device("x509", small.data, small.size, "urn:dev:unit", &sec,
						&why), 0);
	assert_int_equal(lwm2m_pki_parse_device("x509", big.data, big.size, "urn:dev:unit", &sec,
						&why), IV_ERR_INVALID);
	assert_non_null(strstr(why, "2048 bytes"));
	gnutls_free(small.data);
	gnutls_free(big.data);
}

static void test_rpk(void **state)
{
	struct lwm2m_device_security_record der;
	const char *why = NULL;
	(void)state;
	assert_int_equal(lwm2m_pki_parse_device("rpk", (const uint8_t *)LEAF_PUB_PEM,
						strlen(LEAF_PUB_PEM), "urn:dev:unit", &sec, &why), 0);
	assert_string_equal(sec.mode, "rpk");
	assert_int_equal(sec.spki_len, sizeof(LEAF_PUB_DER));
	assert_memory_equal(sec.spki, LEAF_PUB_DER, sizeof(LEAF_PUB_DER));
	assert_int_equal(sec.certificate_len, 0);
	/* DER gives the same key and hash */
	assert_int_equal(lwm2m_pki_parse_device("rpk", LEAF_PUB_DER, sizeof(LEAF_PUB_DER),
						"urn:dev:unit", &der, &why), 0);
	assert_memory_equal(der.spki_sha256, sec.spki_sha256, 32);
	/* not a key; a truncated key; an unknown mode */
	assert_int_equal(lwm2m_pki_parse_device("rpk", (const uint8_t *)"hello", 5, "urn:dev:unit",
						&der, &why), IV_ERR_INVALID);
	assert_int_equal(lwm2m_pki_parse_device("rpk", LEAF_PUB_DER, sizeof(LEAF_PUB_DER) - 1,
						"urn:dev:unit", &der, &why), IV_ERR_INVALID);
	assert_int_equal(lwm2m_pki_parse_device("ecc", LEAF_PUB_DER, sizeof(LEAF_PUB_DER),
						"urn:dev:unit", &der, &why), IV_ERR_INVALID);
}

static void test_device_certificate(void **state)
{
	struct lwm2m_device_security_record rpk;
	const char *why = NULL;
	(void)state;
	assert_int_equal(lwm2m_pki_parse_device("x509", (const uint8_t *)LEAF_PEM, strlen(LEAF_PEM),
						"urn:dev:unit", &sec, &why), 0);
	assert_string_equal(sec.mode, "x509");
	assert_true(sec.certificate_len > 0);
	/* the certificate's key is the same SPKI as the raw key */
	assert_int_equal(lwm2m_pki_parse_device("rpk", LEAF_PUB_DER, sizeof(LEAF_PUB_DER),
						"urn:dev:unit", &rpk, &why), 0);
	assert_memory_equal(sec.spki_sha256, rpk.spki_sha256, 32);
	/* another endpoint; the name in a SAN URI */
	assert_int_equal(lwm2m_pki_parse_device("x509", (const uint8_t *)LEAF_PEM, strlen(LEAF_PEM),
						"urn:dev:other", &sec, &why), IV_ERR_INVALID);
	assert_non_null(strstr(why, "endpoint"));
	assert_int_equal(lwm2m_pki_parse_device("x509", (const uint8_t *)SAN_PEM, strlen(SAN_PEM),
						"urn:dev:san", &sec, &why), 0);
	assert_int_equal(lwm2m_pki_parse_device("x509", (const uint8_t *)"x", 1, "urn:dev:unit",
						&sec, &why), IV_ERR_INVALID);
}

/* The DER of a PEM certificate, in a datum the caller frees with gnutls_free. */
static gnutls_datum_t der_of(const char *pem)
{
	gnutls_datum_t in = {(unsigned char *)pem, (unsigned)strlen(pem)}, out = {NULL, 0};
	assert_int_equal(gnutls_pem_base64_decode2("CERTIFICATE", &in, &out), 0);
	return out;
}

static void test_not_after(void **state)
{
	gnutls_datum_t leaf = der_of(LEAF_PEM), expired = der_of(EXPIRED_PEM);
	(void)state;
	assert_true(lwm2m_pki_cert_not_after_ms(leaf.data, leaf.size) > (int64_t)time(NULL) * 1000);
	assert_true(lwm2m_pki_cert_not_after_ms(expired.data, expired.size) > 0);
	assert_true(lwm2m_pki_cert_not_after_ms(expired.data, expired.size) <
		    (int64_t)time(NULL) * 1000);
	assert_int_equal(lwm2m_pki_cert_not_after_ms(leaf.data, leaf.size - 10), 0);
	gnutls_free(leaf.data);
	gnutls_free(expired.data);
}

static void test_names(void **state)
{
	char names[LWM2M_CERT_NAMES_MAX][256];
	gnutls_datum_t d = der_of(SAN_PEM);
	(void)state;
	assert_int_equal(lwm2m_pki_cert_names(d.data, d.size, names, LWM2M_CERT_NAMES_MAX), 2);
	assert_string_equal(names[0], "device 17");
	assert_string_equal(names[1], "urn:dev:san");
	assert_int_equal(lwm2m_pki_cert_names(d.data, d.size - 10, names, LWM2M_CERT_NAMES_MAX), 0);
	gnutls_free(d.data);
}

static void test_verify(void **state)
{
	const char *why = NULL;
	gnutls_datum_t leaf = der_of(LEAF_PEM), expired = der_of(EXPIRED_PEM),
		       foreign = der_of(FOREIGN_PEM), chain[2];
	(void)state;
	assert_int_equal(lwm2m_pki_verify_chain(&leaf, 1, CA_PEM, &why), 0);
	assert_null(why);
	/* leaf plus its CA as sent by a client: still fine */
	chain[0] = leaf;
	chain[1] = der_of(CA_PEM);
	assert_int_equal(lwm2m_pki_verify_chain(chain, 2, CA_PEM, &why), 0);
	gnutls_free(chain[1].data);
	assert_int_equal(lwm2m_pki_verify_chain(&leaf, 1, OTHER_CA_PEM, &why), IV_ERR_FORBIDDEN);
	assert_non_null(strstr(why, "not issued"));
	assert_int_equal(lwm2m_pki_verify_chain(&foreign, 1, CA_PEM, &why), IV_ERR_FORBIDDEN);
	assert_int_equal(lwm2m_pki_verify_chain(&expired, 1, CA_PEM, &why), IV_ERR_FORBIDDEN);
	assert_non_null(strstr(why, "validity"));
	/* the CA itself is not a client certificate of its tenant */
	chain[0] = der_of(CA_PEM);
	assert_int_not_equal(lwm2m_pki_verify_chain(chain, 1, CA_PEM, &why), 0);
	gnutls_free(chain[0].data);
	assert_int_equal(lwm2m_pki_verify_chain(&leaf, 0, CA_PEM, &why), IV_ERR_FORBIDDEN);
	gnutls_free(leaf.data);
	gnutls_free(expired.data);
	gnutls_free(foreign.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca),
		cmocka_unit_test(test_ca_private_key_refused),
		cmocka_unit_test(test_device_certificate_size),
		cmocka_unit_test(test_not_after),
		cmocka_unit_test(test_rpk),
		cmocka_unit_test(test_device_certificate),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_verify),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
