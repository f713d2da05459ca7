/* Keys made from the device's own identifiers: DevEUI and JoinEUI
 * concatenated, interleaved, padded or hashed (MD5, SHA-1, SHA-256 of the EUI
 * as bytes and as hex text, in either byte order, truncated), and LwM2M PSKs
 * equal to the endpoint name or PSK identity or their hashes. Identifiers are
 * public (printed on labels, sent in every join request), so such a key is
 * as good as published.
 *
 * The hashes are computed once per device into a candidate list (prepared
 * context) or per call; comparisons are constant-time and never stop early. */
#include "hygiene_internal.h"

#include <nettle/md5.h>
#include <nettle/sha1.h>
#include <nettle/sha2.h>
#include <string.h>

#include "iotvault/secmem.h"

enum derived_rule {
	DER_DEVEUI_REPEATED,
	DER_JOINEUI_REPEATED,
	DER_JOINEUI_DEVEUI,
	DER_DEVEUI_JOINEUI,
	DER_EUI_INTERLEAVED,
	DER_DEVEUI_PADDED,
	DER_JOINEUI_PADDED,
	DER_DEVEUI_TEXT,
	DER_JOINEUI_TEXT,
	DER_DEVEUI_HASH,
	DER_JOINEUI_HASH,
	DER_ENDPOINT_EQUAL,
	DER_ENDPOINT_HASH,
	DER_PSK_IDENTITY_EQUAL,
	DER_PSK_IDENTITY_HASH,
	DER_RULE_COUNT
};

static const struct hygiene_rule der_rules[DER_RULE_COUNT] = {
	[DER_DEVEUI_REPEATED] = {"derived.deveui_repeated", "the DevEUI written twice"},
	[DER_JOINEUI_REPEATED] = {"derived.joineui_repeated", "the JoinEUI written twice"},
	[DER_JOINEUI_DEVEUI] = {"derived.joineui_deveui", "the JoinEUI followed by the DevEUI"},
	[DER_DEVEUI_JOINEUI] = {"derived.deveui_joineui", "the DevEUI followed by the JoinEUI"},
	[DER_EUI_INTERLEAVED] = {"derived.eui_interleaved",
				 "the bytes of the DevEUI and JoinEUI interleaved"},
	[DER_DEVEUI_PADDED] = {"derived.deveui_padded",
			       "the DevEUI followed or preceded by one repeated byte"},
	[DER_JOINEUI_PADDED] = {"derived.joineui_padded",
				"the JoinEUI followed or preceded by one repeated byte"},
	[DER_DEVEUI_TEXT] = {"derived.deveui_text", "the DevEUI as hex text"},
	[DER_JOINEUI_TEXT] = {"derived.joineui_text", "the JoinEUI as hex text"},
	[DER_DEVEUI_HASH] = {"derived.deveui_hash",
			     "MD5, SHA-1 or SHA-256 of the DevEUI, truncated"},
	[DER_JOINEUI_HASH] = {"derived.joineui_hash",
			      "MD5, SHA-1 or SHA-256 of the JoinEUI, truncated"},
	[DER_ENDPOINT_EQUAL] = {"derived.endpoint_equal", "the LwM2M endpoint name's bytes"},
	[DER_ENDPOINT_HASH] = {"derived.endpoint_hash",
			       "MD5, SHA-1 or SHA-256 of the LwM2M endpoint name, truncated"},
	[DER_PSK_IDENTITY_EQUAL] = {"derived.psk_identity_equal", "the PSK identity's bytes"},
	[DER_PSK_IDENTITY_HASH] = {"derived.psk_identity_hash",
				   "MD5, SHA-1 or SHA-256 of the PSK identity, truncated"},
};

#define RULE(r) (der_rules[(r)].id)

static const char ORDER_AS_WRITTEN[] = "";
static const char ORDER_REVERSED[] = ", in reversed (little-endian) byte order";

/* A truncated digest shorter than this is not compared: with 8-byte keys
 * already flagged as short, shorter prefixes would only add chance matches. */
#define DIGEST_MIN_MATCH 8
/* EUI padding is judged on keys of at least this length (8 EUI bytes plus a
 * run of at least 4). */
#define PADDED_MIN_LEN 12

