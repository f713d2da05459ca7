/* The pkcs11 master-key provider: each master key version is a sensitive,
 * non-extractable AES-256 secret key object on a PKCS#11 token (loaded through
 * p11-kit), so the master key itself never enters this process; data keys are
 * wrapped and unwrapped by the token with CKM_AES_GCM. */
#include "iotvault/crypto.h"
#include "iotvault/log.h"
#include "iotvault/mkprov.h"
#include "iotvault/secmem.h"
#include "iotvault/store.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>

#define PKCS11_TOKEN_LABEL_LEN 32 /* CK_TOKEN_INFO.label, space padded */
#define PKCS11_GCM_IV_LEN AEAD_NONCE_LEN
#define PKCS11_GCM_TAG_LEN AEAD_TAG_LEN
#define PKCS11_GCM_OUT_LEN (DEK_LEN + PKCS11_GCM_TAG_LEN)
/* Bounds the clean-up of duplicate objects so a misbehaving token cannot keep
 * create_version or destroy_version looping forever. */
#define PKCS11_MAX_DUPLICATES 64

struct version_handle {
	uint32_t version;
	CK_OBJECT_HANDLE handle;
};

struct pkcs11_provider {
	struct mk_provider base; /* first, so the vault's pointer converts back */
	/* One session serves every thread: PKCS#11 allows only one active
	 * cryptographic operation per session, so all use is serialised. */
	pthread_mutex_t lock;
	CK_FUNCTION_LIST *module;
	int module_initialized;
	CK_SESSION_HANDLE session;
	int session_open;
	/* Login state belongs to the whole process; log out at free only when
	 * this provider is the one that logged in. */
	int logged_in_by_us;
	char *key_label;
	char *token_label;
	struct version_handle *handles;
	size_t n_handles;
	size_t cap_handles;
	/* plaintext||tag scratch for C_Decrypt, in guarded memory */
	uint8_t *scratch;
};

static struct pkcs11_provider *from_base(struct mk_provider *p)
{
	return (struct pkcs11_provider *)p;
}

static void log_ckr(const char *what, CK_RV rv)
{
	log_error("pkcs11: %s failed: CKR 0x%lx (%s)", what, (unsigned long)rv,
		  p11_kit_strerror(rv));
}

static int key_object_label(const struct pkcs11_provider *pp, uint32_t version, char *out,
			    size_t out_len)
{
	int n = snprintf(out, out_len, "%s-v%" PRIu32, pp->key_label, version);
	if (n < 0 || (size_t)n >= out_len)
		return IV_ERR_CONFIG;
	return 0;
}

static struct version_handle *cached_handle(struct pkcs11_provider *pp, uint32_t version)
{
	for (size_t i = 0; i < pp->n_handles; i++)
		if (pp->handles[i].version == version)
			return &pp->handles[i];
	return NULL;
}

static void forget_handle(struct pkcs11_provider *pp, uint32_t version)
{
	for (size_t i = 0; i < pp->n_handles; i++) {
		if (pp->handles[i].version == version) {
			pp->handles[i] = pp->handles[pp->n_handles - 1];
			pp->n_handles--;
			return;
		}
	}
}

static int remember_handle(struct pkcs11_provider *pp, uint32_t version, CK_OBJECT_HANDLE handle)
{
	struct version_handle *vh = cached_handle(pp, version);
	if (vh != NULL) {
		vh->handle = handle;
		return 0;
	}
	if (pp->n_handles == pp->cap_handles) {
		size_t cap = pp->cap_handles ? pp->cap_handles * 2 : 4;
		struct version_handle *grown = realloc(pp->handles, cap * sizeof(*grown));
		if (grown == NULL)
			return IV_ERR_NOMEM;
		pp->handles = grown;
		pp->cap_handles = cap;
	}
	pp->handles[pp->n_handles].version = version;
	pp->handles[pp->n_handles].handle = handle;
	pp->n_handles++;
	return 0;
}

/* Token objects that are secret keys with exactly LABEL; at most MAX handles
 * are returned in *COUNT. */
