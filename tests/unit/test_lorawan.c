/* Tests for the LoRaWAN codec and cryptography (src/lorawan/):
 *  - known answers from ../shared/vectors/lorawan.json (ChirpStack, The Things
 *    Stack, lora-packet README), read at run time from $IOTVAULT_VECTORS;
 *  - self-consistency: build/parse round trips, join-accept seal/open,
 *    MIC mismatch detection, every truncation of valid frames refused,
 *    malformed headers, frame-counter reconstruction;
 *  - with IOTVAULT_LORAWAN_CASES=<file> (set by
 *    tests/integration/test_lorawan_oracle.sh), every case that the npm package
 *    lora-packet computed (tests/node/lorawan/oracle.mjs) is recomputed here and
 *    must agree byte for byte. Without the variable that test is skipped.
 * Mismatches report which field differs, never key bytes. */
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
#include "iotvault/lorawan.h"
#include "iotvault/secmem.h"

static int setup(void **state)
{
	(void)state;
	return secmem_init() == 0 ? 0 : -1;
}

static size_t unhex(const char *text, uint8_t *out, size_t cap)
{
	size_t n = 0;
	const char *end = NULL;
	assert_int_equal(sodium_hex2bin(out, cap, text, strlen(text), NULL, &n, &end), 0);
	assert_non_null(end);
	assert_int_equal(*end, '\0');
	return n;
}

/* Compares without printing the bytes: some of them are keys. */
static void same(const void *a, const void *b, size_t n, const char *what)
{
	if (memcmp(a, b, n) != 0)
		fail_msg("%s differs", what);
}

static const char *jstr(json_t *obj, const char *field)
{
	json_t *v = json_object_get(obj, field);
	if (!json_is_string(v))
		fail_msg("field %s missing or not a string", field);
	return json_string_value(v);
}

static size_t jhex(json_t *obj, const char *field, uint8_t *out, size_t cap)
{
	return unhex(jstr(obj, field), out, cap);
}

static void jhex_exact(json_t *obj, const char *field, uint8_t *out, size_t n)
{
	uint8_t buf[64];
	assert_true(n <= sizeof(buf));
	if (unhex(jstr(obj, field), buf, sizeof(buf)) != n)
		fail_msg("field %s has the wrong length", field);
	memcpy(out, buf, n);
	secmem_wipe(buf, sizeof(buf));
}

/* A big-endian hex integer of N bytes (NetID, nonces, DevAddr). */
static uint32_t jbe(json_t *obj, const char *field, size_t n)
{
	uint8_t buf[4];
	uint32_t v = 0;
	assert_true(n <= sizeof(buf));
	jhex_exact(obj, field, buf, n);
	for (size_t i = 0; i < n; i++)
		v = v << 8 | buf[i];
	return v;
}

static long long jint(json_t *obj, const char *field)
{
	json_t *v = json_object_get(obj, field);
	if (!json_is_integer(v))
		fail_msg("field %s missing or not an integer", field);
	return json_integer_value(v);
}

static json_t *load_vectors(void)
{
	const char *dir = getenv("IOTVAULT_VECTORS");
	char path[PATH_MAX];
	json_error_t jerr;
	json_t *root;
	if (dir == NULL)
		fail_msg("IOTVAULT_VECTORS is not set (CTest sets it to ../shared/vectors)");
	assert_true(snprintf(path, sizeof(path), "%s/lorawan.json", dir) < (int)sizeof(path));
	root = json_load_file(path, 0, &jerr);
	if (root == NULL)
		fail_msg("cannot read %s: line %d: %s", path, jerr.line, jerr.text);
	return root;
}

static json_t *vector_list(json_t *root, const char *name)
{
	json_t *list = json_object_get(root, name);
	assert_true(json_is_array(list));
	assert_true(json_array_size(list) > 0);
	return list;
}

/* ---------------------------------------------------------------- known answers */

static void test_kat_session_keys_1_0(void **state)
{
	json_t *root = load_vectors(), *vec;
	size_t idx;
	(void)state;
	json_array_foreach(vector_list(root, "session_keys_1_0"), idx, vec)
	{
		uint8_t app_key[16], nwk_s_key[16], app_s_key[16], want_nwk[16], want_app[16];
		print_message("session_keys_1_0[%zu]: %s\n", idx, jstr(vec, "source"));
		jhex_exact(vec, "app_key", app_key, 16);
		jhex_exact(vec, "nwk_s_key", want_nwk, 16);
		jhex_exact(vec, "app_s_key", want_app, 16);
		assert_int_equal(lorawan_derive_session_keys_1_0(app_key, jbe(vec, "join_nonce", 3),
								 jbe(vec, "net_id", 3),
								 (uint16_t)jbe(vec, "dev_nonce", 2),
								 nwk_s_key, app_s_key),
				 0);
		same(nwk_s_key, want_nwk, 16, "NwkSKey");
		same(app_s_key, want_app, 16, "AppSKey");
	}
	json_decref(root);
}

static void test_kat_session_keys_1_1(void **state)
{
	json_t *root = load_vectors(), *vec;
	size_t idx;
	(void)state;
	json_array_foreach(vector_list(root, "session_keys_1_1"), idx, vec)
	{
		uint8_t app_key[16], nwk_key[16], join_eui[8], dev_eui[8];
		uint8_t f[16], s[16], e[16], app_s_key[16], js_int[16], js_enc[16], want[16];
		print_message("session_keys_1_1[%zu]: %s\n", idx, jstr(vec, "source"));
		jhex_exact(vec, "app_key", app_key, 16);
		jhex_exact(vec, "nwk_key", nwk_key, 16);
		jhex_exact(vec, "join_eui", join_eui, 8);
		jhex_exact(vec, "dev_eui", dev_eui, 8);
		assert_int_equal(lorawan_derive_session_keys_1_1(
					 nwk_key, app_key, jbe(vec, "join_nonce", 3), join_eui,
					 (uint16_t)jbe(vec, "dev_nonce", 2), f, s, e, app_s_key),
				 0);
		jhex_exact(vec, "app_s_key", want, 16);
		same(app_s_key, want, 16, "AppSKey");
		lorawan_derive_js_keys(nwk_key, dev_eui, js_int, js_enc);
		jhex_exact(vec, "js_int_key", want, 16);
		same(js_int, want, 16, "JSIntKey");
		/* The four session keys are distinct (each has its own prefix). */
		assert_true(memcmp(f, s, 16) && memcmp(s, e, 16) && memcmp(f, e, 16));
	}
	json_decref(root);
}

