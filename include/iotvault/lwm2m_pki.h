/* Certificate-mode material of the LwM2M server, checked where it enters
 * (REST, CLI) and where it is used (the DTLS handshake): a tenant's CA for
 * device certificates, a device's raw public key (SubjectPublicKeyInfo) or
 * certificate. Parsing and chain verification are GnuTLS's; these functions
 * only say what iotvault accepts. See docs/lwm2m.md, "DTLS". */
#ifndef IOTVAULT_LWM2M_PKI_H
#define IOTVAULT_LWM2M_PKI_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/errors.h"
#include "iotvault/store_lwm2m_pki.h"
#include "iotvault/vault.h"

/* A device certificate names its endpoint in the subject CN or a SAN of
 * type DNS or URI; at most this many names are considered. */
#define LWM2M_CERT_NAMES_MAX 8

/* Largest device certificate (DER) accepted: libcoap 4.3.1's GnuTLS
 * verify path copies the peer's leaf into a 2048-byte buffer and fails the
 * handshake for a larger one, so such a device could never log in. */
#define LWM2M_DEVICE_CERT_DER_MAX 2048

/* PEM holds exactly one X.509 CA certificate (basicConstraints CA, within
 * its validity period) and no private key: fills OUT (the certificate
 * re-exported as PEM, so that nothing else sent along is kept; subject,
 * SHA-256, expiry). IV_ERR_INVALID with *WHY (static text) otherwise. */
int lwm2m_pki_parse_ca(const char *pem, size_t len, int64_t tenant_id,
		       struct lwm2m_tenant_ca_record *out, const char **why) IV_WUR;

/* DATA is a public key, PEM ("PUBLIC KEY") or DER SubjectPublicKeyInfo, or
 * (for MODE "x509") a PEM or DER certificate whose CN or SAN is ENDPOINT.
 * Fills OUT's mode, spki, spki_sha256 and certificate. IV_ERR_INVALID with
 * *WHY otherwise. */
int lwm2m_pki_parse_device(const char *mode, const uint8_t *data, size_t len,
			   const char *endpoint, struct lwm2m_device_security_record *out,
			   const char **why) IV_WUR;

/* The names a certificate (DER) offers for its endpoint: subject CN first,
 * then SAN DNS and URI entries. Returns how many (0..MAX) were put in NAMES. */
size_t lwm2m_pki_cert_names(const uint8_t *der, size_t len, char names[][256], size_t max);

/* Verifies the chain CHAIN[0..N) (DER, leaf first) against CA_PEM alone, at
 * the current time. 0 when trusted; IV_ERR_FORBIDDEN with *WHY (static
 * text: expired, unknown CA, ...) when not. */
int lwm2m_pki_verify_chain(const void *chain, unsigned n, const char *ca_pem,
			   const char **why) IV_WUR;

/* The expiry (notAfter, ms since the epoch) of a DER certificate; 0 when
 * it cannot be parsed. */
int64_t lwm2m_pki_cert_not_after_ms(const uint8_t *der, size_t len);

/* The hex SHA-256 of DER into OUT[65]. */
void lwm2m_pki_sha256_hex(const uint8_t *der, size_t len, char out[static 65]);

/* Changes, each with its audit record ("lwm2m.ca.set", "lwm2m.ca.delete",
 * "lwm2m.security.set") written first, in one transaction; REST and CLI
 * share them. A running server picks a CA change up by itself. */
int lwm2m_pki_ca_set(struct vault *v, const struct audit_actor *actor,
		     struct lwm2m_tenant_ca_record *ca) IV_WUR;
/* IV_ERR_NOT_FOUND when the tenant has no CA. */
int lwm2m_pki_ca_delete(struct vault *v, const struct audit_actor *actor,
			int64_t tenant_id) IV_WUR;
/* SEC NULL: back to PSK. IV_ERR_EXISTS: another device has the key. */
int lwm2m_pki_security_set(struct vault *v, const struct audit_actor *actor,
			   const struct device_record *dev,
			   struct lwm2m_device_security_record *sec) IV_WUR;

#endif
