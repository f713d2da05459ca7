/* Hex decoding and encoding of keys and identifiers, constant-time (libsodium)
 * so that decoding a key does not leak it through timing. */
#ifndef IOTVAULT_HEX_H
#define IOTVAULT_HEX_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/errors.h"

#define EUI_LEN 8
#define EUI_HEX_LEN 16
#define AES128_KEY_LEN 16

/* Decodes exactly OUT_LEN bytes from TEXT: an optional "0x"/"0X" prefix, upper
 * or lower case, and optional ':' or '-' separators between bytes. Leading and
 * trailing white space is refused. Returns IV_ERR_INVALID on anything else. */
int hex_decode_exact(const char *text, uint8_t *out, size_t out_len) IV_WUR;
/* Writes 2*LEN+1 bytes of upper-case hex into OUT. */
void hex_encode_upper(const uint8_t *in, size_t len, char *out);
/* An EUI-64 (DevEUI, JoinEUI) as humans write it (big-endian). */
int eui_parse(const char *text, uint8_t out[static EUI_LEN]) IV_WUR;
/* Canonical text form: 16 upper-case hex digits, OUT holds EUI_HEX_LEN+1. */
void eui_format(const uint8_t eui[static EUI_LEN], char out[static EUI_HEX_LEN + 1]);

#endif
