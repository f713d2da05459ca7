/* The weak-key checker: runs the dictionary, the structural pattern rules and
 * the identifier derivations over one key and collects the findings.
 *
 * Pattern rules look at the whole key with fixed loops and branch-free
 * arithmetic, so the time taken says nothing about the key beyond which
 * rules fired. Each rule is tuned so that a uniformly random 16-byte key
 * trips it with probability below about 1e-10 (see the figures at each rule):
 * a million-key fleet of good keys then has no false finding. */
#include "hygiene_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "iotvault/secmem.h"

enum pattern_rule {
	PAT_LENGTH_SHORT,
	PAT_REPEATED_BYTE,
	PAT_REPEATED_UNIT,
	PAT_ASCENDING,
	PAT_DESCENDING,
	PAT_ARITHMETIC,
	PAT_FEW_DISTINCT,
	PAT_LONG_RUN,
	PAT_HEX_TEXT,
	PAT_PRINTABLE_TEXT,
	PAT_PRINTABLE_ASCII,
	PAT_RULE_COUNT
};

static const struct hygiene_rule pat_rules[PAT_RULE_COUNT] = {
	[PAT_LENGTH_SHORT] = {"length.short", "shorter than 16 bytes (128 bits)"},
	[PAT_REPEATED_BYTE] = {"pattern.repeated_byte", "one byte value repeated (e.g. all zeros)"},
	[PAT_REPEATED_UNIT] = {"pattern.repeated_unit",
			       "a short unit (2, 4, 8 ... bytes) repeated over the key"},
	[PAT_ASCENDING] = {"pattern.ascending", "bytes counting up by one"},
	[PAT_DESCENDING] = {"pattern.descending", "bytes counting down by one"},
	[PAT_ARITHMETIC] = {"pattern.arithmetic", "bytes in a constant step (e.g. 00 11 22 ...)"},
	[PAT_FEW_DISTINCT] = {"pattern.few_distinct_bytes",
			      "at most a quarter as many distinct byte values as bytes"},
	[PAT_LONG_RUN] = {"pattern.long_run", "half the key or more is one repeated byte"},
	[PAT_HEX_TEXT] = {"pattern.hex_text", "ASCII hex digits: a key typed as text"},
	[PAT_PRINTABLE_TEXT] = {"pattern.printable_text",
				"words with optional leading or trailing digits: a passphrase"},
	[PAT_PRINTABLE_ASCII] = {"pattern.printable_ascii",
				 "printable ASCII only (keys of 24 bytes or more)"},
};

#define PRULE(r) (pat_rules[(r)].id)

/* Structure rules need a little length to mean anything; shorter keys are
 * already flagged as short. */
#define PATTERN_MIN_LEN 8
/* All-printable is only a finding on longer keys: a random 16-byte key is
 * printable with probability (95/256)^16 ~ 1.3e-7, too often for a fleet;
 * at 24 bytes it is 4.6e-11. */
#define PRINTABLE_ASCII_MIN_LEN 24

void hygiene_collect(struct hygiene_collector *c, const char *rule, const char *fmt, ...)
{
	va_list ap;

	for (size_t i = 0; i < c->n && i < HYGIENE_FINDINGS_MAX; i++)
		if (strcmp(c->seen[i], rule) == 0)
			return;
	if (c->n >= HYGIENE_FINDINGS_MAX)
		return; /* more rules than exist: cannot happen */
	c->seen[c->n] = rule;
	if (c->n < c->max) {
		struct hygiene_finding *f = &c->out[c->n];
		f->rule = rule;
		va_start(ap, fmt);
		vsnprintf(f->message, sizeof(f->message), fmt, ap);
		va_end(ap);
	}
	c->n++;
}

/* Branch-free select: MASK is all ones or all zeros. */
static inline uint32_t ct_select(uint32_t mask, uint32_t a, uint32_t b)
{
	return (a & mask) | (b & ~mask);
}

static inline uint32_t ct_byte_eq(uint8_t a, uint8_t b)
{
	return (((uint32_t)(a ^ b) - 1u) >> 8) & 1u;
}

/* Character classes of the passphrase shape ^D* W* D* P?$ below. */
enum text_class { TC_DIGIT, TC_WORD, TC_END_PUNCT, TC_OTHER };
enum text_state { TS_LEAD_DIGITS, TS_WORD, TS_TRAIL_DIGITS, TS_END, TS_REJECT, TS_COUNT };

static const uint8_t text_next[TS_COUNT][4] = {
	[TS_LEAD_DIGITS] = {TS_LEAD_DIGITS, TS_WORD, TS_END, TS_REJECT},
	[TS_WORD] = {TS_TRAIL_DIGITS, TS_WORD, TS_END, TS_REJECT},
	[TS_TRAIL_DIGITS] = {TS_TRAIL_DIGITS, TS_REJECT, TS_END, TS_REJECT},
	[TS_END] = {TS_REJECT, TS_REJECT, TS_REJECT, TS_REJECT},
	[TS_REJECT] = {TS_REJECT, TS_REJECT, TS_REJECT, TS_REJECT},
};

