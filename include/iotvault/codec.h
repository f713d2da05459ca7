/* Payload codecs of the Application Server: each turns a decrypted FRMPayload
 * into JSON, validating it strictly (lengths, value ranges, types). A payload
 * a codec refuses is stored as rejected with the reason and never reaches the
 * integrations. New codecs are one file src/appserver/codec_<name>.c and one
 * entry in the table of src/appserver/codec.c. */
#ifndef IOTVAULT_CODEC_H
#define IOTVAULT_CODEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "iotvault/errors.h"

#define CODEC_REASON_MAX 200

struct codec {
	const char *name;
	/* Decodes LEN bytes received on FPORT into *OUT (a new JSON value). On
	 * refusal returns IV_ERR_INVALID with a reason in REASON (no payload
	 * bytes in it beyond offsets and type numbers). */
	int (*decode)(const uint8_t *in, size_t len, uint8_t fport, json_t **out, char *reason,
		      size_t reason_len);
};

/* The codec called NAME ("raw", "cayennelpp"); NULL when unknown. */
const struct codec *codec_find(const char *name);
/* NULL-terminated list of the codec names (for validation and docs). */
extern const char *const codec_names[];

int codec_raw_decode(const uint8_t *in, size_t len, uint8_t fport, json_t **out, char *reason,
		     size_t reason_len) IV_WUR;
int codec_cayennelpp_decode(const uint8_t *in, size_t len, uint8_t fport, json_t **out,
			    char *reason, size_t reason_len) IV_WUR;

/* Copies TEXT into OUT (CAP bytes, NUL-terminated) without control characters
 * (C0, DEL, C1) or invalid UTF-8, truncating at a character boundary. Every
 * string from a network server that is stored or forwarded goes through it. */
void codec_clean_string(const char *text, char *out, size_t cap);

#endif
