/* The raw codec: the payload as hex and base64, for devices whose format the
 * application decodes itself. Only the length is validated. */
#include "iotvault/codec.h"
#include "iotvault/hex.h"
#include "iotvault/lorawan.h"

#include <sodium.h>
#include <stdio.h>

int codec_raw_decode(const uint8_t *in, size_t len, uint8_t fport, json_t **out, char *reason,
		     size_t reason_len)
{
	char hex[2 * LORAWAN_FRM_PAYLOAD_MAX + 1];
	char b64[sodium_base64_ENCODED_LEN(LORAWAN_FRM_PAYLOAD_MAX, sodium_base64_VARIANT_ORIGINAL)];
	json_t *o;

	(void)fport;
	*out = NULL;
	if (len > LORAWAN_FRM_PAYLOAD_MAX) {
		snprintf(reason, reason_len, "payload of %zu bytes exceeds %d", len,
			 LORAWAN_FRM_PAYLOAD_MAX);
		return IV_ERR_INVALID;
	}
	hex_encode_upper(in, len, hex);
	sodium_bin2base64(b64, sizeof(b64), in, len, sodium_base64_VARIANT_ORIGINAL);
	if ((o = json_object()) == NULL)
		return IV_ERR_NOMEM;
	json_object_set_new(o, "hex", json_string(hex));
	json_object_set_new(o, "base64", json_string(b64));
	json_object_set_new(o, "length", json_integer((json_int_t)len));
	*out = o;
	return 0;
}