static int find_key_objects(struct pkcs11_provider *pp, const char *label, CK_OBJECT_HANDLE *found,
			    CK_ULONG max, CK_ULONG *count)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_TOKEN, &yes, sizeof(yes)},
		{CKA_LABEL, (void *)label, strlen(label)},
	};
	CK_RV rv;
	int r = IV_ERR_HSM;

	*count = 0;
	rv = pp->module->C_FindObjectsInit(pp->session, tmpl, sizeof(tmpl) / sizeof(tmpl[0]));
	if (rv != CKR_OK) {
		log_ckr("C_FindObjectsInit", rv);
		return IV_ERR_HSM;
	}
	rv = pp->module->C_FindObjects(pp->session, found, max, count);
	if (rv != CKR_OK) {
		log_ckr("C_FindObjects", rv);
		*count = 0;
		goto out;
	}
	/* success */
	r = 0;
out:
	rv = pp->module->C_FindObjectsFinal(pp->session);
	if (rv != CKR_OK) {
		log_ckr("C_FindObjectsFinal", rv);
		r = IV_ERR_HSM;
	}
	return r;
}

/* Destroys every object labelled LABEL; *DESTROYED counts them. */
static int destroy_objects_labelled(struct pkcs11_provider *pp, const char *label,
				    unsigned *destroyed)
{
	CK_OBJECT_HANDLE found[8];
	CK_ULONG count = 0;
	int r;

	*destroyed = 0;
	for (;;) {
		if ((r = find_key_objects(pp, label, found, sizeof(found) / sizeof(found[0]),
					  &count)) != 0)
			return r;
		if (count == 0)
			return 0;
		for (CK_ULONG i = 0; i < count; i++) {
			CK_RV rv = pp->module->C_DestroyObject(pp->session, found[i]);
			if (rv != CKR_OK) {
				log_ckr("C_DestroyObject", rv);
				return IV_ERR_HSM;
			}
			(*destroyed)++;
		}
		if (*destroyed > PKCS11_MAX_DUPLICATES) {
			log_error("pkcs11: objects labelled %s keep reappearing after "
				  "C_DestroyObject", label);
			return IV_ERR_HSM;
		}
	}
}

static int pkcs11_create_version(struct mk_provider *p, uint32_t version, uint8_t *params,
				 size_t *params_len)
{
	struct pkcs11_provider *pp = from_base(p);
	char label[MK_PARAMS_MAX];
	CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_AES;
	CK_ULONG value_len = DEK_LEN;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
	unsigned leftovers = 0;
	size_t label_len;
	CK_RV rv;
	int r;

	if (params == NULL || params_len == NULL)
		return IV_ERR_INVALID;
	if ((r = key_object_label(pp, version, label, sizeof(label))) != 0)
		return r;
	label_len = strlen(label);

	/* The object may only encrypt and decrypt; every other use is off so a
	 * token user cannot, for instance, wrap it out under a key they know. */
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_KEY_TYPE, &type, sizeof(type)},
		{CKA_VALUE_LEN, &value_len, sizeof(value_len)},
		{CKA_TOKEN, &yes, sizeof(yes)},
		{CKA_PRIVATE, &yes, sizeof(yes)},
		{CKA_SENSITIVE, &yes, sizeof(yes)},
		{CKA_EXTRACTABLE, &no, sizeof(no)},
		{CKA_ENCRYPT, &yes, sizeof(yes)},
		{CKA_DECRYPT, &yes, sizeof(yes)},
		{CKA_WRAP, &no, sizeof(no)},
		{CKA_UNWRAP, &no, sizeof(no)},
		{CKA_SIGN, &no, sizeof(no)},
		{CKA_VERIFY, &no, sizeof(no)},
		{CKA_DERIVE, &no, sizeof(no)},
		{CKA_LABEL, label, label_len},
	};

	pthread_mutex_lock(&pp->lock);
	forget_handle(pp, version);
	/* A crash between generating the key and recording the version leaves an
	 * object no record refers to; replace it so the label stays unique. */
	if ((r = destroy_objects_labelled(pp, label, &leftovers)) != 0)
		goto out;
	if (leftovers > 0)
		log_warning("pkcs11: destroyed %u leftover object(s) labelled %s", leftovers,
			    label);
	rv = pp->module->C_GenerateKey(pp->session, &mech, tmpl, sizeof(tmpl) / sizeof(tmpl[0]),
				       &handle);
	if (rv != CKR_OK) {
		log_ckr("C_GenerateKey", rv);
		r = IV_ERR_HSM;
		goto out;
	}
	if ((r = remember_handle(pp, version, handle)) != 0)
		goto out;
	memcpy(params, label, label_len);
	*params_len = label_len;
	log_info("pkcs11: created master key version %" PRIu32 " as token object %s", version,
		 label);
	/* success */
	r = 0;
