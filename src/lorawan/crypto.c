/* LoRaWAN 1.0.x / 1.1 cryptography on Nettle primitives: session-key
 * derivation, join and data MICs (AES-128-CMAC), the join-accept cipher, the
 * FRMPayload and FOpts keystreams, and 32-bit frame counter reconstruction.
 * Keys come in as parameters; every AES context and every block that held key
 * material or keystream is wiped before returning. */
#include "iotvault/lorawan.h"

#include <nettle/aes.h>
#include <string.h>

#include "iotvault/crypto.h"
#include "iotvault/cursor.h"
#include "iotvault/secmem.h"

#define BLOCK AES_BLOCK_SIZE
#define MAX_24BIT 0xFFFFFFu

/* Key-derivation block prefixes (LoRaWAN 1.0.x section 6.2.5, 1.1 section 6.2.2). */
enum {
	KD_NWK_S_KEY = 0x01,
	KD_APP_S_KEY = 0x02,
	KD_F_NWK_S_INT_KEY = 0x01,
	KD_S_NWK_S_INT_KEY = 0x03,
	KD_NWK_S_ENC_KEY = 0x04,
	KD_JS_ENC_KEY = 0x05,
	KD_JS_INT_KEY = 0x06,
};

/* One AES-128 encryption of one block. */
static void aes_block(const uint8_t key[static 16], const uint8_t in[static BLOCK],
		      uint8_t out[static BLOCK])
{
	struct aes128_ctx ctx;
	aes128_set_encrypt_key(&ctx, key);
	aes128_encrypt(&ctx, BLOCK, out, in);
	secmem_wipe(&ctx, sizeof(ctx));
}

static void eui_to_wire(const uint8_t eui[static LORAWAN_EUI_LEN], uint8_t wire[static LORAWAN_EUI_LEN])
{
	for (size_t i = 0; i < LORAWAN_EUI_LEN; i++)
		wire[i] = eui[LORAWAN_EUI_LEN - 1 - i];
}

/* aes128_encrypt(KEY, prefix | JoinNonce | NetID-or-JoinEUI | DevNonce | pad16). */
static int derive(const uint8_t key[static 16], uint8_t prefix, uint32_t join_nonce,
		  const uint8_t *middle, size_t middle_len, uint16_t dev_nonce,
		  uint8_t out[static 16])
{
	uint8_t block[BLOCK] = {0};
	struct writer w;
	int r;
	writer_init(&w, block, sizeof(block));
	if ((r = writer_put_u8(&w, prefix)) || (r = writer_put_u24le(&w, join_nonce)) ||
	    (r = writer_put_bytes(&w, middle, middle_len)) || (r = writer_put_u16le(&w, dev_nonce)))
		return r;
	aes_block(key, block, out);
	return 0;
}

int lorawan_derive_session_keys_1_0(const uint8_t app_key[static 16], uint32_t join_nonce,
				    uint32_t net_id, uint16_t dev_nonce,
				    uint8_t nwk_s_key[static 16], uint8_t app_s_key[static 16])
{
	uint8_t net_id_wire[3];
	struct writer w;
	int r;

	if (join_nonce > MAX_24BIT || net_id > MAX_24BIT)
		return IV_ERR_INVALID;
	writer_init(&w, net_id_wire, sizeof(net_id_wire));
	if ((r = writer_put_u24le(&w, net_id)) ||
	    (r = derive(app_key, KD_NWK_S_KEY, join_nonce, net_id_wire, 3, dev_nonce, nwk_s_key)) ||
	    (r = derive(app_key, KD_APP_S_KEY, join_nonce, net_id_wire, 3, dev_nonce, app_s_key)))
		goto out;

	/* success */
	r = 0;
out:
	if (r) {
		secmem_wipe(nwk_s_key, 16);
		secmem_wipe(app_s_key, 16);
	}
	return r;
}

