/* libFuzzer target for the LoRaWAN PHYPayload codec (src/lorawan/frame.c), the
 * first parser that sees a JoinRequest from a network server or an uplink
 * from an application-server webhook. Every message type is parsed; a frame
 * that parses must rebuild to exactly the input bytes. The MIC, join-accept
 * and payload functions then run on the same input with a fixed key, and
 * must either succeed or return an error code, never crash. */
#include "iotvault/lorawan.h"
#include "iotvault/secmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[16] = {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
					0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c};
	static const uint8_t eui[8] = {0x70, 0xB3, 0xD5, 0x7E, 0xD0, 0, 0, 0};
	static int initialised;
	struct lorawan_frame f;
	struct lorawan_join_accept ja;
	uint8_t out[LORAWAN_PHY_PAYLOAD_MAX], mic[4], plain[64];
	uint8_t *copy;
	size_t len;
	uint32_t fcnt32;
	int r;

	if (!initialised) {
		if (secmem_init() != 0)
			abort();
		initialised = 1;
	}
	/* An exact-size heap copy, so that ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	if (size)
		memcpy(copy, data, size);

	r = lorawan_frame_parse(copy, size, &f);
	if (r == 0) {
		if (lorawan_frame_build(&f, out, sizeof(out), &len) != 0 || len != size ||
		    memcmp(out, copy, size) != 0)
			abort();
		switch (f.mtype) {
		case LORAWAN_MTYPE_JOIN_REQUEST:
			if (lorawan_join_request_mic(key, copy, size, mic) != 0)
				abort();
			break;
		case LORAWAN_MTYPE_REJOIN_REQUEST:
			if (lorawan_rejoin_request_mic(key, copy, size, mic) != 0)
				abort();
			break;
		case LORAWAN_MTYPE_JOIN_ACCEPT:
			if (lorawan_join_accept_mic_1_0(key, copy, size, mic) != 0 ||
			    lorawan_join_accept_mic_1_1(key, LORAWAN_JOIN_REQ_TYPE_JOIN, eui, 1, copy,
							size, mic) != 0)
				abort();
			break;
		default:
			if (lorawan_fcnt_reconstruct(true, 0x1FFF0, f.u.data.fcnt, &fcnt32) != 0)
				fcnt32 = f.u.data.fcnt;
			if (lorawan_data_mic_1_0(key, copy, size, fcnt32, mic) != 0)
				abort();
			if (lorawan_mtype_is_uplink(f.mtype)) {
				if (lorawan_data_mic_1_1_uplink(key, key, copy, size, fcnt32, 1, 2, 3,
								mic) != 0)
					abort();
			} else if (lorawan_data_mic_1_1_downlink(key, copy, size, fcnt32, 1, mic) != 0) {
				abort();
			}
			if (lorawan_frm_payload_crypt(key, !lorawan_mtype_is_uplink(f.mtype),
						      f.u.data.dev_addr, fcnt32, f.u.data.frm_payload,
						      f.u.data.frm_payload_len,
						      f.u.data.frm_payload) != 0 ||
			    lorawan_fopts_crypt_1_1(key, false, false, f.u.data.dev_addr, fcnt32,
						    f.u.data.fopts, f.u.data.fopts_len,
						    f.u.data.fopts) != 0)
				abort();
			break;
		}
		/* The constant-time check agrees with a plain comparison. */
		if ((lorawan_mic_check(copy, size, mic) == 0) != (memcmp(f.mic, mic, 4) == 0))
			abort();
	} else if (r != IV_ERR_INVALID && r != IV_ERR_TRUNCATED && r != IV_ERR_TOO_LARGE) {
		abort();
	}

	/* The same bytes as an encrypted join-accept on its way to a device. */
	if (size <= sizeof(plain)) {
		if (lorawan_join_accept_decrypt(key, copy, size, plain) == 0 &&
		    lorawan_join_accept_encrypt(key, plain, size, out) == 0 &&
		    memcmp(out, copy, size) != 0)
			abort();
		/* Whatever opens must seal back to the same bytes. */
		if (lorawan_join_accept_open_1_0(key, copy, size, &ja) == 0 &&
		    (lorawan_join_accept_seal_1_0(key, &ja, out, sizeof(out), &len) != 0 ||
		     len != size || memcmp(out, copy, size) != 0))
			abort();
		if (lorawan_join_accept_open_1_1(key, key, 0, eui, 7, copy, size, &ja) == 0 &&
		    (lorawan_join_accept_seal_1_1(key, key, 0, eui, 7, &ja, out, sizeof(out),
						  &len) != 0 ||
		     len != size || memcmp(out, copy, size) != 0))
			abort();
	}
	free(copy);
	return 0;
}