out:
	pthread_mutex_unlock(&pp->lock);
	return r;
}

/* Refuses a key object that could leave the token or is not AES-256. */
static int check_key_object(struct pkcs11_provider *pp, CK_OBJECT_HANDLE handle, const char *label)
{
	CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE, encrypt = CK_FALSE,
		 decrypt = CK_FALSE;
	CK_KEY_TYPE type = 0;
	CK_ULONG value_len = 0;
	CK_ATTRIBUTE attrs[] = {
		{CKA_SENSITIVE, &sensitive, sizeof(sensitive)},
		{CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
		{CKA_ENCRYPT, &encrypt, sizeof(encrypt)},
		{CKA_DECRYPT, &decrypt, sizeof(decrypt)},
		{CKA_KEY_TYPE, &type, sizeof(type)},
		{CKA_VALUE_LEN, &value_len, sizeof(value_len)},
	};
	CK_RV rv = pp->module->C_GetAttributeValue(pp->session, handle, attrs,
						   sizeof(attrs) / sizeof(attrs[0]));
	if (rv != CKR_OK) {
		log_ckr("C_GetAttributeValue", rv);
		return IV_ERR_HSM;
	}
	if (sensitive != CK_TRUE || extractable != CK_FALSE) {
		log_error("pkcs11: refusing key object %s: it is %s", label,
			  extractable != CK_FALSE ? "extractable" : "not sensitive");
		return IV_ERR_MASTER_KEY;
	}
	if (type != CKK_AES || value_len != DEK_LEN || encrypt != CK_TRUE || decrypt != CK_TRUE) {
		log_error("pkcs11: refusing key object %s: not an AES-256 encrypt/decrypt key",
			  label);
		return IV_ERR_MASTER_KEY;
	}
	return 0;
}

static int pkcs11_load_version(struct mk_provider *p, uint32_t version, const uint8_t *params,
			       size_t params_len)
{
	struct pkcs11_provider *pp = from_base(p);
	char label[MK_PARAMS_MAX];
	CK_OBJECT_HANDLE found[2];
	CK_ULONG count = 0;
	size_t label_len;
	int r;

	if ((r = key_object_label(pp, version, label, sizeof(label))) != 0)
		return r;
	label_len = strlen(label);
	/* The params hold the label the version was created under; a mismatch
	 * means pkcs11_key_label changed since, and guessing would use the
	 * wrong key. */
	if (params_len > 0 &&
	    (params == NULL || params_len != label_len || secmem_equal(params, label, label_len))) {
		log_error("pkcs11: master key version %" PRIu32 " was created under another "
			  "key label than %s; check pkcs11_key_label", version, label);
		return IV_ERR_MASTER_KEY;
	}

	pthread_mutex_lock(&pp->lock);
	if ((r = find_key_objects(pp, label, found, 2, &count)) != 0)
		goto out;
	if (count == 0) {
		log_error("pkcs11: no key object labelled %s on token %s", label, pp->token_label);
		r = IV_ERR_MASTER_KEY;
		goto out;
	}
	if (count > 1) {
		log_error("pkcs11: several key objects labelled %s on token %s; refusing to "
			  "guess", label, pp->token_label);
		r = IV_ERR_MASTER_KEY;
		goto out;
	}
	if ((r = check_key_object(pp, found[0], label)) != 0)
		goto out;
	if ((r = remember_handle(pp, version, found[0])) != 0)
		goto out;
	/* success */
	r = 0;
out:
	pthread_mutex_unlock(&pp->lock);
	return r;
}

/* Errors that say the token or session is unavailable, as opposed to the
 * ciphertext being rejected. */
static int is_token_failure(CK_RV rv)
{
	switch (rv) {
	case CKR_HOST_MEMORY:
	case CKR_DEVICE_ERROR:
	case CKR_DEVICE_MEMORY:
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_SESSION_CLOSED:
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_CRYPTOKI_NOT_INITIALIZED:
	case CKR_OPERATION_NOT_INITIALIZED:
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_KEY_HANDLE_INVALID:
	case CKR_BUFFER_TOO_SMALL:
	case CKR_FUNCTION_CANCELED:
		return 1;
	default:
		return 0;
	}
}

static int pkcs11_wrap(struct mk_provider *p, uint32_t version, const uint8_t *aad,
		       size_t aad_len, const uint8_t dek[static DEK_LEN],
		       uint8_t out[static WRAPPED_DEK_LEN])
{
	struct pkcs11_provider *pp = from_base(p);
	uint8_t iv[PKCS11_GCM_IV_LEN];
	CK_GCM_PARAMS gcm;
	CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof(gcm)};
	CK_ULONG out_len = PKCS11_GCM_OUT_LEN;
	struct version_handle *vh;
	CK_RV rv;
	int r;

	if (aad == NULL && aad_len > 0)
		return IV_ERR_INVALID;
	random_bytes(iv, sizeof(iv));
	gcm.pIv = iv;
	gcm.ulIvLen = sizeof(iv);
	gcm.ulIvBits = sizeof(iv) * 8;
	gcm.pAAD = (CK_BYTE_PTR)aad;
	gcm.ulAADLen = aad_len;
	gcm.ulTagBits = PKCS11_GCM_TAG_LEN * 8;

	pthread_mutex_lock(&pp->lock);
	if ((vh = cached_handle(pp, version)) == NULL) {
		log_error("pkcs11: master key version %" PRIu32 " is not loaded", version);
		r = IV_ERR_MASTER_KEY;
		goto out;
	}
	rv = pp->module->C_EncryptInit(pp->session, &mech, vh->handle);
	if (rv != CKR_OK) {
		log_ckr("C_EncryptInit", rv);
		r = IV_ERR_HSM;
		goto out;
	}
	rv = pp->module->C_Encrypt(pp->session, (CK_BYTE_PTR)dek, DEK_LEN, out + sizeof(iv),
				   &out_len);
	if (rv != CKR_OK) {
		log_ckr("C_Encrypt", rv);
		r = IV_ERR_HSM;
		goto out;
	}
	if (out_len != PKCS11_GCM_OUT_LEN) {
		log_error("pkcs11: C_Encrypt returned %lu bytes, expected %d",
			  (unsigned long)out_len, PKCS11_GCM_OUT_LEN);
		r = IV_ERR_HSM;
		goto out;
	}
	memcpy(out, iv, sizeof(iv));
	/* success */
	r = 0;
out:
	pthread_mutex_unlock(&pp->lock);
	if (r != 0)
		secmem_wipe(out, WRAPPED_DEK_LEN);
	return r;
}