int lorawan_derive_session_keys_1_1(const uint8_t nwk_key[static 16],
				    const uint8_t app_key[static 16], uint32_t join_nonce,
				    const uint8_t join_eui[static 8], uint16_t dev_nonce,
				    uint8_t f_nwk_s_int_key[static 16],
				    uint8_t s_nwk_s_int_key[static 16],
				    uint8_t nwk_s_enc_key[static 16], uint8_t app_s_key[static 16])
{
	uint8_t eui[LORAWAN_EUI_LEN];
	int r;

	if (join_nonce > MAX_24BIT)
		return IV_ERR_INVALID;
	eui_to_wire(join_eui, eui);
	if ((r = derive(nwk_key, KD_F_NWK_S_INT_KEY, join_nonce, eui, sizeof(eui), dev_nonce,
			f_nwk_s_int_key)) ||
	    (r = derive(nwk_key, KD_S_NWK_S_INT_KEY, join_nonce, eui, sizeof(eui), dev_nonce,
			s_nwk_s_int_key)) ||
	    (r = derive(nwk_key, KD_NWK_S_ENC_KEY, join_nonce, eui, sizeof(eui), dev_nonce,
			nwk_s_enc_key)) ||
	    (r = derive(app_key, KD_APP_S_KEY, join_nonce, eui, sizeof(eui), dev_nonce, app_s_key)))
		goto out;

	/* success */
	r = 0;
out:
	if (r) {
		secmem_wipe(f_nwk_s_int_key, 16);
		secmem_wipe(s_nwk_s_int_key, 16);
		secmem_wipe(nwk_s_enc_key, 16);
		secmem_wipe(app_s_key, 16);
	}
	return r;
}

void lorawan_derive_js_keys(const uint8_t nwk_key[static 16], const uint8_t dev_eui[static 8],
			    uint8_t js_int_key[static 16], uint8_t js_enc_key[static 16])
{
	uint8_t block[BLOCK] = {0};
	/* prefix | DevEUI (wire order) | pad16: no writer needed for a fixed layout
	 * built in a local block. */
	eui_to_wire(dev_eui, block + 1);
	block[0] = KD_JS_INT_KEY;
	aes_block(nwk_key, block, js_int_key);
	block[0] = KD_JS_ENC_KEY;
	aes_block(nwk_key, block, js_enc_key);
}

/* ---------------------------------------------------------------- MICs */

int lorawan_mic_check(const uint8_t *phy, size_t len, const uint8_t mic[static 4])
{
	struct cursor c;
	const uint8_t *tail;
	if (len < LORAWAN_MIC_LEN)
		return IV_ERR_AUTH_TAG;
	cursor_init(&c, phy, len);
	if (cursor_view(&c, &tail, len - LORAWAN_MIC_LEN) != 0 ||
	    cursor_view(&c, &tail, LORAWAN_MIC_LEN) != 0)
		return IV_ERR_AUTH_TAG;
	return secmem_equal(tail, mic, LORAWAN_MIC_LEN) == 0 ? 0 : IV_ERR_AUTH_TAG;
}

static void cmac_mic(const uint8_t key[static 16], const uint8_t *msg, size_t len,
		     uint8_t mic[static 4])
{
	uint8_t full[CMAC_LEN];
	cmac_aes128(key, msg, len, full);
	memcpy(mic, full, LORAWAN_MIC_LEN);
	secmem_wipe(full, sizeof(full));
}

/* Parses PHY as a frame of the wanted type; the MIC covers everything but the
 * last four bytes. */
static int parse_as(const uint8_t *phy, size_t len, enum lorawan_mtype want,
		    struct lorawan_frame *f)
{
	int r = lorawan_frame_parse(phy, len, f);
	if (r)
		return r;
	if (want == LORAWAN_MTYPE_UNCONFIRMED_UP) /* any data frame */
		return lorawan_mtype_is_data(f->mtype) ? 0 : IV_ERR_INVALID;
	return f->mtype == want ? 0 : IV_ERR_INVALID;
}

int lorawan_join_request_mic(const uint8_t key[static 16], const uint8_t *phy, size_t len,
			     uint8_t mic[static 4])
{
	struct lorawan_frame f;
	int r = parse_as(phy, len, LORAWAN_MTYPE_JOIN_REQUEST, &f);
	if (r)
		return r;
	cmac_mic(key, phy, len - LORAWAN_MIC_LEN, mic);
	return 0;
}

int lorawan_rejoin_request_mic(const uint8_t key[static 16], const uint8_t *phy, size_t len,
			       uint8_t mic[static 4])
{
	struct lorawan_frame f;
	int r = parse_as(phy, len, LORAWAN_MTYPE_REJOIN_REQUEST, &f);
	if (r)
		return r;
	cmac_mic(key, phy, len - LORAWAN_MIC_LEN, mic);
	return 0;
}

