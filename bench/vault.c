/* bench_vault: how many 16-byte keys per second the vault seals and opens,
 * printed beside raw AES-256-GCM on the same plaintext and AAD in the same
 * run, then the same through SQLite: stored seals (1000 per transaction) and
 * audited reveals. It prints figures and nothing else decides on them: a
 * benchmark, never a test. The data directory is a throwaway mkdtemp one
 * (under $TMPDIR, else /tmp), removed at the end; no key is ever printed.
 *
 * Usage: bench_vault [--count N] [--store-count N] [--reveal-count N]
 * --count sets the in-memory operations and, unless given on their own,
 * scales the stored seals (N/10) and the reveals (N/100). */
#include "iotvault/audit.h"
#include "iotvault/config.h"
#include "iotvault/crypto.h"
#include "iotvault/cursor.h"
#include "iotvault/log.h"
#include "iotvault/mkprov.h"
#include "iotvault/secmem.h"
#include "iotvault/store.h"
#include "iotvault/vault.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <nettle/version.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#ifndef BENCH_BUILD_TYPE
#define BENCH_BUILD_TYPE "unknown"
#endif

#define KEY_LEN 16
#define DEFAULT_MEM_COUNT 200000L
#define DEFAULT_STORE_COUNT 20000L
/* A reveal, like an audit append, is one synchronous commit (an fdatasync of
 * the WAL): 2000 of each take seconds at the 0.1-2 ms such a commit costs on
 * a virtio disk, and still well under a minute at 10 ms. */
#define DEFAULT_REVEAL_COUNT 2000L
#define MAX_COUNT 1000000000L
#define SEAL_BATCH 1000
#define AAD_MAX 256

struct bench {
	long mem_count, store_count, reveal_count;
	char dir[PATH_MAX];
	int have_dir;
	struct config cfg;
	int have_cfg;
	struct store *st;
	struct vault *v;
	struct secbuf *key;     /* the 16-byte test key: random, never printed */
	struct secbuf *opened;  /* raw open writes the plaintext here */
	struct aead_key *raw;   /* key schedule for the raw GCM rows */
	struct secret_record *rec;
	uint8_t aad[AAD_MAX];   /* the AAD the vault uses for the secret itself */
	size_t aad_len;
	double raw_seal_ns, raw_open_ns;
};

static const struct audit_actor bench_actor = {"cli", "bench_vault", "local"};

static int fail(const char *what, int r)
{
	fprintf(stderr, "bench_vault: %s failed: %s (%s)\n", what, iv_error_message(r),
		iv_error_name(r));
	return r ? r : IV_ERR_INTERNAL;
}

static int now_ns(uint64_t *out)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
		fprintf(stderr, "bench_vault: clock_gettime: %s\n", strerror(errno));
		return IV_ERR_INTERNAL;
	}
	*out = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return 0;
}

static void print_header(void)
{
	printf("%-50s %9s %12s %10s\n", "operation", "count", "ops/s", "ns/op");
}

static void print_section(const char *title)
{
	printf("-- %s\n", title);
}

/* Prints one row and returns ns/op. */
static double print_row(const char *name, long count, uint64_t ns)
{
	double per_op = (double)ns / (double)count;
	double per_s = ns ? (double)count * 1e9 / (double)ns : 0.0;
	printf("%-50s %9ld %12.0f %10.0f\n", name, count, per_s, per_op);
	fflush(stdout);
	return per_op;
}

static long parse_count(const char *opt, const char *text)
{
	char *end = NULL;
	long n;
	errno = 0;
	n = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || n < 1 || n > MAX_COUNT) {
		fprintf(stderr, "bench_vault: %s needs a whole number from 1 to %ld\n", opt,
			MAX_COUNT);
		return -1;
	}
	return n;
}

