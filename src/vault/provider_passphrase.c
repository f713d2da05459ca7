/* The `passphrase` master-key provider: the key of version N is
 * Argon2id(passphrase, salt_N) with salt and cost stored beside the version.
 * The passphrase comes from an environment variable or a terminal prompt,
 * never from the command line, and is wiped once the keys are derived. */
#include "core/fsutil.h"
#include "iotvault/crypto.h"
#include "iotvault/cursor.h"
#include "iotvault/log.h"
#include "iotvault/mkprov.h"
#include "iotvault/store.h"
#include "iotvault/secmem.h"
#include "vault/local_keyring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define PASSPHRASE_MAX 1024
#define PASSPHRASE_MIN 12

struct passphrase_provider {
	struct mk_provider base;
	struct secbuf *passphrase;
	uint64_t opslimit;
	size_t memlimit;
	struct local_keyring keyring;
};

static struct passphrase_provider *pp(struct mk_provider *p)
{
	return (struct passphrase_provider *)p;
}

static int derive_into_keyring(struct passphrase_provider *p, uint32_t version,
			       const uint8_t salt[static KDF_SALT_LEN], uint64_t opslimit,
			       size_t memlimit)
{
	struct secbuf *kek = secbuf_new(AEAD_KEY_LEN);
	int r;
	if (kek == NULL)
		return IV_ERR_NOMEM;
	r = pwhash_derive_key(kek->data, kek->len, (const char *)p->passphrase->data,
			      p->passphrase->len, salt, opslimit, memlimit);
	if (r == 0)
		r = local_keyring_add(&p->keyring, version, kek->data);
	secbuf_free(kek);
	return r;
}

static int pass_create_version(struct mk_provider *base, uint32_t version, uint8_t *params,
			       size_t *params_len)
{
	struct passphrase_provider *p = pp(base);
	uint8_t salt[KDF_SALT_LEN];
	struct writer w;
	int r;

	random_bytes(salt, sizeof(salt));
	writer_init(&w, params, MK_PARAMS_MAX);
	if ((r = writer_put_u8(&w, 1)) || (r = writer_put_bytes(&w, salt, sizeof(salt))) ||
	    (r = writer_put_u64be(&w, p->opslimit)) || (r = writer_put_u64be(&w, p->memlimit)))
		return r;
	*params_len = w.len;
	return derive_into_keyring(p, version, salt, p->opslimit, p->memlimit);
}

static int pass_load_version(struct mk_provider *base, uint32_t version, const uint8_t *params,
			     size_t params_len)
{
	struct passphrase_provider *p = pp(base);
	uint8_t salt[KDF_SALT_LEN];
	uint8_t fmt;
	uint64_t ops, mem;
	struct cursor c;
	int r;

	cursor_init(&c, params, params_len);
	if ((r = cursor_read_u8(&c, &fmt)) || (r = cursor_read_bytes(&c, salt, sizeof(salt))) ||
	    (r = cursor_read_u64be(&c, &ops)) || (r = cursor_read_u64be(&c, &mem)) ||
	    (r = cursor_expect_end(&c)) || fmt != 1 || ops < 1 || ops > 20 || mem < 8192 ||
	    mem > (size_t)4096 * 1024 * 1024) {
		log_error("master key version %u: malformed passphrase parameters", version);
		return IV_ERR_MASTER_KEY;
	}
	return derive_into_keyring(p, version, salt, ops, (size_t)mem);
}

static int pass_wrap(struct mk_provider *p, uint32_t version, const uint8_t *aad, size_t aad_len,
		     const uint8_t dek[static DEK_LEN], uint8_t out[static WRAPPED_DEK_LEN])
{
	return local_keyring_wrap(&pp(p)->keyring, version, aad, aad_len, dek, out);
}

static int pass_unwrap(struct mk_provider *p, uint32_t version, const uint8_t *aad, size_t aad_len,
		       const uint8_t *wrapped, size_t wrapped_len, uint8_t dek[static DEK_LEN])
{
	return local_keyring_unwrap(&pp(p)->keyring, version, aad, aad_len, wrapped, wrapped_len, dek);
}

static int pass_destroy_version(struct mk_provider *p, uint32_t version)
{
	/* nothing on disk: forgetting the salt (the row stays, retired) suffices */
	local_keyring_remove(&pp(p)->keyring, version);
	return 0;
}

static void pass_free(struct mk_provider *base)
{
	struct passphrase_provider *p = pp(base);
	local_keyring_clear(&p->keyring);
	secbuf_free(p->passphrase);
	free(p);
}

static const struct mk_provider_ops passphrase_ops = {
	.name = "passphrase",
	.create_version = pass_create_version,
	.load_version = pass_load_version,
	.wrap = pass_wrap,
	.unwrap = pass_unwrap,
	.destroy_version = pass_destroy_version,
	.free = pass_free,
};

/* Reads one line without echo from the terminal into BUF (secure memory). */
static int prompt_passphrase(struct secbuf *buf, size_t *len)
{
	struct termios old, quiet;
	size_t n = 0;
	int c, r = 0;

	if (tcgetattr(STDIN_FILENO, &old) != 0)
		return IV_ERR_MASTER_KEY;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	fputs("master key passphrase: ", stderr);
	fflush(stderr);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0)
		return IV_ERR_MASTER_KEY;
	while ((c = fgetc(stdin)) != EOF && c != '\n') {
		if (n >= buf->len) {
			r = IV_ERR_TOO_LARGE;
			continue; /* drain the line */
		}
		buf->data[n++] = (uint8_t)c;
	}
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fputs("\n", stderr);
	*len = n;
	return r;
}

int mk_provider_passphrase_new(const struct config *cfg, int allow_prompt, struct mk_provider **out)
{
	struct passphrase_provider *p = NULL;
	struct secbuf *buf = NULL;
	const char *env;
	size_t len = 0;
	int r;

	if ((r = fs_check_private(cfg->data_dir, 1)) != 0)
		return r;
	if ((buf = secbuf_new(PASSPHRASE_MAX)) == NULL)
		return IV_ERR_NOMEM;
	env = getenv(cfg->passphrase_env);
	if (env != NULL) {
		len = strlen(env);
		if (len > PASSPHRASE_MAX) {
			log_error("passphrase in %s is longer than %d bytes", cfg->passphrase_env,
				  PASSPHRASE_MAX);
			r = IV_ERR_MASTER_KEY;
			goto out;
		}
		memcpy(buf->data, env, len);
		/* leave no copy in /proc/PID/environ or in a core dump */
		secmem_wipe((char *)env, len);
		unsetenv(cfg->passphrase_env);
	} else if (allow_prompt && isatty(STDIN_FILENO)) {
		if ((r = prompt_passphrase(buf, &len)) != 0)
			goto out;
	} else {
		log_error("the master key passphrase is not set: export %s (or run on a terminal)",
			  cfg->passphrase_env);
		r = IV_ERR_MASTER_KEY;
		goto out;
	}
	if (len < PASSPHRASE_MIN) {
		log_error("the master key passphrase must be at least %d characters", PASSPHRASE_MIN);
		r = IV_ERR_MASTER_KEY;
		goto out;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	p->base.ops = &passphrase_ops;
	p->opslimit = cfg->kdf_opslimit;
	p->memlimit = cfg->kdf_memlimit;
	if ((p->passphrase = secbuf_dup(buf->data, len)) == NULL) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	*out = &p->base;
	p = NULL;
	/* success */
	r = 0;
out:
	if (p != NULL)
		pass_free(&p->base);
	secbuf_free(buf);
	return r;
}