static int pkcs11_unwrap(struct mk_provider *p, uint32_t version, const uint8_t *aad,
			 size_t aad_len, const uint8_t *wrapped, size_t wrapped_len,
			 uint8_t dek[static DEK_LEN])
{
	struct pkcs11_provider *pp = from_base(p);
	uint8_t iv[PKCS11_GCM_IV_LEN];
	CK_GCM_PARAMS gcm;
	CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof(gcm)};
	CK_ULONG plain_len = PKCS11_GCM_OUT_LEN;
	struct version_handle *vh;
	int locked = 0;
	CK_RV rv;
	int r;

	if (wrapped == NULL || wrapped_len != WRAPPED_DEK_LEN || (aad == NULL && aad_len > 0)) {
		r = IV_ERR_INVALID;
		goto out;
	}
	memcpy(iv, wrapped, sizeof(iv));
	gcm.pIv = iv;
	gcm.ulIvLen = sizeof(iv);
	gcm.ulIvBits = sizeof(iv) * 8;
	gcm.pAAD = (CK_BYTE_PTR)aad;
	gcm.ulAADLen = aad_len;
	gcm.ulTagBits = PKCS11_GCM_TAG_LEN * 8;

	pthread_mutex_lock(&pp->lock);
	locked = 1;
	if ((vh = cached_handle(pp, version)) == NULL) {
		log_error("pkcs11: master key version %" PRIu32 " is not loaded", version);
		r = IV_ERR_MASTER_KEY;
		goto out;
	}
	rv = pp->module->C_DecryptInit(pp->session, &mech, vh->handle);
	if (rv != CKR_OK) {
		log_ckr("C_DecryptInit", rv);
		r = IV_ERR_HSM;
		goto out;
	}
	/* The output buffer is as large as the input because some tokens check
	 * against the ciphertext length before removing the tag. */
	rv = pp->module->C_Decrypt(pp->session, (CK_BYTE_PTR)wrapped + sizeof(iv),
				   PKCS11_GCM_OUT_LEN, pp->scratch, &plain_len);
	if (rv != CKR_OK) {
		if (is_token_failure(rv)) {
			log_ckr("C_Decrypt", rv);
			r = IV_ERR_HSM;
		} else {
			/* A well-formed input the token rejects was altered, moved
			 * or wrapped under another version. */
			log_warning("pkcs11: unwrapping under master key version %" PRIu32
				    " failed authentication (CKR 0x%lx)",
				    version, (unsigned long)rv);
			r = IV_ERR_AUTH_TAG;
		}
		goto out;
	}
	if (plain_len != DEK_LEN) {
		log_error("pkcs11: C_Decrypt returned %lu bytes, expected %d",
			  (unsigned long)plain_len, DEK_LEN);
		r = IV_ERR_HSM;
		goto out;
	}
	memcpy(dek, pp->scratch, DEK_LEN);
	/* success */
	r = 0;
