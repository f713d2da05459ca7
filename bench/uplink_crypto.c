/* bench_uplink_crypto: the per-frame cost of decrypting an uplink FRMPayload
 * in the Application Server (vault_appserver_crypt: the session's AppSKey
 * fetched from SQLite, its envelope opened, AES-128 keystream, key wiped),
 * beside lorawan_frm_payload_crypt with the key already in memory and raw
 * Nettle AES-128 over the same number of blocks. Prints figures only; the
 * data directory is a throwaway mkdtemp one; no key is printed.
 *
 * Usage: bench_uplink_crypto [--count N] [--length BYTES] */
#include "iotvault/config.h"
#include "iotvault/crypto.h"
#include "iotvault/lorawan.h"
#include "iotvault/log.h"
#include "iotvault/mkprov.h"
#include "iotvault/secmem.h"
#include "iotvault/store.h"
#include "iotvault/vault.h"
#include "iotvault/vault_appserver.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <nettle/aes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void report(const char *what, long n, double secs)
{
	printf("%-52s %12.0f frames/s %10.3f us/frame\n", what, (double)n / secs, secs * 1e6 / (double)n);
}

int main(int argc, char **argv)
{
	static const struct audit_actor actor = {"cli", "bench_uplink_crypto", "local"};
	long count = 200000, len = 20;
	char dir[PATH_MAX], db[PATH_MAX + 16];
	struct config cfg;
	struct store *st = NULL;
	struct vault *v = NULL;
	struct mk_provider *prov = NULL;
	struct secbuf *key = NULL;
	struct aes128_ctx *aes = NULL;
	uint8_t in[LORAWAN_FRM_PAYLOAD_MAX], out[LORAWAN_FRM_PAYLOAD_MAX], blocks[LORAWAN_FRM_PAYLOAD_MAX + 16];
	int64_t tenant = 0;
	double t;
	int r = 1;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--count") == 0)
			count = strtol(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--length") == 0)
			len = strtol(argv[i + 1], NULL, 10);
	}
	if (count < 1 || count > 100000000 || len < 1 || len > LORAWAN_FRM_PAYLOAD_MAX) {
		fprintf(stderr, "usage: bench_uplink_crypto [--count 1..1e8] [--length 1..%d]\n",
			LORAWAN_FRM_PAYLOAD_MAX);
		return 2;
	}
	if (secmem_init() != 0)
		return 1;
	log_set_quiet(1);
	snprintf(dir, sizeof(dir), "%s/iotvault-bench-uplink-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(db, sizeof(db), "%s/iotvault.db", dir);
	if (config_defaults(&cfg, dir) != 0 || store_sqlite_open(db, 1, 10000, &st) != 0 ||
	    mk_provider_file_new(&cfg, &prov) != 0 || vault_create(&cfg, st, prov, &actor, &v) != 0 ||
	    st->ops->tenant_create(st, "bench", &tenant) != 0) {
		fprintf(stderr, "bench_uplink_crypto: set-up failed\n");
		goto out;
	}
	random_bytes(in, sizeof(in));
	if ((key = secbuf_new(16)) == NULL || (aes = secmem_alloc(sizeof(*aes))) == NULL)
		goto out;
	random_bytes(key->data, key->len);
	{
		struct secret_ref ref = {tenant, "lorawan_session", 1, "app_s_key"};
		if (vault_seal(v, &ref, key->data, key->len) != 0)
			goto out;
	}
	printf("bench_uplink_crypto: %ld frames of %ld bytes (%ld AES blocks each)\n", count, len,
	       (len + 15) / 16);

	aes128_set_encrypt_key(aes, key->data);
	t = now_s();
	for (long i = 0; i < count; i++) {
		blocks[0] = (uint8_t)i;
		aes128_encrypt(aes, (size_t)((len + 15) / 16) * 16, blocks, blocks);
	}
	report("raw AES-128 (Nettle, key schedule kept)", count, now_s() - t);

	t = now_s();
	for (long i = 0; i < count; i++)
		if (lorawan_frm_payload_crypt(key->data, false, 0x01020304, (uint32_t)i, in, (size_t)len, out) != 0)
			goto out;
	report("lorawan_frm_payload_crypt (key in memory)", count, now_s() - t);

	t = now_s();
	for (long i = 0; i < count / 10; i++)
		if (vault_appserver_crypt(v, tenant, 1, false, 0x01020304, (uint32_t)i, in, (size_t)len, out) != 0)
			goto out;
	report("vault_appserver_crypt (SQLite fetch + envelope open)", count / 10, now_s() - t);
	r = 0;
out:
	secmem_free(aes);
	secbuf_free(key);
	vault_free(v);
	store_close(st);
	config_free(&cfg);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return r;
}