static int parse_args(struct bench *b, int argc, char **argv)
{
	long store = -1, reveal = -1, n;
	b->mem_count = DEFAULT_MEM_COUNT;
	for (int i = 1; i < argc; i += 2) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: %s [--count N] [--store-count N] [--reveal-count N]\n"
			       "  --count N         in-memory operations per row (default %ld);\n"
			       "                    also sets stored seals to N/10 and reveals to N/100\n"
			       "  --store-count N   seals into SQLite and point reads (default %ld)\n"
			       "  --reveal-count N  audited reveals and audit appends (default %ld)\n",
			       argv[0], DEFAULT_MEM_COUNT, DEFAULT_STORE_COUNT, DEFAULT_REVEAL_COUNT);
			return 1;
		}
		if (i + 1 >= argc || (strcmp(argv[i], "--count") != 0 &&
				      strcmp(argv[i], "--store-count") != 0 &&
				      strcmp(argv[i], "--reveal-count") != 0)) {
			fprintf(stderr, "bench_vault: unknown or incomplete option '%s' (try --help)\n",
				argv[i]);
			return -1;
		}
		if ((n = parse_count(argv[i], argv[i + 1])) < 0)
			return -1;
		if (strcmp(argv[i], "--count") == 0)
			b->mem_count = n;
		else if (strcmp(argv[i], "--store-count") == 0)
			store = n;
		else
			reveal = n;
	}
	if (b->mem_count == DEFAULT_MEM_COUNT) {
		b->store_count = store > 0 ? store : DEFAULT_STORE_COUNT;
		b->reveal_count = reveal > 0 ? reveal : DEFAULT_REVEAL_COUNT;
	} else {
		b->store_count = store > 0 ? store : (b->mem_count / 10 > 0 ? b->mem_count / 10 : 1);
		b->reveal_count = reveal > 0 ? reveal
					     : (b->mem_count / 100 > 0 ? b->mem_count / 100 : 1);
	}
	return 0;
}

/* ---- machine description ---- */

static void cpu_model(char *out, size_t cap)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");
	snprintf(out, cap, "unknown CPU");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *colon = strchr(line, ':');
		if (colon == NULL || strncmp(line, "model name", 10) != 0)
			continue;
		colon++;
		while (*colon == ' ' || *colon == '\t')
			colon++;
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(out, cap, "%s", colon);
		break;
	}
	fclose(f);
}

static void load_average(char *out, size_t cap)
{
	char line[128];
	FILE *f = fopen("/proc/loadavg", "r");
	snprintf(out, cap, "unknown");
	if (f == NULL)
		return;
	if (fgets(line, sizeof(line), f) != NULL) {
		/* the first three fields: 1, 5 and 15 minute averages */
		char *p = line;
		for (int fields = 0; *p != '\0'; p++)
			if (*p == ' ' && ++fields == 3)
				break;
		*p = '\0';
		snprintf(out, cap, "%s", line);
	}
	fclose(f);
}

static const char *fs_name(const char *path)
{
	struct statfs sf;
	if (statfs(path, &sf) != 0)
		return "unknown";
	switch ((unsigned long)sf.f_type) {
	case 0xEF53UL: return "ext2/3/4";
	case 0x01021994UL: return "tmpfs (fsync is free: store rows are optimistic)";
	case 0x58465342UL: return "xfs";
	case 0x9123683EUL: return "btrfs";
	case 0x794C7630UL: return "overlayfs";
	case 0x2FC12FC1UL: return "zfs";
	default: return "other";
	}
}