out:
	if (locked) {
		secmem_wipe(pp->scratch, PKCS11_GCM_OUT_LEN);
		pthread_mutex_unlock(&pp->lock);
	}
	secmem_wipe(iv, sizeof(iv));
	if (r != 0)
		secmem_wipe(dek, DEK_LEN);
	return r;
}

static int pkcs11_destroy_version(struct mk_provider *p, uint32_t version)
{
	struct pkcs11_provider *pp = from_base(p);
	char label[MK_PARAMS_MAX];
	unsigned destroyed = 0;
	int r;

	if ((r = key_object_label(pp, version, label, sizeof(label))) != 0)
		return r;
	pthread_mutex_lock(&pp->lock);
	forget_handle(pp, version);
	/* Idempotent: a retirement interrupted after the object went away must
	 * be able to finish. */
	if ((r = destroy_objects_labelled(pp, label, &destroyed)) != 0)
		goto out;
	if (destroyed == 0)
		log_info("pkcs11: master key version %" PRIu32 " (%s) was already gone", version,
			 label);
	else
		log_info("pkcs11: destroyed master key version %" PRIu32 " (%s)", version, label);
	/* success */
	r = 0;
out:
	pthread_mutex_unlock(&pp->lock);
	return r;
}

static void pkcs11_free(struct mk_provider *p)
{
	struct pkcs11_provider *pp;
	CK_RV rv;

	if (p == NULL)
		return;
	pp = from_base(p);
	if (pp->module != NULL) {
		if (pp->logged_in_by_us) {
			rv = pp->module->C_Logout(pp->session);
			if (rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN)
				log_ckr("C_Logout", rv);
		}
		if (pp->session_open) {
			rv = pp->module->C_CloseSession(pp->session);
			if (rv != CKR_OK)
				log_ckr("C_CloseSession", rv);
		}
		if (pp->module_initialized) {
			rv = p11_kit_module_finalize(pp->module);
			if (rv != CKR_OK)
				log_ckr("C_Finalize", rv);
		}
		p11_kit_module_release(pp->module);
	}
	pthread_mutex_destroy(&pp->lock);
	free(pp->handles);
	secmem_free(pp->scratch);
	free(pp->key_label);
	free(pp->token_label);
	free(pp);
}

static const struct mk_provider_ops pkcs11_ops = {
	.name = "pkcs11",
	.create_version = pkcs11_create_version,
	.load_version = pkcs11_load_version,
	.wrap = pkcs11_wrap,
	.unwrap = pkcs11_unwrap,
	.destroy_version = pkcs11_destroy_version,
	.free = pkcs11_free,
};