int lorawan_join_accept_mic_1_0(const uint8_t key[static 16], const uint8_t *phy, size_t len,
				uint8_t mic[static 4])
{
	struct lorawan_frame f;
	int r = parse_as(phy, len, LORAWAN_MTYPE_JOIN_ACCEPT, &f);
	if (r == 0)
		cmac_mic(key, phy, len - LORAWAN_MIC_LEN, mic);
	secmem_wipe(&f, sizeof(f));
	return r;
}

int lorawan_join_accept_mic_1_1(const uint8_t js_int_key[static 16], uint8_t join_req_type,
				const uint8_t join_eui[static 8], uint16_t dev_nonce,
				const uint8_t *phy, size_t len, uint8_t mic[static 4])
{
	/* JoinReqType | JoinEUI | DevNonce | MHDR..CFList */
	uint8_t msg[1 + LORAWAN_EUI_LEN + 2 + LORAWAN_JOIN_ACCEPT_CFLIST_LEN];
	uint8_t eui[LORAWAN_EUI_LEN];
	struct lorawan_frame f;
	struct writer w;
	int r;

	if (join_req_type != LORAWAN_JOIN_REQ_TYPE_JOIN && join_req_type > 2)
		return IV_ERR_INVALID;
	if ((r = parse_as(phy, len, LORAWAN_MTYPE_JOIN_ACCEPT, &f)))
		goto out;
	eui_to_wire(join_eui, eui);
	writer_init(&w, msg, sizeof(msg));
	if ((r = writer_put_u8(&w, join_req_type)) || (r = writer_put_bytes(&w, eui, sizeof(eui))) ||
	    (r = writer_put_u16le(&w, dev_nonce)) ||
	    (r = writer_put_bytes(&w, phy, len - LORAWAN_MIC_LEN)))
		goto out;
	cmac_mic(js_int_key, msg, w.len, mic);

	/* success */
	r = 0;
out:
	/* The plaintext join-accept is not a key, but it is what the encryption
	 * protects (DevAddr, JoinNonce): no copies left behind. */
	secmem_wipe(msg, sizeof(msg));
	secmem_wipe(&f, sizeof(f));
	return r;
}

/* ---------------------------------------------------------------- join-accept cipher */

static int join_accept_cipher(const uint8_t key[static 16], const uint8_t *in, size_t len,
			      uint8_t *out, bool network_side)
{
	struct aes128_ctx ctx;
	struct cursor c;
	struct writer w;
	const uint8_t *body;
	uint8_t mhdr;
	uint8_t buf[LORAWAN_JOIN_ACCEPT_CFLIST_LEN - 1];
	int r;

	if (len != LORAWAN_JOIN_ACCEPT_LEN && len != LORAWAN_JOIN_ACCEPT_CFLIST_LEN)
		return len < LORAWAN_JOIN_ACCEPT_LEN ? IV_ERR_TRUNCATED : IV_ERR_INVALID;
	cursor_init(&c, in, len);
	if ((r = cursor_read_u8(&c, &mhdr)) || (r = cursor_view(&c, &body, len - 1)))
		return r;
	if ((mhdr >> 5) != LORAWAN_MTYPE_JOIN_ACCEPT)
		return IV_ERR_INVALID;
	if (network_side) {
		aes128_set_decrypt_key(&ctx, key);
		aes128_decrypt(&ctx, len - 1, buf, body);
	} else {
		aes128_set_encrypt_key(&ctx, key);
		aes128_encrypt(&ctx, len - 1, buf, body);
	}
	writer_init(&w, out, len);
	if ((r = writer_put_u8(&w, mhdr)) || (r = writer_put_bytes(&w, buf, len - 1)))
		goto out;

	/* success */
	r = 0;
out:
	secmem_wipe(&ctx, sizeof(ctx));
	secmem_wipe(buf, sizeof(buf));
	return r;
}

int lorawan_join_accept_encrypt(const uint8_t key[static 16], const uint8_t *in, size_t len,
				uint8_t *out)
{
	return join_accept_cipher(key, in, len, out, true);
}

int lorawan_join_accept_decrypt(const uint8_t key[static 16], const uint8_t *in, size_t len,
				uint8_t *out)
{
	return join_accept_cipher(key, in, len, out, false);
}