static void test_kat_join_request_mic(void **state)
{
	json_t *root = load_vectors(), *vec;
	size_t idx;
	(void)state;
	json_array_foreach(vector_list(root, "join_request_mic"), idx, vec)
	{
		uint8_t key[16], phy[64], mic[4], want_mic[4], eui[8], rebuilt[64];
		size_t len, rebuilt_len;
		struct lorawan_frame f;
		print_message("join_request_mic[%zu]: %s\n", idx, jstr(vec, "source"));
		jhex_exact(vec, "key", key, 16);
		len = jhex(vec, "phy_payload", phy, sizeof(phy));
		jhex_exact(vec, "mic", want_mic, 4);

		assert_int_equal(lorawan_frame_parse(phy, len, &f), 0);
		assert_int_equal(f.mtype, LORAWAN_MTYPE_JOIN_REQUEST);
		jhex_exact(vec, "join_eui", eui, 8);
		same(f.u.join_request.join_eui, eui, 8, "JoinEUI");
		jhex_exact(vec, "dev_eui", eui, 8);
		same(f.u.join_request.dev_eui, eui, 8, "DevEUI");
		assert_int_equal(f.u.join_request.dev_nonce, jbe(vec, "dev_nonce", 2));
		same(f.mic, want_mic, 4, "parsed MIC");

		assert_int_equal(lorawan_join_request_mic(key, phy, len, mic), 0);
		same(mic, want_mic, 4, "JoinRequest MIC");
		assert_int_equal(lorawan_mic_check(phy, len, mic), 0);

		assert_int_equal(lorawan_frame_build(&f, rebuilt, sizeof(rebuilt), &rebuilt_len), 0);
		assert_int_equal(rebuilt_len, len);
		same(rebuilt, phy, len, "rebuilt JoinRequest");
	}
	json_decref(root);
}

static void test_kat_uplink(void **state)
{
	json_t *root = load_vectors(), *vec;
	size_t idx;
	(void)state;
	json_array_foreach(vector_list(root, "uplink"), idx, vec)
	{
		uint8_t app_s_key[16], nwk_s_key[16], phy[300], mic[4], want_mic[4], plain[256];
		const char *text = jstr(vec, "frm_payload_plaintext_ascii");
		struct lorawan_frame f;
		uint32_t fcnt32;
		size_t len;
		print_message("uplink[%zu]: %s\n", idx, jstr(vec, "source"));
		jhex_exact(vec, "app_s_key", app_s_key, 16);
		jhex_exact(vec, "nwk_s_key", nwk_s_key, 16);
		jhex_exact(vec, "mic", want_mic, 4);
		len = jhex(vec, "phy_payload", phy, sizeof(phy));

		assert_int_equal(lorawan_frame_parse(phy, len, &f), 0);
		assert_true(lorawan_mtype_is_data(f.mtype));
		assert_true(lorawan_mtype_is_uplink(f.mtype));
		assert_true(f.u.data.has_fport);
		assert_true(f.u.data.fport > 0);
		assert_int_equal(lorawan_fcnt_reconstruct(false, 0, f.u.data.fcnt, &fcnt32), 0);

		assert_int_equal(lorawan_data_mic_1_0(nwk_s_key, phy, len, fcnt32, mic), 0);
		same(mic, want_mic, 4, "uplink MIC");
		assert_int_equal(lorawan_mic_check(phy, len, mic), 0);

		assert_int_equal(f.u.data.frm_payload_len, strlen(text));
		assert_int_equal(lorawan_frm_payload_crypt(app_s_key, false, f.u.data.dev_addr, fcnt32,
							   f.u.data.frm_payload,
							   f.u.data.frm_payload_len, plain),
				 0);
		same(plain, text, strlen(text), "decrypted FRMPayload");
	}
	json_decref(root);
}

/* The JoinRequest inside the TS002 JoinReq example: EUIs come out as humans
 * write them, and the DevEUI agrees with the message's own DevEUI field. */
static void test_kat_ts002_example(void **state)
{
	json_t *root = load_vectors();
	json_t *req = json_object_get(json_object_get(root, "ts002_join_req_example"), "request");
	uint8_t phy[64], dev_eui[8], join_eui[8], rebuilt[64];
	size_t len, rebuilt_len;
	struct lorawan_frame f;
	(void)state;

	assert_true(json_is_object(req));
	len = jhex(req, "PHYPayload", phy, sizeof(phy));
	assert_int_equal(lorawan_frame_parse(phy, len, &f), 0);
	assert_int_equal(f.mtype, LORAWAN_MTYPE_JOIN_REQUEST);
	jhex_exact(req, "DevEUI", dev_eui, 8);
	same(f.u.join_request.dev_eui, dev_eui, 8, "DevEUI");
	/* The receiver of the example is the join server whose JoinEUI the device
	 * carries. */
	jhex_exact(req, "ReceiverID", join_eui, 8);
	same(f.u.join_request.join_eui, join_eui, 8, "JoinEUI");
	assert_int_equal(f.u.join_request.dev_nonce, 0);
	assert_int_equal(lorawan_frame_build(&f, rebuilt, sizeof(rebuilt), &rebuilt_len), 0);
	assert_int_equal(rebuilt_len, len);
	same(rebuilt, phy, len, "rebuilt JoinRequest");
	json_decref(root);
}

/* ---------------------------------------------------------------- self-consistency */

static void random_frame(enum lorawan_mtype t, struct lorawan_frame *f)
{
	memset(f, 0, sizeof(*f));
	f->mtype = t;
	random_bytes(f->mic, sizeof(f->mic));
	switch (t) {
	case LORAWAN_MTYPE_JOIN_REQUEST:
		random_bytes(&f->u.join_request, sizeof(f->u.join_request));
		break;
	case LORAWAN_MTYPE_REJOIN_REQUEST:
		f->u.rejoin_request.type = (uint8_t)random_uniform(3);
		if (f->u.rejoin_request.type == 1)
			random_bytes(f->u.rejoin_request.join_eui, 8);
		else
			f->u.rejoin_request.net_id = random_uniform(1u << 24);
		random_bytes(f->u.rejoin_request.dev_eui, 8);
		f->u.rejoin_request.rj_count = (uint16_t)random_uniform(1u << 16);
		break;
	case LORAWAN_MTYPE_JOIN_ACCEPT:
		f->u.join_accept.join_nonce = random_uniform(1u << 24);
		f->u.join_accept.net_id = random_uniform(1u << 24);
		random_bytes(&f->u.join_accept.dev_addr, 4);
		random_bytes(&f->u.join_accept.dl_settings, 1);
		random_bytes(&f->u.join_accept.rx_delay, 1);
		f->u.join_accept.has_cflist = random_uniform(2);
		if (f->u.join_accept.has_cflist)
			random_bytes(f->u.join_accept.cflist, LORAWAN_CFLIST_LEN);
		break;
	default: {
		struct lorawan_data_frame *d = &f->u.data;
		random_bytes(&d->dev_addr, 4);
		d->fctrl = (uint8_t)(random_uniform(16) << 4);
		d->fcnt = (uint16_t)random_uniform(1u << 16);
		d->has_fport = random_uniform(4) != 0;
		if (d->has_fport) {
			d->fport = (uint8_t)random_uniform(256);
			d->frm_payload_len = random_uniform(LORAWAN_FRM_PAYLOAD_MAX + 1);
			random_bytes(d->frm_payload, d->frm_payload_len);
		}
		if (!d->has_fport || d->fport != 0) {
			d->fopts_len = (uint8_t)random_uniform(LORAWAN_FOPTS_MAX + 1);
			if (d->frm_payload_len > (size_t)(LORAWAN_FRM_PAYLOAD_MAX - d->fopts_len))
				d->frm_payload_len = LORAWAN_FRM_PAYLOAD_MAX - d->fopts_len;
			random_bytes(d->fopts, d->fopts_len);
		}
		break;
	}
	}
}