static struct hygiene_candidate *candidate_add(struct hygiene_derived *d, enum derived_rule rule,
					       const char *order)
{
	struct hygiene_candidate *cand;
	if (d->count >= HYGIENE_DERIVED_MAX)
		return NULL; /* cannot happen: the table is sized for every variant */
	cand = &d->c[d->count++];
	memset(cand, 0, sizeof(*cand));
	cand->rule = RULE(rule);
	cand->order = order;
	return cand;
}

static void add_concat(struct hygiene_derived *d, enum derived_rule rule, const char *what,
		       const char *order, const uint8_t a[static EUI_LEN],
		       const uint8_t b[static EUI_LEN])
{
	struct hygiene_candidate *cand = candidate_add(d, rule, order);
	if (cand == NULL)
		return;
	cand->what = what;
	cand->len = 2 * EUI_LEN;
	memcpy(cand->bytes, a, EUI_LEN);
	memcpy(cand->bytes + EUI_LEN, b, EUI_LEN);
}

static void add_interleave(struct hygiene_derived *d, const char *what, const char *order,
			   const uint8_t a[static EUI_LEN], const uint8_t b[static EUI_LEN])
{
	struct hygiene_candidate *cand = candidate_add(d, DER_EUI_INTERLEAVED, order);
	if (cand == NULL)
		return;
	cand->what = what;
	cand->len = 2 * EUI_LEN;
	for (size_t i = 0; i < EUI_LEN; i++) {
		cand->bytes[2 * i] = a[i];
		cand->bytes[2 * i + 1] = b[i];
	}
}

static void add_text(struct hygiene_derived *d, enum derived_rule rule, const char *what,
		     const char *order, const char text[static EUI_HEX_LEN])
{
	struct hygiene_candidate *cand = candidate_add(d, rule, order);
	if (cand == NULL)
		return;
	cand->what = what;
	cand->len = EUI_HEX_LEN;
	memcpy(cand->bytes, text, EUI_HEX_LEN);
}

static struct hygiene_candidate *digest_add(struct hygiene_derived *d, enum derived_rule rule,
					    const char *source, const char *enc,
					    const char *order, const char *alg, size_t len)
{
	struct hygiene_candidate *cand = candidate_add(d, rule, order);
	if (cand != NULL) {
		cand->alg = alg;
		cand->source = source;
		cand->enc = enc;
		cand->len = (uint8_t)len;
	}
	return cand;
}

/* MD5, SHA-1 and SHA-256 of MSG as three digest candidates. */
static void add_digests(struct hygiene_derived *d, enum derived_rule rule, const char *source,
			const char *enc, const char *order, const uint8_t *msg, size_t len)
{
	struct md5_ctx md5;
	struct sha1_ctx sha1;
	struct sha256_ctx sha256;
	struct hygiene_candidate *cand;

	if ((cand = digest_add(d, rule, source, enc, order, "MD5", MD5_DIGEST_SIZE)) != NULL) {
		md5_init(&md5);
		md5_update(&md5, len, msg);
		md5_digest(&md5, MD5_DIGEST_SIZE, cand->bytes);
		secmem_wipe(&md5, sizeof(md5));
	}
	if ((cand = digest_add(d, rule, source, enc, order, "SHA-1", SHA1_DIGEST_SIZE)) != NULL) {
		sha1_init(&sha1);
		sha1_update(&sha1, len, msg);
		sha1_digest(&sha1, SHA1_DIGEST_SIZE, cand->bytes);
		secmem_wipe(&sha1, sizeof(sha1));
	}
	if ((cand = digest_add(d, rule, source, enc, order, "SHA-256", SHA256_DIGEST_SIZE)) !=
	    NULL) {
		sha256_init(&sha256);
		sha256_update(&sha256, len, msg);
		sha256_digest(&sha256, SHA256_DIGEST_SIZE, cand->bytes);
		secmem_wipe(&sha256, sizeof(sha256));
	}
}

static void hex_text(const uint8_t eui[static EUI_LEN], int upper, char out[static EUI_HEX_LEN])
{
	static const char digits_upper[] = "0123456789ABCDEF";
	static const char digits_lower[] = "0123456789abcdef";
	const char *digits = upper ? digits_upper : digits_lower;
	for (size_t i = 0; i < EUI_LEN; i++) {
		out[2 * i] = digits[eui[i] >> 4];
		out[2 * i + 1] = digits[eui[i] & 0x0f];
	}
}