static int join_accept_seal(const uint8_t enc_key[static 16], const uint8_t *mic_key,
			    uint8_t join_req_type, const uint8_t *join_eui, uint16_t dev_nonce,
			    const struct lorawan_join_accept *ja, uint8_t *out, size_t cap,
			    size_t *out_len)
{
	struct lorawan_frame f = {.mtype = LORAWAN_MTYPE_JOIN_ACCEPT};
	uint8_t plain[LORAWAN_JOIN_ACCEPT_CFLIST_LEN];
	uint8_t mic[LORAWAN_MIC_LEN];
	size_t len = 0;
	struct writer w;
	int r;

	*out_len = 0;
	f.u.join_accept = *ja;
	if ((r = lorawan_frame_build(&f, plain, sizeof(plain), &len)))
		goto out;
	if (join_eui == NULL)
		r = lorawan_join_accept_mic_1_0(mic_key, plain, len, mic);
	else
		r = lorawan_join_accept_mic_1_1(mic_key, join_req_type, join_eui, dev_nonce, plain,
						len, mic);
	if (r)
		goto out;
	/* The MIC replaces the last four bytes of the built frame. */
	writer_init(&w, plain, len);
	w.len = len - LORAWAN_MIC_LEN;
	if ((r = writer_put_bytes(&w, mic, sizeof(mic))))
		goto out;
	if (cap < len) {
		r = IV_ERR_TOO_LARGE;
		goto out;
	}
	if ((r = lorawan_join_accept_encrypt(enc_key, plain, len, out)))
		goto out;

	/* success */
	*out_len = len;
	r = 0;
out:
	secmem_wipe(plain, sizeof(plain));
	secmem_wipe(&f, sizeof(f));
	return r;
}

int lorawan_join_accept_seal_1_0(const uint8_t key[static 16], const struct lorawan_join_accept *ja,
				 uint8_t *out, size_t cap, size_t *out_len)
{
	return join_accept_seal(key, key, 0, NULL, 0, ja, out, cap, out_len);
}

int lorawan_join_accept_seal_1_1(const uint8_t enc_key[static 16],
				 const uint8_t js_int_key[static 16], uint8_t join_req_type,
				 const uint8_t join_eui[static 8], uint16_t dev_nonce,
				 const struct lorawan_join_accept *ja, uint8_t *out, size_t cap,
				 size_t *out_len)
{
	if ((ja->dl_settings & LORAWAN_DLSETTINGS_OPTNEG) == 0) {
		*out_len = 0;
		return IV_ERR_INVALID;
	}
	return join_accept_seal(enc_key, js_int_key, join_req_type, join_eui, dev_nonce, ja, out,
				cap, out_len);
}

static int join_accept_open(const uint8_t enc_key[static 16], const uint8_t *mic_key,
			    uint8_t join_req_type, const uint8_t *join_eui, uint16_t dev_nonce,
			    const uint8_t *phy, size_t len, struct lorawan_join_accept *out)
{
	uint8_t plain[LORAWAN_JOIN_ACCEPT_CFLIST_LEN];
	uint8_t mic[LORAWAN_MIC_LEN];
	struct lorawan_frame f;
	int r;

	memset(out, 0, sizeof(*out));
	memset(&f, 0, sizeof(f));
	if ((r = lorawan_join_accept_decrypt(enc_key, phy, len, plain)))
		goto out;
	if (join_eui == NULL)
		r = lorawan_join_accept_mic_1_0(mic_key, plain, len, mic);
	else
		r = lorawan_join_accept_mic_1_1(mic_key, join_req_type, join_eui, dev_nonce, plain,
						len, mic);
	if (r || (r = lorawan_mic_check(plain, len, mic)) ||
	    (r = lorawan_frame_parse(plain, len, &f)))
		goto out;
	if (join_eui != NULL && (f.u.join_accept.dl_settings & LORAWAN_DLSETTINGS_OPTNEG) == 0) {
		r = IV_ERR_INVALID;
		goto out;
	}

	/* success */
	*out = f.u.join_accept;
	r = 0;
out:
	secmem_wipe(plain, sizeof(plain));
	secmem_wipe(&f, sizeof(f));
	return r;
}

int lorawan_join_accept_open_1_0(const uint8_t key[static 16], const uint8_t *phy, size_t len,
				 struct lorawan_join_accept *out)
{
	return join_accept_open(key, key, 0, NULL, 0, phy, len, out);
}