static void print_machine(const struct bench *b)
{
	char cpu[256], load[128], date[64];
	struct utsname un;
	time_t t = time(NULL);
	struct tm tm;

	cpu_model(cpu, sizeof(cpu));
	load_average(load, sizeof(load));
	if (gmtime_r(&t, &tm) == NULL || strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
		snprintf(date, sizeof(date), "unknown");
	printf("bench_vault: iotvault %s vault throughput, 16-byte keys\n", IOTVAULT_VERSION);
	printf("date:       %s\n", date);
	printf("machine:    %ld CPUs online, %s", sysconf(_SC_NPROCESSORS_ONLN), cpu);
	if (uname(&un) == 0)
		printf(", %s %s %s", un.sysname, un.release, un.machine);
	printf("\nload avg:   %s (1/5/15 min, at start)\n", load);
	printf("libraries:  libsodium %s, nettle %d.%d, SQLite %s\n", sodium_version_string(),
	       nettle_version_major(), nettle_version_minor(), sqlite3_libversion());
	printf("build:      %s\n",
	       BENCH_BUILD_TYPE[0] != '\0' ? BENCH_BUILD_TYPE : "no CMAKE_BUILD_TYPE");
	printf("data dir:   %s on %s; SQLite WAL, synchronous=FULL (as the store opens it)\n",
	       b->dir, fs_name(b->dir));
	printf("provider:   file (master key in memory, AES-256-GCM wrap)\n");
	printf("counts:     %ld per in-memory row, %ld stored seals (%d per transaction), "
	       "%ld reveals\n\n",
	       b->mem_count, b->store_count, SEAL_BATCH, b->reveal_count);
}

/* ---- set-up and tear-down ---- */

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	if (remove(path) != 0) {
		fprintf(stderr, "bench_vault: cannot remove %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int make_dir(struct bench *b)
{
	const char *tmp = getenv("TMPDIR");
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	if (snprintf(b->dir, sizeof(b->dir), "%s/iotvault-bench.XXXXXX", tmp) >= (int)sizeof(b->dir)) {
		fprintf(stderr, "bench_vault: TMPDIR is too long\n");
		return IV_ERR_INVALID;
	}
	/* mkdtemp creates it 0700, as the file provider insists */
	if (mkdtemp(b->dir) == NULL) {
		fprintf(stderr, "bench_vault: mkdtemp %s: %s\n", b->dir, strerror(errno));
		return IV_ERR_IO;
	}
	b->have_dir = 1;
	return 0;
}

static int setup(struct bench *b)
{
	struct mk_provider *prov = NULL;
	char *db = NULL;
	struct writer w;
	int r;

	if ((r = make_dir(b)) != 0)
		return r;
	if ((r = config_defaults(&b->cfg, b->dir)) != 0)
		return fail("config_defaults", r);
	b->have_cfg = 1;
	if ((db = config_path(&b->cfg, b->cfg.db_path)) == NULL)
		return fail("config_path", IV_ERR_NOMEM);
	r = store_sqlite_open(db, 1, b->cfg.busy_timeout_ms, &b->st);
	free(db);
	if (r != 0)
		return fail("store_sqlite_open", r);
	if ((r = mk_provider_file_new(&b->cfg, &prov)) != 0)
		return fail("mk_provider_file_new", r);
	/* vault_create takes the provider, on failure too */
	if ((r = vault_create(&b->cfg, b->st, prov, &bench_actor, &b->v)) != 0)
		return fail("vault_create", r);

	if ((b->key = secbuf_new(KEY_LEN)) == NULL || (b->opened = secbuf_new(KEY_LEN)) == NULL)
		return fail("secbuf_new", IV_ERR_NOMEM);
	random_bytes(b->key->data, b->key->len);
	{
		struct secbuf *raw_key = secbuf_new(AEAD_KEY_LEN);
		if (raw_key == NULL)
			return fail("secbuf_new", IV_ERR_NOMEM);
		random_bytes(raw_key->data, raw_key->len);
		b->raw = aead_key_new(raw_key->data);
		secbuf_free(raw_key);
		if (b->raw == NULL)
			return fail("aead_key_new", IV_ERR_NOMEM);
	}
	if ((b->rec = malloc(sizeof(*b->rec))) == NULL) /* ciphertext only */ /* lint:not-secret */
		return fail("malloc", IV_ERR_NOMEM);

	/* the same AAD the vault builds for a device's app_key (see vault.h) */
	writer_init(&w, b->aad, sizeof(b->aad));
	if ((r = writer_put_string_field(&w, "iotvault/secret/1")) ||
	    (r = writer_put_u64be(&w, 1)) || (r = writer_put_string_field(&w, "device")) ||
	    (r = writer_put_u64be(&w, 1)) || (r = writer_put_string_field(&w, "app_key")) ||
	    (r = writer_put_u32be(&w, SECRET_FORMAT_V1)))
		return fail("building the AAD", r);
	b->aad_len = w.len;
	return 0;
}

static void teardown(struct bench *b)
{
	free(b->rec);
	aead_key_free(b->raw);
	secbuf_free(b->opened);
	secbuf_free(b->key);
	vault_free(b->v);
	store_close(b->st);
	if (b->have_cfg)
		config_free(&b->cfg);
	if (b->have_dir && nftw(b->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "bench_vault: could not remove %s completely\n", b->dir);
}

/* ---- in memory ---- */

static int bench_raw(struct bench *b)
{
	uint8_t sealed[AEAD_NONCE_LEN + KEY_LEN + AEAD_TAG_LEN];
	uint64_t t0, t1;
	long n = b->mem_count;
	int r;

	if ((r = now_ns(&t0)) != 0)
		return r;
	for (long i = 0; i < n; i++) {
		/* a fresh nonce per seal, from the CSPRNG, as the vault does */
		random_bytes(sealed, AEAD_NONCE_LEN);
		aead_seal(b->raw, sealed, b->aad, b->aad_len, b->key->data, KEY_LEN,
			  sealed + AEAD_NONCE_LEN);
	}
	if ((r = now_ns(&t1)) != 0)
		return r;
	b->raw_seal_ns = print_row("raw AES-256-GCM seal (+ 12 B nonce)", n, t1 - t0);

	if ((r = now_ns(&t0)) != 0)
		return r;
	for (long i = 0; i < n; i++)
		if ((r = aead_open(b->raw, sealed, b->aad, b->aad_len, sealed + AEAD_NONCE_LEN,
				   KEY_LEN + AEAD_TAG_LEN, b->opened->data)) != 0)
			return fail("aead_open", r);
	if ((r = now_ns(&t1)) != 0)
		return r;
	b->raw_open_ns = print_row("raw AES-256-GCM open", n, t1 - t0);
	if (secmem_equal(b->opened->data, b->key->data, KEY_LEN) != 0)
		return fail("raw round trip", IV_ERR_AUTH_TAG);
	secmem_wipe(b->opened->data, KEY_LEN);
	return 0;
}

static int bench_envelope(struct bench *b)
{
	const struct secret_ref ref = {1, "device", 1, "app_key"};
	struct secbuf *out = NULL;
	uint64_t t0, t1;
	double seal_ns, open_ns;
	long n = b->mem_count;
	int r, same;

	if ((r = now_ns(&t0)) != 0)
		return r;
	for (long i = 0; i < n; i++)
		if ((r = vault_envelope_seal(b->v, &ref, b->key->data, KEY_LEN, b->rec)) != 0)
			return fail("vault_envelope_seal", r);
	if ((r = now_ns(&t1)) != 0)
		return r;
	seal_ns = print_row("vault_envelope_seal", n, t1 - t0);

	if ((r = now_ns(&t0)) != 0)
		return r;
	for (long i = 0; i < n; i++) {
		if ((r = vault_envelope_open(b->v, &ref, b->rec, &out)) != 0)
			return fail("vault_envelope_open", r);
		if (i + 1 < n) {
			secbuf_free(out);
			out = NULL;
		}
	}
	if ((r = now_ns(&t1)) != 0) {
		secbuf_free(out);
		return r;
	}
	open_ns = print_row("vault_envelope_open (secbuf alloc + free)", n, t1 - t0);
	same = out->len == KEY_LEN && secmem_equal(out->data, b->key->data, KEY_LEN) == 0;
	secbuf_free(out);
	if (!same)
		return fail("envelope round trip", IV_ERR_AUTH_TAG);
	printf("%-50s %9s %12s %9.1fx\n", "  envelope/raw, seal (time per op)", "", "",
	       seal_ns / b->raw_seal_ns);
	printf("%-50s %9s %12s %9.1fx\n", "  envelope/raw, open (time per op)", "", "",
	       open_ns / b->raw_open_ns);
	return 0;
}

/* The parts an envelope operation is made of, timed alone, to show where its
 * time goes. */
static int bench_components(struct bench *b)
{
	uint8_t dek[AEAD_KEY_LEN];
	struct aead_key *k;
	uint64_t t0, t1;
	long n = b->mem_count;
	int r;

	if ((r = now_ns(&t0)) != 0)
		return r;
	for (long i = 0; i < n; i++)
		random_bytes(b->opened->data, KEY_LEN);
	if ((r = now_ns(&t1)) != 0)
		return r;
	print_row("random_bytes (libsodium CSPRNG call)", n, t1 - t0);
	secmem_wipe(b->opened->data, KEY_LEN);

	/* a fixed, non-secret pattern: only the schedule's cost is of interest */
	memset(dek, 0x5c, sizeof(dek));
	if ((k = aead_key_new(dek)) == NULL)
		return fail("aead_key_new", IV_ERR_NOMEM);
	if ((r = now_ns(&t0)) != 0)
		goto out;
	for (long i = 0; i < n; i++) {
		dek[i & 31] ^= 1;
		aead_key_set(k, dek);
	}
	if ((r = now_ns(&t1)) != 0)
		goto out;
	print_row("aead_key_set (AES-256 + GHASH key setup)", n, t1 - t0);

	/* some twenty syscalls a buffer: a tenth of the count tells as much, sooner */
	n = n / 10 > 0 ? n / 10 : 1;
	if ((r = now_ns(&t0)) != 0)
		goto out;
	for (long i = 0; i < n; i++) {
		struct secbuf *s = secbuf_new(KEY_LEN);
		if (s == NULL) {
			r = fail("secbuf_new", IV_ERR_NOMEM);
			goto out;
		}
		secbuf_free(s);
	}
	if ((r = now_ns(&t1)) != 0)
		goto out;
	print_row("secbuf_new(16) + secbuf_free (2 x sodium_malloc)", n, t1 - t0);

	/* one guarded allocation: what a secbuf would cost if its small header
	 * (a pointer and a length, not secret) came from malloc */
	if ((r = now_ns(&t0)) != 0)
		goto out;
	for (long i = 0; i < n; i++) {
		void *p = secmem_alloc(KEY_LEN);
		if (p == NULL) {
			r = fail("secmem_alloc", IV_ERR_NOMEM);
			goto out;
		}
		secmem_free(p);
	}
	if ((r = now_ns(&t1)) != 0)
		goto out;
	print_row("secmem_alloc(16) + secmem_free (1 x sodium_malloc)", n, t1 - t0);
	/* success */
	r = 0;
out:
	aead_key_free(k);
	return r;
}

/* ---- through SQLite ---- */

static int bench_stored_seal(struct bench *b)
{
	struct store *st = b->st;
	struct secret_ref ref = {1, "device", 0, "app_key"};
	uint64_t t0, t1;
	long n = b->store_count;
	int r, in_tx = 0;

	if ((r = now_ns(&t0)) != 0)
		return r;
	for (long i = 0; i < n; i++) {
		if (!in_tx) {
			if ((r = st->ops->begin(st, 1)) != 0) {
				r = fail("store begin", r);
				goto out;
			}
			in_tx = 1;
		}
		ref.owner_id = i + 1;
		if ((r = vault_seal(b->v, &ref, b->key->data, KEY_LEN)) != 0) {
			r = fail("vault_seal", r);
			goto out;
		}
		if ((i + 1) % SEAL_BATCH == 0 || i + 1 == n) {
			in_tx = 0;
			if ((r = st->ops->commit(st)) != 0) {
				r = fail("store commit", r);
				goto out;
			}
		}
	}
	if ((r = now_ns(&t1)) != 0)
		goto out;
	print_row("vault_seal into SQLite (1000 per commit)", n, t1 - t0);
	/* success */
	r = 0;
out:
	if (in_tx)
		st->ops->rollback(st);
	return r;
}

static int bench_point_read(struct bench *b)
{
	struct secret_ref ref = {1, "device", 0, "app_key"};
	uint64_t t0, t1;
	long n = b->store_count;
	int r;

	if ((r = now_ns(&t0)) != 0)
		return r;
	for (long i = 0; i < n; i++) {
		ref.owner_id = i % b->store_count + 1;
		if ((r = vault_secret_exists(b->v, &ref)) != 0)
			return fail("vault_secret_exists", r);
	}
	if ((r = now_ns(&t1)) != 0)
		return r;
	print_row("vault_secret_exists (one row read)", n, t1 - t0);
	return 0;
}

static int bench_audit(struct bench *b)
{
	struct audit_event ev = {1, "bench.audit", "device:0/app_key", "success", NULL};
	uint64_t t0, t1;
	long n = b->reveal_count;
	int r;

	if ((r = now_ns(&t0)) != 0)
		return r;
	for (long i = 0; i < n; i++)
		if ((r = audit_append_now(b->v, &bench_actor, &ev)) != 0)
			return fail("audit_append_now", r);
	if ((r = now_ns(&t1)) != 0)
		return r;
	print_row("audit_append_now (one record, own commit)", n, t1 - t0);
	return 0;
}

static int bench_reveal(struct bench *b)
{
	struct secret_ref ref = {1, "device", 0, "app_key"};
	struct secbuf *out = NULL;
	uint64_t t0, t1;
	long n = b->reveal_count;
	int r, same = 1;

	if ((r = now_ns(&t0)) != 0)
		return r;
	for (long i = 0; i < n; i++) {
		ref.owner_id = i % b->store_count + 1;
		if ((r = vault_reveal(b->v, &bench_actor, &ref, &out)) != 0)
			return fail("vault_reveal", r);
		if (out->len != KEY_LEN || secmem_equal(out->data, b->key->data, KEY_LEN) != 0)
			same = 0;
		secbuf_free(out);
		out = NULL;
	}
	if ((r = now_ns(&t1)) != 0)
		return r;
	print_row("vault_reveal (audited, then opened)", n, t1 - t0);
	if (!same)
		return fail("reveal round trip", IV_ERR_AUTH_TAG);
	return 0;
}

static int check_audit_chain(struct bench *b)
{
	struct audit_verify_result res;
	int r = audit_verify(b->v, &res);
	if (r != 0)
		return fail("audit_verify", r);
	printf("\naudit chain: %lld records, verified\n", (long long)res.records);
	return 0;
}

int main(int argc, char **argv)
{
	struct bench b;
	uint64_t start = 0, end = 0;
	int r;

	memset(&b, 0, sizeof(b));
	if ((r = parse_args(&b, argc, argv)) != 0)
		return r > 0 ? 0 : 2;
	if (secmem_init() != 0) {
		fprintf(stderr, "bench_vault: libsodium failed to initialise\n");
		return 1;
	}
	log_set_level(LOG_LEVEL_WARNING);
	if ((r = now_ns(&start)) != 0)
		goto out;
	if ((r = setup(&b)) != 0)
		goto out;
	print_machine(&b);
	print_header();
	print_section("in memory: 16-byte key, same plaintext and AAD for raw and envelope");
	if ((r = bench_raw(&b)) != 0 || (r = bench_envelope(&b)) != 0)
		goto out;
	print_section("parts of an envelope operation");
	if ((r = bench_components(&b)) != 0)
		goto out;
	print_section("through SQLite (file provider, WAL, synchronous=FULL)");
	if ((r = bench_stored_seal(&b)) != 0 || (r = bench_point_read(&b)) != 0 ||
	    (r = bench_audit(&b)) != 0 || (r = bench_reveal(&b)) != 0)
		goto out;
	if ((r = check_audit_chain(&b)) != 0)
		goto out;
	if ((r = now_ns(&end)) != 0)
		goto out;
	printf("total run time: %.1f s\n", (double)(end - start) / 1e9);
	/* success */
	r = 0;
out:
	teardown(&b);
	if (r != 0)
		fprintf(stderr, "bench_vault: aborted\n");
	return r == 0 ? 0 : 1;
}