static void reverse_eui(const uint8_t in[static EUI_LEN], uint8_t out[static EUI_LEN])
{
	for (size_t i = 0; i < EUI_LEN; i++)
		out[i] = in[EUI_LEN - 1 - i];
}

/* Everything made from one EUI alone, in one byte order. */
static void add_single_eui(struct hygiene_derived *d, int is_dev, const uint8_t eui[static EUI_LEN],
			   const char *order)
{
	const char *name = is_dev ? "DevEUI" : "JoinEUI";
	char upper[EUI_HEX_LEN], lower[EUI_HEX_LEN];

	add_concat(d, is_dev ? DER_DEVEUI_REPEATED : DER_JOINEUI_REPEATED,
		   is_dev ? "the DevEUI twice" : "the JoinEUI twice", order, eui, eui);
	hex_text(eui, 1, upper);
	hex_text(eui, 0, lower);
	add_text(d, is_dev ? DER_DEVEUI_TEXT : DER_JOINEUI_TEXT,
		 is_dev ? "the DevEUI as upper-case hex text" : "the JoinEUI as upper-case hex text",
		 order, upper);
	add_text(d, is_dev ? DER_DEVEUI_TEXT : DER_JOINEUI_TEXT,
		 is_dev ? "the DevEUI as lower-case hex text" : "the JoinEUI as lower-case hex text",
		 order, lower);
	add_digests(d, is_dev ? DER_DEVEUI_HASH : DER_JOINEUI_HASH, name, "as 8 bytes", order, eui,
		    EUI_LEN);
	add_digests(d, is_dev ? DER_DEVEUI_HASH : DER_JOINEUI_HASH, name,
		    "as upper-case hex text", order, (const uint8_t *)upper, EUI_HEX_LEN);
	add_digests(d, is_dev ? DER_DEVEUI_HASH : DER_JOINEUI_HASH, name,
		    "as lower-case hex text", order, (const uint8_t *)lower, EUI_HEX_LEN);
	secmem_wipe(upper, sizeof(upper));
	secmem_wipe(lower, sizeof(lower));
}

static int copy_identifier(const char *s, char out[static HYGIENE_IDENTITY_MAX + 1], size_t *len,
			   int *has)
{
	size_t n;
	*has = 0;
	*len = 0;
	if (s == NULL)
		return 0;
	n = strnlen(s, HYGIENE_IDENTITY_MAX + 1);
	if (n > HYGIENE_IDENTITY_MAX)
		return IV_ERR_INVALID;
	memcpy(out, s, n);
	out[n] = '\0';
	*len = n;
	*has = 1;
	return 0;
}