static int token_label_matches(const CK_UTF8CHAR label[PKCS11_TOKEN_LABEL_LEN], const char *want)
{
	size_t n = strlen(want);

	/* a token label is public; it is shown by every PKCS#11 tool */
	if (n > PKCS11_TOKEN_LABEL_LEN || memcmp(label, want, n) != 0) /* lint:not-secret */
		return 0;
	for (size_t i = n; i < PKCS11_TOKEN_LABEL_LEN; i++)
		if (label[i] != ' ')
			return 0;
	return 1;
}

static int find_token_slot(struct pkcs11_provider *pp, CK_SLOT_ID *slot)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n_slots = 0;
	CK_TOKEN_INFO info;
	unsigned matches = 0;
	CK_RV rv;
	int r = IV_ERR_HSM;

	/* The slot list can grow between the two calls (a token plugged in). */
	for (int attempt = 0; attempt < 3; attempt++) {
		rv = pp->module->C_GetSlotList(CK_TRUE, NULL, &n_slots);
		if (rv != CKR_OK) {
			log_ckr("C_GetSlotList", rv);
			goto out;
		}
		free(slots);
		slots = calloc(n_slots ? n_slots : 1, sizeof(*slots));
		if (slots == NULL) {
			r = IV_ERR_NOMEM;
			goto out;
		}
		rv = pp->module->C_GetSlotList(CK_TRUE, slots, &n_slots);
		if (rv != CKR_BUFFER_TOO_SMALL)
			break;
	}
	if (rv != CKR_OK) {
		log_ckr("C_GetSlotList", rv);
		goto out;
	}
	for (CK_ULONG i = 0; i < n_slots; i++) {
		rv = pp->module->C_GetTokenInfo(slots[i], &info);
		if (rv != CKR_OK) {
			log_warning("pkcs11: C_GetTokenInfo on slot %lu failed: CKR 0x%lx",
				    (unsigned long)slots[i], (unsigned long)rv);
			continue;
		}
		if (!(info.flags & CKF_TOKEN_INITIALIZED) ||
		    !token_label_matches(info.label, pp->token_label))
			continue;
		if (matches++ == 0)
			*slot = slots[i];
	}
	if (matches == 0) {
		log_error("pkcs11: no initialised token labelled %s in module", pp->token_label);
		goto out;
	}
	if (matches > 1) {
		log_error("pkcs11: %u tokens are labelled %s; refusing to guess", matches,
			  pp->token_label);
		goto out;
	}
	/* success */
	r = 0;
out:
	free(slots);
	return r;
}

static int login_user(struct pkcs11_provider *pp, const char *pin_env)
{
	const char *env = getenv(pin_env);
	struct secbuf *pin = NULL;
	CK_RV rv;
	int r;

	if (env == NULL || env[0] == '\0') {
		log_error("pkcs11: the token PIN is not set: environment variable %s is %s",
			  pin_env, env == NULL ? "missing" : "empty");
		return IV_ERR_MASTER_KEY;
	}
	/* Copy into guarded memory so the only other copy is the environment's. */
	if ((pin = secbuf_dup((const uint8_t *)env, strlen(env))) == NULL)
		return IV_ERR_NOMEM;
	rv = pp->module->C_Login(pp->session, CKU_USER, pin->data, pin->len);
	switch (rv) {
	case CKR_OK:
		pp->logged_in_by_us = 1;
		break;
	case CKR_USER_ALREADY_LOGGED_IN:
		/* Login is per process: another session of ours already did it. */
		break;
	case CKR_PIN_INCORRECT:
	case CKR_PIN_INVALID:
	case CKR_PIN_LEN_RANGE:
		log_error("pkcs11: token %s rejected the PIN from %s (CKR 0x%lx)", pp->token_label,
			  pin_env, (unsigned long)rv);
		r = IV_ERR_MASTER_KEY;
		goto out;
	case CKR_PIN_LOCKED:
	case CKR_PIN_EXPIRED:
		log_error("pkcs11: the user PIN of token %s is locked or expired (CKR 0x%lx)",
			  pp->token_label, (unsigned long)rv);
		r = IV_ERR_MASTER_KEY;
		goto out;
	default:
		log_ckr("C_Login", rv);
		r = IV_ERR_HSM;
		goto out;
	}
	/* success */
	r = 0;
out:
	secbuf_free(pin);
	return r;
}

