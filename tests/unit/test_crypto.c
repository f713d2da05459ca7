/* Known-answer and misuse tests for the crypto wrappers (src/crypto/): every
 * expected value comes from a published test vector, cited next to it, so a
 * wrapper that calls the right primitive the wrong way cannot pass. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotvault/crypto.h"
#include "iotvault/secmem.h"

static int setup(void **state)
{
	(void)state;
	return secmem_init() == 0 ? 0 : -1;
}

/* Decodes a vector written in hex into a fixed buffer; fails the test when the
 * vector itself is malformed (a typo in a table must not pass silently). */
static size_t unhex(const char *text, uint8_t *out, size_t cap)
{
	size_t n = 0;
	const char *end = NULL;
	assert_int_equal(sodium_hex2bin(out, cap, text, strlen(text), NULL, &n, &end), 0);
	assert_non_null(end);
	assert_int_equal(*end, '\0');
	return n;
}

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* ---------------------------------------------------------------- AES-256-GCM */

struct gcm_vector {
	const char *source;
	const char *key, *iv, *aad, *pt, *ct, *tag;
};

static const struct gcm_vector gcm_vectors[] = {
	/* McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", revised
	 * submission to NIST (2005), Appendix B, Test Case 13. */
	{"GCM spec test case 13",
	 "0000000000000000000000000000000000000000000000000000000000000000",
	 "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
	/* McGrew & Viega, GCM spec, Appendix B, Test Case 14. */
	{"GCM spec test case 14",
	 "0000000000000000000000000000000000000000000000000000000000000000",
	 "000000000000000000000000", "", "00000000000000000000000000000000",
	 "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
	/* McGrew & Viega, GCM spec, Appendix B, Test Case 15 (64-byte plaintext,
	 * no AAD). */
	{"GCM spec test case 15",
	 "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	 "cafebabefacedbaddecaf888", "",
	 "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	 "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
	 "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	 "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
	 "b094dac5d93471bdec1a502270e3cc6c"},
	/* McGrew & Viega, GCM spec, Appendix B, Test Case 16 (60-byte plaintext,
	 * 20-byte AAD). */
	{"GCM spec test case 16",
	 "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	 "cafebabefacedbaddecaf888", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
	 "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	 "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
	 "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	 "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
	 "76fc6ece0f4e1768cddf8853bb2d551b"},
};

struct gcm_case {
	uint8_t key[AEAD_KEY_LEN];
	uint8_t iv[AEAD_NONCE_LEN];
	uint8_t aad[64];
	uint8_t pt[64];
	uint8_t ct[64];
	uint8_t tag[AEAD_TAG_LEN];
	size_t aad_len, pt_len;
};

static void gcm_load(const struct gcm_vector *v, struct gcm_case *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(unhex(v->key, c->key, sizeof(c->key)), AEAD_KEY_LEN);
	assert_int_equal(unhex(v->iv, c->iv, sizeof(c->iv)), AEAD_NONCE_LEN);
	c->aad_len = unhex(v->aad, c->aad, sizeof(c->aad));
	c->pt_len = unhex(v->pt, c->pt, sizeof(c->pt));
	assert_int_equal(unhex(v->ct, c->ct, sizeof(c->ct)), c->pt_len);
	assert_int_equal(unhex(v->tag, c->tag, sizeof(c->tag)), AEAD_TAG_LEN);
}

static void test_aead_known_answers(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(gcm_vectors) / sizeof(gcm_vectors[0]); i++) {
		struct gcm_case c;
		uint8_t sealed[64 + AEAD_TAG_LEN];
		uint8_t opened[64];
		struct aead_key *k;

		print_message("%s\n", gcm_vectors[i].source);
		gcm_load(&gcm_vectors[i], &c);
		k = aead_key_new(c.key);
		assert_non_null(k);

		aead_seal(k, c.iv, c.aad, c.aad_len, c.pt, c.pt_len, sealed);
		assert_memory_equal(sealed, c.ct, c.pt_len);
		assert_memory_equal(sealed + c.pt_len, c.tag, AEAD_TAG_LEN);

		memset(opened, 0xee, sizeof(opened));
		assert_int_equal(aead_open(k, c.iv, c.aad, c.aad_len, sealed,
					   c.pt_len + AEAD_TAG_LEN, opened),
				 0);
		assert_memory_equal(opened, c.pt, c.pt_len);
		aead_key_free(k);
	}
}

/* Re-keying an existing context must behave exactly like a fresh one. */
static void test_aead_key_set(void **state)
{
	struct gcm_case a, b;
	uint8_t sealed[64 + AEAD_TAG_LEN];
	struct aead_key *k;
	(void)state;

	gcm_load(&gcm_vectors[0], &a);
	gcm_load(&gcm_vectors[3], &b);
	k = aead_key_new(a.key);
	assert_non_null(k);
	aead_key_set(k, b.key);
	aead_seal(k, b.iv, b.aad, b.aad_len, b.pt, b.pt_len, sealed);
	assert_memory_equal(sealed, b.ct, b.pt_len);
	assert_memory_equal(sealed + b.pt_len, b.tag, AEAD_TAG_LEN);
	aead_key_free(k);
	aead_key_free(NULL);
}

/* Opens a tampered message and checks it fails with IV_ERR_AUTH_TAG and leaves
 * no plaintext behind. */
static void expect_open_fails(struct aead_key *k, const uint8_t *iv, const uint8_t *aad,
			      size_t aad_len, const uint8_t *sealed, size_t sealed_len)
{
	uint8_t out[64];
	size_t len = sealed_len - AEAD_TAG_LEN;
	memset(out, 0xee, sizeof(out));
	assert_int_equal(aead_open(k, iv, aad, aad_len, sealed, sealed_len, out), IV_ERR_AUTH_TAG);
	assert_true(all_zero(out, len));
}

static void test_aead_tamper(void **state)
{
	struct gcm_case c;
	uint8_t sealed[64 + AEAD_TAG_LEN];
	size_t sealed_len;
	struct aead_key *k;
	(void)state;

	/* test case 16: the only one with both plaintext and AAD */
	gcm_load(&gcm_vectors[3], &c);
	k = aead_key_new(c.key);
	assert_non_null(k);
	aead_seal(k, c.iv, c.aad, c.aad_len, c.pt, c.pt_len, sealed);
	sealed_len = c.pt_len + AEAD_TAG_LEN;

	/* every single-bit flip of the ciphertext and tag */
	for (size_t i = 0; i < sealed_len * 8; i++) {
		sealed[i / 8] ^= (uint8_t)(1u << (i % 8));
		expect_open_fails(k, c.iv, c.aad, c.aad_len, sealed, sealed_len);
		sealed[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	/* every single-bit flip of the nonce */
	for (size_t i = 0; i < AEAD_NONCE_LEN * 8; i++) {
		c.iv[i / 8] ^= (uint8_t)(1u << (i % 8));
		expect_open_fails(k, c.iv, c.aad, c.aad_len, sealed, sealed_len);
		c.iv[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	/* every single-bit flip of the AAD */
	for (size_t i = 0; i < c.aad_len * 8; i++) {
		c.aad[i / 8] ^= (uint8_t)(1u << (i % 8));
		expect_open_fails(k, c.iv, c.aad, c.aad_len, sealed, sealed_len);
		c.aad[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	/* AAD dropped or shortened, ciphertext truncated by one byte */
	expect_open_fails(k, c.iv, NULL, 0, sealed, sealed_len);
	expect_open_fails(k, c.iv, c.aad, c.aad_len - 1, sealed, sealed_len);
	expect_open_fails(k, c.iv, c.aad, c.aad_len, sealed + 1, sealed_len - 1);

	/* wrong key */
	{
		uint8_t other[AEAD_KEY_LEN];
		memcpy(other, c.key, sizeof(other));
		other[0] ^= 1;
		aead_key_set(k, other);
		expect_open_fails(k, c.iv, c.aad, c.aad_len, sealed, sealed_len);
		aead_key_set(k, c.key);
	}

	/* untouched message still opens afterwards */
	{
		uint8_t out[64];
		assert_int_equal(aead_open(k, c.iv, c.aad, c.aad_len, sealed, sealed_len, out), 0);
		assert_memory_equal(out, c.pt, c.pt_len);
	}
	aead_key_free(k);
}

static void test_aead_short_input(void **state)
{
	uint8_t key[AEAD_KEY_LEN] = {0}, iv[AEAD_NONCE_LEN] = {0}, in[AEAD_TAG_LEN] = {0}, out[1];
	struct aead_key *k = aead_key_new(key);
	(void)state;
	assert_non_null(k);
	assert_int_equal(aead_open(k, iv, NULL, 0, in, AEAD_TAG_LEN - 1, out), IV_ERR_TRUNCATED);
	assert_int_equal(aead_open(k, iv, NULL, 0, in, 0, out), IV_ERR_TRUNCATED);
	/* a bare zero tag over an empty message is not the real tag */
	assert_int_equal(aead_open(k, iv, NULL, 0, in, AEAD_TAG_LEN, out), IV_ERR_AUTH_TAG);
	aead_key_free(k);
}

/* -------------------------------------------------------------- HMAC-SHA256 */

static void check_hmac(const char *source, const uint8_t *key, size_t key_len,
		       const uint8_t *msg, size_t msg_len, const char *expected_hex)
{
	uint8_t expected[HMAC_SHA256_LEN], got[HMAC_SHA256_LEN];
	print_message("%s\n", source);
	assert_int_equal(unhex(expected_hex, expected, sizeof(expected)), HMAC_SHA256_LEN);
	hmac_sha256(key, key_len, msg, msg_len, got);
	assert_memory_equal(got, expected, HMAC_SHA256_LEN);
}

static void test_hmac_sha256_rfc4231(void **state)
{
	uint8_t key[131], data[50];
	(void)state;

	/* RFC 4231 section 4.2, Test Case 1 */
	memset(key, 0x0b, 20);
	check_hmac("RFC 4231 TC1", key, 20, (const uint8_t *)"Hi There", 8,
		   "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

	/* RFC 4231 section 4.3, Test Case 2 (key shorter than the output) */
	check_hmac("RFC 4231 TC2", (const uint8_t *)"Jefe", 4,
		   (const uint8_t *)"what do ya want for nothing?", 28,
		   "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

	/* RFC 4231 section 4.4, Test Case 3 */
	memset(key, 0xaa, 20);
	memset(data, 0xdd, 50);
	check_hmac("RFC 4231 TC3", key, 20, data, 50,
		   "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");

	/* RFC 4231 section 4.5, Test Case 4 (key 0x01..0x19) */
	for (size_t i = 0; i < 25; i++)
		key[i] = (uint8_t)(i + 1);
	memset(data, 0xcd, 50);
	check_hmac("RFC 4231 TC4", key, 25, data, 50,
		   "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");

	/* RFC 4231 section 4.7, Test Case 6 (131-byte key, hashed first) */
	memset(key, 0xaa, 131);
	check_hmac("RFC 4231 TC6", key, 131,
		   (const uint8_t *)"Test Using Larger Than Block-Size Key - Hash Key First", 54,
		   "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");

	/* RFC 4231 section 4.8, Test Case 7 (131-byte key, 152-byte message) */
	{
		static const char msg[] =
			"This is a test using a larger than block-size key and a larger than "
			"block-size data. The key needs to be hashed before being used by the "
			"HMAC algorithm.";
		check_hmac("RFC 4231 TC7", key, 131, (const uint8_t *)msg, sizeof(msg) - 1,
			   "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
	}
}

/* ------------------------------------------------------------ RFC 3394 wrap */

/* Reads one hex field of a JSON vector object into OUT; returns its length. */
static size_t json_hex(json_t *obj, const char *field, uint8_t *out, size_t cap)
{
	json_t *v = json_object_get(obj, field);
	assert_non_null(v);
	assert_true(json_is_string(v));
	return unhex(json_string_value(v), out, cap);
}

static void test_keywrap_rfc3394_vectors(void **state)
{
	const char *dir = getenv("IOTVAULT_VECTORS");
	char path[PATH_MAX];
	json_error_t jerr;
	json_t *root, *list, *vec;
	size_t idx;
	(void)state;

	if (dir == NULL)
		fail_msg("IOTVAULT_VECTORS is not set (CTest sets it to ../shared/vectors)");
	assert_true(snprintf(path, sizeof(path), "%s/lorawan.json", dir) < (int)sizeof(path));
	root = json_load_file(path, 0, &jerr);
	if (root == NULL)
		fail_msg("cannot read %s: line %d: %s", path, jerr.line, jerr.text);
	list = json_object_get(root, "rfc3394_key_wrap");
	assert_true(json_is_array(list));
	assert_true(json_array_size(list) > 0);

	json_array_foreach(list, idx, vec)
	{
		uint8_t kek[32], key[64], wrapped[72], out[72], back[64];
		size_t kek_len, key_len, wrapped_len;
		json_t *src = json_object_get(vec, "source");

		/* the file cites RFC 3394 section 4.1 for its vector */
		print_message("vector %zu: %s\n", idx, json_is_string(src) ? json_string_value(src) : "?");
		kek_len = json_hex(vec, "kek", kek, sizeof(kek));
		key_len = json_hex(vec, "key", key, sizeof(key));
		wrapped_len = json_hex(vec, "wrapped", wrapped, sizeof(wrapped));
		/* only 128-bit KEKs are in scope (TS002 uses AES-128 KEKs) */
		if (kek_len != KEYWRAP_KEK_LEN)
			continue;
		assert_int_equal(wrapped_len, key_len + KEYWRAP_OVERHEAD);

		assert_int_equal(keywrap_wrap(kek, key, key_len, out), 0);
		assert_memory_equal(out, wrapped, wrapped_len);
		assert_int_equal(keywrap_unwrap(kek, wrapped, wrapped_len, back), 0);
		assert_memory_equal(back, key, key_len);

		/* any modified bit of the blob fails the integrity check and leaves
		 * nothing in OUT */
		for (size_t i = 0; i < wrapped_len * 8; i++) {
			wrapped[i / 8] ^= (uint8_t)(1u << (i % 8));
			memset(back, 0xee, sizeof(back));
			assert_int_equal(keywrap_unwrap(kek, wrapped, wrapped_len, back),
					 IV_ERR_AUTH_TAG);
			assert_true(all_zero(back, key_len));
			wrapped[i / 8] ^= (uint8_t)(1u << (i % 8));
		}
		/* wrong KEK */
		kek[15] ^= 0x80;
		memset(back, 0xee, sizeof(back));
		assert_int_equal(keywrap_unwrap(kek, wrapped, wrapped_len, back), IV_ERR_AUTH_TAG);
		assert_true(all_zero(back, key_len));
	}
	json_decref(root);
}

/* The same vector written into the test, in case the shared file drifts:
 * RFC 3394 section 4.1, "Wrap 128 bits of Key Data with a 128-bit KEK". */
static void test_keywrap_rfc3394_4_1(void **state)
{
	uint8_t kek[16], key[16], wrapped[24], out[24];
	(void)state;
	unhex("000102030405060708090A0B0C0D0E0F", kek, sizeof(kek));
	unhex("00112233445566778899AABBCCDDEEFF", key, sizeof(key));
	unhex("1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5", wrapped, sizeof(wrapped));
	assert_int_equal(keywrap_wrap(kek, key, sizeof(key), out), 0);
	assert_memory_equal(out, wrapped, sizeof(wrapped));
}

static void test_keywrap_lengths(void **state)
{
	uint8_t kek[16] = {0}, key[40] = {0}, buf[48], back[40];
	(void)state;

	/* key lengths: multiple of 8, at least 16 */
	assert_int_equal(keywrap_wrap(kek, key, 0, buf), IV_ERR_INVALID);
	assert_int_equal(keywrap_wrap(kek, key, 8, buf), IV_ERR_INVALID);
	assert_int_equal(keywrap_wrap(kek, key, 15, buf), IV_ERR_INVALID);
	assert_int_equal(keywrap_wrap(kek, key, 17, buf), IV_ERR_INVALID);
	assert_int_equal(keywrap_wrap(kek, key, 20, buf), IV_ERR_INVALID);
	/* blob lengths: key + 8 */
	assert_int_equal(keywrap_unwrap(kek, buf, 0, back), IV_ERR_INVALID);
	assert_int_equal(keywrap_unwrap(kek, buf, 16, back), IV_ERR_INVALID);
	assert_int_equal(keywrap_unwrap(kek, buf, 23, back), IV_ERR_INVALID);
	assert_int_equal(keywrap_unwrap(kek, buf, 25, back), IV_ERR_INVALID);
	assert_int_equal(keywrap_unwrap(kek, buf, 28, back), IV_ERR_INVALID);

	/* round trip of 16, 24, 32 and 40 bytes */
	for (size_t len = 16; len <= 40; len += 8) {
		random_bytes(kek, sizeof(kek));
		random_bytes(key, len);
		assert_int_equal(keywrap_wrap(kek, key, len, buf), 0);
		assert_int_equal(keywrap_unwrap(kek, buf, len + KEYWRAP_OVERHEAD, back), 0);
		assert_memory_equal(back, key, len);
	}
}

/* ---------------------------------------------------------- AES-128-CMAC */

static void test_cmac_rfc4493(void **state)
{
	/* RFC 4493 section 4: K and the 64-byte message M whose prefixes the four
	 * examples authenticate. */
	static const char *key_hex = "2b7e151628aed2a6abf7158809cf4f3c";
	static const char *msg_hex = "6bc1bee22e409f96e93d7e117393172a"
				     "ae2d8a571e03ac9c9eb76fac45af8e51"
				     "30c81c46a35ce411e5fbc1191a0a52ef"
				     "f69f2445df4f9b17ad2b417be66c3710";
	static const struct {
		const char *source;
		size_t len;
		const char *mac;
	} examples[] = {
		{"RFC 4493 Example 1 (len = 0)", 0, "bb1d6929e95937287fa37d129b756746"},
		{"RFC 4493 Example 2 (len = 16)", 16, "070a16b46b4d4144f79bdd9dd04a287c"},
		{"RFC 4493 Example 3 (len = 40)", 40, "dfa66747de9ae63030ca32611497c827"},
		{"RFC 4493 Example 4 (len = 64)", 64, "51f0bebf7e3b9d92fc49741779363cfe"},
	};
	uint8_t key[16], msg[64], expected[CMAC_LEN], got[CMAC_LEN];
	(void)state;

	assert_int_equal(unhex(key_hex, key, sizeof(key)), 16);
	assert_int_equal(unhex(msg_hex, msg, sizeof(msg)), 64);
	for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
		print_message("%s\n", examples[i].source);
		unhex(examples[i].mac, expected, sizeof(expected));
		cmac_aes128(key, msg, examples[i].len, got);
		assert_memory_equal(got, expected, CMAC_LEN);
	}
}

/* ------------------------------------------------------------ Argon2id */

static void test_pwhash_hash_verify(void **state)
{
	/* not a secret: a fixed test input */
	static const char pw[] = "correct horse battery staple";
	char hash[PWHASH_STR_LEN], hash2[PWHASH_STR_LEN];
	(void)state;

	memset(hash, 0, sizeof(hash));
	assert_int_equal(pwhash_hash(pw, strlen(pw), hash), 0);
	assert_non_null(memchr(hash, '\0', sizeof(hash)));
	assert_non_null(strstr(hash, "$argon2id$"));
	/* OWASP minimum: m = 19 MiB (19456 KiB), t = 2, p = 1 */
	assert_non_null(strstr(hash, "m=19456,t=2,p=1"));
	assert_null(strstr(hash, pw));

	assert_int_equal(pwhash_verify(hash, pw, strlen(pw)), 0);
	assert_int_not_equal(pwhash_verify(hash, "correct horse battery stapler", strlen(pw) + 1), 0);
	assert_int_not_equal(pwhash_verify(hash, pw, strlen(pw) - 1), 0);
	assert_int_not_equal(pwhash_verify(hash, "", 0), 0);
	assert_int_not_equal(pwhash_verify("$argon2id$garbage", pw, strlen(pw)), 0);

	/* random salt: the same password hashes differently each time */
	assert_int_equal(pwhash_hash(pw, strlen(pw), hash2), 0);
	assert_string_not_equal(hash, hash2);
	assert_int_equal(pwhash_verify(hash2, pw, strlen(pw)), 0);
}

static void test_pwhash_derive_key(void **state)
{
	static const char pass[] = "a passphrase for a test";
	uint8_t salt[KDF_SALT_LEN], salt2[KDF_SALT_LEN];
	uint8_t a[32], b[32], c[32], d[32];
	/* libsodium's minimum cost keeps the test fast; the determinism and salt
	 * properties do not depend on the cost */
	const uint64_t ops = crypto_pwhash_OPSLIMIT_MIN;
	const size_t mem = crypto_pwhash_MEMLIMIT_MIN;
	(void)state;

	memset(salt, 0x11, sizeof(salt));
	memcpy(salt2, salt, sizeof(salt2));
	salt2[KDF_SALT_LEN - 1] ^= 1;

	assert_int_equal(pwhash_derive_key(a, sizeof(a), pass, strlen(pass), salt, ops, mem), 0);
	assert_int_equal(pwhash_derive_key(b, sizeof(b), pass, strlen(pass), salt, ops, mem), 0);
	assert_memory_equal(a, b, sizeof(a));
	assert_int_equal(pwhash_derive_key(c, sizeof(c), pass, strlen(pass), salt2, ops, mem), 0);
	assert_memory_not_equal(a, c, sizeof(a));
	assert_int_equal(pwhash_derive_key(d, sizeof(d), pass, strlen(pass) - 1, salt, ops, mem), 0);
	assert_memory_not_equal(a, d, sizeof(a));
	/* cost parameters are part of the derivation */
	assert_int_equal(pwhash_derive_key(d, sizeof(d), pass, strlen(pass), salt, ops + 1, mem), 0);
	assert_memory_not_equal(a, d, sizeof(a));
	/* below libsodium's minimum cost is refused, not silently raised */
	assert_int_not_equal(pwhash_derive_key(d, sizeof(d), pass, strlen(pass), salt, 0, mem), 0);
	secmem_wipe(a, sizeof(a));
	secmem_wipe(b, sizeof(b));
}

/* ------------------------------------------------ passwords and randomness */

static void test_password_generate(void **state)
{
	static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	enum { N = 1000, LEN = 16 };
	static char pw[N][LEN + 1];
	int seen[256] = {0};
	(void)state;

	for (size_t i = 0; i < N; i++) {
		memset(pw[i], 'X', LEN + 1);
		password_generate(pw[i], LEN);
		assert_int_equal(strlen(pw[i]), LEN);
		for (size_t j = 0; j < LEN; j++) {
			assert_non_null(strchr(alphabet, pw[i][j]));
			seen[(unsigned char)pw[i][j]] = 1;
		}
		/* characters people confuse when reading a password off paper */
		assert_null(strpbrk(pw[i], "0O1lI"));
	}
	for (size_t i = 0; i < N; i++)
		for (size_t j = i + 1; j < N; j++)
			assert_string_not_equal(pw[i], pw[j]);
	/* 16000 draws from 57 symbols: every symbol turns up */
	for (const char *p = alphabet; *p; p++)
		assert_true(seen[(unsigned char)*p]);

	/* other lengths, including the degenerate one */
	{
		char one[2] = {'X', 'X'}, none[1] = {'X'}, big[129];
		password_generate(one, 1);
		assert_int_equal(strlen(one), 1);
		password_generate(none, 0);
		assert_int_equal(none[0], '\0');
		password_generate(big, 128);
		assert_int_equal(strlen(big), 128);
	}
	secmem_wipe(pw, sizeof(pw));
}

static void test_random_uniform(void **state)
{
	int hits[7] = {0};
	(void)state;
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(random_uniform(1), 0);
		assert_true(random_uniform(2) < 2);
		assert_true(random_uniform(UINT32_MAX) < UINT32_MAX);
		hits[random_uniform(7)]++;
	}
	/* 1000 draws over 7 buckets: each expected ~143 times */
	for (int i = 0; i < 7; i++)
		assert_true(hits[i] > 50);
}

static void test_random_bytes(void **state)
{
	uint8_t a[32] = {0}, b[32] = {0};
	(void)state;
	random_bytes(a, sizeof(a));
	random_bytes(b, sizeof(b));
	assert_false(all_zero(a, sizeof(a)));
	assert_memory_not_equal(a, b, sizeof(a));
	random_bytes(a, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_aead_known_answers, setup),
		cmocka_unit_test_setup(test_aead_key_set, setup),
		cmocka_unit_test_setup(test_aead_tamper, setup),
		cmocka_unit_test_setup(test_aead_short_input, setup),
		cmocka_unit_test_setup(test_hmac_sha256_rfc4231, setup),
		cmocka_unit_test_setup(test_keywrap_rfc3394_vectors, setup),
		cmocka_unit_test_setup(test_keywrap_rfc3394_4_1, setup),
		cmocka_unit_test_setup(test_keywrap_lengths, setup),
		cmocka_unit_test_setup(test_cmac_rfc4493, setup),
		cmocka_unit_test_setup(test_pwhash_hash_verify, setup),
		cmocka_unit_test_setup(test_pwhash_derive_key, setup),
		cmocka_unit_test_setup(test_password_generate, setup),
		cmocka_unit_test_setup(test_random_uniform, setup),
		cmocka_unit_test_setup(test_random_bytes, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