int hygiene_derived_compute(struct hygiene_derived *d, const struct hygiene_context *ctx)
{
	uint8_t dev_le[EUI_LEN], join_le[EUI_LEN];
	int have_dev, have_join;
	int r;

	d->count = 0;
	d->flags = ctx->flags & (HYGIENE_HAVE_DEV_EUI | HYGIENE_HAVE_JOIN_EUI);
	memcpy(d->dev_eui, ctx->dev_eui, EUI_LEN);
	memcpy(d->join_eui, ctx->join_eui, EUI_LEN);
	if ((r = copy_identifier(ctx->endpoint, d->endpoint, &d->endpoint_len, &d->has_endpoint)) !=
		    0 ||
	    (r = copy_identifier(ctx->psk_identity, d->identity, &d->identity_len,
				 &d->has_identity)) != 0)
		goto out;

	have_dev = (d->flags & HYGIENE_HAVE_DEV_EUI) != 0;
	have_join = (d->flags & HYGIENE_HAVE_JOIN_EUI) != 0;
	reverse_eui(d->dev_eui, dev_le);
	reverse_eui(d->join_eui, join_le);

	if (have_dev) {
		add_single_eui(d, 1, d->dev_eui, ORDER_AS_WRITTEN);
		add_single_eui(d, 1, dev_le, ORDER_REVERSED);
		add_concat(d, DER_DEVEUI_REPEATED, "the DevEUI followed by its byte reversal",
			   ORDER_AS_WRITTEN, d->dev_eui, dev_le);
		add_concat(d, DER_DEVEUI_REPEATED, "the reversed DevEUI followed by the DevEUI",
			   ORDER_AS_WRITTEN, dev_le, d->dev_eui);
	}
	if (have_join) {
		add_single_eui(d, 0, d->join_eui, ORDER_AS_WRITTEN);
		add_single_eui(d, 0, join_le, ORDER_REVERSED);
		add_concat(d, DER_JOINEUI_REPEATED, "the JoinEUI followed by its byte reversal",
			   ORDER_AS_WRITTEN, d->join_eui, join_le);
		add_concat(d, DER_JOINEUI_REPEATED, "the reversed JoinEUI followed by the JoinEUI",
			   ORDER_AS_WRITTEN, join_le, d->join_eui);
	}
	if (have_dev && have_join) {
		for (int o = 0; o < 2; o++) {
			const uint8_t *dev = o ? dev_le : d->dev_eui;
			const uint8_t *join = o ? join_le : d->join_eui;
			const char *order = o ? ORDER_REVERSED : ORDER_AS_WRITTEN;
			add_concat(d, DER_JOINEUI_DEVEUI, "the JoinEUI followed by the DevEUI", order,
				   join, dev);
			add_concat(d, DER_DEVEUI_JOINEUI, "the DevEUI followed by the JoinEUI", order,
				   dev, join);
			add_interleave(d, "the DevEUI and JoinEUI interleaved byte by byte, DevEUI first",
				       order, dev, join);
			add_interleave(d,
				       "the JoinEUI and DevEUI interleaved byte by byte, JoinEUI first",
				       order, join, dev);
		}
	}
	if (d->has_endpoint && d->endpoint_len > 0)
		add_digests(d, DER_ENDPOINT_HASH, "LwM2M endpoint name", "as text", ORDER_AS_WRITTEN,
			    (const uint8_t *)d->endpoint, d->endpoint_len);
	if (d->has_identity && d->identity_len > 0)
		add_digests(d, DER_PSK_IDENTITY_HASH, "PSK identity", "as text", ORDER_AS_WRITTEN,
			    (const uint8_t *)d->identity, d->identity_len);

	/* success */
	r = 0;
out:
	secmem_wipe(dev_le, sizeof(dev_le));
	secmem_wipe(join_le, sizeof(join_le));
	return r;
}

static int same_identifier(int has, const char *stored, size_t stored_len, const char *s)
{
	size_t n;
	if (s == NULL)
		return !has;
	if (!has)
		return 0;
	n = strnlen(s, HYGIENE_IDENTITY_MAX + 1);
	return n == stored_len && hygiene_ct_equal((const uint8_t *)s, (const uint8_t *)stored, n);
}

int hygiene_derived_matches(const struct hygiene_derived *d, const struct hygiene_context *ctx)
{
	unsigned flags = ctx->flags & (HYGIENE_HAVE_DEV_EUI | HYGIENE_HAVE_JOIN_EUI);
	if (flags != d->flags)
		return 0;
	if ((flags & HYGIENE_HAVE_DEV_EUI) && !hygiene_ct_equal(d->dev_eui, ctx->dev_eui, EUI_LEN))
		return 0;
	if ((flags & HYGIENE_HAVE_JOIN_EUI) &&
	    !hygiene_ct_equal(d->join_eui, ctx->join_eui, EUI_LEN))
		return 0;
	return same_identifier(d->has_endpoint, d->endpoint, d->endpoint_len, ctx->endpoint) &&
	       same_identifier(d->has_identity, d->identity, d->identity_len, ctx->psk_identity);
}

/* 1 when all N bytes at P are the same byte. */
static uint32_t ct_constant(const uint8_t *p, size_t n)
{
	uint32_t diff = 0;
	for (size_t i = 1; i < n; i++)
		diff |= (uint32_t)(p[i] ^ p[0]);
	return ((diff - 1u) >> 8) & 1u;
}