static void test_build_parse_round_trip(void **state)
{
	(void)state;
	for (int t = LORAWAN_MTYPE_JOIN_REQUEST; t <= LORAWAN_MTYPE_REJOIN_REQUEST; t++) {
		for (int i = 0; i < 200; i++) {
			struct lorawan_frame f, g;
			uint8_t buf[LORAWAN_PHY_PAYLOAD_MAX], again[LORAWAN_PHY_PAYLOAD_MAX];
			size_t len, len2;
			random_frame((enum lorawan_mtype)t, &f);
			f.rfu = (uint8_t)random_uniform(8);
			assert_int_equal(lorawan_frame_build(&f, buf, sizeof(buf), &len), 0);
			assert_int_equal(lorawan_frame_parse(buf, len, &g), 0);
			assert_int_equal(g.mtype, f.mtype);
			assert_int_equal(g.rfu, f.rfu);
			same(g.mic, f.mic, 4, "MIC");
			switch (f.mtype) {
			case LORAWAN_MTYPE_JOIN_REQUEST:
				assert_int_equal(len, LORAWAN_JOIN_REQUEST_LEN);
				same(&g.u.join_request, &f.u.join_request, sizeof(f.u.join_request),
				     "JoinRequest");
				break;
			case LORAWAN_MTYPE_REJOIN_REQUEST:
				assert_int_equal(g.u.rejoin_request.type, f.u.rejoin_request.type);
				assert_int_equal(g.u.rejoin_request.net_id, f.u.rejoin_request.net_id);
				same(g.u.rejoin_request.join_eui, f.u.rejoin_request.join_eui, 8,
				     "JoinEUI");
				same(g.u.rejoin_request.dev_eui, f.u.rejoin_request.dev_eui, 8,
				     "DevEUI");
				assert_int_equal(g.u.rejoin_request.rj_count,
						 f.u.rejoin_request.rj_count);
				break;
			case LORAWAN_MTYPE_JOIN_ACCEPT:
				assert_int_equal(g.u.join_accept.join_nonce, f.u.join_accept.join_nonce);
				assert_int_equal(g.u.join_accept.net_id, f.u.join_accept.net_id);
				assert_int_equal(g.u.join_accept.dev_addr, f.u.join_accept.dev_addr);
				assert_int_equal(g.u.join_accept.dl_settings,
						 f.u.join_accept.dl_settings);
				assert_int_equal(g.u.join_accept.rx_delay, f.u.join_accept.rx_delay);
				assert_int_equal(g.u.join_accept.has_cflist, f.u.join_accept.has_cflist);
				same(g.u.join_accept.cflist, f.u.join_accept.cflist, 16, "CFList");
				break;
			default:
				assert_int_equal(g.u.data.dev_addr, f.u.data.dev_addr);
				assert_int_equal(g.u.data.fctrl, f.u.data.fctrl);
				assert_int_equal(g.u.data.fcnt, f.u.data.fcnt);
				assert_int_equal(g.u.data.fopts_len, f.u.data.fopts_len);
				same(g.u.data.fopts, f.u.data.fopts, f.u.data.fopts_len, "FOpts");
				assert_int_equal(g.u.data.has_fport, f.u.data.has_fport);
				assert_int_equal(g.u.data.fport, f.u.data.fport);
				assert_int_equal(g.u.data.frm_payload_len, f.u.data.frm_payload_len);
				same(g.u.data.frm_payload, f.u.data.frm_payload,
				     f.u.data.frm_payload_len, "FRMPayload");
				break;
			}
			assert_int_equal(lorawan_frame_build(&g, again, sizeof(again), &len2), 0);
			assert_int_equal(len2, len);
			same(again, buf, len, "rebuilt frame");
		}
	}
}

static void test_build_rejects_bad_fields(void **state)
{
	struct lorawan_frame f;
	uint8_t buf[LORAWAN_PHY_PAYLOAD_MAX];
	size_t len;
	(void)state;

	random_frame(LORAWAN_MTYPE_JOIN_ACCEPT, &f);
	f.u.join_accept.net_id = 0x1000000;
	assert_int_equal(lorawan_frame_build(&f, buf, sizeof(buf), &len), IV_ERR_INVALID);
	random_frame(LORAWAN_MTYPE_REJOIN_REQUEST, &f);
	f.u.rejoin_request.type = 3;
	assert_int_equal(lorawan_frame_build(&f, buf, sizeof(buf), &len), IV_ERR_INVALID);
	random_frame(LORAWAN_MTYPE_UNCONFIRMED_UP, &f);
	f.u.data.fopts_len = 16;
	assert_int_equal(lorawan_frame_build(&f, buf, sizeof(buf), &len), IV_ERR_INVALID);
	random_frame(LORAWAN_MTYPE_UNCONFIRMED_UP, &f);
	f.u.data.fctrl = 0x01;
	assert_int_equal(lorawan_frame_build(&f, buf, sizeof(buf), &len), IV_ERR_INVALID);
	random_frame(LORAWAN_MTYPE_CONFIRMED_DOWN, &f);
	f.u.data.has_fport = true;
	f.u.data.fport = 0;
	f.u.data.fopts_len = 1;
	assert_int_equal(lorawan_frame_build(&f, buf, sizeof(buf), &len), IV_ERR_INVALID);
	/* Larger than the radio carries. */
	random_frame(LORAWAN_MTYPE_UNCONFIRMED_UP, &f);
	f.u.data.has_fport = true;
	f.u.data.fport = 1;
	f.u.data.fopts_len = 15;
	f.u.data.frm_payload_len = LORAWAN_FRM_PAYLOAD_MAX;
	assert_int_equal(lorawan_frame_build(&f, buf, sizeof(buf), &len), IV_ERR_TOO_LARGE);
	/* Too small a buffer. */
	random_frame(LORAWAN_MTYPE_JOIN_REQUEST, &f);
	assert_int_equal(lorawan_frame_build(&f, buf, LORAWAN_JOIN_REQUEST_LEN - 1, &len),
			 IV_ERR_TOO_LARGE);
	assert_int_equal(len, 0);
	f.mtype = LORAWAN_MTYPE_PROPRIETARY;
	assert_int_equal(lorawan_frame_build(&f, buf, sizeof(buf), &len), IV_ERR_INVALID);
}

static void test_parse_rejects_malformed(void **state)
{
	struct lorawan_frame f;
	uint8_t buf[300] = {0};
	(void)state;

	assert_int_equal(lorawan_frame_parse(NULL, 0, &f), IV_ERR_TRUNCATED);
	assert_int_equal(lorawan_frame_parse(NULL, 5, &f), IV_ERR_INVALID);
	/* Major 1 (not LoRaWAN R1). */
	buf[0] = 0x01;
	assert_int_equal(lorawan_frame_parse(buf, LORAWAN_JOIN_REQUEST_LEN, &f), IV_ERR_INVALID);
	/* Proprietary. */
	buf[0] = 0xE0;
	assert_int_equal(lorawan_frame_parse(buf, 20, &f), IV_ERR_INVALID);
	/* JoinRequest one byte too long. */
	buf[0] = 0x00;
	assert_int_equal(lorawan_frame_parse(buf, LORAWAN_JOIN_REQUEST_LEN + 1, &f), IV_ERR_INVALID);
	/* Rejoin type 3. */
	buf[0] = 0xC0;
	buf[1] = 3;
	assert_int_equal(lorawan_frame_parse(buf, LORAWAN_REJOIN_1_LEN, &f), IV_ERR_INVALID);
	/* Join-accept with a partial or an oversized CFList. */
	buf[0] = 0x20;
	assert_int_equal(lorawan_frame_parse(buf, LORAWAN_JOIN_ACCEPT_LEN + 8, &f),
			 IV_ERR_TRUNCATED);
	assert_int_equal(lorawan_frame_parse(buf, LORAWAN_JOIN_ACCEPT_CFLIST_LEN + 1, &f),
			 IV_ERR_INVALID);
	/* FOptsLen claims more bytes than there are. */
	buf[0] = 0x40;
	buf[5] = 0x0F;
	assert_int_equal(lorawan_frame_parse(buf, 12 + 10, &f), IV_ERR_TRUNCATED);
	/* FPort 0 together with FOpts. */
	buf[5] = 0x01;
	assert_int_equal(lorawan_frame_parse(buf, 12 + 1 + 1 + 3, &f), IV_ERR_INVALID);
	/* Beyond 255 bytes. */
	buf[5] = 0x00;
	assert_int_equal(lorawan_frame_parse(buf, LORAWAN_PHY_PAYLOAD_MAX + 1, &f),
			 IV_ERR_TOO_LARGE);
	assert_int_equal(lorawan_frame_parse(buf, LORAWAN_PHY_PAYLOAD_MAX, &f), 0);
	/* A failed parse leaves nothing behind. */
	memset(&f, 0xAA, sizeof(f));
	assert_int_equal(lorawan_frame_parse(buf, 3, &f), IV_ERR_TRUNCATED);
	assert_int_equal(f.mtype, 0);
}