static int check_config(const struct config *cfg)
{
	if (cfg->pkcs11_module == NULL || cfg->pkcs11_module[0] == '\0') {
		log_error("pkcs11: pkcs11_module is not set");
		return IV_ERR_CONFIG;
	}
	if (cfg->pkcs11_token_label == NULL || cfg->pkcs11_token_label[0] == '\0' ||
	    strlen(cfg->pkcs11_token_label) > PKCS11_TOKEN_LABEL_LEN) {
		log_error("pkcs11: pkcs11_token_label must be 1 to %d bytes",
			  PKCS11_TOKEN_LABEL_LEN);
		return IV_ERR_CONFIG;
	}
	if (cfg->pkcs11_pin_env == NULL || cfg->pkcs11_pin_env[0] == '\0') {
		log_error("pkcs11: pkcs11_pin_env is not set");
		return IV_ERR_CONFIG;
	}
	/* room for "-v4294967295" and the label still fitting in the params */
	if (cfg->pkcs11_key_label == NULL || cfg->pkcs11_key_label[0] == '\0' ||
	    strlen(cfg->pkcs11_key_label) + 12 >= MK_PARAMS_MAX) {
		log_error("pkcs11: pkcs11_key_label must be 1 to %d bytes", MK_PARAMS_MAX - 13);
		return IV_ERR_CONFIG;
	}
	return 0;
}

int mk_provider_pkcs11_new(const struct config *cfg, struct mk_provider **out)
{
	struct pkcs11_provider *pp = NULL;
	CK_SLOT_ID slot = 0;
	CK_RV rv;
	int r;

	if (out == NULL)
		return IV_ERR_INVALID;
	*out = NULL;
	if (cfg == NULL)
		return IV_ERR_INVALID;
	if ((r = check_config(cfg)) != 0)
		return r;
	/* Fail before touching the token when the PIN cannot be there. */
	const char *pin_env = getenv(cfg->pkcs11_pin_env);
	if (pin_env == NULL || pin_env[0] == '\0') {
		log_error("pkcs11: the token PIN is not set: environment variable %s is %s",
			  cfg->pkcs11_pin_env, pin_env == NULL ? "missing" : "empty");
		return IV_ERR_MASTER_KEY;
	}

	if ((pp = calloc(1, sizeof(*pp))) == NULL)
		return IV_ERR_NOMEM;
	pp->base.ops = &pkcs11_ops;
	if (pthread_mutex_init(&pp->lock, NULL) != 0) {
		free(pp);
		return IV_ERR_INTERNAL;
	}
	pp->session = CK_INVALID_HANDLE;
	/* the key label names the token object; it is not key material */
	if ((pp->key_label = strdup(cfg->pkcs11_key_label)) == NULL || /* lint:not-secret */
	    (pp->token_label = strdup(cfg->pkcs11_token_label)) == NULL ||
	    (pp->scratch = secmem_alloc(PKCS11_GCM_OUT_LEN)) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}

	/* Managed mode: p11-kit counts C_Initialize/C_Finalize, so freeing this
	 * provider does not finalize the module under another user in the
	 * process (a test, a second provider during rotation). */
	if ((pp->module = p11_kit_module_load(cfg->pkcs11_module, 0)) == NULL) {
		const char *msg = p11_kit_message();
		log_error("pkcs11: cannot load module %s: %s", cfg->pkcs11_module,
			  msg != NULL ? msg : "unknown error");
		r = IV_ERR_HSM;
		goto out;
	}
	rv = p11_kit_module_initialize(pp->module);
	if (rv != CKR_OK) {
		log_ckr("C_Initialize", rv);
		r = IV_ERR_HSM;
		goto out;
	}
	pp->module_initialized = 1;
	if ((r = find_token_slot(pp, &slot)) != 0)
		goto out;
	rv = pp->module->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
				       &pp->session);
	if (rv != CKR_OK) {
		log_ckr("C_OpenSession", rv);
		r = IV_ERR_HSM;
		goto out;
	}
	pp->session_open = 1;
	if ((r = login_user(pp, cfg->pkcs11_pin_env)) != 0)
		goto out;

	*out = &pp->base;
	pp = NULL;
	/* success */
	r = 0;
out:
	if (pp != NULL)
		pkcs11_free(&pp->base);
	return r;
}
