/* Storage of the LwM2M server's certificate-mode material (migration 0013):
 * a tenant's CA for device certificates and a device's DM security mode
 * with its raw public key or certificate. Public data, stored in clear;
 * reached as st->ops->lwm2m_pki->... */
#ifndef IOTVAULT_STORE_LWM2M_PKI_H
#define IOTVAULT_STORE_LWM2M_PKI_H

#include "iotvault/store.h"

/* Largest CA certificate (PEM) and device certificate (DER) accepted. */
#define LWM2M_CA_PEM_MAX 8192
#define LWM2M_CERT_DER_MAX 4096
/* Largest SubjectPublicKeyInfo (DER): an RSA-4096 key is 550 bytes. */
#define LWM2M_SPKI_MAX 1024
#define LWM2M_SUBJECT_MAX 255

struct lwm2m_tenant_ca_record {
	int64_t tenant_id;
	char certificate_pem[LWM2M_CA_PEM_MAX + 1];
	char subject[LWM2M_SUBJECT_MAX + 1];
	char sha256[65];
	int64_t not_after;
	int64_t updated_at;
};

struct lwm2m_device_security_record {
	int64_t device_id;
	int64_t tenant_id;
	char mode[STORE_KIND_MAX + 1]; /* "rpk" or "x509" */
	uint8_t spki[LWM2M_SPKI_MAX];
	size_t spki_len;
	uint8_t spki_sha256[32];
	uint8_t certificate[LWM2M_CERT_DER_MAX]; /* x509 only */
	size_t certificate_len;
	int64_t updated_at;
};

typedef int (*store_lwm2m_ca_cb)(void *ctx, const struct lwm2m_tenant_ca_record *ca);

struct store_lwm2m_pki_ops {
	/* Inserts or replaces; sets CA->updated_at. */
	int (*ca_put)(struct store *st, struct lwm2m_tenant_ca_record *ca);
	int (*ca_get)(struct store *st, int64_t tenant_id, struct lwm2m_tenant_ca_record *out);
	int (*ca_delete)(struct store *st, int64_t tenant_id);
	/* Every tenant's CA, in tenant order. */
	int (*ca_list)(struct store *st, store_lwm2m_ca_cb cb, void *ctx);

	/* Inserts or replaces; sets S->updated_at. IV_ERR_EXISTS when another
	 * device has the same public key. */
	int (*security_put)(struct store *st, struct lwm2m_device_security_record *s);
	/* IV_ERR_NOT_FOUND: the device uses PSK. */
	int (*security_get)(struct store *st, int64_t device_id,
			    struct lwm2m_device_security_record *out);
	int (*security_get_by_spki_sha256)(struct store *st, const uint8_t sha256[static 32],
					   struct lwm2m_device_security_record *out);
	int (*security_delete)(struct store *st, int64_t device_id);
};

#endif
