/* libFuzzer target for the weak-key checker, which runs on every key that
 * arrives through the API, the command line and bulk import. Input: DevEUI
 * (8 bytes) || JoinEUI (8 bytes) || key (any length; 1..64 is accepted).
 * Oracles: the return code matches the length contract; the prepared and
 * per-call derivations agree; truncated output agrees with full output; no
 * message carries a run of hex digits; every rule is a listed rule; the
 * fingerprint is deterministic. */
#include "iotvault/hygiene.h"
#include "iotvault/secmem.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_KEY_MAX 128

static int rule_listed(const char *rule)
{
	for (size_t i = 0; i < hygiene_rule_count(); i++)
		if (strcmp(hygiene_rule_get(i)->id, rule) == 0)
			return 1;
	return 0;
}

/* A message never carries key material: no 8 hex digits in a row. */
static void check_message(const struct hygiene_finding *f)
{
	size_t len = strnlen(f->message, sizeof(f->message));
	size_t run = 0;
	if (len == 0 || len >= sizeof(f->message) || !rule_listed(f->rule))
		abort();
	for (size_t i = 0; i < len; i++) {
		run = isxdigit((unsigned char)f->message[i]) ? run + 1 : 0;
		if (run >= 8)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int initialised;
	static const uint8_t fp_key[HYGIENE_FP_KEY_LEN] = {1, 2, 3};
	struct hygiene_context ctx, prepared;
	struct hygiene_finding f[HYGIENE_FINDINGS_MAX], g[HYGIENE_FINDINGS_MAX], one[1];
	char identity[FUZZ_KEY_MAX + 1];
	const uint8_t *key;
	size_t len, n = 0, n2 = 0, n3 = 0;
	uint8_t fp1[HYGIENE_FP_LEN], fp2[HYGIENE_FP_LEN];
	int r, valid;

	if (!initialised) {
		if (secmem_init() != 0)
			abort();
		initialised = 1;
	}
	if (size < 2 * EUI_LEN)
		return 0;
	key = data + 2 * EUI_LEN;
	len = size - 2 * EUI_LEN;
	if (len > FUZZ_KEY_MAX)
		len = FUZZ_KEY_MAX;
	valid = len >= 1 && len <= HYGIENE_KEY_MAX_LEN;

	hygiene_context_init(&ctx);
	ctx.flags = HYGIENE_HAVE_DEV_EUI | HYGIENE_HAVE_JOIN_EUI;
	memcpy(ctx.dev_eui, data, EUI_LEN);
	memcpy(ctx.join_eui, data + EUI_LEN, EUI_LEN);
	/* the key's own bytes as identity and endpoint, up to a NUL, so that
	 * the identity rules see matching input */
	memcpy(identity, key, len);
	identity[len] = '\0';
	ctx.psk_identity = identity;
	ctx.endpoint = identity;

	r = hygiene_check_key(key, len, &ctx, f, HYGIENE_FINDINGS_MAX, &n);
	if ((r == 0) != valid || (r != 0 && n != 0) || n > HYGIENE_FINDINGS_MAX)
		abort();

	prepared = ctx;
	prepared.derived = NULL;
	if (hygiene_context_prepare(&prepared) != 0)
		abort();
	if (hygiene_check_key(key, len, &prepared, g, HYGIENE_FINDINGS_MAX, &n2) != r || n2 != n)
		abort();
	hygiene_context_clear(&prepared);

	if (hygiene_check_key(key, len, &ctx, one, 1, &n3) != r || n3 != n)
		abort();
	for (size_t i = 0; i < n; i++) {
		check_message(&f[i]);
		if (strcmp(f[i].rule, g[i].rule) != 0 || strcmp(f[i].message, g[i].message) != 0)
			abort();
	}
	if (n > 0 && strcmp(one[0].rule, f[0].rule) != 0)
		abort();

	/* without identifiers: a subset of the findings */
	if (hygiene_check_key(key, len, NULL, g, HYGIENE_FINDINGS_MAX, &n2) != r || n2 > n)
		abort();

	r = hygiene_fingerprint(fp_key, "psk", key, len, fp1);
	if ((r == 0) != valid)
		abort();
	if (r == 0 && (hygiene_fingerprint(fp_key, "app_key", key, len, fp2) != 0 ||
		       memcmp(fp1, fp2, sizeof(fp1)) != 0))
		abort();
	return 0;
}
