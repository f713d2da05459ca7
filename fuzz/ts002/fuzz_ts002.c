/* libFuzzer target for the join server's TS002 JSON layer
 * (src/lorawan/joinserver.c): every input is one message body, handled by
 * joinserver_handle() exactly as the backend listener hands it over, by a
 * sender that passed TLS with a valid bearer token. The service behind it is
 * real and set up once per process: a private temporary data directory, the
 * SQLite store, the file master-key provider, a vault, an NS peer and an AS
 * peer (both knowing the token), a LoRaWAN 1.0.3 and a 1.1 device with fixed
 * test keys, so the seeds reach JoinReq/RejoinReq success, AppSKeyReq and
 * HomeNSReq. Every answer must be a JSON object with Result.ResultCode a
 * string that serialises; anything else aborts (a finding).
 * FUZZ_TS002_VERBOSE=1 prints each answer's MessageType and ResultCode. */
#include "iotvault/auth.h"
#include "iotvault/config.h"
#include "iotvault/device.h"
#include "iotvault/http.h"
#include "iotvault/joinserver.h"
#include "iotvault/log.h"
#include "iotvault/mkprov.h"
#include "iotvault/secmem.h"
#include "iotvault/store.h"
#include "iotvault/store_lorawan.h"
#include "iotvault/vault.h"
#include "iotvault/vault_lorawan.h"

#include <ftw.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Not secrets: throwaway keys of a throwaway vault, also in the seed corpus. */
#define FUZZ_TOKEN "fuzz-ts002-bearer-token-0001"
#define FUZZ_NS_NETID "00A1B2"
#define FUZZ_AS_ID "AS-FUZZ"
#define FUZZ_JOIN_EUI "70B3D57ED0000F22"
#define FUZZ_DEV_EUI_10 "70B3D57ED0000F01"
#define FUZZ_DEV_EUI_11 "70B3D57ED0000F02"
static const uint8_t fuzz_app_key[16] = {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
					 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c};