struct pattern_facts {
	uint32_t repeated_byte;
	uint32_t period;   /* smallest period 2..len/2, 0 if none */
	uint32_t constant_step;
	uint8_t step;
	uint32_t distinct;
	uint32_t longest_run;
	uint32_t hex_text;
	uint32_t text_shape;
	uint32_t printable;
};

static void pattern_facts(const uint8_t *key, size_t len, struct pattern_facts *f)
{
	uint32_t seen[8] = {0};
	uint32_t diff, run = 1, longest = 1, state = TS_LEAD_DIGITS;
	uint32_t hex_all = 1, printable_all = 1;

	/* one repeated byte */
	diff = 0;
	for (size_t i = 1; i < len; i++)
		diff |= (uint32_t)(key[i] ^ key[0]);
	f->repeated_byte = ((diff - 1u) >> 8) & 1u;

	/* smallest period p (key[i] == key[i+p] for all i), scanning down so
	 * the last hit is the smallest */
	f->period = 0;
	for (size_t p = len / 2; p >= 2; p--) {
		uint32_t periodic;
		diff = 0;
		for (size_t i = 0; i + p < len; i++)
			diff |= (uint32_t)(key[i] ^ key[i + p]);
		periodic = ((diff - 1u) >> 8) & 1u;
		f->period = ct_select(0u - periodic, (uint32_t)p, f->period);
	}

	/* constant step between neighbours (wrapping mod 256) */
	f->step = (uint8_t)(key[1] - key[0]);
	diff = 0;
	for (size_t i = 1; i + 1 < len; i++)
		diff |= (uint32_t)((uint8_t)(key[i + 1] - key[i]) ^ f->step);
	f->constant_step = ((diff - 1u) >> 8) & 1u;

	/* distinct byte values, longest run, text classes */
	for (size_t i = 0; i < len; i++) {
		uint8_t b = key[i];
		uint32_t digit = hygiene_ct_in_range(b, '0', '9');
		uint32_t alpha = hygiene_ct_in_range(b, 'a', 'z') | hygiene_ct_in_range(b, 'A', 'Z');
		uint32_t hexletter = hygiene_ct_in_range(b, 'a', 'f') | hygiene_ct_in_range(b, 'A', 'F');
		uint32_t sep = ct_byte_eq(b, ' ') | ct_byte_eq(b, '-') | ct_byte_eq(b, '_') |
			       ct_byte_eq(b, '.');
		uint32_t end_punct = ct_byte_eq(b, '!') | ct_byte_eq(b, '?') | ct_byte_eq(b, '#') |
				     ct_byte_eq(b, '*') | ct_byte_eq(b, '@') | ct_byte_eq(b, '$');
		uint32_t word = alpha | sep;
		/* classes are exclusive; none of them means TC_OTHER */
		uint32_t cls = TC_OTHER - (TC_OTHER - TC_DIGIT) * digit -
			       (TC_OTHER - TC_WORD) * word - (TC_OTHER - TC_END_PUNCT) * end_punct;

		seen[b >> 5] |= 1u << (b & 31);
		hex_all &= digit | hexletter;
		printable_all &= hygiene_ct_in_range(b, 0x20, 0x7e);
		state = text_next[state][cls];
		if (i > 0) {
			uint32_t same = ct_byte_eq(b, key[i - 1]);
			uint32_t longer;
			run = ct_select(0u - same, run + 1, 1);
			longer = (longest - run) >> 31; /* run > longest */
			longest = ct_select(0u - longer, run, longest);
		}
	}
	f->distinct = 0;
	for (size_t i = 0; i < 8; i++)
		f->distinct += (uint32_t)__builtin_popcount(seen[i]);
	f->longest_run = longest;
	f->hex_text = hex_all;
	f->text_shape = (uint32_t)(state != TS_REJECT);
	f->printable = printable_all;
	secmem_wipe(seen, sizeof(seen));
}