static const uint8_t KEY_A[16] = {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
				  0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c};
static const uint8_t KEY_B[16] = {0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe,
				  0x2b, 0x73, 0xae, 0xf0, 0x85, 0x7d, 0x77, 0x81};

static void test_join_accept_seal_open(void **state)
{
	static const uint8_t join_eui[8] = {0x70, 0xB3, 0xD5, 0x7E, 0xD0, 0, 0, 0};
	static const uint8_t dev_eui[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	uint8_t js_int[16], js_enc[16];
	(void)state;

	lorawan_derive_js_keys(KEY_B, dev_eui, js_int, js_enc);
	for (int i = 0; i < 100; i++) {
		struct lorawan_frame f;
		struct lorawan_join_accept back;
		uint8_t sealed[64], plain[64], mic[4];
		size_t len;
		bool v11 = i % 2;
		uint8_t jrt = (uint8_t)(i % 8 < 4 ? LORAWAN_JOIN_REQ_TYPE_JOIN : (i % 8) - 5);
		const uint8_t *enc = jrt == LORAWAN_JOIN_REQ_TYPE_JOIN ? KEY_B : js_enc;
		uint16_t nonce = (uint16_t)random_uniform(1u << 16);

		random_frame(LORAWAN_MTYPE_JOIN_ACCEPT, &f);
		if (v11) {
			f.u.join_accept.dl_settings |= LORAWAN_DLSETTINGS_OPTNEG;
			assert_int_equal(lorawan_join_accept_seal_1_1(enc, js_int, jrt, join_eui,
								      nonce, &f.u.join_accept,
								      sealed, sizeof(sealed), &len),
					 0);
		} else {
			assert_int_equal(lorawan_join_accept_seal_1_0(KEY_A, &f.u.join_accept,
								      sealed, sizeof(sealed), &len),
					 0);
		}
		assert_int_equal(len, f.u.join_accept.has_cflist ? LORAWAN_JOIN_ACCEPT_CFLIST_LEN
								  : LORAWAN_JOIN_ACCEPT_LEN);
		/* The device side: decrypt with AES encrypt, then the MIC holds. */
		assert_int_equal(lorawan_join_accept_decrypt(v11 ? enc : KEY_A, sealed, len, plain),
				 0);
		if (v11)
			assert_int_equal(lorawan_join_accept_mic_1_1(js_int, jrt, join_eui, nonce,
								     plain, len, mic),
					 0);
		else
			assert_int_equal(lorawan_join_accept_mic_1_0(KEY_A, plain, len, mic), 0);
		assert_int_equal(lorawan_mic_check(plain, len, mic), 0);
		/* encrypt is the inverse of decrypt */
		{
			uint8_t again[64];
			assert_int_equal(lorawan_join_accept_encrypt(v11 ? enc : KEY_A, plain, len,
								     again),
					 0);
			same(again, sealed, len, "re-encrypted join-accept");
		}

		if (v11)
			assert_int_equal(lorawan_join_accept_open_1_1(enc, js_int, jrt, join_eui,
								      nonce, sealed, len, &back),
					 0);
		else
			assert_int_equal(lorawan_join_accept_open_1_0(KEY_A, sealed, len, &back), 0);
		assert_int_equal(back.join_nonce, f.u.join_accept.join_nonce);
		assert_int_equal(back.net_id, f.u.join_accept.net_id);
		assert_int_equal(back.dev_addr, f.u.join_accept.dev_addr);
		assert_int_equal(back.dl_settings, f.u.join_accept.dl_settings);
		assert_int_equal(back.rx_delay, f.u.join_accept.rx_delay);
		assert_int_equal(back.has_cflist, f.u.join_accept.has_cflist);
		same(back.cflist, f.u.join_accept.cflist, 16, "CFList");

		/* Any flipped bit after the MHDR, a wrong key, or (1.1) another
		 * DevNonce / JoinReqType is a MIC failure. */
		for (size_t b = 8; b < len * 8; b += 13) {
			sealed[b / 8] ^= (uint8_t)(1u << (b % 8));
			if (v11)
				assert_int_equal(lorawan_join_accept_open_1_1(enc, js_int, jrt,
									      join_eui, nonce,
									      sealed, len, &back),
						 IV_ERR_AUTH_TAG);
			else
				assert_int_equal(lorawan_join_accept_open_1_0(KEY_A, sealed, len,
									      &back),
						 IV_ERR_AUTH_TAG);
			sealed[b / 8] ^= (uint8_t)(1u << (b % 8));
		}
		if (v11) {
			assert_int_equal(lorawan_join_accept_open_1_1(enc, js_int, jrt, join_eui,
								      (uint16_t)(nonce + 1), sealed,
								      len, &back),
					 IV_ERR_AUTH_TAG);
			assert_int_equal(lorawan_join_accept_open_1_1(
						 enc, js_int,
						 jrt == LORAWAN_JOIN_REQ_TYPE_JOIN ? 0 : 0xFF,
						 join_eui, nonce, sealed, len, &back),
					 IV_ERR_AUTH_TAG);
		} else {
			assert_int_equal(lorawan_join_accept_open_1_0(KEY_B, sealed, len, &back),
					 IV_ERR_AUTH_TAG);
		}
		/* Every truncation is refused. */
		for (size_t cut = 0; cut < len; cut++)
			assert_int_not_equal(lorawan_join_accept_open_1_0(KEY_A, sealed, cut, &back),
					     0);
	}
	/* 1.1 sealing insists on OptNeg. */
	{
		struct lorawan_frame f;
		uint8_t out[64];
		size_t len;
		random_frame(LORAWAN_MTYPE_JOIN_ACCEPT, &f);
		f.u.join_accept.dl_settings &= (uint8_t)~LORAWAN_DLSETTINGS_OPTNEG;
		assert_int_equal(lorawan_join_accept_seal_1_1(KEY_B, js_int, 0xFF, join_eui, 1,
							      &f.u.join_accept, out, sizeof(out),
							      &len),
				 IV_ERR_INVALID);
		assert_int_equal(lorawan_join_accept_seal_1_0(KEY_B, &f.u.join_accept, out, 16,
							      &len),
				 IV_ERR_TOO_LARGE);
	}
	secmem_wipe(js_int, sizeof(js_int));
	secmem_wipe(js_enc, sizeof(js_enc));
}

/* Builds a data frame with encrypted payload and a 1.0 MIC. */
static size_t make_data_frame(enum lorawan_mtype t, uint32_t fcnt32, size_t payload_len,
			      uint8_t *out)
{
	struct lorawan_frame f;
	uint8_t mic[4];
	size_t len;
	random_frame(t, &f);
	f.u.data.fcnt = (uint16_t)fcnt32;
	f.u.data.has_fport = true;
	f.u.data.fport = 10;
	f.u.data.fopts_len = 2;
	f.u.data.frm_payload_len = payload_len;
	assert_int_equal(lorawan_frm_payload_crypt(KEY_A, !lorawan_mtype_is_uplink(t),
						   f.u.data.dev_addr, fcnt32, f.u.data.frm_payload,
						   payload_len, f.u.data.frm_payload),
			 0);
	assert_int_equal(lorawan_frame_build(&f, out, LORAWAN_PHY_PAYLOAD_MAX, &len), 0);
	assert_int_equal(lorawan_data_mic_1_0(KEY_B, out, len, fcnt32, mic), 0);
	memcpy(out + len - 4, mic, 4);
	return len;
}

static void test_mic_mismatch_detected(void **state)
{
	uint8_t phy[LORAWAN_PHY_PAYLOAD_MAX], mic[4];
	struct lorawan_frame f;
	size_t len;
	(void)state;

	/* Data frames, 1.0 */
	len = make_data_frame(LORAWAN_MTYPE_CONFIRMED_UP, 0x12345, 20, phy);
	assert_int_equal(lorawan_data_mic_1_0(KEY_B, phy, len, 0x12345, mic), 0);
	assert_int_equal(lorawan_mic_check(phy, len, mic), 0);
	for (size_t b = 0; b < (len - 4) * 8; b++) {
		phy[b / 8] ^= (uint8_t)(1u << (b % 8));
		if (lorawan_data_mic_1_0(KEY_B, phy, len, 0x12345, mic) == 0)
			assert_int_equal(lorawan_mic_check(phy, len, mic), IV_ERR_AUTH_TAG);
		phy[b / 8] ^= (uint8_t)(1u << (b % 8));
	}
	/* wrong key, wrong upper counter half, counter that does not match */
	assert_int_equal(lorawan_data_mic_1_0(KEY_A, phy, len, 0x12345, mic), 0);
	assert_int_equal(lorawan_mic_check(phy, len, mic), IV_ERR_AUTH_TAG);
	assert_int_equal(lorawan_data_mic_1_0(KEY_B, phy, len, 0x22345, mic), 0);
	assert_int_equal(lorawan_mic_check(phy, len, mic), IV_ERR_AUTH_TAG);
	assert_int_equal(lorawan_data_mic_1_0(KEY_B, phy, len, 0x12346, mic), IV_ERR_INVALID);
	assert_int_equal(lorawan_mic_check(phy, 3, mic), IV_ERR_AUTH_TAG);

	/* 1.1: uplink needs an uplink, downlink a downlink; ConfFCnt matters only
	 * with ACK. */
	assert_int_equal(lorawan_data_mic_1_1_downlink(KEY_A, phy, len, 0x12345, 0, mic),
			 IV_ERR_INVALID);
	assert_int_equal(lorawan_frame_parse(phy, len, &f), 0);
	{
		uint8_t m1[4], m2[4];
		bool ack = f.u.data.fctrl & LORAWAN_FCTRL_ACK;
		assert_int_equal(lorawan_data_mic_1_1_uplink(KEY_A, KEY_B, phy, len, 0x12345, 1, 2,
							     3, m1),
				 0);
		assert_int_equal(lorawan_data_mic_1_1_uplink(KEY_A, KEY_B, phy, len, 0x12345, 9, 2,
							     3, m2),
				 0);
		assert_int_equal(memcmp(m1, m2, 4) == 0, !ack);
		/* cmacF half does not depend on TxDr/TxCh/ConfFCnt */
		assert_int_equal(lorawan_data_mic_1_1_uplink(KEY_A, KEY_B, phy, len, 0x12345, 1, 7,
							     3, m2),
				 0);
		assert_memory_equal(m1 + 2, m2 + 2, 2);
	}

	/* JoinRequest */
	{
		struct lorawan_frame jr;
		uint8_t buf[64];
		random_frame(LORAWAN_MTYPE_JOIN_REQUEST, &jr);
		assert_int_equal(lorawan_frame_build(&jr, buf, sizeof(buf), &len), 0);
		assert_int_equal(lorawan_join_request_mic(KEY_A, buf, len, jr.mic), 0);
		assert_int_equal(lorawan_frame_build(&jr, buf, sizeof(buf), &len), 0);
		assert_int_equal(lorawan_mic_check(buf, len, jr.mic), 0);
		for (size_t b = 0; b < (len - 4) * 8; b++) {
			buf[b / 8] ^= (uint8_t)(1u << (b % 8));
			if (lorawan_join_request_mic(KEY_A, buf, len, mic) == 0)
				assert_int_equal(lorawan_mic_check(buf, len, mic),
						 IV_ERR_AUTH_TAG);
			buf[b / 8] ^= (uint8_t)(1u << (b % 8));
		}
		assert_int_equal(lorawan_join_request_mic(KEY_B, buf, len, mic), 0);
		assert_int_equal(lorawan_mic_check(buf, len, mic), IV_ERR_AUTH_TAG);
		/* A JoinRequest is not a rejoin nor a data frame. */
		assert_int_equal(lorawan_rejoin_request_mic(KEY_A, buf, len, mic), IV_ERR_INVALID);
		assert_int_equal(lorawan_data_mic_1_0(KEY_A, buf, len, 0, mic), IV_ERR_INVALID);
	}
}

/* Every proper prefix of a valid frame is refused: by the parser for the
 * fixed-layout messages; data frames have a variable-length tail, so a cut
 * one may parse but its MIC then fails. */
static void test_truncations_rejected(void **state)
{
	(void)state;
	for (int t = LORAWAN_MTYPE_JOIN_REQUEST; t <= LORAWAN_MTYPE_REJOIN_REQUEST; t++) {
		for (int i = 0; i < 20; i++) {
			struct lorawan_frame f;
			uint8_t buf[LORAWAN_PHY_PAYLOAD_MAX], mic[4];
			size_t len;
			if (lorawan_mtype_is_data((enum lorawan_mtype)t)) {
				len = make_data_frame((enum lorawan_mtype)t, 7,
						      random_uniform(60), buf);
				for (size_t cut = 0; cut < len; cut++) {
					if (lorawan_frame_parse(buf, cut, &f) != 0)
						continue;
					if (lorawan_data_mic_1_0(KEY_B, buf, cut, 7, mic) != 0)
						continue;
					assert_int_equal(lorawan_mic_check(buf, cut, mic),
							 IV_ERR_AUTH_TAG);
				}
				continue;
			}
			random_frame((enum lorawan_mtype)t, &f);
			assert_int_equal(lorawan_frame_build(&f, buf, sizeof(buf), &len), 0);
			assert_int_equal(lorawan_frame_parse(buf, len, &f), 0);
			for (size_t cut = 0; cut < len; cut++) {
				int r = lorawan_frame_parse(buf, cut, &f);
				/* A 33-byte join-accept cut to 17 is a valid 17-byte one
				 * (CFList optional); its MIC can then not match. */
				if (t == LORAWAN_MTYPE_JOIN_ACCEPT && cut == LORAWAN_JOIN_ACCEPT_LEN)
					continue;
				assert_true(r == IV_ERR_TRUNCATED || r == IV_ERR_INVALID);
			}
		}
	}
}

static void test_frm_payload_crypt(void **state)
{
	uint8_t plain[LORAWAN_FRM_PAYLOAD_MAX], ct[LORAWAN_FRM_PAYLOAD_MAX],
		back[LORAWAN_FRM_PAYLOAD_MAX];
	(void)state;
	random_bytes(plain, sizeof(plain));
	for (size_t n = 0; n <= LORAWAN_FRM_PAYLOAD_MAX; n++) {
		assert_int_equal(lorawan_frm_payload_crypt(KEY_A, n % 2, 0x01020304, 77, plain, n, ct),
				 0);
		assert_int_equal(lorawan_frm_payload_crypt(KEY_A, n % 2, 0x01020304, 77, ct, n, back),
				 0);
		same(back, plain, n, "round trip");
		if (n >= 17) {
			/* Other direction / counter / address: other keystream,
			 * and every block differs (the block index is in A_i). */
			assert_int_equal(lorawan_frm_payload_crypt(KEY_A, !(n % 2), 0x01020304, 77,
								   plain, n, back),
					 0);
			assert_memory_not_equal(back, ct, 16);
		}
	}
	/* Each block of keystream has its own index in A_i. */
	{
		uint8_t zero[32] = {0}, ks[32];
		assert_int_equal(lorawan_frm_payload_crypt(KEY_A, false, 1, 2, zero, 32, ks), 0);
		assert_memory_not_equal(ks, ks + 16, 16);
	}
	/* In place. */
	memcpy(back, plain, 40);
	assert_int_equal(lorawan_frm_payload_crypt(KEY_A, false, 1, 2, back, 40, back), 0);
	assert_int_equal(lorawan_frm_payload_crypt(KEY_A, false, 1, 2, plain, 40, ct), 0);
	same(back, ct, 40, "in-place");
	assert_int_equal(lorawan_frm_payload_crypt(KEY_A, false, 1, 2, plain,
						   LORAWAN_FRM_PAYLOAD_MAX + 1, ct),
			 IV_ERR_INVALID);
	assert_int_equal(lorawan_fopts_crypt_1_1(KEY_A, false, false, 1, 2, plain, 16, ct),
			 IV_ERR_INVALID);
	assert_int_equal(lorawan_fopts_crypt_1_1(KEY_A, true, true, 1, 2, plain, 15, ct), 0);
	assert_int_equal(lorawan_fopts_crypt_1_1(KEY_A, true, true, 1, 2, ct, 15, back), 0);
	same(back, plain, 15, "FOpts round trip");
}

static void test_fcnt_reconstruct(void **state)
{
	uint32_t out = 0;
	(void)state;
	assert_int_equal(lorawan_fcnt_reconstruct(false, 0, 5, &out), 0);
	assert_int_equal(out, 5);
	assert_int_equal(lorawan_fcnt_reconstruct(true, 5, 5, &out), 0);
	assert_int_equal(out, 5); /* the caller sees a repeat */
	assert_int_equal(lorawan_fcnt_reconstruct(true, 5, 6, &out), 0);
	assert_int_equal(out, 6);
	assert_int_equal(lorawan_fcnt_reconstruct(true, 0x1FFFF, 0x0002, &out), 0);
	assert_int_equal(out, 0x20002);
	assert_int_equal(lorawan_fcnt_reconstruct(true, 0xFFFF, 0x0000, &out), 0);
	assert_int_equal(out, 0x10000);
	assert_int_equal(lorawan_fcnt_reconstruct(true, 100, 100 + LORAWAN_FCNT_MAX_GAP, &out), 0);
	assert_int_equal(out, 100 + LORAWAN_FCNT_MAX_GAP);
	assert_int_equal(lorawan_fcnt_reconstruct(true, 100, 101 + LORAWAN_FCNT_MAX_GAP, &out),
			 IV_ERR_REFUSED);
	/* Regression and old replays. */
	assert_int_equal(lorawan_fcnt_reconstruct(true, 100, 99, &out), IV_ERR_REFUSED);
	assert_int_equal(lorawan_fcnt_reconstruct(true, 0x30005, 0x0004, &out), IV_ERR_REFUSED);
	/* Wrap across the 16-bit boundary within the gap. */
	assert_int_equal(lorawan_fcnt_reconstruct(true, 0x2FFF0, 0x0010, &out), 0);
	assert_int_equal(out, 0x30010);
	/* The 32-bit counter never wraps. */
	assert_int_equal(lorawan_fcnt_reconstruct(true, 0xFFFFFFF0u, 0xFFFF, &out), 0);
	assert_int_equal(out, 0xFFFFFFFFu);
	assert_int_equal(lorawan_fcnt_reconstruct(true, 0xFFFFFFF0u, 0x0001, &out), IV_ERR_REFUSED);
}

static void test_key_derivation_ranges(void **state)
{
	uint8_t a[16], b[16], c[16], d[16];
	static const uint8_t eui[8] = {0};
	(void)state;
	assert_int_equal(lorawan_derive_session_keys_1_0(KEY_A, 0x1000000, 1, 1, a, b),
			 IV_ERR_INVALID);
	assert_int_equal(lorawan_derive_session_keys_1_0(KEY_A, 1, 0x1000000, 1, a, b),
			 IV_ERR_INVALID);
	assert_int_equal(lorawan_derive_session_keys_1_1(KEY_A, KEY_B, 0x1000000, eui, 1, a, b, c,
							 d),
			 IV_ERR_INVALID);
	assert_int_equal(lorawan_join_accept_mic_1_1(KEY_A, 3, eui, 0, a, 0, b), IV_ERR_INVALID);
}

/* ---------------------------------------------------------------- lora-packet oracle */

static int oracle_fail(long long id, const char *kind, const char *what)
{
	print_error("oracle case %lld (%s): %s\n", id, kind, what);
	return 1;
}

#define CHECK(cond, what)                                   \
	do {                                                \
		if (!(cond))                                \
			return oracle_fail(id, kind, what); \
	} while (0)

static int oracle_session_keys(json_t *c, long long id, const char *kind)
{
	uint8_t k1[16], k2[16], out[6][16], want[16];
	uint8_t join_eui[8], dev_eui[8];
	if (strcmp(kind, "session_keys_1_0") == 0) {
		jhex_exact(c, "app_key", k1, 16);
		CHECK(lorawan_derive_session_keys_1_0(k1, jbe(c, "join_nonce", 3), jbe(c, "net_id", 3),
						      (uint16_t)jbe(c, "dev_nonce", 2), out[0],
						      out[1]) == 0,
		      "derivation failed");
		jhex_exact(c, "nwk_s_key", want, 16);
		CHECK(memcmp(out[0], want, 16) == 0, "NwkSKey differs");
		jhex_exact(c, "app_s_key", want, 16);
		CHECK(memcmp(out[1], want, 16) == 0, "AppSKey differs");
		return 0;
	}
	jhex_exact(c, "app_key", k1, 16);
	jhex_exact(c, "nwk_key", k2, 16);
	jhex_exact(c, "join_eui", join_eui, 8);
	jhex_exact(c, "dev_eui", dev_eui, 8);
	CHECK(lorawan_derive_session_keys_1_1(k2, k1, jbe(c, "join_nonce", 3), join_eui,
					      (uint16_t)jbe(c, "dev_nonce", 2), out[0], out[1],
					      out[2], out[3]) == 0,
	      "derivation failed");
	lorawan_derive_js_keys(k2, dev_eui, out[4], out[5]);
	{
		static const char *const names[6] = {"f_nwk_s_int_key", "s_nwk_s_int_key",
						     "nwk_s_enc_key",   "app_s_key",
						     "js_int_key",      "js_enc_key"};
		for (int i = 0; i < 6; i++) {
			jhex_exact(c, names[i], want, 16);
			CHECK(memcmp(out[i], want, 16) == 0, names[i]);
		}
	}
	return 0;
}

static int oracle_join_request(json_t *c, long long id, const char *kind)
{
	uint8_t key[16], phy[64], built[64], mic[4], eui[8];
	struct lorawan_frame f = {.mtype = LORAWAN_MTYPE_JOIN_REQUEST}, g;
	size_t len, built_len;
	jhex_exact(c, "key", key, 16);
	len = jhex(c, "phy", phy, sizeof(phy));
	jhex_exact(c, "join_eui", f.u.join_request.join_eui, 8);
	jhex_exact(c, "dev_eui", f.u.join_request.dev_eui, 8);
	f.u.join_request.dev_nonce = (uint16_t)jbe(c, "dev_nonce", 2);
	CHECK(lorawan_frame_build(&f, built, sizeof(built), &built_len) == 0, "build failed");
	CHECK(lorawan_join_request_mic(key, built, built_len, mic) == 0, "MIC failed");
	memcpy(built + built_len - 4, mic, 4);
	CHECK(built_len == len && memcmp(built, phy, len) == 0, "PHYPayload differs");
	CHECK(lorawan_frame_parse(phy, len, &g) == 0, "parse failed");
	jhex_exact(c, "dev_eui", eui, 8);
	CHECK(memcmp(g.u.join_request.dev_eui, eui, 8) == 0, "parsed DevEUI differs");
	CHECK(g.u.join_request.dev_nonce == f.u.join_request.dev_nonce, "parsed DevNonce differs");
	CHECK(lorawan_mic_check(phy, len, mic) == 0, "MIC check failed");
	return 0;
}

static int oracle_rejoin_request(json_t *c, long long id, const char *kind)
{
	uint8_t key[16], phy[64], built[64], mic[4];
	struct lorawan_frame f = {.mtype = LORAWAN_MTYPE_REJOIN_REQUEST}, g;
	size_t len, built_len;
	jhex_exact(c, "key", key, 16);
	len = jhex(c, "phy", phy, sizeof(phy));
	f.u.rejoin_request.type = (uint8_t)jint(c, "rejoin_type");
	if (f.u.rejoin_request.type == 1)
		jhex_exact(c, "join_eui", f.u.rejoin_request.join_eui, 8);
	else
		f.u.rejoin_request.net_id = jbe(c, "net_id", 3);
	jhex_exact(c, "dev_eui", f.u.rejoin_request.dev_eui, 8);
	f.u.rejoin_request.rj_count = (uint16_t)jint(c, "rj_count");
	CHECK(lorawan_frame_build(&f, built, sizeof(built), &built_len) == 0, "build failed");
	CHECK(lorawan_rejoin_request_mic(key, built, built_len, mic) == 0, "MIC failed");
	memcpy(built + built_len - 4, mic, 4);
	CHECK(built_len == len && memcmp(built, phy, len) == 0, "PHYPayload differs");
	CHECK(lorawan_frame_parse(phy, len, &g) == 0, "parse failed");
	CHECK(g.u.rejoin_request.rj_count == f.u.rejoin_request.rj_count, "parsed RJcount differs");
	return 0;
}

static int oracle_join_accept(json_t *c, long long id, const char *kind)
{
	struct lorawan_join_accept ja = {0}, back;
	uint8_t phy[64], sealed[64], k[16], js_int[16], js_enc[16], dev_eui[8], join_eui[8];
	uint8_t cflist[32];
	size_t len, sealed_len, cflist_len;
	bool v11 = strcmp(kind, "join_accept_1_1") == 0;
	uint8_t jrt = 0;
	uint16_t dev_nonce = 0;
	const uint8_t *enc = k;

	len = jhex(c, "phy", phy, sizeof(phy));
	ja.join_nonce = jbe(c, "join_nonce", 3);
	ja.net_id = jbe(c, "net_id", 3);
	ja.dev_addr = jbe(c, "dev_addr", 4);
	ja.dl_settings = (uint8_t)jint(c, "dl_settings");
	ja.rx_delay = (uint8_t)jint(c, "rx_delay");
	cflist_len = jhex(c, "cflist", cflist, sizeof(cflist));
	CHECK(cflist_len == 0 || cflist_len == 16, "bad CFList in case");
	ja.has_cflist = cflist_len == 16;
	memcpy(ja.cflist, cflist, cflist_len);
	if (!v11) {
		jhex_exact(c, "key", k, 16);
		CHECK(lorawan_join_accept_seal_1_0(k, &ja, sealed, sizeof(sealed), &sealed_len) == 0,
		      "seal failed");
		CHECK(sealed_len == len && memcmp(sealed, phy, len) == 0, "PHYPayload differs");
		CHECK(lorawan_join_accept_open_1_0(k, phy, len, &back) == 0, "open failed");
	} else {
		jhex_exact(c, "nwk_key", k, 16);
		jhex_exact(c, "dev_eui", dev_eui, 8);
		jhex_exact(c, "join_eui", join_eui, 8);
		dev_nonce = (uint16_t)jbe(c, "dev_nonce", 2);
		jrt = (uint8_t)jint(c, "join_req_type");
		lorawan_derive_js_keys(k, dev_eui, js_int, js_enc);
		if (jrt != LORAWAN_JOIN_REQ_TYPE_JOIN)
			enc = js_enc;
		CHECK(lorawan_join_accept_seal_1_1(enc, js_int, jrt, join_eui, dev_nonce, &ja, sealed,
						   sizeof(sealed), &sealed_len) == 0,
		      "seal failed");
		CHECK(sealed_len == len && memcmp(sealed, phy, len) == 0, "PHYPayload differs");
		CHECK(lorawan_join_accept_open_1_1(enc, js_int, jrt, join_eui, dev_nonce, phy, len,
						   &back) == 0,
		      "open failed");
	}
	CHECK(back.join_nonce == ja.join_nonce && back.net_id == ja.net_id &&
		      back.dev_addr == ja.dev_addr && back.dl_settings == ja.dl_settings &&
		      back.rx_delay == ja.rx_delay && back.has_cflist == ja.has_cflist &&
		      memcmp(back.cflist, ja.cflist, 16) == 0,
	      "opened fields differ");
	return 0;
}

static int oracle_data(json_t *c, long long id, const char *kind)
{
	bool v11 = strcmp(kind, "data_1_1") == 0;
	struct lorawan_frame f = {0}, g;
	uint8_t phy[LORAWAN_PHY_PAYLOAD_MAX + 1], built[LORAWAN_PHY_PAYLOAD_MAX];
	uint8_t app_s_key[16], k_mic[16], f_key[16], mic[4], plain[LORAWAN_FRM_PAYLOAD_MAX];
	uint32_t fcnt32 = (uint32_t)jint(c, "fcnt32");
	long long fport = jint(c, "fport");
	uint16_t conf = 0;
	uint8_t tx_dr = 0, tx_ch = 0;
	size_t len, built_len;
	bool uplink;
	const uint8_t *enc_key = app_s_key;

	f.mtype = (enum lorawan_mtype)jint(c, "mtype");
	uplink = lorawan_mtype_is_uplink(f.mtype);
	len = jhex(c, "phy", phy, sizeof(phy));
	jhex_exact(c, "app_s_key", app_s_key, 16);
	if (v11) {
		jhex_exact(c, "s_nwk_s_int_key", k_mic, 16);
		conf = (uint16_t)jint(c, "conf_fcnt");
		if (uplink) {
			jhex_exact(c, "f_nwk_s_int_key", f_key, 16);
			tx_dr = (uint8_t)jint(c, "tx_dr");
			tx_ch = (uint8_t)jint(c, "tx_ch");
		}
	} else {
		jhex_exact(c, "nwk_s_key", k_mic, 16);
		if (fport == 0)
			enc_key = k_mic;
	}
	f.u.data.dev_addr = jbe(c, "dev_addr", 4);
	f.u.data.fctrl = (uint8_t)jint(c, "fctrl");
	f.u.data.fcnt = (uint16_t)fcnt32;
	f.u.data.fopts_len = (uint8_t)jhex(c, "fopts", f.u.data.fopts, sizeof(f.u.data.fopts));
	f.u.data.has_fport = fport >= 0;
	f.u.data.fport = (uint8_t)(fport >= 0 ? fport : 0);
	f.u.data.frm_payload_len = jhex(c, "payload", plain, sizeof(plain));
	CHECK(lorawan_frm_payload_crypt(enc_key, !uplink, f.u.data.dev_addr, fcnt32, plain,
					f.u.data.frm_payload_len, f.u.data.frm_payload) == 0,
	      "encryption failed");
	CHECK(lorawan_frame_build(&f, built, sizeof(built), &built_len) == 0, "build failed");
	if (!v11)
		CHECK(lorawan_data_mic_1_0(k_mic, built, built_len, fcnt32, mic) == 0, "MIC failed");
	else if (uplink)
		CHECK(lorawan_data_mic_1_1_uplink(f_key, k_mic, built, built_len, fcnt32, conf,
						  tx_dr, tx_ch, mic) == 0,
		      "MIC failed");
	else
		CHECK(lorawan_data_mic_1_1_downlink(k_mic, built, built_len, fcnt32, conf, mic) == 0,
		      "MIC failed");
	memcpy(built + built_len - 4, mic, 4);
	CHECK(built_len == len && memcmp(built, phy, len) == 0, "PHYPayload differs");

	/* The receiving direction: parse, check, decrypt. */
	CHECK(lorawan_frame_parse(phy, len, &g) == 0, "parse failed");
	CHECK(lorawan_mic_check(phy, len, mic) == 0, "MIC check failed");
	CHECK(lorawan_frm_payload_crypt(enc_key, !uplink, g.u.data.dev_addr, fcnt32,
					g.u.data.frm_payload, g.u.data.frm_payload_len,
					g.u.data.frm_payload) == 0,
	      "decryption failed");
	CHECK(g.u.data.frm_payload_len == f.u.data.frm_payload_len &&
		      memcmp(g.u.data.frm_payload, plain, f.u.data.frm_payload_len) == 0,
	      "decrypted FRMPayload differs");
	return 0;
}

static int oracle_fopts(json_t *c, long long id, const char *kind)
{
	uint8_t key[16], fopts[16], want[16], out[16];
	enum lorawan_mtype t = (enum lorawan_mtype)jint(c, "mtype");
	long long fport = jint(c, "fport");
	bool downlink = !lorawan_mtype_is_uplink(t);
	size_t n;
	jhex_exact(c, "nwk_s_enc_key", key, 16);
	n = jhex(c, "fopts", fopts, sizeof(fopts));
	CHECK(jhex(c, "fopts_enc", want, sizeof(want)) == n, "bad case");
	CHECK(lorawan_fopts_crypt_1_1(key, downlink, downlink && fport > 0, jbe(c, "dev_addr", 4),
				      (uint32_t)jint(c, "fcnt32"), fopts, n, out) == 0,
	      "encryption failed");
	CHECK(memcmp(out, want, n) == 0, "encrypted FOpts differ");
	return 0;
}

static void test_oracle_cases(void **state)
{
	const char *path = getenv("IOTVAULT_LORAWAN_CASES");
	char line[8192];
	FILE *fp;
	int failures = 0, cases = 0;
	(void)state;

	if (path == NULL || *path == '\0')
		skip(); /* only tests/integration/test_lorawan_oracle.sh provides cases */
	fp = fopen(path, "r");
	if (fp == NULL)
		fail_msg("cannot open IOTVAULT_LORAWAN_CASES file");
	while (fgets(line, sizeof(line), fp) != NULL) {
		json_error_t jerr;
		json_t *c = json_loads(line, 0, &jerr);
		const char *kind;
		long long id;
		if (c == NULL)
			fail_msg("case line %d: %s", cases, jerr.text);
		kind = jstr(c, "kind");
		id = jint(c, "id");
		if (strncmp(kind, "session_keys", 12) == 0)
			failures += oracle_session_keys(c, id, kind);
		else if (strcmp(kind, "join_request") == 0)
			failures += oracle_join_request(c, id, kind);
		else if (strcmp(kind, "rejoin_request") == 0)
			failures += oracle_rejoin_request(c, id, kind);
		else if (strncmp(kind, "join_accept", 11) == 0)
			failures += oracle_join_accept(c, id, kind);
		else if (strncmp(kind, "data_", 5) == 0)
			failures += oracle_data(c, id, kind);
		else if (strcmp(kind, "fopts_1_1") == 0)
			failures += oracle_fopts(c, id, kind);
		else
			fail_msg("case %lld: unknown kind %s", id, kind);
		cases++;
		json_decref(c);
	}
	fclose(fp);
	print_message("lora-packet oracle: %d cases, %d disagreements\n", cases, failures);
	assert_true(cases > 0);
	assert_int_equal(failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_kat_session_keys_1_0, setup),
		cmocka_unit_test_setup(test_kat_session_keys_1_1, setup),
		cmocka_unit_test_setup(test_kat_join_request_mic, setup),
		cmocka_unit_test_setup(test_kat_uplink, setup),
		cmocka_unit_test_setup(test_kat_ts002_example, setup),
		cmocka_unit_test_setup(test_build_parse_round_trip, setup),
		cmocka_unit_test_setup(test_build_rejects_bad_fields, setup),
		cmocka_unit_test_setup(test_parse_rejects_malformed, setup),
		cmocka_unit_test_setup(test_join_accept_seal_open, setup),
		cmocka_unit_test_setup(test_mic_mismatch_detected, setup),
		cmocka_unit_test_setup(test_truncations_rejected, setup),
		cmocka_unit_test_setup(test_frm_payload_crypt, setup),
		cmocka_unit_test_setup(test_fcnt_reconstruct, setup),
		cmocka_unit_test_setup(test_key_derivation_ranges, setup),
		cmocka_unit_test_setup(test_oracle_cases, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