static const uint8_t fuzz_nwk_key[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
					 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

static struct service svc;
static char data_dir[64];
static int64_t device_ids[2];

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	vault_free(svc.v);
	store_close(svc.st);
	config_free(&svc.cfg);
	if (data_dir[0])
		nftw(data_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int add_peer(const char *name, const char *kind, const char *sender_id, int64_t *id)
{
	struct peer_record p;
	struct sha256_ctx sc;
	int r;

	memset(&p, 0, sizeof(p));
	snprintf(p.kind, sizeof(p.kind), "%s", kind);
	snprintf(p.name, sizeof(p.name), "%s", name);
	snprintf(p.sender_id, sizeof(p.sender_id), "%s", sender_id);
	snprintf(p.kek_label, sizeof(p.kek_label), "%s-kek", name);
	sha256_init(&sc);
	sha256_update(&sc, strlen(FUZZ_TOKEN), (const uint8_t *)FUZZ_TOKEN);
	sha256_digest(&sc, sizeof(p.token_sha256), p.token_sha256);
	p.has_token = 1;
	if ((r = svc.st->ops->lorawan->peer_insert(svc.st, &p)) != 0 ||
	    (r = vault_peer_kek_generate(svc.v, p.id)) != 0)
		return r;
	*id = p.id;
	return 0;
}

static int add_device(const struct audit_actor *actor, int64_t tenant_id, const char *dev_eui,
		      const char *mac, int64_t as_peer_id, int64_t *id)
{
	struct device_input in;
	struct device_record dev;
	char err[256];
	int r;

	memset(&in, 0, sizeof(in));
	in.kind = "lorawan";
	in.name = dev_eui;
	in.dev_eui = dev_eui;
	in.join_eui = FUZZ_JOIN_EUI;
	in.mac_version = mac;
	/* the seeds' MICs were made with published example keys: store them anyway */
	in.key_policy = KEY_POLICY_FLAG;
	in.app_key = secbuf_dup(fuzz_app_key, sizeof(fuzz_app_key));
	if (strcmp(mac, "1.1") == 0)
		in.nwk_key = secbuf_dup(fuzz_nwk_key, sizeof(fuzz_nwk_key));
	if (in.app_key == NULL || (strcmp(mac, "1.1") == 0 && in.nwk_key == NULL)) {
		r = IV_ERR_NOMEM;
		goto out;
	}
	if ((r = device_create(svc.v, actor, tenant_id, &in, &dev, err, sizeof(err))) != 0) {
		fprintf(stderr, "fuzz_ts002: device_create: %s\n", err);
		goto out;
	}
	*id = dev.id;
	r = svc.st->ops->lorawan->device_set_join_settings(svc.st, tenant_id, dev.id, as_peer_id,
							   FUZZ_NS_NETID);
out:
	secbuf_free(in.app_key);
	secbuf_free(in.nwk_key);
	return r;
}

static int setup(void)
{
	static const struct audit_actor actor = {"system", "fuzz", "local"};
	struct mk_provider *prov = NULL;
	char path[128];
	int64_t tenant_id = 0, ns_id = 0, as_id = 0;
	int r;

	if ((r = secmem_init()) != 0)
		return r;
	log_set_quiet(1);
	log_set_level(LOG_LEVEL_ERROR);
	snprintf(data_dir, sizeof(data_dir), "%s/iotvault-fuzz-ts002-XXXXXX",
		 getenv("TMPDIR") && strlen(getenv("TMPDIR")) < 24 ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(data_dir) == NULL || chmod(data_dir, 0700) != 0) {
		data_dir[0] = '\0';
		return IV_ERR_IO;
	}
	atexit(teardown);
	if ((r = config_defaults(&svc.cfg, data_dir)) != 0)
		return r;
	snprintf(path, sizeof(path), "%s/iotvault.db", data_dir);
	if ((r = store_sqlite_open(path, 1, 5000, &svc.st)) != 0 ||
	    (r = mk_provider_file_new(&svc.cfg, &prov)) != 0)
		return r;
	if ((r = vault_create(&svc.cfg, svc.st, prov, &actor, &svc.v)) != 0) {
		mk_provider_free(prov);
		return r;
	}
	if ((r = tenant_create(svc.v, &actor, "fuzz", &tenant_id)) != 0 ||
	    (r = add_peer("fuzz-ns", "ns", FUZZ_NS_NETID, &ns_id)) != 0 ||
	    (r = add_peer("fuzz-as", "as", FUZZ_AS_ID, &as_id)) != 0 ||
	    (r = add_device(&actor, tenant_id, FUZZ_DEV_EUI_10, "1.0.3", as_id, &device_ids[0])) != 0 ||
	    (r = add_device(&actor, tenant_id, FUZZ_DEV_EUI_11, "1.1", as_id, &device_ids[1])) != 0)
		return r;
	pthread_mutex_init(&svc.lock, NULL);
	return 0;
}

/* The answer contract of include/iotvault/joinserver.h. */
static void check_answer(json_t *answer)
{
	json_t *result, *code;
	char *text;

	if (!json_is_object(answer))
		abort();
	result = json_object_get(answer, "Result");
	code = json_object_get(result, "ResultCode");
	if (!json_is_object(result) || !json_is_string(code) || json_string_length(code) == 0)
		abort();
	if (!json_is_string(json_object_get(answer, "MessageType")))
		abort();
	/* a refused message carries no session material */
	if (strcmp(json_string_value(code), "Success") != 0 &&
	    (json_object_get(answer, "PHYPayload") || json_object_get(answer, "NwkSKey") ||
	     json_object_get(answer, "AppSKey") || json_object_get(answer, "FNwkSIntKey")))
		abort();
	/* what the listener will send */
	text = json_dumps(answer, JSON_COMPACT);
	if (text == NULL)
		abort();
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static const struct js_request_ctx ctx = {.source = "fuzz", .bearer = FUZZ_TOKEN};
	json_t *answer = NULL;
	uint8_t *copy;

	if (!ready) {
		if (setup() != 0) {
			fprintf(stderr, "fuzz_ts002: cannot set up the join server\n");
			abort();
		}
		ready = 1;
	}
	/* each input starts from the same nonce history, so a seed that joins
	 * once joins every time it is replayed */
	for (size_t i = 0; i < 2; i++)
		if (svc.st->ops->lorawan->dev_nonce_reset(svc.st, device_ids[i]) != 0)
			abort();
	/* an exact-size heap copy, so that ASan sees any read past the end */
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	if (size)
		memcpy(copy, data, size);
	joinserver_handle(&svc, &ctx, copy, size, &answer);
	free(copy);
	if (answer == NULL)
		abort();
	check_answer(answer);
	/* for corpus upkeep: which path each seed takes */
	if (getenv("FUZZ_TS002_VERBOSE"))
		fprintf(stderr, "fuzz_ts002: %s %s\n",
			json_string_value(json_object_get(answer, "MessageType")),
			json_string_value(json_object_get(json_object_get(answer, "Result"), "ResultCode")));
	json_decref(answer);
	return 0;
}