static void pattern_check(const uint8_t *key, size_t len, struct hygiene_collector *c)
{
	struct pattern_facts f;

	if (len < PATTERN_MIN_LEN)
		return;
	pattern_facts(key, len, &f);

	/* 256 * 2^-8(len-1): 2^-112 at 16 bytes. The most specific finding:
	 * the other structure rules would all fire too and say less. */
	if (f.repeated_byte) {
		hygiene_collect(c, PRULE(PAT_REPEATED_BYTE),
				"the key is one byte value repeated %zu times", len);
		goto out;
	}
	/* period p: 2^-8(len-p) <= 2^-64 at 16 bytes */
	if (f.period)
		hygiene_collect(c, PRULE(PAT_REPEATED_UNIT),
				"the key is a %u-byte unit repeated over its %zu bytes", f.period,
				len);
	/* 2^-8(len-2) for each step */
	if (f.constant_step) {
		if (f.step == 1)
			hygiene_collect(c, PRULE(PAT_ASCENDING),
					"the key's bytes count up by one from byte to byte");
		else if (f.step == 0xff)
			hygiene_collect(c, PRULE(PAT_DESCENDING),
					"the key's bytes count down by one from byte to byte");
		else
			hygiene_collect(c, PRULE(PAT_ARITHMETIC),
					"the key's bytes follow a constant step from byte to byte");
	}
	/* at most 4 distinct in 16: C(256,4) 4^16 / 256^16 ~ 2e-21 */
	if (f.distinct <= len / 4)
		hygiene_collect(c, PRULE(PAT_FEW_DISTINCT),
				"the key has only %u distinct byte values in %zu bytes", f.distinct,
				len);
	/* a run of 8 in 16: ~9 * 2^-56 */
	if (f.longest_run >= len / 2)
		hygiene_collect(c, PRULE(PAT_LONG_RUN),
				"%u consecutive bytes of the key's %zu are one repeated value",
				f.longest_run, len);
	/* (22/256)^16 ~ 1e-17 */
	if (f.hex_text) {
		hygiene_collect(c, PRULE(PAT_HEX_TEXT),
				"the key consists of ASCII hex digits: hex text entered as the key "
				"bytes instead of being decoded");
		goto out;
	}
	/* letters and separators with digits only at the ends and one optional
	 * final punctuation mark: ~(56/256)^16 * 1.6 ~ 4.5e-11 at 16 bytes. This
	 * catches "ZigBeeAlliance09" or "MySecretKey12345"; mixed strings such
	 * as "Pa55-w0rd!x" at 16 bytes are not judged, see PRINTABLE_ASCII_MIN_LEN. */
	if (f.text_shape) {
		hygiene_collect(c, PRULE(PAT_PRINTABLE_TEXT),
				"the key is printable text (words, digits at the ends): a "
				"passphrase, not random bytes");
		goto out;
	}
	if (f.printable && len >= PRINTABLE_ASCII_MIN_LEN)
		hygiene_collect(c, PRULE(PAT_PRINTABLE_ASCII),
				"all %zu bytes of the key are printable ASCII: a passphrase, not "
				"random bytes",
				len);
out:
	secmem_wipe(&f, sizeof(f));
}

int hygiene_check_key(const uint8_t *key, size_t len, const struct hygiene_context *ctx,
		      struct hygiene_finding *out, size_t max, size_t *n)
{
	struct hygiene_collector c;
	uint8_t rev[HYGIENE_KEY_MAX_LEN];
	struct hygiene_derived local;
	const struct hygiene_derived *d = NULL;
	int local_used = 0;
	int r;

	if (n != NULL)
		*n = 0;
	if (key == NULL || n == NULL || len == 0 || len > HYGIENE_KEY_MAX_LEN ||
	    (out == NULL && max > 0))
		return IV_ERR_INVALID;

	if (ctx != NULL && ctx->derived != NULL) {
		if (!hygiene_derived_matches(ctx->derived, ctx))
			return IV_ERR_INVALID;
		d = ctx->derived;
	} else if (ctx != NULL) {
		local_used = 1;
		if ((r = hygiene_derived_compute(&local, ctx)) != 0)
			goto out;
		d = &local;
	}

	memset(&c, 0, sizeof(c));
	c.out = out;
	c.max = max;
	for (size_t i = 0; i < len; i++)
		rev[i] = key[len - 1 - i];

	if (len < HYGIENE_KEY_MIN_LEN)
		hygiene_collect(&c, PRULE(PAT_LENGTH_SHORT),
				"the key is %zu bytes long; keys need at least %d bytes (128 bits)",
				len, HYGIENE_KEY_MIN_LEN);
	hygiene_dictionary_check(key, rev, len, &c);
	pattern_check(key, len, &c);
	if (d != NULL)
		hygiene_derived_check(d, key, len, &c);

	*n = c.n;
	/* success */
	r = 0;
out:
	secmem_wipe(rev, sizeof(rev));
	if (local_used)
		secmem_wipe(&local, sizeof(local));
	return r;
}

size_t hygiene_rule_count(void)
{
	return PAT_RULE_COUNT + hygiene_dictionary_rule_count() + hygiene_derived_rule_count();
}

const struct hygiene_rule *hygiene_rule_get(size_t i)
{
	if (i < PAT_RULE_COUNT)
		return &pat_rules[i];
	i -= PAT_RULE_COUNT;
	if (i < hygiene_dictionary_rule_count())
		return hygiene_dictionary_rule_get(i);
	i -= hygiene_dictionary_rule_count();
	return hygiene_derived_rule_get(i);
}