int lorawan_join_accept_open_1_1(const uint8_t enc_key[static 16],
				 const uint8_t js_int_key[static 16], uint8_t join_req_type,
				 const uint8_t join_eui[static 8], uint16_t dev_nonce,
				 const uint8_t *phy, size_t len, struct lorawan_join_accept *out)
{
	return join_accept_open(enc_key, js_int_key, join_req_type, join_eui, dev_nonce, phy, len,
				out);
}

/* ---------------------------------------------------------------- data frames */

/* Parses PHY as a data frame whose 16-bit FCnt is the low half of FCNT32. */
static int parse_data(const uint8_t *phy, size_t len, uint32_t fcnt32, struct lorawan_frame *f)
{
	int r = parse_as(phy, len, LORAWAN_MTYPE_UNCONFIRMED_UP, f);
	if (r)
		return r;
	return (uint16_t)fcnt32 == f->u.data.fcnt ? 0 : IV_ERR_INVALID;
}

/* B0/B1 | MHDR..FRMPayload: 0x49 | (ConfFCnt | TxDr | TxCh) or 4 x 0x00 | Dir |
 * DevAddr | FCnt32 | 0x00 | len(msg). CONF_FCNT counts only when the frame
 * acknowledges something; the caller passes 0 where B0 has zeros. */
static int data_mic(const uint8_t key[static 16], const struct lorawan_frame *f,
		    const uint8_t *phy, size_t len, uint32_t fcnt32, uint16_t conf_fcnt,
		    uint8_t tx_dr, uint8_t tx_ch, uint8_t mic[static 4])
{
	uint8_t buf[BLOCK + LORAWAN_PHY_PAYLOAD_MAX];
	size_t msg_len = len - LORAWAN_MIC_LEN;
	struct writer w;
	int r;

	if ((f->u.data.fctrl & LORAWAN_FCTRL_ACK) == 0)
		conf_fcnt = 0;
	writer_init(&w, buf, sizeof(buf));
	if ((r = writer_put_u8(&w, 0x49)) || (r = writer_put_u16le(&w, conf_fcnt)) ||
	    (r = writer_put_u8(&w, tx_dr)) || (r = writer_put_u8(&w, tx_ch)) ||
	    (r = writer_put_u8(&w, lorawan_mtype_is_uplink(f->mtype) ? 0 : 1)) ||
	    (r = writer_put_u32le(&w, f->u.data.dev_addr)) || (r = writer_put_u32le(&w, fcnt32)) ||
	    (r = writer_put_u8(&w, 0)) || (r = writer_put_u8(&w, (uint8_t)msg_len)) ||
	    (r = writer_put_bytes(&w, phy, msg_len)))
		return r;
	cmac_mic(key, buf, w.len, mic);
	return 0;
}

int lorawan_data_mic_1_0(const uint8_t nwk_s_key[static 16], const uint8_t *phy, size_t len,
			 uint32_t fcnt32, uint8_t mic[static 4])
{
	struct lorawan_frame f;
	int r = parse_data(phy, len, fcnt32, &f);
	if (r)
		return r;
	return data_mic(nwk_s_key, &f, phy, len, fcnt32, 0, 0, 0, mic);
}

int lorawan_data_mic_1_1_uplink(const uint8_t f_nwk_s_int_key[static 16],
				const uint8_t s_nwk_s_int_key[static 16], const uint8_t *phy,
				size_t len, uint32_t fcnt32, uint16_t conf_fcnt, uint8_t tx_dr,
				uint8_t tx_ch, uint8_t mic[static 4])
{
	uint8_t cmac_f[LORAWAN_MIC_LEN], cmac_s[LORAWAN_MIC_LEN];
	struct lorawan_frame f;
	struct writer w;
	int r;

	if ((r = parse_data(phy, len, fcnt32, &f)))
		goto out;
	if (!lorawan_mtype_is_uplink(f.mtype)) {
		r = IV_ERR_INVALID;
		goto out;
	}
	if ((r = data_mic(f_nwk_s_int_key, &f, phy, len, fcnt32, 0, 0, 0, cmac_f)) ||
	    (r = data_mic(s_nwk_s_int_key, &f, phy, len, fcnt32, conf_fcnt, tx_dr, tx_ch, cmac_s)))
		goto out;
	writer_init(&w, mic, LORAWAN_MIC_LEN);
	if ((r = writer_put_bytes(&w, cmac_s, 2)) || (r = writer_put_bytes(&w, cmac_f, 2)))
		goto out;

	/* success */
	r = 0;
out:
	secmem_wipe(cmac_f, sizeof(cmac_f));
	secmem_wipe(cmac_s, sizeof(cmac_s));
	return r;
}