/* EUI || c c c ... or c c c ... || EUI. */
static void check_padded(const uint8_t eui[static EUI_LEN], enum derived_rule rule,
			 const uint8_t *key, size_t len, struct hygiene_collector *c)
{
	uint8_t rev[EUI_LEN];
	uint32_t hit_be, hit_le;

	reverse_eui(eui, rev);
	hit_be = (hygiene_ct_equal(key, eui, EUI_LEN) & ct_constant(key + EUI_LEN, len - EUI_LEN)) |
		 (hygiene_ct_equal(key + len - EUI_LEN, eui, EUI_LEN) &
		  ct_constant(key, len - EUI_LEN));
	hit_le = (hygiene_ct_equal(key, rev, EUI_LEN) & ct_constant(key + EUI_LEN, len - EUI_LEN)) |
		 (hygiene_ct_equal(key + len - EUI_LEN, rev, EUI_LEN) &
		  ct_constant(key, len - EUI_LEN));
	secmem_wipe(rev, sizeof(rev));
	if (hit_be)
		hygiene_collect(c, RULE(rule), "the key is the %s padded with one repeated byte",
				rule == DER_DEVEUI_PADDED ? "DevEUI" : "JoinEUI");
	else if (hit_le)
		hygiene_collect(c, RULE(rule), "the key is the %s padded with one repeated byte%s",
				rule == DER_DEVEUI_PADDED ? "DevEUI" : "JoinEUI", ORDER_REVERSED);
}

void hygiene_derived_check(const struct hygiene_derived *d, const uint8_t *key, size_t len,
			   struct hygiene_collector *c)
{
	for (size_t i = 0; i < d->count; i++) {
		const struct hygiene_candidate *cand = &d->c[i];
		if (cand->alg != NULL) {
			if (len < DIGEST_MIN_MATCH || len > cand->len)
				continue;
			if (!hygiene_ct_equal(key, cand->bytes, len))
				continue;
			if (len < cand->len)
				hygiene_collect(c, cand->rule,
						"the key is the %s of the %s %s%s, truncated to %zu "
						"bytes",
						cand->alg, cand->source, cand->enc, cand->order, len);
			else
				hygiene_collect(c, cand->rule, "the key is the %s of the %s %s%s",
						cand->alg, cand->source, cand->enc, cand->order);
		} else {
			if (len != cand->len || !hygiene_ct_equal(key, cand->bytes, len))
				continue;
			hygiene_collect(c, cand->rule, "the key is %s%s", cand->what, cand->order);
		}
	}
	if (len >= PADDED_MIN_LEN) {
		if (d->flags & HYGIENE_HAVE_DEV_EUI)
			check_padded(d->dev_eui, DER_DEVEUI_PADDED, key, len, c);
		if (d->flags & HYGIENE_HAVE_JOIN_EUI)
			check_padded(d->join_eui, DER_JOINEUI_PADDED, key, len, c);
	}
	if (d->has_endpoint && d->endpoint_len == len &&
	    hygiene_ct_equal(key, (const uint8_t *)d->endpoint, len))
		hygiene_collect(c, RULE(DER_ENDPOINT_EQUAL),
				"the key is the bytes of the LwM2M endpoint name");
	if (d->has_identity && d->identity_len == len &&
	    hygiene_ct_equal(key, (const uint8_t *)d->identity, len))
		hygiene_collect(c, RULE(DER_PSK_IDENTITY_EQUAL),
				"the key is the bytes of the PSK identity");
}

size_t hygiene_derived_rule_count(void)
{
	return DER_RULE_COUNT;
}

const struct hygiene_rule *hygiene_derived_rule_get(size_t i)
{
	return i < DER_RULE_COUNT ? &der_rules[i] : NULL;
}

void hygiene_context_init(struct hygiene_context *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
}

int hygiene_context_prepare(struct hygiene_context *ctx)
{
	struct hygiene_derived *d;
	int r;

	if (ctx == NULL)
		return IV_ERR_INVALID;
	d = ctx->derived;
	if (d == NULL && (d = secmem_alloc(sizeof(*d))) == NULL)
		return IV_ERR_NOMEM;
	ctx->derived = d;
	if ((r = hygiene_derived_compute(d, ctx)) != 0) {
		/* leave nothing half-prepared behind */
		ctx->derived = NULL;
		secmem_free(d);
		return r;
	}
	return 0;
}

void hygiene_context_clear(struct hygiene_context *ctx)
{
	if (ctx == NULL)
		return;
	secmem_free(ctx->derived); /* sodium_free wipes */
	secmem_wipe(ctx, sizeof(*ctx));
}
