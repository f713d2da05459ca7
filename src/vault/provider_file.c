/* The `file` master-key provider: version N is 32 random bytes in
 * DIR/<key_dir>/master-vN.key (0600). The data directory, the key directory
 * and every key file must be private to the owner, or nothing starts. */
#include "core/fsutil.h"
#include "iotvault/crypto.h"
#include "iotvault/log.h"
#include "iotvault/mkprov.h"
#include "iotvault/secmem.h"
#include "vault/local_keyring.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct file_provider {
	struct mk_provider base;
	char *key_dir;
	struct local_keyring keyring;
};

static struct file_provider *fp(struct mk_provider *p) { return (struct file_provider *)p; }

static int key_path(struct file_provider *f, uint32_t version, char *out, size_t cap)
{
	if (snprintf(out, cap, "%s/master-v%u.key", f->key_dir, version) >= (int)cap)
		return IV_ERR_INVALID;
	return 0;
}

static int file_create_version(struct mk_provider *p, uint32_t version, uint8_t *params,
			       size_t *params_len)
{
	struct file_provider *f = fp(p);
	char path[PATH_MAX];
	struct secbuf *key = NULL;
	int r;

	(void)params;
	*params_len = 0;
	if ((r = key_path(f, version, path, sizeof(path))) != 0)
		return r;
	if (mkdir(f->key_dir, 0700) != 0 && errno != EEXIST) {
		log_error("cannot create %s: %s", f->key_dir, strerror(errno));
		return IV_ERR_IO;
	}
	if ((r = fs_check_private(f->key_dir, 1)) != 0)
		return r;
	if ((key = secbuf_new(AEAD_KEY_LEN)) == NULL)
		return IV_ERR_NOMEM;
	random_bytes(key->data, key->len);
	/* replace leftover material of an interrupted rotation: no record uses it */
	if ((r = fs_write_private(path, key->data, key->len, 0)) != 0)
		goto out;
	if ((r = local_keyring_add(&f->keyring, version, key->data)) != 0)
		goto out;
	/* success */
	r = 0;
out:
	secbuf_free(key);
	return r;
}

static int file_load_version(struct mk_provider *p, uint32_t version, const uint8_t *params,
			     size_t params_len)
{
	struct file_provider *f = fp(p);
	char path[PATH_MAX];
	struct secbuf *key = NULL;
	int r;

	(void)params;
	(void)params_len;
	if ((r = key_path(f, version, path, sizeof(path))) != 0)
		return r;
	if ((r = fs_check_private(f->key_dir, 1)) != 0)
		return r == IV_ERR_NOT_FOUND ? IV_ERR_MASTER_KEY : r;
	if ((key = secbuf_new(AEAD_KEY_LEN)) == NULL)
		return IV_ERR_NOMEM;
	if ((r = fs_read_private(path, key->data, key->len)) != 0) {
		if (r == IV_ERR_NOT_FOUND) {
			log_error("master key file %s is missing", path);
			r = IV_ERR_MASTER_KEY;
		}
		goto out;
	}
	if ((r = local_keyring_add(&f->keyring, version, key->data)) != 0)
		goto out;
	/* success */
	r = 0;
out:
	secbuf_free(key);
	return r;
}

static int file_wrap(struct mk_provider *p, uint32_t version, const uint8_t *aad, size_t aad_len,
		     const uint8_t dek[static DEK_LEN], uint8_t out[static WRAPPED_DEK_LEN])
{
	return local_keyring_wrap(&fp(p)->keyring, version, aad, aad_len, dek, out);
}

static int file_unwrap(struct mk_provider *p, uint32_t version, const uint8_t *aad, size_t aad_len,
		       const uint8_t *wrapped, size_t wrapped_len, uint8_t dek[static DEK_LEN])
{
	return local_keyring_unwrap(&fp(p)->keyring, version, aad, aad_len, wrapped, wrapped_len, dek);
}

static int file_destroy_version(struct mk_provider *p, uint32_t version)
{
	struct file_provider *f = fp(p);
	char path[PATH_MAX];
	int r;
	if ((r = key_path(f, version, path, sizeof(path))) != 0)
		return r;
	local_keyring_remove(&f->keyring, version);
	return fs_remove_private(path);
}

static void file_free(struct mk_provider *p)
{
	struct file_provider *f = fp(p);
	local_keyring_clear(&f->keyring);
	free(f->key_dir);
	free(f);
}

static const struct mk_provider_ops file_ops = {
	.name = "file",
	.create_version = file_create_version,
	.load_version = file_load_version,
	.wrap = file_wrap,
	.unwrap = file_unwrap,
	.destroy_version = file_destroy_version,
	.free = file_free,
};

int mk_provider_file_new(const struct config *cfg, struct mk_provider **out)
{
	struct file_provider *f;
	int r;

	if ((r = fs_check_private(cfg->data_dir, 1)) != 0)
		return r;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return IV_ERR_NOMEM;
	f->base.ops = &file_ops;
	if ((f->key_dir = config_path(cfg, cfg->mk_key_dir)) == NULL) {
		free(f);
		return IV_ERR_NOMEM;
	}
	*out = &f->base;
	return 0;
}