int lorawan_data_mic_1_1_downlink(const uint8_t s_nwk_s_int_key[static 16], const uint8_t *phy,
				  size_t len, uint32_t fcnt32, uint16_t conf_fcnt,
				  uint8_t mic[static 4])
{
	struct lorawan_frame f;
	int r = parse_data(phy, len, fcnt32, &f);
	if (r)
		return r;
	if (lorawan_mtype_is_uplink(f.mtype))
		return IV_ERR_INVALID;
	return data_mic(s_nwk_s_int_key, &f, phy, len, fcnt32, conf_fcnt, 0, 0, mic);
}

/* XORs IN with the keystream aes128_encrypt(KEY, A_i), where A_i is A with its
 * last byte set to the block index, counting up from the value A carries. */
static void keystream_xor(const uint8_t key[static 16], uint8_t a[static BLOCK], const uint8_t *in,
			  size_t len, uint8_t *out)
{
	struct aes128_ctx ctx;
	uint8_t s[BLOCK];
	size_t off = 0;
	uint8_t i = a[BLOCK - 1];

	aes128_set_encrypt_key(&ctx, key);
	while (off < len) {
		size_t n = len - off < BLOCK ? len - off : BLOCK;
		a[BLOCK - 1] = i++;
		aes128_encrypt(&ctx, BLOCK, s, a);
		for (size_t k = 0; k < n; k++)
			out[off + k] = in[off + k] ^ s[k];
		off += n;
	}
	secmem_wipe(&ctx, sizeof(ctx));
	secmem_wipe(s, sizeof(s));
}

/* 0x01 | 0x00 x 3 | B4 | Dir | DevAddr | FCnt32 | 0x00 | first index */
static int a_block(uint8_t b4, bool downlink, uint32_t dev_addr, uint32_t fcnt32, uint8_t first,
		   uint8_t a[static BLOCK])
{
	struct writer w;
	int r;
	writer_init(&w, a, BLOCK);
	if ((r = writer_put_u8(&w, 0x01)) || (r = writer_put_u24le(&w, 0)) ||
	    (r = writer_put_u8(&w, b4)) || (r = writer_put_u8(&w, downlink ? 1 : 0)) ||
	    (r = writer_put_u32le(&w, dev_addr)) || (r = writer_put_u32le(&w, fcnt32)) ||
	    (r = writer_put_u8(&w, 0)) || (r = writer_put_u8(&w, first)))
		return r;
	return 0;
}

int lorawan_frm_payload_crypt(const uint8_t key[static 16], bool downlink, uint32_t dev_addr,
			      uint32_t fcnt32, const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t a[BLOCK];
	int r;
	if (len > LORAWAN_FRM_PAYLOAD_MAX || (len && (in == NULL || out == NULL)))
		return IV_ERR_INVALID;
	if ((r = a_block(0, downlink, dev_addr, fcnt32, 1, a)))
		return r;
	keystream_xor(key, a, in, len, out);
	return 0;
}

int lorawan_fopts_crypt_1_1(const uint8_t nwk_s_enc_key[static 16], bool downlink,
			    bool a_fcnt_down, uint32_t dev_addr, uint32_t fcnt32, const uint8_t *in,
			    size_t len, uint8_t *out)
{
	uint8_t a[BLOCK];
	int r;
	if (len > LORAWAN_FOPTS_MAX || (len && (in == NULL || out == NULL)))
		return IV_ERR_INVALID;
	if ((r = a_block(downlink && a_fcnt_down ? 0x02 : 0x01, downlink, dev_addr, fcnt32, 1, a)))
		return r;
	keystream_xor(nwk_s_enc_key, a, in, len, out);
	return 0;
}

/* ---------------------------------------------------------------- frame counters */

int lorawan_fcnt_reconstruct(bool have_last, uint32_t last, uint16_t fcnt16, uint32_t *out)
{
	uint32_t gap;
	if (!have_last) {
		*out = fcnt16;
		return 0;
	}
	/* Distance forward from LAST to the next value ending in FCNT16, modulo 2^16. */
	gap = (uint32_t)(uint16_t)(fcnt16 - (uint16_t)last);
	if (gap > LORAWAN_FCNT_MAX_GAP || gap > UINT32_MAX - last)
		return IV_ERR_REFUSED;
	*out = last + gap;
	return 0;
}
