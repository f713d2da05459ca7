/* libFuzzer target for the CayenneLPP decoder (src/appserver/codec_cayennelpp.c)
 * and the raw codec: the input is a decrypted FRMPayload. A decoded payload
 * must serialise to JSON with one measurement per item; a refusal must carry
 * a reason. Also runs codec_clean_string over the input as text. */
#include "iotvault/codec.h"
#include "iotvault/lorawan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *out = NULL;
	char reason[CODEC_REASON_MAX + 1] = "", text[300], clean[64];
	char *dump;

	if (size > LORAWAN_FRM_PAYLOAD_MAX)
		return 0;
	if (codec_cayennelpp_decode(data, size, 1, &out, reason, sizeof(reason)) == 0) {
		json_t *m = json_object_get(out, "measurements");
		if (!json_is_array(m) || json_array_size(m) == 0 || json_array_size(m) > size / 3)
			abort();
		if ((dump = json_dumps(out, JSON_COMPACT)) == NULL)
			abort();
		free(dump);
	} else if (reason[0] == '\0')
		abort();
	json_decref(out);
	out = NULL;
	if (codec_raw_decode(data, size, 1, &out, reason, sizeof(reason)) != 0 ||
	    json_integer_value(json_object_get(out, "length")) != (json_int_t)size)
		abort();
	json_decref(out);

	memcpy(text, data, size < sizeof(text) - 1 ? size : sizeof(text) - 1);
	text[size < sizeof(text) - 1 ? size : sizeof(text) - 1] = '\0';
	codec_clean_string(text, clean, sizeof(clean));
	for (const unsigned char *p = (const unsigned char *)clean; *p; p++)
		if (*p < 0x20 || *p == 0x7F)
			abort();
	if (strlen(clean) >= sizeof(clean))
		abort();
	return 0;
}
