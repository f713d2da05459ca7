/* Shared between the hygiene rule files: the findings collector, the
 * dictionary lookup, and branch-free byte helpers that keep the checks from
 * leaking the key through timing. */
#ifndef IOTVAULT_HYGIENE_INTERNAL_H
#define IOTVAULT_HYGIENE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "iotvault/hygiene.h"

/* Gathers findings for one check: each rule at most once, at most MAX stored,
 * all counted. */
struct hygiene_collector {
	struct hygiene_finding *out;
	size_t max;
	size_t n;
	const char *seen[HYGIENE_FINDINGS_MAX];
};

void hygiene_collect(struct hygiene_collector *c, const char *rule, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Dictionary of published and vendor-default keys (dictionary.c). REV is KEY
 * in reversed byte order (keys pasted LSB-first). */
void hygiene_dictionary_check(const uint8_t *key, const uint8_t *rev, size_t len,
			      struct hygiene_collector *c);
size_t hygiene_dictionary_rule_count(void);
const struct hygiene_rule *hygiene_dictionary_rule_get(size_t i);

/* Candidates derived from a device's identifiers (derived.c): what a key
 * would be if it were made from the DevEUI, JoinEUI, endpoint or identity.
 * They become key material the moment a key equals one, so they live in
 * guarded memory (prepared) or are wiped after the call (on the stack). */
#define HYGIENE_DERIVED_MAX 72

struct hygiene_candidate {
	const char *rule;
	const char *what;   /* exact candidates: "the DevEUI twice" */
	const char *alg;    /* digests: "MD5"; NULL for exact candidates */
	const char *source; /* digests: "DevEUI" */
	const char *enc;    /* digests: "as 8 bytes" */
	const char *order;  /* "" or the byte-order note */
	uint8_t len;        /* exact length, or digest length */
	uint8_t bytes[32];
};

struct hygiene_derived {
	unsigned flags;
	uint8_t dev_eui[EUI_LEN];
	uint8_t join_eui[EUI_LEN];
	int has_endpoint, has_identity;
	size_t endpoint_len, identity_len;
	char endpoint[HYGIENE_IDENTITY_MAX + 1];
	char identity[HYGIENE_IDENTITY_MAX + 1];
	size_t count;
	struct hygiene_candidate c[HYGIENE_DERIVED_MAX];
};

/* Fills D from CTX's identifiers. IV_ERR_INVALID for an over-long string. */
int hygiene_derived_compute(struct hygiene_derived *d, const struct hygiene_context *ctx) IV_WUR;
/* 1 when D was computed from exactly CTX's current identifiers. */
int hygiene_derived_matches(const struct hygiene_derived *d, const struct hygiene_context *ctx);
void hygiene_derived_check(const struct hygiene_derived *d, const uint8_t *key, size_t len,
			   struct hygiene_collector *c);
size_t hygiene_derived_rule_count(void);
const struct hygiene_rule *hygiene_derived_rule_get(size_t i);

/* 1 when the N bytes at A and B are equal, 0 otherwise; time depends on N
 * only. Eight bytes at a time: the checker runs dozens of these per key. */
static inline uint32_t hygiene_ct_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint64_t d = 0, x, y;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		d |= x ^ y;
	}
	for (; i < n; i++)
		d |= (uint64_t)(a[i] ^ b[i]);
	return (uint32_t)(((d | (0 - d)) >> 63) ^ 1u);
}

/* 1 when LO <= C <= HI, without a branch on C. */
static inline uint32_t hygiene_ct_in_range(uint8_t c, uint8_t lo, uint8_t hi)
{
	uint32_t a = (uint32_t)c - lo;
	uint32_t b = (uint32_t)hi - c;
	return (~(a | b) >> 31) & 1u;
}

#endif
