/* Export of devices with their keys, for moving them to another system: The
 * Things Stack CSV, ChirpStack v4 JSON and an iotvault JSON shape for LwM2M
 * devices (docs/export.md describes each exactly). The document is encrypted
 * to one OpenPGP recipient key with GPGME; plaintext only when the caller
 * asks for it explicitly (the front ends allow that to admins only).
 *
 * Audit (invariant 2): every export writes, in one write transaction, one
 * summary record (action "device.export", object "tenant:<id>", detail with
 * format, counts and the recipient's fingerprint) and one record per device
 * exported (action "device.export", object "device:<id>"), each before that
 * device's keys are opened. The transaction commits, and the document is
 * handed back, only when the whole export (and its encryption) succeeded;
 * on any failure nothing is recorded and nothing is returned. */
#ifndef IOTVAULT_EXPORT_H
#define IOTVAULT_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/errors.h"
#include "iotvault/secmem.h"
#include "iotvault/store.h"
#include "iotvault/vault.h"

/* Largest recipient key file accepted, and largest document produced. */
#define EXPORT_RECIPIENT_KEY_MAX (256 * 1024)
#define EXPORT_DOCUMENT_MAX ((size_t)512 * 1024 * 1024)
/* An OpenPGP v4 fingerprint in hex (v5 is 64). */
#define EXPORT_FPR_MAX 64

enum export_format {
	EXPORT_TTS_CSV = 1,        /* "tts-csv": LoRaWAN devices */
	EXPORT_CHIRPSTACK_JSON,    /* "chirpstack-json": LoRaWAN devices */
	EXPORT_LWM2M_JSON,         /* "lwm2m-json": LwM2M devices */
};

struct export_request {
	int64_t tenant_id;
	enum export_format format;
	/* filters (NULL: any) */
	const char *kind;        /* "lorawan" | "lwm2m"; must agree with the format */
	const char *tag;
	const char *mac_version; /* "1.0" (any 1.0.x), "1.1" or an exact version */
	/* An OpenPGP public key (ASCII-armoured or binary), exactly one, not
	 * secret, not expired or revoked, able to encrypt. NULL with PLAINTEXT. */
	const uint8_t *recipient_key;
	size_t recipient_key_len;
	int plaintext; /* 1: no encryption; the caller has checked the right to it */
};

struct export_result {
	/* The armoured OpenPGP message, or the plaintext document: secure memory
	 * either way, freed and wiped by export_result_clear. */
	struct secbuf *document;
	size_t document_len;
	int encrypted;
	char recipient_fpr[EXPORT_FPR_MAX + 1];
	int64_t devices, lorawan, lwm2m;
	const char *media_type; /* of the plaintext: "text/csv", "application/json" */
};

/* "tts-csv" -> EXPORT_TTS_CSV ...; 0 when unknown. */
enum export_format export_format_from_name(const char *name);
const char *export_format_name(enum export_format f);

/* Runs one export. On failure ERR holds a message naming the problem (never
 * key material) and RES is empty. Errors: IV_ERR_INVALID (bad request,
 * unusable recipient key), IV_ERR_NOT_FOUND (no device matches),
 * IV_ERR_REFUSED (the devices cannot share one document of this format),
 * IV_ERR_CONFIG (gpg unavailable), IV_ERR_CRYPTO, IV_ERR_AUDIT, store errors. */
int export_devices(struct vault *v, const struct audit_actor *actor,
		   const struct export_request *req, struct export_result *res, char *err,
		   size_t err_len) IV_WUR;
void export_result_clear(struct export_result *res);

/* The vault's part (src/vault/export_ops.c): inside the caller's write
 * transaction, writes the "device.export" record of DEV (DETAIL: no key
 * material) and only then opens each of its keys (device_key_fields order)
 * into secure memory for CB, wiping them when CB returns. */
typedef int (*vault_export_cb)(void *ctx, const struct device_record *dev,
			       const char *const *fields, struct secbuf *const *keys);
int vault_export_device_keys(struct vault *v, const struct audit_actor *actor,
			     const struct device_record *dev, const char *detail,
			     vault_export_cb cb, void *ctx) IV_WUR;

/* `iotvault device export ...` (src/cmd/cmd_export.c), called by cmd_device
 * with ARGV[0] = "export". */
int cmd_device_export(int argc, char **argv);

#endif
