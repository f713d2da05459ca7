/* Devices: validation of identities and keys, and their creation, lookup and
 * deletion with their sealed keys and audit records in one transaction. */
#ifndef IOTVAULT_DEVICE_H
#define IOTVAULT_DEVICE_H

#include "iotvault/errors.h"
#include "iotvault/keycheck.h"
#include "iotvault/secmem.h"
#include "iotvault/store.h"
#include "iotvault/vault.h"

#define DEVICE_PSK_MIN 16
#define DEVICE_PSK_MAX 64
#define DEVICE_PSK_DEFAULT 16
#define DEVICE_PSK_IDENTITY_MAX 128
#define DEVICE_ENDPOINT_MAX 128

struct device_input {
	const char *kind; /* "lorawan" | "lwm2m" */
	const char *name;
	const char *tags;
	/* LoRaWAN */
	const char *dev_eui;
	const char *join_eui;
	const char *mac_version;
	struct secbuf *app_key; /* 16 bytes */
	struct secbuf *nwk_key; /* 16 bytes, LoRaWAN 1.1 only */
	/* LwM2M */
	const char *endpoint;
	const char *psk_identity;
	struct secbuf *psk;
	/* what to do with a weak or duplicated key (zero: reject) */
	enum key_policy key_policy;
};

/* What key hygiene found on the keys of a device being created: every rule
 * per key field (fixed text, no key material), and whether keys were
 * replaced (policy regenerate: the device needs its new key provisioned). */
#define DEVICE_FINDINGS_MAX (3 * KEYCHECK_RULES_MAX)
struct device_key_report {
	size_t n;
	struct {
		const char *field; /* "app_key", "nwk_key", "psk" */
		const char *rule;  /* static rule id */
		char message[HYGIENE_MESSAGE_MAX];
	} items[DEVICE_FINDINGS_MAX];
	int regenerated;        /* key fields replaced */
	int needs_provisioning;
};

/* The secret fields a device of KIND/MAC version has, NULL-terminated. */
const char *const *device_key_fields(const struct device_record *dev);

/* Validates IN and fills OUT without touching the store. On failure ERR is
 * "<field>: <reason>" naming one field by its JSON name (dev_eui, app_key...),
 * never its value. */
int device_validate(const struct device_input *in, int64_t tenant_id, struct device_record *out,
		    char *err, size_t err_len) IV_WUR;
/* Inserts the device, seals its keys and writes "device.create", atomically. */
int device_create(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
		  const struct device_input *in, struct device_record *out, char *err,
		  size_t err_len) IV_WUR;
/* As device_create, and fills REPORT (may be NULL) with the key findings:
 * for IN->key_policy reject the reasons of IV_ERR_WEAK_KEY, for flag and
 * regenerate what was recorded on the device. */
int device_create_checked(struct vault *v, const struct audit_actor *actor, int64_t tenant_id,
			  const struct device_input *in, struct device_record *out,
			  struct device_key_report *report, char *err, size_t err_len) IV_WUR;
/* Deletes the device and its sealed keys and writes "device.delete". */
int device_delete(struct vault *v, const struct audit_actor *actor,
		  const struct device_record *dev) IV_WUR;
/* Parses a device selector: EUI text is canonicalised into EUI_BUF. */
int device_selector_parse(const char *id, const char *dev_eui, const char *endpoint,
			  struct device_selector *sel, char eui_buf[static 17]) IV_WUR;

int mac_version_valid(const char *v);

#endif
